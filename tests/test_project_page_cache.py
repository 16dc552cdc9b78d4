"""The project page's cards are kept as HTML until the data changes (``core.pieces``): after
every kind of write each viewer's page equals the page built afresh; the forms in a kept card
carry the viewer's own CSRF token; the stage panel is each person's own."""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest

from tests.factories import make_project, make_user, sign_in, uscc
from tracker.auth.operations import update_user
from tracker.core import datacache, pieces
from tracker.funds.operations import add_funds, remove_funds
from tracker.projects.investor_operations import update_investor
from tracker.projects.operations import create_project, set_archived, update_project
from tracker.projects.reference_forms import KINDS
from tracker.projects.reference_operations import fingerprint, update_row
from tracker.workflow import operations as wf

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def _investor(ref) -> dict:
    return {"name": "卡片测试投资方", "uscc": None, "source_region_id": ref.region.id, "country": "中国"}


def _page(client, project) -> str:
    resp = client.get(f"/projects/{project.id}")
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


def _same(html: str) -> str:
    """The page without its CSRF tokens (signed with the time: two views differ in them)."""
    return TOKEN.sub('name="csrf_token" value=""', html)


@pytest.fixture()
def viewers(app, client, db, ref):
    """Three people on three browsers: the Huangyan staff member who records and asks, the
    Huangyan manager who decides, the city's leader who reads."""
    people = [make_user("staff", ref.huangyan), make_user("manager", ref.huangyan), make_user("leader", ref.city)]
    clients = [client, app.test_client(), app.test_client()]
    for who, browser in zip(people, clients, strict=True):
        sign_in(browser, who)
    db.session.commit()
    return list(zip(people, clients, strict=True))


def test_the_page_follows_every_kind_of_write(db, ref, viewers):
    (staff, _), (manager, _), _leader = viewers
    admin = make_user("admin", ref.city)
    project = create_project(staff, {"name": "卡片项目", "unit_id": ref.huangyan.id, "industry_id": ref.industry.id,
                                     "signed_on": date(2024, 5, 1), "contracted_investment": Decimal(20000),
                                     "content": "一期"}, _investor(ref), "signed")

    def check(label: str, *expected: str) -> None:
        db.session.commit()
        kept = [_page(browser, project) for _who, browser in viewers]  # kept from before the write
        datacache.clear()
        for (who, browser), was in zip(viewers, kept, strict=True):
            now = _page(browser, project)
            assert _same(was) == _same(now), (label, who.role)
            for text in expected:
                assert text in was, (label, who.role, text)
        _page_cards_warm()

    def _page_cards_warm() -> None:
        for _who, browser in viewers:
            _page(browser, project)

    check("start", "一期")
    update_project(staff, project, {"content": "二期扩建"}, _investor(ref), project.version_id)
    check("content edited", "二期扩建")
    investor = project.investor
    update_investor(staff, investor, {"name": "卡片测试投资方（改名）", "uscc": investor.uscc,
                                      "source_region_id": investor.source_region_id, "country": "中国",
                                      "introduction": "专注新能源", "unit_id": investor.unit_id}, investor.version_id)
    check("investor renamed", "卡片测试投资方（改名）", "专注新能源")
    kind = KINDS["industries"]
    update_row(admin, kind, ref.industry, {"name": ref.industry.name + "（改）", "group": ref.industry.group,
                                           "sort_order": ref.industry.sort_order, "is_active": True},
               fingerprint(kind, ref.industry))
    check("industry renamed", ref.industry.name)
    update_project(staff, project, {"owner_id": staff.id, "contact_phone": "0576-88881234"}, _investor(ref),
                   project.version_id)
    check("owner and phone", staff.display_name, "0576-88881234")
    req = wf.request_move(staff, project, to_stage="registered", actual_date="2024-06-01",
                          values={"company_uscc": uscc(), "registered_capital": "5000"})
    check("request filed", "待审批")
    wf.approve(manager, req.id)
    check("approved", "项目公司信用代码")
    wf.set_planned_dates(staff, project, {"land_secured": date(2024, 9, 30)})
    check("milestone planned", "2024年9月30日")
    row = add_funds(staff, project, date(2024, 6, 2), Decimal(3000), "首笔到位", confirm=True)
    check("funds added", "首笔到位")
    remove_funds(staff, row, "录错")
    check("funds removed", "尚未登记到位资金")
    create_project(staff, {"name": "卡片项目增资", "unit_id": ref.huangyan.id, "industry_id": ref.industry.id,
                           "signed_on": date(2024, 7, 1), "contracted_investment": Decimal(5000), "content": "",
                           "increase_of": "卡片项目"}, _investor(ref), "signed")
    check("capital increase", "卡片项目增资")
    set_archived(manager, project, True)
    check("archived", "归档")
    set_archived(manager, project, False)
    check("restored")


def test_kept_forms_carry_each_viewers_own_token(app, db, ref, viewers):
    """The staff member builds the cards; the manager's page, served from them, has the
    manager's token in every form, and that token is accepted."""
    (staff, staff_browser), (manager, manager_browser), _ = viewers
    project = make_project(unit=ref.huangyan, stage="signed")
    db.session.commit()
    datacache.clear()
    staff_html = _page(staff_browser, project)
    assert datacache.has(("project-page", project.id, "facts", ref.huangyan.id), shelf="cards")
    manager_html = _page(manager_browser, project)
    staff_tokens, manager_tokens = set(TOKEN.findall(staff_html)), set(TOKEN.findall(manager_html))
    assert staff_tokens and manager_tokens and not staff_tokens & manager_tokens
    assert pieces._PLACEHOLDER not in manager_html  # no placeholder left
    with manager_browser.session_transaction() as sess:
        raw = sess["csrf_token"]
    with app.test_request_context():
        from flask import session
        from flask_wtf.csrf import validate_csrf

        session["csrf_token"] = raw
        for token in manager_tokens:
            validate_csrf(token)  # raises when the token is not this browser's
    # and a form from the kept funds card goes through with it
    token = next(iter(manager_tokens))
    resp = manager_browser.post(f"/projects/{project.id}/funds", data={
        "csrf_token": token, "received_on": "2024-06-02", "amount": "12", "amount_unit": "wan", "note": "令牌",
    })
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    assert "令牌" in _page(staff_browser, project)


def test_the_stage_panel_is_each_persons_own(db, ref, viewers):
    (staff, staff_browser), (manager, manager_browser), (_leader, leader_browser) = viewers
    project = make_project(unit=ref.huangyan, stage="signed")
    db.session.commit()
    wf.request_move(staff, project, to_stage="registered", actual_date="2024-06-01",
                    values={"company_uscc": uscc(), "registered_capital": "5000"})
    db.session.commit()
    own, deciding, reading = (_page(b, project) for b in (staff_browser, manager_browser, leader_browser))
    assert "撤回申请" in own and "批准" not in own.split('id="stage"')[1].split("</section>")[0]
    assert "驳回" in deciding and "撤回申请" not in deciding
    assert "等待负责人审批" in reading and "驳回" not in reading and "撤回申请" not in reading
    # the same three again, now from the kept panels
    assert _same(_page(staff_browser, project)) == _same(own)
    assert _same(_page(manager_browser, project)) == _same(deciding)
    assert _same(_page(leader_browser, project)) == _same(reading)


def test_a_role_change_changes_the_panel(app, db, ref, viewers):
    """A manager made staff (who signs in again) no longer gets the decision form (the panel
    is kept per person and role; the change's audit entry also makes a new data version)."""
    (staff, _), (manager, manager_browser), _ = viewers
    project = make_project(unit=ref.huangyan, stage="signed")
    db.session.commit()
    wf.request_move(staff, project, to_stage="registered", actual_date="2024-06-01",
                    values={"company_uscc": uscc(), "registered_capital": "5000"})
    db.session.commit()
    assert "驳回" in _page(manager_browser, project)
    update_user(make_user("admin", ref.city), manager, display_name=manager.display_name, role="staff",
                unit=ref.huangyan)
    db.session.commit()
    sign_in(manager_browser, manager)  # a changed role ends the user's sessions
    db.session.commit()
    assert "驳回" not in _page(manager_browser, project)


def test_each_language_has_its_cards(client, db, ref, viewers):
    (_staff, browser), _, _ = viewers
    project = make_project(unit=ref.huangyan, stage="signed")
    db.session.commit()
    assert "进度与亮灯" in _page(browser, project)
    assert browser.post("/language/en", data={"next": f"/projects/{project.id}"}).status_code in (302, 303)
    english = _page(browser, project)
    assert "Progress and lights" in english and "进度与亮灯" not in english


def test_older_history_pages_are_not_kept(db, ref, viewers):
    """``?before=`` takes any number: its pages are rendered, not kept (a crawler cannot fill
    the shelf with them)."""
    (staff, browser), _, _ = viewers
    project = make_project(unit=ref.huangyan, stage="signed")
    inv = project.investor
    investor = {"name": inv.name, "uscc": inv.uscc, "source_region_id": inv.source_region_id, "country": inv.country}
    for i in range(3):
        update_project(staff, project, {"content": f"第{i}版"}, investor, project.version_id)
    db.session.commit()
    datacache.clear()
    html = browser.get(f"/projects/{project.id}?before=999999999").get_data(as_text=True)
    assert "第2版" in html
    assert not datacache.has(("project-page", project.id, "records", ref.huangyan.id), shelf="cards")
    _page(browser, project)
    assert datacache.has(("project-page", project.id, "records", ref.huangyan.id), shelf="cards")


def test_each_project_page_shows_its_own_records(db, ref, viewers):
    """The page's statements are built once per process (``core.db.built_once``) and take the
    project as a parameter: two projects viewed in turn, each shows its own name, history,
    milestones and funds, none of the other's: first views (the project with its relations),
    views of kept cards (the project alone) and an older history page (``?before=``)."""
    (staff, browser), _manager, _leader = viewers
    projects = []
    for n, (note, planned) in enumerate((("甲笔资金", date(2024, 9, 30)), ("乙笔资金", date(2025, 3, 31)))):
        project = create_project(staff, {"name": f"各自项目{n}", "unit_id": ref.huangyan.id,
                                         "industry_id": ref.industry.id, "signed_on": date(2024, 5, 1),
                                         "contracted_investment": Decimal(20000), "content": f"内容{n}号"},
                                 _investor(ref), "signed")
        update_project(staff, project, {"content": f"改写{n}号"}, _investor(ref), project.version_id)
        wf.set_planned_dates(staff, project, {"land_secured": planned})
        add_funds(staff, project, date(2024, 6, 2), Decimal(3000), note, confirm=True)
        projects.append(project)
    db.session.commit()
    for first, second in (projects, projects[::-1]):
        datacache.clear()
        _page(browser, first)
        html = _page(browser, second)
        n, other = projects.index(second), projects.index(first)
        assert f"改写{n}号" in html and f"改写{other}号" not in html
        assert ("甲笔资金" if n == 0 else "乙笔资金") in html
        assert ("乙笔资金" if n == 0 else "甲笔资金") not in html
        assert ("2024年9月30日" if n == 0 else "2025年3月31日") in html
        assert ("2025年3月31日" if n == 0 else "2024年9月30日") not in html
        kept = _page(browser, second)  # the cards are kept now: the project is read alone
        assert f"各自项目{n}" in kept and f"各自项目{other}" not in kept
        older = browser.get(f"/projects/{second.id}?before=999999999").get_data(as_text=True)
        assert f"改写{n}号" in older and f"改写{other}号" not in older
