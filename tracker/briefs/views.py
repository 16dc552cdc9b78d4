"""Project brief routes: the PDF (Chinese or bilingual) and its HTML preview.

Same access rules as the project page: out-of-scope projects answer 404, roles without
``project.view`` 403. Ceremony booklets and order sheets live with the ceremonies.
"""
from __future__ import annotations

from io import BytesIO
from urllib.parse import quote

from flask import Blueprint, render_template, request, send_file, url_for
from flask_babel import force_locale
from flask_login import login_required
from markupsafe import Markup
from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload

from tracker.briefs import service
from tracker.briefs.doubts import print_doubts
from tracker.briefs.render import BriefError, RenderResult
from tracker.ceremonies.models import CeremonySigning
from tracker.core.db import built_once
from tracker.core.errors import render_error
from tracker.core.permissions import load_by
from tracker.extensions import db
from tracker.projects.models import Project

bp = Blueprint("briefs", __name__)


@bp.before_request
@login_required
def _login_first():
    """Every brief needs a signed-in user."""


# The project with everything a brief prints (built once: core.db.built_once).
_with_brief_relations = built_once(lambda: select(Project).options(
    *service.PRINTED, joinedload(Project.signing).joinedload(CeremonySigning.ceremony),
).where(Project.id == bindparam("id")))


def load_project(project_id: int) -> Project:
    return load_by(_with_brief_relations(), project_id, "project.view")


def pdf_response(result: RenderResult, filename: str, ascii_name: str):
    """The PDF inline, named per RFC 6266: an ASCII ``filename`` and the Chinese ``filename*``."""
    resp = send_file(BytesIO(result.pdf), mimetype="application/pdf", as_attachment=False, max_age=0)
    resp.headers["Content-Disposition"] = (
        f'inline; filename="{ascii_name}"; filename*=UTF-8\'\'{quote(filename, safe="")}'
    )
    resp.headers["Cache-Control"] = "private, no-store"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp


def unconfirmed(project: Project, endpoint: str):
    """The confirm-or-fix page when the amount looks like a unit mistake or the brief would
    print "（暂无简介）" and the user has not confirmed (``?confirm=1``); None when there is
    nothing to confirm."""
    if request.args.get("confirm") == "1":
        return None
    doubts = print_doubts(project)
    if not doubts:
        return None
    args = {k: v for k, v in request.args.items() if k in ("lang", "internal")}
    return render_template("briefs/confirm.html", project=project, doubts=doubts,
                           print_url=url_for(endpoint, project_id=project.id, confirm="1", **args))


def brief_error(err: BriefError):
    db.session.rollback()
    return render_error(err.status, err.message)


@bp.get("/projects/<int:project_id>/brief")
def preview_brief(project_id: int):
    project = load_project(project_id)
    ask = unconfirmed(project, "briefs.preview_brief")
    if ask is not None:
        return ask
    bilingual = request.args.get("lang") == "bilingual"
    try:
        brief = service.project_brief(project)
    except BriefError as err:
        return brief_error(err)
    # The preview shows the document as printed: Chinese labels whatever the UI language. The
    # body is our own autoescaped template output, hence Markup.
    with force_locale("zh_CN"):
        body = Markup(render_template("briefs/_preview_body.html", brief=brief, h=service.helpers(),
                                      bilingual=bilingual))
    return render_template("briefs/preview.html", project=project, body=body, bilingual=bilingual)


@bp.get("/projects/<int:project_id>/brief.pdf")
def brief_pdf(project_id: int):
    project = load_project(project_id)
    ask = unconfirmed(project, "briefs.brief_pdf")
    if ask is not None:
        return ask
    bilingual = request.args.get("lang") == "bilingual"
    try:
        result = service.brief_pdf(project, bilingual=bilingual, internal=request.args.get("internal") == "1")
    except BriefError as err:
        return brief_error(err)
    suffix = "项目简介（中英文）" if bilingual else "项目简介"
    ascii_name = f"brief-{project.id}{'-bilingual' if bilingual else ''}.pdf"
    return pdf_response(result, service.pdf_filename(project.name, suffix), ascii_name)
