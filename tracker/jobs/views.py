"""Job pages: a job's status page (progress polled by static/js/jobs.js), its JSON status, the
download of its result, and cancelling it. ``start`` is how other screens queue a job.

Who may see a job: only the user who started it; anyone else gets 404 (a job's existence is
not revealed), anonymous users the login page. The permission to start it (e.g. seeing the
ceremony) was checked by the screen that queued it.
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from flask import Blueprint, abort, after_this_request, flash, jsonify, redirect, render_template, send_file, url_for
from flask_login import current_user, login_required
from sqlalchemy import func, select

from tracker.core.translations import get_locale
from tracker.core.translations import gettext as _
from tracker.extensions import db
from tracker.jobs import kinds, runner
from tracker.jobs import operations as ops
from tracker.jobs.models import Job
from tracker.jobs.worker import result_dir

bp = Blueprint("jobs", __name__, url_prefix="/jobs")


@bp.before_request
@login_required
def _login_first():
    """Every job page needs a signed-in user."""


def load_job(job_id: int) -> Job:
    job = db.session.get(Job, job_id)
    if job is None or job.user_id != current_user.id:
        abort(404)
    return job


def start(kind: str, *, title: str, params: dict, back: str | None = None):
    """Queue a job for the current user and send them to its page; if one of the same kind is
    already queued or running, say so and send them to that one instead."""
    label = kinds.get(kind).label
    try:
        job = ops.submit(current_user, kind, title=title, params={**params, "back": back} if back else params,
                         locale=str(get_locale() or "zh_CN"))
    except ops.AlreadyActive as busy:
        db.session.rollback()
        flash(_("%(kind)s已在生成中，请稍候：完成后再生成新的一份。", kind=label), "info")
        if busy.job is None:  # finished between the check and now: just try again
            return redirect(back or url_for("index"))
        return redirect(url_for("jobs.view_job", job_id=busy.job.id))
    _notify_runner_after_commit()
    return redirect(url_for("jobs.view_job", job_id=job.id))


def _notify_runner_after_commit() -> None:
    """Wake the runner once the request's commit (core.lifecycle) has made the job visible."""

    @after_this_request
    def wake(response):
        runner.notify()
        return response


def _status_labels() -> dict[str, str]:
    return {"queued": _("排队中"), "running": _("正在生成"), "done": _("已完成"), "failed": _("失败"),
            "cancelled": _("已取消")}


def _ahead(job: Job) -> int:
    """Jobs queued before this one (all users): how long the wait may be."""
    if job.status != "queued":
        return 0
    return db.session.execute(
        select(func.count(Job.id)).where(Job.status == "queued", Job.id < job.id)
    ).scalar_one()


def _status(job: Job) -> dict:
    return {
        "id": job.id, "status": job.status, "status_label": _status_labels()[job.status],
        "progress": job.progress, "message": job.message or "", "error": job.error or "",
        "ahead": _ahead(job), "finished": not job.is_active,
        "download_url": url_for("jobs.download_result", job_id=job.id) if result_dir_path(job) else None,
    }


@bp.get("/<int:job_id>")
def view_job(job_id: int):
    job = load_job(job_id)
    kind = kinds.get(job.kind)
    return render_template("jobs/detail.html", job=job, state=_status(job), kind_label=kind.label if kind else job.kind,
                           back=(job.params or {}).get("back"))


@bp.get("/<int:job_id>/status")
def job_status(job_id: int):
    response = jsonify(_status(load_job(job_id)))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/<int:job_id>/download")
def download_result(job_id: int):
    job = load_job(job_id)
    path = result_dir_path(job)
    if path is None:
        abort(404)
    response = send_file(path, mimetype=job.result_type or "application/octet-stream", max_age=0)
    # RFC 6266: an ASCII name for old clients, the real (Chinese) one as filename*.
    disposition = "inline" if job.result_type == "application/pdf" else "attachment"
    ascii_name = f"{job.kind}-{job.id}{path.suffix}"
    response.headers["Content-Disposition"] = (
        f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(job.result_name or ascii_name, safe='')}"
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


def result_dir_path(job: Job) -> Path | None:
    """The result file of a finished job, if it is still there."""
    from flask import current_app

    if job.status != "done" or not job.result_file:
        return None
    directory = result_dir(current_app)
    path = (directory / job.result_file).resolve()
    if not path.is_relative_to(directory.resolve()) or not path.is_file():
        return None
    return path


@bp.post("/<int:job_id>/cancel")
def cancel_job(job_id: int):
    job = load_job(job_id)
    if ops.cancel(job):
        _notify_runner_after_commit()
        flash(_("已取消。"), "info")
    else:
        db.session.rollback()
    return redirect(url_for("jobs.view_job", job_id=job.id))
