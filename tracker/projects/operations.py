"""Project and investor changes. Every change is audited; nothing here commits."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select

from tracker.audit.operations import diff, jsonable, record
from tracker.core.db import utcnow
from tracker.core.formatting import today_local
from tracker.core.input import InputError as FieldErrors  # {field: message}, found by the database
from tracker.core.permissions import in_scope
from tracker.extensions import db
from tracker.progress import history, lights
from tracker.projects.forms import PROJECT_FIELDS
from tracker.projects.models import Investor, Project
from tracker.workflow.operations import Conflict, pending_request


class StaleEdit(Exception):
    """The record changed since the form was opened."""


class ArchivedProject(StaleEdit):
    """The project is archived, so read-only: restore it first. A kind of StaleEdit (archiving
    changes the record), so every caller that answers a stale save (409, the input kept)
    answers this too, whichever entry point it is; ``message`` says why."""

    def __init__(self) -> None:
        self.message = _("已归档的项目不能修改，请先恢复。")
        super().__init__(self.message)


def _normalise(values: dict[str, Any]) -> dict[str, Any]:
    out = dict(values)
    for key, value in out.items():
        if isinstance(value, Decimal):
            out[key] = value.quantize(Decimal("0.01"))
    if out.get("funds_in_place") is None and "funds_in_place" in out:
        out["funds_in_place"] = Decimal("0.00")
    return out


def _name_taken(name: str, unit_id: int, exclude_id: int | None) -> bool:
    """Names are unique per unit: another unit's project names are never revealed."""
    q = select(Project.id).where(Project.unit_id == unit_id, func.lower(Project.name) == name.lower())
    if exclude_id is not None:
        q = q.where(Project.id != exclude_id)
    return db.session.execute(q.limit(1)).first() is not None


def resolve_investor(actor, *, name: str, uscc: str | None, source_region_id: int | None,
                     country: str | None, unit_id: int) -> Investor:
    """The investor named in a project form: the project's unit's record of it, or a new one.

    Each unit keeps its own investor records (see ``Investor``): the name is looked up among
    ``unit_id``'s investors only, so a project never points at, shows or changes another
    unit's record; a company that invests in two counties gets one record in each.
    """
    if actor is not None and not in_scope(actor, unit_id):
        raise FieldErrors({"unit_id": _("只能为本单位登记项目和投资方。")})
    investor = db.session.execute(
        select(Investor).where(Investor.unit_id == unit_id, func.lower(Investor.name) == name.lower())
    ).scalar_one_or_none()
    if investor is not None:
        if uscc and investor.uscc and investor.uscc != uscc:
            raise FieldErrors({"investor_uscc": _("与已登记的同名投资方的统一社会信用代码不一致，请在投资方页面核对。")})
        if uscc and not investor.uscc:
            if _uscc_owner(uscc, unit_id) is not None:
                raise FieldErrors({"investor_uscc": _("该统一社会信用代码已属于另一家投资方。")})
            record(actor, "investor.update", investor, {"uscc": [None, uscc]})
            investor.uscc = uscc
        return investor
    errors = {}
    if source_region_id is None:
        errors["source_region_id"] = _("新投资方请选择来源地。")
    if uscc and _uscc_owner(uscc, unit_id) is not None:
        errors["investor_uscc"] = _("该统一社会信用代码已属于另一家投资方。")
    if errors:
        raise FieldErrors(errors)
    investor = Investor(name=name, uscc=uscc or None, source_region_id=source_region_id,
                        country=country or "中国", introduction="", unit_id=unit_id)
    db.session.add(investor)
    record(actor, "investor.create", investor,
           {"name": name, "uscc": uscc, "source_region_id": source_region_id})
    return investor


def _uscc_owner(uscc: str, unit_id: int) -> Investor | None:
    return db.session.execute(
        select(Investor).where(Investor.unit_id == unit_id, Investor.uscc == uscc)
    ).scalar_one_or_none()


def create_project(actor, values: dict[str, Any], investor_values: dict[str, Any], stage: str) -> Project:
    """A new project. ``values`` may carry ``funds_in_place`` (funds already in place: the
    first funds record) and ``increase_of`` (the name of the project it adds capital to)."""
    from tracker.funds.operations import add_opening_funds

    opening = values.get("funds_in_place")
    increase_name = values.get("increase_of")
    values = _normalise({k: values[k] for k in PROJECT_FIELDS if k in values})
    if _name_taken(values["name"], values["unit_id"], None):
        raise FieldErrors({"name": _name_taken_message()})
    original = _resolve_increase(actor, increase_name, values["unit_id"], None, values.get("signed_on"))
    investor = resolve_investor(actor, unit_id=values["unit_id"], **investor_values)
    project = Project(**values, investor=investor, stage=stage, created_by_id=actor.id,
                      stage_since=history.first_stage_since(stage, values.get("signed_on"), today_local()),
                      increase_of_id=original.id if original else None)
    db.session.add(project)
    db.session.flush()
    plan = start_progress(project, actor.id)
    snapshot = {k: jsonable(v) for k, v in values.items() if v not in (None, "", False)}
    if plan:
        snapshot["planned"] = {code: jsonable(day) for code, day in plan.items()}
    if original is not None:
        snapshot["increase_of"] = original.name
    record(actor, "project.create", project, {**snapshot, "stage": stage, "investor": investor.name})
    add_opening_funds(actor, project, opening)
    return project


def _resolve_increase(actor, name: str | None, unit_id: int, project: Project | None,
                      signed_on: Any) -> Project | None:
    """The original project of a 增资 named ``name``: an earlier project of the same unit (in
    the actor's scope), not ``project`` itself, not an increase itself, not archived.
    Raises FieldErrors on ``increase_of``; None when no name is given."""
    name = (name or "").strip()
    if not name:
        return None
    original = db.session.execute(
        select(Project).where(Project.unit_id == unit_id, func.lower(Project.name) == name.lower())
    ).scalar_one_or_none()
    if original is None or (actor is not None and not in_scope(actor, original.unit_id)):
        raise FieldErrors({"increase_of": _("所选落户地没有名为“%(name)s”的项目：请填写原项目的完整名称"
                                            "（须与本项目同一落户地）。", name=name[:40])})
    if project is not None and original.id == project.id:
        raise FieldErrors({"increase_of": _("原项目不能是本项目。")})
    if original.increase_of_id is not None:
        raise FieldErrors({"increase_of": _("“%(name)s”本身是增资项目，请填写最初签约的原项目。",
                                            name=original.name)})
    if original.is_archived:
        raise FieldErrors({"increase_of": _("原项目“%(name)s”已归档，请先恢复。", name=original.name)})
    if project is not None and db.session.execute(
            select(Project.id).where(Project.increase_of_id == project.id).limit(1)).first() is not None:
        raise FieldErrors({"increase_of": _("已有项目登记为本项目的增资，本项目不能再作为其他项目的增资。")})
    if signed_on and original.signed_on and original.signed_on > signed_on:
        raise FieldErrors({"increase_of": _("原项目“%(name)s”的签约日期（%(d)s）晚于本项目：增资项目应在原项目之后签约。",
                                            name=original.name, d=original.signed_on.isoformat())})
    return original


def _project_name(project_id: int | None) -> str | None:
    if project_id is None:
        return None
    return db.session.execute(select(Project.name).where(Project.id == project_id)).scalar_one_or_none()


def start_progress(project: Project, actor_id: int | None) -> dict[str, Any]:
    """A new project's first stage event, its milestones' planned dates (from the signing
    date and the stage deadlines: otherwise it could never be late) and its lights.
    Returns the planned dates set."""
    from tracker.workflow.models import Milestone

    history.record_created(project, actor_id, today_local())
    plan = lights.default_plan(project.signed_on, lights.deadlines(db.session)) if project.signed_on else {}
    db.session.add_all(Milestone(project_id=project.id, stage=code, planned_on=day) for code, day in plan.items())
    db.session.flush()
    lights.refresh_project(project)
    return plan


def update_project(actor, project: Project, values: dict[str, Any], investor_values: dict[str, Any],
                   expected_version: int | None) -> dict[str, list[Any]]:
    """Apply an edit; raises StaleEdit when someone saved in between, ArchivedProject when the
    project is archived."""
    if project.is_archived:
        raise ArchivedProject()
    if expected_version is None or project.version_id != expected_version:
        raise StaleEdit()
    has_increase = "increase_of" in values
    increase_name = values.get("increase_of")
    values = _normalise({k: values[k] for k in PROJECT_FIELDS if k in values})
    unit_id = values.get("unit_id", project.unit_id)
    if _name_taken(values.get("name", project.name), unit_id, project.id):
        raise FieldErrors({"name": _name_taken_message()})
    changes = diff(project, list(values), values)
    increase_of_id = project.increase_of_id
    if not has_increase and project.increase_of_id is not None and (
            unit_id != project.unit_id or values.get("signed_on", project.signed_on) != project.signed_on):
        # The link is kept: check it still holds for the new unit and signing date.
        has_increase, increase_name = True, _project_name(project.increase_of_id)
    if has_increase:
        original = _resolve_increase(actor, increase_name, unit_id, project, values.get("signed_on", project.signed_on))
        increase_of_id = original.id if original else None
        if increase_of_id != project.increase_of_id:
            changes["increase_of"] = [_project_name(project.increase_of_id), original.name if original else None]
    if investor_values["name"].lower() != project.investor.name.lower() or (
        investor_values.get("uscc") and investor_values["uscc"] != project.investor.uscc
    ) or project.investor.unit_id != unit_id:  # moved to another unit: that unit's record
        old = project.investor
        if old.unit_id != unit_id and investor_values["name"].lower() == old.name.lower():
            # The same company recorded anew in the target unit, unless it has it already.
            known = {"uscc": old.uscc, "source_region_id": old.source_region_id, "country": old.country}
            investor_values = {**investor_values, **{k: v for k, v in known.items() if not investor_values.get(k)}}
        investor = resolve_investor(actor, unit_id=unit_id, **investor_values)
        if investor.id != project.investor_id:
            changes["investor"] = [project.investor.name, investor.name]
            project.investor = investor
    if not changes:
        return {}
    old_signed_on = project.signed_on
    for key, value in values.items():
        setattr(project, key, value)
    if increase_of_id != project.increase_of_id:
        project.increase_of_id = increase_of_id
    project.updated_at = utcnow()
    if project.signed_on != old_signed_on:
        history.redate_signing(project, old_signed_on)
        lights.refresh_project(project)
    # The version check in the UPDATE's WHERE clause (version_id_col) catches a save that
    # races between our comparison above and this flush.
    db.session.flush()
    record(actor, "project.update", project, changes)
    return changes


def _name_taken_message() -> str:
    # "所选单位": the city files projects under any unit; a county only under its own.
    return _("所选单位已存在同名项目（可能已归档），请换一个名称。")


def set_archived(actor, project: Project, archived: bool) -> None:
    """Archive (read-only from then on) or restore. A project with a pending stage request is
    not archived: the request is decided (or withdrawn) first, so nobody's request is
    silently dropped and no decision ever lands on an archived project. Raises
    ``workflow.operations.Conflict`` (409) with a message saying so."""
    if project.is_archived == archived:
        return
    if archived and pending_request(project) is not None:
        raise Conflict(_("该项目有一项待审批的阶段变更申请：请先批准或驳回（或由申请人撤回）后再归档。"))
    project.is_archived = archived
    project.archived_at = utcnow() if archived else None
    db.session.flush()
    record(actor, "project.archive" if archived else "project.restore", project,
           {"is_archived": [not archived, archived]})
