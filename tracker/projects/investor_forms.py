"""Investor (投资方) form. Accepts only its own fields; duplicates are checked on save."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField, TextAreaField
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    Optional,
    ValidationError,
)

from tracker.core import uscc as uscc_rules
from tracker.core.fields import clean_text
from tracker.projects.forms import IdSelectField, upper_uscc

DOMESTIC = "中国"
# Ways people write "China" that must not count as a foreign country.
_CHINA_ALIASES = {"中国", "中华人民共和国", "中国大陆", "china", "prc", "cn", "p.r.c.", "p.r. china"}


def drop_spaces(value):
    """USCCs are often pasted in groups ("9133 1000 …"): inner spaces and hyphens carry nothing."""
    if not value:
        return value
    return "".join(ch for ch in value if not ch.isspace() and ch not in "-－")


def is_china(country: str | None) -> bool:
    return (country or "").strip().lower() in _CHINA_ALIASES


class InvestorForm(FlaskForm):
    name = StringField(_l("投资方名称"), validators=[DataRequired(_l("请填写投资方名称。")),
                       Length(max=100, message=_l("投资方名称不能超过 100 个字。"))], filters=[clean_text])
    uscc = StringField(_l("统一社会信用代码"), validators=[Optional()], filters=[upper_uscc, drop_spaces])
    source_region_id = IdSelectField(_l("来源地"), validators=[InputRequired(_l("请选择来源地。"))])
    country = StringField(_l("国家或地区"), validators=[Length(max=40, message=_l("国家或地区不能超过 40 个字。"))],
                          filters=[clean_text])
    unit_id = IdSelectField(_l("登记单位"), validators=[InputRequired(_l("请选择登记单位。"))])
    introduction = TextAreaField(_l("企业简介"), validators=[Optional(), Length(max=2000, message=_l("企业简介不能超过 2000 个字。"))],
                                 filters=[clean_text])
    version = HiddenField()

    # Filled by the view with the ids of regions flagged is_foreign (境外).
    foreign_region_ids: frozenset[int] = frozenset()

    def validate_uscc(self, field):
        code = field.data
        if not code:
            field.data = None
            return
        if len(code) != 18:
            raise ValidationError(_l("统一社会信用代码应为 18 位（当前 %(n)d 位）。", n=len(code)))
        bad = [ch for ch in code if ch not in uscc_rules.ALPHABET]
        if bad:
            raise ValidationError(_l("统一社会信用代码含无效字符“%(ch)s”（只用数字和大写字母，不含 I、O、S、V、Z）。",
                                     ch=bad[0]))
        if not uscc_rules.is_valid(code):
            raise ValidationError(_l("统一社会信用代码校验位不正确，请逐位核对。"))

    def validate_country(self, field):
        region = self.source_region_id.data
        if region is not None and region in self.foreign_region_ids:
            if not field.data:
                raise ValidationError(_l("来源地为境外时，请填写国家或地区。"))
            if is_china(field.data):
                raise ValidationError(_l("来源地为境外时，国家或地区不能是中国；港澳台请写“中国香港”等。"))
        elif field.data and not is_china(field.data):
            raise ValidationError(_l("境内来源地的投资方，国家或地区应为中国；境外企业请将来源地选为境外。"))

    def values(self) -> dict:
        """The model fields this form may set (nothing else is assignable)."""
        region = self.source_region_id.data
        foreign = region in self.foreign_region_ids
        return {
            "name": self.name.data,
            "uscc": self.uscc.data or None,
            "source_region_id": region,
            "country": self.country.data if foreign else DOMESTIC,
            "introduction": self.introduction.data or "",
            "unit_id": self.unit_id.data,
        }


INVESTOR_FIELDS = ("name", "uscc", "source_region_id", "country", "introduction", "unit_id")

FIELD_LABELS = {name: getattr(InvestorForm, name).args[0] for name in INVESTOR_FIELDS}
