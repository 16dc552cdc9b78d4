"""``GET /api/v1/reports/summary``: the year's figures for provincial platforms."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from tests.factories import make_project, make_user, uscc
from tracker.api.auth import issue_token
from tracker.api.openapi import document
from tracker.api.schemas import SummaryOut
from tracker.core.formatting import today_local
from tracker.funds.operations import add_funds
from tracker.workflow import operations as wf

URL = "/api/v1/reports/summary"


@pytest.fixture()
def world(db, ref):
    ref.linhai.name_en = "Linhai"
    users = {
        "staff": make_user("staff", ref.huangyan),
        "manager": make_user("manager", ref.huangyan),
        "manager2": make_user("manager", ref.huangyan),
        "leader": make_user("leader", ref.huangyan),
        "lh_manager": make_user("manager", ref.linhai),
        "city_leader": make_user("leader", ref.city),
        "admin": make_user("admin", ref.city),
    }
    staff, manager = users["staff"], users["manager"]

    def move(project, to_stage, on, **values):
        req = wf.request_move(staff, project, to_stage=to_stage, actual_date=on, values=values)
        wf.approve(manager, req.id)

    # 黄岩区, signed in 2024: one registered on 2024-05-10, one signed, one terminated;
    # 临海市: one signed.
    reg = make_project(unit=ref.huangyan, signed_on=date(2024, 3, 1), contracted_investment=Decimal("120000.50"))
    move(reg, "registered", "2024-05-10", company_uscc=uscc(), registered_capital="5000")
    make_project(unit=ref.huangyan, signed_on=date(2024, 4, 1), contracted_investment=Decimal(60_000))
    term = make_project(unit=ref.huangyan, signed_on=date(2024, 6, 1), contracted_investment=Decimal(20_000))
    move(term, "terminated", "2024-08-01", reason="企业放弃")
    add_funds(staff, reg, date(2024, 6, 1), Decimal("50000.25"))
    make_project(unit=ref.linhai, signed_on=date(2024, 2, 1), contracted_investment=Decimal(80_000))
    make_project(unit=ref.huangyan, signed_on=date(2023, 5, 1), contracted_investment=Decimal(99_000))
    tokens = {key: issue_token(user, "tests") for key, user in users.items()}
    db.session.commit()  # releases the savepoint: the API's rollback on an error keeps this data
    return {"tokens": tokens, "ref": ref}


@pytest.fixture()
def get(client, world):
    def _get(who, query=""):
        headers = {"Authorization": f"Bearer {world['tokens'][who]}"} if who else {}
        return client.get(f"{URL}?{query}" if query else URL, headers=headers)

    return _get


def _error(resp, status):
    assert resp.status_code == status, resp.get_data(as_text=True)[:500]
    body = resp.get_json()
    assert body["error"]["code"] == status and body["error"]["message"]
    return body["error"]


def test_the_summary_of_a_year(get):
    resp = get("manager", "year=2024")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    body = resp.get_json()
    SummaryOut.model_validate(body)  # the documented shape
    assert body["year"] == 2024 and body["unit"] is None
    assert body["as_of"] == today_local().isoformat()  # the bureau's day (Asia/Shanghai), not the server's
    assert body["signed"] == 3  # the terminated one was signed too
    assert body["by_stage"] == {"signed": 1, "registered": 1, "land_secured": 0, "construction": 0, "completed": 0,
                                "production": 0, "full_capacity": 0, "terminated": 1}
    assert body["contracted_investment"] == "200000.50"  # 120000.50 + 60000 + 20000
    assert body["funds_in_place"] == "50000.25"
    rates = body["rates"]
    assert rates["landing"] == pytest.approx(1 / 3)
    assert rates["construction"] == 0 and rates["production"] == 0
    assert rates["funds_in_place"] == pytest.approx(50_000.25 / 200_000.50)
    assert rates["compliance"] is None
    assert resp.headers["Cache-Control"] == "no-store"


def test_as_of(get):
    body = get("manager", "year=2024&as_of=2024-05-09").get_json()
    assert body["as_of"] == "2024-05-09"
    # By 05-09: two signed (the third on 06-01), neither registered yet, no funds.
    assert body["signed"] == 2 and body["rates"]["landing"] == 0
    assert body["contracted_investment"] == "180000.50" and body["funds_in_place"] == "0.00"
    assert body["rates"]["funds_in_place"] == 0
    body = get("manager", "year=2024&as_of=2024-05-10").get_json()
    assert body["rates"]["landing"] == pytest.approx(1 / 2)
    # Other date spellings the input layer reads.
    assert get("manager", "year=2024&as_of=2024/05/10").get_json() == body
    # A date not yet past is counted as today.
    later = (today_local() + timedelta(days=30)).isoformat()
    future = get("manager", f"year=2024&as_of={later}").get_json()
    assert future == get("manager", "year=2024").get_json()
    assert future["as_of"] == today_local().isoformat()
    # Nothing signed by then: rates are null, not 0 or an error.
    empty = get("manager", "year=2024&as_of=2024-01-01").get_json()
    assert empty["signed"] == 0 and set(empty["rates"].values()) == {None}


def test_units_by_name(get, world):
    linhai = world["ref"].linhai
    for name in ("临海市", "Linhai", "linhai", " LINHAI "):
        body = get("city_leader", f"year=2024&unit={name}").get_json()
        assert body["unit"] == {"id": linhai.id, "name": "临海市"}, name
        assert body["signed"] == 1 and body["contracted_investment"] == "80000.00"
    own = get("manager", "year=2024&unit=黄岩区").get_json()
    assert own == {**get("manager", "year=2024").get_json(), "unit": own["unit"]}
    assert get("city_leader", "year=2024").get_json()["signed"] == 4


def test_another_units_name_is_not_found_for_a_county(get):
    assert _error(get("manager", "year=2024&unit=临海市"), 404)["message"]
    _error(get("lh_manager", "year=2024&unit=黄岩区"), 404)
    _error(get("manager", "year=2024&unit=台州市投资促进中心"), 404)


@pytest.mark.parametrize("query,field", [
    ("", "year"),
    ("year=", "year"),
    ("year=abc", "year"),
    ("year=1989", "year"),
    ("year=2101", "year"),
    ("year=2024.5", "year"),
    ("year=2024&as_of=2024-13-01", "as_of"),
    ("year=2024&as_of=yesterday", "as_of"),
    ("year=2024&as_of=1900-01-01", "as_of"),
    ("year=2024&unit=没有这个单位", "unit"),
    ("year=2024&unit=" + "x" * 200, "unit"),
    ("year=2024&region=yrd", "region"),
])
def test_bad_parameters_are_422_naming_them(get, query, field):
    err = _error(get("manager", query), 422)
    assert field in err["fields"], err


def test_roles(get):
    for who in ("manager", "leader", "city_leader"):
        assert get(who, "year=2024").status_code == 200, who
    _error(get("staff", "year=2024"), 403)
    _error(get("admin", "year=2024"), 403)
    _error(get(None, "year=2024"), 401)
    # The role is checked before the parameters: staff learn nothing about units.
    _error(get("staff", "year=2024&unit=临海市"), 403)


def test_documented_in_openapi():
    doc = document()
    op = doc["paths"]["/reports/summary"]["get"]
    assert {p["name"] for p in op["parameters"]} == {"year", "unit", "as_of"}
    assert set(op["responses"]) == {"200", "401", "403", "404", "422"}
    out = doc["components"]["schemas"]["SummaryOut"]
    assert {"signed", "by_stage", "contracted_investment", "funds_in_place", "rates"} <= set(out["properties"])
    rates = doc["components"]["schemas"]["SummaryRates"]["properties"]
    assert set(rates) == {"landing", "construction", "production", "funds_in_place", "compliance"}
