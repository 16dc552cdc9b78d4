"""The home page per role ("今日", issue 10 item 1), with data made by the real operations
(create_project, set_planned_dates, request_move / approve / reject).

Staff: my lit projects (most overdue first), my pending and rejected requests, milestones due
within 30 days and the overdue ones. Manager: approvals (amount in 亿元 and 万元, typos
flagged), the unit's lit projects, the unit's targets. Leader: the year's figures, the ranking,
the largest stalled projects. Admin: users and reference data. Every role lands here after
login; nobody sees another county's project; the page costs a fixed number of queries.
"""
from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from itertools import count

import pytest

from tests.factories import PASSWORD, count_queries, make_user, uscc
from tracker.core.formatting import today_local
from tracker.home import queries
from tracker.projects.operations import create_project
from tracker.workflow import operations as wf

_n = count(1)


# --- helpers -----------------------------------------------------------------------------------

def _recent() -> date:
    """A signing date this year, a few days ago (its default plan is not due for months)."""
    today = today_local()
    return max(date(today.year, 1, 1), today - timedelta(days=10))


def _project(ref, actor, name=None, *, unit=None, owner=None, investment="150000", signed_on=None):
    """A signed project, created as the project form creates it."""
    unit = unit or actor.unit
    name = name or f"首页测试项目{next(_n)}"
    values = {"name": name, "unit_id": unit.id, "industry_id": ref.industry.id, "content": "测试",
              "signed_on": signed_on or _recent(), "contracted_investment": Decimal(investment),
              "owner_id": (owner or actor).id}
    investor = {"name": f"{name}投资有限公司", "uscc": None, "source_region_id": ref.region.id, "country": "中国"}
    return create_project(actor, values, investor, "signed")


def _due(actor, project, day: date) -> None:
    """Plan the next milestone (已注册) on ``day``: the light follows (lights.refresh_project)."""
    wf.set_planned_dates(actor, project, {"registered": day})


def _register(actor, project, *, capital="1000", confirm=False):
    return wf.request_move(actor, project, to_stage="registered", actual_date=today_local().isoformat(),
                           values={"company_uscc": uscc(), "registered_capital": capital}, confirm_amounts=confirm)


def _page(client) -> str:
    resp = client.get("/today/")
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


def _section(html: str, heading_id: str) -> str:
    """The card whose heading has ``heading_id``."""
    start = html.index(f'aria-labelledby="{heading_id}"')
    return html[start:html.index("</section>", start)]


@pytest.fixture()
def staff(db, ref):
    return make_user("staff", ref.huangyan, display_name="黄岩专员")


@pytest.fixture()
def manager(db, ref):
    return make_user("manager", ref.huangyan, display_name="黄岩负责人")


# --- landing --------------------------------------------------------------------------------------

@pytest.mark.parametrize("role, unit", [("staff", "huangyan"), ("manager", "huangyan"), ("leader", "city"),
                                        ("leader", "huangyan"), ("admin", "city"), ("manager", "city")])
def test_every_role_lands_on_today_after_login(app, db, ref, role, unit):
    user = make_user(role, getattr(ref, unit))
    db.session.commit()
    browser = app.test_client()
    resp = browser.post("/login", data={"username": user.username, "password": PASSWORD})
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith("/today/")
    assert browser.get("/").headers["Location"].endswith("/today/")
    assert browser.get("/today/").status_code == 200


def test_a_local_next_still_wins_over_the_home_page(app, db, ref):
    user = make_user("staff", ref.huangyan)
    db.session.commit()
    resp = app.test_client().post("/login", query_string={"next": "/projects/"},
                                  data={"username": user.username, "password": PASSWORD})
    assert resp.headers["Location"].endswith("/projects/")


# --- staff ----------------------------------------------------------------------------------------

def test_staff_sees_own_lit_projects_most_overdue_first_and_not_those_due_today(client, login_as, db, ref, staff):
    today = today_local()
    other = make_user("staff", ref.huangyan)
    due_today = _project(ref, staff, "今天到期项目")
    _due(staff, due_today, today)
    yellow = _project(ref, staff, "昨天到期项目")
    _due(staff, yellow, today - timedelta(days=1))
    red = _project(ref, staff, "早已逾期项目", signed_on=today - timedelta(days=400))
    _due(staff, red, today - timedelta(days=200))
    theirs = _project(ref, other, "别人的逾期项目")
    _due(other, theirs, today - timedelta(days=30))

    home = queries.staff_home(staff, today)
    assert [p.name for p in home.lit.items] == ["早已逾期项目", "昨天到期项目"]
    assert (home.lit.total, home.lit.red, home.lit.yellow) == (2, 1, 1)
    assert home.lit.items[1].light.colour == "yellow" and home.lit.items[1].light.days_late == 1
    assert home.lit.items[0].light.colour == "red" and home.lit.items[0].light.days_late == 200

    login_as(staff)
    card = _section(_page(client), "h-lit")
    assert card.index("早已逾期项目") < card.index("昨天到期项目")
    assert "今天到期项目" not in card and "别人的逾期项目" not in card
    assert f'href="/projects/{red.id}#progress"' in card
    more = re.search(r'class="home-more" href="([^"]+)"', card).group(1).replace("&amp;", "&")
    assert "lit=any" in more and "mine=1" in more and "sort=late" in more
    # The whole list behind "查看全部" holds the same projects.
    listed = client.get(more).get_data(as_text=True)
    assert "早已逾期项目" in listed and "昨天到期项目" in listed
    assert "今天到期项目" not in listed and "别人的逾期项目" not in listed


def test_staff_sees_pending_and_rejected_requests_with_the_comment(client, login_as, db, ref, staff, manager):
    pending = _project(ref, staff, "待批项目")
    _register(staff, pending)
    rejected = _project(ref, staff, "被驳回项目")
    wf.reject(manager, _register(staff, rejected).id, "营业执照缺页，请补充后重新提交")
    resubmitted = _project(ref, staff, "已重新提交项目")
    wf.reject(manager, _register(staff, resubmitted).id, "旧的驳回理由")
    _register(staff, resubmitted)  # followed up: the old rejection is done with
    approved = _project(ref, staff, "已批准项目")
    wf.approve(manager, _register(staff, approved).id)
    someone_else = make_user("staff", ref.huangyan)
    theirs = _project(ref, someone_else, "别人的申请项目")
    _register(someone_else, theirs)

    home = queries.staff_home(staff, today_local())
    names = [(r.project_name, r.status) for r in home.requests]
    assert ("待批项目", "pending") in names and ("已重新提交项目", "pending") in names
    assert ("被驳回项目", "rejected") in names
    assert all(n not in ("已批准项目", "别人的申请项目") for n, _s in names)
    assert ("已重新提交项目", "rejected") not in names
    assert (home.pending, home.rejected) == (2, 1)
    assert [r.status for r in home.requests][:2] == ["pending", "pending"]  # pending first

    login_as(staff)
    card = _section(_page(client), "h-req")
    assert "营业执照缺页，请补充后重新提交" in card and "黄岩负责人" in card
    assert "旧的驳回理由" not in card and "已批准项目" not in card
    assert f'href="/projects/{rejected.id}#stage"' in card


def test_rejected_requests_are_counted_behind_a_full_page_of_pending_ones(db, ref, staff, manager):
    for i in range(queries.LIMIT + 2):
        _register(staff, _project(ref, staff, f"排队项目{i}"))
    wf.reject(manager, _register(staff, _project(ref, staff, "被驳回在后项目")).id, "材料不全")
    home = queries.staff_home(staff, today_local())
    assert len(home.requests) == queries.LIMIT and {r.status for r in home.requests} == {"pending"}
    assert (home.pending, home.rejected) == (queries.LIMIT + 2, 1)


def test_staff_sees_milestones_due_within_30_days_and_overdue_ones_flagged(client, login_as, db, ref, staff, manager):
    today = today_local()
    soon = _project(ref, staff, "十天后到期项目")
    _due(staff, soon, today + timedelta(days=10))
    edge = _project(ref, staff, "三十天后到期项目")
    _due(staff, edge, today + timedelta(days=30))
    later = _project(ref, staff, "三十一天后到期项目")
    _due(staff, later, today + timedelta(days=31))
    late = _project(ref, staff, "节点逾期项目")
    _due(staff, late, today - timedelta(days=5))
    reached = _project(ref, staff, "节点已达到项目")
    _due(staff, reached, today + timedelta(days=3))
    wf.approve(manager, _register(staff, reached).id)

    home = queries.staff_home(staff, today)
    upcoming = [(m.project_name, m.stage, m.days) for m in home.upcoming.items]
    assert upcoming == [("十天后到期项目", "registered", 10), ("三十天后到期项目", "registered", 30)]
    assert [(m.project_name, m.days, m.overdue) for m in home.overdue.items] == [("节点逾期项目", -5, True)]

    login_as(staff)
    card = _section(_page(client), "h-ms")
    assert "十天后到期项目" in card and "还有 10 天" in card
    assert "三十一天后到期项目" not in card and "节点已达到项目" not in card
    assert "已逾期 5 天" in card and 'class="overdue"' in card
    assert f'href="/projects/{soon.id}#milestones"' in card


def test_staff_empty_states(client, login_as, db, ref):
    login_as(make_user("staff", ref.linhai))
    html = _page(client)
    assert "您负责的项目都没有逾期，没有亮灯。" in html
    assert "没有待审批或近期被驳回的申请。" in html
    assert "未来 30 天没有到期的节点。" in html
    assert "已逾期未达到" not in html


# --- manager --------------------------------------------------------------------------------------

def test_manager_sees_approvals_with_the_amount_in_yi_and_wan_and_typos_flagged(client, login_as, db, ref, staff,
                                                                             manager):
    typo = _project(ref, staff, "万元亿元填错项目", investment="5.2")
    _register(staff, typo, capital="1000", confirm=True)  # 1000 万元 capital > 5.2 万元 investment
    fine = _project(ref, staff, "金额正常项目", investment="52000")
    _register(staff, fine, capital="5000")
    lh_staff = make_user("staff", ref.linhai)
    _register(lh_staff, _project(ref, lh_staff, "临海待批项目"))
    own = _project(ref, manager, "负责人自己的申请")
    _register(manager, own)

    home = queries.manager_home(manager, today_local())
    items = {a.project_name: a for a in home.approvals.items}
    assert set(items) == {"万元亿元填错项目", "金额正常项目"}
    assert len(items["万元亿元填错项目"].warnings) == 2  # below 100 万元, capital above investment
    assert items["金额正常项目"].warnings == ()
    assert items["金额正常项目"].registered_capital == Decimal("5000")

    login_as(manager)
    card = _section(_page(client), "h-appr")
    assert "0.0005" in card and "5.20 万元" in card  # 5.2 万元 in 亿元 and in 万元
    assert "5.2000" in card and "52,000 万元" in card
    assert card.count("金额可能填错单位") == 1
    assert "临海待批项目" not in card and "负责人自己的申请" not in card
    assert f'href="/projects/{typo.id}#stage"' in card
    assert 'href="/approvals"' in card


def test_manager_sees_the_units_lit_projects_only_and_the_city_manager_all(client, login_as, db, ref, staff, manager):
    today = today_local()
    mine = _project(ref, staff, "黄岩亮灯项目")
    _due(staff, mine, today - timedelta(days=3))
    lh_staff = make_user("staff", ref.linhai)
    theirs = _project(ref, lh_staff, "临海亮灯项目")
    _due(lh_staff, theirs, today - timedelta(days=3))

    login_as(manager)
    card = _section(_page(client), "h-lit")
    assert "黄岩亮灯项目" in card and "临海亮灯项目" not in card
    assert "黄岩专员" in card  # the owner, who to call

    city = make_user("manager", ref.city)
    login_as(city)
    card = _section(_page(client), "h-lit")
    assert "黄岩亮灯项目" in card and "临海亮灯项目" in card


def test_manager_sees_the_units_figures_against_its_targets(client, login_as, db, ref, staff, manager):
    from tracker.targets.operations import save_target

    year = today_local().year
    _project(ref, staff, "十亿项目", investment="150000")
    login_as(manager)
    card = _section(_page(client), "h-tgt")
    assert "尚未设定" in card
    assert f'href="/targets/?year={year}"' in card

    save_target(manager, ref.huangyan, year, {"projects_10yi": 4, "projects_10yi_yrd": 2,
                                              "investment": Decimal("600000"), "started": 2,
                                              "funds": Decimal("10000")}, None)
    card = _section(_page(client), "h-tgt")
    assert "尚未设定" not in card
    assert card.count('class="tp-bar"') == 5
    assert "25%" in card  # one of four 10亿元以上 projects
    # The actual links to the list behind it.
    assert re.search(r'<a class="tp-actual" href="/projects/\?[^"]*size=10', card)


def test_manager_empty_states(client, login_as, db, ref):
    login_as(make_user("manager", ref.linhai))
    html = _page(client)
    assert "没有待您审批的申请。" in html
    assert "没有亮灯的项目。" in html


# --- leader ---------------------------------------------------------------------------------------

def _leader_world(ref, staff):
    today = today_local()
    big_lit = _project(ref, staff, "大额停滞项目", investment="800000")
    _due(staff, big_lit, today - timedelta(days=40))
    small_lit = _project(ref, staff, "小额停滞项目", investment="20000")
    _due(staff, small_lit, today - timedelta(days=2))
    _project(ref, staff, "最大的正常项目", investment="2000000")
    lh_staff = make_user("staff", ref.linhai)
    lh = _project(ref, lh_staff, "临海停滞项目", investment="900000")
    _due(lh_staff, lh, today - timedelta(days=10))
    return big_lit


def test_city_leader_sees_the_citys_figures_ranking_and_largest_stalled(client, login_as, db, ref, staff):
    big_lit = _leader_world(ref, staff)
    leader = make_user("leader", ref.city)
    home = queries.leader_home(leader, today_local())
    assert home.figures.live == 4
    assert home.figures.live_investment == Decimal("3720000")
    assert [p.name for p in home.stalled.items] == ["临海停滞项目", "大额停滞项目", "小额停滞项目"]
    assert {r.label for r in home.ranking} >= {"黄岩区", "临海市"}
    # The figures (summed over the ranking's units) are the report engine's total.
    from tracker.reports.figures import build_report, year_query

    total = build_report(leader, year_query(today_local().year)).total
    for name in ("signed", "live", "live_investment", "investment", "funds", "red", "yellow", "count_10yi"):
        assert getattr(home.figures, name) == getattr(total, name), name
    assert home.figures.rates == total.rates

    login_as(leader)
    html = _page(client)
    figures = _section(html, "h-fig")
    assert "落地率" in figures and "履约率" in figures and "372.00" in figures
    drill = re.search(r'<a class="home-tile" href="([^"]+)"', figures).group(1).replace("&amp;", "&")
    listed = client.get(drill).get_data(as_text=True)
    assert "签约项目 <strong>4</strong>" in listed  # the tile and the list behind it agree
    rank = _section(html, "h-rank")
    assert rank.index("黄岩区") > 0 and "临海市" in rank
    stalled = _section(html, "h-stalled")
    assert stalled.index("临海停滞项目") < stalled.index("大额停滞项目") < stalled.index("小额停滞项目")
    assert "最大的正常项目" not in stalled
    assert f'href="/projects/{big_lit.id}#progress"' in stalled
    more = re.search(r'class="home-more" href="([^"]+)"', stalled)
    assert more and "lit=any" in more.group(1) and "sort=investment" in more.group(1)


def test_county_leader_sees_the_units_figures_only(client, login_as, db, ref, staff):
    _leader_world(ref, staff)
    leader = make_user("leader", ref.huangyan)
    login_as(leader)
    html = _page(client)
    assert "临海停滞项目" not in html and "临海市" not in html
    assert "赛马排名" not in html
    assert "大额停滞项目" in _section(html, "h-stalled")
    assert queries.leader_home(leader, today_local()).figures.live == 3


def test_leader_empty_states(client, login_as, db, ref):
    login_as(make_user("leader", ref.linhai))
    html = _page(client)
    assert "尚无签约项目" in html
    assert "没有停滞（亮灯）的项目。" in html


# --- admin ----------------------------------------------------------------------------------------

def test_admin_sees_users_and_reference_data(app, client, login_as, db, ref):
    admin = make_user("admin", ref.city)
    make_user("staff", ref.huangyan, is_active=False)
    make_user("staff", ref.linhai)
    home = queries.admin_home(admin)
    assert home.users_inactive == 1 and home.users_active == 2
    assert home.by_role["staff"] == 1 and home.by_role["admin"] == 1
    login_as(admin)
    html = _page(client)
    for slug in ("industries", "regions", "platforms", "units"):
        assert f'href="/admin/reference/{slug}"' in html
    assert 'href="/admin/deadlines"' in html
    assert 'href="/admin/users?active=0"' in html
    assert "还没有人登录过。" in _section(html, "h-users")
    someone = make_user("manager", ref.linhai, display_name="刚登录的负责人")
    db.session.commit()
    assert app.test_client().post("/login", data={"username": someone.username,
                                                  "password": PASSWORD}).status_code == 302
    users = _section(_page(client), "h-users")
    assert "刚登录的负责人" in users and f'href="/admin/users/{someone.id}/edit"' in users


# --- scope, English, query count ------------------------------------------------------------------

def test_a_county_user_never_sees_another_units_project(client, login_as, db, ref, staff, manager):
    """A 临海 project, lit and largest, owned (oddly) by a 黄岩 user, with a pending request:
    nobody in 黄岩 sees it on the home page."""
    today = today_local()
    lh_staff = make_user("staff", ref.linhai)
    hidden = _project(ref, lh_staff, "临海机密项目", unit=ref.linhai, owner=staff, investment="9000000")
    _due(lh_staff, hidden, today - timedelta(days=100))
    wf.set_planned_dates(lh_staff, hidden, {"land_secured": today + timedelta(days=5)})
    _register(lh_staff, hidden)
    for user in (staff, manager, make_user("leader", ref.huangyan)):
        login_as(user)
        assert "临海机密项目" not in _page(client), user.role
    login_as(make_user("leader", ref.city))
    assert "临海机密项目" in _page(client)


@pytest.mark.parametrize("role, unit", [("staff", "huangyan"), ("manager", "huangyan"), ("leader", "city"),
                                        ("admin", "city")])
def test_the_page_renders_in_english(client, login_as, db, ref, staff, role, unit):
    today = today_local()
    p = _project(ref, staff, "英文页面项目", investment="52000")
    _due(staff, p, today - timedelta(days=3))
    _register(staff, p)
    user = staff if role == "staff" else make_user(role, getattr(ref, unit))
    login_as(user)
    with client.session_transaction() as sess:
        sess["lang"] = "en"
    html = _page(client)
    assert 'lang="en"' in html
    if role in ("manager", "leader"):
        assert "RMB 520 million" in html  # amounts in English words, not 亿元


def test_the_page_costs_the_same_number_of_queries_whatever_the_data(client, login_as, db, ref, staff, manager):
    today = today_local()
    leader = make_user("leader", ref.city)
    counts: dict[str, list[int]] = {"staff": [], "manager": [], "leader": []}
    for batch in (2, 12):
        for _ in range(batch):
            p = _project(ref, staff)
            _due(staff, p, today - timedelta(days=batch))
            _register(staff, p)
            q = _project(ref, staff)
            _due(staff, q, today + timedelta(days=batch))
            wf.reject(manager, _register(staff, q).id, "请补充材料")
        for user in (staff, manager, leader):
            login_as(user)
            with count_queries(db) as statements:
                _page(client)
            counts[user.role].append(len(statements))
    for role, (few, many) in counts.items():
        assert few == many, (role, few, many)


def test_a_long_lit_list_is_counted_up_to_the_cap(client, login_as, db, ref, staff, manager, monkeypatch):
    """A unit's (or the city's) lit projects are counted up to COUNT_CAP: the page says "N+"
    and leaves the exact figure to the list behind "查看全部"."""
    today = today_local()
    for days in (3, 2, 1):
        p = _project(ref, staff)
        _due(staff, p, today - timedelta(days=days))
    monkeypatch.setattr(queries, "COUNT_CAP", 2)
    home = queries.manager_home(manager, today)
    assert home.lit.capped and home.lit.total == 2 and len(home.lit.items) == 3
    login_as(manager)
    card = _section(_page(client), "h-lit")
    assert '<span class="home-count">2+</span>' in card and "超过 2 个" in card
    monkeypatch.setattr(queries, "COUNT_CAP", 3)
    home = queries.manager_home(manager, today)
    assert not home.lit.capped and (home.lit.total, home.lit.yellow) == (3, 3)
