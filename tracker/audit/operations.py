"""Writing audit entries. Called by every operation that changes state; never commits."""
from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text

from tracker.audit.models import AuditEntry
from tracker.core.db import utcnow
from tracker.extensions import db

GENESIS = "0" * 64


def jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral() else str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


# One encoder for every digest (json.dumps with options builds a new one per call).
_CANONICAL = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))
HASHED_COLUMNS = ("created_at", "actor_id", "action", "object_type", "object_id", "project_id", "changes")


def entry_digest(prev_hash: str, fields: dict[str, Any]) -> str:
    payload = _CANONICAL.encode({"prev": prev_hash, **fields})
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def hash_timestamp(value: datetime) -> str:
    """The entry time as hashed: UTC, microseconds, e.g. ``2024-07-01T02:03:04.000005+00:00``.

    Normalised to UTC because PostgreSQL returns ``timestamptz`` in the session's time zone
    (``+08:00`` on a server set to Asia/Shanghai) and SQLite returns naive values; the same
    instant must give the same hash whichever way the row was read back.
    """
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    elif value.tzinfo is not timezone.utc:
        value = value.astimezone(timezone.utc)
    return value.isoformat(timespec="microseconds")


def hashed_values(created_at, actor_id, action, object_type, object_id, project_id, changes) -> dict[str, Any]:
    """The hashed content, from the values of ``HASHED_COLUMNS`` in that order."""
    return {
        "at": hash_timestamp(created_at),
        "actor": actor_id,
        "action": action,
        "type": object_type,
        "object": object_id,
        "project": project_id,
        "changes": changes,
    }


def hashed_fields(entry: Any) -> dict[str, Any]:
    """The hashed content of an entry: an ``AuditEntry`` or a Core row with the same columns."""
    return hashed_values(*(getattr(entry, name) for name in HASHED_COLUMNS))


def _last_hash() -> str:
    session = db.session
    if session.get_bind().dialect.name == "postgresql":
        # Serialise writers of the chain; SQLite writers are serialised by BEGIN IMMEDIATE.
        session.execute(text("SELECT pg_advisory_xact_lock(727001)"))
    last = session.execute(
        select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)
    ).scalar_one_or_none()
    return last or GENESIS


def record(
    actor: Any,
    action: str,
    obj: Any,
    changes: dict[str, Any] | None = None,
    *,
    project_id: int | None = None,
) -> AuditEntry:
    """Append one entry for ``obj`` (flushed so it has an id and the chain stays linear)."""
    session = db.session
    session.flush()  # obj needs its id
    object_type = obj.__tablename__
    if project_id is None and object_type == "project":
        project_id = obj.id
    entry = AuditEntry(
        created_at=utcnow(),
        actor_id=getattr(actor, "id", None),
        action=action,
        object_type=object_type,
        object_id=obj.id,
        project_id=project_id,
        changes=jsonable(changes or {}),
    )
    entry.prev_hash = _last_hash()
    entry.hash = entry_digest(entry.prev_hash, hashed_fields(entry))
    session.add(entry)
    session.flush()
    return entry


def diff(obj: Any, fields: list[str], new_values: dict[str, Any]) -> dict[str, list[Any]]:
    """Before/after pairs for the fields whose value changes."""
    out: dict[str, list[Any]] = {}
    for name in fields:
        if name not in new_values:
            continue
        before, after = getattr(obj, name), new_values[name]
        if before != after:
            out[name] = [jsonable(before), jsonable(after)]
    return out
