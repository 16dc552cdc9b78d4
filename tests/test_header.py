"""The header (navigation and user menu) is kept as HTML until the data changes
(workflow.nav_counts.header_nav): each person still sees their own name, rights, badges,
current section and CSRF token, and a change shows at once."""
from __future__ import annotations

import re

import pytest

from tests.factories import make_project, make_user, sign_in
from tracker.auth import operations as users
from tracker.workflow import operations as wf


@pytest.fixture()
def people(db, ref):
    return {
        "staff": make_user("staff", ref.huangyan, display_name="黄岩专员"),
        "staff2": make_user("staff", ref.huangyan, display_name="黄岩专员乙"),
        "manager": make_user("manager", ref.huangyan, display_name="黄岩科长"),
        "admin": make_user("admin", ref.city, display_name="系统管理员"),
    }


def header(client, path="/projects/") -> str:
    resp = client.get(path)
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    return html[html.index('<header class="topbar">'):html.index("</header>")]


def logout_token(html: str) -> str:
    form = html[html.index('action="/logout"'):]
    return re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)


def test_each_person_sees_their_own_header_and_token(app, client, login_as, db, people):
    login_as(people["staff"])
    first = header(client)
    other = app.test_client()  # another browser (its own session, so its own CSRF token)
    sign_in(other, people["staff2"])
    db.session.commit()
    second = header(other)
    client = other
    assert "黄岩专员乙" not in first and "黄岩专员" in first
    assert "黄岩专员乙" in second
    assert logout_token(first) != logout_token(second)
    assert "csrf-" not in second  # the placeholder never reaches a page
    # The token in the kept header is the viewer's own: logging out with it works.
    assert client.post("/logout", data={"csrf_token": logout_token(second)}).status_code == 302
    assert client.get("/projects/").status_code == 302  # signed out


def test_section_and_rights_follow_the_screen_and_the_person(client, login_as, people):
    login_as(people["staff"])
    projects, investors = header(client, "/projects/"), header(client, "/investors/")
    assert re.search(r'class="active">项目<', projects) and not re.search(r'class="active">投资方<', projects)
    assert re.search(r'class="active">投资方<', investors)
    assert "待我审批" not in projects  # staff decide nothing
    login_as(people["manager"])
    assert "待我审批" in header(client, "/projects/")  # same screen, another person's rights


def test_a_change_to_the_person_shows_at_once(client, login_as, db, people, ref):
    login_as(people["staff"])
    assert "黄岩专员" in header(client)
    users.update_user(people["admin"], people["staff"], display_name="黄岩招商专员", role="staff", unit=ref.huangyan)
    db.session.commit()
    assert "黄岩招商专员" in header(client)


def test_badges_follow_requests_and_reading(client, login_as, db, people):
    project = make_project(stage="completed", owner=people["staff"])
    login_as(people["manager"])
    assert '<span class="count">' not in header(client)
    req = wf.request_move(people["staff"], project, to_stage="production", actual_date="2024-07-01")
    db.session.commit()
    assert re.search(r'待我审批 <span class="count">1<', header(client))
    wf.reject(people["manager"], req.id, comment="材料不全")
    db.session.commit()
    assert '<span class="count">' not in header(client)
    login_as(people["staff"])
    assert re.search(r'消息 <span class="count">1<', header(client))
    # Reading a message writes no audit entry (the data version stays): the header follows.
    wf.mark_read(people["staff"])
    db.session.commit()
    assert '<span class="count">' not in header(client)


def test_a_change_made_without_an_audit_entry_shows_too(client, login_as, db, people):
    from sqlalchemy import update

    from tracker.auth.models import User

    login_as(people["staff"])
    assert "黄岩专员" in header(client)
    db.session.execute(update(User).where(User.id == people["staff"].id).values(display_name="改名专员"))
    db.session.commit()  # no audit entry: the data version stays, the key changes
    assert "改名专员" in header(client)


def test_one_person_on_two_browsers_gets_each_browser_s_token(app, client, login_as, db, people):
    """The header is kept per person, not per browser: its logout form must still carry the
    token of the browser that asks (Flask-WTF puts its own ``csrf_token`` in every
    template's context; the kept parts' placeholder-aware one must win there too)."""
    login_as(people["staff"])
    first = header(client)
    other = app.test_client()
    sign_in(other, people["staff"])
    db.session.commit()
    page = other.get("/projects/").get_data(as_text=True)
    tokens = set(re.findall(r'name="csrf_token" value="([^"]+)"', page))
    assert len(tokens) == 1 and logout_token(first) not in tokens  # this browser's own, everywhere
    assert other.post("/logout", data={"csrf_token": tokens.pop()}).status_code == 302
