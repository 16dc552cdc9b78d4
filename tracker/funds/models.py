"""One amount of funds in place, as staff record it from the evidence (bank slip, audit)."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.auth.models import User
from tracker.core.db import UTCDateTime, utcnow
from tracker.extensions import db
from tracker.projects.models import Money

if TYPE_CHECKING:
    from tracker.workflow.models import Attachment


class FundsRecord(db.Model):
    """An amount (万元) that arrived on ``received_on``. ``Project.funds_in_place`` is the
    sum of a project's records, kept by the operations that add and remove them, so lists
    and rates read one column; the records give the sum as of any date."""

    __tablename__ = "funds_record"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_funds_record_project_received", "project_id", "received_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    received_on: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Money)
    note: Mapped[str] = mapped_column(Text, default="")
    # What proves it: a bank slip or report number typed in, and/or an uploaded scan.
    evidence: Mapped[str] = mapped_column(String(200), default="")
    attachment_id: Mapped[int | None] = mapped_column(ForeignKey("attachment.id", ondelete="SET NULL"), nullable=True)
    attachment: Mapped[Attachment | None] = relationship()  # the lists load it with the records
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), nullable=True)
    recorded_by: Mapped[User | None] = relationship()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
