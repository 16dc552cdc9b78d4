"""A job: long work (a booklet, an export or import of many rows) done outside the request by
a worker process, with a status and progress a page can poll.

The table is the queue: web processes claim queued rows (one conditional UPDATE each), so it
works the same on SQLite with no Redis and on PostgreSQL with many workers, and a job outlives
the process that queued it. ``heartbeat_at`` is kept fresh by the process running the job;
a running job whose heartbeat goes stale lost its process and is reported failed.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.auth.models import User
from tracker.core.db import UTCDateTime, utcnow
from tracker.extensions import db

STATUSES = ("queued", "running", "done", "failed", "cancelled")
ACTIVE = ("queued", "running")
_ACTIVE_SQL = "status IN ('queued','running')"


class Job(db.Model):
    __tablename__ = "job"
    __table_args__ = (
        CheckConstraint("status IN ('queued','running','done','failed','cancelled')", name="status_known"),
        CheckConstraint("progress >= 0 AND progress <= 100", name="progress_range"),
        # One job of a kind at a time per user: a second booklet while one is being prepared
        # is refused ("already preparing"), even when two requests race.
        Index("uq_job_active_per_user_kind", "user_id", "kind", unique=True,
              sqlite_where=text(_ACTIVE_SQL), postgresql_where=text(_ACTIVE_SQL)),
        Index("ix_job_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(12), default="queued")
    progress: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(String(200), default="")  # what it is doing now
    title: Mapped[str] = mapped_column(String(300), default="")  # what the job page calls it
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), nullable=True,
                                                index=True)
    user: Mapped[User | None] = relationship()
    locale: Mapped[str] = mapped_column(String(10), default="zh_CN")  # messages in the user's language
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    result_file: Mapped[str | None] = mapped_column(String(80), nullable=True)  # random name on disk
    result_name: Mapped[str | None] = mapped_column(String(200), nullable=True)  # download name
    result_type: Mapped[str | None] = mapped_column(String(100), nullable=True)
    result_size: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)  # shown to the user
    worker: Mapped[str | None] = mapped_column(String(100), nullable=True)  # host:pid running it
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE
