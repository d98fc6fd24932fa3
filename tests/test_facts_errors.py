"""Bad order facts are refused with a FactsError that says where (a JSON pointer) and what; never a traceback."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLES, load_example

import ruleengine

CLI = Path(sys.executable).parent / "ruleengine"
BASE = "seven-day-return-last-minute-approved.json"


def problems_of(policy: ruleengine.Policy, facts: Any) -> list[ruleengine.FactsProblem]:
    with pytest.raises(ruleengine.FactsError) as info:
        policy.evaluate(facts)
    problems = info.value.problems
    assert problems, "a FactsError must list its problems"
    for p in problems:
        assert isinstance(p, ruleengine.FactsProblem)
        assert p.message and p.code
        assert p.pointer == "" or p.pointer.startswith("/")
    return problems


def mutated(change: Callable[[dict[str, Any]], None], name: str = BASE) -> dict[str, Any]:
    facts = load_example(name)
    change(facts)
    return facts


def the_one(problems: list[ruleengine.FactsProblem], pointer: str) -> ruleengine.FactsProblem:
    found = [p for p in problems if p.pointer == pointer]
    assert found, f"no problem at {pointer}: {[str(p) for p in problems]}"
    return found[0]


# ---------------------------------------------------------------- schema problems at their pointer


def test_missing_required_field(policy: ruleengine.Policy) -> None:
    problems = problems_of(policy, mutated(lambda f: f["logistics"].pop("promised_ship_by")))
    assert len(problems) == 1
    p = the_one(problems, "/logistics")
    assert p.code == "required"
    assert "promised_ship_by" in p.message


def test_missing_top_level_field_points_at_the_document(policy: ruleengine.Policy) -> None:
    p = the_one(problems_of(policy, mutated(lambda f: f.pop("as_of"))), "")
    assert "as_of" in p.message


def test_every_missing_field_is_named(policy: ruleengine.Policy) -> None:
    def change(f: dict[str, Any]) -> None:
        del f["logistics"]["promised_ship_by"]
        del f["logistics"]["status"]

    problems = [p for p in problems_of(policy, mutated(change)) if p.pointer == "/logistics"]
    named = {field for p in problems for field in ("promised_ship_by", "status") if field in p.message}
    assert named == {"promised_ship_by", "status"}


def test_unknown_field(policy: ruleengine.Policy) -> None:
    p = the_one(problems_of(policy, mutated(lambda f: f["buyer"].__setitem__("vip_level", 3))), "/buyer/vip_level")
    assert p.code == "additionalProperties"
    assert "vip_level" in p.message


def test_unknown_field_with_a_near_name_suggests_it(policy: ruleengine.Policy) -> None:
    def change(f: dict[str, Any]) -> None:
        f["chanel"] = f.pop("channel")

    problems = problems_of(policy, mutated(change))
    p = the_one(problems, "/chanel")
    assert "did you mean 'channel'" in p.message



def set_at(pointer: str, value: Any) -> Any:
    """A facts change that puts ``value`` at a JSON pointer."""

    def change(f: dict[str, Any]) -> None:
        *parents, last = [int(k) if k.isdigit() else k for k in pointer.strip("/").split("/")]
        target: Any = f
        for key in parents:
            target = target[key]
        target[last] = value

    return change

@pytest.mark.parametrize(
    ("pointer", "value", "suggestion"),
    [
        ("/channel", "livestrem", "livestream"),
        ("/claim/type", "no_reason_retrun", "no_reason_return"),
        ("/shop/type", "offical_flagship", "official_flagship"),
        ("/items/0/category", "aparel", "apparel"),
    ],
)
def test_wrong_enum_value_suggests_the_near_one(policy: ruleengine.Policy, pointer: str, value: str, suggestion: str) -> None:
    p = the_one(problems_of(policy, mutated(set_at(pointer, value))), pointer)
    assert p.code == "enum"
    assert f"did you mean '{suggestion}'" in p.message
    assert value in p.message


def test_enum_value_far_from_any_lists_the_allowed_values(policy: ruleengine.Policy) -> None:
    p = the_one(problems_of(policy, mutated(lambda f: f.__setitem__("channel", "tv"))), "/channel")
    assert "did you mean" not in p.message
    for allowed in ("app", "web", "mini_program", "livestream"):
        assert allowed in p.message


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-11T15:20:00",  # no offset
        "2026-02-30T10:00:00+08:00",  # no such day
        "2026-11-11 15:20:00+08:00",  # not RFC 3339
        "2026-11-11T25:00:00+08:00",
        "2026-11-11",
    ],
)
def test_bad_timestamps_are_refused_at_their_pointer(policy: ruleengine.Policy, value: str) -> None:
    p = the_one(problems_of(policy, mutated(lambda f: f["logistics"].__setitem__("signed_at", value))), "/logistics/signed_at")
    assert p.code == "format"
    assert value in p.message


def test_naive_timestamp_message_asks_for_an_offset(policy: ruleengine.Policy) -> None:
    p = the_one(
        problems_of(policy, mutated(lambda f: f["claim"].__setitem__("requested_at", "2026-11-11T15:20:00"))), "/claim/requested_at"
    )
    assert "offset" in p.message


def test_text_where_a_number_belongs(policy: ruleengine.Policy) -> None:
    p = the_one(problems_of(policy, mutated(lambda f: f["items"][0].__setitem__("paid_amount", "259.00"))), "/items/0/paid_amount")
    assert p.code == "type"
    assert "number" in p.message


def test_boolean_is_not_a_number(policy: ruleengine.Policy) -> None:
    p = the_one(problems_of(policy, mutated(lambda f: f["buyer"].__setitem__("credit_score", True))), "/buyer/credit_score")
    assert p.code == "type"


def test_negative_amount(policy: ruleengine.Policy) -> None:
    p = the_one(problems_of(policy, mutated(lambda f: f["items"][0].__setitem__("paid_amount", Decimal("-1.00")))), "/items/0/paid_amount")
    assert p.code == "minimum"


def test_more_than_two_decimals(policy: ruleengine.Policy) -> None:
    p = the_one(problems_of(policy, mutated(lambda f: f["payment"].__setitem__("amount", Decimal("259.001")))), "/payment/amount")
    assert p.code == "multipleOf"
    assert "259.001" in p.message


@pytest.mark.parametrize(
    ("pointer", "value", "unwanted"),
    [("/buyer", [], "a list a list"), ("/claim", None, "null null"), ("/items/0/paid_amount", Decimal("-1.00"), "Decimal(")],
)
def test_messages_read_well(policy: ruleengine.Policy, pointer: str, value: Any, unwanted: str) -> None:
    p = the_one(problems_of(policy, mutated(set_at(pointer, value))), pointer)
    assert unwanted not in p.message


def test_claim_on_a_sku_that_is_not_a_line(policy: ruleengine.Policy) -> None:
    p = the_one(problems_of(policy, mutated(lambda f: f["claim"].__setitem__("sku", "SKU-NOPE"))), "/claim/sku")
    assert p.code == "unknown_sku"
    assert "SKU-NOPE" in p.message


def test_duplicate_skus(policy: ruleengine.Policy) -> None:
    problems = problems_of(policy, mutated(lambda f: f["items"].append(copy.deepcopy(f["items"][0])), "fast-refund-immediate.json"))
    p = the_one(problems, "/items/1/sku")
    assert p.code == "duplicate_sku"
    assert "SKU-LC-ETB-S3" in p.message


def test_claim_returning_more_units_than_the_line_has(policy: ruleengine.Policy) -> None:
    p = the_one(problems_of(policy, mutated(lambda f: f["claim"].__setitem__("quantity", 2))), "/claim/quantity")
    assert "2" in p.message


def test_several_problems_are_reported_together(policy: ruleengine.Policy) -> None:
    def change(f: dict[str, Any]) -> None:
        f["channel"] = "tv"
        f["items"][0]["paid_amount"] = "x"
        f["buyer"]["extra"] = 1

    pointers = {p.pointer for p in problems_of(policy, mutated(change))}
    assert {"/channel", "/items/0/paid_amount", "/buyer/extra"} <= pointers


def test_not_an_object(policy: ruleengine.Policy) -> None:
    for value in ([], "[]", "[1, 2]", b"42"):
        problems_of(policy, value)


# ---------------------------------------------------------------- JSON text


def _json_text(name: str = BASE) -> str:
    return (EXAMPLES / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_in_json_text_are_refused(policy: ruleengine.Policy, constant: str) -> None:
    text = _json_text().replace('"paid_amount": 259.00', f'"paid_amount": {constant}')
    assert constant in text
    problems = problems_of(policy, text)
    assert any(constant in p.message for p in problems), [str(p) for p in problems]


def test_duplicate_keys_in_json_text_are_refused(policy: ruleengine.Policy) -> None:
    text = _json_text().replace('"channel": "app",', '"channel": "app",\n  "channel": "web",')
    assert text.count('"channel"') == 2
    problems = problems_of(policy, text)
    assert any("duplicate" in p.message and "channel" in p.message for p in problems), [str(p) for p in problems]


def test_json_syntax_error_has_a_line_and_column(policy: ruleengine.Policy) -> None:
    text = _json_text().replace('"channel": "app",', '"channel": "app",,')
    p = problems_of(policy, text)[0]
    line = next(i for i, row in enumerate(text.splitlines(), 1) if ",," in row)
    assert (p.line, p.column) == (line, text.splitlines()[line - 1].index(",,") + 2)


def test_value_errors_in_json_text_are_located(policy: ruleengine.Policy) -> None:
    text = _json_text().replace('"paid_amount": 259.00', '"paid_amount": NaN')
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "NaN" in row)
    assert line > 1
    p = problems_of(policy, text)[0]
    assert p.line == line or p.pointer == "/items/0/paid_amount"


@pytest.mark.parametrize("value", ["NaN", "Infinity", "1E+400"])
def test_non_finite_or_huge_decimal_in_a_dict_is_a_facts_error(policy: ruleengine.Policy, value: str) -> None:
    facts = mutated(lambda f: f["items"][0].__setitem__("paid_amount", Decimal(value)))
    the_one(problems_of(policy, facts), "/items/0/paid_amount")


# ---------------------------------------------------------------- the command line


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(CLI), *args], input=stdin.decode() if stdin else None, capture_output=True, text=True, timeout=60, check=False
    )
    assert "Traceback" not in result.stderr, result.stderr
    assert "Traceback" not in result.stdout
    return result


@pytest.fixture
def broken_file(tmp_path: Path) -> Path:
    facts = json.loads(_json_text())
    del facts["logistics"]["promised_ship_by"]
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(facts, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def test_cli_facts_error_text(broken_file: Path) -> None:
    result = run("evaluate", str(broken_file))
    assert result.returncode == 1
    assert result.stdout == ""
    assert "/logistics" in result.stderr
    assert "promised_ship_by" in result.stderr
    assert str(broken_file) in result.stderr


def test_cli_facts_error_json(broken_file: Path) -> None:
    result = run("evaluate", str(broken_file), "--format", "json")
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert data["error"] == "facts"
    assert data["problems"] == [{"pointer": "/logistics", "code": "required", "message": "missing required field 'promised_ship_by'"}]


def test_cli_reads_stdin_and_names_it(broken_file: Path) -> None:
    result = run("evaluate", "-", stdin=broken_file.read_bytes())
    assert result.returncode == 1
    assert "<stdin>" in result.stderr and "/logistics" in result.stderr


def test_cli_nan_in_json_text(tmp_path: Path) -> None:
    path = tmp_path / "nan.json"
    path.write_text(_json_text().replace('"paid_amount": 259.00', '"paid_amount": NaN'), encoding="utf-8")
    result = run("evaluate", str(path), "--format", "json")
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert data["error"] == "facts"
    assert any("NaN" in p["message"] for p in data["problems"])


def test_cli_one_bad_file_among_good_ones_still_decides_the_good(broken_file: Path) -> None:
    good = str(EXAMPLES / BASE)
    result = run("evaluate", good, str(broken_file), good, "--format", "json")
    assert result.returncode == 1
    decoder = json.JSONDecoder()
    out, docs = result.stdout, []
    index = 0
    while index < len(out):
        if out[index].isspace():
            index += 1
            continue
        doc, index = decoder.raw_decode(out, index)
        docs.append(doc)
    assert [d.get("error", d.get("order_id")) for d in docs] == ["TM2026110800002", "facts", "TM2026110800002"]


def test_cli_missing_file_is_exit_1_without_traceback(tmp_path: Path) -> None:
    result = run("evaluate", str(tmp_path / "nope.json"))
    assert result.returncode == 1
    assert "nope.json" in result.stderr


def test_cli_batch_keeps_order_and_reports_each_line(tmp_path: Path, policy: ruleengine.Policy) -> None:
    good_a = json.dumps(json.loads(_json_text()), ensure_ascii=False)
    bad_schema = json.loads(_json_text("late-shipment-compensation.json"))
    bad_schema["channel"] = "tv"
    good_b = json.dumps(json.loads(_json_text("late-shipment-compensation.json")), ensure_ascii=False)
    batch = tmp_path / "orders.jsonl"
    batch.write_text("\n".join([good_a, '{"order_id": oops', json.dumps(bad_schema, ensure_ascii=False), good_b]) + "\n", encoding="utf-8")
    result = run("evaluate", "--batch", str(batch))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 4
    out = [json.loads(line, parse_float=Decimal) for line in lines]
    assert lines[0] == policy.evaluate(good_a).to_json() and out[0]["order_id"] == "TM2026110800002"
    assert out[1]["line"] == 2 and out[1]["error"] == "facts"
    assert out[1]["problems"][0]["code"] == "json_syntax"
    assert out[2]["line"] == 3 and out[2]["error"] == "facts"
    assert [p["pointer"] for p in out[2]["problems"]] == ["/channel"]
    assert lines[3] == policy.evaluate(good_b).to_json() and out[3]["order_id"] == "TM2026111100011"
    assert ":2" in result.stderr and ":3" in result.stderr


def test_cli_batch_of_good_lines_exits_0(tmp_path: Path, policy: ruleengine.Policy) -> None:
    names = ["fast-refund-immediate.json", "stock-out-compensation.json"]
    batch = tmp_path / "ok.jsonl"
    batch.write_text("\n".join(json.dumps(json.loads(_json_text(n))) for n in names) + "\n\n", encoding="utf-8")
    result = run("evaluate", "--batch", str(batch))
    assert result.returncode == 0
    assert result.stdout.splitlines() == [policy.evaluate(load_example(n)).to_json() for n in names]
    assert result.stderr == ""


def test_cli_usage_errors_exit_2() -> None:
    assert run("evaluate").returncode == 2
    assert run("evaluate", "x.json", "--batch", "y.jsonl").returncode == 2
