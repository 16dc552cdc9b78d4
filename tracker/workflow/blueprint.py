"""The ``workflow`` blueprint and what its screens share: sign-in, loading a project with its
permission check, the friendly problem page, and a page of a listing.

The routes live in modules named for what they do (``request_views``, ``decision_views``,
``inbox_views``, ``milestone_views``); ``tracker.workflow.views`` imports them all so the
blueprint is complete when the app registers it.
"""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required
from sqlalchemy import Select

from tracker.core.pagination import Page
from tracker.core.permissions import load
from tracker.core.translations import gettext as _
from tracker.extensions import db
from tracker.projects.models import Project
from tracker.workflow.display import move_date_label

bp = Blueprint("workflow", __name__)
bp.add_app_template_global(move_date_label)

PER_PAGE = 20


@bp.before_request
@login_required
def _login_first():
    """Every workflow route needs a signed-in user."""


def load_project(project_id: int, action: str) -> Project:
    """The project (404 if missing) once ``action`` is allowed on it (404/403 otherwise)."""
    return load(Project, project_id, action)


def problem(status: int, message: str, project: Project | None = None):
    """A friendly 403/409 page with ways back (the queue, the project); nothing is saved."""
    db.session.rollback()
    titles = {403: _("没有权限"), 409: _("已被他人处理"), 404: _("找不到页面")}
    return render_template("workflow/problem.html", code=status, title=titles.get(status, _("出错了")),
                           message=message, project=project), status


def fetch_page(rows: Select, total: int, number: int) -> Page:
    """Page ``number`` of ``rows`` (clamped to the last page), PER_PAGE rows at a time."""
    number = min(number, max(1, -(-total // PER_PAGE)))
    items = db.session.execute(rows.limit(PER_PAGE).offset((number - 1) * PER_PAGE)).unique().scalars().all()
    return Page(items=list(items), page=number, per_page=PER_PAGE, total=total)
