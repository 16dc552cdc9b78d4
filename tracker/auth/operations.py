"""User operations: every change is audited; nothing here commits."""
from __future__ import annotations

from sqlalchemy import func, select

from tracker.audit.operations import record
from tracker.auth.models import Role, Unit, User
from tracker.auth.passwords import hash_password, password_problem
from tracker.core.db import utcnow
from tracker.extensions import db


class UserError(ValueError):
    """A user-facing problem with the requested change (field name, message)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def find_user(username: str) -> User | None:
    return db.session.execute(
        select(User).where(func.lower(User.username) == username.strip().lower())
    ).scalar_one_or_none()


def create_user(actor, *, username: str, display_name: str, role: str, unit: Unit, password: str) -> User:
    from flask_babel import gettext as _

    username = username.strip()
    if find_user(username) is not None:
        raise UserError("username", _("用户名已存在。"))
    Role(role)  # raises ValueError for an unknown role
    problem = password_problem(password)
    if problem:
        raise UserError("password", problem)
    user = User(
        username=username,
        display_name=display_name.strip() or username,
        role=role,
        unit=unit,
        password_hash=hash_password(password),
        is_active_user=True,
        session_version=1,
    )
    db.session.add(user)
    record(actor, "user.create", user, {"username": username, "role": role, "unit": unit.name})
    return user


def update_user(actor, user: User, *, display_name: str, role: str, unit: Unit) -> None:
    Role(role)
    changes = {}
    if user.display_name != display_name:
        changes["display_name"] = [user.display_name, display_name]
    if user.role != role:
        changes["role"] = [user.role, role]
    if user.unit_id != unit.id:
        changes["unit"] = [user.unit.name, unit.name]
    if not changes:
        return
    user.display_name, user.role, user.unit = display_name, role, unit
    if "role" in changes or "unit" in changes:
        user.session_version += 1  # new rights take effect now: sign in again
    record(actor, "user.update", user, changes)


def set_password(actor, user: User, password: str) -> None:
    problem = password_problem(password)
    if problem:
        raise UserError("password", problem)
    user.password_hash = hash_password(password)
    user.session_version += 1
    record(actor, "user.set_password", user, {"password": ["***", "***"]})


def set_active(actor, user: User, active: bool) -> None:
    if user.is_active_user == active:
        return
    user.is_active_user = active
    user.session_version += 1
    record(actor, "user.activate" if active else "user.deactivate", user, {"is_active": [not active, active]})


def note_login(user: User) -> None:
    # Not audited as a change of the record: it is a sign-in event.
    user.last_login_at = utcnow()
