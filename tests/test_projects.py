"""Project screens: list filters and totals, create/edit validation, conflicts, archive."""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import event, select

from tests.factories import make_investor, make_project, make_user, uscc
from tracker.audit.models import AuditEntry
from tracker.core import datacache
from tracker.projects.models import Project


@pytest.fixture()
def staff(db, ref, login_as):
    user = make_user("staff", ref.huangyan)
    return user


def form_data(ref, **over):
    data = {
        "name": "台州测试新能源项目", "investor_name": "测试新能源科技有限公司", "investor_uscc": "",
        "source_region_id": ref.region.id, "investor_country": "", "industry_id": ref.industry.id,
        "unit_id": ref.huangyan.id, "platform_id": "", "owner_id": "", "stage": "signed",
        "signed_on": "2024-12-20", "contracted_investment": "150000", "fixed_asset_investment": "",
        "foreign_investment_usd": "", "funds_in_place": "", "land_area_mu": "", "content": "年产10GWh固态锂电池",
        "expected_output": "", "expected_tax": "", "expected_jobs": "",
    }
    data.update(over)
    return data


def test_create_project_and_find_it(client, login_as, staff, ref, db):
    login_as(staff)
    resp = client.post("/projects/new", data=form_data(ref, investor_uscc="91350100m000100y43"))
    assert resp.status_code == 302
    project = db.session.execute(select(Project).where(Project.name == "台州测试新能源项目")).scalar_one()
    assert project.unit_id == ref.huangyan.id and project.stage == "signed"
    assert project.investor.uscc == "91350100M000100Y43"
    assert project.contracted_investment == Decimal("150000.00")
    entries = db.session.execute(select(AuditEntry.action).where(AuditEntry.project_id == project.id)).scalars().all()
    assert "project.create" in entries
    body = client.get("/projects/?q=新能源科技").get_data(as_text=True)
    assert "台州测试新能源项目" in body


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("contracted_investment", "-5", "金额不能为负数"),
        ("contracted_investment", "1e309", "请输入数字"),
        ("contracted_investment", "NaN", "请输入数字"),
        ("contracted_investment", "99999999999999", "数值过大"),
        ("contracted_investment", "", "请填写协议投资额"),
        ("investor_uscc", "91350100M000100Y44", "统一社会信用代码校验位不正确"),
        ("investor_uscc", "I1350100M000100Y43", "统一社会信用代码含无效字符"),
        ("signed_on", "2024-02-30", "日期格式不正确"),
        ("signed_on", "1900-01-01", "日期超出合理范围"),
        ("signed_on", "", "已签约的项目请填写签约日期"),
        ("name", "项" * 101, "不能超过 100 个字"),
        ("name", "", "请填写项目名称"),
        ("content", "长" * 2001, "不能超过 2000 个字"),
        ("expected_jobs", "many", "请输入整数"),
        ("land_area_mu", "200000", "数值过大"),
        ("unit_id", "99999", "请从列表中选择"),
        ("industry_id", "abc", "请从列表中选择"),
        ("stage", "full_capacity", "请从列表中选择"),
        ("fixed_asset_investment", "200000", "固定资产投资不能大于协议投资额"),
    ],
)
def test_bad_input_is_explained_beside_the_field(client, login_as, staff, ref, db, field, value, message):
    login_as(staff)
    data = form_data(ref, **{field: value})
    resp = client.post("/projects/new", data=data)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert message in body
    # The other values are kept in the form.
    assert "测试新能源科技有限公司" in body
    assert db.session.execute(select(Project).where(Project.name == data["name"])).first() is None


def test_other_units_cannot_be_chosen_by_a_county_user(client, login_as, staff, ref, db):
    login_as(staff)
    resp = client.post("/projects/new", data=form_data(ref, unit_id=ref.linhai.id))
    assert resp.status_code == 422 and "请从列表中选择" in resp.get_data(as_text=True)


def test_a_unit_not_in_the_list_is_marked_beside_its_amount(client, login_as, staff, ref, db):
    """A hand-made request with a unit the select does not offer ("亿元" for "yi"): the message
    says which field, beside the amount, instead of "请修改标红的字段" with nothing marked."""
    login_as(staff)
    resp = client.post("/projects/new", data=form_data(ref, contracted_investment="5.2",
                                                       contracted_investment_unit="亿元"))
    body = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert re.search(r'<div class="field has-error">\s*<label for="contracted_investment"', body)
    assert "请从列表中选择（可选：wan, yi）" in body


def test_full_width_digits_nul_bytes_and_markup(client, login_as, staff, ref, db):
    login_as(staff)
    resp = client.post("/projects/new", data=form_data(
        ref, name="<script>alert(1)</script>项目\x00", contracted_investment="１２，５００"))
    assert resp.status_code == 302
    project = db.session.execute(select(Project).where(Project.name.like("<script>%"))).scalar_one()
    assert project.contracted_investment == Decimal("12500.00") and "\x00" not in project.name
    page = client.get(f"/projects/{project.id}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;项目" in page


def test_duplicate_name_is_refused_beside_the_field(client, login_as, staff, ref, db):
    make_project(name="已存在的项目")
    login_as(staff)
    resp = client.post("/projects/new", data=form_data(ref, name="已存在的项目"))
    assert resp.status_code == 422 and "已存在同名项目" in resp.get_data(as_text=True)


def test_existing_investor_is_reused_but_a_different_uscc_is_refused(client, login_as, staff, ref, db):
    inv = make_investor(name="已登记投资方有限公司", uscc=uscc())
    login_as(staff)
    resp = client.post("/projects/new", data=form_data(ref, investor_name="已登记投资方有限公司",
                                                       investor_uscc=uscc(), source_region_id=""))
    assert resp.status_code == 422 and "不一致" in resp.get_data(as_text=True)
    resp = client.post("/projects/new", data=form_data(ref, investor_name="已登记投资方有限公司", source_region_id=""))
    assert resp.status_code == 302
    assert db.session.execute(select(Project).where(Project.name == "台州测试新能源项目")).scalar_one().investor_id == inv.id


def test_stale_edit_is_a_conflict_that_keeps_the_input(client, login_as, staff, ref, db):
    project = make_project(name="并发编辑项目")
    login_as(staff)
    form = client.get(f"/projects/{project.id}/edit").get_data(as_text=True)
    assert f'name="version" type="hidden" value="{project.version_id}"' in form
    stale_version = project.version_id
    # Someone else saves first.
    other = form_data(ref, name="并发编辑项目", investor_name=project.investor.name, contracted_investment="200000",
                      version=str(stale_version))
    other.pop("stage")
    assert client.post(f"/projects/{project.id}/edit", data=other).status_code == 302
    mine = dict(other, contracted_investment="999", content="我的修改内容")
    resp = client.post(f"/projects/{project.id}/edit", data=mine)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 409
    assert "已被他人修改" in body and "我的修改内容" in body
    db.session.expire_all()
    assert db.session.get(Project, project.id).contracted_investment == Decimal("200000.00")


def test_edit_records_before_and_after(client, login_as, staff, ref, db):
    project = make_project(name="审计项目", contracted_investment=Decimal("1000"))
    login_as(staff)
    data = form_data(ref, name="审计项目", investor_name=project.investor.name, contracted_investment="2000",
                     version=str(project.version_id))
    data.pop("stage")
    assert client.post(f"/projects/{project.id}/edit", data=data).status_code == 302
    entry = db.session.execute(select(AuditEntry).where(AuditEntry.action == "project.update",
                                                        AuditEntry.project_id == project.id)).scalar_one()
    assert entry.changes["contracted_investment"] == ["1000", "2000"]
    assert entry.actor_id == staff.id


def test_timeline_pages_back_through_long_histories(client, login_as, staff, ref, db):
    from tracker.audit.operations import record

    project = make_project(unit=ref.huangyan)
    for n in range(34):
        record(staff, "project.update", project, {"content": [f"旧{n}", f"新{n}"]})
    db.session.commit()
    login_as(staff)
    first = client.get(f"/projects/{project.id}").get_data(as_text=True)
    assert "新33" in first and "新4<" in first and "新3<" not in first and first.count('class="tl-') == 30
    older = select(AuditEntry.id).where(AuditEntry.project_id == project.id).order_by(AuditEntry.id.desc())
    boundary = db.session.execute(older.offset(29).limit(1)).scalar_one()
    assert f"before={boundary}" in first
    rest = client.get(f"/projects/{project.id}?before={boundary}").get_data(as_text=True)
    assert "新3<" in rest and "新0<" in rest and "新33" not in rest and "更早的记录" not in rest
    assert client.get(f"/projects/{project.id}?before=x1").status_code == 200


def test_archive_and_restore(client, login_as, ref, db):
    manager = make_user("manager", ref.huangyan)
    project = make_project(name="归档项目")
    login_as(manager)
    assert client.post(f"/projects/{project.id}/archive").status_code == 302
    assert "归档项目" not in client.get("/projects/").get_data(as_text=True)
    assert "归档项目" in client.get("/projects/?archived=1").get_data(as_text=True)
    assert client.get(f"/projects/{project.id}/edit").status_code == 302  # archived: read-only
    assert client.post(f"/projects/{project.id}/restore").status_code == 302
    assert "归档项目" in client.get("/projects/").get_data(as_text=True)


def test_filters_totals_and_sort(client, login_as, staff, ref, db):
    make_project(name="大项目A", contracted_investment=Decimal("1200000"), stage="construction",
                 signed_on=date(2024, 3, 1))
    make_project(name="中项目B", contracted_investment=Decimal("600000"), stage="signed", signed_on=date(2023, 3, 1))
    make_project(name="小项目C", contracted_investment=Decimal("5000"), stage="signed", signed_on=date(2024, 5, 1),
                 industry=ref.industry2)
    make_project(unit=ref.linhai, name="临海项目D", contracted_investment=Decimal("900000"))
    login_as(staff)
    body = client.get("/projects/").get_data(as_text=True)
    assert "临海项目D" not in body
    assert "<strong>3</strong>" in body and "<strong>180.50</strong>" in body  # 亿元
    body = client.get("/projects/?size=100").get_data(as_text=True)
    assert "大项目A" in body and "中项目B" not in body
    body = client.get("/projects/?size=50&year=2023").get_data(as_text=True)
    assert "中项目B" in body and "大项目A" not in body
    body = client.get(f"/projects/?stage=signed&industry={ref.industry2.id}").get_data(as_text=True)
    assert "小项目C" in body and "中项目B" not in body
    body = client.get("/projects/?sort=investment_asc").get_data(as_text=True)
    assert body.index("小项目C") < body.index("中项目B") < body.index("大项目A")
    body = client.get("/projects/?q=%25").get_data(as_text=True)  # a literal % matches nothing
    assert "没有符合筛选条件的项目" in body


@pytest.mark.parametrize("query", ["page=-1", "page=abc", "page=1e309", "page=99999999999", "sort=drop%20table",
                                   "stage=<x>", "unit=1%00", "year=１２", "q=" + "长" * 500, "region=yrd%00"])
def test_odd_query_strings_never_fail(client, login_as, staff, ref, query):
    login_as(staff)
    assert client.get("/projects/?" + query).status_code == 200


def test_list_queries_do_not_grow_with_rows(client, login_as, staff, ref, db):
    login_as(staff)
    counts = []
    for n in (3, 40):
        for _ in range(n - (counts and 3 or 0)):
            make_project()
        db.session.commit()
        statements: list[int] = []

        def listener(*_args, statements=statements):
            statements.append(1)

        datacache.clear()  # the factory writes no audit entry: the cached totals would stay
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            assert client.get("/projects/").status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        counts.append(len(statements))
    assert counts[0] == counts[1]


def test_pagination_caps_at_last_page(client, login_as, staff, db):
    for _ in range(55):
        make_project()
    login_as(staff)
    body = client.get("/projects/?page=9").get_data(as_text=True)
    assert "第 2 / 2 页" in body


def test_healthz_reports_a_database_failure(client, db, monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("database is down")

    monkeypatch.setattr(db.session, "execute", boom)
    resp = client.get("/healthz")
    assert resp.status_code == 503 and resp.get_json() == {"status": "error", "db": "error"}


# --- What changed: the 待审批 mark and 最近更新 (issue 9, item 5) ------------------------------


def _age(db, *projects):
    """Give the projects old, distinct 最近更新 times (oldest first) without an ORM update."""
    from datetime import datetime, timezone

    from sqlalchemy import update

    for n, project in enumerate(projects):
        db.session.execute(update(Project).where(Project.id == project.id)
                           .values(updated_at=datetime(2024, 1, 1 + n, tzinfo=timezone.utc))
                           .execution_options(synchronize_session=False))
        db.session.expire(project)


def _file_request(staff, project):
    from tracker.workflow import operations as wf

    return wf.request_move(staff, project, to_stage="production", actual_date="2024-07-01")


def _event(kind, db, ref, staff, project):
    """Do one of the changes that should move the project to the top of 最近更新."""
    import io

    from werkzeug.datastructures import FileStorage

    from tracker.workflow import operations as wf
    from tracker.workflow.attachments import store_upload

    if kind == "request":
        return _file_request(staff, project)
    if kind == "attachment":
        return store_upload(staff, project, None, FileStorage(io.BytesIO(b"%PDF-1.4 evidence"), "a.pdf"))
    if kind == "milestone":
        return wf.set_planned_dates(staff, project, {"production": date(2025, 1, 1)})
    req = _file_request(staff, project)
    _age(db, project)  # filing moved it already: the decision must move it again
    if kind == "withdraw":
        return wf.withdraw(staff, req.id)
    return wf.reject(make_user("manager", ref.huangyan), req.id, "材料不全")


@pytest.mark.parametrize("kind", ["request", "reject", "withdraw", "attachment", "milestone"])
def test_a_change_elsewhere_moves_the_project_up_in_recent_updates(client, login_as, staff, ref, db, kind):
    changed = make_project(name="甲项目", stage="completed")
    other = make_project(name="乙项目", stage="completed")
    db.session.flush()
    _age(db, changed, other)  # 乙 is the more recent one
    version = changed.version_id
    login_as(staff)
    body = client.get("/projects/?sort=updated").get_data(as_text=True)
    assert body.index("乙项目") < body.index("甲项目")
    _event(kind, db, ref, staff, changed)
    db.session.commit()
    body = client.get("/projects/?sort=updated").get_data(as_text=True)
    assert body.index("甲项目") < body.index("乙项目")
    db.session.refresh(changed)
    assert changed.version_id == version  # an open edit form of the project is not made stale


def test_rows_with_a_pending_request_are_marked(client, login_as, staff, ref, db):
    waiting = make_project(name="待批项目", stage="completed")
    make_project(name="平常项目", stage="completed")
    _file_request(staff, waiting)
    login_as(staff)
    body = client.get("/projects/").get_data(as_text=True)
    assert body.count('class="tag pending"') == 1
    row = body[body.index("待批项目"):]
    assert row.index('class="tag pending"') < row.index("</tr>")


def test_empty_sections_of_the_project_page_cost_no_query(client, login_as, ref, db):
    """Whether the project has a pending request, a scan, a funds record or a 增资 comes with
    the project's own query: a project with none reads none of them, and each shows once it
    exists."""
    from io import BytesIO

    from tests.factories import count_queries
    from tracker.workflow import operations as wf

    staff = make_user("staff", ref.huangyan)
    project_id, staff_id = make_project(name="区块测试项目").id, staff.id
    db.session.commit()
    login_as(staff)

    def page() -> tuple[str, list[str]]:
        db.session.expunge_all()  # as a request's own session starts
        with count_queries(db) as statements:
            resp = client.get(f"/projects/{project_id}")
        assert resp.status_code == 200
        return resp.get_data(as_text=True), statements

    html, statements = page()
    # (the header's badge counts read stage_request too: only the sections' own reads count)
    assert not any(sql.startswith(("SELECT stage_request.id", "SELECT attachment.id", "SELECT funds_record.id"))
                   for sql in statements), statements
    assert not any("WHERE project.increase_of_id = " in sql for sql in statements), statements
    assert "待审批" not in html and "证明材料" not in html and "尚未登记到位资金" in html

    project = db.session.get(Project, project_id)
    staff = db.session.get(type(staff), staff_id)
    wf.request_move(staff, project, to_stage="registered", actual_date="2024-06-01",
                    values={"company_uscc": uscc(), "registered_capital": "5000"})
    make_project(name="区块测试增资", increase_of_id=project.id)
    db.session.commit()
    assert client.post(f"/projects/{project.id}/funds", content_type="multipart/form-data",
                       data={"received_on": "2024-06-02", "amount": "1",
                             "file": (BytesIO(b"%PDF-1.4 bank slip"), "回单.pdf")}).status_code == 302
    html, _statements = page()
    assert "待审批" in html  # the pending request's panel
    assert "回单.pdf" in html and "证明材料" in html
    assert "尚未登记到位资金" not in html and "合计（1 笔）" in html  # the funds record's table
    assert "区块测试增资" in html
