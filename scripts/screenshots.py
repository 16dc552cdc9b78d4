"""Take screenshots of pages as a given user (for looking at the UI, not a test).

    .venv/bin/python scripts/screenshots.py --base http://127.0.0.1:5055 --user staff_hy \
        --password taizhou2024 --out screens /projects/ /projects/new

Uses Playwright for Python driving Debian's chromium (/usr/bin/chromium).
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--user")
    ap.add_argument("--password", default="taizhou2024")
    ap.add_argument("--out", default="screens")
    ap.add_argument("--width", type=int, default=1366)
    ap.add_argument("--height", type=int, default=768)
    ap.add_argument("--full", action="store_true", help="full-page screenshots")
    ap.add_argument("--lang", choices=["zh_CN", "en"], default="zh_CN")
    ap.add_argument("paths", nargs="+")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": args.width, "height": args.height})
        if args.user:
            page.goto(args.base + "/login")
            if args.lang == "en":
                page.click("form.lang button")
            page.fill("input[name=username]", args.user)
            page.fill("input[name=password]", args.password)
            page.click("button[type=submit].btn-primary")
            page.wait_for_load_state()
        for path in args.paths:
            page.goto(args.base + path)
            name = re.sub(r"[^A-Za-z0-9]+", "_", path).strip("_") or "root"
            target = out / f"{args.user or 'anon'}_{name}_{args.width}.png"
            page.screenshot(path=str(target), full_page=args.full)
            print(target)
        browser.close()


if __name__ == "__main__":
    main()
