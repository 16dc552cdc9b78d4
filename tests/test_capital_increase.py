"""增资 links (issue 10 item 4): a project that adds capital to an earlier project of the same
unit names it on the project form (or the API); the link is validated, audited and shown on
both project pages."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from tests.factories import make_project, make_user
from tests.test_api import _error, _new_project, api, world  # noqa: F401 (fixtures used by name)
from tests.test_projects import form_data
from tracker.audit.models import AuditEntry
from tracker.projects.models import Project
from tracker.projects.operations import FieldErrors, create_project


@pytest.fixture()
def staff(db, ref):
    return make_user("staff", ref.huangyan)


@pytest.fixture()
def original(db, ref):
    return make_project(unit=ref.huangyan, name="吉利汽车台州基地", signed_on=date(2020, 5, 1),
                        contracted_investment=Decimal("500000"))


def _saved(db, name):
    db.session.expire_all()
    return db.session.execute(select(Project).where(Project.name == name)).scalar_one_or_none()


def _entry(db, project_id, action):
    return db.session.execute(select(AuditEntry).where(AuditEntry.project_id == project_id,
                                                       AuditEntry.action == action)
                              .order_by(AuditEntry.id.desc()).limit(1)).scalar_one()


def _edit_data(ref, project, **over):
    data = form_data(ref, name=project.name, investor_name=project.investor.name,
                     contracted_investment=str(project.contracted_investment),
                     signed_on=project.signed_on.isoformat(), version=str(project.version_id), **over)
    data.pop("stage")
    data.pop("funds_in_place")
    return data


def test_create_an_increase_and_see_both_pages(client, login_as, staff, ref, db, original):
    login_as(staff)
    resp = client.post("/projects/new", data=form_data(ref, name="吉利汽车台州基地二期增资",
                                                       increase_of="  吉利汽车台州基地 "))
    assert resp.status_code == 302, resp.get_data(as_text=True)[:1500]
    increase = _saved(db, "吉利汽车台州基地二期增资")
    assert increase.increase_of_id == original.id
    assert _entry(db, increase.id, "project.create").changes["increase_of"] == "吉利汽车台州基地"

    page = client.get(f"/projects/{increase.id}").get_data(as_text=True)
    assert "增资项目，原项目：" in page and f'href="/projects/{original.id}"' in page
    page = client.get(f"/projects/{original.id}").get_data(as_text=True)
    assert "吉利汽车台州基地二期增资" in page and f'href="/projects/{increase.id}"' in page
    # The edit form shows the link by name.
    page = client.get(f"/projects/{increase.id}/edit").get_data(as_text=True)
    assert 'name="increase_of"' in page and 'value="吉利汽车台州基地"' in page


def test_name_is_matched_without_case(db, staff, ref):
    make_project(unit=ref.huangyan, name="ABC Robotics", signed_on=date(2021, 1, 1))
    values = {"name": "ABC 二期", "unit_id": ref.huangyan.id, "industry_id": ref.industry.id,
              "signed_on": date(2024, 1, 1), "contracted_investment": Decimal("1000"), "increase_of": "abc robotics"}
    project = create_project(staff, values, {"name": "某公司", "uscc": None, "source_region_id": ref.region.id,
                                             "country": None}, "signed")
    assert project.increase_of_id is not None


@pytest.mark.parametrize("case,message", [
    ("missing", "所选落户地没有名为"),
    ("other_unit", "所选落户地没有名为"),
    ("an_increase", "本身是增资项目"),
    ("archived", "已归档"),
    ("signed_later", "晚于本项目"),
])
def test_create_validation(client, login_as, staff, ref, db, original, case, message):
    name = {"missing": "不存在的项目", "other_unit": "临海化工项目", "an_increase": "吉利一期增资",
            "archived": "已归档的项目", "signed_later": "后签约的项目"}[case]
    make_project(unit=ref.linhai, name="临海化工项目", signed_on=date(2019, 1, 1))
    make_project(unit=ref.huangyan, name="吉利一期增资", signed_on=date(2021, 1, 1), increase_of_id=original.id)
    make_project(unit=ref.huangyan, name="已归档的项目", signed_on=date(2019, 1, 1), is_archived=True)
    make_project(unit=ref.huangyan, name="后签约的项目", signed_on=date(2025, 1, 1))
    login_as(staff)
    resp = client.post("/projects/new", data=form_data(ref, name="新增资项目", increase_of=name))
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert message in page and f'value="{name}"' in page  # the input is kept
    assert _saved(db, "新增资项目") is None


def test_other_units_project_is_not_revealed_even_to_the_city(client, login_as, ref, db):
    """The original must be in the project's own unit: a city user filing under 黄岩 cannot
    link to a 临海 project."""
    make_project(unit=ref.linhai, name="临海化工项目", signed_on=date(2019, 1, 1))
    login_as(make_user("staff", ref.city))
    resp = client.post("/projects/new", data=form_data(ref, name="新增资项目", increase_of="临海化工项目"))
    assert resp.status_code == 422 and "所选落户地没有名为" in resp.get_data(as_text=True)


def test_edit_sets_changes_and_clears_the_link(client, login_as, staff, ref, db, original):
    project = make_project(unit=ref.huangyan, name="吉利三期", signed_on=date(2024, 6, 1))
    login_as(staff)
    resp = client.post(f"/projects/{project.id}/edit", data=_edit_data(ref, project, increase_of="吉利汽车台州基地"))
    assert resp.status_code == 302, resp.get_data(as_text=True)[:1500]
    project = _saved(db, "吉利三期")
    assert project.increase_of_id == original.id
    assert _entry(db, project.id, "project.update").changes["increase_of"] == [None, "吉利汽车台州基地"]

    resp = client.post(f"/projects/{project.id}/edit", data=_edit_data(ref, project, increase_of=""))
    assert resp.status_code == 302
    project = _saved(db, "吉利三期")
    assert project.increase_of_id is None
    assert _entry(db, project.id, "project.update").changes["increase_of"] == ["吉利汽车台州基地", None]


def test_edit_refuses_itself_and_an_original_becoming_an_increase(client, login_as, staff, ref, db, original):
    make_project(unit=ref.huangyan, name="吉利二期", signed_on=date(2022, 1, 1), increase_of_id=original.id)
    earlier = make_project(unit=ref.huangyan, name="更早的项目", signed_on=date(2018, 1, 1))
    login_as(staff)
    resp = client.post(f"/projects/{original.id}/edit", data=_edit_data(ref, original, increase_of="吉利汽车台州基地"))
    assert resp.status_code == 422 and "原项目不能是本项目" in resp.get_data(as_text=True)
    resp = client.post(f"/projects/{original.id}/edit", data=_edit_data(ref, original, increase_of=earlier.name))
    assert resp.status_code == 422 and "不能再作为其他项目的增资" in resp.get_data(as_text=True)
    assert _saved(db, "吉利汽车台州基地").increase_of_id is None


def test_moving_an_increase_to_another_unit_rechecks_the_link(client, login_as, ref, db, original):
    increase = make_project(unit=ref.huangyan, name="吉利二期", signed_on=date(2022, 1, 1), increase_of_id=original.id)
    login_as(make_user("manager", ref.city))
    data = _edit_data(ref, increase, unit_id=ref.linhai.id, increase_of=original.name)
    resp = client.post(f"/projects/{increase.id}/edit", data=data)
    assert resp.status_code == 422 and "所选落户地没有名为" in resp.get_data(as_text=True)


def test_leader_sees_the_links(client, login_as, ref, db, original):
    increase = make_project(unit=ref.huangyan, name="吉利二期", signed_on=date(2022, 1, 1), increase_of_id=original.id)
    login_as(make_user("leader", ref.huangyan))
    page = client.get(f"/projects/{increase.id}").get_data(as_text=True)
    assert "增资项目，原项目：" in page and "吉利汽车台州基地" in page


# --- The API -----------------------------------------------------------------------------------


def test_api_create_and_patch_the_link(request, db, ref):
    call = request.getfixturevalue("api")
    own = request.getfixturevalue("world")["own"]  # 黄岩固态电池项目, signed 2024-06-01
    resp = call("POST", "/projects", "staff", _new_project(increase_of=own.name, signed_on="2025-01-10"))
    assert resp.status_code == 201, resp.get_data(as_text=True)[:800]
    body = resp.get_json()
    pid = body["id"]
    assert _saved(db, body["name"]).increase_of_id == own.id
    # A PATCH that leaves increase_of out keeps the link; null removes it.
    resp = call("PATCH", f"/projects/{pid}", "staff", {"version": body["version"], "content": "二期"})
    assert resp.status_code == 200
    assert _saved(db, body["name"]).increase_of_id == own.id
    resp = call("PATCH", f"/projects/{pid}", "staff", {"version": resp.get_json()["version"], "increase_of": None})
    assert resp.status_code == 200
    assert _saved(db, body["name"]).increase_of_id is None
    err = _error(call("PATCH", f"/projects/{pid}", "staff",
                      {"version": resp.get_json()["version"], "increase_of": "临海新材料项目"}), 422)
    assert "increase_of" in str(err)


def test_operation_refuses_a_name_out_of_scope(db, ref):
    make_project(unit=ref.linhai, name="临海化工项目", signed_on=date(2019, 1, 1))
    county = make_user("staff", ref.huangyan)
    values = {"name": "黄岩新项目", "unit_id": ref.linhai.id, "industry_id": ref.industry.id,
              "signed_on": date(2024, 1, 1), "contracted_investment": Decimal("1000"), "increase_of": "临海化工项目"}
    with pytest.raises(FieldErrors) as err:
        create_project(county, values, {"name": "某公司", "uscc": None, "source_region_id": ref.region.id,
                                        "country": None}, "signed")
    assert "increase_of" in err.value.errors or "unit_id" in err.value.errors
