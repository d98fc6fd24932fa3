"""The default policy's regression cases, seen as a whole: every rule is exercised both ways.

The cases themselves run as pytest items (rules/cases/*.yaml, through the plugin); these tests check
that together they cover the policy: each rule fires in some case and not in another, and each rule is
named in the ``fired`` expectation of at least four cases.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

import ruleengine
from ruleengine.cases import Case, case_files, load_cases

ROOT = Path(__file__).resolve().parent.parent
CASES = [case for path in case_files([ROOT / "rules" / "cases"]) for case in load_cases(path)]


def _plain_cases() -> list[Case]:
    return [c for c in CASES if not c.parameters and set(c.expect) != {"error"}]


def test_there_are_cases_for_every_guarantee(policy: ruleengine.Policy) -> None:
    files = {Path(c.file).stem for c in CASES}
    guarantees = {r.guarantee for r in policy.rules if r.guarantee and r.guarantee != "claims"}
    assert guarantees <= files | {"seven_day_return"}, sorted(guarantees - files)


def test_every_rule_fires_in_some_case_and_not_in_another(policy: ruleengine.Policy) -> None:
    fired: Counter[str] = Counter()
    quiet: Counter[str] = Counter()
    for case in _plain_cases():
        assert case.facts is not None
        decision = policy.evaluate(case.facts).to_dict()
        for rule_id in policy.rule_ids():
            (fired if rule_id in decision["fired"] else quiet)[rule_id] += 1
    never = sorted(r for r in policy.rule_ids() if not fired[r])
    always = sorted(r for r in policy.rule_ids() if not quiet[r])
    assert never == [], f"rules no case fires: {never}"
    assert always == [], f"rules every case fires: {always}"


@pytest.mark.parametrize("minimum", [4])
def test_every_rule_is_asserted_by_at_least_four_cases(policy: ruleengine.Policy, minimum: int) -> None:
    named: Counter[str] = Counter()
    for case in CASES:
        expectation = case.expect.get("fired")
        if isinstance(expectation, dict):
            ids = {*expectation.get("contains", []), *expectation.get("excludes", [])}
        elif isinstance(expectation, list):
            ids = set(expectation)
        else:
            ids = set()
        named.update(ids)
    thin = {r: named[r] for r in policy.rule_ids() if named[r] < minimum}
    assert thin == {}, f"rules named in fewer than {minimum} cases' fired expectations: {thin}"
