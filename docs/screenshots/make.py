"""Regenerate the playground screenshots in this folder (shown in the README).

    python docs/screenshots/make.py

Starts ``ruleengine serve`` on a free loopback port and drives Debian's chromium
(``apt-get install chromium fonts-noto-cjk``) with Playwright: nothing is downloaded.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect, sync_playwright

HERE = Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--lang=zh-CN",
    "--hide-scrollbars",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def fresh(page: Page, url: str, example: str) -> None:
    page.goto(f"{url}/?example={example}")
    page.wait_for_selector("body[data-ready=true]")
    expect(page.locator("body")).to_have_attribute("data-state", "ok")


def shoot(page: Page, url: str) -> list[Path]:
    made: list[Path] = []

    def save(name: str, target: Page | object | None = None) -> None:
        path = HERE / name
        (target or page).screenshot(path=str(path))  # type: ignore[attr-defined]
        made.append(path)

    # 1. the decision: an approved last-minute return, then signed a day earlier → past the window
    fresh(page, url, "seven-day-return-last-minute-approved")
    page.get_by_test_id("field-logistics.signed_at").fill("2026-11-10T15:20:00")
    expect(page.get_by_test_id("claim-outcome-current")).to_have_text("驳回 rejected")
    page.locator("body").click(position={"x": 5, "y": 400})  # no focus ring in the picture
    save("playground-decision.png")
    group = page.get_by_test_id("group-seven_day_return")
    group.scroll_into_view_if_needed()
    save("playground-explanation.png", group)

    # 2. what-if: the late return with a 15-day window
    fresh(page, url, "seven-day-return-late-rejected")
    page.get_by_test_id("param-filter").fill("seven_day_window")
    page.get_by_test_id("param-input-seven_day_window_days").fill("15")
    page.get_by_test_id("apply-whatif").click()
    expect(page.get_by_test_id("claim-outcome-changed")).to_have_text("批准 approved")
    pane = page.locator(".decision-pane")
    save("playground-what-if.png", pane)

    # 3. a schema error next to its field
    fresh(page, url, "seven-day-return-last-minute-approved")
    page.get_by_test_id("field-items.0.quantity").fill("0")
    expect(page.get_by_test_id("field-items.0.quantity-error")).not_to_be_empty()
    page.get_by_test_id("section-items").scroll_into_view_if_needed()
    page.evaluate("window.scrollTo(0, 0)")
    save("playground-schema-error.png")

    # 4. the policy catalogue
    page.get_by_test_id("tab-policy").click()
    page.get_by_test_id("catalogue-filter").fill("seven_day_window")
    page.locator("body").click(position={"x": 5, "y": 400})
    save("playground-catalogue.png")
    return made


def main() -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "ruleengine.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the server did not start")
            time.sleep(0.1)
        with sync_playwright() as p:
            # LANG: the date and time inputs are laid out in the system locale's format
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, env={**os.environ, "LANG": "zh_CN.UTF-8", "LANGUAGE": "zh_CN"})
            page = browser.new_page(viewport={"width": 1440, "height": 960}, locale="zh-CN", timezone_id="Asia/Shanghai")
            for path in shoot(page, url):
                print(path.relative_to(HERE.parent.parent))
            browser.close()
    finally:
        server.terminate()
        server.wait(20)


if __name__ == "__main__":
    main()
