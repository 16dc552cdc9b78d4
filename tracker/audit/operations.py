"""Writing audit entries. Called by every operation that changes state; never commits.

``record()`` only adds the entry to the session: it is inserted with the transaction's next
flush (so the transaction's own queries see it) but has no place in the hash chain yet. At
commit, a ``before_commit`` hook chains every unchained entry of the transaction in one
short critical section: take the chain's lock (PostgreSQL: a transaction-scoped advisory
lock, released by the commit that follows; SQLite serialises writers itself), read the last
chained entry, compute the HMACs in Python, write ``seq``/``prev_hash``/``hash`` in one
executemany. A 10,000-row import therefore holds the lock for the few milliseconds of its
commit instead of for its whole run, and the chain stays linear because ``seq`` and the
link are assigned under the lock, in commit order.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import event, inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from tracker.audit.hashing import GENESIS, Digester, audit_key, row_columns, row_fields
from tracker.audit.models import AuditEntry
from tracker.core.bulk import insert_returning_ids, update_many
from tracker.core.db import utcnow
from tracker.extensions import db

# session.info keys: the entries this session recorded that still need chaining; how many it
# has recorded in all (never goes down: see ``recorded``).
_UNCHAINED = "audit_unchained"
_RECORDED = "audit_recorded"
CHAIN_LOCK_ID = 727001  # PostgreSQL advisory lock serialising the chain's writers


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


def record(
    actor: Any,
    action: str,
    obj: Any,
    changes: dict[str, Any] | None = None,
    *,
    project_id: int | None = None,
) -> AuditEntry:
    """Append one entry for ``obj``: inserted at the next flush, chained at commit.

    The returned entry has its ``id`` after the next flush and its ``seq``/``hash`` after the
    commit (or ``flush_audit()``).
    """
    session = db.session
    if obj.id is None:
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
    session.add(entry)
    session.info.setdefault(_UNCHAINED, []).append(entry)
    session.info[_RECORDED] = session.info.get(_RECORDED, 0) + 1
    return entry


def record_many(actor: Any, action: str, object_type: str,
                entries: list[tuple[int, int | None, dict[str, Any]]]) -> int:
    """``record`` for many objects at once (a ledger import's thousands of projects): one
    entry per (object id, project id, changes), inserted now without building an object per
    entry, chained at commit like the others. Returns how many."""
    if not entries:
        return 0
    session = db.session
    now = utcnow()
    actor_id = getattr(actor, "id", None)
    ids = insert_returning_ids(session, AuditEntry, [
        {"created_at": now, "actor_id": actor_id, "action": action, "object_type": object_type,
         "object_id": object_id, "project_id": project_id, "changes": jsonable(changes)}
        for object_id, project_id, changes in entries])
    session.info.setdefault(_UNCHAINED, []).extend(ids)
    session.info[_RECORDED] = session.info.get(_RECORDED, 0) + len(ids)
    return len(ids)


def recorded(session: Session) -> int:
    """How many entries ``session`` has recorded so far: every change records one, so a
    figure read before this number moved does not show the session's own changes."""
    return session.info.get(_RECORDED, 0)


def lock_chain(conn: Connection) -> None:
    """Serialise the chain's writers until this transaction ends.

    PostgreSQL: an advisory lock. SQLite: nothing to do, a writing transaction already holds
    the database's only write lock (and every caller here has written).
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CHAIN_LOCK_ID})


def last_chained(conn: Connection) -> tuple[int, int, str] | None:
    """(seq, id, hash) of the newest chained entry, or None for an empty chain."""
    t = AuditEntry.__table__
    row = conn.execute(
        select(t.c.seq, t.c.id, t.c.hash).where(t.c.seq.is_not(None)).order_by(t.c.seq.desc()).limit(1)
    ).first()
    return None if row is None else (row.seq, row.id, row.hash)


def chain_pending(session: Session) -> int:
    """Give the transaction's unchained entries their place in the chain; return how many.

    Reads the entries back as stored, so their hashes are exactly what ``verify`` recomputes.
    """
    session.flush()
    # Only entries this session recorded: a row someone inserted past the application must
    # never receive a valid hash. Entries rolled back with a savepoint are transient again
    # (no identity) and drop out here.
    # (``record_many`` notes bare ids: its rows exist only if the transaction kept them.)
    own = {key[0] for key in (((e,) if isinstance(e, int) else inspect(e).identity)
                              for e in session.info.pop(_UNCHAINED, ())) if key}
    if not own:
        return 0
    t = AuditEntry.__table__
    conn = session.connection()
    # Read before taking the lock: the transaction's own rows do not change meanwhile.
    rows = [r for r in conn.execute(
        select(*row_columns(t)).where(t.c.seq.is_(None), t.c.id >= min(own)).order_by(t.c.id)
    ) if r[0] in own]
    if not rows:
        return 0
    lock_chain(conn)
    last = last_chained(conn)  # after the lock: sees the previous holder's commit
    seq, prev = (last[0], last[2]) if last else (0, GENESIS)
    digester = Digester(audit_key())
    updates = []
    for entry_id, *values, changes_text, _prev, _hash in rows:
        digest = digester.digest(prev, row_fields(values, changes_text))
        seq += 1
        updates.append({"id": entry_id, "seq": seq, "prev_hash": prev, "hash": digest})
        prev = digest
    update_many(conn, t, updates)
    _sync_identity_map(session, updates)
    return len(updates)


def _sync_identity_map(session: Session, updates: list[dict]) -> None:
    """Show the chain values on the entry objects this session holds (no reload needed)."""
    mapper = inspect(AuditEntry)
    for u in updates:
        obj = session.identity_map.get(mapper.identity_key_from_primary_key((u["id"],)))
        if obj is not None:
            for key in ("seq", "prev_hash", "hash"):
                set_committed_value(obj, key, u[key])


def flush_audit() -> int:
    """Chain the entries recorded so far, before the commit (holds the lock until then)."""
    return chain_pending(db.session())


@event.listens_for(Session, "before_commit")
def _chain_before_commit(session: Session) -> None:
    # A savepoint's commit (begin_nested) is not the end of the transaction: wait for it.
    if session.info.get(_UNCHAINED) and not session.in_nested_transaction():
        chain_pending(session)


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
