"""The targets form: rendering only. The rules are in ``tracker.targets.schemas``."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField
from wtforms.fields.choices import SelectChoice

from tracker.core.translations import lazy_gettext as _l

_COUNT = {"inputmode": "numeric", "maxlength": 12, "autocomplete": "off"}
_AMOUNT = {"inputmode": "decimal", "maxlength": 24, "autocomplete": "off"}


def _unit_field() -> SelectField:
    return SelectField(_l("金额单位"), choices=[SelectChoice("yi", _l("亿元")), SelectChoice("wan", _l("万元"))],
                       default="yi", validate_choice=False)


class TargetForm(FlaskForm):
    projects_10yi = StringField(_l("10亿元以上项目数（个）"), render_kw=_COUNT)
    projects_10yi_yrd = StringField(_l("其中来自长三角（个）"), render_kw=_COUNT)
    investment = StringField(_l("协议投资额"), render_kw=_AMOUNT)
    investment_unit = _unit_field()
    started = StringField(_l("开工项目数（个）"), render_kw=_COUNT)
    funds = StringField(_l("实际到位资金"), render_kw=_AMOUNT)
    funds_unit = _unit_field()
    version = HiddenField()
