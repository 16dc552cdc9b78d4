"""Defects found by trying the app as an attacker and as an operator would (issues 7 and 8):
archived projects that still changed, a lockout bypass, investors shared across units,
existence oracles, 500s from odd input, a quadratic ceremony update, tokens that came back to
life, and unbounded uploads. Each test failed before its fix."""
from __future__ import annotations

import io
import re
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from werkzeug.datastructures import FileStorage
from werkzeug.routing import IntegerConverter

from tests import factories
from tests.factories import PASSWORD, make_investor, make_project, make_user, sign_in, uscc
from tests.test_briefs import make_ceremony
from tests.test_investors import count_queries
from tests.test_migrations import scratch_app  # noqa: F401 - a fixture
from tests.test_projects import form_data
from tracker.api.auth import authenticate, issue_token
from tracker.api.models import ApiToken
from tracker.audit.models import AuditEntry
from tracker.ceremonies import operations as ceremony_ops
from tracker.ceremonies.models import Ceremony
from tracker.projects import investor_operations
from tracker.projects import operations as project_ops
from tracker.projects.models import Investor, Project
from tracker.workflow import attachments
from tracker.workflow import operations as wf
from tracker.workflow.models import Attachment

PDF = b"%PDF-1.4 evidence"


def body(resp) -> str:
    return resp.get_data(as_text=True)


# The project form as a browser posts it (one definition, in test_projects).
project_form = form_data


def investor_form(ref, **over):
    data = {"name": "浙江清陶新能源有限公司", "uscc": uscc(), "source_region_id": ref.region.id, "country": "",
            "unit_id": ref.huangyan.id, "introduction": "固态锂电池研发与制造。"}
    data.update(over)
    return data


def pending_project(ref, stage="completed"):
    """A project with a pending request (staff asked, a manager of the unit may decide)."""
    staff = make_user("staff", ref.huangyan)
    manager = make_user("manager", ref.huangyan)
    project = make_project(unit=ref.huangyan, stage=stage)
    req = wf.request_move(staff, project, to_stage="production", actual_date="2024-07-01")
    return project, req, staff, manager


# --- A. Archived is read-only, in the operations ------------------------------------------------


def test_archiving_a_project_with_a_pending_request_is_refused(db, ref):
    project, _req, _staff, manager = pending_project(ref)
    with pytest.raises(wf.Conflict) as err:
        project_ops.set_archived(manager, project, True)
    assert "待审批" in err.value.message
    assert project.is_archived is False


def test_archive_button_with_a_pending_request_says_why(client, login_as, db, ref):
    project, _req, _staff, manager = pending_project(ref)
    login_as(manager)
    resp = client.post(f"/projects/{project.id}/archive", follow_redirects=True)
    assert resp.status_code == 200 and "待审批" in body(resp)
    assert db.session.get(Project, project.id).is_archived is False


def test_a_request_on_an_archived_project_is_not_approved(db, ref):
    # Archived meanwhile (e.g. by an older version of the app, or a race with the archive).
    project, req, _staff, manager = pending_project(ref)
    project.is_archived = True
    db.session.flush()
    with pytest.raises(wf.Conflict) as err:
        wf.approve(manager, req.id)
    assert "已归档" in err.value.message
    assert project.stage == "completed" and req.status == "pending"
    # …but it can still be rejected or withdrawn, so nothing is left hanging.
    wf.reject(manager, req.id, "项目已归档")
    assert req.status == "rejected"


def test_api_approve_on_an_archived_project_is_409(client, db, ref):
    project, req, _staff, manager = pending_project(ref)
    project.is_archived = True
    token = issue_token(manager, "tests")
    db.session.commit()
    resp = client.post(f"/api/v1/stage-requests/{req.id}/approve", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 409, body(resp)
    assert "已归档" in resp.get_json()["error"]["message"]
    assert db.session.get(Project, project.id).stage == "completed"


def test_update_of_an_archived_project_is_refused(db, ref):
    staff = make_user("staff", ref.huangyan)
    project = make_project(unit=ref.huangyan, is_archived=True)
    values = {"name": "改名", "unit_id": ref.huangyan.id}
    with pytest.raises(project_ops.ArchivedProject):
        project_ops.update_project(staff, project, values, {"name": project.investor.name}, project.version_id)
    assert project.name != "改名"


def test_planned_dates_of_an_archived_project_are_refused(db, ref):
    staff = make_user("staff", ref.huangyan)
    project = make_project(unit=ref.huangyan, is_archived=True)
    with pytest.raises(wf.Conflict):
        wf.set_planned_dates(staff, project, {"production": date(2025, 1, 1)})


def test_upload_to_an_archived_project_is_refused(db, ref):
    staff = make_user("staff", ref.huangyan)
    project = make_project(unit=ref.huangyan, is_archived=True)
    with pytest.raises(ValueError, match="已归档"):
        attachments.store_upload(staff, project, None, FileStorage(io.BytesIO(PDF), "a.pdf"))
    assert db.session.execute(select(Attachment).where(Attachment.project_id == project.id)).first() is None


# --- B. Per-account lockout: one spelling of the username --------------------------------------


@pytest.mark.parametrize("variant", ["ali\x01ce", "alice\x00", "alice\x7f", "\x1falice", "ali\u200bce"])
def test_a_locked_account_stays_locked_whatever_the_spelling(client, db, ref, variant):
    make_user("staff", ref.huangyan, username="alice")
    db.session.commit()
    for _ in range(5):
        assert client.post("/login", data={"username": "alice", "password": "wrong-password"}).status_code == 200
    assert client.post("/login", data={"username": "ALICE ", "password": PASSWORD}).status_code == 429
    resp = client.post("/login", data={"username": variant, "password": PASSWORD})
    assert resp.status_code != 302, "a control character in the username got past the lockout"
    assert client.get("/projects/").status_code == 302  # not signed in


def test_control_characters_in_a_username_are_refused(client, db, ref):
    make_user("staff", ref.huangyan, username="bob")
    db.session.commit()
    resp = client.post("/login", data={"username": "bob\x00", "password": PASSWORD})
    assert resp.status_code == 200 and "用户名含有无效字符" in body(resp)
    assert client.post("/login", data={"username": " Bob ", "password": PASSWORD}).status_code == 302


# --- C. Each unit keeps its own investor records ----------------------------------------------


def test_naming_another_units_investor_creates_one_in_your_unit(client, login_as, db, ref):
    theirs = make_investor(unit=ref.linhai, name="临海独家投资有限公司", uscc=uscc(),
                           introduction="临海市登记的企业简介（保密）")
    login_as(make_user("staff", ref.huangyan))
    resp = client.post("/projects/new", data=project_form(ref, investor_name="临海独家投资有限公司"))
    assert resp.status_code == 302, body(resp)
    project = db.session.execute(select(Project).where(Project.name == "台州测试新能源项目")).scalar_one()
    assert project.investor_id != theirs.id and project.investor.unit_id == ref.huangyan.id
    page = body(client.get(f"/projects/{project.id}"))
    assert theirs.uscc not in page and "保密" not in page
    brief = body(client.get(f"/projects/{project.id}/brief"))
    assert theirs.uscc not in brief and "保密" not in brief


def test_a_county_user_cannot_set_another_units_investor_uscc(client, login_as, db, ref):
    theirs = make_investor(unit=ref.linhai, name="临海无代码投资有限公司", uscc=None)
    user = login_as(make_user("staff", ref.huangyan))
    code = uscc()
    resp = client.post("/projects/new", data=project_form(ref, investor_name="临海无代码投资有限公司",
                                                          investor_uscc=code))
    assert resp.status_code == 302, body(resp)
    assert db.session.get(Investor, theirs.id).uscc is None
    assert db.session.execute(select(AuditEntry).where(
        AuditEntry.object_type == "investor", AuditEntry.object_id == theirs.id,
        AuditEntry.actor_id == user.id)).first() is None


def test_api_create_does_not_return_another_units_investor(client, db, ref):
    theirs = make_investor(unit=ref.linhai, name="临海API投资有限公司", uscc=uscc(), introduction="保密简介")
    token = issue_token(make_user("staff", ref.huangyan), "tests")
    db.session.commit()
    resp = client.post("/api/v1/projects", headers={"Authorization": f"Bearer {token}"}, json={
        "name": "黄岩API项目", "investor": {"name": "临海API投资有限公司", "source_region": "江苏"},
        "industry": "新能源", "contracted_investment": "1000", "signed_on": "2024-12-20",
    })
    assert resp.status_code == 201, body(resp)
    assert theirs.uscc not in body(resp) and "保密简介" not in body(resp)


def test_an_investor_with_projects_does_not_move_to_another_unit(db, ref):
    city = make_user("staff", ref.city)
    investor = make_investor(unit=ref.huangyan)
    make_project(unit=ref.huangyan, investor=investor)
    values = {"name": investor.name, "uscc": investor.uscc, "source_region_id": investor.source_region_id,
              "country": "中国", "introduction": "", "unit_id": ref.linhai.id}
    with pytest.raises(project_ops.FieldErrors) as err:
        investor_operations.update_investor(city, investor, values, investor.version_id)
    assert "unit_id" in err.value.errors


def test_moving_a_project_to_another_unit_takes_an_investor_of_that_unit(db, ref):
    city = make_user("manager", ref.city)
    project = make_project(unit=ref.huangyan)
    old = project.investor
    values = {"name": project.name, "unit_id": ref.linhai.id, "industry_id": project.industry_id,
              "contracted_investment": project.contracted_investment}
    project_ops.update_project(city, project, values, {"name": old.name, "uscc": None, "source_region_id": None,
                                                       "country": None}, project.version_id)
    assert project.unit_id == ref.linhai.id and project.investor.unit_id == ref.linhai.id
    assert project.investor.name == old.name and old.unit_id == ref.huangyan.id


def test_operations_refuse_an_investor_outside_the_actors_scope(db, ref):
    county = make_user("staff", ref.huangyan)
    values = {"name": "越权投资方", "uscc": None, "source_region_id": ref.region.id, "country": "中国",
              "introduction": "", "unit_id": ref.linhai.id}
    with pytest.raises(project_ops.FieldErrors):
        investor_operations.create_investor(county, values)
    theirs = make_investor(unit=ref.linhai)
    with pytest.raises(project_ops.FieldErrors):
        investor_operations.update_investor(county, theirs, {**values, "name": "改名"}, theirs.version_id)


def test_the_seed_loader_keeps_investors_in_their_units(db, tmp_path, monkeypatch):
    import shutil
    from pathlib import Path

    import yaml

    from tracker import seeding

    seeds = Path(__file__).resolve().parent.parent / "seeds"
    shutil.copy(seeds / "reference.yaml", tmp_path / "reference.yaml")
    data = yaml.safe_load((seeds / "demo.yaml").read_text(encoding="utf-8"))
    project = data["projects"][0]
    investor = next(i for i in data["investors"] if i["name"] == project["investor"])
    investor["unit"] = "linhai" if project["unit"] != "linhai" else "huangyan"
    (tmp_path / "demo.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    monkeypatch.setattr(seeding, "hash_password", lambda _password: factories.password_hash())
    with pytest.raises(seeding.SeedError, match="each unit keeps its own investor records"):
        seeding.load_demo(tmp_path)


_FILLER = {bool: False, int: 1, str: "x", Decimal: Decimal("1"), date: date(2024, 1, 1),
           datetime: datetime(2024, 1, 1, tzinfo=timezone.utc)}


def _insert(conn, table, **values):
    """Insert a row into a reflected table, filling required columns nobody cares about."""
    for col in table.columns:
        if col.name in values or col.nullable or col.primary_key or col.server_default is not None:
            continue
        try:
            kind = col.type.python_type
        except NotImplementedError:
            kind = str
        values[col.name] = _FILLER[kind]
    return conn.execute(sa.insert(table).values(**values).returning(table.c.id)).scalar_one()


@pytest.mark.usefixtures("scratch_app")
def test_the_migration_gives_each_unit_its_own_investor():
    from flask_migrate import upgrade

    from tracker.extensions import db

    upgrade(revision="8c4e2f1a7d30")  # before names became unique per unit
    meta = sa.MetaData()
    meta.reflect(bind=db.engine)
    t = meta.tables
    with db.engine.begin() as conn:
        hy = _insert(conn, t["unit"], code="huangyan", name="黄岩区", is_city=False)
        lh = _insert(conn, t["unit"], code="linhai", name="临海市", is_city=False)
        region = _insert(conn, t["source_region"], name="江苏")
        industry = _insert(conn, t["industry"], name="新能源")
        shared = _insert(conn, t["investor"], name="两地公司", uscc="91331000MA2AXXXX01", source_region_id=region,
                         unit_id=lh, country="中国", introduction="临海写的简介")
        for n, unit in enumerate((lh, hy, hy)):
            _insert(conn, t["project"], name=f"项目{n}", investor_id=shared, industry_id=industry, unit_id=unit,
                    stage="signed", contracted_investment=1)
    upgrade()
    with db.engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT p.name, p.unit_id, i.id, i.unit_id, i.name, i.uscc, i.introduction FROM project p "
            "JOIN investor i ON i.id = p.investor_id ORDER BY p.name")).all()
    assert all(row[1] == row[3] for row in rows)  # every project's investor is its own unit's
    (_n0, _u0, lh_id, _, _, _, intro0), (_n1, _u1, hy_id, _, name, code, intro1), row2 = rows
    assert lh_id == shared and intro0 == "临海写的简介"
    assert hy_id != shared and row2[2] == hy_id  # one copy for the unit, shared by its projects
    assert (name, code, intro1) == ("两地公司", "91331000MA2AXXXX01", "")


# --- D. No existence oracles across units --------------------------------------------------------


def test_project_names_are_unique_per_unit_only(client, login_as, db, ref):
    make_project(unit=ref.linhai, name="临海的秘密项目")
    make_project(unit=ref.huangyan, name="黄岩已有项目")
    login_as(make_user("staff", ref.huangyan))
    resp = client.post("/projects/new", data=project_form(ref, name="临海的秘密项目"))
    assert resp.status_code == 302, body(resp)
    resp = client.post("/projects/new", data=project_form(ref, name="黄岩已有项目", investor_name="另一家公司"))
    assert resp.status_code == 422 and "已存在同名项目" in body(resp)


def test_investor_names_and_usccs_are_unique_per_unit_only(client, login_as, db, ref):
    theirs = make_investor(unit=ref.linhai, name="两地投资有限公司")
    ours = make_investor(unit=ref.huangyan, name="黄岩已登记公司")
    login_as(make_user("staff", ref.huangyan))
    resp = client.post("/investors/new", data=investor_form(ref, name="两地投资有限公司", uscc=theirs.uscc))
    assert resp.status_code == 302, body(resp)
    resp = client.post("/investors/new", data=investor_form(ref, name="新公司", uscc=ours.uscc))
    assert resp.status_code == 422 and "已属于另一家投资方" in body(resp)
    copies = db.session.execute(select(Investor).where(Investor.uscc == theirs.uscc)).scalars().all()
    assert sorted(i.unit_id for i in copies) == sorted([ref.linhai.id, ref.huangyan.id])


def test_ceremony_names_are_unique_per_host_unit_only(client, login_as, db, ref):
    make_ceremony(ref, [], name="临海专场签约仪式", unit=ref.linhai)
    make_ceremony(ref, [], name="黄岩专场签约仪式", unit=ref.huangyan)
    login_as(make_user("manager", ref.huangyan))
    form = {"held_on": "2025-03-28", "venue": "黄岩", "unit_id": ref.huangyan.id}
    resp = client.post("/ceremonies/new", data={**form, "name": "临海专场签约仪式"})
    assert resp.status_code == 302, body(resp)
    resp = client.post("/ceremonies/new", data={**form, "name": "黄岩专场签约仪式"})
    assert resp.status_code == 422 and "已存在同名的签约仪式" in body(resp)
    assert len(db.session.execute(select(Ceremony).where(Ceremony.name == "临海专场签约仪式")).all()) == 2


# --- E. Odd input never answers 500 ------------------------------------------------------------


def _int_routes(app):
    """Every GET route with an integer in its path: (rule, names of its integer parts)."""
    out = []
    for rule in app.url_map.iter_rules():
        ints = [name for name, conv in rule._converters.items() if isinstance(conv, IntegerConverter)]
        if "GET" in rule.methods and ints:
            out.append((rule, ints))
    return out


def _url(rule, ints, value):
    """The rule's path with ``value`` for its integers (other parts: a valid kind, or 1)."""
    def part(match):
        name = match.group(1)
        return str(value) if name in ints else ("industries" if name == "kind" else "1")

    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", part, rule.rule)


@pytest.fixture()
def signed_in(app, db, ref):
    manager = make_user("manager", ref.city)
    admin = make_user("admin", ref.city)
    db.session.commit()
    clients = []
    for user in (manager, admin):
        c = app.test_client()
        sign_in(c, user, commit=True)
        clients.append(c)
    return clients


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.integers(min_value=0, max_value=2**80))
@example(value=2**31 - 1)
@example(value=2**31)
@example(value=2**63 - 1)
@example(value=2**63)
@example(value=2**64)
def test_no_screen_route_answers_500_for_any_integer_id(app, signed_in, value):
    routes = _int_routes(app)
    assert len(routes) > 15
    for c in signed_in:
        for rule, ints in routes:
            url = _url(rule, ints, value)
            status = c.get(url).status_code
            assert status != 500, url
            if value > 2**31 - 1:
                assert status == 404, url


def test_inbox_read_with_a_huge_id_is_not_a_500(client, login_as, db, ref):
    login_as(make_user("staff", ref.huangyan))
    for raw in ("99999999999", str(2**31), str(2**63), str(2**64)):
        assert client.post("/inbox/read", data={"id": raw}).status_code == 302


def test_mark_read_ignores_ids_that_cannot_exist(db, ref):
    user = make_user("staff", ref.huangyan)
    assert wf.mark_read(user, [2**31, 2**63, 99999999999]) == 0


@pytest.fixture()
def carol(db, ref):
    make_user("staff", ref.huangyan, username="carol")
    db.session.commit()


@pytest.mark.parametrize("target", ["/projects/\r\nSet-Cookie: x=1", "/a\nb", "/a\rb", "/\t/evil.example",
                                    "/项目?q=台州", "/%0d%0a"])
def test_next_with_control_characters_is_not_a_500(app, carol, target):
    c = app.test_client()
    resp = c.post("/login", query_string={"next": target}, data={"username": "carol", "password": PASSWORD})
    assert resp.status_code == 302
    location = resp.headers["Location"]
    assert "\r" not in location and "\n" not in location and "evil.example" not in location


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(target=st.one_of(st.text(max_size=40), st.text(max_size=40).map(lambda s: "/" + s)))
def test_no_next_value_makes_login_answer_500(app, carol, target):
    c = app.test_client()
    resp = c.post("/login", query_string={"next": target}, data={"username": "carol", "password": PASSWORD})
    assert resp.status_code == 302
    location = resp.headers["Location"]
    assert not location.startswith("//") and "://" not in location.split("?")[0][:12]


def test_invalid_utf8_in_a_form_is_refused(client, login_as, db, ref):
    login_as(make_user("staff", ref.huangyan))
    raw = (f"name=%FF%FE%FD&uscc=&source_region_id={ref.region.id}&country=&unit_id={ref.huangyan.id}"
           "&introduction=").encode()
    resp = client.post("/investors/new", data=raw, content_type="application/x-www-form-urlencoded")
    assert resp.status_code == 400 and "UTF-8" in body(resp)
    assert db.session.execute(select(Investor).where(Investor.unit_id == ref.huangyan.id)).first() is None
    multipart = (b"--b\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n\xff\xfe\xfd\r\n--b--\r\n")
    resp = client.post("/investors/new", data=multipart, content_type="multipart/form-data; boundary=b")
    assert resp.status_code == 400
    assert client.get("/projects/?q=%FF%FE").status_code == 400
    assert client.get("/projects/", environ_overrides={"QUERY_STRING": "q=\xff"}).status_code == 400
    assert client.get("/projects/?q=%E5%8F%B0%E5%B7%9E").status_code == 200  # 台州, valid UTF-8
    assert client.get("/projects/?q=%25FF").status_code == 200  # a typed "%FF" is text like any other


# --- F. Ceremony projects: capped and linear --------------------------------------------------


def test_a_huge_project_list_is_refused_before_any_query(db, ref):
    ceremony = make_ceremony(ref, [], name="超大仪式")
    with count_queries(db) as statements, pytest.raises(ceremony_ops.CeremonyError) as err:
        ceremony_ops.set_projects(None, ceremony, list(range(1, 70_001)))
    assert "最多" in err.value.errors["project_ids"]
    assert statements == []


def test_api_answers_422_for_too_many_projects(client, db, ref):
    ceremony = make_ceremony(ref, [], name="API超大仪式")
    token = issue_token(make_user("manager", ref.city), "tests")
    db.session.commit()
    resp = client.put(f"/api/v1/ceremonies/{ceremony.id}/projects", headers={"Authorization": f"Bearer {token}"},
                      json=list(range(1, 10_001)))
    assert resp.status_code == 422, body(resp)[:300]
    assert "最多" in resp.get_json()["error"]["fields"]["project_ids"]


def test_set_projects_queries_do_not_grow_with_the_list(db, ref):
    def count(n):
        projects = [make_project(unit=ref.huangyan) for _ in range(n)]
        ceremony = make_ceremony(ref, [], name=f"计数仪式{n}")
        db.session.flush()
        with count_queries(db) as statements:
            ceremony_ops.set_projects(None, ceremony, [p.id for p in projects])
        return len([s for s in statements if s.lstrip().upper().startswith("SELECT")])

    assert count(30) == count(3)


# --- G. Deactivation ends API tokens for good; uploads per request are bounded ------------------


def test_reactivating_a_user_does_not_revive_their_tokens(db, ref):
    from tracker.auth.operations import set_active

    admin = make_user("admin", ref.city)
    user = make_user("staff", ref.huangyan)
    secret = issue_token(user, "OA")
    assert authenticate(f"Bearer {secret}") == user
    set_active(admin, user, False)
    set_active(admin, user, True)
    assert authenticate(f"Bearer {secret}") is None
    token = db.session.execute(select(ApiToken).where(ApiToken.user_id == user.id)).scalar_one()
    assert token.revoked_at is not None
    entry = db.session.execute(select(AuditEntry).where(AuditEntry.action == "api_token.revoke",
                                                        AuditEntry.object_id == token.id)).scalar_one()
    assert entry.actor_id == admin.id


def test_one_request_stores_at_most_max_files(db, ref):
    staff = make_user("staff", ref.huangyan)
    project = make_project(unit=ref.huangyan)
    for i in range(attachments.MAX_FILES_PER_REQUEST):
        attachments.store_upload(staff, project, None, FileStorage(io.BytesIO(PDF), f"{i}.pdf"))
    with pytest.raises(ValueError, match=str(attachments.MAX_FILES_PER_REQUEST)):
        attachments.store_upload(staff, project, None, FileStorage(io.BytesIO(PDF), "one-too-many.pdf"))


def test_too_many_files_on_the_request_screen_saves_nothing(client, login_as, db, ref):
    project = make_project(unit=ref.huangyan, stage="completed")
    login_as(make_user("staff", ref.huangyan))
    files = [(io.BytesIO(PDF), f"{i}.pdf") for i in range(attachments.MAX_FILES_PER_REQUEST + 1)]
    resp = client.post(f"/projects/{project.id}/stage-request", data={
        "to_stage": "production", "actual_date": "2024-07-01", "attachments": files,
    }, content_type="multipart/form-data")
    assert resp.status_code == 422 and "最多" in body(resp)
    assert wf.pending_request(project) is None
    assert db.session.execute(select(Attachment).where(Attachment.project_id == project.id)).first() is None


def test_an_id_beyond_any_row_is_404_for_every_method_of_the_route(client, db, ref):
    """Not 405: the router must not fall back to another method's rule of the same path."""
    from tests.factories import make_user
    from tracker.api.auth import issue_token

    token = issue_token(make_user("manager", ref.huangyan), "tests")
    db.session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    for method in ("GET", "PATCH"):
        resp = client.open(f"/api/v1/projects/{2**31}", method=method, headers=headers, json={"version": 1})
        assert resp.status_code == 404, (method, resp.status_code)
