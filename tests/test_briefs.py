"""PDF briefs: every field (rare characters included) in the extracted text, the fast font
path, safe rendering (escaping, a locked-down fetcher), size limits and the time limit,
access rules, the bilingual variant, the HTML preview and the CLI.

Tests read the PDFs with pypdf and never assert on time.
"""
from __future__ import annotations

import io
import logging
import os
import re
import socket
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from pypdf import PdfReader

from tests.factories import make_investor, make_project, make_user, sign_in
from tracker.briefs import content, fonts, render, service
from tracker.briefs.render import BriefError
from tracker.ceremonies import operations as ceremony_ops
from tracker.projects.models import Platform

RARE = "龘堃喆𠮷"
HOSTILE = ('<img src="http://127.0.0.1:9/x"> <a rel="attachment" href="file:///etc/passwd">a</a> '
           'file:///etc/passwd <script>alert(1)</script>')


# --- fixtures (test_ceremonies.py imports them) ------------------------------------------------

@pytest.fixture(scope="session")
def brief_fonts(app, tmp_path_factory):
    """The prepared brief fonts: the app's own (set-up ran) or built once into a temp dir."""
    own = Path(app.config.get("BRIEF_FONT_DIR") or Path(app.instance_path) / "fonts")
    if fonts.manifest_files(own):
        app.config["BRIEF_FONT_DIR"] = str(own)
        return own
    target = tmp_path_factory.mktemp("brief-fonts")
    fonts.build(target, echo=lambda *a: None)
    app.config["BRIEF_FONT_DIR"] = str(target)
    return target


_second_app = {}


class WebClient:
    """A test client whose app has the ``briefs`` blueprint, logged in as a given user.

    Until the app factory registers the blueprint, a second app on the same database (and the
    same rolled-back test connection, through ``db.session``) is used for these routes.
    """

    def __init__(self, flask_app, db):
        self.app = flask_app
        self.db = db
        self.client = flask_app.test_client()

    def login(self, user):
        self.db.session.commit()  # to the test's savepoint, as conftest's login_as does
        sign_in(self.client, user)
        self.db.session.commit()
        return user

    def get(self, *args, **kwargs):
        import flask_babel
        from flask import g

        g.pop("_login_user", None)
        flask_babel.refresh()
        return self.client.get(*args, **kwargs)

    def post(self, *args, **kwargs):
        import flask_babel
        from flask import g

        g.pop("_login_user", None)
        flask_babel.refresh()
        return self.client.post(*args, **kwargs)


@pytest.fixture()
def web(app, db, brief_fonts):
    if "briefs" in app.blueprints:
        return WebClient(app, db)
    other = _second_app.get("app")
    if other is None:
        from tracker import create_app
        from tracker.briefs.views import bp

        keys = ("TESTING", "SECRET_KEY", "SQLALCHEMY_DATABASE_URI", "WTF_CSRF_ENABLED",
                "RATELIMIT_STORAGE_URI", "SERVER_NAME", "UPLOAD_DIR")
        other = create_app({k: app.config[k] for k in keys if k in app.config})
        other.register_blueprint(bp)
        _second_app["app"] = other
    other.config["BRIEF_FONT_DIR"] = str(brief_fonts)
    for key in ("BRIEF_RENDER_TIMEOUT", "BOOKLET_RENDER_TIMEOUT"):
        if key in app.config:
            other.config[key] = app.config[key]
        else:
            other.config.pop(key, None)
    return WebClient(other, db)


def pdf_text(data: bytes) -> tuple[str, PdfReader]:
    reader = PdfReader(io.BytesIO(data))
    text = "\n".join(page.extract_text() or "" for page in reader.pages)
    return text, reader


def squash(text: str) -> str:
    """Text without whitespace: pypdf breaks lines where the layout wrapped them."""
    return re.sub(r"\s+", "", text)


def full_project(ref, **over):
    platform = ref.platform
    investor = make_investor(name=over.pop("investor_name", f"中昊芯英（杭州）科技有限公司{RARE}"),
                             introduction=over.pop("introduction", f"AI算力芯片企业，董事长王{RARE}。"))
    values = {
        "name": f"中昊芯英AI算力产业基地{RARE}", "investor": investor, "platform": platform,
        "contracted_investment": Decimal(500000), "fixed_asset_investment": Decimal(400000),
        "land_area_mu": Decimal(300), "content": f"建设AI算力芯片模组与智算中心，负责人张{RARE}。",
        "expected_output": Decimal(800000), "expected_tax": Decimal(40000), "expected_jobs": 1200,
        "is_provincial_major": True, "is_qianxiang_wanyi": True, "signed_on": date(2024, 12, 20),
    }
    values.update(over)
    return make_project(**values)


def make_ceremony(ref, projects, name="台州市2024(第四季)重大招商项目签约仪式", **kw):
    ceremony = ceremony_ops.create_ceremony(None, name=name, held_on=kw.pop("held_on", date(2024, 12, 20)),
                                            venue=kw.pop("venue", "台州市行政中心"), unit=kw.pop("unit", ref.city))
    for i, project in enumerate(projects):
        ceremony_ops.add_project(None, ceremony, project, signatory_local=f"朱嘉诚{i}",
                                 signatory_investor=f"杨立新{i}")
    return ceremony


# --- fonts -------------------------------------------------------------------------------

def test_tiers_partition_every_character():
    cps = list(range(0x20, 0x7F)) + [ord(c) for c in "台州市龘堃喆"] + [0x20BB7, 0x3400, 0xAC00]
    tiers = fonts.split_tiers(cps)
    flat = [cp for tier in tiers for cp in tier]
    assert sorted(flat) == sorted(set(cps))  # each code point in exactly one tier
    assert fonts.category_of(ord("台")) == 1  # GB 2312 level 1
    assert fonts.category_of(ord("龘")) == 3 and fonts.category_of(0x20BB7) == 4


def test_prepared_fonts_cover_rare_characters(brief_fonts):
    from fontTools.ttLib import TTFont

    files = fonts.manifest_files(brief_fonts)
    assert {f.base for f in files} == {"TZ Brief Serif", "TZ Brief Sans"}
    assert 'src: url("file:' in fonts.font_face_css(files)
    regular = [f for f in files if f.base == "TZ Brief Serif" and f.weight == 400]
    owners = {ch: [] for ch in RARE + "台州"}
    for f in regular:
        font = TTFont(f.path, lazy=True)
        cmap = font.getBestCmap()
        for ch, tiers in owners.items():
            if ord(ch) in cmap:
                tiers.append(f.tier)
        font.close()
    assert all(len(tiers) == 1 for tiers in owners.values()), owners  # exactly one tier each
    assert owners["台"] == [1]


def test_common_tiers_are_truetype_with_the_source_shapes(brief_fonts):
    """Tiers 1-2 are converted to TrueType at set-up (faster to subset, smaller PDFs); each
    glyph keeps the source's shape: its outline's bounds within 2 units of 1,000 per em,
    the same advance, for common hanzi, a Latin letter and full-width punctuation."""
    from fontTools.pens.boundsPen import BoundsPen
    from fontTools.ttLib import TTFont

    ffi, hb, hbs = fonts._hb()
    path, index = fonts.find_source(fonts.FACES["serif-regular"][1])
    blob = hb.hb_blob_create_from_file_or_fail(path.encode())
    face = hb.hb_face_create(blob, index)
    try:
        source = TTFont(io.BytesIO(fonts._subset(ffi, hb, hbs, face, [ord(c) for c in "台州投资A，"])))
    finally:
        hb.hb_face_destroy(face)
        hb.hb_blob_destroy(blob)
    tier1 = next(f for f in fonts.manifest_files(brief_fonts)
                 if f.base == "TZ Brief Serif" and f.weight == 400 and f.tier == 1)
    rare = next(f for f in fonts.manifest_files(brief_fonts) if f.tier > fonts.TRUETYPE_TIERS)
    prepared = TTFont(tier1.path)
    assert "glyf" in prepared and "CFF " not in prepared and tier1.path.suffix == ".ttf"
    assert "CFF " in TTFont(rare.path, lazy=True) and rare.path.suffix == ".otf"

    def shape(font, ch):
        name = font.getBestCmap()[ord(ch)]
        pen = BoundsPen(font.getGlyphSet())
        font.getGlyphSet()[name].draw(pen)
        return pen.bounds, font["hmtx"][name][0]

    for ch in "台州投资A，":
        (want, advance), (got, got_advance) = shape(source, ch), shape(prepared, ch)
        assert got_advance == advance, ch
        assert all(abs(a - b) <= 2 for a, b in zip(want, got, strict=True)), (ch, want, got)


def test_fast_font_path_no_fonttools_fallback(app, db, ref, brief_fonts, caplog):
    from weasyprint.text import ffi as wp_ffi

    assert wp_ffi.harfbuzz_subset is not None, "install libharfbuzz-subset0"
    project = full_project(ref)
    # In this process, where caplog sees WeasyPrint's warnings …
    with caplog.at_level(logging.WARNING, logger="weasyprint"), render.rendering_here():
        here = service.brief_pdf(project)
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("weasyprint")]
    assert not any(render.SLOW_PATH_MARK in m for m in messages), messages
    assert not any(render.NOTDEF_MARK in m for m in messages), messages
    assert here.slow_path is False and here.missing == set()
    # … and in a pool worker, which reports the same checks back.
    result = service.brief_pdf(project)
    assert result.pid != os.getpid()
    assert result.slow_path is False
    assert result.missing == set()


# --- content ---------------------------------------------------------------------------------

def test_brief_pdf_has_every_field(web, db, ref):
    project = full_project(ref, stage="construction")
    make_ceremony(ref, [project])
    web.login(make_user("staff", ref.huangyan))
    resp = web.get(f"/projects/{project.id}/brief.pdf")
    assert resp.status_code == 200
    assert resp.mimetype == "application/pdf"
    assert "filename*=UTF-8''" in resp.headers["Content-Disposition"]
    text, reader = pdf_text(resp.data)
    assert len(reader.pages) == 1  # a normal project fits on one A4 page
    flat = squash(text)
    for expected in (
        # The masthead names the printing unit (a 黄岩区 user); figures as a 公文 prints them.
        "黄岩区生成于", "项目简介", project.name, project.investor.name, project.investor.introduction,
        "江苏", "新能源", "黄岩区", ref.platform.name, "已开工", "50亿元", "40亿元", "300亩",
        "2024年12月20日", project.content, "年产值：80亿元", "年税收：4亿元", "1200人", "省重大产业项目", "千项万亿",
        "台州市2024(第四季)重大招商项目签约仪式", "台州市行政中心", "朱嘉诚0", "杨立新0", "第1页/共1页",
    ):
        assert squash(expected) in flat, expected
    for ch in RARE:
        assert ch in text


def test_brief_lists_milestones(app, db, ref, brief_fonts):
    from tracker.workflow.models import Milestone

    project = full_project(ref, stage="registered")
    db.session.add_all([
        Milestone(project_id=project.id, stage="signed", planned_on=date(2024, 12, 20), actual_on=date(2024, 12, 20)),
        Milestone(project_id=project.id, stage="registered", planned_on=date(2025, 3, 20), actual_on=date(2025, 3, 9)),
        Milestone(project_id=project.id, stage="construction", planned_on=date(2025, 9, 20)),
    ])
    db.session.flush()
    text, _ = pdf_text(service.brief_pdf(project).pdf)
    flat = squash(text)
    for expected in ("已签约", "已注册", "2025年3月9日", "已开工", "2025年9月20日", "计划日期", "实际日期"):
        assert expected in flat


def test_bilingual_variant(web, db, ref):
    project = full_project(ref)
    web.login(make_user("manager", ref.huangyan))
    resp = web.get(f"/projects/{project.id}/brief.pdf?lang=bilingual")
    assert resp.status_code == 200
    text, _ = pdf_text(resp.data)
    for expected in ("Project Brief", "Investor", "Contracted investment", "¥5 billion", "Huangyan District",
                     "New energy", "Jiangsu", "Page 1 of 1", "项目简介", project.name):
        assert squash(expected) in squash(text), expected


def test_html_preview_matches_and_escapes(web, db, ref):
    project = full_project(ref, content=HOSTILE)
    web.login(make_user("staff", ref.huangyan))
    resp = web.get(f"/projects/{project.id}/brief")
    assert resp.status_code == 200
    body = resp.get_data(as_text=True)
    assert project.name in body and project.investor.name in body
    assert "<script>alert(1)</script>" not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert '<img src="http://127.0.0.1:9/x">' not in body
    assert web.get(f"/projects/{project.id}/brief?lang=bilingual").status_code == 200


# --- access --------------------------------------------------------------------------------

@pytest.mark.parametrize("role,unit_key,status", [
    ("staff", "huangyan", 200), ("manager", "huangyan", 200), ("leader", "city", 200), ("staff", "city", 200),
    ("staff", "linhai", 404), ("manager", "linhai", 404), ("admin", "city", 403),
])
@pytest.mark.parametrize("path", ["/projects/{id}/brief.pdf", "/projects/{id}/brief"])
def test_brief_access_follows_project_page(web, db, ref, role, unit_key, status, path):
    project = make_project(unit=ref.huangyan)
    web.login(make_user(role, getattr(ref, unit_key)))
    assert web.get(path.format(id=project.id)).status_code == status


def test_brief_needs_login(web, db, ref):
    project = make_project()
    db.session.commit()
    resp = web.get(f"/projects/{project.id}/brief.pdf")
    assert resp.status_code in (302, 401)


def test_missing_project_is_404(web, db, ref):
    web.login(make_user("staff", ref.city))
    assert web.get("/projects/999999/brief.pdf").status_code == 404


# --- safe rendering --------------------------------------------------------------------------

def test_hostile_text_is_shown_literally_and_nothing_is_fetched(web, db, ref, monkeypatch):
    platform = Platform(name="园区" + HOSTILE[:40], unit_id=ref.huangyan.id)
    db.session.add(platform)
    project = full_project(ref, name=HOSTILE[:100], investor_name=HOSTILE[:100], introduction=HOSTILE,
                           content=HOSTILE, platform=platform)
    ceremony = make_ceremony(ref, [], name="仪式" + HOSTILE[:100], venue=HOSTILE[:120])
    ceremony_ops.add_project(None, ceremony, project, signatory_local=HOSTILE[:60], signatory_investor=HOSTILE[:60])

    def check(data: bytes, order_sheet: bool = False) -> None:
        text, reader = pdf_text(data)
        flat = squash(text)
        if not order_sheet:  # the order sheet prints names and signatories only
            assert squash('<script>alert(1)</script>') in flat
        assert squash('<img src="http://127.0.0.1:9/x">') in flat
        assert squash('<a rel="attachment" href="file:///etc/passwd">') in flat
        assert "file:///etc/passwd" in flat
        assert not reader.attachments  # nothing was attached
        assert b"/EmbeddedFile" not in data and b"/URI" not in data
        assert b"root:x:0:0" not in data

    web.login(make_user("manager", ref.city))
    for url in (f"/projects/{project.id}/brief.pdf", f"/projects/{project.id}/brief.pdf?lang=bilingual"):
        resp = web.get(url)
        assert resp.status_code == 200, url
        check(resp.data)
    results = [service.booklet_pdf(ceremony), service.order_pdf(ceremony), service.brief_pdf(project)]
    check(results[0].pdf)
    check(results[1].pdf, order_sheet=True)
    assert all(r.denied == [] for r in results)  # the worker's fetcher was not even asked

    # Rendered in this process, where a socket guard can watch: no network either.
    attempts = []
    real_connect = socket.socket.connect

    def guard(sock, address):
        attempts.append(address)
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guard)
    with render.rendering_here():
        here = [service.booklet_pdf(ceremony), service.brief_pdf(project, bilingual=True)]
    check(here[0].pdf)
    assert attempts == []
    assert all(r.denied == [] and r.pid == os.getpid() for r in here)


def test_fetcher_allows_only_data_and_own_files(app, brief_fonts, tmp_path):
    renderer = render.get_renderer(Path(brief_fonts))
    fetcher = renderer.fetcher
    for url in ("http://127.0.0.1:9/x", "https://example.com/a.png", "file:///etc/passwd",
                "ftp://example.com/x", "file://remote-host/share/x",
                renderer.font_dir.resolve().as_uri() + "/../../../../etc/passwd"):
        with pytest.raises(ValueError):
            fetcher.fetch(url)
    link = Path(brief_fonts) / "link-to-passwd.otf"
    try:
        link.symlink_to("/etc/passwd")
        with pytest.raises(ValueError):
            fetcher.fetch(link.as_uri())  # a symlink out of the font directory
    finally:
        link.unlink(missing_ok=True)
    assert fetcher.fetch("data:text/plain;base64,aGk=").read() == b"hi"
    font = fonts.manifest_files(Path(brief_fonts))[0].path
    assert fetcher.fetch(font.resolve().as_uri()).read()[:4] in (b"OTTO", b"\x00\x01\x00\x00")
    assert fetcher.fetch((render.STATIC_DIR / "css" / "brief.css").as_uri()).read()


def test_html_handed_to_weasyprint_is_escaped(app, db, ref, brief_fonts, monkeypatch):
    seen = {}
    real = service.render_pdf

    def spy(html, **kw):
        seen["html"] = html
        return real(html, **kw)

    monkeypatch.setattr(service, "render_pdf", spy)
    project = full_project(ref, content=HOSTILE)
    service.brief_pdf(project)
    assert "<script>" not in seen["html"] and "<img" not in seen["html"] and 'rel="attachment"' not in seen["html"]
    assert "&lt;script&gt;" in seen["html"]


# --- pathological input ------------------------------------------------------------------------

def test_ten_thousand_character_name_gets_a_clear_error(app, db, ref):
    project = make_project()
    project.name = "龘" * 10_000  # as if it came around the form (the column is not enforced on SQLite)
    with pytest.raises(BriefError) as err:
        content.build_brief(project)
    assert "项目名称过长" in err.value.message and "10000" in err.value.message


def test_long_unbroken_text_route_answers_422(web, db, ref):
    project = make_project(content="a" * 10_000)
    web.login(make_user("staff", ref.huangyan))
    resp = web.get(f"/projects/{project.id}/brief.pdf")
    assert resp.status_code == 422
    assert "建设内容过长" in resp.get_data(as_text=True)


def test_hundreds_of_milestones_get_a_clear_error(app, db, ref):
    from types import SimpleNamespace

    project = make_project()
    many = [SimpleNamespace(stage="signed", planned_on=date(2025, 1, 1), actual_on=None) for _ in range(500)]
    with pytest.raises(BriefError) as err:
        service.brief_pdf(project, milestones=many)
    assert "500 个进度节点" in err.value.message


def test_booklet_of_hundreds_of_projects_is_refused(app, db, ref):
    ceremony = make_ceremony(ref, [])
    projects = [make_project(unit=ref.huangyan, investor=make_investor()) for _ in range(content.MAX_BOOKLET_PROJECTS + 1)]
    ceremony_ops.set_projects(None, ceremony, [p.id for p in projects[:-1]])
    # Past the operations' own cap, as data imported another way could be:
    from tracker.ceremonies.models import CeremonySigning

    db.session.add(CeremonySigning(ceremony=ceremony, project=projects[-1], position=999))
    db.session.flush()
    with pytest.raises(BriefError) as err:
        service.booklet_pdf(ceremony)  # the booklet job shows this message on its page
    assert err.value.status == 422 and "超过一本汇编可排版的" in err.value.message


def _slow_html() -> str:
    return "<html><body class='brief-doc pdf'>" + "<p>台州市投资促进中心" * 3000 + "</body></html>"


def test_render_time_limit_kills_the_worker_and_the_next_brief_renders(app, db, ref, brief_fonts):
    from tracker.jobs.pool import WorkerPool

    pool = WorkerPool(1)  # one worker: the one that took the slow render is the one we know
    try:
        quick = render.render_pdf(render.DEFAULT_WARM_HTML, font_dir=Path(brief_fonts), timeout=60, pool=pool)
        victim = quick.pid
        assert victim != os.getpid() and victim in pool.pids()
        with pytest.raises(render.RenderTimeout):
            render.render_pdf(_slow_html(), font_dir=Path(brief_fonts), timeout=1, pool=pool)
        # The worker that ran past its limit is killed (by the pool's manager thread, just
        # after the request was answered) and reaped; a fresh one replaces it.
        for _ in range(1200):  # bounded wait, not a timing assertion
            if not Path(f"/proc/{victim}").exists():
                break
            time.sleep(0.05)
        assert not Path(f"/proc/{victim}").exists()
        after = render.render_pdf(render.DEFAULT_WARM_HTML, font_dir=Path(brief_fonts), timeout=60, pool=pool)
        assert after.pages == 1 and after.pid != victim
    finally:
        pool.close()
    # The app's own pool (what requests use) recovers the same way.
    assert service.brief_pdf(make_project()).pages == 1  # (started and warm)
    with pytest.raises(render.RenderTimeout):
        render.render_pdf(_slow_html(), font_dir=Path(brief_fonts), timeout=1)
    assert service.brief_pdf(make_project()).pages == 1


def test_brief_timeout_answers_503_with_a_message(web, db, ref, monkeypatch):
    def too_slow(html, **kw):
        raise render.RenderTimeout("timeout")

    monkeypatch.setattr(service, "render_pdf", too_slow)
    web.login(make_user("manager", ref.city))
    resp = web.get(f"/projects/{make_project().id}/brief.pdf")
    assert resp.status_code == 503
    assert "已停止" in resp.get_data(as_text=True)


def test_busy_pool_answers_503_busy(app, db, ref, brief_fonts):
    """Every worker taken by a long render: a brief waits its time limit, then a clear 503; with
    the waiting room full it is refused at once."""
    from tracker.jobs.pool import WorkerPool

    font_dir = Path(brief_fonts)
    for max_waiting in (4, 0):
        pool = WorkerPool(1, max_waiting=max_waiting)
        try:
            render.render_pdf(render.DEFAULT_WARM_HTML, font_dir=font_dir, timeout=60, pool=pool)
            blocker = pool.schedule(render.render_task, (str(font_dir), _slow_html()), timeout=60)
            for _ in range(1200):  # until the worker has taken it (bounded: a broken test must not hang)
                if blocker.running() or blocker.done():
                    break
                time.sleep(0.05)
            assert blocker.running()
            with pytest.raises(render.RendererBusy):
                render.render_pdf(render.DEFAULT_WARM_HTML, font_dir=font_dir, timeout=0.5, pool=pool)
            assert pool.inflight == (2 if max_waiting else 1)  # refused at once: not even queued
            blocker.cancel()
        finally:
            pool.close()


# --- booklet and order sheet ----------------------------------------------------------------------

def test_booklet_has_cover_summary_contents_briefs_and_page_numbers(app, db, ref, brief_fonts):
    projects = [full_project(ref, name=f"签约项目{i}号{RARE}", investor_name=f"投资公司{i}号")
                for i in range(1, 4)]
    ceremony = make_ceremony(ref, projects)
    text, reader = pdf_text(service.booklet_pdf(ceremony).pdf)
    flat = squash(text)
    pages = len(reader.pages)
    assert pages >= 3 + 3  # cover, summary, contents, one brief each
    for expected in (ceremony.name, "签约项目简介汇编", "签约项目一览表", "序号", "项目名称", "投资方", "协议投资额（亿元）",
                     "产业", "落户地", "合计（3个项目）150", "150亿元", "目录", f"第{pages}页/共{pages}页", "签约项目3/3"):
        assert squash(expected) in flat, expected
    for project in projects:
        assert flat.count(squash(project.name)) >= 3  # summary, contents, its brief
        assert squash(project.investor.name) in flat
    first_brief = squash(reader.pages[pages - 3].extract_text())
    assert squash(projects[0].name) in first_brief  # one brief a page, in signing order


def test_order_sheet_lists_signatories_in_order(app, db, ref, brief_fonts):
    projects = [make_project(name=f"顺序项目{i}") for i in range(3)]
    ceremony = make_ceremony(ref, projects)
    ceremony_ops.move_project(None, ceremony, ceremony_ops.signings_of(ceremony)[2], -1)
    flat = squash(pdf_text(service.order_pdf(ceremony).pdf)[0])
    assert "签约顺序表" in flat and "朱嘉诚2" in flat and "杨立新2" in flat
    assert flat.index("顺序项目0") < flat.index("顺序项目2") < flat.index("顺序项目1")


# --- command line ------------------------------------------------------------------------

def test_cli_writes_project_brief_and_booklet(app, db, ref, brief_fonts, tmp_path, monkeypatch):
    from tracker.jobs import pool

    def no_pool(*a, **kw):
        raise AssertionError("the command line renders in its own process, without a worker pool")

    monkeypatch.setattr(pool, "get_pool", no_pool)
    project = full_project(ref)
    ceremony = make_ceremony(ref, [project])
    runner = app.test_cli_runner()
    out = tmp_path / "brief.pdf"
    result = runner.invoke(args=["briefs", "project", str(project.id), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert squash(project.name) in squash(pdf_text(out.read_bytes())[0])
    out2 = tmp_path / "booklet.pdf"
    result = runner.invoke(args=["briefs", "ceremony", str(ceremony.id), "-o", str(out2)])
    assert result.exit_code == 0, result.output
    assert "签约项目一览表" in squash(pdf_text(out2.read_bytes())[0])
    result = runner.invoke(args=["briefs", "ceremony", str(ceremony.id), "--order", "-o", str(out2)])
    assert result.exit_code == 0 and "签约顺序表" in squash(pdf_text(out2.read_bytes())[0])
    result = runner.invoke(args=["briefs", "project", "999999", "-o", str(out)])
    assert result.exit_code != 0 and "No project" in result.output


def test_system_font_fallback_still_renders_rare_characters(app, db, ref, tmp_path):
    """Without the prepared fonts (set-up not run), the system Noto CJK fonts still render
    every character on the fast path (just bigger files)."""
    renderer = render.Renderer(tmp_path)  # an empty font directory
    assert renderer.files == []
    html = f"<html><body class='brief-doc pdf'><h1 class='title'>{RARE}</h1><p>{RARE}台州</p></body></html>"
    result = renderer.render(html)
    assert result.missing == set() and not result.slow_path
    assert all(ch in pdf_text(result.pdf)[0] for ch in RARE)



def test_warm_up_lays_out_a_sample_brief(app, db, brief_fonts):
    html = service.sample_brief_html()
    assert "台州湾新区智能驾驶域控制器项目" in html
    assert render.warm_up(Path(brief_fonts), html) > 0
    thread = service.start_warm_up(app)
    thread.join(60)
    assert not thread.is_alive()


def test_briefs_are_compressed_at_the_cheaper_zlib_level_and_still_read(app, db, brief_fonts):
    """pydyf's fixed level 9 is swapped for FLATE_LEVEL (render._use_flate_level): the streams
    are still Flate-compressed, and the text reads back."""
    import zlib

    import pydyf

    result = render.get_renderer(Path(brief_fonts)).render(service.sample_brief_html())
    assert isinstance(pydyf.zlib, render._Zlib) and pydyf.zlib.level == render.FLATE_LEVEL
    assert "台州湾新区智能驾驶域控制器项目" in squash(pdf_text(result.pdf)[0])
    # The biggest stream (the embedded font) is as zlib writes it at our level, not at 9.
    streams = [result.pdf[m.end():m.end() + int(m[1])]
               for m in re.finditer(rb"/Filter /FlateDecode/Length (\d+)>>\s*stream\n", result.pdf)]
    font = max(streams, key=len)
    raw = zlib.decompress(font)
    assert font == zlib.compress(raw, render.FLATE_LEVEL) != zlib.compress(raw, 9)


def test_a_booklet_printed_again_is_not_laid_out_again_until_a_project_changes(app, db, ref, brief_fonts,
                                                                              monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "PDF_CACHE_FILES", 2)
    monkeypatch.setitem(app.config, "PDF_CACHE_DIR", str(tmp_path))
    projects = [full_project(ref, name=f"缓存简介项目{i}号", investor_name=f"缓存投资公司{i}号") for i in range(1, 3)]
    ceremony = make_ceremony(ref, projects)
    first = service.booklet_pdf(ceremony)
    again = service.booklet_pdf(ceremony)
    assert first.seconds > 0 and again.seconds == 0.0  # the second from the cache
    assert again.pdf == first.pdf and again.pages == first.pages
    projects[0].name = "缓存简介项目改名"  # a project in it changes: a new booklet
    db.session.flush()
    changed = service.booklet_pdf(ceremony)
    assert changed.seconds > 0 and changed.pdf != first.pdf
    assert "缓存简介项目改名" in squash(pdf_text(changed.pdf)[0])
    service.order_pdf(ceremony)
    assert len(list(tmp_path.glob("*.pdf"))) == 2  # the two most recently used are kept


def test_a_brief_printed_again_comes_from_its_own_shelf(app, db, ref, brief_fonts, monkeypatch, tmp_path):
    """Briefs are kept by their HTML like booklets, on a shelf of their own: printing many
    briefs never pushes a booklet out."""
    monkeypatch.setitem(app.config, "PDF_CACHE_FILES", 1)
    monkeypatch.setitem(app.config, "PDF_BRIEF_CACHE_FILES", 2)
    monkeypatch.setitem(app.config, "PDF_CACHE_DIR", str(tmp_path))
    projects = [full_project(ref, name=f"简介缓存项目{i}号", investor_name=f"简介缓存公司{i}号") for i in range(1, 4)]
    ceremony = make_ceremony(ref, projects[2:])  # not the project renamed below
    assert service.booklet_pdf(ceremony).seconds > 0
    first = service.brief_pdf(projects[0])
    again = service.brief_pdf(projects[0])
    assert first.seconds > 0 and again.seconds == 0.0 and again.pdf == first.pdf
    projects[0].name = "简介缓存项目改名"  # the project changes: a new brief
    db.session.flush()
    changed = service.brief_pdf(projects[0])
    assert changed.seconds > 0 and "简介缓存项目改名" in squash(pdf_text(changed.pdf)[0])
    for project in projects[1:]:
        service.brief_pdf(project)
    assert len(list((tmp_path / "briefs").glob("*.pdf"))) == 2  # the two most recent briefs
    assert len(list(tmp_path.glob("*.pdf"))) == 1
    assert service.booklet_pdf(ceremony).seconds == 0.0  # and the booklet, still kept


def test_a_full_shelf_drops_its_least_recently_used_a_tenth_at_a_time(app, monkeypatch, tmp_path):
    """A full shelf is not read file by file on every store: past its size, the least
    recently used go, down to the size less a tenth."""
    import os

    from tracker.briefs import pdf_cache

    monkeypatch.setitem(app.config, "PDF_BRIEF_CACHE_FILES", 20)
    monkeypatch.setitem(app.config, "PDF_CACHE_DIR", str(tmp_path))
    shelf = tmp_path / "briefs"
    with app.app_context():
        for i in range(20):
            pdf_cache.store(f"k{i:02d}", b"%PDF-" + bytes([i]), 1, "briefs")
            os.utime(shelf / f"k{i:02d}.pdf", (1000 + i, 1000 + i))  # k00 oldest
        os.utime(shelf / "k03.pdf", (5000, 5000))  # printed again lately
        assert len(list(shelf.glob("*.pdf"))) == 20  # full, nothing dropped yet
        pdf_cache.store("k20", b"%PDF-new", 1, "briefs")
        kept = sorted(p.stem for p in shelf.glob("*.pdf"))
        assert len(kept) == 18 and len(list(shelf.glob("*.pages"))) == 18
        assert kept == sorted(["k03", "k20"] + [f"k{i:02d}" for i in range(4, 20)])
        assert pdf_cache.load("k03", "briefs") == (b"%PDF-" + bytes([3]), 1)


def test_a_cache_that_cannot_be_written_costs_only_the_layout(app, db, ref, brief_fonts, monkeypatch, tmp_path):
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("x")  # the cache directory cannot be made
    monkeypatch.setitem(app.config, "PDF_BRIEF_CACHE_FILES", 4)
    monkeypatch.setitem(app.config, "PDF_CACHE_DIR", str(blocked))
    project = full_project(ref, name="缓存不可写项目", investor_name="缓存不可写公司")
    first, again = service.brief_pdf(project), service.brief_pdf(project)
    assert first.pdf.startswith(b"%PDF") and first.seconds > 0 and again.seconds > 0
