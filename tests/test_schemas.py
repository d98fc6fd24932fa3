"""The JSON Schemas: valid, offline, consistent with each other, and used by every rule file."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from ruleengine.compile.policyfolder import policy_files
from ruleengine.schemas import SCHEMA_FILES, VOCABULARY, load_schema, validator, vocabulary_sets

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", SCHEMA_FILES)
def test_schema_is_valid_2020_12(name: str) -> None:
    schema = load_schema(name)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def test_rule_schema_marks_the_same_vocabulary_sets_as_the_decision_schema() -> None:
    """A rule's action writes a value of the decision: both take it from the same set of the policy's vocabulary."""
    rule = load_schema("rule.schema.json")
    decision = load_schema("decision.schema.json")
    defs = decision["$defs"]

    def mark(node: dict[str, object]) -> object:
        ref = node.get("$ref")
        return defs[str(ref).rsplit("/", 1)[1]][VOCABULARY] if ref else node[VOCABULARY]

    action = rule["$defs"]["action"]["properties"]
    assert action["add_service"][VOCABULARY] == "service" == mark(decision["properties"]["services"]["additionalProperties"]["items"])
    compensation = decision["properties"]["compensations"]["items"]["properties"]
    for key in ("type", "form", "payer"):
        assert action["compensation"]["properties"][key][VOCABULARY] == mark(compensation[key])
    assert action["violation"][VOCABULARY] == mark(decision["properties"]["violations"]["items"]["properties"]["type"])
    deduction = mark(decision["properties"]["claim"]["properties"]["deductions"]["items"]["properties"]["type"])
    assert action["deduction"]["properties"]["type"][VOCABULARY] == deduction
    settable = set(action["set"]["propertyNames"]["enum"])
    claim_fields = {f"claim.{k}" for k in decision["properties"]["claim"]["properties"]}
    assert settable == claim_fields - {"claim.id", "claim.type", "claim.deductions", "claim.reasons"}


def test_the_vocabulary_section_declares_exactly_the_sets_the_schemas_mark() -> None:
    declared = set(load_schema("rule.schema.json")["properties"]["vocabulary"]["properties"])
    assert declared == set(vocabulary_sets())
    assert {"service", "claim_type", "category", "flag", "outcome", "compensation_type", "channel"} <= declared


def test_the_bundled_schemas_hold_no_value_set_of_the_policy() -> None:
    """The codes a person reads are the policy's: no enum in the bundled order and decision schemas but structural ones."""
    for name in ("order.schema.json", "decision.schema.json"):
        text = (ROOT / "schemas" / name).read_text(encoding="utf-8")
        for code in ("seven_day_return", "no_reason_return", "fresh_food", "needs_review", "red_packet", "livestream"):
            assert f'"{code}"' not in text, (name, code)


def test_every_policy_file_names_its_schema_for_the_editor() -> None:
    files = policy_files(ROOT / "rules") + sorted((ROOT / "rules" / "cases").glob("*.yaml"))
    assert files
    for path in files:
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema="), path
        target = (path.parent / first.split("=", 1)[1]).resolve()
        assert target.is_file(), f"{path}: {target} does not exist"


def test_money_multiple_of_is_exact_for_cents() -> None:
    """jsonschema with float multipleOf rejects 19.99; the bundled schemas use Decimal."""
    order = validator("order.schema.json")
    with open(ROOT / "examples" / "orders" / "plain-order-no-claim.json", encoding="utf-8") as handle:
        facts = json.load(handle, parse_float=Decimal)
    for cents in ("19.99", "0.07", "1.15", "4.35", "4.02"):
        facts["shipping"]["fee"] = Decimal(cents)
        assert order.is_valid(facts), cents
    facts["shipping"]["fee"] = Decimal("1.001")
    problems = order.problems(facts)
    assert [p.pointer for p in problems] == ["/shipping/fee"]
    assert problems[0].keyword == "multipleOf"


def test_remote_refs_are_never_fetched() -> None:
    from referencing.exceptions import Unresolvable

    from ruleengine.schemas import registry

    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$ref": "http://127.0.0.1:9/x.json"}
    checker = Draft202012Validator(schema, registry=registry())
    with pytest.raises(Unresolvable):
        checker.is_valid({})


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("2026-11-11T15:20:00+08:00", True),
        ("2026-11-11T07:20:00Z", True),
        ("2026-11-11T15:20:00.123+08:00", True),
        ("2026-11-11T15:20:00", False),  # no offset
        ("2026-11-11 15:20:00+08:00", False),
        ("2026-02-30T10:00:00+08:00", False),  # no such day
        ("2026-11-11", False),
    ],
)
def test_timestamps_need_an_offset_and_a_real_day(value: str, valid: bool) -> None:
    order = validator("order.schema.json")
    with open(ROOT / "examples" / "orders" / "plain-order-no-claim.json", encoding="utf-8") as handle:
        facts = json.load(handle, parse_float=Decimal)
    facts["as_of"] = value
    assert order.is_valid(facts) is valid
