"""The OpenAPI 3.1 document served at ``GET /api/v1/openapi.json``.

Written as data, generated from the same tables the API validates with: the project fields and
their JSON kinds (``schemas.FIELDS``), the stage codes and requirements (``workflow.stages``),
the list filters (``projects.queries``). Field limits mirror the WTForms form; the form remains
the authority (e.g. it trims spaces and control characters before counting).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from tracker.api import schemas
from tracker.ceremonies.operations import MAX_PROJECTS as CEREMONY_MAX_PROJECTS
from tracker.ceremonies.operations import NAME_MAX as CEREMONY_NAME_MAX
from tracker.ceremonies.operations import VENUE_MAX as CEREMONY_VENUE_MAX
from tracker.projects.queries import SIZE_BANDS, SORTS
from tracker.workflow.operations import MAX_REASON, MAX_TEXT
from tracker.workflow.stages import CODES, INITIAL_CODES, MILESTONE_CODES, STAGES

AMOUNT_MAX = 10_000_000_000  # AmountField's default maximum (万元)
AREA_MAX = 100_000  # land_area_mu, 亩
JOBS_MAX = 1_000_000

NULL = {"type": "null"}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, NULL]}


def _input_schema(name: str, field: schemas.Field, *, required: bool) -> dict[str, Any]:
    """JSON Schema for one input field, as ``schemas.to_form_text``/``resolve_ref`` accept it."""
    kind = field.kind
    if kind == "text":
        out: dict[str, Any] = {"type": "string"}
        if field.max_length:
            out["maxLength"] = field.max_length
        if required:  # spaces and control characters are dropped before the form checks it
            out["pattern"] = r"[^\s\x00-\x1f\x7f]"
    elif kind == "amount":
        maximum = AREA_MAX if name == "land_area_mu" else AMOUNT_MAX
        out = {"type": ["number", "string"], "minimum": 0, "maximum": maximum,
               "pattern": r"^\s*[0-9０-９][0-9０-９,，]*(\.[0-9０-９]{1,2})?\s*$"}
    elif kind == "integer":
        out = {"type": ["integer", "string"], "minimum": 0, "maximum": JOBS_MAX, "pattern": r"^\s*[0-9]{1,7}\s*$"}
    elif kind == "date":
        out = {"type": "string", "format": "date"}
    elif kind == "bool":
        return {"type": "boolean", "description": field.description}
    elif kind == "ref":
        out = {"type": ["integer", "string"], "minimum": 1, "maxLength": schemas.MAX_NAME_LOOKUP}
    else:  # pragma: no cover - a new kind must be documented here
        raise AssertionError(kind)
    if not required:
        types = out["type"] if isinstance(out["type"], list) else [out["type"]]
        out["type"] = [*types, "null"]
    out["description"] = field.description
    return out


def _project_input(mode: str) -> dict[str, Any]:
    required_fields = {"name", "industry", "contracted_investment"} if mode == "create" else set()
    props = {name: _input_schema(name, f, required=name in required_fields) for name, f in schemas.FIELDS.items()}
    investor_props = {name: _input_schema(name, f, required=name == "name")
                      for name, f in schemas.INVESTOR_FIELDS.items()}
    props["investor"] = {
        "type": "object",
        "additionalProperties": False,
        "properties": investor_props,
        "description": "投资方：已登记的同名投资方将被复用；新投资方须给出来源地",
    }
    if mode == "create":
        props["investor"]["required"] = ["name"]
        props["stage"] = {"type": "string", "enum": list(INITIAL_CODES), "default": "signed",
                          "description": "初始阶段；此后只能通过阶段变更申请改变"}
        return {"type": "object", "additionalProperties": False, "properties": props,
                "required": ["name", "investor", "industry", "contracted_investment"]}
    props["version"] = {"type": "integer", "description": "GET 返回的 version；不一致时返回 409"}
    return {"type": "object", "additionalProperties": False, "properties": props, "required": ["version"],
            "description": "只修改给出的字段；null 清空可选字段"}


def _stage_request_input() -> dict[str, Any]:
    props: dict[str, Any] = {
        "to_stage": {"type": "string", "enum": list(CODES), "description": "目标阶段（英文代码）"},
        "actual_date": {"type": "string", "format": "date", "description": "实际日期，不晚于今天"},
        "comment": {"type": ["string", "null"], "maxLength": MAX_REASON},
    }
    for key, kind in schemas.REQUIREMENT_KINDS.items():
        if kind in ("amount", "area"):
            props[key] = {"type": ["number", "string", "null"], "minimum": 0,
                          "maximum": AREA_MAX if kind == "area" else AMOUNT_MAX}
        elif kind == "date":
            props[key] = {"type": ["string", "null"], "format": "date"}
        elif kind == "uscc":
            props[key] = {"type": ["string", "null"], "minLength": 18, "maxLength": 18,
                          "pattern": "^[0-9A-HJ-NPQRTUWXY]{18}$"}
        else:
            props[key] = {"type": ["string", "null"], "maxLength": MAX_REASON if key == "reason" else MAX_TEXT}
    lines = []
    for stage in STAGES:
        reqs = [r.key for r in schemas.STAGE_REQUIREMENTS.get(stage.code, ())]
        if reqs:
            lines.append(f"{stage.code}: {', '.join(reqs)}")
    description = ("阶段变更申请。目标阶段所需字段：" + "; ".join(lines)
                   + "。跨阶段、退回、恢复、终止需 reason；暂缓需 reason 与 expected_resume_on。")
    return {"type": "object", "additionalProperties": False, "properties": props,
            "required": ["to_stage", "actual_date"], "description": description}


def _components() -> dict[str, Any]:
    named = {"type": "object", "additionalProperties": False, "required": ["id", "name"],
             "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}}
    person = {"type": "object", "additionalProperties": False, "required": ["id", "username", "display_name"],
              "properties": {"id": {"type": "integer"}, "username": {"type": "string"},
                             "display_name": {"type": "string"}}}
    money = {"type": "string", "pattern": r"^-?[0-9]+\.[0-9]{2}$", "description": "万元，两位小数的十进制字符串"}
    money_or_null = {"type": ["string", "null"], "pattern": r"^-?[0-9]+\.[0-9]{2}$"}
    date = {"type": "string", "format": "date"}
    date_or_null = {"type": ["string", "null"], "format": "date"}
    datetime = {"type": "string", "format": "date-time"}
    stage = {"type": "string", "enum": list(CODES)}

    summary_props = {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "stage": stage,
        "stage_label": {"type": "string"},
        "investor": _ref("Named"),
        "industry": _ref("Named"),
        "unit": _ref("Named"),
        "signed_on": date_or_null,
        "contracted_investment": money,
        "is_archived": {"type": "boolean"},
        "version": {"type": "integer"},
        "updated_at": datetime,
    }
    investor = {
        "type": "object", "additionalProperties": False,
        "required": ["id", "name", "uscc", "country", "source_region"],
        "properties": {"id": {"type": "integer"}, "name": {"type": "string"},
                       "uscc": {"type": ["string", "null"]}, "country": {"type": "string"},
                       "source_region": _nullable(_ref("Named"))},
    }
    milestone = {
        "type": "object", "additionalProperties": False,
        "required": ["stage", "label", "planned_on", "actual_on", "days_late", "is_open"],
        "properties": {"stage": {"type": "string", "enum": list(MILESTONE_CODES)}, "label": {"type": "string"},
                       "planned_on": date_or_null, "actual_on": date_or_null,
                       "days_late": {"type": ["integer", "null"], "description": "正数为推迟天数，负数为提前"},
                       "is_open": {"type": "boolean"}},
    }
    detail_props = {
        **summary_props,
        "investor": _ref("Investor"),
        "platform": _nullable(_ref("Named")),
        "owner": _nullable(_ref("Person")),
        "fixed_asset_investment": money_or_null,
        "foreign_investment_usd": money_or_null,
        "funds_in_place": money_or_null,
        "land_area_mu": money_or_null,
        "content": {"type": "string"},
        "expected_output": money_or_null,
        "expected_tax": money_or_null,
        "expected_jobs": {"type": ["integer", "null"]},
        "is_provincial_major": {"type": "boolean"},
        "is_qianxiang_wanyi": {"type": "boolean"},
        "is_yrd_major": {"type": "boolean"},
        "company_uscc": {"type": ["string", "null"]},
        "registered_capital": money_or_null,
        "land_certificate_no": {"type": ["string", "null"]},
        "construction_permit_no": {"type": ["string", "null"]},
        "annual_output": money_or_null,
        "paused_from_stage": {"type": ["string", "null"], "enum": [*CODES, None]},
        "expected_resume_on": date_or_null,
        "status_reason": {"type": "string"},
        "created_at": datetime,
        "milestones": {"type": "array", "items": _ref("Milestone")},
        "pending_request": {"anyOf": [{
            "type": "object", "additionalProperties": False, "required": ["id", "to_stage", "requested_at"],
            "properties": {"id": {"type": "integer"}, "to_stage": stage, "requested_at": datetime},
        }, NULL]},
        "allowed_moves": {"type": "array", "items": {
            "type": "object", "additionalProperties": False,
            "required": ["to_stage", "kind", "needs_reason", "requires"],
            "properties": {"to_stage": stage,
                           "kind": {"type": "string", "enum": ["advance", "skip", "back", "pause", "resume",
                                                              "terminate"]},
                           "needs_reason": {"type": "boolean"},
                           "requires": {"type": "array", "items": {"type": "string"}}},
        }, "description": "当前用户现在可以申请的阶段变更"},
    }
    stage_request = {
        "type": "object", "additionalProperties": False,
        "required": ["id", "project_id", "kind", "from_stage", "to_stage", "status", "actual_date", "values",
                     "reason", "comment", "requested_by", "requested_at", "decided_by", "decided_at",
                     "decision_comment", "attachments"],
        "properties": {
            "id": {"type": "integer"}, "project_id": {"type": "integer"},
            "kind": {"type": "string"}, "from_stage": stage, "to_stage": stage,
            "status": {"type": "string", "enum": ["pending", "approved", "rejected", "withdrawn"]},
            "actual_date": date, "values": {"type": "object"},
            "reason": {"type": "string"}, "comment": {"type": "string"},
            "requested_by": _ref("Person"), "requested_at": datetime,
            "decided_by": _nullable(_ref("Person")), "decided_at": {"type": ["string", "null"], "format": "date-time"},
            "decision_comment": {"type": "string"},
            "attachments": {"type": "array", "items": {
                "type": "object", "additionalProperties": False,
                "required": ["id", "original_name", "content_type", "size_bytes"],
                "properties": {"id": {"type": "integer"}, "original_name": {"type": "string"},
                               "content_type": {"type": "string"}, "size_bytes": {"type": "integer"}},
            }},
        },
    }
    audit_entry = {
        "type": "object", "additionalProperties": False,
        "required": ["id", "created_at", "actor", "action", "object_type", "object_id", "changes"],
        "properties": {"id": {"type": "integer"}, "created_at": datetime, "actor": _nullable(_ref("Person")),
                       "action": {"type": "string"}, "object_type": {"type": "string"},
                       "object_id": {"type": ["integer", "null"]},
                       "changes": {"type": "object", "description": "{字段: [修改前, 修改后]}，创建时为快照"}},
    }

    def page_of(item: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        props = {"items": {"type": "array", "items": _ref(item)}, "page": {"type": "integer", "minimum": 1},
                 "per_page": {"type": "integer", "minimum": 1, "maximum": 100},
                 "pages": {"type": "integer", "minimum": 1}, "total": {"type": "integer", "minimum": 0},
                 **(extra or {})}
        return {"type": "object", "additionalProperties": False, "required": list(props), "properties": props}

    ceremony_signing_props = {
        "position": {"type": "integer", "minimum": 1}, "project_id": {"type": "integer"},
        "name": {"type": "string"}, "investor": {"type": "string"}, "contracted_investment": money,
        "signatory_local": {"type": "string"}, "signatory_investor": {"type": "string"},
    }
    ceremony_props = {
        "id": {"type": "integer"}, "name": {"type": "string"}, "date": date, "venue": {"type": "string"},
        "unit": _ref("Named"), "version": {"type": "integer"},
        "projects": {"type": "array", "description": "按签约顺序", "items": {
            "type": "object", "additionalProperties": False, "required": list(ceremony_signing_props),
            "properties": ceremony_signing_props}},
    }
    project_ids = {"type": "array", "maxItems": CEREMONY_MAX_PROJECTS, "uniqueItems": True,
                   "items": {"type": "integer", "minimum": 1, "maximum": schemas.MAX_ID},
                   "description": "项目编号，按签约顺序"}

    error = {
        "type": "object", "additionalProperties": False, "required": ["error"],
        "properties": {"error": {
            "type": "object", "additionalProperties": False, "required": ["code", "message"],
            "properties": {"code": {"type": "integer", "description": "HTTP 状态码"},
                           "message": {"type": "string"},
                           "fields": {"type": "object", "additionalProperties": {"type": "string"},
                                      "description": "字段 → 错误说明（422）"}},
        }},
    }
    return {
        "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                           "description": "flask users token USERNAME 生成的令牌"}},
        "schemas": {
            "Error": error,
            "Named": named,
            "Person": person,
            "Investor": investor,
            "Milestone": milestone,
            "ProjectSummary": {"type": "object", "additionalProperties": False, "required": list(summary_props),
                               "properties": summary_props},
            "Project": {"type": "object", "additionalProperties": False, "required": list(detail_props),
                        "properties": detail_props},
            "ProjectPage": page_of("ProjectSummary", {"totals": {
                "type": "object", "additionalProperties": False, "required": ["count", "contracted_investment"],
                "properties": {"count": {"type": "integer"}, "contracted_investment": money}}}),
            "StageRequest": stage_request,
            "AuditEntry": audit_entry,
            "AuditPage": page_of("AuditEntry"),
            "ProjectCreate": _project_input("create"),
            "ProjectPatch": _project_input("patch"),
            "StageRequestCreate": _stage_request_input(),
            "Ceremony": {"type": "object", "additionalProperties": False, "required": list(ceremony_props),
                         "properties": ceremony_props},
            "CeremonyCreate": {
                "type": "object", "additionalProperties": False, "required": ["name", "date"],
                "properties": {
                    "name": {"type": "string", "maxLength": CEREMONY_NAME_MAX, "pattern": r"[^\s\x00-\x1f\x7f]",
                             "description": "仪式名称，如 台州市2024(第四季)重大招商项目签约仪式"},
                    "date": {"type": "string", "format": "date", "description": "举办日期"},
                    "venue": {"type": ["string", "null"], "maxLength": CEREMONY_VENUE_MAX},
                    "unit": {"type": ["integer", "string", "null"], "minimum": 1,
                             "maxLength": schemas.MAX_NAME_LOOKUP,
                             "description": "主办单位：名称、代码或编号；默认本人单位"},
                },
            },
            "CeremonyProjects": {"anyOf": [project_ids, {
                "type": "object", "additionalProperties": False, "required": ["project_ids"],
                "properties": {"project_ids": project_ids,
                               "version": {"type": ["integer", "null"],
                                           "description": "GET 返回的 version；给出且不一致时返回 409"}},
            }], "description": "该仪式签约项目的完整列表（按签约顺序）；未列出的项目将被移除"},
            "Decision": {"type": "object", "additionalProperties": False,
                         "properties": {"comment": {"type": ["string", "null"], "maxLength": MAX_REASON}}},
        },
        "responses": {
            code: {"description": text, "content": {"application/json": {"schema": _ref("Error")}}}
            for code, text in {
                "Unauthorized": "缺少、无效或已吊销的令牌（或用户已停用）",
                "Forbidden": "角色不允许（或不能审批自己的申请）",
                "NotFound": "不存在或不在本单位范围内",
                "Conflict": "版本过期、已被处理或已有待审批申请",
                "Invalid": "字段错误，见 error.fields",
                "TooLarge": "请求体过大",
            }.items()
        },
    }


def _errors(*names: str) -> dict[str, Any]:
    codes = {"Unauthorized": "401", "Forbidden": "403", "NotFound": "404", "Conflict": "409",
             "TooLarge": "413", "Invalid": "422"}
    return {codes[n]: {"$ref": f"#/components/responses/{n}"} for n in ("Unauthorized", *names)}


def _ok(schema: str, status: str = "200", description: str = "成功") -> dict[str, Any]:
    return {status: {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}}


def _body(schema: str, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": _ref(schema)}}}


def _id_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
    # (no maximum: an id beyond any row is simply 404)


def _paging_params() -> list[dict[str, Any]]:
    return [
        {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100000, "default": 1}},
        {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}},
    ]


def _list_params() -> list[dict[str, Any]]:
    q = lambda name, schema, desc: {"name": name, "in": "query", "schema": schema, "description": desc}
    return [
        q("q", {"type": "string", "maxLength": 50}, "项目或投资方名称关键词"),
        q("stage", {"type": "string", "enum": list(CODES)}, "阶段"),
        q("unit", {"type": "integer", "minimum": 0, "maximum": 999_999_999}, "落户地单位编号"),
        q("industry", {"type": "integer", "minimum": 0, "maximum": 999_999_999}, "产业编号"),
        q("region", {"type": "string", "pattern": "^(yrd|[0-9]{1,9})$"}, "来源地编号，或 yrd 表示长三角"),
        q("size", {"type": "string", "enum": list(SIZE_BANDS)}, "规模：10=10亿元以上，50=50亿元以上，100=百亿级"),
        q("year", {"type": "integer", "minimum": 1990, "maximum": 2100}, "签约年份"),
        q("archived", {"type": "string", "enum": ["0", "1"]}, "1 = 已归档项目（仅科室负责人）"),
        q("sort", {"type": "string", "enum": list(SORTS)}, "排序"),
        *_paging_params(),
    ]


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    """The document (built once from static tables: the same for every user)."""
    project_id = _id_param("project_id")
    request_id = _id_param("request_id")
    ceremony_id = _id_param("ceremony_id")
    decision = {
        "requestBody": _body("Decision", required=False),
        "responses": {**_ok("StageRequest"), **_errors("Forbidden", "NotFound", "Conflict", "TooLarge", "Invalid")},
    }
    paths = {
        "/projects": {
            "get": {"operationId": "listProjects", "summary": "项目列表（筛选同列表页，分页）",
                    "parameters": _list_params(),
                    "responses": {**_ok("ProjectPage"), **_errors("Forbidden", "Invalid")}},
            "post": {"operationId": "createProject", "summary": "新建项目（产业、来源地、落户地可用中文名称）",
                     "requestBody": _body("ProjectCreate"),
                     "responses": {**_ok("Project", "201", "已创建"),
                                   **_errors("Forbidden", "Conflict", "TooLarge", "Invalid")}},
        },
        "/projects/{project_id}": {
            "parameters": [project_id],
            "get": {"operationId": "getProject", "summary": "项目详情（阶段、版本、里程碑）",
                    "responses": {**_ok("Project"), **_errors("Forbidden", "NotFound")}},
            "patch": {"operationId": "updateProject", "summary": "修改项目（须带 version；过期返回 409）",
                      "requestBody": _body("ProjectPatch"),
                      "responses": {**_ok("Project"),
                                    **_errors("Forbidden", "NotFound", "Conflict", "TooLarge", "Invalid")}},
        },
        "/projects/{project_id}/audit": {
            "parameters": [project_id],
            "get": {"operationId": "projectAudit", "summary": "项目审计记录（最新在前，分页）",
                    "parameters": _paging_params(),
                    "responses": {**_ok("AuditPage"), **_errors("Forbidden", "NotFound", "Invalid")}},
        },
        "/projects/{project_id}/stage-requests": {
            "parameters": [project_id],
            "post": {"operationId": "requestStageChange", "summary": "提交阶段变更申请",
                     "requestBody": _body("StageRequestCreate"),
                     "responses": {**_ok("StageRequest", "201", "已提交，待审批"),
                                   **_errors("Forbidden", "NotFound", "Conflict", "TooLarge", "Invalid")}},
        },
        "/ceremonies": {
            "post": {"operationId": "createCeremony", "summary": "新建签约仪式（科室负责人）",
                     "requestBody": _body("CeremonyCreate"),
                     "responses": {**_ok("Ceremony", "201", "已创建"),
                                   **_errors("Forbidden", "Conflict", "TooLarge", "Invalid")}},
        },
        "/ceremonies/{ceremony_id}": {
            "parameters": [ceremony_id],
            "get": {"operationId": "getCeremony", "summary": "签约仪式及其项目（按签约顺序）",
                    "responses": {**_ok("Ceremony"), **_errors("Forbidden", "NotFound")}},
        },
        "/ceremonies/{ceremony_id}/projects": {
            "parameters": [ceremony_id],
            "put": {"operationId": "setCeremonyProjects", "summary": "设置签约项目及顺序（全部替换）",
                    "requestBody": _body("CeremonyProjects"),
                    "responses": {**_ok("Ceremony"),
                                  **_errors("Forbidden", "NotFound", "Conflict", "TooLarge", "Invalid")}},
        },
        "/stage-requests/{request_id}": {
            "parameters": [request_id],
            "get": {"operationId": "getStageRequest", "summary": "阶段变更申请",
                    "responses": {**_ok("StageRequest"), **_errors("Forbidden", "NotFound")}},
        },
        "/stage-requests/{request_id}/approve": {
            "parameters": [request_id],
            "post": {"operationId": "approveStageRequest", "summary": "批准（不能审批自己的申请）", **decision},
        },
        "/stage-requests/{request_id}/reject": {
            "parameters": [request_id],
            "post": {"operationId": "rejectStageRequest", "summary": "驳回（须填写 comment）", **decision},
        },
        "/stage-requests/{request_id}/withdraw": {
            "parameters": [request_id],
            "post": {"operationId": "withdrawStageRequest", "summary": "撤回（仅申请人本人，待审批时）", **decision},
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "台州招商项目全周期管理 API",
            "version": "1.0.0",
            "description": (
                "令牌认证：Authorization: Bearer <令牌>（flask users token USERNAME 生成）。"
                "权限与页面一致：不在本单位范围内的记录返回 404，角色不允许返回 403。"
                "错误格式：{\"error\": {\"code\", \"message\", \"fields\"}}。金额单位为万元，以字符串返回。"
            ),
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": _components(),
    }
