"""The stage-change request form (申请变更阶段) and withdrawing a pending request.

load → permission → form → ``operations.request_move`` (it holds the rules) → redirect; the
request lifecycle (``core.lifecycle``) commits once. Invalid → 422 with each message beside its field, NotAllowed → 403, Conflict → 409
with the input kept.
"""
from __future__ import annotations

from datetime import date

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from tracker.core.formatting import today_local
from tracker.core.input import int_arg
from tracker.core.translations import gettext as _
from tracker.extensions import db
from tracker.projects.models import Project
from tracker.workflow import operations as wf
from tracker.workflow.attachments import store_upload
from tracker.workflow.blueprint import bp, load_project, problem
from tracker.workflow.display import group_moves
from tracker.workflow.forms import REQUIREMENT_HINTS, WithdrawForm, request_form_for
from tracker.workflow.models import Milestone, StageRequest
from tracker.workflow.stages import BY_CODE, Move, after, cleared_on_correction, label


def _default_target(moves: list[Move]) -> str | None:
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
    old_id = int_arg(request.args.get("from"))
    if move is None or old_id is None:
        return None
    old = db.session.get(StageRequest, old_id)
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


@bp.route("/projects/<int:project_id>/stage-request", methods=["GET", "POST"])
def request_stage_change(project_id: int):
    project = load_project(project_id, "stage.request")
    moves = wf.allowed_moves(current_user, project)
    by_target = {m.to_stage: m for m in moves}
    pending = wf.pending_request(project)
    if request.method == "POST":
        to_stage = (request.form.get("to_stage") or "").strip()
    else:
        to_stage = (request.args.get("to") or "").strip() or (_default_target(moves) or "")
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
                confirm_amounts=bool(form.confirm_amounts.data),
            )
            for storage in files:  # a refused file raises ValueError: nothing is saved
                store_upload(current_user, project, req, storage)
            if rejected is not None:  # its rejection notice has been acted on
                wf.mark_read(current_user, request_id=rejected.id)
        except wf.Invalid as err:
            db.session.rollback()
            for key, message in err.errors.items():
                if key in form and key not in ("csrf_token", "to_stage"):
                    form[key].errors = list(form[key].errors) + [message]
                else:
                    picker_error = message
            status = 422  # the form shows "请修改标红的字段" and each message beside its field
        except wf.NotAllowed as err:
            return problem(403, err.message, project)
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
            flash(_("已提交“%(a)s → %(b)s”的申请，等待负责人审批。", a=label(req.from_stage),
                    b=label(req.to_stage)), "success")
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
    project = load_project(project_id, "stage.request")
    form = WithdrawForm()
    pending = wf.pending_request(project)
    if pending is None or int_arg(form.request_id.data) != pending.id:
        return problem(409, _("该申请已被处理或已撤回。"), project)
    try:
        wf.withdraw(current_user, pending.id)
    except wf.NotAllowed as err:
        return problem(403, err.message, project)
    except wf.Conflict as err:
        return problem(409, err.message, project)
    flash(_("申请已撤回。"), "success")
    return redirect(url_for("projects.view_project", project_id=project.id))
