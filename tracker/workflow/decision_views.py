"""Deciding stage requests: approve or reject (from the project page or the queue) and the
approval queue (待我审批).

The decision is one conditional update in ``operations`` (only a pending request changes);
a second decision, a withdrawn request or a stale page gets the 409 page, never a 500.
"""
from __future__ import annotations

from types import SimpleNamespace

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from tracker.core.input import int_arg
from tracker.core.pagination import page_arg
from tracker.core.permissions import require
from tracker.core.translations import gettext as _
from tracker.extensions import db
from tracker.projects.models import Project
from tracker.workflow import operations as wf
from tracker.workflow.blueprint import bp, fetch_page, load_project, problem
from tracker.workflow.display import request_values
from tracker.workflow.forms import DecisionForm
from tracker.workflow.models import StageRequest
from tracker.workflow.stages import label


def _gone_message() -> str:
    """For a request decided or withdrawn while the page was open."""
    return _("该申请已被他人处理（或已撤回），无需重复操作。")


def _after_decision(form: DecisionForm, project: Project):
    if form.next.data == "queue":
        return redirect(url_for("workflow.list_approvals"))
    return redirect(url_for("projects.view_project", project_id=project.id))


def _decide(project_id: int, verdict: str):
    project = load_project(project_id, "stage.decide")
    form = DecisionForm()
    pending = wf.pending_request(project)
    if pending is None or int_arg(form.request_id.data) != pending.id:
        return problem(409, _gone_message(), project)
    comment = form.comment.data or ""
    try:
        if not form.validate_on_submit():
            raise wf.Invalid(_("页面已过期，请重新提交。"), {})
        if verdict == "approve":
            req = wf.approve(current_user, pending.id, comment)
        else:
            req = wf.reject(current_user, pending.id, comment)
    except wf.Invalid as err:
        db.session.rollback()
        for key, message in err.errors.items():
            if key in form:
                form[key].errors = list(form[key].errors) + [message]
        req = wf.pending_request(project)
        if req is None:
            return problem(409, _gone_message(), project)
        return render_template("workflow/decide.html", project=project, req=req, form=form,
                               values=request_values(req), verdict=verdict), 422
    except wf.NotAllowed as err:
        return problem(403, err.message, project)
    except wf.Conflict as err:
        return problem(409, err.message, project)
    except LookupError:
        abort(404)
    if verdict == "approve":
        flash(_("已批准：%(name)s 变更为“%(b)s”。", name=project.name, b=label(req.to_stage)), "success")
    else:
        flash(_("已驳回“%(name)s”的“%(a)s → %(b)s”申请，已通知申请人。", name=project.name,
                a=label(req.from_stage), b=label(req.to_stage)), "info")
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
    base = wf.approval_queue(current_user)
    total = db.session.execute(select(func.count()).select_from(base.order_by(None).subquery())).scalar_one()
    page = fetch_page(
        base.options(selectinload(StageRequest.attachments), joinedload(StageRequest.project).joinedload(Project.unit)),
        total, page_arg(request.args.get("page")),
    )
    rows = [SimpleNamespace(req=r, values=request_values(r),
                            form=DecisionForm(formdata=None, request_id=r.id, next="queue")) for r in page.items]
    return render_template("workflow/approvals.html", page=page, rows=rows)
