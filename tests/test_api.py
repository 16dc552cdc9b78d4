"""JSON API v1: token auth, scoping, each endpoint's happy path and its errors."""
from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from tests.factories import make_project, make_user, uscc
from tracker.api.auth import hash_token, issue_token, revoke_token
from tracker.api.models import ApiToken
from tracker.audit.models import AuditEntry
from tracker.projects.models import Project
from tracker.workflow.models import Milestone, StageRequest

API = "/api/v1"


class Api:
    """Calls the API as one of the fixture's users (by key) with their Bearer token."""

    def __init__(self, client, tokens):
        self.client = client
        self.tokens = tokens

    def __call__(self, method, path, who=None, json_body=None, data=None, headers=None):
        hdrs = dict(headers or {})
        if who is not None:
            hdrs["Authorization"] = f"Bearer {self.tokens[who]}"
        kwargs = {}
        if json_body is not None:
            kwargs["json"] = json_body
        elif data is not None:
            kwargs["data"] = data
            kwargs["content_type"] = "application/json"
        return self.client.open(API + path, method=method, headers=hdrs, **kwargs)


@pytest.fixture()
def world(db, ref):
    users = {
        "staff": make_user("staff", ref.huangyan),
        "staff2": make_user("staff", ref.huangyan),
        "manager": make_user("manager", ref.huangyan),
        "manager2": make_user("manager", ref.huangyan),
        "leader": make_user("leader", ref.huangyan),
        "lh_staff": make_user("staff", ref.linhai),
        "lh_manager": make_user("manager", ref.linhai),
        "city_manager": make_user("manager", ref.city),
        "admin": make_user("admin", ref.city),
    }
    own = make_project(unit=ref.huangyan, name="黄岩固态电池项目", stage="signed")
    other = make_project(unit=ref.linhai, name="临海新材料项目", stage="signed")
    tokens = {key: issue_token(user, "tests") for key, user in users.items()}
    # Commit (releases the test's savepoint) so the app's rollbacks on errors keep this data.
    db.session.commit()
    return {"users": users, "own": own, "other": other, "ref": ref, "tokens": tokens}


@pytest.fixture()
def api(client, world):
    return Api(client, world["tokens"])


def _error(resp, status):
    assert resp.status_code == status, resp.get_data(as_text=True)[:800]
    assert resp.is_json, resp.get_data(as_text=True)[:300]
    body = resp.get_json()
    assert body["error"]["code"] == status and body["error"]["message"]
    return body["error"]


def _new_project(**over):
    body = {
        "name": "中昊芯英AI算力产业基地",
        "investor": {"name": "中昊芯英（杭州）科技有限公司", "uscc": uscc(), "source_region": "江苏"},
        "industry": "新能源",
        "unit": "黄岩区",
        "contracted_investment": 500000,
        "signed_on": "2024-12-20",
    }
    body.update(over)
    return body


# --- Authentication ----------------------------------------------------------------------------


def test_no_token_is_401_with_bearer_challenge(api):
    resp = api("GET", "/projects")
    _error(resp, 401)
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", [
    "Bearer tzt_not-a-real-token", "Bearer ", "Basic dXNlcjpwYXNz", "tzt_x", "Bearer a b", "Bearer " + "x" * 5000,
])
def test_bad_tokens_are_401(api, header):
    resp = api("GET", "/projects", headers={"Authorization": header})
    _error(resp, 401)
    assert "Bearer" in resp.headers["WWW-Authenticate"]


def test_revoked_token_is_401(api, world, db):
    assert api("GET", "/projects", "staff").status_code == 200
    revoke_token(world["tokens"]["staff"][:12])
    db.session.commit()
    _error(api("GET", "/projects", "staff"), 401)
    assert api("GET", "/projects", "staff2").status_code == 200  # others unaffected


def test_deactivated_users_token_is_401(api, world, db):
    from tracker.auth.operations import set_active

    set_active(None, world["users"]["staff"], False)
    db.session.commit()
    _error(api("GET", "/projects", "staff"), 401)


def test_session_cookie_is_not_accepted(api, login_as, world):
    login_as(world["users"]["manager"])
    resp = api("GET", "/projects")
    _error(resp, 401)
    assert "Set-Cookie" not in resp.headers
    # The cookie still works on the screens, and the API keeps working with a token.
    assert api.client.get("/projects/").status_code == 200
    assert api("GET", "/projects", "manager").status_code == 200


def test_token_is_stored_hashed_and_use_is_recorded(api, world, db):
    secret = world["tokens"]["staff"]
    row = db.session.execute(select(ApiToken).where(ApiToken.token_hash == hash_token(secret))).scalar_one()
    assert secret not in (row.token_hash, row.prefix) and secret.startswith(row.prefix)
    assert row.last_used_at is None
    api("GET", "/projects", "staff")
    db.session.refresh(row)
    assert row.last_used_at is not None
    actions = db.session.execute(select(AuditEntry.action).where(AuditEntry.object_type == "api_token")).scalars().all()
    assert "api_token.create" in actions


def test_csrf_does_not_apply_to_the_token_api(api, app, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    resp = api("POST", "/projects", "staff", _new_project())
    assert resp.status_code == 201, resp.get_json()
    # …while the cookie-authenticated screens still demand the CSRF token.
    assert api.client.post("/projects/new", data={"name": "x"}).status_code in (302, 400)


def test_cli_issues_and_revokes_tokens(app, api, world, db):
    runner = app.test_cli_runner()
    user = world["users"]["leader"]
    result = runner.invoke(args=["users", "token", user.username, "--name", "OA"])
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip().splitlines()[0]
    assert secret.startswith("tzt_")
    ok = api("GET", "/projects", headers={"Authorization": f"Bearer {secret}"})
    assert ok.status_code == 200
    listing = runner.invoke(args=["users", "tokens", user.username])
    assert secret[:12] in listing.output
    result = runner.invoke(args=["users", "revoke-token", secret[:12]])
    assert result.exit_code == 0, result.output
    _error(api("GET", "/projects", headers={"Authorization": f"Bearer {secret}"}), 401)
    assert runner.invoke(args=["users", "token", "nobody-here"]).exit_code != 0
    assert runner.invoke(args=["users", "revoke-token", "tzt_zzzzzzzz"]).exit_code != 0


# --- Errors are JSON ----------------------------------------------------------------------------


def test_unknown_route_and_method_are_json(api):
    _error(api("GET", "/nothing-here", "staff"), 404)
    _error(api("DELETE", "/projects", "staff"), 405)
    _error(api("GET", "/projects/99999999999999999999", "staff"), 404)


def test_openapi_document_is_served(api):
    resp = api("GET", "/openapi.json")
    assert resp.status_code == 200
    doc = resp.get_json()
    assert doc["openapi"].startswith("3.")
    for path in ("/projects", "/projects/{project_id}", "/projects/{project_id}/stage-requests",
                 "/stage-requests/{request_id}/approve", "/stage-requests/{request_id}/reject",
                 "/projects/{project_id}/audit"):
        assert path in doc["paths"]
    create = doc["components"]["schemas"]["StageRequestCreate"]
    assert "registered" in create["properties"]["to_stage"]["enum"]
    assert {"company_uscc", "registered_capital", "annual_output"} <= set(create["properties"])


# --- Project list -------------------------------------------------------------------------------


def test_list_is_scoped_to_the_unit(api, world):
    names = [p["name"] for p in api("GET", "/projects", "staff").get_json()["items"]]
    assert "黄岩固态电池项目" in names and "临海新材料项目" not in names
    body = api("GET", "/projects", "city_manager").get_json()
    names = [p["name"] for p in body["items"]]
    assert {"黄岩固态电池项目", "临海新材料项目"} <= set(names)
    assert body["totals"]["count"] == body["total"] >= 2
    assert Decimal(body["totals"]["contracted_investment"]) >= Decimal(300000)


def test_list_filters_and_pagination(api, world):
    ref = world["ref"]
    for i in range(3):
        make_project(unit=ref.huangyan, name=f"分页项目{i}", stage="construction")
    from tracker.extensions import db

    db.session.commit()
    body = api("GET", "/projects?stage=construction&per_page=2", "manager").get_json()
    assert body["total"] == 3 and body["pages"] == 2 and len(body["items"]) == 2
    assert all(p["stage"] == "construction" for p in body["items"])
    page2 = api("GET", "/projects?stage=construction&per_page=2&page=2", "manager").get_json()
    assert len(page2["items"]) == 1 and page2["page"] == 2
    found = api("GET", "/projects?q=固态", "manager").get_json()
    assert [p["name"] for p in found["items"]] == ["黄岩固态电池项目"]
    sized = api("GET", "/projects?size=10&sort=name", "city_manager").get_json()
    assert sized["total"] >= 2


@pytest.mark.parametrize("query,field", [
    ("per_page=101", "per_page"), ("per_page=0", "per_page"), ("page=-1", "page"), ("page=1e309", "page"),
    ("stage=flying", "stage"), ("sort=drop+table", "sort"), ("year=1800", "year"), ("unit=abc", "unit"),
    ("bogus=1", "bogus"), ("q=" + "长" * 51, "q"),
])
def test_list_rejects_bad_parameters(api, query, field):
    err = _error(api("GET", f"/projects?{query}", "staff"), 422)
    assert field in err["fields"]


def test_list_roles(api):
    assert api("GET", "/projects", "leader").status_code == 200
    _error(api("GET", "/projects", "admin"), 403)
    _error(api("GET", "/projects?archived=1", "staff"), 403)
    assert api("GET", "/projects?archived=1", "manager").status_code == 200


# --- Create -------------------------------------------------------------------------------------


def test_create_with_chinese_reference_names(api, world, db):
    resp = api("POST", "/projects", "staff", _new_project())
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert resp.headers["Location"].endswith(f"/api/v1/projects/{body['id']}")
    assert body["stage"] == "signed" and body["version"] == 1
    assert body["industry"]["name"] == "新能源" and body["unit"]["name"] == "黄岩区"
    assert body["investor"]["source_region"]["name"] == "江苏"
    assert body["contracted_investment"] == "500000.00"
    assert body["owner"]["id"] == world["users"]["staff"].id  # staff own what they file
    assert body["milestones"][0]["stage"] == "signed"
    project = db.session.get(Project, body["id"])
    assert project.signed_on == date(2024, 12, 20) and project.created_by_id == world["users"]["staff"].id
    audit = db.session.execute(select(AuditEntry).where(AuditEntry.project_id == project.id)).scalars().all()
    assert any(e.action == "project.create" for e in audit)


def test_create_with_ids_and_optional_fields(api, world):
    ref = world["ref"]
    resp = api("POST", "/projects", "city_manager", _new_project(
        name="台州湾新材料产业园", industry=ref.industry2.id, unit=ref.linhai.id,
        investor={"name": "新投资方甲", "source_region": ref.region_local.id},
        contracted_investment="14800000", fixed_asset_investment=1200000.5, land_area_mu="1,200",
        expected_jobs=3000, is_provincial_major=True, content="一期", stage="negotiating", signed_on=None,
    ))
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["unit"]["name"] == "临海市" and body["industry"]["id"] == ref.industry2.id
    assert body["stage"] == "negotiating" and body["signed_on"] is None
    assert body["fixed_asset_investment"] == "1200000.50" and body["land_area_mu"] == "1200.00"
    assert body["is_provincial_major"] is True and body["expected_jobs"] == 3000


def test_existing_investor_is_reused_by_name(api, world):
    existing = world["own"].investor
    resp = api("POST", "/projects", "staff", _new_project(investor={"name": existing.name}))
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["investor"]["id"] == existing.id


@pytest.mark.parametrize("over,field", [
    ({"name": ""}, "name"),
    ({"name": "名" * 101}, "name"),
    ({"name": "x" * 2_000_000}, "name"),
    ({"industry": "不存在的产业"}, "industry"),
    ({"industry": "产" * 10_000}, "industry"),
    ({"industry": None}, "industry"),
    ({"industry": "新能\x00源x"}, "industry"),  # NUL must not reach PostgreSQL
    ({"investor": {"name": "公司", "source_region": "\x00"}}, "investor.source_region"),
    ({"industry": 987654}, "industry"),
    ({"unit": "临海市"}, "unit"),  # a county user cannot file for another county
    ({"unit": True}, "unit"),
    ({"investor": {"name": "全新公司"}}, "investor.source_region"),
    ({"investor": {"name": "全新公司", "source_region": "火星"}}, "investor.source_region"),
    ({"investor": {"name": "全新公司", "source_region": "江苏", "uscc": "91350100M000100Y44"}}, "investor.uscc"),
    ({"investor": "公司"}, "investor"),
    ({"investor": {"name": "公司", "extra": 1}}, "investor.extra"),
    ({"contracted_investment": "abc"}, "contracted_investment"),
    ({"contracted_investment": -5}, "contracted_investment"),
    ({"contracted_investment": 1.005}, "contracted_investment"),
    ({"contracted_investment": True}, "contracted_investment"),
    ({"contracted_investment": [1]}, "contracted_investment"),
    ({"contracted_investment": {"v": 1}}, "contracted_investment"),
    ({"contracted_investment": "1e309"}, "contracted_investment"),
    ({"contracted_investment": "NaN"}, "contracted_investment"),
    ({"contracted_investment": 10**40}, "contracted_investment"),
    ({"fixed_asset_investment": 600000}, "fixed_asset_investment"),  # more than the total
    ({"expected_jobs": 1.5}, "expected_jobs"),
    ({"expected_jobs": "many"}, "expected_jobs"),
    ({"signed_on": "2024-13-45"}, "signed_on"),
    ({"signed_on": "1066-10-14"}, "signed_on"),
    ({"signed_on": 20241220}, "signed_on"),
    ({"stage": "construction"}, "stage"),
    ({"is_yrd_major": "yes"}, "is_yrd_major"),
    ({"owner": "nobody"}, "owner"),
    ({"stage_id": 3}, "stage_id"),
    ({"unit_id": 3}, "unit_id"),
])
def test_create_validation_errors_are_422_with_fields(api, over, field):
    err = _error(api("POST", "/projects", "staff", _new_project(**over)), 422)
    assert field in err["fields"], err


@pytest.mark.parametrize("raw", [
    b"{not json", b"", b"[]", b'"a string"', b"null", b"\xff\xfe", b"[" * 100_000 + b"]" * 100_000,
    b'{"name": NaN}', b'{"contracted_investment": Infinity}', b'{"contracted_investment": -Infinity}',
    b'{"contracted_investment": 1e309}', b'{"contracted_investment": 1e999999999}',
    b'{"contracted_investment": ' + b"9" * 5000 + b"}",
    b'{"name": "\\ud800"}', b'{"investor": {"\\udfff": 1}}', b'{"a": [' * 900 + b"1" + b"]}" * 900,
])
def test_bad_json_is_422_never_500(api, raw):
    resp = api("POST", "/projects", "staff", data=raw)
    _error(resp, 422)


def test_oversized_body_is_413_json(api, app):
    too_big = b'{"name": "' + b"x" * (app.config["MAX_CONTENT_LENGTH"] + 10) + b'"}'
    _error(api("POST", "/projects", "staff", data=too_big), 413)


def test_nan_and_huge_numbers_in_a_valid_object(api):
    base = json.dumps(_new_project(), ensure_ascii=False)
    for literal in ("NaN", "1e309", "-1e309", "1E+400", "1e-400"):
        raw = base.replace('"contracted_investment": 500000', f'"contracted_investment": {literal}')
        err = _error(api("POST", "/projects", "staff", data=raw.encode()), 422)
        assert "contracted_investment" in err["fields"] or "body" in err["fields"], (literal, err)


def test_duplicate_name_is_422(api):
    err = _error(api("POST", "/projects", "staff", _new_project(name="黄岩固态电池项目")), 422)
    assert "name" in err["fields"]


def test_create_roles(api):
    _error(api("POST", "/projects", "leader", _new_project()), 403)
    _error(api("POST", "/projects", "admin", _new_project()), 403)


def test_nul_bytes_and_control_characters_are_cleaned(api):
    resp = api("POST", "/projects", "staff", _new_project(name="清陶\x00固态\x07锂电池", content="一期\x00年产"))
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["name"] == "清陶固态锂电池"


# --- Detail -------------------------------------------------------------------------------------


def test_detail_has_stage_version_and_milestones(api, world, db):
    p = world["own"]
    db.session.add(Milestone(project_id=p.id, stage="registered", planned_on=date(2024, 9, 1)))
    db.session.commit()
    body = api("GET", f"/projects/{p.id}", "leader").get_json()
    assert body["id"] == p.id and body["stage"] == "signed" and body["version"] == p.version_id
    ms = {m["stage"]: m for m in body["milestones"]}
    assert ms["registered"]["planned_on"] == "2024-09-01" and ms["registered"]["actual_on"] is None
    assert body["allowed_moves"] == []  # leaders cannot request changes
    staff_view = api("GET", f"/projects/{p.id}", "staff").get_json()
    assert "registered" in [m["to_stage"] for m in staff_view["allowed_moves"]]


def test_detail_scope_and_roles(api, world):
    other = world["other"]
    _error(api("GET", f"/projects/{other.id}", "staff"), 404)
    assert api("GET", f"/projects/{other.id}", "lh_staff").status_code == 200
    assert api("GET", f"/projects/{other.id}", "city_manager").status_code == 200
    _error(api("GET", "/projects/987654321", "city_manager"), 404)
    _error(api("GET", f"/projects/{other.id}", "admin"), 403)


# --- Patch --------------------------------------------------------------------------------------


def test_patch_changes_only_given_fields(api, world, db):
    p = world["own"]
    before = api("GET", f"/projects/{p.id}", "staff").get_json()
    resp = api("PATCH", f"/projects/{p.id}", "staff", {"version": before["version"], "content": "二期扩建",
                                                       "expected_jobs": 800})
    assert resp.status_code == 200, resp.get_json()
    after = resp.get_json()
    assert after["content"] == "二期扩建" and after["expected_jobs"] == 800
    assert after["version"] == before["version"] + 1
    for key in ("name", "industry", "unit", "signed_on", "contracted_investment", "investor", "owner"):
        assert after[key] == before[key], key
    entry = db.session.execute(select(AuditEntry).where(AuditEntry.project_id == p.id,
                                                        AuditEntry.action == "project.update")).scalar_one()
    assert set(entry.changes) == {"content", "expected_jobs"}


def test_patch_can_clear_optional_fields_and_change_reference_by_name(api, world):
    p = world["own"]
    v = api("GET", f"/projects/{p.id}", "manager").get_json()["version"]
    resp = api("PATCH", f"/projects/{p.id}", "manager", {"version": v, "industry": "低空经济", "content": None,
                                                         "platform": "黄岩经济开发区"})
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["industry"]["name"] == "低空经济" and body["content"] == ""
    assert body["platform"]["name"] == "黄岩经济开发区"


def test_patch_stale_version_is_409(api, world):
    p = world["own"]
    v = api("GET", f"/projects/{p.id}", "staff").get_json()["version"]
    assert api("PATCH", f"/projects/{p.id}", "staff", {"version": v, "content": "A"}).status_code == 200
    err = _error(api("PATCH", f"/projects/{p.id}", "staff2", {"version": v, "content": "B"}), 409)
    assert str(v + 1) in err["message"]
    assert api("GET", f"/projects/{p.id}", "staff").get_json()["content"] == "A"


@pytest.mark.parametrize("body,field", [
    ({"content": "x"}, "version"),
    ({"version": "1", "content": "x"}, "version"),
    ({"version": True}, "version"),
    ({"version": 1, "contracted_investment": "很多"}, "contracted_investment"),
    ({"version": 1, "name": None}, "name"),
    ({"version": 1, "stage": "completed"}, "stage"),  # the stage changes only via the workflow
    ({"version": 1, "unit": "临海市"}, "unit"),
    ({"version": 1, "investor": {"name": "另一家新公司"}}, "investor.source_region"),
    ({"version": 1, "investor": None}, "investor"),
])
def test_patch_validation(api, world, body, field):
    err = _error(api("PATCH", f"/projects/{world['own'].id}", "staff", body), 422)
    assert field in err["fields"], err


def test_patch_scope_roles_and_archived(api, world, db):
    own, other = world["own"], world["other"]
    _error(api("PATCH", f"/projects/{other.id}", "staff", {"version": 1, "content": "x"}), 404)
    _error(api("PATCH", f"/projects/{own.id}", "leader", {"version": 1, "content": "x"}), 403)
    own.is_archived = True
    db.session.commit()
    _error(api("PATCH", f"/projects/{own.id}", "manager", {"version": own.version_id, "content": "x"}), 409)


# --- Workflow -----------------------------------------------------------------------------------


def _register_request(api, project_id, who="staff", **over):
    body = {"to_stage": "registered", "actual_date": "2024-07-01", "company_uscc": uscc(),
            "registered_capital": 5000, "comment": "营业执照已领取"}
    body.update(over)
    return api("POST", f"/projects/{project_id}/stage-requests", who, body)


def test_request_approve_moves_the_project(api, world, db):
    p = world["own"]
    resp = _register_request(api, p.id)
    assert resp.status_code == 201, resp.get_json()
    req = resp.get_json()
    assert req["status"] == "pending" and req["to_stage"] == "registered" and req["from_stage"] == "signed"
    assert resp.headers["Location"].endswith(f"/api/v1/stage-requests/{req['id']}")
    detail = api("GET", f"/projects/{p.id}", "staff").get_json()
    assert detail["stage"] == "signed" and detail["pending_request"]["id"] == req["id"]
    assert api("GET", f"/stage-requests/{req['id']}", "leader").get_json()["status"] == "pending"

    resp = api("POST", f"/stage-requests/{req['id']}/approve", "manager", {"comment": "同意"})
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["status"] == "approved" and resp.get_json()["decided_by"]["id"] == world["users"]["manager"].id
    detail = api("GET", f"/projects/{p.id}", "staff").get_json()
    assert detail["stage"] == "registered" and detail["registered_capital"] == "5000.00"
    assert {m["stage"]: m["actual_on"] for m in detail["milestones"]}["registered"] == "2024-07-01"


def test_double_decision_is_409(api, world):
    req = _register_request(api, world["own"].id).get_json()
    assert api("POST", f"/stage-requests/{req['id']}/approve", "manager").status_code == 200
    _error(api("POST", f"/stage-requests/{req['id']}/approve", "manager2"), 409)
    _error(api("POST", f"/stage-requests/{req['id']}/reject", "manager2", {"comment": "晚了"}), 409)


def test_only_the_requester_withdraws_and_only_while_pending(api, world, db):
    req = _register_request(api, world["own"].id).get_json()
    _error(api("POST", f"/stage-requests/{req['id']}/withdraw", "manager"), 403)
    resp = api("POST", f"/stage-requests/{req['id']}/withdraw", "staff")
    assert resp.status_code == 200 and resp.get_json()["status"] == "withdrawn"
    _error(api("POST", f"/stage-requests/{req['id']}/withdraw", "staff"), 409)
    _error(api("POST", f"/stage-requests/{req['id']}/approve", "manager"), 409)
    assert api("GET", f"/projects/{world['own'].id}", "staff").get_json()["stage"] == "signed"


def test_self_approval_is_403(api, world):
    req = _register_request(api, world["own"].id, who="manager").get_json()
    _error(api("POST", f"/stage-requests/{req['id']}/approve", "manager"), 403)
    _error(api("POST", f"/stage-requests/{req['id']}/approve", "staff"), 403)
    _error(api("POST", f"/stage-requests/{req['id']}/approve", "leader"), 403)
    assert api("POST", f"/stage-requests/{req['id']}/approve", "manager2").status_code == 200


def test_reject_needs_a_comment(api, world, db):
    req = _register_request(api, world["own"].id).get_json()
    err = _error(api("POST", f"/stage-requests/{req['id']}/reject", "manager", {}), 422)
    assert "comment" in err["fields"]
    _error(api("POST", f"/stage-requests/{req['id']}/reject", "manager", {"comment": 5}), 422)
    resp = api("POST", f"/stage-requests/{req['id']}/reject", "manager", {"comment": "执照复印件不清晰"})
    assert resp.status_code == 200 and resp.get_json()["status"] == "rejected"
    assert resp.get_json()["decision_comment"] == "执照复印件不清晰"
    assert db.session.get(Project, world["own"].id).stage == "signed"


def test_decisions_out_of_scope_or_unknown_are_404(api, world):
    req = _register_request(api, world["own"].id).get_json()
    _error(api("POST", f"/stage-requests/{req['id']}/approve", "lh_manager"), 404)
    _error(api("GET", f"/stage-requests/{req['id']}", "lh_staff"), 404)
    _error(api("POST", "/stage-requests/987654/approve", "manager"), 404)
    _error(api("POST", "/stage-requests/99999999999999/reject", "manager", {"comment": "x"}), 404)
    _error(api("GET", "/stage-requests/987654", "manager"), 404)
    assert api("POST", f"/stage-requests/{req['id']}/approve", "city_manager").status_code == 200


def test_stage_request_errors(api, world):
    pid = world["own"].id
    err = _error(_register_request(api, pid, company_uscc="91350100M000100Y44", registered_capital=None,
                                   actual_date="2999-01-01"), 422)
    assert {"company_uscc", "registered_capital", "actual_date"} <= set(err["fields"])
    err = _error(_register_request(api, pid, to_stage="full_capacity"), 422)  # skip needs a reason …
    assert {"reason", "annual_output"} <= set(err["fields"])
    assert "to_stage" in _error(_register_request(api, pid, to_stage="moon"), 422)["fields"]
    assert "to_stage" in _error(_register_request(api, pid, to_stage=7), 422)["fields"]
    assert "registered_capital" in _error(_register_request(api, pid, registered_capital=float("1e300")), 422)["fields"]
    assert "registered_capital" in _error(_register_request(api, pid, registered_capital=[1]), 422)["fields"]
    assert "values" in _error(_register_request(api, pid, values={"a": 1}), 422)["fields"]
    _error(api("POST", f"/projects/{pid}/stage-requests", "staff", data=b'{"to_stage": NaN}'), 422)
    assert _register_request(api, pid).status_code == 201
    _error(_register_request(api, pid), 409)  # one pending request per project
    _error(_register_request(api, pid, who="leader"), 403)
    _error(_register_request(api, world["other"].id), 404)


def test_skip_with_reason_and_pause(api, world):
    ref = world["ref"]
    from tracker.extensions import db

    p = make_project(unit=ref.huangyan, name="租赁厂房项目", stage="registered")
    db.session.commit()
    resp = _register_request(api, p.id, to_stage="construction", construction_permit_no="330000202401010101",
                             reason="租赁标准厂房，无需供地", company_uscc=None, registered_capital=None)
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["kind"] == "skip" and resp.get_json()["reason"] == "租赁标准厂房，无需供地"
    assert api("POST", f"/stage-requests/{resp.get_json()['id']}/approve", "manager").status_code == 200
    resp = _register_request(api, p.id, to_stage="paused", reason="资金未到位", expected_resume_on="2030-01-01",
                             company_uscc=None, registered_capital=None)
    assert resp.status_code == 201, resp.get_json()


# --- Audit --------------------------------------------------------------------------------------


def test_audit_newest_first_and_paginated(api, world):
    p = world["own"]
    req = _register_request(api, p.id).get_json()
    api("POST", f"/stage-requests/{req['id']}/approve", "manager")
    body = api("GET", f"/projects/{p.id}/audit", "leader").get_json()
    ids = [e["id"] for e in body["items"]]
    assert ids == sorted(ids, reverse=True) and body["total"] >= 3
    assert body["items"][0]["action"] == "project.stage"
    assert body["items"][0]["changes"]["stage"] == ["signed", "registered"]
    first = api("GET", f"/projects/{p.id}/audit?per_page=1", "leader").get_json()
    assert len(first["items"]) == 1 and first["pages"] == body["total"]
    second = api("GET", f"/projects/{p.id}/audit?per_page=1&page=2", "leader").get_json()
    assert second["items"][0]["id"] == ids[1]
    _error(api("GET", f"/projects/{world['other'].id}/audit", "staff"), 404)
    _error(api("GET", f"/projects/{p.id}/audit?per_page=500", "staff"), 422)
    _error(api("GET", f"/projects/{p.id}/audit", "admin"), 403)


def test_everything_was_one_transaction_per_request(api, world, db):
    """A failed request leaves nothing behind (no half-created investor)."""
    from tracker.projects.models import Investor

    before = db.session.execute(select(Investor.id)).scalars().all()
    _error(api("POST", "/projects", "staff", _new_project(name="黄岩固态电池项目",
                                                          investor={"name": "半途公司", "source_region": "江苏"})), 422)
    assert db.session.execute(select(Investor.id)).scalars().all() == before
    assert db.session.execute(select(StageRequest)).first() is None


# --- Ceremonies (issue 4) -------------------------------------------------------------------------


def _ceremony(api, who="manager", **over):
    body = {"name": "台州市2024(第四季)重大招商项目签约仪式", "date": "2024-12-20", "venue": "台州市行政中心",
            "unit": "黄岩区"}
    body.update(over)
    return api("POST", "/ceremonies", who, body)


def test_create_ceremony_and_set_its_projects(api, world, db):
    ref = world["ref"]
    resp = _ceremony(api)
    assert resp.status_code == 201, resp.get_json()
    c = resp.get_json()
    assert c["unit"]["name"] == "黄岩区" and c["date"] == "2024-12-20" and c["projects"] == []
    assert resp.headers["Location"].endswith(f"/api/v1/ceremonies/{c['id']}")
    p2 = make_project(unit=ref.huangyan, name="蜂巢无人机项目")
    db.session.commit()
    order = [p2.id, world["own"].id]
    resp = api("PUT", f"/ceremonies/{c['id']}/projects", "manager", order)
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert [p["project_id"] for p in body["projects"]] == order
    assert [p["position"] for p in body["projects"]] == [1, 2]
    # Reorder with the version; a stale version is a conflict.
    resp = api("PUT", f"/ceremonies/{c['id']}/projects", "manager",
               {"project_ids": order[::-1], "version": body["version"]})
    assert resp.status_code == 200, resp.get_json()
    assert [p["project_id"] for p in resp.get_json()["projects"]] == order[::-1]
    _error(api("PUT", f"/ceremonies/{c['id']}/projects", "manager", {"project_ids": order, "version": body["version"]}),
           409)
    got = api("GET", f"/ceremonies/{c['id']}", "leader").get_json()
    assert [p["name"] for p in got["projects"]] == ["黄岩固态电池项目", "蜂巢无人机项目"]


def test_ceremony_errors(api, world):
    c = _ceremony(api).get_json()
    other = world["other"].id
    err = _error(api("PUT", f"/ceremonies/{c['id']}/projects", "manager", [other]), 422)  # out of scope
    assert str(other) in err["fields"]["project_ids"]
    for bad in (["1"], [True], "1,2", {"ids": [1]}, {"project_ids": [1], "version": "2"}, [1, 1], [10**30], [2**31], [-1],
                [987654], [1.5], [None]):
        _error(api("PUT", f"/ceremonies/{c['id']}/projects", "manager", bad), 422)
    _error(api("PUT", f"/ceremonies/{c['id']}/projects", "staff", []), 403)
    _error(api("PUT", f"/ceremonies/{c['id']}/projects", "lh_manager", []), 404)
    _error(api("PUT", "/ceremonies/987654/projects", "manager", []), 404)
    _error(api("GET", f"/ceremonies/{c['id']}", "lh_staff"), 404)
    assert "name" in _error(_ceremony(api), 422)["fields"]  # duplicate name
    assert "unit" in _error(_ceremony(api, name="临海签约会", unit="临海市"), 422)["fields"]
    assert "date" in _error(_ceremony(api, name="无日期", date="2024-02-30"), 422)["fields"]
    assert "date" in _error(_ceremony(api, name="无日期2", date=None), 422)["fields"]
    assert "name" in _error(_ceremony(api, name="  "), 422)["fields"]
    assert "name" in _error(_ceremony(api, name="名" * 121), 422)["fields"]
    assert "held_on" in _error(_ceremony(api, name="错字段", held_on="2024-12-20"), 422)["fields"]
    _error(_ceremony(api, who="staff", name="专员不能办"), 403)
    city = _ceremony(api, who="city_manager", name="2023上海·台州周", unit=None, date="2023-07-04")
    assert city.status_code == 201 and city.get_json()["unit"]["name"] == "台州市投资促进中心"
