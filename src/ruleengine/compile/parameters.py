"""Parameter declarations: a type, optional bounds, and a value that must fit them.

One check serves the value written in ``parameters.yaml`` and an override given
for a what-if, so a money parameter takes ``800.10`` in both places and a window
in days refuses ``7.5`` with the same message. A value is never guessed from its
look: ``500`` declared ``money`` is money, not a whole number. A money value may
also be written as on the wire, as a decimal string (``"800.10"``).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from ..lang import types as t
from ..model.parameters import IMPLICIT_BOUNDS, Declaration
from ..runtime.moneytext import amount, amount_words
from ..schemas import did_you_mean, parse_timestamp
from ..text import shorten

WHOLE = ("integer", "days", "hours")
NUMERIC = (*WHOLE, "decimal", "money", "rate")
TYPES = (*NUMERIC, "timestamp", "text", "boolean", "list")
"""Mirrors the ``type`` enum of a parameter in rule.schema.json."""

UNITS = {"days": "days", "hours": "hours", "money": "CNY"}
CENT = Decimal("0.01")
"""The unit a reader sees when the declaration names none."""


class ParameterProblem(ValueError):
    """A declaration or value that does not fit; ``at`` is the key of the spec it concerns."""

    def __init__(self, message: str, at: str = "value", code: str = "parameter_type") -> None:
        super().__init__(message)
        self.at = at
        self.code = code


def expression_type(decl: Declaration, enums: dict[str, tuple[str, ...]]) -> t.Type:
    """The type expressions see: whole numbers stay whole, money is money, a list of categories is checked as such."""
    if decl.kind in WHOLE:
        return t.scalar(t.NUMBER, integer=True)
    if decl.kind in ("decimal", "rate"):
        return t.scalar(t.NUMBER)
    if decl.kind == "money":
        return t.scalar(t.NUMBER, money=True)
    if decl.kind == "timestamp":
        return t.scalar(t.TIMESTAMP)
    if decl.kind == "boolean":
        return t.scalar(t.BOOL)
    if decl.kind == "list" and decl.of in enums:
        return t.list_of(t.Type(t.TEXT, enum=enums[decl.of], name=decl.of))
    if decl.kind == "list":
        return t.list_of(t.scalar(t.TEXT))
    return t.scalar(t.TEXT)


def declaration(name: str, spec: dict[str, Any], enums: dict[str, tuple[str, ...]]) -> Declaration:
    """The declaration of one ``parameters.yaml`` entry (already shaped by the file schema).

    Problems are worded without the parameter's name: the caller says whose they are.
    """
    kind = str(spec["type"])
    bounds: list[Decimal | None] = []
    for key in ("min", "max"):
        raw = spec.get(key)
        if raw is None:
            bounds.append(None)
            continue
        if kind not in NUMERIC:
            raise ParameterProblem(f"'{key}' bounds a number, but the type is {kind}", key)
        bound = _number(raw)
        if bound is None:
            raise ParameterProblem(f"'{key}' must be a number", key)
        if kind in WHOLE and bound != bound.to_integral_value():
            raise ParameterProblem(f"'{key}' must be {_kind_words(kind)}, like the value it bounds", key)
        low, high = IMPLICIT_BOUNDS.get(kind, (None, None))
        if (low is not None and bound < low) or (high is not None and bound > high):
            raise ParameterProblem(f"'{key}' {bound} lies outside what a {kind} can be ({_range_words(low, high)})", key)
        bounds.append(bound)
    if bounds[0] is not None and bounds[1] is not None and bounds[0] > bounds[1]:
        raise ParameterProblem(f"'min' {bounds[0]} is above 'max' {bounds[1]}", "min")
    of = str(spec.get("of", ""))
    if of and kind != "list":
        raise ParameterProblem(f"'of' says what a list holds, but the type is {kind}", "of")
    if kind == "list":
        if not of:
            raise ParameterProblem(
                f"a list parameter says what it holds: add 'of: text' or a named value set ({', '.join(sorted(enums))})", "type"
            )
        if of != "text" and of not in enums:
            hint = did_you_mean(of, [*enums, "text"])
            raise ParameterProblem(
                f"unknown value set '{of}'" + (f" (did you mean '{hint}'?)" if hint else f"; known: text, {', '.join(sorted(enums))}"),
                "of",
            )
    return Declaration(name, kind, bounds[0], bounds[1], of)


def checked_value(decl: Declaration, value: Any, enums: dict[str, tuple[str, ...]], max_items: int) -> Any:
    """``value`` as the engine holds it, or ParameterProblem saying what is wrong with it."""
    kind = decl.kind
    if isinstance(value, float):
        if kind in WHOLE:  # the hint that fits: Decimal('7.5') would be refused next, as not whole
            whole = f"; give it as {int(value)}" if value.is_integer() else ""
            raise ParameterProblem(f"{value!r} is a binary float, and this parameter is {_kind_words(kind)}{whole}")
        raise ParameterProblem(f"{value!r} is a binary float, which is not exact; give it as Decimal('{value}')")
    if kind == "money" and isinstance(value, str):
        parsed = amount(value)
        if parsed is None:
            raise ParameterProblem(f"{shorten(value, 40)!r} is not an amount: write {amount_words()}")
        value = parsed
    if kind in NUMERIC:
        number = _number(value)
        if number is None:
            raise ParameterProblem(f"expected {_kind_words(kind)}, got {_describe(value)}")
        if kind in WHOLE and number != number.to_integral_value():
            raise ParameterProblem(f"{number} is not {_kind_words(kind)}")
        if kind == "money" and number % CENT:
            raise ParameterProblem(f"{number} has more than 2 decimals; money is exact to 0.01")
        low, high = decl.bounds
        if low is not None and number < low:
            raise ParameterProblem(f"{number} is below its minimum {low}", code="parameter_range")
        if high is not None and number > high:
            raise ParameterProblem(f"{number} is above its maximum {high}", code="parameter_range")
        if kind in WHOLE:
            return int(number)
        if kind == "money":  # an amount is a Decimal to the cent, written "500.00" wherever it is shown
            if number.adjusted() > 15:
                raise ParameterProblem(f"{number} is too large for an amount", code="parameter_range")
            return number.quantize(CENT)
        return value if isinstance(value, int) else number
    if kind == "timestamp":
        if not isinstance(value, (str, dt.datetime)):
            raise ParameterProblem(f"expected a timestamp (RFC 3339 text with an offset), got {_describe(value)}")
        if isinstance(value, dt.datetime):
            if value.tzinfo is None:
                raise ParameterProblem("the timestamp has no offset")
            return value
        try:
            return parse_timestamp(value)
        except ValueError as exc:
            raise ParameterProblem(f"{exc}; a timestamp is RFC 3339 text with an offset") from None
    if kind == "boolean":
        if not isinstance(value, bool):
            raise ParameterProblem(f"expected true or false, got {_describe(value)}")
        return value
    if kind == "text":
        if not isinstance(value, str):
            raise ParameterProblem(f"expected text, got {_describe(value)}")
        return value
    return _checked_list(decl, value, enums, max_items)


def _checked_list(decl: Declaration, value: Any, enums: dict[str, tuple[str, ...]], max_items: int) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ParameterProblem(f"expected a list of {decl.of if decl.of != 'text' else 'text values'}, got {_describe(value)}")
    if len(value) > max_items:
        raise ParameterProblem(f"{len(value)} values, more than the limit of {max_items}")
    allowed = enums.get(decl.of)
    seen: set[str] = set()
    for entry in value:
        if allowed is not None and entry not in allowed:
            hint = did_you_mean(entry, allowed)
            raise ParameterProblem(
                f"'{entry}' is not a {decl.of}" + (f" (did you mean '{hint}'?)" if hint else f"; allowed: {', '.join(allowed)}")
            )
        if entry in seen:
            raise ParameterProblem(f"'{entry}' is listed twice")
        seen.add(entry)
    return tuple(value)


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        return None
    number = Decimal(value)
    return number if number.is_finite() else None


def _kind_words(kind: str) -> str:
    return {
        "integer": "a whole number",
        "days": "a whole number of days",
        "hours": "a whole number of hours",
        "decimal": "a number",
        "money": "an amount of money",
        "rate": "a rate between 0 and 1",
    }[kind]


def _range_words(low: Decimal | None, high: Decimal | None) -> str:
    if high is None:
        return f"at least {low}"
    return f"{low} to {high}"


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, Decimal)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {value[:40]!r}"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__
