"""HTML → PDF with WeasyPrint: one font configuration per process, a locked-down URL fetcher,
a time limit, and checks that the fast font path was taken and no glyph is missing.

Only our own autoescaped Jinja templates reach ``render_pdf``. WeasyPrint may fetch nothing
but ``data:`` URIs and files inside the prepared font directory and ``tracker/static``; every
other URL (``http:``, ``file:`` elsewhere, anything that would redirect) raises, and the
attempt is listed in ``RenderResult.denied`` (the tests read it).

Where it renders: in a warm worker process of the process pool (``tracker.jobs.pool``), which
is killed and replaced when a render passes its time limit — a process can be stopped
anywhere, a thread cannot. Code already running in a pool worker (a booklet job) and the
command line (``rendering_here``) render in their own process.
"""
from __future__ import annotations

import atexit
import base64
import logging
import mimetypes
import os
import re
import threading
import time
from contextlib import contextmanager
from contextvars import ContextVar
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


class RendererFailed(BriefError):
    """The worker process died under the render (not a time-out)."""

    status = 503


@dataclass
class RenderResult:
    pdf: bytes
    pages: int
    seconds: float  # layout and PDF writing, in the process that rendered
    missing: set[str] = field(default_factory=set)  # characters drawn as .notdef boxes
    slow_path: bool = False  # WeasyPrint fell back to fontTools subsetting
    denied: list[str] = field(default_factory=list)  # URLs the fetcher refused during this render
    pid: int = 0  # the process that rendered


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


def font_stacks(files: list) -> dict[str, str]:
    """The CSS font lists of the prepared fonts: serif (body), sans (bold headings)."""
    return {"serif": fonts.font_stack("TZ Brief Serif", files), "sans": fonts.font_stack("TZ Brief Sans", files)}


def pdf_css(files: list) -> str:
    """brief.css with each ``var(--brief-serif, …)``/``var(--brief-sans, …)`` replaced by the
    literal font list (WeasyPrint resolves custom properties per element, which is slow)."""
    stacks = font_stacks(files)
    css = CSS_FILE.read_text(encoding="utf-8")
    css = css.split(SCREEN_ONLY_MARK, 1)[0]  # the on-screen preview rules (media queries)
    return _FONT_VAR.sub(lambda m: stacks[m.group(1)], css)


SCREEN_ONLY_MARK = "/* ---------- On-screen preview"
_FONT_VAR = re.compile(r"var\(--brief-(serif|sans)\b[^)]*\)")




# --- Renderer ------------------------------------------------------------------------------

FLATE_LEVEL = 6


def _use_flate_level(level: int = FLATE_LEVEL) -> None:
    """Have pydyf (WeasyPrint's PDF writer) compress streams at zlib ``level`` instead of its
    fixed 9: for a brief, level 9 costs ~4 ms more CPU (6 % of the render: most of the bytes
    are the embedded font) for PDFs 0.3 % smaller. pydyf has no setting, so its module's
    ``zlib`` is given a ``compressobj`` with our level (the latest call's, for the whole
    process); if a pydyf release stops using ``zlib.compressobj`` this way, nothing changes
    (its own level stays: a test then fails)."""
    import zlib

    import pydyf

    current = getattr(pydyf, "zlib", None)
    if isinstance(current, _Zlib):
        current.level = level
    elif current is zlib:
        pydyf.zlib = _Zlib(level)


class _Zlib:
    """Stands in for the ``zlib`` module inside pydyf: ``compressobj`` at a chosen level."""

    def __init__(self, level: int):
        import zlib

        self.level, self._zlib = level, zlib

    def compressobj(self, level: int = -1, *args, **kwargs):
        return self._zlib.compressobj(self.level, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._zlib, name)


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
    stylesheets and the fetcher are built once and reused by every brief. Renders one
    document at a time (WeasyPrint's font caches are not meant for concurrent layouts)."""

    def __init__(self, font_dir: Path):
        from weasyprint import CSS
        from weasyprint.text import ffi as wp_ffi
        from weasyprint.text.fonts import FontConfiguration

        started = time.perf_counter()
        _use_flate_level()
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
        self._lock = threading.Lock()

    @property
    def denied(self) -> list[str]:
        return self.fetcher.denied

    def render(self, html: str) -> RenderResult:
        from weasyprint import HTML
        from weasyprint.logger import LOGGER

        with self._lock:
            collector = _WarningCollector()
            LOGGER.addHandler(collector)
            denied_before = len(self.fetcher.denied)
            started = time.perf_counter()
            try:
                document = HTML(string=html, url_fetcher=self.fetcher).render(
                    font_config=self.font_config, stylesheets=self.stylesheets)
                pdf = document.write_pdf()
            finally:
                LOGGER.removeHandler(collector)
            seconds = time.perf_counter() - started
            denied = self.fetcher.denied[denied_before:]
        missing = set()
        for font in getattr(document, "fonts", {}).values():
            missing.update(chr(cp) for cp in getattr(font, "missing", {}))
        slow = any(SLOW_PATH_MARK in m for m in collector.messages)
        if slow:
            log.error("PDF brief used WeasyPrint's slow fontTools subsetting: install libharfbuzz-subset0")
        for m in collector.messages:
            if NOTDEF_MARK in m:
                log.warning("PDF brief: %s", m)
        if missing:
            log.warning("PDF brief drew %d character(s) with no glyph: %r", len(missing), "".join(sorted(missing)))
        return RenderResult(pdf=pdf, pages=len(document.pages), seconds=seconds, missing=missing,
                            slow_path=slow, denied=denied, pid=os.getpid())


_renderers: dict[Path, Renderer] = {}
_renderers_lock = threading.Lock()
# Drop the font configurations before interpreter shutdown tears down the modules their
# finalisers need.
atexit.register(_renderers.clear)


def get_renderer(font_dir: Path) -> Renderer:
    """This process's renderer for ``font_dir`` (built on first use)."""
    font_dir = Path(font_dir)
    with _renderers_lock:
        renderer = _renderers.get(font_dir)
        if renderer is None:
            renderer = _renderers[font_dir] = Renderer(font_dir)
        return renderer


# --- In a worker process ---------------------------------------------------------------------

DEFAULT_WARM_HTML = '<html><body class="brief-doc pdf"><h1 class="title">台州</h1><p>项目简介 1</p></body></html>'


def render_task(font_dir: str, html: str) -> RenderResult:
    """The pool task: render in the worker with its warm renderer."""
    return get_renderer(Path(font_dir)).render(html)


def warm_up(font_dir: Path | str, html: str | None = None) -> float:
    """Build the renderer and lay out a page (``html``: ideally a sample brief, so the fonts
    and font lists real briefs use are loaded). Each pool worker runs this before its first
    task (see ``service.warm_up_steps``). Returns seconds."""
    started = time.perf_counter()
    get_renderer(Path(font_dir)).render(html or DEFAULT_WARM_HTML)
    return time.perf_counter() - started


# --- Entry point ---------------------------------------------------------------------------

_here: ContextVar[bool] = ContextVar("render_here", default=False)


@contextmanager
def rendering_here():
    """Render in this process, without the pool (the command line: one document, no web
    requests to protect, Ctrl-C stops it)."""
    token = _here.set(True)
    try:
        yield
    finally:
        _here.reset(token)


def render_pdf(html: str, *, font_dir: Path, timeout: float, pool=None) -> RenderResult:
    """Render ``html``; in a warm pool worker unless already in one (or ``rendering_here``).
    Past ``timeout`` seconds (waiting for a free worker included) the worker is killed and
    replaced: RenderTimeout, or RendererBusy when no worker became free in time."""
    from tracker.jobs import pool as pools

    if pool is None and (pools.in_worker() or _here.get()):
        return get_renderer(font_dir).render(html)
    pool = pool or pools.get_pool()
    try:
        return pool.run(render_task, (str(font_dir), html), timeout=timeout)
    except pools.TaskTimeout:
        raise RenderTimeout("timeout") from None
    except pools.PoolBusy:
        raise RendererBusy("busy") from None
    except pools.WorkerLost as err:
        log.error("PDF worker died: %s", err)
        raise RendererFailed("worker lost") from None
