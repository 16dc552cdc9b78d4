"""Walk one demo project of 黄岩区 from 已签约 to 已达产 through the real screens.

    .venv/bin/python scripts/walkthrough.py --base http://127.0.0.1:5077 [--project ID] [--out screens/walk]

Against a running app with the demo data (`flask seed demo`), in headless Chromium (Playwright for
Python driving Debian's /usr/bin/chromium, as scripts/screenshots.py does), like the users would:

- staff_hy finds a project at 已签约 on the list page (filtered by stage) unless --project is given;
- staff_hy requests each next stage on the project's page, filling what the stage requires
  (tracker/workflow/stages.py) — a USCC generated with its GB 32100 check character, registered
  capital, land area and contract number, construction permit number, annual output — and
  uploads a small generated PDF as evidence (twice);
- manager_hy decides: from 待我审批 (/approvals) or from the project page;
- on the way: one typo caught by the form (a USCC with a wrong check character, expected to be
  refused), one rejection with a comment that staff_hy sees in 消息 (/inbox) and re-submits from
  there, and one correction (退回更正: 已开工 → 已供地 with a reason, approved) before moving
  forward again;
- a few screens on a phone (390×844) and a few in English (switched on the login page).

The walk moves its project for good: to run it again, use a fresh demo database (the demo data
of 黄岩区 has one project at 已签约) or pass --project with another 黄岩区 project at 已签约.

Actual dates are spread from the project's signing date to today (Asia/Shanghai), never
decreasing. Every screen visited is saved as a full-page PNG, numbered and named for the step
(NN-who-what.png), into --out (default screens/walk under the repository; PNGs of an earlier run
there are removed first). 1366×768 unless the name says "phone".

Every step checks that it landed (HTTP status of the page, no error flash or field error,
expected URL, flash text, stage badge, milestone dates). The first step that does not land stops
the walk: a screenshot named NN-FAILED-….png, a message on stderr and exit status 1.
"""
from __future__ import annotations

import argparse
import re
import secrets
import sys
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from playwright.sync_api import Browser, BrowserContext, Locator, Page, sync_playwright
from playwright.sync_api import Error as PlaywrightError

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
PASSWORD = "taizhou2024"
STAFF, MANAGER = "staff_hy", "manager_hy"
UNIT = "黄岩区"
AREA_CODE = "331003"  # 黄岩区 administrative division code (positions 3–8 of a USCC)
TZ = ZoneInfo("Asia/Shanghai")

LABELS = {
    "signed": "已签约", "registered": "已注册", "land_secured": "已供地", "construction": "已开工",
    "completed": "已竣工", "production": "已投产", "full_capacity": "已达产",
}
ROOT = Path(__file__).resolve().parent.parent


class StepFailed(Exception):
    """A step did not land where it should have."""


# --- Test data -------------------------------------------------------------------------------

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # GB 32100-2015: no I, O, S, V, Z


def uscc_check_char(first17: str) -> str:
    """The 18th character: weights 3^i mod 31, check = (31 - Σ mod 31) mod 31."""
    total = sum(USCC_ALPHABET.index(c) * pow(3, i, 31) for i, c in enumerate(first17))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def make_uscc() -> str:
    """A fresh enterprise code of 黄岩区: 9 (工商) 1 (企业) + area + MA + 7 random + check char."""
    body = "91" + AREA_CODE + "MA" + "".join(secrets.choice(USCC_ALPHABET) for _ in range(7))
    return body + uscc_check_char(body)


def wrong_check(code: str) -> str:
    """The same code with a different (wrong) check character."""
    right = USCC_ALPHABET.index(code[-1])
    return code[:-1] + USCC_ALPHABET[(right + 7) % len(USCC_ALPHABET)]


def tiny_pdf(lines: list[str]) -> bytes:
    """A valid one-page A4 PDF (Helvetica, ASCII text) of a few hundred bytes."""
    def esc(s: str) -> str:
        return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    text = "BT /F1 14 Tf 72 770 Td 18 TL " + " ".join(f"({esc(line)}) Tj T*" for line in lines) + " ET"
    content = text.encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> "
        b"/Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def cn_date(d: date) -> str:
    """How the app shows a date in Chinese (tracker/core/formatting.py cn_date)."""
    return f"{d.year}年{d.month}月{d.day}日"


def parse_cn_date(text: str) -> date:
    m = re.search(r"(\d{4})年(\d{1,2})月(\d{1,2})日", text) or re.search(r"(\d{4})-(\d{2})-(\d{2})", text)
    if not m:
        raise StepFailed(f"cannot read a date from {text!r}")
    return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))


def spread_dates(start: date, end: date, count: int) -> list[date]:
    """``count`` non-decreasing dates after ``start`` up to ``end`` (equal when the span is short)."""
    span = (end - start).days
    return [start + timedelta(days=round(span * i / count)) for i in range(1, count + 1)]


# --- The walk --------------------------------------------------------------------------------


class Walk:
    def __init__(self, browser: Browser, base: str, out: Path, timeout_ms: int):
        self.browser = browser
        self.base = base.rstrip("/")
        self.out = out
        self.timeout_ms = timeout_ms
        self.n = 0
        self.step_name = "start"
        self.current: Page | None = None  # the page of the step running now (for the FAILED shot)
        self.warnings: list[str] = []
        self._seen: set[str] = set()
        self.project_id: int | None = None
        self.project_name = ""

    # -- browser contexts ------------------------------------------------------------------

    def new_page(self, phone: bool = False) -> Page:
        if phone:
            ctx: BrowserContext = self.browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True,
                                                           has_touch=True, locale="zh-CN")
        else:
            ctx = self.browser.new_context(viewport=DESKTOP, locale="zh-CN")
        ctx.set_default_timeout(self.timeout_ms)
        ctx.set_default_navigation_timeout(self.timeout_ms * 2)
        page = ctx.new_page()
        page.on("dialog", lambda d: d.accept())  # data-confirm buttons
        # (failed loads are reported by _watch, with their URL; navigations are checked per step)
        page.on("console", lambda m: m.type == "error" and not m.text.startswith("Failed to load resource")
                and self.warn(f"console error: {m.text}"))
        page.on("response", lambda r: self._watch(r))
        return page

    def _watch(self, response) -> None:
        if response.status >= 400 and not response.request.is_navigation_request():
            self.warn(f"{response.status} {response.request.method} {response.url}")

    def warn(self, message: str) -> None:
        """Noted once (with the first step it happened in) and printed at the end; not fatal."""
        if message not in self._seen:
            self._seen.add(message)
            self.warnings.append(f"[{self.step_name}] {message}")

    # -- screenshots and checks ------------------------------------------------------------

    def shot(self, page: Page, name: str) -> Path:
        self.n += 1
        target = self.out / f"{self.n:02d}-{name}.png"
        page.screenshot(path=str(target), full_page=True)
        print(f"    {target.name}")
        return target

    def step(self, name: str, page: Page) -> None:
        self.step_name = name
        self.current = page
        print(f"[{self.n + 1:02d}] {name}")

    @staticmethod
    def problems(page: Page) -> list[str]:
        """Error flashes, field errors and the problem page (409/403) shown on the page."""
        found = []
        for sel in (".flash-error", ".flash-warning", ".field.has-error", ".f.has-error", "[role=alert]"):
            for el in page.locator(sel).all():
                text = " ".join(el.inner_text().split())
                if text and text not in found:
                    found.append(text)
        return found

    def check_page(self, page: Page, response, what: str, url: str | None = None,
                   allow_errors: bool = False) -> None:
        status = response.status if response is not None else None
        issues = [] if allow_errors else self.problems(page)
        if status is not None and status >= 400 and not allow_errors:
            issues.insert(0, f"HTTP {status}")
        if url is not None and not re.search(url, page.url):
            issues.append(f"landed on {page.url}, expected {url}")
        if issues:
            raise StepFailed(f"{what}: " + " | ".join(issues))

    def goto(self, page: Page, path: str, what: str, url: str | None = None) -> None:
        response = page.goto(self.base + path)
        self.check_page(page, response, what, url)

    def act(self, page: Page, what: str, do: Callable[[], None], *, url: str | None = None,
            flash: str | None = None, allow_errors: bool = False):
        """Do something that navigates (click a link, submit a form) and check where it landed."""
        with page.expect_navigation() as nav:
            do()
        response = nav.value
        page.wait_for_load_state()
        self.check_page(page, response, what, url, allow_errors)
        if flash is not None:
            texts = [" ".join(t.split()) for t in page.locator(".flash-success, .flash-info").all_inner_texts()]
            if not any(flash in t for t in texts):
                raise StepFailed(f"{what}: expected a confirmation containing {flash!r}, got {texts or 'none'}")
        return response

    def expect_text(self, locator: Locator, text: str, what: str) -> None:
        try:
            locator.first.wait_for(state="attached", timeout=self.timeout_ms)
            content = " ".join(locator.first.inner_text().split())
        except PlaywrightError:
            raise StepFailed(f"{what}: element not found") from None
        if text not in content:
            raise StepFailed(f"{what}: expected {text!r}, found {content[:200]!r}")

    def project_url(self) -> str:
        return rf"/projects/{self.project_id}(#.*)?$"

    def check_stage(self, page: Page, code: str, what: str) -> None:
        """The badge under the title and the stepper both say ``code``."""
        badge = " ".join(page.locator(".page-head .sub .badge").first.inner_text().split())
        if badge != LABELS[code]:
            raise StepFailed(f"{what}: project is at {badge!r}, expected {LABELS[code]!r}")
        current = page.locator("ol.stepper li[aria-current=step]")
        if current.count() != 1 or current.inner_text().strip() != LABELS[code]:
            raise StepFailed(f"{what}: stepper shows {current.all_inner_texts()}, expected {LABELS[code]!r}")

    def milestone_actual(self, page: Page, code: str) -> str:
        row = page.locator("table.milestones tbody tr").filter(
            has=page.locator("th", has_text=re.compile(f"^{LABELS[code]}$")))
        if row.count() != 1:
            raise StepFailed(f"milestone row {LABELS[code]} not found")
        return row.locator("td").nth(1).inner_text().strip()

    def check_milestone(self, page: Page, code: str, expected: date | None, what: str) -> None:
        shown = self.milestone_actual(page, code)
        want = cn_date(expected) if expected else "—"
        if shown != want:
            raise StepFailed(f"{what}: {LABELS[code]} actual date shows {shown!r}, expected {want!r}")

    # -- the users' actions ----------------------------------------------------------------

    def login(self, page: Page, user: str, prefix: str, english: bool = False) -> None:
        """Log in through the form (optionally switching to English first); shots of both screens."""
        self.step(f"{user}: log in" + (" (English)" if english else ""), page)
        self.goto(page, "/login", "login page", r"/login")
        if english:
            self.act(page, "switch to English", lambda: page.click("form.lang button"), url=r"/login")
            if page.locator("html").get_attribute("lang") != "en":
                raise StepFailed("the language switch did not switch the login page to English")
        self.shot(page, f"{prefix}-login")
        page.fill("input[name=username]", user)
        page.fill("input[name=password]", PASSWORD)
        self.act(page, f"log in as {user}",
                 lambda: page.locator("form:has(input[name=password]) button[type=submit]").click(),
                 url=r"/today/")  # every role lands on its 今日 page (tracker.home)
        if page.locator(".usermenu").count() != 1:
            raise StepFailed(f"log in as {user}: no user menu after logging in")
        self.shot(page, f"{prefix}-home")

    def open_project(self, page: Page, who: str, shot_name: str, code: str | None = None) -> None:
        self.step(f"{who}: open the project page", page)
        self.goto(page, f"/projects/{self.project_id}", "project page", self.project_url())
        if code:
            self.check_stage(page, code, "project page")
        self.shot(page, shot_name)

    def choose_project(self, page: Page, wanted: int | None) -> date:
        """On the list, filter by 已签约 and pick a 黄岩区 project without a pending request."""
        self.step("staff_hy: list filtered by stage 已签约", page)
        self.goto(page, "/projects/", "project list", r"/projects/")
        self.act(page, "filter by stage", lambda: page.select_option("#stage", "signed"), url=r"stage=signed")
        if page.locator("#stage").input_value() != "signed":
            raise StepFailed("the stage filter did not stay on 已签约")
        self.shot(page, "staff-list-filtered-signed")
        rows = page.locator("table.list tbody tr")
        candidates: list[tuple[int, str]] = []
        for row in rows.all():
            link = row.locator("td.name > a").first
            href = link.get_attribute("href") or ""
            m = re.search(r"/projects/(\d+)$", href)
            badge = row.locator(".badge").first.inner_text().strip()
            if m and badge == LABELS["signed"] and UNIT in row.inner_text():
                candidates.append((int(m.group(1)), link.inner_text().strip()))
        if wanted is not None:
            candidates = [c for c in candidates if c[0] == wanted] or [(wanted, "")]
        if not candidates:
            raise StepFailed(f"no project of {UNIT} at 已签约 on the list page (is the demo data loaded?)")
        for pid, _name in candidates:
            self.project_id = pid
            self.step(f"staff_hy: open project {pid}", page)
            if _name:
                self.act(page, "open the project from the list",
                         lambda n=_name: page.locator("table.list td.name > a", has_text=n).first.click(),
                         url=self.project_url())
            else:
                self.goto(page, f"/projects/{pid}", f"project {pid}", self.project_url())
            crumbs = page.locator(".crumbs").inner_text()
            if UNIT not in crumbs:
                raise StepFailed(f"project {pid} is not a project of {UNIT} ({crumbs!r})")
            self.check_stage(page, "signed", f"project {pid}")
            if page.locator("#stage .pending-box").count():
                if wanted is not None:
                    raise StepFailed(f"project {pid} already has a pending stage request; withdraw or decide it first")
                print(f"    project {pid} has a pending request; trying the next one")
                continue
            self.project_name = page.locator(".page-head h1").inner_text().strip()
            signed_dd = page.locator("dl.facts dt", has_text=re.compile("^签约日期$")).first.locator("xpath=following-sibling::dd[1]")
            signed_on = parse_cn_date(signed_dd.inner_text())
            self.shot(page, "staff-project-signed")
            print(f"    project {pid} {self.project_name}, signed {signed_on}")
            return signed_on
        raise StepFailed("every 已签约 project of the list has a pending request")

    def request(self, page: Page, who: str, to: str, when: date, values: dict[str, str], *, via: str,
                shot_prefix: str, comment: str = "", reason: str = "", files: list[dict] | None = None,
                back: bool = False) -> None:
        """Open the request form (by ``via``), fill it, submit it, check the pending box."""
        self.step(f"{who}: request → {LABELS[to]}" + (" (退回更正)" if back else ""), page)
        if via == "header":  # 申请变更阶段 in the page head: the form opens on the next stage
            self.act(page, "open the request form",
                     lambda: page.locator(".page-head .actions a", has_text="申请变更阶段").click(),
                     url=rf"/projects/{self.project_id}/stage-request")
        elif via == "panel":  # a stage button in the panel's 申请变更阶段 list
            group = "退回更正" if back else "推进"
            dd = page.locator("#stage dl.moves dt", has_text=re.compile(f"^{group}$")).locator(
                "xpath=following-sibling::dd[1]")
            self.act(page, f"open the request form from the panel ({group})",
                     lambda: dd.get_by_role("link", name=LABELS[to], exact=True).click(),
                     url=rf"/projects/{self.project_id}/stage-request\?to={to}")
        # via == "here": already on the form (e.g. from 消息 → 修改后重新申请)
        hidden = page.locator("form[method=post] input[name=to_stage]")
        if hidden.count() != 1 or hidden.input_value() != to:
            shown = hidden.input_value() if hidden.count() == 1 else f"{hidden.count()} fields"
            raise StepFailed(f"the request form is not for {LABELS[to]} (to_stage: {shown})")
        self.expect_text(page.locator(".move-explain"), LABELS[to], "request form target")
        self.shot(page, f"{shot_prefix}-form")
        page.fill("input[name=actual_date]", when.isoformat())
        for name, value in values.items():
            page.fill(f"[name={name}]", value)
        if reason:
            page.fill("textarea[name=reason]", reason)
        if comment:
            page.fill("textarea[name=comment]", comment)
        if files:
            page.set_input_files("input[name=attachments]", files)
        self.shot(page, f"{shot_prefix}-filled")
        self.act(page, f"submit the request → {LABELS[to]}",
                 lambda: page.locator("form[method=post]").get_by_role("button", name="提交申请").click(),
                 url=self.project_url(), flash="已提交")
        self.expect_text(page.locator("#stage .pending-box h3"), LABELS[to], "pending request on the project page")
        for f in files or []:
            self.expect_text(page.locator("#stage .pending-box ul.files"), f["name"], "uploaded evidence listed")
        self.shot(page, f"{shot_prefix}-submitted")

    def decide_in_queue(self, page: Page, verdict: str, comment: str, shot_prefix: str) -> None:
        self.step(f"manager_hy: {verdict} in 待我审批", page)
        self.act(page, "open 待我审批", lambda: page.locator("nav.mainnav a", has_text="待我审批").click(),
                 url=r"/approvals")
        card = page.locator("li.request-card").filter(
            has=page.get_by_role("link", name=self.project_name, exact=True))
        if card.count() != 1:
            raise StepFailed(f"待我审批 lists {card.count()} requests of {self.project_name}, expected 1")
        self.shot(page, f"{shot_prefix}-queue")
        card.locator("textarea[name=comment]").fill(comment)
        button = "批准" if verdict == "approve" else "驳回"
        self.act(page, f"{button} in the queue", lambda: card.get_by_role("button", name=button, exact=True).click(),
                 url=r"/approvals", flash="已批准" if verdict == "approve" else "已驳回")
        self.shot(page, f"{shot_prefix}-done")

    def decide_on_project(self, page: Page, verdict: str, comment: str, shot_prefix: str) -> None:
        self.step(f"manager_hy: {verdict} on the project page", page)
        self.goto(page, f"/projects/{self.project_id}", "project page", self.project_url())
        form = page.locator("#stage .pending-box form.decide")
        if form.count() != 1:
            raise StepFailed("no decision form on the project page for the manager")
        self.shot(page, f"{shot_prefix}-pending")
        form.locator("textarea[name=comment]").fill(comment)
        button = "批准" if verdict == "approve" else "驳回"
        self.act(page, f"{button} on the project page",
                 lambda: form.get_by_role("button", name=button, exact=True).click(),
                 url=self.project_url(), flash="已批准" if verdict == "approve" else "已驳回")
        self.shot(page, f"{shot_prefix}-done")

    def verify(self, page: Page, who: str, code: str, milestones: dict[str, date | None], shot_name: str) -> None:
        """The project page (opened unless a decision just landed there): stage, stepper, milestone dates."""
        self.step(f"{who}: check the project page", page)
        fresh = not re.search(self.project_url(), page.url)
        if fresh:
            self.goto(page, f"/projects/{self.project_id}", "project page", self.project_url())
        self.check_stage(page, code, f"after → {LABELS[code]}")
        for stage, when in milestones.items():
            self.check_milestone(page, stage, when, f"after → {LABELS[code]}")
        if page.locator("#stage .pending-box").count():
            raise StepFailed(f"after → {LABELS[code]}: a request is still pending")
        if fresh:
            self.shot(page, shot_name)


def run(args) -> int:
    out = Path(args.out)
    if not out.is_absolute():
        out = ROOT / out
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("[0-9][0-9]-*.png"):
        old.unlink()
    print(f"walkthrough against {args.base}, screenshots in {out}")
    uscc = make_uscc()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        walk = Walk(browser, args.base, out, args.timeout * 1000)
        try:
            staff = walk.new_page()
            walk.login(staff, STAFF, "staff")
            signed_on = walk.choose_project(staff, args.project)
            today = datetime.now(TZ).date()
            if signed_on > today:
                raise StepFailed(f"the project's signing date {signed_on} is in the future")
            d = spread_dates(signed_on, today, 8)
            print(f"    actual dates: {', '.join(x.isoformat() for x in d)}")
            manager = walk.new_page()
            walk.login(manager, MANAGER, "manager")
            ms: dict[str, date | None] = {"signed": signed_on}

            # 1. 已注册 — first a typo in the USCC (expected to be refused), then a request the
            #    manager rejects, which staff sees in 消息 and re-submits with the evidence.
            walk.step("staff_hy: request → 已注册 with a wrong USCC check character (expected refusal)", staff)
            walk.act(staff, "open the request form",
                     lambda: staff.locator(".page-head .actions a", has_text="申请变更阶段").click(),
                     url=rf"/projects/{walk.project_id}/stage-request")
            walk.shot(staff, "staff-registered-form")
            staff.fill("input[name=actual_date]", d[0].isoformat())
            staff.fill("[name=company_uscc]", wrong_check(uscc))
            staff.fill("[name=registered_capital]", "22500")
            response = walk.act(staff, "submit with a wrong USCC",
                                lambda: staff.get_by_role("button", name="提交申请").click(),
                                url=rf"/projects/{walk.project_id}/stage-request", allow_errors=True)
            error = staff.locator(".field.has-error").filter(has=staff.locator("[name=company_uscc]"))
            if response is None or response.status != 422 or error.count() != 1:
                raise StepFailed("a USCC with a wrong check character was not refused beside its field")
            walk.expect_text(error.locator(".error"), "统一社会信用代码校验位不正确", "USCC error message")
            if staff.locator("[name=registered_capital]").input_value() != "22500":
                raise StepFailed("the form lost the registered capital after the refusal")
            walk.shot(staff, "staff-registered-uscc-refused")
            staff.fill("[name=company_uscc]", uscc)
            staff.fill("[name=registered_capital]", "22500")
            staff.fill("textarea[name=comment]", "项目公司已完成工商注册，营业执照扫描件后补。")
            walk.shot(staff, "staff-registered-corrected")
            walk.act(staff, "submit the corrected request",
                     lambda: staff.get_by_role("button", name="提交申请").click(),
                     url=walk.project_url(), flash="已提交")
            walk.expect_text(staff.locator("#stage .pending-box h3"), LABELS["registered"], "pending request")
            walk.shot(staff, "staff-registered-submitted")

            reject_comment = "请上传营业执照扫描件；注册资本请按营业执照核对（执照为 25000 万元）。"
            walk.decide_in_queue(manager, "reject", reject_comment, "manager-registered-reject")
            walk.open_project(manager, "manager_hy", "manager-registered-after-reject", "signed")

            walk.step("staff_hy: sees the rejection in 消息", staff)
            walk.act(staff, "open 消息", lambda: staff.locator("nav.mainnav a", has_text="消息").click(), url=r"/inbox")
            note = staff.locator("li.note").filter(
                has=staff.get_by_role("link", name=walk.project_name, exact=True)).filter(has_text="已驳回").first
            walk.expect_text(note.locator("blockquote"), reject_comment, "rejection comment in 消息")
            walk.shot(staff, "staff-inbox-rejected")
            walk.act(staff, "修改后重新申请", lambda: note.get_by_role("link", name="修改后重新申请").click(),
                     url=rf"/projects/{walk.project_id}/stage-request\?to=registered")
            licence = {"name": "营业执照扫描件.pdf", "mimeType": "application/pdf",
                       "buffer": tiny_pdf(["Business licence (demo scan)", f"USCC {uscc}",
                                           "Registered capital 25000 (10k CNY)", "Generated by scripts/walkthrough.py"])}
            walk.request(staff, "staff_hy", "registered", d[0], {"company_uscc": uscc, "registered_capital": "25000"},
                         via="here", shot_prefix="staff-registered-resubmit", files=[licence],
                         comment="已按意见补充营业执照扫描件，注册资本更正为 25000 万元。")
            walk.decide_in_queue(manager, "approve", "同意。", "manager-registered-approve")
            ms["registered"] = d[0]
            walk.verify(manager, "manager_hy", "registered", ms, "manager-project-registered")

            # 2. 已供地 — from the panel's stage button; the manager decides on the project page.
            walk.open_project(staff, "staff_hy", "staff-project-registered", "registered")
            walk.request(staff, "staff_hy", "land_secured", d[1],
                         {"land_area_mu": "96.5", "land_certificate_no": "浙（2026）台州市黄岩区不动产权第0031562号"},
                         via="panel", shot_prefix="staff-land")
            walk.decide_on_project(manager, "approve", "", "manager-land-approve")
            ms["land_secured"] = d[1]
            walk.verify(manager, "manager_hy", "land_secured", ms, "manager-project-land")

            # 3. 已开工 on a phone (staff and manager), with a wrong permit number …
            staff_phone = walk.new_page(phone=True)
            walk.login(staff_phone, STAFF, "phone-staff")
            walk.open_project(staff_phone, "staff_hy (phone)", "phone-staff-project-land", "land_secured")
            walk.request(staff_phone, "staff_hy (phone)", "construction", d[2],
                         {"construction_permit_no": "331003202610150101"}, via="header",
                         shot_prefix="phone-staff-construction")
            manager_phone = walk.new_page(phone=True)
            walk.login(manager_phone, MANAGER, "phone-manager")
            walk.decide_in_queue(manager_phone, "approve", "", "phone-manager-construction-approve")
            ms["construction"] = d[2]
            walk.verify(manager_phone, "manager_hy (phone)", "construction", ms, "phone-manager-project-construction")

            # 4. … so staff asks for a correction back to 已供地 (reason required), approved …
            walk.open_project(staff, "staff_hy", "staff-project-construction", "construction")
            walk.request(staff, "staff_hy", "land_secured", d[3], {}, via="panel", back=True,
                         shot_prefix="staff-correction",
                         reason="施工许可证号及开工日期填报有误：项目实际尚未取得施工许可，申请退回“已供地”更正。")
            walk.decide_in_queue(manager, "approve", "同意退回更正，取得施工许可后重新申报。", "manager-correction-approve")
            ms["construction"] = None  # the correction clears the later actual dates
            walk.verify(manager, "manager_hy", "land_secured", ms, "manager-project-corrected")
            if walk.milestone_actual(manager, "land_secured") != cn_date(d[1]):
                raise StepFailed("the correction changed the 已供地 actual date")

            # 5. … and forward again with the right permit number and its scan.
            walk.open_project(staff, "staff_hy", "staff-project-corrected", "land_secured")
            permit = {"name": "施工许可证.pdf", "mimeType": "application/pdf",
                      "buffer": tiny_pdf(["Construction permit (demo scan)", "No. 331003202611020201",
                                          "Generated by scripts/walkthrough.py"])}
            walk.request(staff, "staff_hy", "construction", d[4], {"construction_permit_no": "331003202611020201"},
                         via="header", shot_prefix="staff-construction-again", files=[permit],
                         comment="已取得施工许可证，附扫描件。")
            walk.decide_on_project(manager, "approve", "同意。", "manager-construction-approve")
            ms["construction"] = d[4]
            walk.verify(manager, "manager_hy", "construction", ms, "manager-project-construction")

            # 6. 已竣工, 已投产 (nothing required but the date), 已达产 (annual output).
            for code, when, values, via in (
                ("completed", d[5], {}, "header"),
                ("production", d[6], {}, "panel"),
                ("full_capacity", d[7], {"annual_output": "186000"}, "header"),
            ):
                walk.open_project(staff, "staff_hy", f"staff-project-before-{code}")
                walk.request(staff, "staff_hy", code, when, values, via=via, shot_prefix=f"staff-{code}")
                if code == "production":
                    walk.decide_on_project(manager, "approve", "", f"manager-{code}-approve")
                else:
                    walk.decide_in_queue(manager, "approve", "", f"manager-{code}-approve")
                ms[code] = when
                walk.verify(manager, "manager_hy", code, ms, f"manager-project-{code}")

            # The end: every step done, the whole timeline on the page; staff's 消息.
            walk.open_project(staff, "staff_hy", "staff-project-full-capacity", "full_capacity")
            done = staff.locator("ol.stepper li.step-done").count()
            if done != len(LABELS) - 1:
                raise StepFailed(f"the stepper shows {done} stages done, expected {len(LABELS) - 1}")
            walk.step("staff_hy: 消息 after all decisions", staff)
            walk.act(staff, "open 消息", lambda: staff.locator("nav.mainnav a", has_text="消息").click(), url=r"/inbox")
            walk.shot(staff, "staff-inbox-all")
            if staff.get_by_role("button", name="全部标为已读").count():
                walk.act(staff, "全部标为已读", lambda: staff.get_by_role("button", name="全部标为已读").click(),
                         url=r"/inbox", flash="标为已读")
                walk.shot(staff, "staff-inbox-read")
            walk.step("staff_hy (phone): 消息 and the project", staff_phone)
            walk.goto(staff_phone, "/inbox", "消息 on the phone", r"/inbox")
            walk.shot(staff_phone, "phone-staff-inbox")
            walk.open_project(staff_phone, "staff_hy (phone)", "phone-staff-project-full-capacity", "full_capacity")

            # English: switched on the login page, then the project page and the queue.
            english = walk.new_page()
            walk.login(english, MANAGER, "en-manager", english=True)
            walk.step("manager_hy (English): project page", english)
            walk.goto(english, f"/projects/{walk.project_id}", "project page in English", walk.project_url())
            if english.locator("html").get_attribute("lang") != "en":
                raise StepFailed("the project page is not in English after switching on the login page")
            walk.shot(english, "en-project-full-capacity")
            walk.goto(english, "/approvals", "approvals in English", r"/approvals")
            walk.shot(english, "en-approvals")
        except StepFailed as err:
            return walk_failed(walk, str(err))
        except PlaywrightError as err:
            return walk_failed(walk, f"browser: {err.message if hasattr(err, 'message') else err}")
        finally:
            browser.close()
    for w in walk.warnings:
        print(f"warning: {w}")
    print(f"OK: project {walk.project_id} {walk.project_name} walked 已签约 → 已达产; {walk.n} screenshots in {out}")
    return 0


def walk_failed(walk: Walk, message: str) -> int:
    if walk.current is not None:
        try:
            walk.shot(walk.current, "FAILED-" + re.sub(r"[^A-Za-z0-9]+", "-", walk.step_name).strip("-")[:60])
        except PlaywrightError:
            pass
        print(f"    at {walk.current.url}", file=sys.stderr)
    for w in walk.warnings:
        print(f"warning: {w}", file=sys.stderr)
    print(f"WALKTHROUGH FAILED at step {walk.step_name!r}: {message}", file=sys.stderr)
    return 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", required=True, help="URL of the running app, e.g. http://127.0.0.1:5077")
    ap.add_argument("--project", type=int, help="id of a 黄岩区 project at 已签约 (default: the first on the list)")
    ap.add_argument("--out", default="screens/walk", help="folder for the PNGs (relative: to the repository)")
    ap.add_argument("--timeout", type=int, default=20, help="seconds to wait for an element or a page")
    sys.exit(run(ap.parse_args()))


if __name__ == "__main__":
    main()
