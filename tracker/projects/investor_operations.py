"""Investor changes. Every change is audited; nothing here commits.

Each unit keeps its own investor records (see ``Investor``): names and USCCs are unique within
a unit, a county's users touch only their unit's records (the city's users any unit's), and
an investor with projects stays in its unit (its projects' investor is always their unit's).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from tracker.audit.operations import diff, jsonable, record
from tracker.core.db import utcnow
from tracker.core.permissions import in_scope
from tracker.core.translations import gettext as _
from tracker.extensions import db
from tracker.projects.investor_forms import INVESTOR_FIELDS
from tracker.projects.models import Investor, Project
from tracker.projects.operations import FieldErrors, StaleEdit, uscc_taken_message


def duplicate_errors(values: dict[str, Any], exclude_id: int | None, actor: Any = None) -> dict[str, str]:
    """Messages for a name (case-insensitive) or USCC already used by another investor of the
    same unit (``values["unit_id"]``). Other units' records are never looked at, so nothing
    about them is revealed; without a unit (or one outside ``actor``'s scope) nothing is said."""
    errors: dict[str, str] = {}
    unit_id = values.get("unit_id")
    if not isinstance(unit_id, int) or isinstance(unit_id, bool) or (actor is not None and not in_scope(actor, unit_id)):
        return errors
    q = select(Investor.id).where(Investor.unit_id == unit_id, func.lower(Investor.name) == values["name"].lower())
    if exclude_id is not None:
        q = q.where(Investor.id != exclude_id)
    if db.session.execute(q.limit(1)).first() is not None:
        errors["name"] = _("所选单位已有同名投资方登记在册（名称不区分大小写），请勿重复登记。")
    if values.get("uscc"):
        q = select(Investor.id).where(Investor.unit_id == unit_id, Investor.uscc == values["uscc"])
        if exclude_id is not None:
            q = q.where(Investor.id != exclude_id)
        if db.session.execute(q.limit(1)).first() is not None:
            errors["uscc"] = uscc_taken_message()
    return errors


def _save(apply: Callable[[], None], values: dict[str, Any], exclude_id: int | None) -> None:
    """Apply the change and flush it in a savepoint: a unique index that a concurrent save beat
    us to becomes a message beside the field, not a 500. (The change is made inside the
    savepoint because begin_nested() first flushes whatever is already pending.)"""
    try:
        with db.session.begin_nested():
            apply()
            db.session.flush()
    except IntegrityError:
        with db.session.no_autoflush:
            errors = duplicate_errors(values, exclude_id)
        errors = errors or {"name": _("名称或统一社会信用代码与其他投资方重复，请核对后再保存。")}
        raise FieldErrors(errors) from None


def _check_scope(actor, unit_id: Any) -> None:
    if actor is not None and not in_scope(actor, unit_id):
        raise FieldErrors({"unit_id": _("只能登记和修改本单位的投资方。")})


def create_investor(actor, values: dict[str, Any]) -> Investor:
    values = {k: values[k] for k in INVESTOR_FIELDS if k in values}
    _check_scope(actor, values.get("unit_id"))
    errors = duplicate_errors(values, None)
    if errors:
        raise FieldErrors(errors)
    investor = Investor(**values)
    _save(lambda: db.session.add(investor), values, None)
    snapshot = {k: jsonable(v) for k, v in values.items() if v not in (None, "")}
    record(actor, "investor.create", investor, snapshot)
    return investor


def update_investor(actor, investor: Investor, values: dict[str, Any],
                    expected_version: int | None) -> dict[str, list[Any]]:
    """Apply an edit and return the before/after pairs; StaleEdit when someone saved in between."""
    _check_scope(actor, investor.unit_id)
    if expected_version is None or investor.version_id != expected_version:
        raise StaleEdit()
    values = {k: values[k] for k in INVESTOR_FIELDS if k in values}
    values.setdefault("unit_id", investor.unit_id)
    _check_scope(actor, values["unit_id"])
    if values["unit_id"] != investor.unit_id and db.session.execute(
        select(Project.id).where(Project.investor_id == investor.id).limit(1)
    ).first() is not None:
        raise FieldErrors({"unit_id": _("该投资方已有项目，不能改为其他单位登记（各单位分别登记自己的投资方）。")})
    errors = duplicate_errors(values, investor.id)
    if errors:
        raise FieldErrors(errors)
    changes = diff(investor, list(values), values)
    if not changes:
        return {}

    def apply() -> None:
        for key in changes:
            setattr(investor, key, values[key])
        investor.updated_at = utcnow()

    # version_id_col puts the version in the UPDATE's WHERE clause: a save that raced between
    # the comparison above and this flush raises StaleDataError.
    _save(apply, values, investor.id)
    record(actor, "investor.update", investor, changes)
    return changes
