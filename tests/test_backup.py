"""`flask backup create` while the app writes, `flask backup restore` into a fresh database.

Real commits across connections (``committed_db``): the snapshot is read by another
connection (SQLite's backup API, ``pg_dump``), which sees only committed data. The restore
goes into a database made for the test — a new SQLite file, or a new PostgreSQL database
``backup_restore_<random>`` — through a second app configured for it.
"""
from __future__ import annotations

import json
import secrets
import tarfile
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.databases import drop_pg_database, ensure_pg_database
from tests.factories import make_project, make_user, reference
from tracker.audit.models import AuditEntry
from tracker.audit.verify import verify
from tracker.auth.models import User
from tracker.backup import operations as backup_ops
from tracker.core.db import writing
from tracker.projects.models import Project
from tracker.projects.operations import set_archived

WAIT = 60  # seconds a thread may wait for the other before the test gives up


@pytest.fixture()
def world(app, committed_db, tmp_path, monkeypatch):
    """A project with audited history, one uploaded file; (project id, manager id). The upload
    folder is the test's own: other tests of the session leave their uploads in the shared one."""
    monkeypatch.setitem(app.config, "UPLOAD_DIR", str(tmp_path / "uploads"))
    db = committed_db
    with writing():
        ref = reference()
        manager = make_user("manager", ref.huangyan)
        project = make_project(unit=ref.huangyan)
        for archived in (True, False, True, False):
            set_archived(manager, project, archived)
        db.session.commit()
        ids = project.id, manager.id
    db.session.close()
    uploads = Path(app.config["UPLOAD_DIR"])
    uploads.mkdir(parents=True, exist_ok=True)
    (uploads / "0123456789abcdef0123456789abcdef").write_bytes(b"%PDF-1.4 evidence")
    yield ids
    for path in uploads.iterdir():
        path.unlink()


@pytest.fixture()
def fresh(app, database_url, tmp_path):
    """A second app on an empty database and upload folder, with the same audit key."""
    from tracker import create_app

    name = None
    if database_url.startswith("postgresql"):
        name = f"backup_restore_{secrets.token_hex(4)}"
        base = database_url.rpartition("/")[0]
        url = f"{base}/{name}"
        ensure_pg_database(url)
    else:
        url = f"sqlite:///{tmp_path / 'restored.db'}"

    def make(audit_key=app.config["AUDIT_KEY"]):
        return create_app({"TESTING": True, "SECRET_KEY": "test-secret", "SQLALCHEMY_DATABASE_URI": url,
                           "AUDIT_KEY": audit_key, "RATELIMIT_STORAGE_URI": "memory://",
                           "UPLOAD_DIR": str(tmp_path / "restored-uploads")})

    made = []
    yield lambda **kw: made.append(make(**kw)) or made[-1]
    from tracker.extensions import db

    for other in made:
        with other.app_context():
            db.engine.dispose()
    if name:
        drop_pg_database(url)


def _writer(app, project_id, manager_id, stop, commits, errors):
    """Audited changes, one committed transaction each, until told to stop."""
    from tracker.extensions import db

    with app.app_context():
        try:
            archived = False
            while not stop.is_set():
                with writing():
                    archived = not archived
                    set_archived(db.session.get(User, manager_id), db.session.get(Project, project_id), archived)
                    db.session.commit()
                commits.append(archived)
        except BaseException as err:  # noqa: BLE001 - reported by the test
            errors.append(err)
        finally:
            db.session.remove()


def _cli(app, *args):
    """Run a command of ``app`` (its own app context: the CLI runner would otherwise reuse the
    context the ``committed_db`` fixture pushed, i.e. the main test database)."""
    with app.app_context():
        return app.test_cli_runner().invoke(args=list(args))


def _count(db, model) -> int:
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def test_backup_during_writes_restores_with_matching_counts_and_audit(app, committed_db, world, fresh,
                                                                     tmp_path, monkeypatch):
    db = committed_db
    stop, commits, errors = threading.Event(), [], []
    writer = threading.Thread(target=_writer, args=(app, *world, stop, commits, errors))

    # Let the writer commit more after the snapshot, before the archive is finished: the
    # manifest must still describe the snapshot, not the live database.
    files_after_snapshot = backup_ops._upload_files
    seen = {}

    def slow_upload_files(folder):
        seen["at_snapshot"] = len(commits)
        for _ in range(WAIT * 100):
            if len(commits) >= seen["at_snapshot"] + 3 or errors:
                break
            threading.Event().wait(0.01)
        return files_after_snapshot(folder)

    monkeypatch.setattr(backup_ops, "_upload_files", slow_upload_files)
    writer.start()
    try:
        for _ in range(WAIT * 100):  # the writer is busy before the backup starts
            if len(commits) >= 3 or errors:
                break
            threading.Event().wait(0.01)
        archive = tmp_path / "backup.tar.gz"
        out = _cli(app, "backup", "create", "-o", str(archive))
    finally:
        stop.set()
        writer.join(WAIT)
    assert not errors, errors
    assert out.exit_code == 0, out.output
    assert len(commits) >= seen["at_snapshot"] + 3

    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
        names = tar.getnames()
    assert names[0] == "manifest.json" and "uploads/0123456789abcdef0123456789abcdef" in names
    assert manifest["uploads"] == {"files": 1, "bytes": len(b"%PDF-1.4 evidence")}
    db.session.close()
    live = _count(db, AuditEntry)
    assert manifest["tables"]["audit_entry"] < live  # writes went on after the snapshot
    assert manifest["tables"]["project"] == _count(db, Project) == 1
    assert manifest["audit"]["checkpoint"] in out.output
    assert verify().ok
    db.session.close()

    restored = fresh()
    out = _cli(restored, "backup", "restore", str(archive))
    assert out.exit_code == 0, out.output
    assert "row counts match the manifest" in out.output and "anchor" in out.output
    with restored.app_context():
        from tracker.extensions import db as restored_db

        with restored_db.engine.connect() as conn:
            assert backup_ops.describe(conn)["tables"] == manifest["tables"]
        restored_db.session.remove()
    assert (Path(restored.config["UPLOAD_DIR"]) / "0123456789abcdef0123456789abcdef").read_bytes() == \
        b"%PDF-1.4 evidence"
    for anchor in (manifest["audit"]["anchor"], manifest["audit"]["checkpoint"]):
        check = _cli(restored, "audit", "verify", "--anchor", anchor)
        assert check.exit_code == 0, check.output
        assert f"OK: {manifest['tables']['audit_entry']} audit entries" in check.output

    again = _cli(restored, "backup", "restore", str(archive))
    assert again.exit_code == 1 and "is not empty" in again.output and "restore only into an empty" in again.output


def test_restore_refuses_files_in_the_upload_folder_and_names_a_wrong_audit_key(app, committed_db, world,
                                                                                fresh, tmp_path):
    archive = tmp_path / "backup.tar.gz"
    assert _cli(app, "backup", "create", "-o", str(archive)).exit_code == 0

    restored = fresh(audit_key="another key")
    uploads = Path(restored.config["UPLOAD_DIR"])
    uploads.mkdir(parents=True)
    (uploads / "left-over").write_bytes(b"x")
    out = _cli(restored, "backup", "restore", str(archive))
    assert out.exit_code == 1 and "upload folder" in out.output and "not empty" in out.output

    (uploads / "left-over").unlink()
    out = _cli(restored, "backup", "restore", str(archive))
    assert out.exit_code == 1 and "row counts match the manifest" in out.output
    assert "AUDIT_KEY is not the key this audit log was written with" in out.output


def test_restore_refuses_what_is_not_a_backup(app, committed_db, fresh, tmp_path):
    bogus = tmp_path / "bogus.tar.gz"
    with tarfile.open(bogus, "w:gz") as tar:
        tar.add(__file__, arcname="manifest.json")
    restored = fresh()
    for path in (bogus, Path(__file__)):
        out = _cli(restored, "backup", "restore", str(path))
        assert out.exit_code == 1 and "Error:" in out.output, out.output
