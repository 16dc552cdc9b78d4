"""Investor changes. Every change is audited; nothing here commits."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from tracker.audit.operations import diff, jsonable, record
from tracker.core.db import utcnow
from tracker.extensions import db
from tracker.projects.investor_forms import INVESTOR_FIELDS
from tracker.projects.models import Investor
from tracker.projects.operations import FieldErrors, StaleEdit


def duplicate_errors(values: dict[str, Any], exclude_id: int | None) -> dict[str, str]:
    """Messages for a name (case-insensitive) or USCC already used by another investor."""
    errors: dict[str, str] = {}
    q = select(Investor.id).where(func.lower(Investor.name) == values["name"].lower())
    if exclude_id is not None:
        q = q.where(Investor.id != exclude_id)
    if db.session.execute(q.limit(1)).first() is not None:
        errors["name"] = _("已有同名投资方登记在册（名称不区分大小写），请勿重复登记。")
    if values.get("uscc"):
        q = select(Investor.id).where(Investor.uscc == values["uscc"])
        if exclude_id is not None:
            q = q.where(Investor.id != exclude_id)
        if db.session.execute(q.limit(1)).first() is not None:
            errors["uscc"] = _("该统一社会信用代码已属于另一家投资方。")
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


def create_investor(actor, values: dict[str, Any]) -> Investor:
    values = {k: values[k] for k in INVESTOR_FIELDS if k in values}
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
    if expected_version is None or investor.version_id != expected_version:
        raise StaleEdit()
    values = {k: values[k] for k in INVESTOR_FIELDS if k in values}
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
