"""Ceremonies are visible to the units in them (issue 9, item 2).

A county's project signed at a city-hosted ceremony: the county's staff find that ceremony in
their list and open it (before, the project page's link answered 404 and the tab said 共 0
场). They see their own projects in full (link, investor, signatories, brief PDF) and the
other units' projects as position, name, unit and amount only; managing stays with the host
(403), the whole booklet and order sheet need every project in scope (button hidden, 403, and
the queued job re-checks). A ceremony without any of their projects stays 404.
"""
from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest

from tests.factories import make_project, make_user
from tracker.api.auth import issue_token
from tracker.briefs import jobs as brief_jobs
from tracker.ceremonies.operations import add_project, create_ceremony
from tracker.jobs.worker import JobError


@pytest.fixture()
def setup(db, ref):
    city_manager = make_user("manager", ref.city)
    mine = make_project(unit=ref.huangyan, name="黄岩固态电池项目")
    theirs = make_project(unit=ref.linhai, name="临海新材料项目")
    ceremony = create_ceremony(city_manager, name="全市重大项目集中签约仪式", held_on=date(2024, 12, 20),
                               unit=ref.city)
    add_project(city_manager, ceremony, mine, signatory_local="黄岩区区长", signatory_investor="张总")
    add_project(city_manager, ceremony, theirs, signatory_local="临海市市长", signatory_investor="李总")
    elsewhere = create_ceremony(city_manager, name="临海专场签约仪式", held_on=date(2024, 12, 22), unit=ref.linhai)
    add_project(city_manager, elsewhere, make_project(unit=ref.linhai, name="临海另一项目"))
    db.session.flush()
    return SimpleNamespace(city_manager=city_manager, mine=mine, theirs=theirs, ceremony=ceremony,
                           elsewhere=elsewhere, staff=make_user("staff", ref.huangyan),
                           manager=make_user("manager", ref.huangyan))


def test_the_county_finds_the_city_ceremony_of_its_project(client, login_as, setup):
    login_as(setup.staff)
    listing = client.get("/ceremonies/").get_data(as_text=True)
    assert "共 1 场" in listing
    assert f'href="/ceremonies/{setup.ceremony.id}"' in listing
    assert f'href="/ceremonies/{setup.elsewhere.id}"' not in listing
    project_page = client.get(f"/projects/{setup.mine.id}").get_data(as_text=True)
    assert f'href="/ceremonies/{setup.ceremony.id}"' in project_page
    assert client.get(f"/ceremonies/{setup.ceremony.id}").status_code == 200


def test_other_units_projects_show_name_and_amount_only(client, login_as, setup):
    login_as(setup.staff)
    page = client.get(f"/ceremonies/{setup.ceremony.id}").get_data(as_text=True)
    # Own project: in full, with its brief.
    assert f'href="/projects/{setup.mine.id}"' in page
    assert f'href="/projects/{setup.mine.id}/brief.pdf"' in page
    assert setup.mine.investor.name in page and "黄岩区区长" in page
    # The other unit's project: named, with its amount, nothing else.
    assert setup.theirs.name in page
    assert f'href="/projects/{setup.theirs.id}' not in page
    assert setup.theirs.investor.name not in page
    assert "临海市市长" not in page and "李总" not in page
    # Neither the whole booklet nor the order sheet (they print the other projects in full).
    assert f"/ceremonies/{setup.ceremony.id}/booklet" not in page
    assert f"/ceremonies/{setup.ceremony.id}/order-sheet" not in page


def test_the_city_still_sees_everything_and_prints_the_booklet(client, login_as, setup):
    login_as(setup.city_manager)
    page = client.get(f"/ceremonies/{setup.ceremony.id}").get_data(as_text=True)
    assert f'href="/projects/{setup.theirs.id}"' in page and "临海市市长" in page
    assert f"/ceremonies/{setup.ceremony.id}/booklet" in page


@pytest.mark.parametrize("method,path", [
    ("GET", "/edit"), ("POST", "/order"), ("POST", "/delete"), ("POST", "/projects"),
    ("POST", "/booklet"), ("POST", "/order-sheet"),
])
def test_the_county_cannot_manage_or_print_it_whole(client, login_as, setup, method, path):
    login_as(setup.manager)  # even a county manager: the city hosts it
    assert client.open(f"/ceremonies/{setup.ceremony.id}{path}", method=method).status_code == 403


def test_a_ceremony_without_their_projects_stays_hidden(client, login_as, setup):
    login_as(setup.staff)
    assert client.get(f"/ceremonies/{setup.elsewhere.id}").status_code == 404
    assert client.post(f"/ceremonies/{setup.elsewhere.id}/booklet").status_code == 404


def test_the_api_answers_like_the_screens(client, setup, db):
    token = issue_token(setup.staff, "tests")
    db.session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    resp = client.get(f"/api/v1/ceremonies/{setup.ceremony.id}", headers=headers)
    assert resp.status_code == 200 and resp.get_json()["name"] == "全市重大项目集中签约仪式"
    projects = {p["name"]: p for p in resp.get_json()["projects"]}
    assert projects["黄岩固态电池项目"]["signatory_local"] == "黄岩区区长"
    theirs = projects["临海新材料项目"]  # name and amount only, as on the page
    assert theirs["contracted_investment"] and not (theirs["investor"] or theirs["signatory_local"]
                                                    or theirs["signatory_investor"])
    assert client.get(f"/api/v1/ceremonies/{setup.elsewhere.id}", headers=headers).status_code == 404


def test_a_queued_booklet_rechecks_with_the_same_rule(setup):
    def job(user, ceremony):
        return SimpleNamespace(params={"ceremony_id": ceremony.id}, user=user)

    assert brief_jobs._ceremony(job(setup.city_manager, setup.ceremony)) is setup.ceremony
    for ceremony in (setup.ceremony, setup.elsewhere):  # not every project is theirs / not theirs at all
        with pytest.raises(JobError):
            brief_jobs._ceremony(job(setup.staff, ceremony))
