"""Checking the audit log's hash chain (``flask audit verify``).

Every entry stores ``seq`` (its place in the chain), ``prev_hash`` (the hash of the entry
before it, ``GENESIS`` for the first) and ``hash`` = HMAC-SHA256 with ``AUDIT_KEY`` over
``prev_hash`` and the entry's content (see ``tracker.audit.hashing``). Walking the entries in
``seq`` order and recomputing each hash detects:

- an edited entry: its recomputed hash differs from the stored one;
- a forged entry (added or rewritten by someone without the key, e.g. with a correct plain
  SHA-256): its hash is not the keyed one; an entry hashed with plain SHA-256 is named as such
  (a log from before ``AUDIT_KEY`` needs ``flask audit rekey`` once);
- a deleted entry (or one inserted into the middle): the next entry's ``prev_hash`` is not the
  hash of the entry now before it;
- a deleted or replaced first entry: the first entry's ``prev_hash`` is not ``GENESIS``;
- a committed entry with no place in the chain (written past ``record()``).

Limit: deleting the newest entries leaves a consistent chain. The defence is an external
anchor: ``flask audit checkpoint`` prints the last entry's ``ID:HASH`` signed with the key;
keep it where the database's writers cannot change it and check later with
``flask audit verify --anchor``. Without the key nobody can rewrite the chain consistently.

The check streams the log in batches by keyset (``WHERE seq > :last ORDER BY seq LIMIT n``)
as Core rows, so 100,000 entries take a few seconds and little memory.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from tracker.audit.hashing import GENESIS, Digester, audit_key, plain_digest, row_columns, row_fields
from tracker.audit.models import AuditEntry
from tracker.extensions import db

REASON_EDITED = "hash mismatch: the entry's content or hash was changed"
REASON_UNKEYED = ("hashed with plain SHA-256, not with the audit key: a forged entry, or a log from "
                  "before AUDIT_KEY (then run `flask audit rekey` once)")
REASON_LINK = ("prev_hash does not match the previous entry's hash: "
               "an entry before it was deleted, inserted or rewritten")
REASON_GENESIS = "the first entry does not start from the genesis hash: the oldest entries were deleted or replaced"
REASON_UNREADABLE = "the entry cannot be read back (a value was changed to something its column cannot hold)"
REASON_UNCHAINED = ("the entry has no place in the chain: its transaction has not committed yet, or it "
                    "was written past the application")


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int  # entries found intact (all of them when ok)
    first_bad_id: int | None = None
    reason: str | None = None
    last_id: int | None = None  # the newest intact entry: record it (with last_hash) as an anchor
    last_hash: str = GENESIS


def content_problem(digester: Digester, stored_prev: str | None, stored_hash: str | None,
                    fields: dict | None) -> str | None:
    """Why an entry's own hash is wrong (None when it is the keyed hash of its content)."""
    if fields is None or stored_prev is None:
        return REASON_EDITED
    if digester.digest(stored_prev, fields) == stored_hash:
        return None
    return REASON_UNKEYED if plain_digest(stored_prev, fields) == stored_hash else REASON_EDITED


def verify(batch: int = 5000) -> VerifyResult:
    """Recompute the chain in ``seq`` order; stop at the first broken entry."""
    if batch < 1:
        raise ValueError("batch must be positive")
    t = AuditEntry.__table__
    query = select(t.c.seq, *row_columns(t)).where(t.c.seq.is_not(None)).order_by(t.c.seq)
    session = db.session
    digester = Digester(audit_key())
    prev_hash, prev_id, checked = GENESIS, None, 0
    last_seen = None
    size, careful = batch, 0
    while True:
        page = query if last_seen is None else query.where(t.c.seq > last_seen)
        try:
            rows = session.execute(page.limit(size)).all()
        except (ValueError, TypeError, OverflowError):
            # A value its column type cannot convert (e.g. SQLite text where a timestamp
            # belongs). Re-read this stretch one entry at a time to name the first such entry.
            if size > 1:
                size, careful = 1, batch
                continue
            bad = select(t.c.id).where(t.c.seq.is_not(None)).order_by(t.c.seq).limit(1)
            bad = bad if last_seen is None else bad.where(t.c.seq > last_seen)
            return VerifyResult(False, checked, session.execute(bad).scalar_one(), REASON_UNREADABLE,
                                prev_id, prev_hash)
        for seq, entry_id, *values, changes_text, stored_prev, stored_hash in rows:
            problem = content_problem(digester, stored_prev, stored_hash, row_fields(values, changes_text))
            if problem:
                return VerifyResult(False, checked, entry_id, problem, prev_id, prev_hash)
            if stored_prev != prev_hash:
                reason = REASON_GENESIS if prev_id is None else REASON_LINK
                return VerifyResult(False, checked, entry_id, reason, prev_id, prev_hash)
            prev_hash, prev_id, last_seen = stored_hash, entry_id, seq
            checked += 1
        if len(rows) < size:
            break
        if careful:
            careful -= 1
            size = batch if careful == 0 else size
    unchained = session.execute(select(func.min(t.c.id)).where(t.c.seq.is_(None))).scalar()
    if unchained is not None:
        return VerifyResult(False, checked, unchained, REASON_UNCHAINED, prev_id, prev_hash)
    return VerifyResult(True, checked, None, None, prev_id, prev_hash)
