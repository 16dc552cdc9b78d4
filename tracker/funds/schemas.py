"""Input of a funds record (到位资金): the add form and anything else that records one.

Amounts are 万元; users type ``3000`` (万元), ``5.2亿`` / ``5.2亿元``, or pick 亿元 in the unit
box beside the amount. These schemas are the only place for the input's rules (the amount
above zero and in range, the date not after today, the lengths): ``funds.operations`` runs
what people and imports enter through them (add, remove) and keeps only the rules that need
the database (archived projects, the total above the contracted investment, read under the
row lock). The opening record a new project starts with is built from the project's own,
already validated, input.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from tracker.core.formatting import today_local
from tracker.core.input import (
    MAX_AMOUNT,
    Flag,
    Line,
    OneOf,
    Problem,
    Schema,
    Text,
    parse_amount,
    parse_date,
    typed,
)
from tracker.core.translations import gettext as _
from tracker.core.translations import lazy_gettext as _l
from tracker.projects.schemas import UNIT_CODES, amount_in_wan

NOTE_MAX = 500
EVIDENCE_MAX = 200


def parse_funds_amount(raw: Any, unit: str | None = "wan") -> Decimal:
    """万元 from what a user typed (``amount_in_wan``: ``3000``, ``3,000万``, ``5.2亿``), with
    ``unit`` = ``yi`` meaning a bare figure is 亿元. Must be above zero."""
    amount = parse_amount(amount_in_wan(raw, unit))
    if amount <= 0:
        raise Problem(_("到位金额须大于 0。"))
    return amount


def FundsAmount(*, required: Any = None, description: Any = None) -> Any:
    """An amount above zero in 万元, typed as ``parse_funds_amount`` reads it; ``amount_unit``
    (declared before it in the schema) says whether a bare figure is 亿元."""
    return typed(Decimal | None, lambda v, info: parse_funds_amount(v, (info.data or {}).get("amount_unit")),
                 {"type": ["number", "string", "null"], "exclusiveMinimum": 0, "maximum": float(MAX_AMOUNT),
                  "examples": ["3000", "5.2亿"]}, required, None, description)


def _received_on(value: Any, _info: Any) -> date:
    day = parse_date(value)
    if day > today_local():
        raise Problem(_("到账日期不能晚于今天。"))
    return day


def ReceivedOn(*, required: Any = None, description: Any = None) -> Any:
    """A date (as ``Day`` reads it) that is not after today: funds are recorded once they arrived."""
    return typed(date | None, _received_on, {"type": ["string", "null"], "format": "date"},
                 required, None, description)


class FundsInput(Schema):
    received_on: ReceivedOn(required=_l("请填写到账日期。"), description=_l("到账日期（不能晚于今天）"))
    amount_unit: OneOf(UNIT_CODES, description=_l("金额单位：wan（万元，默认）或 yi（亿元）"))
    amount: FundsAmount(required=_l("请填写到位金额。"),
                        description=_l("到位金额（万元；也可写 5.2亿）"))
    note: Text(NOTE_MAX, description=_l("说明"))
    evidence: Line(EVIDENCE_MAX, description=_l("凭证：银行回单号、验资报告编号等"))
    confirm: Flag(description=_l("累计到位资金超过协议投资额时，须确认后才能保存"))


class DeleteInput(Schema):
    reason: Line(200, description=_l("删除原因"))
