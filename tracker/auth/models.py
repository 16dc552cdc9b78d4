"""Units (单位) and users with their role."""
from __future__ import annotations

import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.core.db import TimestampMixin, UTCDateTime
from tracker.core.translations import lazy_gettext as _l
from tracker.extensions import db


class Role(str, enum.Enum):
    staff = "staff"
    manager = "manager"
    leader = "leader"
    admin = "admin"

    @property
    def label(self) -> str:
        return str(ROLE_LABELS[self])


ROLE_LABELS = {
    Role.staff: _l("招商专员"),
    Role.manager: _l("科室负责人"),
    Role.leader: _l("领导"),
    Role.admin: _l("系统管理员"),
}


class Unit(db.Model):
    """The city bureau (is_city) or a county/district office."""

    __tablename__ = "unit"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    # English display name (empty: the Chinese name is shown in the English UI too).
    name_en: Mapped[str] = mapped_column(String(80), default="", server_default="")
    is_city: Mapped[bool] = mapped_column(Boolean, default=False)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)

    def __str__(self) -> str:
        return self.name


class User(UserMixin, TimestampMixin, db.Model):
    __tablename__ = "user"
    __table_args__ = (
        CheckConstraint("role IN ('staff','manager','leader','admin')", name="role_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(40), unique=True)
    display_name: Mapped[str] = mapped_column(String(40))
    role: Mapped[str] = mapped_column(String(10))
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    unit: Mapped[Unit] = relationship(lazy="joined")
    password_hash: Mapped[str] = mapped_column(String(200))
    is_active_user: Mapped[bool] = mapped_column("is_active", Boolean, default=True)
    # Bumped on logout-everywhere, deactivation and password change: old sessions die.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    version_id: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    __mapper_args__ = {"version_id_col": version_id}

    # Flask-Login
    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return bool(self.is_active_user)

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @property
    def role_enum(self) -> Role:
        return Role(self.role)

    @property
    def role_label(self) -> str:
        return self.role_enum.label

    @property
    def is_city(self) -> bool:
        return bool(self.unit and self.unit.is_city)

    def __str__(self) -> str:
        return self.display_name or self.username


class LoginSession(db.Model):
    """One signed-in browser. The session cookie carries a random secret whose hash is here;
    logout ends this row, so a copy of the cookie replayed later is refused, while the
    user's other browsers stay signed in (``User.session_version`` ends them all)."""

    __tablename__ = "login_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


def name_only(relationship):
    """Loader option: join ``relationship`` (to a User) reading the person's name only, not the
    account's other columns nor its unit (joined by default): for pages that name people."""
    from sqlalchemy.orm import joinedload, lazyload, load_only

    return joinedload(relationship).options(load_only(User.display_name), lazyload(User.unit))
