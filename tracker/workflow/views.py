"""Workflow screens: stage-change request form, approval queue (待我审批), inbox (消息),
planned milestone dates, and the helpers the project page uses for its stage panel and
timeline.

Each route: load → 404 → permission (core.permissions.require) → form → one operation from
``tracker.workflow.operations`` → commit once → redirect or render. The operations hold the
rules; errors they raise map to statuses here: Invalid → 422 with messages beside the fields,
NotAllowed → 403, Conflict → 409 (input kept), LookupError → 404.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from types import SimpleNamespace
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import joinedload, selectinload

from tracker.audit.models import AuditEntry
from tracker.auth.models import Unit, User
from tracker.core.formatting import cn_date, today_local, wan
from tracker.core.pagination import Page, page_arg
from tracker.core.permissions import can, can_decide, require, scope_filter
from tracker.extensions import db
from tracker.projects.models import Industry, Platform, Project
from tracker.workflow import operations as wf
from tracker.workflow.forms import (
    DATE_LABELS,
    REQUIREMENT_HINTS,
    DecisionForm,
    PlannedDatesForm,
    WithdrawForm,
    request_form_for,
)
from tracker.workflow.models import Milestone, Notification, StageRequest
from tracker.workflow.stages import (
    BY_CODE,
    MAIN_LINE,
    MILESTONE_CODES,
    MOVE_LABELS,
    STAGE_REQUIREMENTS,
    Move,
    after,
    cleared_on_correction,
)

bp = Blueprint("workflow", __name__)

PER_PAGE = 20
# Order of the groups on the request form; labels come from stages.MOVE_LABELS.
KIND_ORDER = ("advance", "skip", "back", "pause", "resume", "terminate")


@bp.before_request
@login_required
def _login_first():
    """Every workflow route needs a signed-in user."""


def _load_project(project_id: int, action: str) -> Project:
    project = db.session.get(Project, project_id)
    if project is None:
        abort(404)
    require(action, project)
    return project


def _int(raw: Any) -> int | None:
    raw = (raw or "").strip() if isinstance(raw, str) else raw
    return int(raw) if isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) < 12 else None


def _problem(status: int, message: str, project: Project | None = None):
    """A friendly 403/409 page with ways back (the queue, the project)."""
    db.session.rollback()
    titles = {403: _("没有权限"), 409: _("已被他人处理"), 404: _("找不到页面")}
    return render_template("workflow/problem.html", code=status, title=titles.get(status, _("出错了")),
                           message=message, project=project), status


# --- Grouped moves and request details (shared by the screens) -----------------------------


def group_moves(moves: list[Move]) -> list[tuple[str, str, list[Move]]]:
    """[(kind, label, moves)] in KIND_ORDER, moves in main-line order."""
    out = []
    for kind in KIND_ORDER:
        of_kind = [m for m in moves if m.kind == kind]
        if of_kind:
            of_kind.sort(key=lambda m: BY_CODE[m.to_stage].order if not BY_CODE[m.to_stage].is_side else 99)
            out.append((kind, str(MOVE_LABELS[kind]), of_kind))
    return out


def _display(value: Any, kind: str = "") -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("是") if value else _("否")
    if isinstance(value, str) and kind in ("", "date") and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        try:
            return cn_date(date.fromisoformat(value))
        except ValueError:
            return value
    if isinstance(value, str) and value in BY_CODE:
        return str(BY_CODE[value].label)
    if kind in ("amount", "area"):  # stored as JSON numbers or strings: 186000 → 186,000
        try:
            return wan(Decimal(str(value)))
        except (InvalidOperation, ValueError):
            return str(value)
    return str(value)


_REQ_BY_KEY = {r.key: r for reqs in STAGE_REQUIREMENTS.values() for r in reqs}
_REQ_BY_KEY.update({"expected_resume_on": SimpleNamespace(label=_l("预计恢复日期"), kind="date")})


def request_values(req: StageRequest) -> list[tuple[str, str]]:
    """(label, value) pairs of a request's requirement values, readable."""
    rows = []
    for key, value in (req.values or {}).items():
        r = _REQ_BY_KEY.get(key)
        label = str(r.label) if r else key
        text = _display(value, r.kind if r else "")
        rows.append((label, text))
    return rows


@bp.app_template_global()
def move_date_label(kind: str) -> str:
    return str(DATE_LABELS.get(kind, DATE_LABELS["advance"]))


# --- Project page helpers (template globals) -------------------------------------------------


@bp.app_template_global()
def workflow_panel(project: Project) -> SimpleNamespace:
    """What the project page's stage panel shows for the current user."""
    user = current_user
    pending = db.session.execute(
        select(StageRequest)
        .options(joinedload(StageRequest.requested_by), selectinload(StageRequest.attachments))
        .where(StageRequest.project_id == project.id, StageRequest.status == "pending")
    ).scalar_one_or_none()
    moves = wf.allowed_moves(user, project)
    plan_form = None
    can_plan = can("milestone.edit", project) and not project.is_archived
    rows = wf.milestones(project)
    if can_plan:
        plan_form = PlannedDatesForm.build(formdata=None)
        for row in rows:
            value = row["planned_on"].isoformat() if row["planned_on"] else ""
            plan_form.planned(row["stage"]).data = value
            plan_form.seen(row["stage"]).data = value
    current_order = BY_CODE[project.stage].order if project.stage in BY_CODE else -1
    if project.stage == "paused" and project.paused_from_stage in BY_CODE:
        current_order = BY_CODE[project.paused_from_stage].order
    steps = [
        {"code": s.code, "label": s.label,
         "state": "done" if s.order < current_order else ("current" if s.order == current_order else "todo")}
        for s in MAIN_LINE if s.code != "negotiating" or project.stage == "negotiating"
    ]
    return SimpleNamespace(
        pending=pending,
        pending_values=request_values(pending) if pending else [],
        can_decide=bool(pending and can_decide(pending, user)),
        is_own=bool(pending and pending.requested_by_id == user.id),
        decide_form=DecisionForm(formdata=None) if pending else None,
        moves=moves,
        groups=group_moves(moves),
        milestones=rows,
        can_plan=can_plan,
        plan_form=plan_form,
        steps=steps,
    )


@dataclass
class TimelineItem:
    entry: AuditEntry
    title: str
    kind: str = ""  # css hint: stage | decision | request | edit | plan
    lines: list[tuple[str, str, str | None]] = field(default_factory=list)  # (label, before|value, after)
    note: str = ""


_ACTION_TITLES = {
    "project.create": _l("创建项目"),
    "project.update": _l("修改项目信息"),
    "project.archive": _l("归档"),
    "project.restore": _l("恢复"),
    "seed.create": _l("导入演示数据"),
    "stage_request.create": _l("提交阶段变更申请"),
    "stage_request.approve": _l("批准阶段变更申请"),
    "stage_request.reject": _l("驳回阶段变更申请"),
    "stage_request.withdraw": _l("撤回阶段变更申请"),
    "project.stage": _l("阶段变更"),
    "milestone.plan": _l("修改计划日期"),
    "attachment.create": _l("上传附件"),
    "attachment.upload": _l("上传附件"),
    "attachment.delete": _l("删除附件"),
}


@bp.app_template_global()
def project_timeline(history: list[AuditEntry]) -> list[TimelineItem]:
    """Readable timeline items for a project's audit entries (newest first, as given)."""
    from tracker.projects.forms import FIELD_LABELS

    request_ids = {e.object_id for e in history if e.object_type == "stage_request" and e.object_id}
    requests = {}
    if request_ids:
        requests = {r.id: r for r in db.session.execute(
            select(StageRequest).where(StageRequest.id.in_(request_ids))).scalars()}
    # Names for the id fields of project edits, one query per kind.
    id_fields = {"industry_id": Industry, "unit_id": Unit, "platform_id": Platform, "owner_id": User}
    wanted: dict[str, set[int]] = {k: set() for k in id_fields}
    for e in history:
        if e.action == "project.update":
            for name, pair in (e.changes or {}).items():
                if name in wanted and isinstance(pair, list):
                    wanted[name].update(v for v in pair if isinstance(v, int))
    names: dict[str, dict[int, str]] = {}
    for name, model in id_fields.items():
        if wanted[name]:
            col = model.display_name if model is User else model.name
            names[name] = dict(db.session.execute(select(model.id, col).where(model.id.in_(wanted[name]))).all())

    def label_of(key: str) -> str:
        if key in FIELD_LABELS:
            return str(FIELD_LABELS[key])
        if key in _REQ_BY_KEY:
            return str(_REQ_BY_KEY[key].label)
        if key.startswith("milestone."):
            return _("%(stage)s 实际日期", stage=_display(key.split(".", 1)[1]))
        if key.startswith("planned."):
            return _("%(stage)s 计划日期", stage=_display(key.split(".", 1)[1]))
        return {"paused_from_stage": _("暂缓前阶段"), "status_reason": _("状态说明"),
                "investor": _("投资方"), "comment": _("审批意见"), "reason": _("理由")}.get(key, key)

    def show(key: str, value: Any) -> str:
        if key in names and isinstance(value, int):
            return names[key].get(value, str(value))
        r = _REQ_BY_KEY.get(key)
        return _display(value, r.kind if r else "")

    items = []
    for e in history:
        changes = e.changes or {}
        item = TimelineItem(e, str(_ACTION_TITLES.get(e.action, e.action)))
        req = requests.get(e.object_id) if e.object_type == "stage_request" else None
        if e.action == "stage_request.create":
            item.kind = "request"
            item.title = _("申请：%(a)s → %(b)s", a=_display(changes.get("from")), b=_display(changes.get("to")))
            if req is not None:
                item.title += _("（%(kind)s）", kind=MOVE_LABELS.get(req.kind, req.kind))
            item.lines.append((move_date_label(req.kind if req else "advance"), show("actual_date", changes.get("actual_date")), None))
            for key, value in changes.items():
                if key not in ("from", "to", "actual_date") and value not in (None, ""):
                    item.lines.append((label_of(key), show(key, value), None))
        elif e.action in ("stage_request.approve", "stage_request.reject", "stage_request.withdraw"):
            item.kind = "decision"
            if req is not None:
                item.title += _("：%(a)s → %(b)s", a=_display(req.from_stage), b=_display(req.to_stage))
            if changes.get("comment"):
                item.lines.append((_("审批意见"), str(changes["comment"]), None))
            if e.action == "stage_request.reject":
                item.kind = "decision rejected"
        elif e.action == "project.stage":
            item.kind = "stage"
            pair = changes.get("stage") or [None, None]
            item.title = _("阶段变更：%(a)s → %(b)s", a=_display(pair[0]), b=_display(pair[1]))
            for key, value in changes.items():
                if key != "stage" and isinstance(value, list) and len(value) == 2:
                    item.lines.append((label_of(key), show(key, value[0]), show(key, value[1])))
        elif e.action in ("project.update", "milestone.plan", "project.archive", "project.restore"):
            item.kind = "plan" if e.action == "milestone.plan" else "edit"
            if e.action in ("project.update", "milestone.plan"):
                for key, value in changes.items():
                    if isinstance(value, list) and len(value) == 2:
                        item.lines.append((label_of(key), show(key, value[0]), show(key, value[1])))
        elif e.action.startswith("attachment."):
            name = changes.get("original_name") or changes.get("name")
            if isinstance(name, list):
                name = name[-1] or name[0]
            if name:
                item.note = str(name)
        items.append(item)
    return _merge_approvals(items)


def _merge_approvals(items: list[TimelineItem]) -> list[TimelineItem]:
    """An approval and the stage change it caused are written as two audit entries (the
    decision, then the project); on the timeline they read as one event."""
    merged: list[TimelineItem] = []
    for item in items:  # newest first: the stage change comes just before its approval
        prev = merged[-1] if merged else None
        # Written in one transaction, one after the other: adjacent ids (the chain is serial).
        if (prev is not None and item.entry.action == "stage_request.approve" and prev.kind == "stage"
                and prev.entry.id == item.entry.id + 1 and prev.entry.actor_id == item.entry.actor_id):
            pair = (prev.entry.changes or {}).get("stage") or [None, None]
            prev.title = _("批准并变更阶段：%(a)s → %(b)s", a=_display(pair[0]), b=_display(pair[1]))
            prev.lines = item.lines + prev.lines
            continue
        merged.append(item)
    return merged



# --- Request form ---------------------------------------------------------------------------


def _default_target(moves: list[Move], project: Project) -> str | None:
    for kind in ("resume", "advance"):
        for m in moves:
            if m.kind == kind:
                return m.to_stage
    return None


def _prefill(form, move: Move, project: Project) -> None:
    """Values the project already has (e.g. a USCC recorded earlier) prefill the fields."""
    for req in move.requirements:
        if req.project_field:
            value = getattr(project, req.project_field, None)
            if value is not None and value != "":
                form[req.key].data = value.isoformat() if isinstance(value, date) else str(value)


def _rejected_to_resubmit(project: Project, move: Move | None) -> StageRequest | None:
    """The current user's rejected request this form starts again from (``?from=<id>``): same
    project, same move, from the stage the project is still at. Anything else is ignored."""
    raw = request.args.get("from") or ""
    if move is None or not (raw.isascii() and raw.isdigit() and len(raw) < 10):
        return None
    old = db.session.get(StageRequest, int(raw))
    if (old is None or old.project_id != project.id or old.requested_by_id != current_user.id
            or old.status != "rejected" or old.from_stage != project.stage or old.to_stage != move.to_stage):
        return None
    return old


def _cleared_by(move: Move | None, project: Project) -> list[str]:
    """What approving a correction (a move back) will clear, named, for the form to say so."""
    if move is None or move.kind != "back":
        return []
    later = after(move.to_stage)
    dated = set(db.session.execute(
        select(Milestone.stage).where(Milestone.project_id == project.id, Milestone.stage.in_(later),
                                      Milestone.actual_on.is_not(None))
    ).scalars())
    out = [_("%(stage)s的实际日期", stage=BY_CODE[code].label) for code in later if code in dated]
    out += [str(r.label) for _code, r in cleared_on_correction(move.to_stage)
            if getattr(project, r.project_field) not in (None, "")]
    return out


def _prefill_from(form, move: Move, old: StageRequest) -> None:
    """What was typed into the rejected request, so only what the manager objected to changes."""
    form.actual_date.data = old.actual_date.isoformat() if old.actual_date else ""
    form.comment.data = old.comment
    for req in move.requirements:
        value = old.reason if req.key == "reason" else (old.values or {}).get(req.key)
        if value not in (None, ""):
            form[req.key].data = str(value)


def _store_attachments(req: StageRequest, project: Project, files: list) -> None:
    """Hand each uploaded file to the attachments module (if installed); ValueError → field error."""
    if not files:
        return
    try:
        from tracker.workflow.attachments import store_upload
    except ImportError:
        flash(_("附件功能暂不可用，所选文件未保存。"), "warning")
        return
    for storage in files:
        store_upload(current_user, project, req, storage)


@bp.route("/projects/<int:project_id>/stage-request", methods=["GET", "POST"])
def request_stage_change(project_id: int):
    project = _load_project(project_id, "stage.request")
    moves = wf.allowed_moves(current_user, project)
    by_target = {m.to_stage: m for m in moves}
    pending = wf.pending_request(project)
    if request.method == "POST":
        to_stage = (request.form.get("to_stage") or "").strip()
    else:
        to_stage = (request.args.get("to") or "").strip() or (_default_target(moves, project) or "")
    move = by_target.get(to_stage)
    form = request_form_for(move)
    status = 200
    picker_error = None
    rejected = _rejected_to_resubmit(project, move)
    if request.method == "GET":
        form.to_stage.data = to_stage if move else ""
        if move is not None:
            _prefill(form, move, project)
        if rejected is not None:
            _prefill_from(form, move, rejected)
        if request.args.get("to") and move is None:
            picker_error = _("不能申请变更为该阶段，请从列表中选择。")
            status = 422 if moves else 200
    elif form.validate_on_submit():
        files = [f for f in (form.attachments.data or []) if f and getattr(f, "filename", "")]
        values = {key: form[key].data for key in form.requirement_keys}
        try:
            req = wf.request_move(
                current_user, project, to_stage=to_stage, actual_date=form.actual_date.data, values=values,
                reason=values.get("reason") or "", comment=form.comment.data or "",
            )
            _store_attachments(req, project, files)
            if rejected is not None:  # its rejection notice has been acted on
                wf.mark_read(current_user, request_id=rejected.id)
            db.session.commit()
        except wf.Invalid as err:
            db.session.rollback()
            for key, message in err.errors.items():
                if key in form and key not in ("csrf_token", "to_stage"):
                    form[key].errors = list(form[key].errors) + [message]
                else:
                    picker_error = message
            status = 422  # the form shows "请修改标红的字段" and each message beside its field
        except wf.NotAllowed as err:
            return _problem(403, err.message, project)
        except wf.Conflict as err:
            db.session.rollback()
            flash(err.message, "error")
            status = 409
        except IntegrityError:
            # Two requests raced past the pending check; the unique index let only one in.
            db.session.rollback()
            flash(_("该项目已有一项待审批的申请，请等待审批结果或先撤回。"), "error")
            status = 409
        except ValueError as err:  # a bad attachment (type, size): nothing was saved
            db.session.rollback()
            form.attachments.errors = [str(err), _("申请未提交，请重新选择文件。")]
            status = 422
        else:
            flash(_("已提交“%(a)s → %(b)s”的申请，等待负责人审批。", a=_display(req.from_stage),
                    b=_display(req.to_stage)), "success")
            return redirect(url_for("projects.view_project", project_id=project.id))
        pending = wf.pending_request(project) if status == 409 else pending
    else:
        status = 422  # CSRF expired; the form shows it
    return render_template(
        "workflow/request.html", project=project, form=form, move=move, moves=moves, groups=group_moves(moves),
        pending=pending, conflict=status == 409, to_stage=to_stage, picker_error=picker_error, hints=REQUIREMENT_HINTS,
        rejected=rejected, clears=_cleared_by(move, project),
        kinds={r.key: r.kind for r in (move.requirements if move else ())}, today=today_local().isoformat(),
    ), status


@bp.post("/projects/<int:project_id>/stage-request/withdraw")
def withdraw_request(project_id: int):
    project = _load_project(project_id, "stage.request")
    form = WithdrawForm()
    pending = wf.pending_request(project)
    if pending is None or _int(form.request_id.data) != pending.id:
        return _problem(409, _("该申请已被处理或已撤回。"), project)
    try:
        wf.withdraw(current_user, pending.id)
        db.session.commit()
    except wf.NotAllowed as err:
        return _problem(403, err.message, project)
    except wf.Conflict as err:
        return _problem(409, err.message, project)
    flash(_("申请已撤回。"), "success")
    return redirect(url_for("projects.view_project", project_id=project.id))


# --- Decisions ------------------------------------------------------------------------------


def _after_decision(form: DecisionForm, project: Project):
    if form.next.data == "queue":
        return redirect(url_for("workflow.list_approvals"))
    return redirect(url_for("projects.view_project", project_id=project.id))


def _decide(project_id: int, verdict: str):
    project = _load_project(project_id, "stage.decide")
    form = DecisionForm()
    pending = wf.pending_request(project)
    if pending is None or _int(form.request_id.data) != pending.id:
        return _problem(409, _("该申请已被他人处理（或已撤回），无需重复操作。"), project)
    comment = form.comment.data or ""
    try:
        if not form.validate_on_submit():
            raise wf.Invalid(_("页面已过期，请重新提交。"), {})
        if verdict == "approve":
            req = wf.approve(current_user, pending.id, comment)
        else:
            req = wf.reject(current_user, pending.id, comment)
        db.session.commit()
    except wf.Invalid as err:
        db.session.rollback()
        for key, message in err.errors.items():
            if key in form:
                form[key].errors = list(form[key].errors) + [message]
        req = wf.pending_request(project)
        if req is None:
            return _problem(409, _("该申请已被他人处理（或已撤回），无需重复操作。"), project)
        return render_template("workflow/decide.html", project=project, req=req, form=form,
                               values=request_values(req), verdict=verdict), 422
    except wf.NotAllowed as err:
        return _problem(403, err.message, project)
    except wf.Conflict as err:
        return _problem(409, err.message, project)
    except LookupError:
        abort(404)
    if verdict == "approve":
        flash(_("已批准：%(name)s 变更为“%(b)s”。", name=project.name, b=_display(req.to_stage)), "success")
    else:
        flash(_("已驳回“%(name)s”的“%(a)s → %(b)s”申请，已通知申请人。", name=project.name,
                a=_display(req.from_stage), b=_display(req.to_stage)), "info")
    return _after_decision(form, project)


@bp.post("/projects/<int:project_id>/stage-request/approve")
def approve_request(project_id: int):
    return _decide(project_id, "approve")


@bp.post("/projects/<int:project_id>/stage-request/reject")
def reject_request(project_id: int):
    return _decide(project_id, "reject")


@bp.get("/approvals")
def list_approvals():
    require("stage.decide")
    number = page_arg(request.args.get("page"))
    base = wf.approval_queue(current_user)
    total = db.session.execute(select(func.count()).select_from(base.order_by(None).subquery())).scalar_one()
    pages = max(1, -(-total // PER_PAGE))
    number = min(number, pages)
    items = db.session.execute(
        base.options(selectinload(StageRequest.attachments), joinedload(StageRequest.project).joinedload(Project.unit))
        .limit(PER_PAGE).offset((number - 1) * PER_PAGE)
    ).unique().scalars().all()
    page = Page(items=items, page=number, per_page=PER_PAGE, total=total)
    rows = [SimpleNamespace(req=r, values=request_values(r), form=DecisionForm(formdata=None, request_id=r.id,
                                                                                next="queue")) for r in items]
    return render_template("workflow/approvals.html", page=page, rows=rows)


# --- Inbox ----------------------------------------------------------------------------------


def _inbox_query(user):
    return (
        select(Notification)
        .join(StageRequest, Notification.request_id == StageRequest.id)
        .join(Project, StageRequest.project_id == Project.id)
        .where(Notification.user_id == user.id, scope_filter(user, Project.unit_id))
    )


@bp.get("/inbox")
def view_inbox():
    require("stage.request")
    number = page_arg(request.args.get("page"))
    base = _inbox_query(current_user)
    total = db.session.execute(base.with_only_columns(func.count(Notification.id))).scalar_one()
    pages = max(1, -(-total // PER_PAGE))
    number = min(number, pages)
    items = db.session.execute(
        base.options(joinedload(Notification.request).joinedload(StageRequest.project),
                     joinedload(Notification.request).joinedload(StageRequest.decided_by))
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(PER_PAGE).offset((number - 1) * PER_PAGE)
    ).unique().scalars().all()
    page = Page(items=items, page=number, per_page=PER_PAGE, total=total)
    unread = db.session.execute(
        base.where(Notification.read_at.is_(None)).with_only_columns(func.count(Notification.id))
    ).scalar_one()
    return render_template("workflow/inbox.html", page=page, unread=unread)


@bp.post("/inbox/read")
def mark_inbox_read():
    require("stage.request")
    ids = [i for i in (_int(v) for v in request.form.getlist("id")) if i is not None]
    count = wf.mark_read(current_user, ids or None)
    db.session.commit()
    if count:
        flash(_("已将 %(n)d 条消息标为已读。", n=count), "success")
    return redirect(url_for("workflow.view_inbox"))


# --- Planned milestone dates ----------------------------------------------------------------


@bp.route("/projects/<int:project_id>/milestones", methods=["GET", "POST"])
def edit_milestones(project_id: int):
    project = _load_project(project_id, "milestone.edit")
    if project.is_archived:
        flash(_("已归档的项目不能修改，请先恢复。"), "warning")
        return redirect(url_for("projects.view_project", project_id=project.id))
    rows = {row["stage"]: row for row in wf.milestones(project)}
    status = 200
    conflict: list[str] = []
    if request.method == "GET":
        form = PlannedDatesForm.build(formdata=None)
        for code, row in rows.items():
            value = row["planned_on"].isoformat() if row["planned_on"] else ""
            form.planned(code).data = value
            form.seen(code).data = value
    else:
        form = PlannedDatesForm.build()
        valid = form.validate_on_submit()  # CSRF; first, as validate() resets field errors
        planned: dict[str, date | None] = {}
        for code in MILESTONE_CODES:
            f = form.planned(code)
            if f.name not in request.form:
                continue  # only what the form sent: a partial post changes nothing else
            try:
                planned[code] = wf.parse_date(f.data)
            except ValueError as err:
                f.errors = [str(err)]
                continue
            current = rows[code]["planned_on"]
            seen = form.seen(code).data
            if seen is not None and (current.isoformat() if current else "") != seen.strip() \
                    and planned[code] != current:
                conflict.append(code)
                f.errors = [_("在您编辑期间已被他人改为 %(d)s。", d=cn_date(current) if current else "—")]
        if not valid:
            status = 422
        elif any(form.planned(c).errors for c in MILESTONE_CODES):
            status = 409 if conflict else 422
            if conflict:
                flash(_("保存失败：在您编辑期间计划日期已被他人修改。您填写的内容仍保留在下方，请核对后再保存。"), "error")
                for code in conflict:  # next save compares with what the user has now seen
                    current = rows[code]["planned_on"]
                    form.seen(code).data = current.isoformat() if current else ""
        else:
            try:
                changes = wf.set_planned_dates(current_user, project, planned)
                db.session.commit()
            except wf.NotAllowed as err:
                return _problem(403, err.message, project)
            flash(_("计划日期已保存。") if changes else _("没有需要保存的修改。"), "success" if changes else "info")
            return redirect(url_for("projects.view_project", project_id=project.id, _anchor="milestones"))
    return render_template("workflow/milestones.html", project=project, form=form, rows=list(rows.values()),
                           codes=MILESTONE_CODES), status


# --- Header counts (one lazy query per request) -----------------------------------------------


class NavCounts:
    """待我审批 and unread 消息 for the header; one query, only when a page shows them."""

    def __init__(self, user):
        self._user = user
        self._values: tuple[int, int] | None = None

    def _load(self) -> tuple[int, int]:
        if self._values is None:
            user = self._user
            parts = []
            decide = can("stage.decide", None, user)
            inbox = can("stage.request", None, user)
            if decide:
                parts.append(wf.approval_queue(user).with_only_columns(func.count(StageRequest.id))
                             .order_by(None).scalar_subquery())
            if inbox:
                parts.append(_inbox_query(user).where(Notification.read_at.is_(None))
                             .with_only_columns(func.count(Notification.id)).scalar_subquery())
            values = [0, 0]
            if parts:
                try:
                    row = db.session.execute(select(*parts)).one()
                except SQLAlchemyError:  # never let a header badge break a page
                    row = (0,) * len(parts)
                it = iter(row)
                values = [next(it) if decide else 0, next(it) if inbox else 0]
            self._values = (int(values[0] or 0), int(values[1] or 0))
        return self._values

    @property
    def approvals(self) -> int:
        return self._load()[0]

    @property
    def unread(self) -> int:
        return self._load()[1]


@bp.app_context_processor
def _nav_counts():
    if not current_user or not getattr(current_user, "is_authenticated", False):
        return {}
    return {"nav_counts": NavCounts(current_user)}
