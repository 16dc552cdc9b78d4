"""Input schema of a unit's yearly targets (see ``tracker.core.input``).

The two amounts are stored in 万元 but people set targets in 亿元 ("Σ 协议投资额 500亿"): each
amount has a unit selector (``<field>_unit``: ``yi`` = 亿元, the form's default, or ``wan``),
and a unit typed with the number wins over the selector ("50亿", "50 亿元", "5000万"), so
"50亿" never becomes 50 万元 whatever the selector says.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import ValidationInfo, model_validator

from tracker.core.input import (
    MAX_AMOUNT,
    InputError,
    Integer,
    OneOf,
    Schema,
    Version,
    clean_text,
    fold_width,
    parse_amount,
    typed,
)
from tracker.core.translations import gettext as _
from tracker.core.translations import lazy_gettext as _l
from tracker.projects.schemas import WAN_PER_YI

MAX_COUNT = 100_000  # projects a unit could plausibly target in a year (far above any real one)
UNIT_CODES = ("yi", "wan")
# Units people type after the number, longest first; the factor turns the number into 万元.
_SUFFIXES = (("亿元", WAN_PER_YI), ("亿", WAN_PER_YI), ("万元", Decimal(1)), ("万", Decimal(1)))
_UNIT_HELP = _l("所填金额的单位：yi（亿元，默认）或 wan（万元）；数字后写明“亿”或“万”时以所写为准")


def to_wan(raw: Any, unit: str | None) -> Decimal:
    """A typed amount in 万元: "50亿" → 500000, "5000万" → 5000, 50 with ``unit`` = yi (or no
    unit) → 500000, 50 with ``unit`` = wan → 50. Raises ``Problem`` with the field's message
    (negative, not a number, too large, too many decimals)."""
    factor = Decimal(1) if unit == "wan" else WAN_PER_YI
    if isinstance(raw, str):
        text = fold_width(clean_text(raw)).replace(" ", "")
        for suffix, suffix_factor in _SUFFIXES:
            if text.endswith(suffix):
                text, factor = text[: -len(suffix)], suffix_factor
                break
        raw = text
    # 亿元 keep 6 decimals (= 0.01 万元); the range check is on the value in 万元.
    number = parse_amount(raw, maximum=MAX_AMOUNT / factor, places=6 if factor == WAN_PER_YI else 2)
    return (number * factor).quantize(Decimal("0.01"))


def TargetAmount(*, required: Any, description: Any) -> Any:
    """An amount typed in 亿元 or 万元 (``<field>_unit``, declared before it), as 万元."""

    def parse(value: Any, info: ValidationInfo) -> Decimal:
        return to_wan(value, (info.data or {}).get(f"{info.field_name}_unit"))

    return typed(Decimal | None, parse,
                 {"type": ["number", "string", "null"], "minimum": 0, "maximum": float(MAX_AMOUNT)},
                 required, None, description)


class TargetInput(Schema):
    """The five figures of one unit's year (the unit and the year come from the URL)."""

    # The units first: an amount's parser reads its unit from the fields validated before it.
    investment_unit: OneOf(UNIT_CODES, description=_UNIT_HELP)
    funds_unit: OneOf(UNIT_CODES, description=_UNIT_HELP)
    projects_10yi: Integer(maximum=MAX_COUNT, required=_l("请填写10亿元以上项目数（没有目标填 0）。"),
                           description=_l("10亿元以上项目数（个）"))
    projects_10yi_yrd: Integer(maximum=MAX_COUNT, required=_l("请填写其中来自长三角的项目数（没有目标填 0）。"),
                               description=_l("其中来自长三角的项目数（个）"))
    investment: TargetAmount(required=_l("请填写协议投资额目标（没有目标填 0）。"),
                             description=_l("协议投资额目标（按所选单位，存为万元）"))
    started: Integer(maximum=MAX_COUNT, required=_l("请填写开工项目数（没有目标填 0）。"),
                     description=_l("开工项目数（个）"))
    funds: TargetAmount(required=_l("请填写到位资金目标（没有目标填 0）。"),
                        description=_l("实际到位资金目标（按所选单位，存为万元）"))
    version: Version()

    @model_validator(mode="after")
    def _yrd_within_total(self) -> TargetInput:
        if (self.projects_10yi is not None and self.projects_10yi_yrd is not None
                and self.projects_10yi_yrd > self.projects_10yi):
            raise InputError({"projects_10yi_yrd": _("其中来自长三角的项目数不能多于10亿元以上项目数（%(n)d 个）。",
                                                     n=self.projects_10yi)})
        return self

    def figures(self) -> dict[str, Any]:
        """The five figures, as ``operations.save_target`` takes them."""
        return self.values("projects_10yi", "projects_10yi_yrd", "investment", "started", "funds")
