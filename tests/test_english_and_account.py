"""Issue 9 items 7 and 9: English names and amounts in the English UI, the readable seed
history, one's own password change and the administrator's one-time password reset."""
from __future__ import annotations

import re
from decimal import Decimal

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from tests.factories import PASSWORD, make_project, make_user, sign_in
from tracker import seeding
from tracker.audit.history import Fields, history_items
from tracker.audit.models import AuditEntry
from tracker.auth.models import User
from tracker.auth.passwords import verify_password
from tracker.core.formatting import money, money_en, ref_name
from tracker.workflow.stages import STAGES


def _english(client):
    with client.session_transaction() as sess:
        sess["lang"] = "en"


# ------------------------------------------------------------------ English names and amounts

@pytest.mark.parametrize("wan, text", [
    (Decimal("520000"), "¥5.2 billion"),     # 52 亿元
    (Decimal("1000000"), "¥10 billion"),     # 100 亿元
    (Decimal("52000"), "RMB 520 million"),   # 5.2 亿元
    (Decimal("5200"), "RMB 52 million"),
    (Decimal("8"), "RMB 80,000"),
    (Decimal("123.45"), "RMB 1.23 million"),
    (None, "—"),
])
def test_amounts_in_english_read_as_english(wan, text):
    assert money_en(wan) == text


def test_money_follows_the_language(app):
    with app.test_request_context(), force_locale("zh_CN"):
        assert str(money(Decimal("52000"), strong=True)) == "<strong>5.20</strong> 亿元"
    with app.test_request_context(), force_locale("en"):
        assert str(money(Decimal("520000"))) == "¥5.2 billion"
        assert "× 100M" not in str(money(Decimal("1")))


def test_ref_name_prefers_the_english_name_in_english_only(app, db, ref):
    ref.industry.name_en = "New energy"
    with app.test_request_context(), force_locale("en"):
        assert ref_name(ref.industry) == "New energy"
        assert ref_name(ref.industry2) == ref.industry2.name  # no English name: the Chinese one
    with app.test_request_context(), force_locale("zh_CN"):
        assert ref_name(ref.industry) == "新能源"


def test_project_page_in_english_shows_english_names_and_amounts(client, login_as, db, ref):
    ref.industry.name_en = "New energy"
    ref.huangyan.name_en = "Huangyan District"
    ref.region.name_en = "Jiangsu"
    project = make_project(contracted_investment=Decimal("520000"))
    login_as(make_user("staff"))
    _english(client)
    body = client.get(f"/projects/{project.id}").get_data(as_text=True)
    assert "New energy" in body and "Huangyan District" in body and "Jiangsu" in body
    assert "¥5.2 billion" in body
    assert "× 100M CNY" not in body and "新能源" not in body


def test_list_filters_and_investor_page_in_english(client, login_as, db, ref):
    ref.industry.name_en = "New energy"
    ref.region.name_en = "Jiangsu"
    project = make_project()
    login_as(make_user("staff"))
    _english(client)
    listing = client.get("/projects/").get_data(as_text=True)
    assert re.search(rf'<option value="{ref.industry.id}"[^>]*>New energy</option>', listing)
    investor = client.get(f"/investors/{project.investor_id}").get_data(as_text=True)
    assert "Jiangsu" in investor and "New energy" in investor


def test_admin_edits_the_english_name(client, login_as, db, ref):
    login_as(make_user("admin", unit=ref.city))
    page = client.get(f"/admin/reference/industries/{ref.industry.id}/edit").get_data(as_text=True)
    assert 'name="name_en"' in page
    fingerprint = re.search(r'name="fingerprint"[^>]*value="([^"]*)"', page)
    fingerprint = fingerprint.group(1) if fingerprint else \
        re.search(r'value="([^"]*)"[^>]*name="fingerprint"', page).group(1)
    resp = client.post(f"/admin/reference/industries/{ref.industry.id}/edit", data={
        "name": "新能源", "name_en": "  New energy ", "group": "核心产业", "sort_order": "1",
        "is_active": "y", "fingerprint": fingerprint,
    })
    assert resp.status_code == 302
    db.session.expire_all()
    assert ref.industry.name_en == "New energy"


def test_seed_gives_every_reference_row_an_english_name(db):
    seeding.load_reference()
    from tracker.auth.models import Unit
    from tracker.projects.models import Industry, Platform, SourceRegion

    for model in (Unit, Industry, SourceRegion, Platform):
        rows = db.session.execute(select(model)).scalars().all()
        assert rows and all(r.name_en for r in rows), model.__tablename__
    # Re-applied on existing rows, like the other flags.
    unit = db.session.execute(select(Unit).filter_by(code="huangyan")).scalar_one()
    unit.name_en = "wrong"
    seeding.load_reference()
    assert unit.name_en == "Huangyan District"


def test_one_english_name_per_stage(app):
    """The English UI's stage labels are stages.english (needs the lead's .po merge)."""
    with app.test_request_context(), force_locale("en"):
        assert {s.code: str(s.label) for s in STAGES} == {s.code: s.english for s in STAGES}


# ------------------------------------------------------------------ readable seed history

def test_seed_history_reads_as_words(db, ref):
    user = make_user("staff")
    db.session.flush()
    entry = AuditEntry(action="seed.create", object_type="user", object_id=user.id, actor_id=None,
                       changes={"username": user.username, "display_name": "张三",
                                "sources": ["DOMAIN", "003"], "invented": ["display_name"]})
    db.session.add(entry)
    db.session.flush()
    fields = Fields(labels={"display_name": "姓名", "username": "用户名"})
    with force_locale("zh_CN"):
        lines = history_items([entry], fields)[0].lines
    text = " ".join(f"{line.label}：{line.value}" for line in lines)
    assert "演示数据（依据资料：DOMAIN、003；虚构：姓名）" in text
    assert "invented" not in text and "sources" not in text and "display_name" not in text


def test_user_history_page_shows_the_readable_provenance(client, login_as, db, ref):
    user = make_user("staff")
    db.session.flush()
    db.session.add(AuditEntry(action="seed.create", object_type="user", object_id=user.id,
                              actor_id=None, changes={"username": user.username, "invented": "all"}))
    login_as(make_user("admin", unit=ref.city))
    body = client.get(f"/admin/users/{user.id}/edit").get_data(as_text=True)
    assert "演示数据（全部虚构）" in body and "invented" not in body


# ------------------------------------------------------------------ own password change

def test_own_password_change_needs_the_current_password(client, login_as, db, ref):
    user = login_as(make_user("staff"))
    assert client.get("/account/password").status_code == 200
    resp = client.post("/account/password", data={
        "current_password": "not-my-password-1", "password": "Brand-new-2026", "confirm": "Brand-new-2026"})
    assert resp.status_code == 422
    assert "当前密码不正确" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert verify_password(db.session.get(User, user.id).password_hash, PASSWORD)

    resp = client.post("/account/password", data={
        "current_password": PASSWORD, "password": "Brand-new-2026", "confirm": "Other-new-2026"})
    assert resp.status_code == 422  # the two new ones differ


def test_own_password_change_keeps_this_browser_and_ends_the_others(app, client, login_as, db, ref):
    user = login_as(make_user("staff"))
    other = app.test_client()
    sign_in(other, user)
    db.session.commit()
    assert other.get("/projects/").status_code == 200
    resp = client.post("/account/password", data={
        "current_password": PASSWORD, "password": "Brand-new-2026", "confirm": "Brand-new-2026"})
    assert resp.status_code == 302
    db.session.expire_all()
    fresh = db.session.get(User, user.id)
    assert verify_password(fresh.password_hash, "Brand-new-2026")
    assert client.get("/projects/").status_code == 200  # this browser stays signed in
    assert other.get("/projects/").status_code == 302   # the other one is signed out
    audit = db.session.execute(select(AuditEntry).where(
        AuditEntry.action == "user.set_password", AuditEntry.object_id == user.id)).scalar_one()
    assert audit.actor_id == user.id


def test_own_password_change_needs_csrf(app, client, login_as, db, ref):
    login_as(make_user("staff"))
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        resp = client.post("/account/password", data={
            "current_password": PASSWORD, "password": "Brand-new-2026", "confirm": "Brand-new-2026"})
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert resp.status_code in (400, 422)


# ------------------------------------------------------------------ admin reset

def test_admin_reset_shows_a_new_password_once_and_ends_sessions(app, client, login_as, db, ref):
    target = make_user("staff")
    db.session.commit()
    theirs = app.test_client()
    sign_in(theirs, target)
    db.session.commit()
    assert theirs.get("/projects/").status_code == 200

    login_as(make_user("admin", unit=ref.city))
    edit = client.get(f"/admin/users/{target.id}/edit").get_data(as_text=True)
    assert f"/admin/users/{target.id}/password/generate" in edit
    resp = client.post(f"/admin/users/{target.id}/password/generate")
    assert resp.status_code == 200 and "no-store" in resp.headers["Cache-Control"]
    password = re.search(r'<code id="new-password">([^<]+)</code>', resp.get_data(as_text=True)).group(1)
    db.session.expire_all()
    assert verify_password(db.session.get(User, target.id).password_hash, password)
    assert theirs.get("/projects/").status_code == 302  # their sessions ended
    # Shown once: the user page afterwards does not carry it.
    assert password not in client.get(f"/admin/users/{target.id}/edit").get_data(as_text=True)
    assert db.session.execute(select(AuditEntry).where(
        AuditEntry.action == "user.set_password", AuditEntry.object_id == target.id)).scalar_one()
