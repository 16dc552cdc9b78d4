"""A unit's targets for one year; the dashboard and home page show actual against them."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Integer, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.auth.models import Unit
from tracker.core.db import UTCDateTime, utcnow
from tracker.extensions import db
from tracker.projects.models import Money


class UnitTarget(db.Model):
    __tablename__ = "unit_target"
    __table_args__ = (
        UniqueConstraint("unit_id", "year", name="uq_unit_target_unit_year"),
        CheckConstraint("year BETWEEN 2000 AND 2100", name="year_plausible"),
        CheckConstraint("projects_10yi >= 0 AND projects_10yi_yrd >= 0 AND started >= 0 "
                        "AND investment >= 0 AND funds >= 0", name="not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    unit: Mapped[Unit] = relationship()
    year: Mapped[int] = mapped_column(Integer)
    projects_10yi: Mapped[int] = mapped_column(Integer, default=0)  # 10亿元以上项目数
    projects_10yi_yrd: Mapped[int] = mapped_column(Integer, default=0)  # of which from 长三角
    investment: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))  # Σ 协议投资额, 万元
    started: Mapped[int] = mapped_column(Integer, default=0)  # projects started (开工)
    funds: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))  # 实际到位资金, 万元
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    version_id: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    __mapper_args__ = {"version_id_col": version_id}
