"""The fast path and the explaining path decide alike.

The fast path runs the policy's generated code (one function per claim type, rules of other claim
types left out, claim-type tests folded); the explaining path runs its traced variant, written by the
same code writer from the same checked trees, with every rule visit, condition node and action
reported. An explanation is only worth reading if it describes the decision that was made: over a
corpus of generated orders, the two must give the same decision (the trace aside) — or the same error.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import RULES, load_example

import ruleengine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples" / "corpus"))
from generate import generate


def _decide(policy: ruleengine.Policy, facts: dict[str, Any], explain: bool) -> Any:
    try:
        data = policy.evaluate(facts, explain=explain).to_dict()
    except ruleengine.RuleEngineError as exc:
        return (type(exc).__name__, str(exc), getattr(exc, "code", ""))
    data.pop("trace", None)
    return data


def test_fast_and_explaining_paths_agree_on_a_corpus(policy: ruleengine.Policy) -> None:
    orders = list(generate(1000, seed=11))
    disagreements = [o["order_id"] for o in orders if _decide(policy, o, False) != _decide(policy, o, True)]
    assert disagreements == []


def test_paths_agree_when_the_policy_names_only_some_claim_types(tmp_path: Path) -> None:
    """Claims of a type no rule names run their own function; a guarantee's claim-type tests are folded."""
    root = tmp_path / "rules"
    for name in ("policy.yaml", "parameters.yaml", "definitions.yaml", "claims/common.yaml", "guarantees/seven_day_return.yaml"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(RULES / name, root / name)
    subset = ruleengine.load_policy(root)
    orders = list(generate(600, seed=12))
    assert len({o["claim"]["type"] for o in orders if "claim" in o}) == 10
    assert [o["order_id"] for o in orders if _decide(subset, o, False) != _decide(subset, o, True)] == []


def _explained(policy: ruleengine.Policy, facts: dict[str, Any], listener: ruleengine.Listener | None) -> Any:
    try:
        return policy.evaluate(facts, explain=True, listener=listener).to_json()
    except ruleengine.RuleEngineError as exc:
        return (type(exc).__name__, str(exc), getattr(exc, "code", ""))


def test_explaining_with_and_without_a_listener_gives_the_same_bytes(policy: ruleengine.Policy, returns_policy: ruleengine.Policy) -> None:
    """Without a listener the traced code writes the trace itself; with one, the trace is made from the events."""
    events: list[ruleengine.Event] = []
    orders = list(generate(800, seed=13))
    for chosen in (policy, returns_policy):
        differ = [o["order_id"] for o in orders if _explained(chosen, o, None) != _explained(chosen, o, events.append)]
        assert differ == []
    assert any(isinstance(e, ruleengine.RuleVisited) and e.conditions for e in events)


FAILING = {
    "condition": """
  - id: broken.condition
    title: {zh: 条件出错, en: Failing condition}
    description: divides by zero in the second leaf of its condition
    stage: claim
    scope: claimed_line
    when:
      all:
        - claim.type == 'no_reason_return'
        - claim.quantity / (claim.quantity - claim.quantity) > 1
    then:
      - set: {claim.outcome: approved}
""",
    "negative": """
  - id: broken.negative
    title: {zh: 负数, en: Negative amount}
    description: a compensation below zero
    stage: compensation
    when: "true"
    then:
      - compensation: {type: late_shipment, amount: "0 - 5", form: cash}
""",
    "absent": """
  - id: broken.absent
    title: {zh: 缺失, en: Absent fact}
    description: sets an amount from a fact the order may not have
    stage: claim
    scope: claimed_line
    when: "true"
    then:
      - set: {claim.refund_amount: claim.current_unit_price}
""",
    "enum": """
  - id: broken.enum
    title: {zh: 取值, en: Enum value}
    description: sets the outcome to the claim type
    stage: claim
    scope: claimed_line
    when: claim.type == 'no_reason_return'
    then:
      - set: {claim.outcome: {expr: claim.type}}
""",
    "conflict": """
  - id: broken.first
    title: {zh: 一, en: First}
    description: approves
    stage: review
    priority: 7
    scope: claimed_line
    when: "true"
    then:
      - set: {claim.outcome: approved}
  - id: broken.second
    title: {zh: 二, en: Second}
    description: rejects, same stage and priority
    stage: review
    priority: 7
    scope: claimed_line
    when: "true"
    then:
      - set: {claim.outcome: rejected}
""",
    "no_claim": """
  - id: broken.no_claim
    title: {zh: 无售后, en: No claim}
    description: an order-scope reason, which needs a claim
    stage: finalize
    when: "true"
    then:
      - reason: {zh: 原因, en: reason}
""",
}


@pytest.mark.parametrize("case", sorted(FAILING))
def test_paths_report_the_same_error(case: str, tmp_path: Path) -> None:
    root = tmp_path / "rules"
    shutil.copytree(RULES, root)
    (root / "broken.yaml").write_text("rules:" + FAILING[case], encoding="utf-8")
    policy = ruleengine.load_policy(root)
    names = ("seven-day-return-last-minute-approved.json", "plain-order-no-claim.json", "quality-defect-repair-approved.json")
    outcomes = []
    for name in names:
        facts = load_example(name)
        fast, explained = _decide(policy, facts, False), _decide(policy, facts, True)
        assert fast == explained, name
        assert _explained(policy, facts, None) == _explained(policy, facts, lambda event: None), name
        outcomes.append(fast)
    assert any(isinstance(o, tuple) and o[0] == "EvaluationError" for o in outcomes), outcomes


def test_compile_all_builds_every_kind_before_the_first_order_and_the_service_uses_it(tmp_path: Path) -> None:
    from ruleengine.service.livepolicy import LivePolicy

    rules = tmp_path / "rules"  # the default policy without its cases: the service runs them before it serves
    shutil.copytree(RULES, rules, ignore=shutil.ignore_patterns("cases"))
    fresh = ruleengine.load_policy(rules)
    assert fresh.compiled.functions == {}  # built lazily: loading to check or lint compiles nothing
    claim_types = {t for rule in fresh.rules for t in rule.claim_types or ()}
    assert fresh.compile_all() is fresh
    built = set(fresh.compiled.functions)
    assert None in built and claim_types <= built and len(built) == len(claim_types) + 2  # + no claim, + other types
    served = LivePolicy(rules).policy
    assert set(served.compiled.functions) == built
    before = dict(fresh.compiled.functions)
    fresh.evaluate(load_example("seven-day-return-last-minute-approved.json"))
    assert fresh.compiled.functions == before  # nothing built at the first order
