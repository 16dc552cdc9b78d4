"""Ceremony forms. Each accepts only its own fields; scope and duplicates are checked by the
operations (they need the database)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from tracker.core.fields import clean_text
from tracker.projects.forms import IdSelectField, SafeDateField


def one_line(value):
    """Names and signatories are single-line: fold newlines and tabs into spaces."""
    value = clean_text(value)
    if isinstance(value, str):
        value = " ".join(value.split())
    return value


class CeremonyForm(FlaskForm):
    name = StringField(_l("仪式名称"), validators=[DataRequired(_l("请填写签约仪式名称。")),
                       Length(max=120, message=_l("名称不能超过 120 个字。"))], filters=[one_line])
    held_on = SafeDateField(_l("举办日期"), validators=[InputRequired(_l("请填写举办日期。"))])
    venue = StringField(_l("地点"), validators=[Optional(), Length(max=120, message=_l("地点不能超过 120 个字。"))],
                        filters=[one_line])
    unit_id = IdSelectField(_l("主办单位"), validators=[InputRequired(_l("请选择主办单位。"))])
    version = HiddenField()


class AddProjectForm(FlaskForm):
    project_id = IdSelectField(_l("签约项目"), validators=[InputRequired(_l("请选择要加入的项目。"))])
    signatory_local = StringField(_l("我方签约人"), validators=[Optional(), Length(max=60, message=_l("签约人不能超过 60 个字。"))],
                                  filters=[one_line])
    signatory_investor = StringField(_l("投资方签约人"), validators=[Optional(), Length(max=60, message=_l("签约人不能超过 60 个字。"))],
                                     filters=[one_line])
    version = HiddenField()


class SignatoriesForm(FlaskForm):
    signatory_local = StringField(_l("我方签约人"), validators=[Optional(), Length(max=60, message=_l("签约人不能超过 60 个字。"))],
                                  filters=[one_line])
    signatory_investor = StringField(_l("投资方签约人"), validators=[Optional(), Length(max=60, message=_l("签约人不能超过 60 个字。"))],
                                     filters=[one_line])
    version = HiddenField()


class VersionForm(FlaskForm):
    """CSRF token plus the ceremony version the page showed (move, remove, reorder, delete)."""

    version = HiddenField()
