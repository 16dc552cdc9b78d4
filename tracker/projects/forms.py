"""Project form: rendering only (labels, widgets, the values typed). The rules are the input
schemas' (``tracker.projects.schemas``): views validate ``request.form`` through them and
show the messages beside these fields (``tracker.core.forms``)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice

from tracker.core.forms import IdSelectField
from tracker.core.translations import lazy_gettext as _l
from tracker.projects.schemas import PROJECT_FIELDS, ProjectCreate


def _amount(label, placeholder=None):
    render_kw = {"inputmode": "decimal", "maxlength": 24}
    if placeholder:
        render_kw["placeholder"] = placeholder
    return StringField(label, render_kw=render_kw)


def _unit(label):
    """The unit an amount is typed in (the schema converts 亿元 to the stored 万元)."""
    return SelectField(label, choices=[SelectChoice("wan", _l("万元")), SelectChoice("yi", _l("亿元"))],
                       default="wan", validate_choice=False)


class ProjectForm(FlaskForm):
    name = StringField(_l("项目名称"))
    investor_name = StringField(_l("投资方"))
    investor_uscc = StringField(_l("统一社会信用代码"))
    source_region_id = IdSelectField(_l("投资方来源地"))
    investor_country = StringField(_l("国家或地区"))
    industry_id = IdSelectField(_l("产业"))
    unit_id = IdSelectField(_l("落户地"))
    platform_id = IdSelectField(_l("园区/平台"))
    owner_id = IdSelectField(_l("招商专员"))
    stage = SelectField(_l("当前阶段"), choices=[], validate_choice=False)
    signed_on = StringField(_l("签约日期"), render_kw={"type": "date"})
    contracted_investment = _amount(_l("协议投资额（万元）"), _l("如 52000 或 5.2亿"))
    fixed_asset_investment = _amount(_l("固定资产投资（万元）"))
    foreign_investment_usd = _amount(_l("外资（万美元）"))
    # New projects only: the funds already in place become the first funds record; after that
    # the project page records them one by one (tracker.funds) and the edit form has no field.
    funds_in_place = _amount(_l("已到位资金（万元）"))
    land_area_mu = _amount(_l("用地面积（亩）"))
    content = TextAreaField(_l("建设内容"))
    expected_output = _amount(_l("达产后年产值（万元）"))
    expected_tax = _amount(_l("达产后年税收（万元）"))
    expected_jobs = StringField(_l("新增就业（人）"), render_kw={"inputmode": "numeric", "maxlength": 12})
    contact_phone = StringField(_l("项目联系人电话"), render_kw={"inputmode": "tel", "maxlength": 30,
                                                            "autocomplete": "off"})
    is_provincial_major = BooleanField(_l("省重大产业项目"))
    is_qianxiang_wanyi = BooleanField(_l("千项万亿"))
    is_yrd_major = BooleanField(_l("长三角重大项目库"))
    increase_of = StringField(_l("增资项目（原项目名称）"), render_kw={"maxlength": 100, "autocomplete": "off"})
    version = HiddenField()
    contracted_investment_unit = _unit(_l("协议投资额单位"))
    fixed_asset_investment_unit = _unit(_l("固定资产投资单位"))
    funds_in_place_unit = _unit(_l("实际到位资金单位"))
    expected_output_unit = _unit(_l("达产后年产值单位"))
    expected_tax_unit = _unit(_l("达产后年税收单位"))
    # Shown only when the schema warns about an amount (see ``amount_warnings``).
    confirm_amounts = BooleanField(_l("我已核对金额单位"))

    schema = ProjectCreate  # marks the required fields (the asterisk)

    def __init__(self, *args, obj=None, **kwargs):
        super().__init__(*args, obj=obj, **kwargs)
        # Editing: the 增资 link shows as the original project's name (the form types names).
        original_id = getattr(obj, "increase_of_id", None)
        if obj is not None and original_id and not self.increase_of.data:
            from tracker.extensions import db
            from tracker.projects.models import Project

            self.increase_of.data = db.session.execute(
                select(Project.name).where(Project.id == original_id)).scalar_one_or_none() or ""


FIELD_LABELS = {name: getattr(ProjectForm, name).args[0] for name in PROJECT_FIELDS}
FIELD_LABELS.update(
    investor_id=_l("投资方"), stage=_l("阶段"), is_archived=_l("已归档"),
    funds_in_place=_l("实际到位资金（万元）"), increase_of=_l("增资项目（原项目）"),
    # A funds record's entries (tracker.funds) on the project's timeline.
    received_on=_l("到账日期"), amount=_l("到位金额（万元）"), evidence=_l("凭证"), note=_l("说明"),
    attachment=_l("凭证扫描件"), confirmed_above_investment=_l("已确认超过协议投资额"),
)

__all__ = ["FIELD_LABELS", "PROJECT_FIELDS", "ProjectForm"]
