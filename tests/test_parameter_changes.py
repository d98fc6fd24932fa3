"""A policy author changes one parameter: exactly the decisions it should change, change — no others.

The corpus is every example order and every regression case's order. For each change, the orders it
must affect are computed from the facts (not from the engine), and the test checks both directions:
every affected order's decision changed in the expected way, and no other decision changed at all.
Each test runs on the default policy and on the tests' own (tests/policies/returns), moving the value
read from the policy; only with the tests' own policy, whose numbers they own, do they also require the
corpus to hold orders the change affects (with the default policy, how many it holds depends on its numbers).
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import RETURNS, RULES

import ruleengine
from ruleengine.authoring.case_files import case_files, load_cases

ROOT = Path(__file__).resolve().parent.parent
SHANGHAI = ZoneInfo("Asia/Shanghai")


def corpus() -> list[dict[str, Any]]:
    orders = [json.loads(p.read_text(encoding="utf-8"), parse_float=Decimal) for p in sorted((ROOT / "examples" / "orders").glob("*.json"))]
    for path in case_files([ROOT / "rules" / "cases"]):
        for case in load_cases(path):
            if case.facts is not None and not case.parameters and set(case.expect) != {"error"}:
                orders.append(case.facts)
    return orders


def decide(policy: ruleengine.Policy, facts: dict[str, Any]) -> dict[str, Any] | str:
    """The substance of a decision: the digest (which names the parameters) and the wording of reasons
    (which quote them) are left out; which rules gave reasons is kept."""
    try:
        decision = policy.evaluate(facts).to_dict()
        decision.pop("policy")
        if "claim" in decision:
            decision["claim"]["reasons"] = [r["rule"] for r in decision["claim"]["reasons"]]
        return decision
    except ruleengine.RuleEngineError as exc:
        return f"error: {type(exc).__name__}"


def _instant(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _window_end(signed: str, days: int) -> dt.datetime:
    local = _instant(signed).astimezone(SHANGHAI)
    return local.replace(hour=0, minute=0, second=0, microsecond=0) + dt.timedelta(days=days + 1)


@pytest.fixture(params=["default", "own"], scope="module")
def subject(request: pytest.FixtureRequest) -> tuple[ruleengine.Policy, int]:
    """A policy, and how many corpus orders a change must at least affect in it."""
    return (ruleengine.load_policy(RULES), 0) if request.param == "default" else (ruleengine.load_policy(RETURNS), 2)


def test_the_corpus_is_large_enough() -> None:
    assert len(corpus()) >= 50


def test_widening_the_seven_day_window_changes_only_requests_between_the_old_and_new_ends(subject: tuple[ruleengine.Policy, int]) -> None:
    policy, must_affect = subject
    days = policy.parameters["seven_day_window_days"].value
    wider = policy.with_parameters({"seven_day_window_days": days + 8})
    changed, affected = 0, 0
    for facts in corpus():
        before, after = decide(policy, facts), decide(wider, facts)
        claim = facts.get("claim") or {}
        signed = facts.get("logistics", {}).get("signed_at")
        in_gap = (
            claim.get("type") in ("no_reason_return", "no_reason_exchange")
            and signed is not None
            and _window_end(signed, days) <= _instant(claim["requested_at"]) < _window_end(signed, days + 8)
        )
        if isinstance(before, dict) and in_gap and "seven_day_return.late" in before["fired"]:
            affected += 1
            assert isinstance(after, dict)
            assert "seven_day_return.late" not in after["fired"], facts["order_id"]
            assert after["claim"]["outcome"] != "rejected" or after["claim"]["reasons"][0]["rule"] != "seven_day_return.late"
        if before != after:
            changed += 1
            assert in_gap, f"{facts['order_id']}: changed by the window parameter but not requested between the old and new ends"
    assert affected >= must_affect and changed >= affected  # the corpus really contains late requests the change approves


def test_raising_the_fast_refund_threshold_changes_only_buyers_just_below_the_new_threshold(subject: tuple[ruleengine.Policy, int]) -> None:
    policy, must_affect = subject
    score = policy.parameters["fast_refund_min_credit_score"].value
    stricter = policy.with_parameters({"fast_refund_min_credit_score": score + 50})
    affected = 0
    for facts in corpus():
        before, after = decide(policy, facts), decide(stricter, facts)
        buyer = facts.get("buyer", {})
        lines = [i for i in facts.get("items", []) if not i.get("gift")]
        in_band = score <= buyer.get("credit_score", 0) < score + 50 and not buyer.get("abuse_flag") and bool(lines)
        if in_band and isinstance(before, dict):
            affected += 1
            assert isinstance(after, dict)
            for line in lines:
                assert "fast_refund" in before["services"][line["sku"]]
                assert "fast_refund" not in after["services"][line["sku"]], facts["order_id"]
            if before.get("claim", {}).get("refund_timing") == "immediate" and "fast_refund.immediate" in before["fired"]:
                assert after["claim"]["refund_timing"] == "on_return_received"
        if before != after:
            assert in_band, f"{facts['order_id']}: changed by the credit threshold but the buyer is outside [{score}, {score + 50})"
    assert affected >= must_affect
