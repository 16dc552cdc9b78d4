"""Ceremony forms: rendering only. The rules are in ``tracker.ceremonies.schemas``; scope and
duplicates are checked by the operations (they need the database)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField

from tracker.core.forms import IdSelectField


class CeremonyForm(FlaskForm):
    name = StringField(_l("仪式名称"), render_kw={"maxlength": 120})
    held_on = StringField(_l("举办日期"), render_kw={"type": "date"})
    venue = StringField(_l("地点"), render_kw={"maxlength": 120})
    unit_id = IdSelectField(_l("主办单位"))
    version = HiddenField()


class SignatoriesForm(FlaskForm):
    signatory_local = StringField(_l("我方签约人"), render_kw={"maxlength": 60})
    signatory_investor = StringField(_l("投资方签约人"), render_kw={"maxlength": 60})
    version = HiddenField()


class AddProjectForm(SignatoriesForm):
    project_id = IdSelectField(_l("签约项目"))


class VersionForm(FlaskForm):
    """CSRF token plus the ceremony version the page showed (move, remove, reorder, delete)."""

    version = HiddenField()
