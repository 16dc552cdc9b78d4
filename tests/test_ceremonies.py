"""Signing ceremonies: screens (create, edit, add/remove/reorder projects, signatories), scope
and roles, stale forms, and the operations the JSON API will call."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from tests.factories import count_queries, make_project, make_user
from tests.test_briefs import brief_fonts, make_ceremony, web  # noqa: F401 - shared fixtures
from tracker.audit.models import AuditEntry
from tracker.ceremonies import operations as ops
from tracker.ceremonies.models import Ceremony, CeremonySigning


def ceremony_form(ref, **over):
    data = {"name": "台州市2025(第一季)重大招商项目签约仪式", "held_on": "2025-03-28", "venue": "台州市行政中心",
            "unit_id": ref.city.id}
    data.update(over)
    return data


def order_of(ceremony):
    return [s.project.name for s in ops.signings_of(ceremony)]


# --- screens -----------------------------------------------------------------------------

def test_manager_creates_a_ceremony(client, login_as, db, ref):
    login_as(make_user("manager", ref.city))
    resp = client.post("/ceremonies/new", data=ceremony_form(ref))
    assert resp.status_code == 302
    ceremony = db.session.execute(select(Ceremony).where(Ceremony.name.like("台州市2025%"))).scalar_one()
    assert ceremony.held_on == date(2025, 3, 28) and ceremony.unit_id == ref.city.id
    assert db.session.execute(select(AuditEntry).where(AuditEntry.action == "ceremony.create",
                                                       AuditEntry.object_id == ceremony.id)).scalar_one()
    body = client.get("/ceremonies/").get_data(as_text=True)
    assert ceremony.name in body


@pytest.mark.parametrize("field,value,message", [
    ("name", "", "请填写签约仪式名称"),
    ("name", "仪" * 121, "不能超过 120 个字"),
    ("held_on", "2025-02-30", "日期格式不正确"),
    ("held_on", "", "请填写举办日期"),
    ("venue", "地" * 121, "不能超过 120 个字"),
    ("unit_id", "abc", "请从列表中选择"),
])
def test_bad_ceremony_input_is_shown_beside_the_field(client, login_as, db, ref, field, value, message):
    login_as(make_user("manager", ref.city))
    resp = client.post("/ceremonies/new", data=ceremony_form(ref, **{field: value}))
    assert resp.status_code == 422
    assert message in resp.get_data(as_text=True)


def test_duplicate_name_is_refused(client, login_as, db, ref):
    make_ceremony(ref, [], name="同名仪式")
    login_as(make_user("manager", ref.city))
    resp = client.post("/ceremonies/new", data=ceremony_form(ref, name="同名仪式"))
    assert resp.status_code == 422 and "已存在同名的签约仪式" in resp.get_data(as_text=True)


def test_county_manager_cannot_host_for_the_city(client, login_as, db, ref):
    login_as(make_user("manager", ref.huangyan))
    resp = client.post("/ceremonies/new", data=ceremony_form(ref, unit_id=ref.city.id))
    assert resp.status_code == 422
    assert db.session.execute(select(Ceremony)).first() is None
    resp = client.post("/ceremonies/new", data=ceremony_form(ref, unit_id=ref.huangyan.id))
    assert resp.status_code == 302


def test_add_move_reorder_remove_and_signatories(client, login_as, db, ref):
    projects = [make_project(name=f"仪式项目{i}") for i in range(4)]
    ceremony = make_ceremony(ref, [])
    login_as(make_user("manager", ref.city))
    for p in projects:
        resp = client.post(f"/ceremonies/{ceremony.id}/projects",
                           data={"project_id": p.id, "signatory_local": f"甲{p.id}", "signatory_investor": f"乙{p.id}",
                                 "version": ceremony.version_id})
        assert resp.status_code == 302, resp.get_data(as_text=True)
        db.session.refresh(ceremony)
    assert order_of(ceremony) == ["仪式项目0", "仪式项目1", "仪式项目2", "仪式项目3"]
    page = client.get(f"/ceremonies/{ceremony.id}").get_data(as_text=True)
    assert "仪式项目3" in page and f"甲{projects[3].id}" in page

    signings = ops.signings_of(ceremony)
    resp = client.post(f"/ceremonies/{ceremony.id}/projects/{signings[3].id}/move",
                       data={"direction": "up", "version": ceremony.version_id})
    assert resp.status_code == 302
    db.session.refresh(ceremony)
    assert order_of(ceremony) == ["仪式项目0", "仪式项目1", "仪式项目3", "仪式项目2"]

    # Renumber from the 序号 boxes: 项目2 (now 4th) to 1.5 → between the first two.
    data = {f"pos-{s.id}": str(i + 1) for i, s in enumerate(ops.signings_of(ceremony))}
    data[f"pos-{signings[2].id}"] = "1.5"
    data["version"] = ceremony.version_id
    assert client.post(f"/ceremonies/{ceremony.id}/order", data=data).status_code == 302
    db.session.refresh(ceremony)
    assert order_of(ceremony) == ["仪式项目0", "仪式项目2", "仪式项目1", "仪式项目3"]
    assert [s.position for s in ops.signings_of(ceremony)] == [1, 2, 3, 4]

    resp = client.post(f"/ceremonies/{ceremony.id}/projects/{signings[1].id}/edit",
                       data={"signatory_local": "朱嘉诚（台州市副市长）", "signatory_investor": "杨立新",
                             "version": ceremony.version_id})
    assert resp.status_code == 302
    db.session.refresh(signings[1])
    assert signings[1].signatory_local == "朱嘉诚（台州市副市长）"

    db.session.refresh(ceremony)
    resp = client.post(f"/ceremonies/{ceremony.id}/projects/{signings[0].id}/remove",
                       data={"version": ceremony.version_id})
    assert resp.status_code == 302
    db.session.refresh(ceremony)
    assert order_of(ceremony) == ["仪式项目2", "仪式项目1", "仪式项目3"]
    assert [s.position for s in ops.signings_of(ceremony)] == [1, 2, 3]
    actions = db.session.execute(select(AuditEntry.action).where(AuditEntry.project_id == projects[0].id)).scalars().all()
    assert "ceremony.add_project" in actions and "ceremony.remove_project" in actions


def test_project_page_shows_its_ceremony(client, login_as, db, ref):
    project = make_project()
    ceremony = make_ceremony(ref, [project])
    login_as(make_user("staff", ref.huangyan))
    assert ceremony.name in client.get(f"/projects/{project.id}").get_data(as_text=True)


@pytest.mark.parametrize("page", ["/projects/{}", "/projects/{}/brief"])
def test_the_ceremony_comes_with_the_project_page_query(client, login_as, db, ref, page):
    """The signing and its ceremony are joined to the project's own query (no query of their
    own) on the project page and the brief."""
    unsigned, signed = make_project(), make_project()
    make_ceremony(ref, [signed])
    db.session.commit()
    login_as(make_user("staff", ref.huangyan))
    counts = []
    for project in (unsigned.id, signed.id):
        db.session.expunge_all()  # as a request's own session starts
        with count_queries(db) as statements:
            assert client.get(page.format(project)).status_code == 200
        counts.append(sum(not sql.startswith(("SAVEPOINT", "RELEASE")) for sql in statements))  # not the test's own
        assert not any("FROM ceremony_signing" in sql for sql in statements)
    assert counts[0] == counts[1]


def test_a_project_is_signed_once(client, login_as, db, ref):
    project = make_project()
    make_ceremony(ref, [project], name="第一场")
    second = make_ceremony(ref, [], name="第二场")
    login_as(make_user("manager", ref.city))
    resp = client.post(f"/ceremonies/{second.id}/projects", data={"project_id": project.id, "version": second.version_id})
    assert resp.status_code == 422  # not even offered in the picker
    with pytest.raises(ops.CeremonyError) as err:
        ops.add_project(None, second, project)
    assert "已在“第一场”签约" in err.value.errors["project_id"]


def test_county_ceremony_takes_only_its_own_projects(db, ref):
    ceremony = make_ceremony(ref, [], unit=ref.huangyan)
    with pytest.raises(ops.CeremonyError):
        ops.add_project(None, ceremony, make_project(unit=ref.linhai))
    ops.add_project(None, ceremony, make_project(unit=ref.huangyan))


def test_stale_edit_keeps_input_and_answers_409(client, login_as, db, ref):
    ceremony = make_ceremony(ref, [])
    old_version = ceremony.version_id
    ops.update_ceremony(None, ceremony, name="改过的名字", held_on=ceremony.held_on, venue="", unit=ref.city,
                        expected_version=old_version)
    login_as(make_user("manager", ref.city))
    resp = client.post(f"/ceremonies/{ceremony.id}/edit",
                       data=ceremony_form(ref, name="我的新名字", version=old_version))
    assert resp.status_code == 409
    assert "我的新名字" in resp.get_data(as_text=True)


def test_stale_add_answers_409_and_keeps_input(client, login_as, db, ref):
    ceremony = make_ceremony(ref, [make_project()])
    old_version = ceremony.version_id
    ops.add_project(None, ceremony, make_project())
    project = make_project()
    login_as(make_user("manager", ref.city))
    resp = client.post(f"/ceremonies/{ceremony.id}/projects",
                       data={"project_id": project.id, "signatory_local": "我填的签约人", "version": old_version})
    assert resp.status_code == 409
    assert "我填的签约人" in resp.get_data(as_text=True)


def test_stale_move_changes_nothing(client, login_as, db, ref):
    ceremony = make_ceremony(ref, [make_project(name="甲项目"), make_project(name="乙项目")])
    old_version = ceremony.version_id
    ops.update_signatories(None, ceremony, ops.signings_of(ceremony)[0], signatory_local="新", signatory_investor="",
                           expected_version=old_version)
    login_as(make_user("manager", ref.city))
    resp = client.post(f"/ceremonies/{ceremony.id}/projects/{ops.signings_of(ceremony)[1].id}/move",
                       data={"direction": "up", "version": old_version}, follow_redirects=True)
    assert "已被他人修改" in resp.get_data(as_text=True)
    db.session.refresh(ceremony)
    assert order_of(ceremony) == ["甲项目", "乙项目"]


def test_delete_only_an_empty_ceremony(client, login_as, db, ref):
    full = make_ceremony(ref, [make_project()], name="有项目")
    empty = make_ceremony(ref, [], name="空仪式")
    login_as(make_user("manager", ref.city))
    client.post(f"/ceremonies/{full.id}/delete", data={"version": full.version_id})
    assert db.session.get(Ceremony, full.id) is not None
    assert client.post(f"/ceremonies/{empty.id}/delete", data={"version": empty.version_id}).status_code == 302
    assert db.session.get(Ceremony, empty.id) is None


def test_bad_positions_give_a_message(client, login_as, db, ref):
    ceremony = make_ceremony(ref, [make_project(), make_project()])
    s = ops.signings_of(ceremony)
    login_as(make_user("manager", ref.city))
    for bad in ("abc", "1e309", "nan"):
        resp = client.post(f"/ceremonies/{ceremony.id}/order", data={f"pos-{s[0].id}": bad, "version": ceremony.version_id},
                           follow_redirects=True)
        assert resp.status_code == 200 and "不是数字" in resp.get_data(as_text=True)


# --- scope and roles -----------------------------------------------------------------------------

@pytest.mark.parametrize("role,unit_key,view,manage", [
    ("manager", "city", 200, 200), ("staff", "city", 200, 403), ("leader", "city", 200, 403),
    ("admin", "city", 403, 403), ("staff", "linhai", 404, 404),
    # The project (make_project's default unit) is 黄岩区's: its units see the ceremony, not manage it.
    ("manager", "huangyan", 200, 403),
])
def test_city_ceremony_permission_matrix(client, login_as, db, ref, role, unit_key, view, manage):
    ceremony = make_ceremony(ref, [make_project()])
    login_as(make_user(role, getattr(ref, unit_key)))
    assert client.get(f"/ceremonies/{ceremony.id}").status_code == view
    assert client.get(f"/ceremonies/{ceremony.id}/edit").status_code == manage
    signing = ops.signings_of(ceremony)[0]
    resp = client.post(f"/ceremonies/{ceremony.id}/projects/{signing.id}/remove", data={"version": ceremony.version_id})
    assert resp.status_code == (302 if manage == 200 else manage)


@pytest.mark.parametrize("role,status", [("manager", 200), ("staff", 403), ("leader", 403), ("admin", 403)])
def test_new_ceremony_needs_a_manager(client, login_as, db, ref, role, status):
    login_as(make_user(role, ref.city))
    assert client.get("/ceremonies/new").status_code == status


def test_county_manager_manages_own_ceremony_and_sees_only_own(client, login_as, db, ref):
    own = make_ceremony(ref, [], name="黄岩区专场签约", unit=ref.huangyan)
    city = make_ceremony(ref, [], name="全市签约仪式")
    other = make_ceremony(ref, [], name="临海专场", unit=ref.linhai)
    login_as(make_user("manager", ref.huangyan))
    body = client.get("/ceremonies/").get_data(as_text=True)
    assert own.name in body and city.name not in body and other.name not in body
    assert client.get(f"/ceremonies/{own.id}/edit").status_code == 200
    assert client.get(f"/ceremonies/{other.id}").status_code == 404


def test_list_needs_login_and_view_role(client, login_as, db, ref):
    assert client.get("/ceremonies/").status_code in (302, 401)
    login_as(make_user("admin", ref.city))
    assert client.get("/ceremonies/").status_code == 403


# --- operations for the API ----------------------------------------------------------------------

def test_set_projects_orders_keeps_signatories_and_removes(db, ref):
    a, b, c = (make_project(name=n) for n in ("A项目", "B项目", "C项目"))
    ceremony = make_ceremony(ref, [a, b])
    kept = ops.signings_of(ceremony)[1]
    manager = make_user("manager", ref.city)
    ops.set_projects(manager, ceremony, [c.id, b.id], expected_version=ceremony.version_id)
    assert order_of(ceremony) == ["C项目", "B项目"]
    assert ops.signings_of(ceremony)[1] is kept and kept.signatory_local == "朱嘉诚1"
    assert db.session.execute(select(CeremonySigning).where(CeremonySigning.project_id == a.id)).first() is None
    entry = db.session.execute(select(AuditEntry).where(AuditEntry.action == "ceremony.set_projects")).scalar_one()
    assert entry.changes["projects"] == [[a.id, b.id], [c.id, b.id]]


@pytest.mark.parametrize("ids,fragment", [
    ([999999], "找不到该项目"),
    (["1"], "必须是整数"),
    ([True], "必须是整数"),
    ("dup", "重复出现"),
    ("other_county", "找不到该项目"),
])
def test_set_projects_is_all_or_nothing(db, ref, ids, fragment):
    a = make_project()
    ceremony = make_ceremony(ref, [a], unit=ref.huangyan)
    manager = make_user("manager", ref.huangyan)
    if ids == "dup":
        ids = [a.id, a.id]
    elif ids == "other_county":
        ids = [make_project(unit=ref.linhai).id]
    with pytest.raises(ops.CeremonyError) as err:
        ops.set_projects(manager, ceremony, ids)
    assert fragment in err.value.errors["project_ids"]
    assert order_of(ceremony) == [a.name]


def test_set_projects_stale_version(db, ref):
    ceremony = make_ceremony(ref, [make_project()])
    with pytest.raises(ops.StaleCeremony):
        ops.set_projects(None, ceremony, [], expected_version=ceremony.version_id - 1)


def test_create_ceremony_checks_scope_for_api_callers(db, ref):
    county = make_user("manager", ref.huangyan)
    with pytest.raises(ops.CeremonyError) as err:
        ops.create_ceremony(county, name="越权仪式", held_on=date(2025, 1, 1), venue="", unit=ref.city)
    assert "unit" in err.value.errors
    with pytest.raises(ops.CeremonyError) as err:
        ops.create_ceremony(county, name="", held_on=None, venue="", unit=None)
    assert set(err.value.errors) == {"name", "held_on", "unit"}
    ceremony = ops.create_ceremony(county, name="黄岩专场", held_on=date(2025, 1, 1), venue="黄岩", unit=ref.huangyan)
    assert ceremony.id and ceremony.unit_id == ref.huangyan.id


def test_version_moves_with_project_changes(db, ref):
    ceremony = make_ceremony(ref, [])
    v0 = ceremony.version_id
    ops.add_project(None, ceremony, make_project())
    db.session.flush()
    assert ceremony.version_id > v0


def test_project_models_map_without_the_ceremony_models():
    """Project.signing is declared beside CeremonySigning: scripts (and bench/scale.py's
    Flask-Admin peer) that import only the project models still map."""
    import subprocess
    import sys
    from pathlib import Path

    code = ("from sqlalchemy.orm import configure_mappers\n"
            "from tracker.projects.models import Project\n"
            "configure_mappers()\n"
            "import tracker.ceremonies.models\n"
            "configure_mappers()\n"
            "assert Project.signing.property.uselist is False\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 0, done.stderr[-2000:]
