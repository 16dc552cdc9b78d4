"""Admin screens: users (list, create, edit, activate/deactivate, reset password) and the
reference data (industries, source regions, platforms, units)."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.factories import PASSWORD, make_investor, make_project, make_user, sign_in
from tracker.audit.models import AuditEntry
from tracker.auth.models import Unit, User
from tracker.projects.models import Industry, Platform, SourceRegion


def _fresh_requests(client, db):
    """Commit the test's setup and forget the cached user before every request.

    Requests share the test's app context and session: the app rolls back on refused input
    and errors, which would otherwise discard rows the test made (a commit only releases the
    test savepoint; the outer transaction still undoes everything afterwards), and
    Flask-Login caches the signed-in user in ``g``, which would leak between clients.
    """
    from flask import g

    plain_open = client.open

    def open_fresh(*args, **kwargs):
        db.session.commit()
        g.pop("_login_user", None)
        return plain_open(*args, **kwargs)

    client.open = open_fresh
    return client


@pytest.fixture()
def client(client, db):
    return _fresh_requests(client, db)


@pytest.fixture()
def admin(db, ref, login_as):
    user = make_user("admin", ref.city, username="root-admin", display_name="管理员甲")
    login_as(user)
    return user


def _audit(db, action: str, object_id: int) -> list[AuditEntry]:
    return list(db.session.execute(
        select(AuditEntry).where(AuditEntry.action == action, AuditEntry.object_id == object_id)
        .order_by(AuditEntry.id)
    ).scalars())


def _login_other_client(app, db, user):
    other = _fresh_requests(app.test_client(), db)
    sign_in(other, user)
    return other


def _user(db, username: str) -> User | None:
    return db.session.execute(select(User).where(User.username == username)).scalar_one_or_none()


NEW_USER = {"username": "zhang.san", "display_name": "张三", "role": "staff", "password": "Taizhou-2024"}


# ---------------------------------------------------------------- users: list

def test_list_shows_users_with_last_login(client, admin, ref, db):
    make_user("staff", ref.huangyan, username="hy-staff", display_name="黄岩专员")
    html = client.get("/admin/users").get_data(as_text=True)
    assert "hy-staff" in html and "黄岩专员" in html and "root-admin" in html
    assert "从未登录" in html


def test_list_filters_and_search(client, admin, ref, db):
    make_user("staff", ref.huangyan, username="hy-a", display_name="王五")
    make_user("manager", ref.linhai, username="lh-b", display_name="赵六")
    make_user("leader", ref.linhai, username="lh-c", display_name="钱七", is_active=False)

    def names(**args):
        html = client.get("/admin/users", query_string=args).get_data(as_text=True)
        return {u for u in ("hy-a", "lh-b", "lh-c", "root-admin") if f">{u}<" in html}

    assert names() == {"hy-a", "lh-b", "lh-c", "root-admin"}
    assert names(unit=ref.linhai.id) == {"lh-b", "lh-c"}
    assert names(role="manager") == {"lh-b"}
    assert names(active="0") == {"lh-c"}
    assert names(active="1") == {"hy-a", "lh-b", "root-admin"}
    assert names(q="赵") == {"lh-b"}
    assert names(q="LH-") == {"lh-b", "lh-c"}
    assert names(q="%") == set()  # LIKE wildcards are literal
    # Junk arguments are ignored, never a server error.
    assert client.get("/admin/users?unit=abc&role=god&active=x&page=1e309").status_code == 200


def test_list_paginates_fifty_a_page(client, admin, ref, db):
    for n in range(55):
        make_user("staff", ref.huangyan, username=f"bulk{n:02d}")
    first = client.get("/admin/users").get_data(as_text=True)
    second = client.get("/admin/users?page=2").get_data(as_text=True)
    assert first.count('class="btn btn-small" href="/admin/users/') == 50
    assert "第 1 / 2 页" in first and "第 2 / 2 页" in second
    assert "bulk54" in second and "bulk54" not in first
    # A page past the end shows the last page.
    assert "第 2 / 2 页" in client.get("/admin/users?page=99").get_data(as_text=True)


# ---------------------------------------------------------------- users: create

def test_admin_creates_user(client, admin, ref, db):
    resp = client.post("/admin/users/new", data={**NEW_USER, "unit_id": ref.huangyan.id})
    assert resp.status_code == 302
    user = _user(db, "zhang.san")
    assert user.display_name == "张三" and user.role == "staff" and user.unit_id == ref.huangyan.id
    entries = _audit(db, "user.create", user.id)
    assert len(entries) == 1 and entries[0].actor_id == admin.id
    assert entries[0].changes["unit"] == "黄岩区"


def test_create_form_renders(client, admin):
    resp = client.get("/admin/users/new")
    assert resp.status_code == 200
    assert "初始密码" in resp.get_data(as_text=True)


def test_duplicate_username_gets_message(client, admin, ref, db):
    make_user("staff", ref.huangyan, username="Zhang.San")
    resp = client.post("/admin/users/new", data={**NEW_USER, "unit_id": ref.huangyan.id})
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "用户名已存在" in html and "张三" in html  # the input is kept


@pytest.mark.parametrize("changes,message", [
    ({"password": "short1"}, "密码至少 8 位"),
    ({"password": "onlyletters"}, "密码需同时包含字母和数字或符号"),
    ({"username": "张三"}, "用户名只能包含"),
    ({"role": "god"}, "请从列表中选择"),
    ({"unit_id": "999999"}, "请从列表中选择"),
    ({"unit_id": "abc"}, "请从列表中选择"),
    ({"display_name": ""}, "请输入姓名"),
])
def test_create_user_bad_input(client, admin, ref, db, changes, message):
    data = {**NEW_USER, "unit_id": ref.huangyan.id, **changes}
    resp = client.post("/admin/users/new", data=data)
    assert resp.status_code == 422
    assert message in resp.get_data(as_text=True)
    assert _user(db, "zhang.san") is None


def test_retired_unit_is_not_offered_for_new_users(client, admin, ref, db):
    ref.linhai.is_active = False
    db.session.flush()
    resp = client.post("/admin/users/new", data={**NEW_USER, "unit_id": ref.linhai.id})
    assert resp.status_code == 422 and "请从列表中选择" in resp.get_data(as_text=True)


# ---------------------------------------------------------------- users: edit

def test_admin_edits_user_and_audit_has_before_after(client, admin, ref, db):
    user = make_user("staff", ref.huangyan, username="li.si", display_name="李四")
    page = client.get(f"/admin/users/{user.id}/edit")
    assert page.status_code == 200 and "李四" in page.get_data(as_text=True)
    resp = client.post(f"/admin/users/{user.id}/edit", data={
        "display_name": "李四（临海）", "role": "manager", "unit_id": ref.linhai.id, "version": user.version_id,
    })
    assert resp.status_code == 302
    db.session.refresh(user)
    assert (user.display_name, user.role, user.unit_id) == ("李四（临海）", "manager", ref.linhai.id)
    assert user.session_version == 2  # new rights: signed in again
    (entry,) = _audit(db, "user.update", user.id)
    assert entry.changes["role"] == ["staff", "manager"]
    assert entry.changes["unit"] == ["黄岩区", "临海市"]
    assert entry.changes["display_name"] == ["李四", "李四（临海）"]
    # The edit page shows the history.
    assert "科室负责人" in client.get(f"/admin/users/{user.id}/edit").get_data(as_text=True)


def test_edit_conflict_is_409_and_keeps_input(client, admin, ref, db):
    user = make_user("staff", ref.huangyan, username="wang.wu", display_name="王五")
    stale = user.version_id
    user.display_name = "王五（他人已改）"
    db.session.flush()
    resp = client.post(f"/admin/users/{user.id}/edit", data={
        "display_name": "我的输入", "role": "staff", "unit_id": ref.huangyan.id, "version": stale,
    })
    assert resp.status_code == 409
    html = resp.get_data(as_text=True)
    assert "我的输入" in html and "王五（他人已改）" in html and "已被他人修改" in html
    db.session.refresh(user)
    assert user.display_name == "王五（他人已改）"
    # Saving again from the conflict page (it carries the new version) succeeds.
    resp = client.post(f"/admin/users/{user.id}/edit", data={
        "display_name": "我的输入", "role": "staff", "unit_id": ref.huangyan.id, "version": user.version_id,
    })
    assert resp.status_code == 302


def test_edit_without_version_is_a_conflict(client, admin, ref, db):
    user = make_user("staff", ref.huangyan)
    resp = client.post(f"/admin/users/{user.id}/edit", data={
        "display_name": "x", "role": "staff", "unit_id": ref.huangyan.id, "version": "abc",
    })
    assert resp.status_code == 409


def test_admin_cannot_remove_own_admin_role(client, admin, ref, db):
    resp = client.post(f"/admin/users/{admin.id}/edit", data={
        "display_name": admin.display_name, "role": "manager", "unit_id": ref.city.id, "version": admin.version_id,
    })
    assert resp.status_code == 422
    assert "不能取消自己的系统管理员角色" in resp.get_data(as_text=True)
    db.session.refresh(admin)
    assert admin.role == "admin"


def test_admin_changing_own_unit_stays_signed_in(client, admin, ref, db):
    resp = client.post(f"/admin/users/{admin.id}/edit", data={
        "display_name": "管理员乙", "role": "admin", "unit_id": ref.huangyan.id, "version": admin.version_id,
    })
    assert resp.status_code == 302
    assert client.get("/admin/users").status_code == 200


def test_edit_unknown_user_is_404(client, admin):
    assert client.get("/admin/users/999999/edit").status_code == 404


# ---------------------------------------------------------------- users: activate / deactivate

def test_deactivated_users_session_ends(app, client, admin, ref, db):
    victim = make_user("staff", ref.huangyan, username="victim")
    victim_client = _login_other_client(app, db, victim)
    assert victim_client.get("/projects/").status_code == 200

    resp = client.post(f"/admin/users/{victim.id}/deactivate")
    assert resp.status_code == 302
    db.session.refresh(victim)
    assert victim.is_active_user is False
    assert len(_audit(db, "user.deactivate", victim.id)) == 1

    nxt = victim_client.get("/projects/")
    assert nxt.status_code == 302 and "/login" in nxt.headers["Location"]
    # And the password no longer signs them in.
    login = _fresh_requests(app.test_client(), db).post("/login", data={"username": "victim", "password": PASSWORD})
    assert login.status_code != 302


def test_reactivate_user(client, admin, ref, db):
    user = make_user("staff", ref.huangyan, is_active=False)
    assert client.post(f"/admin/users/{user.id}/activate").status_code == 302
    db.session.refresh(user)
    assert user.is_active_user is True
    assert len(_audit(db, "user.activate", user.id)) == 1


def test_admin_cannot_deactivate_self(client, admin, db):
    resp = client.post(f"/admin/users/{admin.id}/deactivate", follow_redirects=True)
    assert resp.status_code == 200
    assert "不能停用自己的账号" in resp.get_data(as_text=True)
    db.session.refresh(admin)
    assert admin.is_active_user is True


def test_deactivate_button_has_confirmation(client, admin, ref, db):
    user = make_user("staff", ref.huangyan)
    html = client.get(f"/admin/users/{user.id}/edit").get_data(as_text=True)
    assert f"/admin/users/{user.id}/deactivate" in html and "data-confirm=" in html


def test_deactivate_is_post_only(client, admin, ref, db):
    user = make_user("staff", ref.huangyan)
    assert client.get(f"/admin/users/{user.id}/deactivate").status_code == 405


# ---------------------------------------------------------------- users: password

def test_reset_password(app, client, admin, ref, db):
    user = make_user("staff", ref.huangyan, username="pw-user")
    user_client = _login_other_client(app, db, user)
    old_hash = user.password_hash
    resp = client.post(f"/admin/users/{user.id}/password", data={"password": "New-pass-2025"})
    assert resp.status_code == 302
    db.session.refresh(user)
    assert user.password_hash != old_hash and user.session_version == 2
    (entry,) = _audit(db, "user.set_password", user.id)
    assert "New-pass" not in str(entry.changes)
    assert user_client.get("/projects/").status_code == 302  # old session ended
    ok = _fresh_requests(app.test_client(), db).post("/login", data={"username": "pw-user", "password": "New-pass-2025"})
    assert ok.status_code == 302


def test_reset_password_weak_gets_message(client, admin, ref, db):
    user = make_user("staff", ref.huangyan)
    resp = client.post(f"/admin/users/{user.id}/password", data={"password": "12345"})
    assert resp.status_code == 422
    assert "密码至少 8 位" in resp.get_data(as_text=True)
    assert not _audit(db, "user.set_password", user.id)


def test_reset_own_password_keeps_session(client, admin, db):
    assert client.post(f"/admin/users/{admin.id}/password", data={"password": "Mine-2025-x"}).status_code == 302
    assert client.get("/admin/users").status_code == 200


# ---------------------------------------------------------------- permissions

USER_ROUTES = [
    ("GET", "/admin/users"),
    ("GET", "/admin/users/new"),
    ("POST", "/admin/users/new"),
    ("GET", "/admin/users/{user}/edit"),
    ("POST", "/admin/users/{user}/edit"),
    ("POST", "/admin/users/{user}/deactivate"),
    ("POST", "/admin/users/{user}/activate"),
    ("POST", "/admin/users/{user}/password"),
]
REFERENCE_ROUTES = [
    ("GET", "/admin/reference"),
    ("GET", "/admin/reference/{kind}"),
    ("GET", "/admin/reference/{kind}/new"),
    ("POST", "/admin/reference/{kind}/new"),
    ("GET", "/admin/reference/{kind}/{row}/edit"),
    ("POST", "/admin/reference/{kind}/{row}/edit"),
    ("POST", "/admin/reference/{kind}/{row}/retire"),
    ("POST", "/admin/reference/{kind}/{row}/activate"),
    ("POST", "/admin/reference/{kind}/{row}/delete"),
]
ALL_ROUTES = USER_ROUTES + REFERENCE_ROUTES


@pytest.mark.parametrize("role,unit", [("staff", "huangyan"), ("manager", "city"), ("leader", "city")])
@pytest.mark.parametrize("method,url", ALL_ROUTES)
def test_non_admin_roles_get_403(client, login_as, ref, db, role, unit, method, url):
    target = make_user("staff", ref.huangyan)
    login_as(make_user(role, getattr(ref, unit)))
    resp = client.open(url.format(user=target.id, kind="industries", row=ref.industry.id), method=method,
                       data={"display_name": "x", "name": "x", "password": "Abcdefg-123"})
    assert resp.status_code == 403
    db.session.refresh(target)
    db.session.refresh(ref.industry)
    assert target.is_active_user and ref.industry.name == "新能源"


@pytest.mark.parametrize("method,url", ALL_ROUTES)
def test_anonymous_goes_to_login(client, ref, db, method, url):
    resp = client.open(url.format(user=1, kind="industries", row=ref.industry.id), method=method)
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


@pytest.mark.parametrize("url", [u for m, u in ALL_ROUTES if m == "GET"])
def test_admin_can_open_every_page(client, admin, ref, url):
    target = make_user("staff", ref.huangyan)
    for kind, row in (("industries", ref.industry.id), ("regions", ref.region.id),
                      ("platforms", ref.platform.id), ("units", ref.huangyan.id)):
        assert client.get(url.format(user=target.id, kind=kind, row=row)).status_code == 200


def test_admin_nav_links(client, admin):
    html = client.get("/admin/users").get_data(as_text=True)
    assert 'href="/admin/reference"' in html and 'href="/admin/users"' in html


# ---------------------------------------------------------------- reference data

KIND_CASES = {
    "industries": (Industry, {"name": "商业航天", "group": "未来产业", "sort_order": "30", "is_active": "y"},
                   {"group": "未来产业（新）"}),
    "regions": (SourceRegion, {"name": "广东", "sort_order": "9", "is_active": "y"},
                {"is_yrd": "y", "name": "广东省"}),
    "platforms": (Platform, {"name": "路桥经济开发区", "unit_id": "", "sort_order": "3", "is_active": "y"},
                  {"sort_order": "4"}),
    "units": (Unit, {"name": "椒江区", "code": "jiaojiang", "sort_order": "1", "is_active": "y"},
              {"code": "JiaoJiang2"}),
}


@pytest.mark.parametrize("kind", list(KIND_CASES))
def test_reference_create_edit_retire_delete(client, admin, ref, db, kind):
    model, data, change = KIND_CASES[kind]
    resp = client.post(f"/admin/reference/{kind}/new", data=data)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    row = db.session.execute(select(model).where(model.name == data["name"])).scalar_one()
    assert row.is_active is True
    (created,) = _audit(db, f"{model.__tablename__}.create", row.id)
    assert created.changes["name"] == data["name"]
    assert data["name"] in client.get(f"/admin/reference/{kind}").get_data(as_text=True)

    page = client.get(f"/admin/reference/{kind}/{row.id}/edit").get_data(as_text=True)
    fp = page.split('name="fingerprint"')[1].split('value="')[1].split('"')[0]
    resp = client.post(f"/admin/reference/{kind}/{row.id}/edit", data={**data, **change, "fingerprint": fp})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    db.session.refresh(row)
    (updated,) = _audit(db, f"{model.__tablename__}.update", row.id)
    for key, value in change.items():
        field = key
        expected = value.lower() if key == "code" else (True if value == "y" else value)
        if key == "sort_order":
            expected = int(value)
        assert getattr(row, field) == expected
        assert updated.changes[field][1] == expected

    assert client.post(f"/admin/reference/{kind}/{row.id}/retire").status_code == 302
    db.session.refresh(row)
    assert row.is_active is False
    assert _audit(db, f"{model.__tablename__}.retire", row.id)
    assert client.post(f"/admin/reference/{kind}/{row.id}/activate").status_code == 302
    db.session.refresh(row)
    assert row.is_active is True

    row_id, name = row.id, row.name
    assert client.post(f"/admin/reference/{kind}/{row_id}/delete").status_code == 302
    db.session.expire_all()
    assert db.session.get(model, row_id) is None
    (deleted,) = _audit(db, f"{model.__tablename__}.delete", row_id)
    assert deleted.changes["name"] == [name, None]


def test_reference_index_lists_industries(client, admin, ref):
    html = client.get("/admin/reference").get_data(as_text=True)
    assert "新能源" in html and "低空经济" in html
    for kind in KIND_CASES:
        assert f"/admin/reference/{kind}" in html


def test_unknown_kind_is_404(client, admin, ref):
    assert client.get("/admin/reference/projects").status_code == 404
    assert client.post("/admin/reference/user/1/delete").status_code == 404
    assert client.get("/admin/reference/industries/999999/edit").status_code == 404


@pytest.mark.parametrize("kind,data,field_name", [
    ("industries", {"name": "新能源"}, "name"),
    ("industries", {"name": "新能源 "}, "name"),
    ("regions", {"name": "江苏"}, "name"),
    ("platforms", {"name": "黄岩经济开发区"}, "name"),
    ("units", {"name": "黄岩区", "code": "new-code"}, "name"),
    ("units", {"name": "新单位", "code": "huangyan"}, "code"),
])
def test_reference_duplicate_gets_message(client, admin, ref, db, kind, data, field_name):
    before = db.session.execute(select(func.count()).select_from(AuditEntry)).scalar_one()
    resp = client.post(f"/admin/reference/{kind}/new", data={"sort_order": "0", "is_active": "y", **data})
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "已存在同名" in html or "该代码已被使用" in html
    # The message sits beside the field (inside its .field has-error block).
    block = html.split(f'id="{field_name}"')[1].split('</div>')[0:3]
    assert any("已存在同名" in b or "该代码已被使用" in b for b in block)
    assert db.session.execute(select(func.count()).select_from(AuditEntry)).scalar_one() == before


def test_reference_rename_to_existing_name_is_refused(client, admin, ref, db):
    page = client.get(f"/admin/reference/industries/{ref.industry2.id}/edit").get_data(as_text=True)
    fp = page.split('name="fingerprint"')[1].split('value="')[1].split('"')[0]
    resp = client.post(f"/admin/reference/industries/{ref.industry2.id}/edit",
                       data={"name": "新能源", "group": "x", "sort_order": "1", "is_active": "y", "fingerprint": fp})
    assert resp.status_code == 422 and "已存在同名" in resp.get_data(as_text=True)
    db.session.refresh(ref.industry2)
    assert ref.industry2.name == "低空经济"


def test_reference_edit_conflict_is_409_and_keeps_input(client, admin, ref, db):
    page = client.get(f"/admin/reference/industries/{ref.industry2.id}/edit").get_data(as_text=True)
    fp = page.split('name="fingerprint"')[1].split('value="')[1].split('"')[0]
    ref.industry2.group = "他人修改的分组"
    db.session.flush()
    resp = client.post(f"/admin/reference/industries/{ref.industry2.id}/edit",
                       data={"name": "低空经济（我的输入）", "group": "未来产业", "sort_order": "7",
                             "is_active": "y", "fingerprint": fp})
    assert resp.status_code == 409
    html = resp.get_data(as_text=True)
    assert "低空经济（我的输入）" in html and "他人修改的分组" in html
    db.session.refresh(ref.industry2)
    assert ref.industry2.name == "低空经济"
    assert not _audit(db, "industry.update", ref.industry2.id)


def test_referenced_row_cannot_be_deleted_only_retired(client, admin, ref, db):
    make_project(industry=ref.industry2)
    resp = client.post(f"/admin/reference/industries/{ref.industry2.id}/delete", follow_redirects=True)
    assert "不能删除" in resp.get_data(as_text=True)
    assert db.session.get(Industry, ref.industry2.id) is not None
    # The list offers no delete button for it, but does offer retiring.
    html = client.get("/admin/reference/industries").get_data(as_text=True)
    assert f"/industries/{ref.industry2.id}/delete" not in html
    assert f"/industries/{ref.industry2.id}/retire" in html
    assert client.post(f"/admin/reference/industries/{ref.industry2.id}/retire").status_code == 302
    db.session.refresh(ref.industry2)
    assert ref.industry2.is_active is False


def test_units_referenced_by_users_or_investors_are_kept(client, admin, ref, db):
    unit = Unit(name="三门县", code="sanmen", sort_order=9)
    db.session.add(unit)
    db.session.flush()
    make_investor(unit=unit)
    client.post(f"/admin/reference/units/{unit.id}/delete")
    assert db.session.get(Unit, unit.id) is not None


def test_city_unit_cannot_be_retired(client, admin, ref, db):
    resp = client.post(f"/admin/reference/units/{ref.city.id}/retire", follow_redirects=True)
    assert "市级单位不能停用" in resp.get_data(as_text=True)
    db.session.refresh(ref.city)
    assert ref.city.is_active is True and ref.city.is_city is True


def test_is_city_is_not_editable(client, admin, ref, db):
    page = client.get(f"/admin/reference/units/{ref.huangyan.id}/edit").get_data(as_text=True)
    assert 'name="is_city"' not in page
    fp = page.split('name="fingerprint"')[1].split('value="')[1].split('"')[0]
    resp = client.post(f"/admin/reference/units/{ref.huangyan.id}/edit",
                       data={"name": "黄岩区", "code": "huangyan", "sort_order": "2", "is_active": "y",
                             "is_city": "y", "fingerprint": fp})
    assert resp.status_code == 302
    db.session.refresh(ref.huangyan)
    assert ref.huangyan.is_city is False


def test_region_cannot_be_both_yrd_and_foreign(client, admin, ref, db):
    resp = client.post("/admin/reference/regions/new",
                       data={"name": "韩国", "is_yrd": "y", "is_foreign": "y", "sort_order": "0", "is_active": "y"})
    assert resp.status_code == 422 and "境外地区不能同时属于长三角" in resp.get_data(as_text=True)


@pytest.mark.parametrize("sort_order", ["1e309", "abc", "99999999999", "NaN"])
def test_reference_bad_numbers_get_message(client, admin, ref, db, sort_order):
    resp = client.post("/admin/reference/industries/new", data={"name": "测试产业", "sort_order": sort_order})
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "请输入整数" in html or "排序号应在" in html


def test_full_width_sort_order_is_accepted(client, admin, ref, db):
    resp = client.post("/admin/reference/industries/new", data={"name": "测试产业", "sort_order": "１２"})
    assert resp.status_code == 302
    row = db.session.execute(select(Industry).where(Industry.name == "测试产业")).scalar_one()
    assert row.sort_order == 12


def test_platform_unit_choice_and_audit_names(client, admin, ref, db):
    resp = client.post("/admin/reference/platforms/new",
                       data={"name": "临海经济开发区", "unit_id": ref.linhai.id, "sort_order": "1", "is_active": "y"})
    assert resp.status_code == 302
    row = db.session.execute(select(Platform).where(Platform.name == "临海经济开发区")).scalar_one()
    assert row.unit_id == ref.linhai.id
    (entry,) = _audit(db, "platform.create", row.id)
    assert entry.changes["unit"] == "临海市"
    bad = client.post("/admin/reference/platforms/new",
                      data={"name": "别的园区", "unit_id": "999999", "sort_order": "1"})
    assert bad.status_code == 422 and "请从列表中选择" in bad.get_data(as_text=True)


def test_retired_rows_are_not_offered_in_project_form(client, login_as, ref, db):
    admin = make_user("admin", ref.city)
    login_as(admin)
    client.post(f"/admin/reference/industries/{ref.industry2.id}/retire")
    login_as(make_user("staff", ref.huangyan))
    html = client.get("/projects/new").get_data(as_text=True)
    assert ">新能源</option>" in html and ">低空经济</option>" not in html
