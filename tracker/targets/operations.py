"""Yearly targets per unit: reading them (``targets_for``, used by the dashboard and the home
page too) and setting them (``save_target``). Nothing here commits; every change is audited.

Scope: a county manager sets targets for their own unit only, a city-unit manager for every
unit; the city unit's own row is the city-wide (全市) target. ``save_target`` checks the
actor's scope itself (role checks — ``targets.manage`` — stay with the caller, as for every
operation).

Concurrency: ``UnitTarget.version_id`` is SQLAlchemy's ``version_id_col``. The caller passes
the version its form showed, or None when the form showed no target yet: a target someone
saved in between (or created meanwhile) raises ``StaleTarget``, and a save racing past that
comparison is caught by the versioned UPDATE (``StaleDataError``) or, for two creations at
once, by the unique (unit, year) index (``IntegrityError``).
"""
from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from tracker.audit.operations import jsonable, record
from tracker.auth.models import Unit
from tracker.core.input import MAX_AMOUNT
from tracker.core.permissions import in_scope, scope_filter
from tracker.core.translations import gettext as _
from tracker.extensions import db
from tracker.reports.figures import TARGET_FIELDS
from tracker.targets.models import UnitTarget
from tracker.targets.schemas import MAX_COUNT

FIRST_YEAR, LAST_YEAR = 2000, 2100  # the table's CHECK (year_plausible)
COUNT_FIELDS = ("projects_10yi", "projects_10yi_yrd", "started")
AMOUNT_FIELDS = ("investment", "funds")
FIELDS = TARGET_FIELDS  # the five yearly figures, as the report engine counts them


class TargetError(ValueError):
    """Values that break a rule: {field: message} ('' = the whole form)."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


class StaleTarget(Exception):
    """The target changed (or was created) since the form was based on it."""


def plausible_year(year: Any) -> bool:
    return isinstance(year, int) and not isinstance(year, bool) and FIRST_YEAR <= year <= LAST_YEAR


# --- reading ----------------------------------------------------------------------------------

def targets_for(user: Any, year: int) -> dict[int, UnitTarget]:
    """The targets of ``year`` within the user's scope, by unit id (units without a target are
    absent). The city unit's own target, when set, is the city-wide one."""
    if not plausible_year(year):
        return {}
    rows = db.session.execute(
        select(UnitTarget).where(UnitTarget.year == year, scope_filter(user, UnitTarget.unit_id))
    ).scalars()
    return {row.unit_id: row for row in rows}


def get_target(unit_id: int, year: int) -> UnitTarget | None:
    if not plausible_year(year):
        return None
    return db.session.execute(
        select(UnitTarget).where(UnitTarget.unit_id == unit_id, UnitTarget.year == year)
    ).scalar_one_or_none()


def units_in_scope(user: Any) -> list[Unit]:
    """The units whose targets the user sees: every active unit for the city, else their own
    (the user's own unit even when it has been retired)."""
    q = select(Unit).where(scope_filter(user, Unit.id))
    if user.is_city:
        q = q.where(Unit.is_active.is_(True))
    return list(db.session.execute(q.order_by(Unit.sort_order, Unit.id)).scalars())


# --- writing ----------------------------------------------------------------------------------

def _check(values: Mapping[str, Any]) -> dict[str, Any]:
    """The five figures, complete, typed and in range (the schema has checked a form's; an
    operation still guards what any caller passes)."""
    errors: dict[str, str] = {}
    out: dict[str, Any] = {}
    for name in FIELDS:
        value = values.get(name)
        if name in COUNT_FIELDS:
            ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_COUNT
        else:
            if isinstance(value, int) and not isinstance(value, bool):
                value = Decimal(value)
            ok = isinstance(value, Decimal) and value.is_finite() and 0 <= value <= MAX_AMOUNT
            if ok:
                value = value.quantize(Decimal("0.01"))
        if not ok:
            errors[name] = _("取值无效。")
        else:
            out[name] = value
    if not errors and out["projects_10yi_yrd"] > out["projects_10yi"]:
        errors["projects_10yi_yrd"] = _("其中来自长三角的项目数不能多于10亿元以上项目数（%(n)d 个）。",
                                        n=out["projects_10yi"])
    if errors:
        raise TargetError(errors)
    return out


def save_target(actor: Any, unit: Unit, year: int, values: Mapping[str, Any],
                expected_version: int | None) -> tuple[UnitTarget, dict[str, Any]]:
    """Create or update ``unit``'s target for ``year``; returns it and what changed
    (field → [before, after]; for a creation every figure with None before). Raises
    TargetError (values, year, scope), StaleTarget (``expected_version`` is not the stored
    version; None = "the form showed no target")."""
    if not plausible_year(year):
        raise TargetError({"": _("年份应在 %(a)d 至 %(b)d 之间。", a=FIRST_YEAR, b=LAST_YEAR)})
    if actor is not None and not in_scope(actor, unit.id):
        raise TargetError({"": _("只能设定本单位的目标。")})
    figures = _check(values)
    target = get_target(unit.id, year)
    if target is None:
        if expected_version is not None:
            raise StaleTarget()
        target = UnitTarget(unit_id=unit.id, year=year, updated_by_id=getattr(actor, "id", None), **figures)
        db.session.add(target)
        db.session.flush()
        changes = {name: [None, value] for name, value in figures.items()}
        record(actor, "target.create", target, {"unit": unit.name, "year": year, **jsonable(figures)})
        return target, changes
    if expected_version is None or target.version_id != expected_version:
        raise StaleTarget()
    changes = {name: [getattr(target, name), value] for name, value in figures.items()
               if getattr(target, name) != value}
    if not changes:
        return target, {}
    for name, (_before, after) in changes.items():
        setattr(target, name, after)
    target.updated_by_id = getattr(actor, "id", None)  # updated_at: the column's onupdate
    # The versioned UPDATE catches a save racing between the comparison above and here.
    db.session.flush()
    record(actor, "target.update", target, {"unit": unit.name, "year": year, **jsonable(changes)})
    return target, changes
