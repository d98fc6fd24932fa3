"""Line rules that only add services share one loop over the order's lines, and decide as one loop per rule does.

The fast path runs such a run of rules line by line (each line through every rule, in order) instead of rule by
rule. A line's services, when a rule reads them, are the same either way, and the rules that fired are recorded
in rule order. Only a failure could tell the two apart (which rule and line fails first), so a failure in a
fused loop decides the order again rule by rule: the error is the one the explaining path reports.
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import pytest
from conftest import load_example

import ruleengine

MANIFEST = """\
policy:
  name: fused
  version: "1"
  timezone: Asia/Shanghai
  stages: [services]
"""

RULES = """\
rules:
  - id: fused.first
    title: {zh: 一, en: First}
    description: 第二行的服务 / the second line's service
    stage: services
    scope: line
    when: {expr: "item.sku == 'B' and item.paid_amount / (item.quantity - 1) > 0"}
    then:
      - add_service: seven_day_return
  - id: fused.second
    title: {zh: 二, en: Second}
    description: 第一行的服务 / the first line's service
    stage: services
    scope: line
    when: {expr: "item.sku == 'A' and item.paid_amount / (item.quantity - 2) > 0"}
    then:
      - add_service: fast_refund
  - id: fused.third
    title: {zh: 三, en: Third}
    description: 读本行已有服务 / reads the line's services so far
    stage: services
    scope: line
    when: {expr: "has_service(item, 'seven_day_return') or has_service(item, 'fast_refund')"}
    then:
      - add_service: authenticity
"""


def written(folder: Path, rules: str, max_steps: int | None = None) -> ruleengine.Policy:
    """A policy of the manifest and ``rules``, with the default limits or a step budget of ``max_steps``."""
    (folder / "policy.yaml").write_text(MANIFEST, encoding="utf-8")
    (folder / "services.yaml").write_text(rules, encoding="utf-8")
    limits = ruleengine.DEFAULT_LIMITS
    if max_steps is not None:
        limits = dataclasses.replace(limits, max_evaluation_steps=max_steps)
    return ruleengine.load_policy(folder, limits=limits)


@pytest.fixture
def policy(tmp_path: Path) -> ruleengine.Policy:
    return written(tmp_path, RULES)


def two_lines(quantity_a: int, quantity_b: int) -> dict[str, Any]:
    facts = load_example("plain-order-no-claim.json")
    line = facts["items"][0]
    a, b = copy.deepcopy(line), copy.deepcopy(line)
    a.update(sku="A", quantity=quantity_a)
    b.update(sku="B", quantity=quantity_b)
    facts["items"] = [a, b]
    return facts


def decided(policy: ruleengine.Policy, facts: dict[str, Any], **kwargs: Any) -> Any:
    try:
        data = policy.evaluate(facts, **kwargs).to_dict()
    except ruleengine.EvaluationError as exc:
        return ("error", exc.rule, str(exc))
    data.pop("trace", None)
    return data


def test_the_rules_run_in_one_loop(policy: ruleengine.Policy, monkeypatch: pytest.MonkeyPatch) -> None:
    from ruleengine.runtime import programwriter

    fused: list[list[str]] = []
    write = programwriter.Writer.fuse

    def fuse(self: programwriter.Writer, rules: list[Any], added: set[str] | None) -> list[Any]:
        fused.append([rule.id for rule in rules])
        return write(self, rules, added)

    monkeypatch.setattr(programwriter.Writer, "fuse", fuse)
    policy.compile_all()
    assert ["fused.first", "fused.second", "fused.third"] in fused  # the fast functions: one loop for the three
    assert not policy.compiled.exact  # nothing failed: no function without fused loops was built
    fused.clear()
    policy.compiled.build_all(traced=True)
    assert fused == []  # the explaining path visits every rule as written


def test_rules_that_fired_on_later_lines_are_recorded_in_rule_order(policy: ruleengine.Policy) -> None:
    facts = two_lines(3, 2)  # first fires on B (the second line), second on A (the first line)
    decision = policy.evaluate(facts)
    assert decision.fired == ["fused.first", "fused.second", "fused.third"]
    assert decision.services == {"A": ["fast_refund", "authenticity"], "B": ["seven_day_return", "authenticity"]}
    assert decided(policy, facts) == decided(policy, facts, explain=True)


BEFORE_AND_AGAIN = RULES.replace(
    "rules:\n",
    """rules:
  - id: fused.before
    title: {zh: 先, en: Before}
    description: 循环之前的服务 / services before the loop
    stage: services
    scope: line
    when: {expr: "item.sku == 'A'"}
    then:
      - add_service: authenticity
    else:
      - add_service: fast_refund
""",
) + """  - id: fused.again
    title: {zh: 再, en: Again}
    description: 再给一次 / the same service again
    stage: services
    scope: line
    when: {expr: "item.quantity > 0"}
    then:
      - add_service: seven_day_return
"""


def test_a_service_a_line_may_already_have_is_added_once(tmp_path: Path) -> None:
    """A service is appended without looking only when nothing before it in the function could have added it: here
    a rule before the loop adds two of the loop's services, and the loop adds one service twice."""
    policy = written(tmp_path, BEFORE_AND_AGAIN)
    facts = two_lines(3, 2)
    decision = policy.evaluate(facts)
    assert decision.services == {
        "A": ["authenticity", "fast_refund", "seven_day_return"],
        "B": ["fast_refund", "seven_day_return", "authenticity"],
    }
    assert decided(policy, facts) == decided(policy, facts, explain=True)


def test_a_failure_in_the_loop_is_the_one_rule_by_rule_evaluation_reports(policy: ruleengine.Policy) -> None:
    """Line by line, the second rule fails first (on A); rule by rule, the first one does (on B): that is the error."""
    facts = two_lines(2, 1)
    fast, explained = decided(policy, facts), decided(policy, facts, explain=True)
    assert fast == explained
    assert fast[0] == "error" and fast[1] == "fused.first", fast
    assert policy.compiled.exact  # the order was decided again without the fused loop
    assert decided(policy, two_lines(3, 2)) == decided(policy, two_lines(3, 2), explain=True)  # and the next order as usual


def test_trusted_facts_that_fail_in_the_loop_are_reported_alike(policy: ruleengine.Policy) -> None:
    facts = two_lines(3, 2)
    facts["items"][1]["quantity"] = "3"  # trusted: never validated; text minus a number fails in the loop
    fast, explained = decided(policy, facts, trusted=True), decided(policy, facts, trusted=True, explain=True)
    assert fast == explained
    assert fast[0] == "error" and fast[1] == "fused.first", fast


def test_a_budget_charged_for_the_loop_does_not_hide_the_failure_rule_by_rule_evaluation_meets_first(tmp_path: Path) -> None:
    """The fused loop charges all its rules' visits before it runs; rule by rule, the first rule fails before the
    later rules' visits are counted. A budget exceeded by those charges is decided again rule by rule too."""
    policy = written(tmp_path, RULES, max_steps=40)
    facts = two_lines(3, 2)
    line = facts["items"][0]
    facts["items"] = [dict(copy.deepcopy(line), sku=f"X{i}") for i in range(29)] + [dict(copy.deepcopy(line), sku="B", quantity="3")]
    fast, explained = decided(policy, facts, trusted=True), decided(policy, facts, trusted=True, explain=True)
    assert fast == explained
    assert fast[0] == "error" and fast[1] == "fused.first" and "unsupported operand" in fast[2], fast


SHOP_RULES = """\
rules:
  - id: fused.shop
    title: {zh: 店铺, en: Shop}
    description: 店铺加入七天无理由的非赠品行 / non-gift lines of an enrolled shop
    stage: services
    scope: line
    when: {expr: "not item.gift and 'price_protection' in shop.services"}
    then:
      - add_service: seven_day_return
  - id: fused.channel
    title: {zh: 直播, en: Livestream}
    description: 直播间的非赠品行 / non-gift lines sold in a livestream
    stage: services
    scope: line
    when: {expr: "not item.gift and channel == 'livestream' and 'price_protection' in shop.services"}
    then:
      - add_service: fast_refund
"""


@pytest.fixture
def shop_policy(tmp_path: Path) -> ruleengine.Policy:
    return written(tmp_path, SHOP_RULES)


@pytest.mark.parametrize("gifts", [(False, False), (True, False), (True, True)])
@pytest.mark.parametrize("channel", ["livestream", "app"])
@pytest.mark.parametrize("enrolled", [True, False])
def test_what_is_the_same_for_every_line_is_read_once_and_decides_as_each_line_reading_it(
    shop_policy: ruleengine.Policy, gifts: tuple[bool, bool], channel: str, enrolled: bool
) -> None:
    """The shop's services and the channel are read before the loop, 'not item.gift' once per line: the same decisions."""
    facts = two_lines(1, 1)
    for line, gift in zip(facts["items"], gifts, strict=True):
        line["gift"] = gift
    facts["channel"] = channel
    facts["shop"]["services"] = ["price_protection"] if enrolled else []
    assert decided(shop_policy, facts) == decided(shop_policy, facts, explain=True)
    assert not shop_policy.compiled.exact


def test_a_part_read_before_the_loop_that_fails_where_no_line_would_read_it_is_decided_again(shop_policy: ruleengine.Policy) -> None:
    """Trusted facts without a shop: no line reads it (all gifts), but the loop reads it first; decided again, no error."""
    facts = two_lines(1, 1)
    for line in facts["items"]:
        line["gift"] = True
    del facts["shop"]
    fast, explained = decided(shop_policy, facts, trusted=True), decided(shop_policy, facts, trusted=True, explain=True)
    assert fast == explained
    assert fast["services"] == {"A": [], "B": []} and fast["fired"] == []
    assert shop_policy.compiled.exact  # the read before the loop failed: decided again without the fused loop


@pytest.mark.parametrize("lines", [20, 21, 22, 23])
@pytest.mark.parametrize("max_steps", [40, 64, 65, 100_000])
def test_the_loops_charges_added_at_once_check_the_budget_where_rule_by_rule_charges_would(
    tmp_path: Path, lines: int, max_steps: int
) -> None:
    """Three rules over 21 lines stay under a check (63 visits): added at once; over 22, each rule's charge is checked."""
    policy = written(tmp_path, RULES, max_steps=max_steps)
    facts = two_lines(3, 2)
    line = facts["items"][0]
    facts["items"] = [dict(copy.deepcopy(line), sku=f"X{i}") for i in range(lines)]
    fast, explained = decided(policy, facts), decided(policy, facts, explain=True)
    assert fast == explained
    assert isinstance(fast, tuple) is (lines * 3 >= 64 and max_steps < lines * 3), fast  # a check charges all visits so far
