"""JSON in and out for the API: strict body parsing, type checks, and serialisation.

The *meaning* of a project's fields is checked by the same WTForms ``ProjectForm`` the screens
use (``views.py`` feeds it a MultiDict built here). This module only makes sure the JSON is
JSON (no NaN/Infinity, no 1e309 turned into a float, no absurd nesting), that each value has
an acceptable JSON type, and turns names from the reference lists (产业, 来源地, 落户地, 园区,
招商专员) into the ids the form expects. ``FIELDS`` below is also what ``openapi.py``
documents, so the document and the checks cannot drift apart.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask import request
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from tracker.auth.models import Unit, User
from tracker.core.fields import clean_text
from tracker.extensions import db
from tracker.projects.models import Industry, Platform, Project, SourceRegion
from tracker.workflow.stages import BY_CODE, STAGE_REQUIREMENTS

MAX_ID = 2**31 - 1  # ids are 32-bit integers; larger ones cannot exist (or be queried)
MAX_NAME_LOOKUP = 120  # longer "names" cannot be in a reference list; don't query for them


class ApiError(Exception):
    """An error answered as ``{"error": {"code", "message", "fields"}}``."""

    def __init__(self, status: int, message: str, fields: dict[str, str] | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.fields = fields or {}
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.status, "message": self.message}
        if self.fields:
            error["fields"] = self.fields
        return {"error": error}


def invalid(fields: dict[str, str], message: str | None = None) -> ApiError:
    return ApiError(422, message or _("请求中有不正确的字段，请查看 fields。"), fields)


# --- The request body ------------------------------------------------------------------------


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def parse_body(*, allow_list: bool = False) -> Any:
    """The request body as a JSON object; anything else is a 422 with a clear message.

    Floats are parsed as Decimal (exact; 1e309 stays a number too large rather than becoming
    infinity) and NaN/Infinity, which Python's json accepts by default, are refused.
    """
    raw = request.get_data(cache=True)
    if not raw.strip():
        raise invalid({"body": _("请求体为空：请发送 JSON 对象。")})
    try:
        text = raw.decode("utf-8")
        data = json.loads(text, parse_float=Decimal, parse_constant=_no_constants)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise invalid({"body": _("请求体不是有效的 JSON（须为 UTF-8 编码，且不能含 NaN 或 Infinity）。")}) from None
    if not isinstance(data, dict) and not (allow_list and isinstance(data, list)):
        raise invalid({"body": _("请求体须为 JSON 对象。")})
    if _has_lone_surrogate(data):
        # "\ud800" is valid JSON but not encodable text: the database would fail on it.
        raise invalid({"body": _("请求体含有无效的 Unicode 字符（孤立的代理项）。")})
    return data


def _has_lone_surrogate(data: Any) -> bool:
    stack = [data]  # iterative: the document may be nested as deep as json allows
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False


def refuse_unknown(data: dict[str, Any], allowed: set[str] | frozenset[str], prefix: str = "") -> None:
    unknown = [k for k in data if k not in allowed]
    if unknown:
        raise invalid({f"{prefix}{k}"[:80]: _("未知字段。") for k in unknown[:20]})


# --- Value kinds ----------------------------------------------------------------------------

_TYPE_MESSAGES = {
    "text": lambda: _("应为字符串。"),
    "amount": lambda: _("应为数字或数字字符串（万元）。"),
    "integer": lambda: _("应为整数。"),
    "date": lambda: _("应为日期字符串，例如 2024-12-20。"),
    "bool": lambda: _("应为 true 或 false。"),
    "ref": lambda: _("应为名称（字符串）或编号（整数）。"),
    "id": lambda: _("应为整数。"),
}


class WrongType(ValueError):
    pass


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def number_text(value: Decimal | int) -> str:
    """Plain digits for a JSON number, bounded so 1e999999999 cannot become a huge string.

    Out-of-range magnitudes become a value the form itself refuses as too large / too many
    decimals, so the user sees the form's usual message.
    """
    if isinstance(value, int):
        return str(value)
    if not value.is_finite():
        raise WrongType()
    if value.adjusted() > 20:
        return "1" + "0" * 21
    if value.as_tuple().exponent < -20:  # type: ignore[operator]
        return "0." + "0" * 20 + "1"
    return format(value, "f")


def to_form_text(kind: str, value: Any) -> str | None:
    """The text a browser would have sent for this JSON value (None: leave the field empty)."""
    if value is None:
        return None
    if kind in ("text", "date"):
        if not isinstance(value, str):
            raise WrongType()
        return value
    if kind in ("amount", "integer"):
        if isinstance(value, bool):
            raise WrongType()
        if isinstance(value, str):
            return value
        if _is_int(value) or isinstance(value, Decimal):
            return number_text(value)
        raise WrongType()
    if kind == "bool":
        if not isinstance(value, bool):
            raise WrongType()
        return "y" if value else None
    raise AssertionError(kind)


# --- Reference lists: a name (or code) or an id ---------------------------------------------


@dataclass(frozen=True)
class Ref:
    model: Any
    columns: tuple[str, ...]  # name-like columns matched exactly
    noun: Callable[[], str]


REFS: dict[str, Ref] = {
    "industry": Ref(Industry, ("name",), lambda: _("产业")),
    "source_region": Ref(SourceRegion, ("name",), lambda: _("来源地")),
    "unit": Ref(Unit, ("name", "code"), lambda: _("单位")),
    "platform": Ref(Platform, ("name",), lambda: _("园区/平台")),
    "owner": Ref(User, ("username",), lambda: _("用户")),
}


def resolve_ref(ref_name: str, value: Any) -> str | None:
    """The id (as form text) for a reference given by id or by name; WrongType/LookupError."""
    if value is None:
        return None
    if _is_int(value):
        return str(value) if 0 < value <= MAX_ID else "-1"  # an id no choice has
    if not isinstance(value, str):
        raise WrongType()
    name = clean_text(value)  # no NUL (PostgreSQL refuses it in a query) or other controls
    if not name:
        return None
    ref = REFS[ref_name]
    if len(name) > MAX_NAME_LOOKUP:
        raise LookupError(name)
    for column in ref.columns:
        found = db.session.execute(
            select(ref.model.id).where(getattr(ref.model, column) == name)
        ).scalar_one_or_none()
        if found is not None:
            return str(found)
    raise LookupError(name)


# --- Project input: API field → (kind, form field) ------------------------------------------


@dataclass(frozen=True)
class Field:
    kind: str  # text | amount | integer | date | bool | ref
    form: str  # the ProjectForm field it feeds
    ref: str = ""  # for kind == "ref": key in REFS
    max_length: int | None = None
    description: str = ""


FIELDS: dict[str, Field] = {
    "name": Field("text", "name", max_length=100, description="项目名称"),
    "industry": Field("ref", "industry_id", "industry", description="产业：名称（如 新能源）或编号"),
    "unit": Field("ref", "unit_id", "unit", description="落户地：单位名称（如 黄岩区）、代码或编号；默认本人单位"),
    "platform": Field("ref", "platform_id", "platform", description="园区/平台：名称或编号"),
    "owner": Field("ref", "owner_id", "owner", description="招商专员：用户名或编号"),
    "signed_on": Field("date", "signed_on", description="签约日期（在谈项目可空）"),
    "contracted_investment": Field("amount", "contracted_investment", description="协议投资额（万元）"),
    "fixed_asset_investment": Field("amount", "fixed_asset_investment", description="固定资产投资（万元）"),
    "foreign_investment_usd": Field("amount", "foreign_investment_usd", description="外资（万美元）"),
    "funds_in_place": Field("amount", "funds_in_place", description="实际到位资金（万元）"),
    "land_area_mu": Field("amount", "land_area_mu", description="用地面积（亩）"),
    "content": Field("text", "content", max_length=2000, description="建设内容"),
    "expected_output": Field("amount", "expected_output", description="达产后年产值（万元）"),
    "expected_tax": Field("amount", "expected_tax", description="达产后年税收（万元）"),
    "expected_jobs": Field("integer", "expected_jobs", description="新增就业（人）"),
    "is_provincial_major": Field("bool", "is_provincial_major", description="省重大产业项目"),
    "is_qianxiang_wanyi": Field("bool", "is_qianxiang_wanyi", description="千项万亿"),
    "is_yrd_major": Field("bool", "is_yrd_major", description="长三角重大项目库"),
}

INVESTOR_FIELDS: dict[str, Field] = {
    "name": Field("text", "investor_name", max_length=100, description="投资方名称（已登记的同名投资方将被复用）"),
    "uscc": Field("text", "investor_uscc", max_length=18, description="统一社会信用代码"),
    "source_region": Field("ref", "source_region_id", "source_region",
                           description="来源地：名称（如 江苏、台州市内）或编号；新投资方必填"),
    "country": Field("text", "investor_country", max_length=40, description="国家或地区"),
}

CREATE_ONLY = {"stage"}  # negotiating | signed; later stages only through the workflow
PATCH_ONLY = {"version"}

# Form field → API field name (for error messages).
FORM_TO_API = {f.form: name for name, f in FIELDS.items()}
FORM_TO_API.update({f.form: f"investor.{name}" for name, f in INVESTOR_FIELDS.items()})
FORM_TO_API.update(stage="stage", version="version")


def api_errors(form_errors: dict[str, Any]) -> dict[str, str]:
    """WTForms/operation errors keyed by form field → first message keyed by API field."""
    out: dict[str, str] = {}
    for name, messages in form_errors.items():
        if isinstance(messages, (list, tuple)):
            message = str(messages[0]) if messages else ""
        else:
            message = str(messages)
        out[FORM_TO_API.get(name, name)] = message
    return out


def _put(md: MultiDict, errors: dict[str, str], api_name: str, spec: Field, value: Any) -> None:
    try:
        text = resolve_ref(spec.ref, value) if spec.kind == "ref" else to_form_text(spec.kind, value)
    except WrongType:
        errors[api_name] = _TYPE_MESSAGES[spec.kind]()
        return
    except LookupError:
        errors[api_name] = _("没有名为“%(name)s”的%(noun)s，请使用参考列表中的名称或编号。",
                             name=str(value)[:40], noun=REFS[spec.ref].noun())
        return
    md.pop(spec.form, None)
    if text is not None:
        md[spec.form] = text
    elif spec.kind == "text":
        md[spec.form] = ""  # what a browser sends for an emptied text box


def project_formdata(data: dict[str, Any], *, base: MultiDict | None = None,
                     mode: str = "create") -> MultiDict:
    """MultiDict for ProjectForm from a JSON object (merged over ``base`` for PATCH)."""
    allowed = set(FIELDS) | {"investor"} | (CREATE_ONLY if mode == "create" else PATCH_ONLY)
    refuse_unknown(data, allowed)
    md = MultiDict(base or {})
    if mode == "create":  # a browser posts every text box, empty or not
        for spec in (*FIELDS.values(), *INVESTOR_FIELDS.values()):
            if spec.kind == "text":
                md[spec.form] = ""
    errors: dict[str, str] = {}
    for api_name, spec in FIELDS.items():
        if api_name in data:
            _put(md, errors, api_name, spec, data[api_name])
    investor = data.get("investor", {} if mode == "patch" else None)
    if investor is None:
        errors["investor"] = _("请填写投资方（包含 name，新投资方还需 source_region）。")
    elif investor is not None and not isinstance(investor, dict):
        errors["investor"] = _("应为对象，例如 {\"name\": \"…\", \"source_region\": \"江苏\"}。")
    elif investor:
        refuse_unknown(investor, set(INVESTOR_FIELDS), "investor.")
        if mode == "patch" and "name" in investor and investor.get("name") != md.get("investor_name"):
            # A different company: its USCC/region are its own, not the previous investor's.
            for key in ("investor_uscc", "source_region_id", "investor_country"):
                md.pop(key, None)
        for api_name, spec in INVESTOR_FIELDS.items():
            if api_name in investor:
                _put(md, errors, f"investor.{api_name}", spec, investor[api_name])
    if mode == "create":
        stage = data.get("stage", "signed")
        if stage is not None and not isinstance(stage, str):
            errors["stage"] = _TYPE_MESSAGES["text"]()
        else:
            md["stage"] = stage or "signed"
    if errors:
        raise invalid(errors)
    return md


def project_as_formdata(project: Project) -> MultiDict:
    """The project's current values as the edit form would show them (the PATCH base)."""
    md: MultiDict = MultiDict()
    for spec in FIELDS.values():
        value = getattr(project, spec.form)
        if spec.kind == "text" and not value:
            md[spec.form] = ""
        elif value is None or value is False:
            continue
        if value is True:
            md[spec.form] = "y"
        elif isinstance(value, Decimal):
            md[spec.form] = format(value, "f")
        elif isinstance(value, date):
            md[spec.form] = value.isoformat()
        else:
            md[spec.form] = str(value)
    md["investor_name"] = project.investor.name
    if project.investor.uscc:
        md["investor_uscc"] = project.investor.uscc
    return md


# --- Workflow input --------------------------------------------------------------------------

REQUIREMENT_KINDS: dict[str, str] = {}
for _reqs in STAGE_REQUIREMENTS.values():
    for _req in _reqs:
        REQUIREMENT_KINDS[_req.key] = _req.kind
REQUIREMENT_KINDS.setdefault("expected_resume_on", "date")
REQUIREMENT_KINDS.setdefault("reason", "text")
STAGE_REQUEST_FIELDS = {"to_stage", "actual_date", "comment"} | set(REQUIREMENT_KINDS)


def stage_request_input(data: dict[str, Any]) -> dict[str, Any]:
    """Arguments for workflow.operations.request_move from a JSON body (types only)."""
    refuse_unknown(data, STAGE_REQUEST_FIELDS)
    errors: dict[str, str] = {}
    to_stage = data.get("to_stage")
    if to_stage is None:
        errors["to_stage"] = _("请选择目标阶段。")
    elif not isinstance(to_stage, str):
        errors["to_stage"] = _TYPE_MESSAGES["text"]()
    for key in ("actual_date", "comment"):
        if data.get(key) is not None and not isinstance(data[key], str):
            errors[key] = _TYPE_MESSAGES["date" if key == "actual_date" else "text"]()
    values: dict[str, Any] = {}
    for key, kind in REQUIREMENT_KINDS.items():
        if key not in data or data[key] is None:
            continue
        form_kind = "amount" if kind in ("amount", "area") else ("date" if kind == "date" else "text")
        try:
            values[key] = to_form_text(form_kind, data[key])
        except WrongType:
            errors[key] = _TYPE_MESSAGES[form_kind]()
    if errors:
        raise invalid(errors)
    return {
        "to_stage": to_stage,
        "actual_date": data.get("actual_date"),
        "values": values,
        "reason": values.pop("reason", "") or "",
        "comment": data.get("comment") or "",
    }


def comment_input(data: dict[str, Any]) -> str:
    refuse_unknown(data, {"comment"})
    comment = data.get("comment")
    if comment is not None and not isinstance(comment, str):
        raise invalid({"comment": _TYPE_MESSAGES["text"]()})
    return comment or ""


# --- Ceremony input --------------------------------------------------------------------------

CEREMONY_FIELDS = {"name": "name", "date": "held_on", "venue": "venue", "unit": "unit_id"}
CEREMONY_KINDS = {"name": "text", "date": "date", "venue": "text", "unit": "ref"}


def ceremony_formdata(data: dict[str, Any]) -> MultiDict:
    """MultiDict for CeremonyForm from ``{name, date, venue, unit}`` (unit by name, code or id)."""
    refuse_unknown(data, set(CEREMONY_FIELDS))
    md: MultiDict = MultiDict({"name": "", "venue": ""})
    errors: dict[str, str] = {}
    for api_name, form_name in CEREMONY_FIELDS.items():
        if api_name not in data:
            continue
        spec = Field(CEREMONY_KINDS[api_name], form_name, "unit" if api_name == "unit" else "")
        _put(md, errors, api_name, spec, data[api_name])
    if errors:
        raise invalid(errors)
    return md


def ceremony_projects_input(data: Any) -> tuple[list[Any], int | None]:
    """``[ids…]`` or ``{"project_ids": [ids…], "version": n}`` → (ids, version)."""
    version = None
    if isinstance(data, dict):
        refuse_unknown(data, {"project_ids", "version"})
        version = data.get("version")
        if version is not None and (not _is_int(version)):
            raise invalid({"version": _TYPE_MESSAGES["integer"]()})
        if "project_ids" not in data:
            raise invalid({"project_ids": _("请提供 project_ids（按签约顺序排列的项目编号）。")})
        data = data["project_ids"]
    if not isinstance(data, list):
        raise invalid({"project_ids": _("应为项目编号（整数）的数组。")})
    out_of_range = [v for v in data if _is_int(v) and not 0 < v <= MAX_ID]
    if out_of_range:  # no such row can exist, and the database could not even compare it
        raise invalid({"project_ids": _("不存在的项目编号：%(v)s", v=str(out_of_range[0])[:30])})
    return data, version


# --- Output ---------------------------------------------------------------------------------


def money(value: Decimal | None) -> str | None:
    return None if value is None else format(value.quantize(Decimal("0.01")), "f")


def iso(value: date | datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def named(obj: Any) -> dict[str, Any] | None:
    return None if obj is None else {"id": obj.id, "name": obj.name}


def person(user: User | None) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": user.id, "username": user.username, "display_name": user.display_name}


def stage_label(code: str | None) -> str | None:
    if code is None:
        return None
    stage = BY_CODE.get(code)
    return str(stage.label) if stage else code


def project_summary(p: Project) -> dict[str, Any]:
    return {
        "id": p.id,
        "name": p.name,
        "stage": p.stage,
        "stage_label": stage_label(p.stage),
        "investor": named(p.investor),
        "industry": named(p.industry),
        "unit": named(p.unit),
        "signed_on": iso(p.signed_on),
        "contracted_investment": money(p.contracted_investment),
        "is_archived": bool(p.is_archived),
        "version": p.version_id,
        "updated_at": iso(p.updated_at),
    }


def project_detail(p: Project, *, milestones: list[dict[str, Any]], pending: Any,
                   moves: list[Any]) -> dict[str, Any]:
    inv = p.investor
    out = project_summary(p)
    out.update({
        "investor": {
            "id": inv.id, "name": inv.name, "uscc": inv.uscc, "country": inv.country,
            "source_region": named(inv.source_region),
        },
        "platform": named(p.platform),
        "owner": person(p.owner),
        "fixed_asset_investment": money(p.fixed_asset_investment),
        "foreign_investment_usd": money(p.foreign_investment_usd),
        "funds_in_place": money(p.funds_in_place),
        "land_area_mu": money(p.land_area_mu),
        "content": p.content or "",
        "expected_output": money(p.expected_output),
        "expected_tax": money(p.expected_tax),
        "expected_jobs": p.expected_jobs,
        "is_provincial_major": bool(p.is_provincial_major),
        "is_qianxiang_wanyi": bool(p.is_qianxiang_wanyi),
        "is_yrd_major": bool(p.is_yrd_major),
        "company_uscc": p.company_uscc,
        "registered_capital": money(p.registered_capital),
        "land_certificate_no": p.land_certificate_no,
        "construction_permit_no": p.construction_permit_no,
        "annual_output": money(p.annual_output),
        "paused_from_stage": p.paused_from_stage,
        "expected_resume_on": iso(p.expected_resume_on),
        "status_reason": p.status_reason or "",
        "created_at": iso(p.created_at),
        "milestones": [
            {
                "stage": m["stage"], "label": str(m["label"]), "planned_on": iso(m["planned_on"]),
                "actual_on": iso(m["actual_on"]), "days_late": m["days_late"], "is_open": bool(m["is_open"]),
            }
            for m in milestones
        ],
        "pending_request": None if pending is None else {
            "id": pending.id, "to_stage": pending.to_stage, "requested_at": iso(pending.requested_at),
        },
        "allowed_moves": [
            {
                "to_stage": m.to_stage, "kind": m.kind, "needs_reason": m.needs_reason,
                "requires": [r.key for r in m.requirements],
            }
            for m in moves
        ],
    })
    return out


def stage_request(r: Any) -> dict[str, Any]:
    return {
        "id": r.id,
        "project_id": r.project_id,
        "kind": r.kind,
        "from_stage": r.from_stage,
        "to_stage": r.to_stage,
        "status": r.status,
        "actual_date": iso(r.actual_date),
        "values": dict(r.values or {}),
        "reason": r.reason or "",
        "comment": r.comment or "",
        "requested_by": person(r.requested_by),
        "requested_at": iso(r.requested_at),
        "decided_by": person(r.decided_by),
        "decided_at": iso(r.decided_at),
        "decision_comment": r.decision_comment or "",
        "attachments": [
            {"id": a.id, "original_name": a.original_name, "content_type": a.content_type,
             "size_bytes": a.size_bytes}
            for a in r.attachments
        ],
    }


def audit_entry(e: Any) -> dict[str, Any]:
    return {
        "id": e.id,
        "created_at": iso(e.created_at),
        "actor": person(e.actor),
        "action": e.action,
        "object_type": e.object_type,
        "object_id": e.object_id,
        "changes": e.changes or {},
    }


def ceremony(c: Any) -> dict[str, Any]:
    return {
        "id": c.id,
        "name": c.name,
        "date": iso(c.held_on),
        "venue": c.venue or "",
        "unit": named(c.unit),
        "version": c.version_id,
        "projects": [
            {"position": s.position, "project_id": s.project_id, "name": s.project.name,
             "investor": s.project.investor.name,
             "contracted_investment": money(s.project.contracted_investment),
             "signatory_local": s.signatory_local or "", "signatory_investor": s.signatory_investor or ""}
            for s in sorted(c.signings, key=lambda s: (s.position, s.id or 0))
        ],
    }


def page_body(page: Any, items: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"items": items, "page": page.page, "per_page": page.per_page, "pages": page.pages,
            "total": page.total, **extra}
