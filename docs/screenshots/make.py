"""Regenerate the playground screenshots in this folder (shown in the README).

    python docs/screenshots/make.py

Starts ``ruleengine serve`` on a free loopback port and drives Debian's chromium
(``apt-get install chromium fonts-noto-cjk``) with Playwright: nothing is downloaded. The 编辑规则 view is
shot on a second server, started with ``--editing`` on a temporary copy of ``rules/`` (nothing in the
repository is edited).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
TOKEN = "screenshots-admin-token"
sys.path.insert(0, str(HERE.parent.parent / "tests"))
from server_support import CHROMIUM, CHROMIUM_ARGS, running_server  # noqa: E402  (the tests' own server and browser set-up)


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

    # 3. what-if over many orders: the same 15-day window over 1,000 generated orders
    page.get_by_test_id("impact-corpus").select_option("generated")
    page.get_by_test_id("impact-run").click()
    expect(page.get_by_test_id("impact-counts")).to_contain_text("1000")
    save("playground-impact.png", page.get_by_test_id("impact"))

    # 4. a schema error next to its field; the last decision stays, greyed, with the reason
    fresh(page, url, "seven-day-return-last-minute-approved")
    page.get_by_test_id("field-items.0.quantity").fill("0")
    expect(page.get_by_test_id("field-items.0.quantity-error")).not_to_be_empty()
    page.get_by_test_id("section-items").scroll_into_view_if_needed()
    page.evaluate("window.scrollTo(0, 0)")
    save("playground-schema-error.png")

    # 5. an edit shows before → after, on a phone's width
    page.set_viewport_size({"width": 390, "height": 844})
    fresh(page, url, "seven-day-return-last-minute-approved")
    page.get_by_test_id("field-logistics.signed_at").fill("2026-11-10 15:20:00")
    expect(page.get_by_test_id("edit-change-list")).to_be_visible()
    page.get_by_test_id("field-logistics.signed_at").blur()  # no focus ring in the picture
    page.get_by_test_id("edit-changes").evaluate("e => e.scrollIntoView({block: 'center'})")
    save("playground-phone.png")
    page.set_viewport_size({"width": 1440, "height": 960})

    # 6. the policy catalogue
    page.get_by_test_id("tab-policy").click()
    page.get_by_test_id("catalogue-filter").fill("seven_day_window")
    page.locator("body").click(position={"x": 5, "y": 400})
    save("playground-catalogue.png")
    return made


def editable_copy(work: Path) -> tuple[str, ...]:
    """``serve`` arguments for editing a copy of rules/ (with the example orders and the document its sources cite)."""
    shutil.copytree(ROOT / "rules", work / "rules")
    shutil.copytree(ROOT / "examples" / "orders", work / "examples" / "orders")
    (work / "docs").mkdir()
    shutil.copy(ROOT / "docs" / "specification.md", work / "docs" / "specification.md")
    tokens = work / "tokens.yaml"
    digest = hashlib.sha256(TOKEN.encode()).hexdigest()
    tokens.write_text(f"tokens:\n  - {{name: policy-staff, sha256: {digest}, scopes: [admin, read, decide]}}\n", encoding="utf-8")
    return ("--rules", str(work / "rules"), "--editing", "--auth-token-file", str(tokens), "--no-watch")


def shoot_editing(page: Page, url: str) -> list[Path]:
    """The edit view: a misspelt name marked inline at its line, the diagnostic listed below (1280 px, then 390 px)."""
    made: list[Path] = []
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]")
    page.get_by_test_id("token-input").fill(TOKEN)
    with page.expect_navigation():
        page.get_by_test_id("token-apply").click()
    page.wait_for_selector("body[data-ready=true]")
    page.get_by_test_id("tab-edit").click()
    page.get_by_test_id("edit-file").select_option("guarantees/seven_day_return.yaml")
    text = (ROOT / "rules" / "guarantees" / "seven_day_return.yaml").read_text(encoding="utf-8")
    # the first expression that reads the signing time, misspelt (whatever the rule's wording is today)
    line = next(x for x in text.splitlines(keepends=True) if "expr:" in x and "logistics.signed_at" in x)
    expect(page.get_by_test_id("edit-content")).to_contain_text("rules:")
    page.get_by_test_id("edit-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(text.replace(line, line.replace("logistics.signed_at", "logistics.signed_att", 1), 1))
    expect(page.get_by_test_id("edit-status")).to_contain_text("规则无法加载")
    page.get_by_test_id("edit-goto").first.click()
    page.evaluate("document.activeElement.blur()")  # no focus ring in the picture; the cursor stays on the line
    page.get_by_test_id("view-edit").evaluate("e => e.scrollIntoView({block: 'start'})")
    path = HERE / "playground-edit.png"
    page.get_by_test_id("view-edit").screenshot(path=str(path))
    made.append(path)
    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_test_id("edit-goto").first.click()  # the narrow editor scrolls sideways to the mark
    page.evaluate("document.activeElement.blur()")
    page.get_by_test_id("view-edit").evaluate("e => e.scrollIntoView({block: 'start'})")
    path = HERE / "playground-edit-phone.png"
    page.screenshot(path=str(path))
    made.append(path)
    return made


def main() -> None:
    with tempfile.TemporaryDirectory() as work, sync_playwright() as p:
        # LANG: the date and time inputs are laid out in the system locale's format
        env = {**os.environ, "LANG": "zh_CN.UTF-8", "LANGUAGE": "zh_CN"}
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, "--hide-scrollbars"], env=env)
        page = browser.new_page(viewport={"width": 1440, "height": 960}, locale="zh-CN", timezone_id="Asia/Shanghai")
        with running_server(Path(work)) as server:
            made = shoot(page, server.url)
        editing = Path(work) / "editing"
        editing.mkdir()
        with running_server(editing, *editable_copy(editing)) as server:
            made += shoot_editing(page, server.url)
        for path in made:
            print(path.relative_to(ROOT))
        browser.close()


if __name__ == "__main__":
    main()
