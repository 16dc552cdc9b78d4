"""Signing ceremonies (签约仪式) and the projects signed at each, in signing order."""
from __future__ import annotations

from datetime import date

from sqlalchemy import Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.auth.models import Unit
from tracker.core.db import TimestampMixin
from tracker.extensions import db
from tracker.projects.models import Project


class Ceremony(TimestampMixin, db.Model):
    __tablename__ = "ceremony"
    # Unique per host unit only: another county's ceremony names are not revealed.
    __table_args__ = (UniqueConstraint("unit_id", "name", name="uq_ceremony_unit_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    held_on: Mapped[date] = mapped_column(Date, index=True)
    venue: Mapped[str] = mapped_column(String(120), default="")
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    unit: Mapped[Unit] = relationship()
    signings: Mapped[list[CeremonySigning]] = relationship(
        back_populates="ceremony",
        order_by="CeremonySigning.position",
        cascade="all, delete-orphan",
    )
    # The leaders witnessing each signing round (批次), one line per round: line 1 is round 1.
    # Plain text on purpose: a master of ceremonies reads it out, nothing else refers to it.
    round_witnesses: Mapped[str] = mapped_column(Text, nullable=False, default="", server_default="")
    version_id: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    __mapper_args__ = {"version_id_col": version_id}

    def __str__(self) -> str:
        return self.name

    def witnesses_of(self, round_no: int) -> str:
        """The witnesses of round ``round_no`` (1-based), '' when none were entered."""
        lines = (self.round_witnesses or "").split("\n")
        return lines[round_no - 1].strip() if 0 < round_no <= len(lines) else ""


class CeremonySigning(db.Model):
    """One project signed at a ceremony. A project is signed once (counted once)."""

    __tablename__ = "ceremony_signing"
    __table_args__ = (UniqueConstraint("project_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ceremony_id: Mapped[int] = mapped_column(ForeignKey("ceremony.id", ondelete="CASCADE"), index=True)
    ceremony: Mapped[Ceremony] = relationship(back_populates="signings")
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    project: Mapped[Project] = relationship()
    position: Mapped[int] = mapped_column(Integer, default=0)
    signatory_local: Mapped[str] = mapped_column(String(60), default="")  # 我方签约人
    signatory_investor: Mapped[str] = mapped_column(String(60), default="")  # 投资方签约人
    signatory_local_title: Mapped[str] = mapped_column(String(60), nullable=False, default="", server_default="")  # 职务
    signatory_investor_title: Mapped[str] = mapped_column(String(60), nullable=False, default="", server_default="")
    round_no: Mapped[int] = mapped_column(Integer, nullable=False, default=1, server_default="1")  # 签约批次


# The project's signing (or None), read with the project page's own query. Declared here,
# beside the class it names, so tracker.projects.models maps without this module.
Project.signing = relationship(CeremonySigning, primaryjoin=CeremonySigning.project_id == Project.id,
                               uselist=False, viewonly=True)
