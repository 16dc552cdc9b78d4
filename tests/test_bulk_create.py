"""Creating many projects at once (``create_projects``, what a ledger import commits): the
same records as creating each through the form's operation, in bulk statements. Thirty
projects: above ``core.bulk.FEW``, so PostgreSQL takes its sequence + JSON-document path."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from tests.factories import make_user, uscc
from tracker.audit.models import AuditEntry
from tracker.audit.operations import flush_audit
from tracker.audit.verify import verify
from tracker.core.bulk import FEW
from tracker.funds.models import FundsRecord
from tracker.progress import lights
from tracker.progress.models import StageEvent
from tracker.projects.models import Investor, Project
from tracker.projects.operations import FieldErrors, NewProject, create_project, create_projects
from tracker.workflow.models import Milestone

N = 30


def _values(ref, i: int, **kw) -> dict:
    return {"name": f"批量项目{i:02d}", "unit_id": ref.huangyan.id, "industry_id": ref.industry.id,
            "signed_on": date(2024, 3, 1 + i % 28), "contracted_investment": Decimal(10000 + i),
            "content": "厂房", **kw}


def _investor(ref, i: int) -> dict:
    # Every third project shares an investor with the one before: one record each.
    return {"name": f"批量投资方{i // 3}", "uscc": None, "source_region_id": ref.region.id, "country": "中国"}


def _snapshot(db, project: Project) -> tuple:
    milestones = sorted((m.stage, m.planned_on, m.actual_on) for m in db.session.execute(
        select(Milestone).where(Milestone.project_id == project.id)).scalars())
    events = [(e.kind, e.to_stage, e.counts_as, e.effective_on) for e in db.session.execute(
        select(StageEvent).where(StageEvent.project_id == project.id)).scalars()]
    funds = [(f.received_on, f.amount) for f in db.session.execute(
        select(FundsRecord).where(FundsRecord.project_id == project.id)).scalars()]
    return (project.stage, project.stage_since, project.due_on, project.red_on, project.funds_in_place,
            milestones, events, funds)


def test_many_at_once_are_what_one_at_a_time_makes(db, ref):
    assert N > FEW
    staff = make_user("staff", ref.huangyan)
    items = [NewProject(_values(ref, i, funds_in_place=Decimal(500) if i % 5 == 0 else None), _investor(ref, i),
                        "signed") for i in range(N)]
    projects = create_projects(staff, items)
    assert len(projects) == N and len({p.id for p in projects}) == N
    assert db.session.execute(select(func.count(Investor.id)).where(
        Investor.name.like("批量投资方%"))).scalar_one() == N // 3

    # The same project made by the form's operation (one at a time) has the same records.
    single = create_project(staff, _values(ref, 99, funds_in_place=Decimal(500), signed_on=projects[0].signed_on),
                            _investor(ref, 99), "signed")
    db.session.flush()
    twin = projects[0]  # also 500 in place
    db.session.expire_all()
    a, b = _snapshot(db, twin), _snapshot(db, single)
    assert a[0:5] == b[0:5] and a[6] == b[6]
    assert [m[0] for m in a[5]] == [m[0] for m in b[5]]  # the same default plan
    # Lights as the refresh computes them: nothing to change.
    assert lights.refresh(db.session, [p.id for p in projects]) == 0

    # Every change audited, chained at commit and the chain intact.
    flush_audit()
    actions = dict(db.session.execute(select(AuditEntry.action, func.count()).where(
        AuditEntry.actor_id == staff.id).group_by(AuditEntry.action)).all())
    assert actions["project.create"] == N + 1
    assert actions["investor.create"] == N // 3 + 1
    assert actions["funds.create"] == len([i for i in range(N) if i % 5 == 0]) + 1
    assert db.session.execute(select(func.count(AuditEntry.id)).where(AuditEntry.seq.is_(None))).scalar_one() == 0
    assert verify().ok
    entry = db.session.execute(select(AuditEntry).where(
        AuditEntry.action == "project.create", AuditEntry.object_id == twin.id)).scalar_one()
    assert entry.changes["name"] == twin.name and entry.changes["investor"] == "批量投资方0"
    assert entry.changes["planned"] and entry.changes["stage"] == "signed"


def test_later_stage_with_actual_dates_gets_its_history(db, ref):
    staff = make_user("staff", ref.huangyan)
    actual = {"registered": date(2024, 4, 1), "land_secured": date(2024, 6, 1), "construction": date(2024, 9, 1)}
    items = [NewProject(_values(ref, i), _investor(ref, i), "construction" if i == 0 else "signed",
                        planned={"completed": date(2026, 1, 31)} if i == 0 else {},
                        actual=actual if i == 0 else {}) for i in range(N)]
    placed = create_projects(staff, items)[0]
    db.session.flush()
    db.session.expire_all()
    assert placed.stage_since == date(2024, 9, 1)
    assert placed.due_on == date(2026, 1, 31)  # the ledger's planned date, not the default plan's
    got = {m.stage: (m.planned_on, m.actual_on) for m in db.session.execute(
        select(Milestone).where(Milestone.project_id == placed.id)).scalars()}
    assert got["construction"][1] == date(2024, 9, 1) and got["completed"][0] == date(2026, 1, 31)
    reached = [e.to_stage for e in db.session.execute(select(StageEvent).where(
        StageEvent.project_id == placed.id).order_by(StageEvent.effective_on)).scalars()]
    assert reached == ["signed", "registered", "land_secured", "construction"]


def test_a_taken_or_repeated_name_stops_all_of_them(db, ref):
    staff = make_user("staff", ref.huangyan)
    create_project(staff, _values(ref, 7), _investor(ref, 7), "signed")
    db.session.flush()
    before = db.session.execute(select(func.count(Project.id))).scalar_one()
    items = [NewProject(_values(ref, i, name=f"批量项目{i:02d}".upper()), _investor(ref, i), "signed")
             for i in range(N)]
    with pytest.raises(FieldErrors) as err:
        create_projects(staff, items)
    assert "批量项目07" in err.value.errors["name"]
    twice = [NewProject(_values(ref, 100 + i % 2), _investor(ref, i), "signed") for i in range(3)]
    with pytest.raises(FieldErrors) as err:
        create_projects(staff, twice)
    assert "批量项目100" in err.value.errors["name"]
    assert db.session.execute(select(func.count(Project.id))).scalar_one() == before


def test_another_units_investor_names_are_not_reused(db, ref):
    """Each unit keeps its own investor records: a Linhai project naming a Huangyan investor
    gets a Linhai record (and a city user may file into both units in one batch)."""
    city = make_user("manager", ref.city)
    items = [NewProject(_values(ref, i, unit_id=(ref.huangyan if i % 2 else ref.linhai).id), _investor(ref, 0),
                        "signed") for i in range(N)]
    projects = create_projects(city, items)
    db.session.flush()
    assert {(p.unit_id, p.investor.unit_id) for p in projects} == {(ref.huangyan.id, ref.huangyan.id),
                                                                    (ref.linhai.id, ref.linhai.id)}
    county = make_user("staff", ref.huangyan)
    with pytest.raises(FieldErrors) as err:
        create_projects(county, [NewProject(_values(ref, 50, unit_id=ref.linhai.id), _investor(ref, 50), "signed")])
    assert "unit_id" in err.value.errors


def test_an_investor_conflict_in_a_batch_names_the_investor(db, ref):
    staff = make_user("staff", ref.huangyan)
    create_project(staff, _values(ref, 60), {**_investor(ref, 60), "name": "已登记投资方", "uscc": uscc(1)}, "signed")
    items = [NewProject(_values(ref, i), _investor(ref, i), "signed") for i in range(N)]
    items[5] = NewProject(_values(ref, 5), {**_investor(ref, 5), "name": "另一投资方", "uscc": uscc(1)}, "signed")
    with pytest.raises(FieldErrors) as err:
        create_projects(staff, items)
    assert err.value.errors == {"investor_uscc": "“另一投资方”：该统一社会信用代码已属于另一家投资方。"}
