"""Downloading evidence scans (the 413 page for oversized uploads is in core/errors.py)."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, send_file
from flask_login import login_required

from tracker.core.errors import render_error
from tracker.core.permissions import require
from tracker.core.translations import gettext as _
from tracker.extensions import db
from tracker.projects.models import Project
from tracker.workflow.attachments import download_name, stored_path
from tracker.workflow.models import Attachment

bp = Blueprint("attachments", __name__)

# The file is never rendered by the browser as a page: no scripts, no plugins, no framing.
DOWNLOAD_CSP = "default-src 'none'; frame-ancestors 'none'; sandbox"


@bp.get("/attachments/<int:attachment_id>")
@login_required
def download_attachment(attachment_id: int):
    attachment = db.session.get(Attachment, attachment_id)
    if attachment is None:
        abort(404)
    project = db.session.get(Project, attachment.project_id)
    # Out of the user's unit scope → 404 (its existence is not revealed); role → 403.
    require("project.view", project)
    path = stored_path(attachment)
    try:
        if path is None:
            raise FileNotFoundError(attachment.stored_name)
        response = send_file(
            path,
            mimetype=attachment.content_type,
            as_attachment=True,
            download_name=download_name(attachment),  # RFC 6266: filename*=UTF-8''…
            etag=attachment.sha256,
            last_modified=attachment.created_at,
            max_age=0,
        )
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        current_app.logger.error("attachment %s: file %s missing from the upload directory",
                                 attachment.id, attachment.stored_name)
        return render_error(404, _("附件“%(name)s”的文件已丢失，请联系系统管理员从备份中恢复。",
                                   name=attachment.original_name))
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = DOWNLOAD_CSP
    response.headers["Cache-Control"] = "private, no-store"
    return response

