"""The policy playground in a real browser: headless Chromium (Debian's package) driven by Playwright.

One ``ruleengine serve`` child process (serving the tests' own policy, tests/policies/returns, so the
numbers asserted are the tests' own) and one browser for the module; each
test opens a fresh page on the real server over loopback, and does what policy
staff would do: load an example, edit a field, try a parameter, download a case.
Nothing downloads a browser: Playwright drives the system's ``/usr/bin/chromium``.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from conftest import EXAMPLES, RETURNS
from playground_support import LAST_MINUTE, LATE, by, expect, launch_browser, load, open_page, serve_returns
from server_support import Server, running_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from serve_returns(tmp_path_factory)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launch_browser()


@pytest.fixture
def page(browser: Any, server: Server) -> Iterator[Any]:
    yield from open_page(browser, server)


def test_an_example_is_loaded_and_decided_with_chinese_service_names(page: Any) -> None:
    expect(by(page, "example-select")).to_have_value(LAST_MINUTE)
    expect(by(page, "policy-line")).to_contain_text("test-returns")
    expect(by(page, "claim-outcome-current")).to_have_text("批准 approved")
    expect(by(page, "claim-refund_amount-current")).to_have_text("259.00 元")
    expect(by(page, "claim-return_shipping_payer-current")).to_have_text("运费险 insurance")
    badges = by(page, "decision-current").get_by_test_id("service-badge")
    expect(badges.filter(has_text="7天无理由退换货")).to_have_count(1)
    expect(badges.filter(has_text="退货包运费")).to_have_count(1)
    expect(by(page, "reasons-current")).to_contain_text("seven_day_return.approve_return")
    approve = by(page, "rule-seven_day_return.approve_return")
    expect(approve).to_have_class("rule matched sets-approved")
    expect(approve).to_contain_text("命中：批准 matched: approves")
    expect(by(page, "group-seven_day_return")).to_have_attribute("open", "")


def test_signing_a_day_earlier_is_past_the_window_and_the_explanation_shows_the_window_parameter(page: Any) -> None:
    by(page, "field-logistics.signed_at").fill("2026-11-10T15:20:00")
    expect(by(page, "claim-outcome-current")).to_have_text("驳回 rejected")
    expect(by(page, "reasons-current")).to_contain_text("seven_day_return.late")
    late = by(page, "rule-seven_day_return.late")
    expect(late).to_have_class("rule matched sets-rejected")  # a rule that rejects is never shown as a green success
    expect(late).to_contain_text("命中：驳回 matched: rejects")
    decided = late.get_by_test_id("decided-condition").filter(has_text="超过签收次日起7天")
    # each value by its Chinese name, the expression only on demand
    expect(decided).to_contain_text("签收时间 logistics.signed_at = 2026-11-10 15:20")
    expect(decided.get_by_test_id("parameter-value")).to_have_text("参数 parameter 7天无理由退货期限 params.seven_day_window_days = 7")
    expression = decided.get_by_test_id("condition-expr")
    expect(expression).to_be_hidden()
    decided.get_by_text("表达式").click()
    expect(expression).to_have_text("not within_days_after(logistics.signed_at, params.seven_day_window_days, claim.requested_at)")
    # the form's order is what was decided: the text view shows the edit
    assert json.loads(by(page, "order-text").input_value())["logistics"]["signed_at"] == "2026-11-10T15:20:00+08:00"


def test_a_parameter_override_shows_the_changed_decision_beside_the_current_one(page: Any, server: Server) -> None:
    load(page, LATE)
    expect(by(page, "claim-outcome-current")).to_have_text("驳回 rejected")
    # the parameters that decided this order come first in the what-if list
    expect(by(page, "param-list").locator(".param").first).to_have_attribute("data-testid", "param-seven_day_window_days")
    expect(by(page, "param-seven_day_window_days").get_by_test_id("used-here")).to_be_visible()
    by(page, "param-filter").fill("seven_day_window")
    by(page, "param-input-seven_day_window_days").fill("15")
    by(page, "apply-whatif").click()
    expect(by(page, "claim-outcome-changed")).to_have_text("批准 approved")
    expect(by(page, "claim-outcome-current")).to_have_text("驳回 rejected")
    expect(by(page, "claim-outcome-changed")).to_have_class("diff")
    expect(by(page, "changes")).to_contain_text("seven_day_window_days 7 → 15")
    expect(by(page, "change-list")).to_contain_text("outcome")
    # the explanation follows the what-if side: the window rule no longer matched, with the changed value
    late = by(page, "rule-seven_day_return.late")
    expect(late).to_have_class("rule not_matched")
    expect(late.get_by_test_id("parameter-value")).to_have_text("参数 parameter 7天无理由退货期限 params.seven_day_window_days = 15")
    by(page, "explain-current").click()
    expect(by(page, "rule-seven_day_return.late").get_by_test_id("parameter-value").first).to_contain_text("= 7")
    # the policy being served did not change
    with server.client() as client:
        parameters = {p["name"]: p["value"] for p in client.get("/v1/policy/catalogue").json()["parameters"]}
    assert parameters["seven_day_window_days"] == 7
    by(page, "clear-whatif").click()
    expect(by(page, "decision-changed")).to_have_count(0)
    expect(by(page, "claim-outcome-current")).to_have_text("驳回 rejected")


def test_a_downloaded_case_file_passes_with_ruleengine_test(page: Any, tmp_path: Path) -> None:
    by(page, "field-logistics.signed_at").fill("2026-11-10T15:20:00")
    expect(by(page, "claim-outcome-current")).to_have_text("驳回 rejected")
    by(page, "case-name").fill("签收后第 8 天申请，驳回 / requested on day 8, rejected")
    with page.expect_download() as info:
        by(page, "download-case").click()
    download = info.value
    assert download.suggested_filename == "TM2026110800002.cases.yaml"
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    case = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert "签收后第 8 天申请" in json.dumps(case, ensure_ascii=False)
    command = [sys.executable, "-m", "ruleengine.cli", "test", str(path), "--rules", str(RETURNS)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_a_schema_error_is_shown_next_to_its_field(page: Any) -> None:
    by(page, "field-items.0.quantity").fill("0")
    expect(by(page, "field-items.0.quantity-error")).to_contain_text("0 is below the minimum 1")
    expect(by(page, "field-items.0.quantity")).to_have_attribute("aria-invalid", "true")
    expect(by(page, "problems")).to_contain_text("/items/0/quantity")
    expect(by(page, "status")).to_contain_text("未能决策")
    by(page, "field-items.0.quantity").fill("1")
    expect(by(page, "claim-outcome-current")).to_have_text("批准 approved")
    expect(by(page, "problems")).to_be_hidden()
    expect(by(page, "field-items.0.quantity-error")).to_have_text("")


def test_a_missing_required_field_is_shown_at_that_field(page: Any) -> None:
    by(page, "field-claim.requested_at").fill("")
    expect(by(page, "field-claim.requested_at-error")).to_contain_text("missing required field 'requested_at'")


def test_a_pasted_yaml_order_is_decided_and_fills_the_form(page: Any) -> None:
    order = json.loads((EXAMPLES / f"{LATE}.json").read_text())
    order["order_id"] = "TM-PASTED-1"
    by(page, "subtab-text").click()
    by(page, "order-text").fill(yaml.safe_dump(order, allow_unicode=True, sort_keys=False))
    by(page, "apply-text").click()
    expect(by(page, "claim-outcome-current")).to_have_text("驳回 rejected")
    by(page, "subtab-form").click()
    expect(by(page, "field-order_id")).to_have_value("TM-PASTED-1")
    expect(by(page, "example-select")).to_have_value("")
    by(page, "subtab-text").click()
    by(page, "order-text").fill("order_id: [unclosed\n")
    by(page, "apply-text").click()
    expect(by(page, "text-problems")).to_contain_text("line 2")


def test_the_policy_tab_lists_every_guarantee_with_its_rules_and_parameters(page: Any, server: Server) -> None:
    catalogue = httpx.get(server.url + "/v1/policy/catalogue").json()
    by(page, "tab-policy").click()
    expect(by(page, "view-policy")).to_be_visible()
    for guarantee in catalogue["guarantees"]:
        section = by(page, f"catalogue-{guarantee['id']}")
        expect(section).to_contain_text(guarantee["title"])
        expect(section.locator("article.crule")).to_have_count(len(guarantee["rules"]))
    late = page.locator("article.crule[data-rule='seven_day_return.late']")
    expect(late).to_contain_text("超过7天无理由期限")
    expect(late).to_contain_text("超过签收次日起7天 / after the window")
    expect(late).to_contain_text("seven_day_window_days = 7 days")
    expect(by(page, "catalogue-parameters").locator("tbody tr")).to_have_count(len(catalogue["parameters"]))
    late_rule = next(r for g in catalogue["guarantees"] for r in g["rules"] if r["id"] == "seven_day_return.late")
    for cited in late_rule["citations"]:  # each cited source with its title
        expect(late.locator("ul.cites")).to_contain_text(f"{cited['source']} {cited['title']['zh']} / {cited['title']['en']}")
    expect(by(page, "catalogue-sources").locator("tbody tr")).to_have_count(len(catalogue["sources"]))
    by(page, "tab-policy").press("ArrowLeft")  # the tabs answer the keyboard
    expect(by(page, "view-try")).to_be_visible()
    by(page, "tab-try").press("ArrowRight")
    expect(by(page, "view-policy")).to_be_visible()
    late.get_by_test_id("try-seven_day_window_days").click()
    expect(by(page, "view-try")).to_be_visible()
    expect(by(page, "param-input-seven_day_window_days")).to_be_focused()


def test_a_bad_parameter_value_is_explained_and_undone(page: Any) -> None:
    by(page, "param-filter").fill("seven_day_window")
    by(page, "param-input-seven_day_window_days").fill("7.5")
    by(page, "apply-whatif").click()
    expect(by(page, "whatif-error")).to_contain_text("7.5 is not a whole number")
    expect(by(page, "status")).to_contain_text("参数值无效")
    by(page, "clear-whatif").click()
    expect(by(page, "whatif-error")).to_be_hidden()
    expect(by(page, "claim-outcome-current")).to_have_text("批准 approved")
    expect(by(page, "param-input-seven_day_window_days")).to_have_value("")


def test_compensations_violations_and_every_line_are_shown(page: Any) -> None:
    load(page, "late-shipment-compensation")
    expect(by(page, "claim-current")).to_contain_text("无售后申请")
    expect(by(page, "compensations-current")).to_contain_text("late_shipment：119.70 元 天猫积分 tmall_points")
    expect(by(page, "violations-current")).to_contain_text("on_time_shipment.late")
    load(page, "multi-line-partial-return")
    order = json.loads((EXAMPLES / "multi-line-partial-return.json").read_text())
    expect(by(page, "decision-current").locator(".line")).to_have_count(len(order["items"]))
    expect(by(page, "field-claim.sku").locator("option")).to_have_count(len(order["items"]))
    expect(by(page, "claim-refund_amount-current")).to_have_text("33.33 元")


def test_with_tokens_the_page_asks_for_one_keeps_it_in_the_tab_and_decides_with_it(browser: Any, tmp_path: Path) -> None:
    token = "playground-token-5c1e9a"
    tokens = tmp_path / "tokens.yaml"
    digest = hashlib.sha256(token.encode()).hexdigest()
    tokens.write_text(f"tokens:\n  - {{name: policy-staff, sha256: {digest}, scopes: [decide, read]}}\n", encoding="utf-8")
    log = tmp_path / "decisions.jsonl"
    with running_server(tmp_path, "--rules", str(RETURNS), "--auth-token-file", str(tokens), "--decision-log", str(log)) as server:
        context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
        page = context.new_page()
        page.set_default_timeout(10_000)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(server.url + "/")
        expect(by(page, "token-form")).to_be_visible()
        expect(by(page, "token-message")).to_contain_text("access token")
        by(page, "token-input").fill("not-the-token")
        by(page, "token-apply").click()
        expect(by(page, "token-message")).to_contain_text("does not know this token")
        by(page, "token-input").fill(token)
        by(page, "token-apply").click()
        expect(by(page, "claim-outcome-current")).to_have_text("批准 approved")
        assert page.evaluate("sessionStorage.getItem('ruleengine.token')") == token
        assert page.evaluate("localStorage.length") == 0 and context.cookies() == []
        page.reload()  # the same tab keeps the token: decided again without asking
        expect(by(page, "claim-outcome-current")).to_have_text("批准 approved")
        expect(by(page, "token-message")).to_have_text("")
        other = context.new_page()  # another tab starts without it
        other.goto(server.url + "/")
        expect(by(other, "token-message")).to_contain_text("access token")
        by(page, "token-forget").click()
        expect(by(page, "token-message")).to_contain_text("access token")
        context.close()
        assert errors == []
    assert server.process.returncode is not None
    callers = {json.loads(line).get("caller") for line in log.read_text(encoding="utf-8").splitlines()}
    assert callers == {"policy-staff"}
