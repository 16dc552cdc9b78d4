"""Yearly targets per unit (目标任务): the board of target against actual, and the form a
manager sets a unit's targets with.

Viewing needs ``targets.view`` (staff, managers, leaders), within the unit scope (the city
sees every unit and the 全市 row; a county office its own unit). Setting needs
``targets.manage`` (managers) and the unit in scope: another county's unit is 404, a role
that may not set targets 403.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from tracker.auth.models import Unit, User
from tracker.core.formatting import today_local
from tracker.core.forms import mark_required, show_errors, validate_form
from tracker.core.input import MAX_ID, int_arg
from tracker.core.permissions import can, in_scope, require
from tracker.core.translations import gettext as _
from tracker.extensions import db
from tracker.reports.figures import unit_actuals
from tracker.targets import operations as ops
from tracker.targets.forms import TargetForm
from tracker.targets.models import UnitTarget
from tracker.targets.queries import FIGURES, board, progress
from tracker.targets.schemas import WAN_PER_YI, TargetInput

bp = Blueprint("targets", __name__, url_prefix="/targets")

YEARS_BACK, YEARS_AHEAD = 6, 1  # the year picker's range around this year


@bp.before_request
@login_required
def _login_first():
    """Every targets route needs a signed-in user."""


@bp.app_template_global("target_progress")
def target_progress(actual: Any, target: Any, pace: Any = None):
    """For templates/targets/_macros.html ``progress`` (the dashboard and home page use it too)."""
    return progress(actual, target, pace)


def _year_choices(year: int, this_year: int) -> list[int]:
    years = set(range(this_year - YEARS_BACK, this_year + YEARS_AHEAD + 1)) | {year}
    return sorted(years, reverse=True)


@bp.get("/")
def list_targets():
    require("targets.view")
    today = today_local()
    raw = request.args.get("year", "")
    year = int_arg(raw)
    bad_year = raw != "" and not ops.plausible_year(year)
    if not ops.plausible_year(year):
        year = today.year
    may_manage = can("targets.manage")
    result = board(current_user, year, unit_actuals(current_user, year), today=today, may_manage=may_manage)
    previous = ops.targets_for(current_user, year - 1) if not result.any_target and may_manage else {}
    return render_template(
        "targets/list.html", board=result, figures=FIGURES, year=year, this_year=today.year,
        years=_year_choices(year, today.year), bad_year=bad_year, may_manage=may_manage,
        previous_year_set=bool(previous), first_year=ops.FIRST_YEAR, last_year=ops.LAST_YEAR,
    )


# --- setting a unit's targets ----------------------------------------------------------------

def _load_unit(unit_id: int) -> Unit:
    """404 for a unit that does not exist or is outside the user's scope, 403 for a role that
    may not set targets."""
    unit = db.session.get(Unit, unit_id) if 0 < unit_id <= MAX_ID else None
    if unit is None or not in_scope(current_user, unit.id):
        abort(404)
    require("targets.manage")
    return unit


def _amount_text(value: Decimal) -> str:
    """万元 → the form's 亿元 figure without trailing zeros (500000 → "50", 12345 → "1.2345")."""
    return format((Decimal(value) / WAN_PER_YI).normalize(), "f")


def _fill(form: TargetForm, source: UnitTarget) -> None:
    for name in ops.COUNT_FIELDS:
        form[name].data = str(getattr(source, name))
    for name in ops.AMOUNT_FIELDS:
        form[name].data = _amount_text(getattr(source, name))
        form[f"{name}_unit"].data = "yi"


def _render(form: TargetForm, unit: Unit, year: int, target: UnitTarget | None, status: int = 200, *,
            previous: UnitTarget | None = None, **extra):
    mark_required(form, TargetInput)
    updated_by = db.session.get(User, target.updated_by_id) if target is not None and target.updated_by_id else None
    previous = previous or ops.get_target(unit.id, year - 1)  # last year's, unless read already
    return render_template("targets/form.html", form=form, unit=unit, year=year, target=target,
                           updated_by=updated_by, previous=previous, figures=FIGURES, **extra), status


@bp.route("/<int:unit_id>/<int:year>", methods=["GET", "POST"])
def edit_target(unit_id: int, year: int):
    unit = _load_unit(unit_id)
    if not ops.plausible_year(year):
        abort(404)
    target = ops.get_target(unit.id, year)
    if request.method == "GET":
        form = TargetForm(formdata=None)
        copied = None
        if target is not None:
            _fill(form, target)
            form.version.data = str(target.version_id)
        elif request.args.get("copy") == "previous":
            copied = ops.get_target(unit.id, year - 1)
            if copied is not None:
                _fill(form, copied)
        return _render(form, unit, year, target, copied=copied, previous=copied)
    form = TargetForm()
    data = validate_form(form, TargetInput)
    if data is None:
        return _render(form, unit, year, target, 422)
    try:
        _saved, changes = ops.save_target(current_user, unit, year, data.figures(), data.version)
        db.session.flush()  # a racing save or creation surfaces here, inside the try
    except ops.TargetError as err:
        db.session.rollback()
        show_errors(form, err.errors)
        return _render(form, unit, year, ops.get_target(unit.id, year), 422)
    except (ops.StaleTarget, StaleDataError, IntegrityError):
        db.session.rollback()
        fresh = ops.get_target(unit.id, year)
        form.version.data = str(fresh.version_id) if fresh is not None else ""
        flash(_("保存失败：在您编辑期间，该目标已被他人修改。您填写的内容仍保留在下方，"
                "请对照他人保存的目标核对后再保存。"), "error")
        return _render(form, unit, year, fresh, 409, conflict=fresh)
    if not changes:
        flash(_("没有需要保存的修改。"), "info")
    elif unit.is_city:
        flash(_("已保存全市 %(year)d 年目标。", year=year), "success")
    else:
        flash(_("已保存%(unit)s %(year)d 年目标。", unit=unit.name, year=year), "success")
    return redirect(url_for("targets.list_targets", year=year))
