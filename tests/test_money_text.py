"""Money on the wire is a decimal string that every validator reads alike, and the engine reads exactly.

Two validators nobody here wrote judge the published schemas the way clients do — ajv 8 (JSON Schema
2020-12 with ajv-formats, numbers as JavaScript floats) and Python jsonschema over ``json.loads`` (numbers
as Python floats) — over every example order, every example's decision, and 2,000 generated orders and
their decisions: all are accepted, and a third decimal is refused by both. ajv runs when ``node`` can load
it (``NODE_PATH``; ``.ci/run`` installs it); under CI a missing ajv is a failure, not a skip.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema_rs
import pytest
from conftest import EXAMPLES, ROOT, load_example
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker

import ruleengine
from ruleengine.authoring.case_files import case_file_text, load_cases
from ruleengine.authoring.cases import run_case
from ruleengine.runtime.facts import read_facts
from ruleengine.runtime.moneytext import read_order_money
from ruleengine.schemas import load_schema, python_form, python_schema

SCHEMAS = ROOT / "schemas"
AJV_CHECK = ROOT / "tests" / "contract" / "ajv_check.js"
ORDER_ID, DECISION_ID = load_schema("order.schema.json")["$id"], load_schema("decision.schema.json")["$id"]


def _corpus_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("corpus_generate", ROOT / "examples" / "corpus" / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------- the documents every validator must accept


@pytest.fixture(scope="module")
def documents(policy: ruleengine.Policy) -> dict[str, list[tuple[str, str, str]]]:
    """(schema $id, JSON text, name) by group: the examples and their decisions, a corpus and its decisions."""
    corpus = _corpus_module()
    groups: dict[str, list[tuple[str, str, str]]] = {"examples": [], "example decisions": [], "corpus": [], "corpus decisions": []}
    for path in sorted(EXAMPLES.glob("*.json")):
        groups["examples"].append((ORDER_ID, path.read_text(encoding="utf-8"), path.name))
        for explain in (False, True):
            groups["example decisions"].append((DECISION_ID, policy.evaluate(read_facts(path), explain=explain).to_json(), path.name))
    for order in corpus.generate(2000, seed=7):
        line = corpus.dumps(order)
        groups["corpus"].append((ORDER_ID, line, order["order_id"]))
        groups["corpus decisions"].append((DECISION_ID, policy.evaluate(line).to_json(), order["order_id"]))
    return groups


def _float_validators() -> dict[str, Draft202012Validator]:
    """Python jsonschema as a client runs it: the published files and the documents read with plain json (floats)."""
    checker = FormatChecker()
    out = {}
    for name in ("order.schema.json", "decision.schema.json"):
        schema = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
        out[schema["$id"]] = Draft202012Validator(schema, format_checker=checker)
    return out


def test_python_jsonschema_reading_floats_accepts_every_order_and_decision(documents: dict[str, list[tuple[str, str, str]]]) -> None:
    validators = _float_validators()
    for group, items in documents.items():
        refused = [name for schema, text, name in items if not validators[schema].is_valid(json.loads(text))]
        assert refused == [], f"{group}: {len(refused)} of {len(items)} refused, e.g. {refused[:3]}"
    assert len(documents["corpus"]) == len(documents["corpus decisions"]) == 2000


def _ajv_env() -> dict[str, str] | None:
    """The environment in which node loads ajv and ajv-formats, or None (a skip; a failure under CI)."""
    env = dict(os.environ)
    node = shutil.which("node")
    probe = 'require("ajv/dist/2020"); require("ajv-formats")'
    if node is not None and subprocess.run([node, "-e", probe], env=env, capture_output=True, timeout=60).returncode == 0:
        return env
    if os.environ.get("CI"):  # .ci/run installs both: there, a missing one is a failure, not a skip
        pytest.fail("ajv is required under CI: node with ajv@8 and ajv-formats@3 on NODE_PATH (.ci/run installs them)")
    return None


def ajv(items: list[tuple[str, Any]]) -> list[str]:
    """ajv's verdict ("ok" or "refused …") on each (schema $id, instance), the instances parsed as JavaScript parses them."""
    env = _ajv_env()
    if env is None:
        pytest.skip("node with ajv and ajv-formats is not available (NODE_PATH); .ci/run installs them")
    lines = "".join(json.dumps({"schema": schema, "instance": instance}, ensure_ascii=False) + "\n" for schema, instance in items)
    files = [str(SCHEMAS / "order.schema.json"), str(SCHEMAS / "decision.schema.json")]
    run = subprocess.run(
        ["node", str(AJV_CHECK), *files], input=lines, capture_output=True, text=True, env=env, timeout=300, check=True
    )
    verdicts = run.stdout.splitlines()
    assert len(verdicts) == len(items), run.stderr
    return verdicts


def test_ajv_accepts_every_order_and_decision(documents: dict[str, list[tuple[str, str, str]]]) -> None:
    everything = [(group, schema, text, name) for group, items in documents.items() for schema, text, name in items]
    # Each document as JavaScript holds it: re-serialised from a float reading (json.loads), as JSON.parse would see it.
    verdicts = ajv([(schema, json.loads(text)) for _, schema, text, _ in everything])
    refused = [(group, name, verdict) for (group, _, _, name), verdict in zip(everything, verdicts, strict=True) if verdict != "ok"]
    assert refused == [], f"{len(refused)} refused, e.g. {refused[:3]}"


THIRD_DECIMAL = [("order", ("payment", "amount"), "1.005"), ("order", ("items", 0, "paid_amount"), "33.333"), ("decision", None, "0.075")]


def _with_amount(kind: str, path: tuple[Any, ...] | None, amount: Any) -> dict[str, Any]:
    if kind == "order":
        document: dict[str, Any] = json.loads((EXAMPLES / "multi-line-partial-return.json").read_text(encoding="utf-8"))
        node: Any = document
        assert path is not None
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = amount
        return document
    decision: dict[str, Any] = json.loads(ruleengine.load_policy().evaluate(load_example("multi-line-partial-return.json")).to_json())
    decision["claim"]["refund_amount"] = amount
    return decision


def test_a_third_decimal_and_a_json_number_are_refused_by_every_validator() -> None:
    validators = _float_validators()
    cases = [(kind, path, amount) for kind, path, amount in THIRD_DECIMAL]
    cases += [(kind, path, float(amount)) for kind, path, amount in THIRD_DECIMAL]  # the same amounts as JSON numbers
    cases += [("order", ("payment", "amount"), 0.07), ("decision", None, 33.33), ("decision", None, "33.3")]
    cases += [("order", ("shipping", "fee"), "-1")]
    documents = [(ORDER_ID if kind == "order" else DECISION_ID, _with_amount(kind, path, amount)) for kind, path, amount in cases]
    for (kind, _, amount), (schema, document) in zip(cases, documents, strict=True):
        assert not validators[schema].is_valid(document), (kind, amount)
    verdicts = ajv(documents)
    assert all(verdict.startswith("refused") for verdict in verdicts), list(zip(cases, verdicts, strict=True))


# ---------------------------------------------------------------- the pattern is the bound: text and number agree

ORDER_MONEY = load_schema("order.schema.json")["$defs"]["money"]
DECISION_MONEY = load_schema("decision.schema.json")["$defs"]["money"]


def _numbers(definition: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(definition["contentSchema"])


@pytest.mark.parametrize(
    ("text", "order", "decision"),
    [
        ("0", True, False),
        ("0.00", True, True),
        ("0.07", True, True),
        ("33.33", True, True),
        ("199", True, False),
        ("199.5", True, False),
        ("999999999.99", True, True),
        ("1000000000", True, False),
        ("1000000000.0", True, False),
        ("1000000000.00", True, True),
        ("1000000000.01", False, False),
        ("1000000001", False, False),
        ("1.005", False, False),
        ("-1.00", False, False),
        ("+1.00", False, False),
        ("01.00", False, False),
        ("1.", False, False),
        (".5", False, False),
        ("1e3", False, False),
        (" 1.00", False, False),
        ("1.00\n", False, False),
        ("١٢.٠٠", False, False),
        ("", False, False),
    ],
)
def test_the_published_patterns(text: str, order: bool, decision: bool) -> None:
    """Orders: at most 2 decimals; decisions: exactly 2; both 0 to 10^9 — the same in Python's re and in Rust."""
    assert Draft202012Validator(ORDER_MONEY).is_valid(text) is order
    assert Draft202012Validator(DECISION_MONEY).is_valid(text) is decision
    assert jsonschema_rs.Draft202012Validator(json.loads(json.dumps(ORDER_MONEY, default=float))).is_valid(text) is order
    assert jsonschema_rs.Draft202012Validator(json.loads(json.dumps(DECISION_MONEY, default=float))).is_valid(text) is decision


@settings(max_examples=400, deadline=None)
@given(cents=st.one_of(st.integers(min_value=-10, max_value=10**11 + 10), st.sampled_from([10**11 - 1, 10**11, 10**11 + 1])))
def test_a_string_is_an_amount_exactly_when_the_number_it_stands_for_is(cents: int) -> None:
    """The pattern states the bounds the contentSchema states for the number: one meaning, written twice, kept equal."""
    number = Decimal(cents) / 100
    text = f"{abs(number):.2f}" if number >= 0 else f"{number:.2f}"
    as_number = _numbers(ORDER_MONEY).is_valid(number)
    assert Draft202012Validator(ORDER_MONEY).is_valid(text) is as_number
    assert Draft202012Validator(DECISION_MONEY).is_valid(text) is _numbers(DECISION_MONEY).is_valid(number) is as_number
    if as_number and cents % 100 == 0:
        assert Draft202012Validator(ORDER_MONEY).is_valid(str(cents // 100))


# ---------------------------------------------------------------- the Python form, derived at load


def test_the_python_form_takes_the_string_or_the_exact_number_it_stands_for() -> None:
    derived = python_form(load_schema("order.schema.json"))
    money = derived["$defs"]["money"]
    assert money["anyOf"][1] == ORDER_MONEY["contentSchema"]
    assert money["anyOf"][0]["pattern"] == ORDER_MONEY["pattern"]
    assert money["description"] == ORDER_MONEY["description"]
    # Nothing else changes: the derived schema is the published one where no number is written as text.
    rest = {k: v for k, v in derived["$defs"].items() if k != "money"}
    assert rest == {k: v for k, v in load_schema("order.schema.json")["$defs"].items() if k != "money"}
    assert derived["properties"] == load_schema("order.schema.json")["properties"]
    assert python_schema("order.schema.json") == derived
    check = Draft202012Validator(money)
    for good in ("19.99", Decimal("19.99"), Decimal("19.990"), 19, Decimal("1E+2")):
        assert check.is_valid(good), good
    for bad in ("19.999", Decimal("19.999"), Decimal("-1"), "-1", 10**9 + 1, True, None):
        assert not check.is_valid(bad), bad


def test_python_form_applies_to_any_number_written_as_text() -> None:
    schema = {
        "type": "object",
        "properties": {
            "price": {
                "type": "string",
                "pattern": "^[0-9]+$",
                "contentMediaType": "application/json",
                "contentSchema": {"type": "integer"},
            },
            "note": {"type": "string", "contentMediaType": "application/json", "contentSchema": {"type": "object"}},
            "plain": {"type": "string"},
        },
    }
    derived = python_form(schema)
    assert derived["properties"]["price"] == {"anyOf": [schema["properties"]["price"], {"type": "integer"}]}
    assert derived["properties"]["note"] == schema["properties"]["note"]  # text that stands for an object stays text
    assert derived["properties"]["plain"] == schema["properties"]["plain"]
    assert schema["properties"]["price"]["type"] == "string"  # the published schema is not changed


# ---------------------------------------------------------------- the engine: reading, Python data, refusing numbers


def test_read_facts_gives_decimal_amounts(policy: ruleengine.Policy) -> None:
    facts = read_facts(EXAMPLES / "multi-line-partial-return.json")
    assert facts["payment"]["amount"] == Decimal("387.00") and isinstance(facts["payment"]["amount"], Decimal)
    assert all(isinstance(item["paid_amount"], Decimal) for item in facts["items"])
    yaml_text = "order_id: A\npayment: {method: alipay, amount: '5'}\nitems:\n  - {unit_price: '5.5', paid_amount: '5.50'}\n"
    read = read_facts(yaml_text)
    assert (read["payment"]["amount"], read["items"][0]["unit_price"], read["items"][0]["paid_amount"]) == (
        Decimal("5"),
        Decimal("5.5"),
        Decimal("5.50"),
    )


def test_evaluate_takes_decimals_integers_and_the_wire_strings_alike(returns_policy: ruleengine.Policy) -> None:
    as_read = load_example("multi-line-partial-return.json")
    as_text = json.loads((EXAMPLES / "multi-line-partial-return.json").read_text(encoding="utf-8"))  # amounts still strings
    as_integers = load_example("multi-line-partial-return.json")
    as_integers["items"][0]["paid_amount"] = int(as_read["items"][0]["paid_amount"])  # 100.00 as an int
    assert as_integers["items"][0]["paid_amount"] == as_read["items"][0]["paid_amount"]
    decisions = [returns_policy.evaluate(facts) for facts in (as_read, as_text, as_integers)]
    assert decisions[0].to_json() == decisions[1].to_json() == decisions[2].to_json()
    claim = decisions[1].claim
    assert claim is not None and isinstance(claim["refund_amount"], Decimal)
    assert f'"refund_amount":"{claim["refund_amount"]:f}"' in decisions[1].to_json()
    assert isinstance(as_text["payment"]["amount"], str)  # the caller's data is not changed


def test_a_string_that_is_not_an_amount_is_a_facts_error_at_its_pointer(policy: ruleengine.Policy) -> None:
    facts = json.loads((EXAMPLES / "multi-line-partial-return.json").read_text(encoding="utf-8"))
    facts["items"][1]["paid_amount"] = "100.001"
    facts["shipping"]["fee"] = "1e3"
    with pytest.raises(ruleengine.FactsError) as info:
        policy.evaluate(facts)
    assert [(p.pointer, p.code) for p in info.value.problems] == [("/items/1/paid_amount", "pattern"), ("/shipping/fee", "pattern")]
    assert "is not an amount" in info.value.problems[0].message and "at most 2 decimals" in info.value.problems[0].message
    with pytest.raises(ruleengine.FactsError) as trusted:  # unchecked facts still never turn bad text into money
        policy.evaluate(facts, trusted=True)
    assert trusted.value.problems[0].code == "pattern"


@pytest.mark.parametrize("syntax", ["json", "yaml"])
def test_a_number_where_money_belongs_is_refused_on_the_wire_naming_the_string_to_write(syntax: str) -> None:
    text = (EXAMPLES / "multi-line-partial-return.json").read_text(encoding="utf-8").replace('"amount": "387.00"', '"amount": 387.00')
    text = text.replace('"unit_price": "39.00"', '"unit_price": 39')
    if syntax == "yaml":  # the same order as YAML: an unquoted amount is a YAML number
        import yaml

        text = yaml.safe_dump(json.loads(text), allow_unicode=True)
    with pytest.raises(ruleengine.FactsError) as info:
        read_facts(text)
    found = [(p.pointer, p.code) for p in info.value.problems]
    assert found == [("/payment/amount", "money_number"), ("/items/0/unit_price", "money_number")]
    assert '"387.00"' in info.value.problems[0].message and '"39.00"' in info.value.problems[1].message
    with pytest.raises(ruleengine.FactsError):
        ruleengine.load_policy().evaluate(text)


def test_reading_money_converts_only_amounts(policy: ruleengine.Policy) -> None:
    """Amounts become Decimal; every other string (ids, titles, times) is left as it was."""
    order = json.loads((EXAMPLES / "multi-line-partial-return.json").read_text(encoding="utf-8"))
    before = json.loads(json.dumps(order))
    assert read_order_money(order) == []
    changed = sorted(_diff(before, order))
    lines = [f"/items/{i}/{key}" for i in range(len(order["items"])) for key in ("unit_price", "paid_amount")]
    assert changed == sorted(["/payment/amount", "/shipping/fee", *lines])


def _diff(before: Any, after: Any, pointer: str = "") -> Iterator[str]:
    if isinstance(before, dict):
        for key in before:
            yield from _diff(before[key], after[key], f"{pointer}/{key}")
    elif isinstance(before, list):
        for index, (b, a) in enumerate(zip(before, after, strict=True)):
            yield from _diff(b, a, f"{pointer}/{index}")
    elif type(before) is not type(after):
        assert Decimal(before) == after
        yield pointer


def test_decision_to_dict_gives_decimal_and_to_json_writes_strings(returns_policy: ruleengine.Policy) -> None:
    decision = returns_policy.evaluate(load_example("multi-line-partial-return.json"), explain=True)
    claim = decision.claim
    assert claim is not None and isinstance(claim["refund_amount"], Decimal) and claim["refund_amount"] % 1  # a fraction
    assert decision.to_dict()["claim"]["refund_amount"] == claim["refund_amount"]
    text = decision.to_json()
    assert f'"refund_amount":"{claim["refund_amount"]:f}"' in text and '"compensation_amount":"0.00"' in text

    def numbers(value: Any) -> Iterator[Any]:
        if isinstance(value, dict):
            for item in value.values():
                yield from numbers(item)
        elif isinstance(value, list):
            for item in value:
                yield from numbers(item)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            yield value

    assert all(isinstance(n, int) for n in numbers(json.loads(text)))  # trace included: no fraction is a JSON number


def test_a_case_file_compares_an_amount_written_as_a_number_or_as_the_decision_writes_it(
    returns_policy: ruleengine.Policy, tmp_path: Path
) -> None:
    refund = returns_policy.evaluate(load_example("multi-line-partial-return.json")).claim["refund_amount"]  # type: ignore[index]
    cases = tmp_path / "cases"
    cases.mkdir()
    example = EXAMPLES / "multi-line-partial-return.json"
    (cases / "money.yaml").write_text(
        "cases:\n"
        f"  - {{name: number, example: {example}, expect: {{claim.refund_amount: {refund:f}}}}}\n"
        f"  - {{name: text, example: {example}, expect: {{claim.refund_amount: '{refund:f}'}}}}\n"
        f"  - {{name: other, example: {example}, expect: {{claim.refund_amount: '{refund + 1:f}'}}}}\n",
        encoding="utf-8",
    )
    results = [run_case(case, returns_policy) for case in load_cases(cases / "money.yaml")]
    assert [result.status for result in results] == ["passed", "passed", "failed"]
    (cases / "bad.yaml").write_text(
        f"cases:\n  - {{name: third decimal, example: {example}, expect: {{claim.refund_amount: '1.005'}}}}\n", encoding="utf-8"
    )
    with pytest.raises(ruleengine.PolicyError) as refused:
        load_cases(cases / "bad.yaml")
    assert "not an amount" in str(refused.value)


def test_a_pinned_case_file_writes_a_shared_amount_twice_never_as_an_anchor(returns_policy: ruleengine.Policy, tmp_path: Path) -> None:
    """read_facts may hand out one Decimal for two equal amounts (it remembers amounts): YAML must not alias them."""
    facts = read_facts(EXAMPLES / "multi-line-partial-return.json")
    shared = facts["items"][0]["paid_amount"]
    facts["items"][1]["paid_amount"] = shared
    facts["items"][1]["unit_price"] = shared
    facts["payment"]["amount"] = sum((item["paid_amount"] for item in facts["items"]), facts["shipping"]["fee"])
    text = case_file_text("shared", facts, returns_policy.evaluate(facts).to_dict())
    assert "&id" not in text and "*id" not in text
    (tmp_path / "pinned.yaml").write_text(text, encoding="utf-8")
    (case,) = load_cases(tmp_path / "pinned.yaml")
    assert run_case(case, returns_policy).status == "passed"
