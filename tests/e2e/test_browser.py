"""End to end in a real headless browser: Playwright for Python driving Debian's Chromium.

The app runs in a thread (werkzeug's server on a free 127.0.0.1 port) with CSRF on, against
its own database built by the migrations: a temporary SQLite file, or on PostgreSQL a
database named ``<test database>_e2e``. A staff user of 黄岩区 logs in through the login
form, creates a project with bad fields, sees the messages beside the fields with the other
values kept, corrects them, saves, and finds the project in the list.

Set E2E_SCREENSHOT_DIR to keep a PNG of each screen.
"""
from __future__ import annotations

import os
import re
import threading
import uuid
from datetime import date
from pathlib import Path

import pytest

from tests.databases import scratch_url

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
TIMEOUT_MS = 15_000

if not os.path.exists(CHROMIUM):
    pytest.skip(f"{CHROMIUM} is missing (Debian package 'chromium'; scripts/setup.sh installs it)",
                allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")
expect = sync_api.expect


@pytest.fixture(scope="module")
def live_server(database_url, tmp_path_factory):
    """Base URL of the app served from a thread; its database holds reference data and one staff user."""
    from flask_migrate import upgrade
    from werkzeug.serving import make_server

    from tests import factories
    from tracker import create_app
    from tracker.extensions import db

    url = scratch_url(database_url, "e2e", tmp_path_factory.mktemp("e2e"))
    app = create_app({
        "SECRET_KEY": "e2e-secret",
        "SQLALCHEMY_DATABASE_URI": url,
        "RATELIMIT_STORAGE_URI": "memory://",
        "UPLOAD_DIR": str(tmp_path_factory.mktemp("e2e-uploads")),
    })
    with app.app_context():
        upgrade()
        ref = factories.reference()
        factories.make_user(role="staff", unit=ref.huangyan, username="e2e_staff",
                            display_name="黄岩招商专员")
        factories.make_user(role="leader", unit=ref.city, username="e2e_leader", display_name="市领导")
        lit = factories.make_project(ref.huangyan, name="无障碍亮灯项目", signed_on=date(2023, 1, 10))
        lit.due_on, lit.red_on = date(2023, 4, 10), date(2023, 7, 10)
        db.session.commit()
        db.session.remove()

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="e2e-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        with app.app_context():
            db.engine.dispose()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    context.set_default_timeout(TIMEOUT_MS)
    pg = context.new_page()
    try:
        yield pg
    finally:
        context.close()


def _shot(page, name: str) -> None:
    folder = os.environ.get("E2E_SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def _field(page, name: str):
    """The .field wrapper holding the input called ``name`` (label, input, hint, errors)."""
    return page.locator(".field").filter(has=page.locator(f"[name='{name}']"))


def test_staff_creates_a_project_after_fixing_bad_input(live_server, page):
    from tests.factories import PASSWORD, uscc

    # Log in through the form.
    page.goto(f"{live_server}/login")
    expect(page.locator("h1")).to_contain_text("台州招商项目全周期管理")
    _shot(page, "01-login")
    page.fill("input[name='username']", "e2e_staff")
    page.fill("input[name='password']", PASSWORD)
    page.locator("form:has(input[name='password']) button[type='submit']").click()
    expect(page).to_have_url(re.compile(r"/today/$"))  # every role lands on its home page
    expect(page.locator(".usermenu")).to_contain_text("黄岩招商专员")
    page.goto(f"{live_server}/projects/")
    _shot(page, "02-list-empty")

    # 新建项目 from the list page.
    page.locator(".page-head").get_by_role("link", name=re.compile("新建项目")).click()
    expect(page).to_have_url(re.compile(r"/projects/new$"))

    tag = uuid.uuid4().hex[:6].upper()
    name = f"浏览器测试固态电池项目{tag}"
    investor = f"浙江测试新能源科技有限公司{tag}"
    content = "年产5GWh固态锂电池，一期用地120亩。"
    page.fill("[name='name']", name)
    page.select_option("[name='industry_id']", label="新能源")
    page.fill("[name='signed_on']", "2024-12-20")
    page.fill("[name='investor_name']", investor)
    page.fill("[name='investor_uscc']", "91331000MA2AXXXXX0")  # wrong check character
    page.select_option("[name='source_region_id']", label="江苏")
    page.fill("[name='contracted_investment']", "-5")
    page.fill("[name='fixed_asset_investment']", "")
    page.fill("[name='content']", content)
    page.get_by_role("button", name="保存").click()

    # Both mistakes are explained beside their fields; everything typed is still there.
    expect(_field(page, "contracted_investment").locator(".error")).to_contain_text("金额不能为负数")
    expect(_field(page, "investor_uscc").locator(".error")).to_contain_text("统一社会信用代码")
    expect(page.locator(".field.has-error")).to_have_count(2)
    expect(page.locator("[name='name']")).to_have_value(name)
    expect(page.locator("[name='investor_name']")).to_have_value(investor)
    expect(page.locator("[name='contracted_investment']")).to_have_value("-5")
    expect(page.locator("[name='signed_on']")).to_have_value("2024-12-20")
    expect(page.locator("[name='content']")).to_have_value(content)
    expect(page.locator("[name='industry_id'] option:checked")).to_have_text("新能源")
    expect(page.locator("[name='source_region_id'] option:checked")).to_have_text("江苏")
    _shot(page, "03-form-errors")

    # Correct both and save.
    page.fill("[name='contracted_investment']", "150000")
    page.fill("[name='investor_uscc']", uscc())
    page.get_by_role("button", name="保存").click()
    expect(page).to_have_url(re.compile(r"/projects/\d+$"))
    expect(page.locator("h1")).to_contain_text(name)
    _shot(page, "04-detail")

    # The list's keyword search finds it by a Chinese substring of its name.
    page.locator("nav.mainnav").get_by_role("link", name="项目").click()
    page.fill("input[name='q']", f"固态电池项目{tag}")
    page.press("input[name='q']", "Enter")
    expect(page).to_have_url(re.compile(r"/projects/\?.*q="))
    rows = page.locator("table.list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(name)
    _shot(page, "05-list-search")


def test_login_page_switches_to_english_and_back(live_server, page):
    page.goto(f"{live_server}/login")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator(".login-box")).to_contain_text("Sign in with the account your office gave you")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    _shot(page, "06-login-en")
    page.get_by_role("button", name="中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("button", name="登录")).to_be_visible()
