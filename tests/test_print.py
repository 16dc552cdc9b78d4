"""Print as a 公文 has it (issue 9 items 3 and 4): figures without padding decimals or
separators, one unit a figure, the printing unit's masthead, the optional 内部资料 mark, the
signing-order sheet by round with titles, and the booklet's per-unit subtotals.

PDFs are read with pypdf; set PRINT_PNG_DIR to also write their pages as PNG (pdftoppm) for a
look by eye.
"""
from __future__ import annotations

import os
import re
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from tests import test_briefs
from tests.factories import make_investor, make_project, make_user
from tests.test_briefs import full_project, make_ceremony, pdf_text, squash
from tracker.briefs import content, glossary, service
from tracker.ceremonies import operations as ceremony_ops

# Shared fixtures: the prepared fonts, and a signed-in client for the brief routes.
brief_fonts = test_briefs.brief_fonts
web = test_briefs.web


def _png(name: str, data: bytes) -> None:
    target = os.environ.get("PRINT_PNG_DIR")
    if not target:
        return
    path = Path(target) / f"{name}.pdf"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    subprocess.run(["pdftoppm", "-png", "-r", "60", str(path), str(path.with_suffix(""))], check=False)


# --- numbers -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("wan", "text"), [
    (Decimal(1000000), "100亿元"), (Decimal(52000), "5.2亿元"), (Decimal(12345), "1.23亿元"),
    (Decimal(1500), "0.15亿元"), (Decimal(0), "0亿元"), (None, "—"),
])
def test_yi_prints_only_the_decimals_needed(wan, text):
    assert content.yi_text(wan) == text


def test_wan_figures_have_no_thousands_separators():
    assert content.wan(Decimal(40000)) == "40000"
    assert content.wan(Decimal("12345.50")) == "12345.5"
    assert content.amount_text(Decimal(8000)) == "8000万元"  # under 1亿元: 万元
    assert content.amount_text(Decimal(40000)) == "4亿元"  # from 1亿元 up: 亿元


def test_brief_prints_one_unit_per_figure_without_padding(app, db, ref, brief_fonts):
    project = full_project(ref, contracted_investment=Decimal(1000000), fixed_asset_investment=Decimal(52000),
                           expected_output=Decimal(800000), expected_tax=Decimal(4500))
    text, _reader = pdf_text(service.brief_pdf(project).pdf)
    flat = squash(text)
    assert "100亿元" in flat and "5.2亿元" in flat and "80亿元" in flat and "4500万元" in flat
    assert "100.00" not in flat and "5.20" not in flat and "4,500" not in flat
    lines = [squash(line) for line in text.splitlines()]
    assert not any("亿元" in line and "万元" in line for line in lines)  # never side by side


def test_small_amounts_print_in_wan_not_as_zero_yi(app, db, ref, brief_fonts):
    project = full_project(ref, contracted_investment=Decimal("5.2"), fixed_asset_investment=Decimal(3000))
    flat = squash(pdf_text(service.brief_pdf(project).pdf)[0])
    assert "协议投资额5.2万元" in flat and "3000万元" in flat
    assert not re.search(r"(?<![0-9.])0亿元", flat)


# --- masthead and the 内部资料 mark --------------------------------------------------------------

def test_masthead_names_the_printing_unit(app, db, ref, brief_fonts):
    project = full_project(ref)  # a 黄岩区 project
    county, county_pdf = pdf_text(service.brief_pdf(project, user=make_user("staff", ref.huangyan)).pdf)
    city, city_pdf = pdf_text(service.brief_pdf(project, user=make_user("staff", ref.city)).pdf)
    assert county_pdf.metadata.author == "黄岩区" and "台州市投资促进中心" not in county
    assert "黄岩区生成于" in squash(county)
    assert city_pdf.metadata.author == "台州市投资促进中心" and "台州市投资促进中心生成于" in squash(city)
    assert service.issuer_name(None) == "台州市投资促进中心"  # the command line prints as the city


def test_internal_mark_only_when_asked(app, db, ref, brief_fonts):
    project = full_project(ref)
    plain = squash(pdf_text(service.brief_pdf(project).pdf)[0])
    marked = squash(pdf_text(service.brief_pdf(project, internal=True).pdf)[0])
    assert "内部资料" not in plain
    assert "内部资料注意保密" in marked


def test_booklet_job_uses_submitter_unit_and_internal_flag(app, db, ref, brief_fonts):
    from tracker.briefs import jobs

    ceremony = make_ceremony(ref, [make_project()], unit=ref.huangyan)
    seen = {}

    class Ctx:
        user = make_user("manager", ref.huangyan)
        params = {"ceremony_id": ceremony.id, "internal": True}

        def progress(self, *a, **kw):
            pass

    real = service.order_pdf

    def spy(ceremony, booklet=None, **kw):
        seen.update(kw)
        return real(ceremony, booklet, **kw)

    service.order_pdf, saved = spy, service.order_pdf
    try:
        out = jobs.make_order_sheet(Ctx())
    finally:
        service.order_pdf = saved
    assert seen == {"user": Ctx.user, "internal": True}
    flat = squash(pdf_text(out.data)[0])
    assert "内部资料注意保密" in flat and "黄岩区" in flat


# --- order sheet and booklet --------------------------------------------------------------------

def test_order_sheet_groups_by_round_with_witnesses_and_titles(app, db, ref, brief_fonts):
    projects = [make_project(name=f"批次项目{i}") for i in range(4)]
    ceremony = make_ceremony(ref, projects)
    signings = ceremony_ops.signings_of(ceremony)
    # Project 0 goes in round 2: it moves after the round-1 projects.
    ceremony_ops.update_signatories(None, ceremony, signings[0], round_no=2, signatory_local="朱嘉诚",
                                    signatory_local_title="台州市人民政府副市长", signatory_investor="杨立新",
                                    signatory_investor_title="董事长")
    ceremony_ops.set_round_witnesses(None, ceremony, ["吴海平 李跃旗", "张晔"])
    pdf = service.order_pdf(ceremony).pdf
    _png("order-sheet", pdf)
    flat = squash(pdf_text(pdf)[0])
    assert "第一批见证领导：吴海平李跃旗" in flat and "第二批见证领导：张晔" in flat
    assert flat.index("第一批") < flat.index("批次项目1") < flat.index("批次项目3") < flat.index("第二批") \
        < flat.index("批次项目0")
    assert "朱嘉诚台州市人民政府副市长" in flat and "杨立新董事长" in flat
    assert "共4个项目" in flat


def test_round_and_titles_are_checked():
    with pytest.raises(ceremony_ops.CeremonyError) as err:
        ceremony_ops._signatories({"round_no": 0, "signatory_local_title": "长" * 61})
    assert set(err.value.errors) == {"round_no", "signatory_local_title"}


def test_booklet_summary_has_subtotal_per_unit_and_the_app_term(app, db, ref, brief_fonts):
    projects = [make_project(unit=ref.huangyan, name=f"黄岩项目{i}", contracted_investment=Decimal(20000),
                             investor=make_investor(name=f"江苏清陶能源科技有限公司{i}"))
                for i in range(2)]
    projects.append(make_project(unit=ref.linhai, name="临海项目", contracted_investment=Decimal(52000)))
    ceremony = make_ceremony(ref, projects)
    text, _reader = pdf_text(service.booklet_pdf(ceremony).pdf)
    flat = squash(text)
    assert "协议投资额（亿元）" in flat and "总投资（亿元）" not in flat
    assert "按落户地小计落户地项目数协议投资额（亿元）黄岩区24临海市15.2" in flat
    assert "合计（3个项目）9.2" in flat


def test_thirty_one_project_booklet_summary_keeps_total_with_rows(app, db, ref, brief_fonts):
    """The 31-project booklet: the summary's last page is never just the total line."""
    units = [ref.huangyan, ref.linhai]
    projects = [make_project(unit=units[i % 2], name=f"台州湾新区智能驾驶域控制器及配套产业链项目{i}",
                             contracted_investment=Decimal(10000 * (i + 1)),
                             investor=make_investor(name=f"中昊芯英（杭州）科技股份有限公司{i}"))
                for i in range(31)]
    ceremony = make_ceremony(ref, projects)
    pdf = service.booklet_pdf(ceremony).pdf
    _png("booklet-31", pdf)
    _text, reader = pdf_text(pdf)
    summary = [squash(p.extract_text()) for p in reader.pages[1:4]]
    total_page = next(p for p in summary if "合计（31个项目）" in p)
    assert "台州湾新区智能驾驶域控制器及配套产业链项目30" in total_page  # the last row goes with it
    assert "有限公\n司" not in _text


def test_demo_booklet_summary_fits_its_pages(app, db, brief_fonts):
    """The demo's 31-project ceremony (real-length names): the summary table's rows, total and
    subtotals on one page, right after the cover, and the order sheet with the total line on
    the last rows' page."""
    from sqlalchemy import select

    from tracker import seeding
    from tracker.ceremonies.models import Ceremony

    seeding.load_reference()
    seeding.load_demo()
    ceremony = db.session.execute(select(Ceremony).where(Ceremony.name.like("台州市2024(第四季)%"))).scalar_one()
    assert len(ceremony.signings) == 31
    booklet = service.booklet_pdf(ceremony).pdf
    order = service.order_pdf(ceremony).pdf
    _png("demo-booklet", booklet)
    _png("demo-order", order)
    _text, reader = pdf_text(booklet)
    summary = squash(reader.pages[1].extract_text())
    assert "签约项目一览表" in summary and "合计（31个项目）413" in summary
    assert "按落户地小计" in summary + squash(reader.pages[2].extract_text())
    _text, order_reader = pdf_text(order)
    last = squash(order_reader.pages[-1].extract_text())
    assert "共31个项目" in last and squash(ceremony.signings[-1].project.name) in last


# --- screens ---------------------------------------------------------------------------------

def test_signatory_titles_round_and_witnesses_from_the_screens(client, login_as, db, ref):
    from tracker.ceremonies.models import Ceremony

    projects = [make_project(name=f"屏幕项目{i}") for i in range(2)]
    ceremony = make_ceremony(ref, [projects[0]])
    login_as(make_user("manager", ref.city))
    resp = client.post(f"/ceremonies/{ceremony.id}/projects", data={
        "project_id": projects[1].id, "round_no": "2", "signatory_local": "朱嘉诚",
        "signatory_local_title": "台州市人民政府副市长", "signatory_investor": "杨立新",
        "signatory_investor_title": "董事长", "version": ceremony.version_id})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    signing = ceremony_ops.signings_of(ceremony)[1]
    assert (signing.round_no, signing.signatory_local_title, signing.signatory_investor_title) == \
        (2, "台州市人民政府副市长", "董事长")

    db.session.refresh(ceremony)
    resp = client.post(f"/ceremonies/{ceremony.id}/projects/{signing.id}/edit", data={
        "round_no": "99", "signatory_local": "朱嘉诚", "version": ceremony.version_id})
    assert resp.status_code == 422  # rounds 1–20
    resp = client.post(f"/ceremonies/{ceremony.id}/projects/{signing.id}/edit", data={
        "round_no": "x", "version": ceremony.version_id})
    assert resp.status_code == 422

    resp = client.post(f"/ceremonies/{ceremony.id}/rounds",
                       data={"round_witnesses": "吴海平\r\n张晔\r\n\r\n", "version": ceremony.version_id})
    assert resp.status_code == 302
    fresh = db.session.get(Ceremony, ceremony.id)
    db.session.refresh(fresh)
    assert fresh.round_witnesses == "吴海平\n张晔" and fresh.witnesses_of(2) == "张晔"
    page = client.get(f"/ceremonies/{ceremony.id}").get_data(as_text=True)
    assert "台州市人民政府副市长" in page and "签约批次与见证领导" in page and "js/reorder.js" in page
    assert 'name="internal"' in page

    login_as(make_user("staff", ref.city))  # no ceremony.manage: refused
    assert client.post(f"/ceremonies/{ceremony.id}/rounds",
                       data={"round_witnesses": "x", "version": fresh.version_id}).status_code in (403, 404)


def test_booklet_button_passes_the_internal_choice_to_the_job(client, login_as, db, ref):
    from tracker.jobs.models import Job

    ceremony = make_ceremony(ref, [make_project()])
    user = login_as(make_user("manager", ref.city))
    assert client.post(f"/ceremonies/{ceremony.id}/booklet", data={"internal": "1"}).status_code in (302, 303)
    assert client.post(f"/ceremonies/{ceremony.id}/order-sheet").status_code in (302, 303)
    jobs = {j.kind: j.params for j in db.session.execute(select(Job).where(Job.user_id == user.id)).scalars()}
    assert jobs["booklet"]["internal"] is True and jobs["order_sheet"]["internal"] is False


def test_brief_pdf_link_takes_internal(web, db, ref):
    project = full_project(ref)
    web.login(make_user("staff", ref.huangyan))
    marked = squash(pdf_text(web.get(f"/projects/{project.id}/brief.pdf?internal=1").data)[0])
    plain = squash(pdf_text(web.get(f"/projects/{project.id}/brief.pdf").data)[0])
    assert "内部资料注意保密" in marked and "内部资料" not in plain
    preview = web.get(f"/projects/{project.id}/brief").get_data(as_text=True)
    assert 'name="internal"' in preview


# --- the bilingual brief speaks the screens' English --------------------------------------------

def _bilingual_text(ref, **over) -> tuple[str, bytes]:
    ref.industry.name_en = "Solid-state batteries (admin-set)"
    ref.huangyan.name_en = "Huangyan (admin-set)"
    project = full_project(ref, **over)
    pdf = service.brief_pdf(project, bilingual=True, user=make_user("staff", ref.huangyan)).pdf
    return pdf_text(pdf)[0], pdf


def test_bilingual_brief_uses_the_screens_english(app, db, ref, brief_fonts):
    from tracker.workflow import stages

    text, pdf = _bilingual_text(ref, stage="construction", contracted_investment=Decimal(520000),
                                fixed_asset_investment=Decimal(5200))
    _png("bilingual", pdf)
    flat = squash(text)
    assert squash(stages.BY_CODE["construction"].english) in flat  # "Construction started"
    assert "Underconstruction" not in flat  # the brief's old, second name for the stage
    assert squash("Solid-state batteries (admin-set)") in flat  # the industry's name_en
    assert squash("Huangyan (admin-set)") in flat  # the unit's name_en, in the facts and the masthead
    assert "¥5.2billion" in flat and "RMB52million" in flat
    assert "100MCNY" not in flat and "RMB5.20billion" not in flat


def test_bilingual_brief_falls_back_to_the_glossary_without_name_en(app, db, ref, brief_fonts):
    ref.industry.name_en = ""
    project = full_project(ref)
    flat = squash(pdf_text(service.brief_pdf(project, bilingual=True).pdf)[0])
    assert squash(glossary.en(ref.industry.name)) in flat


def test_bilingual_designation_tags_never_break_across_lines(app, db, ref, brief_fonts):
    project = full_project(ref, is_provincial_major=True, is_qianxiang_wanyi=True, is_yrd_major=True)
    text = pdf_text(service.brief_pdf(project, bilingual=True).pdf)[0]
    lines = [squash(line) for line in text.splitlines()]
    for tag, english in glossary.DESIGNATIONS_EN.items():
        whole = squash(f"{tag} · {english}")
        assert any(whole in line for line in lines), whole


def test_no_hundred_million_cny_wording_anywhere():
    root = Path(__file__).resolve().parent.parent
    for folder in ("tracker", "templates"):
        for path in (root / folder).rglob("*"):
            if path.suffix in {".py", ".html", ".js"} and path.name != "formatting.py":
                assert "100M CNY" not in path.read_text(encoding="utf-8"), path
