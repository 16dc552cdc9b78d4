"""Planned milestone dates (计划日期) of a project.

Each date field carries the value the user was shown (``seen_*``): a date someone else
changed meanwhile is a 409 with the user's input kept, not a silent overwrite. A partial
post changes only the dates it sent.
"""
from __future__ import annotations

from datetime import date

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from tracker.core.formatting import cn_date
from tracker.core.translations import gettext as _
from tracker.workflow import operations as wf
from tracker.workflow.blueprint import bp, load_project, problem
from tracker.workflow.forms import PlannedDatesForm
from tracker.workflow.panel import plan_form
from tracker.workflow.stages import MILESTONE_CODES


@bp.route("/projects/<int:project_id>/milestones", methods=["GET", "POST"])
def edit_milestones(project_id: int):
    project = load_project(project_id, "milestone.edit")
    if project.is_archived:
        flash(_("已归档的项目不能修改，请先恢复。"), "warning")
        return redirect(url_for("projects.view_project", project_id=project.id))
    rows = {row["stage"]: row for row in wf.milestones(project)}
    status = 200
    conflict: list[str] = []
    if request.method == "GET":
        form = plan_form(list(rows.values()))
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
            except wf.NotAllowed as err:
                return problem(403, err.message, project)
            flash(_("计划日期已保存。") if changes else _("没有需要保存的修改。"), "success" if changes else "info")
            return redirect(url_for("projects.view_project", project_id=project.id, _anchor="milestones"))
    return render_template("workflow/milestones.html", project=project, form=form, rows=list(rows.values()),
                           codes=MILESTONE_CODES), status
