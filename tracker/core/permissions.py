"""Who may do what: the one place for every permission rule.

Two questions decide access to a record: is it in the user's *scope* (the city unit sees
every unit; a county office sees only its own) and does the user's *role* allow the
action. Out-of-scope records answer 404 (their existence is not revealed); in-scope
records the role may not touch answer 403. Views call ``require``/``load_*``; templates
call ``can`` (exposed as a Jinja global) so buttons and server checks never disagree.
"""
from __future__ import annotations

from typing import Any

from flask import abort
from flask_login import current_user
from sqlalchemy import ColumnElement, true

from tracker.auth.models import Role

# action -> roles allowed. Scope is checked separately for record-bound actions.
RULES: dict[str, frozenset[Role]] = {
    "project.view": frozenset({Role.staff, Role.manager, Role.leader}),
    "project.create": frozenset({Role.staff, Role.manager}),
    "project.edit": frozenset({Role.staff, Role.manager}),
    "project.archive": frozenset({Role.manager}),
    "project.export": frozenset({Role.staff, Role.manager, Role.leader}),
    "investor.view": frozenset({Role.staff, Role.manager, Role.leader}),
    "investor.create": frozenset({Role.staff, Role.manager}),
    "investor.edit": frozenset({Role.staff, Role.manager}),
    "stage.request": frozenset({Role.staff, Role.manager}),
    "stage.decide": frozenset({Role.manager}),
    "milestone.edit": frozenset({Role.staff, Role.manager}),
    "ceremony.view": frozenset({Role.staff, Role.manager, Role.leader}),
    "ceremony.manage": frozenset({Role.manager}),
    "users.manage": frozenset({Role.admin}),
    "reference.manage": frozenset({Role.admin}),
}


def role_allows(user: Any, action: str) -> bool:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return Role(user.role) in RULES[action]


def in_scope(user: Any, unit_id: int | None) -> bool:
    """Is a record belonging to ``unit_id`` within the user's unit scope?"""
    return bool(user.is_city or unit_id == user.unit_id)


def can(action: str, obj: Any = None, user: Any = None) -> bool:
    """Role allows the action and, for a record, the record is in the user's scope."""
    user = user if user is not None else current_user
    if not role_allows(user, action):
        return False
    if obj is None:
        return True
    return in_scope(user, obj.unit_id)


def can_decide(request: Any, user: Any = None) -> bool:
    """A manager in scope of the project, and never the person who asked."""
    user = user if user is not None else current_user
    return can("stage.decide", request.project, user) and request.requested_by_id != user.id


def scope_filter(user: Any, unit_column: Any) -> ColumnElement[bool]:
    """SQL condition limiting a query to the user's scope (use in every list/search)."""
    return true() if user.is_city else unit_column == user.unit_id


def require(action: str, obj: Any = None) -> None:
    """Abort with 404 for an out-of-scope record, 403 when the role may not act."""
    if obj is not None and not in_scope(current_user, obj.unit_id):
        abort(404)
    if not can(action, obj):
        abort(403)


def load(model: Any, obj_id: int, action: str, *options: Any) -> Any:
    """The step every screen starts with: the record (404 when missing), once ``action`` is
    allowed on it (``require``: 404 out of scope, 403 for the role)."""
    from tracker.extensions import db

    obj = db.session.get(model, obj_id, options=list(options))
    if obj is None:
        abort(404)
    require(action, obj)
    return obj


def assignable_unit_ids(user: Any, all_unit_ids: list[int]) -> list[int]:
    """Units a user may file a record under: any for the city, else only their own."""
    return all_unit_ids if user.is_city else [user.unit_id]
