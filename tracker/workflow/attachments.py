"""Evidence scans (营业执照, land contract, 施工许可证 …): checked, stored, audited. Never commits.

- Types: PDF, JPEG, PNG only, recognised from the first bytes of the content (magic numbers),
  never from the file name or the browser's Content-Type; a ``.exe`` renamed ``.pdf`` is
  refused, a PNG named ``scan.pdf`` is stored as PNG.
- Size: at most ``MAX_BYTES`` (10 MB); at most ``MAX_BYTES + 1`` bytes are ever read.
- Count: at most ``MAX_FILES_PER_REQUEST`` files are stored in one transaction (one web or
  API request), whichever entry point hands them over.
- Archived projects are read-only: nothing is added to them.
- Storage: ``UPLOAD_DIR`` (default ``instance/uploads``, outside the static folder) under a
  random name (``secrets.token_hex``); the original name — Chinese included — is kept in the
  database only, cleaned of path parts and control characters.
- If the transaction that created the row does not commit, the file is removed again (see
  ``_forget_uncommitted_files``), so a refused request leaves nothing on disk.
"""
from __future__ import annotations

import hashlib
import os
import re
import secrets
import unicodedata
from pathlib import Path, PurePath
from typing import Any

from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from tracker.audit.operations import record
from tracker.core.db import utcnow
from tracker.core.permissions import can
from tracker.core.translations import gettext as _
from tracker.extensions import db
from tracker.projects.models import Project
from tracker.projects.recency import touch
from tracker.workflow.models import Attachment, StageRequest

MAX_BYTES = 10 * 1024 * 1024
MAX_FILES_PER_REQUEST = 10
MAX_NAME = 255
_CHUNK = 64 * 1024
_STORED_NAME = re.compile(r"[0-9a-f]{32}")

# (magic bytes, content type); checked against the start of the content.
MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)
_HEAD = max(len(m) for m, _t in MAGIC)
EXTENSIONS: dict[str, tuple[str, ...]] = {
    "application/pdf": (".pdf",),
    "image/jpeg": (".jpg", ".jpeg", ".jpe", ".jfif"),
    "image/png": (".png",),
}
# Unicode categories never kept in a file name: controls, format (bidi overrides such as
# U+202E that make "gpj.exe" look like "exe.jpg"), surrogates, private use, line separators.
_DROP_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
_WINDOWS_RESERVED = str.maketrans({c: "_" for c in '<>:"|?*'})
_SESSION_KEY = "tracker.uploaded_files"


def sniff(head: bytes) -> str | None:
    """The content type for these first bytes, or None when not PDF/JPEG/PNG."""
    for magic, content_type in MAGIC:
        if head.startswith(magic):
            return content_type
    return None


def upload_dir() -> Path:
    path = Path(current_app.config.get("UPLOAD_DIR") or Path(current_app.instance_path) / "uploads").resolve()
    static = current_app.static_folder
    if static and path.is_relative_to(Path(static).resolve()):
        raise RuntimeError("UPLOAD_DIR must not be inside the static folder")
    return path


def stored_path(attachment: Attachment) -> Path | None:
    """Where the file lives, or None if the stored name is not one we generate."""
    if not _STORED_NAME.fullmatch(attachment.stored_name or ""):
        return None
    return upload_dir() / attachment.stored_name


def clean_filename(raw: str | None, content_type: str) -> str:
    """The user's file name, safe to keep and to send back: no directories, no control
    characters, at most 255 characters (extension kept), never empty."""
    name = unicodedata.normalize("NFC", raw or "")
    name = re.split(r"[/\\]", name)[-1]  # C:\Users\x\扫描件.pdf → 扫描件.pdf
    name = "".join(ch for ch in name if unicodedata.category(ch) not in _DROP_CATEGORIES)
    name = name.translate(_WINDOWS_RESERVED).strip().lstrip(".").strip()
    if not name:
        name = _("附件") + EXTENSIONS[content_type][0]
    if len(name) > MAX_NAME:
        suffix = PurePath(name).suffix
        suffix = suffix if 1 < len(suffix) <= 16 else ""
        name = name[: MAX_NAME - len(suffix)].rstrip() + suffix
    return name


def download_name(attachment: Attachment) -> str:
    """The original name, with the right extension added when it does not match the content
    (a PNG uploaded as ``scan.pdf`` downloads as ``scan.pdf.png``)."""
    name = attachment.original_name or _("附件")
    if not name.lower().endswith(EXTENSIONS.get(attachment.content_type, ("",))):
        name = name[: MAX_NAME - 5] + EXTENSIONS[attachment.content_type][0]
    return name


def _read_head(stream: Any) -> bytes:
    head = b""
    while len(head) < _HEAD:
        chunk = stream.read(_HEAD - len(head))
        if not chunk:
            break
        head += chunk
    return head


def _too_big() -> ValueError:
    return ValueError(_("文件过大：每个附件不能超过 %(mb)d MB，请压缩或分页扫描后再上传。",
                        mb=MAX_BYTES // (1024 * 1024)))


def store_upload(actor, project: Project, request: StageRequest | None, file_storage: Any) -> Attachment:
    """Check and store one uploaded file for ``project`` (and the pending ``request``).

    Raises ValueError with a message for the user when the file is refused (empty, too big,
    not PDF/JPEG/PNG), and ``NotAllowed`` when the actor may not add evidence to the project.
    The row is flushed and audited; the caller commits.
    """
    from tracker.workflow.operations import NotAllowed

    if not can("stage.request", project, actor):
        raise NotAllowed(_("您的角色不能为该项目上传附件。"))
    if project.is_archived:
        raise ValueError(_("已归档的项目不能修改，请先恢复。"))
    if request is not None:
        if request.project_id != project.id:
            raise ValueError(_("附件与申请不属于同一项目。"))
        if request.status != "pending":
            raise ValueError(_("该申请已处理，不能再添加附件。"))
    if file_storage is None:
        raise ValueError(_("请选择要上传的文件。"))
    session = db.session()
    # Files stored by this transaction and not yet committed (see _forget_uncommitted_files).
    if len(session.info.get(_SESSION_KEY, ())) >= MAX_FILES_PER_REQUEST:
        raise ValueError(_("一次最多上传 %(n)d 个文件，请分次上传。", n=MAX_FILES_PER_REQUEST))
    stream = getattr(file_storage, "stream", file_storage)

    head = _read_head(stream)
    if not head:
        name = clean_filename(getattr(file_storage, "filename", None), "application/pdf")
        raise ValueError(_("文件“%(name)s”是空的，请重新选择。", name=name))
    content_type = sniff(head)
    if content_type is None:
        raise ValueError(_("只能上传 PDF、JPG 或 PNG 格式的文件（按文件内容判断，修改扩展名无效）。"))
    original = clean_filename(getattr(file_storage, "filename", None), content_type)

    folder = upload_dir()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    stored = secrets.token_hex(16)
    final = folder / stored
    partial = folder / f".{stored}.part"
    hasher = hashlib.sha256(head)
    size = len(head)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(head)
            while size <= MAX_BYTES:
                # Never ask for more than one byte past the limit.
                chunk = stream.read(min(_CHUNK, MAX_BYTES + 1 - size))
                if not chunk:
                    break
                size += len(chunk)
                hasher.update(chunk)
                out.write(chunk)
        if size > MAX_BYTES:
            raise _too_big()
        os.replace(partial, final)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise

    session.info.setdefault(_SESSION_KEY, []).append(str(final))
    attachment = Attachment(
        project_id=project.id, request_id=request.id if request is not None else None,
        original_name=original, stored_name=stored, content_type=content_type, size_bytes=size,
        sha256=hasher.hexdigest(), uploaded_by_id=actor.id, created_at=utcnow(),
    )
    session.add(attachment)
    session.flush()
    touch(project.id)
    record(actor, "attachment.create", attachment,
           {"name": original, "content_type": content_type, "size_bytes": size, "sha256": attachment.sha256,
            "request_id": attachment.request_id}, project_id=project.id)
    return attachment


# --- Files of rows that were never committed --------------------------------------------------


@event.listens_for(Session, "after_commit")
def _keep_committed_files(session: Session) -> None:
    session.info.pop(_SESSION_KEY, None)


@event.listens_for(Session, "after_transaction_end")
def _forget_uncommitted_files(session: Session, transaction) -> None:
    # after_commit (above) runs first and empties the list; whatever is still listed when
    # the outermost transaction ends was rolled back or discarded: its rows do not exist.
    if transaction.parent is not None:
        return
    for name in session.info.pop(_SESSION_KEY, ()):
        try:
            os.unlink(name)
        except OSError:
            pass
