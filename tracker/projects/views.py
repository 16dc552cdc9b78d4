"""Project screens: list, detail, create, edit, archive/restore."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError

from tracker.audit.models import AuditEntry
from tracker.auth.models import Role, Unit, User
from tracker.ceremonies.models import CeremonySigning
from tracker.core.fields import int_arg
from tracker.core.permissions import can, require, scope_filter
from tracker.extensions import db
from tracker.projects.forms import FIELD_LABELS, PROJECT_FIELDS, ProjectForm
from tracker.projects.models import Industry, Platform, Project, SourceRegion
from tracker.projects.operations import FieldErrors, StaleEdit, create_project, set_archived, update_project
from tracker.projects.queries import SORTS, ProjectFilters, filter_choices, list_page
from tracker.workflow.models import Attachment
from tracker.workflow.stages import BY_CODE, INITIAL_CODES

bp = Blueprint("projects", __name__, url_prefix="/projects")

HISTORY_PER_PAGE = 30
MAX_ATTACHMENTS_SHOWN = 200  # evidence scans per project; far more than a real project has


@bp.before_request
@login_required
def _login_first():
    """Every project route needs a signed-in user."""


def load_project(project_id: int, action: str = "project.view") -> Project:
    project = db.session.get(Project, project_id, options=[joinedload(Project.investor)])
    if project is None:
        abort(404)
    require(action, project)
    return project


@bp.get("/")
def list_projects():
    require("project.view")
    filters = ProjectFilters.from_args(request.args)
    if filters.archived and not can("project.archive"):
        filters.archived = False
    choices = filter_choices(current_user)
    page, totals = list_page(current_user, filters, choices)
    return render_template(
        "projects/list.html", page=page, totals=totals, f=filters, choices=choices, sorts=SORTS,
    )


@bp.get("/<int:project_id>")
def view_project(project_id: int):
    project = load_project(project_id)
    signing = db.session.execute(
        select(CeremonySigning).options(joinedload(CeremonySigning.ceremony))
        .where(CeremonySigning.project_id == project.id)
    ).scalar_one_or_none()
    # The timeline pages by keyset (?before=<entry id>): cheap however long the history is.
    before = int_arg(request.args.get("before")) or 0
    q = select(AuditEntry).options(joinedload(AuditEntry.actor)).where(AuditEntry.project_id == project.id)
    if before:
        q = q.where(AuditEntry.id < before)
    history = db.session.execute(q.order_by(AuditEntry.id.desc()).limit(HISTORY_PER_PAGE + 1)).scalars().all()
    older = history[HISTORY_PER_PAGE - 1].id if len(history) > HISTORY_PER_PAGE else None
    attachments = db.session.execute(
        select(Attachment).options(joinedload(Attachment.uploaded_by), joinedload(Attachment.request))
        .where(Attachment.project_id == project.id).order_by(Attachment.id.desc()).limit(MAX_ATTACHMENTS_SHOWN)
    ).scalars().all()
    return render_template("projects/detail.html", project=project, signing=signing, attachments=attachments,
                           history=history[:HISTORY_PER_PAGE], history_older=older, history_before=before,
                           field_labels=FIELD_LABELS)


def _fill_choices(form: ProjectForm, project: Project | None) -> None:
    user = current_user
    units = db.session.execute(
        select(Unit).where(scope_filter(user, Unit.id), Unit.is_active.is_(True)).order_by(Unit.sort_order, Unit.id)
    ).scalars().all()
    form.unit_id.choices = [(u.id, u.name) for u in units]
    active_or_current = lambda model, current_id: (
        (model.is_active.is_(True)) | (model.id == current_id)
    )
    industries = db.session.execute(
        select(Industry).where(active_or_current(Industry, project.industry_id if project else None))
        .order_by(Industry.sort_order, Industry.id)
    ).scalars().all()
    form.industry_id.choices = [("", _("请选择"))] + [(i.id, i.name) for i in industries]
    regions = db.session.execute(
        select(SourceRegion).where(SourceRegion.is_active.is_(True)).order_by(SourceRegion.sort_order, SourceRegion.id)
    ).scalars().all()
    form.source_region_id.choices = [("", _("（已登记的投资方可不选）"))] + [(r.id, r.name) for r in regions]
    platforms = db.session.execute(
        select(Platform).where(active_or_current(Platform, project.platform_id if project else None))
        .where(scope_filter(user, Platform.unit_id) | Platform.unit_id.is_(None))
        .order_by(Platform.sort_order, Platform.id)
    ).scalars().all()
    form.platform_id.choices = [("", _("（无）"))] + [(p.id, p.name) for p in platforms]
    owners = db.session.execute(
        select(User).where(User.role.in_([Role.staff.value, Role.manager.value]), User.is_active_user.is_(True),
                           scope_filter(user, User.unit_id))
        .order_by(User.unit_id, User.display_name)
    ).scalars().all()
    form.owner_id.choices = [("", _("（未指定）"))] + [(u.id, f"{u.display_name}（{u.unit.name}）") for u in owners]
    if "stage" in form:
        form.stage.choices = [(c, str(BY_CODE[c].label)) for c in INITIAL_CODES]


def _investor_values(form: ProjectForm) -> dict:
    return {
        "name": form.investor_name.data,
        "uscc": form.investor_uscc.data or None,
        "source_region_id": form.source_region_id.data,
        "country": form.investor_country.data,
    }


def _values(form: ProjectForm) -> dict:
    return {name: form[name].data for name in PROJECT_FIELDS}


def _apply_field_errors(form: ProjectForm, errors: dict[str, str]) -> None:
    for name, message in errors.items():
        form[name].errors = list(form[name].errors) + [message]


@bp.route("/new", methods=["GET", "POST"], endpoint="create_project")
def create_project_view():
    require("project.create")
    form = ProjectForm()
    _fill_choices(form, None)
    if request.method == "GET":
        form.unit_id.data = current_user.unit_id
        form.stage.data = "signed"
        if current_user.role == Role.staff.value:
            form.owner_id.data = current_user.id
    if form.validate_on_submit():
        try:
            project = create_project(current_user, _values(form), _investor_values(form), form.stage.data)
            db.session.commit()
        except FieldErrors as err:
            db.session.rollback()
            _apply_field_errors(form, err.errors)
        else:
            flash(_("项目“%(name)s”已创建。", name=project.name), "success")
            return redirect(url_for("projects.view_project", project_id=project.id))
    return render_template("projects/form.html", form=form, project=None), 200 if not form.errors else 422


@bp.route("/<int:project_id>/edit", methods=["GET", "POST"])
def edit_project(project_id: int):
    project = load_project(project_id, "project.edit")
    if project.is_archived:
        flash(_("已归档的项目不能修改，请先恢复。"), "warning")
        return redirect(url_for("projects.view_project", project_id=project.id))
    form = ProjectForm(obj=None if request.method == "POST" else project)
    del form.stage  # the stage changes only through the workflow
    form.current_stage = project.stage
    _fill_choices(form, project)
    if request.method == "GET":
        form.investor_name.data = project.investor.name
        form.investor_uscc.data = project.investor.uscc
        form.version.data = str(project.version_id)
    status = 200
    if form.validate_on_submit():
        try:
            expected = int(form.version.data) if (form.version.data or "").isdigit() else None
            changes = update_project(current_user, project, _values(form), _investor_values(form), expected)
            db.session.commit()
        except FieldErrors as err:
            db.session.rollback()
            _apply_field_errors(form, err.errors)
            status = 422
        except (StaleEdit, StaleDataError):
            db.session.rollback()
            flash(_("保存失败：在您编辑期间，该项目已被他人修改。您填写的内容仍保留在下方；请打开新窗口查看最新内容，核对后再保存。"), "error")
            fresh = db.session.get(Project, project_id)
            form.version.data = str(fresh.version_id) if fresh else form.version.data
            return render_template("projects/form.html", form=form, project=fresh or project, conflict=True), 409
        else:
            if changes:
                flash(_("已保存修改。"), "success")
            else:
                flash(_("没有需要保存的修改。"), "info")
            return redirect(url_for("projects.view_project", project_id=project.id))
    elif form.errors:
        status = 422
    return render_template("projects/form.html", form=form, project=project), status


@bp.post("/<int:project_id>/archive")
def archive_project(project_id: int):
    project = load_project(project_id, "project.archive")
    set_archived(current_user, project, True)
    db.session.commit()
    flash(_("项目已归档。可在“已归档”列表中恢复。"), "success")
    return redirect(url_for("projects.list_projects"))


@bp.post("/<int:project_id>/restore")
def restore_project(project_id: int):
    project = load_project(project_id, "project.archive")
    set_archived(current_user, project, False)
    db.session.commit()
    flash(_("项目已恢复。"), "success")
    return redirect(url_for("projects.view_project", project_id=project.id))
