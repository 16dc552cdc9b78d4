"""The header of every screen: its navigation and user menu (``header_nav``), with the badge
counts 待我审批 (requests this manager may decide) and unread 消息."""
from __future__ import annotations

from flask import render_template, request
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from tracker.core import pieces
from tracker.core.permissions import can
from tracker.extensions import db
from tracker.workflow import operations as wf
from tracker.workflow.blueprint import bp
from tracker.workflow.models import Notification, StageRequest


class NavCounts:
    """Both counts in one query, run only when a page shows them (lazily, once a request)."""

    def __init__(self, user):
        self._user = user
        self._values: tuple[int, int] | None = None

    def _load(self) -> tuple[int, int]:
        if self._values is None:
            user = self._user
            parts = []
            decide = can("stage.decide", None, user)
            inbox = can("stage.request", None, user)
            if decide:
                parts.append(wf.approval_queue(user).with_only_columns(func.count(StageRequest.id))
                             .order_by(None).scalar_subquery())
            if inbox:
                parts.append(wf.inbox_query(user).where(Notification.read_at.is_(None))
                             .with_only_columns(func.count(Notification.id)).scalar_subquery())
            values = [0, 0]
            if parts:
                try:
                    row = db.session.execute(select(*parts)).one()
                except SQLAlchemyError:  # never let a header badge break a page
                    row = (0,) * len(parts)
                it = iter(row)
                values = [next(it) if decide else 0, next(it) if inbox else 0]
            self._values = (int(values[0] or 0), int(values[1] or 0))
        return self._values

    @property
    def approvals(self) -> int:
        return self._load()[0]

    @property
    def unread(self) -> int:
        return self._load()[1]


@bp.app_template_global()
def header_nav() -> Markup:
    """The signed-in user's navigation and user menu (templates/_header_nav.html), kept as
    HTML until the data changes (core.pieces: ~0.4 ms of every page's rendering otherwise,
    a sixth of a list page). The key holds what the header shows of the person (name, role
    and so what they may open, unit), so that even a change made without an audit entry
    shows at once; the badge counts (reading a message is not audited); the endpoint (the
    current section) and the mount point its links start with."""
    user = current_user._get_current_object()
    endpoint = request.endpoint or ""
    counts = NavCounts(user)
    key = ("header", user.id, user.display_name, user.role, user.unit_id, user.unit.name, endpoint,
           request.script_root, counts.approvals, counts.unread)
    return pieces.kept(key, lambda: render_template("_header_nav.html", ep=endpoint, nav_counts=counts),
                       shelf="headers")
