"""Logout ends that browser's session on the server: a copy of its cookie replayed later is
refused, while the same user's other browsers stay signed in."""
from __future__ import annotations

from tests.factories import PASSWORD, make_user
from tests.test_admin import _fresh_requests


def _browser(app, db):
    return _fresh_requests(app.test_client(), db)


def _sign_in(browser, username):
    resp = browser.post("/login", data={"username": username, "password": PASSWORD})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]


def _session_cookie(browser) -> str:
    cookie = browser.get_cookie("session", domain="tracker.test")
    assert cookie is not None
    return cookie.value


def test_replayed_cookie_after_logout_is_refused(app, db, ref):
    make_user("staff", ref.huangyan, username="replay")
    browser = _browser(app, db)
    _sign_in(browser, "replay")
    assert browser.get("/projects/").status_code == 200
    stolen = _session_cookie(browser)

    resp = browser.post("/logout")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]

    attacker = _browser(app, db)
    attacker.set_cookie("session", stolen, domain="tracker.test")
    replay = attacker.get("/projects/")
    assert replay.status_code == 302 and "/login" in replay.headers["Location"]
    # Nor does the refused cookie come back renewed for another 12 hours.
    assert all("replay" not in h for h in replay.headers.getlist("Set-Cookie"))
    assert attacker.get("/api/v1/projects").status_code == 401  # the API never takes cookies


def test_logout_leaves_the_users_other_browsers_signed_in(app, db, ref):
    make_user("manager", ref.huangyan, username="twice")
    office, phone = _browser(app, db), _browser(app, db)
    _sign_in(office, "twice")
    _sign_in(phone, "twice")
    assert office.post("/logout").status_code == 302
    assert office.get("/projects/").status_code == 302
    assert phone.get("/projects/").status_code == 200


def test_cookie_without_a_login_session_is_refused(app, db, ref):
    """A forged or pre-upgrade cookie naming only the user id and version signs no one in."""
    user = make_user("staff", ref.huangyan)
    db.session.commit()
    browser = _browser(app, db)
    with browser.session_transaction() as sess:
        sess["_user_id"] = user.get_id()
        sess["sid"] = "made-up"
    assert browser.get("/projects/").status_code == 302
    with browser.session_transaction() as sess:
        del sess["sid"]
    assert browser.get("/projects/").status_code == 302
