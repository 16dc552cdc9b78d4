"""The audit log: what is written, and `flask audit verify` catching edited and deleted rows."""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from tests.factories import make_project, make_user
from tracker.audit import operations as audit_ops
from tracker.audit.hashing import GENESIS, entry_digest, hashed_fields, plain_digest
from tracker.audit.models import AuditEntry
from tracker.audit.operations import flush_audit, record
from tracker.audit.verify import (
    REASON_EDITED,
    REASON_GENESIS,
    REASON_LINK,
    REASON_UNCHAINED,
    REASON_UNKEYED,
    REASON_UNREADABLE,
    verify,
)
from tracker.projects.models import Project


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
    db.session.commit()  # the app's commit (here: a savepoint's release) chains the entries
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
    db.session.commit()
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
    db.session.commit()

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
    db.session.commit()

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
    db.session.commit()

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
    db.session.commit()
    actions = [(e.action, e.actor_id) for e in _entries(db, project_id=project.id)]
    assert actions == [("stage_request.create", staff.id), ("stage_request.approve", manager.id),
                       ("project.stage", manager.id)]
    stage_entry = _entries(db, project_id=project.id, action="project.stage")[0]
    assert stage_entry.changes["stage"] == ["completed", "production"]
    assert verify().ok


# --- Chained at commit: the lock is held for the commit, not the transaction ---------------------


def test_entries_are_rows_at_flush_and_chained_at_commit(db, ref):
    entry = record(make_user(), "project.update", make_project(), {"content": ["旧", "新"]})
    db.session.flush()
    # The transaction sees its own entry at once (timelines, tests) ...
    assert _entries(db, id=entry.id) == [entry]
    assert (entry.seq, entry.prev_hash, entry.hash) == (None, None, None)
    # ... but it has no place in the chain until the commit, and verify says so.
    result = verify()
    assert (result.ok, result.first_bad_id, result.reason) == (False, entry.id, REASON_UNCHAINED)
    db.session.commit()
    assert entry.seq is not None and entry.prev_hash == GENESIS
    assert entry.hash == entry_digest(GENESIS, hashed_fields(entry))
    assert verify().ok and verify().checked == 1


def test_flush_audit_chains_before_the_commit(db, chain):
    entry = record(None, "project.update", make_project(), {"content": ["甲", "乙"]})
    assert flush_audit() == 1
    assert entry.seq == chain[-1].seq + 1 and entry.prev_hash == chain[-1].hash
    assert verify().ok and verify().checked == len(chain) + 1


def test_entry_of_a_rolled_back_savepoint_is_not_chained(db, chain):
    project = make_project()
    with pytest.raises(RuntimeError):
        with db.session.begin_nested():
            record(None, "project.update", project, {"content": ["甲", "乙"]})
            db.session.flush()
            raise RuntimeError("the change failed")
    with db.session.begin_nested():  # a savepoint's commit does not chain (nor take the lock)
        kept = record(None, "project.update", project, {"content": ["乙", "丙"]})
    assert kept.id is not None and kept.seq is None
    db.session.commit()
    entries = _entries(db)
    assert entries[-1] is kept and len(entries) == len(chain) + 1
    assert kept.prev_hash == chain[-1].hash and verify().ok


def test_open_transaction_does_not_hold_the_chain_lock(app, committed_db):
    # Transaction A records and flushes but has not committed; B records and commits without
    # waiting for A (before, record() took the lock at once and held it until A's commit: B
    # would wait — here, fail on lock_timeout). A commits after B: A's entry was inserted
    # first (lower id) but comes later in the chain (seq is commit order); verify holds.
    from tests.factories import reference
    from tracker.core.db import writing

    db = committed_db
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writing transactions as a whole: nothing to interleave")
    with writing():
        project_id = make_project(unit=reference().huangyan).id
        db.session.commit()
        first = record(None, "project.update", db.session.get(Project, project_id), {"content": ["A", "A2"]})
        db.session.flush()
        with app.app_context():  # another session and connection
            db.session.execute(text("SET LOCAL lock_timeout = '3s'"))
            second = record(None, "project.update", db.session.get(Project, project_id), {"content": ["B", "B2"]})
            db.session.commit()
            second_id, second_seq = second.id, second.seq
        db.session.commit()
        assert first.id < second_id and first.seq == second_seq + 1
        result = verify()
        db.session.rollback()
    assert result.ok and result.checked == 2


# --- Keyed with AUDIT_KEY: forged entries, re-keying old logs, signed checkpoints ---------------


def _append_raw(db, digest, n=1, action="project.update"):
    """Append entries past the application, hashed with ``digest(prev, fields)``, the way someone
    with database access but without the key would (or as a pre-AUDIT_KEY log was written)."""
    from types import SimpleNamespace

    from tracker.audit.operations import last_chained
    from tracker.core.db import utcnow

    table = AuditEntry.__table__
    last = last_chained(db.session.connection())
    seq, prev = (last[0], last[2]) if last else (0, GENESIS)
    ids = []
    for i in range(n):
        row = {"created_at": utcnow(), "actor_id": None, "action": action, "object_type": "project",
               "object_id": 1, "project_id": 1, "changes": {"content": [f"旧{i}", f"新{i}"]}}
        seq += 1
        row.update(seq=seq, prev_hash=prev, hash=digest(prev, hashed_fields(SimpleNamespace(**row))))
        prev = row["hash"]
        ids.append(db.session.execute(table.insert().values(**row).returning(table.c.id)).scalar_one())
    return ids


def _other_key_digest(prev, fields):
    return entry_digest(prev, fields, key=b"not the audit key")


@pytest.mark.parametrize("digest, reason", [(plain_digest, REASON_UNKEYED), (_other_key_digest, REASON_EDITED)])
def test_forged_entry_appended_without_the_key_is_refused(db, chain, app, digest, reason):
    # Before AUDIT_KEY, an entry appended with a correct plain SHA-256 verified as OK.
    (forged,) = _append_raw(db, digest)
    result = verify()
    assert (result.ok, result.first_bad_id, result.reason) == (False, forged, reason)
    assert result.checked == len(chain) and result.last_id == chain[-1].id
    out = _run_cli(app)
    assert out.exit_code == 1 and f"audit entry #{forged}" in out.output


def test_entry_written_past_the_application_is_never_chained_by_it(db, chain):
    # An unchained row inserted directly must not be signed by the next commit of the app.
    table = AuditEntry.__table__
    forged = db.session.execute(table.insert().values(
        created_at=chain[0].created_at, action="project.update", object_type="project", changes={},
    ).returning(table.c.id)).scalar_one()
    db.session.commit()
    genuine = record(None, "project.update", make_project(), {"content": ["甲", "乙"]})
    db.session.commit()
    assert genuine.id > forged and genuine.prev_hash == chain[-1].hash
    assert db.session.get(AuditEntry, forged).seq is None
    result = verify()
    assert (result.ok, result.first_bad_id, result.reason, result.checked) == (False, forged, REASON_UNCHAINED,
                                                                               len(chain) + 1)


def _cli(app, *args):
    return app.test_cli_runner().invoke(args=["audit", *args])


def test_rekey_converts_a_plain_log_and_the_entries_recorded_since(db, app, ref):
    old = _append_raw(db, plain_digest, n=5)  # a log from before AUDIT_KEY …
    legacy_anchor = f"{old[-1]}:{db.session.get(AuditEntry, old[-1]).hash}"
    new = record(None, "project.update", make_project(), {"content": ["升级后", "新"]})  # … and one since
    db.session.commit()
    result = verify()
    assert (result.ok, result.first_bad_id, result.reason) == (False, old[0], REASON_UNKEYED)
    assert "flask audit rekey" in _cli(app, "verify").output

    out = _cli(app, "rekey", "--anchor", legacy_anchor)
    assert out.exit_code == 0, out.output
    assert "Re-keyed 5 plain SHA-256 entries (6 in the chain)" in out.output
    db.session.expire_all()
    entries = _entries(db)
    assert [e.id for e in entries[:6]] == [*old, new.id] and entries[-1].action == "audit.rekey"
    assert entries[-1].changes == {"entries": 6, "plain": 5}
    assert verify().ok and verify().checked == 7
    checkpoint = out.output.strip().splitlines()[-1]
    assert checkpoint.startswith(f"{entries[-1].id}:{entries[-1].hash}:")
    assert _cli(app, "verify", "--anchor", checkpoint).exit_code == 0
    assert _cli(app, "verify", "--anchor", legacy_anchor).exit_code == 1  # the old hashes are gone
    again = _cli(app, "rekey")
    assert again.exit_code == 0 and "Nothing to do: all 7 entries are already keyed" in again.output


@pytest.mark.parametrize("damage", ["edit", "plain_after_keyed", "anchor"])
def test_rekey_refuses_an_untrustworthy_chain_and_changes_nothing(db, app, ref, damage):
    old = _append_raw(db, plain_digest, n=4)
    anchor = None
    if damage == "edit":
        db.session.execute(text("UPDATE audit_entry SET action = 'project.view' WHERE id = :id"), {"id": old[2]})
        bad = old[2]
    elif damage == "plain_after_keyed":
        record(None, "project.update", make_project(), {"content": ["甲", "乙"]})
        db.session.commit()
        (bad,) = _append_raw(db, plain_digest)
    else:  # the newest entry noted before the upgrade is gone
        noted = db.session.get(AuditEntry, old[-1])
        anchor, bad = f"{noted.id}:{noted.hash}", noted.id
        db.session.execute(text("DELETE FROM audit_entry WHERE id = :id"), {"id": noted.id})
    db.session.commit()
    before = db.session.execute(select(AuditEntry.id, AuditEntry.hash).order_by(AuditEntry.id)).all()
    out = _cli(app, "rekey", *(["--anchor", anchor] if anchor else []))
    assert out.exit_code == 1 and "REFUSED" in out.output and f"#{bad}" in out.output, out.output
    assert db.session.execute(select(AuditEntry.id, AuditEntry.hash).order_by(AuditEntry.id)).all() == before


def test_checkpoint_is_signed_and_checked_by_verify(db, chain, app):
    out = _cli(app, "checkpoint")
    assert out.exit_code == 0, out.output
    line = out.output.strip()
    ident, digest, sig = line.split(":")
    assert (int(ident), digest) == (chain[-1].id, chain[-1].hash) and len(sig) == 32
    assert _cli(app, "verify", "--anchor", line).exit_code == 0
    assert _cli(app, "verify", "--anchor", f"{ident}:{digest}").exit_code == 0  # bare ID:HASH still works

    altered = f"{chain[-2].id}:{chain[-2].hash}:{sig}"  # someone swaps in an older entry, keeps the SIG
    bad = _cli(app, "verify", "--anchor", altered)
    assert bad.exit_code == 1 and "signature does not match" in bad.output

    db.session.execute(text("DELETE FROM audit_entry WHERE id = :id"), {"id": chain[-1].id})
    truncated = _cli(app, "verify", "--anchor", line)
    assert truncated.exit_code == 1 and f"anchor entry #{chain[-1].id} is missing" in truncated.output


def test_checkpoint_refuses_a_broken_or_empty_chain(db, chain, app):
    db.session.execute(text("UPDATE audit_entry SET action = 'x' WHERE id = :id"), {"id": chain[1].id})
    out = _cli(app, "checkpoint")
    assert out.exit_code == 1 and f"audit entry #{chain[1].id}" in out.output
    db.session.execute(text("DELETE FROM audit_entry"))
    assert _cli(app, "checkpoint").exit_code == 1
