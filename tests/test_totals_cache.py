"""The list's totals line, its rows and their HTML, and the dashboard's HTML, are cached until
the data changes (``core.datacache``): after every kind of write, for every scope and filter,
they equal a fresh read."""
from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from flask_login import login_user
from sqlalchemy import and_

from tests.factories import make_project, make_user, sign_in, uscc
from tracker.api.schemas import ApiError
from tracker.api.views import list_projects as api_list_projects
from tracker.core import datacache
from tracker.core.permissions import can
from tracker.funds.operations import add_funds, remove_funds
from tracker.projects.investor_operations import update_investor
from tracker.projects.operations import NewProject, create_project, create_projects, set_archived, update_project
from tracker.projects.queries import (
    ProjectFilters,
    _conditions,
    filter_choices,
    list_page,
    page_rows,
    project_page,
    totals,
)
from tracker.projects.reference_forms import KINDS
from tracker.projects.reference_operations import fingerprint, update_row
from tracker.projects.views import list_projects
from tracker.reports.views import dashboard
from tracker.workflow import operations as wf

VIEWS = [{}, {"stage": "signed"}, {"stage": "registered"}, {"q": "缓存"}, {"size": "10"}, {"year": "2024"},
         {"archived": "1"}, {"mine": "1"}]


def _values(ref, name: str, **kw) -> dict:
    return {"name": name, "unit_id": ref.huangyan.id, "industry_id": ref.industry.id, "signed_on": date(2024, 5, 1),
            "contracted_investment": Decimal(20000), "content": "", **kw}


def _investor(ref) -> dict:
    return {"name": "缓存测试投资方", "uscc": None, "source_region_id": ref.region.id, "country": "中国"}


def _shown(app, user, args: dict) -> dict:
    """What ``user`` is shown for the list ``args`` through the cached paths: the totals, the
    rows, the rows' HTML in the page and the API's body."""
    f = ProjectFilters.from_args(args)
    with app.test_request_context("/projects/", query_string=args):
        login_user(user)
        _page, kept_totals = project_page(user, f)
        page, _totals = list_page(user, f, filter_choices(user))
        html = list_projects() if not f.archived or can("project.archive") else None
        try:
            api = api_list_projects().get_json()
        except ApiError as err:  # 我的项目 is the screen's only; archived lists need a manager
            api = err.status
    dashboard_html = None
    if not args:  # the dashboard (its body kept the same way) once per person
        with app.test_request_context("/reports/"):
            login_user(user)
            dashboard_html = _chart_ids(dashboard()) if can("reports.view") else None
    return {"totals": kept_totals, "rows": tuple(page.items), "page": page, "html": html, "api": api,
            "dashboard": dashboard_html}


def _chart_ids(html: str) -> str:
    """The page with its charts' element ids numbered from one (charts.py numbers them across
    the process, so two renders of the same figures differ there only)."""
    numbers: dict[str, str] = {}
    return re.sub(r"\b(funnel|quarters|unit-rates)-(\d+)\b",
                  lambda m: f"{m[1]}-#{numbers.setdefault(m[0], str(len(numbers) + 1))}", html)


@pytest.fixture()
def check(app, db, ref):
    """``check(label)`` after a write: every scope and list view read through the caches (warm
    from before the write) equals a read after the caches are emptied, and a direct count."""
    users = [make_user("staff", ref.huangyan), make_user("manager", ref.city), make_user("staff", ref.linhai),
             make_user("manager", ref.huangyan)]  # a county's dashboard too (staff see none)
    db.session.commit()
    views = [(user, args) for user in users for args in VIEWS]

    def _check(label: str) -> None:
        db.session.commit()  # the audit chain's seq moves at commit: what other processes see
        kept = [_shown(app, user, args) for user, args in views]  # cached before this write
        datacache.clear()
        for (user, args), was in zip(views, kept, strict=True):
            now = _shown(app, user, args)  # the cache is warm again for the next write
            where = (label, user.unit_id, args)
            f = ProjectFilters.from_args(args)
            with app.test_request_context():
                assert was["totals"] == now["totals"] == totals(and_(*_conditions(user, f)), f.as_of), where
                fresh_rows = page_rows(and_(*_conditions(user, f)), f.sort, was["page"].page, was["page"].per_page,
                                       filter_choices(user))
            assert was["rows"] == now["rows"] == fresh_rows, where
            assert was["html"] == now["html"], where  # the rows' HTML kept beside them
            assert was["api"] == now["api"], where
            assert was["dashboard"] == now["dashboard"], where

    _check("start")
    return users, _check


def _values_form(ref, name):
    return _values(ref, name), _investor(ref)


def test_totals_follow_every_kind_of_write(db, ref, check):
    (staff, city, _lh, _manager_hy), check = check
    manager = make_user("manager", ref.huangyan)
    project = create_project(staff, *_values_form(ref, "缓存项目一"), "signed")
    check("create")
    update_project(staff, project, {"contracted_investment": Decimal(150000)}, _investor(ref), project.version_id)
    check("edit investment")
    update_project(staff, project, {"name": "缓存项目一（改名）"}, _investor(ref), project.version_id)
    check("rename (the rows' text)")
    investor = project.investor
    update_investor(staff, investor, {"name": "缓存测试投资方（改名）", "uscc": investor.uscc,
                                      "source_region_id": investor.source_region_id, "country": "中国",
                                      "introduction": "", "unit_id": investor.unit_id}, investor.version_id)
    check("investor renamed")
    admin = make_user("admin", ref.city)
    kind = KINDS["industries"]
    values = {"name": ref.industry.name + "（改）", "group": ref.industry.group, "sort_order": ref.industry.sort_order,
              "is_active": True}
    update_row(admin, kind, ref.industry, values, fingerprint(kind, ref.industry))
    check("industry renamed")
    update_project(staff, project, {"owner_id": staff.id}, _investor(ref), project.version_id)
    check("owner (我的项目)")
    req = wf.request_move(staff, project, to_stage="registered", actual_date="2024-06-01",
                          values={"company_uscc": uscc(), "registered_capital": "5000"})
    check("request filed")
    wf.approve(manager, req.id)
    check("stage approved")
    row = add_funds(staff, project, date(2024, 6, 2), Decimal(3000), confirm=True)
    check("funds added")
    remove_funds(staff, row, "录错")
    check("funds removed")
    set_archived(manager, project, True)
    check("archived")
    set_archived(manager, project, False)
    check("restored")
    create_projects(city, [NewProject(_values(ref, f"缓存批量{i}", unit_id=(ref.huangyan if i % 2 else ref.linhai).id),
                                      _investor(ref), "signed") for i in range(25)])
    check("bulk import")
    other = make_project(unit=ref.linhai, name="缓存临海", signed_on=date.today() - timedelta(days=3))
    set_archived(city, other, True)
    check("another unit's project archived")


def test_the_version_moves_at_commit_not_before(app, db, ref):
    """Another process's cache must not keep figures from before a commit: the version is
    read from what is committed (the chain's seq) plus this transaction's own entries."""
    staff = make_user("staff", ref.huangyan)
    db.session.commit()
    with app.test_request_context():
        before = datacache.data_version()
    create_project(staff, *_values_form(ref, "缓存版本"), "signed")
    db.session.flush()
    with app.test_request_context():
        flushed = datacache.data_version()
    db.session.commit()
    with app.test_request_context():
        committed = datacache.data_version()
    assert before != flushed != committed
    assert committed[0] > (before[0] or 0)  # seq: in commit order


def test_the_version_read_with_the_user_gives_way_to_the_requests_own_changes(app, db, ref):
    """The data version comes with the signed-in user's load (no statement of its own); a
    request that then changes something reads it again, so figures showing its change are
    never kept under the version from before it."""
    from tests.factories import count_queries
    from tracker.auth.operations import session_user, start_session

    staff = make_user("staff", ref.huangyan)
    secret = start_session(staff)
    db.session.commit()
    staff_id, session_version = staff.id, staff.session_version
    with app.test_request_context("/projects/"):
        with count_queries(db) as loading:
            user = session_user(staff_id, session_version, secret)
        with count_queries(db) as asking:
            with_user = datacache.request_version()
        create_project(user, *_values_form(ref, "缓存版本二"), "signed")
        after_change = datacache.request_version()
        db.session.rollback()
    selects = [sql for sql in loading + asking if sql.startswith("SELECT")]  # (not the test's savepoints)
    assert user.id == staff_id and len(selects) == 1 and selects[0] in loading  # read with the user
    assert after_change[1] > (with_user[1] or 0)  # the request's own entry
    with app.test_request_context():
        assert with_user == datacache.data_version()  # rolled back: as it was


def test_paging_never_pushes_a_figure_out(app, db):
    """Pages (one entry per page of a list or of the API) have an LRU of their own: a program
    paging through thousands of pages leaves the costly figures in place; the cards of
    project pages have another: browsing many projects leaves the list pages in place."""
    built = []

    def figure():
        built.append(1)
        return 42

    with app.test_request_context():
        datacache.clear()
        datacache.cached(("a figure",), figure)
        datacache.cached(("a list page",), lambda: "rows", shelf="pages")
        for n in range(2000):
            datacache.cached(("a page", n), lambda n=n: n, shelf="pages")
            datacache.cached(("a project's card", n), lambda n=n: n, shelf="cards")
        assert datacache.cached(("a figure",), figure) == 42
        assert built == [1]
        assert datacache.cached(("a page", 0), lambda: "read again", shelf="pages") == "read again"  # pushed out
        datacache.cached(("a list page",), lambda: "rows", shelf="pages")
        for n in range(2000):  # browsing many projects' pages pushes no list page out
            datacache.cached(("a project's card", n + 2000), lambda n=n: n, shelf="cards")
        assert datacache.cached(("a list page",), lambda: "read again", shelf="pages") == "rows"


def test_the_kept_list_body_offers_each_role_its_own_buttons(app, client, db, ref):
    """The list's body is kept per scope, filters and role: the Huangyan manager's archive
    button never reaches the Huangyan staff member viewing the same list after them, nor the
    new-project button the city's leader; a new project shows on everyone's next view."""
    make_project(unit=ref.huangyan, name="按钮测试项目")
    people = [make_user("manager", ref.huangyan), make_user("staff", ref.huangyan), make_user("leader", ref.city)]
    browsers = [client, app.test_client(), app.test_client()]
    for who, browser in zip(people, browsers, strict=True):
        sign_in(browser, who)
    db.session.commit()
    datacache.clear()
    pages = [browser.get("/projects/").get_data(as_text=True) for browser in browsers]
    assert all("按钮测试项目" in page for page in pages)
    archive, new = "archived=1", "/projects/new"
    assert [archive in page for page in pages] == [True, False, False]
    assert [new in page for page in pages] == [True, True, False]
    assert all("导出台账" in page for page in pages)
    for browser in browsers[1:]:  # the same again, kept this time: still each role's own
        assert archive not in browser.get("/projects/").get_data(as_text=True)
    create_project(people[1], _values(ref, "按钮测试新项目"), _investor(ref), "signed")
    db.session.commit()
    assert all("按钮测试新项目" in browser.get("/projects/").get_data(as_text=True) for browser in browsers)


def test_pages_past_the_last_share_the_last_pages_body(app, client, db, ref):
    """?page=N past the last page shows the last page and keeps no body of its own: links to
    made-up pages cannot fill the shelf of kept pages."""
    make_project(unit=ref.huangyan, name="页码测试项目")
    sign_in(client, make_user("staff", ref.huangyan))
    db.session.commit()
    datacache.clear()
    first = client.get("/projects/").get_data(as_text=True)
    kept = len(datacache._CACHES["pages"])
    for n in (2, 999, 100000):
        page = client.get(f"/projects/?page={n}").get_data(as_text=True)
        assert "页码测试项目" in page and page.count("<tr") == first.count("<tr")
    assert len(datacache._CACHES["pages"]) == kept
