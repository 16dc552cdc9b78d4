"""Uploaded ledgers between the dry run and the commit: the file under a random token in
``instance/ledger-uploads`` (``LEDGER_UPLOAD_DIR``), beside a JSON note of whose it is, the
choices made on the form and the dry run's summary (every row's outcome, which the preview's
pages show without reading the file again). A token is its uploader's only: anyone else's
lookup finds nothing (404), as does a note that is missing, unreadable or not one this module
wrote. Uploads older than a day are removed.
"""
from __future__ import annotations

import json
import re
import secrets
import time
from pathlib import Path
from typing import Any

from flask import current_app

from tracker.core.files import remove_older_than

TOKEN_RE = re.compile(r"^[0-9a-f]{32}$")
KEEP_SECONDS = 24 * 3600


def upload_dir() -> Path:
    configured = current_app.config.get("LEDGER_UPLOAD_DIR")
    return Path(configured) if configured else Path(current_app.instance_path) / "ledger-uploads"


def save(user_id: int, filename: str, data: bytes, meta: dict[str, Any]) -> str:
    directory = upload_dir()
    directory.mkdir(parents=True, exist_ok=True)
    remove_older_than(directory, "*.*", KEEP_SECONDS)
    token = secrets.token_hex(16)
    (directory / f"{token}.bin").write_bytes(data)
    write_meta(token, {**meta, "user_id": user_id, "filename": filename[:200], "created": time.time()})
    return token


def write_meta(token: str, meta: dict[str, Any]) -> None:
    path = upload_dir() / f"{token}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)


def load_meta(token: str, user_id: int) -> dict[str, Any] | None:
    """The note of ``token`` if it is ``user_id``'s and its file is still there, else None;
    the file itself is not read."""
    if not TOKEN_RE.match(token or ""):
        return None
    directory = upload_dir()
    try:
        meta = json.loads((directory / f"{token}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or meta.get("user_id") != user_id or not isinstance(meta.get("filename"), str):
        return None
    return meta if (directory / f"{token}.bin").is_file() else None


def load(token: str, user_id: int) -> tuple[dict[str, Any], bytes] | None:
    """The note and the file of ``token`` if it is ``user_id``'s, else None."""
    meta = load_meta(token, user_id)
    if meta is None:
        return None
    try:
        return meta, (upload_dir() / f"{token}.bin").read_bytes()
    except OSError:
        return None


def remove(token: str) -> None:
    if TOKEN_RE.match(token or ""):
        for suffix in (".bin", ".json"):
            (upload_dir() / f"{token}{suffix}").unlink(missing_ok=True)
