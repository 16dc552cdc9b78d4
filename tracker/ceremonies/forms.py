"""Ceremony forms: rendering only. The rules are in ``tracker.ceremonies.schemas``; scope and
duplicates are checked by the operations (they need the database)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField, TextAreaField

from tracker.core.forms import IdSelectField
from tracker.core.translations import lazy_gettext as _l


class CeremonyForm(FlaskForm):
    name = StringField(_l("仪式名称"), render_kw={"maxlength": 120})
    held_on = StringField(_l("举办日期"), render_kw={"type": "date"})
    venue = StringField(_l("地点"), render_kw={"maxlength": 120})
    unit_id = IdSelectField(_l("主办单位"))
    version = HiddenField()


class SignatoriesForm(FlaskForm):
    round_no = StringField(_l("签约批次"), default="1",
                           render_kw={"inputmode": "numeric", "size": 3, "maxlength": 2, "class": "num-2"})
    signatory_local = StringField(_l("我方签约人"), render_kw={"maxlength": 60})
    signatory_local_title = StringField(_l("我方签约人职务"), render_kw={"maxlength": 60})
    signatory_investor = StringField(_l("投资方签约人"), render_kw={"maxlength": 60})
    signatory_investor_title = StringField(_l("投资方签约人职务"), render_kw={"maxlength": 60})
    version = HiddenField()


class RoundWitnessesForm(FlaskForm):
    round_witnesses = TextAreaField(_l("各批次见证领导（每行一批：第 1 行为第 1 批）"), render_kw={"rows": 3})
    version = HiddenField()


class AddProjectForm(SignatoriesForm):
    project_id = IdSelectField(_l("签约项目"))


class VersionForm(FlaskForm):
    """CSRF token plus the ceremony version the page showed (move, remove, reorder, delete)."""

    version = HiddenField()
