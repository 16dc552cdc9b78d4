"""HTML → PDF with WeasyPrint: one font configuration per process, a locked-down URL fetcher,
a time limit, and checks that the fast font path was taken and no glyph is missing.

Only our own autoescaped Jinja templates reach ``render_pdf``. WeasyPrint may fetch nothing
but ``data:`` URIs and files inside the prepared font directory and ``tracker/static``; every
other URL (``http:``, ``file:`` elsewhere, anything that would redirect) raises, and the
attempt is counted in ``Renderer.denied`` (the tests read it).
"""
from __future__ import annotations

import atexit
import base64
import ctypes
import logging
import mimetypes
import queue
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote_to_bytes, urlsplit
from urllib.request import url2pathname

from tracker.briefs import fonts

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
CSS_FILE = STATIC_DIR / "css" / "brief.css"

# WeasyPrint's warning when libharfbuzz-subset0 is missing: ~12 s a Chinese page instead of
# ~0.1 s. The renderer reports it loudly; a test fails if it ever appears.
SLOW_PATH_MARK = "Using fontTools instead of HarfBuzz-Subset"
NOTDEF_MARK = ".notdef glyph rendered"


class BriefError(Exception):
    """A brief cannot be produced; ``message`` is shown to the user."""

    status = 422

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class RenderTimeout(BriefError):
    status = 503


class RendererBusy(BriefError):
    status = 503


class _Deadline(BaseException):
    """Raised asynchronously in the render thread when a job runs past its time limit. A
    BaseException, so that WeasyPrint's own ``except Exception`` handlers do not swallow it
    (and it is repeated until it lands)."""


@dataclass
class RenderResult:
    pdf: bytes
    pages: int
    seconds: float
    missing: set[str] = field(default_factory=set)  # characters drawn as .notdef boxes
    slow_path: bool = False  # WeasyPrint fell back to fontTools subsetting


# --- URL fetcher ---------------------------------------------------------------------------

def _make_fetcher_class():
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class SafeFetcher(URLFetcher):
        """data: URIs and our own font/static files; nothing else, no network, no redirects."""

        def __init__(self, roots: list[Path]):
            super().__init__(allowed_protocols={"data", "file"}, allow_redirects=False,
                             fail_on_errors=False, timeout=1)
            self.roots = [r.resolve() for r in roots]
            self.denied: list[str] = []
            self._lock = threading.Lock()

        def _deny(self, url: str, why: str):
            with self._lock:
                self.denied.append(url[:200])
            log.warning("PDF renderer refused to fetch %.200s (%s)", url, why)
            raise ValueError(f"URL not allowed in briefs: {why}")

        def fetch(self, url, headers=None):
            scheme = url.split(":", 1)[0].lower() if ":" in url else ""
            if scheme == "data":
                return self._data(url)
            if scheme == "file":
                return self._file(url)
            return self._deny(url, "scheme")

        def _data(self, url: str):
            header, sep, payload = url[5:].partition(",")
            if not sep:
                return self._deny(url, "malformed data URI")
            params = header.split(";")
            mime = params[0] or "text/plain"
            raw = unquote_to_bytes(payload)
            if "base64" in params[1:]:
                raw = base64.b64decode(raw, validate=False)
            return URLFetcherResponse(url, body=raw, headers={"Content-Type": mime})

        def _file(self, url: str):
            parts = urlsplit(url)
            if parts.netloc not in ("", "localhost"):
                return self._deny(url, "remote file host")
            try:
                path = Path(url2pathname(parts.path)).resolve(strict=True)
            except (OSError, RuntimeError, ValueError):
                return self._deny(url, "no such file")
            if not path.is_file() or not any(path.is_relative_to(root) for root in self.roots):
                return self._deny(url, "outside the app's fonts and static files")
            mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            return URLFetcherResponse(path.as_uri(), body=path.read_bytes(), headers={"Content-Type": mime})

    return SafeFetcher


# --- Time limit ----------------------------------------------------------------------------
#
# Rendering runs on one dedicated thread per renderer; a request hands it the HTML and waits
# at most ``timeout`` seconds. On time-out the request answers at once (the web worker is never
# tied up) and the render thread is interrupted: a helper sets an asynchronous exception in it
# (PyThreadState_SetAsyncExc), repeated every 50 ms while that job is still the one running —
# Python delivers it at a bytecode boundary, and WeasyPrint's layout is Python. The exception
# only ever targets the render thread, never a request thread, and the interrupted renderer
# is replaced by a fresh one for the next brief.

_FIRE_EVERY = 0.05
_FIRE_TRIES = 200  # give up after ~10 s (a thread stuck in C code cannot be interrupted)


def _set_async_exc(thread_id: int, exc) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exc) if exc is not None else None)


class _Job:
    def __init__(self, html: str):
        self.html = html
        self.done = threading.Event()
        self.abandoned = False
        self.result: RenderResult | None = None
        self.error: BaseException | None = None


def pdf_css(files: list) -> str:
    """brief.css with each ``var(--brief-serif, …)``/``var(--brief-sans, …)`` replaced by the
    literal font list (WeasyPrint resolves custom properties per element, which is slow)."""
    stacks = {
        "serif": fonts.font_stack("TZ Brief Serif", files),
        "sans": fonts.font_stack("TZ Brief Sans", files),
    }
    css = CSS_FILE.read_text(encoding="utf-8")
    css = css.split(SCREEN_ONLY_MARK, 1)[0]  # the on-screen preview rules (media queries)
    return _FONT_VAR.sub(lambda m: stacks[m.group(1)], css)


SCREEN_ONLY_MARK = "/* ---------- On-screen preview"
_FONT_VAR = re.compile(r"var\(--brief-(serif|sans)\b[^)]*\)")


# --- Renderer ------------------------------------------------------------------------------

class _WarningCollector(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record):
        try:
            self.messages.append(record.getMessage())
        except Exception:  # noqa: BLE001 - a bad log record must not break rendering
            self.messages.append(str(record.msg))


class Renderer:
    """One per process (per font directory): WeasyPrint's FontConfiguration, the parsed
    stylesheets and the fetcher are built once and reused by every brief."""

    def __init__(self, font_dir: Path):
        from weasyprint import CSS
        from weasyprint.text import ffi as wp_ffi
        from weasyprint.text.fonts import FontConfiguration

        started = time.perf_counter()
        self.font_dir = Path(font_dir)
        self.files = fonts.manifest_files(self.font_dir)
        self.has_fast_subset = wp_ffi.harfbuzz_subset is not None
        if not self.has_fast_subset:
            log.error("libharfbuzz-subset0 is missing: PDF briefs take the slow fontTools path "
                      "(~12 s a page). Install it with apt-get.")
        if not self.files:
            log.warning("Prepared brief fonts not found in %s: using the system Noto CJK fonts "
                        "(larger PDFs). Run `flask briefs fonts` at set-up.", self.font_dir)
        self.font_config = FontConfiguration()
        self.fetcher = _make_fetcher_class()([self.font_dir, STATIC_DIR])
        self.stylesheets = [
            CSS(string=fonts.font_face_css(self.files), font_config=self.font_config,
                url_fetcher=self.fetcher),
            CSS(string=pdf_css(self.files), font_config=self.font_config, url_fetcher=self.fetcher),
        ]
        self.setup_seconds = time.perf_counter() - started
        self._state = threading.Lock()
        self._current: _Job | None = None
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="pdf-renderer", daemon=True)
        self._thread.start()

    @property
    def denied(self) -> list[str]:
        return self.fetcher.denied

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def render(self, html: str, *, timeout: float) -> RenderResult:
        """Render on the renderer's thread; RenderTimeout after ``timeout`` seconds (waiting
        for an earlier brief included)."""
        job = _Job(html)
        self._jobs.put(job)
        if not job.done.wait(timeout):
            with self._state:
                finished = job.done.is_set()
                running = self._current is job
                if not finished:
                    job.abandoned = True
            if not finished:
                if not running:
                    raise RendererBusy("busy")  # still queued behind other briefs
                self._interrupt(job)
                raise RenderTimeout("timeout")
        if job.error is not None:
            raise job.error
        assert job.result is not None
        return job.result

    def close(self) -> None:
        """Let the thread finish what is queued, then stop."""
        self._jobs.put(None)

    def _interrupt(self, job: _Job) -> None:
        thread_id = self._thread.ident

        def fire():
            for _ in range(_FIRE_TRIES):
                with self._state:
                    if self._current is not job:
                        return
                    _set_async_exc(thread_id, _Deadline)
                time.sleep(_FIRE_EVERY)
            log.error("PDF render thread did not stop after its time limit")

        threading.Thread(target=fire, name="pdf-renderer-stop", daemon=True).start()

    def _loop(self) -> None:
        while True:
            try:
                job = self._jobs.get()
                if job is None:
                    return
                self._run(job)
            except _Deadline:  # a late interruption: the job it was meant for has ended
                with self._state:
                    self._current = None
                    _set_async_exc(threading.get_ident(), None)
            except BaseException:
                log.exception("PDF render thread error")

    def _run(self, job: _Job) -> None:
        with self._state:
            if job.abandoned:  # its request gave up while it waited in the queue
                job.done.set()
                return
            self._current = job
        try:
            job.result = self._render(job.html)
        except _Deadline:
            job.error = RenderTimeout("timeout")
        except Exception as err:  # noqa: BLE001 - handed to the waiting request
            job.error = err
        finally:
            with self._state:
                self._current = None
                _set_async_exc(threading.get_ident(), None)  # withdraw one still pending
                job.done.set()

    def _render(self, html: str) -> RenderResult:
        from weasyprint import HTML
        from weasyprint.logger import LOGGER

        collector = _WarningCollector()
        LOGGER.addHandler(collector)
        started = time.perf_counter()
        try:
            document = HTML(string=html, url_fetcher=self.fetcher).render(
                font_config=self.font_config, stylesheets=self.stylesheets)
            pdf = document.write_pdf()
        finally:
            LOGGER.removeHandler(collector)
        missing = set()
        for font in getattr(document, "fonts", {}).values():
            missing.update(chr(cp) for cp in getattr(font, "missing", {}))
        seconds = time.perf_counter() - started
        slow = any(SLOW_PATH_MARK in m for m in collector.messages)
        if slow:
            log.error("PDF brief used WeasyPrint's slow fontTools subsetting: install libharfbuzz-subset0")
        for m in collector.messages:
            if NOTDEF_MARK in m:
                log.warning("PDF brief: %s", m)
        if missing:
            log.warning("PDF brief drew %d character(s) with no glyph: %r", len(missing), "".join(sorted(missing)))
        return RenderResult(pdf=pdf, pages=len(document.pages), seconds=seconds, missing=missing,
                            slow_path=slow)


_renderers: dict[Path, Renderer] = {}
_renderers_lock = threading.Lock()
# Drop the font configurations before interpreter shutdown tears down the modules their
# finalisers need.
atexit.register(_renderers.clear)


def get_renderer(font_dir: Path) -> Renderer:
    font_dir = Path(font_dir)
    with _renderers_lock:
        renderer = _renderers.get(font_dir)
        if renderer is None or not renderer.alive:
            renderer = _renderers[font_dir] = Renderer(font_dir)
        return renderer


def discard_renderer(font_dir: Path) -> None:
    """Drop a renderer (after a time-out interrupted it mid-layout): the next brief builds a
    fresh font configuration instead of trusting half-updated caches."""
    with _renderers_lock:
        renderer = _renderers.pop(Path(font_dir), None)
    if renderer is not None:
        renderer.close()


def warm_up(font_dir: Path, html: str | None = None) -> float:
    """Build the renderer and lay out a page (``html``: ideally a sample brief, so the fonts
    and font lists real briefs use are loaded), so a worker's first brief is fast. Returns
    seconds. See ``service.start_warm_up``."""
    started = time.perf_counter()
    get_renderer(font_dir).render(
        html or '<html><body class="brief-doc pdf"><h1 class="title">台州</h1><p>项目简介 1</p></body></html>',
        timeout=60)
    return time.perf_counter() - started


def render_pdf(html: str, *, font_dir: Path, timeout: float) -> RenderResult:
    renderer = get_renderer(font_dir)
    try:
        return renderer.render(html, timeout=timeout)
    except RenderTimeout:
        discard_renderer(font_dir)
        raise
