"""User operations: every change is audited; nothing here commits."""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import bindparam, delete, func, select, update

from tracker.api.auth import revoke_user_tokens
from tracker.audit.operations import record
from tracker.auth.models import LoginSession, Role, Unit, User
from tracker.auth.passwords import hash_password, password_problem
from tracker.core import datacache
from tracker.core.db import built_once, utcnow
from tracker.extensions import db


class UserError(ValueError):
    """A user-facing problem with the requested change (field name, message)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def canonical_username(raw: str | None) -> str:
    """The one spelling of a typed username, used both to find the user and as the login
    throttle's per-account key: were they spelled differently, a variant that still finds the
    user would get past a locked account. Control characters are not dropped here (dropping
    them made ``ali%01ce`` a fresh throttle key that still signed in as alice): the login form
    refuses them outright."""
    return (raw or "").strip().lower()


def find_user(username: str) -> User | None:
    return db.session.execute(
        select(User).where(func.lower(User.username) == canonical_username(username))
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


# No look-alike characters (0/O, 1/l/I): the password is read off a screen and typed again.
_GENERATED_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
GENERATED_LENGTH = 12


def generate_password() -> str:
    """A random password an administrator hands over once: letters and digits, never
    refused by ``password_problem`` (it always holds both)."""
    while True:
        password = "".join(secrets.choice(_GENERATED_ALPHABET) for _ in range(GENERATED_LENGTH))
        if any(c.isdigit() for c in password) and any(c.isalpha() for c in password):
            return password


def set_active(actor, user: User, active: bool) -> None:
    """Deactivation ends the user's sessions and revokes their API tokens for good: activating
    the account again later brings neither back (new tokens must be issued)."""
    if user.is_active_user == active:
        return
    user.is_active_user = active
    user.session_version += 1
    record(actor, "user.activate" if active else "user.deactivate", user, {"is_active": [not active, active]})
    if not active:
        revoke_user_tokens(user, actor, reason="user.deactivate")


def note_login(user: User) -> None:
    # Not audited as a change of the record: it is a sign-in event.
    user.last_login_at = utcnow()


# Ended or abandoned login sessions older than this are deleted when someone signs in.
SESSION_RETENTION = timedelta(days=30)


def _secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def start_session(user: User) -> str:
    """Record a new signed-in browser; returns the secret to keep in its session cookie."""
    now = utcnow()
    db.session.execute(delete(LoginSession).where(
        LoginSession.created_at < now - SESSION_RETENTION,
    ).execution_options(synchronize_session=False))
    secret = secrets.token_urlsafe(32)
    db.session.add(LoginSession(user_id=user.id, secret_hash=_secret_hash(secret), created_at=now))
    return secret


def end_session(secret: str | None) -> None:
    """Logout: this browser's session is over, even if a copy of its cookie is replayed."""
    if not secret:
        return
    db.session.execute(update(LoginSession).where(
        LoginSession.secret_hash == _secret_hash(secret), LoginSession.ended_at.is_(None),
    ).values(ended_at=utcnow()).execution_options(synchronize_session=False))


@built_once
def _session_user_statement():
    """Every screen request's first statement."""
    live = select(LoginSession.id).where(
        LoginSession.user_id == User.id, LoginSession.secret_hash == bindparam("secret_hash"),
        LoginSession.ended_at.is_(None),
    ).exists()
    return datacache.with_version(select(User).where(
        User.id == bindparam("user_id"), User.session_version == bindparam("session_version"),
        User.is_active_user.is_(True), live,
    ))


def session_user(user_id: int, session_version: int, secret: str | None) -> User | None:
    """The active user of a live login session, or None. One query, which also reads the data
    version for the request's cached figures (``core.datacache.with_version``)."""
    if not secret or not isinstance(secret, str):
        return None
    row = db.session.execute(_session_user_statement(), {
        "user_id": user_id, "session_version": session_version, "secret_hash": _secret_hash(secret),
    }).one_or_none()
    if row is None:
        return None
    datacache.keep_version(row[1:])
    return row[0]
