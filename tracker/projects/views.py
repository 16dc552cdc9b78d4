"""Project screens: list, detail, create, edit, archive/restore."""
from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from markupsafe import Markup
from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import joinedload, undefer
from sqlalchemy.orm.exc import StaleDataError

from tracker.audit.models import AuditEntry
from tracker.auth.models import Role, name_only
from tracker.ceremonies.models import CeremonySigning
from tracker.core import datacache, pieces
from tracker.core.db import built_once
from tracker.core.forms import mark_required, show_errors, validate_form
from tracker.core.input import MAX_ID, int_arg
from tracker.core.permissions import can, load, load_by, require
from tracker.core.translations import gettext as _
from tracker.extensions import db
from tracker.funds.views import may_record_funds
from tracker.projects.choices import fill_form, project_choices
from tracker.projects.forms import ProjectForm
from tracker.projects.models import Investor, Project
from tracker.projects.operations import FieldErrors, StaleEdit, create_project, set_archived, update_project
from tracker.projects.queries import ProjectFilters, capped_page, filter_choices, list_page, rows_key
from tracker.projects.schemas import ProjectCreate, ProjectUpdate
from tracker.workflow.models import Attachment
from tracker.workflow.operations import Conflict, allowed_moves
from tracker.workflow.panel import stage_panel
from tracker.workflow.stages import BY_CODE, INITIAL_CODES
from tracker.workflow.timeline import project_timeline

bp = Blueprint("projects", __name__, url_prefix="/projects")

HISTORY_PER_PAGE = 30
LIST_PER_PAGE = 50
MAX_ATTACHMENTS_SHOWN = 200  # evidence scans per project; far more than a real project has


@bp.before_request
@login_required
def _login_first():
    """Every project route needs a signed-in user."""


def load_project(project_id: int, action: str = "project.view") -> Project:
    return load(Project, project_id, action, joinedload(Project.investor))


@bp.get("/")
def list_projects():
    require("project.view")
    filters = ProjectFilters.from_args(request.args)
    if filters.archived and not can("project.archive"):
        filters.archived = False
    # The body (buttons, filters, totals, rows, pager) is kept like the rows it shows, until the
    # data changes: per scope, filters, sort and page (rows_key) and role (the buttons it
    # offers; the language is part of every cached key). Only the frame (base.html: the
    # user's name, the badges) is rendered on every view. The page as shown (a page past the
    # last shows the last): links to ?page=999… cannot fill the shelf.
    page_no = capped_page(current_user, filters, LIST_PER_PAGE)
    key = ("list-body", rows_key(current_user, filters, page_no, LIST_PER_PAGE), current_user.role)
    return render_template("projects/list.html", body=pieces.kept(key, lambda: _list_body(filters)))


def _list_body(filters: ProjectFilters) -> str:
    choices = filter_choices(current_user)
    page, totals = list_page(current_user, filters, choices, per_page=LIST_PER_PAGE)
    return render_template("projects/_list_body.html", page=page, totals=totals, f=filters, choices=choices,
                           archived=filters.archived)


@bp.get("/<int:project_id>")
def view_project(project_id: int):
    # The data version first (read with the user, core.datacache.with_version): a card built
    # below from data read after it can only be newer than its key says, never older (a write
    # committing in between cannot leave an old card under the new version). What a card
    # shows of the user (scope, role, may they record funds) is in its key, and the user was
    # read no later than the version, so a key and its card always agree.
    datacache.request_version()
    page = _Cards(project_id)
    project = page.load()
    before = int_arg(request.args.get("before")) or 0  # the history's page: only the newest is kept
    cards = {
        # The stage panel shows each person their own choices (their request, may they decide).
        "stage": page.piece("stage", "workflow/_stage_panel.html", lambda: {"panel": stage_panel(current_user, project)},
                            also=(current_user.id, current_user.role)),
        "progress": page.piece("progress", "progress/_project_progress.html"),
        "facts": page.piece("facts", "projects/_facts.html", lambda: {"signing": project.signing}, related=True),
        "records": page.piece("records", "projects/_records.html", lambda: _records(project, before), related=True,
                              keep=not before),
        "funds": page.piece("funds", "funds/_project_funds.html", also=(may_record_funds(project),)),
        "aside": page.piece("aside", "projects/_aside.html", related=True),
    }
    may_request = not project.has_pending and bool(allowed_moves(current_user, project))
    return render_template("projects/detail.html", project=project, cards=cards, may_request=may_request)


# What the cards show of the project's relations (of a person the name only: fewer columns to
# read and describe), and what the header shows.
_RELATIONS = (joinedload(Project.investor).joinedload(Investor.source_region), joinedload(Project.industry),
              joinedload(Project.platform), name_only(Project.owner),
              joinedload(Project.signing).joinedload(CeremonySigning.ceremony),
              undefer(Project.has_attachments), undefer(Project.has_increases))
_HEADER = (joinedload(Project.unit), undefer(Project.has_pending), undefer(Project.has_funds))


def _by_id(*options) -> Select:
    return select(Project).options(*options).where(Project.id == bindparam("id"))


# The project page's statements, built once (core.db.built_once): the project alone (the
# cards are kept), with what the cards show of its relations (the first view since the data
# changed), and those relations for a project already loaded.
_project_alone = built_once(lambda: _by_id(*_HEADER))
_project_related = built_once(lambda: _by_id(*_HEADER, *_RELATIONS))
_relations_of = built_once(lambda: _by_id(*_RELATIONS))


class _Cards:
    """The project page's cards whose HTML depends on the project, the data and the viewer's
    scope only (and ``also``: what else of the viewer a card shows: may they record funds;
    the stage panel is kept per person), kept until the data changes (core.pieces), like the
    list's body; the header is rendered on every view. A card built anew that shows the
    project's relations (``related``) reads them first, all in one statement (not a lazy
    load each), then ``context()``: what else it shows."""

    def __init__(self, project_id: int):
        self.project_id, self.related = project_id, False

    def key(self, name: str, also: tuple = ()) -> tuple:
        return ("project-page", self.project_id, name, datacache.scope_key(current_user), *also)

    def load(self) -> Project:
        """The project (404/403 as ``load`` answers), with its relations when the cards that
        show them will be built (the first view since the data changed): one statement."""
        self.related = not datacache.has(self.key("facts"), shelf="cards")
        self.project = load_by(_project_related() if self.related else _project_alone(), self.project_id,
                               "project.view")
        return self.project

    def piece(self, name: str, template: str, context: Callable[[], dict] = dict, *, also: tuple = (),
              related: bool = False, keep: bool = True) -> Markup:
        def render() -> str:
            return render_template(template, project=self._related() if related else self.project, **context())

        return pieces.kept(self.key(name, also), render, shelf="cards") if keep else Markup(render())

    def _related(self) -> Project:
        if not self.related:  # fills in the relations of the project already loaded
            db.session.execute(_relations_of(), {"id": self.project_id}).unique().all()
            self.related = True
        return self.project


# A page of the change history, newest first, keyset by entry id (cheap however long the
# history is; the first page: up to the largest id there can be), and the evidence files.
_history_page = built_once(lambda: (
    select(AuditEntry).options(name_only(AuditEntry.actor))
    .where(AuditEntry.project_id == bindparam("project_id"), AuditEntry.id <= bindparam("up_to"))
    .order_by(AuditEntry.id.desc()).limit(HISTORY_PER_PAGE + 1)))
_attachments = built_once(lambda: (
    select(Attachment).options(name_only(Attachment.uploaded_by), joinedload(Attachment.request))
    .where(Attachment.project_id == bindparam("project_id")).order_by(Attachment.id.desc())
    .limit(MAX_ATTACHMENTS_SHOWN)))


def _records(project: Project, before: int) -> dict:
    """The records piece's data: a page of the change history and the evidence files."""
    history = db.session.execute(
        _history_page(), {"project_id": project.id, "up_to": before - 1 if before else MAX_ID}).scalars().all()
    attachments = db.session.execute(
        _attachments(), {"project_id": project.id}).scalars().all() if project.has_attachments else []
    return {"timeline": project_timeline(history[:HISTORY_PER_PAGE]), "attachments": attachments,
            "history_older": history[HISTORY_PER_PAGE - 1].id if len(history) > HISTORY_PER_PAGE else None,
            "history_before": before}


def _prepare(form: ProjectForm, project: Project | None) -> dict:
    """Fill the form's select boxes and return the schema context (the same choices)."""
    choices = project_choices(current_user, project)
    fill_form(form, choices, blanks={
        "industry_id": _("请选择"), "source_region_id": _("（已登记的投资方可不选）"),
        "platform_id": _("（无）"), "owner_id": _("（未指定）"),
    })
    if "stage" in form:
        form.stage.choices = [(c, str(BY_CODE[c].label)) for c in INITIAL_CODES]
    mark_required(form, ProjectCreate)
    return {"choices": choices, "current_stage": project.stage if project else None}


@bp.route("/new", methods=["GET", "POST"], endpoint="create_project")
def create_project_view():
    require("project.create")
    form = ProjectForm()
    context = _prepare(form, None)
    if request.method == "GET":
        form.unit_id.data = current_user.unit_id
        form.stage.data = "signed"
        if current_user.role == Role.staff.value:
            form.owner_id.data = current_user.id
        return render_template("projects/form.html", form=form, project=None)
    data = validate_form(form, ProjectCreate, context=context)
    if data is not None:
        try:
            project = create_project(current_user, data.project_values(), data.investor_values(), data.stage)
        except FieldErrors as err:
            db.session.rollback()
            show_errors(form, err.errors)
        else:
            flash(_("项目“%(name)s”已创建。", name=project.name), "success")
            return redirect(url_for("projects.view_project", project_id=project.id))
    return render_template("projects/form.html", form=form, project=None), 422


@bp.route("/<int:project_id>/edit", methods=["GET", "POST"])
def edit_project(project_id: int):
    project = load_project(project_id, "project.edit")
    if project.is_archived:
        flash(_("已归档的项目不能修改，请先恢复。"), "warning")
        return redirect(url_for("projects.view_project", project_id=project.id))
    form = ProjectForm(obj=None if request.method == "POST" else project)
    del form.stage  # the stage changes only through the workflow
    context = _prepare(form, project)
    if request.method == "GET":
        form.investor_name.data = project.investor.name
        form.investor_uscc.data = project.investor.uscc
        form.version.data = str(project.version_id)
        return render_template("projects/form.html", form=form, project=project)
    data = validate_form(form, ProjectUpdate, context=context)
    if data is None:
        return render_template("projects/form.html", form=form, project=project), 422
    try:
        changes = update_project(current_user, project, data.project_values(), data.investor_values(), data.version)
    except FieldErrors as err:
        db.session.rollback()
        show_errors(form, err.errors)
        return render_template("projects/form.html", form=form, project=project), 422
    except (StaleEdit, StaleDataError):
        db.session.rollback()
        flash(_("保存失败：在您编辑期间，该项目已被他人修改。您填写的内容仍保留在下方；请打开新窗口查看最新内容，核对后再保存。"), "error")
        fresh = db.session.get(Project, project_id)
        form.version.data = str(fresh.version_id) if fresh else form.version.data
        return render_template("projects/form.html", form=form, project=fresh or project, conflict=True), 409
    flash(_("已保存修改。") if changes else _("没有需要保存的修改。"), "success" if changes else "info")
    return redirect(url_for("projects.view_project", project_id=project.id))


@bp.post("/<int:project_id>/archive")
def archive_project(project_id: int):
    project = load_project(project_id, "project.archive")
    try:
        set_archived(current_user, project, True)
    except Conflict as err:  # a pending stage request is decided first
        flash(err.message, "error")
        return redirect(url_for("projects.view_project", project_id=project.id))
    flash(_("项目已归档。可在“已归档”列表中恢复。"), "success")
    return redirect(url_for("projects.list_projects"))


@bp.post("/<int:project_id>/restore")
def restore_project(project_id: int):
    project = load_project(project_id, "project.archive")
    set_archived(current_user, project, False)
    flash(_("项目已恢复。"), "success")
    return redirect(url_for("projects.view_project", project_id=project.id))
