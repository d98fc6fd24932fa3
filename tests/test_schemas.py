"""The JSON Schemas: valid, offline, consistent with each other, and used by every rule file."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from ruleengine.compile.policyfolder import policy_files
from ruleengine.schemas import SCHEMA_FILES, load_schema, validator

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", SCHEMA_FILES)
def test_schema_is_valid_2020_12(name: str) -> None:
    schema = load_schema(name)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def test_rule_schema_enums_match_the_decision_schema() -> None:
    rule = load_schema("rule.schema.json")
    decision = load_schema("decision.schema.json")
    enums = decision["$defs"]

    def enum(node: dict[str, object]) -> object:
        ref = node.get("$ref")
        return enums[str(ref).rsplit("/", 1)[1]]["enum"] if ref else node["enum"]

    action = rule["$defs"]["action"]["properties"]
    assert action["add_service"]["enum"] == enums["service"]["enum"]
    compensation = decision["properties"]["compensations"]["items"]["properties"]
    for key in ("type", "form", "payer"):
        assert action["compensation"]["properties"][key]["enum"] == enum(compensation[key])
    assert action["violation"]["enum"] == enum(decision["properties"]["violations"]["items"]["properties"]["type"])
    deduction = enum(decision["properties"]["claim"]["properties"]["deductions"]["items"]["properties"]["type"])
    assert action["deduction"]["properties"]["type"]["enum"] == deduction
    settable = set(action["set"]["propertyNames"]["enum"])
    claim_fields = {f"claim.{k}" for k in decision["properties"]["claim"]["properties"]}
    assert settable == claim_fields - {"claim.id", "claim.type", "claim.deductions", "claim.reasons"}


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
