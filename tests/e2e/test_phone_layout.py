"""Phone layout (issue 9 item 6): at 390 px the tables keep the columns a reader needs on screen.

On a phone a column pushed past the table's right edge is as good as hidden (the user has to
find the sideways scroll), so "visible" here means: the header cell has a width and its right
edge lies inside the scroll box of its table. The milestone table keeps 早/晚 (where lateness
shows), the project list keeps the amount and the stage, in Chinese and in English, and no
project name column is squeezed to a few characters a line.
"""
from __future__ import annotations

import re
import uuid

import pytest

from tests.e2e.test_browser import TIMEOUT_MS, browser, expect, live_server  # noqa: F401 - fixtures

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}
MIN_NAME_PX = 90  # about six CJK characters of table text plus the cell padding


@pytest.fixture()
def page(browser):  # noqa: F811 - the browser fixture
    context = browser.new_context(viewport=PHONE, locale="zh-CN")
    context.set_default_timeout(TIMEOUT_MS)
    pg = context.new_page()
    try:
        yield pg
    finally:
        context.close()


def _layout(page, table: str) -> dict:
    """Header cells of ``table`` with their width and whether they end inside the scroll box."""
    return page.evaluate("""(sel) => {
        const t = document.querySelector(sel), box = t.closest('.table-wrap').getBoundingClientRect();
        const head = [...t.querySelectorAll('thead th')].map(th => {
            const r = th.getBoundingClientRect();
            return {text: th.textContent.trim(), width: r.width, inside: r.width > 0 && r.right <= box.right + 1};
        });
        const names = [...t.querySelectorAll('tbody td.name')].map(td => td.getBoundingClientRect().width);
        return {head, names};
    }""", table)


def _shown(layout: dict, header: str) -> bool:
    return any(h["inside"] for h in layout["head"] if header in h["text"])


def _create_project(page, live_server) -> str:  # noqa: F811 - the fixture's value
    """Log in as e2e_staff and save a project through the form; returns its page URL."""
    from tests.factories import PASSWORD, uscc

    page.goto(f"{live_server}/login")
    page.fill("input[name='username']", "e2e_staff")
    page.fill("input[name='password']", PASSWORD)
    page.locator("form:has(input[name='password']) button[type='submit']").click()
    expect(page).to_have_url(re.compile(r"/today/$"))
    page.goto(f"{live_server}/projects/new")
    tag = uuid.uuid4().hex[:6].upper()
    page.fill("[name='name']", f"手机布局测试新能源汽车热管理系统项目{tag}")
    page.select_option("[name='industry_id']", label="新能源")
    page.fill("[name='signed_on']", "2024-12-20")
    page.fill("[name='investor_name']", f"浙江手机布局测试新能源科技有限公司{tag}")
    page.fill("[name='investor_uscc']", uscc())
    page.select_option("[name='source_region_id']", label="江苏")
    page.fill("[name='contracted_investment']", "15")
    page.select_option("[name='contracted_investment_unit']", "yi")
    page.get_by_role("button", name="保存").click()
    expect(page).to_have_url(re.compile(r"/projects/\d+$"))
    return page.url


def test_phone_tables_keep_lateness_amount_and_stage_on_screen(live_server, page):  # noqa: F811
    project_url = _create_project(page, live_server)

    for lang in ("zh_CN", "en"):
        if lang == "en":
            page.locator("form.lang button").click()
            expect(page.locator("html")).to_have_attribute("lang", "en")

        page.goto(project_url)
        milestones = _layout(page, "table.milestones")
        assert _shown(milestones, "早/晚" if lang == "zh_CN" else "Early/late"), (lang, milestones)

        page.goto(f"{live_server}/projects/")
        listing = _layout(page, "table.list")
        amount, stage = ("协议投资额", "阶段") if lang == "zh_CN" else ("Contracted investment", "Stage")
        assert _shown(listing, amount), (lang, listing)
        assert _shown(listing, stage), (lang, listing)
        assert listing["names"] and min(listing["names"]) >= MIN_NAME_PX, (lang, listing)
