"""Reference data, investors and projects."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    exists,
    func,
)
from sqlalchemy.orm import Mapped, aliased, column_property, mapped_column, relationship

from tracker.auth.models import Unit, User
from tracker.core.db import TimestampMixin, UTCDateTime
from tracker.extensions import db
from tracker.workflow.stages import CODES as STAGE_CODES

# 万元 with two decimals; 10^12 万元 is far beyond any real project.
Money = Numeric(14, 2)


class ReferenceMixin:
    """Admin-editable lookup rows: named, ordered, retired rather than deleted."""

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    # English display name (empty: the Chinese name is shown in the English UI too).
    name_en: Mapped[str] = mapped_column(String(80), default="", server_default="")
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)

    def __str__(self) -> str:
        return self.name


class Industry(ReferenceMixin, db.Model):
    """产业. ``group`` separates the five core clusters from future industries."""

    __tablename__ = "industry"
    group: Mapped[str] = mapped_column(String(20), default="")


class SourceRegion(ReferenceMixin, db.Model):
    """Where investors come from; 长三角 regions are flagged because the city targets them."""

    __tablename__ = "source_region"
    is_yrd: Mapped[bool] = mapped_column(Boolean, default=False)
    is_foreign: Mapped[bool] = mapped_column(Boolean, default=False)


class Platform(ReferenceMixin, db.Model):
    """园区/平台, optionally tied to the unit it lies in."""

    __tablename__ = "platform"
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"), nullable=True)
    unit: Mapped[Unit | None] = relationship()


class Investor(TimestampMixin, db.Model):
    """A company as one unit recorded it. Each unit keeps its own investor records: a company
    investing in two counties has one record in each (name and USCC are unique per unit, not
    across units), so a county never reads or changes what another county wrote. The city
    bureau sees every unit's records; the USCC links one company's records across units."""

    __tablename__ = "investor"
    __table_args__ = (
        UniqueConstraint("unit_id", "name", name="uq_investor_unit_name"),
        UniqueConstraint("unit_id", "uscc", name="uq_investor_unit_uscc"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    uscc: Mapped[str | None] = mapped_column(String(18), nullable=True, index=True)
    source_region_id: Mapped[int] = mapped_column(ForeignKey("source_region.id"), index=True)
    source_region: Mapped[SourceRegion] = relationship()
    country: Mapped[str] = mapped_column(String(40), default="中国")
    introduction: Mapped[str] = mapped_column(Text, default="")
    # The unit that recorded the investor: county users see their own unit's investors.
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    unit: Mapped[Unit] = relationship()
    version_id: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    __mapper_args__ = {"version_id_col": version_id}

    def __str__(self) -> str:
        return self.name


class Project(TimestampMixin, db.Model):
    __tablename__ = "project"
    __table_args__ = (
        CheckConstraint(
            "stage IN (" + ",".join(f"'{c}'" for c in STAGE_CODES) + ")", name="stage_known"
        ),
        CheckConstraint("contracted_investment >= 0", name="investment_not_negative"),
        CheckConstraint(
            "fixed_asset_investment IS NULL OR fixed_asset_investment >= 0",
            name="fixed_asset_not_negative",
        ),
        CheckConstraint("funds_in_place >= 0", name="funds_not_negative"),
        CheckConstraint("land_area_mu IS NULL OR land_area_mu >= 0", name="land_not_negative"),
        Index("ix_project_unit_signed", "unit_id", "signed_on"),
        CheckConstraint(
            "(stage = 'paused') = (paused_from_stage IS NOT NULL)", name="paused_has_origin"
        ),
        Index("ix_project_archived_signed", "is_archived", "signed_on"),
        # Size bands (>= amount) and both investment sorts (read forwards or backwards).
        Index("ix_project_investment_id", "contracted_investment", "id"),
        # The lit projects, most overdue first.
        Index("ix_project_due", "due_on", "id"),
        # The newest change (the report figures' cache version, the 最近更新 sort).
        Index("ix_project_updated_at", "updated_at"),
        # Unique per unit only: a county must not learn another county's project names by
        # being told a name is taken.
        UniqueConstraint("unit_id", "name", name="uq_project_unit_name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    investor_id: Mapped[int] = mapped_column(ForeignKey("investor.id"), index=True)
    investor: Mapped[Investor] = relationship()
    industry_id: Mapped[int] = mapped_column(ForeignKey("industry.id"), index=True)
    industry: Mapped[Industry] = relationship()
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    unit: Mapped[Unit] = relationship()
    platform_id: Mapped[int | None] = mapped_column(ForeignKey("platform.id"), nullable=True)
    platform: Mapped[Platform | None] = relationship()
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), nullable=True, index=True)
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])
    # ``signing`` (the ceremony it was signed at, or None) is declared with CeremonySigning in
    # tracker.ceremonies.models, so this module still maps on its own.

    stage: Mapped[str] = mapped_column(String(20), default="signed", index=True)
    signed_on: Mapped[date | None] = mapped_column(Date, nullable=True, index=True)

    # Money in 万元 (CNY); foreign investment in 万美元.
    contracted_investment: Mapped[Decimal] = mapped_column(Money)
    fixed_asset_investment: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    foreign_investment_usd: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    funds_in_place: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    land_area_mu: Mapped[Decimal | None] = mapped_column(Numeric(12, 2), nullable=True)

    content: Mapped[str] = mapped_column(Text, default="")
    expected_output: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    expected_tax: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    expected_jobs: Mapped[int | None] = mapped_column(Integer, nullable=True)
    contact_phone: Mapped[str] = mapped_column(String(30), default="", server_default="")  # 项目联系人电话

    # Designations (重点项目标识).
    is_provincial_major: Mapped[bool] = mapped_column(Boolean, default=False)
    is_qianxiang_wanyi: Mapped[bool] = mapped_column(Boolean, default=False)
    is_yrd_major: Mapped[bool] = mapped_column(Boolean, default=False)

    # Filled by approved stage changes (see workflow/stages.py STAGE_REQUIREMENTS).
    company_uscc: Mapped[str | None] = mapped_column(String(18), nullable=True)  # 项目公司
    registered_capital: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    land_certificate_no: Mapped[str | None] = mapped_column(String(60), nullable=True)
    construction_permit_no: Mapped[str | None] = mapped_column(String(60), nullable=True)
    annual_output: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    # Side states: the stage a paused project returns to, why, and when it is expected back.
    paused_from_stage: Mapped[str | None] = mapped_column(String(20), nullable=True)
    expected_resume_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    status_reason: Mapped[str] = mapped_column(Text, default="")

    # Lights (see tracker.progress.lights): when the current stage began (the effective date
    # of the latest stage event) and when the next stage falls due: late (yellow) after
    # ``due_on``, red after ``red_on``. Empty when the project cannot be late (paused,
    # terminated, at full capacity). Kept by the operations that move or plan the project.
    stage_since: Mapped[date | None] = mapped_column(Date, nullable=True)
    due_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    red_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    # 增资: this project adds capital to an earlier one. It counts once, under the first
    # signing: its amount (only the added amount) adds to the sums, it adds nothing to counts.
    increase_of_id: Mapped[int | None] = mapped_column(ForeignKey("project.id"), nullable=True, index=True)

    is_archived: Mapped[bool] = mapped_column(Boolean, default=False)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), nullable=True)
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])

    version_id: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    __mapper_args__ = {"version_id_col": version_id}

    @property
    def investment_yi(self) -> Decimal:
        return (self.contracted_investment or Decimal(0)) / Decimal(10000)

    def __str__(self) -> str:
        return self.name


# The list's default order (newest signing first, undated last) as an index, so a page of the
# list is read straight from the index instead of sorting the whole table. PostgreSQL needs
# NULLS LAST spelled out; SQLite cannot spell it in an index but puts NULLs last in DESC order
# anyway. The migration creates the one for the database in use.
Index("ix_project_recent_pg", Project.signed_on.desc().nulls_last(), Project.id.desc()).ddl_if(dialect="postgresql")
Index("ix_project_recent", Project.signed_on.desc(), Project.id.desc()).ddl_if(dialect="sqlite")
# The same order within one stage (the list's stage filter reads a page straight from it).
Index("ix_project_stage_recent_pg", Project.stage, Project.signed_on.desc().nulls_last(),
      Project.id.desc()).ddl_if(dialect="postgresql")
Index("ix_project_stage_recent", Project.stage, Project.signed_on.desc(), Project.id.desc()).ddl_if(dialect="sqlite")

# The list's totals line (projects.queries.totals) reads these columns of every live project
# in scope: from this narrow index rather than the wide rows (SQLite: a city-wide total at 100k
# projects 180 → 50 ms, a county's 14 → 5 ms; PostgreSQL, a county's 11 → 5 ms).
_TOTALS_COLUMNS = ("stage", "paused_from_stage", "increase_of_id", "contracted_investment", "funds_in_place")
Index("ix_project_totals_pg", Project.is_archived, Project.unit_id,
      postgresql_include=list(_TOTALS_COLUMNS)).ddl_if(dialect="postgresql")
Index("ix_project_totals", Project.is_archived, Project.unit_id,
      *(getattr(Project, c) for c in _TOTALS_COLUMNS)).ddl_if(dialect="sqlite")

# Names are unique per unit whatever their case: the lookups (create, rename, a ledger
# import's thousands) compare lower(name) within a unit.
Index("ix_project_unit_lower_name", Project.unit_id, func.lower(Project.name))
Index("ix_investor_unit_lower_name", Investor.unit_id, func.lower(Investor.name))

# Keyword search (tracker.projects.search): trigram indexes on the names. SQLite's are FTS5
# tables the migration creates (with their triggers), outside this metadata, as are both
# databases' tables of each name's characters and pairs (project_name_gram, investor_name_gram).
Index("ix_project_name_trgm", Project.name, postgresql_using="gin",
      postgresql_ops={"name": "gin_trgm_ops"}).ddl_if(dialect="postgresql")
Index("ix_investor_name_trgm", Investor.name, postgresql_using="gin",
      postgresql_ops={"name": "gin_trgm_ops"}).ddl_if(dialect="postgresql")

# Whether any 增资 project names this one as its original (the project page asks with its own
# query, ``undefer``; none then costs no query of its own).
_increase = aliased(Project)
Project.has_increases = column_property(
    exists().where(_increase.increase_of_id == Project.id).correlate_except(_increase), deferred=True)
