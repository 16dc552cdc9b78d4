"""The OpenAPI 3.1 document at ``GET /api/v1/openapi.json``, generated, never written by hand.

Each API route is declared once with ``operation(...)`` (in ``api/views.py``): its path, method,
summary, the input schema it validates with (``tracker.*.schemas``, in the API's names), the
output model it answers with (``api/schemas.py``) and its error statuses. The decorator
registers the Flask route and records the declaration; ``document()`` turns the declarations
and pydantic's JSON Schemas of those classes into the document. A test fails when an
``/api/v1`` route is missing from it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from pydantic import BaseModel

from tracker.api import schemas as out
from tracker.core.input import Schema, required_fields

REF = "#/components/schemas/{model}"
ERRORS = {
    401: ("Unauthorized", "缺少、无效或已吊销的令牌（或用户已停用）"),
    403: ("Forbidden", "角色不允许（或不能审批自己的申请）"),
    404: ("NotFound", "不存在或不在本单位范围内"),
    409: ("Conflict", "版本过期、已被处理或已有待审批申请"),
    413: ("TooLarge", "请求体过大"),
    422: ("Invalid", "字段错误，见 error.fields"),
}


@dataclass(frozen=True)
class Body:
    """A request body: an input schema shown in the API's names."""

    schema: type[Schema]
    naming: out.Naming = field(default_factory=out.Naming)
    name: str = ""
    required: tuple[str, ...] | None = None  # default: the schema's required fields
    also_list: bool = False  # a bare JSON array of the list field is accepted too
    description: str = ""


@dataclass(frozen=True)
class Operation:
    path: str  # Flask rule under /api/v1, e.g. /projects/<int:project_id>
    method: str
    operation_id: str
    summary: str
    response: type[BaseModel]
    status: int = 200
    body: Body | None = None
    query: type[Schema] | None = None
    errors: tuple[int, ...] = ()
    public: bool = False


OPERATIONS: list[Operation] = []


def openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


def _model_schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    """``$ref`` to ``model``, adding it and the models it uses to the components."""
    schema = model.model_json_schema(ref_template=REF, mode="serialization")
    for name, definition in schema.pop("$defs", {}).items():
        components.setdefault(name, definition)
    components.setdefault(model.__name__, schema)
    return {"$ref": REF.format(model=model.__name__)}


def _input_schema(body: Body) -> dict[str, Any]:
    """The input schema's JSON Schema with the API's names (renamed and nested fields)."""
    schema = body.schema.model_json_schema(mode="validation")
    props: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    inner_names = {flat: (outer, inner) for outer, names in body.naming.nested.items() for inner, flat in names.items()}
    for name, prop in schema["properties"].items():
        prop = {k: v for k, v in prop.items() if k not in ("title", "default")}
        if name in inner_names:
            outer, inner = inner_names[name]
            nested.setdefault(outer, {})[inner] = prop
        else:
            props[body.naming.names.get(name, name)] = prop
    required = set(required_fields(body.schema)) if body.required is None else set(body.required)
    for outer, inner_props in nested.items():
        inner_required = sorted(inner for inner, flat in body.naming.nested[outer].items() if flat in required)
        props[outer] = {"type": "object", "additionalProperties": False, "properties": inner_props,
                        **({"required": inner_required} if inner_required else {})}
        if inner_required:
            required.add(outer)
    names = {**body.naming.names, **{flat: outer for flat, (outer, _inner) in inner_names.items()}}
    result: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": props}
    required_api = sorted({names.get(name, name) for name in required})
    if required_api:
        result["required"] = required_api
    if body.description or schema.get("description"):
        result["description"] = body.description or schema["description"]
    if body.also_list:
        list_field = next(iter(props))
        result = {"anyOf": [props[list_field], result], "description": result.get("description", "")}
    return result


def _query_parameters(query: type[Schema]) -> list[dict[str, Any]]:
    schema = query.model_json_schema(mode="validation")
    return [{"name": name, "in": "query", "description": prop.get("description", ""),
             "schema": {k: v for k, v in prop.items() if k not in ("title", "default", "description")}}
            for name, prop in schema["properties"].items()]


def _path_parameters(rule: str) -> list[dict[str, Any]]:
    # No maximum: an id beyond any row is simply 404.
    return [{"name": name, "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
            for name in re.findall(r"<int:([a-z_]+)>", rule)]


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    """The document (built once from the declarations: the same for every user)."""
    import tracker.api.views  # noqa: F401 - its routes declare the operations
    components: dict[str, Any] = {}
    paths: dict[str, dict[str, Any]] = {}
    error_ref = _model_schema(out.ErrorOut, components)
    for op in OPERATIONS:
        entry: dict[str, Any] = {"operationId": op.operation_id, "summary": op.summary}
        if op.public:
            entry["security"] = []
        parameters = _path_parameters(op.path) + (_query_parameters(op.query) if op.query else [])
        if parameters:
            entry["parameters"] = parameters
        if op.body is not None:
            name = op.body.name or op.body.schema.__name__
            components.setdefault(name, _input_schema(op.body))
            entry["requestBody"] = {"required": op.body.required != (),
                                    "content": {"application/json": {"schema": {"$ref": REF.format(model=name)}}}}
        responses = {str(op.status): {"description": "成功" if op.status == 200 else "已创建",
                                      "content": {"application/json": {"schema": _model_schema(op.response,
                                                                                               components)}}}}
        for code in sorted({*([] if op.public else [401]), *op.errors}):
            responses[str(code)] = {"$ref": f"#/components/responses/{ERRORS[code][0]}"}
        entry["responses"] = responses
        paths.setdefault(openapi_path(op.path), {})[op.method.lower()] = entry
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
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                               "description": "flask users token USERNAME 生成的令牌"}},
            "schemas": components,
            "responses": {name: {"description": text, "content": {"application/json": {"schema": error_ref}}}
                          for name, text in ERRORS.values()},
        },
    }
