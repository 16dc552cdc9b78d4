"""Amounts that cannot silently be off by 10,000× (issue 9 item 1): a unit selector (亿元/万元)
stored as 万元, a confirmation for implausible amounts, the amount on approval cards, and a
brief that asks before printing an implausibly small amount or "（暂无简介）"."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from tests.factories import make_investor, make_project, make_user, uscc
from tests.test_api import _error, _new_project, api, world  # noqa: F401 (fixtures used by name below)
from tests.test_projects import form_data
from tests.test_workflow_views import submit
from tracker.projects.models import Project


def _saved(db, name):
    db.session.expire_all()
    return db.session.execute(select(Project).where(Project.name == name)).scalar_one_or_none()


@pytest.fixture()
def staff(db, ref):
    return make_user("staff", ref.huangyan)


# --- The project form --------------------------------------------------------------------------


def test_form_amount_in_yi_is_stored_in_wan(client, login_as, staff, ref, db):
    login_as(staff)
    resp = client.post("/projects/new", data=form_data(
        ref, contracted_investment="5.2", contracted_investment_unit="yi",
        funds_in_place="1.5", funds_in_place_unit="yi", expected_tax="800", expected_tax_unit="wan"))
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    project = _saved(db, "台州测试新能源项目")
    assert project.contracted_investment == Decimal("52000.00")
    assert project.funds_in_place == Decimal("15000.00")
    assert project.expected_tax == Decimal("800.00")


def test_form_shows_unit_selectors_defaulting_to_wan(client, login_as, staff, ref, db):
    login_as(staff)
    page = client.get("/projects/new").get_data(as_text=True)
    assert 'name="contracted_investment_unit"' in page and 'name="expected_tax_unit"' in page
    assert 'name="foreign_investment_usd_unit"' not in page  # 外资 stays 万美元
    assert '<option selected value="wan">' in page
    assert 'name="confirm_amounts"' not in page  # only when a warning asks for it


def test_form_small_investment_asks_to_confirm_and_keeps_input(client, login_as, staff, ref, db):
    login_as(staff)
    resp = client.post("/projects/new", data=form_data(ref, contracted_investment="5.2"))
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert "不足 100 万元" in page and "我已核对金额单位" in page
    assert 'value="5.2"' in page and 'value="台州测试新能源项目"' in page
    assert _saved(db, "台州测试新能源项目") is None

    resp = client.post("/projects/new", data=form_data(ref, contracted_investment="5.2", confirm_amounts="y"))
    assert resp.status_code == 302
    assert _saved(db, "台州测试新能源项目").contracted_investment == Decimal("5.20")


def test_form_funds_above_investment_warns_on_edit(client, login_as, staff, ref, db):
    project = make_project(unit=ref.huangyan, name="到位资金项目", contracted_investment=Decimal("20000"))
    login_as(staff)
    page = client.get(f"/projects/{project.id}/edit").get_data(as_text=True)
    assert 'name="contracted_investment_unit"' in page
    data = form_data(ref, name="到位资金项目", investor_name=project.investor.name,
                     contracted_investment="20000", funds_in_place="30000", version=str(project.version_id))
    data.pop("stage")
    resp = client.post(f"/projects/{project.id}/edit", data=data)
    assert resp.status_code == 422
    assert "大于协议投资额" in resp.get_data(as_text=True)
    resp = client.post(f"/projects/{project.id}/edit", data={**data, "confirm_amounts": "y"})
    assert resp.status_code == 302
    assert _saved(db, "到位资金项目").funds_in_place == Decimal("30000.00")


# --- The API -----------------------------------------------------------------------------------


def test_api_amount_in_yi_is_stored_in_wan(request, db):
    call = request.getfixturevalue("api")
    resp = call("POST", "/projects", "staff", _new_project(contracted_investment="5.2",
                                                          contracted_investment_unit="yi"))
    assert resp.status_code == 201, resp.get_data(as_text=True)[:800]
    assert _saved(db, "中昊芯英AI算力产业基地").contracted_investment == Decimal("52000.00")


def test_api_small_investment_needs_confirm_amounts(request, db):
    call = request.getfixturevalue("api")
    err = _error(call("POST", "/projects", "staff", _new_project(contracted_investment=5.2)), 422)
    assert "confirm_amounts" in str(err) and "不足 100 万元" in str(err)
    assert _saved(db, "中昊芯英AI算力产业基地") is None
    resp = call("POST", "/projects", "staff", _new_project(contracted_investment=5.2, confirm_amounts=True))
    assert resp.status_code == 201
    assert _saved(db, "中昊芯英AI算力产业基地").contracted_investment == Decimal("5.20")


def test_api_rejects_unknown_unit(request, db):
    call = request.getfixturevalue("api")
    err = _error(call("POST", "/projects", "staff", _new_project(contracted_investment_unit="yuan")), 422)
    assert "contracted_investment_unit" in str(err)


# --- Approval cards and briefs -----------------------------------------------------------------


def test_approval_card_shows_the_amount(client, login_as, staff, ref, db):
    manager = make_user("manager", ref.huangyan)
    project = make_project(unit=ref.huangyan, name="五点二万元项目", contracted_investment=Decimal("5.2"))
    login_as(staff)
    assert submit(client, project, "registered", company_uscc=uscc(), registered_capital="1").status_code == 302
    login_as(manager)
    page = client.get("/approvals").get_data(as_text=True)
    assert "五点二万元项目" in page
    assert "0.0005 亿元" in page and "5.20 万元" in page


def test_brief_of_zero_amount_project_asks_to_confirm(client, login_as, staff, ref, db):
    investor = make_investor(unit=ref.huangyan, introduction="")
    project = make_project(unit=ref.huangyan, investor=investor, contracted_investment=Decimal("5.2"))
    login_as(staff)
    for path in (f"/projects/{project.id}/brief", f"/projects/{project.id}/brief.pdf?lang=bilingual"):
        resp = client.get(path)
        assert resp.status_code == 200 and resp.mimetype == "text/html"
        page = resp.get_data(as_text=True)
        assert "打印前请核对" in page and "是否把亿元填成了万元" in page and "暂无简介" in page
        assert "仍然打印" in page and "confirm=1" in page
    assert client.get(f"/projects/{project.id}/brief.pdf?confirm=1").mimetype == "application/pdf"
    assert "打印前请核对" not in client.get(f"/projects/{project.id}/brief?confirm=1").get_data(as_text=True)


def test_brief_of_plausible_project_prints_directly(client, login_as, staff, ref, db):
    investor = make_investor(unit=ref.huangyan, introduction="一家做固态电池的公司。")
    project = make_project(unit=ref.huangyan, investor=investor, contracted_investment=Decimal("52000"))
    login_as(staff)
    assert client.get(f"/projects/{project.id}/brief.pdf").mimetype == "application/pdf"


def test_api_patch_unit_without_its_amount_is_refused(client, db, ref):
    """{"contracted_investment_unit": "yi"} alone must not multiply the stored amount."""
    from decimal import Decimal

    from tests.factories import make_project, make_user
    from tests.test_api import Api
    from tracker.api.auth import issue_token

    project = make_project(unit=ref.huangyan, contracted_investment=Decimal("52000"))
    token = issue_token(make_user("staff", ref.huangyan), "tests")
    db.session.commit()
    resp = Api(client, {"s": token})("PATCH", f"/projects/{project.id}", "s",
                                     {"version": project.version_id, "contracted_investment_unit": "yi"})
    assert resp.status_code == 422 and "contracted_investment_unit" in resp.get_json()["error"]["fields"]
    db.session.refresh(project)
    assert project.contracted_investment == Decimal("52000.00")
