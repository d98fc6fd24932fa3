"""Order facts: read strictly, validated against the order schema, converted once.

After validation every timestamp becomes an aware ``datetime`` and every date a
``date``; numbers are already ``int`` or ``Decimal`` (floats are refused: they
cannot hold 19.99). The converted facts are new objects: the caller's data is
never changed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from . import valuetypes as t
from .documents import DocumentError, check_shape, read_json, read_yaml
from .errors import FactsError, FactsProblem
from .schemas import parse_timestamp, validator

if TYPE_CHECKING:
    from .policy import Policy


@dataclass
class Prepared:
    """Facts ready for evaluation."""

    facts: dict[str, Any]
    raw: dict[str, Any]
    claimed: dict[str, Any] | None


def read_facts(data: bytes | str, name: str = "", policy: Policy | None = None) -> Any:
    """Parse an order document (JSON, or YAML when it does not start with '{')."""
    from .limits import DEFAULT_LIMITS

    limits = policy.limits if policy is not None else DEFAULT_LIMITS
    head = (data[:64].decode("utf-8", "replace") if isinstance(data, bytes) else data[:64]).lstrip("\ufeff \t\r\n")
    try:
        if head.startswith("{") or head.startswith("["):
            return read_json(data, name, limits)
        return read_yaml(data, name, limits).data
    except DocumentError as exc:
        raise FactsError([FactsProblem("", p.message, p.code, p.line, p.column) for p in exc.problems], name) from None


def prepare(facts: Any, policy: Policy, *, trusted: bool = False) -> Prepared:
    if isinstance(facts, (bytes, str)):
        facts = read_facts(facts, "", policy)
    if not isinstance(facts, dict):
        raise FactsError([FactsProblem("", "an order document must be a JSON object", "type")])
    if not trusted:
        order = validator("order.schema.json")
        if not order.is_valid(facts):
            # Only now walk the whole document: the compiled validator stops at the first unknown or
            # mistyped value, but jsonschema (which explains) would visit everything.
            shape = check_shape(facts, policy.limits)
            if shape is not None:
                raise FactsError([FactsProblem(shape[0], shape[2], shape[1])])
            try:
                problems = [FactsProblem(p.pointer, p.message, p.keyword) for p in order.problems(facts)]
            except (TypeError, ArithmeticError):
                # jsonschema cannot compare a float, NaN or an absurd exponent with the schema's exact bounds.
                problems = _unusable_numbers(facts) or [FactsProblem("", "numbers must be finite int or Decimal values", "type")]
            if problems:  # jsonschema is the authority; the compiled validator only speeds up the happy path
                raise FactsError(problems)
    converted = policy.convert_facts(facts, "")
    problems = _consistency(converted)
    if problems:
        raise FactsError(problems)
    claimed = None
    claim = converted.get("claim")
    if claim is not None:
        claimed = next((i for i in converted["items"] if i["sku"] == claim["sku"]), None)
    return Prepared(converted, facts, claimed)


def _unusable_numbers(facts: Any) -> list[FactsProblem]:
    """Binary floats (they cannot hold 19.99), NaN, infinities and absurd exponents, by pointer."""
    found = []
    stack: list[tuple[Any, str]] = [(facts, "")]
    while stack:
        value, pointer = stack.pop()
        if isinstance(value, float):
            found.append(FactsProblem(pointer, "binary floating-point numbers are refused: pass Decimal, or JSON text", "float"))
        elif isinstance(value, Decimal) and (not value.is_finite() or abs(value.adjusted()) > 15):
            found.append(FactsProblem(pointer, f"{value} is not a usable number", "not_finite"))
        elif isinstance(value, dict):
            stack.extend((v, f"{pointer}/{k}") for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, f"{pointer}/{i}") for i, v in enumerate(value))
    return sorted(found, key=lambda p: p.pointer)


def _consistency(facts: dict[str, Any]) -> list[FactsProblem]:
    """What the order schema cannot say: unique skus, a claim on a real line, time running forwards."""
    problems = []
    seen: dict[str, int] = {}
    items = facts.get("items", [])
    for index, item in enumerate(items):
        sku = item.get("sku")
        if sku in seen:
            problems.append(FactsProblem(f"/items/{index}/sku", f"sku '{sku}' repeats line {seen[sku]}", "duplicate_sku"))
        seen.setdefault(sku, index)
    for earlier, later in (("placed_at", "paid_at"), ("paid_at", "as_of")):
        if earlier in facts and later in facts and facts[earlier] > facts[later]:
            problems.append(FactsProblem(f"/{later}", f"{later} is before {earlier}", "chronology"))
    claim = facts.get("claim")
    if claim is not None and "requested_at" in claim and "as_of" in facts and claim["requested_at"] > facts["as_of"]:
        problems.append(FactsProblem("/claim/requested_at", "the claim is requested after as_of, the decision instant", "chronology"))
    if claim is not None and "sku" in claim:
        line = next((i for i in items if i.get("sku") == claim["sku"]), None)
        if line is None:
            problems.append(
                FactsProblem("/claim/sku", f"the claim names sku '{claim['sku']}', which is not a line of the order", "unknown_sku")
            )
        elif claim.get("quantity", 0) > line.get("quantity", 0):
            problems.append(
                FactsProblem(
                    "/claim/quantity", f"the claim returns {claim['quantity']} units of a line of {line['quantity']}", "claim_quantity"
                )
            )
    return problems


Converter = Callable[[Any, str], Any]


def build_converter(typ: t.Type) -> Converter:
    """A function copying a value of ``typ`` with timestamps and dates parsed (built once, at load)."""
    fn: Converter
    if typ.kind == t.TIMESTAMP:
        fn = _timestamp
    elif typ.kind == t.DATE:
        fn = _date
    elif typ.kind == t.NUMBER:
        fn = _number
    elif typ.kind == t.LIST and typ.elem is not None:
        inner = build_converter(typ.elem)
        if inner is _same:
            fn = _copy_list
        else:

            def fn(value: Any, pointer: str, inner: Converter = inner) -> Any:
                return [inner(v, f"{pointer}/{i}") for i, v in enumerate(value)]
    elif typ.kind == t.OBJECT:
        special = [(k, build_converter(f.type)) for k, f in typ.fields.items()]
        special = [(k, c) for k, c in special if c is not _same]

        def fn(value: Any, pointer: str, special: list[tuple[str, Converter]] = special) -> Any:
            out = dict(value)
            for key, conv in special:
                if key in out:
                    out[key] = conv(out[key], f"{pointer}/{key}")
            return out
    else:
        fn = _same
    return fn


def _same(value: Any, pointer: str) -> Any:
    return value


def _copy_list(value: Any, pointer: str) -> Any:
    return list(value)


def _number(value: Any, pointer: str) -> Any:
    if isinstance(value, float):
        raise FactsError([FactsProblem(pointer, "binary floating-point numbers are refused: pass Decimal, or JSON text", "float")])
    if isinstance(value, Decimal) and not value.is_finite():
        raise FactsError([FactsProblem(pointer, "not a finite number", "not_finite")])
    return value


def _timestamp(value: Any, pointer: str) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise FactsError([FactsProblem(pointer, "timestamp without an offset", "format")])
        return value
    try:
        return parse_timestamp(value)
    except (ValueError, TypeError) as exc:
        raise FactsError([FactsProblem(pointer, str(exc), "format")]) from None


def _date(value: Any, pointer: str) -> Any:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value)
    except (ValueError, TypeError) as exc:
        raise FactsError([FactsProblem(pointer, str(exc), "format")]) from None
