"""A reason's texts are written when the decision is first read, from the values its rule saw when it ran.

The fast path keeps a reason's values and writes its two texts only when something of the decision is read
(``Decision.data`` and everything built on it); a caller reading nothing pays nothing. What it writes must be
exactly what the rule would have written at once — the explaining path still writes at once, so the two are
compared — and a policy whose rules read the reasons so far gets them written as its rules run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tiny_policy import RETURN_ORDER

import ruleengine
from ruleengine.errors import EvaluationError

MANIFEST = """\
policy:
  name: texts
  version: "1"
  timezone: Asia/Shanghai
  stages: [claim, check]
"""

PARAMETERS = """\
parameters:
  window_days: {value: 7, type: days, description: 申请期限 / the window}
"""

CLAIM = """\
rules:
  - id: texts.approve
    title: {zh: 批准, en: approve}
    description: 批准并说明 / approve and say why
    guarantee: seven_day_return
    stage: claim
    priority: 10
    scope: claimed_line
    when: claim.type == 'no_reason_return'
    then:
      - set: {claim.outcome: approved}
      - set: {claim.refund_amount: item.paid_amount}
      - reason:
          zh: "{item.title} 于 {claim.requested_at} 申请，退 {item.paid_amount} 元，期限 {days(params.window_days)}，赠品 {item.gift}"
          en: "{item.sku} requested at {claim.requested_at}, refund {item.paid_amount}, window {days(params.window_days)}, gift {item.gift}"
      - reason: {zh: "标记 {item.flags}", en: "flags {item.flags}"}
      - reason: {zh: 固定理由, en: a fixed reason}
"""

READS_REASONS = """\
rules:
  - id: texts.second_look
    title: {zh: 复核, en: second look}
    description: 已有理由时复核 / review when a reason was given
    guarantee: seven_day_return
    stage: check
    priority: 0
    scope: order
    when: count(decision.claim.reasons) > 2
    then:
      - set: {claim.refund_timing: immediate}
      - reason: {zh: "复核于 {as_of}", en: "reviewed at {as_of}"}
"""


def write_policy(folder: Path, *, reads_reasons: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "policy.yaml").write_text(MANIFEST, encoding="utf-8")
    (folder / "parameters.yaml").write_text(PARAMETERS, encoding="utf-8")
    (folder / "claim.yaml").write_text(CLAIM, encoding="utf-8")
    if reads_reasons:
        (folder / "check.yaml").write_text(READS_REASONS, encoding="utf-8")
    return folder


def order(**changes: Any) -> dict[str, Any]:
    facts: dict[str, Any] = json.loads(RETURN_ORDER.read_text(encoding="utf-8"))
    facts.update(changes)
    return facts


def without_trace(decision: ruleengine.Decision) -> dict[str, Any]:
    data = decision.to_dict()
    data.pop("trace", None)
    return data


def test_texts_written_when_read_are_those_the_explaining_path_writes_at_once(tmp_path: Path) -> None:
    policy = ruleengine.load_policy(write_policy(tmp_path / "texts"))
    assert not policy.compiled.reasons_read
    facts = order()
    fast, explained = policy.evaluate(facts), policy.evaluate(facts, explain=True)
    assert fast.to_dict() == without_trace(explained)
    claim = fast.claim
    assert claim is not None
    first, listed, fixed = claim["reasons"]
    assert first["rule"] == "texts.approve"
    assert first["message"].startswith(f"{facts['items'][0]['title']} 于 2026-11-18 23:59 申请")
    assert " 元，期限 7 天，赠品 否 / " in first["message"]
    assert ", window 7 days, gift no" in first["message"]
    assert listed["message"].startswith("标记 ")  # a list may change as rules run: written at once
    assert fixed == {"rule": "texts.approve", "message": "固定理由 / a fixed reason"}


def test_every_way_of_reading_a_decision_sees_the_texts(tmp_path: Path) -> None:
    policy = ruleengine.load_policy(write_policy(tmp_path / "texts"))
    facts = order()
    expected = without_trace(policy.evaluate(facts, explain=True))
    readers = {
        "to_json": lambda d: json.loads(d.to_json())["claim"]["reasons"],
        "to_dict": lambda d: d.to_dict()["claim"]["reasons"],
        "claim": lambda d: d.claim["reasons"],
        "data": lambda d: d.data["claim"]["reasons"],
        "equality": lambda d: (d == policy.evaluate(facts)) and d.data["claim"]["reasons"],
    }
    for name, read in readers.items():
        reasons = read(policy.evaluate(facts))
        assert [r["message"] for r in reasons] == [r["message"] for r in expected["claim"]["reasons"]], name


def test_a_policy_reading_the_reasons_so_far_gets_them_written_as_its_rules_run(tmp_path: Path) -> None:
    policy = ruleengine.load_policy(write_policy(tmp_path / "texts", reads_reasons=True))
    assert policy.compiled.reasons_read
    decision = policy.evaluate(order())
    claim = decision.claim
    assert claim is not None
    assert claim["refund_timing"] == "immediate"
    assert decision.fired == ["texts.approve", "texts.second_look"]
    assert decision.to_dict() == without_trace(policy.evaluate(order(), explain=True))


def test_a_text_that_cannot_be_written_fails_the_evaluation_as_the_explaining_path_does(tmp_path: Path) -> None:
    """An instant at the end of year 9999 west of Greenwich is past year 9999 in Shanghai: no text can show it. Such
    a value is written at once, where the rule writes it, and the error is the explaining path's."""
    policy = ruleengine.load_policy(write_policy(tmp_path / "texts"))
    facts = order()
    late = "9999-12-31T20:00:00-05:00"
    facts["as_of"] = late
    facts["claim"]["requested_at"] = late
    errors = []
    for explain in (False, True):
        with pytest.raises(EvaluationError) as info:
            policy.evaluate(facts, explain=explain)
        errors.append(str(info.value))
    assert errors[0] == errors[1]
    assert "texts.approve" in errors[0] and "in action 'reason'" in errors[0]


def test_a_value_that_could_change_is_written_at_once(tmp_path: Path) -> None:
    """Trusted facts are not checked: a line's title that is a list is the caller's own list, which may change after
    the evaluation. Its text is written when the rule runs, as the explaining path writes it."""
    policy = ruleengine.load_policy(write_policy(tmp_path / "texts"))
    facts = ruleengine.read_facts(RETURN_ORDER, policy=policy)
    title = [facts["items"][0]["title"]]
    facts["items"][0]["title"] = title
    explained = without_trace(policy.evaluate(facts, trusted=True, explain=True))
    decision = policy.evaluate(facts, trusted=True)
    title.append("changed after the evaluation")
    assert decision.to_dict() == explained
    assert "changed after" not in json.dumps(decision.to_dict(), default=str)


def test_a_decision_with_texts_to_write_can_be_pickled(tmp_path: Path) -> None:
    import pickle

    policy = ruleengine.load_policy(write_policy(tmp_path / "texts"))
    decision = policy.evaluate(order())
    copied = pickle.loads(pickle.dumps(decision))
    assert copied == decision
    assert copied.to_json() == decision.to_json()


CONSTANTS = """\
rules:
  - id: texts.constants
    title: {zh: 常量, en: constants}
    description: 只含参数的理由 / a reason of parameters only
    guarantee: seven_day_return
    stage: claim
    priority: 10
    scope: order
    when: claim.type == 'no_reason_return'
    then:
      - set: {claim.outcome: needs_review}
      - reason:
          zh: "期限 {days(params.window_days)}，截至 {params.cutoff}"
          en: "window {days(params.window_days)}, until {params.cutoff}"
"""


def constants_policy(folder: Path, cutoff: str) -> ruleengine.Policy:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "policy.yaml").write_text(MANIFEST, encoding="utf-8")
    cutoff_line = f'  cutoff: {{value: "{cutoff}", type: timestamp, description: 截止 / the cut-off}}\n'
    (folder / "parameters.yaml").write_text(PARAMETERS + cutoff_line, encoding="utf-8")
    (folder / "claim.yaml").write_text(CONSTANTS, encoding="utf-8")
    return ruleengine.load_policy(folder)


def test_a_reason_of_constants_is_judged_once_when_the_code_is_written(tmp_path: Path) -> None:
    """Parameters cannot change and are known when the function is written: whether their texts can wait is asked
    then, not for every order — the fast function holds no type test at all — and the texts are the same."""
    policy = constants_policy(tmp_path / "constants", "2026-12-01T00:00:00+08:00")
    decision = policy.evaluate(order())
    assert decision.to_dict() == without_trace(policy.evaluate(order(), explain=True))
    assert "截至 2026-12-01 00:00" in decision.to_json()
    (decide,) = policy.compiled.functions.values()
    used = [decide.__globals__.get(name) for name in decide.__code__.co_names]
    assert type not in used


def test_a_constant_that_cannot_wait_is_still_written_at_once(tmp_path: Path) -> None:
    """A cut-off at the end of year 9999 west of Greenwich has no text in Shanghai: the rule fails where it writes
    the reason, as the explaining path fails."""
    policy = constants_policy(tmp_path / "constants", "9999-12-31T20:00:00-05:00")
    errors = []
    for explain in (False, True):
        with pytest.raises(EvaluationError) as info:
            policy.evaluate(order(), explain=explain)
        errors.append(str(info.value))
    assert errors[0] == errors[1]
    assert "texts.constants" in errors[0] and "in action 'reason'" in errors[0]
