"""Input schemas of the stage workflow (see ``tracker.core.input``), built from the stage
table: every value a move may require (``stages.requirement_kinds``) is a field typed by its
kind. Which of them a given move needs, and the date order, are checked by the operation,
which knows the project."""
from __future__ import annotations

from typing import Any

from pydantic import create_model

from tracker.core.input import Amount, Day, Flag, OneOf, Schema, Text, Uscc
from tracker.core.translations import lazy_gettext as _l
from tracker.workflow import stages

MAX_TEXT = 200  # certificate and permit numbers
MAX_REASON = 2000  # reasons and comments

_KINDS = {
    "uscc": lambda r: Uscc(description=r.label),
    "amount": lambda r: Amount(description=r.label),
    "area": lambda r: Amount(maximum=stages.MAX_LAND_MU, description=r.label),
    "date": lambda r: Day(description=r.label),
    "text": lambda r: Text(MAX_REASON if r.key == "reason" else MAX_TEXT, description=r.label),
}


def _requirement_fields() -> dict[str, Any]:
    return {key: (_KINDS[req.kind](req), None) for key, req in stages.requirement_kinds().items()}


StageRequestInput: type[Schema] = create_model(
    "StageRequestCreate",
    __base__=Schema,
    __doc__="阶段变更申请。目标阶段所需字段见阶段表；跨阶段、退回、恢复、终止需 reason；暂缓需 reason 与 expected_resume_on。",
    to_stage=(OneOf(stages.CODES, required=_l("请选择目标阶段。"), description=_l("目标阶段")), None),
    actual_date=(Day(description=_l("实际日期")), None),
    comment=(Text(MAX_REASON, description=_l("补充说明")), None),
    confirm_amounts=(Flag(description=_l("金额核对确认：注册资本大于项目协议投资额时须传 true 才能提交"
                                         "（否则 422，confirm_amounts 说明原因）")), None),
    **_requirement_fields(),
)


class DecisionInput(Schema):
    comment: Text(MAX_REASON, description=_l("审批意见（驳回时必填）"))


REQUIREMENT_KEYS: tuple[str, ...] = tuple(stages.requirement_kinds())
