"""Finished booklets kept by what they print: a booklet (or order sheet) whose HTML is the same
as one rendered before is not laid out again. The key is the SHA-256 of the HTML and the
renderer's version, so any change to a project in it (a name, an amount, a milestone, a
stage), to the ceremony, to the template or to the day printed on it makes a new key: the
cache never needs to be told. Files live in ``instance/pdf-cache`` (``PDF_CACHE_DIR``); the
``PDF_CACHE_FILES`` most recently used are kept (0: no cache).
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from flask import current_app

DEFAULT_FILES = 64


def _directory() -> Path:
    configured = current_app.config.get("PDF_CACHE_DIR")
    path = Path(configured) if configured else Path(current_app.instance_path) / "pdf-cache"
    path.mkdir(parents=True, exist_ok=True)
    return path


def enabled() -> bool:
    return int(current_app.config.get("PDF_CACHE_FILES", DEFAULT_FILES)) > 0


def key(html: str) -> str:
    import weasyprint

    return hashlib.sha256(f"{weasyprint.__version__}\0{html}".encode()).hexdigest()


def load(digest: str) -> tuple[bytes, int] | None:
    """(pdf, pages) rendered before for this key, or None."""
    path = _directory() / f"{digest}.pdf"
    try:
        data = path.read_bytes()
        pages = int(path.with_suffix(".pages").read_text())
    except (OSError, ValueError):
        return None
    os.utime(path)  # recently used: kept longest
    return data, pages


def store(digest: str, pdf: bytes, pages: int) -> None:
    directory = _directory()
    (directory / f"{digest}.pages").write_text(str(pages))  # beside the PDF, written first
    fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
    with os.fdopen(fd, "wb") as handle:  # written whole, then renamed: never read half-written
        handle.write(pdf)
    os.replace(tmp, directory / f"{digest}.pdf")
    keep = int(current_app.config.get("PDF_CACHE_FILES", DEFAULT_FILES))
    files = sorted(directory.glob("*.pdf"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in files[keep:]:
        old.unlink(missing_ok=True)
        old.with_suffix(".pages").unlink(missing_ok=True)
