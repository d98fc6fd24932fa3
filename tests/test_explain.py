"""Explanations: the trace lists every rule visit and why; listeners see the same events; the CLI prints them, Chinese first.

Tests over every example use the default policy (what they check holds for any policy); tests that read
particular values, labels and windows use the tests' own policy (tests/policies/returns), whose numbers
they own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLES, RETURNS, load_example, replace_in

import ruleengine

CLI = Path(sys.executable).parent / "ruleengine"
NAMES = sorted(p.name for p in EXAMPLES.glob("*.json"))
OUTCOMES = {"matched", "not_matched", "not_met", "skipped"}
LATE = "seven-day-return-late-rejected.json"
LAST_MINUTE = "seven-day-return-last-minute-approved.json"


def trace_of(policy: ruleengine.Policy, facts: dict[str, Any], **kwargs: Any) -> list[dict[str, Any]]:
    decision = policy.evaluate(facts, explain=True, **kwargs)
    trace = decision.to_dict()["trace"]
    assert trace is decision.trace or trace == decision.trace
    assert isinstance(trace, list) and trace
    return trace


def entries(trace: list[dict[str, Any]], rule: str) -> list[dict[str, Any]]:
    found = [e for e in trace if e["rule"] == rule]
    assert found, f"no trace entry for {rule}"
    return found


def leaf_with_label(entry: dict[str, Any], label: str) -> dict[str, Any]:
    found = [c for c in entry.get("conditions", []) if c.get("label") == label]
    assert len(found) == 1, entry.get("conditions")
    return found[0]


@pytest.mark.parametrize("name", NAMES)
def test_no_trace_without_explain(policy: ruleengine.Policy, name: str) -> None:
    decision = policy.evaluate(load_example(name))
    assert "trace" not in decision.to_dict()
    assert '"trace"' not in decision.to_json()
    assert decision.trace is None


@pytest.mark.parametrize("name", NAMES)
def test_trace_covers_every_rule_visit(policy: ruleengine.Policy, name: str) -> None:
    facts = load_example(name)
    decision = policy.evaluate(facts, explain=True)
    trace = decision.to_dict()["trace"]
    skus = [item["sku"] for item in facts["items"]]
    for entry in trace:
        assert isinstance(entry["rule"], str)
        assert isinstance(entry["matched"], bool)
        assert entry["outcome"] in OUTCOMES
        assert entry["matched"] == (entry["outcome"] == "matched")
        if entry["outcome"] == "skipped":
            assert entry.get("reason"), entry
            assert entry["actions"] == []
        else:
            assert entry.get("conditions"), entry
        if entry["outcome"] in ("not_matched", "not_met"):
            assert entry.get("failed"), entry
            assert entry["failed"]["result"] in (False, "not_met")
    # every rule of the policy is accounted for
    assert {e["rule"] for e in trace} == set(policy.rule_ids())
    # visits per scope: each line for line rules, the claimed line for claimed_line rules, once for order rules
    scopes = {r.id: r.scope for r in policy.rules}
    for rule_id, scope in scopes.items():
        # versions of a rule that are not in effect are listed once, as skipped, whatever the scope
        visits = [e for e in trace if e["rule"] == rule_id and "is in effect for" not in e.get("reason", "")]
        if not visits:  # no version of the rule is in effect for this order: listed once, as skipped
            assert [e["outcome"] for e in trace if e["rule"] == rule_id] == ["skipped"], rule_id
            continue
        if scope == "line":
            assert [e.get("line") for e in visits] == skus, rule_id
        elif scope == "claimed_line" and "claim" in facts:
            assert [e.get("line") for e in visits] == [facts["claim"]["sku"]], rule_id
        elif scope == "claimed_line":
            assert [(e["outcome"], "no claim" in e["reason"]) for e in visits] == [("skipped", True)], rule_id
        else:
            assert all("line" not in e for e in visits), rule_id
    # the rules whose actions ran are the rules that fired, in firing order
    ran = list(dict.fromkeys(e["rule"] for e in trace if e["actions"]))
    assert ran == decision.fired


def test_line_rules_show_each_line_and_why_a_gift_line_is_not_covered(policy: ruleengine.Policy) -> None:
    trace = trace_of(policy, load_example("seven-day-return-gift-not-returned.json"))
    visits = entries(trace, "seven_day_return.service")
    assert [(e["line"], e["matched"]) for e in visits] == [("SKU-QY-CL-120", True), ("SKU-QY-CL-030-GIFT", False)]
    gift = visits[1]
    assert gift["failed"]["label"] == "非赠品 / not a gift"
    assert gift["failed"]["values"] == {"item.gift": True}
    assert gift["actions"] == []
    assert visits[0]["actions"] == [{"action": "add_service", "target": "seven_day_return"}]


def test_group_stop_skips_the_rest_of_the_group_with_a_reason(returns_policy: ruleengine.Policy) -> None:
    trace = trace_of(returns_policy, load_example(LATE))
    late = entries(trace, "seven_day_return.late")
    assert len(late) == 1 and late[0]["matched"] and late[0]["line"] == "SKU-BW-HD-8810-XL"
    assert [a["action"] for a in late[0]["actions"]] == ["set", "reason", "stop"]
    for rule in ("seven_day_return.condition", "seven_day_return.approve_return", "seven_day_return.approve_exchange"):
        (entry,) = entries(trace, rule)
        assert entry["outcome"] == "skipped"
        assert entry["matched"] is False
        assert "claim_decision" in entry["reason"] and "seven_day_return.late" in entry["reason"]
        assert "conditions" not in entry


def test_no_claim_skips_claim_rules(policy: ruleengine.Policy) -> None:
    trace = trace_of(policy, load_example("plain-order-no-claim.json"))
    (entry,) = entries(trace, "seven_day_return.approve_return")
    assert entry["outcome"] == "skipped"
    assert "no claim" in entry["reason"]


def test_absent_fact_is_not_met_and_named(returns_policy: ruleengine.Policy) -> None:
    trace = trace_of(returns_policy, load_example(LAST_MINUTE))  # no promotion in this order
    (entry,) = entries(trace, "seven_day_return.promotion_lost")
    assert entry["matched"] is False
    # The threshold leaf reads the absent promotion: not met, and named; a later false leaf makes the
    # whole `all` false (false wins over not met), so the rule is not_matched.
    (absent,) = [c for c in entry["conditions"] if c.get("result") == "not_met" and "expr" in c]
    assert "promotion.threshold" in absent["absent"]
    assert absent["values"]["promotion.threshold"] is None
    assert entry["outcome"] == "not_matched"


def test_failing_condition_shows_its_label_and_values(returns_policy: ruleengine.Policy) -> None:
    trace = trace_of(returns_policy, load_example(LAST_MINUTE))
    (entry,) = entries(trace, "seven_day_return.late")
    assert entry["outcome"] == "not_matched"
    failed = entry["failed"]
    assert failed["label"] == "超过签收次日起7天 / after the window"
    assert "within_days_after" in failed["expr"]
    assert failed["result"] is False
    assert failed["values"]["claim.requested_at"] == "2026-11-18T23:59:00+08:00"
    assert failed["values"]["logistics.signed_at"] == "2026-11-11T15:20:00+08:00"
    assert failed["values"]["params.seven_day_window_days"] == 7


def test_matched_condition_shows_the_values_that_decided(returns_policy: ruleengine.Policy) -> None:
    trace = trace_of(returns_policy, load_example(LATE))
    (entry,) = entries(trace, "seven_day_return.late")
    leaf = leaf_with_label(entry, "超过签收次日起7天 / after the window")
    assert leaf["result"] is True
    assert leaf["values"]["claim.requested_at"] == "2026-11-19T00:00:00+08:00"
    assert "failed" not in entry


def test_trace_shows_the_window_end(returns_policy: ruleengine.Policy) -> None:
    # requested 2026-11-18 23:59: the window end 2026-11-19 00:00 is not an input, so only a probe of it can show it
    trace = trace_of(returns_policy, load_example(LAST_MINUTE))
    (entry,) = entries(trace, "seven_day_return.late")
    leaf = leaf_with_label(entry, "超过签收次日起7天 / after the window")
    assert "2026-11-19T00:00:00+08:00" in {str(v) for v in leaf["values"].values()}, leaf["values"]


def test_trace_values_are_plain_json_with_exact_money(returns_policy: ruleengine.Policy) -> None:
    decision = returns_policy.evaluate(load_example(LAST_MINUTE), explain=True)
    text = decision.to_json()
    data = json.loads(text, parse_float=Decimal)
    (entry,) = entries(data["trace"], "seven_day_return.approve_return")
    assert {"action": "set", "target": "claim.refund_amount", "value": "259.00"} in entry["actions"]
    assert '"value":"259.00"' in text  # the trace too writes an amount as a decimal string
    trace = decision.trace
    assert trace is not None and Decimal("259.00") in [a.get("value") for e in trace for a in e.get("actions", [])]


def test_overridden_action_is_marked(returns_policy: ruleengine.Policy) -> None:
    trace = trace_of(returns_policy, load_example(LAST_MINUTE))
    (entry,) = entries(trace, "claims.refund_on_return_received")
    (action,) = entry["actions"]
    assert action["status"] == "overridden"
    assert "fast_refund.immediate" in action["note"]


# ---------------------------------------------------------------- rule versions


def test_stock_out_trace_names_the_version_in_effect(policy: ruleengine.Policy) -> None:
    facts = load_example("stock-out-compensation.json")
    (entry,) = [e for e in entries(trace_of(policy, facts), "on_time_shipment.stock_out") if e["outcome"] != "skipped"]
    assert entry["matched"] and entry["version"] == 2

    facts["placed_at"], facts["paid_at"] = "2026-03-01T09:59:00+08:00", "2026-03-01T10:00:00+08:00"
    (entry,) = [e for e in entries(trace_of(policy, facts), "on_time_shipment.stock_out") if e["outcome"] != "skipped"]
    assert entry["matched"] and entry["version"] == 1


def test_not_in_effect_version_is_listed_as_skipped(policy: ruleengine.Policy) -> None:
    visits = entries(trace_of(policy, load_example("stock-out-compensation.json")), "on_time_shipment.stock_out")
    skipped = [e for e in visits if e["outcome"] == "skipped"]
    assert len(skipped) == 1 and skipped[0].get("version") == 1
    assert "2026-10-01" in skipped[0]["reason"] or "paid_at" in skipped[0]["reason"]


def test_rule_with_no_version_in_effect_is_skipped_with_a_reason(policy_copy: Callable[..., Path]) -> None:
    root = policy_copy()
    replace_in(
        root / "guarantees" / "on_time_shipment.yaml",
        'effective: {until: "2026-04-09T00:00:00+08:00"}',
        'effective: {until: "2026-01-01T00:00:00+08:00"}',
    )
    gap = ruleengine.load_policy(root)
    facts = load_example("stock-out-compensation.json")
    facts["placed_at"], facts["paid_at"] = "2026-02-15T09:59:00+08:00", "2026-02-15T10:00:00+08:00"
    decision = gap.evaluate(facts, explain=True)
    visits = entries(decision.to_dict()["trace"], "on_time_shipment.stock_out")
    assert [e["outcome"] for e in visits] == ["skipped", "skipped"]
    assert all("is in effect for paid_at in" in v["reason"] and "2026-02-15" in v["reason"] for v in visits)
    assert decision.to_dict()["compensations"] == []


# ---------------------------------------------------------------- listeners


@pytest.mark.parametrize("name", [LATE, LAST_MINUTE, "seven-day-return-gift-not-returned.json", "stock-out-compensation.json"])
def test_listener_events_match_the_trace(policy: ruleengine.Policy, name: str) -> None:
    events: list[ruleengine.Event] = []
    decision = policy.evaluate(load_example(name), explain=True, listener=events.append)
    trace = decision.to_dict()["trace"]
    visited = [e for e in events if isinstance(e, ruleengine.RuleVisited)]
    applied = [e for e in events if isinstance(e, ruleengine.ActionApplied)]
    assert len(visited) + len(applied) == len(events)
    assert [(e.rule.id, e.line, e.outcome, e.reason) for e in visited] == [
        (t["rule"], t.get("line"), t["outcome"], t.get("reason", "")) for t in trace
    ]
    # each action event follows the visit it belongs to, and matches the trace's action record
    index = -1
    per_entry: list[list[ruleengine.ActionApplied]] = [[] for _ in trace]
    for event in events:
        if isinstance(event, ruleengine.RuleVisited):
            index += 1
        else:
            assert index >= 0
            assert (event.rule.id, event.line) == (trace[index]["rule"], trace[index].get("line"))
            per_entry[index].append(event)
    for entry, acts in zip(trace, per_entry, strict=True):
        assert [(a.action.kind, a.action.target or None, None if a.status == "applied" else a.status) for a in acts] == [
            (r["action"], r.get("target"), r.get("status")) for r in entry["actions"]
        ]
    assert list(dict.fromkeys(a.rule.id for a in applied)) == decision.fired


def test_listener_without_explain_sees_the_same_events_and_no_trace(policy: ruleengine.Policy) -> None:
    with_trace: list[ruleengine.Event] = []
    without: list[ruleengine.Event] = []
    explained = policy.evaluate(load_example(LATE), explain=True, listener=with_trace.append)
    plain = policy.evaluate(load_example(LATE), listener=without.append)
    assert "trace" not in plain.to_dict()

    def key(e: ruleengine.Event) -> tuple[Any, ...]:
        if isinstance(e, ruleengine.RuleVisited):
            return ("visit", e.rule.id, e.line, e.outcome, e.reason)
        return ("action", e.rule.id, e.line, e.action.kind, e.status)

    assert [key(e) for e in without] == [key(e) for e in with_trace]
    explained_data = explained.to_dict()
    del explained_data["trace"]
    assert explained_data == plain.to_dict()


def test_listener_sees_the_action_values(returns_policy: ruleengine.Policy) -> None:
    events: list[ruleengine.Event] = []
    returns_policy.evaluate(load_example("late-shipment-compensation.json"), listener=events.append)
    comp = [e for e in events if isinstance(e, ruleengine.ActionApplied) and e.action.kind == "compensation"]
    assert [(e.rule.id, e.action.target, e.value) for e in comp] == [("on_time_shipment.late", "late_shipment", Decimal("119.70"))]


# ---------------------------------------------------------------- the command line


def run(*args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(CLI), "evaluate", *args], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result


def run_returns(*args: str) -> subprocess.CompletedProcess[str]:
    """``ruleengine evaluate`` with the tests' own policy."""
    return run(*args, "--rules", str(RETURNS))


def test_cli_explain_text_is_a_chinese_first_tree() -> None:
    out = run_returns(str(EXAMPLES / LATE), "--explain", "--format", "text").stdout
    assert "申请时间 2026-11-19 00:00" in out
    assert "规则说明 Explanation" in out
    lines = [line.strip() for line in out.splitlines()]
    assert "✔ seven_day_return.late [SKU-BW-HD-8810-XL]  超过7天无理由期限 / Past the 7-day window" in lines
    assert "7天无理由退换货 seven_day_return  （另有 6 条规则不适用于此订单 / 6 more did not apply）" in lines
    full = [line.strip() for line in run_returns(str(EXAMPLES / LATE), "--explain", "--format", "text").stdout.splitlines()]
    assert full == lines  # deterministic
    for line in lines:
        if " / " in line and line.lstrip().startswith(("✔", "✘", "∅", "–")):
            zh, en = line.split("  ", 1)[1].split(" / ", 1)
            assert any("\u4e00" <= ch <= "\u9fff" for ch in zh), line  # the Chinese title comes first
            assert en.isascii(), line
    assert out.index("结果 outcome") < out.index("规则说明 Explanation")


def test_cli_explain_text_shows_the_failing_condition() -> None:
    out = run_returns(str(EXAMPLES / LAST_MINUTE), "--explain").stdout
    lines = [line.strip() for line in out.splitlines()]
    start = lines.index("✘ seven_day_return.late [SKU-BW-HD-8810-XL]  超过7天无理由期限 / Past the 7-day window")
    block = lines[start + 1 : start + 9]
    assert "未满足 not met: 超过签收次日起7天 / after the window" in block
    assert "claim.requested_at = 2026-11-18 23:59" in block
    assert "start_of_day(logistics.signed_at) + days(7 + 1) = 2026-11-19 00:00" in block


def test_cli_without_explain_prints_no_tree() -> None:
    out = run_returns(str(EXAMPLES / LATE)).stdout
    assert "申请时间 2026-11-19 00:00" in out  # the reason is still there
    assert "规则说明" not in out


def test_cli_explain_json_carries_the_same_trace(policy: ruleengine.Policy) -> None:
    out = run(str(EXAMPLES / LATE), "--explain", "--format", "json").stdout
    assert out == policy.evaluate(load_example(LATE), explain=True).to_json(indent=2) + "\n"
    assert json.loads(out)["trace"]


def test_a_skipped_versions_window_is_said_as_written_even_when_another_rule_has_the_same_instant() -> None:
    import datetime as dt
    from types import SimpleNamespace

    from ruleengine.runtime.evaluation import not_in_effect

    paid = dt.datetime.fromisoformat("2026-02-01T00:00:00+08:00")
    for written in ("2026-01-01T00:00:00+08:00", "2025-12-31T16:00:00+00:00"):  # the same instant, two offsets
        start = dt.datetime.fromisoformat(written)
        rule = SimpleNamespace(effective_on="paid_at", effective_from=start, effective_until=None, version=1, versions=2)
        assert f"in [{written}, …)" in not_in_effect(rule, paid)  # type: ignore[arg-type]
