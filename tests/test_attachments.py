"""Attachments: type from the content, size limit, storage, access by unit scope, download names."""
from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from urllib.parse import unquote

import pytest
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from tests.factories import make_project, make_user
from tracker.audit.models import AuditEntry
from tracker.workflow import operations as wf
from tracker.workflow.attachments import MAX_BYTES, clean_filename, store_upload, stored_path
from tracker.workflow.models import Attachment

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(17)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(32) + b"\xff\xd9"


def upload(data: bytes, filename: str, content_type: str = "application/pdf") -> FileStorage:
    return FileStorage(stream=io.BytesIO(data), filename=filename, content_type=content_type)


class CountingReader(io.RawIOBase):
    """A stream that records how many bytes were read from it."""

    def __init__(self, fh):
        self.fh, self.total = fh, 0

    def readable(self):
        return True

    def read(self, n=-1):
        chunk = self.fh.read(n)
        self.total += len(chunk)
        return chunk


def sparse_file(path: Path, head: bytes, size: int) -> Path:
    """A file of ``size`` bytes starting with ``head``; the rest is a hole (no disk used)."""
    with open(path, "wb") as fh:
        fh.write(head)
        fh.truncate(size)
    return path


@pytest.fixture()
def people(db, ref):
    return {
        "staff": make_user("staff", ref.huangyan),
        "leader": make_user("leader", ref.huangyan),
        "city_leader": make_user("leader", ref.city),
        "other_staff": make_user("staff", ref.linhai),
        "other_manager": make_user("manager", ref.linhai),
    }


@pytest.fixture()
def project(db, ref):
    return make_project(unit=ref.huangyan, stage="signed")


# --- Type, size, name ---------------------------------------------------------------------------


def test_pdf_is_stored_under_a_random_name_with_hash_and_audit(db, app, people, project):
    att = store_upload(people["staff"], project, None, upload(PDF, "营业执照（副本）.pdf"))
    assert att.content_type == "application/pdf" and att.size_bytes == len(PDF)
    assert att.original_name == "营业执照（副本）.pdf"
    assert att.sha256 == hashlib.sha256(PDF).hexdigest()
    path = stored_path(att)
    assert path.read_bytes() == PDF
    assert path.parent == Path(app.config["UPLOAD_DIR"]).resolve()
    assert att.stored_name not in att.original_name and len(att.stored_name) == 32
    assert not path.is_relative_to(Path(app.static_folder).resolve())
    assert oct(path.stat().st_mode & 0o777) == oct(0o600)
    entry = db.session.execute(select(AuditEntry).where(AuditEntry.action == "attachment.create")).scalar_one()
    assert entry.project_id == project.id and entry.object_id == att.id and entry.actor_id == people["staff"].id
    assert entry.changes["sha256"] == att.sha256 and entry.changes["name"] == "营业执照（副本）.pdf"


def test_type_comes_from_the_content_not_the_name(db, people, project):
    png = store_upload(people["staff"], project, None, upload(PNG, "土地合同.pdf", "application/pdf"))
    assert png.content_type == "image/png" and png.original_name == "土地合同.pdf"
    jpg = store_upload(people["staff"], project, None, upload(JPEG, "scan.bin", "application/octet-stream"))
    assert jpg.content_type == "image/jpeg"


@pytest.mark.parametrize("data, name", [
    (b"MZ\x90\x00\x03\x00\x00\x00" + bytes(64), "施工许可证.pdf"),  # a Windows executable
    (b"<html><script>alert(1)</script></html>", "营业执照.pdf"),
    (b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", "scan.png"),
    (b"PK\x03\x04" + bytes(30), "合同.pdf"),  # zip / docx
    (b" %PDF-1.7", "leading-space.pdf"),
    (b"%PD", "short.pdf"),
])
def test_disguised_files_are_refused(db, people, project, data, name, app):
    before = set(os.listdir(app.config["UPLOAD_DIR"])) if os.path.isdir(app.config["UPLOAD_DIR"]) else set()
    with pytest.raises(ValueError, match="PDF、JPG 或 PNG"):
        store_upload(people["staff"], project, None, upload(data, name))
    after = set(os.listdir(app.config["UPLOAD_DIR"])) if os.path.isdir(app.config["UPLOAD_DIR"]) else set()
    assert after == before
    assert db.session.execute(select(Attachment)).first() is None


def test_empty_file_is_refused(db, people, project):
    with pytest.raises(ValueError, match="空的"):
        store_upload(people["staff"], project, None, upload(b"", "空白.pdf"))


def test_size_limit_exactly_10mb_is_accepted(db, people, project, tmp_path):
    path = sparse_file(tmp_path / "exact.pdf", b"%PDF-1.7\n", MAX_BYTES)
    with open(path, "rb") as fh:
        att = store_upload(people["staff"], project, None, FileStorage(stream=fh, filename="整本扫描.pdf"))
    assert att.size_bytes == MAX_BYTES == 10 * 1024 * 1024
    assert stored_path(att).stat().st_size == MAX_BYTES


@pytest.mark.parametrize("size", [MAX_BYTES + 1, 3 * MAX_BYTES])
def test_over_10mb_is_refused_after_reading_at_most_limit_plus_one(db, people, project, tmp_path, app, size):
    path = sparse_file(tmp_path / "big.pdf", b"%PDF-1.7\n", size)
    with open(path, "rb") as fh:
        reader = CountingReader(fh)
        with pytest.raises(ValueError, match="10 MB"):
            store_upload(people["staff"], project, None, FileStorage(stream=reader, filename="太大.pdf"))
    assert reader.total == MAX_BYTES + 1
    leftovers = [n for n in os.listdir(app.config["UPLOAD_DIR"]) if n.endswith(".part")]
    assert leftovers == []


@pytest.mark.parametrize("raw, expected", [
    ("C:\\fakepath\\营业执照.pdf", "营业执照.pdf"),
    ("../../etc/passwd.pdf", "passwd.pdf"),
    ("合同\x00\x1b[31m.pdf", "合同[31m.pdf"),
    ("invoice\u202efdp.exe", "invoicefdp.exe"),  # bidi override that disguises the extension
    ("..", "附件.pdf"),
    ("", "附件.pdf"),
    ('a<b>:"c"|?*.pdf', "a_b___c____.pdf"),
])
def test_original_name_is_cleaned(app, raw, expected):
    with app.test_request_context():
        assert clean_filename(raw, "application/pdf") == expected


def test_long_name_is_cut_to_255_keeping_the_extension(db, people, project):
    att = store_upload(people["staff"], project, None, upload(PDF, "长" * 400 + ".pdf"))
    assert len(att.original_name) == 255 and att.original_name.endswith("长.pdf")


def test_only_people_who_may_request_can_upload(db, people, project):
    with pytest.raises(wf.NotAllowed):
        store_upload(people["leader"], project, None, upload(PDF, "a.pdf"))
    with pytest.raises(wf.NotAllowed):
        store_upload(people["other_staff"], project, None, upload(PDF, "a.pdf"))


def test_attachment_joins_only_a_pending_request_of_the_same_project(db, ref, people, project):
    manager = make_user("manager", ref.huangyan)
    p2 = make_project(unit=ref.huangyan, stage="completed")
    req = wf.request_move(people["staff"], p2, to_stage="production", actual_date="2024-07-01")
    with pytest.raises(ValueError):
        store_upload(people["staff"], project, req, upload(PDF, "a.pdf"))
    att = store_upload(people["staff"], p2, req, upload(PDF, "投产证明.pdf"))
    assert att.request_id == req.id and req.attachments == [att]
    wf.approve(manager, req.id)
    with pytest.raises(ValueError, match="已处理"):
        store_upload(people["staff"], p2, req, upload(PDF, "迟到.pdf"))


def test_file_of_a_rolled_back_upload_is_removed(db, people, project):
    kept = store_upload(people["staff"], project, None, upload(PDF, "保留.pdf"))
    db.session.commit()  # (a savepoint under the test's rollback)
    dropped = store_upload(people["staff"], project, None, upload(PNG, "丢弃.png"))
    kept_path, dropped_path = stored_path(kept), stored_path(dropped)
    assert dropped_path.exists()
    db.session.rollback()
    assert kept_path.exists() and not dropped_path.exists()


# --- Download -----------------------------------------------------------------------------------


@pytest.fixture()
def stored(db, people, project):
    att = store_upload(people["staff"], project, None, upload(PDF, "黄岩·营业执照 2024（副本）.pdf"))
    db.session.flush()
    return att


def test_download_sends_the_file_as_attachment_with_rfc6266_name(client, login_as, people, stored):
    login_as(people["staff"])
    resp = client.get(f"/attachments/{stored.id}")
    assert resp.status_code == 200
    assert resp.data == PDF
    assert resp.mimetype == "application/pdf"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    disposition = resp.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    encoded = disposition.split("filename*=UTF-8''", 1)[1].split(";")[0]
    assert unquote(encoded, encoding="utf-8") == "黄岩·营业执照 2024（副本）.pdf"
    assert "sandbox" in resp.headers["Content-Security-Policy"]
    assert "no-store" in resp.headers["Cache-Control"]


def test_png_named_pdf_downloads_as_png(client, login_as, people, project):
    att = store_upload(people["staff"], project, None, upload(PNG, "扫描件.pdf"))
    login_as(people["staff"])
    resp = client.get(f"/attachments/{att.id}")
    assert resp.mimetype == "image/png"
    assert unquote(resp.headers["Content-Disposition"].split("UTF-8''")[1]) == "扫描件.pdf.png"


@pytest.mark.parametrize("who, status", [
    ("staff", 200),
    ("leader", 200),  # leader of the same unit may view the project
    ("city_leader", 200),
    ("other_staff", 404),  # another county: not revealed
    ("other_manager", 404),
])
def test_download_follows_project_scope(client, login_as, people, stored, who, status):
    login_as(people[who])
    assert client.get(f"/attachments/{stored.id}").status_code == status


def test_download_needs_login(client, stored):
    resp = client.get(f"/attachments/{stored.id}")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_admin_without_project_rights_is_refused(client, login_as, ref, stored):
    admin = make_user("admin", ref.city)
    login_as(admin)
    assert client.get(f"/attachments/{stored.id}").status_code == 403


def test_unknown_attachment_is_404(client, login_as, people):
    login_as(people["staff"])
    assert client.get("/attachments/987654").status_code == 404


def test_missing_file_is_a_404_with_a_message(client, login_as, people, stored):
    stored_path(stored).unlink()
    login_as(people["staff"])
    resp = client.get(f"/attachments/{stored.id}")
    assert resp.status_code == 404
    assert "文件已丢失" in resp.get_data(as_text=True)


def test_upload_through_the_request_screen(client, login_as, db, ref, people):
    p = make_project(unit=ref.huangyan, stage="completed")
    login_as(people["staff"])
    resp = client.post(f"/projects/{p.id}/stage-request", data={
        "to_stage": "production", "actual_date": "2024-07-01", "comment": "",
        "attachments": [(io.BytesIO(PNG), "投产照片.pdf"), (io.BytesIO(PDF), "验收报告.pdf")],
    }, content_type="multipart/form-data")
    assert resp.status_code == 302, resp.get_data(as_text=True)
    rows = db.session.execute(select(Attachment).where(Attachment.project_id == p.id)
                              .order_by(Attachment.id)).scalars().all()
    assert [(a.original_name, a.content_type) for a in rows] == [
        ("投产照片.pdf", "image/png"), ("验收报告.pdf", "application/pdf")]
    assert all(a.request_id is not None for a in rows)


def test_disguised_upload_through_the_request_screen_saves_nothing(client, login_as, db, ref, people):
    p = make_project(unit=ref.huangyan, stage="completed")
    login_as(people["staff"])
    resp = client.post(f"/projects/{p.id}/stage-request", data={
        "to_stage": "production", "actual_date": "2024-07-01",
        "attachments": [(io.BytesIO(PDF), "好的.pdf"), (io.BytesIO(b"MZ\x90\x00" + bytes(60)), "坏的.pdf")],
    }, content_type="multipart/form-data")
    assert resp.status_code == 422
    assert "PDF、JPG 或 PNG" in resp.get_data(as_text=True)
    assert wf.pending_request(p) is None
    assert db.session.execute(select(Attachment).where(Attachment.project_id == p.id)).first() is None


def test_body_over_max_content_length_gets_a_friendly_413(client, app):
    too_big = app.config["MAX_CONTENT_LENGTH"] + 1
    resp = client.post("/login", data=b"a" * too_big, content_type="application/x-www-form-urlencoded")
    assert resp.status_code == 413
    body = resp.get_data(as_text=True)
    assert "每个附件不超过 10 MB" in body and "<html" in body.lower()
