"""The job runner: one thread per web process that takes queued jobs from the ``job`` table and
runs each in a worker process of the pool, with the kind's time limit.

Every web process started from wsgi.py runs one (gunicorn workers, ``flask run``); they share
the queue through the database — claiming is one conditional UPDATE, so a job runs once — and
need nothing else (no Redis). The runner:

- claims a queued job while it has a free slot (``JOB_WORKERS``, fewer than ``PDF_WORKERS``
  so a worker stays free for single briefs), wakes at once when this process queued one and
  otherwise looks every ``JOB_POLL_SECONDS``;
- keeps the heartbeat of its running jobs fresh; a job whose worker passed its time limit
  (pebble kills and replaces the worker) or died is marked failed with a clear message; a job
  the user cancelled has its worker killed;
- on a clean shutdown (a restart) puts its running jobs back in the queue; marks failed the
  running jobs of any process that stopped sending heartbeats (it crashed or was killed) —
  "interrupted, please try again" — and deletes results older than ``JOB_KEEP_HOURS``;
- folds the project tally's rows when they have grown (``projects.tally.fold``).
"""
from __future__ import annotations

import logging
import os
import pickle
import socket
import threading
import time
from concurrent.futures import CancelledError
from pathlib import Path

from flask_babel import force_locale
from pebble import ProcessExpired
from sqlalchemy import select

from tracker.core.db import writing
from tracker.core.translations import gettext as _
from tracker.extensions import db
from tracker.jobs import kinds
from tracker.jobs import operations as ops
from tracker.jobs import pool as pools
from tracker.jobs.models import Job
from tracker.jobs.worker import result_dir, run_job
from tracker.projects import tally

log = logging.getLogger(__name__)

DEFAULTS = {
    "JOB_POLL_SECONDS": 2.0,
    "JOB_HEARTBEAT_SECONDS": 10.0,
    "JOB_STALE_SECONDS": 90.0,
    "JOB_KEEP_HOURS": 24.0,
}
MAX_ATTEMPTS = 3  # runs of one job cut short by restarts before it is given up
SWEEP_EVERY = 30.0  # seconds between looks for stale jobs
EXPIRE_EVERY = 3600.0
FOLD_EVERY = 60.0  # seconds between looks at the project tally's length (projects.tally.fold)


def _setting(app, key: str) -> float:
    try:
        return float(app.config.get(key, DEFAULTS[key]))
    except (TypeError, ValueError):
        return DEFAULTS[key]


def job_slots(app) -> int:
    """Jobs one web process runs at once: one fewer than its PDF workers (at least one)."""
    configured = app.config.get("JOB_WORKERS")
    if configured:
        return max(1, int(configured))
    return max(1, int(app.config.get("PDF_WORKERS", pools.DEFAULT_WORKERS)) - 1)


def worker_config(app) -> dict:
    """The app's configuration as the worker process rebuilds it (what pickles)."""
    config = {}
    for key, value in app.config.items():
        try:
            pickle.dumps(value)
        except Exception:  # noqa: BLE001 - an unpicklable setting stays behind
            continue
        config[key] = value
    config["JOB_RESULT_DIR"] = str(result_dir(app))
    return config


class JobRunner:
    def __init__(self, app, pool: pools.WorkerPool | None = None, *, slots: int | None = None):
        self.app = app
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self.slots = slots or job_slots(app)
        self.poll = _setting(app, "JOB_POLL_SECONDS")
        self.heartbeat_every = _setting(app, "JOB_HEARTBEAT_SECONDS")
        self.stale_after = _setting(app, "JOB_STALE_SECONDS")
        self.keep_hours = _setting(app, "JOB_KEEP_HOURS")
        self._pool = pool
        self._config = worker_config(app)
        self._running: dict[int, object] = {}  # job id → pebble future
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_heartbeat = 0.0
        self._last_sweep = 0.0
        self._last_expire = 0.0
        self._last_fold = 0.0

    # --- life cycle ----------------------------------------------------------------------

    def start(self) -> JobRunner:
        self._thread = threading.Thread(target=self._loop, name="job-runner", daemon=True)
        self._thread.start()
        return self

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop taking jobs (the web process is shutting down, e.g. a restart). The jobs still
        running here are killed and put back in the queue, to start again in another web
        process or after the restart — up to MAX_ATTEMPTS times; after that they are reported
        interrupted, so nobody waits for ever for a job that keeps killing its process."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        with self._lock:
            running, self._running = dict(self._running), {}
        for future in running.values():
            future.cancel()
        if running:
            with self.app.app_context():
                try:
                    for job_id, locale, attempts in db.session.execute(
                            select(Job.id, Job.locale, Job.attempts).where(Job.id.in_(list(running)))).all():
                        if attempts < MAX_ATTEMPTS:
                            self._record(ops.requeue, job_id)
                        else:
                            self._record(ops.fail, job_id, ops.stale_message(locale))
                finally:
                    db.session.remove()

    @property
    def running_ids(self) -> list[int]:
        with self._lock:
            return list(self._running)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:
                log.exception("job runner")
            self._wake.wait(self.poll)
            self._wake.clear()

    # --- one round -------------------------------------------------------------------------

    def tick(self) -> None:
        """Collect finished jobs, keep heartbeats, sweep stale ones, claim new ones."""
        with self.app.app_context():
            try:
                self._collect()
                self._watch()
                self._sweep()
                if not self._stop.is_set():
                    self._claim()
            finally:
                db.session.remove()

    def _record(self, fn, *args, **kwargs):
        db.session.rollback()
        with writing():
            result = fn(*args, **kwargs)
            db.session.commit()
        return result

    def _collect(self) -> None:
        with self._lock:
            finished = [(jid, f) for jid, f in self._running.items() if f.done()]
            for jid, _f in finished:
                del self._running[jid]
        for job_id, future in finished:
            message = self._failure(future)
            if message is not None:
                job = db.session.get(Job, job_id)
                if job is not None:
                    with force_locale(job.locale or "zh_CN"):
                        text = str(message(job))
                    self._record(ops.fail, job_id, text)

    @staticmethod
    def _failure(future):
        """A message maker for a job whose worker did not report back, or None."""
        if future.cancelled():
            return None
        try:
            future.result(timeout=0)
        except CancelledError:
            return None
        except TimeoutError:
            def timed_out(job):
                kind = kinds.get(job.kind)
                return _("生成超过 %(n)d 秒仍未完成，已停止。请精简内容后重试，或联系系统管理员。",
                         n=int(kind.time_limit if kind else 0))
            return timed_out
        except ProcessExpired:
            return lambda job: _("生成服务意外中断，请重试。")
        except Exception:  # anything else the pool reports
            log.exception("job worker failed")
            return lambda job: _("生成失败：发生了意外错误。请重试；如仍失败，请联系系统管理员。")
        return None

    def _watch(self) -> None:
        """Kill the workers of jobs no longer running (cancelled, or given up as stale by
        another process); heartbeat the others."""
        ids = self.running_ids
        if not ids:
            return
        statuses = ops.statuses(ids)
        db.session.rollback()
        for job_id in ids:
            if statuses.get(job_id) != "running":
                with self._lock:
                    future = self._running.pop(job_id, None)
                if future is not None:
                    future.cancel()
        now = time.monotonic()
        if now - self._last_heartbeat >= self.heartbeat_every:
            self._last_heartbeat = now
            if self.running_ids:
                self._record(ops.heartbeat, self.running_ids)

    def _sweep(self) -> None:
        now = time.monotonic()
        if now - self._last_sweep >= min(SWEEP_EVERY, self.stale_after / 2):
            self._last_sweep = now
            if self.sweep_stale():
                log.warning("job runner: failed running jobs whose process stopped")
        if now - self._last_expire >= EXPIRE_EVERY:
            self._last_expire = now
            self.expire_old()
        if now - self._last_fold >= FOLD_EVERY:
            self._last_fold = now
            self._record(tally.fold)

    def sweep_stale(self) -> list[int]:
        stale_exists = db.session.execute(
            select(Job.id).where(Job.status == "running").limit(1)).scalar_one_or_none()
        db.session.rollback()
        if stale_exists is None:
            return []
        return self._record(ops.fail_stale, self.stale_after)

    def expire_old(self) -> int:
        files = self._record(ops.expire, self.keep_hours)
        directory = result_dir(self.app)
        for name in files:
            (directory / name).unlink(missing_ok=True)
        return len(files)

    def _claim(self) -> None:
        while len(self.running_ids) < self.slots:
            queued = db.session.execute(
                select(Job.id).where(Job.status == "queued").limit(1)).scalar_one_or_none()
            db.session.rollback()
            if queued is None:
                return
            job = self._record(ops.claim_next, self.name)
            if job is None:
                continue  # another process took it; look again
            kind = kinds.get(job.kind)
            if kind is None:
                self._record(ops.fail, job.id, _("未知的任务类型。"))
                continue
            try:
                pool = self._pool or pools.get_pool(self.app)
                future = pool.schedule(run_job, (self._config, job.id, kind.target), timeout=kind.time_limit)
            except Exception:  # the pool is broken: report, start a fresh one next time
                log.exception("job runner could not start job %s", job.id)
                if self._pool is None:
                    pools.shutdown_pool()
                with force_locale(job.locale or "zh_CN"):
                    self._record(ops.fail, job.id, _("生成服务意外中断，请重试。"))
                return
            with self._lock:
                self._running[job.id] = future
            future.add_done_callback(lambda _f: self._wake.set())


_runner: JobRunner | None = None
_runner_lock = threading.Lock()


def start_runner(app) -> JobRunner:
    """Start this process's runner (once). Called by wsgi.py, never by one-off commands."""
    global _runner
    with _runner_lock:
        if _runner is None:
            import atexit

            _runner = JobRunner(app).start()
            atexit.register(_runner.stop)
        return _runner


def notify() -> None:
    """A job was queued here: let this process's runner look now instead of at its next poll."""
    if _runner is not None:
        _runner.wake()


# --- which processes run it -------------------------------------------------------------------


def flask_command(argv: list[str]) -> str | None:
    """The ``flask`` subcommand in ``argv`` (``flask --app wsgi run`` → ``run``)."""
    args, i = argv[1:], 0
    while i < len(args):
        if args[i] in ("--app", "-A", "--env-file", "-e"):
            i += 2
        elif args[i].startswith("-"):
            i += 1
        else:
            return args[i]
    return None


def serving(argv: list[str], environ: dict[str, str]) -> bool:
    """Does this process serve requests (gunicorn, ``flask run``), not a one-off command?
    With the development reloader only the child process that serves counts: the watcher
    parent loads the app too, and a second runner there would claim jobs it cannot finish."""
    program = Path(argv[0])
    if program.name != "flask" and program.parent.name != "flask":  # `flask …`, `python -m flask …`
        return True
    if flask_command(argv) != "run":
        return False
    reloading = ("--debug" in argv or "--reload" in argv or environ.get("FLASK_DEBUG", "") in ("1", "true")) \
        and "--no-reload" not in argv and "--no-debug" not in argv
    return not reloading or environ.get("WERKZEUG_RUN_MAIN") == "true"
