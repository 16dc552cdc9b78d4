"""Funds in place recorded over time (issue 10 item 4): the records keep
``Project.funds_in_place`` equal to their sum, a total above the contracted investment asks for
confirmation, bad input gets messages (never a 500), scope and roles, audit entries, the
project page's card and the full list."""
from __future__ import annotations

import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event, func, select

from tests.factories import make_project, make_user
from tests.test_api import _error, _new_project, api, world  # noqa: F401 (fixtures used by name)
from tests.test_projects import form_data
from tracker.audit.models import AuditEntry
from tracker.core.formatting import today_local
from tracker.core.input import InputError
from tracker.funds.models import FundsRecord
from tracker.funds.operations import ArchivedProject, NotAllowed, add_funds, remove_funds
from tracker.funds.schemas import parse_funds_amount
from tracker.funds.views import funds_rate
from tracker.projects.models import Project

DAY = date(2025, 3, 1)


@pytest.fixture()
def people(db, ref):
    return {
        "staff": make_user("staff", ref.huangyan),
        "manager": make_user("manager", ref.huangyan),
        "leader": make_user("leader", ref.huangyan),
        "lh_staff": make_user("staff", ref.linhai),
        "city_staff": make_user("staff", ref.city),
    }


@pytest.fixture()
def project(db, ref):
    return make_project(unit=ref.huangyan, name="黄岩到位资金项目", contracted_investment=Decimal("20000"))


def _stored_sum(db, project_id):
    return db.session.execute(select(func.coalesce(func.sum(FundsRecord.amount), 0))
                              .where(FundsRecord.project_id == project_id)).scalar_one()


def _fresh(db, project_id) -> Project:
    db.session.expire_all()
    return db.session.get(Project, project_id)


def _actions(db, project_id):
    return db.session.execute(select(AuditEntry.action).where(AuditEntry.project_id == project_id)
                              .order_by(AuditEntry.id)).scalars().all()


# --- Operations --------------------------------------------------------------------------------


def test_add_and_remove_keep_the_sum_without_bumping_the_version(db, people, project):
    version = project.version_id
    first = add_funds(people["staff"], project, DAY, Decimal("3000"), "首期", "回单 001")
    add_funds(people["staff"], project, DAY + timedelta(days=30), "5000", "", "")
    add_funds(people["manager"], project, DAY + timedelta(days=60), "0.5亿", "", "验资报告 2025-7")
    db.session.flush()
    fresh = _fresh(db, project.id)
    assert fresh.funds_in_place == Decimal("13000.00") == _stored_sum(db, project.id)
    assert fresh.version_id == version  # an open edit form is not told the project changed

    remove_funds(people["staff"], db.session.get(FundsRecord, first.id), "重复登记")
    db.session.flush()
    fresh = _fresh(db, project.id)
    assert fresh.funds_in_place == Decimal("10000.00") == _stored_sum(db, project.id)
    assert fresh.version_id == version
    assert _actions(db, project.id).count("funds.create") == 3
    deleted = db.session.execute(select(AuditEntry).where(AuditEntry.action == "funds.delete")).scalar_one()
    assert deleted.changes["amount"] == "3000" and deleted.changes["reason"] == "重复登记"
    assert deleted.changes["funds_in_place"] == ["13000", "10000"] and deleted.project_id == project.id


def test_sum_goes_back_to_zero(db, people, project):
    row = add_funds(people["staff"], project, DAY, Decimal("1"), "", "")
    remove_funds(people["staff"], row)
    assert _fresh(db, project.id).funds_in_place == Decimal("0")


def test_total_above_investment_asks_for_confirmation(db, people, project):
    add_funds(people["staff"], project, DAY, Decimal("15000"), "", "")
    with pytest.raises(InputError) as err:
        add_funds(people["staff"], project, DAY, Decimal("6000"), "", "")
    assert "confirm" in err.value.errors and "超过协议投资额" in err.value.errors["confirm"]
    assert _fresh(db, project.id).funds_in_place == Decimal("15000.00")
    add_funds(people["staff"], _fresh(db, project.id), DAY, Decimal("6000"), "", "", confirm=True)
    assert _fresh(db, project.id).funds_in_place == Decimal("21000.00")
    entry = db.session.execute(select(AuditEntry).where(AuditEntry.action == "funds.create")
                               .order_by(AuditEntry.id.desc()).limit(1)).scalar_one()
    assert entry.changes["confirmed_above_investment"] is True


def test_exactly_the_investment_needs_no_confirmation(db, people, project):
    add_funds(people["staff"], project, DAY, Decimal("20000"), "", "")
    assert _fresh(db, project.id).funds_in_place == Decimal("20000.00")


@pytest.mark.parametrize("received_on,amount,field", [
    (DAY, Decimal("-1"), "amount"),
    (DAY, Decimal("0"), "amount"),
    (DAY, "abc", "amount"),
    (DAY, "1e20", "amount"),
    (DAY, Decimal("1e20"), "amount"),
    (DAY, None, "amount"),
    (None, Decimal("10"), "received_on"),
    (date(1989, 12, 31), Decimal("10"), "received_on"),
    ("future", Decimal("10"), "received_on"),
])
def test_operation_refuses_bad_input(db, people, project, received_on, amount, field):
    if received_on == "future":
        received_on = today_local() + timedelta(days=1)
    with pytest.raises(InputError) as err:
        add_funds(people["staff"], project, received_on, amount, "", "")
    assert field in err.value.errors
    assert db.session.execute(select(func.count(FundsRecord.id))
                              .where(FundsRecord.project_id == project.id)).scalar_one() == 0


def test_archived_project_and_wrong_role_refuse(db, people, project):
    with pytest.raises(NotAllowed):
        add_funds(people["leader"], project, DAY, Decimal("10"), "", "")
    with pytest.raises(NotAllowed):
        add_funds(people["lh_staff"], project, DAY, Decimal("10"), "", "")
    row = add_funds(people["staff"], project, DAY, Decimal("10"), "", "")
    project.is_archived = True
    db.session.flush()
    with pytest.raises(ArchivedProject):
        add_funds(people["staff"], project, DAY, Decimal("10"), "", "")
    with pytest.raises(ArchivedProject):
        remove_funds(people["staff"], row)


@pytest.mark.parametrize("raw,unit,expected", [
    ("3000", "wan", "3000.00"), ("5.2亿", "wan", "52000.00"), ("5.2亿元", None, "52000.00"),
    ("5.2", "yi", "52000.00"), ("３，０００万元", "wan", "3000.00"), (" 12.5 ", None, "12.50"),
    ("0.000001", "yi", "0.01"),
])
def test_amount_parsing(raw, unit, expected):
    assert parse_funds_amount(raw, unit) == Decimal(expected)


def test_rate():
    assert funds_rate(Decimal("5000"), Decimal("20000")) == Decimal("25.0")
    assert funds_rate(Decimal("5000"), Decimal("0")) is None
    assert funds_rate(Decimal("0"), None) is None


# --- Screens -----------------------------------------------------------------------------------


def _post(client, project, **over):
    data = {"received_on": DAY.isoformat(), "amount": "3000", "amount_unit": "wan", "note": "首期到位",
            "evidence": "工行回单 20250301-01"}
    data.update(over)
    return client.post(f"/projects/{project.id}/funds", data=data)


def test_add_on_screen_shows_on_project_page(client, login_as, db, people, project):
    login_as(people["staff"])
    resp = _post(client, project)
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/projects/{project.id}#funds")
    resp = _post(client, project, amount="0.5", amount_unit="yi", received_on="2025-04-01", note="二期")
    assert resp.status_code == 302
    assert _fresh(db, project.id).funds_in_place == Decimal("8000.00")
    page = client.get(f"/projects/{project.id}").get_data(as_text=True)
    assert "工行回单 20250301-01" in page and "首期到位" in page
    assert "40.0%" in page  # 8000 / 20000
    assert "合计（2 笔）" in page and "8,000" in page
    assert page.index("二期") < page.index("首期到位")  # newest first
    assert f'action="/projects/{project.id}/funds"' in page
    assert f"/projects/{project.id}/funds/" in page  # delete buttons
    assert "funds.create" in _actions(db, project.id)


def test_over_investment_confirmation_on_screen(client, login_as, db, people, project):
    login_as(people["staff"])
    resp = _post(client, project, amount="2.5亿")
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert "超过协议投资额" in page and 'name="confirm"' in page
    assert 'value="2.5亿"' in page and "工行回单 20250301-01" in page  # input kept
    assert _fresh(db, project.id).funds_in_place == Decimal("0.00")
    resp = _post(client, project, amount="2.5亿", confirm="y")
    assert resp.status_code == 302
    assert _fresh(db, project.id).funds_in_place == Decimal("25000.00")


@pytest.mark.parametrize("over,message", [
    ({"amount": "-5"}, "金额不能为负数"),
    ({"amount": "0"}, "须大于 0"),
    ({"amount": "abc"}, "请输入数字"),
    ({"amount": "1e20"}, "请输入数字"),
    ({"amount": "99999999999999"}, "数值过大"),
    ({"amount": "NaN"}, "请输入数字"),
    ({"amount": ""}, "请填写到位金额"),
    ({"amount": "5", "amount_unit": "yuan"}, "请从"),
    ({"received_on": (date.today() + timedelta(days=3)).isoformat()}, "不能晚于今天"),
    ({"received_on": "1900-01-01"}, "日期超出合理范围"),
    ({"received_on": "2025-02-30"}, "日期格式不正确"),
    ({"received_on": ""}, "请填写到账日期"),
    ({"note": "x" * 5000}, "500"),
    ({"evidence": "a\x00b" * 300}, "200"),
])
def test_bad_input_on_screen_is_422_with_message(client, login_as, db, people, project, over, message):
    login_as(people["staff"])
    resp = _post(client, project, **over)
    assert resp.status_code == 422, resp.get_data(as_text=True)[:500]
    assert message in resp.get_data(as_text=True)
    assert _fresh(db, project.id).funds_in_place == Decimal("0.00")


def test_scan_is_stored_and_linked(client, login_as, db, people, project):
    login_as(people["staff"])
    pdf = (io.BytesIO(b"%PDF-1.4 bank slip"), "回单.pdf")
    resp = client.post(f"/projects/{project.id}/funds", content_type="multipart/form-data",
                       data={"received_on": DAY.isoformat(), "amount": "100", "file": pdf})
    assert resp.status_code == 302
    row = db.session.execute(select(FundsRecord).where(FundsRecord.project_id == project.id)).scalar_one()
    assert row.attachment_id is not None
    page = client.get(f"/projects/{project.id}").get_data(as_text=True)
    assert "回单.pdf" in page and f"/attachments/{row.attachment_id}" in page


def test_a_refused_scan_saves_nothing(client, login_as, db, people, project):
    login_as(people["staff"])
    resp = client.post(f"/projects/{project.id}/funds", content_type="multipart/form-data",
                       data={"received_on": DAY.isoformat(), "amount": "100",
                             "file": (io.BytesIO(b"MZ not a pdf"), "virus.pdf")})
    assert resp.status_code == 422
    assert "PDF" in resp.get_data(as_text=True)
    assert _fresh(db, project.id).funds_in_place == Decimal("0.00")
    assert _stored_sum(db, project.id) == 0


def test_delete_on_screen(client, login_as, db, people, project):
    row = add_funds(people["staff"], project, DAY, Decimal("700"), "", "")
    add_funds(people["staff"], project, DAY, Decimal("300"), "", "")
    login_as(people["manager"])
    resp = client.post(f"/projects/{project.id}/funds/{row.id}/delete", data={"reason": "录错"})
    assert resp.status_code == 302
    assert _fresh(db, project.id).funds_in_place == Decimal("300.00")
    assert db.session.get(FundsRecord, row.id) is None
    assert "funds.delete" in _actions(db, project.id)


def test_bad_ids_are_404(client, login_as, db, people, project, ref):
    other = make_project(unit=ref.huangyan, name="另一个项目")
    theirs = add_funds(people["staff"], other, DAY, Decimal("5"), "", "")
    login_as(people["staff"])
    assert client.post(f"/projects/{project.id}/funds/{theirs.id}/delete").status_code == 404
    assert client.post(f"/projects/{project.id}/funds/999999/delete").status_code == 404
    assert client.post(f"/projects/{project.id}/funds/99999999999999999999/delete").status_code == 404
    assert client.get("/projects/99999999/funds").status_code == 404
    assert client.get("/projects/99999999999999999999/funds").status_code == 404
    assert client.get(f"/projects/{project.id}/funds?page=abc").status_code == 200
    assert client.get(f"/projects/{project.id}/funds?page=99999999999999999999").status_code == 200
    assert _fresh(db, other.id).funds_in_place == Decimal("5.00")


def test_other_units_project_is_404_and_leader_is_403(client, login_as, db, people, project, ref):
    row = add_funds(people["staff"], project, DAY, Decimal("5"), "", "")
    login_as(people["lh_staff"])
    assert client.get(f"/projects/{project.id}/funds").status_code == 404
    assert _post(client, project).status_code == 404
    assert client.post(f"/projects/{project.id}/funds/{row.id}/delete").status_code == 404
    login_as(people["leader"])
    assert client.get(f"/projects/{project.id}/funds").status_code == 200
    assert _post(client, project).status_code == 403
    assert client.post(f"/projects/{project.id}/funds/{row.id}/delete").status_code == 403
    page = client.get(f"/projects/{project.id}").get_data(as_text=True)
    assert "登记一笔到位资金" not in page and f"/funds/{row.id}/delete" not in page  # no form, no buttons
    assert "登记到位资金" in page  # the timeline entry
    login_as(people["city_staff"])  # the city sees and records for every unit
    assert _post(client, project).status_code == 302
    assert _fresh(db, project.id).funds_in_place == Decimal("3005.00")


def test_archived_project_on_screen(client, login_as, db, people, project):
    row = add_funds(people["staff"], project, DAY, Decimal("5"), "", "")
    project.is_archived = True
    db.session.flush()
    login_as(people["staff"])
    assert _post(client, project).status_code == 409
    assert _post(client, project, amount="abc").status_code == 409  # archived comes before the input
    resp = client.post(f"/projects/{project.id}/funds/{row.id}/delete")
    assert resp.status_code == 302
    assert db.session.get(FundsRecord, row.id) is not None
    page = client.get(f"/projects/{project.id}/funds").get_data(as_text=True)
    assert "已归档" in page and "登记一笔到位资金" not in page


def test_full_list_paginates(client, login_as, db, people, project):
    for i in range(35):
        add_funds(people["staff"], project, DAY + timedelta(days=i), Decimal("10"), f"第{i + 1}笔", "", confirm=True)
    login_as(people["staff"])
    page = client.get(f"/projects/{project.id}").get_data(as_text=True)
    assert "查看全部 35 笔" in page and "第35笔" in page and "第1笔<" not in page
    one = client.get(f"/projects/{project.id}/funds").get_data(as_text=True)
    two = client.get(f"/projects/{project.id}/funds?page=2").get_data(as_text=True)
    assert "第35笔" in one and "第6笔" in one and "第5笔" not in one
    assert "第5笔" in two and "第1笔" in two and "合计（35 笔）" in two


def test_project_page_queries_do_not_grow_with_records(client, login_as, db, people, project, app):
    def count_queries(n_records):
        for _i in range(n_records):
            add_funds(people["staff"], project, DAY, Decimal("1"), "", "", confirm=True)
        login_as(people["staff"])
        statements = []
        engine = db.session.get_bind()

        def seen(*_args):
            statements.append(1)

        event.listen(engine, "before_cursor_execute", seen)
        try:
            assert client.get(f"/projects/{project.id}").status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", seen)
        return len(statements)

    few = count_queries(2)
    many = count_queries(30)
    assert many <= few + 1  # the count query joins once there are more than shown


def test_scans_load_with_the_records(client, login_as, db, people, project):
    """A record's scan comes in the records' query: pages with scans issue no more SELECTs
    (the test session's savepoints vary with the posts in between, so only SELECTs count)."""
    def count_queries(url):
        statements = []
        engine = db.session.get_bind()

        def seen(_conn, _cursor, statement, *_args):
            if statement.lstrip().upper().startswith("SELECT"):
                statements.append(statement)

        db.session.expire_all()
        event.listen(engine, "before_cursor_execute", seen)
        try:
            page = client.get(url)
        finally:
            event.remove(engine, "before_cursor_execute", seen)
        assert page.status_code == 200
        return len(statements), page.get_data(as_text=True)

    for i in range(2):
        add_funds(people["staff"], project, DAY, Decimal("1"), f"无扫描件{i}", "")
    login_as(people["staff"])
    urls = (f"/projects/{project.id}", f"/projects/{project.id}/funds")
    without = [count_queries(url)[0] for url in urls]
    for i in range(2):
        pdf = (io.BytesIO(b"%PDF-1.4 bank slip"), f"回单{i}.pdf")
        assert client.post(f"/projects/{project.id}/funds", content_type="multipart/form-data",
                           data={"received_on": DAY.isoformat(), "amount": "1", "file": pdf}).status_code == 302
    # The project page reads its evidence card (证明材料) only once the project has a scan:
    # that one query is the card's, not the funds records'.
    for url, before, card in zip(urls, without, (1, 0)):
        after, page = count_queries(url)
        assert "回单0.pdf" in page and "回单1.pdf" in page
        assert after <= before + card, url


def test_create_with_opening_funds_makes_the_first_record(client, login_as, db, people, ref):
    login_as(people["staff"])
    resp = client.post("/projects/new", data=form_data(ref, funds_in_place="1.5", funds_in_place_unit="yi"))
    assert resp.status_code == 302
    project = db.session.execute(select(Project).where(Project.name == "台州测试新能源项目")).scalar_one()
    rows = db.session.execute(select(FundsRecord).where(FundsRecord.project_id == project.id)).scalars().all()
    assert [r.amount for r in rows] == [Decimal("15000.00")] and rows[0].received_on == date(2024, 12, 20)
    assert project.funds_in_place == Decimal("15000.00")
    assert _actions(db, project.id)[:1] == ["project.create"] and "funds.create" in _actions(db, project.id)


def test_create_without_funds_makes_no_record(client, login_as, db, people, ref):
    login_as(people["staff"])
    assert client.post("/projects/new", data=form_data(ref)).status_code == 302
    project = db.session.execute(select(Project).where(Project.name == "台州测试新能源项目")).scalar_one()
    assert project.funds_in_place == Decimal("0.00")
    assert _stored_sum(db, project.id) == 0


def test_edit_form_has_no_funds_and_keeps_them(client, login_as, db, people, project, ref):
    add_funds(people["staff"], project, DAY, Decimal("1234"), "", "")
    login_as(people["staff"])
    page = client.get(f"/projects/{project.id}/edit").get_data(as_text=True)
    assert 'name="funds_in_place"' not in page and 'name="increase_of"' in page
    data = form_data(ref, name=project.name, investor_name=project.investor.name, content="二期",
                     version=str(_fresh(db, project.id).version_id), contracted_investment="20000")
    data.pop("stage")
    data.pop("funds_in_place")
    resp = client.post(f"/projects/{project.id}/edit", data=data)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    fresh = _fresh(db, project.id)
    assert fresh.content == "二期" and fresh.funds_in_place == Decimal("1234.00")


def test_an_edit_opened_before_a_record_still_saves(client, login_as, db, people, project, ref):
    """Recording funds does not bump the version: the open form saves without a conflict."""
    login_as(people["staff"])
    version = _fresh(db, project.id).version_id
    assert _post(client, project, amount="100").status_code == 302
    data = form_data(ref, name=project.name, investor_name=project.investor.name, content="改",
                     version=str(version), contracted_investment="20000")
    data.pop("stage")
    assert client.post(f"/projects/{project.id}/edit", data=data).status_code == 302


# --- The API (tracker/api): funds are not set by a project update ----------------------------


def test_api_patch_refuses_funds_in_place(request, db):
    call = request.getfixturevalue("api")
    p = request.getfixturevalue("world")["own"]
    version = call("GET", f"/projects/{p.id}", "staff").get_json()["version"]
    err = _error(call("PATCH", f"/projects/{p.id}", "staff", {"version": version, "funds_in_place": 5000}), 422)
    assert "funds_in_place" in str(err) and "到位资金记录" in str(err)
    body = call("PATCH", f"/projects/{p.id}", "staff", {"version": version, "content": "二期"})
    assert body.status_code == 200 and body.get_json()["funds_in_place"] in ("0", "0.00")


def test_api_create_with_funds_makes_the_first_record(request, db):
    call = request.getfixturevalue("api")
    resp = call("POST", "/projects", "staff", _new_project(funds_in_place="2000"))
    assert resp.status_code == 201, resp.get_data(as_text=True)[:500]
    project_id = resp.get_json()["id"]
    assert _stored_sum(db, project_id) == Decimal("2000.00")
    assert _fresh(db, project_id).funds_in_place == Decimal("2000.00")


# --- Two people recording at once (real commits, one connection per thread) -----------------


def _recorder(app, db, user_id: int, project_id: int, amount: str):
    from tracker.auth.models import User
    from tracker.core.db import writing

    def run(barrier):
        with app.app_context():
            barrier.wait()
            try:
                with writing():
                    actor = db.session.get(User, user_id)
                    add_funds(actor, db.session.get(Project, project_id), DAY, Decimal(amount), "", "")
                    db.session.commit()
                return "ok"
            except Exception as err:  # noqa: BLE001 - the test reports it
                db.session.rollback()
                return err
            finally:
                db.session.remove()
    return run


def test_simultaneous_records_keep_the_sum_and_the_confirmation(app, committed_db):
    from tests.factories import reference
    from tests.test_concurrency import _run_together

    db = committed_db
    ref = reference()
    users = [make_user("staff", ref.huangyan) for _ in range(3)]
    project = make_project(unit=ref.huangyan, contracted_investment=Decimal("1000"))
    db.session.commit()
    ids, project_id = [u.id for u in users], project.id
    db.session.close()
    for _round in range(3):
        before = _fresh(db, project_id).funds_in_place
        db.session.close()
        results = _run_together([_recorder(app, db, uid, project_id, "100") for uid in ids])
        assert results == ["ok"] * 3, results
        assert _fresh(db, project_id).funds_in_place == before + 300 == _stored_sum(db, project_id)
        db.session.close()
    # 900 recorded: of two people adding 60 each at once (1020 > 1000 together), the
    # second to get the lock is asked to confirm.
    results = _run_together([_recorder(app, db, uid, project_id, "60") for uid in ids[:2]])
    assert sorted(map(type, results), key=str) == sorted([str, InputError], key=str), results
    assert _fresh(db, project_id).funds_in_place == Decimal("960.00") == _stored_sum(db, project_id)


def test_posts_need_the_csrf_token_when_it_is_on(app, client, login_as, db, people, project, monkeypatch):
    row = add_funds(people["staff"], project, DAY, Decimal("5"), "", "")
    login_as(people["staff"])
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    assert _post(client, project).status_code in (400, 422)
    assert client.post(f"/projects/{project.id}/funds/{row.id}/delete").status_code in (400, 422)
    page = client.get(f"/projects/{project.id}").get_data(as_text=True)
    assert page.count('name="csrf_token"') >= 2  # the add form and the delete button carry it
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", False)
    assert _fresh(db, project.id).funds_in_place == Decimal("5.00")
