"""Investor (投资方) screens: list, detail, create, edit."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError

from tracker.audit.history import Fields, history_items
from tracker.audit.models import AuditEntry
from tracker.auth.models import Unit
from tracker.core import datacache
from tracker.core import uscc as uscc_rules
from tracker.core.forms import mark_required, show_errors, validate_form
from tracker.core.input import clean_text, fold_width, int_arg, parse_uscc
from tracker.core.pagination import Page, page_arg
from tracker.core.permissions import load, require, scope_filter
from tracker.core.translations import gettext as _
from tracker.extensions import db
from tracker.projects.choices import fill_form, investor_choices
from tracker.projects.investor_forms import FIELD_LABELS, InvestorForm
from tracker.projects.investor_operations import (
    create_investor,
    duplicate_errors,
    update_investor,
)
from tracker.projects.models import Investor, Project, SourceRegion
from tracker.projects.operations import FieldErrors, StaleEdit
from tracker.projects.queries import plain
from tracker.projects.schemas import InvestorInput

bp = Blueprint("investors", __name__, url_prefix="/investors")

PER_PAGE = 50

SORTS = {
    "updated": (Investor.updated_at.desc(), Investor.id.desc()),
    "created": (Investor.created_at.desc(), Investor.id.desc()),
    "name": (Investor.name.asc(), Investor.id.asc()),
    # "projects" orders by the grouped count; see investor_page.
    "projects": (),
}
DEFAULT_SORT = "updated"


@bp.before_request
@login_required
def _login_first():
    """Every investor route needs a signed-in user."""


@dataclass
class InvestorFilters:
    q: str = ""
    region: str = ""  # a source_region id, or "yrd" for every 长三角 region
    unit: int | None = None
    sort: str = DEFAULT_SORT
    page: int = 1

    @classmethod
    def from_args(cls, args) -> InvestorFilters:
        f = cls()
        f.q = (args.get("q") or "").replace("\x00", "").strip()[:50]
        region = args.get("region") or ""
        f.region = region if region == "yrd" or int_arg(region) is not None else ""
        f.unit = int_arg(args.get("unit"))
        sort = args.get("sort") or DEFAULT_SORT
        f.sort = sort if sort in SORTS else DEFAULT_SORT
        f.page = page_arg(args.get("page"))
        return f

    def as_args(self, **override: Any) -> dict[str, Any]:
        out = {"q": self.q, "region": self.region, "unit": self.unit,
               "sort": None if self.sort == DEFAULT_SORT else self.sort}
        out.update(override)
        return {k: v for k, v in out.items() if v not in (None, "")}

    @property
    def active(self) -> bool:
        return bool(self.q or self.region or self.unit)


@dataclass
class Totals:
    count: int
    projects: int
    yrd: int
    foreign: int


def _project_counts(user):
    """One grouped subquery: in-scope, non-archived projects per investor."""
    return (  # (live as a filter of the count: see _totals)
        select(Project.investor_id.label("investor_id"),
               func.count(Project.id).filter(Project.is_archived.is_(False)).label("n"))
        .where(scope_filter(user, Project.unit_id))
        .group_by(Project.investor_id)
        .subquery("project_counts")
    )


def _conditions(user, f: InvestorFilters) -> list[Any]:
    conds: list[Any] = [scope_filter(user, Investor.unit_id)]
    if f.q:
        code = uscc_rules.normalize(fold_width(f.q))
        conds.append(or_(Investor.name.contains(f.q, autoescape=True),
                         Investor.uscc.contains(code, autoescape=True)))
    if f.region == "yrd":
        conds.append(SourceRegion.is_yrd.is_(True))
    elif f.region:
        conds.append(Investor.source_region_id == int(f.region))
    if f.unit:
        conds.append(Investor.unit_id == f.unit)
    return conds


@dataclass(frozen=True)
class InvestorRow:
    """What one row of the investor list shows (plain values, kept by ``core.datacache``)."""

    id: int
    name: str
    uscc: str | None
    country: str
    updated_at: Any
    source_region: Any  # name, name_en, is_yrd, is_foreign
    unit: Any  # name, name_en


def _totals(user, f: InvestorFilters) -> Totals:
    """The totals line: the investors that match, and their in-scope live projects (two
    grouped reads, no per-investor grouping)."""
    conds = and_(*_conditions(user, f))
    count, yrd, foreign = db.session.execute(
        select(func.count(Investor.id),
               func.coalesce(func.sum(case((SourceRegion.is_yrd.is_(True), 1), else_=0)), 0),
               func.coalesce(func.sum(case((SourceRegion.is_foreign.is_(True), 1), else_=0)), 0))
        .select_from(Investor).join(SourceRegion, Investor.source_region_id == SourceRegion.id).where(conds)
    ).one()
    # "Live" as a filter of the count, not of the rows: SQLite without statistics would read
    # the live projects through an index on is_archived, row by row, 3× slower than the table.
    projects = db.session.execute(
        select(func.count(Project.id).filter(Project.is_archived.is_(False))).select_from(Project)
        .join(Investor, Investor.id == Project.investor_id)
        .join(SourceRegion, Investor.source_region_id == SourceRegion.id)
        .where(conds, scope_filter(user, Project.unit_id))
    ).scalar_one()
    return Totals(int(count), int(projects), int(yrd), int(foreign))


def _rows(user, f: InvestorFilters, page_no: int, per_page: int) -> tuple[tuple[InvestorRow, int], ...]:
    """One page of (investor, project count). Sorted by a column, the page is read first and
    only its investors' projects are counted; sorted by the count, every count is needed."""
    base = (select(Investor).join(SourceRegion, Investor.source_region_id == SourceRegion.id)
            .where(and_(*_conditions(user, f)))
            .options(joinedload(Investor.source_region), joinedload(Investor.unit)))
    offset = (page_no - 1) * per_page
    if f.sort == "projects":
        counts = _project_counts(user)
        n = func.coalesce(counts.c.n, 0)
        found = db.session.execute(
            base.add_columns(n).outerjoin(counts, counts.c.investor_id == Investor.id)
            .order_by(n.desc(), Investor.name.asc(), Investor.id.asc()).limit(per_page).offset(offset)
        ).all()
        pairs = [(inv, int(k)) for inv, k in found]
    else:
        investors = db.session.execute(base.order_by(*SORTS[f.sort]).limit(per_page).offset(offset)).scalars().all()
        # Only the page's investors as the condition, so their index is the one read.
        counted = dict(db.session.execute(
            select(Project.investor_id,
                   func.count(Project.id).filter(scope_filter(user, Project.unit_id), Project.is_archived.is_(False)))
            .where(Project.investor_id.in_([i.id for i in investors]))
            .group_by(Project.investor_id)
        ).all()) if investors else {}
        pairs = [(inv, int(counted.get(inv.id, 0))) for inv in investors]
    return tuple((InvestorRow(inv.id, inv.name, inv.uscc, inv.country or "", inv.updated_at,
                              plain(inv.source_region), plain(inv.unit)), k) for inv, k in pairs)


def investor_page(user, f: InvestorFilters, per_page: int = PER_PAGE) -> tuple[Page, Totals]:
    """A page of (investor row, project count) plus the totals line, both kept until the data
    changes (``core.datacache``: investors, projects and regions are audited): a warm page reads
    neither; a cold one reads the totals and the page's investors, then counts their projects."""
    key = (datacache.scope_key(user), tuple(sorted(f.as_args(sort=None).items())))
    totals = datacache.cached(("investor-totals", key), lambda: _totals(user, f))
    page_no = min(f.page, max(1, -(-totals.count // per_page)))
    items = datacache.cached(("investor-rows", key, f.sort, page_no, per_page),
                             lambda: _rows(user, f, page_no, per_page), shelf="pages")
    return Page(items=list(items), page=page_no, per_page=per_page, total=totals.count), totals


def _scoped_units(user, current_id: int | None = None) -> list[Unit]:
    active = Unit.is_active.is_(True)
    if current_id is not None:
        active = active | (Unit.id == current_id)
    return db.session.execute(
        select(Unit).where(scope_filter(user, Unit.id), active).order_by(Unit.sort_order, Unit.id)
    ).scalars().all()


@bp.get("/")
def list_investors():
    require("investor.view")
    filters = InvestorFilters.from_args(request.args)
    page, totals = investor_page(current_user, filters)
    regions = db.session.execute(
        select(SourceRegion).order_by(SourceRegion.sort_order, SourceRegion.id)
    ).scalars().all()
    units = _scoped_units(current_user) if current_user.is_city else []
    return render_template("investors/list.html", page=page, totals=totals, f=filters,
                           regions=regions, units=units)


def load_investor(investor_id: int, action: str = "investor.view") -> Investor:
    return load(Investor, investor_id, action, joinedload(Investor.source_region), joinedload(Investor.unit))


@bp.get("/<int:investor_id>")
def view_investor(investor_id: int):
    investor = load_investor(investor_id)
    projects = db.session.execute(
        select(Project).options(joinedload(Project.industry), joinedload(Project.unit))
        .where(Project.investor_id == investor.id, scope_filter(current_user, Project.unit_id))
        .order_by(Project.is_archived.asc(), Project.signed_on.desc().nulls_last(), Project.id.desc())
    ).scalars().all()
    live = [p for p in projects if not p.is_archived]
    investment = sum((p.contracted_investment for p in live), Decimal(0))
    history = db.session.execute(
        select(AuditEntry).options(joinedload(AuditEntry.actor))
        .where(AuditEntry.object_type == Investor.__tablename__, AuditEntry.object_id == investor.id)
        .order_by(AuditEntry.id.desc()).limit(20)
    ).scalars().all()
    return render_template("investors/detail.html", investor=investor, projects=projects, live=live,
                           investment=investment, history=history_items(history, INVESTOR_HISTORY))


# How the investor's change history reads (tracker.audit.history formats every history).
INVESTOR_HISTORY = Fields(labels=FIELD_LABELS, kinds={"introduction": "longtext"},
                          title_only=frozenset({"seed.create"}))


def _prepare(form: InvestorForm, investor: Investor | None) -> dict:
    """Fill the select boxes; returns the schema context (the same choices)."""
    choices = investor_choices(current_user, investor)
    regions = choices["source_region_id"]
    regions.options = [(rid, f"{name}（{_('长三角')}）" if rid in regions.yrd_ids else name)
                       for rid, name in regions.options]
    fill_form(form, choices, blanks={"source_region_id": _("请选择"),
                                     **({"unit_id": _("请选择")} if len(choices["unit_id"].options) > 1 else {})})
    mark_required(form, InvestorInput)
    return {"choices": choices, "foreign_region_ids": regions.foreign_ids}


def _validate(form: InvestorForm, context: dict, exclude_id: int | None) -> InvestorInput | None:
    """The typed input, or None with the messages shown. A name or USCC already taken is said
    at once, even while another field is also wrong (not only after that is fixed)."""
    data = validate_form(form, InvestorInput, context=context)
    if data is not None or form.name.errors:
        return data
    uscc = None
    if not form.uscc.errors and clean_text(form.uscc.data or ""):
        uscc = parse_uscc(form.uscc.data)  # the schema accepted it, so it parses
    unit_id = None if form.unit_id.errors else form.unit_id.data  # never probe an unoffered unit
    show_errors(form, duplicate_errors({"name": clean_text(form.name.data or ""), "uscc": uscc,
                                        "unit_id": unit_id}, exclude_id, current_user))
    return None


@bp.route("/new", methods=["GET", "POST"], endpoint="create_investor")
def create_investor_view():
    require("investor.create")
    form = InvestorForm()
    context = _prepare(form, None)
    if request.method == "GET":
        form.unit_id.data = current_user.unit_id
        return render_template("investors/form.html", form=form, investor=None)
    data = _validate(form, context, None)
    if data is not None:
        try:
            investor = create_investor(current_user, data.investor_values(context["foreign_region_ids"]))
        except FieldErrors as err:
            db.session.rollback()
            show_errors(form, err.errors)
        else:
            flash(_("投资方“%(name)s”已登记。", name=investor.name), "success")
            return redirect(url_for("investors.view_investor", investor_id=investor.id))
    return render_template("investors/form.html", form=form, investor=None), 422


@bp.route("/<int:investor_id>/edit", methods=["GET", "POST"])
def edit_investor(investor_id: int):
    investor = load_investor(investor_id, "investor.edit")
    form = InvestorForm(obj=None if request.method == "POST" else investor)
    context = _prepare(form, investor)
    if request.method == "GET":
        form.version.data = str(investor.version_id)
        if investor.country == "中国":
            form.country.data = ""
        return render_template("investors/form.html", form=form, investor=investor)
    data = _validate(form, context, investor.id)
    if data is not None:
        try:
            changes = update_investor(current_user, investor, data.investor_values(context["foreign_region_ids"]),
                                      data.version)
        except FieldErrors as err:
            db.session.rollback()
            show_errors(form, err.errors)
        except (StaleEdit, StaleDataError):
            db.session.rollback()
            flash(_("保存失败：在您编辑期间，该投资方已被他人修改。他人保存的最新内容列在下方，"
                    "您填写的内容仍保留在表单中；核对后再次保存，将以您填写的内容为准。"), "error")
            fresh = load_investor(investor_id, "investor.edit")
            form.version.data = str(fresh.version_id)
            return render_template("investors/form.html", form=form, investor=fresh, conflict=True), 409
        else:
            flash(_("已保存修改。") if changes else _("没有需要保存的修改。"), "success" if changes else "info")
            return redirect(url_for("investors.view_investor", investor_id=investor.id))
    return render_template("investors/form.html", form=form, investor=investor), 422
