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
from sqlalchemy import ColumnElement, exists, or_, select, true

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
    "funds.record": frozenset({Role.staff, Role.manager}),
    "targets.view": frozenset({Role.staff, Role.manager, Role.leader}),
    "targets.manage": frozenset({Role.manager}),
    "reports.view": frozenset({Role.manager, Role.leader}),
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


# --- Ceremonies: seen by their host unit and by every unit with a project signed at them -----
# A county's project may be signed at a city-hosted ceremony. Its staff see that ceremony
# (list and page) with their own projects in full; the other units' projects show only what
# the stage already shows publicly: position, name, unit and contracted amount (no investor,
# signatories or brief). Managing a ceremony stays with its host unit's managers (and the
# city). The whole booklet and the signing-order sheet print every project in full, so they
# need every project in the ceremony to be in the user's scope; one's own briefs print from
# the project rows.

def _is_ceremony(obj: Any) -> bool:
    from tracker.ceremonies.models import Ceremony

    return isinstance(obj, Ceremony)


def _own_signings(user: Any, ceremony_id: int | None = None) -> Any:
    """Ceremony ids at which a project of the user's unit is signed (a subquery)."""
    from tracker.ceremonies.models import CeremonySigning
    from tracker.projects.models import Project

    q = (select(CeremonySigning.ceremony_id)
         .join(Project, Project.id == CeremonySigning.project_id)
         .where(Project.unit_id == user.unit_id))
    return q if ceremony_id is None else q.where(CeremonySigning.ceremony_id == ceremony_id)


def ceremony_visible(user: Any, ceremony: Any) -> bool:
    """Host scope, or one of the user's unit's projects is signed at the ceremony."""
    if in_scope(user, ceremony.unit_id):
        return True
    from tracker.extensions import db

    return bool(db.session.execute(select(exists(_own_signings(user, ceremony.id)))).scalar())


def ceremony_scope_filter(user: Any) -> ColumnElement[bool]:
    """SQL condition for ceremony lists: the ones ``ceremony_visible`` answers yes for."""
    from tracker.ceremonies.models import Ceremony

    if user.is_city:
        return true()
    return or_(Ceremony.unit_id == user.unit_id, Ceremony.id.in_(_own_signings(user)))


def ceremony_fully_visible(user: Any, ceremony: Any) -> bool:
    """May the user see every project of the ceremony in full (the booklet, the order sheet)?"""
    if user.is_city:
        return True
    from tracker.ceremonies.models import CeremonySigning
    from tracker.extensions import db
    from tracker.projects.models import Project

    others = (select(CeremonySigning.id).join(Project, Project.id == CeremonySigning.project_id)
              .where(CeremonySigning.ceremony_id == ceremony.id, Project.unit_id != user.unit_id))
    return not db.session.execute(select(exists(others))).scalar()


def visible(user: Any, obj: Any) -> bool:
    """Does the record exist for the user (else 404)? Its unit's scope, wider for ceremonies."""
    if _is_ceremony(obj):
        return ceremony_visible(user, obj)
    return in_scope(user, obj.unit_id)


def can(action: str, obj: Any = None, user: Any = None) -> bool:
    """Role allows the action and, for a record, the record is in the user's scope (for
    viewing a ceremony: ``ceremony_visible``; managing it needs the host unit's scope)."""
    user = user if user is not None else current_user
    if not role_allows(user, action):
        return False
    if obj is None:
        return True
    if action == "ceremony.view" and _is_ceremony(obj):
        return ceremony_visible(user, obj)
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
    if obj is not None and not visible(current_user, obj):
        abort(404)
    if not can(action, obj):
        abort(403)


def load(model: Any, obj_id: int, action: str, *options: Any) -> Any:
    """The step every screen starts with: the record (404 when missing), once ``action`` is
    allowed on it (``require``: 404 out of scope, 403 for the role)."""
    from tracker.extensions import db

    return _allowed(db.session.get(model, obj_id, options=list(options)), action)


def load_by(statement: Any, obj_id: int, action: str) -> Any:
    """``load`` through a statement built once (``core.db.built_once``) that selects the
    record by ``bindparam("id")``, with the relations a page shows of it."""
    from tracker.extensions import db

    return _allowed(db.session.execute(statement, {"id": obj_id}).unique().scalar_one_or_none(), action)


def _allowed(obj: Any, action: str) -> Any:
    if obj is None:
        abort(404)
    require(action, obj)
    return obj


def assignable_unit_ids(user: Any, all_unit_ids: list[int]) -> list[int]:
    """Units a user may file a record under: any for the city, else only their own."""
    return all_unit_ids if user.is_city else [user.unit_id]
