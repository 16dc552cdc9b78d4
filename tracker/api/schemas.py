"""The API's JSON: strict body parsing, the API names of input fields, and the output models.

Input *rules* are the input layer's (``tracker.core.input`` and each package's ``schemas``):
this module only makes sure a body is JSON (no NaN/Infinity, no 1e309 turned into a float,
no lone surrogates), renames the API's fields to the schemas' names and back, and declares
what the API answers as pydantic models, so the OpenAPI document is generated from the same
classes that build the responses.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from flask import request
from pydantic import BaseModel, ConfigDict, Field

from tracker.core.input import Day, InputError, Integer, Line, Schema, flatten, unflatten_errors
from tracker.core.translations import gettext as _
from tracker.core.translations import lazy_gettext as _l
from tracker.workflow.stages import BY_CODE, CODES, MILESTONE_CODES, MOVE_KINDS, REQUEST_STATUSES


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


def parse_body(*, allow_list: bool = False, optional: bool = False) -> Any:
    """The request body as a JSON object; anything else is a 422 with a clear message.

    Floats are parsed as Decimal (exact; 1e309 stays a number too large rather than becoming
    infinity) and NaN/Infinity, which Python's json accepts by default, are refused.
    """
    raw = request.get_data(cache=True)
    if not raw.strip():
        if optional:
            return {}
        raise invalid({"body": _("请求体为空：请发送 JSON 对象。")})
    try:
        data = json.loads(raw.decode("utf-8"), parse_float=Decimal, parse_constant=_no_constants)
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


class Naming:
    """How the API names a schema's fields: renamed (``industry`` for ``industry_id``) and
    nested (``investor: {name}`` for ``investor_name``)."""

    def __init__(self, names: dict[str, str] | None = None, nested: dict[str, dict[str, str]] | None = None):
        self.names = names or {}
        self.nested = nested or {}
        self.back = {api: field for field, api in self.names.items()}

    def to_schema(self, data: dict[str, Any]) -> dict[str, Any]:
        """The body in the schema's names (a field sent under its schema name stays unknown)."""
        try:
            flat = flatten(data, self.nested)
        except InputError as err:
            raise invalid(err.errors) from None
        out: dict[str, Any] = {}
        for key, value in flat.items():
            if key in self.names:  # the schema's own name is not the API's: refuse it
                out[f"{key} "] = value
            else:
                out[self.back.get(key, key)] = value
        return out

    def to_api(self, errors: dict[str, str]) -> dict[str, str]:
        renamed = {self.names.get(k, k.rstrip()): v for k, v in errors.items()}
        return unflatten_errors(renamed, self.nested)


# --- Output models: what the API answers ---------------------------------------------------

Money = Field(pattern=r"^-?[0-9]+\.[0-9]{2}$", description="万元，两位小数的十进制字符串")
StageCode = Literal[CODES]  # type: ignore[valid-type]


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Named(Out):
    id: int
    name: str


class Person(Out):
    id: int
    username: str
    display_name: str


class ProjectSummary(Out):
    id: int
    name: str
    stage: StageCode
    stage_label: str
    investor: Named
    industry: Named
    unit: Named
    signed_on: date | None
    contracted_investment: str = Money
    is_archived: bool
    version: int
    updated_at: datetime


class InvestorOut(Out):
    id: int
    name: str
    uscc: str | None
    country: str
    source_region: Named | None


class MilestoneOut(Out):
    stage: Literal[MILESTONE_CODES]  # type: ignore[valid-type]
    label: str
    planned_on: date | None
    actual_on: date | None
    days_late: int | None = Field(description="正数为推迟天数，负数为提前")
    is_open: bool


class PendingOut(Out):
    id: int
    to_stage: StageCode
    requested_at: datetime


class MoveOut(Out):
    to_stage: StageCode
    kind: Literal[MOVE_KINDS]  # type: ignore[valid-type]
    needs_reason: bool
    requires: list[str]


class ProjectOut(ProjectSummary):
    investor: InvestorOut  # type: ignore[assignment]
    platform: Named | None
    owner: Person | None
    fixed_asset_investment: str | None = Money
    foreign_investment_usd: str | None = Money
    funds_in_place: str | None = Money
    land_area_mu: str | None = Money
    content: str
    expected_output: str | None = Money
    expected_tax: str | None = Money
    expected_jobs: int | None
    contact_phone: str
    is_provincial_major: bool
    is_qianxiang_wanyi: bool
    is_yrd_major: bool
    company_uscc: str | None
    registered_capital: str | None = Money
    land_certificate_no: str | None
    construction_permit_no: str | None
    annual_output: str | None = Money
    paused_from_stage: StageCode | None
    expected_resume_on: date | None
    status_reason: str
    created_at: datetime
    milestones: list[MilestoneOut]
    pending_request: PendingOut | None
    allowed_moves: list[MoveOut] = Field(description="当前用户现在可以申请的阶段变更")


class AttachmentOut(Out):
    id: int
    original_name: str
    content_type: str
    size_bytes: int


class StageRequestOut(Out):
    id: int
    project_id: int
    kind: Literal[MOVE_KINDS]  # type: ignore[valid-type]
    from_stage: StageCode
    to_stage: StageCode
    status: Literal[REQUEST_STATUSES]  # type: ignore[valid-type]
    actual_date: date
    values: dict[str, Any]
    reason: str
    comment: str
    requested_by: Person
    requested_at: datetime
    decided_by: Person | None
    decided_at: datetime | None
    decision_comment: str
    attachments: list[AttachmentOut]


class AuditEntryOut(Out):
    id: int
    created_at: datetime
    actor: Person | None
    action: str
    object_type: str
    object_id: int | None
    changes: dict[str, Any] = Field(description="{字段: [修改前, 修改后]}，创建时为快照")


class SigningOut(Out):
    position: int = Field(ge=1)
    project_id: int
    name: str
    investor: str
    contracted_investment: str = Money
    signatory_local: str
    signatory_investor: str


class CeremonyOut(Out):
    id: int
    name: str
    date: date
    venue: str
    unit: Named
    version: int
    projects: list[SigningOut] = Field(description="按签约顺序")


class PageOut(Out):
    page: int = Field(ge=1)
    per_page: int = Field(ge=1, le=100)
    pages: int = Field(ge=1)
    total: int = Field(ge=0)


class TotalsPart(Out):
    count: int = Field(description="projects counted once (增资 rows not counted)")
    contracted_investment: str = Money
    funds_in_place: str = Money


class Totals(Out):
    count: int = Field(description="every listed row")
    contracted_investment: str = Money
    signed: TotalsPart = Field(description="signed and later, live (paused included)")
    negotiating: TotalsPart
    terminated: TotalsPart
    increases: int = Field(description="增资 rows (in the sums, not in the counts)")


class ProjectPage(PageOut):
    items: list[ProjectSummary]
    totals: Totals


class AuditPage(PageOut):
    items: list[AuditEntryOut]


class DocumentOut(BaseModel):
    """This document (its own schema, loosely)."""

    model_config = ConfigDict(extra="allow")
    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]


class ErrorDetail(Out):
    code: int = Field(description="HTTP 状态码")
    message: str
    fields: dict[str, str] | None = Field(default=None, description="字段 → 错误说明（422）")


class ErrorOut(Out):
    error: ErrorDetail


# --- Building the output -------------------------------------------------------------------


def money(value: Decimal | None) -> str | None:
    return None if value is None else format(value.quantize(Decimal("0.01")), "f")


def named(obj: Any) -> dict[str, Any] | None:
    return None if obj is None else {"id": obj.id, "name": obj.name}


def person(user: Any) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": user.id, "username": user.username, "display_name": user.display_name}


def dump(model: type[Out], values: dict[str, Any]) -> dict[str, Any]:
    """Check the values against the documented model and give them as JSON types."""
    return model.model_validate(values).model_dump(mode="json", exclude_none=False)


def _summary_values(p: Any) -> dict[str, Any]:
    return {
        "id": p.id, "name": p.name, "stage": p.stage, "stage_label": str(BY_CODE[p.stage].label),
        "investor": named(p.investor), "industry": named(p.industry), "unit": named(p.unit),
        "signed_on": p.signed_on, "contracted_investment": money(p.contracted_investment),
        "is_archived": bool(p.is_archived), "version": p.version_id, "updated_at": p.updated_at,
    }


def project_summary(p: Any) -> dict[str, Any]:
    return dump(ProjectSummary, _summary_values(p))


def project_detail(p: Any, *, milestones: list[dict[str, Any]], pending: Any, moves: list[Any]) -> dict[str, Any]:
    inv = p.investor
    values = _summary_values(p)
    values.update(
        investor={"id": inv.id, "name": inv.name, "uscc": inv.uscc, "country": inv.country,
                  "source_region": named(inv.source_region)},
        platform=named(p.platform), owner=person(p.owner), content=p.content or "",
        expected_jobs=p.expected_jobs, contact_phone=p.contact_phone or "",
        company_uscc=p.company_uscc, land_certificate_no=p.land_certificate_no,
        construction_permit_no=p.construction_permit_no, paused_from_stage=p.paused_from_stage,
        expected_resume_on=p.expected_resume_on, status_reason=p.status_reason or "", created_at=p.created_at,
        milestones=[{"stage": m["stage"], "label": str(m["label"]), "planned_on": m["planned_on"],
                     "actual_on": m["actual_on"], "days_late": m["days_late"], "is_open": bool(m["is_open"])}
                    for m in milestones],
        pending_request=None if pending is None else {
            "id": pending.id, "to_stage": pending.to_stage, "requested_at": pending.requested_at},
        allowed_moves=[{"to_stage": m.to_stage, "kind": m.kind, "needs_reason": m.needs_reason,
                        "requires": [r.key for r in m.requirements]} for m in moves],
    )
    for name in ("fixed_asset_investment", "foreign_investment_usd", "funds_in_place", "land_area_mu",
                 "expected_output", "expected_tax", "registered_capital", "annual_output"):
        values[name] = money(getattr(p, name))
    for name in ("is_provincial_major", "is_qianxiang_wanyi", "is_yrd_major"):
        values[name] = bool(getattr(p, name))
    return dump(ProjectOut, values)


def stage_request(r: Any) -> dict[str, Any]:
    return dump(StageRequestOut, {
        "id": r.id, "project_id": r.project_id, "kind": r.kind, "from_stage": r.from_stage,
        "to_stage": r.to_stage, "status": r.status, "actual_date": r.actual_date, "values": dict(r.values or {}),
        "reason": r.reason or "", "comment": r.comment or "", "requested_by": person(r.requested_by),
        "requested_at": r.requested_at, "decided_by": person(r.decided_by), "decided_at": r.decided_at,
        "decision_comment": r.decision_comment or "",
        "attachments": [{"id": a.id, "original_name": a.original_name, "content_type": a.content_type,
                         "size_bytes": a.size_bytes} for a in r.attachments],
    })


def audit_entry(e: Any) -> dict[str, Any]:
    return dump(AuditEntryOut, {
        "id": e.id, "created_at": e.created_at, "actor": person(e.actor), "action": e.action,
        "object_type": e.object_type, "object_id": e.object_id, "changes": e.changes or {},
    })


def ceremony(c: Any, full: Callable[[Any], bool] = lambda project: True) -> dict[str, Any]:
    """``full(project)``: show its investor and signatories (another unit's project in a
    ceremony one may see shows its name and amount only, as on the page)."""
    return dump(CeremonyOut, {
        "id": c.id, "name": c.name, "date": c.held_on, "venue": c.venue or "", "unit": named(c.unit),
        "version": c.version_id,
        "projects": [
            {"position": s.position, "project_id": s.project_id, "name": s.project.name,
             "investor": s.project.investor.name if full(s.project) else "",
             "contracted_investment": money(s.project.contracted_investment),
             "signatory_local": (s.signatory_local or "") if full(s.project) else "",
             "signatory_investor": (s.signatory_investor or "") if full(s.project) else ""}
            for s in sorted(c.signings, key=lambda s: (s.position, s.id or 0))
        ],
    })


def page_body(page: Any, items: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"items": items, "page": page.page, "per_page": page.per_page, "pages": page.pages,
            "total": page.total, **extra}


# --- The summary (GET /reports/summary) ----------------------------------------------------


class SummaryQuery(Schema):
    """``GET /api/v1/reports/summary``: a signing year, optionally one unit and an as-of date."""

    year: Integer(minimum=1990, maximum=2100, required=_l("请填写签约年份，例如 year=2024。"),
                  description=_l("签约年份（必填）"))
    unit: Line(80, description=_l("落户地单位名称（中文名或英文名）；不填为本人范围内的全部单位"))
    as_of: Day(description=_l("统计截止日（YYYY-MM-DD）：阶段与到位资金按该日计；不填或不早于今天按今天计"))


Fraction = Field(ge=0, le=1, description="0–1 的比率；分母为 0 时为 null")


class SummaryRates(Out):
    landing: float | None = Fraction
    construction: float | None = Fraction
    production: float | None = Fraction
    funds_in_place: float | None = Field(ge=0, description="实际到位资金 / 协议投资额（到位超过协议额时可大于 1）；"
                                                           "协议投资额为 0 时为 null")
    compliance: float | None = Fraction


class SummaryOut(Out):
    year: int
    unit: Named | None = Field(description="所选单位；null 为本人范围内的全部单位")
    as_of: date = Field(description="统计截止日（阶段按该日计）")
    signed: int = Field(ge=0, description="该年签约项目数（每个项目计一次，增资不计；含已终止）")
    by_stage: dict[str, int] = Field(description="阶段代码 → 项目数（暂缓按暂缓前阶段计，终止计入 terminated）")
    contracted_investment: str = Money
    funds_in_place: str = Money
    rates: SummaryRates


def summary(values: dict[str, Any], *, year: int, unit: Any, as_of: date) -> dict[str, Any]:
    return dump(SummaryOut, {
        "year": year, "unit": named(unit), "as_of": as_of, "signed": values["signed"],
        "by_stage": dict(values["by_stage"]), "contracted_investment": money(values["contracted_investment"]),
        "funds_in_place": money(values["funds_in_place"]), "rates": dict(values["rates"]),
    })
