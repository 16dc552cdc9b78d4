"""Append-only audit log. Each row carries the hash of the one before it.

An entry is inserted when its transaction flushes, without a place in the chain (``seq``,
``prev_hash`` and ``hash`` empty); the commit gives it one (``tracker.audit.operations``), so
the chain's global lock is held for the commit only, not for the whole transaction. The chain
runs in ``seq`` order, which is commit order; ``id`` is insertion order and may differ when
transactions overlap. Committed entries always have all three.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.auth.models import User
from tracker.core.db import UTCDateTime, utcnow
from tracker.extensions import db


class AuditEntry(db.Model):
    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), nullable=True)
    actor: Mapped[User | None] = relationship()
    action: Mapped[str] = mapped_column(String(40))  # e.g. project.create
    object_type: Mapped[str] = mapped_column(String(30))
    object_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    project_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    # {"field": [before, after], ...} for updates; a snapshot for creates.
    changes: Mapped[dict] = mapped_column(JSON, default=dict)
    # Position in the chain (1, 2, …), set at commit; its unique index also finds the unset ones.
    seq: Mapped[int | None] = mapped_column(Integer, nullable=True, unique=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    hash: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
