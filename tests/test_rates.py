"""The rates of DOMAIN.md (落地率, 开工率, 投产率, 资金到位率, 履约率) on hand-made data.

Every stage change goes through the real workflow (a staff request approved by a manager),
funds through ``add_funds``, planned dates through ``set_planned_dates``; the figures come
from the report engine's ``summary`` (what the summary API answers). Each expected value is
worked out by hand in the test from the data it builds.
"""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from tests.factories import make_project, make_user, uscc
from tracker.funds.operations import add_funds
from tracker.progress.models import StageEvent
from tracker.projects.operations import set_archived
from tracker.reports.figures import summary, year_query
from tracker.workflow import operations as wf
from tracker.workflow.stages import MAIN_CODES


def _values(to_stage: str, on: date) -> dict[str, str]:
    """Everything any move to ``to_stage`` may ask for (a move reads only what it needs)."""
    return {
        "reason": "测试：按实际情况调整", "expected_resume_on": (on + timedelta(days=180)).isoformat(),
        "company_uscc": uscc(), "registered_capital": "5000", "land_area_mu": "120",
        "land_certificate_no": "浙(2024)黄岩区不动产权第0001号", "construction_permit_no": "330003202406150101",
        "annual_output": "80000",
    }


@pytest.fixture()
def people(db, ref):
    return {
        "staff": make_user("staff", ref.huangyan),
        "manager": make_user("manager", ref.huangyan),
        "lh_staff": make_user("staff", ref.linhai),
        "lh_manager": make_user("manager", ref.linhai),
        "city": make_user("manager", ref.city),
        "leader": make_user("leader", ref.huangyan),
    }


@pytest.fixture()
def move(db, people):
    """``move(project, to_stage, "2024-06-15")``: requested by staff, approved by a manager."""

    def _move(project, to_stage: str, on: str):
        county = "lh_" if project.unit.code == "linhai" else ""
        day = date.fromisoformat(on)
        req = wf.request_move(people[county + "staff"], project, to_stage=to_stage, actual_date=on,
                              values=_values(to_stage, day))
        wf.approve(people[county + "manager"], req.id)
        db.session.flush()
        assert project.stage == to_stage
        return req

    return _move


def _walk(move, project, *steps: tuple[str, str]):
    for to_stage, on in steps:
        move(project, to_stage, on)
    return project


def _figures(user, year=2024, **filters):
    return summary(user, year_query(year, **filters))


def _stages(**counts: int) -> dict[str, int]:
    out = {code: 0 for code in (*MAIN_CODES[1:], "terminated")}
    out.update(counts)
    return out


# --- Stage rates, sums, 增资, archived, scope ---------------------------------------------------


@pytest.fixture()
def hand_made(db, ref, people, move):
    """黄岩区, signed in 2024 (plus what must not count):

    A registered · B construction · C paused from construction · D terminated · E production
    I a 增资 of B (signed) · X archived (construction) · N negotiating · Y signed in 2023
    L 临海市 (production, another unit)
    """
    p = {}
    p["A"] = make_project(unit=ref.huangyan, signed_on=date(2024, 1, 10), contracted_investment=Decimal(100_000))
    _walk(move, p["A"], ("registered", "2024-03-01"))
    p["B"] = make_project(unit=ref.huangyan, signed_on=date(2024, 2, 1), contracted_investment=Decimal(200_000))
    _walk(move, p["B"], ("registered", "2024-03-01"), ("land_secured", "2024-04-01"),
          ("construction", "2024-06-15"))
    p["C"] = make_project(unit=ref.huangyan, signed_on=date(2024, 2, 15), contracted_investment=Decimal(100_000))
    _walk(move, p["C"], ("registered", "2024-04-01"), ("land_secured", "2024-05-01"),
          ("construction", "2024-06-01"), ("paused", "2024-09-01"))
    p["D"] = make_project(unit=ref.huangyan, signed_on=date(2024, 3, 1), contracted_investment=Decimal(50_000))
    _walk(move, p["D"], ("terminated", "2024-05-01"))
    p["E"] = make_project(unit=ref.huangyan, signed_on=date(2024, 4, 1), contracted_investment=Decimal(50_000))
    _walk(move, p["E"], ("registered", "2024-05-01"), ("land_secured", "2024-06-01"),
          ("construction", "2024-07-01"), ("completed", "2024-09-01"), ("production", "2024-10-01"))
    p["I"] = make_project(unit=ref.huangyan, signed_on=date(2024, 8, 1), contracted_investment=Decimal(50_000),
                          increase_of_id=p["B"].id)
    p["X"] = make_project(unit=ref.huangyan, signed_on=date(2024, 5, 1), contracted_investment=Decimal(900_000))
    _walk(move, p["X"], ("registered", "2024-06-01"), ("construction", "2024-07-01"))
    p["N"] = make_project(unit=ref.huangyan, stage="negotiating", signed_on=None,
                          contracted_investment=Decimal(70_000))
    p["Y"] = make_project(unit=ref.huangyan, signed_on=date(2023, 12, 31), contracted_investment=Decimal(80_000))
    _walk(move, p["Y"], ("registered", "2024-02-01"))
    p["L"] = make_project(unit=ref.linhai, signed_on=date(2024, 3, 1), contracted_investment=Decimal(300_000))
    _walk(move, p["L"], ("registered", "2024-04-01"), ("land_secured", "2024-05-01"),
          ("construction", "2024-06-01"), ("completed", "2024-08-01"), ("production", "2024-09-01"))
    staff = people["staff"]
    add_funds(staff, p["B"], date(2024, 7, 1), Decimal(60_000))
    add_funds(staff, p["I"], date(2024, 9, 1), Decimal(20_000))
    add_funds(staff, p["E"], date(2024, 11, 1), Decimal(30_000))
    add_funds(staff, p["X"], date(2024, 8, 1), Decimal(500_000))
    add_funds(staff, p["Y"], date(2024, 3, 1), Decimal(40_000))
    add_funds(people["lh_staff"], p["L"], date(2024, 10, 1), Decimal(150_000))
    set_archived(people["manager"], p["X"], True)
    db.session.flush()
    return p


def test_rates_today(hand_made, people):
    f = _figures(people["manager"])
    # Signed in 2024 in 黄岩区: A B C D E (I is a 增资, X archived, N not signed, Y 2023).
    assert f["signed"] == 5
    # C counts at construction (paused from it); D as terminated (denominator only).
    assert f["by_stage"] == _stages(registered=1, construction=2, production=1, terminated=1)
    assert f["rates"]["landing"] == pytest.approx(4 / 5)  # A B C E
    assert f["rates"]["construction"] == pytest.approx(3 / 5)  # B C E
    assert f["rates"]["production"] == pytest.approx(1 / 5)  # E
    # Σ 协议投资额: A 100000 + B 200000 + C 100000 + D 50000 + E 50000 + I 50000 (only the added capital).
    assert f["contracted_investment"] == Decimal("550000")
    # Σ 到位资金: B 60000 + I 20000 + E 30000.
    assert f["funds_in_place"] == Decimal("110000")
    assert f["rates"]["funds_in_place"] == pytest.approx(110_000 / 550_000)
    assert f["rates"]["compliance"] is None  # no planned dates: nothing due


def test_a_county_sees_its_unit_only_and_the_city_sees_both(hand_made, people, ref):
    county = _figures(people["manager"])
    assert _figures(people["leader"]) == county
    assert _figures(people["city"], unit=ref.huangyan.id) == county
    # 临海市 has L only: signed 1 at production.
    linhai = _figures(people["city"], unit=ref.linhai.id)
    assert linhai["signed"] == 1 and linhai["rates"]["production"] == 1.0
    assert linhai["contracted_investment"] == Decimal("300000") and linhai["funds_in_place"] == Decimal("150000")
    assert _figures(people["lh_manager"]) == linhai
    # A county asking for another unit gets nothing of it.
    assert _figures(people["manager"], unit=ref.linhai.id)["signed"] == 0
    city = _figures(people["city"])
    assert city["signed"] == 6
    assert city["rates"]["landing"] == pytest.approx(5 / 6)
    assert city["rates"]["production"] == pytest.approx(2 / 6)
    assert city["contracted_investment"] == Decimal("850000")
    assert city["rates"]["funds_in_place"] == pytest.approx(260_000 / 850_000)


def test_an_archived_project_counts_nowhere(hand_made, people, db):
    before = _figures(people["manager"])
    set_archived(people["manager"], hand_made["X"], False)  # X: construction, 900000, 500000 in place
    db.session.flush()
    after = _figures(people["manager"])
    assert after["signed"] == before["signed"] + 1
    assert after["by_stage"]["construction"] == before["by_stage"]["construction"] + 1
    assert after["contracted_investment"] == before["contracted_investment"] + 900_000
    assert after["funds_in_place"] == before["funds_in_place"] + 500_000
    assert after["rates"]["construction"] == pytest.approx(4 / 6)


def test_as_of_dates_around_the_changes(hand_made, people):
    m = people["manager"]
    # 2024-06-14: A registered, B land secured (construction is 06-15), C construction (06-01),
    # D terminated (05-01), E land secured (06-01). Funds: none had arrived yet.
    f = _figures(m, as_of=date(2024, 6, 14))
    assert f["signed"] == 5
    assert f["by_stage"] == _stages(registered=1, land_secured=2, construction=1, terminated=1)
    assert f["rates"]["landing"] == pytest.approx(4 / 5)
    assert f["rates"]["construction"] == pytest.approx(1 / 5)
    assert f["rates"]["production"] == 0.0
    assert f["funds_in_place"] == 0
    # I (增资) was signed on 08-01: not yet in the sums.
    assert f["contracted_investment"] == Decimal("500000")
    # The day of B's construction start: it counts from its actual date.
    f = _figures(m, as_of=date(2024, 6, 15))
    assert f["by_stage"] == _stages(registered=1, land_secured=1, construction=2, terminated=1)
    assert f["rates"]["construction"] == pytest.approx(2 / 5)
    # The day after: unchanged.
    assert _figures(m, as_of=date(2024, 6, 16)) == f
    # During C's pause (from 09-01) C still counts at construction; E completed on 09-01.
    f = _figures(m, as_of=date(2024, 9, 15))
    assert f["by_stage"] == _stages(registered=1, construction=2, completed=1, terminated=1)
    assert f["rates"]["construction"] == pytest.approx(3 / 5)
    assert f["contracted_investment"] == Decimal("550000")
    # Funds by 09-15: B 60000 (07-01) + I 20000 (09-01).
    assert f["funds_in_place"] == Decimal("80000")
    # Before any 2024 signing was made (A: 01-10): nothing to count, rates undefined.
    f = _figures(m, as_of=date(2024, 1, 9))
    assert f["signed"] == 0 and f["contracted_investment"] == 0
    assert set(f["rates"].values()) == {None}
    # Only A signed by 01-31.
    f = _figures(m, as_of=date(2024, 1, 31))
    assert f["signed"] == 1 and f["rates"]["landing"] == 0.0


def test_as_of_the_last_day_equals_today(hand_made, people):
    """The history and the current stages agree once every change has happened."""
    m = people["manager"]
    yesterday = date.today() - timedelta(days=1)
    assert _figures(m, as_of=yesterday) == _figures(m)


# --- Corrections ------------------------------------------------------------------------------


def test_a_correction_back(db, ref, people, move):
    p = make_project(unit=ref.huangyan, signed_on=date(2024, 3, 1), contracted_investment=Decimal(100_000))
    _walk(move, p, ("registered", "2024-04-01"), ("land_secured", "2024-05-01"), ("construction", "2024-07-01"),
          ("land_secured", "2024-09-01"))
    m = people["manager"]
    f = _figures(m)
    assert f["by_stage"] == _stages(land_secured=1)
    assert f["rates"]["landing"] == 1.0 and f["rates"]["construction"] == 0.0
    events = db.session.execute(select(StageEvent.kind, StageEvent.to_stage, StageEvent.effective_on)
                                .where(StageEvent.project_id == p.id).order_by(StageEvent.id)).all()
    assert [(k, s) for k, s, _d in events] == [
        ("create", "signed"), ("advance", "registered"), ("advance", "land_secured"), ("advance", "construction"),
        ("back", "land_secured")]
    assert events[3][2] == date(2024, 7, 1) and events[4][2] == date(2024, 9, 1)
    # Before the correction the project was (as far as anyone knew) at construction.
    assert _figures(m, as_of=date(2024, 8, 31))["rates"]["construction"] == 1.0
    assert _figures(m, as_of=date(2024, 9, 1))["rates"]["construction"] == 0.0
    assert _figures(m, as_of=date(2024, 6, 30))["by_stage"] == _stages(land_secured=1)


def test_a_correction_dated_before_the_move_it_corrects(db, ref, people, move):
    """A correction back to the stage's real date (before the mistaken move's date) and a
    termination dated before the last move: after them the history says what the project
    says now."""
    m = people["manager"]
    p = make_project(unit=ref.huangyan, signed_on=date(2024, 3, 1), contracted_investment=Decimal(100_000))
    _walk(move, p, ("registered", "2024-04-01"), ("land_secured", "2024-05-01"), ("construction", "2024-07-01"),
          ("land_secured", "2024-06-20"))
    q = _walk(move, make_project(unit=ref.huangyan, signed_on=date(2024, 3, 1),
                                 contracted_investment=Decimal(100_000)),
              ("registered", "2024-04-01"), ("land_secured", "2024-05-01"), ("construction", "2024-07-01"),
              ("terminated", "2024-06-01"))
    now = _figures(m)
    assert now["by_stage"] == _stages(land_secured=1, terminated=1)
    for day in (date(2024, 7, 2), date(2024, 12, 31), date.today() - timedelta(days=1)):
        assert _figures(m, as_of=day) == now, day
    # Before the corrections took effect: P at land secured (05-01), Q at land secured.
    assert _figures(m, as_of=date(2024, 5, 31))["by_stage"] == _stages(land_secured=2)
    # After the termination's date, before the correction's: Q terminated, P at land secured.
    assert _figures(m, as_of=date(2024, 6, 10))["by_stage"] == _stages(land_secured=1, terminated=1)
    assert q.stage == "terminated"


# --- 增资 ---------------------------------------------------------------------------------------


def test_an_increase_counts_once(db, ref, people, move):
    m = people["manager"]
    original = _walk(move, make_project(unit=ref.huangyan, signed_on=date(2024, 2, 1),
                                        contracted_investment=Decimal(150_000)),
                     ("registered", "2024-03-01"), ("land_secured", "2024-04-01"), ("construction", "2024-05-01"))
    before = _figures(m)
    assert before["signed"] == 1 and before["contracted_investment"] == Decimal("150000")
    increase = make_project(unit=ref.huangyan, signed_on=date(2024, 6, 1), contracted_investment=Decimal(50_000),
                            increase_of_id=original.id)
    add_funds(people["staff"], increase, date(2024, 7, 1), Decimal(10_000))
    after = _figures(m)
    assert after["signed"] == 1
    assert after["by_stage"] == before["by_stage"] == _stages(construction=1)
    assert after["rates"]["construction"] == 1.0  # the increase (at 已签约) does not lower it
    assert after["contracted_investment"] == Decimal("200000")
    assert after["funds_in_place"] == Decimal("10000")
    assert after["rates"]["funds_in_place"] == pytest.approx(10_000 / 200_000)
    # Moving the increase on does not count it either.
    move(increase, "registered", "2024-08-01")
    assert _figures(m)["signed"] == 1


# --- Funds --------------------------------------------------------------------------------------


def test_funds_rate(db, ref, people):
    m, staff = people["manager"], people["staff"]
    a = make_project(unit=ref.huangyan, signed_on=date(2024, 1, 1), contracted_investment=Decimal(100_000))
    b = make_project(unit=ref.huangyan, signed_on=date(2024, 2, 1), contracted_investment=Decimal(300_000))
    make_project(unit=ref.huangyan, signed_on=date(2024, 3, 1), contracted_investment=Decimal(100_000))
    add_funds(staff, a, date(2024, 3, 1), Decimal(25_000))
    add_funds(staff, a, date(2024, 6, 1), Decimal(25_000))
    add_funds(staff, b, date(2024, 9, 1), Decimal(75_000))
    f = _figures(m)
    assert f["funds_in_place"] == Decimal("125000")
    assert f["rates"]["funds_in_place"] == pytest.approx(125_000 / 500_000)
    assert _figures(m, as_of=date(2024, 5, 31))["rates"]["funds_in_place"] == pytest.approx(25_000 / 500_000)
    assert _figures(m, as_of=date(2024, 6, 1))["funds_in_place"] == Decimal("50000")


# --- Compliance (履约率) --------------------------------------------------------------------------


def _plan(people, project, **planned: str):
    wf.set_planned_dates(people["manager"], project, {k: date.fromisoformat(v) for k, v in planned.items()})


def test_compliance(db, ref, people, move):
    m = people["manager"]

    def new():
        return make_project(unit=ref.huangyan, signed_on=date(2024, 1, 1))

    p1 = new()
    _plan(people, p1, registered="2024-03-01", land_secured="2024-06-01", construction="2025-01-01")
    _walk(move, p1, ("registered", "2024-02-20"), ("land_secured", "2024-07-01"))
    p2 = new()
    _plan(people, p2, registered="2024-02-01", land_secured="2024-06-01")
    _walk(move, p2, ("registered", "2024-01-20"), ("paused", "2024-03-01"))
    p3 = new()
    _plan(people, p3, registered="2024-03-01", construction="2024-06-01")
    _walk(move, p3, ("construction", "2024-05-01"))  # skips 已注册 and 已供地
    p4 = new()
    _plan(people, p4, registered="2099-01-01")
    # Today: p1 registered met, land late, construction open and overdue (3 due, 1 met);
    # p2 registered met, land open but paused (1 due, 1 met); p3 registered skipped,
    # construction met (1 due, 1 met); p4 not due yet.
    assert _figures(m)["rates"]["compliance"] == pytest.approx(3 / 5)
    # On 2024-06-30: p1 registered met, land (planned 06-01) open then and overdue,
    # construction not due yet (2 due, 1 met); p2 paused (1/1); p3 construction (1/1).
    assert _figures(m, as_of=date(2024, 6, 30))["rates"]["compliance"] == pytest.approx(3 / 4)
    # Before any planned date: nothing due.
    assert _figures(m, as_of=date(2024, 1, 31))["rates"]["compliance"] is None


def test_compliance_knows_who_was_paused_on_the_as_of_date(db, ref, people, move):
    m = people["manager"]
    base = make_project(unit=ref.huangyan, signed_on=date(2024, 1, 1))
    _plan(people, base, registered="2024-03-01")
    move(base, "registered", "2024-02-01")  # met
    paused_late = make_project(unit=ref.huangyan, signed_on=date(2024, 1, 1))
    _plan(people, paused_late, registered="2024-08-01", land_secured="2024-09-01")
    move(paused_late, "paused", "2024-12-01")  # both open, overdue before the pause
    resumed = make_project(unit=ref.huangyan, signed_on=date(2024, 1, 1))
    _plan(people, resumed, registered="2024-06-01")
    _walk(move, resumed, ("paused", "2024-02-01"), ("signed", "2024-12-01"))
    # Today: base 1/1; paused_late paused (not due); resumed open and overdue → 1 met of 2 due.
    assert _figures(m)["rates"]["compliance"] == pytest.approx(1 / 2)
    # On 2024-10-31: paused_late was not paused (2 due, unmet); resumed was → 1 met of 3 due.
    assert _figures(m, as_of=date(2024, 10, 31))["rates"]["compliance"] == pytest.approx(1 / 3)


def test_an_increase_has_no_milestones_of_its_own_in_compliance(db, ref, people, move):
    m = people["manager"]
    original = make_project(unit=ref.huangyan, signed_on=date(2024, 1, 1))
    _plan(people, original, registered="2024-03-01")
    move(original, "registered", "2024-02-01")
    increase = make_project(unit=ref.huangyan, signed_on=date(2024, 4, 1), increase_of_id=original.id)
    _plan(people, increase, registered="2024-05-01")  # open and overdue, but a 增资
    assert _figures(m)["rates"]["compliance"] == 1.0
