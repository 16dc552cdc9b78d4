"""The audit log: what is written, and `flask audit verify` catching edited and deleted rows."""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from tests.factories import make_project, make_user
from tracker.audit import operations as audit_ops
from tracker.audit.models import AuditEntry
from tracker.audit.operations import GENESIS, entry_digest, hashed_fields, record
from tracker.audit.verify import REASON_EDITED, REASON_GENESIS, REASON_LINK, REASON_UNREADABLE, verify


def _entries(db, **where):
    q = select(AuditEntry).order_by(AuditEntry.id)
    for key, value in where.items():
        q = q.where(getattr(AuditEntry, key) == value)
    return db.session.execute(q).scalars().all()


@pytest.fixture()
def chain(db, ref):
    """Six audited changes on one project; returns the entries in order."""
    actor = make_user("manager", ref.huangyan)
    project = make_project()
    for i in range(6):
        record(actor, "project.update", project, {"content": [f"第{i}版", f"第{i + 1}版"],
                                                  "contracted_investment": [Decimal("150000"), Decimal(i)]})
    db.session.flush()
    return _entries(db)


def _run_cli(app, *args):
    return app.test_cli_runner().invoke(args=["audit", "verify", *args])


# --- Verification --------------------------------------------------------------------------


def test_intact_chain_verifies(db, chain, app):
    result = verify(batch=4)  # several batches: keyset pagination across batch borders
    assert result.ok and result.first_bad_id is None
    assert result.checked == len(chain)
    assert result.last_id == chain[-1].id and result.last_hash == chain[-1].hash
    assert chain[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in zip(chain, chain[1:], strict=False))

    out = _run_cli(app)
    assert out.exit_code == 0, out.output
    assert f"OK: {len(chain)} audit entries" in out.output
    assert f"#{chain[-1].id} hash {chain[-1].hash}" in out.output  # the anchor to keep elsewhere


def test_empty_log_verifies(db):
    assert verify() == verify(batch=1)
    assert verify().ok and verify().checked == 0 and verify().last_hash == GENESIS


def test_hash_is_reproducible_from_core_rows_with_microseconds(db, ref, monkeypatch):
    # An instant with microseconds: SQLite stores it as naive text, PostgreSQL as timestamptz
    # returned in the session's time zone; both must hash as the same UTC value.
    at = datetime(2024, 7, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    monkeypatch.setattr(audit_ops, "utcnow", lambda: at)
    entry = record(make_user(), "project.update", make_project(), {"name": ["甲", "乙"]})
    db.session.flush()
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SET TIME ZONE 'Asia/Shanghai'"))  # rolled back with the test
    row = db.session.execute(
        select(AuditEntry.__table__).where(AuditEntry.__table__.c.id == entry.id)
    ).one()
    assert row.created_at == at
    assert hashed_fields(row)["at"] == "2024-07-01T02:03:04.000005+00:00"
    assert entry_digest(row.prev_hash, hashed_fields(row)) == entry.hash
    db.session.expire_all()
    assert verify().ok


def test_edited_row_is_caught(db, chain, app):
    victim = chain[2]
    db.session.execute(text("UPDATE audit_entry SET changes = :c WHERE id = :id"),
                       {"c": '{"content": ["第2版", "伪造"]}', "id": victim.id})
    result = verify()
    assert not result.ok
    assert (result.first_bad_id, result.reason, result.checked) == (victim.id, REASON_EDITED, 2)
    assert result.last_id == chain[1].id

    out = _run_cli(app)
    assert out.exit_code == 1
    assert f"audit entry #{victim.id}" in out.output and "hash mismatch" in out.output


@pytest.mark.parametrize("column, value", [
    ("action", "project.view"),
    ("actor_id", None),
    ("created_at_shift", None),
])
def test_every_hashed_column_is_covered(db, chain, column, value):
    victim = chain[3]
    if column == "created_at_shift":
        shifted = victim.created_at.replace(microsecond=(victim.created_at.microsecond + 1) % 10**6)
        table = AuditEntry.__table__
        db.session.execute(table.update().where(table.c.id == victim.id).values(created_at=shifted))
    else:
        db.session.execute(text(f"UPDATE audit_entry SET {column} = :v WHERE id = :id"), {"v": value, "id": victim.id})
    result = verify()
    assert (result.ok, result.first_bad_id, result.reason) == (False, victim.id, REASON_EDITED)


def _sqlite_only(db):
    if db.session.get_bind().dialect.name != "sqlite":
        pytest.skip("PostgreSQL refuses these values itself (typed columns)")


def test_changes_that_are_no_longer_json_are_reported_not_crashed(db, chain):
    _sqlite_only(db)
    db.session.execute(text("UPDATE audit_entry SET changes = '{broken' WHERE id = :id"), {"id": chain[4].id})
    result = verify()
    assert (result.ok, result.first_bad_id, result.reason) == (False, chain[4].id, REASON_EDITED)


def test_unreadable_timestamp_is_reported_with_its_id(db, chain, app):
    _sqlite_only(db)
    db.session.execute(text("UPDATE audit_entry SET created_at = 'yesterday' WHERE id = :id"), {"id": chain[4].id})
    result = verify(batch=3)  # the bad row is in the second batch; the ones before are checked
    assert (result.ok, result.first_bad_id, result.reason, result.checked) == (False, chain[4].id, REASON_UNREADABLE, 4)
    out = _run_cli(app)
    assert out.exit_code == 1 and f"audit entry #{chain[4].id}" in out.output


def test_rewritten_hash_is_caught_at_the_next_row(db, chain):
    # Someone edits a row and recomputes its own hash: the next row no longer links to it.
    victim = chain[2]
    forged = {**hashed_fields(victim), "changes": {"content": ["第2版", "伪造"]}}
    db.session.execute(text("UPDATE audit_entry SET changes = :c, hash = :h WHERE id = :id"),
                       {"c": '{"content": ["第2版", "伪造"]}', "h": entry_digest(victim.prev_hash, forged),
                        "id": victim.id})
    result = verify()
    assert (result.ok, result.first_bad_id, result.reason) == (False, chain[3].id, REASON_LINK)


def test_deleted_middle_row_is_caught(db, chain, app):
    db.session.execute(text("DELETE FROM audit_entry WHERE id = :id"), {"id": chain[3].id})
    result = verify(batch=2)
    assert not result.ok
    assert (result.first_bad_id, result.reason) == (chain[4].id, REASON_LINK)

    out = _run_cli(app, "--batch", "2")
    assert out.exit_code == 1
    assert f"audit entry #{chain[4].id}" in out.output


def test_deleted_first_row_breaks_the_genesis(db, chain, app):
    db.session.execute(text("DELETE FROM audit_entry WHERE id = :id"), {"id": chain[0].id})
    result = verify()
    assert (result.ok, result.first_bad_id, result.reason, result.checked) == (False, chain[1].id, REASON_GENESIS, 0)
    assert _run_cli(app).exit_code == 1


def test_truncated_tail_needs_the_external_anchor(db, chain, app):
    # The known limit: removing the newest rows leaves a consistent chain. Only the count and
    # last id:hash printed earlier (and kept outside the database) reveal it.
    anchor = f"{chain[-1].id}:{chain[-1].hash}"
    assert _run_cli(app, "--anchor", anchor).exit_code == 0
    db.session.execute(text("DELETE FROM audit_entry WHERE id = :id"), {"id": chain[-1].id})
    assert verify().ok and verify().checked == len(chain) - 1
    out = _run_cli(app, "--anchor", anchor)
    assert out.exit_code == 1 and f"anchor entry #{chain[-1].id} is missing" in out.output
    assert _run_cli(app, "--anchor", "nonsense").exit_code == 2  # usage error


# --- What is written -------------------------------------------------------------------------


def test_project_create_update_archive_are_audited(db, ref):
    from tracker.projects.operations import create_project, set_archived, update_project

    actor = make_user("staff", ref.huangyan)
    values = {"name": "审计测试项目", "industry_id": ref.industry.id, "unit_id": ref.huangyan.id,
              "signed_on": date(2024, 5, 1), "contracted_investment": Decimal("88000"), "content": "年产电池"}
    investor = {"name": "审计测试公司", "uscc": None, "source_region_id": ref.region.id, "country": "中国"}
    project = create_project(actor, values, investor, "signed")
    update_project(actor, project, {**values, "contracted_investment": Decimal("99000")}, investor,
                   project.version_id)
    manager = make_user("manager", ref.huangyan)
    set_archived(manager, project, True)
    db.session.flush()

    entries = _entries(db, project_id=project.id)
    assert [e.action for e in entries] == ["project.create", "project.update", "project.archive"]
    created, updated, archived = entries
    assert created.actor_id == actor.id and created.changes["name"] == "审计测试项目"
    assert created.changes["contracted_investment"] == "88000" and created.changes["stage"] == "signed"
    assert updated.changes == {"contracted_investment": ["88000", "99000"]}
    assert archived.actor_id == manager.id and archived.changes == {"is_archived": [False, True]}
    assert all(e.created_at.tzinfo is not None for e in entries)
    assert verify().ok


def test_user_changes_are_audited(db, ref):
    from tracker.auth.operations import create_user, set_active, set_password, update_user

    admin = make_user("admin", ref.city)
    user = create_user(admin, username="audit_user", display_name="审计用户", role="staff",
                       unit=ref.huangyan, password="secret-pass-1")
    update_user(admin, user, display_name="审计用户", role="manager", unit=ref.linhai)
    set_password(admin, user, "another-pass-2")
    set_active(admin, user, False)
    db.session.flush()

    entries = _entries(db, object_type="user", object_id=user.id)
    assert [e.action for e in entries] == ["user.create", "user.update", "user.set_password", "user.deactivate"]
    assert all(e.actor_id == admin.id for e in entries)
    assert entries[1].changes == {"role": ["staff", "manager"], "unit": ["黄岩区", "临海市"]}
    assert "secret-pass-1" not in str(entries[2].changes) and "another-pass-2" not in str(entries[2].changes)
    assert entries[3].changes == {"is_active": [True, False]}
    assert verify().ok


def test_reference_changes_are_audited(db, ref):
    from tracker.projects.reference_forms import KINDS
    from tracker.projects.reference_operations import create_row, fingerprint, set_row_active, update_row

    admin = make_user("admin", ref.city)
    kind = KINDS["industries"]
    row = create_row(admin, kind, {"name": "海洋经济", "group": "未来产业", "sort_order": 9, "is_active": True})
    update_row(admin, kind, row, {"name": "海洋经济", "group": "核心产业", "sort_order": 9, "is_active": True},
               fingerprint(kind, row))
    set_row_active(admin, kind, row, False)
    db.session.flush()

    entries = _entries(db, object_type="industry", object_id=row.id)
    assert [e.action for e in entries] == ["industry.create", "industry.update", "industry.retire"]
    assert entries[0].changes["name"] == "海洋经济"
    assert entries[1].changes == {"group": ["未来产业", "核心产业"]}
    assert entries[2].changes == {"is_active": [True, False]}
    assert verify().ok


def test_stage_request_and_decision_are_audited(db, ref):
    from tracker.workflow import operations as wf

    staff, manager = make_user("staff", ref.huangyan), make_user("manager", ref.huangyan)
    project = make_project(stage="completed")
    req = wf.request_move(staff, project, to_stage="production", actual_date="2024-07-01")
    wf.approve(manager, req.id, "同意投产")
    db.session.flush()
    actions = [(e.action, e.actor_id) for e in _entries(db, project_id=project.id)]
    assert actions == [("stage_request.create", staff.id), ("stage_request.approve", manager.id),
                       ("project.stage", manager.id)]
    stage_entry = _entries(db, project_id=project.id, action="project.stage")[0]
    assert stage_entry.changes["stage"] == ["completed", "production"]
    assert verify().ok
