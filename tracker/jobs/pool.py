"""Warm worker processes for work that must be killable: PDF rendering and background jobs.

Why processes: a thread cannot be stopped safely (the old PDF time limit raised an
asynchronous exception in the render thread, which landed in unrelated code), a process can —
pebble's ``ProcessPool`` terminates the worker running a task that passes its time limit and
starts a fresh one in its place.

Why forkserver: the web process has threads (gunicorn's, the job runner's) and open database
connections; forking it could copy a held lock or a live connection into the child. The fork
server is a clean single-threaded process that has already imported WeasyPrint and the app
(``PRELOAD``), so a replacement worker forks from it in milliseconds instead of paying a
fresh interpreter and half a second of imports.

Each worker runs the warm-up steps it was given (lay out a sample brief: fonts and layout
caches loaded) before taking its first task, so a brief costs what a warm one does even
right after a worker was replaced. One pool per process (``get_pool``), ``PDF_WORKERS``
workers: that bounds how much CPU PDFs and jobs of one web process can take at once.

As with any multiprocessing start method but fork, a worker imports the main script again
(as ``__mp_main__``): a script that uses the pool keeps its work under
``if __name__ == "__main__":`` (gunicorn, ``flask`` and pytest do).
"""
from __future__ import annotations

import atexit
import gc
import logging
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import CancelledError
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from pebble import ProcessExpired, ProcessFuture, ProcessPool

log = logging.getLogger(__name__)

# Imported once by the fork server: every worker forks with these already loaded.
PRELOAD = ["weasyprint", "tracker.jobs.worker", "tracker.briefs.render"]

DEFAULT_WORKERS = 2

_in_worker = False  # set in the worker processes by _init_worker


class PoolError(Exception):
    """Base of the pool's failures (the callers turn them into messages for people)."""


class TaskTimeout(PoolError):
    """The task ran past its time limit: its worker was killed (and replaced)."""


class PoolBusy(PoolError):
    """Every worker stayed busy for the whole wait: the task never started."""


class WorkerLost(PoolError):
    """The worker died under the task (killed from outside, out of memory, a crash)."""


def in_worker() -> bool:
    """True inside a pool worker: work there is already isolated and killable."""
    return _in_worker


def _init_worker(steps: tuple) -> None:
    """Runs first in every new worker: mark it, then warm it up (a failed warm-up is logged,
    not fatal: the first task then simply pays for it)."""
    global _in_worker
    _in_worker = True
    for fn, args in steps:
        try:
            fn(*args)
        except Exception:  # warming up is an optimisation
            log.exception("worker warm-up step %r failed", fn)
    # What warming up keeps (WeasyPrint, the fonts, the stylesheets) stays for the worker's
    # life: once the sample brief's garbage is collected, keep it out of the collector's full
    # passes (~1.5 ms a brief saved), as wsgi.py does.
    gc.collect()
    gc.freeze()


def _context():
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" not in methods:  # pragma: no cover - Windows
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


class WorkerPool:
    """``size`` warm worker processes; ``run`` waits for a result, ``schedule`` does not.

    ``run`` refuses at once (PoolBusy) when ``max_waiting`` tasks already wait for a worker:
    in a burst, a request gets a clear "busy" instead of joining a queue it cannot get
    through in its time limit (default: four per worker)."""

    def __init__(self, size: int = DEFAULT_WORKERS, warm: Iterable[tuple[Callable, tuple]] = (),
                 max_waiting: int | None = None):
        self.size = max(1, int(size))
        self.max_waiting = 4 * self.size if max_waiting is None else max(0, int(max_waiting))
        self._pool = ProcessPool(max_workers=self.size, initializer=_init_worker,
                                 initargs=(tuple(warm),), context=_context())
        self._closed = False
        self._inflight = 0
        self._count_lock = threading.Lock()

    @property
    def closed(self) -> bool:
        return self._closed or not self._pool.active

    def start(self) -> None:
        """Start the workers now (they start on the first task otherwise)."""
        self._pool._update_pool_status()  # pebble starts its processes lazily

    def schedule(self, fn: Callable, args: tuple = (), *, timeout: float | None) -> ProcessFuture:
        """Queue ``fn(*args)`` (module-level, picklable); the worker is killed after
        ``timeout`` seconds of running (the future then raises ``TimeoutError``)."""
        future = self._pool.schedule(fn, args=args, timeout=timeout)
        with self._count_lock:
            self._inflight += 1
        future.add_done_callback(self._task_done)
        return future

    def _task_done(self, _future) -> None:
        with self._count_lock:
            self._inflight -= 1

    @property
    def inflight(self) -> int:
        """Tasks scheduled and not finished (running or waiting for a worker)."""
        with self._count_lock:
            return self._inflight

    def run(self, fn: Callable, args: tuple = (), *, timeout: float) -> Any:
        """``fn(*args)`` in a worker, waiting at most ``timeout`` seconds in all (queue
        included). Raises TaskTimeout (the worker was killed), PoolBusy (too many waiting, or
        it had not started in time) or WorkerLost; exceptions raised by ``fn`` come through as
        they are."""
        if self.inflight >= self.size + self.max_waiting:
            raise PoolBusy(fn.__name__)
        try:
            future = self.schedule(fn, args, timeout=timeout)
        except RuntimeError as err:  # the pool broke down: get_pool starts a new one next time
            raise WorkerLost(f"{fn.__name__}: {err}") from None
        try:
            return future.result(timeout=timeout)
        except TimeoutError:
            if future.done():  # pebble's own time limit fired: the worker is gone
                raise TaskTimeout(fn.__name__) from None
            if future.running():
                future.cancel()  # pebble kills the worker running it and starts a fresh one
                raise TaskTimeout(fn.__name__) from None
            # Still waiting for a worker. It is left to run (a brief is cheap, and withdrawing
            # a task pebble has already handed to its workers' pipe costs a worker's life).
            raise PoolBusy(fn.__name__) from None
        except (ProcessExpired, BrokenProcessPool) as err:
            raise WorkerLost(f"{fn.__name__}: {err}") from None
        except CancelledError:
            raise PoolBusy(fn.__name__) from None

    def pids(self) -> list[int]:
        """The workers' process ids (for tests and the benchmark)."""
        workers = self._pool._pool_manager.worker_manager.workers
        return [pid for pid, proc in list(workers.items()) if proc.is_alive()]

    def close(self) -> None:
        """Stop every worker now (a running task is killed)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._pool.stop()
            self._pool.join(timeout=10)
        except Exception:  # shutting down anyway
            log.exception("stopping the worker pool")


_pool: WorkerPool | None = None
_pool_pid = 0
_lock = threading.Lock()


def get_pool(app=None) -> WorkerPool:
    """This process's pool, created on first use with ``PDF_WORKERS`` workers warmed up for
    PDF briefs. Needs the app (``app`` or the current one) the first time."""
    global _pool, _pool_pid
    with _lock:
        if _pool is not None and not _pool.closed and _pool_pid == os.getpid():
            return _pool
        if app is None:
            from flask import current_app

            app = current_app._get_current_object()
        from tracker.briefs.service import warm_up_steps

        size = app.config.get("PDF_WORKERS", DEFAULT_WORKERS)
        with app.app_context():
            steps = warm_up_steps()
        _pool, _pool_pid = WorkerPool(size, steps), os.getpid()
        return _pool


def shutdown_pool() -> None:
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None and _pool_pid == os.getpid():
        pool.close()


atexit.register(shutdown_pool)
