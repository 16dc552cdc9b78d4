"""One request lifecycle, written once (after indico's request handlers).

Every view — screen or API — does: load the record (404 when missing or out of scope) → check
the permission (``core.permissions``) → validate the input (``core.input``) → call *one*
operation (which flushes and audits but never commits) → return a response. The commit is
not the view's business: ``install`` wraps every view so that a response below 400 commits
the request's work once, and anything else rolls it back. A commit that fails because another
request got there first (a unique index, a version column) answers 409, never 500, and the
error handlers roll back on every exception.

GET requests commit too: the only thing a GET may write is bookkeeping (an API token's
``last_used_at``), and an empty commit costs what a rollback does.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Flask, current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from tracker.core.translations import gettext as _
from tracker.extensions import db


def in_transaction(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def run(*args: Any, **kwargs: Any) -> Any:
        response = current_app.make_response(view(*args, **kwargs))
        if response.status_code < 400:
            db.session.commit()
        else:
            db.session.rollback()  # refused input, conflicts: nothing half-done is kept
        return response

    return run


def install(app: Flask) -> None:
    """Wrap every registered view (call after the blueprints are registered)."""
    from tracker.core.errors import render_error

    for endpoint, view in list(app.view_functions.items()):
        if endpoint != "static":
            app.view_functions[endpoint] = in_transaction(view)

    @app.errorhandler(IntegrityError)
    def lost_race(err: IntegrityError):
        db.session.rollback()
        return render_error(409, _("保存冲突：相同的记录刚被他人保存。请刷新页面，核对后重试；您填写的内容请先复制保存。"))

    @app.errorhandler(StaleDataError)
    def stale(err: StaleDataError):
        db.session.rollback()
        return render_error(409, _("保存失败：在您操作期间，该记录已被他人修改。请刷新页面，核对后重试。"))
