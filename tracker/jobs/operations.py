"""Every change to a job's row: submit, claim, progress, heartbeat, finish, fail, cancel,
expire. Each status change is one conditional UPDATE (``… WHERE status = 'running'``), so a
job that was cancelled, timed out or reported stale is never brought back by a late writer,
and two web processes never claim the same job. Nothing here commits: the view commits a
submission, and the runner and the worker commit their own short transactions.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from flask_babel import force_locale
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from tracker.core.db import utcnow
from tracker.extensions import db
from tracker.jobs import kinds
from tracker.jobs.models import ACTIVE, Job

TITLE_MAX = 300
MESSAGE_MAX = 200


class AlreadyActive(Exception):
    """The user already has a job of this kind queued or running (``job``)."""

    def __init__(self, job: Job | None):
        super().__init__("already active")
        self.job = job


def active_job(user, kind: str) -> Job | None:
    return db.session.execute(
        select(Job).where(Job.user_id == user.id, Job.kind == kind, Job.status.in_(ACTIVE))
        .order_by(Job.id.desc()).limit(1)
    ).scalar_one_or_none()


def submit(user, kind: str, *, title: str, params: dict, locale: str = "zh_CN") -> Job:
    """Queue a job for ``user``; AlreadyActive if one of the same kind is queued or running
    (checked first, and guarded by a partial unique index when two requests race)."""
    if kinds.get(kind) is None:
        raise ValueError(f"unknown job kind {kind!r}")
    existing = active_job(user, kind)
    if existing is not None:
        raise AlreadyActive(existing)
    job = Job(kind=kind, status="queued", progress=0, message="", title=title[:TITLE_MAX], user_id=user.id,
              locale=locale, params=params, attempts=0, created_at=utcnow())
    try:
        with db.session.begin_nested():
            db.session.add(job)
            db.session.flush()
    except IntegrityError:
        raise AlreadyActive(active_job(user, kind)) from None
    return job


def claim_next(worker: str, now: datetime | None = None) -> Job | None:
    """Mark the oldest queued job running for ``worker`` and return it (None if there is
    none, or another process took it first). On PostgreSQL the candidate row is locked with
    SKIP LOCKED so concurrent claimers pass over it; on SQLite the caller's transaction is
    BEGIN IMMEDIATE (``core.db.writing``), which serialises claimers."""
    now = now or utcnow()
    query = select(Job.id).where(Job.status == "queued").order_by(Job.created_at, Job.id).limit(1)
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    job_id = db.session.execute(query).scalar_one_or_none()
    if job_id is None:
        return None
    claimed = db.session.execute(
        update(Job).where(Job.id == job_id, Job.status == "queued")
        .values(status="running", started_at=now, heartbeat_at=now, worker=worker[:100],
                attempts=Job.attempts + 1, progress=0)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        return None
    job = db.session.get(Job, job_id, populate_existing=True)
    return job


def _running(job_id: int, session=None, **values) -> bool:
    return (session or db.session).execute(
        update(Job).where(Job.id == job_id, Job.status == "running").values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount == 1


def set_progress(job_id: int, progress: int, message: str = "", now: datetime | None = None, *,
                 session=None) -> bool:
    """False when the job is no longer running (cancelled or given up): stop working.
    ``session``: the worker reports progress in a short transaction of its own."""
    progress = max(0, min(100, int(progress)))
    return _running(job_id, session, progress=progress, message=message[:MESSAGE_MAX],
                    heartbeat_at=now or utcnow())


def heartbeat(job_ids: list[int], now: datetime | None = None) -> None:
    if job_ids:
        db.session.execute(
            update(Job).where(Job.id.in_(job_ids), Job.status == "running").values(heartbeat_at=now or utcnow())
            .execution_options(synchronize_session=False)
        )


def finish(job_id: int, *, result_file: str | None, result_name: str | None, result_type: str | None,
           result_size: int | None, message: str = "", now: datetime | None = None) -> bool:
    now = now or utcnow()
    return _running(job_id, None, status="done", progress=100, message=message[:MESSAGE_MAX], result_file=result_file,
                    result_name=result_name, result_type=result_type, result_size=result_size, finished_at=now,
                    heartbeat_at=now)


def fail(job_id: int, error: str, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return _running(job_id, None, status="failed", error=error, finished_at=now, heartbeat_at=now)


def requeue(job_id: int) -> bool:
    """Put a running job back in the queue (its web process is shutting down cleanly: another
    process, or this one after the restart, runs it again from the start)."""
    return _running(job_id, None, status="queued", progress=0, message="", worker=None, started_at=None,
                    heartbeat_at=None)


def cancel(job: Job, now: datetime | None = None) -> bool:
    """Withdraw a queued job or stop a running one (its worker is killed by the runner)."""
    now = now or utcnow()
    done = db.session.execute(
        update(Job).where(Job.id == job.id, Job.status.in_(ACTIVE))
        .values(status="cancelled", finished_at=now).execution_options(synchronize_session=False)
    ).rowcount == 1
    db.session.refresh(job)
    return done


def statuses(job_ids: list[int]) -> dict[int, str]:
    if not job_ids:
        return {}
    return dict(db.session.execute(select(Job.id, Job.status).where(Job.id.in_(job_ids))).all())


def stale_message(locale: str) -> str:
    from flask_babel import gettext as _

    with force_locale(locale or "zh_CN"):
        return _("任务被中断（服务器重启），请重新生成。")


def fail_stale(stale_after: float, now: datetime | None = None) -> list[int]:
    """Running jobs whose process stopped sending heartbeats (it died or the server was
    restarted) are failed with a clear message. Returns their ids."""
    now = now or utcnow()
    cutoff = now - timedelta(seconds=stale_after)
    rows = db.session.execute(
        select(Job.id, Job.locale).where(Job.status == "running", Job.heartbeat_at < cutoff)
    ).all()
    failed = []
    for job_id, locale in rows:
        changed = db.session.execute(
            update(Job).where(Job.id == job_id, Job.status == "running", Job.heartbeat_at < cutoff)
            .values(status="failed", error=stale_message(locale), finished_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if changed:
            failed.append(job_id)
    return failed


def expire(keep_hours: float, now: datetime | None = None) -> list[str]:
    """Delete finished jobs older than ``keep_hours``; returns their result file names (the
    caller removes the files after committing)."""
    now = now or utcnow()
    cutoff = now - timedelta(hours=keep_hours)
    old = db.session.execute(
        select(Job).where(Job.status.notin_(ACTIVE), Job.finished_at < cutoff)
    ).scalars().all()
    files = [j.result_file for j in old if j.result_file]
    for job in old:
        db.session.delete(job)
    db.session.flush()
    return files
