"""What the browser tests of the playground share: one server of the tests' own policy and one headless Chromium
per module, a fresh page per test that fails on any script error, and axe-core's checks.

Nothing downloads a browser: Playwright drives the system's ``/usr/bin/chromium``; axe-core's script comes
inside the axe-playwright-python package (the test extra) and is injected into the page by the tests.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import EXAMPLES, RETURNS
from server_support import CHROMIUM, CHROMIUM_ARGS, Server, running_server

if not CHROMIUM.exists() or importlib.util.find_spec("playwright") is None:
    missing = f"Debian's chromium at {CHROMIUM} (apt-get install chromium)"
    if CHROMIUM.exists():
        missing = "playwright (pip install '.[test]')"
    if os.environ.get("CI"):  # .ci/run installs both: there, a missing one is a failure, not a skip
        pytest.fail(f"the browser tests need {missing}", pytrace=False)
    pytest.skip(f"the browser tests need {missing}", allow_module_level=True)
import playwright.sync_api as sync_api
from axe_playwright_python.sync_playwright import Axe

expect = sync_api.expect

EXPECTED = re.compile(r"status of 4\d\d")
"""The browser logs every 4xx answer to fetch; a 400 for a bad order is what these tests provoke."""
LAST_MINUTE = "seven-day-return-last-minute-approved"
LATE = "seven-day-return-late-rejected"


def serve_returns(tmp_path_factory: pytest.TempPathFactory, *args: str) -> Iterator[Server]:
    """``ruleengine serve`` of the tests' own policy (for a module-scoped ``server`` fixture)."""
    with running_server(tmp_path_factory.mktemp("playground"), "--rules", str(RETURNS), *args) as running:
        yield running


def launch_browser() -> Iterator[Any]:
    """Headless Debian Chromium (for a module-scoped ``browser`` fixture)."""
    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def open_page(browser: Any, server: Server, viewport: dict[str, int] | None = None, path: str = "/") -> Iterator[Any]:
    """A fresh page on the server, ready; the test fails on any script error in it."""
    context = browser.new_context(
        viewport=viewport or {"width": 1400, "height": 1000}, locale="zh-CN", timezone_id="Asia/Shanghai", accept_downloads=True
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" and not EXPECTED.search(message.text) else None
    )
    page.set_default_timeout(10_000)
    page.goto(server.url + path)
    page.wait_for_selector("body[data-ready=true]")
    yield page
    context.close()
    assert errors == [], errors


def by(page: Any, testid: str) -> Any:
    return page.get_by_test_id(testid)


def load(page: Any, name: str) -> None:
    by(page, "example-select").select_option(name)
    expect(by(page, "field-order_id")).to_have_value(json.loads((EXAMPLES / f"{name}.json").read_text())["order_id"])
    expect(page.locator("body")).to_have_attribute("data-state", "ok")


SERIOUS = ("serious", "critical")


def axe_violations(page: Any) -> list[str]:
    """The serious and critical accessibility violations axe-core finds on the page as it is now."""
    found = Axe().run(page).response["violations"]
    return [f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes'][:3]]}" for v in found if v["impact"] in SERIOUS]


def document_width(page: Any) -> int:
    width: int = page.evaluate("document.documentElement.scrollWidth")
    return width
