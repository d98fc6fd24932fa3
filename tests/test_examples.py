"""Every bundled example order, evaluated with the bundled policy, gives the outcome its README row states.

Only the guarantees the bundled rules implement today are asserted: seven_day_return,
return_shipping_insurance, fast_refund, on_time_shipment and the cross-cutting claim rules.
Claims of types no rule decides yet (counterfeit, quality_issue) must stay ``needs_review``
with a reason from ``claims.undecided``: never approved by default.
"""

from __future__ import annotations

import copy
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import DECISION_SCHEMA, EXAMPLES, load_example

import ruleengine

ROOT = Path(__file__).resolve().parent.parent
IMPLEMENTED = {"seven_day_return", "return_shipping_insurance", "fast_refund", "on_time_shipment"}
D = Decimal


def decide(policy: ruleengine.Policy, facts: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Evaluate, validate the JSON against the decision schema, and return the parsed JSON (Decimal money)."""
    text = policy.evaluate(facts, **kwargs).to_json()
    data: dict[str, Any] = json.loads(text, parse_float=Decimal)
    errors = sorted(DECISION_SCHEMA.iter_errors(data), key=lambda e: list(e.absolute_path))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]
    return data


def implemented(services: list[str]) -> set[str]:
    assert len(services) == len(set(services)), f"duplicate services: {services}"
    return set(services) & IMPLEMENTED


def is_subsequence(part: list[str], whole: list[str]) -> bool:
    it = iter(whole)
    return all(x in it for x in part)


ALL_EXAMPLES = sorted(p.name for p in EXAMPLES.glob("*.json"))


def test_the_schema_check_is_not_vacuous(policy: ruleengine.Policy) -> None:
    data = json.loads(policy.evaluate(load_example("fast-refund-on-return-received.json")).to_json(), parse_float=Decimal)
    assert DECISION_SCHEMA.is_valid(data)
    for path, bad in [
        (("claim", "refund_amount"), Decimal("199.005")),
        (("claim", "refund_amount"), Decimal("-1.00")),
        (("claim", "refund_due_by"), "2026-10-16T14:10:00"),
        (("claim", "refund_due_by"), "2026-02-30T14:10:00+08:00"),
        (("claim", "outcome"), "approve"),
        (("services", "SKU-LB-BLK-520"), ["fast_refund", "fast_refund"]),
    ]:
        broken = copy.deepcopy(data)
        broken[path[0]][path[1]] = bad
        assert not DECISION_SCHEMA.is_valid(broken), (path, bad)


def test_the_examples_folder_is_what_the_readme_lists() -> None:
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"`([^`/]+\.json)`", readme))
    assert listed == set(ALL_EXAMPLES)
    for name in ALL_EXAMPLES:
        assert f"`{name}`" in readme, name


@pytest.mark.parametrize("name", ALL_EXAMPLES)
@pytest.mark.parametrize("explain", [False, True])
def test_every_decision_validates_against_the_decision_schema(policy: ruleengine.Policy, name: str, explain: bool) -> None:
    facts = load_example(name)
    data = decide(policy, facts, explain=explain)
    assert data["order_id"] == facts["order_id"]
    assert data["as_of"] == facts["as_of"]
    assert data["policy"] == {"name": "tmall-guarantees", "version": "2026.11", "digest": policy.digest}
    assert set(data["services"]) == {item["sku"] for item in facts["items"]}
    assert ("claim" in data) == ("claim" in facts)
    assert ("trace" in data) == explain
    if "claim" in data:
        assert data["claim"]["id"] == facts["claim"]["id"]
        assert data["claim"]["type"] == facts["claim"]["type"]
        assert data["claim"]["refund_channel"] == facts["payment"]["method"]
    assert len(data["fired"]) == len(set(data["fired"]))


def _not_owed(claim: dict[str, Any]) -> None:
    """docs/specification.md §5.6: a rejected / needs_review claim owes nothing."""
    assert claim["resolution"] == "none"
    assert claim["refund_amount"] == D("0.00")
    assert claim["compensation_amount"] == D("0.00")
    assert claim["refund_timing"] == "none"
    assert claim["return_shipping_payer"] == "none"
    assert "refund_due_by" not in claim
    assert claim["deductions"] == []


# ---------------------------------------------------------------- no claim


def test_plain_order_has_services_and_nothing_owed(policy: ruleengine.Policy) -> None:
    data = decide(policy, load_example("plain-order-no-claim.json"))
    assert "claim" not in data
    assert data["compensations"] == []
    assert data["violations"] == []
    assert list(data["services"]) == ["SKU-SY-KN-2031-M", "SKU-SY-BT-0552"]
    for services in data["services"].values():
        assert implemented(services) == {"seven_day_return", "return_shipping_insurance", "fast_refund", "on_time_shipment"}
        assert "official_store" not in services  # a flagship is not an official flagship
    assert "on_time_shipment.late" not in data["fired"]
    assert not any(rule.startswith("claims.") for rule in data["fired"])


def test_late_shipment_is_compensated_in_points_with_a_violation(policy: ruleengine.Policy) -> None:
    data = decide(policy, load_example("late-shipment-compensation.json"))
    assert "claim" not in data
    assert data["compensations"] == [
        {"type": "late_shipment", "amount": D("119.70"), "form": "tmall_points", "payer": "merchant", "rule": "on_time_shipment.late"}
    ]
    assert data["violations"] == [{"type": "late_shipment", "rule": "on_time_shipment.late"}]
    assert "on_time_shipment.late" in data["fired"]
    assert "on_time_shipment.stock_out" not in data["fired"]
    assert "on_time_shipment" in data["services"]["SKU-CY-RC-40F"]


def test_unshipped_past_the_deadline_is_late_too(policy: ruleengine.Policy) -> None:
    facts = load_example("late-shipment-compensation.json")
    del facts["logistics"]["shipped_at"]
    facts["logistics"]["status"] = "awaiting_shipment"
    data = decide(policy, facts)
    assert [c["type"] for c in data["compensations"]] == ["late_shipment"]
    assert data["compensations"][0]["amount"] == D("119.70")


def test_shipped_exactly_at_the_promise_is_not_late(policy: ruleengine.Policy) -> None:
    facts = load_example("late-shipment-compensation.json")
    facts["logistics"]["shipped_at"] = facts["logistics"]["promised_ship_by"]
    data = decide(policy, facts)
    assert data["compensations"] == []
    assert data["violations"] == []


def test_late_shipment_compensation_is_capped_at_500(policy: ruleengine.Policy) -> None:
    facts = load_example("late-shipment-compensation.json")
    item = facts["items"][0]
    item["unit_price"] = item["paid_amount"] = D("2999.00")
    facts["payment"]["amount"] = D("2999.00")
    data = decide(policy, facts)
    assert data["compensations"][0]["amount"] == D("500.00")


def test_stock_out_admitted_in_time_pays_ten_percent_red_packet(policy: ruleengine.Policy) -> None:
    data = decide(policy, load_example("stock-out-compensation.json"))
    assert "claim" not in data
    assert data["compensations"] == [
        {"type": "stock_out", "amount": D("129.90"), "form": "red_packet", "payer": "merchant", "rule": "on_time_shipment.stock_out"}
    ]
    assert data["violations"] == [{"type": "stock_out", "rule": "on_time_shipment.stock_out"}]
    # stock-out replaces the late-shipment compensation although it is unshipped past the deadline
    assert "on_time_shipment.late" not in data["fired"]
    assert all(c["type"] != "late_shipment" for c in data["compensations"])


def test_stock_out_admitted_after_the_deadline_pays_fifteen_percent(policy: ruleengine.Policy) -> None:
    facts = load_example("stock-out-compensation.json")
    facts["logistics"]["stock_out_admitted_at"] = "2026-10-04T10:00:00+08:00"  # at the deadline: not strictly before (spec §4.14)
    data = decide(policy, facts)
    assert [(c["type"], c["amount"]) for c in data["compensations"]] == [("stock_out", D("194.85"))]


def test_stock_out_before_the_2026_04_09_change_pays_fifteen_percent_even_if_admitted_early(policy: ruleengine.Policy) -> None:
    facts = load_example("stock-out-compensation.json")
    facts["placed_at"] = "2026-03-01T09:59:00+08:00"
    facts["paid_at"] = "2026-03-01T10:00:00+08:00"
    facts["logistics"]["promised_ship_by"] = "2026-03-04T10:00:00+08:00"
    facts["logistics"]["stock_out_admitted_at"] = "2026-03-02T16:30:00+08:00"
    facts["as_of"] = "2026-03-05T09:00:00+08:00"
    data = decide(policy, facts)
    assert [(c["type"], c["amount"], c["form"]) for c in data["compensations"]] == [("stock_out", D("194.85"), "red_packet")]


def test_stock_out_short_promise_and_minimum(policy: ruleengine.Policy) -> None:
    facts = load_example("stock-out-compensation.json")
    facts["logistics"]["promise_hours"] = 48
    del facts["logistics"]["stock_out_admitted_at"]
    item = facts["items"][0]
    item["unit_price"] = item["paid_amount"] = facts["payment"]["amount"] = D("19.90")
    data = decide(policy, facts)
    assert [(c["type"], c["amount"]) for c in data["compensations"]] == [("stock_out", D("5.00"))]  # 1.99 raised to the minimum 5


# ---------------------------------------------------------------- 7-day returns


def test_last_minute_request_is_approved(policy: ruleengine.Policy) -> None:
    data = decide(policy, load_example("seven-day-return-last-minute-approved.json"))
    claim = data["claim"]
    assert claim["outcome"] == "approved"
    assert claim["resolution"] == "refund"
    assert claim["refund_amount"] == D("259.00")
    assert claim["compensation_amount"] == D("0.00")
    assert claim["refund_timing"] == "immediate"
    assert "refund_due_by" not in claim
    assert claim["refund_channel"] == "huabei"
    assert claim["return_shipping_payer"] == "insurance"
    assert claim["deductions"] == []
    assert [r["rule"] for r in claim["reasons"]] == ["seven_day_return.approve_return", "fast_refund.immediate"]
    assert implemented(data["services"]["SKU-BW-HD-8810-XL"]) == IMPLEMENTED
    assert is_subsequence(["seven_day_return.service", "seven_day_return.approve_return", "fast_refund.immediate"], data["fired"])
    assert "seven_day_return.late" not in data["fired"]
    assert "claims.refund_due_by" not in data["fired"]
    assert data["compensations"] == [] and data["violations"] == []


def test_request_at_the_window_end_is_rejected(policy: ruleengine.Policy) -> None:
    data = decide(policy, load_example("seven-day-return-late-rejected.json"))
    claim = data["claim"]
    assert claim["outcome"] == "rejected"
    _not_owed(claim)
    assert claim["refund_channel"] == "huabei"
    assert [r["rule"] for r in claim["reasons"]] == ["seven_day_return.late"]
    message = claim["reasons"][0]["message"]
    assert "申请时间 2026-11-19 00:00" in message
    assert message.index("申请时间") < message.index("requested at")  # Chinese first
    assert "2026-11-19 00:00" in message.split(" / ", 1)[1]
    assert "seven_day_return.late" in data["fired"]
    assert "seven_day_return.approve_return" not in data["fired"]
    assert "claims.not_approved_owes_nothing" in data["fired"]


@pytest.mark.parametrize(
    ("requested_at", "outcome"),
    [
        ("2026-11-18T23:59:59+08:00", "approved"),  # the last second of the window
        ("2026-11-19T00:00:00+08:00", "rejected"),  # the first late instant
        ("2026-11-18T15:59:59Z", "approved"),  # the same instants written in UTC
        ("2026-11-18T16:00:00Z", "rejected"),
        ("2026-11-18T16:00:00+00:00", "rejected"),
        ("2026-11-12T00:00:00+08:00", "approved"),  # the day after signing
    ],
)
def test_the_window_boundary_is_a_shanghai_midnight(policy: ruleengine.Policy, requested_at: str, outcome: str) -> None:
    facts = load_example("seven-day-return-last-minute-approved.json")
    facts["claim"]["requested_at"] = requested_at
    assert decide(policy, facts)["claim"]["outcome"] == outcome


def test_signing_late_in_the_utc_evening_counts_on_the_shanghai_calendar(policy: ruleengine.Policy) -> None:
    # 2026-11-11T23:30Z is 2026-11-12 07:30 in Shanghai: the window ends 2026-11-20 00:00 +08:00.
    facts = load_example("seven-day-return-last-minute-approved.json")
    facts["logistics"]["signed_at"] = "2026-11-11T23:30:00Z"
    facts["claim"]["requested_at"] = "2026-11-19T23:59:00+08:00"
    facts["claim"]["return_tracking_uploaded_at"] = "2026-11-20T08:00:00+08:00"
    facts["as_of"] = "2026-11-20T10:00:00+08:00"
    assert decide(policy, facts)["claim"]["outcome"] == "approved"
    facts["claim"]["requested_at"] = "2026-11-20T00:00:00+08:00"
    assert decide(policy, facts)["claim"]["outcome"] == "rejected"


def test_gift_kept_is_deducted(policy: ruleengine.Policy) -> None:
    data = decide(policy, load_example("seven-day-return-gift-not-returned.json"))
    claim = data["claim"]
    assert claim["outcome"] == "approved"
    assert claim["resolution"] == "refund"
    assert claim["refund_amount"] == D("119.00")
    assert claim["deductions"] == [{"type": "gift_not_returned", "amount": D("20.00")}]
    assert claim["refund_timing"] == "immediate"
    assert claim["return_shipping_payer"] == "buyer"  # the shop has no insurance
    assert data["services"]["SKU-QY-CL-030-GIFT"] == []  # a gift line gets no services
    assert implemented(data["services"]["SKU-QY-CL-120"]) == {"seven_day_return", "fast_refund", "on_time_shipment"}
    assert is_subsequence(
        ["seven_day_return.approve_return", "seven_day_return.gift_not_returned", "seven_day_return.refund_after_deductions"],
        data["fired"],
    )
    reasons = {r["rule"]: r["message"] for r in claim["reasons"]}
    assert "20.00" in reasons["seven_day_return.gift_not_returned"]


def test_gift_returned_means_no_deduction(policy: ruleengine.Policy) -> None:
    facts = load_example("seven-day-return-gift-not-returned.json")
    facts["claim"]["gift_returned"] = True
    claim = decide(policy, facts)["claim"]
    assert claim["refund_amount"] == D("139.00")
    assert claim["deductions"] == []


def test_deductions_never_make_the_refund_negative(policy: ruleengine.Policy) -> None:
    facts = load_example("seven-day-return-gift-not-returned.json")
    facts["items"][1]["declared_gift_value"] = D("500.00")
    claim = decide(policy, facts)["claim"]
    assert claim["outcome"] == "approved"
    assert claim["deductions"] == [{"type": "gift_not_returned", "amount": D("500.00")}]
    assert claim["refund_amount"] == D("0.00")


def test_conditional_free_shipping_lost(policy: ruleengine.Policy) -> None:
    data = decide(policy, load_example("seven-day-return-conditional-free-shipping-lost.json"))
    claim = data["claim"]
    assert claim["outcome"] == "approved"
    assert claim["refund_amount"] == D("59.00")
    assert claim["deductions"] == [{"type": "free_shipping_lost", "amount": D("10.00")}]
    assert claim["refund_timing"] == "on_return_received"
    assert claim["refund_due_by"] == "2026-09-27T14:30:00+08:00"
    assert claim["return_shipping_payer"] == "buyer"
    for services in data["services"].values():
        assert "fast_refund" not in services  # credit 560
        assert implemented(services) == {"seven_day_return", "on_time_shipment"}
    assert [r["rule"] for r in claim["reasons"]] == [
        "seven_day_return.approve_return",
        "seven_day_return.free_shipping_lost",
        "claims.refund_due_by",
    ]
    assert "59.00" in claim["reasons"][1]["message"] and "99.00" in claim["reasons"][1]["message"]


def test_kept_total_at_the_free_shipping_threshold_keeps_the_offer(policy: ruleengine.Policy) -> None:
    facts = load_example("seven-day-return-conditional-free-shipping-lost.json")
    facts["shipping"]["threshold"] = D("59.00")  # kept 59.00 is not below 59.00
    claim = decide(policy, facts)["claim"]
    assert claim["refund_amount"] == D("69.00")
    assert claim["deductions"] == []


def test_promotion_lost_resettles_the_order(policy: ruleengine.Policy) -> None:
    data = decide(policy, load_example("seven-day-return-promotion-lost.json"))
    claim = data["claim"]
    assert claim["outcome"] == "approved"
    assert claim["refund_amount"] == D("110.00")
    assert claim["deductions"] == [{"type": "promotion_lost", "amount": D("30.00")}]
    assert claim["refund_timing"] == "immediate"
    assert claim["return_shipping_payer"] == "insurance"
    assert is_subsequence(
        ["seven_day_return.approve_return", "seven_day_return.promotion_lost", "seven_day_return.refund_after_deductions"],
        data["fired"],
    )


def test_excluded_fresh_food_is_rejected_naming_the_missing_service(policy: ruleengine.Policy) -> None:
    data = decide(policy, load_example("seven-day-return-excluded-fresh-food-rejected.json"))
    claim = data["claim"]
    assert claim["outcome"] == "rejected"
    _not_owed(claim)
    assert "seven_day_return" not in data["services"]["SKU-HP-CR-4P"]
    assert implemented(data["services"]["SKU-HP-CR-4P"]) == {"fast_refund", "on_time_shipment"}
    assert [r["rule"] for r in claim["reasons"]] == ["seven_day_return.not_covered"]
    message = claim["reasons"][0]["message"]
    assert "7天无理由" in message and "7-day no-reason return" in message
    assert "seven_day_return.not_covered" in data["fired"]


@pytest.mark.parametrize(
    ("category", "flags", "covered"),
    [
        ("custom_goods", [], False),
        ("apparel", ["customized"], False),
        ("digital_content", [], False),
        ("audio_video", ["unsealed_media"], False),
        ("periodicals", [], False),
        ("services", [], False),
        ("underwear", ["no_return_confirmed"], False),
        ("underwear", [], True),  # without the buyer's confirmation the line keeps the service
        ("fresh_food", ["seven_day_opt_in"], True),  # a merchant opt-in grants it over every exclusion
        ("books", [], True),
    ],
)
def test_seven_day_service_exclusions(policy: ruleengine.Policy, category: str, flags: list[str], covered: bool) -> None:
    facts = load_example("seven-day-return-excluded-fresh-food-rejected.json")
    facts["items"][0]["category"] = category
    facts["items"][0]["flags"] = flags
    data = decide(policy, facts)
    assert ("seven_day_return" in data["services"]["SKU-HP-CR-4P"]) is covered
    assert data["claim"]["outcome"] == ("approved" if covered else "rejected")


@pytest.mark.parametrize(
    ("condition", "outcome"), [("opened_for_inspection", "approved"), ("used", "rejected"), ("tags_removed", "rejected")]
)
def test_item_condition(policy: ruleengine.Policy, condition: str, outcome: str) -> None:
    facts = load_example("fast-refund-immediate.json")
    facts["claim"]["item_condition"] = condition
    claim = decide(policy, facts)["claim"]
    assert claim["outcome"] == outcome
    if outcome == "rejected":
        _not_owed(claim)
        assert [r["rule"] for r in claim["reasons"]] == ["seven_day_return.condition"]


def test_no_reason_claim_before_signing_needs_review(policy: ruleengine.Policy) -> None:
    facts = load_example("fast-refund-immediate.json")
    del facts["logistics"]["signed_at"]
    facts["logistics"]["status"] = "in_transit"
    claim = decide(policy, facts)["claim"]
    assert claim["outcome"] == "needs_review"
    _not_owed(claim)
    assert [r["rule"] for r in claim["reasons"]] == ["seven_day_return.not_signed"]


def test_exchange_is_approved_and_the_buyer_pays_shipping(policy: ruleengine.Policy) -> None:
    data = decide(policy, load_example("seven-day-exchange-approved.json"))
    claim = data["claim"]
    assert claim["outcome"] == "approved"
    assert claim["resolution"] == "exchange"
    assert claim["refund_amount"] == D("0.00")
    assert claim["refund_timing"] == "none"
    assert "refund_due_by" not in claim
    assert claim["return_shipping_payer"] == "buyer"
    assert claim["deductions"] == []
    assert [r["rule"] for r in claim["reasons"]] == ["seven_day_return.approve_exchange"]
    assert "fast_refund.immediate" not in data["fired"]


def test_exchange_with_insurance_still_billed_to_the_buyer(policy: ruleengine.Policy) -> None:
    facts = load_example("seven-day-exchange-approved.json")
    facts["shop"]["services"] = ["return_shipping_insurance"]
    claim = decide(policy, facts)["claim"]
    assert claim["resolution"] == "exchange"
    assert claim["return_shipping_payer"] == "buyer"


def test_late_exchange_is_rejected(policy: ruleengine.Policy) -> None:
    facts = load_example("seven-day-exchange-approved.json")
    facts["claim"]["requested_at"] = "2026-10-20T00:00:00+08:00"  # signed 10-12: the window ended 10-20 00:00
    facts["as_of"] = "2026-10-20T08:00:00+08:00"
    claim = decide(policy, facts)["claim"]
    assert claim["outcome"] == "rejected"
    _not_owed(claim)


# ---------------------------------------------------------------- fast refund, insurance, abuse


def test_fast_refund_immediate(policy: ruleengine.Policy) -> None:
    data = decide(policy, load_example("fast-refund-immediate.json"))
    claim = data["claim"]
    assert claim["outcome"] == "approved"
    assert claim["refund_amount"] == D("299.00")
    assert claim["refund_timing"] == "immediate"
    assert "refund_due_by" not in claim
    assert claim["return_shipping_payer"] == "insurance"
    assert implemented(data["services"]["SKU-LC-ETB-S3"]) == IMPLEMENTED
    assert "fast_refund.immediate" in data["fired"]


def test_fast_refund_without_tracking_is_paid_on_receipt(policy: ruleengine.Policy) -> None:
    data = decide(policy, load_example("fast-refund-on-return-received.json"))
    claim = data["claim"]
    assert claim["outcome"] == "approved"
    assert claim["refund_amount"] == D("199.00")
    assert claim["refund_timing"] == "on_return_received"
    assert claim["refund_due_by"] == "2026-10-16T14:10:00+08:00"
    assert claim["return_shipping_payer"] == "buyer"
    assert "fast_refund" in data["services"]["SKU-LB-BLK-520"]
    assert "fast_refund.immediate" not in data["fired"]
    assert is_subsequence(["claims.refund_on_return_received", "claims.refund_due_by"], data["fired"])
    assert any(r["rule"] == "claims.refund_due_by" and "2026-10-16 14:10" in r["message"] for r in claim["reasons"])


def test_on_receipt_without_receipt_has_no_due_date(policy: ruleengine.Policy) -> None:
    facts = load_example("fast-refund-on-return-received.json")
    del facts["claim"]["merchant_received_at"]
    claim = decide(policy, facts)["claim"]
    assert claim["refund_timing"] == "on_return_received"
    assert "refund_due_by" not in claim


@pytest.mark.parametrize(("score", "has_fast_refund"), [(599, False), (600, True)])
def test_fast_refund_credit_threshold(policy: ruleengine.Policy, score: int, has_fast_refund: bool) -> None:
    facts = load_example("fast-refund-immediate.json")
    facts["buyer"]["credit_score"] = score
    data = decide(policy, facts)
    assert ("fast_refund" in data["services"]["SKU-LC-ETB-S3"]) is has_fast_refund
    assert data["claim"]["refund_timing"] == ("immediate" if has_fast_refund else "on_return_received")


def test_abuse_flag_loses_fast_refund_and_pays_return_shipping(policy: ruleengine.Policy) -> None:
    data = decide(policy, load_example("abuse-flag-buyer-pays-return.json"))
    services = data["services"]["SKU-HY-DR-3306-S"]
    assert "fast_refund" not in services
    assert "return_shipping_insurance" in services  # stays listed (docs/specification.md §5.3)
    claim = data["claim"]
    assert claim["outcome"] == "approved"
    assert claim["refund_amount"] == D("299.00")
    assert claim["return_shipping_payer"] == "buyer"
    assert claim["refund_timing"] == "on_return_received"  # not immediate although tracking was uploaded
    assert claim["refund_due_by"] == "2026-10-28T10:45:00+08:00"
    assert "fast_refund.service" not in data["fired"]
    assert "fast_refund.immediate" not in data["fired"]


def test_without_the_abuse_flag_the_same_order_is_insured_and_immediate(policy: ruleengine.Policy) -> None:
    facts = load_example("abuse-flag-buyer-pays-return.json")
    facts["buyer"]["abuse_flag"] = False
    claim = decide(policy, facts)["claim"]
    assert claim["return_shipping_payer"] == "insurance"
    assert claim["refund_timing"] == "immediate"
    assert "refund_due_by" not in claim


def test_partial_return_of_a_multi_unit_line(policy: ruleengine.Policy) -> None:
    data = decide(policy, load_example("multi-line-partial-return.json"))
    claim = data["claim"]
    assert claim["outcome"] == "approved"
    assert claim["refund_amount"] == D("33.33")
    assert claim["refund_timing"] == "immediate"
    assert claim["return_shipping_payer"] == "buyer"
    assert claim["deductions"] == []
    assert list(data["services"]) == ["SKU-JY-TS-WH-L", "SKU-JY-SC-WL-GR", "SKU-JY-HC-SET"]


# ---------------------------------------------------------------- not implemented yet: never approved by default


def test_counterfeit_on_tmall_global_is_compensated_ninefold(policy: ruleengine.Policy) -> None:
    data = decide(policy, load_example("counterfeit-global-confirmed-ninefold.json"))
    claim = data["claim"]
    assert (claim["outcome"], claim["resolution"], claim["refund_amount"]) == ("approved", "refund", D("860.00"))
    assert claim["compensation_amount"] == D("7740.00")
    assert claim["return_shipping_payer"] == "merchant"
    assert data["compensations"] == [
        {"type": "counterfeit", "amount": D("7740.00"), "form": "cash", "payer": "merchant", "rule": "authenticity.approve"}
    ]


def test_quality_return_of_every_unit_refunds_the_postage(policy: ruleengine.Policy) -> None:
    claim = decide(policy, load_example("quality-issue-full-return-refunds-postage.json"))["claim"]
    assert (claim["outcome"], claim["refund_amount"], claim["refund_timing"]) == ("approved", D("137.00"), "immediate")
    assert claim["return_shipping_payer"] == "merchant"


@pytest.mark.parametrize(
    "claim_type",
    ["quality_issue", "counterfeit", "not_as_described", "price_drop", "installation_issue", "trade_in", "repair"],
)
def test_no_claim_type_is_approved_by_default(policy: ruleengine.Policy, claim_type: str) -> None:
    facts = load_example("fast-refund-immediate.json")
    facts["claim"]["type"] = claim_type
    claim = decide(policy, copy.deepcopy(facts))["claim"]
    assert claim["outcome"] != "approved"
    _not_owed(claim)
    assert claim["reasons"], "a claim that is not approved must say why"


def test_refund_due_by_is_written_on_the_shanghai_calendar(policy: ruleengine.Policy) -> None:
    facts = load_example("fast-refund-on-return-received.json")
    facts["claim"]["merchant_received_at"] = "2026-10-09T06:10:00Z"  # = 14:10 in Shanghai
    claim = decide(policy, facts)["claim"]
    assert claim["refund_due_by"] == "2026-10-16T14:10:00+08:00"


def test_late_shipment_base_excludes_gift_lines(policy: ruleengine.Policy) -> None:
    facts = load_example("seven-day-return-gift-not-returned.json")
    facts["logistics"]["shipped_at"] = "2026-10-07T12:31:31+08:00"  # one second after the promise
    data = decide(policy, facts)
    assert data["compensations"] == [
        {"type": "late_shipment", "amount": D("41.70"), "form": "tmall_points", "payer": "merchant", "rule": "on_time_shipment.late"}
    ]  # 30 % of 139.00: the gift line's declared value is not part of the actual price
    assert data["claim"]["refund_amount"] == D("119.00")  # the claim is decided as before
