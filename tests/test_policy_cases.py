"""The default policy's regression cases, seen as a whole: every rule is exercised both ways.

The cases themselves run as pytest items (rules/cases/*.yaml, through the plugin); these tests check,
from the case files alone (so a change of the policy's numbers fails the cases, not these tests), that
together they cover the policy: each rule is expected to fire in some case and not in another, and each
rule is named in the ``fired`` expectation of at least four cases.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

import ruleengine
from ruleengine.authoring.case_files import Case, case_files, load_cases

ROOT = Path(__file__).resolve().parent.parent
CASES = [case for path in case_files([ROOT / "rules" / "cases"]) for case in load_cases(path)]


def _fired_expectations(case: Case, rule_ids: list[str]) -> tuple[set[str], set[str]]:
    """The rules a case expects to fire, and those it expects not to fire."""
    expectation = case.expect.get("fired")
    if isinstance(expectation, dict):
        return set(expectation.get("contains") or []), set(expectation.get("excludes") or [])
    if isinstance(expectation, list):
        return set(expectation), set(rule_ids) - set(expectation)
    return set(), set()


def test_there_are_cases_for_every_guarantee(policy: ruleengine.Policy) -> None:
    files = {Path(c.file).stem for c in CASES}
    guarantees = {r.guarantee for r in policy.rules if r.guarantee and r.guarantee != "claims"}
    assert guarantees <= files | {"seven_day_return"}, sorted(guarantees - files)


def test_every_rule_is_expected_to_fire_in_some_case_and_not_in_another(policy: ruleengine.Policy) -> None:
    # Read from the cases, not from evaluating them: whether a rule fires depends on the policy's numbers,
    # and the cases (run by pytest from rules/cases/) are where those are pinned. Every case passing and
    # this test passing together mean every rule fires in some case and not in another.
    fires: set[str] = set()
    quiet: set[str] = set()
    for case in CASES:
        contains, excludes = _fired_expectations(case, policy.rule_ids())
        fires |= contains
        quiet |= excludes
    never = sorted(r for r in policy.rule_ids() if r not in fires)
    always = sorted(r for r in policy.rule_ids() if r not in quiet)
    assert never == [], f"rules no case expects to fire: {never}"
    assert always == [], f"rules no case expects not to fire: {always}"


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
