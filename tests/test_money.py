"""Money is exact: Decimal in, Decimal through the rules, half-up to 0.01, two decimals out; never a float."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLES, load_example

import ruleengine
from ruleengine.functions import ExpressionFailure, percent_of, prorata, round_money

D = Decimal
MONEY_KEYS = ("refund_amount", "compensation_amount", "amount")


# ---------------------------------------------------------------- the functions


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2.675", "2.68"),  # float(2.675) is 2.67499999…: exact decimal rounds up
        ("0.125", "0.13"),  # half-up, not half-even (0.12)
        ("0.005", "0.01"),
        ("2.665", "2.67"),  # half-even would give 2.66
        ("0.004999", "0.00"),
        ("1.994", "1.99"),
        ("1.995", "2.00"),
        ("-0.125", "-0.13"),  # half away from zero
        ("1000000000.005", "1000000000.01"),
        ("59.97", "59.97"),
        ("7", "7.00"),
    ],
)
def test_round_money_is_half_up_to_the_cent(value: str, expected: str) -> None:
    result = round_money(D(value))
    assert isinstance(result, Decimal)
    assert str(result) == expected  # exact digits: 2 decimals, no exponent


def test_round_money_of_an_integer() -> None:
    assert str(round_money(5)) == "5.00"


@pytest.mark.parametrize(
    ("amount", "part", "whole", "expected"),
    [
        ("100.00", 1, 3, "33.33"),
        ("100.00", 2, 3, "66.67"),
        ("100.00", 3, 3, "100.00"),
        ("59.97", 3, 3, "59.97"),
        ("59.97", 1, 3, "19.99"),
        ("59.97", 2, 3, "39.98"),
        ("0.05", 1, 2, "0.03"),  # 0.025 half-up
        ("0.01", 1, 3, "0.00"),
        ("10.00", 1, 8, "1.25"),
        ("1.00", 1, 8, "0.13"),  # 0.125 half-up
    ],
)
def test_prorata(amount: str, part: int, whole: int, expected: str) -> None:
    result = prorata(D(amount), part, whole)
    assert isinstance(result, Decimal)
    assert str(result) == expected


def test_prorata_shares_of_every_unit_add_up_to_the_line() -> None:
    assert prorata(D("59.97"), 1, 3) * 3 == D("59.97")
    assert prorata(D("100.00"), 1, 3) + prorata(D("100.00"), 2, 3) == D("100.00")


def test_prorata_of_nothing_is_an_expression_failure() -> None:
    with pytest.raises(ExpressionFailure, match="division by zero"):
        prorata(D("100.00"), 1, 0)


@pytest.mark.parametrize(
    ("amount", "rate", "expected"), [("399.00", "0.30", "119.70"), ("1.15", "0.30", "0.35"), ("36.70", "0.15", "5.51")]
)
def test_percent_of_is_half_up(amount: str, rate: str, expected: str) -> None:
    assert str(percent_of(D(amount), D(rate))) == expected


# ---------------------------------------------------------------- through rules
# Amounts a policy computes from parameters (rates, caps) are checked with the tests' own policy
# (tests/policies/returns: late shipment 30 %, stock-out 10 % / 15 %), whose numbers these tests own.


def _no_floats(value: Any, where: str = "") -> None:
    assert not isinstance(value, float), f"float at {where or '/'}: {value!r}"
    if isinstance(value, dict):
        for k, v in value.items():
            _no_floats(v, f"{where}/{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _no_floats(v, f"{where}/{i}")


def _set_items(facts: dict[str, Any], *lines: tuple[str, str, int, str]) -> None:
    """Replace the order's lines by (sku, unit_price, quantity, paid_amount) and fix the paid total."""
    template = facts["items"][0]
    facts["items"] = [
        {**template, "sku": sku, "unit_price": D(unit), "quantity": qty, "paid_amount": D(paid), "gift": False, "flags": []}
        for sku, unit, qty, paid in lines
    ]
    facts["payment"]["amount"] = sum((D(paid) for *_, paid in lines), D("0.00")) + facts["shipping"]["fee"]


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.json")))
def test_no_float_anywhere_in_a_decision(policy: ruleengine.Policy, name: str) -> None:
    data = policy.evaluate(load_example(name), explain=True).to_dict()
    _no_floats(data)
    claim = data.get("claim")
    if claim is not None:
        assert isinstance(claim["refund_amount"], Decimal)
        assert isinstance(claim["compensation_amount"], Decimal)
        for d in claim["deductions"]:
            assert isinstance(d["amount"], Decimal)
    for c in data["compensations"]:
        assert isinstance(c["amount"], Decimal)


def test_point_one_plus_point_two_free_shipping_order(policy: ruleengine.Policy) -> None:
    facts = load_example("seven-day-return-conditional-free-shipping-lost.json")
    _set_items(facts, ("A", "0.10", 1, "0.10"), ("B", "0.20", 1, "0.20"))
    facts["shipping"].update(threshold=D("0.25"), waived_fee=D("0.05"))
    facts["claim"]["sku"] = "A"
    claim = policy.evaluate(facts).to_dict()["claim"]
    assert claim["outcome"] == "approved"
    assert claim["deductions"] == [{"type": "free_shipping_lost", "amount": D("0.05")}]
    assert claim["refund_amount"] == D("0.05")  # 0.10 − 0.05
    message = next(r["message"] for r in claim["reasons"] if r["rule"] == "seven_day_return.free_shipping_lost")
    assert "0.20" in message and "0.25" in message and "0.05" in message
    assert "0.19999" not in message and "0.20000" not in message

    facts["claim"]["sku"] = "B"
    claim = policy.evaluate(facts).to_dict()["claim"]
    assert claim["refund_amount"] == D("0.15")  # 0.20 − 0.05


def test_kept_total_equal_to_the_threshold_is_exact(policy: ruleengine.Policy) -> None:
    # In binary floating point 0.70 + 0.10 + 0.20 − 0.20 = 0.7999999999999999 < 0.80 and the offer would be lost.
    facts = load_example("seven-day-return-conditional-free-shipping-lost.json")
    _set_items(facts, ("A", "0.70", 1, "0.70"), ("B", "0.10", 1, "0.10"), ("C", "0.20", 1, "0.20"))
    facts["shipping"].update(threshold=D("0.80"), waived_fee=D("0.05"))
    facts["claim"]["sku"] = "C"
    data = policy.evaluate(facts).to_dict()
    assert data["claim"]["deductions"] == []
    assert data["claim"]["refund_amount"] == D("0.20")
    assert "seven_day_return.free_shipping_lost" not in data["fired"]


@pytest.mark.parametrize(("quantity", "expected"), [(3, "59.97"), (2, "39.98"), (1, "19.99")])
def test_nineteen_ninety_nine_times_three(returns_policy: ruleengine.Policy, quantity: int, expected: str) -> None:
    facts = load_example("fast-refund-immediate.json")
    _set_items(facts, ("SKU-LC-ETB-S3", "19.99", 3, "59.97"))
    facts["claim"]["quantity"] = quantity
    claim = returns_policy.evaluate(facts).to_dict()["claim"]
    assert claim["outcome"] == "approved"
    assert claim["refund_amount"] == D(expected)
    assert str(claim["refund_amount"]) == expected


@pytest.mark.parametrize(("quantity", "expected"), [(1, "33.33"), (2, "66.67"), (3, "100.00")])
def test_hundred_over_three_units_is_half_up(returns_policy: ruleengine.Policy, quantity: int, expected: str) -> None:
    facts = load_example("multi-line-partial-return.json")
    facts["claim"]["quantity"] = quantity
    claim = returns_policy.evaluate(facts).to_dict()["claim"]
    assert claim["outcome"] == "approved"
    assert str(claim["refund_amount"]) == expected


def test_late_shipment_compensation_rounds_half_up(returns_policy: ruleengine.Policy) -> None:
    facts = load_example("late-shipment-compensation.json")
    _set_items(facts, ("SKU-CY-RC-40F", "1.15", 1, "1.15"))
    data = returns_policy.evaluate(facts).to_dict()
    assert [str(c["amount"]) for c in data["compensations"]] == ["0.35"]  # 0.345 → 0.35 (a float gives 0.34)


def test_stock_out_compensation_rounds_half_up(returns_policy: ruleengine.Policy) -> None:
    facts = load_example("stock-out-compensation.json")
    facts["logistics"]["stock_out_admitted_at"] = "2026-10-04T11:00:00+08:00"  # too late: 15 %
    _set_items(facts, ("SKU-QF-AP-600", "36.70", 1, "36.70"))
    data = returns_policy.evaluate(facts).to_dict()
    assert [(c["type"], str(c["amount"])) for c in data["compensations"]] == [("stock_out", "5.51")]  # 5.505 → 5.51


# ---------------------------------------------------------------- through a rule of our own

RULE = """\
rules:
  - id: tests_money.refund
    guarantee: claims
    title: {{zh: 测试金额, en: Test amount}}
    description: Sets the refund to an expression, to test money arithmetic.
    stage: finalize
    priority: 50
    scope: claimed_line
    when: decision.claim.outcome == 'approved'
    then:
      - set: {{claim.refund_amount: "{expr}"}}
      - reason:
          zh: "金额 {{{expr}}} 元"
          en: "amount {{{expr}}}"
"""


@pytest.fixture
def money_policy(returns_copy: Callable[..., Path]) -> Callable[[str], ruleengine.Policy]:
    def make(expr: str) -> ruleengine.Policy:
        return ruleengine.load_policy(returns_copy(**{"tests_money.yaml": RULE.format(expr=expr)}))

    return make


@pytest.mark.parametrize(
    ("lines", "expr", "expected"),
    [
        ([("A", "0.10", 1, "0.10"), ("B", "0.20", 1, "0.20")], "sum(l.paid_amount for l in items)", "0.30"),
        ([("A", "0.10", 1, "0.10"), ("B", "0.20", 1, "0.20")], "0.1 + 0.2", "0.30"),
        ([("A", "0.10", 1, "0.10"), ("B", "0.20", 1, "0.20")], "sum(l.paid_amount for l in items) - 0.3 + 1", "1.00"),
        ([("A", "19.99", 3, "59.97")], "item.unit_price * claim.quantity", "59.97"),
        ([("A", "19.99", 3, "59.97")], "item.unit_price * 3 - item.paid_amount", "0.00"),
        ([("A", "100.00", 3, "100.00")], "item.paid_amount / 3", "33.33"),
        ([("A", "100.00", 3, "100.00")], "item.paid_amount * 2 / 3", "66.67"),
        ([("A", "1.00", 1, "1.00")], "item.paid_amount / 8", "0.13"),
        ([("A", "1.00", 1, "1.00")], "1.675 + 1", "2.68"),
    ],
)
def test_rule_arithmetic_is_exact(
    money_policy: Callable[[str], ruleengine.Policy], lines: list[tuple[str, str, int, str]], expr: str, expected: str
) -> None:
    policy = money_policy(expr)
    facts = load_example("fast-refund-immediate.json")
    _set_items(facts, *lines)
    facts["claim"]["sku"] = "A"
    facts["claim"]["quantity"] = lines[0][2]
    decision = policy.evaluate(facts)
    claim = decision.to_dict()["claim"]
    assert "tests_money.refund" in decision.fired
    assert str(claim["refund_amount"]) == expected
    assert f'"refund_amount":{expected},' in decision.to_json()


def test_a_negative_computed_amount_is_an_evaluation_error(money_policy: Callable[[str], ruleengine.Policy]) -> None:
    policy = money_policy("item.paid_amount - 1000")
    with pytest.raises(ruleengine.EvaluationError) as info:
        policy.evaluate(load_example("fast-refund-immediate.json"))
    assert info.value.rule == "tests_money.refund"
    assert info.value.file.endswith("tests_money.yaml")
    assert info.value.line > 0
    assert "negative" in str(info.value)


def test_reason_text_shows_the_same_half_up_amount(money_policy: Callable[[str], ruleengine.Policy]) -> None:
    policy = money_policy("item.paid_amount / 8")
    facts = load_example("fast-refund-immediate.json")
    _set_items(facts, ("SKU-LC-ETB-S3", "1.00", 1, "1.00"))
    claim = policy.evaluate(facts).to_dict()["claim"]
    assert str(claim["refund_amount"]) == "0.13"
    message = next(r["message"] for r in claim["reasons"] if r["rule"] == "tests_money.refund")
    assert message == "金额 0.13 元 / amount 0.13"


# ---------------------------------------------------------------- floats in, text out


def test_float_in_an_integer_field_is_refused_at_its_pointer(policy: ruleengine.Policy) -> None:
    facts = load_example("fast-refund-immediate.json")
    facts["buyer"]["credit_score"] = 720.0
    with pytest.raises(ruleengine.FactsError) as info:
        policy.evaluate(facts)
    assert [(p.pointer, p.code) for p in info.value.problems] == [("/buyer/credit_score", "float")]


@pytest.mark.parametrize("where", [("items", 0, "paid_amount"), ("payment", "amount"), ("shipping", "fee")])
def test_float_amount_is_refused_with_a_facts_error(policy: ruleengine.Policy, where: tuple[Any, ...]) -> None:
    facts = load_example("fast-refund-immediate.json")
    target: Any = facts
    for key in where[:-1]:
        target = target[key]
    target[where[-1]] = float(target[where[-1]])
    pointer = "/" + "/".join(str(k) for k in where)
    with pytest.raises(ruleengine.FactsError) as info:
        policy.evaluate(facts)
    assert [(p.pointer, p.code) for p in info.value.problems] == [(pointer, "float")]
    assert "float" in info.value.problems[0].message


def test_money_is_written_with_two_decimals(returns_policy: ruleengine.Policy) -> None:
    text = returns_policy.evaluate(load_example("seven-day-return-last-minute-approved.json")).to_json()
    assert '"refund_amount":259.00,' in text
    assert '"compensation_amount":0.00,' in text
    pretty = returns_policy.evaluate(load_example("late-shipment-compensation.json")).to_json(indent=2)
    assert '"amount": 119.70,' in pretty
    gift = returns_policy.evaluate(load_example("seven-day-return-gift-not-returned.json")).to_json()
    assert '"deductions":[{"type":"gift_not_returned","amount":20.00}]' in gift
    assert '"refund_amount":119.00,' in gift
    rejected = returns_policy.evaluate(load_example("seven-day-return-late-rejected.json")).to_json()
    assert '"refund_amount":0.00,' in rejected


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.json")))
def test_every_money_number_in_the_json_has_exactly_two_decimals(policy: ruleengine.Policy, name: str) -> None:
    text = policy.evaluate(load_example(name)).to_json()
    keys = "|".join(MONEY_KEYS)
    found = re.findall(rf'"(?:{keys})":(-?[0-9.eE+-]+)', text)
    if "claim" in json.loads(text) or "compensation" in name or "stock-out" in name:
        assert found, "expected money in this decision"
    for number in found:
        assert re.fullmatch(r"[0-9]+\.[0-9]{2}", number), number
    json.loads(text)  # and it is still plain JSON


def test_cli_reports_an_evaluation_error_with_its_rule_location(returns_copy: Callable[..., Path]) -> None:
    root = returns_copy(**{"tests_money.yaml": RULE.format(expr="item.paid_amount - 1000")})
    cli = Path(sys.executable).parent / "ruleengine"
    result = subprocess.run(
        [str(cli), "evaluate", str(EXAMPLES / "fast-refund-immediate.json"), "--rules", str(root)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "tests_money.refund" in result.stderr and "tests_money.yaml:" in result.stderr
    assert "negative" in result.stderr


def test_an_amount_past_what_a_decision_holds_is_an_evaluation_error(policy: ruleengine.Policy) -> None:
    """Found by hypothesis: a refused parcel refunds the shipping fee too, and facts allow each up to 10^9."""
    facts = load_example("damage-refused-parcel-approved.json")
    facts["shipping"]["fee"] = Decimal("999999999.99")
    for explain in (False, True):
        with pytest.raises(ruleengine.EvaluationError) as info:
            policy.evaluate(facts, explain=explain)
        assert info.value.code == "amount_too_large"
        assert "1,000,000,000" in info.value.message and info.value.rule and info.value.line > 0
    facts["shipping"]["fee"] = Decimal("10.00")
    assert policy.evaluate(facts).to_dict()["claim"]["refund_amount"] == Decimal("469.00")
