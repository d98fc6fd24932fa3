"""The 编辑规则 Edit rules view in a real browser (issue 17 point 3): edit → diagnostics → cases → impact → publish →
revert on a temporary copy of the tests' policy, served with ``--editing`` and an admin token.

Same set-up as tests/test_playground.py: ``ruleengine serve`` in a subprocess, Debian's Chromium driven by
Playwright, axe-core from the axe-playwright-python package.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import EXAMPLES, RETURNS
from playground_support import axe_violations, by, document_width, expect, launch_browser, open_page, serve_returns
from server_support import Server, running_server

TOKEN = "editing-admin-token"
WINDOW = re.compile(r"(  seven_day_window_days:\n    type: days\n    value: )\d+\n")
LATE_CASE = (
    "      claim.outcome: rejected\n      claim.refund_amount: 0.00\n"
    "      fired: {contains: [seven_day_return.late, claims.not_approved_owes_nothing], excludes: [seven_day_return.approve_return]}\n"
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("editing")
    shutil.copytree(RETURNS, root / "returns")
    shutil.copytree(EXAMPLES, root / "examples" / "orders")
    (root / "tokens.yaml").write_text(
        f"tokens:\n  - {{name: policy-staff, sha256: {hashlib.sha256(TOKEN.encode()).hexdigest()}, scopes: [admin, read, decide]}}\n",
        encoding="utf-8",
    )
    return root / "returns"


@pytest.fixture(scope="module")
def server(folder: Path) -> Iterator[Server]:
    args = ("--rules", str(folder), "--editing", "--auth-token-file", str(folder.parent / "tokens.yaml"), "--no-watch")
    with running_server(folder.parent, *args) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launch_browser()


def _signed_in(browser: Any, server: Server, viewport: dict[str, int] | None = None) -> Iterator[Any]:
    """A page on the editing server with the admin token given in its token form."""
    for opened in open_page(browser, server, viewport):
        by(opened, "token-input").fill(TOKEN)
        with opened.expect_navigation():
            by(opened, "token-apply").click()
        opened.wait_for_selector("body[data-ready=true]")
        expect(by(opened, "tab-edit")).to_be_visible()
        yield opened


@pytest.fixture
def page(browser: Any, server: Server) -> Iterator[Any]:
    yield from _signed_in(browser, server)


EDITOR_VIEW = "async (el) => (await import('/static/vendor/codemirror.js')).EditorView.findFromDOM(el)"


def editor_text(page: Any, expected: str | None = None) -> str:
    """The whole text in the editor (CodeMirror draws only the lines in view); with ``expected``, once it holds that."""
    script = f"async (el) => ({EDITOR_VIEW})(el).then((view) => view.state.doc.toString())"
    deadline = time.monotonic() + 10
    while True:
        text: str = by(page, "edit-text").locator(".cm-editor").evaluate(script)
        if expected is None or text == expected or time.monotonic() > deadline:
            return text
        time.sleep(0.1)


def type_into_editor(page: Any, text: str) -> None:
    """Select all in the editor and put ``text`` in its place, as a paste does."""
    by(page, "edit-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(text)


def lint_mark_lines(page: Any) -> list[int]:
    """The line numbers of the inline lint marks drawn in the editor now (an error's underline, or its point at an empty line's end)."""
    script = (
        f"async (el) => ({EDITOR_VIEW})(el).then((view) => [...el.querySelectorAll('.cm-lintRange-error, .cm-lintPoint-error')]"
        ".map((mark) => view.state.doc.lineAt(view.posAtDOM(mark)).number))"
    )
    lines: list[int] = by(page, "edit-text").locator(".cm-editor").evaluate(script)
    return lines


def _digest(server: Server) -> str:
    digest: str = httpx.get(server.url + "/v1/policy", headers={"authorization": f"Bearer {TOKEN}"}).json()["digest"]
    return digest


def test_edit_cases_impact_publish_revert_round_trip(page: Any, server: Server, folder: Path, tmp_path: Path) -> None:
    served = _digest(server)
    by(page, "tab-edit").click()
    expect(by(page, "view-edit")).to_be_visible()
    by(page, "edit-file").select_option("parameters.yaml")
    parameters = (folder / "parameters.yaml").read_text(encoding="utf-8")
    assert editor_text(page, parameters) == parameters
    expect(by(page, "edit-text").locator(".cm-lineNumbers .cm-gutterElement", has_text=re.compile(r"^2$"))).to_be_visible()
    # Tab leaves the editor (keyboard users are not trapped in it) and types nothing
    by(page, "edit-content").click()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('.cm-editor') === null")
    assert editor_text(page) == parameters

    # a bad edit: the diagnostic at its line and column, in Chinese and English, with a link to the place,
    # and an inline lint mark on that line of the editor
    type_into_editor(page, parameters + "  oops: [\n")
    expect(by(page, "edit-status")).to_contain_text("规则无法加载")
    expect(by(page, "edit-diagnostics")).to_contain_text("YAML 语法错误")
    goto = by(page, "edit-goto").first
    expect(goto).to_contain_text("parameters.yaml:")
    line = int(goto.inner_text().split(":")[1])
    goto.click()
    expect(by(page, "edit-text").locator(".cm-lintRange-error, .cm-lintPoint-error").first).to_be_attached()
    assert line in lint_mark_lines(page)
    expect(by(page, "edit-text").locator(".cm-lineNumbers .cm-gutterElement", has_text=re.compile(rf"^{line}$"))).to_be_visible()
    assert axe_violations(page) == []

    # an 8-day window: it loads; a case fails; the impact shows the orders that change
    type_into_editor(page, WINDOW.sub(r"\g<1>8\n", parameters))
    expect(by(page, "edit-status")).to_contain_text("规则可以加载")
    by(page, "edit-cases").click()
    expect(by(page, "edit-status")).to_contain_text("未通过 1")
    expect(by(page, "edit-case-results").locator("[data-status=failed]")).to_contain_text("claim.outcome")
    by(page, "edit-impact").click()
    expect(by(page, "edit-impact-counts")).to_contain_text("决策变化")
    expect(by(page, "edit-impact-orders")).not_to_be_empty()
    examples = by(page, "edit-impact-counts").inner_text()
    changed = int(re.search(r"决策变化 (\d+) 个", examples).group(1))  # type: ignore[union-attr]
    by(page, "edit-impact-row").first.get_by_role("button").click()  # drill down to one guarantee and field
    expect(by(page, "edit-results").locator("h4")).to_contain_text("变化的订单")
    # over a generated corpus, and over the example orders uploaded as a JSON-lines file: the same changes
    by(page, "edit-impact-corpus").select_option("generated")
    by(page, "edit-impact-count").fill("120")
    by(page, "edit-impact").click()
    expect(by(page, "edit-impact-counts")).to_contain_text("生成的订单（种子 1） 120 个")
    lines = tmp_path / "orders.jsonl"
    orders = [json.loads(path.read_text(encoding="utf-8")) for path in sorted(EXAMPLES.glob("*.json"))]
    lines.write_text("\n".join(json.dumps(order) for order in orders), encoding="utf-8")
    by(page, "edit-impact-corpus").select_option("lines")
    by(page, "edit-impact-file").set_input_files(str(lines))
    by(page, "edit-impact").click()
    expect(by(page, "edit-impact-counts")).to_contain_text(f"上传的订单 {len(orders)} 个，决策变化 {changed} 个")

    # a publish over a failing case is refused; the folder is untouched
    by(page, "edit-message").fill("八天窗口 eight-day window")
    by(page, "edit-publish").click()
    expect(by(page, "edit-status")).to_contain_text("未发布")
    assert (folder / "parameters.yaml").read_text(encoding="utf-8") == parameters

    # the case updated too: every case passes, the publish goes live and is recorded
    by(page, "edit-file").select_option("cases/returns.yaml")
    cases = (folder / "cases" / "returns.yaml").read_text(encoding="utf-8")
    assert editor_text(page, cases) == cases
    type_into_editor(page, cases.replace(LATE_CASE, "      claim.outcome: approved\n"))
    by(page, "edit-cases").click()
    expect(by(page, "edit-status")).to_contain_text("未通过 0")
    by(page, "edit-publish").click()
    expect(by(page, "edit-status")).to_contain_text("已发布")
    expect(by(page, "edit-diff")).to_contain_text("+    value: 8")
    assert _digest(server) != served
    assert "value: 8" in (folder / "parameters.yaml").read_text(encoding="utf-8")

    by(page, "edit-revert").click()
    expect(by(page, "edit-status")).to_contain_text("已撤销")
    assert _digest(server) == served
    assert (folder / "parameters.yaml").read_text(encoding="utf-8") == parameters
    assert editor_text(page, cases) == cases
    assert axe_violations(page) == []


def test_a_rule_file_is_created_and_another_deleted_in_one_publish_and_reverted(page: Any, server: Server, folder: Path) -> None:
    moved, new = "guarantees/on_time_shipment.yaml", "guarantees/shipping.yaml"
    text = (folder / moved).read_text(encoding="utf-8")
    by(page, "tab-edit").click()
    # deleting the file alone: the policy loses rules its cases expect
    by(page, "edit-file").select_option(moved)
    assert editor_text(page, text) == text
    by(page, "edit-delete").click()
    expect(by(page, "edit-changed")).to_contain_text(f"{moved}（删除 deleted）")
    expect(by(page, "edit-file").locator("option:checked")).to_contain_text("将删除")
    by(page, "edit-cases").click()
    expect(by(page, "edit-status")).to_contain_text("回归用例：通过")
    expect(by(page, "edit-status")).not_to_contain_text("未通过 0")
    # the same rules in a new file: a broken first draft is marked in the new file, the finished one passes every case
    by(page, "edit-new-folder").select_option("guarantees")
    by(page, "edit-new-name").fill("shipping")
    by(page, "edit-new-create").click()
    expect(by(page, "edit-file").locator("option:checked")).to_contain_text(f"{new}（新文件 new）")
    type_into_editor(page, "rules:\n  - id: [\n")
    expect(by(page, "edit-status")).to_contain_text("规则无法加载")
    expect(by(page, "edit-goto").first).to_contain_text(f"{new}:")
    expect(by(page, "edit-text").locator(".cm-lintRange-error, .cm-lintPoint-error").first).to_be_attached()
    type_into_editor(page, text)
    expect(by(page, "edit-status")).to_contain_text("规则可以加载")
    by(page, "edit-cases").click()
    expect(by(page, "edit-status")).to_contain_text("未通过 0")
    by(page, "edit-message").fill("准时发货规则换个文件 move the on-time rules")
    by(page, "edit-publish").click()
    expect(by(page, "edit-status")).to_contain_text("已发布")
    expect(by(page, "edit-diff")).to_contain_text(f"+++ b/{new}")
    assert (folder / new).read_text(encoding="utf-8") == text and not (folder / moved).exists()
    expect(by(page, "edit-file").locator(f"option[value='{moved}']")).to_have_count(0)
    by(page, "edit-revert").click()
    expect(by(page, "edit-status")).to_contain_text("已撤销")
    assert (folder / moved).read_text(encoding="utf-8") == text and not (folder / new).exists()
    expect(by(page, "edit-file").locator(f"option[value='{new}']")).to_have_count(0)
    assert axe_violations(page) == []


def test_the_edit_view_fits_a_phone(browser: Any, server: Server) -> None:
    for phone in _signed_in(browser, server, {"width": 390, "height": 800}):
        by(phone, "tab-edit").click()
        expect(by(phone, "edit-text").locator(".cm-line").first).to_be_visible()
        assert editor_text(phone) != ""
        assert document_width(phone) <= 390
        assert axe_violations(phone) == []


def test_the_edit_tab_is_absent_when_the_service_does_not_offer_editing(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    for plain in serve_returns(tmp_path_factory):
        for opened in open_page(browser, plain):
            expect(by(opened, "tab-try")).to_be_visible()
            expect(by(opened, "tab-edit")).to_be_hidden()
            expect(by(opened, "view-edit")).to_be_hidden()
            fetched = opened.evaluate("performance.getEntriesByType('resource').map((r) => r.name)")
            assert any(name.endswith("/static/editor.js") for name in fetched)
            assert not any("codemirror" in name or "codeeditor" in name for name in fetched), "the editor is fetched only for editing"
