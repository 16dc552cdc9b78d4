"""The dashboard's tables as one workbook: one sheet per table, the page's figures."""
from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import openpyxl

from tests.factories import make_project, make_user


def test_workbook_has_a_sheet_per_table_with_the_dashboards_figures(client, login_as, db, ref):
    make_project(ref.huangyan, name="表格甲", signed_on=date(2024, 3, 1), contracted_investment=Decimal("150000"))
    make_project(ref.huangyan, name="表格乙", signed_on=date(2024, 5, 1), contracted_investment=Decimal("20000"),
                 stage="terminated")
    make_project(ref.huangyan, name="=HYPERLINK(\"http://x\")", signed_on=date(2024, 6, 1),
                 contracted_investment=Decimal("30000"))
    login_as(make_user("leader", ref.city))

    resp = client.get("/reports/export.xlsx?year=2024")

    assert resp.status_code == 200
    assert resp.mimetype.endswith("spreadsheetml.sheet")
    book = openpyxl.load_workbook(io.BytesIO(resp.data))
    assert book.sheetnames == ["概况", "按单位", "按产业", "按来源地", "按规模", "推进漏斗", "分季度签约", "赛马排名"]
    overview = [c.value for c in book["概况"][2]]
    # 签约（含终止）3, in the list 2, terminated 1, Σ investment of all three (万元).
    assert overview[1:5] == [3, 2, 1, 200000]
    units = {row[0]: row[1] for row in book["按单位"].iter_rows(min_row=2, values_only=True)}
    assert units == {"黄岩区": 3}
    funnel = list(book["推进漏斗"].iter_rows(min_row=2, values_only=True))
    assert funnel[0][1:] == (2, 180000)


def test_workbook_is_for_managers_and_leaders_in_scope(client, login_as, db, ref):
    make_project(ref.linhai, name="临海表格", signed_on=date(2024, 3, 1))
    login_as(make_user("manager", ref.huangyan))
    resp = client.get(f"/reports/export.xlsx?year=2024&unit={ref.linhai.id}")
    assert resp.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(resp.data))
    assert [c.value for c in book["概况"][2]][1] == 0  # another county's unit id shows nothing of it
    login_as(make_user("staff", ref.huangyan))
    assert client.get("/reports/export.xlsx").status_code == 403
