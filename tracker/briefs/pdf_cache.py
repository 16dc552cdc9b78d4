"""Finished PDFs kept by what they print: a booklet, order sheet or project brief whose HTML
is the same as one rendered before is not laid out again. The key is the SHA-256 of the HTML
and the renderer's version, so any change to a project in it (a name, an amount, a
milestone, a stage), to the ceremony, to the template or to the day printed on it makes a new
key: the cache never needs to be told.

Two shelves, so that many small briefs never push out a booklet that took seconds: booklets
and order sheets in ``instance/pdf-cache`` (``PDF_CACHE_DIR``), up to the ``PDF_CACHE_FILES``
most recently used kept; briefs in its ``briefs`` folder, up to ``PDF_BRIEF_CACHE_FILES`` of
them (0: no cache on that shelf).
"""
from __future__ import annotations

import functools
import hashlib
import logging
import os
import tempfile
from importlib import metadata
from pathlib import Path

from flask import current_app

from tracker.core.files import remove_older_than

log = logging.getLogger(__name__)

DEFAULT_FILES = 64
# shelf: (folder inside the cache directory, the setting of how many files it keeps, default)
SHELVES = {"booklets": ("", "PDF_CACHE_FILES", DEFAULT_FILES), "briefs": ("briefs", "PDF_BRIEF_CACHE_FILES", 256)}


def _directory(shelf: str) -> Path:
    configured = current_app.config.get("PDF_CACHE_DIR")
    path = Path(configured) if configured else Path(current_app.instance_path) / "pdf-cache"
    path = path / SHELVES[shelf][0]
    path.mkdir(parents=True, exist_ok=True)
    return path


def _keep(shelf: str) -> int:
    _folder, setting, default = SHELVES[shelf]
    return int(current_app.config.get(setting, default))


def enabled(shelf: str = "booklets") -> bool:
    return _keep(shelf) > 0


@functools.cache
def _renderer_version() -> str:
    """WeasyPrint's version, read from its package metadata: a web process (which renders in
    the pool's workers) never imports WeasyPrint itself (~0.5 s of CPU and tens of MB)."""
    try:
        return metadata.version("weasyprint")
    except metadata.PackageNotFoundError:  # installed without its metadata
        import weasyprint

        return weasyprint.__version__


def key(html: str) -> str:
    return hashlib.sha256(f"{_renderer_version()}\0{html}".encode()).hexdigest()


def load(digest: str, shelf: str = "booklets") -> tuple[bytes, int] | None:
    """(pdf, pages) rendered before for this key, or None (also when the cache cannot be read)."""
    try:
        path = _directory(shelf) / f"{digest}.pdf"
        data = path.read_bytes()
        pages = int(path.with_suffix(".pages").read_text())
        os.utime(path)  # recently used: kept longest
    except (OSError, ValueError):  # not kept, evicted meanwhile by another process, unreadable
        return None
    return data, pages


def store(digest: str, pdf: bytes, pages: int, shelf: str = "booklets") -> None:
    """Keep ``pdf`` for ``digest``. A cache that cannot be written (a full disk, a directory
    that is not writable) only costs the next print its layout: logged, never raised."""
    try:
        directory = _directory(shelf)
        (directory / f"{digest}.pages").write_text(str(pages))  # beside the PDF, written first
        fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:  # written whole, then renamed: never read half-written
                handle.write(pdf)
            os.replace(tmp, directory / f"{digest}.pdf")
        except OSError:
            Path(tmp).unlink(missing_ok=True)
            raise
        _evict(directory, _keep(shelf))
    except OSError as err:
        log.warning("PDF cache (%s) not written: %s", shelf, err)


def _evict(directory: Path, keep: int) -> None:
    """Past ``keep`` files, drop the least recently used down to ``keep`` less a tenth: the
    files' times are read (one stat each) once in a while, not on every store of a full
    shelf. Other processes may be evicting at the same time."""
    with os.scandir(directory) as entries:
        found = list(entries)
    if any(entry.name.endswith(".tmp") for entry in found):
        remove_older_than(directory, "*.tmp", 3600)  # writes that died before their rename
    pdfs = [entry for entry in found if entry.name.endswith(".pdf")]
    if len(pdfs) <= keep:
        return
    files = []
    for entry in pdfs:
        try:
            files.append((entry.stat().st_mtime, Path(entry.path)))
        except FileNotFoundError:  # gone meanwhile
            continue
    files.sort(reverse=True)
    for _mtime, old in files[keep - keep // 10:]:
        old.unlink(missing_ok=True)
        old.with_suffix(".pages").unlink(missing_ok=True)
