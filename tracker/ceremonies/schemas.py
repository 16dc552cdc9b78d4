"""Input schemas of signing ceremonies (see ``tracker.core.input``): the ceremony screens and
``POST /api/v1/ceremonies`` validate through them. The API names ``held_on`` ``date`` and
``unit_id`` ``unit`` (``API_NAMES``)."""
from __future__ import annotations

from typing import Any

from pydantic_core import PydanticCustomError

from tracker.core.input import MAX_ID, Choice, Day, Integer, Line, Schema, Text, Version, typed
from tracker.core.translations import gettext as _
from tracker.core.translations import lazy_gettext as _l

API_NAMES = {"held_on": "date", "unit_id": "unit"}


class CeremonyInput(Schema):
    name: Line(120, required=_l("请填写签约仪式名称。"),
               description=_l("仪式名称，如 台州市2024(第四季)重大招商项目签约仪式"))
    held_on: Day(required=_l("请填写举办日期。"), description=_l("举办日期"))
    venue: Line(120, description=_l("地点"))
    unit_id: Choice(required=_l("请选择主办单位。"), description=_l("主办单位：名称、代码或编号；默认本人单位"))
    version: Version()


class SignatoriesInput(Schema):
    round_no: Integer(minimum=1, maximum=20, description=_l("签约批次（第几批上台签约，默认 1）"))
    signatory_local: Line(60, description=_l("我方签约人"))
    signatory_local_title: Line(60, description=_l("我方签约人职务"))
    signatory_investor: Line(60, description=_l("投资方签约人"))
    signatory_investor_title: Line(60, description=_l("投资方签约人职务"))
    version: Version()

    def signatories(self) -> dict:
        """The keyword arguments of ``operations.add_project``/``update_signatories``."""
        return {"round_no": self.round_no or 1, "signatory_local": self.signatory_local,
                "signatory_local_title": self.signatory_local_title,
                "signatory_investor": self.signatory_investor,
                "signatory_investor_title": self.signatory_investor_title}


class RoundWitnessesInput(Schema):
    round_witnesses: Text(20 * 201, description=_l("各批次见证领导，每行一批"))
    version: Version()


class AddProjectInput(SignatoriesInput):
    project_id: Choice(required=_l("请选择要加入的项目。"))


def _project_ids(value: Any, _info: Any) -> list[int]:
    """Project ids in signing order: a list of positive integers, not too many (duplicates
    and ids the user may not add are refused by ``operations.set_projects``)."""
    from tracker.ceremonies.operations import MAX_PROJECTS

    def problem(message: str) -> PydanticCustomError:
        return PydanticCustomError("invalid", "{message}", {"message": message})

    if not isinstance(value, list):
        raise problem(_("应为项目编号（整数）的数组。"))
    if len(value) > MAX_PROJECTS:
        raise problem(_("一场签约仪式最多 %(n)d 个项目。", n=MAX_PROJECTS))
    if any(not isinstance(v, int) or isinstance(v, bool) for v in value):
        raise problem(_("应为项目编号（整数）的数组。"))
    out_of_range = [v for v in value if not 0 < v <= MAX_ID]
    if out_of_range:  # no such row can exist, and the database could not even compare it
        raise problem(_("不存在的项目编号：%(v)s", v=str(out_of_range[0])[:30]))
    return value


class CeremonyProjectsInput(Schema):
    project_ids: typed(list[int], _project_ids, {"type": "array", "items": {"type": "integer", "minimum": 1,
                                                                            "maximum": MAX_ID},
                                                 "uniqueItems": True, "description": "项目编号，按签约顺序"},
                       required=_l("请提供 project_ids（按签约顺序排列的项目编号）。"))
    version: Version(description=_l("GET 返回的 version；给出且不一致时返回 409"))
