"""Screens of tracker.funds: the funds card on the project page (a template global), the
full list of a project's records, adding and deleting a record.

Out-of-scope projects are 404 and roles that may not record are 403 (``load``); a record id
that is not the project's is 404; bad input is a 422 with the messages beside the fields and
the input kept (the file input excepted: browsers never keep a chosen file). The posted values
go to the operation as they are: it checks them with ``FundsInput``, once, for every caller.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import joinedload, load_only

from tracker.auth.models import name_only
from tracker.core.db import built_once
from tracker.core.formatting import today_local
from tracker.core.forms import show_errors
from tracker.core.input import InputError, form_values, int_arg
from tracker.core.pagination import Page
from tracker.core.permissions import can, load, scope_filter
from tracker.core.translations import gettext as _
from tracker.extensions import db
from tracker.funds.forms import FundsForm
from tracker.funds.models import FundsRecord
from tracker.funds.operations import ArchivedProject, NotAllowed, add_funds, remove_funds
from tracker.funds.schemas import FundsInput
from tracker.projects.models import Project

bp = Blueprint("funds", __name__)

SHOWN_ON_PROJECT_PAGE = 10  # newest records on the project page; the rest on the list page
PER_PAGE = 30


@bp.before_request
@login_required
def _login_first():
    """Every funds route needs a signed-in user."""


@dataclass
class ProjectFunds:
    """What the funds card shows (``templates/funds/_project_funds.html``)."""

    total: Decimal
    investment: Decimal
    rate: Decimal | None  # percent; None when there is no contracted investment
    records: list[FundsRecord]  # with their recorder and scan loaded
    count: int
    can_record: bool = False
    form: Any = None

    @property
    def more(self) -> bool:
        return self.count > len(self.records)


def funds_rate(total: Decimal | None, investment: Decimal | None) -> Decimal | None:
    """资金到位率 in percent (one decimal), None when the investment is 0 or missing."""
    if not investment or investment <= 0:
        return None
    return (Decimal(total or 0) * 100 / Decimal(investment)).quantize(Decimal("0.1"))


_records_of = built_once(lambda: (
    select(FundsRecord).options(name_only(FundsRecord.recorded_by), joinedload(FundsRecord.attachment))
    .where(FundsRecord.project_id == bindparam("project_id"))
    .order_by(FundsRecord.received_on.desc(), FundsRecord.id.desc())
    .limit(bindparam("limit")).offset(bindparam("offset"))))


def _records(project_id: int, limit: int, offset: int = 0) -> list[FundsRecord]:
    return list(db.session.execute(
        _records_of(), {"project_id": project_id, "limit": limit, "offset": offset}).scalars())


def _count(project_id: int) -> int:
    return db.session.execute(
        select(func.count(FundsRecord.id)).where(FundsRecord.project_id == project_id)).scalar_one()


def _blank_form() -> FundsForm:
    form = FundsForm(formdata=None)
    form.received_on.data = today_local().isoformat()
    return form


def may_record_funds(project: Project) -> bool:
    """Does the viewer get the add form and the delete buttons?"""
    return can("funds.record", project) and not project.is_archived


def _summary(project: Project, records: list[FundsRecord], count: int, form: FundsForm | None) -> ProjectFunds:
    """The one builder of ``ProjectFunds``, for the project page's card and the full list:
    the sum and rate from the project, ``records`` (one page of them) out of ``count``, and
    the add form (``form`` as posted, else a blank one) for those who may record."""
    may = may_record_funds(project)
    return ProjectFunds(total=project.funds_in_place or Decimal(0), investment=project.contracted_investment,
                        rate=funds_rate(project.funds_in_place, project.contracted_investment),
                        records=records, count=count, can_record=may,
                        form=(form or _blank_form()) if may else None)


@bp.app_template_global()
def project_funds(project: Project, form: FundsForm | None = None) -> ProjectFunds:
    """The project page's funds card: the sum, the rate, the newest records (one query, none
    for a project without any (``has_funds``, read with the project), and a count when there
    are more than shown)."""
    records = _records(project.id, SHOWN_ON_PROJECT_PAGE) if project.has_funds else []
    count = len(records) if len(records) < SHOWN_ON_PROJECT_PAGE else _count(project.id)
    return _summary(project, records, count, form)


@bp.app_template_global()
def capital_links(project: Project) -> dict[str, Any]:
    """增资 links of a project page: the original it adds capital to, and the increases of it
    (those in the user's scope)."""
    original = None
    if project.increase_of_id:
        original = db.session.get(Project, project.increase_of_id)
        if original is not None and not can("project.view", original):
            original = None
    increases = list(db.session.execute(
        select(Project).options(load_only(Project.name, Project.contracted_investment, Project.unit_id))
        .where(Project.increase_of_id == project.id, scope_filter(current_user, Project.unit_id))
        .order_by(Project.signed_on, Project.id)
    ).scalars()) if project.has_increases else []
    return {"original": original, "increases": increases}


def _list_page(project: Project, form: FundsForm | None = None, status: int = 200):
    page_no = int_arg(request.args.get("page")) or 1
    count = _count(project.id)
    page = Page(items=[], page=1, per_page=PER_PAGE, total=count)
    page.page = min(max(page_no, 1), page.pages)
    page.items = _records(project.id, PER_PAGE, (page.page - 1) * PER_PAGE)
    return render_template("funds/list.html", project=project, page=page,
                           pf=_summary(project, page.items, count, form)), status


@bp.get("/projects/<int:project_id>/funds")
def list_funds(project_id: int):
    project = load(Project, project_id, "project.view")
    return _list_page(project)


@bp.post("/projects/<int:project_id>/funds", endpoint="add_funds")
def add_funds_view(project_id: int):
    project = load(Project, project_id, "funds.record")
    form = FundsForm()
    posted = form_values(FundsInput, request.form)
    try:
        row = add_funds(current_user, project, posted["received_on"], posted["amount"], posted["note"],
                        posted["evidence"], posted["confirm"], unit=posted["amount_unit"],
                        upload=request.files.get("file"))
    except (InputError, ValueError) as err:  # ValueError: the scan was refused (type, size, empty)
        db.session.rollback()
        show_errors(form, err.errors if isinstance(err, InputError) else {"file": str(err)})
        return _list_page(project, form, 422)
    except ArchivedProject as err:
        db.session.rollback()
        flash(err.message, "warning")
        return _list_page(project, form, 409)
    except NotAllowed:
        abort(403)
    flash(_("已登记到位资金 %(amount)s 万元（%(day)s），累计 %(total)s 万元。",
            amount=f"{row.amount:,.2f}", day=row.received_on.isoformat(), total=f"{project.funds_in_place:,.2f}"),
          "success")
    return redirect(url_for("projects.view_project", project_id=project.id) + "#funds")


@bp.post("/projects/<int:project_id>/funds/<int:record_id>/delete")
def delete_funds(project_id: int, record_id: int):
    project = load(Project, project_id, "funds.record")
    row = db.session.get(FundsRecord, record_id)  # the id converter 404s ids past the key range
    if row is None or row.project_id != project.id:
        abort(404)
    back = request.form.get("next") == "list"
    target = (url_for("funds.list_funds", project_id=project.id) if back
              else url_for("projects.view_project", project_id=project.id) + "#funds")
    try:
        total = remove_funds(current_user, row, request.form.get("reason"))
    except ArchivedProject as err:
        db.session.rollback()
        flash(err.message, "warning")
        return redirect(target)
    except InputError as err:
        db.session.rollback()
        flash("；".join(err.errors.values()), "error")
        return redirect(target)
    except NotAllowed:
        abort(403)
    flash(_("已删除该笔到位资金，累计 %(total)s 万元。", total=f"{total:,.2f}"), "success")
    return redirect(target)
