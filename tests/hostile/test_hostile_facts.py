"""Hostile order facts: JSON text, YAML text and Python objects passed to ``Policy.evaluate``.

Every case starts from ``order.json`` (a frozen copy of an example order that
the bundled policy approves) and changes one thing. Errors are asserted as the
FactsError problem: pointer, code and, for text, the line and column.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from hostile_support import (
    ORDER_FILE,
    ChildRunner,
    bounded_case,  # noqa: F401 - the autouse time and memory bound
    child_outcome,
    claim_outcome,
    only_problem,
    order_text,
    outcome,
)

import ruleengine


def line_col(text: str, needle: str) -> tuple[int, int]:
    offset = text.index(needle)
    return text.count("\n", 0, offset) + 1, offset - text.rfind("\n", 0, offset)


def order() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(order_text(), parse_float=Decimal)
    return data


def changed(path: tuple[Any, ...], value: Any = None, delete: bool = False) -> dict[str, Any]:
    data = order()
    target: Any = data
    for key in path[:-1]:
        target = target[key]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


def decide(policy: ruleengine.Policy, facts: Any) -> dict[str, Any]:
    return outcome(lambda: claim_outcome(policy.evaluate(facts)))


TEXT = order_text()
AMOUNT = '"amount": 299.00'
assert AMOUNT in TEXT


# ---------------------------------------------------------------- JSON text


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("NaN", "NaN is not a JSON number"),
        ("Infinity", "Infinity is not a JSON number"),
        ("-Infinity", "-Infinity is not a JSON number"),
    ],
)
def test_non_finite_json_constant(policy: ruleengine.Policy, token: str, message: str) -> None:
    text = TEXT.replace(AMOUNT, f'"amount": {token}')
    line, column = line_col(text, f'"amount": {token}')
    assert only_problem(decide(policy, text)) == ["", "json_value", line, column + 10, message]


def test_duplicate_json_key_points_at_the_second(policy: ruleengine.Policy) -> None:
    text = TEXT.replace('"channel": "app",', '"channel": "app",\n  "channel": "livestream",')
    line, column = line_col(text, '"channel": "livestream"')
    assert only_problem(decide(policy, text)) == ["", "json_value", line, column, "duplicate key 'channel'"]


def test_invalid_utf8_in_json(policy: ruleengine.Policy) -> None:
    data = TEXT.encode().replace("靓齿个护旗舰店".encode(), b"\xff\xfe")
    line, column = line_col(TEXT, "靓齿个护旗舰店")
    assert only_problem(decide(policy, data)) == ["", "encoding", line, column, "invalid UTF-8 byte 0xff; files must be UTF-8"]


def test_utf16_json_is_refused(policy: ruleengine.Policy) -> None:
    assert only_problem(decide(policy, TEXT.encode("utf-16")))[:4] == ["", "encoding", 1, 1]


def test_utf8_bom_json_is_accepted(policy: ruleengine.Policy) -> None:
    assert decide(policy, b"\xef\xbb\xbf" + TEXT.encode()) == decide(policy, TEXT.encode()) == {"kind": "ok", "value": "approved"}


def test_lone_surrogate_escape_is_refused(policy: ruleengine.Policy) -> None:
    text = TEXT.replace('"id": "RF2026103000009"', '"id": "RF\\ud800"')
    pointer, code, _line, _column, message = only_problem(decide(policy, text))
    assert (pointer, code) in (("/claim/id", "character"), ("", "character"))
    assert "U+D800" in message


def test_nul_escape_in_json_string_is_refused(policy: ruleengine.Policy) -> None:
    text = TEXT.replace('"id": "RF2026103000009"', '"id": "RF\\u0000"')
    pointer, code, _line, _column, message = only_problem(decide(policy, text))
    assert (pointer, code) in (("/claim/id", "character"), ("", "character"))
    assert "U+0000" in message


@pytest.mark.parametrize("escape", ["\\u0085", "\\u009d", "\\u00ad", "\\u200b", "\\ue000", "\\ufeff"], ids=lambda e: e[1:])
def test_every_refused_character_is_refused_when_written_as_an_escape(policy: ruleengine.Policy, escape: str) -> None:
    # C1 controls, soft hyphen, zero-width, private use, BOM: refused raw, so refused as \\u escapes too.
    text = TEXT.replace('"id": "RF2026103000009"', f'"id": "RF{escape}"')
    pointer, code, _line, _column, message = only_problem(decide(policy, text))
    assert (pointer, code) in (("/claim/id", "character"), ("", "character"))
    assert f"U+{escape[2:].upper()}" in message and "written as an escape" in message


@pytest.mark.parametrize("key", ['"\\x84"', '"\\u200b"', '"\\e"'], ids=["c1", "zero-width", "esc"])
def test_a_refused_character_in_a_quoted_yaml_key_is_refused(policy: ruleengine.Policy, key: str) -> None:
    pointer, code, line, _column, message = only_problem(decide(policy, f"order_id: A\n{key}: 1\n"))
    assert (pointer, code, line) == ("", "character", 2) and "in a key" in message


def test_nul_escape_in_yaml_facts_is_refused(policy: ruleengine.Policy) -> None:
    assert only_problem(decide(policy, 'order_id: "A\\0"\n')) == [
        "",
        "character",
        1,
        11,
        "character U+0000 control character is not allowed (written as an escape)",
    ]


def test_string_where_a_number_belongs(policy: ruleengine.Policy) -> None:
    text = TEXT.replace(AMOUNT, '"amount": "299.00"')
    assert only_problem(decide(policy, text)) == ["/payment/amount", "type", None, None, 'expected a number, got text "299.00"']


def test_fractional_quantity_in_json(policy: ruleengine.Policy) -> None:
    text = TEXT.replace('"quantity": 1,\n      "paid_amount"', '"quantity": 1.5,\n      "paid_amount"')
    assert only_problem(decide(policy, text)) == ["/items/0/quantity", "type", None, None, "expected an integer, got number 1.5"]


def test_integral_decimal_quantity_is_the_integer(policy: ruleengine.Policy) -> None:
    """JSON Schema counts 1.0 as an integer: the order is decided as with quantity 1 (refund of the whole line)."""
    text = TEXT.replace('"quantity": 1,\n      "paid_amount"', '"quantity": 1.0,\n      "paid_amount"')
    result = outcome(lambda: policy.evaluate(text).to_dict()["claim"])
    assert result["kind"] == "ok"
    assert (result["value"]["outcome"], str(result["value"]["refund_amount"])) == ("approved", "299.00")


def test_money_with_three_decimals(policy: ruleengine.Policy) -> None:
    text = TEXT.replace(AMOUNT, '"amount": 1.001')
    assert only_problem(decide(policy, text)) == [
        "/payment/amount",
        "multipleOf",
        None,
        None,
        "1.001 has more decimals than allowed (step 0.01)",
    ]


@pytest.mark.parametrize("body", ["[1, 2]", '"an order"', "42", "null"], ids=["list", "string", "number", "null"])
def test_json_document_that_is_not_an_object(policy: ruleengine.Policy, body: str) -> None:
    assert only_problem(decide(policy, body)) == ["", "type", None, None, "an order document must be a JSON object"]


@pytest.mark.parametrize("body", [b"", b"   \n", "# just a comment\n"], ids=["empty", "blank", "comment"])
def test_empty_body(policy: ruleengine.Policy, body: bytes | str) -> None:
    assert only_problem(decide(policy, body)) == ["", "empty", 1, 1, "the file holds no YAML document"]


def test_json_syntax_error_has_a_position(policy: ruleengine.Policy) -> None:
    text = TEXT.replace('"channel": "app",', '"channel": "app",,')
    line, column = line_col(text, ",,")
    assert only_problem(decide(policy, text)) == ["", "json_syntax", line, column + 1, "Expecting property name enclosed in double quotes"]


# ---------------------------------------------------------------- YAML text


def test_yaml_facts_with_an_alias(policy: ruleengine.Policy) -> None:
    assert only_problem(decide(policy, "order_id: &a X\nchannel: *a\n")) == ["", "anchor", 1, 11, "anchors (&a) are not allowed"]


def test_yaml_facts_with_a_cycle(policy: ruleengine.Policy) -> None:
    assert only_problem(decide(policy, "items: &a [*a]\n")) == ["", "anchor", 1, 8, "anchors (&a) are not allowed"]


def test_yaml_facts_with_an_unquoted_timestamp(policy: ruleengine.Policy) -> None:
    pointer, code, line, column, message = only_problem(decide(policy, "order_id: A\nas_of: 2026-01-15 10:00:00\n"))
    assert (pointer, code, line, column) == ("", "ambiguous_scalar", 2, 8)
    assert "looks like a date" in message


def test_yaml_facts_with_a_python_tag(policy: ruleengine.Policy) -> None:
    pointer, code, line, column, message = only_problem(decide(policy, "order_id: !!python/object/apply:os.system [id]\n"))
    assert (pointer, code, line, column) == ("", "tag", 1, 11)
    assert message == "YAML tags (tag:yaml.org,2002:python/object/apply:os.system) are not allowed"


# ---------------------------------------------------------------- Python objects


def test_python_float_where_money_belongs(policy: ruleengine.Policy) -> None:
    assert only_problem(decide(policy, changed(("payment", "amount"), 0.1))) == [
        "/payment/amount",
        "float",
        None,
        None,
        "binary floating-point numbers are refused (a float cannot hold 19.99): pass decimal.Decimal, "
        "or read the order with ruleengine.read_facts (JSON/YAML text, bytes or a path)",
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [(Decimal("NaN"), "NaN is not a usable number"), (Decimal("sNaN"), "sNaN is not a usable number")],
    ids=["nan", "snan"],
)
def test_decimal_nan(policy: ruleengine.Policy, value: Decimal, message: str) -> None:
    assert only_problem(decide(policy, changed(("payment", "amount"), value))) == ["/payment/amount", "not_finite", None, None, message]


def test_decimal_infinity(policy: ruleengine.Policy) -> None:
    assert only_problem(decide(policy, changed(("payment", "amount"), Decimal("Infinity")))) == [
        "/payment/amount",
        "not_finite",
        None,
        None,
        "Infinity is not a usable number",
    ]


def test_negative_quantity(policy: ruleengine.Policy) -> None:
    assert only_problem(decide(policy, changed(("items", 0, "quantity"), -1))) == [
        "/items/0/quantity",
        "minimum",
        None,
        None,
        "-1 is below the minimum 1",
    ]


def test_negative_amount(policy: ruleengine.Policy) -> None:
    assert only_problem(decide(policy, changed(("items", 0, "paid_amount"), Decimal("-0.01")))) == [
        "/items/0/paid_amount",
        "minimum",
        None,
        None,
        "-0.01 is below the minimum 0",
    ]


def test_missing_required_field(policy: ruleengine.Policy) -> None:
    assert only_problem(decide(policy, changed(("buyer",), delete=True))) == ["", "required", None, None, "missing required field 'buyer'"]


def test_unknown_field(policy: ruleengine.Policy) -> None:
    pointer, code, _, _, message = only_problem(decide(policy, changed(("claim", "__proto__"), {"admin": True})))
    assert (pointer, code) == ("/claim/__proto__", "additionalProperties")
    assert message.startswith("unknown field '__proto__'")


def test_non_text_key(policy: ruleengine.Policy) -> None:
    pointer, code, _, _, message = only_problem(decide(policy, changed(("buyer", 1), "x")))
    assert (pointer, code) == ("/buyer/1", "additionalProperties")
    assert message.startswith("unknown field '1'")


@pytest.mark.parametrize(
    "value",
    [
        "2026-10-31T12:00:00",
        "2026-02-30T10:00:00+08:00",
        "2026-10-31T24:00:00+08:00",
        "2026-10-31T23:59:60+08:00",
        "2026-10-31 12:00:00+08:00",
    ],
    ids=["no-offset", "feb-30", "24h", "leap-second", "space"],
)
def test_invalid_timestamp(policy: ruleengine.Policy, value: str) -> None:
    pointer, code, _, _, message = only_problem(decide(policy, changed(("as_of",), value)))
    assert (pointer, code) == ("/as_of", "format")
    assert message.startswith(f'"{value}" is not a valid date-time (RFC 3339 with an offset')


def test_python_datetime_where_text_belongs(policy: ruleengine.Policy) -> None:
    pointer, code, _, _, message = only_problem(decide(policy, changed(("as_of",), dt.datetime(2026, 10, 31, 12))))
    assert (pointer, code) == ("/as_of", "type")
    assert message.startswith("expected text, got datetime")


def test_true_where_an_integer_belongs(policy: ruleengine.Policy) -> None:
    assert only_problem(decide(policy, changed(("items", 0, "quantity"), True))) == [
        "/items/0/quantity",
        "type",
        None,
        None,
        "expected an integer, got boolean true",
    ]


def test_claim_naming_a_sku_that_is_not_a_line(policy: ruleengine.Policy) -> None:
    assert only_problem(decide(policy, changed(("claim", "sku"), "NOT-A-LINE"))) == [
        "/claim/sku",
        "unknown_sku",
        None,
        None,
        "the claim names sku 'NOT-A-LINE', which is not a line of the order",
    ]


def test_duplicate_skus(policy: ruleengine.Policy) -> None:
    data = order()
    data["items"].append(copy.deepcopy(data["items"][0]))
    assert only_problem(decide(policy, data)) == [
        "/items/1/sku",
        "duplicate_sku",
        None,
        None,
        f"sku '{data['items'][0]['sku']}' repeats line 0",
    ]


def test_claim_quantity_above_the_line_quantity(policy: ruleengine.Policy) -> None:
    assert only_problem(decide(policy, changed(("claim", "quantity"), 2))) == [
        "/claim/quantity",
        "claim_quantity",
        None,
        None,
        "the claim returns 2 units of a line of 1",
    ]


# ---------------------------------------------------------------- the expensive ones, in a child process

_POLICY: list[ruleengine.Policy] = []


def child_setup() -> None:
    _POLICY.append(ruleengine.load_policy())


def _child(make: Callable[[], Any]) -> Callable[[], dict[str, Any]]:
    def case() -> dict[str, Any]:
        return decide(_POLICY[0], make())

    return case


def _huge_items() -> bytes:
    data = json.loads(TEXT)
    data["items"] = "@@"
    return json.dumps(data, ensure_ascii=False).replace('"@@"', "[" + ",".join(['{"q":1}'] * 100_000) + "]").encode()


def _deep_python_list() -> dict[str, Any]:
    nested: list[Any] = []
    cursor = nested
    for _ in range(100_000):
        inner: list[Any] = []
        cursor.append(inner)
        cursor = inner
    return changed(("buyer", "x"), nested)


def _cyclic_dict() -> dict[str, Any]:
    data = order()
    data["buyer"]["loop"] = data
    return data


BOMB_YAML = "order_id: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"k{i}: &k{i} [{', '.join(['*' + ('a' if i == 0 else f'k{i - 1}')] * 9)}]\n" for i in range(8)
)

CHILD_CASES: dict[str, Callable[[], dict[str, Any]]] = {
    "1e400": _child(lambda: TEXT.replace(AMOUNT, '"amount": 1e400')),
    "5000_digits": _child(lambda: TEXT.replace(AMOUNT, '"amount": ' + "9" * 5000)),
    "huge_items": _child(_huge_items),
    "deep_json": _child(lambda: "[" * 100_000 + "]" * 100_000),
    "deep_json_object": _child(lambda: '{"order_id": ' + "[" * 100_000 + "]" * 100_000 + "}"),
    "deep_yaml": _child(lambda: "order_id: " + "[" * 100_000 + "]" * 100_000 + "\n"),
    "deep_python": _child(_deep_python_list),
    "cyclic_python": _child(_cyclic_dict),
    "yaml_alias_bomb": _child(lambda: BOMB_YAML),
    "over_one_mebibyte": _child(lambda: TEXT.replace('"channel": "app"', '"channel": "' + "a" * (1 << 20) + '"')),
    "many_values": _child(lambda: TEXT.replace(AMOUNT, AMOUNT + ', "pad": [' + ",".join(["[" + ",".join(["0"] * 900) + "]"] * 250) + "]")),
}
RUNNER = ChildRunner(__name__, CHILD_CASES)


@pytest.fixture(scope="module")
def children() -> ChildRunner:
    RUNNER.run()
    return RUNNER


def test_1e400(children: ChildRunner) -> None:
    line, column = line_col(TEXT, AMOUNT)
    assert only_problem(child_outcome(children, "1e400")) == ["", "json_value", line, column + 10, "number 1e400 is out of range"]


def test_5000_digit_integer(children: ChildRunner) -> None:
    line, column = line_col(TEXT, AMOUNT)
    assert only_problem(child_outcome(children, "5000_digits")) == [
        "",
        "json_value",
        line,
        column + 10,
        "integer 999999999999999999999999999999… (5000 characters) is out of range",
    ]


def test_100000_items_in_one_mebibyte(children: ChildRunner) -> None:
    assert len(_huge_items()) < 1 << 20
    pointer, code, _, _, message = only_problem(child_outcome(children, "huge_items"))
    assert (pointer, code) == ("/items", "too_large")
    assert message == "100000 items, more than the limit of 1000"


def test_100000_deep_json_array(children: ChildRunner) -> None:
    pointer, code, *_ = only_problem(child_outcome(children, "deep_json"))
    assert (pointer, code) == ("", "too_deep")


def test_100000_deep_json_position(children: ChildRunner) -> None:
    _pointer, _code, line, column, _message = only_problem(child_outcome(children, "deep_json_object"))
    assert line == 1
    assert 14 + 30 <= column <= 14 + 40


def test_100000_deep_yaml(children: ChildRunner) -> None:
    assert only_problem(child_outcome(children, "deep_yaml")) == [
        "",
        "yaml_syntax",
        1,
        1010,
        "while increasing flow level exceeded maximum nesting depth",
    ]


def test_100000_deep_python_list(children: ChildRunner) -> None:
    pointer, code, line, column, message = only_problem(child_outcome(children, "deep_python"))
    assert (code, line, column, message) == ("too_deep", None, None, "nested deeper than 32 levels")
    assert pointer == "/buyer/x" + "/0" * 31


def test_cyclic_python_dict(children: ChildRunner) -> None:
    pointer, code, _, _, message = only_problem(child_outcome(children, "cyclic_python"))
    assert (code, message) == ("too_deep", "nested deeper than 32 levels")
    assert pointer.startswith("/buyer/loop/buyer/loop/")


def test_yaml_alias_bomb_facts(children: ChildRunner) -> None:
    assert only_problem(child_outcome(children, "yaml_alias_bomb")) == ["", "anchor", 1, 11, "anchors (&a) are not allowed"]


def test_facts_over_one_mebibyte(children: ChildRunner) -> None:
    pointer, code, line, column, message = only_problem(child_outcome(children, "over_one_mebibyte"))
    assert (pointer, code, line, column) == ("", "too_large", 1, 1)
    assert message.startswith("file too large: ") and message.endswith(" bytes > limit 1048576")


def test_too_many_values(children: ChildRunner) -> None:
    """250 lists of 900 numbers: every list is under the item limit, the document is over the 200,000-value limit."""
    assert only_problem(child_outcome(children, "many_values")) == ["", "too_large", None, None, "more than 200000 values"]


def test_baseline_order_is_approved(policy: ruleengine.Policy) -> None:
    """Control: the unchanged order is valid and approved, so each case above tests exactly its one change."""
    assert decide(policy, ORDER_FILE.read_bytes()) == {"kind": "ok", "value": "approved"}
