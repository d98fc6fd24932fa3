"""The library at first touch: read_facts, a clear refusal of floats, documented Decision and Policy."""

from __future__ import annotations

import inspect
import json
import pydoc
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from tiny_policy import RETURN_ORDER, ROOT, write_tiny_policy

import ruleengine


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> ruleengine.Policy:
    return ruleengine.load_policy(write_tiny_policy(tmp_path_factory.mktemp("tiny") / "rules"))


# ---------------------------------------------------------------- read_facts


def test_read_facts_reads_json_or_yaml_text_bytes_or_a_path_with_decimal_money(tmp_path: Path) -> None:
    text = RETURN_ORDER.read_text(encoding="utf-8")
    as_yaml = tmp_path / "order.yaml"
    as_yaml.write_text(yaml.safe_dump(json.loads(text), allow_unicode=True), encoding="utf-8")  # timestamps quoted, amounts plain
    from_path = ruleengine.read_facts(RETURN_ORDER)
    assert from_path == ruleengine.read_facts(text) == ruleengine.read_facts(text.encode()) == ruleengine.read_facts(as_yaml)
    amount = from_path["payment"]["amount"]
    assert isinstance(amount, Decimal) and str(amount) == str(json.loads(text, parse_float=str)["payment"]["amount"])


def test_a_file_name_passed_as_text_gets_the_hint_to_pass_a_path() -> None:
    with pytest.raises(ruleengine.FactsError) as refused:
        ruleengine.read_facts("examples/orders/fast-refund-immediate.json")
    assert "pass pathlib.Path('examples/orders/fast-refund-immediate.json')" in str(refused.value)


def test_read_facts_of_a_missing_or_too_large_file_is_a_facts_error(tmp_path: Path) -> None:
    with pytest.raises(ruleengine.FactsError) as missing:
        ruleengine.read_facts(tmp_path / "nope.json")
    assert missing.value.problems[0].code == "unreadable" and "nope.json" in str(missing.value)
    big = tmp_path / "big.json"
    big.write_bytes(b" " * 2_000_000)
    with pytest.raises(ruleengine.FactsError) as too_large:
        ruleengine.read_facts(big, limits=ruleengine.Limits(max_file_bytes=1000))
    assert too_large.value.problems[0].code == "too_large"


def test_a_float_is_refused_with_the_way_out(tiny: ruleengine.Policy) -> None:
    with open(RETURN_ORDER, encoding="utf-8") as handle:
        floats = json.load(handle)  # what a newcomer writes first: money as float
    for kwargs in ({}, {"explain": True}, {"trusted": True}):
        with pytest.raises(ruleengine.FactsError) as refused:
            tiny.evaluate(floats, **kwargs)
        (problem, *_) = refused.value.problems
        assert problem.code == "float" and problem.pointer.startswith("/")
        assert "decimal.Decimal" in problem.message and "ruleengine.read_facts" in problem.message
    assert tiny.evaluate(ruleengine.read_facts(RETURN_ORDER)).claim is not None


# ---------------------------------------------------------------- Decision and Policy explain themselves


def test_decision_and_its_properties_have_docstrings(tiny: ruleengine.Policy) -> None:
    assert ruleengine.Decision.__doc__ and "Policy.evaluate" in ruleengine.Decision.__doc__
    public = [name for name, _ in inspect.getmembers(ruleengine.Decision) if not name.startswith("_") and name != "data"]
    assert {"to_dict", "to_json", "claim", "fired", "services", "compensations", "violations", "trace"} <= set(public)
    for name in public:
        assert inspect.getdoc(getattr(ruleengine.Decision, name)), f"Decision.{name} has no docstring"
    decision = tiny.evaluate(ruleengine.read_facts(RETURN_ORDER))
    assert decision.claim is not None and decision.claim["outcome"] == "approved"
    assert decision.compensations == [] and decision.violations == [] and decision.fired == ["tiny.approve"]


def test_help_of_policy_starts_with_the_methods_a_user_calls() -> None:
    text = pydoc.render_doc(ruleengine.Policy, renderer=pydoc.plaintext)
    head = "\n".join(text.splitlines()[:16])
    for call in ("load_policy", "evaluate(facts)", "with_parameters(", "compile_all()", "rule_ids()"):
        assert call in head, head
    assert "__init__(self" not in text and not any(line.startswith(" |  Policy(") for line in text.splitlines())


def test_the_readme_shows_read_facts_next_to_evaluate() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    library = readme.split("## The library", 1)[1].split("\n## ", 1)[0]
    assert "ruleengine.read_facts(" in library and "policy.evaluate(" in library
    assert library.index("read_facts") < library.index("policy.evaluate(")
