"""What an audit entry's hash covers, and how it is computed.

Each entry's ``hash`` is HMAC-SHA256, keyed with ``AUDIT_KEY``, over the previous entry's
hash and the entry's content (canonical JSON of ``HASHED_COLUMNS``). The key lives outside the
database (environment, or ``instance/audit_key``): whoever can write to the database but does
not hold the key cannot append or rewrite an entry that ``flask audit verify`` accepts. Logs
written before the key existed were hashed with plain SHA-256 over the same payload
(``plain_digest``); ``flask audit rekey`` converts them once (see ``tracker.audit.rekey``).

One module for the recipe, used by the writer (``operations``), ``verify`` and ``rekey``: the
three must agree byte for byte.
"""
from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime, timezone
from typing import Any

from flask import current_app
from sqlalchemy import Text, cast

GENESIS = "0" * 64
HASHED_COLUMNS = ("created_at", "actor_id", "action", "object_type", "object_id", "project_id", "changes")

# One encoder for every digest (json.dumps with options builds a new one per call).
_CANONICAL = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def audit_key() -> bytes:
    """The chain's HMAC key from the app config (``AUDIT_KEY``; see ``config.py``)."""
    key = current_app.config.get("AUDIT_KEY")
    if not key:
        raise RuntimeError("AUDIT_KEY is not configured")
    return key.encode("utf-8") if isinstance(key, str) else bytes(key)


def key_fingerprint(key: bytes) -> str:
    """A short public name for a key (tells two keys apart; reveals nothing of it)."""
    return hmac.new(key, b"tracker audit key fingerprint", hashlib.sha256).hexdigest()[:16]


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


def _payload(prev_hash: str, fields: dict[str, Any]) -> bytes:
    return _CANONICAL.encode({"prev": prev_hash, **fields}).encode("utf-8")


class Digester:
    """Keyed digests for one key (the HMAC's key schedule is computed once, then copied)."""

    def __init__(self, key: bytes):
        self._base = hmac.new(key, digestmod=hashlib.sha256)

    def digest(self, prev_hash: str, fields: dict[str, Any]) -> str:
        mac = self._base.copy()
        mac.update(_payload(prev_hash, fields))
        return mac.hexdigest()


def entry_digest(prev_hash: str, fields: dict[str, Any], key: bytes | None = None) -> str:
    """HMAC-SHA256 of an entry (``key`` defaults to the app's ``AUDIT_KEY``)."""
    return Digester(audit_key() if key is None else key).digest(prev_hash, fields)


def plain_digest(prev_hash: str, fields: dict[str, Any]) -> str:
    """The unkeyed SHA-256 of logs written before ``AUDIT_KEY``: recognised, never accepted."""
    return hashlib.sha256(_payload(prev_hash, fields)).hexdigest()


# --- Reading entries back as hashed ------------------------------------------------------------


def row_columns(table) -> tuple:
    """``id``, the hashed columns, ``changes`` as stored text, ``prev_hash``, ``hash``.

    Core rows, typed: created_at comes back as an aware datetime (UTCDateTime; normalised to
    UTC by hash_timestamp) on SQLite and PostgreSQL alike. ``changes`` is read as its stored
    text and parsed here — cheaper than the drivers' JSON processing, and a row whose text is
    no longer JSON is reported as edited instead of stopping the check.
    """
    return (table.c.id, *(table.c[name] for name in HASHED_COLUMNS[:-1]), cast(table.c.changes, Text),
            table.c.prev_hash, table.c.hash)


def row_fields(values, changes_text: str | None) -> dict[str, Any] | None:
    """The hashed content of a row read with ``row_columns`` (None when ``changes`` is not JSON)."""
    try:
        changes = json.loads(changes_text) if changes_text is not None else None
    except ValueError:
        return None
    return hashed_values(*values, changes)
