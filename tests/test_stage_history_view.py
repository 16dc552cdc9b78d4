"""The stage history on the project page (issue 10 item 2): every stage change with its
effective date, kept when a correction moves the project back, made through the real
workflow operations (request, then a manager's approval)."""
from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import event

from tests.factories import make_project, make_user, uscc
from tracker.core.formatting import today_local
from tracker.progress import display
from tracker.progress.lights import add_months
from tracker.workflow import operations as wf


@pytest.fixture()
def people(db, ref):
    return {
        "staff": make_user("staff", ref.huangyan, display_name="经办人甲"),
        "manager": make_user("manager", ref.huangyan, display_name="科长乙"),
        "manager2": make_user("manager", ref.huangyan, display_name="科长丙"),
    }


def _move(people, project, to_stage, actual, approver="manager", **kw):
    req = wf.request_move(people["staff"], project, to_stage=to_stage, actual_date=actual, **kw)
    wf.approve(people[approver], req.id, "同意")


def _history_rows(body: str) -> list[list[str]]:
    table = body[body.index('class="list stage-history"'):]
    table = table[:table.index("</table>")]
    rows = []
    for tr in re.findall(r"<tr class=\"([^\"]*)\">(.*?)</tr>", table, re.S):
        cells = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", tr[1], re.S)]
        rows.append([tr[0], *cells])
    return rows


def test_forward_then_corrected_back_shows_every_step(client, login_as, people, db):
    p = make_project(stage="signed", signed_on=date(2024, 6, 1))
    _move(people, p, "registered", "2024-07-01", values={"company_uscc": uscc(), "registered_capital": "5000"})
    _move(people, p, "land_secured", "2024-09-15", approver="manager2",
          values={"land_area_mu": "120", "land_certificate_no": "浙(2024)黄岩区不动产权第001号"})
    _move(people, p, "registered", "2024-10-08", reason="供地合同尚未签订，误报")
    db.session.flush()
    assert p.stage == "registered"

    login_as(people["staff"])
    body = client.get(f"/projects/{p.id}").get_data(as_text=True)
    rows = _history_rows(body)
    assert [r[1:4] for r in rows] == [
        ["2024年6月1日", "已签约", "登记"],
        ["2024年7月1日", "已签约 → 已注册", "推进"],
        ["2024年9月15日", "已注册 → 已供地", "推进"],
        ["2024年10月8日", "已供地 → 已注册", "退回更正"],
    ]
    assert [r[4] for r in rows] == ["—", "科长乙", "科长丙", "科长乙"]  # who approved
    assert "is-correction" in rows[3][0] and "is-correction" not in rows[2][0]
    assert '<span class="tag correction">退回更正</span>' in body

    # The correction back does not restart the clock: 已注册 since 2024-07-01 (its actual
    # date), so the 已供地 deadline (6 months) has long passed.
    days = (today_local() - date(2024, 7, 1)).days
    card = body[body.index('id="progress"'):]
    assert f"已在本阶段 {days} 天" in card
    assert "light-red" in card
    due = add_months(date(2024, 7, 1), 6)
    assert f"逾期 {(today_local() - due).days} 天" in card


def test_pause_and_resume_are_in_the_history(client, login_as, people, db):
    p = make_project(stage="signed", signed_on=date(2024, 6, 1))
    _move(people, p, "paused", "2024-07-01", reason="企业资金调整", values={"expected_resume_on": "2024-12-01"})
    db.session.flush()
    login_as(people["staff"])
    body = client.get(f"/projects/{p.id}").get_data(as_text=True)
    rows = _history_rows(body)
    assert rows[-1][1:4] == ["2024年7月1日", "已签约 → 暂缓", "暂缓"]
    card = body[body.index('id="progress"'):]
    assert "暂缓中的项目不亮灯" in card and "light-red" not in card.split("阶段变更记录")[0]


def test_history_is_one_query_whatever_its_length(db, people):
    short = make_project(stage="signed", signed_on=date(2024, 6, 1))
    long = make_project(stage="signed", signed_on=date(2024, 6, 1))
    _move(people, long, "registered", "2024-07-01", values={"company_uscc": uscc(), "registered_capital": "5000"})
    _move(people, long, "signed", "2024-07-02", reason="误报")
    _move(people, long, "registered", "2024-07-03", values={"company_uscc": uscc(), "registered_capital": "5000"})
    _move(people, long, "land_secured", "2024-08-01", approver="manager2",
          values={"land_area_mu": "50", "land_certificate_no": "黄岩002"})
    db.session.flush()
    counts = []
    for project in (short, long):
        statements: list[str] = []

        def listener(_conn, _cursor, statement, *_args, statements=statements):
            statements.append(statement)

        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            info = display.project_progress(project)
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        counts.append(len(statements))
        assert info["history"][-1].to_stage == project.stage
    assert counts[0] == counts[1] == 1
    assert len(display.project_progress(long)["history"]) == 5


def test_out_of_scope_project_page_is_404(client, login_as, people, ref):
    other = make_project(unit=ref.linhai)
    login_as(people["staff"])
    assert client.get(f"/projects/{other.id}").status_code == 404
