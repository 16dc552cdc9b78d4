"""Pages of records created the way users create them (not only seeded ones) must open.

Seeded rows and factory rows are shaped by code; users' rows are shaped by forms and the
API, whose audit entries differ (a create records bare values, an update before/after
pairs). Every page below is opened after a create through the screen or the API.
"""
from __future__ import annotations

from sqlalchemy import select

from tests.factories import make_user, uscc
from tests.test_api import Api, _new_project
from tests.test_projects import form_data as project_form
from tracker.api.auth import issue_token
from tracker.projects.models import Investor, Project


def _ok(client, path):
    resp = client.get(path)
    assert resp.status_code == 200, (path, resp.status_code, resp.get_data(as_text=True)[:500])
    return resp.get_data(as_text=True)


def test_investor_created_on_its_own_screen_opens(client, ref, login_as, db):
    login_as(make_user("staff", ref.huangyan))
    code = uscc()
    resp = client.post("/investors/new", data={
        "name": "浙江清陶新能源有限公司", "uscc": code, "source_region_id": ref.region.id,
        "country": "", "unit_id": ref.huangyan.id, "introduction": "固态锂电池。",
    })
    assert resp.status_code == 302
    investor = db.session.execute(select(Investor).where(Investor.uscc == code)).scalar_one()
    page = _ok(client, f"/investors/{investor.id}")
    assert "浙江清陶新能源有限公司" in page
    assert ref.region.name in page  # the region id in the history is shown by name
    _ok(client, f"/investors/{investor.id}/edit")


def test_investor_created_with_a_project_opens(client, ref, login_as, db):
    login_as(make_user("staff", ref.huangyan))
    resp = client.post("/projects/new", data=project_form(ref, investor_uscc=uscc()))
    assert resp.status_code == 302
    project = db.session.execute(select(Project).where(Project.name == "台州测试新能源项目")).scalar_one()
    for path in (f"/projects/{project.id}", f"/projects/{project.id}/edit", f"/projects/{project.id}/brief",
                 f"/investors/{project.investor_id}", f"/investors/{project.investor_id}/edit"):
        _ok(client, path)


def test_records_created_over_the_api_open_on_screen(client, ref, db, login_as):
    user = make_user("staff", ref.huangyan)
    token = issue_token(user, "tests")
    db.session.commit()
    api = Api(client, {"staff": token})
    resp = api("POST", "/projects", "staff", _new_project())
    assert resp.status_code == 201, resp.get_data(as_text=True)
    project_id = resp.get_json()["id"]
    project = db.session.get(Project, project_id)
    login_as(user)
    _ok(client, f"/projects/{project_id}")
    _ok(client, f"/investors/{project.investor_id}")
