"""``flask audit rekey``: convert a log hashed with plain SHA-256 to the keyed chain, once.

Logs written before ``AUDIT_KEY`` existed hold plain SHA-256 hashes; entries recorded since the
upgrade are keyed and chained onto them. How a plain log is detected: by its hashes, entry by
entry — an entry whose stored hash is the plain digest of its content is plain, one whose hash
is the HMAC is keyed (no marker a database writer could flip). ``verify`` never accepts a plain
entry, so until the re-key it reports the first one and names this command.

Re-keying trusts the plain part only as far as it verifies: it walks the whole chain under the
chain's lock and refuses unless every link holds, the plain entries form an unbroken prefix
(a plain entry after a keyed one is a forgery), every keyed entry carries the right HMAC,
nothing is unchained and — when given — the anchor noted earlier is still there. Then it
recomputes every hash with the key from the genesis on. Run it once, right after upgrading:
on a database already keyed, plain entries reported by ``verify`` are tampering, not history.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, func, select

from tracker.audit.anchors import Anchor
from tracker.audit.hashing import GENESIS, Digester, audit_key, plain_digest, row_columns, row_fields
from tracker.audit.models import AuditEntry
from tracker.audit.operations import lock_chain
from tracker.extensions import db


class RekeyRefused(Exception):
    """The chain cannot be trusted as it stands; nothing was changed."""


@dataclass(frozen=True)
class RekeyResult:
    entries: int  # entries in the chain
    plain: int  # of which were plain SHA-256 before (0: nothing to do, nothing changed)
    last_id: int | None
    last_hash: str


def rekey(anchor: Anchor | None = None, batch: int = 5000) -> RekeyResult:
    """Re-hash the chain with the key after checking it; flushes, never commits."""
    session = db.session
    session.flush()
    conn = session.connection()
    lock_chain(conn)
    t = AuditEntry.__table__
    digester = Digester(audit_key())
    query = select(t.c.seq, *row_columns(t)).where(t.c.seq.is_not(None)).order_by(t.c.seq)
    stored_prev_hash, new_prev, plain, keyed_seen, last_seen = GENESIS, GENESIS, 0, False, None
    updates: list[dict] = []
    anchor_hash = None
    while True:
        page = query if last_seen is None else query.where(t.c.seq > last_seen)
        rows = conn.execute(page.limit(batch)).all()
        for seq, entry_id, *values, changes_text, stored_prev, stored_hash in rows:
            fields = row_fields(values, changes_text)
            if fields is None or stored_prev != stored_prev_hash:
                raise RekeyRefused(f"audit entry #{entry_id}: the chain is broken here (edited, deleted "
                                   f"or inserted entries); run `flask audit verify` for details")
            if digester.digest(stored_prev, fields) == stored_hash:
                keyed_seen = True
            elif plain_digest(stored_prev, fields) == stored_hash:
                if keyed_seen:
                    raise RekeyRefused(f"audit entry #{entry_id} is hashed with plain SHA-256 after "
                                       f"keyed entries: it was forged")
                plain += 1
            else:
                raise RekeyRefused(f"audit entry #{entry_id}: hash mismatch (the entry was edited, or "
                                   f"keyed with another AUDIT_KEY)")
            if anchor is not None and entry_id == anchor.entry_id:
                anchor_hash = stored_hash
            new_hash = digester.digest(new_prev, fields)
            updates.append({"b_id": entry_id, "b_prev": new_prev, "b_hash": new_hash})
            stored_prev_hash, new_prev, last_seen = stored_hash, new_hash, seq
        if len(rows) < batch:
            break
    unchained = conn.execute(select(func.min(t.c.id)).where(t.c.seq.is_(None))).scalar()
    if unchained is not None:
        raise RekeyRefused(f"audit entry #{unchained} has no place in the chain")
    if anchor is not None and anchor_hash != anchor.hash:
        raise RekeyRefused(f"the anchor #{anchor.entry_id}:{anchor.hash[:12]}… is not in the chain "
                           f"(the newest entries were removed or the chain was rewritten)")
    last_id = updates[-1]["b_id"] if updates else None
    if plain == 0:
        return RekeyResult(len(updates), 0, last_id, stored_prev_hash)
    conn.execute(
        t.update().where(t.c.id == bindparam("b_id"))
        .values(prev_hash=bindparam("b_prev"), hash=bindparam("b_hash")),
        updates,
    )
    session.expire_all()  # entry objects loaded before hold the old hashes
    return RekeyResult(len(updates), plain, last_id, new_prev)
