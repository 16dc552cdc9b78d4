"""What runs inside a pool worker process for one job.

The runner (in a web process) has already marked the job running; here the worker builds the
app once per configuration (its own engine and connections: nothing is inherited from the
web process), calls the kind's function with a ``JobContext``, stores the result file and
marks the job done — or failed, with a message for the user. Progress is written in short
transactions of their own, so the page that polls sees it at once.

The booklet jobs only read. A job that writes (an import) commits its own batches, each
begun inside ``core.db.writing()`` so that SQLite opens them IMMEDIATE.
"""
from __future__ import annotations

import hashlib
import importlib
import logging
import pickle
import secrets
from dataclasses import dataclass
from pathlib import Path

from flask_babel import force_locale
from sqlalchemy.orm import Session

from tracker.core.db import writing
from tracker.core.translations import gettext as _
from tracker.extensions import db
from tracker.jobs import operations as ops
from tracker.jobs.models import Job

log = logging.getLogger(__name__)


class JobCancelled(Exception):
    """The job is no longer running (the user cancelled it, or it was given up): stop."""


class JobError(Exception):
    """The job cannot be done; ``message`` is shown to the user."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class JobOutput:
    """A job's result: a file the owner downloads from the job page."""

    data: bytes
    filename: str  # the download name (Chinese kept; sent as RFC 6266 filename*)
    mimetype: str = "application/pdf"


class JobContext:
    """Handed to a job function: its parameters, its user, ``progress()``, and
    ``done_message``: what the job page says once it has finished (default "已完成")."""

    def __init__(self, job: Job):
        self.done_message = ""
        self.job_id = job.id
        self.kind = job.kind
        self.params = dict(job.params or {})
        self.user_id = job.user_id
        self.locale = job.locale or "zh_CN"

    @property
    def user(self):
        from tracker.auth.models import User

        return db.session.get(User, self.user_id) if self.user_id else None

    def progress(self, percent: int, message: str = "") -> None:
        """Report progress (0-100) and what is being done, in a transaction of its own.
        Raises JobCancelled when the job is no longer running, so the work stops."""
        with writing(), Session(db.engine) as session:
            still = ops.set_progress(self.job_id, percent, message, session=session)
            session.commit()
        if not still:
            raise JobCancelled(self.job_id)


# --- the app inside the worker -------------------------------------------------------------

_apps: dict[str, object] = {}


def _app(config: dict):
    """One app per configuration in this worker (created on its first job)."""
    key = hashlib.sha256(pickle.dumps(sorted(config.items(), key=lambda kv: kv[0]))).hexdigest()
    app = _apps.get(key)
    if app is None:
        from tracker import create_app

        app = _apps[key] = create_app({**config, "LOAD_MIGRATIONS": False})
    return app


def _resolve(target: str):
    module, _sep, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def result_dir(app) -> Path:
    configured = app.config.get("JOB_RESULT_DIR")
    return Path(configured) if configured else Path(app.instance_path) / "job-results"


def _store(app, output: JobOutput) -> str:
    directory = result_dir(app)
    directory.mkdir(parents=True, exist_ok=True)
    suffix = Path(output.filename).suffix.lower()[:10] if "." in output.filename else ""
    name = secrets.token_hex(16) + suffix
    (directory / name).write_bytes(output.data)
    return name


def _record(fn, *args, **kwargs) -> bool:
    """One short write transaction for a status change."""
    db.session.rollback()  # end whatever the job function left open (it only read)
    with writing():
        changed = fn(*args, **kwargs)
        db.session.commit()
    return changed


def run_job(config: dict, job_id: int, target: str) -> str:
    """The pool task for one job; returns what became of it (done, failed, cancelled,
    gone). Time limits and crashes are the runner's to report: it sees the worker die."""
    app = _app(config)
    with app.app_context():
        try:
            job = db.session.get(Job, job_id)
            if job is None or job.status != "running":
                return "gone"
            ctx = JobContext(job)
            with force_locale(ctx.locale):
                return _run(app, ctx, _resolve(target))
        finally:
            db.session.remove()


def _run(app, ctx: JobContext, fn) -> str:
    from tracker.briefs.render import BriefError

    stored = None
    try:
        output = fn(ctx)
        if output is not None:
            stored = _store(app, output)
        done = _record(ops.finish, ctx.job_id, result_file=stored,
                       result_name=output.filename if output else None,
                       result_type=output.mimetype if output else None,
                       result_size=len(output.data) if output else None,
                       message=ctx.done_message or _("已完成"))
        if not done and stored:  # cancelled meanwhile: nobody will download it
            (result_dir(app) / stored).unlink(missing_ok=True)
        return "done" if done else "cancelled"
    except JobCancelled:
        db.session.rollback()
        return "cancelled"
    except (JobError, BriefError) as err:
        _record(ops.fail, ctx.job_id, err.message)
        return "failed"
    except Exception:
        log.exception("job %s (%s) failed", ctx.job_id, ctx.kind)
        _record(ops.fail, ctx.job_id, _("生成失败：发生了意外错误。请重试；如仍失败，请联系系统管理员。"))
        return "failed"
