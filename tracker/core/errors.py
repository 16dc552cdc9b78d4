"""Error pages in the UI language (JSON for /api and /healthz), rollback on every error."""
from __future__ import annotations

from flask import jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

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
    return request.path.startswith("/api/") or request.path == "/healthz"


def render_error(code: int, message: str | None = None):
    title = _titles().get(code, _("出错了"))
    if _wants_json():
        return jsonify({"error": {"code": code, "message": message or title}}), code
    return render_template("errors/error.html", code=code, title=title, message=message), code


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
        return render_error(err.code or 500, message)

    @app.errorhandler(Exception)
    def unhandled(err: Exception):  # pragma: no cover - exercised via a test route
        db.session.rollback()
        app.logger.exception("Unhandled error")
        return render_error(500)


def _is_default(err: HTTPException) -> bool:
    return err.description == type(err).description
