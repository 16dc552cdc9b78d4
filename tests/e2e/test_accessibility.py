"""Accessibility of the key screens: axe-core (npm, installed by scripts/setup.sh into .tools/)
injected with Playwright into each page, desktop and phone width. No serious or critical
violation may appear — on the pages as they are first shown and with form errors showing.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e.test_browser import TIMEOUT_MS, _field, browser, live_server  # noqa: F401 - fixtures

pytestmark = pytest.mark.e2e

AXE = next(iter(sorted(Path(__file__).resolve().parents[2].glob(".tools/axe-core-*/node_modules/axe-core/axe.min.js"))),
           None)
if AXE is None:
    pytest.skip("axe-core is not installed (scripts/setup.sh installs it with npm)", allow_module_level=True)

BLOCKING = ("serious", "critical")


@pytest.fixture()
def page(browser):  # noqa: F811 - the browser fixture
    # bypass_csp: axe is injected as a script the app's CSP (rightly) would refuse.
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN", bypass_csp=True)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def _violations(page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                       nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
    }""")
    return [f"{v['impact']} {v['id']}: {v['help']} at {v['nodes']}" for v in result if v["impact"] in BLOCKING]


def _check(page, url: str | None = None) -> list[str]:
    if url:
        page.goto(url)
    return [f"{page.url}: {v}" for v in _violations(page)]


def test_key_screens_have_no_serious_violations(live_server, page):  # noqa: F811 - fixtures
    from tests.factories import PASSWORD

    problems = _check(page, f"{live_server}/login")
    page.fill("input[name='username']", "e2e_staff")
    page.fill("input[name='password']", PASSWORD)
    page.locator("form:has(input[name='password']) button[type='submit']").click()
    page.wait_for_url(re.compile(r"/today/$"))

    for path in ("/today/", "/projects/", "/projects/new", "/investors/", "/investors/new", "/ceremonies/", "/inbox"):
        problems += _check(page, f"{live_server}{path}")

    # A form showing its errors (messages beside fields must stay readable and labelled).
    page.goto(f"{live_server}/projects/new")
    page.fill("[name='name']", "无障碍检查项目")
    page.fill("[name='contracted_investment']", "-5")
    page.get_by_role("button", name="保存").click()
    _field(page, "contracted_investment").locator(".error").wait_for()
    problems += _check(page)

    # A project page, and the same screens at phone width.
    page.fill("[name='contracted_investment']", "150000")
    page.fill("[name='investor_name']", "无障碍检查科技有限公司")
    page.select_option("[name='source_region_id']", index=1)
    page.select_option("[name='industry_id']", index=1)
    page.fill("[name='signed_on']", "2024-12-20")
    page.get_by_role("button", name="保存").click()
    page.wait_for_url(re.compile(r"/projects/\d+$"))
    project_url = page.url
    problems += _check(page)
    page.set_viewport_size({"width": 390, "height": 844})
    for url in (project_url, f"{live_server}/projects/", f"{live_server}/projects/new"):
        problems += _check(page, url)
    assert problems == [], "\n".join(problems)


def test_leaders_screens_have_no_serious_violations(live_server, page):  # noqa: F811 - fixtures
    """Today, the dashboard, targets, the 通报 form and the lit list, desktop and phone."""
    from tests.factories import PASSWORD

    page.goto(f"{live_server}/login")
    page.fill("input[name='username']", "e2e_leader")
    page.fill("input[name='password']", PASSWORD)
    page.locator("form:has(input[name='password']) button[type='submit']").click()
    page.wait_for_url(re.compile(r"/today/$"))
    paths = ("/today/", "/reports/?year=2023", "/targets/?year=2023", "/reports/bulletin/",
             "/projects/?lit=any&sort=late")
    problems = []
    for width in (1366, 390):
        page.set_viewport_size({"width": width, "height": 844})
        for path in paths:
            problems += _check(page, f"{live_server}{path}")
    assert problems == [], "\n".join(problems)
