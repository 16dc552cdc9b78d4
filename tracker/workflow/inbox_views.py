"""The requester's inbox (消息): decisions on their requests, newest first, and marking them
read. Only notifications about projects still in the user's scope are listed or counted."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func
from sqlalchemy.orm import joinedload

from tracker.core.input import int_arg
from tracker.core.pagination import page_arg
from tracker.core.permissions import require
from tracker.core.translations import gettext as _
from tracker.extensions import db
from tracker.workflow import operations as wf
from tracker.workflow.blueprint import bp, fetch_page
from tracker.workflow.models import Notification, StageRequest


@bp.get("/inbox")
def view_inbox():
    require("stage.request")
    base = wf.inbox_query(current_user)
    total = db.session.execute(base.with_only_columns(func.count(Notification.id))).scalar_one()
    page = fetch_page(
        base.options(joinedload(Notification.request).joinedload(StageRequest.project),
                     joinedload(Notification.request).joinedload(StageRequest.decided_by))
        .order_by(Notification.created_at.desc(), Notification.id.desc()),
        total, page_arg(request.args.get("page")),
    )
    unread = db.session.execute(
        base.where(Notification.read_at.is_(None)).with_only_columns(func.count(Notification.id))
    ).scalar_one()
    return render_template("workflow/inbox.html", page=page, unread=unread)


@bp.post("/inbox/read")
def mark_inbox_read():
    require("stage.request")
    ids = [i for i in (int_arg(v) for v in request.form.getlist("id")) if i is not None]
    count = wf.mark_read(current_user, ids or None)
    if count:
        flash(_("已将 %(n)d 条消息标为已读。", n=count), "success")
    return redirect(url_for("workflow.view_inbox"))
