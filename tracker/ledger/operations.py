"""Importing a ledger: a dry run that says what every row would do, then an all-or-nothing
commit through the same operations the screens use (create_project, update_project, funds).
Nothing here commits: the request (or the job, or the command) commits once, or rolls back.

Matching a row to an existing project: the export's 系统编号 when present (a project in the
user's scope), else the project of the same name in the row's unit — which must then have
the same investor (USCC, else name): names are unique per unit.

What a row may change on an existing project: the fields the project form edits. A stage
different from the project's is refused (stage changes go through approval), as is a lower
到位资金 (funds are records); a higher one adds a record of the difference.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from tracker.auth.models import User
from tracker.core.bulk import unit_pairs
from tracker.core.formatting import today_local
from tracker.core.permissions import can, scope_filter
from tracker.core.translations import gettext as _
from tracker.extensions import db
from tracker.ledger.read import Grid, Layout, cell_text, find_layout, read_grid
from tracker.ledger.rows import (
    NEW_ROW_STAGES,
    LedgerRow,
    _chinese,
    check_milestones,
    column_header,
    read_rows,
    validate_row,
)
from tracker.ledger.template import is_example
from tracker.projects.choices import project_choices
from tracker.projects.models import Project
from tracker.projects.schemas import AmountGuard, ProjectFields
from tracker.workflow.stages import BY_CODE

OUTCOMES = ("new", "update", "unchanged", "error")


class LedgerFields(AmountGuard, ProjectFields):
    """A ledger row's project fields: the form's and the API's rules, any stage."""


@dataclass
class Outcome:
    row: LedgerRow
    kind: str  # new | update | unchanged | error
    name: str = ""
    project_id: int | None = None
    changes: list[str] = field(default_factory=list)  # field keys an update changes
    values: Any = None  # the validated LedgerFields


@dataclass
class ImportPlan:
    filename: str
    grid: Grid
    layout: Layout
    outcomes: list[Outcome]

    @property
    def counts(self) -> dict[str, int]:
        found = Counter(o.kind for o in self.outcomes)
        return {kind: found.get(kind, 0) for kind in OUTCOMES}

    @property
    def ok(self) -> bool:
        return bool(self.outcomes) and not any(o.kind == "error" for o in self.outcomes)

    @property
    def errors(self) -> list[tuple[int, str, str]]:
        """(row number, column header, message) of every problem, in sheet order."""
        from tracker.ledger.rows import column_header

        return [(o.row.row_no, column_header(key), message)
                for o in self.outcomes for key, message in o.row.errors.items()]


def plan_import(actor: Any, filename: str, data: bytes, *, unit_id: int | None = None,
                confirm_amounts: bool = False) -> ImportPlan:
    """Read the file and decide every row's outcome; changes nothing. Raises
    ``read.LedgerFileError`` when the file is not a readable ledger."""
    grid = read_grid(filename, data)
    layout = find_layout(grid)
    rows = read_rows(grid, layout)
    choices = project_choices(actor)
    default_unit = unit_id or (None if actor.is_city else actor.unit_id)
    owners = _owner_names(actor)
    for row in rows:
        if not row.data.get("unit_id") and default_unit:
            row.data["unit_id"] = default_unit
        owner = row.data.get("owner_id")
        if isinstance(owner, str) and owner in owners:
            row.data["owner_id"] = owners[owner]
        if confirm_amounts:
            row.data["confirm_amounts"] = True
    validated = [validate_row(row, LedgerFields, {"choices": choices, "current_stage": row.stage or "signed"})
                 for row in rows]
    existing = _existing(actor, rows, validated)
    seen: set[tuple[int, str]] = set()
    outcomes = []
    for row, values in zip(rows, validated, strict=True):
        check_milestones(row)
        outcomes.append(_outcome(actor, row, values, existing, seen))
    return ImportPlan(filename, grid, layout, outcomes)


def summarise(plan: ImportPlan) -> dict[str, Any]:
    """What the dry-run page shows, kept in the upload's note: the preview's pages and
    filters read this, never the file (parsed once, here)."""
    layout = plan.layout
    return {
        "counts": plan.counts, "ok": plan.ok, "kind": plan.grid.kind, "encoding": plan.grid.encoding,
        "sheet": plan.grid.sheet, "header_row": layout.header_row + 1,
        "columns": [[cell_text(layout.headers.get(c, "")), column.title(),
                     {"yi": "亿元", "wan": "万元"}.get(layout.units.get(c) or "", "")]
                    for c, column in sorted(layout.columns.items())],
        "ignored": [cell_text(t) for t in layout.ignored],
        "rows": [[o.row.row_no, o.kind, o.name, [column_header(k) for k in o.changes],
                  [[column_header(k), m] for k, m in o.row.errors.items()]] for o in plan.outcomes],
    }


def _owner_names(actor: Any) -> dict[str, str]:
    """责任人 as ledgers write them (a person's name) → the username the input takes; a name
    two users share stays ambiguous (the input then says it is unknown)."""
    users = db.session.execute(select(User.display_name, User.username).where(
        scope_filter(actor, User.unit_id), User.is_active_user.is_(True))).all()
    counts = Counter(name for name, _u in users)
    return {name: username for name, username in users if counts[name] == 1}


def _existing(actor: Any, rows: list[LedgerRow], validated: list[Any]) -> dict[Any, Project]:
    """The projects the rows may update, in two queries: by id, and by (unit, name)."""
    ids = {r.project_id for r in rows if r.project_id}
    keys = {(v.unit_id, v.name.lower()) for v in validated if v is not None and v.unit_id}
    found: dict[Any, Project] = {}
    if ids:
        for p in db.session.execute(select(Project).where(Project.id.in_(ids),
                                                          scope_filter(actor, Project.unit_id))).scalars():
            found[p.id] = p
    for p in unit_pairs(db.session, Project, func.lower(Project.name), keys):
        if (p.unit_id, p.name.lower()) in keys:
            found[(p.unit_id, p.name.lower())] = p
    return found


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


_COMPARED = ("name", "industry_id", "unit_id", "platform_id", "owner_id", "signed_on", "contracted_investment",
             "fixed_asset_investment", "foreign_investment_usd", "land_area_mu", "content", "expected_output",
             "expected_tax", "expected_jobs", "contact_phone", "is_provincial_major", "is_qianxiang_wanyi",
             "is_yrd_major")


def _outcome(actor: Any, row: LedgerRow, values: Any, existing: dict[Any, Project],
             seen: set[tuple[int, str]]) -> Outcome:
    if values is None:
        return Outcome(row, "error", str(row.data.get("name") or ""))
    name = values.name
    key = (values.unit_id, name.lower())
    if is_example(name):
        row.error("name", _("这是模板中的示例行：请删除本行后再导入。"))
    if key in seen:
        row.error("name", _("同一落户地的项目“%(name)s”在文件中出现了不止一次。", name=name))
    seen.add(key)
    project = existing.get(row.project_id) if row.project_id else existing.get(key)
    if row.project_id and project is None:
        row.error("id", _("系统编号 %(id)s 不存在（或不属于您可以修改的项目）：新项目请把系统编号留空。", id=row.project_id))
    if project is None and row.stage and row.stage not in NEW_ROW_STAGES:  # an existing paused one may stay so
        row.error("stage", _("暂缓的项目请按暂缓前的阶段导入，再在系统中申请暂缓（需填写原因和预计恢复日期）。"))
    if row.errors:
        return Outcome(row, "error", name, values=values)
    if project is None:
        if not can("project.create", user=actor):
            row.error("name", _("您的角色不能登记项目。"))
            return Outcome(row, "error", name, values=values)
        return Outcome(row, "new", name, values=values)
    return _update_outcome(actor, row, values, project)


def _update_outcome(actor: Any, row: LedgerRow, values: Any, project: Project) -> Outcome:
    name = values.name
    if not can("project.edit", project, actor):
        row.error("name", _("您不能修改项目“%(name)s”。", name=project.name))
    elif project.is_archived:
        row.error("name", _("项目“%(name)s”已归档，不能通过导入修改：请先恢复。", name=project.name))
    investor = project.investor
    if values.investor_uscc and investor.uscc and values.investor_uscc != investor.uscc:
        row.error("investor_uscc", _("与系统中该项目投资方的统一社会信用代码不一致：同一落户地的项目名称不能重复。"))
    elif not row.project_id and not values.investor_uscc and values.investor_name.lower() != investor.name.lower():
        row.error("investor_name", _("系统中已有同名项目，但投资方是“%(inv)s”：同一落户地的项目名称不能重复。",
                                     inv=investor.name))
    if row.stage and row.stage != project.stage:
        row.error("stage", _("系统中该项目的阶段是“%(now)s”：阶段变更请在系统中申请并审批，不能通过导入修改。",
                             now=_chinese(BY_CODE[project.stage].label)))
    funds = values.funds_in_place
    if funds is not None and funds < project.funds_in_place:
        row.error("funds_in_place", _("到位资金少于系统中已登记的 %(v)s 万元：到位资金逐笔登记，请在项目页面核对。",
                                      v=f"{project.funds_in_place:.2f}"))
    if row.errors:
        return Outcome(row, "error", name, project.id, values=values)
    new = values.project_values()
    changes = [k for k in _COMPARED if k in values.model_fields_set and _differs(getattr(project, k), new.get(k))]
    if values.investor_name.lower() != investor.name.lower():
        changes.append("investor_name")
    if funds is not None and funds > project.funds_in_place:
        changes.append("funds_in_place")
    if row.planned or row.actual:
        changes += _milestone_changes(project, row)
    return Outcome(row, "update" if changes else "unchanged", name, project.id, changes, values)


def _differs(current: Any, new: Any) -> bool:
    if isinstance(current, Decimal) or isinstance(new, Decimal):
        return (current is None) != (new is None) or (current is not None and Decimal(current) != Decimal(new))
    return (current or None) != (new or None)


def _milestone_changes(project: Project, row: LedgerRow) -> list[str]:
    from tracker.workflow.models import Milestone

    have = {m.stage: m for m in db.session.execute(
        select(Milestone).where(Milestone.project_id == project.id)).scalars()}
    out = []
    for code, day in row.planned.items():
        if getattr(have.get(code), "planned_on", None) != day:
            out.append(f"planned.{code}")
    for code, day in row.actual.items():
        if getattr(have.get(code), "actual_on", None) != day:
            row.error(f"actual.{code}", _("实际日期由审批确定，不能通过导入修改。"))
    return out


# --- Commit ------------------------------------------------------------------------------------

def commit_import(actor: Any, plan: ImportPlan, progress: Any = None) -> dict[str, int]:
    """Apply a plan with no errors (else ValueError): the new rows created in batches through
    ``create_projects`` (the form's rules, statements per batch rather than per row) and
    every update saved through ``update_project``, each change audited. The caller commits
    once. ``progress(done, total)``, when given, is called as rows are done (a job's bar)."""
    if not plan.ok:
        raise ValueError("the plan has errors")
    from tracker.projects.operations import NewProject, create_projects, update_project

    total = len(plan.outcomes)
    new = [o for o in plan.outcomes if o.kind == "new"]
    changed = [o for o in plan.outcomes if o.kind == "update"]
    done = total - len(new) - len(changed)  # unchanged rows: nothing to do
    for chunk in _chunks(new, CREATE_BATCH):
        create_projects(actor, [NewProject(o.values.project_values(), o.values.investor_values(),
                                           o.row.stage or "signed", planned=dict(o.row.planned),
                                           actual=dict(o.row.actual)) for o in chunk])
        done += len(chunk)
        if progress is not None:
            progress(done, total)
    for i, outcome in enumerate(changed, 1):
        values, row = outcome.values, outcome.row
        project = db.session.get(Project, outcome.project_id)
        project_values = {k: v for k, v in values.project_values().items()
                          if k in values.model_fields_set and k != "funds_in_place"}
        update_project(actor, project, project_values, values.investor_values(), project.version_id)
        _add_funds_difference(actor, project, values.funds_in_place)
        _set_planned(actor, project, row)
        if progress is not None and i % PROGRESS_EVERY == 0:
            progress(done + i, total)
    return plan.counts


CREATE_BATCH = 500
PROGRESS_EVERY = 25


def _add_funds_difference(actor: Any, project: Project, funds: Decimal | None) -> None:
    if funds is None or funds <= project.funds_in_place:
        return
    from tracker.funds.operations import add_funds

    add_funds(actor, project, received_on=today_local(), amount=funds - project.funds_in_place,
              note=_("台账导入：到位资金由 %(a)s 万元增至 %(b)s 万元", a=f"{project.funds_in_place:.2f}",
                     b=f"{funds:.2f}"), evidence="", confirm=True)


def _set_planned(actor: Any, project: Project, row: LedgerRow) -> None:
    if row.planned:
        from tracker.workflow.operations import set_planned_dates

        set_planned_dates(actor, project, dict(row.planned))


def done_message(counts: dict[str, int]) -> str:
    """What an import did, as the page (or the job page) says it."""
    message = _("导入 %(n)d 个新项目，更新 %(m)d 个", n=counts["new"], m=counts["update"])
    if counts["unchanged"]:
        message += _("（%(k)d 个没有变化）", k=counts["unchanged"])
    return message


def failed_message(err: Any) -> str:
    """A commit refused by the operations (a name taken meanwhile, say): nothing was kept."""
    return _("导入失败，没有导入任何数据：%(m)s", m="；".join(str(m) for m in err.errors.values()))
