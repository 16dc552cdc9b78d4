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


@pytest.mark.parametrize(("typed", "unit", "stored"), [
    ("5.2亿", "wan", "52000.00"),  # the unit written in the box wins over the select
    ("５.２亿元", "wan", "52000.00"),  # full-width, as a Chinese IME types it
    ("3,000万", "yi", "3000.00"),
    ("52000万元", "wan", "52000.00"),
    (" 1.25 亿 ", "wan", "12500.00"),
])
def test_form_amount_with_its_unit_written_in(client, login_as, staff, ref, db, typed, unit, stored):
    """People type 5.2亿 into the amount box as they write it on paper (the funds form reads it
    the same way)."""
    login_as(staff)
    resp = client.post("/projects/new", data=form_data(
        ref, contracted_investment=typed, contracted_investment_unit=unit))
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    assert _saved(db, "台州测试新能源项目").contracted_investment == Decimal(stored)


@pytest.mark.parametrize(("field", "typed"), [
    ("contracted_investment", "5.2亿亿"), ("contracted_investment", "亿"), ("contracted_investment", "五亿"),
    ("contracted_investment", "5.2億"), ("contracted_investment", "-1亿"), ("contracted_investment", "1e3亿"),
    ("expected_tax", "万"), ("expected_output", " 万元 "),  # optional fields: a unit alone is not a blank
])
def test_form_amount_with_a_unit_still_needs_a_number(client, login_as, staff, ref, db, field, typed):
    login_as(staff)
    resp = client.post("/projects/new", data=form_data(ref, **{field: typed}))
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert "请输入" in page or "金额不能为负数" in page
    assert _saved(db, "台州测试新能源项目") is None


def test_api_amount_with_its_unit_written_in(request, db):
    call = request.getfixturevalue("api")
    resp = call("POST", "/projects", "staff", _new_project(contracted_investment="5.2亿"))
    assert resp.status_code == 201, resp.get_data(as_text=True)[:800]
    assert _saved(db, "中昊芯英AI算力产业基地").contracted_investment == Decimal("52000.00")


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


def test_form_edit_refuses_funds_in_place(client, login_as, staff, ref, db):
    """实际到位资金 is the funds records' sum (tests/test_funds.py checks the confirmation
    when a record takes it above the investment): the edit form neither shows nor sets it."""
    project = make_project(unit=ref.huangyan, name="到位资金项目", contracted_investment=Decimal("20000"))
    login_as(staff)
    page = client.get(f"/projects/{project.id}/edit").get_data(as_text=True)
    assert 'name="contracted_investment_unit"' in page
    assert 'name="funds_in_place"' not in page
    data = form_data(ref, name="到位资金项目", investor_name=project.investor.name,
                     contracted_investment="20000", funds_in_place="30000", version=str(project.version_id))
    data.pop("stage")
    resp = client.post(f"/projects/{project.id}/edit", data={**data, "confirm_amounts": "y"})
    assert resp.status_code == 422
    assert "到位资金记录的合计" in resp.get_data(as_text=True)
    assert _saved(db, "到位资金项目").funds_in_place == Decimal("0.00")


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


# --- The stage request's registered capital -----------------------------------------------------


def _requests_of(db, project):
    from tracker.workflow.models import StageRequest

    db.session.expire_all()
    return db.session.execute(select(StageRequest).where(StageRequest.project_id == project.id)).scalars().all()


def test_form_registered_capital_above_investment_asks_to_confirm(client, login_as, staff, ref, db):
    project = make_project(unit=ref.huangyan, name="注册资本项目", contracted_investment=Decimal("20000"))
    company = uscc()
    login_as(staff)
    assert 'name="confirm_amounts"' not in client.get(
        f"/projects/{project.id}/stage-request?to=registered").get_data(as_text=True)
    resp = submit(client, project, "registered", company_uscc=company, registered_capital="30000",
                  comment="营业执照已领取")
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert "30000.00 万元大于协议投资额（20000.00 万元）" in page
    assert "我已核对金额单位" in page and 'name="confirm_amounts"' in page
    assert 'value="30000"' in page and f'value="{company}"' in page and "营业执照已领取" in page
    assert _requests_of(db, project) == []

    resp = submit(client, project, "registered", company_uscc=company, registered_capital="30000",
                  confirm_amounts="y")
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    [req] = _requests_of(db, project)
    assert Decimal(str(req.values["registered_capital"])) == Decimal("30000")


def test_form_plausible_registered_capital_needs_no_confirm(client, login_as, staff, ref, db):
    project = make_project(unit=ref.huangyan, contracted_investment=Decimal("5.2"))
    login_as(staff)
    # The project's own small investment is the project form's concern, not this request's.
    assert submit(client, project, "registered", company_uscc=uscc(), registered_capital="5").status_code == 302


def test_api_registered_capital_above_investment_needs_confirm_amounts(request, db):
    from tests.test_api import _register_request

    call = request.getfixturevalue("api")
    project = request.getfixturevalue("world")["own"]  # 150000 万元
    err = _error(_register_request(call, project.id, registered_capital=200000), 422)
    assert set(err["fields"]) >= {"registered_capital", "confirm_amounts"}
    assert "大于协议投资额" in err["fields"]["registered_capital"]
    assert _requests_of(db, project) == []
    err = _error(_register_request(call, project.id, registered_capital=200000, confirm_amounts="maybe"), 422)
    assert "confirm_amounts" in err["fields"]
    assert _requests_of(db, project) == []

    resp = _register_request(call, project.id, registered_capital=200000, confirm_amounts=True)
    assert resp.status_code == 201, resp.get_data(as_text=True)[:800]
    assert len(_requests_of(db, project)) == 1


def test_openapi_documents_confirm_amounts_on_stage_requests(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert "confirm_amounts" in doc["components"]["schemas"]["StageRequestCreate"]["properties"]


def test_booklet_with_a_doubtful_brief_asks_first(client, db, ref, login_as):
    """A booklet would print （暂无简介） for a project without an introduction: the ceremony page
    lists it, and the booklet starts only once the user has ticked 已核对，仍然打印."""
    from datetime import date

    from tests.factories import make_investor, make_project, make_user
    from tracker.ceremonies.operations import add_project, create_ceremony
    from tracker.jobs.models import Job

    manager = make_user("manager", ref.city)
    project = make_project(unit=ref.huangyan, investor=make_investor(unit=ref.huangyan, introduction=""))
    ceremony = create_ceremony(manager, name="核对测试签约仪式", held_on=date(2024, 12, 20), unit=ref.city)
    add_project(manager, ceremony, project)
    login_as(manager)
    page = client.get(f"/ceremonies/{ceremony.id}").get_data(as_text=True)
    assert "打印前请核对" in page and project.name in page and "已核对，仍然打印" in page
    refused = client.post(f"/ceremonies/{ceremony.id}/booklet")
    assert refused.status_code == 302 and "#print-doubts" in refused.headers["Location"]
    assert db.session.query(Job).count() == 0
    started = client.post(f"/ceremonies/{ceremony.id}/booklet", data={"confirm": "1"})
    assert started.status_code == 302 and "/jobs/" in started.headers["Location"]
