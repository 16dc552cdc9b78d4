"""The 通报 form: choose the period (a month or a quarter of a year), the as-of date, the
期号 and the problems needing city coordination; posting it queues the ``bulletin`` job
(``tracker.reports.bulletin``) and sends the user to the job's page, which shows its
progress and then the PDF.

Managers and leaders (``reports.view``); the bulletin covers the user's scope (the city
sees every unit, a county office its own) and carries the user's unit in the masthead.
"""
from __future__ import annotations

from datetime import date

from flask import Blueprint, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice

from tracker.core.formatting import today_local
from tracker.core.forms import mark_required, validate_form
from tracker.core.permissions import require
from tracker.core.translations import gettext as _
from tracker.core.translations import lazy_gettext as _l
from tracker.jobs import views as jobs
from tracker.reports import bulletin as content

bp = Blueprint("bulletin", __name__, url_prefix="/reports/bulletin")


@bp.before_request
@login_required
def _login_first():
    """Every bulletin route needs a signed-in user."""


class BulletinForm(FlaskForm):
    kind = SelectField(_l("通报类型"), choices=[SelectChoice("month", _l("月度通报")), SelectChoice("quarter", _l("季度通报"))],
                       default="month", validate_choice=False)
    year = StringField(_l("年份"), render_kw={"inputmode": "numeric", "maxlength": 4, "autocomplete": "off"})
    month = SelectField(_l("月份（月度通报）"), choices=[SelectChoice(str(m), _l("%(m)d月", m=m)) for m in range(1, 13)],
                        validate_choice=False)
    quarter = SelectField(_l("季度（季度通报）"), choices=[SelectChoice(str(q), _l("第%(q)d季度", q=q)) for q in range(1, 5)],
                          validate_choice=False)
    as_of = StringField(_l("数据截至日期"), render_kw={"type": "date", "autocomplete": "off"})
    issue = StringField(_l("期号"), render_kw={"maxlength": content.ISSUE_MAX, "autocomplete": "off"})
    problems = TextAreaField(_l("需市级协调解决的问题"), render_kw={"rows": 6, "maxlength": content.PROBLEMS_MAX})


def _defaults(form: BulletinForm, today: date) -> None:
    """The last complete month (in January: December of last year)."""
    year, month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    form.kind.data = "month"
    form.year.data = str(year)
    form.month.data = str(month)
    form.quarter.data = str((month - 1) // 3 + 1)


def _render(form: BulletinForm, status: int = 200):
    mark_required(form, content.BulletinInput)
    # The form speaks the UI's language; the PDF's scope (bulletin.scope_name) is always Chinese.
    scope = _("全市") if current_user.is_city else current_user.unit.name
    from tracker.briefs.service import issuer_name

    return render_template("reports/bulletin_form.html", form=form, scope=scope, issuer=issuer_name(current_user),
                           problems_max=content.PROBLEMS_MAX), status


@bp.route("/", methods=["GET", "POST"])
def bulletin_form():
    require("reports.view")
    today = today_local()
    if request.method == "GET":
        form = BulletinForm(formdata=None)
        _defaults(form, today)
        return _render(form)
    form = BulletinForm()
    data = validate_form(form, content.BulletinInput, context={"today": today})
    if data is None:
        return _render(form, 422)
    title = content.bulletin_title(data, content.scope_name(current_user))
    return jobs.start("bulletin", title=title, params=data.params(), back=url_for("bulletin.bulletin_form"))
