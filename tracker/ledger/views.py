"""Ledger screens: export of the project list (.xlsx/.csv), the blank template, and the
import — upload, dry run (every row's outcome, every error by row, column and message, an
error-marked workbook), then an all-or-nothing commit (inline, or as a job with a progress
bar for long files).

Who may do what: export is ``project.export`` with the list's scope and filters; import is
``project.create``, and ``plan_import`` refuses rows for units outside the user's scope. An
upload's token is its uploader's only (anyone else: 404).
"""
from __future__ import annotations

import re
import tempfile
from typing import Any

from flask import (
    Blueprint,
    abort,
    after_this_request,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user, login_required

from tracker.core.pagination import Page, page_arg
from tracker.core.permissions import can, require
from tracker.core.translations import gettext as _
from tracker.extensions import db
from tracker.ledger import storage
from tracker.ledger.columns import BY_KEY
from tracker.ledger.export import export_file, filename
from tracker.ledger.forms import ImportForm
from tracker.ledger.operations import OUTCOMES, ImportPlan, done_message, failed_message, plan_import, summarise
from tracker.ledger.read import MAX_BYTES, LedgerFileError
from tracker.projects.queries import ProjectFilters

bp = Blueprint("ledger", __name__, url_prefix="/projects")

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PREVIEW_PER_PAGE = 100
JOB_ROWS = 500


def _max_mb() -> int:
    """The largest upload, as users see it: the smaller of the reader's and the app's limits."""
    limit = min(MAX_BYTES, current_app.config.get("MAX_CONTENT_LENGTH") or MAX_BYTES)
    return limit // (1024 * 1024)  # a commit of more rows runs as a job with a progress bar


@bp.before_request
@login_required
def _login_first():
    """Every ledger route needs a signed-in user."""


# --- export ---------------------------------------------------------------------------------

def _export(kind: str):
    require("project.export")
    filters = ProjectFilters.from_args(request.args)
    if filters.archived and not can("project.archive"):
        filters.archived = False  # as the list page does
    handle = export_file(current_user, filters, kind)
    mimetype = XLSX if kind == "xlsx" else "text/csv; charset=utf-8"
    response = send_file(handle, mimetype=mimetype, as_attachment=True, download_name=filename(kind), max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/export.xlsx")
def export_xlsx():
    return _export("xlsx")


@bp.get("/export.csv")
def export_csv():
    return _export("csv")


@bp.get("/import/template.xlsx")
def import_template():
    require("project.create")
    from tracker.ledger.template import write_template

    handle = tempfile.TemporaryFile()
    write_template(current_user, handle)
    handle.seek(0)
    return send_file(handle, mimetype=XLSX, as_attachment=True, download_name=_("签约项目台账模板.xlsx"), max_age=0)


# --- import ---------------------------------------------------------------------------------

def _form() -> ImportForm:
    form = ImportForm()
    if current_user.is_city:
        from tracker.projects.choices import units

        form.unit_id.choices = [("", _("（每行须填写落户地）"))] + list(units(current_user).options)
    else:
        del form.unit_id
    return form


@bp.get("/import")
def import_form():
    require("project.create")
    return render_template("ledger/upload.html", form=_form(), max_mb=_max_mb())


@bp.post("/import/preview")
def import_preview():
    require("project.create")
    form = _form()
    if not form.validate_on_submit():
        return render_template("ledger/upload.html", form=form, max_mb=_max_mb()), 422
    upload = form.file.data
    if upload is None or not getattr(upload, "filename", ""):
        form.file.errors.append(_("请选择要导入的台账文件。"))
        return render_template("ledger/upload.html", form=form, max_mb=_max_mb()), 422
    data = upload.read(MAX_BYTES + 1)
    name = re.sub(r"[\x00-\x1f\x7f/\\]", "", upload.filename).strip()[-120:] or "ledger"  # shown and reused
    unit_id = form.unit_id.data if "unit_id" in form else None
    confirm = bool(form.confirm_amounts.data)
    try:
        plan = plan_import(current_user, name, data, unit_id=unit_id, confirm_amounts=confirm)
    except LedgerFileError as err:
        form.file.errors.append(err.message)
        return render_template("ledger/upload.html", form=form, max_mb=_max_mb()), 422
    token = storage.save(current_user.id, name, data,
                         {"unit_id": unit_id, "confirm_amounts": confirm, "summary": summarise(plan)})
    return redirect(url_for("ledger.import_review", token=token), code=303)


def _is_summary(s: Any) -> bool:
    """Whether a stored summary has the shape ``summarise`` gives it (its rows: ``_is_row``),
    so that a note edited on disk gets the 404 a missing one gets, not a broken page."""
    return (isinstance(s, dict) and isinstance(s.get("counts"), dict)
            and all(isinstance(s["counts"].get(k), int) for k in OUTCOMES)
            and isinstance(s.get("header_row"), int) and _texts(s.get("ignored"))
            and isinstance(s.get("columns"), list) and all(isinstance(c, list) and len(c) == 3 for c in s["columns"])
            and isinstance(s.get("rows"), list))


def _is_row(r: Any) -> bool:
    """A summary row as ``summarise`` writes it; checked for the rows a page shows only (a
    100,000-row file's every row on every page would cost more than reading the note)."""
    return (isinstance(r, list) and len(r) == 5 and r[1] in OUTCOMES and _texts(r[3]) and isinstance(r[4], list)
            and all(isinstance(e, list) and len(e) == 2 for e in r[4]))


def _texts(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(t, str) for t in v)


def _kind(r: Any) -> Any:
    return r[1] if isinstance(r, list) and len(r) == 5 else None


def _load(token: str) -> tuple[dict[str, Any], bytes]:
    found = storage.load(token, current_user.id)
    if found is None:
        abort(404)
    return found


@bp.get("/import/<token>")
def import_review(token: str):
    require("project.create")
    meta = storage.load_meta(token, current_user.id)  # the summary is in the note: the file is not read
    summary = meta.get("summary") if meta else None
    if not summary or not _is_summary(summary):
        abort(404)
    show = request.args.get("show") if request.args.get("show") in ("errors", "changes") else ""
    rows = summary["rows"]
    if show == "errors":
        rows = [r for r in rows if _kind(r) == "error"]
    elif show == "changes":
        rows = [r for r in rows if _kind(r) in ("new", "update")]
    page_no = page_arg(request.args.get("page"))
    pages = max(1, -(-len(rows) // PREVIEW_PER_PAGE))
    page_no = min(page_no, pages)
    start = (page_no - 1) * PREVIEW_PER_PAGE
    items = rows[start:start + PREVIEW_PER_PAGE]
    if not all(_is_row(r) for r in items):
        abort(404)
    page = Page(items=items, page=page_no, per_page=PREVIEW_PER_PAGE, total=len(rows))
    return render_template("ledger/preview.html", token=token, meta=meta, s=summary, page=page, show=show,
                           job_rows=_job_rows(), headers=BY_KEY)


@bp.get("/import/<token>/errors.xlsx")
def import_errors(token: str):
    require("project.create")
    meta, data = _load(token)
    from tracker.ledger.errors_workbook import write_errors

    try:
        plan = plan_import(current_user, meta["filename"], data, unit_id=meta.get("unit_id"),
                           confirm_amounts=bool(meta.get("confirm_amounts")))
    except LedgerFileError:
        abort(404)
    handle = tempfile.TemporaryFile()
    write_errors(plan, handle)
    handle.seek(0)
    stem = meta["filename"].rsplit(".", 1)[0] or "ledger"
    return send_file(handle, mimetype=XLSX, as_attachment=True, download_name=_("%(name)s-错误标注.xlsx", name=stem),
                     max_age=0)


@bp.post("/import/<token>/commit")
def import_commit(token: str):
    require("project.create")
    meta, data = _load(token)
    review = url_for("ledger.import_review", token=token)
    summary = meta.get("summary")
    if _is_summary(summary) and summary.get("ok") is True and len(summary["rows"]) > _job_rows():
        # A long file the dry run passed goes to the job as it is: the job checks it again
        # (the data may have changed since) before writing, so it is not parsed here as well.
        return _start_job(token, meta)
    try:
        plan = plan_import(current_user, meta["filename"], data, unit_id=meta.get("unit_id"),
                           confirm_amounts=bool(meta.get("confirm_amounts")))
    except LedgerFileError as err:
        flash(err.message, "error")
        return redirect(url_for("ledger.import_form"))
    if not plan.ok:
        # The data changed since the dry run (or the dry run had errors): show it again.
        storage.write_meta(token, {**meta, "summary": summarise(plan)})
        flash(_("文件中有错误，没有导入任何数据：请按下方说明修改后重新上传。"), "error")
        return redirect(review)
    if len(plan.outcomes) > _job_rows():
        return _start_job(token, meta)
    return _commit_inline(token, plan)


def _job_rows() -> int:
    """More rows than this commit as a job, with a progress bar."""
    return current_app.config.get("LEDGER_JOB_ROWS", JOB_ROWS)


def _start_job(token: str, meta: dict[str, Any]):
    from tracker.jobs.views import start

    return start("ledger_import", title=_("导入台账：%(name)s", name=meta["filename"]), params={"token": token},
                 back=url_for("projects.list_projects"))


def _commit_inline(token: str, plan: ImportPlan):
    from tracker.ledger.operations import commit_import
    from tracker.projects.operations import FieldErrors

    try:
        counts = commit_import(current_user, plan)
    except FieldErrors as err:  # a name taken meanwhile, say: nothing is kept
        db.session.rollback()
        flash(failed_message(err), "error")
        return redirect(url_for("ledger.import_review", token=token))

    @after_this_request
    def forget(response):
        if response.status_code < 400:  # committed: the upload is no longer needed
            storage.remove(token)
        return response

    flash(done_message(counts), "success")
    return redirect(url_for("projects.list_projects"))
