"""Checking the audit log's hash chain (``flask audit verify``).

Every entry stores ``prev_hash`` (the hash of the entry before it, ``GENESIS`` for the first)
and ``hash`` = sha256 over ``prev_hash`` and the entry's content (see
``tracker.audit.operations.entry_digest``/``hashed_fields``). Walking the entries in id order
and recomputing each hash detects:

- an edited entry: its recomputed hash differs from the stored one;
- a deleted entry (or one inserted into the middle): the next entry's ``prev_hash`` is not the
  hash of the entry now before it;
- a deleted or replaced first entry: the first entry's ``prev_hash`` is not ``GENESIS``.

Limit (tamper *evidence*, not tamper *proof*): whoever can write to the database can delete
the newest entries — the remaining chain is still consistent — or rewrite the whole chain from
some point on with freshly computed hashes. Neither is detectable from inside the database.
The defence is an external anchor: ``flask audit verify`` prints the number of entries and the
last entry's id and hash; record those somewhere the database's writers cannot change (a
ticket, a signed e-mail, a daily log shipped to another host) and compare later: the anchored
hash must still be in the chain at the anchored id, and the count must not have gone down.

The check streams the log in batches by keyset (``WHERE id > :last ORDER BY id LIMIT n``) as
Core rows, so 100,000 entries take a couple of seconds and little memory.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import Text, cast, select

from tracker.audit.models import AuditEntry
from tracker.audit.operations import GENESIS, HASHED_COLUMNS, entry_digest, hashed_values
from tracker.extensions import db

REASON_EDITED = "hash mismatch: the entry's content or hash was changed"
REASON_LINK = ("prev_hash does not match the previous entry's hash: "
               "an entry before it was deleted, inserted or rewritten")
REASON_GENESIS = "the first entry does not start from the genesis hash: the oldest entries were deleted or replaced"
REASON_UNREADABLE = "the entry cannot be read back (a value was changed to something its column cannot hold)"


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int  # entries found intact (all of them when ok)
    first_bad_id: int | None = None
    reason: str | None = None
    last_id: int | None = None  # the newest intact entry: record it (with last_hash) as an anchor
    last_hash: str = GENESIS


def _columns():
    t = AuditEntry.__table__
    # Core rows, typed: created_at comes back as an aware datetime (UTCDateTime; normalised to
    # UTC by hash_timestamp) on SQLite and PostgreSQL alike. ``changes`` is read as its stored
    # text and parsed here — cheaper than the drivers' JSON processing, and a row whose text
    # is no longer JSON is reported as edited instead of stopping the check.
    return (t.c.id, *(t.c[name] for name in HASHED_COLUMNS[:-1]), cast(t.c.changes, Text),
            t.c.prev_hash, t.c.hash)


def _digest(prev: str, values: list, changes_text: str | None) -> str | None:
    try:
        changes = json.loads(changes_text) if changes_text is not None else None
    except ValueError:
        return None
    return entry_digest(prev, hashed_values(*values, changes))


def verify(batch: int = 5000) -> VerifyResult:
    """Recompute the chain in id order; stop at the first broken entry."""
    if batch < 1:
        raise ValueError("batch must be positive")
    t = AuditEntry.__table__
    query = select(*_columns()).order_by(t.c.id)
    session = db.session
    prev_hash, prev_id, checked = GENESIS, None, 0
    last_seen = 0  # ids start at 1 on both databases
    size, careful = batch, 0
    while True:
        try:
            rows = session.execute(query.where(t.c.id > last_seen).limit(size)).all()
        except (ValueError, TypeError, OverflowError):
            # A value its column type cannot convert (e.g. SQLite text where a timestamp
            # belongs). Re-read this stretch one entry at a time to name the first such entry.
            if size > 1:
                size, careful = 1, batch
                continue
            bad_id = session.execute(
                select(t.c.id).where(t.c.id > last_seen).order_by(t.c.id).limit(1)
            ).scalar_one()
            return VerifyResult(False, checked, bad_id, REASON_UNREADABLE, prev_id, prev_hash)
        for entry_id, *values, changes_text, stored_prev, stored_hash in rows:
            if _digest(stored_prev, values, changes_text) != stored_hash:
                return VerifyResult(False, checked, entry_id, REASON_EDITED, prev_id, prev_hash)
            if stored_prev != prev_hash:
                reason = REASON_GENESIS if prev_id is None else REASON_LINK
                return VerifyResult(False, checked, entry_id, reason, prev_id, prev_hash)
            prev_hash, prev_id = stored_hash, entry_id
            checked += 1
        if len(rows) < size:
            break
        last_seen = prev_id
        if careful:
            careful -= 1
            size = batch if careful == 0 else size
    return VerifyResult(True, checked, None, None, prev_id, prev_hash)
