"""Project form. Accepts only its own fields: stage, unit scope, owner are checked on save."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from tracker.core import uscc as uscc_rules
from tracker.core.fields import AmountField, clean_text, fold_width

EARLIEST = date(1990, 1, 1)
LATEST = date(2100, 12, 31)


def upper_uscc(value):
    value = clean_text(value)
    return uscc_rules.normalize(fold_width(value)) if value else value


class SafeDateField(DateField):
    """A date field whose parse error is a friendly message and whose range is sane."""

    def process_formdata(self, valuelist):
        if valuelist and valuelist[0]:
            valuelist = [fold_width(clean_text(valuelist[0]) or "").replace("/", "-")]
        try:
            super().process_formdata(valuelist)
        except ValueError:
            self.data = None
            raise ValueError(_l("日期格式不正确，请按 2024-12-20 的格式填写。")) from None

    def pre_validate(self, form):
        if self.data and not (EARLIEST <= self.data <= LATEST):
            raise ValidationError(_l("日期超出合理范围（1990 至 2100 年）。"))


class SafeIntegerField(IntegerField):
    def process_formdata(self, valuelist):
        if valuelist and valuelist[0]:
            valuelist = [fold_width(clean_text(valuelist[0]) or "").replace(",", "")]
        try:
            super().process_formdata(valuelist)
        except ValueError:
            self.data = None
            raise ValueError(_l("请输入整数。")) from None


def optional_select(raw):
    """'' → None; anything non-numeric becomes -1, which no choice has."""
    if raw in ("", None, "None"):
        return None
    try:
        return int(raw)
    except (TypeError, ValueError):
        return -1


class IdSelectField(SelectField):
    """A select of row ids with an optional blank first choice ("" → None).

    Required-ness is left to validators (InputRequired); a value that is not one of the
    offered ids — e.g. another county's unit — is refused beside the field.
    """

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, coerce=optional_select, choices=[], **kwargs)

    def pre_validate(self, form):
        if self.data is None:
            return
        if self.data not in {value for value, _label in self.choices if value != ""}:
            raise ValidationError(_l("请从列表中选择。"))


class ProjectForm(FlaskForm):
    name = StringField(_l("项目名称"), validators=[DataRequired(_l("请填写项目名称。")),
                       Length(max=100, message=_l("项目名称不能超过 100 个字。"))], filters=[clean_text])
    investor_name = StringField(_l("投资方"), validators=[DataRequired(_l("请填写投资方名称。")),
                                Length(max=100, message=_l("投资方名称不能超过 100 个字。"))], filters=[clean_text])
    investor_uscc = StringField(_l("统一社会信用代码"), validators=[Optional(), Length(max=18, message=_l("统一社会信用代码为 18 位。"))],
                                filters=[upper_uscc])
    source_region_id = IdSelectField(_l("投资方来源地"))
    investor_country = StringField(_l("国家或地区"), validators=[Optional(), Length(max=40)], filters=[clean_text])
    industry_id = IdSelectField(_l("产业"), validators=[InputRequired(_l("请选择产业。"))])
    unit_id = IdSelectField(_l("落户地"), validators=[InputRequired(_l("请选择落户地。"))])
    platform_id = IdSelectField(_l("园区/平台"))
    owner_id = IdSelectField(_l("招商专员"))
    stage = SelectField(_l("当前阶段"), choices=[])
    signed_on = SafeDateField(_l("签约日期"), validators=[Optional()])
    contracted_investment = AmountField(_l("协议投资额（万元）"), validators=[InputRequired(_l("请填写协议投资额。"))])
    fixed_asset_investment = AmountField(_l("固定资产投资（万元）"), validators=[Optional()])
    foreign_investment_usd = AmountField(_l("外资（万美元）"), validators=[Optional()])
    funds_in_place = AmountField(_l("实际到位资金（万元）"), validators=[Optional()])
    land_area_mu = AmountField(_l("用地面积（亩）"), validators=[Optional()], maximum=Decimal("100000"))
    content = TextAreaField(_l("建设内容"), validators=[Optional(), Length(max=2000, message=_l("建设内容不能超过 2000 个字。"))],
                            filters=[clean_text])
    expected_output = AmountField(_l("达产后年产值（万元）"), validators=[Optional()])
    expected_tax = AmountField(_l("达产后年税收（万元）"), validators=[Optional()])
    expected_jobs = SafeIntegerField(_l("新增就业（人）"), validators=[Optional(), NumberRange(min=0, max=1_000_000, message=_l("就业人数应在 0 至 1000000 之间。"))])
    is_provincial_major = BooleanField(_l("省重大产业项目"))
    is_qianxiang_wanyi = BooleanField(_l("千项万亿"))
    is_yrd_major = BooleanField(_l("长三角重大项目库"))
    version = HiddenField()

    def validate_investor_uscc(self, field):
        if field.data and not uscc_rules.is_valid(field.data):
            raise ValidationError(_l("统一社会信用代码无效：应为 18 位，且校验位正确（不含 I、O、S、V、Z）。"))

    def validate(self, extra_validators=None):
        ok = super().validate(extra_validators)
        # Not a validate_signed_on method: Optional() ends the field's chain on an empty value,
        # so an inline validator would never see the missing date it is meant to catch.
        stage = self.stage.data if "stage" in self else getattr(self, "current_stage", "signed")
        if stage != "negotiating" and not self.signed_on.data and not self.signed_on.errors:
            self.signed_on.errors = [_l("已签约的项目请填写签约日期。")]
            ok = False
        return ok

    def validate_fixed_asset_investment(self, field):
        total = self.contracted_investment.data
        if field.data is not None and total is not None and field.data > total:
            raise ValidationError(_l("固定资产投资不能大于协议投资额。"))

    def validate_name(self, field):
        if field.data and len(set(field.data)) == 1 and len(field.data) > 3:
            raise ValidationError(_l("请填写真实的项目名称。"))


# Fields copied from the form onto the Project (after validation); nothing else is assignable.
PROJECT_FIELDS = (
    "name", "industry_id", "unit_id", "platform_id", "owner_id", "signed_on",
    "contracted_investment", "fixed_asset_investment", "foreign_investment_usd", "funds_in_place",
    "land_area_mu", "content", "expected_output", "expected_tax", "expected_jobs",
    "is_provincial_major", "is_qianxiang_wanyi", "is_yrd_major",
)

FIELD_LABELS = {name: getattr(ProjectForm, name).args[0] for name in PROJECT_FIELDS}
FIELD_LABELS.update(
    investor_id=_l("投资方"), stage=_l("阶段"), is_archived=_l("已归档"),
)
