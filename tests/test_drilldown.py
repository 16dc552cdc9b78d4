"""Every dashboard figure equals the totals of the project list it links to.

Hand-made data built through the real operations (projects from the factories, every stage
change a request approved by a manager: advances, a skip, pauses and a resume, terminations,
corrections back, 增资 rows, funds received on dates), then many random filter combinations
(period kind, as-of date, unit, industry, source region incl. 长三角, size band; a city
leader and a county manager): for each, every figure of the report — the total and each row
by unit, industry, region and size — is compared with ``list_page``'s totals for the row's
drill arguments, exactly the list a click on the figure opens. A few combinations go end to
end through the test client: the dashboard's links are followed and the list page's totals
line read.
"""
from __future__ import annotations

import random
import re
from datetime import date, timedelta
from decimal import Decimal
from html import unescape

import pytest
from werkzeug.datastructures import MultiDict

from tests.factories import _get_or_create, make_project, make_user, uscc
from tracker.auth.models import Unit
from tracker.core.formatting import today_local
from tracker.funds.operations import add_funds
from tracker.projects.models import SourceRegion
from tracker.projects.queries import REACHED_CODES, ProjectFilters, _totals_and_page
from tracker.reports import figures as fig
from tracker.reports.views import drill_10yi, drill_10yi_yrd
from tracker.workflow import operations as wf
from tracker.workflow.stages import MAIN_CODES, move_for

SEED = 20261203
COMBOS = int(__import__("os").environ.get("DRILL_COMBOS", "200"))
CENT = Decimal("0.01")

REQUIRED = {
    "registered": lambda: {"company_uscc": uscc(), "registered_capital": "1000"},
    "land_secured": lambda: {"land_area_mu": "50", "land_certificate_no": "浙（2024）台州市不动产权第0000001号"},
    "construction": lambda: {"construction_permit_no": "330000202401010101"},
    "full_capacity": lambda: {"annual_output": "50000"},
}


def move(people, project, to, when: date):
    """One stage change through the workflow: requested by city staff, approved by a city manager."""
    kind = move_for(project.stage, to).kind
    values = REQUIRED.get(to, dict)() if kind in ("advance", "skip") else {}
    if kind == "pause":
        values["expected_resume_on"] = (when + timedelta(days=120)).isoformat()
    reason = "" if kind == "advance" else "测试：" + kind
    req = wf.request_move(people["staff"], project, to_stage=to, actual_date=when.isoformat(), values=values,
                          reason=reason, confirm_amounts=True)
    wf.approve(people["manager"], req.id)
    people.setdefault("kinds", set()).add(kind)


AMOUNTS = [Decimal(v) for v in ("5000", "80000", "150000", "600000", "1200000", "100000")]


@pytest.fixture()
def world(db, ref):
    """About forty projects in three units, two industries, four source regions (two of them
    长三角) and every size band, with histories; users at the city and a county."""
    yuhuan = _get_or_create(Unit, {"name": "玉环市", "sort_order": 6}, code="yuhuan")
    shanghai = _get_or_create(SourceRegion, {"is_yrd": True, "sort_order": 1}, name="上海")
    abroad = _get_or_create(SourceRegion, {"sort_order": 7}, name="境外")
    units = [ref.huangyan, ref.linhai, yuhuan]
    regions = [ref.region, shanghai, ref.region_local, abroad]
    industries = [ref.industry, ref.industry2]
    people = {"staff": make_user("staff", ref.city), "manager": make_user("manager", ref.city),
              "leader": make_user("leader", ref.city), "county": make_user("manager", ref.huangyan)}
    rng = random.Random(SEED)
    today = today_local()
    last = today - timedelta(days=2)
    projects = []
    for i in range(40):
        signed_on = date(2023, 1, 5) + timedelta(days=rng.randrange(0, 1000))
        from tests.factories import make_investor

        p = make_project(unit=units[i % 3], industry=industries[(i // 3) % 2], signed_on=signed_on,
                         contracted_investment=AMOUNTS[i % len(AMOUNTS)],
                         investor=make_investor(unit=units[i % 3], source_region=regions[(i // 2) % 4]))
        projects.append(p)
        day = signed_on
        target = rng.randrange(1, len(MAIN_CODES))  # a main-line stage to reach
        for code in MAIN_CODES[2:target + 1]:
            day = min(last, day + timedelta(days=rng.randrange(15, 140)))
            move(people, p, code, day)
        # Side moves: pause (and sometimes resume), termination, a correction back.
        roll = rng.random()
        day = min(last, day + timedelta(days=rng.randrange(10, 90)))
        if roll < 0.12:
            move(people, p, "paused", day)
            if rng.random() < 0.5:
                move(people, p, p.paused_from_stage, min(last, day + timedelta(days=30)))
        elif roll < 0.22:
            move(people, p, "terminated", day)
        elif roll < 0.32 and p.stage not in ("signed",):
            back = MAIN_CODES[MAIN_CODES.index(p.stage) - 1]
            move(people, p, back, day)
        # Funds received over time (some after the as-of dates the combinations pick).
        for _n in range(rng.randrange(0, 3)):
            got = min(last, signed_on + timedelta(days=rng.randrange(1, 900)))
            add_funds(people["staff"], p, got, Decimal(rng.randrange(100, 3000)), "到位", confirm=True)
    # A skip (rented plant: 已注册 → 已开工 without land).
    skip = make_project(unit=ref.linhai, industry=ref.industry, signed_on=date(2024, 2, 1),
                        contracted_investment=Decimal("200000"))
    move(people, skip, "registered", date(2024, 3, 1))
    move(people, skip, "construction", date(2024, 9, 1))
    # 增资: capital added to earlier projects (counted in sums, never in counts).
    for original in projects[:6:2]:
        if original.stage == "terminated":
            continue
        inc = make_project(unit=original.unit, industry=original.industry, investor=original.investor,
                           signed_on=min(last, original.signed_on + timedelta(days=200)),
                           contracted_investment=Decimal("90000"), increase_of_id=original.id)
        move(people, inc, "registered", min(last, inc.signed_on + timedelta(days=20)))
    # 在谈: never counted.
    make_project(unit=ref.huangyan, stage="negotiating", signed_on=None, contracted_investment=Decimal("300000"))
    db.session.flush()
    assert {"advance", "skip", "pause", "resume", "terminate", "back"} <= people.pop("kinds")
    return {"units": units, "regions": regions, "industries": industries, "people": people, "ref": ref}


# --- comparing a figure with the list behind it ------------------------------------------------

class Lists:
    """The project list's totals for drill arguments, as the list page computes them (its
    filters parsed from the query string, its one totals query), memoised per user and drill."""

    def __init__(self):
        self.seen: dict = {}
        self.calls = 0

    def __call__(self, user, drill: dict):
        key = (user.id, tuple(sorted((k, str(v)) for k, v in drill.items())))
        if key not in self.seen:
            f = ProjectFilters.from_args(MultiDict(dict(key[1])))
            for name, value in key[1]:  # every drill argument is understood by the list
                assert str(f.as_args().get(name)) == value, (name, value, f.as_args())
            totals, _page = _totals_and_page(user, f, 1)  # what list_page's totals line shows
            self.seen[key] = totals
            self.calls += 1
        return self.seen[key]


def same(a, b) -> bool:
    return abs(Decimal(a) - Decimal(b)) < CENT


def check_figures(lists, user, f: fig.Figures, drill: dict, where: str, deep: bool, yrd_ids):
    t = lists(user, drill)
    assert f.signed == t.signed.count + t.terminated.count, where
    assert f.live == t.signed.count, where
    assert f.terminated == t.terminated.count, where
    assert same(f.investment, t.signed.investment + t.terminated.investment), where
    assert same(f.live_investment, t.signed.investment), where
    assert same(f.funds, t.signed.funds + t.terminated.funds), where
    assert same(f.live_funds, t.signed.funds), where
    if not deep:
        return
    for code in REACHED_CODES:
        assert f.reached(code) == lists(user, {**drill, "reached": code}).signed.count, (where, code)
    for colour in ("red", "yellow"):
        lit = lists(user, {**drill, "lit": colour})
        assert getattr(f, colour) == lit.signed.count + lit.terminated.count, (where, colour)
    assert f.count_10yi == lists(user, drill_10yi(drill)).signed.count, where
    yrd = drill_10yi_yrd(drill, yrd_ids)
    assert f.yrd_10yi == (0 if yrd is None else lists(user, yrd).signed.count), where


def random_args(rng: random.Random, world) -> dict:
    args: dict = {}
    kind = rng.choice(("year", "quarter", "month", "custom"))
    year = rng.choice((2023, 2024, 2025))
    if kind == "custom":
        start = date(2023, 1, 1) + timedelta(days=rng.randrange(0, 900))
        args["from"], args["to"] = start.isoformat(), (start + timedelta(days=rng.randrange(0, 500))).isoformat()
    else:
        args["year"] = str(year)
        if kind == "quarter":
            args["quarter"] = str(rng.randrange(1, 5))
        elif kind == "month":
            args["month"] = str(rng.randrange(1, 13))
    if rng.random() < 0.5:
        last = today_local() - timedelta(days=1)
        args["as_of"] = (date(2023, 3, 1) + timedelta(days=rng.randrange(0, (last - date(2023, 3, 1)).days))).isoformat()
    if rng.random() < 0.35:
        args["unit"] = str(rng.choice(world["units"]).id)
    if rng.random() < 0.3:
        args["industry"] = str(rng.choice(world["industries"]).id)
    if rng.random() < 0.35:
        args["region"] = rng.choice(["yrd"] + [str(r.id) for r in world["regions"]])
    if rng.random() < 0.3:
        args["size"] = rng.choice(("10", "50", "100"))
    return args


def test_every_figure_equals_its_list_over_random_filters(db, world):
    rng = random.Random(SEED)
    lists = Lists()
    users = [world["people"]["leader"], world["people"]["county"]]
    seen = {"signed": 0, "as_of": 0, "rows": 0, "terminated": 0, "funds": 0}
    for n in range(COMBOS):
        args = random_args(rng, world)
        user = users[n % 2]
        q = fig.parse_query(MultiDict(args))
        report = fig.build_report(user, q)
        yrd = report.yrd_region_ids
        where = f"combo {n}: {args} as {user.username}"
        check_figures(lists, user, report.total, q.list_args(), where + " total", True, yrd)
        rows = [(kind, row) for kind in ("by_unit", "by_industry", "by_region", "by_size")
                for row in getattr(report, kind)]
        # One row in depth (every stage, lights, 10亿) in every other combination.
        deep = rng.randrange(len(rows)) if rows and n % 2 == 0 else -1
        for i, (kind, row) in enumerate(rows):
            assert row.drill == q.list_args(**{kind[3:]: row.key}), where
            check_figures(lists, user, row.figures, row.drill, f"{where} {kind} {row.key}", i == deep, yrd)
            seen["rows"] += 1
        for step in fig.funnel(report):
            t = lists(user, step.drill)
            assert step.count == t.signed.count and same(step.investment, t.signed.investment), (where, step.code)
        for qt in fig.signings_by_quarter(user, q) if n % 3 == 0 else ():
            t = lists(user, qt.drill)
            assert qt.count == t.signed.count + t.terminated.count, (where, qt.label)
            assert same(qt.investment, t.signed.investment + t.terminated.investment), (where, qt.label)
        for r in fig.ranking(user, q.narrowed(unit=None)):  # as the dashboard asks (all units)
            t = lists(user, r.drill)
            assert r.figures.live == t.signed.count and same(r.actuals.investment, t.signed.investment), where
            assert r.actuals.started == lists(user, r.actuals.drill["started"]).signed.count, where
            assert same(r.actuals.funds, lists(user, r.actuals.drill["funds"]).signed.funds), where
        seen["signed"] += bool(report.total.signed)
        seen["as_of"] += bool(q.as_of and report.total.signed)
        seen["terminated"] += bool(report.total.terminated)
        seen["funds"] += bool(report.total.funds)
    # The combinations did exercise the data (not 200 empty reports).
    assert seen["signed"] > COMBOS // 3 and seen["as_of"] > COMBOS // 10
    assert seen["terminated"] > COMBOS // 20 and seen["funds"] > COMBOS // 10 and seen["rows"] > COMBOS * 2


# --- end to end: the page's links open lists whose totals line says the same -----------------

LINK = re.compile(r'<a class="dn" href="([^"]+)" title="[^"]*">([0-9,]+)</a>')
SIGNED = re.compile(r"签约项目 <strong>(\d+)</strong>")
PAGES = ["year=2024", "year=2024&as_of=2024-12-31", "year=2023&quarter=3", "from=2023-06-01&to=2025-05-31&size=10",
         "year=2024&region=yrd"]


def test_page_links_open_lists_with_equal_totals(client, login_as, db, world):
    """The funnel's and the headline's counts on the rendered page, link by link: the list
    page each opens shows the same number in its totals line (签约项目 N 个)."""
    login_as(world["people"]["leader"])
    for query in PAGES:
        html = client.get(f"/reports/?{query}").get_data(as_text=True)
        funnel = html[html.index('class="list dash-funnel"'):]
        links = LINK.findall(funnel[:funnel.index("</table>")])
        assert len(links) == len(REACHED_CODES), query
        headline = html[html.index('class="kpis"'):]
        links.append(LINK.findall(headline)[0])  # 签约项目 (live)
        for href, shown in links:
            listed = client.get(unescape(href)).get_data(as_text=True)
            assert SIGNED.search(listed).group(1) == shown.replace(",", ""), (query, href)
    # A county manager: the own unit only; another unit's id selects nothing of it.
    county = world["people"]["county"]
    other = world["units"][1]
    report = fig.build_report(county, fig.parse_query(MultiDict({"year": "2024", "unit": str(other.id)})))
    assert report.total.signed == 0 and report.by_unit == []
    mine = fig.build_report(county, fig.parse_query(MultiDict({"year": "2024"})))
    assert mine.total.signed and {row.key for row in mine.by_unit} == {county.unit_id}
