"""Investor (投资方) form: rendering only. The rules are ``schemas.InvestorInput``'s; duplicates
are checked on save (they need the database)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField, TextAreaField

from tracker.core.forms import IdSelectField
from tracker.core.translations import lazy_gettext as _l


class InvestorForm(FlaskForm):
    name = StringField(_l("投资方名称"), render_kw={"maxlength": 100})
    uscc = StringField(_l("统一社会信用代码"), render_kw={"maxlength": 24, "autocomplete": "off",
                                                     "spellcheck": "false"})
    source_region_id = IdSelectField(_l("来源地"))
    country = StringField(_l("国家或地区"), render_kw={"maxlength": 40})
    unit_id = IdSelectField(_l("登记单位"))
    introduction = TextAreaField(_l("企业简介"), render_kw={"maxlength": 2000})
    version = HiddenField()


INVESTOR_FIELDS = ("name", "uscc", "source_region_id", "country", "introduction", "unit_id")

FIELD_LABELS = {name: getattr(InvestorForm, name).args[0] for name in INVESTOR_FIELDS}
