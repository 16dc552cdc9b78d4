"""The dashboard page (GET /reports/): who sees it and what, its filter bar, bad arguments,
the English page, empty states, the server-side SVG charts, and a constant number of
queries whatever the number of units and projects. The figures themselves are checked
against the project list in tests/test_drilldown.py."""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from markupsafe import Markup
from sqlalchemy import event

from tests.factories import _get_or_create, make_investor, make_project, make_user
from tracker.auth.models import Unit
from tracker.projects.models import Industry, SourceRegion
from tracker.reports import charts
from tracker.reports.figures import clear_cache


@pytest.fixture()
def people(db, ref):
    return {
        "leader": make_user("leader", ref.city),
        "city_manager": make_user("manager", ref.city),
        "manager": make_user("manager", ref.huangyan),
        "staff": make_user("staff", ref.huangyan),
        "city_staff": make_user("staff", ref.city),
        "admin": make_user("admin", ref.city),
    }


@pytest.fixture()
def data(db, ref):
    own = make_project(unit=ref.huangyan, name="黄岩固态电池项目", signed_on=date(2024, 3, 1),
                       contracted_investment=Decimal("1200000"))
    other = make_project(unit=ref.linhai, name="临海光伏项目", signed_on=date(2024, 5, 1),
                         contracted_investment=Decimal("80000"),
                         investor=make_investor(unit=ref.linhai, source_region=ref.region_local))
    return {"own": own, "other": other}


def page(client, url="/reports/"):
    resp = client.get(url)
    return resp.status_code, resp.get_data(as_text=True)


# --- who may see it -----------------------------------------------------------------------------

@pytest.mark.parametrize("who,status", [("leader", 200), ("city_manager", 200), ("manager", 200), ("staff", 403),
                                        ("city_staff", 403), ("admin", 403)])
def test_roles(client, login_as, people, data, who, status):
    login_as(people[who])
    assert client.get("/reports/").status_code == status


def test_anonymous_goes_to_login(client, data):
    resp = client.get("/reports/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_city_sees_every_unit(client, login_as, people, data):
    login_as(people["leader"])
    status, html = page(client, "/reports/?year=2024")
    assert status == 200
    assert "黄岩区" in html and "临海市" in html
    assert 'id="rates-unit"' in html


def test_county_manager_sees_only_own_unit(client, login_as, people, data, ref):
    login_as(people["manager"])
    status, html = page(client, "/reports/?year=2024")
    assert status == 200 and "黄岩区" in html
    assert "临海" not in html  # not in the tables, the ranking, the charts or the unit picker
    # Another county's id in the URL shows nothing of it: dropped, with a notice.
    status, html = page(client, f"/reports/?year=2024&unit={ref.linhai.id}")
    assert status == 200 and "临海" not in html
    assert "所选单位不存在或不在您的查看范围内" in html
    links = re.findall(r'href="(/projects/\?[^"]*)"', html)
    assert links and not any(f"unit={ref.linhai.id}" in link for link in links)


def test_county_figures_count_only_own_projects(client, login_as, people, data):
    login_as(people["manager"])
    html = page(client, "/reports/?year=2024")[1]
    headline = html[html.index('class="kpis"'):html.index('class="rates-strip"')]
    first = re.search(r'<a class="dn"[^>]*>(\d+)</a>', headline)
    assert first.group(1) == "1"  # 黄岩's one project, not 临海's


# --- arguments ------------------------------------------------------------------------------------

BAD = [
    "year=abc", "year=99999", "year=-1", "year=２０２４", "from=2024-12-31&to=2024-01-01", "from=abc&to=2024-01-01",
    "as_of=2099-99-99", "as_of=2099-01-01", "as_of=0000-00-00", "unit=999999999999", "unit=-3", "unit=abc",
    "industry=999999", "region=999999", "region=<script>", "size=7", "quarter=9", "month=13", "month=0",
    "part=zz", "part=q9", "part=custom", "part=custom&from=2024-02-30&to=2024-03-01", "year=2024%00",
    "unit=1%00", "as_of=" + "9" * 5000, "year=2024&year=2025", "x=1",
]


@pytest.mark.parametrize("query", BAD)
def test_bad_arguments_never_fail(client, login_as, people, data, query):
    login_as(people["leader"])
    status, html = page(client, f"/reports/?{query}")
    assert status == 200, html[-2000:]
    assert "<script>" not in html.split("</head>", 1)[1]


def test_bad_arguments_are_said(client, login_as, people, data):
    login_as(people["leader"])
    html = page(client, "/reports/?year=abc&as_of=2099-99-99&from=2024-12-31&to=2024-01-01")[1]
    assert "年份“abc”无效" in html and "统计日期“2099-99-99”无效" in html and "自定义期间" in html


def test_filters_round_trip_through_the_url(client, login_as, people, data, ref):
    login_as(people["leader"])
    html = page(client, f"/reports/?year=2024&part=q3&unit={ref.huangyan.id}&industry={ref.industry.id}"
                        f"&region=yrd&size=10&as_of=2025-06-30")[1]
    assert re.search(r'<option value="2024" selected', html)
    assert re.search(r'<option value="q3" selected', html)
    assert re.search(rf'<option value="{ref.huangyan.id}" selected', html)
    assert re.search(rf'<option value="{ref.industry.id}" selected', html)
    assert re.search(r'<option value="yrd" selected', html)
    assert re.search(r'<option value="10" selected', html)
    assert 'name="as_of" value="2025-06-30"' in html
    assert "2025年6月30日" in html  # 按 … 的阶段统计
    # The period select decides: a month, then a custom period.
    html = page(client, "/reports/?year=2024&part=m5&quarter=2")[1]
    assert re.search(r'<option value="m5" selected', html) and "2024 年 5 月" in html
    html = page(client, "/reports/?year=2024&part=custom&from=2024-02-01&to=2024-04-30")[1]
    assert re.search(r'<option value="custom" selected', html) and "2024-02-01 至 2024-04-30" in html
    # Links (no part): quarter wins as in parse_query.
    html = page(client, "/reports/?year=2024&quarter=1")[1]
    assert re.search(r'<option value="q1" selected', html)


def test_previous_and_next_period_links(client, login_as, people, data):
    login_as(people["leader"])
    html = page(client, "/reports/?year=2024&quarter=1")[1]
    assert 'href="/reports/?year=2023&amp;quarter=4"' in html and 'href="/reports/?year=2024&amp;quarter=2"' in html


# --- what the page shows ----------------------------------------------------------------------------

def test_empty_period(client, login_as, people, data):
    login_as(people["leader"])
    status, html = page(client, "/reports/?year=2019")
    assert status == 200 and "本期间没有签约项目" in html
    assert 'id="rates-unit"' not in html


def test_rates_with_nothing_to_divide_by_show_a_dash(client, login_as, people, data):
    login_as(people["leader"])
    html = page(client, "/reports/?year=2024&size=10")[1]
    # 百亿级 has one project, 50亿元以上 the same; 临海's 8亿 is below every band.
    assert "临海" not in html.split('id="rates-unit"')[1].split("</table>")[0]
    html = page(client, "/reports/?year=2024")[1]
    landing = html.split('class="rates-strip"')[1].split('class="rate-tile"')[1]
    assert "0.0%" in landing and "分母为零" not in landing  # 落地率: 0 of 2 signed is 0%, not '—'
    compliance = html.split('class="rates-strip"')[1].split('class="rate-tile"')[5]
    assert "分母为零" in compliance  # 履约率: no milestone due yet (0 / 0) is '—', not 0%
    html = page(client, f"/reports/?year=2024&unit={data['other'].unit_id}")[1]
    sizes = html.split('id="rates-size"')[1].split("</table>")[0]
    assert "—" in sizes  # no 10亿元以上 project in 临海: its rates are '—', never 0% or an error


def test_every_number_links_to_the_project_list(client, login_as, people, data):
    login_as(people["leader"])
    html = page(client, "/reports/?year=2024")[1]
    body = html.split('<main class="page">', 1)[1]
    cells = re.findall(r'<td class="num( [^"]*)?">(.*?)</td>', body, re.S)
    assert len(cells) > 50
    for css, cell in cells:
        text = re.sub(r"<[^>]+>", "", cell).strip()
        if "rank" in css or "share" in css or not re.search(r"\d", text):
            continue  # a rank, a share of the funnel's top (derived), no figure
        # A figure: a link to its list; a rate: its numerator and denominator are links.
        assert 'href="/projects/?' in cell or cell.strip() == '<span class="muted">0</span>', cell


def test_charts_are_inline_svg_within_the_csp(client, login_as, people, data):
    login_as(people["leader"])
    resp = client.get("/reports/?year=2024")
    html = resp.get_data(as_text=True)
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    assert html.count('<svg class="chart') == 3  # funnel, quarters, rates by unit
    # Charts with linked bars are groups of links (axe: no interactive content inside an img).
    assert re.search(r'<svg class="chart[^>]*role="group" aria-labelledby="[^"]+"', html)
    assert not re.search(r'<svg class="chart[^>]*role="img"', html)
    assert "<title id=" in html and f'viewBox="0 0 {charts.WIDTH} ' in html and 'width="100%"' in html
    assert " style=" not in html and "<style" not in html
    assert "<script>" not in html and "cdn" not in html.lower()


def test_labels_are_escaped(client, login_as, people, db, ref):
    evil = _get_or_create(Unit, {"sort_order": 9}, code="evil", name='<b>坏"区</b>&')
    ind = _get_or_create(Industry, {"group": "其他", "sort_order": 99}, name="<i>产业</i>")
    reg = _get_or_create(SourceRegion, {"sort_order": 99}, name="<u>地区</u>")
    make_project(unit=evil, industry=ind, signed_on=date(2024, 2, 2),
                 investor=make_investor(unit=evil, source_region=reg))
    make_project(unit=ref.huangyan, signed_on=date(2024, 2, 3))
    login_as(make_user("leader", ref.city))
    html = page(client, "/reports/?year=2024")[1]
    assert "<b>" not in html and "<i>产业" not in html and "<u>地区" not in html
    assert "&lt;b&gt;坏&#34;区&lt;/b&gt;&amp;" in html or "&lt;b&gt;坏&quot;区" in html


def test_english_page(client, login_as, people, data):
    login_as(people["leader"])
    client.post("/language/en", data={"next": "/reports/"})
    status, html = page(client, "/reports/?year=2024")
    assert status == 200 and '<html lang="en">' in html
    assert "Huangyan" in html or "黄岩区" in html  # a unit's English name where one is set


# --- queries ---------------------------------------------------------------------------------------

class QueryCounter:
    def __init__(self, engine):
        self.engine, self.count = engine, 0

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._hit)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._hit)

    def _hit(self, conn, cursor, statement, *args, **kwargs):
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE SAVEPOINT")):  # the tests' own
            self.count += 1


def _count_page(client, db, url):
    clear_cache()  # cold: every figure computed
    with QueryCounter(db.engine) as counter:
        assert client.get(url).status_code == 200
    return counter.count


def test_constant_number_of_queries(client, login_as, people, db, ref):
    login_as(people["leader"])
    make_project(unit=ref.huangyan, signed_on=date(2024, 4, 1))
    db.session.commit()
    urls = ["/reports/?year=2024", "/reports/?year=2024&as_of=2025-01-31", "/reports/?year=2024&region=yrd&size=10"]
    before = [_count_page(client, db, url) for url in urls]
    # Many more projects, in more units, industries and source regions.
    for n in range(6):
        unit = _get_or_create(Unit, {"sort_order": 20 + n}, code=f"u{n}", name=f"测试县{n}")
        industry = _get_or_create(Industry, {"group": "其他", "sort_order": 50 + n}, name=f"测试产业{n}")
        region = _get_or_create(SourceRegion, {"sort_order": 50 + n, "is_yrd": n % 2 == 0}, name=f"测试地区{n}")
        for k in range(5):
            make_project(unit=unit, industry=industry, signed_on=date(2024, 1 + k, 10 + n),
                         contracted_investment=Decimal(50000 * (k + 1) * (n + 1)),
                         investor=make_investor(unit=unit, source_region=region))
    db.session.commit()
    after = [_count_page(client, db, url) for url in urls]
    assert after == before, (before, after)
    assert max(after) <= 30  # a handful of grouped queries, not one per unit or project
    # Warm (cached figures): fewer still.
    with QueryCounter(db.engine) as warm:
        client.get(urls[0])
    assert warm.count <= after[0]


def test_a_kept_dashboard_is_only_shown_within_its_scope(client, login_as, people, data, db):
    """The dashboard's body is kept per scope until the data changes: a county manager after
    the city's leader (and the other way round) sees their own figures, and a second view
    renders only the frame."""
    for first, second in (("leader", "manager"), ("manager", "leader")):
        clear_cache()
        login_as(people[first])
        page(client, "/reports/?year=2024")
        login_as(people[second])
        html = page(client, "/reports/?year=2024")[1]
        assert ("临海" in html) == (second == "leader"), (first, second)
    with QueryCounter(db.engine) as warm:
        again = page(client, "/reports/?year=2024")[1]
    assert warm.count == 1 and "临海" in again  # the user, with the data version


def test_a_dashboard_with_dropped_arguments_is_not_kept(client, login_as, people, data):
    """Made-up arguments (their text is in the page's notice) cannot fill the kept pages."""
    from tracker.core import datacache

    login_as(people["leader"])
    for n in range(3):
        html = page(client, f"/reports/?year=2024&unit=9999{n}")[1]
        assert "所选单位不存在或不在您的查看范围内" in html
    page(client, "/reports/?year=2024")
    kept = [full[0] for full in datacache._CACHES["pages"] if full[0][0] == "dashboard"]
    assert len(kept) == 1 and kept[0][2].unit is None


# --- charts.py -------------------------------------------------------------------------------------

def test_chart_functions_escape_and_describe(app):
    with app.test_request_context():
        bars = [charts.Bar('<script>"x"</script>', 3, "3 个", "/projects/?a=1&b=2", "t<i>"),
                charts.Bar("乙", 0, "0 个")]
        svg = charts.hbar_chart("t", "标题<b>", bars)
        assert isinstance(svg, Markup)
        assert "<script>" not in svg and "&lt;script&gt;" in svg and "标题&lt;b&gt;" in svg
        assert 'href="/projects/?a=1&amp;b=2"' in svg and "<title>t&lt;i&gt;</title>" in svg
        assert svg.count("<rect") == 3  # two tracks, one bar (zero draws no bar)
        cols = charts.column_chart("c", "季度", [charts.Bar("2024 Q1", 2, "2"), charts.Bar("2024 Q2", 0, "0")])
        assert ">2024<" in cols and ">Q1<" in cols
        assert "暂无数据" in charts.hbar_chart("e", "空", [])
        group = charts.grouped_hbar_chart("g", "比率", ["甲", "乙"], [
            charts.Group("一个非常非常非常非常非常非常长的单位名称" * 2, [charts.Bar("甲", 0.5, "50.0%"), charts.Bar("乙", 0, "—")])])
        assert "…" in group and "50.0%" in group and "—" in group
        assert charts.percent(None) == "—" and charts.percent(0.625) == "62.5%"


def test_ranking_shows_targets_and_completion(client, login_as, people, data, db, ref):
    from tracker.targets.models import UnitTarget

    db.session.add(UnitTarget(unit_id=ref.huangyan.id, year=2024, projects_10yi=2, projects_10yi_yrd=0,
                              investment=Decimal(0), started=0, funds=Decimal(0)))
    db.session.flush()
    login_as(people["leader"])
    html = page(client, "/reports/?year=2024")[1]
    ranking = html[html.index('class="list dash-ranking"'):]
    ranking = ranking[:ranking.index("</table>")]
    rows = ranking.split("<tr")[2:]
    assert "黄岩区" in rows[0] and ">1</td>" in rows[0]  # the unit with a target ranks first
    assert "/ 2" in rows[0] and "50%" in rows[0]  # one of two 10亿元以上 projects
    assert "未设目标" in rows[1]  # 临海: no target
    # Filtered to one unit, the ranking still compares every unit and marks the chosen one.
    html = page(client, f"/reports/?year=2024&unit={ref.linhai.id}")[1]
    ranking = html[html.index('class="list dash-ranking"'):]
    assert "黄岩区" in ranking and 'class="chosen"' in ranking
