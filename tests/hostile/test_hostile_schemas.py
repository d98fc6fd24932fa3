"""Hostile schema use: remote references, formats, decimal multipleOf, and validation cost.

The validators are built the way the engine builds them (``ruleengine.schemas``):
the registry of bundled schemas, the engine's format checker, Decimal numbers.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any, ClassVar

import pytest
import referencing.exceptions
from hostile_support import (
    ORDER_FILE,
    ChildRunner,
    bounded_case,  # noqa: F401 - the autouse time and memory bound
    child_outcome,
    only_problem,
    outcome,
)
from jsonschema import Draft202012Validator

import ruleengine
from ruleengine.schemas import SCHEMA_FILES, format_checker, load_schema, registry, validator


class _Recorder(http.server.BaseHTTPRequestHandler):
    requests: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).requests.append(self.path)
        body = b'{"type": "string"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def loopback() -> Iterator[tuple[str, list[str]]]:
    """An HTTP server on 127.0.0.1 that records every request it gets."""
    requests: ClassVar[list[str]] = []
    handler = type("Recorder", (_Recorder,), {"requests": requests})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()


def test_remote_ref_is_never_fetched(loopback: tuple[str, list[str]]) -> None:
    base, requests = loopback
    engine_style = Draft202012Validator({"$ref": f"{base}/evil.json"}, registry=registry(), format_checker=format_checker())
    with pytest.raises(referencing.exceptions.Unresolvable) as caught:
        engine_style.validate(1)
    assert f"{base}/evil.json" in str(caught.value)
    assert requests == []
    # Control: the same schema with jsonschema's defaults does fetch, so the server would have seen it.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        Draft202012Validator({"$ref": f"{base}/control.json"}).is_valid(1)
    assert requests == ["/control.json"]


def test_remote_ref_inside_a_bundled_id_is_not_fetched(loopback: tuple[str, list[str]]) -> None:
    base, requests = loopback
    schema = {"$id": f"{base}/root.json", "properties": {"x": {"$ref": "other.json"}}}
    with pytest.raises(referencing.exceptions.Unresolvable):
        Draft202012Validator(schema, registry=registry()).validate({"x": 1})
    assert requests == []


def test_bundled_schemas_reference_only_themselves() -> None:
    refs: list[str] = []
    for name in SCHEMA_FILES:
        stack: list[Any] = [load_schema(name)]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                refs += [str(v) for k, v in node.items() if k in ("$ref", "$dynamicRef")]
                stack.extend(node.values())
            elif isinstance(node, list):
                stack.extend(node)
    assert refs
    assert all(r.startswith(("#", "urn:ruleengine:")) for r in refs), sorted(set(refs))


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("2026-11-11T15:20:00+08:00", True),
        ("2026-11-11T07:20:00Z", True),
        ("2026-11-11T15:20:00", False),
        ("2026-11-11 15:20:00+08:00", False),
        ("2026-02-30T10:00:00+08:00", False),
        ("2026-11-11T24:00:00+08:00", False),
        ("2026-11-11", False),
    ],
    ids=["offset", "zulu", "no-offset", "space", "feb-30", "24h", "date-only"],
)
def test_date_time_format_is_enforced(value: str, valid: bool) -> None:
    timestamp = Draft202012Validator(
        {"$ref": "urn:ruleengine:schema:order#/$defs/timestamp"}, registry=registry(), format_checker=format_checker()
    )
    assert timestamp.is_valid(value) is valid


def test_order_validator_reports_a_naive_timestamp() -> None:
    data = json.loads(ORDER_FILE.read_text(encoding="utf-8"), parse_float=Decimal)
    data["as_of"] = "2026-10-31T12:00:00"
    problems = validator("order.schema.json").problems(data)
    assert [(p.pointer, p.keyword) for p in problems] == [("/as_of", "format")]


@pytest.mark.parametrize(
    ("amount", "valid"),
    [("19.99", True), ("0.07", True), ("1.15", True), ("4.35", True), ("0.1", True), ("1.001", False), ("0.005", False)],
)
def test_money_is_exact_as_text_and_as_a_decimal(amount: str, valid: bool) -> None:
    """The published schema takes the decimal string; the engine's Python form also the Decimal it stands for."""
    money = Draft202012Validator({"$ref": "urn:ruleengine:schema:order#/$defs/money"}, registry=registry())
    assert money.is_valid(amount) is valid
    assert money.is_valid(Decimal(amount)) is False  # on the wire a number is not money
    assert validator("order.schema.json").is_valid(_order_paying(Decimal(amount))) is valid
    assert validator("order.schema.json").is_valid(_order_paying(amount)) is valid


def _order_paying(amount: Decimal | str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(ORDER_FILE.read_text(encoding="utf-8"), parse_float=Decimal)
    data["payment"]["amount"] = amount
    return data


def test_money_from_json_text_19_99_plus_1_15_is_exact(policy: ruleengine.Policy) -> None:
    """Cents that binary floats cannot hold are read and validated as Decimal: 19.99 + 1.15 is 21.14."""
    text = ORDER_FILE.read_text(encoding="utf-8").replace('"amount": "299.00"', '"amount": "21.14"')
    text = text.replace('"fee": "0.00"', '"fee": "1.15"').replace('"paid_amount": "299.00"', '"paid_amount": "19.99"')
    facts = ruleengine.read_facts(text)
    assert facts["items"][0]["paid_amount"] + facts["shipping"]["fee"] == facts["payment"]["amount"] == Decimal("21.14")
    assert validator("order.schema.json").is_valid(facts)


def test_no_quadratic_keyword_in_the_bundled_schemas() -> None:
    """uniqueItems only on arrays of plain strings (sorted, n log n); no unevaluatedItems/Properties (O(n²))."""
    found: list[tuple[str, str]] = []
    for name in SCHEMA_FILES:
        schema = load_schema(name)
        stack: list[Any] = [schema]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                if node.get("uniqueItems"):
                    items = node.get("items", {})
                    if "$ref" in items and str(items["$ref"]).startswith("#/$defs/"):
                        items = schema["$defs"][str(items["$ref"]).rsplit("/", 1)[1]]
                    if items.get("type") != "string" and not all(isinstance(v, str) for v in items.get("enum", [None])):
                        found.append((name, "uniqueItems on non-strings"))
                found += [(name, k) for k in node if k in ("unevaluatedItems", "unevaluatedProperties")]
                stack.extend(node.values())
            elif isinstance(node, list):
                stack.extend(node)
    assert found == []


# ---------------------------------------------------------------- validation cost, in a child process


def _order() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(ORDER_FILE.read_text(encoding="utf-8"), parse_float=Decimal)
    return data


def _validate_100000_duplicate_strings() -> dict[str, Any]:
    data = _order()
    data["items"][0]["flags"] = ["large"] * 100_000  # 800 kB as JSON
    started = time.process_time()
    problems = validator("order.schema.json").problems(data)
    return {"kind": "ok", "value": sorted({(p.pointer, p.keyword) for p in problems}), "seconds": time.process_time() - started}


def _evaluate_100000_small_items() -> dict[str, Any]:
    data = json.loads(ORDER_FILE.read_text(encoding="utf-8"))
    data["items"] = "@@"
    text = json.dumps(data).replace('"@@"', "[" + ",".join(['{"sku":"s"}'] * 50_000 + ["{}"] * 50_000) + "]").encode()
    assert len(text) < 1 << 20
    policy = ruleengine.load_policy()
    started = time.process_time()
    result = outcome(lambda: policy.evaluate(text))
    result["seconds"] = time.process_time() - started
    return result


CHILD_CASES: dict[str, Callable[[], dict[str, Any]]] = {
    "unique_strings": _validate_100000_duplicate_strings,
    "small_items": _evaluate_100000_small_items,
}
RUNNER = ChildRunner(__name__, CHILD_CASES)


@pytest.fixture(scope="module")
def children() -> ChildRunner:
    RUNNER.run()
    return RUNNER


def test_unique_items_over_100000_strings_is_not_quadratic(children: ChildRunner) -> None:
    result = child_outcome(children, "unique_strings")
    assert result["value"] == [["/items/0/flags", "maxItems"], ["/items/0/flags", "uniqueItems"]]
    assert result["seconds"] < 2.0


def test_100000_items_in_a_mebibyte_are_refused_before_validation(children: ChildRunner) -> None:
    result = child_outcome(children, "small_items")
    assert only_problem(result) == ["/items", "too_large", None, None, "100000 items, more than the limit of 1000"]
    assert result["seconds"] < 2.0
