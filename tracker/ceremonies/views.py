"""Signing ceremonies (签约仪式): list, create/edit/delete, the projects in signing order with
their signatories (add, remove, move, reorder), and the booklet and signing-order PDFs.

Viewing needs ``ceremony.view``, changes ``ceremony.manage`` (managers); both are scoped to
the ceremony's host unit (the city sees every ceremony, a county office its own).
"""
from __future__ import annotations

import math

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.exc import StaleDataError

from tracker.auth.models import Unit
from tracker.briefs.doubts import print_doubts
from tracker.ceremonies import operations as ops
from tracker.ceremonies.forms import (
    AddProjectForm,
    CeremonyForm,
    RoundWitnessesForm,
    SignatoriesForm,
    VersionForm,
)
from tracker.ceremonies.models import Ceremony, CeremonySigning
from tracker.ceremonies.schemas import AddProjectInput, CeremonyInput, RoundWitnessesInput, SignatoriesInput
from tracker.core.forms import mark_required, show_errors, validate_form
from tracker.core.input import Choices, int_arg
from tracker.core.pagination import Page, page_arg
from tracker.core.permissions import can, ceremony_fully_visible, ceremony_scope_filter, load, require
from tracker.core.translations import gettext as _
from tracker.core.translations import lazy_gettext as _l
from tracker.extensions import db
from tracker.jobs import views as jobs
from tracker.projects.choices import fill_form
from tracker.projects.choices import units as unit_choices
from tracker.projects.models import Project

bp = Blueprint("ceremonies", __name__, url_prefix="/ceremonies")

PER_PAGE = 30
PICKER_LIMIT = 500


@bp.before_request
@login_required
def _login_first():
    """Every ceremony route needs a signed-in user."""


def load_ceremony(ceremony_id: int, action: str = "ceremony.view") -> Ceremony:
    """404 unless the ceremony is visible (host scope or one of the unit's projects is signed
    at it: ``permissions.ceremony_visible``); 403 for managing it from outside the host."""
    return load(Ceremony, ceremony_id, action, joinedload(Ceremony.unit))


def load_printable(ceremony_id: int) -> Ceremony:
    """The booklet and the order sheet print every project in full: 403 unless all are in scope."""
    ceremony = load_ceremony(ceremony_id)
    if not ceremony_fully_visible(current_user, ceremony):
        abort(403)
    return ceremony


def load_signing(ceremony: Ceremony, signing_id: int) -> CeremonySigning:
    signing = db.session.get(CeremonySigning, signing_id)
    if signing is None or signing.ceremony_id != ceremony.id:
        abort(404)
    return signing


def _unit_choices(form: CeremonyForm, current_id: int | None = None) -> dict:
    """Fill the host-unit select; returns the schema context with the same choices."""
    choices = {"unit_id": unit_choices(current_user, current_id)}
    fill_form(form, choices)
    mark_required(form, CeremonyInput)
    return {"choices": choices}


def _apply_errors(form, errors: dict[str, str]) -> None:
    show_errors(form, {{"unit": "unit_id"}.get(key, key): message for key, message in errors.items()})


STALE = -1  # the version a form that lost its own is compared with: never current
STALE_MESSAGE = _l("在您操作期间，该签约仪式已被他人修改。页面已刷新为最新内容，请核对后重试。")


# --- list / create / edit / delete ---------------------------------------------------------

@bp.get("/")
def list_ceremonies():
    require("ceremony.view")
    page_no = page_arg(request.args.get("page"))
    scope = ceremony_scope_filter(current_user)  # hosted by the unit, or with one of its projects
    total = db.session.execute(select(func.count(Ceremony.id)).where(scope)).scalar_one()
    rows = db.session.execute(
        select(Ceremony, func.count(CeremonySigning.id),
               func.coalesce(func.sum(Project.contracted_investment), 0))
        .options(selectinload(Ceremony.unit))  # not joined: the query is grouped
        .outerjoin(CeremonySigning, CeremonySigning.ceremony_id == Ceremony.id)
        .outerjoin(Project, Project.id == CeremonySigning.project_id)
        .where(scope)
        .group_by(Ceremony.id)
        .order_by(Ceremony.held_on.desc(), Ceremony.id.desc())
        .limit(PER_PAGE).offset((page_no - 1) * PER_PAGE)
    ).all()
    page = Page(items=rows, page=page_no, per_page=PER_PAGE, total=total)
    return render_template("ceremonies/list.html", page=page)


@bp.route("/new", methods=["GET", "POST"])
def create_ceremony():
    require("ceremony.manage")
    form = CeremonyForm()
    context = _unit_choices(form)
    if request.method == "GET":
        form.unit_id.data = current_user.unit_id
        return render_template("ceremonies/form.html", form=form, ceremony=None)
    data = validate_form(form, CeremonyInput, context=context)
    if data is not None:
        try:
            ceremony = ops.create_ceremony(current_user, name=data.name, held_on=data.held_on, venue=data.venue,
                                           unit=db.session.get(Unit, data.unit_id))
        except ops.CeremonyError as err:
            db.session.rollback()
            _apply_errors(form, err.errors)
        else:
            flash(_("签约仪式“%(name)s”已创建，现在可以加入签约项目。", name=ceremony.name), "success")
            return redirect(url_for("ceremonies.view_ceremony", ceremony_id=ceremony.id))
    return render_template("ceremonies/form.html", form=form, ceremony=None), 422


@bp.route("/<int:ceremony_id>/edit", methods=["GET", "POST"])
def edit_ceremony(ceremony_id: int):
    ceremony = load_ceremony(ceremony_id, "ceremony.manage")
    form = CeremonyForm(obj=None if request.method == "POST" else ceremony)
    context = _unit_choices(form, ceremony.unit_id)
    if request.method == "GET":
        form.version.data = str(ceremony.version_id)
        return render_template("ceremonies/form.html", form=form, ceremony=ceremony)
    data = validate_form(form, CeremonyInput, context=context)
    status = 422
    if data is not None:
        try:
            changes = ops.update_ceremony(current_user, ceremony, name=data.name, held_on=data.held_on,
                                          venue=data.venue, unit=db.session.get(Unit, data.unit_id),
                                          expected_version=data.version or STALE)
        except ops.CeremonyError as err:
            db.session.rollback()
            _apply_errors(form, err.errors)
        except (ops.StaleCeremony, StaleDataError):
            db.session.rollback()
            flash(_("保存失败：在您编辑期间，该签约仪式已被他人修改。您填写的内容仍保留在下方，请核对后再保存。"), "error")
            fresh = db.session.get(Ceremony, ceremony_id)
            if fresh is None:
                abort(404)
            form.version.data = str(fresh.version_id)
            return render_template("ceremonies/form.html", form=form, ceremony=fresh, conflict=True), 409
        else:
            flash(_("已保存修改。") if changes else _("没有需要保存的修改。"), "success" if changes else "info")
            return redirect(url_for("ceremonies.view_ceremony", ceremony_id=ceremony.id))
    return render_template("ceremonies/form.html", form=form, ceremony=ceremony), status


@bp.post("/<int:ceremony_id>/delete")
def delete_ceremony(ceremony_id: int):
    ceremony = load_ceremony(ceremony_id, "ceremony.manage")
    form = VersionForm()
    if not form.validate_on_submit():
        abort(400)
    name = ceremony.name
    try:
        ops.delete_ceremony(current_user, ceremony, expected_version=int_arg(form.version.data) or STALE)
        db.session.flush()  # a conflict surfaces here, inside the try
    except ops.CeremonyError as err:
        db.session.rollback()
        flash(" ".join(err.errors.values()), "error")
        return redirect(url_for("ceremonies.view_ceremony", ceremony_id=ceremony_id))
    except (ops.StaleCeremony, StaleDataError):
        db.session.rollback()
        flash(str(STALE_MESSAGE), "error")
        return redirect(url_for("ceremonies.view_ceremony", ceremony_id=ceremony_id))
    flash(_("签约仪式“%(name)s”已删除。", name=name), "success")
    return redirect(url_for("ceremonies.list_ceremonies"))


# --- the ceremony page: its projects -----------------------------------------------------

def _signings(ceremony: Ceremony) -> list[CeremonySigning]:
    return list(db.session.execute(
        select(CeremonySigning)
        .options(joinedload(CeremonySigning.project).options(
            joinedload(Project.investor), joinedload(Project.unit), joinedload(Project.industry)))
        .where(CeremonySigning.ceremony_id == ceremony.id)
        .order_by(CeremonySigning.position, CeremonySigning.id)
    ).scalars().all())


def _picker(ceremony: Ceremony, form: AddProjectForm) -> tuple[int, dict]:
    """Fill the project picker; returns how many eligible projects were left out, and the
    schema context (only offered projects may be added)."""
    q = ops.eligible_projects_query(current_user, ceremony).options(joinedload(Project.unit))
    projects = db.session.execute(q.limit(PICKER_LIMIT + 1)).scalars().all()
    more = max(0, len(projects) - PICKER_LIMIT)
    choices = {"project_id": Choices.of(projects[:PICKER_LIMIT], label=lambda p: f"{p.name}（{p.unit.name}）",
                                        noun=_("项目"))}
    fill_form(form, choices, blanks={"project_id": _("请选择项目")})
    mark_required(form, AddProjectInput)
    return more, {"choices": choices}


def _render_ceremony(ceremony: Ceremony, add_form: AddProjectForm | None = None, status: int = 200):
    signings = _signings(ceremony)
    manage = can("ceremony.manage", ceremony)
    more = 0
    if manage:
        add_form = add_form or AddProjectForm(formdata=None)
        more, _context = _picker(ceremony, add_form)
        add_form.version.data = str(ceremony.version_id)
    total = sum((s.project.contracted_investment or 0 for s in signings), 0)
    return render_template(
        "ceremonies/detail.html", ceremony=ceremony, signings=signings, manage=manage,
        add_form=add_form, picker_more=more, total=total, version_form=VersionForm(formdata=None),
        max_projects=ops.MAX_PROJECTS, print_all=ceremony_fully_visible(current_user, ceremony),
        rounds=sorted({s.round_no or 1 for s in signings}), doubtful=_doubtful(signings),
    ), status


def _doubtful(signings: list[CeremonySigning]) -> list[tuple[Project, list[str]]]:
    """Projects whose brief would print something to check (see briefs.doubts): the booklet
    asks for a confirmation before it prints them."""
    return [(s.project, doubts) for s in signings if (doubts := print_doubts(s.project))]


@bp.get("/<int:ceremony_id>")
def view_ceremony(ceremony_id: int):
    return _render_ceremony(load_ceremony(ceremony_id))


@bp.post("/<int:ceremony_id>/projects")
def add_project(ceremony_id: int):
    ceremony = load_ceremony(ceremony_id, "ceremony.manage")
    form = AddProjectForm()
    _more, context = _picker(ceremony, form)
    data = validate_form(form, AddProjectInput, context=context)
    if data is None:
        return _render_ceremony(ceremony, form, 422)
    project = db.session.get(Project, data.project_id)
    try:
        signing = ops.add_project(current_user, ceremony, project, **data.signatories(),
                                  expected_version=data.version or STALE)
    except ops.CeremonyError as err:
        db.session.rollback()
        ceremony = load_ceremony(ceremony_id, "ceremony.manage")
        _apply_errors(form, err.errors)
        return _render_ceremony(ceremony, form, 422)
    except (ops.StaleCeremony, StaleDataError):
        db.session.rollback()
        flash(str(STALE_MESSAGE) + " " + _("您填写的内容仍保留在下方。"), "error")
        ceremony = load_ceremony(ceremony_id, "ceremony.manage")
        return _render_ceremony(ceremony, form, 409)
    flash(_("已加入签约项目“%(name)s”（第 %(n)d 位）。", name=signing.project.name, n=signing.position), "success")
    return redirect(url_for("ceremonies.view_ceremony", ceremony_id=ceremony.id) + "#signings")


def _button_action(ceremony_id: int, run) -> Response:
    """Commit one small POST action (a button: move, remove, reorder) and flash its outcome.
    ``run(version)`` does the change and returns ``(message, category)`` or None. On a
    conflict there is nothing typed to keep, so the fresh page is shown with a note."""
    form = VersionForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        outcome = run(int_arg(form.version.data) or STALE)
        db.session.flush()  # a conflict surfaces here, inside the try
    except ops.CeremonyError as err:
        db.session.rollback()
        flash(" ".join(err.errors.values()), "error")
    except (ops.StaleCeremony, StaleDataError):
        db.session.rollback()
        flash(str(STALE_MESSAGE), "error")
    else:
        if outcome:
            flash(*outcome)
    return redirect(url_for("ceremonies.view_ceremony", ceremony_id=ceremony_id) + "#signings")


def _signing_action(ceremony_id: int, signing_id: int, action) -> Response:
    """A button on one signing (move/remove): ``action(ceremony, signing, version)``."""
    ceremony = load_ceremony(ceremony_id, "ceremony.manage")
    signing = load_signing(ceremony, signing_id)
    return _button_action(ceremony_id, lambda version: action(ceremony, signing, version))


@bp.post("/<int:ceremony_id>/projects/<int:signing_id>/move")
def move_project(ceremony_id: int, signing_id: int):
    step = -1 if request.form.get("direction") == "up" else 1

    def action(ceremony, signing, version):
        ops.move_project(current_user, ceremony, signing, step, expected_version=version)

    return _signing_action(ceremony_id, signing_id, action)


@bp.post("/<int:ceremony_id>/projects/<int:signing_id>/remove")
def remove_project(ceremony_id: int, signing_id: int):
    def action(ceremony, signing, version):
        name = signing.project.name
        ops.remove_project(current_user, ceremony, signing, expected_version=version)
        return _("已从本次仪式移除“%(name)s”。", name=name), "success"

    return _signing_action(ceremony_id, signing_id, action)


@bp.post("/<int:ceremony_id>/order")
def reorder_projects(ceremony_id: int):
    """Renumber from the 序号 boxes: rows sorted by the numbers typed (ties keep their order)."""
    ceremony = load_ceremony(ceremony_id, "ceremony.manage")
    signings = ops.signings_of(ceremony)
    keyed = []
    for index, s in enumerate(signings):
        raw = (request.form.get(f"pos-{s.id}") or "").strip()
        try:
            wanted = float(raw) if raw and len(raw) < 8 else float(index + 1)
            if not math.isfinite(wanted):
                raise ValueError
        except ValueError:
            flash(_("序号“%(v)s”不是数字，请填写 1、2、3…", v=raw[:10]), "error")
            return redirect(url_for("ceremonies.view_ceremony", ceremony_id=ceremony_id) + "#signings")
        keyed.append((wanted, index, s.id))
    order = [sid for _w, _i, sid in sorted(keyed)]

    def run(version):
        if ops.reorder(current_user, ceremony, order, expected_version=version):
            return _("签约顺序已更新。"), "success"
        return _("签约顺序没有变化。"), "info"

    return _button_action(ceremony_id, run)


@bp.route("/<int:ceremony_id>/projects/<int:signing_id>/edit", methods=["GET", "POST"])
def edit_signatories(ceremony_id: int, signing_id: int):
    ceremony = load_ceremony(ceremony_id, "ceremony.manage")
    signing = load_signing(ceremony, signing_id)
    form = SignatoriesForm(obj=None if request.method == "POST" else signing)
    if request.method == "GET":
        form.version.data = str(ceremony.version_id)
        return render_template("ceremonies/signatories.html", form=form, ceremony=ceremony, signing=signing)
    data = validate_form(form, SignatoriesInput)
    status = 422
    if data is not None:
        try:
            ops.update_signatories(current_user, ceremony, signing, **data.signatories(),
                                   expected_version=data.version or STALE)
        except ops.CeremonyError as err:
            db.session.rollback()
            _apply_errors(form, err.errors)
        except (ops.StaleCeremony, StaleDataError):
            db.session.rollback()
            flash(str(STALE_MESSAGE) + " " + _("您填写的内容仍保留在下方。"), "error")
            fresh = db.session.get(Ceremony, ceremony_id)
            if fresh is None:
                abort(404)
            form.version.data = str(fresh.version_id)
            signing = load_signing(fresh, signing_id)
            return render_template("ceremonies/signatories.html", form=form, ceremony=fresh, signing=signing), 409
        else:
            flash(_("签约人已保存。"), "success")
            return redirect(url_for("ceremonies.view_ceremony", ceremony_id=ceremony_id) + "#signings")
    return render_template("ceremonies/signatories.html", form=form, ceremony=ceremony, signing=signing), status


@bp.post("/<int:ceremony_id>/rounds")
def edit_rounds(ceremony_id: int):
    """The witnessing leaders of each signing round (one line per round)."""
    ceremony = load_ceremony(ceremony_id, "ceremony.manage")
    form = RoundWitnessesForm()
    data = validate_form(form, RoundWitnessesInput)
    if data is None:
        flash(" ".join(str(e) for errs in form.errors.values() for e in errs) or _("请检查填写的内容。"), "error")
        return redirect(url_for("ceremonies.view_ceremony", ceremony_id=ceremony_id) + "#rounds")

    def run(_version):
        lines = data.round_witnesses.replace("\r\n", "\n").split("\n")
        if ops.set_round_witnesses(current_user, ceremony, lines, expected_version=data.version or STALE):
            return _("各批次见证领导已保存。"), "success"
        return None

    return _button_action(ceremony_id, run)


# --- PDFs ------------------------------------------------------------------------------------
# The booklet and the signing-order sheet are prepared as jobs (tracker.jobs): the button
# queues one and the job page shows its progress, then the download. One of each kind at a
# time per user.

@bp.post("/<int:ceremony_id>/booklet")
def start_booklet(ceremony_id: int):
    ceremony = load_printable(ceremony_id)
    doubtful = _doubtful(_signings(ceremony))
    if doubtful and request.form.get("confirm") != "1":
        flash(_("有 %(n)d 个项目的简介打印前需要核对（见“打印前请核对”）：请修改，或勾选“已核对，仍然打印”。",
                n=len(doubtful)), "error")
        return redirect(url_for("ceremonies.view_ceremony", ceremony_id=ceremony.id) + "#print-doubts")
    return jobs.start("booklet", title=_("%(name)s · 签约项目简介汇编", name=ceremony.name),
                      params={"ceremony_id": ceremony.id, "internal": request.form.get("internal") == "1"},
                      back=url_for("ceremonies.view_ceremony", ceremony_id=ceremony.id))


@bp.post("/<int:ceremony_id>/order-sheet")
def start_order_sheet(ceremony_id: int):
    ceremony = load_printable(ceremony_id)
    return jobs.start("order_sheet", title=_("%(name)s · 签约顺序表", name=ceremony.name),
                      params={"ceremony_id": ceremony.id, "internal": request.form.get("internal") == "1"},
                      back=url_for("ceremonies.view_ceremony", ceremony_id=ceremony.id))
