"""The reference rows a user may pick on a project or investor (units in scope, active
industries, platforms of the unit …), for the form's select boxes and for the input schemas'
``context`` alike, so a value the screen would not offer is refused on every entry point."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from tracker.auth.models import Role, Unit, User
from tracker.core.input import Choices
from tracker.core.permissions import scope_filter
from tracker.core.translations import gettext as _
from tracker.extensions import db
from tracker.projects.models import Industry, Investor, Platform, Project, SourceRegion


def _active_or(model: Any, current_id: int | None):
    """Active rows, plus the row a record already points at (retired since)."""
    return model.is_active.is_(True) | (model.id == current_id)


def units(user: Any, current_id: int | None = None) -> Choices:
    rows = db.session.execute(
        select(Unit).where(scope_filter(user, Unit.id), _active_or(Unit, current_id))
        .order_by(Unit.sort_order, Unit.id)
    ).scalars()
    return Choices.of(rows, name_columns=("name", "code"), noun=_("单位"))


def source_regions(current_id: int | None = None) -> Choices:
    rows = db.session.execute(
        select(SourceRegion).where(_active_or(SourceRegion, current_id))
        .order_by(SourceRegion.sort_order, SourceRegion.id)
    ).scalars().all()
    out = Choices.of(rows, noun=_("来源地"))
    out.foreign_ids = frozenset(r.id for r in rows if r.is_foreign)  # type: ignore[attr-defined]
    out.yrd_ids = frozenset(r.id for r in rows if r.is_yrd)  # type: ignore[attr-defined]
    return out


def project_choices(user: Any, project: Project | None = None) -> dict[str, Choices]:
    """Per field of the project input: what ``user`` may pick (editing ``project``)."""
    industries = db.session.execute(
        select(Industry).where(_active_or(Industry, project.industry_id if project else None))
        .order_by(Industry.sort_order, Industry.id)
    ).scalars()
    platforms = db.session.execute(
        select(Platform).where(_active_or(Platform, project.platform_id if project else None))
        .where(scope_filter(user, Platform.unit_id) | Platform.unit_id.is_(None))
        .order_by(Platform.sort_order, Platform.id)
    ).scalars()
    owner_id = project.owner_id if project else None
    owners = db.session.execute(
        select(User).where(
            (User.role.in_([Role.staff.value, Role.manager.value]) & User.is_active_user.is_(True)
             & scope_filter(user, User.unit_id)) | (User.id == owner_id)  # keep the current owner
        ).order_by(User.unit_id, User.display_name)
    ).scalars()
    return {
        "unit_id": units(user, project.unit_id if project else None),
        "industry_id": Choices.of(industries, noun=_("产业")),
        "source_region_id": source_regions(),
        "platform_id": Choices.of(platforms, noun=_("园区/平台")),
        "owner_id": Choices.of(owners, label=lambda u: f"{u.display_name}（{u.unit.name}）",
                               name_columns=("username",), noun=_("用户")),
    }


def investor_choices(user: Any, investor: Investor | None = None) -> dict[str, Choices]:
    return {
        "unit_id": units(user, investor.unit_id if investor else None),
        "source_region_id": source_regions(investor.source_region_id if investor else None),
    }


def fill_form(form: Any, choices: dict[str, Choices], blanks: dict[str, str] | None = None) -> None:
    """Put the choices into a WTForms form's select fields, with an optional blank first entry."""
    for name, choice in choices.items():
        if name not in form:
            continue
        options: list[tuple[Any, str]] = list(choice.options)
        blank = (blanks or {}).get(name)
        if blank is not None:
            options.insert(0, ("", blank))
        form[name].choices = options
