"""Checkpoints: a signed ``ID:HASH`` of the chain's newest entry, kept outside the database.

Deleting the newest entries leaves a consistent chain; only a note of the last entry taken
earlier reveals it. ``flask audit checkpoint`` prints ``ID:HASH:SIG`` where ``SIG`` is an HMAC
with ``AUDIT_KEY`` (separate domain from the chain's own digests), so a checkpoint shown later
can be told from one typed in or altered. ``flask audit verify --anchor`` takes a checkpoint
(or a bare ``ID:HASH``, e.g. from a backup manifest or an older note) and fails unless that
entry is still in the chain with that hash.
"""
from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from sqlalchemy import select

from tracker.audit.hashing import audit_key
from tracker.audit.models import AuditEntry
from tracker.extensions import db

_ANCHOR = re.compile(r"^\s*(\d{1,18}):([0-9a-fA-F]{64})(?::([0-9a-fA-F]{32}))?\s*$")
_DOMAIN = b"tracker audit checkpoint\0"


@dataclass(frozen=True)
class Anchor:
    entry_id: int
    hash: str
    signature: str | None = None

    def __str__(self) -> str:
        return f"{self.entry_id}:{self.hash}" + (f":{self.signature}" if self.signature else "")


def parse_anchor(value: str) -> Anchor:
    """``ID:HASH`` or ``ID:HASH:SIG``; ValueError for anything else."""
    match = _ANCHOR.match(value or "")
    if not match:
        raise ValueError("expected ID:HASH or ID:HASH:SIGNATURE (64 and 32 hex digits)")
    ident, digest, sig = match.groups()
    return Anchor(int(ident), digest.lower(), sig.lower() if sig else None)


def _signature(entry_id: int, digest: str, key: bytes) -> str:
    return hmac.new(key, _DOMAIN + f"{entry_id}:{digest}".encode(), hashlib.sha256).hexdigest()[:32]


def sign(entry_id: int, digest: str, key: bytes | None = None) -> Anchor:
    return Anchor(entry_id, digest, _signature(entry_id, digest, audit_key() if key is None else key))


def anchor_problem(anchor: Anchor) -> str | None:
    """Why the database does not match the anchor (None when it does)."""
    if anchor.signature is not None and not hmac.compare_digest(
        anchor.signature, _signature(anchor.entry_id, anchor.hash, audit_key())
    ):
        return ("the checkpoint's signature does not match: it was altered, or made with another "
                "AUDIT_KEY")
    stored = db.session.execute(
        select(AuditEntry.hash).where(AuditEntry.id == anchor.entry_id)
    ).scalar_one_or_none()
    if stored != anchor.hash:
        state = "is missing" if stored is None else f"now has hash {stored}"
        return (f"anchor entry #{anchor.entry_id} {state} (the newest entries were removed or the "
                f"chain was rewritten)")
    return None
