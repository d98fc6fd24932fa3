"""The bundled example orders: what holds for every one of them, whatever the policy's numbers.

Each example's expected outcome (its row in examples/orders/README.md) is a regression case in
rules/cases/examples.yaml, run by pytest and ``ruleengine test`` with the other cases: that is where the
default policy's decisions are pinned. Here: the README lists the folder, every example has its case,
every decision validates against the decision schema, and that check is not vacuous.
"""

from __future__ import annotations

import copy
import json
import re
from decimal import Decimal
from typing import Any

import pytest
import yaml
from conftest import DECISION_SCHEMA, EXAMPLES, RULES, load_example

import ruleengine
from ruleengine.authoring.case_files import load_cases

ALL_EXAMPLES = sorted(p.name for p in EXAMPLES.glob("*.json"))
EXAMPLE_CASES = RULES / "cases" / "examples.yaml"


def decide(policy: ruleengine.Policy, facts: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Evaluate, validate the JSON against the decision schema, and return the parsed JSON (Decimal money)."""
    text = policy.evaluate(facts, **kwargs).to_json()
    data: dict[str, Any] = json.loads(text, parse_float=Decimal)
    errors = sorted(DECISION_SCHEMA.iter_errors(data), key=lambda e: list(e.absolute_path))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]
    return data


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


def test_every_example_has_its_expected_outcome_as_a_case_in_readme_order() -> None:
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([^`/]+\.json)` \|", readme, re.MULTILINE)
    specs = yaml.safe_load(EXAMPLE_CASES.read_text(encoding="utf-8"))["cases"]
    assert [spec["example"] for spec in specs] == rows, "examples.yaml: one case per README row, in the README's order"
    for spec in specs:
        assert set(spec) == {"name", "example", "expect"}, f"{spec['name']}: the case takes the example as it is"
        assert set(spec["expect"]) - {"fired"}, f"{spec['name']}: the case states the outcome, not only the rules fired"
    assert len(load_cases(EXAMPLE_CASES)) == len(rows)  # the file is checked as it loads: a problem raises


@pytest.mark.parametrize("name", ALL_EXAMPLES)
@pytest.mark.parametrize("explain", [False, True])
def test_every_decision_validates_against_the_decision_schema(policy: ruleengine.Policy, name: str, explain: bool) -> None:
    facts = load_example(name)
    data = decide(policy, facts, explain=explain)
    assert data["order_id"] == facts["order_id"]
    assert data["as_of"] == facts["as_of"]
    assert data["policy"] == {"name": policy.name, "version": policy.version, "digest": policy.digest}
    assert list(data["services"]) == [item["sku"] for item in facts["items"]]  # every line, in the order's order
    assert ("claim" in data) == ("claim" in facts)
    assert ("trace" in data) == explain
    if "claim" in data:
        assert data["claim"]["id"] == facts["claim"]["id"]
        assert data["claim"]["type"] == facts["claim"]["type"]
        assert data["claim"]["refund_channel"] == facts["payment"]["method"]
    assert len(data["fired"]) == len(set(data["fired"]))
