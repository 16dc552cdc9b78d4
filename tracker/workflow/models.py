"""Stage-change requests, milestones, attachments and in-app notifications."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    exists,
    text,
)
from sqlalchemy.orm import Mapped, column_property, mapped_column, relationship

from tracker.auth.models import User
from tracker.core.db import UTCDateTime, utcnow
from tracker.extensions import db
from tracker.funds.models import FundsRecord
from tracker.projects.models import Project
from tracker.workflow.stages import CODES as STAGE_CODES
from tracker.workflow.stages import REQUEST_STATUSES

_STAGES_SQL = ",".join(f"'{c}'" for c in STAGE_CODES)


class StageRequest(db.Model):
    """A request to move a project; decided once, by a manager other than the requester."""

    __tablename__ = "stage_request"
    __table_args__ = (
        CheckConstraint(f"from_stage IN ({_STAGES_SQL})", name="from_stage_known"),
        CheckConstraint(f"to_stage IN ({_STAGES_SQL})", name="to_stage_known"),
        CheckConstraint("status IN (" + ",".join(f"'{s}'" for s in REQUEST_STATUSES) + ")", name="status_known"),
        CheckConstraint("from_stage <> to_stage", name="moves"),
        CheckConstraint(
            "(status = 'pending' AND decided_at IS NULL) OR (status <> 'pending' AND decided_at IS NOT NULL)",
            name="decided_iff_not_pending",
        ),
        CheckConstraint("decided_by_id IS NULL OR decided_by_id <> requested_by_id", name="no_self_decision"),
        # At most one open request per project.
        Index("uq_stage_request_one_pending", "project_id", unique=True,
              sqlite_where=text("status = 'pending'"), postgresql_where=text("status = 'pending'")),
        Index("ix_stage_request_status_requested", "status", "requested_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"), index=True)
    project: Mapped[Project] = relationship()
    kind: Mapped[str] = mapped_column(String(12))
    from_stage: Mapped[str] = mapped_column(String(20))
    to_stage: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(10), default="pending")
    actual_date: Mapped[date] = mapped_column(Date)
    # Requirement values (see stages.STAGE_REQUIREMENTS), as entered; strings.
    values: Mapped[dict] = mapped_column(JSON, default=dict)
    reason: Mapped[str] = mapped_column(Text, default="")
    comment: Mapped[str] = mapped_column(Text, default="")
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id])
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), nullable=True)
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    decision_comment: Mapped[str] = mapped_column(Text, default="")

    attachments: Mapped[list[Attachment]] = relationship(back_populates="request", order_by="Attachment.id")


class Milestone(db.Model):
    """Planned (from the agreement) and actual (from the approved request) date of a stage."""

    __tablename__ = "milestone"
    __table_args__ = (
        UniqueConstraint("project_id", "stage", name="uq_milestone_project_stage"),
        CheckConstraint(f"stage IN ({_STAGES_SQL})", name="stage_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"), index=True)
    stage: Mapped[str] = mapped_column(String(20))
    planned_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    actual_on: Mapped[date | None] = mapped_column(Date, nullable=True, index=True)


class Attachment(db.Model):
    """A scan (营业执照, land contract, 施工许可证 …) stored outside static under a random name."""

    __tablename__ = "attachment"
    __table_args__ = (
        CheckConstraint("content_type IN ('application/pdf','image/jpeg','image/png')", name="type_allowed"),
        CheckConstraint("size_bytes > 0", name="not_empty"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"), index=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("stage_request.id"), nullable=True, index=True)
    request: Mapped[StageRequest | None] = relationship(back_populates="attachments")
    original_name: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(40))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    uploaded_by: Mapped[User] = relationship()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Notification(db.Model):
    """In-app inbox item: a decision on your request, or a request awaiting your decision."""

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_user_unread", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    kind: Mapped[str] = mapped_column(String(20))  # approved | rejected
    request_id: Mapped[int] = mapped_column(ForeignKey("stage_request.id"))
    request: Mapped[StageRequest] = relationship()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


# Whether a project has a pending request, any evidence scan or any funds record, read with the
# project page's own query when asked for (``undefer``): an empty section of the page then
# costs no query.
# Declared here, beside the classes they read, so tracker.projects.models maps without this module.
Project.has_pending = column_property(
    exists().where(StageRequest.project_id == Project.id, StageRequest.status == "pending")
    .correlate_except(StageRequest), deferred=True)
Project.has_attachments = column_property(
    exists().where(Attachment.project_id == Project.id).correlate_except(Attachment), deferred=True)
Project.has_funds = column_property(
    exists().where(FundsRecord.project_id == Project.id).correlate_except(FundsRecord), deferred=True)
