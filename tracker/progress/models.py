"""Stage history as data, and the admin-edited stage deadlines behind the lights."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tracker.core.db import UTCDateTime, utcnow
from tracker.extensions import db
from tracker.workflow.stages import CODES as STAGE_CODES
from tracker.workflow.stages import MAIN_CODES

_STAGES_SQL = ",".join(f"'{c}'" for c in STAGE_CODES)
_MAIN_SQL = ",".join(f"'{c}'" for c in MAIN_CODES)


class StageEvent(db.Model):
    """One stage change of one project, with the date it took effect (the actual date of the
    approved request, the signing date for a new project). Never deleted or rewritten by a
    correction: a move back is one more event, so the stage a project was at on any past
    date is the ``to_stage`` of its latest event on or before that date.

    ``counts_as`` is the stage the rates count the project at after this event: the stage
    itself on the main line, the stage it was paused from while paused, ``terminated`` once
    terminated (counted as signed only)."""

    __tablename__ = "stage_event"
    __table_args__ = (
        CheckConstraint(f"to_stage IN ({_STAGES_SQL})", name="to_stage_known"),
        CheckConstraint(f"from_stage IS NULL OR from_stage IN ({_STAGES_SQL})", name="from_stage_known"),
        CheckConstraint(f"counts_as IN ({_MAIN_SQL},'terminated')", name="counts_as_known"),
        # The as-of lookup: a project's last recorded event effective on or before a date,
        # read from the index alone (the columns it returns are in it).
        Index("ix_stage_event_project_recorded", "project_id", "id", "effective_on", "counts_as", "to_stage"),
        Index("ix_stage_event_effective", "effective_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    # create | advance | skip | back | pause | resume | terminate | backfill
    kind: Mapped[str] = mapped_column(String(12))
    from_stage: Mapped[str | None] = mapped_column(String(20), nullable=True)
    to_stage: Mapped[str] = mapped_column(String(20))
    counts_as: Mapped[str] = mapped_column(String(20))
    effective_on: Mapped[date] = mapped_column(Date)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("stage_request.id"), nullable=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class StageDeadline(db.Model):
    """How long a project may stay in a stage before the next one is due: yellow after
    ``yellow_months``, red after ``red_months`` (reference data an admin edits)."""

    __tablename__ = "stage_deadline"
    __table_args__ = (
        CheckConstraint(f"stage IN ({_MAIN_SQL})", name="stage_known"),
        CheckConstraint("yellow_months > 0 AND red_months >= yellow_months AND red_months <= 120",
                        name="months_ordered"),
    )

    stage: Mapped[str] = mapped_column(String(20), primary_key=True)
    yellow_months: Mapped[int] = mapped_column(Integer)
    red_months: Mapped[int] = mapped_column(Integer)
    version_id: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    __mapper_args__ = {"version_id_col": version_id}


# DOMAIN.md's defaults: in stage → (yellow, red) months before the next stage is due.
DEFAULT_DEADLINES: dict[str, tuple[int, int]] = {
    "negotiating": (6, 12),
    "signed": (3, 6),
    "registered": (6, 12),
    "land_secured": (3, 6),
    "construction": (24, 36),
    "completed": (3, 6),
    "production": (24, 36),
}
