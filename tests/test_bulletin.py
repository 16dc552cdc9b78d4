"""The 通报 (issue 10 item 7): the form, the job and the PDF.

The job function runs in this process (``make_bulletin`` with a context that records its
progress instead of writing it), on hand-made data; one end-to-end test goes through the
job runner and its worker process, from the button to the download. The PDF is read with
``pdftotext``; the figures are compared with the report engine's for the dashboard's own
arguments. Nothing here asserts on time.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

from tests.factories import make_investor, make_project, make_user, reference, sign_in
from tests.test_briefs import brief_fonts  # noqa: F401 - a shared fixture
from tests.test_jobs import committed_client, runner, state, wait_for  # noqa: F401 - shared fixtures
from tracker.briefs.render import rendering_here
from tracker.core.db import writing
from tracker.core.formatting import today_local
from tracker.jobs.models import Job
from tracker.jobs.worker import JobContext, JobError
from tracker.projects.models import Project
from tracker.reports import bulletin
from tracker.reports.figures import build_report, parse_query
from tracker.targets.models import UnitTarget

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils (pdftotext) not installed")

NOV = {"kind": "month", "year": 2025, "part": 11, "as_of": None, "issue": "12",
       "problems": "台州湾新区用地指标需市级协调。\n黄岩区能耗指标待审批。"}


def pdf_text(data: bytes) -> str:
    out = subprocess.run(["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True)
    return out.stdout.decode("utf-8")


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


class RecordingContext(JobContext):
    """A job context for a job row that only this test's transaction sees: progress is
    recorded, not written in a transaction of its own."""

    def __init__(self, job: Job):
        super().__init__(job)
        self.steps: list[tuple[int, str]] = []

    def progress(self, percent: int, message: str = "") -> None:
        self.steps.append((percent, message))


def run_job(db, user, params: dict) -> tuple[bytes, str, RecordingContext]:
    job = Job(kind="bulletin", status="running", user_id=user.id, params=params, title="通报", locale="zh_CN")
    db.session.add(job)
    db.session.flush()
    ctx = RecordingContext(job)
    with rendering_here():  # as in the job's worker process: no pool from here
        output = bulletin.make_bulletin(ctx)
    assert output.mimetype == "application/pdf" and output.data.startswith(b"%PDF")
    return output.data, output.filename, ctx


@pytest.fixture()
def world(db, ref):
    """Signings in November 2025 in two counties, red-lit projects in both, a target."""
    owner = make_user("staff", ref.huangyan, display_name="王责任")
    jiangsu = make_investor(unit=ref.huangyan, source_region=ref.region)
    big = make_project(unit=ref.huangyan, name="黄岩十二亿元项目", investor=jiangsu, signed_on=date(2025, 11, 10),
                       contracted_investment=Decimal(120000), funds_in_place=Decimal(30000))
    small = make_project(unit=ref.linhai, name="临海五亿元项目", signed_on=date(2025, 11, 20),
                         contracted_investment=Decimal(50000))
    early = make_project(unit=ref.huangyan, name="黄岩年初项目", signed_on=date(2025, 3, 5),
                         contracted_investment=Decimal(20000), stage="registered")
    red_hy = make_project(unit=ref.huangyan, name="黄岩红灯项目", signed_on=date(2024, 1, 8), owner_id=owner.id)
    red_hy2 = make_project(unit=ref.huangyan, name="黄岩更久红灯项目", signed_on=date(2023, 6, 1))
    red_lh = make_project(unit=ref.linhai, name="临海红灯项目", signed_on=date(2024, 2, 1))
    # The lights as stored dates: the three old ones red (deadlines long past), the others not
    # lit (whatever today is; the default deadlines would light them in time).
    db.session.execute(update(Project).where(Project.id.in_([big.id, small.id, early.id]))
                       .values(due_on=None, red_on=None).execution_options(synchronize_session=False))
    for project, due, red in ((red_hy, date(2024, 4, 8), date(2024, 7, 8)), (red_hy2, date(2023, 9, 1),
                              date(2023, 12, 1)), (red_lh, date(2024, 5, 1), date(2024, 8, 1))):
        db.session.execute(update(Project).where(Project.id == project.id).values(due_on=due, red_on=red)
                           .execution_options(synchronize_session=False))
    db.session.add(UnitTarget(unit_id=ref.huangyan.id, year=2025, projects_10yi=2, projects_10yi_yrd=1,
                              investment=Decimal(500000), started=2, funds=Decimal(100000)))
    db.session.flush()
    db.session.expire_all()
    return {"big": big, "small": small, "early": early, "red_hy": red_hy, "red_hy2": red_hy2, "red_lh": red_lh,
            "owner": owner}


# --- the PDF -------------------------------------------------------------------------------------

def test_city_bulletin_prints_the_period_ranking_and_red_list(app, db, ref, world, brief_fonts):  # noqa: F811
    leader = make_user("leader", ref.city)
    data, name, ctx = run_job(db, leader, NOV)
    text = pdf_text(data)
    flat = squash(text)
    assert name == "2025年11月全市招商引资项目推进情况通报.pdf"
    for expected in ("招商引资项目推进情况通报", "台州市投资促进中心", "第12期", "2025年11月全市招商引资项目推进情况通报",
                     "统计期：2025年11月1日至2025年11月30日", "数据截至：2025年11月30日",
                     "一、总体情况", "二、各地推进情况", "三、赛马排名", "四、亮灯项目", "五、需市级协调解决的问题",
                     # the period: 2 signings, 17亿元, one of 10亿元以上, from 长三角
                     "新签约招商引资项目2个，协议投资额17.00亿元", "其中10亿元以上项目1个，来自长三角地区的10亿元以上项目1个",
                     # year to date: the March signing too
                     "累计签约项目3个，协议投资额19.00亿元",
                     "台州湾新区用地指标需市级协调。", "黄岩区能耗指标待审批。"):
        assert squash(expected) in flat, expected
    # 赛马: 黄岩区 (a target) first, 临海市 (none) after; the actual against the target.
    ranking = flat[flat.index("三、赛马排名"):flat.index("四、亮灯项目")]
    assert ranking.index("黄岩区") < ranking.index("临海市")
    assert "1/2" in ranking and "14.00/50.00" in ranking and "未设目标" in ranking
    # Red list: most overdue first, with the unit, stage, days late and the responsible person.
    lights = flat[flat.index("四、亮灯项目"):flat.index("五、")]
    assert "红灯项目3个" in lights
    assert lights.index("黄岩更久红灯项目") < lights.index("黄岩红灯项目") < lights.index("临海红灯项目")
    days = (today_local() - date(2024, 4, 8)).days
    row = next(line for line in text.splitlines() if "黄岩红灯项目" in line)
    assert "王责任" in row and "已签约" in row and str(days) in row.split()
    # Progress was reported through the steps, in order.
    percents = [p for p, _m in ctx.steps]
    assert percents == sorted(percents) and len(percents) >= 6 and percents[-1] >= 95
    assert all(message for _p, message in ctx.steps)


def test_figures_equal_the_engine_for_the_dashboard_arguments(app, db, ref, world):
    leader = make_user("leader", ref.city)
    req = bulletin.from_params(NOV)
    b = bulletin.build_bulletin(leader, req)
    today = today_local()
    dashboard = build_report(leader, parse_query({"year": "2025", "month": "11", "as_of": "2025-11-30"}, today))
    ytd = build_report(leader, parse_query({"from": "2025-01-01", "to": "2025-11-30", "as_of": "2025-11-30"}, today))
    everything = build_report(leader, parse_query({"from": "1990-01-01", "to": "2100-12-31"}, today))
    assert b.queries.period == dashboard.query and b.queries.ytd == ytd.query
    for mine, theirs in ((b.totals, dashboard.total), (b.ytd, ytd.total)):
        assert (mine.signed, mine.investment, mine.count_10yi, mine.yrd_10yi, mine.funds, mine.rates) == (
            theirs.signed, theirs.investment, theirs.count_10yi, theirs.yrd_10yi, theirs.funds, theirs.rates)
    assert (b.totals.signed, b.totals.investment, b.ytd.signed) == (2, Decimal(170000), 3)
    assert b.red_total == everything.total.red == len(b.red) == 3
    assert b.yellow_total == everything.total.yellow
    by_unit = {row.unit_id: row for row in b.units}
    assert by_unit[ref.huangyan.id].period.signed == 1 and by_unit[ref.linhai.id].period.signed == 1
    assert by_unit[None].name == "合计" and by_unit[None].ytd.signed == 3


def test_county_bulletin_lists_only_its_own_projects(app, db, ref, world, brief_fonts):  # noqa: F811
    manager = make_user("manager", ref.huangyan)
    data, name, _ctx = run_job(db, manager, NOV)
    flat = squash(pdf_text(data))
    assert name == "2025年11月黄岩区招商引资项目推进情况通报.pdf"
    assert "2025年11月黄岩区招商引资项目推进情况通报" in flat
    assert "黄岩红灯项目" in flat and "黄岩更久红灯项目" in flat and "红灯项目2个" in flat
    assert "新签约招商引资项目1个，协议投资额12.00亿元" in flat
    # Nothing of the other county: not its projects, not its name, not the city's masthead.
    for leaked in ("临海", "台州市投资促进中心", "全市"):
        assert leaked not in flat, leaked


def test_long_red_list_is_cut_with_a_count_of_the_rest(app, db, ref, world, brief_fonts, monkeypatch):  # noqa: F811
    monkeypatch.setattr(bulletin, "RED_LIST_MAX", 2)
    data, _name, _ctx = run_job(db, make_user("leader", ref.city), NOV)
    flat = squash(pdf_text(data))
    assert "红灯项目3个" in flat and "黄岩更久红灯项目" in flat and "黄岩红灯项目" in flat
    assert "临海红灯项目" not in flat  # the least overdue one is left to the project list
    assert "另有1个红灯项目未列出（本通报列出逾期最久的2个）" in flat


def test_empty_period_prints_a_plain_bulletin(app, db, ref, brief_fonts):  # noqa: F811
    leader = make_user("leader", ref.city)
    data, _name, _ctx = run_job(db, leader, {"kind": "quarter", "year": 2021, "part": 2})
    flat = squash(pdf_text(data))
    for expected in ("2021年第二季度全市招商引资项目推进情况通报", "2021年第二季度，全市无新签约招商引资项目。",
                     "红灯项目0个", "五、需市级协调解决的问题", "无。", "暂无数据"):
        assert squash(expected) in flat, expected
    assert "第12期" not in flat  # no issue number given: none printed


def test_user_text_is_printed_literally(app, db, ref, brief_fonts):  # noqa: F811
    leader = make_user("leader", ref.city)
    hostile = '<img src="http://127.0.0.1:9/x"> <script>alert(1)</script> ' + "长" * 300
    from tracker.briefs import render

    before = len(render.get_renderer(brief_fonts).denied)
    data, _name, _ctx = run_job(db, leader, {**NOV, "issue": "<b>7</b>", "problems": hostile})
    flat = squash(pdf_text(data))
    assert "<script>alert(1)</script>" in flat and "<b>7</b>" in flat and "长" * 100 in flat
    assert len(render.get_renderer(brief_fonts).denied) == before  # rendered here: nothing was fetched


def test_job_refuses_a_user_who_lost_the_right(app, db, ref):
    user = make_user("leader", ref.city)
    user.role = "staff"
    db.session.flush()
    job = Job(kind="bulletin", status="running", user_id=user.id, params=NOV, title="x")
    db.session.add(job)
    db.session.flush()
    with pytest.raises(JobError) as err:
        bulletin.make_bulletin(RecordingContext(job))
    assert "无权" in err.value.message


def test_job_refuses_bad_parameters_clearly(app, db, ref):
    user = make_user("leader", ref.city)
    job = Job(kind="bulletin", status="running", user_id=user.id, params={**NOV, "part": 13}, title="x")
    db.session.add(job)
    db.session.flush()
    with pytest.raises(JobError) as err:
        bulletin.make_bulletin(RecordingContext(job))
    assert "参数无效" in err.value.message


def test_charts_are_the_dashboards_with_print_styles(app, db):
    from tracker.reports.figures import QuarterSignings, Step

    funnel = [Step("signed", "<已签约>", 3, Decimal(150000), {"reached": "signed"}),
              Step("registered", "已注册", 1, Decimal(0), {"reached": "registered"})]
    quarters = [QuarterSignings(2025, q, q, Decimal(10000 * q), {}) for q in (1, 2, 3, 4)]
    charts = bulletin.charts_for_print(funnel, quarters, '"TZ Brief Sans 1", "Noto Sans CJK SC"')
    for svg in charts.values():
        svg = str(svg)
        assert svg.startswith("<svg") and svg.index("<style>") < svg.index("<text")
        assert "TZ Brief Sans 1" in svg and ".chart-bar{fill:#c00000}" in svg
        assert "<a " not in svg  # a PDF has no project list to link to
    assert "&lt;已签约&gt;" in str(charts["funnel"]) and "<已签约>" not in str(charts["funnel"])
    assert "2025" in str(charts["quarters"]) and "Q4" in str(charts["quarters"])


def test_rates_and_title_are_defined_once(app):
    """The rates' names and order are ``figures.RATES``' on the dashboard, in the workbook, the
    chart and the 通报; the 通报 prints them in Chinese with its own definitions whatever the
    UI language. One function names the bulletin (the PDF and the job)."""
    from types import SimpleNamespace

    from flask_babel import force_locale

    from tracker.reports import views, workbook
    from tracker.reports.figures import RATES, Figures

    b = SimpleNamespace(totals=Figures(), ytd=Figures())
    with app.test_request_context("/"), force_locale("en"):
        english = [str(rate.label) for rate in RATES]
        assert english[0] == "Landing rate"
        assert [spec.label for spec in views.rate_specs()] == english
        headers = workbook._figure_columns()[0]
        assert headers[headers.index(english[0]):][:len(RATES)] == english
        lines = bulletin.rate_lines(b)
    assert [line.label for line in lines] == ["落地率", "开工率", "投产率", "资金到位率", "履约率"]
    assert lines[0].note == "已注册及以后阶段的项目 / 签约项目" and lines[0].period == "—"
    req = bulletin.from_params({**NOV, "kind": "quarter", "part": 4}, today=date(2026, 1, 5))
    assert bulletin.bulletin_title(req, "全市") == "2025年第四季度全市招商引资项目推进情况通报"


# --- the form --------------------------------------------------------------------------------------

def test_form_defaults_to_last_month_for_managers_and_leaders(client, login_as, db, ref):
    login_as(make_user("leader", ref.city))
    page = client.get("/reports/bulletin/")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    today = today_local()
    last = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    assert f'value="{last[0]}"' in body and f'<option selected value="{last[1]}">' in body
    assert "台州市投资促进中心" in body and "<script>" not in body


@pytest.mark.parametrize("role", ["staff", "admin"])
def test_other_roles_are_refused(client, login_as, db, ref, role):
    login_as(make_user(role, ref.city))
    assert client.get("/reports/bulletin/").status_code == 403
    assert client.post("/reports/bulletin/", data={"kind": "month", "year": "2025", "month": "11"}).status_code == 403
    assert db.session.execute(select(func.count(Job.id))).scalar_one() == 0


@pytest.mark.parametrize("form,field,message", [
    ({"kind": "month", "year": "2025", "month": "13"}, "month", "应在 1 至 12 之间"),
    ({"kind": "month", "year": "abc", "month": "3"}, "year", "请输入整数"),
    ({"kind": "quarter", "year": "2025", "quarter": "0"}, "quarter", "应在 1 至 4 之间"),
    ({"kind": "week", "year": "2025", "month": "3"}, "kind", "请从列表中选择"),
    ({"kind": "month", "year": "2100", "month": "3"}, "month", "该统计期尚未开始"),
    ({"kind": "month", "year": "2025", "month": "11", "as_of": "2025-10-01"}, "as_of", "不能早于统计期开始"),
    ({"kind": "month", "year": "2025", "month": "11", "as_of": "2025-13-45"}, "as_of", "日期格式不正确"),
    ({"kind": "month", "year": "2025", "month": "11", "problems": "长" * 3001}, "problems", "不能超过 3000 个字"),
    ({"kind": "month", "year": "99999999999999999999", "month": "\x00"}, "year", "请输入整数"),
])
def test_bad_input_is_a_form_error_not_a_500(client, login_as, db, ref, form, field, message):
    login_as(make_user("manager", ref.huangyan))
    resp = client.post("/reports/bulletin/", data=form)
    assert resp.status_code == 422
    body = resp.get_data(as_text=True)
    assert message in body and 'class="field has-error' in body
    assert db.session.execute(select(func.count(Job.id))).scalar_one() == 0


def test_post_queues_the_job_and_goes_to_its_page(client, login_as, db, ref):
    user = login_as(make_user("manager", ref.huangyan))
    resp = client.post("/reports/bulletin/", data={"kind": "quarter", "year": "2025", "quarter": "3", "month": "1",
                                                   "issue": " 3 ", "problems": "问题一"})
    assert resp.status_code == 302
    job = db.session.execute(select(Job).where(Job.user_id == user.id)).scalar_one()
    assert resp.headers["Location"].endswith(f"/jobs/{job.id}")
    assert job.kind == "bulletin" and job.status == "queued"
    assert job.title == "2025年第三季度黄岩区招商引资项目推进情况通报"
    assert job.params == {"kind": "quarter", "year": 2025, "part": 3, "as_of": None, "issue": "3",
                          "problems": "问题一", "back": "/reports/bulletin/"}
    # A second one while the first waits: told so, sent to the first.
    again = client.post("/reports/bulletin/", data={"kind": "month", "year": "2025", "month": "1"})
    assert again.status_code == 302 and again.headers["Location"].endswith(f"/jobs/{job.id}")


# --- end to end: the runner and its worker process ------------------------------------------------

def test_bulletin_job_runs_in_a_worker_and_downloads(app, committed_db, committed_client, runner):  # noqa: F811
    db = committed_db
    with writing():
        ref = reference()
        make_project(unit=ref.huangyan, name="端到端红灯项目", signed_on=date(2023, 1, 5))
        db.session.execute(update(Project).where(Project.name == "端到端红灯项目")
                           .values(due_on=date(2023, 4, 5), red_on=date(2023, 7, 5)))
        user = make_user("leader", ref.city)
        sign_in(committed_client, user, commit=True)
    db.session.close()

    resp = committed_client.post("/reports/bulletin/", data={"kind": "month", "year": "2025", "month": "11"})
    assert resp.status_code == 302
    job_id = int(resp.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    runner.tick()
    wait_for(lambda: committed_client.get(f"/jobs/{job_id}/status").get_json()["finished"], runner, "the bulletin")
    final = state(db, job_id)
    assert final["status"] == "done" and final["progress"] == 100, final
    assert final["result_name"] == "2025年11月全市招商引资项目推进情况通报.pdf"
    pdf = committed_client.get(f"/jobs/{job_id}/download")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    flat = squash(pdf_text(pdf.data))
    assert "端到端红灯项目" in flat and "台州市投资促进中心" in flat and "三、赛马排名" in flat
