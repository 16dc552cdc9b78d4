"""The input layer: one parser per kind of value, one schema per thing a user submits, and
the same message whichever entry point the value came through."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from tests.test_api import Api, _new_project
from tests.test_projects import form_data as project_form
from tracker.core import input as inp


@pytest.mark.parametrize("raw,value", [
    ("12500", Decimal("12500.00")), ("12,500.5", Decimal("12500.50")), ("１２５００", Decimal("12500.00")),
    (" 5.2 ", Decimal("5.20")), (5, Decimal("5.00")), (Decimal("1.25"), Decimal("1.25")), ("0", Decimal("0.00")),
])
def test_amounts_accepted(raw, value):
    assert inp.parse_amount(raw) == value


@pytest.mark.parametrize("raw", ["abc", "1e309", "NaN", "-5", "1.005", "99999999999999", True, [1], {"v": 1},
                                 float("nan"), "", "1,2,3.4.5"])
def test_amounts_refused(raw):
    with pytest.raises(inp.Problem):
        inp.parse_amount(raw)


@pytest.mark.parametrize("raw", ["2024-12-20", "2024/12/20", "2024.12.20", "2024年12月20日", "２０２４-１２-２０",
                                 "2024-12-20 ", date(2024, 12, 20), datetime(2024, 12, 20, 8, 30)])
def test_dates_in_the_ways_people_write_them(raw):
    assert inp.parse_date(raw) == date(2024, 12, 20)


@pytest.mark.parametrize("raw", ["2024-02-30", "1066-10-14", "20241220", "tomorrow", 20241220, "2024-13-01"])
def test_dates_refused(raw):
    with pytest.raises(inp.Problem):
        inp.parse_date(raw)


def test_uscc_is_normalised_and_checked():
    assert inp.parse_uscc(" 9135 0100-m000 100y43 ") == "91350100M000100Y43"
    for bad in ("123", "91350100M000100Y44", "I1350100M000100Y43"):
        with pytest.raises(inp.Problem):
            inp.parse_uscc(bad)


def test_ids_from_users_are_bounded():
    assert inp.id_arg("12") == 12 and inp.id_arg(12) == 12
    for bad in ("-1", "0", "１２", "2147483648", "99999999999", " 1", True, None, 2**31):
        assert inp.id_arg(bad) is None


def test_text_drops_control_characters():
    assert inp.parse_text("  a\x00b\x07\r\nc ", 10) == "ab\nc"


def test_schema_refuses_unknown_fields_and_names_required_ones(app):
    from tracker.projects.schemas import ProjectCreate

    with app.test_request_context():
        with pytest.raises(inp.InputError) as err:
            inp.validate(ProjectCreate, {"stage_id": 3}, context={"choices": {}})
    errors = err.value.errors
    assert errors["stage_id"] == "未知字段。"
    assert errors["name"] == "请填写项目名称。" and errors["contracted_investment"] == "请填写协议投资额。"


@pytest.mark.parametrize("field,api_value,form_value", [
    ("contracted_investment", "1e309", "1e309"),
    ("contracted_investment", -5, "-5"),
    ("signed_on", "2024-02-30", "2024-02-30"),
    ("expected_jobs", 1.5, "1.5"),
])
def test_form_and_api_say_the_same(client, db, ref, login_as, field, api_value, form_value):
    """One rule, one message: the screen and the API explain a bad value the same way."""
    from tests.factories import make_user
    from tracker.api.auth import issue_token

    user = make_user("staff", ref.huangyan)
    token = issue_token(user, "tests")
    db.session.commit()
    api_resp = Api(client, {"staff": token})("POST", "/projects", "staff", _new_project(**{field: api_value}))
    message = api_resp.get_json()["error"]["fields"][field]
    login_as(user)
    form_resp = client.post("/projects/new", data=project_form(ref, **{field: form_value}))
    assert form_resp.status_code == 422
    assert message in form_resp.get_data(as_text=True)


def test_a_project_field_reaches_every_entry_point(client, db, ref, login_as):
    """项目联系人电话 was added as: model + migration + schema + form widget + template. The API,
    the OpenAPI document and the validation picked it up from the schema."""
    from tests.factories import make_user
    from tracker.api.auth import issue_token
    from tracker.api.openapi import document

    doc = document()["components"]["schemas"]
    assert "contact_phone" in doc["ProjectCreate"]["properties"]
    assert "contact_phone" in doc["ProjectOut"]["properties"]
    user = make_user("staff", ref.huangyan)
    token = issue_token(user, "tests")
    db.session.commit()
    api = Api(client, {"staff": token})
    bad = api("POST", "/projects", "staff", _new_project(contact_phone="call me"))
    assert "contact_phone" in bad.get_json()["error"]["fields"]
    created = api("POST", "/projects", "staff", _new_project(contact_phone="0576-8888 8888"))
    assert created.status_code == 201 and created.get_json()["contact_phone"] == "0576-8888 8888"
    login_as(user)
    page = client.get(f"/projects/{created.get_json()['id']}").get_data(as_text=True)
    assert "0576-8888 8888" in page
    form = client.get(f"/projects/{created.get_json()['id']}/edit").get_data(as_text=True)
    assert 'name="contact_phone"' in form


def test_blank_uscc_beside_another_error_is_a_message_not_a_500(client, db, ref, login_as):
    from tests.factories import make_user

    login_as(make_user("staff", ref.huangyan))
    resp = client.post("/investors/new", data={"name": "空格代码公司", "uscc": "   ", "source_region_id": "",
                                               "country": "", "unit_id": ref.huangyan.id, "introduction": ""})
    assert resp.status_code == 422 and "请选择来源地" in resp.get_data(as_text=True)


@pytest.mark.parametrize("to_stage", [["registered"], {"a": 1}, None, 7, ""])
def test_stage_request_with_a_to_stage_of_another_type_is_422(client, db, ref, to_stage):
    from tests.factories import make_project, make_user
    from tracker.api.auth import issue_token

    project = make_project(unit=ref.huangyan, stage="signed")
    token = issue_token(make_user("staff", ref.huangyan), "tests")
    db.session.commit()
    resp = Api(client, {"staff": token})("POST", f"/projects/{project.id}/stage-requests", "staff",
                                         {"to_stage": to_stage, "actual_date": "2024-07-01"})
    assert resp.status_code == 422 and "to_stage" in resp.get_json()["error"]["fields"]


def test_api_list_filters_as_validated(client, db, ref):
    """A value the schema accepts (full-width digits) filters; it is not silently dropped."""
    from tests.factories import make_project, make_user
    from tracker.api.auth import issue_token

    make_project(unit=ref.huangyan, signed_on=date(2023, 5, 1))
    make_project(unit=ref.huangyan, signed_on=date(2024, 5, 1))
    token = issue_token(make_user("manager", ref.city), "tests")
    db.session.commit()
    api = Api(client, {"m": token})
    assert api("GET", "/projects?year=２０２４", "m").get_json()["total"] == 1
    assert api("GET", f"/projects?unit={ref.linhai.id}", "m").get_json()["total"] == 0
