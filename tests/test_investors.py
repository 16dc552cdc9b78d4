"""Investor (投资方) screens: scope, roles, validation, stale edits, escaping, query count."""
from __future__ import annotations

import re
from contextlib import contextmanager

import pytest
from sqlalchemy import event, select

from tests.factories import _get_or_create, make_investor, make_project, make_user, uscc
from tracker.audit.models import AuditEntry
from tracker.core import datacache
from tracker.projects.models import Investor, SourceRegion


def body(resp) -> str:
    return resp.get_data(as_text=True)


@pytest.fixture()
def login(login_as, db):
    """Commit the test's setup (releasing the test savepoint), then log in.

    The app rolls the session back on every error (404/403) and on refused input; without
    this, that rollback would also discard the rows the test made before the request.
    Everything is still undone after the test by the outer transaction.
    """

    def _login(user):
        db.session.commit()
        return login_as(user)

    return _login


@pytest.fixture()
def foreign(db, ref):
    return _get_or_create(SourceRegion, {"is_foreign": True, "sort_order": 9}, name="境外")


def form_data(ref, **overrides):
    data = {
        "name": "浙江清陶新能源有限公司",
        "uscc": uscc(),
        "source_region_id": ref.region.id,
        "country": "",
        "unit_id": ref.huangyan.id,
        "introduction": "固态锂电池研发与制造。",
    }
    data.update(overrides)
    return data


def audit_entries(db, investor_id):
    return db.session.execute(
        select(AuditEntry).where(AuditEntry.object_type == "investor", AuditEntry.object_id == investor_id)
        .order_by(AuditEntry.id)
    ).scalars().all()


# ---------------------------------------------------------------- scope and roles

def test_county_user_sees_only_own_unit(client, ref, login):
    mine = make_investor(unit=ref.huangyan, name="黄岩投资方")
    other = make_investor(unit=ref.linhai, name="临海投资方")
    login(make_user("staff", ref.huangyan))
    page = body(client.get("/investors/"))
    assert "黄岩投资方" in page and "临海投资方" not in page
    assert client.get(f"/investors/{mine.id}").status_code == 200
    assert client.get(f"/investors/{other.id}").status_code == 404
    assert client.get(f"/investors/{other.id}/edit").status_code == 404
    resp = client.post(f"/investors/{other.id}/edit", data=form_data(ref, name="改名", version=other.version_id,
                                                                      unit_id=ref.linhai.id))
    assert resp.status_code == 404
    assert client.get("/investors/99999999").status_code == 404


def test_city_user_sees_all(client, ref, login):
    make_investor(unit=ref.huangyan, name="黄岩投资方")
    make_investor(unit=ref.linhai, name="临海投资方")
    login(make_user("staff", ref.city))
    page = body(client.get("/investors/"))
    assert "黄岩投资方" in page and "临海投资方" in page
    only_linhai = body(client.get(f"/investors/?unit={ref.linhai.id}"))
    assert "临海投资方" in only_linhai and "黄岩投资方" not in only_linhai


def test_county_user_cannot_file_under_another_unit(client, ref, login, db):
    login(make_user("staff", ref.huangyan))
    resp = client.post("/investors/new", data=form_data(ref, unit_id=ref.linhai.id))
    assert resp.status_code == 422
    assert "请从列表中选择" in body(resp)
    assert db.session.execute(select(Investor).where(Investor.name == "浙江清陶新能源有限公司")).first() is None


@pytest.mark.parametrize("role,status", [("leader", 403), ("admin", 403), ("staff", 200), ("manager", 200)])
def test_create_form_by_role(client, ref, login, role, status):
    login(make_user(role, ref.huangyan))
    assert client.get("/investors/new").status_code == status


def test_leader_is_read_only(client, ref, login):
    inv = make_investor(unit=ref.huangyan, name="某投资方")
    login(make_user("leader", ref.huangyan))
    assert client.get("/investors/").status_code == 200
    detail = client.get(f"/investors/{inv.id}")
    assert detail.status_code == 200
    assert f"/investors/{inv.id}/edit" not in body(detail)
    assert "登记投资方" not in body(client.get("/investors/"))
    assert client.get(f"/investors/{inv.id}/edit").status_code == 403
    assert client.post(f"/investors/{inv.id}/edit", data=form_data(ref, version=inv.version_id)).status_code == 403
    assert client.post("/investors/new", data=form_data(ref)).status_code == 403


def test_anonymous_is_sent_to_login(client, ref):
    resp = client.get("/investors/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_detail_lists_only_in_scope_projects(client, ref, login):
    inv = make_investor(unit=ref.huangyan, name="共享投资方")
    make_project(unit=ref.huangyan, name="黄岩的项目", investor=inv, stage="registered")
    make_project(unit=ref.linhai, name="临海的项目", investor=inv)
    login(make_user("staff", ref.huangyan))
    page = body(client.get(f"/investors/{inv.id}"))
    assert "黄岩的项目" in page and "临海的项目" not in page
    assert "已注册" in page  # stage badge
    listing = body(client.get("/investors/"))
    row = listing[listing.index("共享投资方"):]
    assert re.search(r'<td class="num">1</td>', row)


# ---------------------------------------------------------------- create / edit

def test_create_records_audit(client, ref, login, db):
    user = login(make_user("staff", ref.huangyan))
    code = uscc()
    resp = client.post("/investors/new", data=form_data(ref, uscc=code))
    assert resp.status_code == 302
    inv = db.session.execute(select(Investor).where(Investor.uscc == code)).scalar_one()
    assert inv.unit_id == ref.huangyan.id and inv.country == "中国"
    entries = audit_entries(db, inv.id)
    assert [e.action for e in entries] == ["investor.create"] and entries[0].actor_id == user.id
    assert body(client.get(resp.headers["Location"])).count("浙江清陶新能源有限公司") >= 1


def test_duplicate_name_case_insensitive(client, ref, login):
    make_investor(unit=ref.huangyan, name="BSG Group 韩国")
    login(make_user("staff", ref.huangyan))
    resp = client.post("/investors/new", data=form_data(ref, name="bsg group 韩国"))
    assert resp.status_code == 422
    assert "已有同名投资方" in body(resp)
    assert 'value="bsg group 韩国"' in body(resp)
    # Said at once, even while another field is also wrong.
    resp = client.post("/investors/new", data=form_data(ref, name="BSG GROUP 韩国", uscc="123"))
    assert resp.status_code == 422
    assert "已有同名投资方" in body(resp) and "应为 18 位" in body(resp)


def test_duplicate_uscc(client, ref, login):
    existing = make_investor(unit=ref.huangyan)
    login(make_user("staff", ref.huangyan))
    resp = client.post("/investors/new", data=form_data(ref, uscc=existing.uscc.lower()))
    assert resp.status_code == 422
    assert "已属于另一家投资方" in body(resp)


@pytest.mark.parametrize("code,message", [
    ("91350100M000100Y44", "校验位不正确"),
    ("91350100M000100Y4", "应为 18 位"),
    ("91350100M000100YO3", "无效字符"),
])
def test_invalid_uscc(client, ref, login, code, message):
    login(make_user("staff", ref.huangyan))
    resp = client.post("/investors/new", data=form_data(ref, uscc=code))
    assert resp.status_code == 422
    assert message in body(resp)


def test_fullwidth_and_spaced_uscc_is_folded(client, ref, login, db):
    login(make_user("staff", ref.huangyan))
    fullwidth = "９１３５ ０１００ｍ０００１００ｙ４３"
    resp = client.post("/investors/new", data=form_data(ref, uscc=fullwidth))
    assert resp.status_code == 302, body(resp)
    assert db.session.execute(select(Investor.id).where(Investor.uscc == "91350100M000100Y43")).first()


def test_foreign_region_needs_foreign_country(client, ref, login, foreign, db):
    login(make_user("staff", ref.huangyan))
    resp = client.post("/investors/new", data=form_data(ref, source_region_id=foreign.id, country=""))
    assert resp.status_code == 422 and "请填写国家或地区" in body(resp)
    resp = client.post("/investors/new", data=form_data(ref, source_region_id=foreign.id, country="中国"))
    assert resp.status_code == 422 and "不能是中国" in body(resp)
    resp = client.post("/investors/new", data=form_data(ref, source_region_id=ref.region.id, country="韩国"))
    assert resp.status_code == 422 and "应为中国" in body(resp)
    resp = client.post("/investors/new", data=form_data(ref, name="韩国BSG集团", source_region_id=foreign.id, country="韩国"))
    assert resp.status_code == 302
    inv = db.session.execute(select(Investor).where(Investor.name == "韩国BSG集团")).scalar_one()
    assert inv.country == "韩国"


def test_bad_input_gives_messages_not_500(client, ref, login, db):
    login(make_user("staff", ref.huangyan))
    resp = client.post("/investors/new", data=form_data(
        ref, name="\x00\x00", uscc="\x00", source_region_id="abc", unit_id="1e309",
        introduction="长" * 2001, country="国" * 41))
    assert resp.status_code == 422
    page = body(resp)
    for message in ("请填写投资方名称", "请从列表中选择", "不能超过 2000 个字", "不能超过 40 个字"):
        assert message in page
    resp = client.post("/investors/new", data=form_data(ref, name="清陶\x00能源", introduction="第一行\r\n第二行\x00"))
    assert resp.status_code == 302
    inv = db.session.execute(select(Investor).where(Investor.name == "清陶能源")).scalar_one()
    assert inv.introduction == "第一行\n第二行"
    resp = client.post("/investors/new", data=form_data(ref, name="名" * 101))
    assert resp.status_code == 422 and "不能超过 100 个字" in body(resp)


def test_xss_text_is_escaped(client, ref, login, db):
    login(make_user("staff", ref.huangyan))
    evil = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
    resp = client.post("/investors/new", data=form_data(ref, name=evil[:100], introduction=evil))
    assert resp.status_code == 302
    for url in (resp.headers["Location"], "/investors/", "/investors/?q=%3Cscript%3E"):
        page = body(client.get(url))
        assert "<script>alert(1)</script>" not in page and "<img src=x" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_edit_records_diff(client, ref, login, db):
    inv = make_investor(unit=ref.huangyan, name="旧名称有限公司")
    login(make_user("manager", ref.huangyan))
    form = client.get(f"/investors/{inv.id}/edit")
    assert form.status_code == 200
    assert f'name="version" type="hidden" value="{inv.version_id}"' in body(form)
    resp = client.post(f"/investors/{inv.id}/edit", data=form_data(
        ref, name="新名称有限公司", uscc=inv.uscc, introduction=inv.introduction, version=inv.version_id))
    assert resp.status_code == 302, body(resp)
    db.session.expire_all()
    assert db.session.get(Investor, inv.id).name == "新名称有限公司"
    [entry] = audit_entries(db, inv.id)
    assert entry.action == "investor.update"
    assert entry.changes == {"name": ["旧名称有限公司", "新名称有限公司"]}
    assert "旧名称有限公司" in body(client.get(f"/investors/{inv.id}"))  # shown in the history
    db.session.refresh(inv)
    resp = client.post(f"/investors/{inv.id}/edit", data=form_data(
        ref, name="新名称有限公司", uscc=inv.uscc, introduction=inv.introduction, version=inv.version_id,
        source_region_id=ref.region_local.id))
    assert resp.status_code == 302, body(resp)
    assert audit_entries(db, inv.id)[-1].changes == {"source_region_id": [ref.region.id, ref.region_local.id]}
    assert "江苏 → 台州市内" in body(client.get(f"/investors/{inv.id}"))  # ids shown as names


def test_edit_to_duplicate_name_and_same_name_is_fine(client, ref, login):
    make_investor(unit=ref.huangyan, name="甲公司")
    inv = make_investor(unit=ref.huangyan, name="乙公司")
    login(make_user("staff", ref.huangyan))
    resp = client.post(f"/investors/{inv.id}/edit", data=form_data(ref, name="甲公司", uscc=inv.uscc,
                                                                    version=inv.version_id))
    assert resp.status_code == 422 and "已有同名投资方" in body(resp)
    resp = client.post(f"/investors/{inv.id}/edit", data=form_data(ref, name="乙公司", uscc=inv.uscc,
                                                                    version=inv.version_id))
    assert resp.status_code == 302


def test_stale_version_is_409_and_keeps_input(client, ref, login, db):
    inv = make_investor(unit=ref.huangyan, name="原名称")
    opened = inv.version_id
    inv.introduction = "别人刚改过。"
    db.session.flush()
    assert inv.version_id != opened
    login(make_user("staff", ref.huangyan))
    resp = client.post(f"/investors/{inv.id}/edit", data=form_data(
        ref, name="我填写的名称", uscc=inv.uscc, introduction="我写的简介", version=opened))
    assert resp.status_code == 409
    page = body(resp)
    assert "已被他人修改" in page
    assert 'value="我填写的名称"' in page and "我写的简介" in page
    assert "别人刚改过。" in page  # the latest saved values beside the form
    db.session.expire_all()
    assert db.session.get(Investor, inv.id).name == "原名称"
    assert audit_entries(db, inv.id) == []


def test_tampered_version_is_409(client, ref, login):
    inv = make_investor(unit=ref.huangyan)
    login(make_user("staff", ref.huangyan))
    resp = client.post(f"/investors/{inv.id}/edit", data=form_data(ref, uscc=inv.uscc, version="１"))
    assert resp.status_code == 409


# ---------------------------------------------------------------- list

def test_search_filter_sort_and_pagination(client, ref, login):
    make_investor(unit=ref.huangyan, name="台州100%本地公司", source_region=ref.region_local)
    yrd = make_investor(unit=ref.huangyan, name="江苏某某_公司")
    make_project(unit=ref.huangyan, investor=yrd)
    make_project(unit=ref.huangyan, investor=yrd)
    login(make_user("staff", ref.huangyan))
    assert "江苏某某_公司" not in body(client.get("/investors/?q=100%25"))
    assert "台州100%本地公司" in body(client.get("/investors/?q=100%25"))
    assert "台州100%本地公司" not in body(client.get("/investors/?q=_"))  # LIKE wildcards escaped
    assert "江苏某某_公司" in body(client.get(f"/investors/?q={yrd.uscc[-6:].lower()}"))
    yrd_page = body(client.get("/investors/?region=yrd"))
    assert "江苏某某_公司" in yrd_page and "台州100%本地公司" not in yrd_page
    local_page = body(client.get(f"/investors/?region={ref.region_local.id}"))
    assert "台州100%本地公司" in local_page and "江苏某某_公司" not in local_page
    by_count = body(client.get("/investors/?sort=projects"))
    assert by_count.index("江苏某某_公司") < by_count.index("台州100%本地公司")
    for odd in ("page=-1", "page=1e309", "page=abc", "sort=x;drop", "region=%00", "unit=１", "q=%00"):
        assert client.get(f"/investors/?{odd}").status_code == 200


def test_pagination_50_per_page(client, ref, login):
    for i in range(51):
        make_investor(unit=ref.huangyan, name=f"分页公司{i:02d}")
    login(make_user("staff", ref.huangyan))
    first = body(client.get("/investors/?sort=name"))
    assert "分页公司49" in first and "分页公司50" not in first
    assert "第 1 / 2 页" in first
    second = body(client.get("/investors/?sort=name&page=2"))
    assert "分页公司50" in second and "分页公司00" not in second
    assert "分页公司50" in body(client.get("/investors/?sort=name&page=999"))


def test_empty_state(client, ref, login):
    login(make_user("staff", ref.huangyan))
    assert "还没有登记投资方" in body(client.get("/investors/"))
    assert "没有符合筛选条件的投资方" in body(client.get("/investors/?q=不存在"))


@contextmanager
def count_queries(db):
    statements: list[str] = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            statements.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", listener)


def _make_investors_with_projects(ref, count):
    for _ in range(count):
        inv = make_investor(unit=ref.huangyan)
        make_project(unit=ref.huangyan, investor=inv)


@pytest.mark.parametrize("role_unit", ["county", "city"])
def test_list_has_no_n_plus_1(client, ref, login, db, role_unit):
    user = make_user("staff", ref.huangyan if role_unit == "county" else ref.city)
    login(user)
    # Factories write without audit entries, which is what moves the list cache's version
    # (core.datacache): each count is of a cold page.
    _make_investors_with_projects(ref, 5)
    db.session.expire_all()
    datacache.clear()
    with count_queries(db) as few:
        assert client.get("/investors/").status_code == 200
    _make_investors_with_projects(ref, 25)
    db.session.expire_all()
    datacache.clear()
    with count_queries(db) as many:
        resp = client.get("/investors/")
        assert resp.status_code == 200
    assert "共 <strong>30</strong> 家投资方" in body(resp)
    assert len(few) > 0 and len(many) == len(few), (len(few), len(many), many)


def test_list_counts_only_live_in_scope_projects(client, ref, login, db):
    inv = make_investor(unit=ref.huangyan, name="计数公司")
    make_project(unit=ref.huangyan, investor=inv)
    make_project(unit=ref.huangyan, investor=inv, is_archived=True)
    make_project(unit=ref.linhai, investor=inv)
    login(make_user("staff", ref.huangyan))
    page = body(client.get("/investors/"))
    assert "关联在库项目 <strong>1</strong>" in page


# ---------------------------------------------------------------- races inside the operations

def test_save_racing_after_the_version_check_is_stale(db, ref):
    from sqlalchemy import update
    from sqlalchemy.orm.exc import StaleDataError

    from tracker.projects.investor_operations import update_investor

    actor = make_user("staff", ref.huangyan)
    inv = make_investor(unit=ref.huangyan, name="竞态公司")
    seen = inv.version_id
    # Another transaction saves between our comparison and our UPDATE.
    db.session.execute(update(Investor).where(Investor.id == inv.id)
                       .values(version_id=seen + 1).execution_options(synchronize_session=False))
    values = {"name": "竞态公司改", "uscc": inv.uscc, "source_region_id": ref.region.id, "country": "中国",
              "introduction": inv.introduction, "unit_id": ref.huangyan.id}
    with pytest.raises(StaleDataError):
        update_investor(actor, inv, values, seen)


def test_duplicate_racing_past_the_check_is_a_field_message(db, ref, monkeypatch):
    from tracker.projects import investor_operations as ops
    from tracker.projects.operations import FieldErrors

    actor = make_user("staff", ref.huangyan)
    existing = make_investor(unit=ref.huangyan, name="先到公司")
    real = ops.duplicate_errors
    calls = []

    def miss_once(values, exclude_id):
        calls.append(1)
        return {} if len(calls) == 1 else real(values, exclude_id)

    monkeypatch.setattr(ops, "duplicate_errors", miss_once)
    values = {"name": "后到公司", "uscc": existing.uscc, "source_region_id": ref.region.id, "country": "中国",
              "introduction": "", "unit_id": ref.huangyan.id}
    with pytest.raises(FieldErrors) as err:
        ops.create_investor(actor, values)
    assert "uscc" in err.value.errors


def test_kept_list_follows_every_kind_of_write(app, db, ref):
    """The investor list's totals and rows are kept until the data changes (core.datacache):
    after each write, for each scope and filter, what the caches give equals a read from
    emptied caches."""
    from datetime import date
    from decimal import Decimal

    from flask_login import login_user

    from tracker.projects.investor_operations import create_investor, update_investor
    from tracker.projects.investor_views import list_investors
    from tracker.projects.operations import create_project, set_archived
    from tracker.projects.reference_forms import KINDS
    from tracker.projects.reference_operations import fingerprint, update_row

    staff, city = make_user("staff", ref.huangyan), make_user("manager", ref.city)
    views = [{}, {"sort": "projects"}, {"sort": "name"}, {"q": "缓存"}, {"region": "yrd"},
             {"region": str(ref.region.id)}, {"unit": str(ref.huangyan.id)}]

    def shown() -> list[str]:
        pages = []
        for user in (staff, city):
            for args in views:
                with app.test_request_context("/investors/", query_string=args):
                    login_user(user)
                    pages.append(list_investors())
        return pages

    def check(label: str) -> None:
        db.session.commit()
        kept = shown()  # warm from before this write
        datacache.clear()
        assert kept == shown(), label

    shown()
    values = {"name": "缓存投资一", "uscc": None, "source_region_id": ref.region.id, "country": "中国",
              "introduction": "", "unit_id": ref.huangyan.id}
    investor = create_investor(staff, values)
    check("investor created")
    update_investor(staff, investor, {**values, "name": "缓存投资一（改名）"}, investor.version_id)
    check("investor renamed")
    project = create_project(staff, {"name": "缓存投资项目", "unit_id": ref.huangyan.id, "industry_id": ref.industry.id,
                                     "signed_on": date(2024, 5, 1), "contracted_investment": Decimal(20000),
                                     "content": ""},
                             {"name": "缓存投资一（改名）", "uscc": None, "source_region_id": ref.region.id,
                              "country": "中国"}, "signed")
    check("project of the investor created")
    set_archived(city, project, True)
    check("its project archived")
    kind = KINDS["regions"]
    admin = make_user("admin", ref.city)
    update_row(admin, kind, ref.region, {"name": ref.region.name + "（改）", "is_yrd": not ref.region.is_yrd,
                                         "is_foreign": ref.region.is_foreign, "sort_order": ref.region.sort_order,
                                         "is_active": True}, fingerprint(kind, ref.region))
    check("source region renamed and moved out of (or into) 长三角")
