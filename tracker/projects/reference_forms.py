"""Reference-data forms and the table of the four kinds the admin screens edit.

One generic set of screens and operations serves every kind; what differs between them is
data in ``KINDS``: the model, the form, the editable fields in display order, their labels,
and which fields must be unique.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, IntegerField, StringField
from wtforms.validators import (
    DataRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from tracker.auth.models import Unit
from tracker.core.forms import IdSelectField
from tracker.core.input import Problem, clean_text, parse_integer
from tracker.core.translations import lazy_gettext as _l
from tracker.projects.models import Industry, Platform, SourceRegion


class SafeIntegerField(IntegerField):
    """An integer typed in any width (１２), parsed by the input layer's one integer parser."""

    def process_formdata(self, valuelist):
        if not valuelist or not valuelist[0]:
            self.data = None
            return
        try:
            self.data = parse_integer(valuelist[0], minimum=-(2**31), maximum=2**31 - 1)
        except Problem:
            self.data = None
            raise ValueError(_l("请输入整数。")) from None


def _lower(value):
    value = clean_text(value)
    return value.lower() if isinstance(value, str) else value


class ReferenceForm(FlaskForm):
    """Fields every kind has. ``fingerprint`` carries the row as it was when the form opened."""

    name = StringField(
        _l("名称"),
        validators=[DataRequired(_l("请填写名称。")), Length(max=60, message=_l("名称最多 60 个字符。"))],
        filters=[clean_text],
    )
    name_en = StringField(
        _l("英文名称"),
        validators=[Length(max=80, message=_l("英文名称最多 80 个字符。"))],
        filters=[clean_text, lambda v: v or ""],
    )
    sort_order = SafeIntegerField(
        _l("排序号"),
        validators=[Optional(), NumberRange(min=-9999, max=9999, message=_l("排序号应在 -9999 至 9999 之间。"))],
        default=0,
    )
    is_active = BooleanField(_l("启用"), default=True)
    fingerprint = HiddenField()


class IndustryForm(ReferenceForm):
    group = StringField(_l("分组"), validators=[Length(max=20, message=_l("分组最多 20 个字符。"))],
                        filters=[clean_text])


class SourceRegionForm(ReferenceForm):
    is_yrd = BooleanField(_l("属于长三角"))
    is_foreign = BooleanField(_l("境外"))

    def validate_is_foreign(self, fld):
        if fld.data and self.is_yrd.data:
            raise ValidationError(_l("境外地区不能同时属于长三角。"))


class PlatformForm(ReferenceForm):
    unit_id = IdSelectField(_l("所在单位"))


class UnitForm(ReferenceForm):
    code = StringField(
        _l("代码"),
        validators=[
            DataRequired(_l("请填写代码。")),
            Length(min=2, max=40, message=_l("代码为 2 至 40 个字符。")),
            Regexp(r"^[a-z0-9_-]+$", message=_l("代码只能包含小写字母、数字、下划线和连字符，例如 huangyan。")),
        ],
        filters=[_lower],
    )


@dataclass(frozen=True)
class RefKind:
    slug: str                      # URL segment
    model: Any
    form: type[ReferenceForm]
    fields: tuple[str, ...]        # editable fields, in display order
    labels: dict[str, Any]         # field -> label (list columns, audit view)
    title: Any                     # e.g. 产业
    unique: tuple[str, ...] = ("name",)
    hints: dict[str, Any] = field(default_factory=dict)

    @property
    def table(self) -> str:
        return self.model.__tablename__

    def values(self, form: ReferenceForm) -> dict[str, Any]:
        out = {name: form[name].data for name in self.fields}
        if out.get("sort_order") is None and "sort_order" in out:
            out["sort_order"] = 0
        return out

    def display(self, row: Any, name: str) -> str:
        value = getattr(row, name)
        if name == "unit_id":
            return row.unit.name if row.unit is not None else "—"
        if isinstance(value, bool):
            return "✓" if value else ""
        return "" if value is None else str(value)


_COMMON = {"name": _l("名称"), "name_en": _l("英文名称"), "sort_order": _l("排序号"), "is_active": _l("启用")}

# The English name is what the English UI shows; left empty, the Chinese name is shown there.
_EN_HINT = {"name_en": _l("英文界面显示的名称；不填则显示中文名称")}

KINDS: dict[str, RefKind] = {
    k.slug: k
    for k in (
        RefKind(
            slug="industries", model=Industry, form=IndustryForm, title=_l("产业"),
            fields=("name", "name_en", "group", "sort_order", "is_active"),
            labels={**_COMMON, "group": _l("分组")},
            hints={"group": _l("如：核心产业、未来产业、其他产业"), **_EN_HINT},
        ),
        RefKind(
            slug="regions", model=SourceRegion, form=SourceRegionForm, title=_l("来源地"),
            fields=("name", "name_en", "sort_order", "is_yrd", "is_foreign", "is_active"),
            labels={**_COMMON, "is_yrd": _l("属于长三角"), "is_foreign": _l("境外")},
            hints=_EN_HINT,
        ),
        RefKind(
            slug="platforms", model=Platform, form=PlatformForm, title=_l("园区/平台"),
            fields=("name", "name_en", "unit_id", "sort_order", "is_active"),
            labels={**_COMMON, "unit_id": _l("所在单位"), "unit": _l("所在单位")},
            hints={"unit_id": _l("不选则各单位均可选用"), **_EN_HINT},
        ),
        RefKind(
            slug="units", model=Unit, form=UnitForm, title=_l("单位"),
            fields=("name", "name_en", "code", "sort_order", "is_active"),
            labels={**_COMMON, "code": _l("代码")},
            unique=("name", "code"),
            hints={"code": _l("英文小写，用于命令行和数据导入，例如 huangyan"), **_EN_HINT},
        ),
    )
}
