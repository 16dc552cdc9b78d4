"""JSON API v1 (``/api/v1``): projects, stage requests and decisions, the audit timeline,
signing ceremonies.

Token-authenticated (``Authorization: Bearer tzt_…``, see ``api/auth.py``); the session cookie
is never read here, so there is no CSRF to guard and the blueprint is exempt from CSRFProtect.
Same flow and permissions as the screens: load (404 when missing or out of the user's unit
scope) → permission (403) → validate (the screens' WTForms form; 422 with field messages) →
one operation → one commit. Errors are ``{"error": {"code", "message", "fields"}}``.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, g, jsonify, request, url_for
from flask.sessions import SessionInterface
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.datastructures import MultiDict

from tracker.api import schemas
from tracker.api.auth import authenticate
from tracker.api.schemas import ApiError, invalid
from tracker.audit.models import AuditEntry
from tracker.auth.models import Unit
from tracker.ceremonies import operations as ceremony_ops
from tracker.ceremonies.forms import CeremonyForm
from tracker.ceremonies.models import Ceremony
from tracker.core.pagination import Page
from tracker.core.permissions import can, in_scope, require, scope_filter
from tracker.extensions import csrf, db, login_manager
from tracker.projects.forms import ProjectForm
from tracker.projects.models import Project
from tracker.projects.operations import (
    FieldErrors,
    StaleEdit,
    create_project,
    update_project,
)
from tracker.projects.queries import SIZE_BANDS, SORTS, ProjectFilters, project_page
from tracker.projects.views import _fill_choices, _investor_values, _values
from tracker.workflow import operations as wf
from tracker.workflow.models import StageRequest
from tracker.workflow.stages import CODES

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 20
MAX_ID = schemas.MAX_ID  # larger ids cannot exist (and would overflow the database's integer)
PUBLIC_ENDPOINTS = {"api.openapi"}


# --- Authentication and error shape ----------------------------------------------------------


class NoSessionForApi(SessionInterface):
    """Wraps the app's session interface: under /api/ the cookie is neither read nor written."""

    def __init__(self, inner: SessionInterface):
        self.inner = inner

    def open_session(self, app, request):
        if request.path.startswith(bp.url_prefix + "/"):
            return self.make_null_session(app)
        return self.inner.open_session(app, request)

    def save_session(self, app, session, response):
        return self.inner.save_session(app, session, response)

    def __getattr__(self, name):  # anything else (e.g. get_signing_serializer) is the inner's
        return getattr(self.inner, name)


@bp.record_once
def _install_session_guard(state) -> None:
    state.app.session_interface = NoSessionForApi(state.app.session_interface)


@bp.before_request
def _authenticate():
    g._login_user = login_manager.anonymous_user()  # never a user loaded from the cookie
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    header = request.headers.get("Authorization")
    user = authenticate(header)
    if user is None:
        db.session.rollback()
        challenge = 'Bearer realm="tracker-api"'
        if header:  # RFC 6750: say why when credentials were sent
            challenge += ', error="invalid_token"'
        err = ApiError(401, _("需要有效的 API 令牌：请在请求头中提供 Authorization: Bearer <令牌>。"),
                       headers={"WWW-Authenticate": challenge})
        return _error_response(err)
    g._login_user = user  # current_user for permissions helpers and operations
    return None


@bp.teardown_request
def _forget_user(exc):
    # Tests share one app context (and so one ``g``) across requests.
    g.pop("_login_user", None)


@bp.after_request
def _no_store(resp):
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _error_response(err: ApiError):
    resp = jsonify(err.body())
    resp.status_code = err.status
    for key, value in err.headers.items():
        resp.headers[key] = value
    return resp


@bp.errorhandler(ApiError)
def _api_error(err: ApiError):
    db.session.rollback()
    return _error_response(err)


def _workflow_error(err: wf.WorkflowError) -> ApiError:
    return ApiError(err.status, err.message, err.errors if err.status == 422 else None)


# --- Helpers -----------------------------------------------------------------------------------


def _get(model, obj_id: int, **kw):
    if obj_id > MAX_ID:
        return None
    return db.session.get(model, obj_id, **kw)


def _load_project(project_id: int, action: str = "project.view") -> Project:
    project = _get(Project, project_id, options=[joinedload(Project.investor)])
    if project is None:
        raise ApiError(404, _("找不到该项目。"))
    if not in_scope(current_user, project.unit_id):
        raise ApiError(404, _("找不到该项目。"))
    if not can(action, project):
        raise ApiError(403, _("您的角色不能进行此操作。"))
    return project


def _load_request(request_id: int) -> StageRequest:
    req = _get(StageRequest, request_id, options=[joinedload(StageRequest.project)])
    if req is None or not in_scope(current_user, req.project.unit_id):
        raise ApiError(404, _("找不到该申请。"))
    if not can("project.view", req.project):
        raise ApiError(403, _("您的角色不能进行此操作。"))
    return req


def _int_param(name: str, default: int, minimum: int, maximum: int, errors: dict[str, str]) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 6) or not minimum <= int(raw) <= maximum:
        errors[name] = _("应为 %(a)d 至 %(b)d 之间的整数。", a=minimum, b=maximum)
        return default
    return int(raw)


def _paging(errors: dict[str, str]) -> tuple[int, int]:
    page = _int_param("page", 1, 1, 100_000, errors)
    per_page = _int_param("per_page", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE, errors)
    return page, per_page


FILTER_PARAMS = {"q", "stage", "unit", "industry", "region", "size", "year", "archived", "sort", "page", "per_page"}


def _check_filters() -> None:
    """The list page ignores odd filter values; the API says which one is wrong."""
    args = request.args
    errors: dict[str, str] = {}
    for key in args:
        if key not in FILTER_PARAMS:
            errors[key[:40]] = _("未知的查询参数。")
    _paging(errors)

    def bad(key: str, ok) -> None:
        value = args.get(key)
        if value not in (None, "") and not ok(value):
            errors[key] = _("取值无效。")

    digits = lambda v: v.isascii() and v.isdigit() and len(v) < 10
    bad("q", lambda v: len(v) <= 50)
    bad("stage", lambda v: v in CODES)
    bad("unit", digits)
    bad("industry", digits)
    bad("region", lambda v: v == "yrd" or digits(v))
    bad("size", lambda v: v in SIZE_BANDS)
    bad("year", lambda v: digits(v) and 1990 <= int(v) <= 2100)
    bad("archived", lambda v: v in ("0", "1"))
    bad("sort", lambda v: v in SORTS)
    if errors:
        raise invalid(errors)


def _project_body(project: Project) -> dict[str, Any]:
    return schemas.project_detail(
        project, milestones=wf.milestones(project), pending=wf.pending_request(project),
        moves=wf.allowed_moves(current_user, project),
    )


def _validated_form(md: MultiDict, project: Project | None) -> ProjectForm:
    form = ProjectForm(formdata=md, meta={"csrf": False})
    if project is not None:
        del form.stage  # the stage changes only through the workflow
        form.current_stage = project.stage
    _fill_choices(form, project)
    if not form.validate():
        raise invalid(schemas.api_errors(form.errors))
    return form


# --- Document ------------------------------------------------------------------------------


@bp.get("/openapi.json")
def openapi():
    from tracker.api.openapi import document

    return jsonify(document())


# --- Projects ------------------------------------------------------------------------------


@bp.get("/projects")
def list_projects():
    require("project.view")
    _check_filters()
    errors: dict[str, str] = {}
    _page_no, per_page = _paging(errors)
    filters = ProjectFilters.from_args(request.args)
    if filters.archived and not can("project.archive"):
        raise ApiError(403, _("只有科室负责人可以查看已归档项目。"))
    page, totals = project_page(current_user, filters, per_page=per_page)
    return jsonify(schemas.page_body(
        page, [schemas.project_summary(p) for p in page.items],
        totals={"count": totals.count, "contracted_investment": schemas.money(totals.investment)},
    ))


@bp.post("/projects")
def create_project_api():
    require("project.create")
    md = schemas.project_formdata(schemas.parse_body(), mode="create")
    md.setdefault("unit_id", str(current_user.unit_id))
    if "owner_id" not in md and current_user.role == "staff":
        md["owner_id"] = str(current_user.id)
    form = _validated_form(md, None)
    try:
        project = create_project(current_user, _values(form), _investor_values(form), form.stage.data)
        db.session.commit()
    except FieldErrors as err:
        raise invalid(schemas.api_errors(err.errors)) from None
    except IntegrityError:
        raise ApiError(409, _("保存冲突：同名项目或投资方刚被他人创建，请重试。")) from None
    resp = jsonify(_project_body(project))
    resp.status_code = 201
    resp.headers["Location"] = url_for("api.get_project", project_id=project.id)
    return resp


@bp.get("/projects/<int:project_id>")
def get_project(project_id: int):
    return jsonify(_project_body(_load_project(project_id)))


@bp.patch("/projects/<int:project_id>")
def patch_project(project_id: int):
    project = _load_project(project_id, "project.edit")
    data = schemas.parse_body()
    version = data.get("version")
    if version is None:
        raise invalid({"version": _("请提供 version（取自 GET 返回的当前版本号），用于防止覆盖他人的修改。")})
    if not isinstance(version, int) or isinstance(version, bool):
        raise invalid({"version": _("应为整数。")})
    if project.is_archived:
        raise ApiError(409, _("已归档的项目不能修改，请先恢复。"))
    md = schemas.project_formdata(data, base=schemas.project_as_formdata(project), mode="patch")
    form = _validated_form(md, project)
    try:
        update_project(current_user, project, _values(form), _investor_values(form), version)
        db.session.commit()
    except FieldErrors as err:
        raise invalid(schemas.api_errors(err.errors)) from None
    except (StaleEdit, StaleDataError):
        db.session.rollback()
        fresh = _get(Project, project_id)
        raise ApiError(409, _("保存失败：该项目已被他人修改（当前版本 %(v)s）。请重新获取后再修改。",
                              v=fresh.version_id if fresh else "?")) from None
    except IntegrityError:
        raise ApiError(409, _("保存冲突：同名项目或投资方刚被他人创建，请重试。")) from None
    return jsonify(_project_body(project))


@bp.get("/projects/<int:project_id>/audit")
def project_audit(project_id: int):
    project = _load_project(project_id)
    errors: dict[str, str] = {}
    page_no, per_page = _paging(errors)
    for key in request.args:
        if key not in ("page", "per_page"):
            errors[key[:40]] = _("未知的查询参数。")
    if errors:
        raise invalid(errors)
    where = AuditEntry.project_id == project.id
    total = db.session.execute(select(func.count(AuditEntry.id)).where(where)).scalar_one()
    page = Page(items=[], page=page_no, per_page=per_page, total=total)
    page.page = min(page_no, page.pages)
    page.items = list(db.session.execute(
        select(AuditEntry).options(joinedload(AuditEntry.actor)).where(where)
        .order_by(AuditEntry.id.desc()).limit(per_page).offset((page.page - 1) * per_page)
    ).scalars())
    return jsonify(schemas.page_body(page, [schemas.audit_entry(e) for e in page.items]))


# --- Workflow -----------------------------------------------------------------------------


@bp.post("/projects/<int:project_id>/stage-requests")
def create_stage_request(project_id: int):
    project = _load_project(project_id, "stage.request")
    args = schemas.stage_request_input(schemas.parse_body())
    try:
        req = wf.request_move(current_user, project, **args)
        db.session.commit()
    except wf.WorkflowError as err:
        raise _workflow_error(err) from None
    except IntegrityError:  # the one-pending-request index caught a simultaneous request
        raise ApiError(409, _("该项目已有一项待审批的申请，请等待审批结果或先撤回。")) from None
    resp = jsonify(schemas.stage_request(req))
    resp.status_code = 201
    resp.headers["Location"] = url_for("api.get_stage_request", request_id=req.id)
    return resp


@bp.get("/stage-requests/<int:request_id>")
def get_stage_request(request_id: int):
    return jsonify(schemas.stage_request(_load_request(request_id)))


def _decide(request_id: int, operation) -> Any:
    _load_request(request_id)  # 404 when unknown or out of scope
    data = schemas.parse_body() if request.get_data(cache=True).strip() else {}
    comment = schemas.comment_input(data)
    try:
        req = operation(current_user, request_id, comment)
        db.session.commit()
    except wf.WorkflowError as err:
        raise _workflow_error(err) from None
    except LookupError:
        raise ApiError(404, _("找不到该申请。")) from None
    return jsonify(schemas.stage_request(req))


@bp.post("/stage-requests/<int:request_id>/approve")
def approve_stage_request(request_id: int):
    return _decide(request_id, wf.approve)


@bp.post("/stage-requests/<int:request_id>/reject")
def reject_stage_request(request_id: int):
    return _decide(request_id, wf.reject)


@bp.post("/stage-requests/<int:request_id>/withdraw")
def withdraw_stage_request(request_id: int):
    """The requester takes back a pending request (not a decision; no comment is kept)."""
    return _decide(request_id, lambda actor, rid, _comment: wf.withdraw(actor, rid))


# --- Ceremonies -----------------------------------------------------------------------------


def _load_ceremony(ceremony_id: int, action: str = "ceremony.view") -> Ceremony:
    ceremony = _get(Ceremony, ceremony_id)
    if ceremony is None or not in_scope(current_user, ceremony.unit_id):
        raise ApiError(404, _("找不到该签约仪式。"))
    if not can(action, ceremony):
        raise ApiError(403, _("您的角色不能进行此操作。"))
    return ceremony


def _ceremony_errors(errors: dict[str, str]) -> dict[str, str]:
    names = {"held_on": "date", "unit_id": "unit", "": "body"}
    return {names.get(k, k): str(v[0] if isinstance(v, (list, tuple)) else v) for k, v in errors.items()}


@bp.get("/ceremonies/<int:ceremony_id>")
def get_ceremony(ceremony_id: int):
    return jsonify(schemas.ceremony(_load_ceremony(ceremony_id)))


@bp.post("/ceremonies")
def create_ceremony_api():
    require("ceremony.manage")
    md = schemas.ceremony_formdata(schemas.parse_body())
    md.setdefault("unit_id", str(current_user.unit_id))
    form = CeremonyForm(formdata=md, meta={"csrf": False})
    form.unit_id.choices = [(u.id, u.name) for u in db.session.execute(
        select(Unit).where(scope_filter(current_user, Unit.id), Unit.is_active.is_(True))
        .order_by(Unit.sort_order, Unit.id)
    ).scalars()]
    if not form.validate():
        raise invalid(_ceremony_errors(form.errors))
    try:
        ceremony = ceremony_ops.create_ceremony(
            current_user, name=form.name.data, held_on=form.held_on.data, venue=form.venue.data or "",
            unit=db.session.get(Unit, form.unit_id.data))
        db.session.commit()
    except ceremony_ops.CeremonyError as err:
        raise invalid(_ceremony_errors(err.errors)) from None
    except IntegrityError:
        raise ApiError(409, _("已存在同名的签约仪式。")) from None
    resp = jsonify(schemas.ceremony(ceremony))
    resp.status_code = 201
    resp.headers["Location"] = url_for("api.get_ceremony", ceremony_id=ceremony.id)
    return resp


@bp.put("/ceremonies/<int:ceremony_id>/projects")
def put_ceremony_projects(ceremony_id: int):
    ceremony = _load_ceremony(ceremony_id, "ceremony.manage")
    ids, version = schemas.ceremony_projects_input(schemas.parse_body(allow_list=True))
    try:
        ceremony_ops.set_projects(current_user, ceremony, ids, expected_version=version)
        db.session.commit()
    except ceremony_ops.CeremonyError as err:
        raise invalid(_ceremony_errors(err.errors)) from None
    except (ceremony_ops.StaleCeremony, StaleDataError):
        db.session.rollback()
        raise ApiError(409, _("在您操作期间，该签约仪式已被他人修改，请重新获取后再试。")) from None
    except IntegrityError:
        raise ApiError(409, _("保存冲突：某个项目刚在另一场签约仪式签约，请重新获取后再试。")) from None
    return jsonify(schemas.ceremony(ceremony))
