"""Input schemas of projects and investors (see ``tracker.core.input``).

The project form, ``POST/PATCH /api/v1/projects``, the seed loader and the ledger import all
validate through ``ProjectCreate`` / ``ProjectUpdate``; the investor screens through
``InvestorInput``. Field names are the form's; the API nests the investor's fields
(``API_NESTED``) and names references without ``_id`` (``API_NAMES``).
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import model_validator

from tracker.core.input import (
    MAX_AMOUNT,
    Amount,
    Choice,
    Day,
    Flag,
    InputError,
    Integer,
    Line,
    OneOf,
    Pattern,
    Phone,
    Problem,
    Schema,
    Text,
    Uscc,
    Version,
    clean_text,
    fold_width,
    parse_amount,
)
from tracker.core.translations import gettext as _
from tracker.core.translations import lazy_gettext as _l
from tracker.workflow.stages import CODES, INITIAL_CODES, MAIN_CODES, MAX_LAND_MU

# The list's size bands and sorts (their SQL lives in projects/queries.py, which checks these).
SIZE_BAND_CODES = ("10", "50", "100")
SORT_CODES = ("signed", "signed_asc", "investment", "investment_asc", "name", "updated", "late")

DOMESTIC = "中国"
# Ways people write "China" that must not count as a foreign country.
_CHINA_ALIASES = {"中国", "中华人民共和国", "中国大陆", "china", "prc", "cn", "p.r.c.", "p.r. china"}


# Money fields in 万元 that may be typed in 亿元 (外资 stays 万美元).
YUAN_AMOUNT_FIELDS = ("contracted_investment", "fixed_asset_investment", "funds_in_place",
                      "expected_output", "expected_tax")
UNIT_CODES = ("wan", "yi")
WAN_PER_YI = Decimal(10000)
_UNIT_HELP = _l("所填金额的单位：wan（万元，默认）或 yi（亿元，按 ×10000 存为万元）")
_YI_SUFFIXES = ("亿元", "亿")
_WAN_SUFFIXES = ("万元", "万")


def amount_in_wan(raw: Any, unit: str | None) -> Any:
    """A 万元 amount as typed: ``3000``, ``3,000万``, ``5.2亿`` / ``5.2亿元`` (a unit written in
    the box wins over the unit select), a bare figure being 亿元 when ``unit`` is ``yi``. 亿元
    come back as 万元 (×10000, 2 decimals); a figure in 万元 comes back as typed (its unit
    removed) for the field's own check."""
    yi = unit == "yi"
    if isinstance(raw, str):
        text = fold_width(clean_text(raw)).strip().replace(" ", "")
        for suffixes, in_yi in ((_YI_SUFFIXES, True), (_WAN_SUFFIXES, False)):
            written = next((suffix for suffix in suffixes if text.endswith(suffix)), None)
            if written:
                raw, yi = text[: -len(written)], in_yi
                if not raw:  # a unit with no figure ("万") is not a blank
                    raise Problem(_("请输入数字，例如 12500 或 12500.5。"))
                break
    if not yi:
        return raw
    return (parse_amount(raw, maximum=MAX_AMOUNT / WAN_PER_YI, places=6) * WAN_PER_YI).quantize(Decimal("0.01"))


# A contracted investment below this (万元) is almost always 亿元 typed as 万元.
PLAUSIBLE_MIN_INVESTMENT = Decimal(100)


def amount_warnings(investment: Decimal | None, **others: Decimal | None) -> dict[str, str]:
    """Amounts that are probably a unit mistake, by field: the one rule behind the project
    form, the API and the stage request's registered capital. ``others`` are amounts that
    should not exceed the contracted investment (到位资金, 注册资本). Saving anyway needs
    ``confirm_amounts``."""
    warnings: dict[str, str] = {}
    if investment is not None and investment < PLAUSIBLE_MIN_INVESTMENT:
        warnings["contracted_investment"] = _(
            "协议投资额仅 %(v)s 万元（%(yi)s 亿元），不足 100 万元：是否把亿元填成了万元？",
            v=f"{investment:.2f}", yi=f"{investment / WAN_PER_YI:.4f}")
    for name, value in others.items():
        if value is not None and investment is not None and value > investment:
            warnings[name] = _("%(v)s 万元大于协议投资额（%(total)s 万元），请核对金额单位。",
                               v=f"{value:.2f}", total=f"{investment:.2f}")
    return warnings


def confirm_message() -> str:
    return _("金额可能填错了单位。核对无误后请勾选“我已核对金额单位”再保存（API：传 \"confirm_amounts\": true）。")


def is_china(country: str | None) -> bool:
    return (country or "").strip().lower() in _CHINA_ALIASES


class ProjectFields(Schema):
    """What create and edit share. Labels live with the form; messages live here."""

    name: Text(100, required=_l("请填写项目名称。"), description=_l("项目名称"))
    investor_name: Text(100, required=_l("请填写投资方名称。"),
                        description=_l("投资方名称（本单位已登记的同名投资方将被复用）"))
    investor_uscc: Uscc()
    source_region_id: Choice(description=_l("投资方来源地：名称（如 江苏）或编号；新投资方必填"))
    investor_country: Text(40, description=_l("国家或地区"))
    industry_id: Choice(required=_l("请选择产业。"), description=_l("产业：名称（如 新能源）或编号"))
    unit_id: Choice(required=_l("请选择落户地。"), description=_l("落户地：单位名称（如 黄岩区）、代码或编号"))
    platform_id: Choice(description=_l("园区/平台：名称或编号"))
    owner_id: Choice(description=_l("招商专员：用户名或编号"))
    signed_on: Day(description=_l("签约日期（在谈项目可空）"))
    contracted_investment: Amount(required=_l("请填写协议投资额。"), description=_l("协议投资额（万元）"))
    fixed_asset_investment: Amount(description=_l("固定资产投资（万元）"))
    foreign_investment_usd: Amount(description=_l("外资（万美元）"))
    # Only a new project's opening amount (its first funds record); afterwards the records
    # on the project page keep the sum (``tracker.funds``), so an edit refuses it.
    funds_in_place: Amount(description=_l("已到位资金（万元）：仅新建项目时可填，记为第一笔到位资金；"
                                          "此后在项目页面逐笔登记（修改时不能直接改）"))
    land_area_mu: Amount(maximum=MAX_LAND_MU, description=_l("用地面积（亩）"))
    content: Text(2000, description=_l("建设内容"))
    expected_output: Amount(description=_l("达产后年产值（万元）"))
    expected_tax: Amount(description=_l("达产后年税收（万元）"))
    expected_jobs: Integer(maximum=1_000_000, description=_l("新增就业（人）"))
    contact_phone: Phone(description=_l("项目联系人电话"))
    is_provincial_major: Flag(description=_l("省重大产业项目"))
    is_qianxiang_wanyi: Flag(description=_l("千项万亿"))
    is_yrd_major: Flag(description=_l("长三角重大项目库"))
    # The unit each money field was typed in (see ``_to_wan``); amounts are stored in 万元.
    contracted_investment_unit: OneOf(UNIT_CODES, description=_UNIT_HELP)
    fixed_asset_investment_unit: OneOf(UNIT_CODES, description=_UNIT_HELP)
    funds_in_place_unit: OneOf(UNIT_CODES, description=_UNIT_HELP)
    expected_output_unit: OneOf(UNIT_CODES, description=_UNIT_HELP)
    expected_tax_unit: OneOf(UNIT_CODES, description=_UNIT_HELP)

    @model_validator(mode="before")
    @classmethod
    def _to_wan(cls, data: Any) -> Any:
        """A value typed in 亿元 (``<field>_unit`` = ``yi``, or ``5.2亿`` written in the box)
        becomes 万元 (×10000, 2 decimals) before the field's own check, so the range check
        and everything after see 万元. Typing 5.2 meaning 亿元 is the 10,000× mistake this
        guards against."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        errors: dict[str, str] = {}
        for name in YUAN_AMOUNT_FIELDS:
            raw = data.get(name)
            if raw is None or (isinstance(raw, str) and not raw.strip()):
                continue
            try:
                data[name] = amount_in_wan(raw, data.get(f"{name}_unit"))
            except Problem as problem:
                errors[name] = str(problem)
        if errors:
            raise InputError(errors)
        return data

    @model_validator(mode="wrap")
    @classmethod
    def _between_fields(cls, data: Any, handler: Any, info: Any) -> Any:
        values = handler(data)
        errors: dict[str, str] = {}
        stage = getattr(values, "stage", None) or (info.context or {}).get("current_stage", "signed")
        if stage != "negotiating" and values.signed_on is None:
            errors["signed_on"] = _("已签约的项目请填写签约日期。")
        total = values.contracted_investment
        fixed = values.fixed_asset_investment
        if fixed is not None and total is not None and fixed > total:
            errors["fixed_asset_investment"] = _("固定资产投资不能大于协议投资额。")
        if values.name and len(set(values.name)) == 1 and len(values.name) > 3:
            errors["name"] = _("请填写真实的项目名称。")
        if errors:
            raise InputError(errors)
        return values

    def project_values(self) -> dict[str, Any]:
        """The Project columns this input may set (nothing else is assignable), with the
        opening funds in place (the seed loader stores it; ``create_project`` makes it the
        first funds record)."""
        values = self.values(*PROJECT_FIELDS)
        values["funds_in_place"] = self.funds_in_place if self.funds_in_place is not None else Decimal("0.00")
        return values

    def investor_values(self) -> dict[str, Any]:
        return {"name": self.investor_name, "uscc": self.investor_uscc,
                "source_region_id": self.source_region_id, "country": self.investor_country}


class AmountGuard(Schema):
    """Implausible amounts (``amount_warnings``) are refused until the user confirms them."""

    confirm_amounts: Flag(description=_l("金额核对确认：协议投资额不足 100 万元或到位资金大于协议投资额时，"
                                         "须传 true 才能保存（否则 422，confirm_amounts 说明原因）"))

    @model_validator(mode="after")
    def _plausible_amounts(self) -> Any:
        if not self.confirm_amounts:
            warnings = amount_warnings(self.contracted_investment, funds_in_place=self.funds_in_place)
            if warnings:
                raise InputError({**warnings, "confirm_amounts": confirm_message()})
        return self


_INCREASE_HELP = _l("增资项目：原项目名称（同一落户地的较早项目；留空或 null 表示不是增资）。"
                    "增资项目只按增加的投资额计入合计，不重复计入项目个数")


class ProjectCreate(AmountGuard, ProjectFields):
    stage: OneOf(INITIAL_CODES, description=_l("当前阶段：negotiating（在谈）或 signed（已签约，默认）"))
    increase_of: Line(100, description=_INCREASE_HELP)

    def project_values(self) -> dict[str, Any]:
        """Also ``increase_of`` (the original project's name, resolved by the operation)."""
        return {**super().project_values(), "increase_of": self.increase_of}

    @model_validator(mode="before")
    @classmethod
    def _default_stage(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("stage") in (None, ""):
            data = {**data, "stage": "signed"}
        return data


class ProjectUpdate(AmountGuard, ProjectFields):
    version: Version()
    increase_of: Line(100, description=_l("增资项目：原项目名称（同一落户地的较早项目）；不传则不变，"
                                          "空字符串或 null 表示不是增资"))

    @model_validator(mode="before")
    @classmethod
    def _funds_are_records(cls, data: Any) -> Any:
        """实际到位资金 is the sum of the funds records: an edit cannot set it."""
        if isinstance(data, dict):
            raw = data.get("funds_in_place")
            if raw is not None and not (isinstance(raw, str) and not raw.strip()):
                raise InputError({"funds_in_place": funds_not_editable_message()})
        return data

    def project_values(self) -> dict[str, Any]:
        """The columns an edit sets: never the funds (the records' sum); ``increase_of`` only
        when given (a PATCH that leaves it out keeps the link; "" or null removes it)."""
        values = self.values(*PROJECT_FIELDS)
        if "increase_of" in self.model_fields_set:
            values["increase_of"] = self.increase_of
        return values


def funds_not_editable_message() -> str:
    return _("实际到位资金是到位资金记录的合计，不能在修改项目时直接改：请在项目页面的“实际到位资金”"
             "栏目中逐笔登记或删除。")


# Fields copied onto the Project (after validation); nothing else is assignable.
PROJECT_FIELDS: tuple[str, ...] = tuple(
    name for name in ProjectFields.model_fields
    if name not in ("investor_name", "investor_uscc", "source_region_id", "investor_country",
                    "funds_in_place")  # the funds records' sum (tracker.funds), not edited
    and not name.endswith("_unit")
)

# The API's names: references without ``_id``; the investor as a nested object.
API_NAMES = {"industry_id": "industry", "unit_id": "unit", "platform_id": "platform", "owner_id": "owner"}
API_NESTED = {"investor": {"name": "investor_name", "uscc": "investor_uscc",
                           "source_region": "source_region_id", "country": "investor_country"}}


class InvestorInput(Schema):
    name: Text(100, required=_l("请填写投资方名称。"))
    uscc: Uscc()
    source_region_id: Choice(required=_l("请选择来源地。"))
    country: Text(40)
    unit_id: Choice(required=_l("请选择登记单位。"))
    introduction: Text(2000)
    version: Version()

    @model_validator(mode="wrap")
    @classmethod
    def _country_matches_region(cls, data: Any, handler: Any, info: Any) -> Any:
        values = handler(data)
        foreign = values.source_region_id in (info.context or {}).get("foreign_region_ids", ())
        if foreign:
            if not values.country:
                raise InputError({"country": _("来源地为境外时，请填写国家或地区。")})
            if is_china(values.country):
                raise InputError({"country": _("来源地为境外时，国家或地区不能是中国；港澳台请写“中国香港”等。")})
        elif values.country and not is_china(values.country):
            raise InputError({"country": _("境内来源地的投资方，国家或地区应为中国；境外企业请将来源地选为境外。")})
        return values

    def investor_values(self, foreign_region_ids: frozenset[int] | set[int]) -> dict[str, Any]:
        foreign = self.source_region_id in foreign_region_ids
        return {"name": self.name, "uscc": self.uscc, "source_region_id": self.source_region_id,
                "country": self.country if foreign else DOMESTIC, "introduction": self.introduction,
                "unit_id": self.unit_id}



class ProjectListQuery(Schema):
    """The list's filters as ``GET /api/v1/projects`` takes them (the screen is lenient and
    drops what it does not understand; the API says which parameter is wrong)."""

    q: Text(50, description=_l("项目或投资方名称关键词"))
    stage: OneOf(CODES, description=_l("阶段"))
    unit: Integer(maximum=999_999_999, description=_l("落户地单位编号"))
    industry: Integer(maximum=999_999_999, description=_l("产业编号"))
    region: Pattern(r"yrd|[0-9]{1,9}", description=_l("来源地编号，或 yrd 表示长三角"))
    size: OneOf(SIZE_BAND_CODES, description=_l("规模：10=10亿元以上，50=50亿元以上，100=百亿级"))
    year: Integer(minimum=1990, maximum=2100, description=_l("签约年份"))
    signed_from: Day(description=_l("签约日期起（含）"))
    signed_to: Day(description=_l("签约日期止（含）"))
    as_of: Day(description=_l("统计截止日：阶段按该日计"))
    reached: OneOf(MAIN_CODES[1:], description=_l("已达到该阶段或之后（暂缓按暂缓前阶段计，终止不计）"))
    lit: OneOf(("any", "yellow", "red"), description=_l("亮灯：any=黄灯或红灯"))
    archived: OneOf(("0", "1"), description=_l("1 = 已归档项目（仅科室负责人）"))
    sort: OneOf(SORT_CODES, description=_l("排序"))
    page: Integer(minimum=1, maximum=100_000, description=_l("页码"))
    per_page: Integer(minimum=1, maximum=100, description=_l("每页条数（默认 20）"))


class PageQuery(Schema):
    page: Integer(minimum=1, maximum=100_000, description=_l("页码"))
    per_page: Integer(minimum=1, maximum=100, description=_l("每页条数（默认 20）"))
