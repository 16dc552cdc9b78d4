"""Stage changes: request, approve, reject, withdraw; milestones. Nothing here commits.

The rules come from ``tracker.workflow.stages`` (which moves exist, who may request and
approve them, what they require). A decision is one conditional UPDATE
(``… WHERE id = ? AND status = 'pending'``) whose row count must be 1: of two managers
approving at the same moment exactly one wins, the other gets ``AlreadyDecided`` (409).
On PostgreSQL the request row is locked first (SELECT … FOR UPDATE); on SQLite write
transactions begin IMMEDIATE (see core.db), which serialises them.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import Select, bindparam, func, select, update
from sqlalchemy.orm import joinedload

from tracker.audit.operations import jsonable, record
from tracker.core.db import built_once, column_rows, utcnow
from tracker.core.formatting import today_local
from tracker.core.input import MAX_ID, Problem, clean_text, parse_amount, parse_text, parse_uscc
from tracker.core.input import parse_date as input_parse_date
from tracker.core.permissions import can, can_decide, scope_filter
from tracker.core.translations import gettext as _
from tracker.extensions import db
from tracker.progress import history, lights
from tracker.projects.models import Project
from tracker.projects.recency import touch
from tracker.projects.schemas import amount_warnings, confirm_message
from tracker.workflow import stages
from tracker.workflow.models import Milestone, Notification, StageRequest
from tracker.workflow.schemas import MAX_REASON, MAX_TEXT
from tracker.workflow.stages import (
    BY_CODE,
    MAIN_CODES,
    MILESTONE_CODES,
    Move,
    Requirement,
    cleared_on_correction,
    move_for,
)


class WorkflowError(Exception):
    status = 400

    def __init__(self, message: str, errors: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


class NotAllowed(WorkflowError):
    """The user's role or relation to the request forbids it (403)."""

    status = 403


class Conflict(WorkflowError):
    """Already decided, or another request is pending (409)."""

    status = 409


class Invalid(WorkflowError):
    """Field problems (422); ``errors`` maps field → message."""

    status = 422


# --- Requirement values: parsed by the input layer's parsers (one set for every entry point) ---


def parse_date(raw: Any) -> date | None:
    """A date typed or sent (None when blank); ValueError with the user's message."""
    if raw is None or (isinstance(raw, str) and not clean_text(raw)):
        return None
    try:
        return input_parse_date(raw)
    except Problem as problem:
        raise ValueError(str(problem)) from None


_PARSERS = {
    "uscc": parse_uscc,
    "amount": parse_amount,
    "area": lambda v: parse_amount(v, maximum=stages.MAX_LAND_MU),
    "date": input_parse_date,
}


def parse_requirement(req: Requirement, raw: Any) -> Any:
    """The typed value for one requirement, or ValueError with a message for the user."""
    if raw is None or (isinstance(raw, str) and not clean_text(raw)):
        raise ValueError(_("请填写%(label)s。", label=req.label))
    parse = _PARSERS.get(req.kind) or (lambda v: parse_text(v, MAX_REASON if req.key == "reason" else MAX_TEXT))
    try:
        return parse(raw)
    except Problem as problem:
        raise ValueError(str(problem)) from None


# --- Requests -----------------------------------------------------------------------------


def allowed_moves(user, project: Project) -> list[Move]:
    """Moves this user may request for the project now (for screens and the API)."""
    from tracker.workflow.stages import moves_from

    if project.is_archived or not can("stage.request", project, user):
        return []
    moves = moves_from(project.stage)
    if project.stage == "paused":
        moves = [m for m in moves if m.kind != "resume" or m.to_stage == project.paused_from_stage]
    return moves


def pending_request(project: Project) -> StageRequest | None:
    return db.session.execute(
        select(StageRequest).where(StageRequest.project_id == project.id, StageRequest.status == "pending")
    ).scalar_one_or_none()


def request_move(actor, project: Project, *, to_stage: str, actual_date: Any, values: dict[str, Any] | None = None,
                 reason: str = "", comment: str = "", confirm_amounts: bool = False) -> StageRequest:
    """File a stage-change request. Raises NotAllowed, Conflict or Invalid.

    A registered capital above the project's contracted investment is probably a unit
    mistake (亿元 typed as 万元, or the reverse): refused, as on the project form, until the
    caller confirms it (``confirm_amounts``)."""
    if not can("stage.request", project, actor):
        raise NotAllowed(_("您的角色不能提交阶段变更申请。"))
    if project.is_archived:
        raise Invalid(_("已归档的项目不能变更阶段。"), {"to_stage": _("已归档的项目不能变更阶段。")})
    if not isinstance(to_stage, str) or not to_stage:
        raise Invalid(_("请选择目标阶段。"), {"to_stage": _("请选择目标阶段。")})
    move = move_for(project.stage, to_stage)
    if move is None or (move.kind == "resume" and to_stage != project.paused_from_stage):
        if to_stage not in BY_CODE:
            message = _("未知的阶段。")
        else:
            message = _("不能从“%(a)s”变更为“%(b)s”。", a=BY_CODE[project.stage].label, b=BY_CODE[to_stage].label)
        raise Invalid(message, {"to_stage": message})
    if pending_request(project) is not None:
        raise Conflict(_("该项目已有一项待审批的申请，请等待审批结果或先撤回。"))

    errors: dict[str, str] = {}
    try:
        when = parse_date(actual_date)
        if when is None:
            errors["actual_date"] = _("请填写实际日期。")
        elif when > today_local():
            errors["actual_date"] = _("实际日期不能晚于今天。")
        elif move.kind in stages.FORWARD_KINDS:
            earlier = _latest_date_before(project, to_stage)
            if earlier and when < earlier:
                errors["actual_date"] = _("实际日期不能早于上一阶段的日期（%(d)s）。", d=earlier.isoformat())
    except ValueError as err:
        when, errors["actual_date"] = None, str(err)
    values = dict(values or {})
    if reason:
        values.setdefault("reason", reason)
    clean: dict[str, Any] = {}
    for req in move.requirements:
        try:
            clean[req.key] = parse_requirement(req, values.get(req.key))
        except ValueError as err:
            errors[req.key] = str(err)
    resume_on = clean.get("expected_resume_on")
    if resume_on and when and resume_on <= when:
        errors["expected_resume_on"] = _("预计恢复日期应晚于暂缓日期。")
    # Only the capital's own warning counts: a small contracted investment is the project
    # form's concern, not this request's.
    capital_warning = amount_warnings(project.contracted_investment,
                                      registered_capital=clean.get("registered_capital")).get("registered_capital")
    if capital_warning and not confirm_amounts:
        errors.update(registered_capital=capital_warning, confirm_amounts=confirm_message())
    try:
        comment = parse_text(comment or "", MAX_REASON)
    except Problem as problem:
        errors["comment"] = str(problem)
    if errors:
        raise Invalid(_("请修改标红的字段后再提交。"), errors)

    req_row = StageRequest(
        project_id=project.id, kind=move.kind, from_stage=project.stage, to_stage=to_stage, status="pending",
        actual_date=when, values=jsonable({k: v for k, v in clean.items() if k != "reason"}),
        reason=clean.get("reason", ""), comment=comment, requested_by_id=actor.id, requested_at=utcnow(),
    )
    db.session.add(req_row)
    db.session.flush()
    touch(project.id)
    record(actor, "stage_request.create", req_row,
           {"from": project.stage, "to": to_stage, "actual_date": when, **req_row.values,
            "reason": req_row.reason}, project_id=project.id)
    return req_row


def _latest_date_before(project: Project, to_stage: str) -> date | None:
    """The latest date the project reached a stage before ``to_stage`` (signing included):
    moving forward cannot have happened earlier than that."""
    latest = db.session.execute(
        select(func.max(Milestone.actual_on))
        .where(Milestone.project_id == project.id, Milestone.stage.in_(stages.before(to_stage)))
    ).scalar_one_or_none()
    dates = [d for d in (latest, project.signed_on) if d]
    return max(dates) if dates else None


def withdraw(actor, request_id: int) -> StageRequest:
    req = _load_request(request_id, lock=True)
    if req.requested_by_id != actor.id:
        raise NotAllowed(_("只能撤回自己提交的申请。"))
    _decide(req, actor, "withdrawn", "")
    touch(req.project_id)
    record(actor, "stage_request.withdraw", req, {"status": ["pending", "withdrawn"]}, project_id=req.project_id)
    return req


# --- Decisions ----------------------------------------------------------------------------


def _load_request(request_id: int, lock: bool) -> StageRequest:
    q = select(StageRequest).where(StageRequest.id == request_id)
    if lock and db.session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update()
    req = db.session.execute(q.execution_options(populate_existing=True)).scalar_one_or_none()
    if req is None:
        raise LookupError(request_id)
    return req


def _decide(req: StageRequest, actor, status: str, comment: str) -> None:
    """The conditional update: only a pending request changes; anything else is a conflict."""
    now = utcnow()
    result = db.session.execute(
        update(StageRequest)
        .where(StageRequest.id == req.id, StageRequest.status == "pending")
        # A withdrawal is not a decision: decided_by stays empty (the requester may never
        # be the decider, which a CHECK constraint enforces).
        .values(status=status, decided_by_id=None if status == "withdrawn" else actor.id, decided_at=now,
                decision_comment=comment)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict(_("该申请已被处理，无需重复操作。"))
    db.session.refresh(req)


def _check_decider(actor, req: StageRequest) -> None:
    if req.requested_by_id == actor.id:
        raise NotAllowed(_("不能审批自己提交的申请。"))
    if not can_decide(req, actor):
        raise NotAllowed(_("您的角色不能审批该申请。"))


def approve(actor, request_id: int, comment: str = "") -> StageRequest:
    req = _load_request(request_id, lock=True)
    _check_decider(actor, req)
    try:
        comment = parse_text(comment or "", MAX_REASON)
    except Problem as problem:
        raise Invalid(str(problem), {"comment": str(problem)}) from None
    if req.status != "pending":
        raise Conflict(_("该申请已被处理，无需重复操作。"))
    project = db.session.get(Project, req.project_id, populate_existing=True)
    if project.is_archived:  # read-only; the request may still be rejected or withdrawn
        raise Conflict(_("项目已归档，不能批准阶段变更：请先恢复项目，或驳回该申请。"))
    if project.stage != req.from_stage:
        raise Conflict(_("项目阶段已变化，该申请已失效，请重新提交。"))
    _decide(req, actor, "approved", comment)
    changes = _apply(project, req)
    db.session.add(Notification(user_id=req.requested_by_id, kind="approved", request_id=req.id))
    record(actor, "stage_request.approve", req, {"status": ["pending", "approved"], "comment": comment},
           project_id=project.id)
    record(actor, "project.stage", project, changes)
    return req


def reject(actor, request_id: int, comment: str) -> StageRequest:
    req = _load_request(request_id, lock=True)
    _check_decider(actor, req)
    comment = clean_text(comment or "")
    if not comment:
        raise Invalid(_("请填写驳回理由。"), {"comment": _("请填写驳回理由。")})
    if len(comment) > MAX_REASON:
        raise Invalid(_("不能超过 %(n)d 个字。", n=MAX_REASON), {"comment": _("不能超过 %(n)d 个字。", n=MAX_REASON)})
    _decide(req, actor, "rejected", comment)
    touch(req.project_id)
    db.session.add(Notification(user_id=req.requested_by_id, kind="rejected", request_id=req.id))
    record(actor, "stage_request.reject", req, {"status": ["pending", "rejected"], "comment": comment},
           project_id=req.project_id)
    return req


def _apply(project: Project, req: StageRequest) -> dict[str, list[Any]]:
    """Move the project as the approved request says; return before/after pairs."""
    move = move_for(req.from_stage, req.to_stage)
    changes: dict[str, list[Any]] = {"stage": [project.stage, req.to_stage]}

    def setf(field: str, value: Any) -> None:
        before = getattr(project, field)
        if before != value:
            changes[field] = [jsonable(before), jsonable(value)]
            setattr(project, field, value)

    for requirement in move.requirements:
        if requirement.project_field and requirement.key in req.values:
            setf(requirement.project_field, parse_requirement(requirement, req.values[requirement.key]))
    if move.kind == "pause":
        setf("paused_from_stage", req.from_stage)
        setf("status_reason", req.reason)
    elif move.kind == "resume":
        setf("paused_from_stage", None)
        setf("expected_resume_on", None)
        setf("status_reason", "")
    elif move.kind == "terminate":
        setf("paused_from_stage", None)
        setf("expected_resume_on", None)
        setf("status_reason", req.reason)
    project.stage = req.to_stage
    project.updated_at = utcnow()
    # Before anything below queries (and so flushes): every change to the project row goes
    # out in one UPDATE, so approving bumps its version exactly once.
    history.record_move(project, kind=move.kind, from_stage=req.from_stage, to_stage=req.to_stage,
                        effective_on=req.actual_date, request_id=req.id, actor_id=req.decided_by_id)

    if req.to_stage in MAIN_CODES and move.kind in stages.FORWARD_KINDS:
        if req.to_stage == "signed" and project.signed_on is None:
            setf("signed_on", req.actual_date)
        if req.to_stage in MILESTONE_CODES:
            _milestone(project.id, req.to_stage).actual_on = req.actual_date
            changes[f"milestone.{req.to_stage}"] = [None, jsonable(req.actual_date)]
    elif move.kind == "back":
        # A correction: stages after the target did not really happen yet.
        later = stages.after(req.to_stage)
        for ms in db.session.execute(
            select(Milestone).where(Milestone.project_id == project.id, Milestone.stage.in_(later),
                                    Milestone.actual_on.is_not(None))
        ).scalars():
            changes[f"milestone.{ms.stage}"] = [jsonable(ms.actual_on), None]
            ms.actual_on = None
        # …nor did what they recorded: the next request asks for it afresh instead of
        # offering the value the correction was about (the audit keeps the old one).
        for _stage, requirement in cleared_on_correction(req.to_stage):
            setf(requirement.project_field, None)
    lights.refresh_project(project)
    db.session.flush()
    return changes


# --- Milestones ---------------------------------------------------------------------------


def _milestone(project_id: int, stage: str) -> Milestone:
    ms = db.session.execute(
        select(Milestone).where(Milestone.project_id == project_id, Milestone.stage == stage)
    ).scalar_one_or_none()
    if ms is None:
        ms = Milestone(project_id=project_id, stage=stage)
        db.session.add(ms)
    return ms


# The milestones of the projects ``ids`` (the project page: one; a booklet: its projects):
# their columns, read as rows (core.db.column_rows: for display, no objects to build).
_milestones_of = built_once(lambda: select(
    Milestone.project_id, Milestone.stage, Milestone.planned_on, Milestone.actual_on,
).where(Milestone.project_id.in_(bindparam("ids", expanding=True))))


def milestone_rows(project_ids: list[int]) -> list:
    """The milestones of ``project_ids`` as rows (project_id, stage, planned_on, actual_on)."""
    return column_rows(db.session, _milestones_of(), {"ids": list(project_ids)})


def milestones(project: Project) -> list[dict[str, Any]]:
    """Every milestone stage in order with planned/actual dates and days early(-)/late(+)."""
    rows = {m.stage: m for m in milestone_rows([project.id])}
    today = today_local()
    out = []
    for code in MILESTONE_CODES:
        ms = rows.get(code)
        planned = ms.planned_on if ms else None
        actual = ms.actual_on if ms else None
        if planned and actual:
            delta = (actual - planned).days
        elif planned and not actual and planned < today and project.stage != "paused":
            delta = (today - planned).days  # overdue, still open
        else:
            delta = None
        out.append({"stage": code, "label": BY_CODE[code].label, "planned_on": planned, "actual_on": actual,
                    "days_late": delta, "is_open": actual is None})
    return out


def set_planned_dates(actor, project: Project, planned: dict[str, date | None]) -> dict[str, list[Any]]:
    if not can("milestone.edit", project, actor):
        raise NotAllowed(_("您的角色不能修改计划日期。"))
    if project.is_archived:
        raise Conflict(_("已归档的项目不能修改，请先恢复。"))
    changes: dict[str, list[Any]] = {}
    for code, value in planned.items():
        if code not in MILESTONE_CODES:
            continue
        ms = _milestone(project.id, code)
        if ms.planned_on != value:
            changes[f"planned.{code}"] = [jsonable(ms.planned_on), jsonable(value)]
            ms.planned_on = value
    if changes:
        lights.refresh_project(project)
        db.session.flush()
        touch(project.id)
        record(actor, "milestone.plan", project, changes)
    return changes


# --- Queues -------------------------------------------------------------------------------


def approval_queue(user) -> Select:
    """Pending requests this manager may decide (scope; never their own), oldest first."""
    return (
        select(StageRequest)
        .join(Project, StageRequest.project_id == Project.id)
        .options(joinedload(StageRequest.project), joinedload(StageRequest.requested_by))
        .where(StageRequest.status == "pending", scope_filter(user, Project.unit_id),
               StageRequest.requested_by_id != user.id)
        .order_by(StageRequest.requested_at, StageRequest.id)
    )


def inbox_query(user) -> Select:
    """The user's notifications on in-scope projects (the list and the header count)."""
    return (
        select(Notification)
        .join(StageRequest, Notification.request_id == StageRequest.id)
        .join(Project, StageRequest.project_id == Project.id)
        .where(Notification.user_id == user.id, scope_filter(user, Project.unit_id))
    )


def unread_notifications(user) -> Select:
    return select(Notification).where(Notification.user_id == user.id, Notification.read_at.is_(None))


def mark_read(user, ids: Iterable[int] | None = None, *, request_id: int | None = None) -> int:
    """Mark the user's notifications read: those ``ids``, those about ``request_id``, or all.
    Ids no row can have (above the 32-bit key range) are dropped: PostgreSQL refuses them."""
    q = update(Notification).where(Notification.user_id == user.id, Notification.read_at.is_(None))
    if ids is not None:
        q = q.where(Notification.id.in_([i for i in ids if 0 < i <= MAX_ID]))
    if request_id is not None:
        q = q.where(Notification.request_id == request_id)
    return db.session.execute(q.values(read_at=utcnow()).execution_options(synchronize_session=False)).rowcount
