"""JSON API v1 (``/api/v1``): projects, stage requests and decisions, the audit timeline,
signing ceremonies.

Token-authenticated (``Authorization: Bearer tzt_…``): Flask-Login's request loader reads the
token (``load_api_user``) and the session cookie is never taken for an API user, so there is
no CSRF to guard and the blueprint is exempt from CSRFProtect. Same lifecycle and permissions
as the screens: load (404 when missing or out of the user's unit scope) → permission (403) →
validate (the input schemas; 422 with a message per field) → one operation → the one commit
of ``tracker.core.lifecycle``. Each route is declared with ``operation(...)``, which also
documents it in the OpenAPI document. Errors are ``{"error": {"code", "message", "fields"}}``.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, current_app, jsonify, request, url_for
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError

from tracker.api import is_api_path
from tracker.api import schemas as out
from tracker.api.auth import authenticate
from tracker.api.openapi import OPERATIONS, Body, Operation
from tracker.api.schemas import ApiError, Naming, invalid
from tracker.audit.models import AuditEntry
from tracker.auth.models import Unit
from tracker.ceremonies import operations as ceremony_ops
from tracker.ceremonies import schemas as ceremony_schemas
from tracker.ceremonies.models import Ceremony
from tracker.core import datacache
from tracker.core.input import InputError, Problem, Schema, parse_flag, validate
from tracker.core.pagination import Page
from tracker.core.permissions import can, in_scope, require, visible
from tracker.core.translations import gettext as _
from tracker.extensions import csrf, db, login_manager
from tracker.projects import schemas as project_schemas
from tracker.projects.choices import project_choices
from tracker.projects.choices import units as unit_choices
from tracker.projects.models import Project
from tracker.projects.operations import ArchivedProject, FieldErrors, StaleEdit, create_project, update_project
from tracker.projects.queries import ProjectFilters, capped_page, project_page, rows_key
from tracker.workflow import operations as wf
from tracker.workflow import schemas as workflow_schemas
from tracker.workflow.models import StageRequest

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

DEFAULT_PER_PAGE = 20
PROJECT_NAMES = Naming(project_schemas.API_NAMES, project_schemas.API_NESTED)
CEREMONY_NAMES = Naming(ceremony_schemas.API_NAMES)


def operation(rule: str, method: str, operation_id: str, summary: str, response: type, *,
              status: int = 200, body: Body | None = None, query: type[Schema] | None = None,
              errors: tuple[int, ...] = (), public: bool = False) -> Callable:
    """Register an API route and document it (``api/openapi.py``)."""
    op = Operation(rule, method, operation_id, summary, response, status, body, query, errors, public)
    OPERATIONS.append(op)

    def register(view: Callable) -> Callable:
        view.api_public = public  # type: ignore[attr-defined]
        bp.add_url_rule(rule, view_func=view, methods=[method])
        return view

    return register


# --- Authentication and error shape ----------------------------------------------------------


@login_manager.request_loader
def load_api_user(req) -> Any:
    """The API's user comes from the Bearer token only (screens use the session cookie)."""
    if not is_api_path(req.path):
        return None
    return authenticate(req.headers.get("Authorization"))


@bp.before_request
def _require_token():
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, "api_public", False) or current_user.is_authenticated:
        return None
    challenge = 'Bearer realm="tracker-api"'
    if request.headers.get("Authorization"):  # RFC 6750: say why when credentials were sent
        challenge += ', error="invalid_token"'
    raise ApiError(401, _("需要有效的 API 令牌：请在请求头中提供 Authorization: Bearer <令牌>。"),
                   headers={"WWW-Authenticate": challenge})


@bp.after_request
def _no_store(resp):
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.errorhandler(ApiError)
def _api_error(err: ApiError):
    db.session.rollback()
    resp = jsonify(err.body())
    resp.status_code = err.status
    for key, value in err.headers.items():
        resp.headers[key] = value
    return resp


def _workflow_error(err: wf.WorkflowError) -> ApiError:
    return ApiError(err.status, err.message, err.errors if err.status == 422 else None)


# --- Loading ---------------------------------------------------------------------------------


def _load(model: type, obj_id: int, missing: str, action: str, unit_of: Callable[[Any], int], **kw) -> Any:
    obj = db.session.get(model, obj_id, **kw)  # ids beyond any row never reach here (core.request_guards)
    if obj is None or not in_scope(current_user, unit_of(obj)):
        raise ApiError(404, missing)
    if not can(action, obj if hasattr(obj, "unit_id") else getattr(obj, "project", None)):
        raise ApiError(403, _("您的角色不能进行此操作。"))
    return obj


def _load_project(project_id: int, action: str = "project.view") -> Project:
    return _load(Project, project_id, _("找不到该项目。"), action, lambda p: p.unit_id,
                 options=[joinedload(Project.investor)])


def _load_request(request_id: int) -> StageRequest:
    return _load(StageRequest, request_id, _("找不到该申请。"), "project.view", lambda r: r.project.unit_id,
                 options=[joinedload(StageRequest.project)])


def _load_ceremony(ceremony_id: int, action: str = "ceremony.view") -> Ceremony:
    """Visible to its host's scope and to every unit with a project signed at it
    (``permissions.visible``); managing needs the host's scope (403 otherwise)."""
    ceremony = db.session.get(Ceremony, ceremony_id)
    if ceremony is None or not visible(current_user, ceremony):
        raise ApiError(404, _("找不到该签约仪式。"))
    if not can(action, ceremony):
        raise ApiError(403, _("您的角色不能进行此操作。"))
    return ceremony


def _validated(schema: type[Schema], data: dict[str, Any], naming: Naming | None = None, **context: Any) -> Any:
    naming = naming or Naming()
    try:
        return validate(schema, naming.to_schema(data), context=context)
    except InputError as err:
        raise invalid(naming.to_api(err.errors)) from None


def _check_version_type(data: dict[str, Any]) -> None:
    """A client sends back the integer it read; forms send text, the API must not."""
    version = data.get("version")
    if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
        raise invalid({"version": _("应为整数。")})


def _created(body: dict[str, Any], endpoint: str, **values: Any):
    resp = jsonify(body)
    resp.status_code = 201
    resp.headers["Location"] = url_for(endpoint, **values)
    return resp


def _paged(query: Any) -> tuple[int, int]:
    return query.page or 1, query.per_page or DEFAULT_PER_PAGE


# --- Document ------------------------------------------------------------------------------


@operation("/openapi.json", "GET", "openapi", "本 API 的 OpenAPI 3.1 文档", out.DocumentOut, public=True)
def openapi():
    from tracker.api.openapi import document

    return jsonify(document())


# --- Projects ------------------------------------------------------------------------------


@operation("/projects", "GET", "listProjects", "项目列表（筛选同列表页，分页）", out.ProjectPage,
           query=project_schemas.ProjectListQuery, errors=(403, 422))
def list_projects():
    require("project.view")
    query = _validated(project_schemas.ProjectListQuery, request.args.to_dict())
    _page_no, per_page = _paged(query)
    # The screen's filters from the validated values (１ → 1), so nothing valid is dropped.
    filters = ProjectFilters.from_args({k: str(v) for k, v in query.values().items() if v not in (None, "")})
    if filters.archived and not can("project.archive"):
        raise ApiError(403, _("只有科室负责人可以查看已归档项目。"))
    # The body, like the list page's rows, is kept until the data changes (core.datacache):
    # it depends on the scope, the filters and the page (past the last one: the last one),
    # nothing else of the caller.
    key = rows_key(current_user, filters, capped_page(current_user, filters, per_page), per_page)
    # Kept as the JSON text itself: serialising 50 projects was a tenth of the request.
    text = datacache.cached(("api-projects", key),
                            lambda: current_app.json.dumps(_project_list_body(filters, per_page), separators=(",", ":")),
                            shelf="pages")
    return current_app.response_class(f"{text}\n", mimetype=current_app.json.mimetype)


def _project_list_body(filters: ProjectFilters, per_page: int) -> dict[str, Any]:
    page, totals = project_page(current_user, filters, per_page=per_page)
    return out.page_body(
        page, [out.project_summary(p) for p in page.items],
        totals={"count": totals.count, "contracted_investment": out.money(totals.investment),
                **{name: {"count": part.count, "contracted_investment": out.money(part.investment),
                          "funds_in_place": out.money(part.funds)}
                   for name, part in (("signed", totals.signed), ("negotiating", totals.negotiating),
                                      ("terminated", totals.terminated))},
                "increases": totals.increases},
    )


def _project_body(project: Project) -> dict[str, Any]:
    return out.project_detail(project, milestones=wf.milestones(project), pending=wf.pending_request(project),
                              moves=wf.allowed_moves(current_user, project))


def _save_project(save: Callable[[], Any]) -> Any:
    try:
        return save()
    except FieldErrors as err:
        raise invalid(PROJECT_NAMES.to_api(err.errors)) from None
    except IntegrityError:
        raise ApiError(409, _("保存冲突：同名项目或投资方刚被他人创建，请重试。")) from None


@operation("/projects", "POST", "createProject", "新建项目（产业、来源地、落户地可用中文名称）", out.ProjectOut,
           status=201, body=Body(project_schemas.ProjectCreate, PROJECT_NAMES, "ProjectCreate",
                                 required=("name", "investor_name", "industry_id", "contracted_investment")),
           errors=(403, 409, 413, 422))
def create_project_api():
    require("project.create")
    data = out.parse_body()
    if data.get("unit") is None:  # left out or null: the user's own unit
        data["unit"] = current_user.unit_id
    if "owner" not in data and current_user.role == "staff":
        data["owner"] = current_user.id
    values = _validated(project_schemas.ProjectCreate, data, PROJECT_NAMES,
                        choices=project_choices(current_user))
    project = _save_project(lambda: create_project(current_user, values.project_values(),
                                                   values.investor_values(), values.stage))
    return _created(_project_body(project), "api.get_project", project_id=project.id)


@operation("/projects/<int:project_id>", "GET", "getProject", "项目详情（阶段、版本、里程碑）", out.ProjectOut,
           errors=(403, 404))
def get_project(project_id: int):
    return jsonify(_project_body(_load_project(project_id)))


def _current_values(project: Project) -> dict[str, Any]:
    """The project as a PATCH body would give it: what an absent field keeps."""
    values = {name: getattr(project, name) for name in project_schemas.PROJECT_FIELDS}
    values.update(investor_name=project.investor.name, investor_uscc=project.investor.uscc)
    return values


@operation("/projects/<int:project_id>", "PATCH", "updateProject", "修改项目（须带 version；过期返回 409）",
           out.ProjectOut, body=Body(project_schemas.ProjectUpdate, PROJECT_NAMES, "ProjectPatch",
                                     required=("version",),
                                     description="只修改给出的字段；null 清空可选字段"),
           errors=(403, 404, 409, 413, 422))
def patch_project(project_id: int):
    project = _load_project(project_id, "project.edit")
    data = out.parse_body()
    if data.get("version") is None:
        raise invalid({"version": _("请提供 version（取自 GET 返回的当前版本号），用于防止覆盖他人的修改。")})
    _check_version_type(data)
    sent = PROJECT_NAMES.to_schema(data)
    # A unit applies to the amount sent with it, never to the stored one (亿元 would ×10000 it).
    lone_units = [k for k in sent if k.endswith("_unit") and k[:-len("_unit")] not in sent]
    if lone_units:
        raise invalid({k: _("单位须与金额一起提供。") for k in lone_units})
    if "investor_name" in sent and sent["investor_name"] != project.investor.name:
        # A different company: its USCC is its own, not the previous investor's.
        base = {k: v for k, v in _current_values(project).items() if k != "investor_uscc"}
    else:
        base = _current_values(project)
    try:
        values = validate(project_schemas.ProjectUpdate, {**base, **sent},
                          context={"choices": project_choices(current_user, project),
                                   "current_stage": project.stage})
    except InputError as err:
        raise invalid(PROJECT_NAMES.to_api(err.errors)) from None
    try:
        _save_project(lambda: update_project(current_user, project, values.project_values(),
                                             values.investor_values(), values.version))
    except ArchivedProject as err:
        raise ApiError(409, err.message) from None
    except (StaleEdit, StaleDataError):
        db.session.rollback()
        fresh = db.session.get(Project, project_id)
        raise ApiError(409, _("保存失败：该项目已被他人修改（当前版本 %(v)s）。请重新获取后再修改。",
                              v=fresh.version_id if fresh else "?")) from None
    return jsonify(_project_body(project))


@operation("/projects/<int:project_id>/audit", "GET", "projectAudit", "项目审计记录（最新在前，分页）",
           out.AuditPage, query=project_schemas.PageQuery, errors=(403, 404, 422))
def project_audit(project_id: int):
    project = _load_project(project_id)
    page_no, per_page = _paged(_validated(project_schemas.PageQuery, request.args.to_dict()))
    where = AuditEntry.project_id == project.id
    total = db.session.execute(select(func.count(AuditEntry.id)).where(where)).scalar_one()
    page = Page(items=[], page=page_no, per_page=per_page, total=total)
    page.page = min(page_no, page.pages)
    page.items = list(db.session.execute(
        select(AuditEntry).options(joinedload(AuditEntry.actor)).where(where)
        .order_by(AuditEntry.id.desc()).limit(per_page).offset((page.page - 1) * per_page)
    ).scalars())
    return jsonify(out.page_body(page, [out.audit_entry(e) for e in page.items]))


# --- Workflow -----------------------------------------------------------------------------


@operation("/projects/<int:project_id>/stage-requests", "POST", "requestStageChange", "提交阶段变更申请",
           out.StageRequestOut, status=201,
           body=Body(workflow_schemas.StageRequestInput, name="StageRequestCreate",
                     required=("to_stage", "actual_date")),
           errors=(403, 404, 409, 413, 422))
def create_stage_request(project_id: int):
    project = _load_project(project_id, "stage.request")
    data = out.parse_body()
    # What a request must carry depends on the project's stage, so the operation parses the
    # values (with the input layer's parsers) and reports every problem at once; here only
    # the fields are checked against the documented ones.
    unknown = set(data) - set(workflow_schemas.StageRequestInput.model_fields)
    if unknown:
        raise invalid({key[:80]: _("未知字段。") for key in sorted(unknown)[:20]})
    values = {key: data[key] for key in workflow_schemas.REQUIREMENT_KEYS if key in data}
    try:
        confirm = parse_flag(data.get("confirm_amounts"))
    except Problem as problem:
        raise invalid({"confirm_amounts": str(problem)}) from None
    try:
        req = wf.request_move(current_user, project, to_stage=data.get("to_stage"), actual_date=data.get("actual_date"),
                              values=values, reason=values.pop("reason", None) or "", comment=data.get("comment"),
                              confirm_amounts=confirm)
    except wf.WorkflowError as err:
        raise _workflow_error(err) from None
    except IntegrityError:  # the one-pending-request index caught a simultaneous request
        raise ApiError(409, _("该项目已有一项待审批的申请，请等待审批结果或先撤回。")) from None
    return _created(out.stage_request(req), "api.get_stage_request", request_id=req.id)


@operation("/stage-requests/<int:request_id>", "GET", "getStageRequest", "阶段变更申请",
           out.StageRequestOut, errors=(403, 404))
def get_stage_request(request_id: int):
    return jsonify(out.stage_request(_load_request(request_id)))


def _decide(request_id: int, decide: Callable[[Any, int, str], StageRequest]) -> Any:
    _load_request(request_id)  # 404 when unknown or out of scope
    data = _validated(workflow_schemas.DecisionInput, out.parse_body(optional=True))
    try:
        req = decide(current_user, request_id, data.comment)
    except wf.WorkflowError as err:
        raise _workflow_error(err) from None
    except LookupError:
        raise ApiError(404, _("找不到该申请。")) from None
    return jsonify(out.stage_request(req))


DECISION = Body(workflow_schemas.DecisionInput, name="Decision", required=())
DECISION_ERRORS = (403, 404, 409, 413, 422)


@operation("/stage-requests/<int:request_id>/approve", "POST", "approveStageRequest", "批准（不能审批自己的申请）",
           out.StageRequestOut, body=DECISION, errors=DECISION_ERRORS)
def approve_stage_request(request_id: int):
    return _decide(request_id, wf.approve)


@operation("/stage-requests/<int:request_id>/reject", "POST", "rejectStageRequest", "驳回（须填写 comment）",
           out.StageRequestOut, body=DECISION, errors=DECISION_ERRORS)
def reject_stage_request(request_id: int):
    return _decide(request_id, wf.reject)


@operation("/stage-requests/<int:request_id>/withdraw", "POST", "withdrawStageRequest",
           "撤回（仅申请人本人，待审批时）", out.StageRequestOut, body=DECISION, errors=DECISION_ERRORS)
def withdraw_stage_request(request_id: int):
    """The requester takes back a pending request (not a decision; no comment is kept)."""
    return _decide(request_id, lambda actor, rid, _comment: wf.withdraw(actor, rid))


# --- Ceremonies -----------------------------------------------------------------------------


@operation("/ceremonies/<int:ceremony_id>", "GET", "getCeremony", "签约仪式及其项目（按签约顺序）",
           out.CeremonyOut, errors=(403, 404))
def get_ceremony(ceremony_id: int):
    return jsonify(out.ceremony(_load_ceremony(ceremony_id), full=lambda p: in_scope(current_user, p.unit_id)))


@operation("/ceremonies", "POST", "createCeremony", "新建签约仪式（科室负责人）", out.CeremonyOut, status=201,
           body=Body(ceremony_schemas.CeremonyInput, CEREMONY_NAMES, "CeremonyCreate", required=("name", "held_on")),
           errors=(403, 409, 413, 422))
def create_ceremony_api():
    require("ceremony.manage")
    data = out.parse_body()
    if data.get("unit") is None:  # left out or null: the user's own unit
        data["unit"] = current_user.unit_id
    values = _validated(ceremony_schemas.CeremonyInput, data, CEREMONY_NAMES,
                        choices={"unit_id": unit_choices(current_user)})
    try:
        ceremony = ceremony_ops.create_ceremony(current_user, name=values.name, held_on=values.held_on,
                                                venue=values.venue, unit=db.session.get(Unit, values.unit_id))
    except ceremony_ops.CeremonyError as err:
        raise invalid(CEREMONY_NAMES.to_api(err.errors)) from None
    except IntegrityError:
        raise ApiError(409, _("已存在同名的签约仪式。")) from None
    return _created(out.ceremony(ceremony), "api.get_ceremony", ceremony_id=ceremony.id)


@operation("/ceremonies/<int:ceremony_id>/projects", "PUT", "setCeremonyProjects", "设置签约项目及顺序（全部替换）",
           out.CeremonyOut, body=Body(ceremony_schemas.CeremonyProjectsInput, name="CeremonyProjects",
                                      required=("project_ids",), also_list=True,
                                      description="该仪式签约项目的完整列表（按签约顺序）；未列出的项目将被移除"),
           errors=(403, 404, 409, 413, 422))
def put_ceremony_projects(ceremony_id: int):
    ceremony = _load_ceremony(ceremony_id, "ceremony.manage")
    data = out.parse_body(allow_list=True)
    if isinstance(data, dict):
        _check_version_type(data)
    values = _validated(ceremony_schemas.CeremonyProjectsInput,
                        {"project_ids": data} if isinstance(data, list) else data)
    try:
        # version is optional here: without it the caller replaces whatever the list is now.
        ceremony_ops.set_projects(current_user, ceremony, values.project_ids, expected_version=values.version)
    except ceremony_ops.CeremonyError as err:
        raise invalid(CEREMONY_NAMES.to_api(err.errors)) from None
    except (ceremony_ops.StaleCeremony, StaleDataError):
        db.session.rollback()
        raise ApiError(409, _("在您操作期间，该签约仪式已被他人修改，请重新获取后再试。")) from None
    except IntegrityError:
        raise ApiError(409, _("保存冲突：某个项目刚在另一场签约仪式签约，请重新获取后再试。")) from None
    return jsonify(out.ceremony(ceremony))


# --- Reports --------------------------------------------------------------------------------


def _summary_unit(name: str | None) -> Unit | None:
    """The unit named ``name`` (its Chinese or English name, any case): 422 when no unit has
    that name, 404 when it is another unit than the caller's scope allows (as for records)."""
    if not name:
        return None
    found = db.session.execute(
        select(Unit).where((func.lower(Unit.name) == name.lower()) | (func.lower(Unit.name_en) == name.lower()))
        .order_by(Unit.id)).scalars().all()
    if not found:
        raise invalid({"unit": _("没有名为“%(name)s”的单位（请填写单位的中文名或英文名）。", name=name[:40])})
    mine = [u for u in found if in_scope(current_user, u.id)]
    if not mine:
        raise ApiError(404, _("找不到该单位。"))
    return mine[0]


@operation("/reports/summary", "GET", "reportSummary",
           "某年签约项目的汇总：项目数、各阶段数、协议投资额、到位资金和五项比率（本人范围内，可按单位和统计截止日）",
           out.SummaryOut, query=out.SummaryQuery, errors=(403, 404, 422))
def report_summary():
    """Counting rules: ``tracker.progress.counting`` (once per project, 增资 only in the sums,
    paused at the stage paused from, terminated in the denominators only)."""
    from tracker.core.formatting import today_local
    from tracker.reports.figures import summary, year_query

    require("reports.view")
    query = _validated(out.SummaryQuery, request.args.to_dict())
    unit = _summary_unit(query.unit)
    today = today_local()
    as_of = query.as_of if query.as_of and query.as_of < today else None
    q = year_query(query.year, as_of=as_of, unit=unit.id if unit else None)
    return jsonify(out.summary(summary(current_user, q), year=query.year, unit=unit, as_of=as_of or today))
