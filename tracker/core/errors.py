"""Error pages in the UI language (JSON for /api and /healthz), rollback on every error."""
from __future__ import annotations

from flask import current_app, jsonify, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from tracker.api import is_api_path
from tracker.core.translations import gettext as _
from tracker.extensions import db


def _titles():
    return {
        400: _("请求有误"),
        403: _("没有权限"),
        404: _("找不到页面"),
        405: _("不支持的请求方式"),
        409: _("数据已被他人修改"),
        413: _("文件或内容过大"),
        429: _("尝试次数过多"),
        500: _("服务器出错了"),
    }


def _wants_json() -> bool:
    return is_api_path(request.path) or request.path == "/healthz"


def render_error(code: int, message: str | None = None, headers=None):
    title = _titles().get(code, _("出错了"))
    if _wants_json():
        response = make_response(jsonify({"error": {"code": code, "message": message or title}}), code)
    else:
        response = make_response(render_template("errors/error.html", code=code, title=title, message=message), code)
    for name, value in headers or ():
        if name.lower() != "content-type":  # e.g. Allow on 405, Retry-After on 429
            response.headers[name] = value
    return response


def register(app) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(err):
        db.session.rollback()
        return render_error(
            400, _("页面已过期或来源不明（安全令牌无效）。请返回上一页刷新后重试，已填写的内容请先复制保存。")
        )

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException):
        db.session.rollback()
        message = err.description if err.code in (400, 409, 429) and not _is_default(err) else None
        return render_error(err.code or 500, message, err.get_headers())

    @app.errorhandler(RequestEntityTooLarge)
    def request_too_large(err):
        """Any request body over MAX_CONTENT_LENGTH (an upload form, the API): a clear answer."""
        from tracker.workflow.attachments import MAX_BYTES

        db.session.rollback()
        limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
        return render_error(413, _(
            "提交的内容过大（上限 %(total)d MB，每个附件不超过 %(each)d MB）。"
            "请返回上一页，压缩扫描件或分次提交后重试。",
            total=limit // (1024 * 1024), each=MAX_BYTES // (1024 * 1024),
        ))

    @app.errorhandler(Exception)
    def unhandled(err: Exception):  # pragma: no cover - exercised via a test route
        db.session.rollback()
        app.logger.exception("Unhandled error")
        return render_error(500)


def _is_default(err: HTTPException) -> bool:
    return err.description == type(err).description
