"""Importing a 台账 (issue 11): files as offices save them (GBK or BOM CSV, title rows, merged
two-row headers, 亿元 headers, mixed date styles), the dry run's outcomes and errors by row,
column and reason, the all-or-nothing commit, unit scope, the screens, the command line and
files that are not ledgers at all."""
from __future__ import annotations

import html
import io
import re
from datetime import date
from decimal import Decimal

import openpyxl
import pytest
from sqlalchemy import func, select

from tests.factories import make_project, make_user
from tracker.audit.models import AuditEntry
from tracker.ledger.operations import commit_import, plan_import
from tracker.ledger.read import LedgerFileError
from tracker.projects.models import Project
from tracker.workflow.models import Milestone

HEADER = "项目名称,投资方,来源地,产业,协议投资额（万元）,签约日期,阶段"
ROWS = ["固态电池项目,浙江甲科技有限公司,江苏,新能源,150000,2024.12.20,已签约",
        "低空飞行器总装项目,乙航空有限公司,台州市内,低空经济,80000,2024年11月5日,已签约"]


def _csv(lines, encoding="utf-8") -> bytes:
    text = "\r\n".join(lines) + "\r\n"
    return ("\ufeff" + text).encode("utf-8") if encoding == "bom" else text.encode(encoding)


def _count(db) -> int:
    return db.session.execute(select(func.count(Project.id))).scalar_one()


@pytest.fixture()
def staff(db, ref):
    return make_user("staff", ref.huangyan)


@pytest.fixture()
def uploads(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "LEDGER_UPLOAD_DIR", str(tmp_path / "ledger-uploads"))
    return tmp_path / "ledger-uploads"


# --- reading what offices save ---------------------------------------------------------------------

@pytest.mark.parametrize("encoding", ["gbk", "bom", "utf-8"])
def test_csv_in_gbk_bom_or_utf8_imports(db, ref, staff, encoding):
    plan = plan_import(staff, "台账.csv", _csv([HEADER, *ROWS], encoding))
    assert plan.errors == [] and plan.counts["new"] == 2
    assert plan.grid.encoding == {"gbk": "GBK/GB18030", "bom": "UTF-8 (BOM)", "utf-8": "UTF-8"}[encoding]
    before = _count(db)
    commit_import(staff, plan)
    db.session.flush()
    assert _count(db) == before + 2
    battery = db.session.execute(select(Project).where(Project.name == "固态电池项目")).scalar_one()
    assert battery.unit_id == ref.huangyan.id and battery.industry_id == ref.industry.id
    assert battery.contracted_investment == Decimal("150000.00") and battery.signed_on == date(2024, 12, 20)
    assert battery.investor.name == "浙江甲科技有限公司" and battery.investor.source_region_id == ref.region.id
    flyer = db.session.execute(select(Project).where(Project.name == "低空飞行器总装项目")).scalar_one()
    assert flyer.signed_on == date(2024, 11, 5)
    # Every change is in the audit trail.
    assert db.session.execute(select(func.count(AuditEntry.id)).where(
        AuditEntry.project_id.in_([battery.id, flyer.id]))).scalar_one() >= 2


def test_yi_header_converts_to_wan(db, ref, staff):
    lines = ["项目名称,投资方,来源地,产业,协议投资额（亿元）,到位资金(万元),签约日期",
             "亿元项目,丙公司,江苏,新能源,5.2,3000,2024/12/20", "全角项目,丁公司,江苏,新能源,１２.５,,2024-12-01"]
    plan = plan_import(staff, "a.csv", _csv(lines, "bom"))
    assert plan.ok, plan.errors
    values = {o.name: o.values for o in plan.outcomes}
    assert values["亿元项目"].contracted_investment == Decimal("52000.00")
    assert values["亿元项目"].funds_in_place == Decimal("3000.00")
    assert values["全角项目"].contracted_investment == Decimal("125000.00")


def test_a_unit_in_the_cell_wins_over_the_header(db, ref, staff):
    """Cells read by the same rule as the project form (projects.schemas.amount_in_wan): "5.2亿"
    under a 万元 header, "3,000万" under a 亿元 one; a unit with no figure is an error on its cell."""
    lines = ["项目名称,投资方,来源地,产业,协议投资额（万元）,签约日期",
             "写亿项目,丙公司,江苏,新能源,5.2亿,2024/12/20", "写万项目,丁公司,江苏,新能源,\"3,000万元\",2024-12-01",
             "只写单位,戊公司,江苏,新能源,万,2024-12-01"]
    plan = plan_import(staff, "a.csv", _csv(lines, "bom"))
    values = {o.name: o.values for o in plan.outcomes if o.values is not None}
    assert values["写亿项目"].contracted_investment == Decimal("52000.00")
    assert values["写万项目"].contracted_investment == Decimal("3000.00")
    assert not plan.ok and [(e[1], "请输入数字" in e[2]) for e in plan.errors] == [("协议投资额", True)], plan.errors
    lines[0] = lines[0].replace("（万元）", "（亿元）")
    plan = plan_import(staff, "b.csv", _csv(lines[:3], "bom"))
    values = {o.name: o.values for o in plan.outcomes}
    assert values["写亿项目"].contracted_investment == Decimal("52000.00")
    assert values["写万项目"].contracted_investment == Decimal("3000.00")


def _titled_workbook() -> bytes:
    """Two title rows, then a header over two rows: 项目名称 etc. merged down, 投资情况 merged
    across its sub-headers "协议投资额（亿元）" and "到位资金（万元）"."""
    book = openpyxl.Workbook()
    ws = book.active
    ws.append(["2024年黄岩区签约项目台账"])
    ws.merge_cells("A1:I1")
    ws.append(["填报单位：黄岩区投资促进中心", None, None, None, None, None, None, "单位：亿元、万元"])
    ws.append(["序号", "项目名称", "投资方", "来源地", "产业", "投资情况", None, "签约日期", "计划开工时间"])
    ws.append([None, None, None, None, None, "协议投资额（亿元）", "到位资金（万元）", None, None])
    for col in "ABCDEHI":
        ws.merge_cells(f"{col}3:{col}4")
    ws.merge_cells("F3:G3")
    ws.append([1, "高端模具产业园", "台州戊模具有限公司", "江苏", "新能源", 12.5, 500, date(2024, 3, 8), "2024.9.1"])
    ws.append([2, "无人机研发基地", "己航空有限公司", "台州市内", "低空经济", "3", None, "2024年6月18日", None])
    ws.append(["合计", None, None, None, None, 15.5, 500])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_xlsx_with_title_rows_and_merged_header(db, ref, staff):
    plan = plan_import(staff, "黄岩.xlsx", _titled_workbook())
    assert plan.layout.header_row == 3  # the sub-header row (0-based), under the merged group
    assert plan.ok, plan.errors
    assert [o.row.row_no for o in plan.outcomes] == [5, 6]  # the 合计 row is skipped
    mould = plan.outcomes[0].values
    assert mould.contracted_investment == Decimal("125000.00") and mould.funds_in_place == Decimal("500.00")
    assert mould.signed_on == date(2024, 3, 8)
    assert plan.outcomes[1].values.signed_on == date(2024, 6, 18)
    commit_import(staff, plan)
    db.session.flush()
    project = db.session.execute(select(Project).where(Project.name == "高端模具产业园")).scalar_one()
    planned = db.session.execute(select(Milestone.planned_on).where(
        Milestone.project_id == project.id, Milestone.stage == "construction")).scalar_one()
    assert planned == date(2024, 9, 1)


# --- errors: by row, column and reason; nothing written ----------------------------------------------

BAD = [HEADER, ROWS[0],
       ",无名公司,江苏,新能源,1000,2024-01-01,已签约",  # row 3: no name
       "金额错误项目,某公司,江苏,新能源,很多,2024-01-01,已签约",  # row 4: not an amount
       "产业错误项目,某公司二,江苏,造船,1000,2024-01-01,已开过",  # row 5: unknown industry and stage
       "日期错误项目,某公司三,江苏,新能源,1000,2024-13-45,已签约"]  # row 6: not a date


def test_bad_rows_are_reported_by_row_column_and_reason_and_nothing_is_written(db, ref, staff):
    plan = plan_import(staff, "bad.csv", _csv(BAD))
    assert not plan.ok and plan.counts == {"new": 1, "update": 0, "unchanged": 0, "error": 4}
    errors = {(row, column) for row, column, _m in plan.errors}
    assert {(3, "项目名称"), (4, "协议投资额"), (5, "产业"), (5, "阶段"), (6, "签约日期")} <= errors
    messages = dict(((r, c), m) for r, c, m in plan.errors)
    assert messages[(3, "项目名称")] == "请填写项目名称。"  # the form's own message
    assert "造船" in messages[(5, "产业")]
    with pytest.raises(ValueError):
        commit_import(staff, plan)


def test_bad_rows_through_the_screen_write_nothing(client, login_as, db, ref, staff, uploads):
    login_as(staff)
    before = _count(db)
    resp = client.post("/projects/import/preview", data={"file": (io.BytesIO(_csv(BAD, "gbk")), "台账.csv")},
                       content_type="multipart/form-data")
    assert resp.status_code == 303
    review = resp.headers["Location"]
    page = client.get(review).get_data(as_text=True)
    assert "有错误" in page and "请填写项目名称。" in page and "下载错误标注工作簿" in page
    assert re.search(r"<button[^>]*disabled[^>]*>确认导入", page)
    token = review.rstrip("/").rsplit("/", 1)[1]
    resp = client.post(f"/projects/import/{token}/commit")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(token)
    assert _count(db) == before
    # The error workbook: the original rows, the bad cells red, a 错误说明 column.
    resp = client.get(f"/projects/import/{token}/errors.xlsx")
    assert resp.status_code == 200
    ws = openpyxl.load_workbook(io.BytesIO(resp.data)).active
    header = [c.value for c in ws[1]]
    assert header[-1] == "错误说明" and header[0] == "项目名称"
    assert ws.cell(2, len(header)).value == "无误"
    assert "项目名称：请填写项目名称。" in ws.cell(3, len(header)).value
    assert ws.cell(4, 5).value == "很多" and ws.cell(4, 5).fill.fgColor.rgb.endswith("FFC7CE")
    assert ws.cell(2, 5).fill.fgColor.rgb in (None, "00000000")


def test_a_clean_file_commits_through_the_screen(client, login_as, db, ref, staff, uploads):
    login_as(staff)
    before = _count(db)
    resp = client.post("/projects/import/preview", data={"file": (io.BytesIO(_csv([HEADER, *ROWS], "bom")), "a.csv")},
                       content_type="multipart/form-data")
    review = resp.headers["Location"]
    page = client.get(review).get_data(as_text=True)
    assert "核对通过" in page and "确认导入" in page and _count(db) == before  # the dry run wrote nothing
    token = review.rsplit("/", 1)[1]
    resp = client.post(f"/projects/import/{token}/commit", follow_redirects=True)
    assert "导入 2 个新项目，更新 0 个" in resp.get_data(as_text=True)
    assert _count(db) == before + 2
    assert not list(uploads.glob(f"{token}.*"))  # the upload is gone once imported
    assert client.get(review).status_code == 404


def test_amounts_that_look_like_a_unit_mistake_need_the_tick(db, ref, staff):
    lines = [HEADER, "小额项目,某公司,江苏,新能源,5.2,2024-12-20,已签约"]
    plan = plan_import(staff, "a.csv", _csv(lines))
    assert not plan.ok and plan.errors[0][1] == "协议投资额" and "亿元填成了万元" in plan.errors[0][2]
    assert plan_import(staff, "a.csv", _csv(lines), confirm_amounts=True).ok


# --- scope ----------------------------------------------------------------------------------------

def test_another_units_rows_are_refused(db, ref, staff):
    lines = ["项目名称,投资方,来源地,产业,落户地,协议投资额,签约日期",
             "本区项目,某公司,江苏,新能源,黄岩区,1000,2024-12-20", "外区项目,某公司,江苏,新能源,临海市,1000,2024-12-20"]
    plan = plan_import(staff, "a.csv", _csv(lines))
    assert [o.kind for o in plan.outcomes] == ["new", "error"]
    assert plan.errors[0][:2] == (3, "落户地") and "临海市" in plan.errors[0][2]


def test_another_units_project_is_not_matched_by_its_id(db, ref, staff):
    theirs = make_project(unit=ref.linhai, name="临海的项目")
    lines = ["系统编号,项目名称,投资方,来源地,产业,协议投资额,签约日期",
             f"{theirs.id},临海的项目,某公司,江苏,新能源,1000,2024-12-20"]
    plan = plan_import(staff, "a.csv", _csv(lines))
    assert plan.errors and plan.errors[0][1] == "系统编号"


def test_city_user_picks_the_unit_of_rows_without_one(db, ref):
    city = make_user("staff", ref.city)
    plan = plan_import(city, "a.csv", _csv([HEADER, *ROWS]))
    assert not plan.ok and {c for _r, c, _m in plan.errors} == {"落户地"}
    plan = plan_import(city, "a.csv", _csv([HEADER, *ROWS]), unit_id=ref.linhai.id)
    assert plan.ok and {o.values.unit_id for o in plan.outcomes} == {ref.linhai.id}


def test_county_user_cannot_pick_another_unit_on_the_form(client, login_as, db, ref, staff, uploads):
    login_as(staff)
    page = client.get("/projects/import").get_data(as_text=True)
    assert 'name="unit_id"' not in page
    resp = client.post("/projects/import/preview", data={
        "file": (io.BytesIO(_csv([HEADER, *ROWS])), "a.csv"), "unit_id": str(ref.linhai.id)},
        content_type="multipart/form-data")
    token = resp.headers["Location"].rsplit("/", 1)[1]
    client.post(f"/projects/import/{token}/commit")
    assert {p.unit_id for p in db.session.execute(select(Project).where(
        Project.name.in_(["固态电池项目", "低空飞行器总装项目"]))).scalars()} == {ref.huangyan.id}


def test_a_token_is_its_uploaders_only(client, login_as, db, ref, staff, uploads):
    login_as(staff)
    resp = client.post("/projects/import/preview", data={"file": (io.BytesIO(_csv([HEADER, *ROWS])), "a.csv")},
                       content_type="multipart/form-data")
    token = resp.headers["Location"].rsplit("/", 1)[1]
    login_as(make_user("staff", ref.huangyan))
    before = _count(db)
    for method, url in (("GET", f"/projects/import/{token}"), ("GET", f"/projects/import/{token}/errors.xlsx"),
                        ("POST", f"/projects/import/{token}/commit"), ("GET", "/projects/import/../../etc"),
                        ("GET", "/projects/import/" + "0" * 32)):
        assert client.open(url, method=method).status_code == 404
    assert _count(db) == before


def test_paging_the_preview_does_not_read_the_workbook_again(client, login_as, db, ref, staff, uploads, monkeypatch):
    from tracker.ledger import read

    book = openpyxl.Workbook()
    ws = book.active
    ws.append(HEADER.split(","))
    for i in range(150):  # two pages; every third row's stage unknown
        ws.append([f"项目{i:03d}", "浙江甲科技有限公司", "江苏", "新能源", 1000 + i, date(2024, 12, 20),
                   "很多" if i % 3 == 0 else "已签约"])
    data = io.BytesIO()
    book.save(data)
    reads = []
    real = read._read_workbook
    monkeypatch.setattr(read, "_read_workbook", lambda *a: reads.append(a) or real(*a))
    login_as(staff)
    resp = client.post("/projects/import/preview", data={"file": (io.BytesIO(data.getvalue()), "台账.xlsx")},
                       content_type="multipart/form-data")
    review = resp.headers["Location"]
    assert resp.status_code == 303 and len(reads) == 1

    def no_file_read(*_args):
        raise AssertionError("a preview page read the uploaded file")

    from tracker.ledger import storage
    monkeypatch.setattr(storage, "load", no_file_read)  # nor the upload's bytes (storage.load_meta only)
    second = client.get(review + "?page=2").get_data(as_text=True)
    assert "项目149" in second and "项目099" not in second
    assert "项目099" in client.get(review).get_data(as_text=True)
    errors = client.get(review + "?show=errors").get_data(as_text=True)
    assert "项目003" in errors and "项目004" not in errors and "未知的阶段" in errors
    assert "项目004" in client.get(review + "?show=changes&page=1").get_data(as_text=True)
    assert len(reads) == 1  # every page and filter from what the dry run kept


@pytest.mark.parametrize("tamper", ["missing note", "missing file", "not json", "a list", "no filename",
                                    "no summary", "rows not a list", "a bad row", "counts not numbers"])
def test_a_damaged_upload_is_not_found_never_an_error_page(client, login_as, db, ref, staff, uploads, tamper):
    import json

    login_as(staff)
    resp = client.post("/projects/import/preview", data={"file": (io.BytesIO(_csv([HEADER, *ROWS])), "a.csv")},
                       content_type="multipart/form-data")
    token = resp.headers["Location"].rsplit("/", 1)[1]
    note = uploads / f"{token}.json"
    meta = json.loads(note.read_text(encoding="utf-8"))
    summary = meta["summary"]
    changed = {"missing note": None, "missing file": meta, "not json": "{", "a list": [meta],
               "no filename": {**meta, "filename": None}, "no summary": {**meta, "summary": None},
               "rows not a list": {**meta, "summary": {**summary, "rows": 7}},
               "a bad row": {**meta, "summary": {**summary, "rows": [[2, "new", "x", 5, []], *summary["rows"]]}},
               "counts not numbers": {**meta, "summary": {**summary, "counts": {"new": "2"}}}}[tamper]
    if changed is None:
        note.unlink()
    else:
        note.write_text(changed if isinstance(changed, str) else json.dumps(changed), encoding="utf-8")
    if tamper == "missing file":
        (uploads / f"{token}.bin").unlink()
    before = _count(db)
    assert client.get(f"/projects/import/{token}").status_code == 404
    assert client.get(f"/projects/import/{token}?show=changes").status_code == 404
    if tamper in ("missing note", "missing file", "not json", "a list", "no filename"):
        assert client.get(f"/projects/import/{token}/errors.xlsx").status_code == 404
        assert client.post(f"/projects/import/{token}/commit").status_code == 404
    assert _count(db) == before


# --- re-import: updates, never duplicates ---------------------------------------------------------------

def test_reimport_updates_by_name_instead_of_duplicating(db, ref, staff):
    commit_import(staff, plan_import(staff, "a.csv", _csv([HEADER, *ROWS])))
    db.session.flush()
    before = _count(db)
    again = plan_import(staff, "a.csv", _csv([HEADER, *ROWS]))
    assert again.counts == {"new": 0, "update": 0, "unchanged": 2, "error": 0}
    changed = plan_import(staff, "a.csv", _csv([HEADER, ROWS[0].replace("150000", "160000"), ROWS[1]]))
    assert changed.counts["update"] == 1 and changed.outcomes[0].changes == ["contracted_investment"]
    commit_import(staff, changed)
    db.session.flush()
    assert _count(db) == before
    battery = db.session.execute(select(Project).where(Project.name == "固态电池项目")).scalar_one()
    assert battery.contracted_investment == Decimal("160000.00")


def test_a_stage_change_is_refused(db, ref, staff):
    commit_import(staff, plan_import(staff, "a.csv", _csv([HEADER, *ROWS])))
    db.session.flush()
    plan = plan_import(staff, "a.csv", _csv([HEADER, ROWS[0].replace("已签约", "已开工"), ROWS[1]]))
    assert plan.errors[0][:2] == (2, "阶段") and "审批" in plan.errors[0][2]


# --- files that are not ledgers: a clear message, never a 500 --------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.mark.parametrize("name,data,message", [
    ("empty.xlsx", b"", "文件是空的"),
    ("picture.xlsx", PNG, "无法识别的文件格式"),
    ("broken.xlsx", b"PK\x03\x04" + b"garbage" * 50, "无法作为 Excel 工作簿读取"),
    ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "无法作为 Excel 工作簿读取"),
    ("noise.csv", bytes(range(1, 256)) * 40, "文字编码"),
    ("latin1.csv", "name,investor\ncafé,Müller\n".encode("latin-1"), "表头"),
    ("words.csv", "今天天气很好\n没有表头\n".encode(), "没有找到表头"),
])
def test_unreadable_files_get_a_clear_message(client, login_as, db, ref, staff, uploads, name, data, message):
    with pytest.raises(LedgerFileError) as err:
        plan_import(staff, name, data)
    assert message in err.value.message
    login_as(staff)
    resp = client.post("/projects/import/preview", data={"file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")
    assert resp.status_code == 422 and message in resp.get_data(as_text=True)


def test_no_file_and_a_huge_file_are_refused_clearly(client, login_as, db, ref, staff, uploads):
    login_as(staff)
    resp = client.post("/projects/import/preview", data={}, content_type="multipart/form-data")
    assert resp.status_code == 422 and "请选择要导入的台账文件" in resp.get_data(as_text=True)
    resp = client.post("/projects/import/preview", data={"file": (io.BytesIO(b"x" * (30 * 1024 * 1024)), "big.csv")},
                       content_type="multipart/form-data")
    assert resp.status_code == 413 and "过大" in resp.get_data(as_text=True)


# --- long files run as a job; the command line ----------------------------------------------------------

def test_a_long_file_commits_as_a_job(client, login_as, db, ref, staff, uploads, monkeypatch, app):
    from tracker.jobs.models import Job

    monkeypatch.setitem(app.config, "LEDGER_JOB_ROWS", 1)
    login_as(staff)
    resp = client.post("/projects/import/preview", data={"file": (io.BytesIO(_csv([HEADER, *ROWS])), "a.csv")},
                       content_type="multipart/form-data")
    token = resp.headers["Location"].rsplit("/", 1)[1]
    assert "后台进行" in client.get(resp.headers["Location"]).get_data(as_text=True)
    parsed = []
    from tracker.ledger import views

    monkeypatch.setattr(views, "plan_import", lambda *a, **k: parsed.append(a))
    resp = client.post(f"/projects/import/{token}/commit")
    assert resp.status_code == 302 and "/jobs/" in resp.headers["Location"]
    assert parsed == []  # the dry run passed it: the job checks it again, the view does not parse it too
    job = db.session.execute(select(Job).where(Job.kind == "ledger_import")).scalar_one()
    assert job.params["token"] == token and job.user_id == staff.id


def test_an_import_job_that_finds_errors_shows_them_in_the_preview(client, login_as, db, ref, staff, uploads,
                                                                    monkeypatch):
    """A file that checks differently when its job runs (the data changed since its dry run):
    nothing is imported, and the preview then shows the file as it checks now."""
    from tracker.jobs.worker import JobError
    from tracker.ledger import jobs, storage

    token = storage.save(staff.id, "a.csv", _csv(BAD), {"unit_id": None, "confirm_amounts": False,
                                                          "summary": None})
    db.session.commit()

    class Ctx:
        params = {"token": token}
        done_message = ""

        def progress(self, percent, message=""):
            pass

    monkeypatch.setattr(Ctx, "user", property(lambda self: db.session.get(type(staff), staff.id)), raising=False)
    before = _count(db)
    with pytest.raises(JobError) as err:
        jobs.run_import(Ctx())
    assert "返回预览" in str(err.value) and _count(db) == before
    summary = storage.load_meta(token, staff.id)["summary"]
    assert summary["ok"] is False and summary["counts"]["error"] >= 1
    first_error = next(r for r in summary["rows"] if r[1] == "error")[4][0][1]  # [column, message]
    login_as(staff)
    page = client.get(f"/projects/import/{token}?show=errors").get_data(as_text=True)
    assert html.escape(first_error) in page


def test_the_import_job_commits_all_rows(db, ref, staff, uploads, monkeypatch):
    from tracker.ledger import jobs, storage

    token = storage.save(staff.id, "a.csv", _csv([HEADER, *ROWS]), {"unit_id": None, "confirm_amounts": False})
    db.session.commit()

    class Ctx:
        params = {"token": token}
        user = staff
        reports: list = []
        done_message = ""

        def progress(self, percent, message=""):
            self.reports.append((percent, message))

    monkeypatch.setattr(Ctx, "user", property(lambda self: db.session.get(type(staff), staff.id)))
    before = _count(db)
    ctx = Ctx()
    jobs.run_import(ctx)
    assert _count(db) == before + 2
    # The job page's last word (the worker stores it as the finished job's message).
    assert ctx.done_message == "导入 2 个新项目，更新 0 个"
    assert storage.load(token, staff.id) is None


def test_cli_import_dry_run_errors_and_commit(app, db, ref, staff, tmp_path):
    db.session.commit()  # the command rolls back its own work: keep the test's user
    runner = app.test_cli_runner()
    bad = tmp_path / "bad.csv"
    bad.write_bytes(_csv(BAD, "gbk"))
    before = _count(db)
    result = runner.invoke(args=["ledger", "import", str(bad), "--user", staff.username])
    assert result.exit_code == 1
    assert "row 3\t项目名称\t请填写项目名称。" in result.output and "nothing imported" in result.output
    assert _count(db) == before
    good = tmp_path / "good.xlsx"
    good.write_bytes(_titled_workbook())
    result = runner.invoke(args=["ledger", "import", str(good), "--user", staff.username, "--dry-run"])
    assert result.exit_code == 0 and "new 2" in result.output and _count(db) == before
    result = runner.invoke(args=["ledger", "import", str(good), "--user", staff.username])
    assert result.exit_code == 0, result.output
    assert _count(db) == before + 2
    leader = make_user("leader", ref.huangyan)
    db.session.commit()
    result = runner.invoke(args=["ledger", "import", str(good), "--user", leader.username])
    assert result.exit_code == 1 and "may not create" in result.output


def test_error_workbook_keeps_title_rows_and_merged_header(db, ref, staff):
    from tracker.ledger.errors_workbook import write_errors

    book = openpyxl.load_workbook(io.BytesIO(_titled_workbook()))
    book.active["E6"] = "造船"  # row 6: an industry we do not have
    data = io.BytesIO()
    book.save(data)
    plan = plan_import(staff, "黄岩.xlsx", data.getvalue())
    out = io.BytesIO()
    assert write_errors(plan, out) == 1
    ws = openpyxl.load_workbook(io.BytesIO(out.getvalue())).active
    assert {"A1:I1", "F3:G3", "B3:B4"} <= {str(r) for r in ws.merged_cells.ranges}
    assert ws["A1"].value == "2024年黄岩区签约项目台账" and ws["B1"].value is None
    assert ws["F4"].value == "协议投资额（亿元）" and ws["J4"].value == "错误说明"
    assert ws["E6"].fill.fgColor.rgb.endswith("FFC7CE") and "造船" in ws["J6"].value
    assert ws["J5"].value == "无误" and ws["J7"].value is None  # the 合计 row is no data row


def test_posts_need_the_csrf_token_when_it_is_on(app, client, login_as, db, ref, staff, uploads, monkeypatch):
    login_as(staff)
    resp = client.post("/projects/import/preview", data={"file": (io.BytesIO(_csv([HEADER, *ROWS])), "a.csv")},
                       content_type="multipart/form-data")
    review = resp.headers["Location"]
    token = review.rsplit("/", 1)[1]
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    assert 'name="csrf_token"' in client.get("/projects/import").get_data(as_text=True)
    assert 'name="csrf_token"' in client.get(review).get_data(as_text=True)  # the 确认导入 form
    before = _count(db)
    resp = client.post("/projects/import/preview", data={"file": (io.BytesIO(_csv([HEADER, *ROWS])), "a.csv")},
                       content_type="multipart/form-data")
    assert resp.status_code in (400, 422)
    assert client.post(f"/projects/import/{token}/commit").status_code in (400, 422)
    assert _count(db) == before
