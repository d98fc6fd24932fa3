"""The policy owns its vocabulary: a guarantee, a claim type, a category or a flag is added with policy files alone.

The 16th guarantee here (过敏包退, allergy return: a beauty line may be returned within 7 days of signing,
the line refunded) is written into a copy of the default policy in a temporary folder; nothing under
``src/`` or ``schemas/`` changes. The amounts asserted are computed from the test's own order and rules.
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from conftest import EXAMPLES, RETURNS, replace_in
from server_support import CHROMIUM, CHROMIUM_ARGS, Server, running_server

import ruleengine
from ruleengine.authoring.catalogue import catalogue_data, markdown
from ruleengine.authoring.explanation import decision_text, explanation_data, explanation_text

ALLERGY_RULES = """\
# yaml-language-server: $schema=../../schemas/rule.schema.json
# 过敏包退 — allergy_return: a policy's own guarantee, added with policy files alone.
parameters:
  allergy_return_days:
    value: 7
    type: days
    min: 1
    max: 30
    description: 过敏包退期限，签收次日起算 / allergy return window, counted from the day after signing
  allergy_return_categories:
    value: [beauty]
    type: list
    of: category
    description: 享有过敏包退的类目 / the categories with allergy return
rules:
  - id: allergy_return.service
    guarantee: allergy_return
    title: {zh: 过敏包退, en: Allergy return}
    description: 开通过敏包退的店铺，其美妆非赠品行享有过敏包退 / every non-gift beauty line of a shop that enrolled
    stage: services
    scope: line
    when:
      all:
        - {label: 店铺已开通 / the shop enrolled, expr: "'allergy_return' in shop.services"}
        - {label: 非赠品 / not a gift, expr: not item.gift}
        - {label: 美妆 / beauty, expr: item.category in params.allergy_return_categories}
    then:
      - add_service: allergy_return

  - id: allergy_return.not_covered
    guarantee: allergy_return
    title: {zh: 商品无过敏包退, en: Line without allergy return}
    description: 过敏申请的商品没有过敏包退：驳回 / rejected, the line has no allergy return
    stage: claim
    priority: 100
    scope: claimed_line
    group: claim_decision
    when:
      all:
        - {label: 过敏申请 / allergic reaction, expr: claim.type == 'allergic_reaction'}
        - {label: 无过敏包退 / no allergy return, expr: "not has_service(item, 'allergy_return')"}
    then:
      - set: {claim.outcome: rejected}
      - reason: {zh: 该商品不享有过敏包退, en: the line has no allergy return}
      - stop: true

  - id: allergy_return.late
    guarantee: allergy_return
    title: {zh: 超过过敏包退期限, en: Allergy return too late}
    description: 签收次日起 {params.allergy_return_days} 天后申请：驳回 / rejected after the window
    stage: claim
    priority: 90
    scope: claimed_line
    group: claim_decision
    when:
      all:
        - {label: 过敏申请 / allergic reaction, expr: claim.type == 'allergic_reaction'}
        - label: 超过签收次日起{params.allergy_return_days}天 / past the window
          expr: not within_days_after(logistics.signed_at, params.allergy_return_days, claim.requested_at)
    then:
      - set: {claim.outcome: rejected}
      - reason: {zh: 超过过敏包退期限, en: past the allergy-return window}
      - stop: true

  - id: allergy_return.approve
    guarantee: allergy_return
    title: {zh: 过敏包退, en: Allergy return approved}
    description: 退还该行按比例的实付金额，商家承担运费 / refund the line pro rata; the merchant pays shipping
    stage: claim
    priority: 70
    scope: claimed_line
    group: claim_decision
    when: claim.type == 'allergic_reaction'
    then:
      - set:
          claim.outcome: approved
          claim.resolution: refund
          claim.refund_amount: prorata(item.paid_amount, claim.quantity, item.quantity)
          claim.return_shipping_payer: merchant
      - reason: {zh: 过敏包退，退还该商品货款, en: "allergy return: the line is refunded"}
"""


def _edit_yaml(path: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    """Edit a copied policy file by its structure, not its text: the default policy's values may change."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    edit(document)
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _add_allergy_return(root: Path) -> Path:
    """The policy files that add the guarantee: the vocabulary's new codes, the rules, one parameter's list."""

    def vocabulary(document: dict[str, Any]) -> None:
        sets = document["vocabulary"]
        sets["shop_service"]["values"].append("allergy_return")  # a shop enrolls in it
        sets["service"]["values"]["allergy_return"] = {"zh": "过敏包退", "en": "allergy return"}
        sets["claim_type"]["values"]["allergic_reaction"] = {"zh": "过敏", "en": "allergic reaction"}

    def parameters(document: dict[str, Any]) -> None:
        document["parameters"]["return_claim_types"]["value"].append("allergic_reaction")

    _edit_yaml(root / "vocabulary.yaml", vocabulary)
    _edit_yaml(root / "parameters.yaml", parameters)
    (root / "guarantees" / "allergy_return.yaml").write_text(ALLERGY_RULES, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def allergy_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import shutil

    base = tmp_path_factory.mktemp("allergy")
    shutil.copytree(EXAMPLES, base / "examples" / "orders")  # where the copied regression cases find their orders
    root = base / "rules"
    shutil.copytree(Path(__file__).resolve().parent.parent / "rules", root)
    return _add_allergy_return(root)


@pytest.fixture(scope="module")
def allergy(allergy_root: Path) -> ruleengine.Policy:
    return ruleengine.load_policy(allergy_root)


def allergy_order(days_after_signing: int = 3, category: str = "beauty") -> dict[str, Any]:
    """A claim of the new type on a beauty line (2 of 6 units), filed some days after signing."""
    order: dict[str, Any] = json.loads((EXAMPLES / "damage-on-arrival-partial-refund-approved.json").read_text(encoding="utf-8"))
    order["shop"]["services"] = ["allergy_return"]
    order["items"][0]["category"] = category
    order["claim"]["type"] = "allergic_reaction"
    order["claim"]["item_condition"] = "used"
    order["claim"]["requested_at"] = f"2026-10-{9 + days_after_signing - 1:02d}T09:05:00+08:00"
    order["as_of"] = f"2026-10-{9 + days_after_signing:02d}T10:00:00+08:00"
    order["claim"].pop("return_tracking_uploaded_at")
    return order


def test_the_16th_guarantee_loads_with_policy_files_alone(allergy: ruleengine.Policy) -> None:
    assert "allergy_return" in allergy.vocabulary.codes("service")
    assert "allergy_return" in allergy.vocabulary.codes("guarantee")  # drawn from service: rules may belong to it
    assert "allergic_reaction" in allergy.vocabulary.codes("claim_type")
    assert allergy.vocabulary.zh("shop_service", "allergy_return") == "过敏包退"  # named once, in service
    assert {"allergy_return.service", "allergy_return.approve"} <= set(allergy.rule_ids())
    assert allergy.parameters["allergy_return_categories"].value == ("beauty",)


def test_an_order_with_the_new_claim_type_is_decided(allergy: ruleengine.Policy) -> None:
    order = allergy_order()
    decision = allergy.evaluate(json.dumps(order)).to_dict()
    line = order["items"][0]
    assert "allergy_return" in decision["services"][line["sku"]]
    claim = decision["claim"]
    assert (claim["type"], claim["outcome"], claim["resolution"]) == ("allergic_reaction", "approved", "refund")
    share = (Decimal(line["paid_amount"]) * order["claim"]["quantity"] / line["quantity"]).quantize(Decimal("0.01"))
    assert Decimal(claim["refund_amount"]) == share
    assert claim["refund_timing"] == "on_return_received"  # a return claim type: the parameter's list took the new code
    assert "allergy_return.approve" in decision["fired"]


def test_the_new_guarantee_rejects_late_claims_and_lines_it_does_not_cover(allergy: ruleengine.Policy) -> None:
    days = int(allergy.parameters["allergy_return_days"].value)
    late = allergy.evaluate(json.dumps(allergy_order(days_after_signing=days + 2))).to_dict()
    assert (late["claim"]["outcome"], "allergy_return.late" in late["fired"]) == ("rejected", True)
    food = allergy.evaluate(json.dumps(allergy_order(category="food"))).to_dict()
    assert "allergy_return" not in food["services"][allergy_order()["items"][0]["sku"]]
    assert (food["claim"]["outcome"], "allergy_return.not_covered" in food["fired"]) == ("rejected", True)


def test_a_code_the_policys_vocabulary_does_not_know_is_refused_with_the_pointer_and_the_allowed_codes(
    allergy: ruleengine.Policy, policy: ruleengine.Policy
) -> None:
    order = json.dumps(allergy_order())
    with pytest.raises(ruleengine.FactsError) as refused:
        policy.evaluate(order)  # the default policy has no such claim type
    (problem,) = [p for p in refused.value.problems if p.pointer == "/claim/type"]
    assert "'allergic_reaction' is not allowed" in problem.message
    assert "no_reason_return" in problem.message and "allergic_reaction" not in problem.message.split("expected one of:")[1]
    typo = allergy_order()
    typo["claim"]["type"] = "allergic_reactoin"
    with pytest.raises(ruleengine.FactsError) as mistyped:
        allergy.evaluate(json.dumps(typo))
    (problem,) = [p for p in mistyped.value.problems if p.pointer == "/claim/type"]
    assert "did you mean 'allergic_reaction'?" in problem.message


def test_the_explanation_and_the_decision_text_use_the_policys_names(allergy: ruleengine.Policy) -> None:
    decision = allergy.evaluate(json.dumps(allergy_order()), explain=True).to_dict()
    text = decision_text(decision, allergy)
    assert "过敏包退" in text  # the line's services, by the vocabulary's Chinese name
    assert "售后申请 Claim DM2026100900110 (过敏 allergic_reaction)" in text
    assert "结果 outcome:        批准 approved" in text
    groups = {g["guarantee"]: g for g in explanation_data(decision["trace"], allergy)}
    assert (groups["allergy_return"]["title"], groups["allergy_return"]["title_en"]) == ("过敏包退", "allergy return")
    explained = explanation_text(decision["trace"], allergy)
    assert "过敏包退 allergy_return" in explained
    # the values a condition read are shown by their names too, and so are the values rules set
    assert "item.category = 美妆 beauty" in explained
    assert "params.allergy_return_categories = [美妆 beauty]" in explained
    assert "→ add_service 过敏包退 allergy_return" in explained
    assert "→ set claim.outcome = 批准 approved" in explained


def test_the_catalogue_shows_the_new_guarantee_and_the_vocabulary(allergy: ruleengine.Policy) -> None:
    md = markdown(allergy)
    assert "## 过敏包退 / allergy return — `allergy_return`" in md
    assert "授予服务 add service 过敏包退 `allergy_return`" in md
    assert "| `allergic_reaction` | 过敏 | allergic reaction |" in md
    data = catalogue_data(allergy)
    (entry,) = [g for g in data["guarantees"] if g["id"] == "allergy_return"]
    assert (entry["title"], entry["title_en"]) == ("过敏包退", "allergy return")
    rules = {r["id"] for r in entry["rules"]}
    assert rules == {"allergy_return.service", "allergy_return.not_covered", "allergy_return.late", "allergy_return.approve"}
    assert {"code": "allergy_return", "zh": "过敏包退", "en": "allergy return"} in data["vocabulary"]["service"]["values"]


def test_a_misspelled_new_code_in_a_rule_is_an_error_with_did_you_mean(allergy_root: Path, tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "rules"
    shutil.copytree(allergy_root, root)
    rules = root / "guarantees" / "allergy_return.yaml"
    replace_in(rules, "    when: claim.type == 'allergic_reaction'\n", "    when: claim.type == 'allergic_reactoin'\n")
    replace_in(rules, "      - add_service: allergy_return\n", "      - add_service: allergy_retrun\n")
    with pytest.raises(ruleengine.PolicyError) as failed:
        ruleengine.load_policy(root)
    text = rules.read_text(encoding="utf-8")
    found = {(d.line, d.message) for d in failed.value.diagnostics if d.file.endswith("allergy_return.yaml")}
    typo_line = text[: text.index("allergic_reactoin")].count("\n") + 1
    service_line = text[: text.index("allergy_retrun")].count("\n") + 1
    assert any(line == typo_line and "did you mean 'allergic_reaction'" in message for line, message in found), found
    assert any(line == service_line and "did you mean 'allergy_return'" in message for line, message in found), found


# ---------------------------------------------------------------- the vocabulary file itself


def _vocabulary_errors(root: Path) -> list[ruleengine.Diagnostic]:
    with pytest.raises(ruleengine.PolicyError) as failed:
        ruleengine.load_policy(root)
    return [d for d in failed.value.diagnostics if d.file.endswith("vocabulary.yaml")]


def test_a_subset_naming_a_code_its_set_lacks_is_an_error_at_the_code(policy_copy: Callable[..., Path]) -> None:
    root = policy_copy()
    vocabulary = root / "vocabulary.yaml"

    def misspelt(document: dict[str, Any]) -> None:
        codes = document["vocabulary"]["resolution_requested"]["values"]
        codes[codes.index("exchange")] = "exchnage"

    _edit_yaml(vocabulary, misspelt)
    (error,) = _vocabulary_errors(root)
    text = vocabulary.read_text(encoding="utf-8")
    offset = text.index("exchnage")
    assert (error.line, error.column) == (text[:offset].count("\n") + 1, offset - text.rfind("\n", 0, offset))
    assert "did you mean 'exchange'?" in error.message and "resolution_requested" in error.message


def test_an_unknown_set_a_missing_name_and_a_code_the_engine_needs_are_schema_errors(policy_copy: Callable[..., Path]) -> None:
    root = policy_copy()
    vocabulary = root / "vocabulary.yaml"

    def broken(document: dict[str, Any]) -> None:
        sets = document["vocabulary"]
        document["vocabulary"] = {("claim_typ" if name == "claim_type" else name): spec for name, spec in sets.items()}
        del sets["category"]["values"]["beauty"]["en"]
        del sets["outcome"]["values"]["needs_review"]

    _edit_yaml(vocabulary, broken)
    messages = " | ".join(d.message for d in _vocabulary_errors(root))
    assert "unknown field 'claim_typ' (did you mean 'claim_type'?)" in messages
    assert "missing required field 'en'" in messages
    assert "missing required field 'needs_review'" in messages


def test_a_set_declared_twice_is_an_error_naming_the_first(policy_copy: Callable[..., Path]) -> None:
    again = "vocabulary:\n  channel:\n    title: {zh: 渠道, en: channels}\n    values:\n      app: {zh: App, en: app}\n"
    root = policy_copy(**{"more_vocabulary.yaml": again})
    with pytest.raises(ruleengine.PolicyError) as failed:
        ruleengine.load_policy(root)
    (error,) = [d for d in failed.value.diagnostics if d.code == "duplicate_vocabulary"]
    assert error.file.endswith("vocabulary.yaml") and "already declared at" in error.message


def test_a_policy_adds_a_category_and_a_flag_and_its_orders_may_use_them(
    policy_copy: Callable[..., Path], policy: ruleengine.Policy
) -> None:
    root = policy_copy()
    vocabulary = root / "vocabulary.yaml"

    def added(document: dict[str, Any]) -> None:
        document["vocabulary"]["category"]["values"]["pet_supplies"] = {"zh": "宠物用品", "en": "pet supplies"}
        document["vocabulary"]["flag"]["values"]["fragile"] = {"zh": "易碎", "en": "fragile"}

    _edit_yaml(vocabulary, added)
    extended = ruleengine.load_policy(root)
    order = json.loads((EXAMPLES / "damage-on-arrival-partial-refund-approved.json").read_text(encoding="utf-8"))
    order["items"][0]["category"] = "pet_supplies"
    order["items"][0]["flags"] = ["fragile", "large"]
    assert extended.evaluate(json.dumps(order)).to_dict()["order_id"] == order["order_id"]
    with pytest.raises(ruleengine.FactsError) as refused:
        policy.evaluate(json.dumps(order))
    assert {p.pointer for p in refused.value.problems} >= {"/items/0/category"}


def test_a_policy_without_a_vocabulary_takes_the_default_ones_names(returns_policy: ruleengine.Policy, policy: ruleengine.Policy) -> None:
    assert not any(f.endswith("vocabulary.yaml") for f in returns_policy.files)
    def named(p: ruleengine.Policy) -> dict[str, Any]:
        return {name: (s.title_zh, s.title_en, s.terms) for name, s in p.vocabulary.sets.items()}

    assert named(returns_policy) == named(policy)
    assert returns_policy.vocabulary.words("outcome", "approved") == policy.vocabulary.words("outcome", "approved")


def test_a_policy_that_redeclares_services_only_gets_the_sets_drawn_from_them_redrawn(
    returns_copy: Callable[..., Path], policy: ruleengine.Policy
) -> None:
    services = "\n".join(f"      {t.code}: {{zh: {t.zh}, en: {t.en}}}" for t in policy.vocabulary.sets["service"].terms)
    services += "\n      allergy_return: {zh: 过敏包退, en: allergy return}\n"
    root = returns_copy(**{"vocabulary.yaml": f"vocabulary:\n  service:\n    title: {{zh: 保障, en: services}}\n    values:\n{services}"})
    extended = ruleengine.load_policy(root)
    assert extended.vocabulary.codes("guarantee") == (*policy.vocabulary.codes("service"), "allergy_return", "claims")
    assert extended.vocabulary.codes("shop_service") == policy.vocabulary.codes("shop_service")
    assert extended.vocabulary.zh("guarantee", "allergy_return") == "过敏包退"


# ---------------------------------------------------------------- the service and the playground


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, allergy_root: Path) -> Iterator[Server]:
    import shutil

    # Served without the copied regression cases: a server refuses a policy whose cases fail, and the default
    # policy's cases follow its numbers, which an author may change (server_support.default_policy_without_cases).
    base = tmp_path_factory.mktemp("allergy-service")
    shutil.copytree(allergy_root, base / "served-policy", ignore=shutil.ignore_patterns("cases"))
    with running_server(base, "--rules", str(base / "served-policy")) as server:
        yield server


def test_the_service_offers_the_new_codes_and_their_names(served: Server) -> None:
    with httpx.Client(base_url=served.url) as client:
        vocabulary = client.get("/v1/vocabulary").json()
        assert {"code": "allergy_return", "zh": "过敏包退", "en": "allergy return"} in vocabulary["service"]["values"]
        spec = client.get("/openapi.json").json()["components"]["schemas"]
        claim_type = spec["OrderClaimType"]  # what the playground's claim-type select offers
        assert claim_type["x-vocabulary"] == "claim_type" and "allergic_reaction" in claim_type["enum"]
        assert "allergy_return" in spec["DecisionService"]["enum"]
        decided = client.post("/v1/decisions", json=allergy_order())
        assert decided.status_code == 200, decided.text
        assert decided.json()["claim"]["outcome"] == "approved"


playwright_ready = CHROMIUM.exists() and importlib.util.find_spec("playwright") is not None


@pytest.mark.skipif(not playwright_ready and not os.environ.get("CI"), reason="the browser check needs chromium and playwright")
def test_the_playground_offers_the_new_claim_type_by_its_chinese_name(served: Server) -> None:
    import playwright.sync_api as sync_api

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(locale="zh-CN", timezone_id="Asia/Shanghai")
            page.set_default_timeout(10_000)
            page.goto(served.url + "/")
            page.wait_for_selector("body[data-ready=true]")
            page.get_by_test_id("subtab-text").click()
            page.get_by_test_id("order-text").fill(json.dumps(allergy_order(), ensure_ascii=False))
            page.get_by_test_id("apply-text").click()
            page.get_by_test_id("subtab-form").click()
            select = page.get_by_test_id("field-claim.type")
            sync_api.expect(select).to_have_value("allergic_reaction")
            sync_api.expect(select.locator("option[value=allergic_reaction]")).to_have_text("过敏 allergic_reaction")
            sync_api.expect(page.get_by_test_id("claim-outcome-current")).to_have_text("批准 approved")
            badges = page.get_by_test_id("decision-current").get_by_test_id("service-badge")
            sync_api.expect(badges.filter(has_text="过敏包退")).to_have_count(1)
        finally:
            browser.close()


def test_the_tests_own_policy_has_no_vocabulary_file() -> None:
    """The returns policy stays without one: it checks the fallback to the default policy's sets."""
    assert not (RETURNS / "vocabulary.yaml").exists()


def test_a_set_may_be_drawn_from_a_drawn_set_but_not_in_a_circle(returns_copy: Callable[..., Path]) -> None:
    drawn = (
        "vocabulary:\n  shop_service:\n    title: {zh: 店铺保障, en: shop services}\n"
        "    subset_of: guarantee\n    values: [claims, return_shipping_insurance, trade_in]\n"
    )
    policy = ruleengine.load_policy(returns_copy(**{"vocabulary.yaml": drawn}))  # guarantee: the default's, from service
    assert policy.vocabulary.codes("shop_service") == ("claims", "return_shipping_insurance", "trade_in")
    assert policy.vocabulary.zh("shop_service", "trade_in") == "以旧换新"
    circle = drawn + "  guarantee:\n    title: {zh: 保障, en: guarantees}\n    include: shop_service\n"
    circle += "    values:\n      other: {zh: 其他, en: other}\n"
    (returns_copy() / "vocabulary.yaml").write_text(circle, encoding="utf-8")
    with pytest.raises(ruleengine.PolicyError) as failed:
        ruleengine.load_policy(returns_copy())
    circles = [d for d in failed.value.diagnostics if "in a circle" in d.message]
    assert {d.line for d in circles} == {2, 6}, circles  # both sets, at their names
