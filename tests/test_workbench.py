"""The playground as the policy staff's workbench, in a real browser (issue 17): state that never lies,
every screen and the keyboard, what-if over many orders, Chinese first.

Same set-up as tests/test_playground.py: the tests' own policy served by ``ruleengine serve``, Debian's
Chromium driven by Playwright, axe-core from the axe-playwright-python package.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import EXAMPLES, RETURNS, RULES
from playground_support import LAST_MINUTE, LATE, axe_violations, by, document_width, expect, launch_browser, load, open_page, serve_returns
from server_support import Server

import ruleengine
from ruleengine.authoring.impact import compare


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from serve_returns(tmp_path_factory)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launch_browser()


@pytest.fixture
def page(browser: Any, server: Server) -> Iterator[Any]:
    yield from open_page(browser, server)


# -- honest state (point 2)


def test_a_bad_edit_keeps_the_last_decision_greyed_beside_the_error(page: Any) -> None:
    expect(by(page, "claim-outcome-current")).to_have_text("批准 approved")
    expect(by(page, "stale")).to_be_hidden()
    by(page, "field-items.0.quantity").fill("0")
    expect(by(page, "problems")).to_contain_text("「第 1 件商品的数量」不能小于 1")
    expect(by(page, "problems")).to_contain_text("0 is below the minimum 1")
    # the last decision is still there, greyed and marked as not this order's
    expect(by(page, "claim-outcome-current")).to_have_text("批准 approved")
    expect(by(page, "decision")).to_have_class("stale")
    expect(by(page, "stale")).to_contain_text("上一次的决策")
    expect(by(page, "stale")).to_contain_text("the edited order has problems")
    expect(by(page, "summary")).to_have_class("summary stale")
    by(page, "field-items.0.quantity").fill("1")
    expect(by(page, "stale")).to_be_hidden()
    expect(by(page, "decision")).not_to_have_class("stale")


def test_an_unapplied_text_edit_marks_the_decision_stale_and_broken_json_keeps_it(page: Any) -> None:
    by(page, "subtab-text").click()
    by(page, "order-text").fill('{"order_id": "x" "channel": "app"}')
    expect(by(page, "stale")).to_contain_text("文本已修改，尚未应用")
    expect(by(page, "status")).not_to_contain_text("已决策")
    by(page, "apply-text").click()
    expect(by(page, "text-problems")).to_contain_text("第 1 行第 18 列：JSON 文本有语法错误")
    expect(by(page, "text-problems")).to_contain_text("Expecting ',' delimiter")
    expect(by(page, "claim-outcome-current")).to_have_text("批准 approved")
    expect(by(page, "stale")).to_contain_text("文本无法读取")
    expect(by(page, "status")).to_contain_text("文本无法读取")


def test_an_order_edit_shows_the_decision_before_and_after(page: Any) -> None:
    expect(by(page, "edit-changes")).to_have_count(0)
    by(page, "field-logistics.signed_at").fill("2026-11-10 15:20:00")
    expect(by(page, "claim-outcome-current")).to_have_text("驳回 rejected")
    changes = by(page, "edit-change-list")
    expect(changes.locator("[data-field='claim.outcome']")).to_have_text("7天无理由退换货 · 结果 outcome：批准 approved → 驳回 rejected")
    expect(changes.locator("[data-field='claim.refund_amount']")).to_contain_text("259.00 元 → 0.00 元")
    expect(by(page, "claim-outcome-current")).to_have_class("diff")
    # the outcome stays in view while editing the claim further down
    by(page, "field-claim.quantity").scroll_into_view_if_needed()
    expect(by(page, "summary-outcome")).to_have_text("驳回 rejected")
    expect(by(page, "summary-outcome")).to_be_in_viewport()
    by(page, "rebase").click()
    expect(by(page, "edit-changes")).to_have_count(0)


def test_a_refused_what_if_value_keeps_the_decision_and_says_why_in_chinese(page: Any) -> None:
    by(page, "param-filter").fill("seven_day_window")
    by(page, "param-input-seven_day_window_days").fill("7.5")
    by(page, "apply-whatif").click()
    expect(by(page, "whatif-error")).to_contain_text("参数「7天无理由退货期限」（seven_day_window_days）的值不符合类型：应为整天数")
    expect(by(page, "whatif-error")).to_contain_text("7.5 is not a whole number")
    expect(by(page, "claim-outcome-current")).to_have_text("批准 approved")
    expect(by(page, "stale")).to_contain_text("假设的参数值无效")


def test_a_shared_link_restores_the_order_and_the_what_if(page: Any, browser: Any, server: Server) -> None:
    load(page, LATE)
    by(page, "field-claim.quantity").fill("1")
    by(page, "param-filter").fill("seven_day_window")
    by(page, "param-input-seven_day_window_days").fill("15")
    by(page, "apply-whatif").click()
    expect(by(page, "claim-outcome-changed")).to_have_text("批准 approved")
    by(page, "share-link").click()
    link = by(page, "share-url").input_value()
    assert link.startswith(server.url + "/#scenario=")
    other = next(open_page(browser, server, path=link.removeprefix(server.url)))
    expect(by(other, "claim-outcome-current")).to_have_text("驳回 rejected")
    expect(by(other, "claim-outcome-changed")).to_have_text("批准 approved")
    expect(by(other, "field-order_id")).to_have_value(json.loads((EXAMPLES / f"{LATE}.json").read_text())["order_id"])
    expect(by(other, "example-select")).to_have_value("")
    other.context.close()


def test_a_broken_link_says_so_and_opens_an_example(browser: Any, server: Server) -> None:
    page = next(open_page(browser, server, path="/#scenario=bm90IGpzb24"))
    expect(by(page, "problems")).to_contain_text("链接中的场景无法读取")
    expect(by(page, "example-select")).to_have_value(LAST_MINUTE)
    page.context.close()


# -- every screen, the keyboard, axe-core (point 5)


def _views(page: Any) -> Iterator[str]:
    """Puts the page in each of its views in turn, naming each."""
    yield "try"
    by(page, "field-items.0.quantity").fill("0")
    expect(by(page, "stale")).to_be_visible()
    yield "try, with an error"
    by(page, "field-items.0.quantity").fill("1")
    by(page, "param-filter").fill("seven_day_window")
    by(page, "param-input-seven_day_window_days").fill("3")
    by(page, "param-apply-seven_day_window_days").click()
    expect(by(page, "claim-outcome-changed")).to_have_text("驳回 rejected")
    yield "what-if"
    by(page, "subtab-text").click()
    yield "order as text"
    by(page, "tab-policy").click()
    expect(by(page, "view-policy")).to_be_visible()
    yield "policy"


@pytest.mark.parametrize("width", [390, 1280])
def test_no_view_scrolls_sideways_and_axe_finds_nothing_serious(browser: Any, server: Server, width: int) -> None:
    pages = open_page(browser, server, {"width": width, "height": 900})
    page = next(pages)
    for view in _views(page):
        assert document_width(page) <= width, (view, document_width(page))
        assert axe_violations(page) == [], view
    next(pages, None)  # closes the page, failing on any script error


def test_the_keyboard_skips_to_the_content_tabs_once_per_time_and_keeps_its_place(page: Any) -> None:
    page.keyboard.press("Tab")
    expect(by(page, "skip-link")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    by(page, "field-logistics.shipped_at").focus()
    page.keyboard.press("Tab")
    expect(by(page, "field-logistics.signed_at")).to_be_focused()  # one stop per date and time
    page.keyboard.press("Tab")
    expect(by(page, "field-logistics.stock_out")).to_be_focused()
    by(page, "param-filter").fill("seven_day_window")
    field = by(page, "param-input-seven_day_window_days")
    field.fill("3")
    page.keyboard.press("Tab")
    expect(by(page, "param-apply-seven_day_window_days")).to_be_focused()  # the apply button is next to its input
    field.focus()
    page.keyboard.press("Enter")
    expect(by(page, "claim-outcome-changed")).to_have_text("驳回 rejected")
    expect(by(page, "param-input-seven_day_window_days")).to_be_focused()  # Enter applied and kept the focus


# -- what-if over many orders (point 4)


def _expected_impact(parameters: dict[str, Any], orders: list[bytes]) -> dict[str, Any]:
    policy = ruleengine.load_policy(RETURNS)
    report: dict[str, Any] = compare(policy, policy.with_parameters(parameters), orders, "current", "what-if").to_dict()
    return report


def test_a_what_if_over_the_example_orders_shows_counts_money_and_the_orders(page: Any) -> None:
    expected = _expected_impact({"seven_day_window_days": 15}, [p.read_bytes() for p in sorted(EXAMPLES.glob("*.json"))])
    assert expected["changed"] > 0
    by(page, "param-filter").fill("seven_day_window")
    by(page, "param-input-seven_day_window_days").fill("15")
    by(page, "impact-run").click()
    expect(by(page, "impact-counts")).to_contain_text(f"示例订单 {expected['orders']} 个，决策变化 {expected['changed']} 个")
    expect(by(page, "impact-money")).to_contain_text(f"+{expected['money']['refunds']['delta']} 元")
    expect(by(page, "impact-fields").get_by_test_id("impact-row")).to_have_count(len(expected["fields"]))
    outcome = next(c for c in expected["changes"] if c["field"] == "claim.outcome")
    by(page, "impact-drill-seven_day_return-claim.outcome").click()
    orders = by(page, "impact-orders").locator(":scope > li")
    expect(orders).to_have_count(outcome["orders"])
    expect(orders.first).to_contain_text("结果 outcome：驳回 rejected → 批准 approved")
    orders.first.get_by_test_id("impact-open").click()
    expect(by(page, "claim-outcome-current")).to_have_text("驳回 rejected")
    expect(by(page, "claim-outcome-changed")).to_have_text("批准 approved")
    expect(by(page, "param-input-seven_day_window_days")).to_have_value("15")


def test_a_what_if_over_a_generated_corpus_and_over_an_uploaded_file(page: Any, tmp_path: Path) -> None:
    by(page, "param-filter").fill("seven_day_window")
    by(page, "param-input-seven_day_window_days").fill("3")
    by(page, "impact-corpus").select_option("generated")
    by(page, "impact-count").fill("300")
    by(page, "impact-seed").fill("7")
    by(page, "impact-run").click()
    expect(by(page, "impact-counts")).to_contain_text("生成的订单（种子 7） 300 个")
    lines = tmp_path / "orders.jsonl"
    lines.write_text(
        "\n".join(json.dumps(json.loads((EXAMPLES / f"{name}.json").read_text())) for name in (LAST_MINUTE, LATE)) + "\nnot an order\n",
        encoding="utf-8",
    )
    expected = _expected_impact({"seven_day_window_days": 3}, [line.encode() for line in lines.read_text().splitlines()])
    by(page, "impact-corpus").select_option("lines")
    by(page, "impact-file").set_input_files(str(lines))
    by(page, "impact-run").click()
    expect(by(page, "impact-counts")).to_contain_text(f"上传的订单 3 个，决策变化 {expected['changed']} 个")
    expect(by(page, "impact")).to_contain_text("无法决策的订单：当前 1 个，假设 1 个")
    expect(by(page, "impact-money")).to_contain_text(f"{expected['money']['refunds']['delta']} 元")


def test_a_what_if_over_many_orders_needs_a_value_and_says_when_one_is_refused(page: Any) -> None:
    by(page, "impact-run").click()
    expect(by(page, "impact-error")).to_contain_text("请先在上方输入要假设的参数值")
    by(page, "param-filter").fill("seven_day_window")
    by(page, "param-input-seven_day_window_days").fill("7.5")
    by(page, "impact-run").click()
    expect(by(page, "impact-error")).to_contain_text("参数「7天无理由退货期限」（seven_day_window_days）的值不符合类型")


# -- Chinese first (point 1)


def test_every_example_order_has_a_chinese_title_and_a_guarantee() -> None:
    titles = yaml.safe_load((EXAMPLES / "titles.yaml").read_text(encoding="utf-8"))
    assert set(titles) == {path.stem for path in EXAMPLES.glob("*.json")}
    guarantees = {path.stem for path in (RULES / "guarantees").glob("*.yaml")} | {"none"}
    for name, title in titles.items():
        assert title["guarantee"] in guarantees, name
        assert re.search(r"[\u4e00-\u9fff]", title["zh"]), name


def test_examples_are_grouped_by_guarantee_and_choices_have_chinese_names(page: Any) -> None:
    group = by(page, "example-select").locator("optgroup[label='7天无理由退换货']")
    expect(group.locator(f"option[value='{LAST_MINUTE}']")).to_have_text(f"期限前最后一分钟申请退货，批准（{LAST_MINUTE}）")
    options = by(page, "example-select").locator("optgroup option")
    expect(options).to_have_count(len(list(EXAMPLES.glob("*.json"))))
    assert all(re.search(r"[\u4e00-\u9fff]", text) for text in options.all_inner_texts())
    expect(by(page, "field-claim.type").locator("option[value='no_reason_return']")).to_have_text("无理由退货 no_reason_return")
    expect(by(page, "field-items.0.category").locator("option[value='apparel']")).to_have_text("服装 apparel")
    expect(by(page, "param-seven_day_window_days").locator("label")).to_contain_text("7天无理由退货期限 seven_day_window_days")


def test_a_what_if_change_list_names_guarantee_field_and_values_in_chinese(page: Any) -> None:
    load(page, LATE)
    by(page, "param-filter").fill("seven_day_window")
    by(page, "param-input-seven_day_window_days").fill("15")
    by(page, "param-apply-seven_day_window_days").click()
    changes = by(page, "change-list")
    expect(changes.locator("[data-field='claim.outcome']")).to_have_text("7天无理由退换货 · 结果 outcome：驳回 rejected → 批准 approved")
    expect(changes.locator("[data-field='claim.return_shipping_payer']")).to_contain_text("无 none → 运费险 insurance")
