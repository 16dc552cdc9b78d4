"""Project and investor changes. Every change is audited; nothing here commits."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from tracker.audit.operations import diff, jsonable, record, record_many
from tracker.core.bulk import allocate_ids, insert_many, insert_returning_ids, unit_pairs
from tracker.core.db import utcnow
from tracker.core.formatting import today_local
from tracker.core.input import InputError as FieldErrors  # {field: message}, found by the database
from tracker.core.permissions import in_scope
from tracker.core.translations import gettext as _
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
    return resolve_investors(actor, [{"name": name, "uscc": uscc, "source_region_id": source_region_id,
                                      "country": country, "unit_id": unit_id}])[0]


def resolve_investors(actor, wanted: list[dict[str, Any]]) -> list[Investor]:
    """``resolve_investor`` for many projects at once (a ledger import), in a few statements
    per 500: each item has ``unit_id``, ``name``, ``uscc``, ``source_region_id``, ``country``.
    Items naming the same new investor share one new record. Raises FieldErrors."""
    for item in wanted:
        if actor is not None and not in_scope(actor, item["unit_id"]):
            raise FieldErrors({"unit_id": _("只能为本单位登记项目和投资方。")})
    names = {(w["unit_id"], w["name"].lower()) for w in wanted}
    usccs = {(w["unit_id"], w["uscc"]) for w in wanted if w.get("uscc")}
    by_name = {(i.unit_id, i.name.lower()): i for i in unit_pairs(db.session, Investor, func.lower(Investor.name), names)
               if (i.unit_id, i.name.lower()) in names}
    by_uscc = {(i.unit_id, i.uscc): i for i in unit_pairs(db.session, Investor, Investor.uscc, usccs)
               if (i.unit_id, i.uscc) in usccs}
    out: list[Investor] = []
    created: list[Investor] = []

    def refuse(errors: dict[str, str], name: str) -> FieldErrors:
        # Many at once (a ledger): say which investor, as the name check says which project.
        if len(wanted) > 1:
            errors = {k: _("“%(name)s”：%(message)s", name=name, message=m) for k, m in errors.items()}
        return FieldErrors(errors)

    for item in wanted:
        unit_id, uscc = item["unit_id"], item.get("uscc") or None
        investor = by_name.get((unit_id, item["name"].lower()))
        if investor is not None:
            if uscc and investor.uscc and investor.uscc != uscc:
                raise refuse({"investor_uscc": _("与已登记的同名投资方的统一社会信用代码不一致，请在投资方页面核对。")},
                             item["name"])
            if uscc and not investor.uscc:
                if (unit_id, uscc) in by_uscc:
                    raise refuse({"investor_uscc": uscc_taken_message()}, item["name"])
                if investor.id is not None:  # one created above has its USCC in its create entry
                    record(actor, "investor.update", investor, {"uscc": [None, uscc]})
                by_uscc[(unit_id, uscc)] = investor
                investor.uscc = uscc
            out.append(investor)
            continue
        errors = {}
        if item.get("source_region_id") is None:
            errors["source_region_id"] = _("新投资方请选择来源地。")
        if uscc and (unit_id, uscc) in by_uscc:
            errors["investor_uscc"] = uscc_taken_message()
        if errors:
            raise refuse(errors, item["name"])
        investor = Investor(name=item["name"], uscc=uscc, source_region_id=item["source_region_id"],
                            country=item.get("country") or "中国", introduction="", unit_id=unit_id)
        by_name[(unit_id, item["name"].lower())] = investor
        if uscc:
            by_uscc[(unit_id, uscc)] = investor
        created.append(investor)
        out.append(investor)
    if created:
        _give_ids(created)
        db.session.add_all(created)
        db.session.flush()
        record_many(actor, "investor.create", "investor", [
            (i.id, None, {"name": i.name, "uscc": i.uscc, "source_region_id": i.source_region_id}) for i in created])
    return out


def _give_ids(objects: list[Any]) -> None:
    """Ids from the sequence before a flush of many new objects (see ``core.bulk``)."""
    ids = allocate_ids(db.session, type(objects[0]).__table__, len(objects))
    for obj, i in zip(objects, ids or (), strict=False):
        obj.id = i


@dataclass
class NewProject:
    """One project to create: ``values`` as the input layer gives them (``funds_in_place``
    is the opening funds, the first funds record), the investor's fields, the stage, for a
    增资 the original project (resolved by ``create_project``), and milestone dates known
    already (a ledger's): planned ones replace the default plan's, actual ones place a
    project created at a later stage in its history."""
    values: dict[str, Any]
    investor: dict[str, Any]
    stage: str
    increase_of: Project | None = None
    planned: dict[str, date] = field(default_factory=dict)
    actual: dict[str, date] = field(default_factory=dict)

    @property
    def placed(self) -> bool:
        """Created past signing or with stages reached: its history is rebuilt from the
        actual dates (as the migration did for projects older than the history)."""
        return bool(self.actual) or self.stage not in ("negotiating", "signed")


def create_project(actor, values: dict[str, Any], investor_values: dict[str, Any], stage: str) -> Project:
    """A new project. ``values`` may carry ``funds_in_place`` (funds already in place: the
    first funds record) and ``increase_of`` (the name of the project it adds capital to)."""
    unit_id = values["unit_id"]
    original = _resolve_increase(actor, values.get("increase_of"), unit_id, None, values.get("signed_on"))
    return create_projects(actor, [NewProject(values, investor_values, stage, original)])[0]


def create_projects(actor, items: list[NewProject]) -> list[Project]:
    """New projects, each as the form creates one: its investor (found or new), its first
    stage event, planned milestone dates from the signing date, its lights, the opening
    funds record and an audit entry for each, in a constant number of statements per call
    (a ledger import creates thousands: the rows other than projects and investors go in
    as bulk INSERTs, no object each). Raises FieldErrors on a name taken."""
    from tracker.funds.models import FundsRecord
    from tracker.funds.operations import opening_funds
    from tracker.workflow.models import Milestone

    today = today_local()
    rows = [(_normalise({k: item.values[k] for k in PROJECT_FIELDS if k in item.values}), item) for item in items]
    taken = _names_taken([(values["unit_id"], values["name"]) for values, _item in rows])
    if taken:
        message = _name_taken_message()
        raise FieldErrors({"name": message if len(rows) == 1 else _("“%(name)s”：%(message)s", name=taken,
                                                                           message=message)})
    investors = resolve_investors(actor, [{**item.investor, "unit_id": values["unit_id"]} for values, item in rows])
    limits = lights.deadlines(db.session)
    projects, plans = [], []
    for (values, item), investor in zip(rows, investors, strict=True):
        signed_on = values.get("signed_on")
        since = history.first_stage_since(item.stage, signed_on, today)
        plan = {**(lights.default_plan(signed_on, limits) if signed_on else {}), **item.planned}
        nxt = lights.next_stage(item.stage)
        due_on, red_on = lights.due_dates(item.stage, since, plan.get(nxt) if nxt else None, limits)
        opening = item.values.get("funds_in_place")
        projects.append(Project(
            **values, investor=investor, stage=item.stage, created_by_id=actor.id, stage_since=since,
            due_on=due_on, red_on=red_on, increase_of_id=item.increase_of.id if item.increase_of else None,
            funds_in_place=opening.quantize(Decimal("0.01")) if opening and opening > 0 else Decimal("0.00")))
        plans.append(plan)
    _give_ids(projects)
    db.session.add_all(projects)
    db.session.flush()

    milestones, audits = [], []
    for project, plan, (values, item) in zip(projects, plans, rows, strict=True):
        milestones += [{"project_id": project.id, "stage": code, "planned_on": plan.get(code),
                        "actual_on": item.actual.get(code)} for code in sorted(plan.keys() | item.actual.keys())]
        snapshot = {k: jsonable(v) for k, v in values.items() if v not in (None, "", False)}
        if plan:
            snapshot["planned"] = {code: jsonable(day) for code, day in plan.items()}
        if item.actual:
            snapshot["actual"] = {code: jsonable(day) for code, day in item.actual.items()}
        if item.increase_of is not None:
            snapshot["increase_of"] = item.increase_of.name
        audits.append((project.id, project.id, {**snapshot, "stage": item.stage, "investor": project.investor.name}))
    if milestones:
        insert_many(db.session, Milestone, milestones)
    record_many(actor, "project.create", "project", audits)
    placed = [p for p, (_v, item) in zip(projects, rows, strict=True) if item.placed]
    history.record_created([p for p, (_v, item) in zip(projects, rows, strict=True) if not item.placed],
                           actor.id, today)
    funds = [row for row in (opening_funds(actor, p) for p in projects) if row is not None]
    if funds:
        ids = insert_returning_ids(db.session, FundsRecord, funds)
        record_many(actor, "funds.create", "funds_record", [
            (i, row["project_id"], {"received_on": row["received_on"], "amount": row["amount"],
                                    "funds_in_place": row["amount"]}) for i, row in zip(ids, funds, strict=True)])
    if placed:
        ids = [p.id for p in placed]
        history.backfill(db.session, ids)
        lights.refresh(db.session, ids)
        for project in placed:  # written by Core statements: read again when next used
            db.session.expire(project, ["stage_since", "due_on", "red_on"])
    return projects


def _names_taken(keys: list[tuple[int, str]]) -> str | None:
    """A name among ``keys`` (unit_id, name) that its unit has already (names are unique per
    unit, case-insensitively), or that ``keys`` holds twice; None when all are free."""
    lowered = [(unit_id, name.lower()) for unit_id, name in keys]
    seen: set[tuple[int, str]] = set()
    for key, (_unit, name) in zip(lowered, keys, strict=True):
        if key in seen:
            return name
        seen.add(key)
    for unit_id, name in unit_pairs(db.session, Project, func.lower(Project.name), seen, Project.unit_id, Project.name):
        if (unit_id, name.lower()) in seen:
            return name
    return None


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


def uscc_taken_message() -> str:
    """An investor's USCC is unique within its unit (the investor screens and the project's
    investor fields say it alike)."""
    return _("该统一社会信用代码已属于另一家投资方。")


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
