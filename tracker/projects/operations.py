"""Project and investor changes. Every change is audited; nothing here commits."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select

from tracker.audit.operations import diff, jsonable, record
from tracker.core.db import utcnow
from tracker.extensions import db
from tracker.projects.forms import PROJECT_FIELDS
from tracker.projects.models import Investor, Project


class FieldErrors(ValueError):
    """Validation that needs the database (duplicates, conflicts): {field: message}."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


class StaleEdit(Exception):
    """The record changed since the form was opened."""


def _normalise(values: dict[str, Any]) -> dict[str, Any]:
    out = dict(values)
    for key, value in out.items():
        if isinstance(value, Decimal):
            out[key] = value.quantize(Decimal("0.01"))
    if out.get("funds_in_place") is None and "funds_in_place" in out:
        out["funds_in_place"] = Decimal("0.00")
    return out


def _name_taken(name: str, exclude_id: int | None) -> bool:
    q = select(Project.id).where(func.lower(Project.name) == name.lower())
    if exclude_id is not None:
        q = q.where(Project.id != exclude_id)
    return db.session.execute(q.limit(1)).first() is not None


def resolve_investor(actor, *, name: str, uscc: str | None, source_region_id: int | None,
                     country: str | None, unit_id: int) -> Investor:
    """The investor named in a project form: the existing company or a new one.

    Companies are real-world entities shared by all units, so an existing name is reused. Its
    details are not disclosed here: a USCC that disagrees with the stored one is refused.
    """
    investor = db.session.execute(
        select(Investor).where(func.lower(Investor.name) == name.lower())
    ).scalar_one_or_none()
    if investor is not None:
        if uscc and investor.uscc and investor.uscc != uscc:
            raise FieldErrors({"investor_uscc": _("与已登记的同名投资方的统一社会信用代码不一致，请在投资方页面核对。")})
        if uscc and not investor.uscc:
            if _uscc_owner(uscc) is not None:
                raise FieldErrors({"investor_uscc": _("该统一社会信用代码已属于另一家投资方。")})
            record(actor, "investor.update", investor, {"uscc": [None, uscc]})
            investor.uscc = uscc
        return investor
    errors = {}
    if source_region_id is None:
        errors["source_region_id"] = _("新投资方请选择来源地。")
    if uscc and _uscc_owner(uscc) is not None:
        errors["investor_uscc"] = _("该统一社会信用代码已属于另一家投资方。")
    if errors:
        raise FieldErrors(errors)
    investor = Investor(name=name, uscc=uscc or None, source_region_id=source_region_id,
                        country=country or "中国", introduction="", unit_id=unit_id)
    db.session.add(investor)
    record(actor, "investor.create", investor,
           {"name": name, "uscc": uscc, "source_region_id": source_region_id})
    return investor


def _uscc_owner(uscc: str) -> Investor | None:
    return db.session.execute(select(Investor).where(Investor.uscc == uscc)).scalar_one_or_none()


def create_project(actor, values: dict[str, Any], investor_values: dict[str, Any], stage: str) -> Project:
    values = _normalise({k: values[k] for k in PROJECT_FIELDS if k in values})
    if _name_taken(values["name"], None):
        raise FieldErrors({"name": _("已存在同名项目（可能已归档），请换一个名称。")})
    investor = resolve_investor(actor, unit_id=values["unit_id"], **investor_values)
    project = Project(**values, investor=investor, stage=stage, created_by_id=actor.id)
    db.session.add(project)
    db.session.flush()
    snapshot = {k: jsonable(v) for k, v in values.items() if v not in (None, "", False)}
    record(actor, "project.create", project, {**snapshot, "stage": stage, "investor": investor.name})
    return project


def update_project(actor, project: Project, values: dict[str, Any], investor_values: dict[str, Any],
                   expected_version: int | None) -> dict[str, list[Any]]:
    """Apply an edit; raises StaleEdit when someone saved in between."""
    if expected_version is None or project.version_id != expected_version:
        raise StaleEdit()
    values = _normalise({k: values[k] for k in PROJECT_FIELDS if k in values})
    if _name_taken(values["name"], project.id):
        raise FieldErrors({"name": _("已存在同名项目（可能已归档），请换一个名称。")})
    changes = diff(project, list(values), values)
    if investor_values["name"].lower() != project.investor.name.lower() or (
        investor_values.get("uscc") and investor_values["uscc"] != project.investor.uscc
    ):
        investor = resolve_investor(actor, unit_id=values["unit_id"], **investor_values)
        if investor.id != project.investor_id:
            changes["investor"] = [project.investor.name, investor.name]
            project.investor = investor
    if not changes:
        return {}
    for key, value in values.items():
        setattr(project, key, value)
    project.updated_at = utcnow()
    # The version check in the UPDATE's WHERE clause (version_id_col) catches a save that
    # races between our comparison above and this flush.
    db.session.flush()
    record(actor, "project.update", project, changes)
    return changes


def set_archived(actor, project: Project, archived: bool) -> None:
    if project.is_archived == archived:
        return
    project.is_archived = archived
    project.archived_at = utcnow() if archived else None
    db.session.flush()
    record(actor, "project.archive" if archived else "project.restore", project,
           {"is_archived": [not archived, archived]})
