"""The stage history (``StageEvent``): written by project creation and every approved move,
rebuilt once by ``history.backfill`` (the migration and the demo loader), and the
``stage_since`` the lights count from."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy import delete, func, select

from tests.databases import scratch_app
from tests.factories import make_project, make_user, uscc
from tracker.core.input import validate
from tracker.progress import counting, history
from tracker.progress.models import StageEvent
from tracker.projects.choices import project_choices
from tracker.projects.models import Project
from tracker.projects.operations import create_project
from tracker.projects.schemas import ProjectCreate
from tracker.workflow import operations as wf


@pytest.fixture()
def people(db, ref):
    return {"staff": make_user("staff", ref.huangyan), "manager": make_user("manager", ref.huangyan)}


def _values(on: date) -> dict[str, str]:
    return {
        "reason": "测试", "expected_resume_on": (on + timedelta(days=200)).isoformat(), "company_uscc": uscc(),
        "registered_capital": "5000", "land_area_mu": "50", "land_certificate_no": "浙(2024)第0002号",
        "construction_permit_no": "330003202401010001", "annual_output": "90000",
    }


@pytest.fixture()
def move(db, people):
    def _move(project, to_stage, on):
        day = date.fromisoformat(on)
        req = wf.request_move(people["staff"], project, to_stage=to_stage, actual_date=on, values=_values(day))
        wf.approve(people["manager"], req.id)
        db.session.flush()
        assert project.stage == to_stage
        return req

    return _move


def _events(db, project_id):
    return db.session.execute(select(StageEvent).where(StageEvent.project_id == project_id)
                              .order_by(StageEvent.id)).scalars().all()


def _rows(events):
    return [(e.kind, e.from_stage, e.to_stage, e.counts_as, e.effective_on) for e in events]


def _counts_now_and_on(db, project_id, day):
    """(counts_as now, counts_as on ``day`` from the history) for one project."""
    return db.session.execute(select(counting.counts_as(), counting.counts_as(day))
                              .where(Project.id == project_id)).one()


# --- Written live ------------------------------------------------------------------------------


@pytest.mark.parametrize("stage,signed_on", [("signed", "2024-05-20"), ("negotiating", None)])
def test_creating_a_project_writes_its_first_event(db, ref, people, stage, signed_on):
    from tracker.core.formatting import today_local

    data = {"name": f"历史测试项目{stage}", "investor_name": f"历史测试投资方{stage}", "investor_uscc": uscc(),
            "industry_id": ref.industry.id, "unit_id": ref.huangyan.id, "source_region_id": ref.region.id,
            "contracted_investment": "150000", "signed_on": signed_on, "stage": stage}
    values = validate(ProjectCreate, data, context={"choices": project_choices(people["staff"])})
    project = create_project(people["staff"], values.project_values(), values.investor_values(), values.stage)
    db.session.flush()
    on = date.fromisoformat(signed_on) if signed_on else today_local()
    assert _rows(_events(db, project.id)) == [("create", None, stage, stage, on)]
    assert _events(db, project.id)[0].actor_id == people["staff"].id
    assert project.stage_since == on


def test_every_kind_of_move_writes_an_event(db, ref, people, move):
    p = make_project(unit=ref.huangyan, stage="negotiating", signed_on=None)
    reqs = [move(p, "signed", "2024-01-15"), move(p, "registered", "2024-02-01"),
            move(p, "construction", "2024-04-01"), move(p, "land_secured", "2024-05-01"),
            move(p, "paused", "2024-06-01"), move(p, "land_secured", "2024-08-01"),
            move(p, "terminated", "2024-10-01")]
    events = _events(db, p.id)
    created = events.pop(0)
    assert created.kind == "create" and created.to_stage == "negotiating"
    assert _rows(events) == [
        ("advance", "negotiating", "signed", "signed", date(2024, 1, 15)),
        ("advance", "signed", "registered", "registered", date(2024, 2, 1)),
        ("skip", "registered", "construction", "construction", date(2024, 4, 1)),
        ("back", "construction", "land_secured", "land_secured", date(2024, 5, 1)),
        ("pause", "land_secured", "paused", "land_secured", date(2024, 6, 1)),
        ("resume", "paused", "land_secured", "land_secured", date(2024, 8, 1)),
        ("terminate", "land_secured", "terminated", "terminated", date(2024, 10, 1)),
    ]
    assert [e.request_id for e in events] == [r.id for r in reqs]
    assert {e.actor_id for e in events} == {people["manager"].id}  # the approver
    assert p.signed_on == date(2024, 1, 15)


def test_rejected_and_withdrawn_requests_write_nothing(db, ref, people):
    p = make_project(unit=ref.huangyan, stage="completed")
    before = len(_events(db, p.id))
    req = wf.request_move(people["staff"], p, to_stage="production", actual_date="2024-07-01")
    wf.reject(people["manager"], req.id, "证据不足")
    req = wf.request_move(people["staff"], p, to_stage="production", actual_date="2024-07-01")
    wf.withdraw(people["staff"], req.id)
    assert len(_events(db, p.id)) == before and p.stage == "completed"


# --- stage_since ---------------------------------------------------------------------------------


def test_stage_since_through_pause_resume_and_correction(db, ref, move):
    p = make_project(unit=ref.huangyan, signed_on=date(2024, 1, 1))
    assert p.stage_since == date(2024, 1, 1)
    move(p, "registered", "2024-03-01")
    assert p.stage_since == date(2024, 3, 1)
    move(p, "paused", "2024-04-01")
    assert p.stage_since == date(2024, 3, 1)  # the clock stops, the start is kept
    move(p, "registered", "2024-06-01")
    # Resumed after 61 days away: as if the stage had begun 61 days later.
    assert p.stage_since == date(2024, 3, 1) + (date(2024, 6, 1) - date(2024, 4, 1)) == date(2024, 5, 1)
    move(p, "land_secured", "2024-07-01")
    move(p, "construction", "2024-09-01")
    assert p.stage_since == date(2024, 9, 1)
    move(p, "land_secured", "2024-10-01")  # a correction: at 已供地 since it was reached
    assert p.stage_since == date(2024, 7, 1)
    move(p, "signed", "2024-11-01")  # back to signing: since the signing date
    assert p.stage_since == date(2024, 1, 1)


# --- Backfill ------------------------------------------------------------------------------------


def _forget_history(db, projects):
    """Make projects look like they did before the history was kept."""
    ids = [p.id for p in projects]
    before = {p.id: p.stage_since for p in projects}
    db.session.execute(delete(StageEvent).where(StageEvent.project_id.in_(ids)))
    db.session.execute(sa.update(Project).where(Project.id.in_(ids)).values(stage_since=None))
    db.session.flush()
    db.session.expire_all()
    return before


def test_backfill_rebuilds_a_consistent_history(db, ref, move):
    live = {
        "signed": make_project(unit=ref.huangyan, signed_on=date(2024, 1, 5)),
        "moved": make_project(unit=ref.huangyan, signed_on=date(2024, 1, 5)),
        "paused": make_project(unit=ref.huangyan, signed_on=date(2024, 1, 5)),
        "resumed": make_project(unit=ref.huangyan, signed_on=date(2024, 1, 5)),
        "terminated": make_project(unit=ref.huangyan, signed_on=date(2024, 1, 5)),
        "corrected": make_project(unit=ref.huangyan, signed_on=date(2024, 1, 5)),
        "negotiating": make_project(unit=ref.huangyan, stage="negotiating", signed_on=None),
    }
    for to, on in (("registered", "2024-02-01"), ("land_secured", "2024-03-01"), ("construction", "2024-05-01")):
        move(live["moved"], to, on)
    move(live["paused"], "registered", "2024-02-01")
    move(live["paused"], "paused", "2024-04-01")
    for to, on in (("registered", "2024-02-01"), ("paused", "2024-03-01"), ("registered", "2024-05-01"),
                   ("land_secured", "2024-06-01")):
        move(live["resumed"], to, on)
    move(live["terminated"], "registered", "2024-02-01")
    move(live["terminated"], "terminated", "2024-06-01")
    for to, on in (("registered", "2024-02-01"), ("land_secured", "2024-03-01"), ("construction", "2024-05-01"),
                   ("land_secured", "2024-07-01")):
        move(live["corrected"], to, on)
    projects = list(live.values())
    live_rows = {p.id: _rows(_events(db, p.id))[1:] for p in projects}  # after the first event
    since = _forget_history(db, projects)

    assert history.backfill(db.session, [p.id for p in projects]) == len(projects)
    db.session.expire_all()
    for key, p in live.items():
        events = _events(db, p.id)
        assert events, key
        assert events[-1].to_stage == p.stage, key
        assert p.stage_since == since[p.id], key
        if key != "negotiating":
            assert events[0].to_stage == "signed" and events[0].effective_on == date(2024, 1, 5), key
        # The approved requests come back as the events the moves wrote.
        assert _rows(events)[1:] == live_rows[p.id], key
        # Dates never go backwards except for a correction.
        days = [e.effective_on for e in events if e.kind != "back"]
        assert days == sorted(days), key
        # On any day after the last change the history counts the project as it stands.
        now, then = _counts_now_and_on(db, p.id, date.today() + timedelta(days=1))
        assert now == then, key
    assert _events(db, live["paused"].id)[-1].counts_as == "registered"
    assert _events(db, live["terminated"].id)[-1].counts_as == "terminated"
    assert _events(db, live["negotiating"].id)[0].to_stage == "negotiating"


def test_backfill_from_milestones_only(db, ref):
    """Projects loaded with a stage and milestone dates but no requests (old data, seeds)."""
    from tracker.workflow.models import Milestone

    built = make_project(unit=ref.huangyan, signed_on=date(2023, 3, 1))
    paused = make_project(unit=ref.huangyan, signed_on=date(2023, 3, 1))
    terminated = make_project(unit=ref.huangyan, signed_on=date(2023, 3, 1))
    for p in (built, paused):
        db.session.add_all([Milestone(project_id=p.id, stage="registered", actual_on=date(2023, 4, 1)),
                            Milestone(project_id=p.id, stage="land_secured", actual_on=date(2023, 6, 1)),
                            Milestone(project_id=p.id, stage="construction", actual_on=date(2023, 9, 1))])
    built.stage = "construction"
    paused.stage, paused.paused_from_stage = "paused", "construction"
    terminated.stage = "terminated"
    db.session.flush()
    _forget_history(db, [built, paused, terminated])
    assert history.backfill(db.session, [built.id, paused.id, terminated.id]) == 3
    db.session.expire_all()
    assert [(k, s, c, d) for k, _f, s, c, d in _rows(_events(db, built.id))] == [
        ("create", "signed", "signed", date(2023, 3, 1)),
        ("backfill", "registered", "registered", date(2023, 4, 1)),
        ("backfill", "land_secured", "land_secured", date(2023, 6, 1)),
        ("backfill", "construction", "construction", date(2023, 9, 1)),
    ]
    assert built.stage_since == date(2023, 9, 1)
    rows = _rows(_events(db, paused.id))
    assert rows[-1][1:4] == ("construction", "paused", "construction")  # counts where it was paused from
    assert rows[-1][4] >= date(2023, 9, 1)
    assert paused.stage_since == date(2023, 9, 1)
    rows = _rows(_events(db, terminated.id))
    assert [r[2] for r in rows] == ["signed", "terminated"] and rows[-1][3] == "terminated"
    # As of a day inside the history: at 已供地 on 2023-07-01.
    assert _counts_now_and_on(db, built.id, date(2023, 7, 1)) == ("construction", "land_secured")


def test_backfill_is_idempotent(db, ref, move):
    p = make_project(unit=ref.huangyan, signed_on=date(2024, 1, 5))
    move(p, "registered", "2024-02-01")
    _forget_history(db, [p])
    assert history.backfill(db.session) >= 1
    count = db.session.execute(select(func.count(StageEvent.id))).scalar_one()
    assert history.backfill(db.session) == 0
    assert history.backfill(db.session, [p.id]) == 0
    assert db.session.execute(select(func.count(StageEvent.id))).scalar_one() == count


# --- The migration's backfill ----------------------------------------------------------------------

BEFORE_HISTORY = "c3a1e9b2f401"  # the revision before the stage history


@pytest.fixture()
def old_database(database_url, tmp_path):
    """An app on a scratch database migrated to the revision before the stage history."""
    from tracker.extensions import db

    with scratch_app(database_url, "hist", tmp_path, revision=BEFORE_HISTORY):
        yield db


def _old_data(conn) -> dict[str, int]:
    """Projects as they were before the history: milestones, approved and other requests."""
    meta = sa.MetaData()
    t = {name: sa.Table(name, meta, autoload_with=conn)
         for name in ("unit", "industry", "source_region", "investor", "user", "project", "stage_request",
                      "milestone")}
    now = datetime(2024, 12, 1, 8, 0)
    unit = conn.execute(sa.insert(t["unit"]).values(code="hy", name="黄岩区", is_city=False, sort_order=1,
                                                    is_active=True).returning(t["unit"].c.id)).scalar_one()
    industry = conn.execute(sa.insert(t["industry"]).values(group="", name="新能源", sort_order=1, is_active=True)
                            .returning(t["industry"].c.id)).scalar_one()
    region = conn.execute(sa.insert(t["source_region"]).values(is_yrd=True, is_foreign=False, name="江苏",
                                                               sort_order=1, is_active=True)
                          .returning(t["source_region"].c.id)).scalar_one()
    users = [conn.execute(sa.insert(t["user"]).values(
        username=name, display_name=name, role=role, unit_id=unit, password_hash="x", is_active=True,
        session_version=1, version_id=1, created_at=now, updated_at=now).returning(t["user"].c.id)).scalar_one()
        for name, role in (("staff", "staff"), ("boss", "manager"))]
    staff, boss = users
    ids: dict[str, int] = {}

    def project(key, stage, signed_on, paused_from=None):
        inv = conn.execute(sa.insert(t["investor"]).values(
            name=f"投资方{key}", source_region_id=region, country="中国", introduction="", unit_id=unit,
            version_id=1, created_at=now, updated_at=now).returning(t["investor"].c.id)).scalar_one()
        ids[key] = conn.execute(sa.insert(t["project"]).values(
            name=f"项目{key}", investor_id=inv, industry_id=industry, unit_id=unit, stage=stage, signed_on=signed_on,
            paused_from_stage=paused_from, contracted_investment=Decimal(100_000), funds_in_place=Decimal(0),
            content="", is_provincial_major=False, is_qianxiang_wanyi=False, is_yrd_major=False, is_archived=False,
            version_id=1, created_at=datetime(2024, 1, 2, 8, 0), updated_at=now)
            .returning(t["project"].c.id)).scalar_one()

    def milestone(key, stage, actual_on):
        conn.execute(sa.insert(t["milestone"]).values(project_id=ids[key], stage=stage, actual_on=actual_on))

    def request(key, kind, frm, to, on, status="approved", n=[0]):  # noqa: B006 - a counter
        n[0] += 1
        conn.execute(sa.insert(t["stage_request"]).values(
            project_id=ids[key], kind=kind, from_stage=frm, to_stage=to, status=status, actual_date=on, values={},
            reason="", comment="", requested_by_id=staff, requested_at=now,
            decided_by_id=boss if status in ("approved", "rejected") else None,
            decided_at=now + timedelta(minutes=n[0]) if status != "pending" else None, decision_comment=""))

    project("built", "construction", date(2024, 1, 10))
    for stage, day in (("registered", date(2024, 3, 1)), ("land_secured", date(2024, 4, 1)),
                       ("construction", date(2024, 6, 1))):
        milestone("built", stage, day)
    project("paused", "paused", date(2024, 2, 1), paused_from="registered")
    milestone("paused", "registered", date(2024, 3, 15))
    project("terminated", "terminated", date(2024, 2, 1))
    project("negotiating", "negotiating", None)
    project("corrected", "land_secured", date(2024, 1, 1))
    request("corrected", "advance", "signed", "registered", date(2024, 2, 1))
    request("corrected", "skip", "registered", "construction", date(2024, 3, 1), status="rejected")
    request("corrected", "skip", "registered", "construction", date(2024, 5, 1))
    request("corrected", "back", "construction", "land_secured", date(2024, 7, 1))
    milestone("corrected", "registered", date(2024, 2, 1))
    project("resumed", "construction", date(2024, 1, 1))
    request("resumed", "advance", "signed", "registered", date(2024, 2, 1))
    request("resumed", "pause", "registered", "paused", date(2024, 3, 1))
    request("resumed", "resume", "paused", "registered", date(2024, 5, 1))
    request("resumed", "skip", "registered", "construction", date(2024, 6, 1))
    request("resumed", "advance", "construction", "completed", date(2024, 8, 1), status="pending")
    milestone("resumed", "registered", date(2024, 2, 1))
    milestone("resumed", "construction", date(2024, 6, 1))
    return ids


def test_the_migration_backfills_once(old_database):
    from flask_migrate import upgrade

    db = old_database
    with db.engine.begin() as conn:
        ids = _old_data(conn)
    upgrade()
    event = sa.Table("stage_event", sa.MetaData(), autoload_with=db.engine)
    project = sa.Table("project", sa.MetaData(), autoload_with=db.engine)

    def history_of(key):
        with db.engine.connect() as conn:
            return [(r.kind, r.from_stage, r.to_stage, r.counts_as, r.effective_on) for r in conn.execute(
                sa.select(event).where(event.c.project_id == ids[key]).order_by(event.c.id))]

    def since_of(key):
        with db.engine.connect() as conn:
            return conn.execute(sa.select(project.c.stage_since).where(project.c.id == ids[key])).scalar_one()

    assert history_of("built") == [
        ("create", None, "signed", "signed", date(2024, 1, 10)),
        ("backfill", "signed", "registered", "registered", date(2024, 3, 1)),
        ("backfill", "registered", "land_secured", "land_secured", date(2024, 4, 1)),
        ("backfill", "land_secured", "construction", "construction", date(2024, 6, 1)),
    ]
    assert since_of("built") == date(2024, 6, 1)
    paused = history_of("paused")
    assert [r[2] for r in paused] == ["signed", "registered", "paused"] and paused[-1][3] == "registered"
    assert since_of("paused") == date(2024, 3, 15)
    terminated = history_of("terminated")
    assert [r[2] for r in terminated] == ["signed", "terminated"] and terminated[-1][3] == "terminated"
    assert [r[2] for r in history_of("negotiating")] == ["negotiating"]
    # Approved requests only, in the order they were decided; the correction keeps both.
    assert history_of("corrected") == [
        ("create", None, "signed", "signed", date(2024, 1, 1)),
        ("advance", "signed", "registered", "registered", date(2024, 2, 1)),
        ("skip", "registered", "construction", "construction", date(2024, 5, 1)),
        ("back", "construction", "land_secured", "land_secured", date(2024, 7, 1)),
    ]
    assert history_of("resumed") == [
        ("create", None, "signed", "signed", date(2024, 1, 1)),
        ("advance", "signed", "registered", "registered", date(2024, 2, 1)),
        ("pause", "registered", "paused", "registered", date(2024, 3, 1)),
        ("resume", "paused", "registered", "registered", date(2024, 5, 1)),
        ("skip", "registered", "construction", "construction", date(2024, 6, 1)),
    ]
    assert since_of("resumed") == date(2024, 6, 1)
    with db.engine.connect() as conn:
        count = conn.execute(sa.select(func.count()).select_from(event)).scalar_one()
    assert count == 4 + 3 + 2 + 1 + 4 + 5
    # Run again (as the demo loader or a re-run would): nothing more is written.
    with db.engine.begin() as conn:
        assert history.backfill(conn) == 0
    with db.engine.connect() as conn:
        assert conn.execute(sa.select(func.count()).select_from(event)).scalar_one() == count


def test_backfill_of_a_project_paused_before_its_first_request(db, ref, move):
    """Loaded paused (no request put it there), then resumed through the workflow: the
    backfilled history still has the stages reached before the pause."""
    from tracker.workflow.models import Milestone

    p = make_project(unit=ref.huangyan, signed_on=date(2023, 3, 1))
    db.session.add_all([Milestone(project_id=p.id, stage="registered", actual_on=date(2023, 4, 1)),
                        Milestone(project_id=p.id, stage="land_secured", actual_on=date(2023, 6, 1))])
    p.stage, p.paused_from_stage = "paused", "land_secured"
    p.expected_resume_on = date(2024, 6, 1)
    db.session.flush()
    move(p, "land_secured", "2024-03-01")
    _forget_history(db, [p])
    assert history.backfill(db.session, [p.id]) == 1
    db.session.expire_all()
    rows = _rows(_events(db, p.id))
    assert [r[2] for r in rows] == ["signed", "registered", "land_secured", "paused", "land_secured"]
    assert rows[3][3] == "land_secured" and rows[-1][0] == "resume"
    # Between the land and the resume the project counts at 已供地.
    assert _counts_now_and_on(db, p.id, date(2023, 12, 31)) == ("land_secured", "land_secured")
