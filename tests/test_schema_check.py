"""The order schema compiled to one Python function (``schemacheck``): fast, and never more lenient than jsonschema.

Its "valid" must be jsonschema's "valid"; its "invalid" only sends the order to the validators behind it,
which say why. So the property is one-sided: whatever it accepts, jsonschema accepts.
"""

from __future__ import annotations

import copy
import datetime as dt
import importlib.util
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLES, load_example
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from ruleengine import FactsError, load_policy
from ruleengine.lang import types as t
from ruleengine.runtime.conversion import build_converter
from ruleengine.schemacheck import compile_check
from ruleengine.schemas import SCHEMA_FILES, format_checker, is_date, is_date_time, load_schema, python_schema, validator

ROOT = Path(__file__).resolve().parent.parent
_SPEC = importlib.util.spec_from_file_location("corpus_generate", ROOT / "examples" / "corpus" / "generate.py")
assert _SPEC is not None and _SPEC.loader is not None
CORPUS = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(CORPUS)

FORMATS = {"date-time": is_date_time, "date": is_date}
ORDER = python_schema("order.schema.json")
CHECK = compile_check(ORDER, FORMATS, "order")
JSONSCHEMA = Draft202012Validator(ORDER, format_checker=format_checker())
EXAMPLE_DATA = [load_example(p.name) for p in sorted(EXAMPLES.glob("*.json"))]
CONVERTER = build_converter(t.from_schema(load_schema("order.schema.json")))


def _accepted_before_parsing(order: Any) -> bool:
    """What ``prepare`` accepts in one pass (validated and converted); what it gives must be what the converter gives."""
    converted = validator("order.schema.json").converted(order)
    if converted is None:
        return False
    assert converted == CONVERTER(order, "")
    assert order is not converted  # the caller's data is never changed: objects holding timestamps are copies
    return True


def test_the_order_schema_compiles() -> None:
    """If a keyword is added that the compiler does not write, orders fall back to jsonschema-rs: slower, so say so here."""
    assert CHECK is not None
    assert validator("order.schema.json")._check is not None
    assert validator("order.schema.json")._convert is not None


def test_every_bundled_schema_compiles_or_is_refused_cleanly() -> None:
    for name in SCHEMA_FILES:
        check = compile_check(python_schema(name), FORMATS, name)
        assert check is None or callable(check)


def test_examples_and_the_corpus_are_valid_for_both() -> None:
    assert CHECK is not None
    orders = [*EXAMPLE_DATA, *CORPUS.generate(500, 7)]
    for order in orders:
        assert CHECK(order), order.get("order_id")
        assert JSONSCHEMA.is_valid(order)
        assert _accepted_before_parsing(order), order.get("order_id")


@pytest.mark.parametrize(
    ("where", "value"),
    [
        (("order_id",), ""),
        (("order_id",), "A\u200bB"),  # a zero-width space: the id pattern refuses it
        (("order_id",), "A\tB"),  # a tab: allowed by the pattern, not printable: the regex decides
        (("channel",), "apps"),
        (("as_of",), "2026-11-11T15:20:00"),  # no offset
        (("as_of",), "2026-02-30T10:00:00+08:00"),  # no such day
        (("as_of",), "2026-11-11t15:20:00.5z"),  # an unusual shape, valid: the exact format check decides
        (("as_of",), "2026-11-11T15:20:00+24:00"),
        (("as_of",), "２026-11-11T15:20:00+08:00"),  # a full-width digit
        (("payment", "amount"), Decimal("0.001")),
        (("payment", "amount"), Decimal("-0.01")),
        (("payment", "amount"), Decimal("1000000000.01")),
        (("payment", "amount"), Decimal("NaN")),
        (("payment", "amount"), Decimal("1E+30")),
        (("payment", "amount"), 19.99),
        (("payment", "amount"), True),
        (("payment", "amount"), "19.999"),
        (("payment", "amount"), "19.99\n"),
        (("payment", "amount"), 20),
        (("buyer", "credit_score"), Decimal("700")),  # a whole Decimal: jsonschema's call, not the function's
        (("buyer", "credit_score"), 349),
        (("buyer", "credit_score"), True),
        (("items",), []),
        (("items", 0, "flags"), ["large", "large"]),
        (("items", 0, "flags"), ["large", 1]),
        (("items", 0, "quantity"), 0),
        (("shop", "services"), ["trade_in"] * 7),
        (("logistics", "extra"), 1),
    ],
)
def test_edge_values_are_judged_as_jsonschema_judges_them_or_left_to_it(where: tuple[Any, ...], value: Any) -> None:
    assert CHECK is not None
    order = copy.deepcopy(EXAMPLE_DATA[0])
    parent: Any = order
    for key in where[:-1]:
        parent = parent[key]
    parent[where[-1]] = value
    accepted = CHECK(order) if _safe(order) else False
    valid = JSONSCHEMA.is_valid(order) if _judgeable(order) else False
    assert not accepted or valid
    assert not _accepted_before_parsing(order) or valid
    # The validator as a whole answers as before: the function, then jsonschema-rs, then jsonschema.
    assert validator("order.schema.json").is_valid(order) == (accepted or _before(order))


def _safe(order: Any) -> bool:
    try:
        return bool(CHECK(order))  # type: ignore[misc]
    except Exception:  # the validator treats an exception as "not sure"
        return False


def _judgeable(order: Any) -> bool:
    try:
        JSONSCHEMA.is_valid(order)
    except (TypeError, ArithmeticError):
        return False
    return True


def _before(order: Any) -> bool:
    fast = validator("order.schema.json")._rust
    try:
        return bool(fast.is_valid(order))
    except (ValueError, TypeError, OverflowError):
        return bool(validator("order.schema.json")._validator.is_valid(order))


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=True),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.decimals(min_value=-10, max_value=10**10, places=3),
    st.text(max_size=10),
    st.text(alphabet=st.characters(max_codepoint=0x3000), max_size=6),
    st.sampled_from(
        [
            "2026-11-11T15:20:00+08:00",
            "2026-11-11T15:20:00Z",
            "2026-11-11T15:20:00z",
            "2026-11-11T24:20:00Z",
            "２０２６-11-11T15:20:00Z",
            "2026-11-11T15:20:00.123+08:00",
            "2026-11-11 15:20:00+08:00",
            "2026-11-11T25:20:00+08:00",
            "2026-11-11",
            "2026-13-01",
            "19.99",
            "019.99",
            "1000000000.00",
            "large",
            "no_reason_return",
        ]
    ),
    st.lists(st.sampled_from(["large", "customized", "trade_in", 1, None]), max_size=8),
    st.dictionaries(st.sampled_from(["sku", "id", "x"]), st.text(max_size=3), max_size=2),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_whatever_the_function_accepts_jsonschema_accepts(data: st.DataObject) -> None:
    assert CHECK is not None
    order = copy.deepcopy(data.draw(st.sampled_from(EXAMPLE_DATA)))
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        paths = _paths(order)
        path = data.draw(st.sampled_from(paths))
        parent: Any = order
        for key in path[:-1]:
            parent = parent[key]
        action = data.draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = data.draw(VALUES)
        elif action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif action == "add" and isinstance(parent, dict):
            parent[data.draw(st.sampled_from(["extra", "sku", "gift", "Sku", "note"]))] = data.draw(VALUES)
    accepted = _safe(order)
    event(f"accepted: {accepted}")
    if accepted:
        assert JSONSCHEMA.is_valid(order)
    if _accepted_before_parsing(order):
        assert JSONSCHEMA.is_valid(order)


def test_the_usual_timestamp_shape_agrees_with_the_pattern() -> None:
    """``is_date_time`` skips the pattern for the usual shape: both ways must agree on every day of a leap year and odd times."""
    start = dt.datetime(2028, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    for hours in range(0, 366 * 24, 7):
        text = (start + dt.timedelta(hours=hours, seconds=hours % 60)).isoformat()
        assert len(text) == 25 and is_date_time(text)
    for text in ["2026-11-11T24:00:00+08:00", "2026-11-11T15:60:00+08:00", "2026-11-11T15:20:60+08:00", "2027-02-29T00:00:00+08:00"]:
        with pytest.raises(ValueError):
            is_date_time(text)


@pytest.mark.parametrize("bad", ["2026-02-30T10:00:00+08:00", "2026-11-11T24:00:00+08:00", "2026-13-01T10:00:00+08:00"])
def test_a_usual_shaped_timestamp_that_is_no_instant_is_the_schema_error_it_always_was(bad: str) -> None:
    """The happy path leaves its calendar to the converter; when that fails, the order is validated as any other."""
    policy = load_policy(ROOT / "rules")
    order = copy.deepcopy(EXAMPLE_DATA[0])
    order["logistics"]["promised_ship_by"] = bad
    with pytest.raises(FactsError) as caught:
        policy.evaluate(order)
    assert [(p.pointer, p.code) for p in caught.value.problems] == [("/logistics/promised_ship_by", "format")]
