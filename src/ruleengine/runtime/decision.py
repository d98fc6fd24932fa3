"""The decision: plain data matching ``schemas/decision.schema.json``, serialised canonically.

``to_json`` writes money as decimal strings (``"199.00"``), keys in a fixed
order and no floating point anywhere, so the same facts and rules give the
same bytes on every run, machine and ``PYTHONHASHSEED`` — and every JSON
reader, whether it reads numbers as binary floats or not, gets the same amounts.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from json.encoder import encode_basestring, encode_basestring_ascii
from typing import Any

from ..errors import EvaluationError

PendingText = tuple[dict[str, Any], Callable[[tuple[Any, ...]], str], tuple[Any, ...]]
"""A reason whose text is written when the decision is first read: (its entry, the writer, the values it shows)."""

CLAIM_TERMS = (
    "outcome",
    "resolution",
    "refund_amount",
    "compensation_amount",
    "refund_timing",
    "refund_due_by",
    "return_shipping_payer",
)
"""The claim fields that settle it: what a case file pins and what an impact report compares."""

_SURROGATE = re.compile("[\ud800-\udfff]")


class Decision:
    """What a policy decided for one order (``Policy.evaluate`` returns it).

    Plain data matching ``schemas/decision.schema.json``: ``to_dict()`` for the
    whole document, ``to_json()`` for its canonical bytes, and the parts most
    callers read as properties (each a copy the caller may change). Money is
    ``Decimal``, rounded half-up to 0.01; timestamps are RFC 3339 text.

    The reasons' texts (Chinese and English, values formatted) are written the first
    time anything of the decision is read: a caller that reads only the outcome never
    pays for them. Their values were taken when the rule ran, so the texts are the same
    whenever they are written.
    """

    __slots__ = ("_data", "_texts")

    def __init__(self, data: dict[str, Any], texts: list[PendingText] | None = None) -> None:
        self._data = data
        self._texts = texts or None

    @property
    def data(self) -> dict[str, Any]:
        """The decision document itself; read it through the methods and properties, which copy."""
        texts = self._texts
        if texts is not None:
            for entry, write, values in texts:  # idempotent: two threads reading at once write the same texts
                try:
                    entry["message"] = write(values)
                except Exception as exc:  # values that could fail were written at once: only another decimal context
                    raise EvaluationError(
                        "", f"rule '{entry['rule']}': its reason cannot be written: {type(exc).__name__}: {exc}", code="internal"
                    ) from exc
            self._texts = None
        return self._data

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Decision) and self.data == other.data

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> tuple[type[Decision], tuple[dict[str, Any]]]:
        """Pickled as its document, texts written (the functions that write them are not data)."""
        return (Decision, (self.data,))

    def __repr__(self) -> str:
        return f"Decision(data={self.data!r})"

    def to_dict(self) -> dict[str, Any]:
        """The decision as plain data (money as Decimal); a fresh copy the caller owns."""
        copied: dict[str, Any] = _copy(self.data)
        return copied

    def to_json(self, indent: int | None = None) -> str:
        """Canonical JSON: money as decimal strings (``"199.00"``), keys in a fixed order; the same bytes on every run."""
        return dumps(self.data, indent)

    @property
    def fired(self) -> list[str]:
        """Ids of the rules whose actions ran, in the order they ran."""
        return list(self.data["fired"])

    @property
    def claim(self) -> dict[str, Any] | None:
        """The after-sales claim's outcome, resolution, amounts, timing, deductions and reasons; None without a claim."""
        claim = self.data.get("claim")
        return _copy(claim) if claim is not None else None

    @property
    def services(self) -> dict[str, list[str]]:
        """Guarantees covering each line, by SKU (``{"SKU-1": ["seven_day_return", …]}``)."""
        services: dict[str, list[str]] = _copy(self.data["services"])
        return services

    @property
    def compensations(self) -> list[dict[str, Any]]:
        """Payouts the order earned (type, amount, form, payer and the rule that set it)."""
        compensations: list[dict[str, Any]] = _copy(self.data["compensations"])
        return compensations

    @property
    def violations(self) -> list[dict[str, Any]]:
        """Obligations the merchant broke (type and the rule that found it)."""
        violations: list[dict[str, Any]] = _copy(self.data["violations"])
        return violations

    @property
    def trace(self) -> list[dict[str, Any]] | None:
        """Every rule visited, matched or not, with the values its conditions read; only with ``explain=True``."""
        trace = self.data.get("trace")
        return _copy(trace) if trace is not None else None


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def dumps(value: Any, indent: int | None = None, *, decimal_numbers: bool = False) -> str:
    """Canonical JSON: every Decimal as a decimal string (``"199.00"``), UTF-8 text unescaped, no NaN.

    In what the engine writes (decisions, the service's answers, the decision log) whole numbers are JSON
    numbers and every other number is text, which no reader turns into a binary float.
    ``decimal_numbers`` writes Decimals as JSON numbers instead: for JSON Schema keywords (OpenAPI).
    """
    parts: list[str] = []
    _write(value, parts, indent, 0, decimal_numbers)
    return "".join(parts)


def _write(value: Any, out: list[str], indent: int | None, level: int, numbers: bool) -> None:
    if isinstance(value, str):
        out.append(_string(value))
    elif isinstance(value, bool) or value is None:
        out.append("null" if value is None else "true" if value else "false")
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("non-finite number in a decision")
        out.append(f"{value:f}" if numbers else f'"{value:f}"')
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        out.append("{")
        for i, (key, item) in enumerate(value.items()):
            if i:
                out.append(",")
            _newline(out, indent, level + 1)
            out.append(_string(str(key)))
            out.append(": " if indent is not None else ":")
            _write(item, out, indent, level + 1, numbers)
        _newline(out, indent, level)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        if not value:
            out.append("[]")
            return
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _newline(out, indent, level + 1)
            _write(item, out, indent, level + 1, numbers)
        _newline(out, indent, level)
        out.append("]")
    else:
        raise TypeError(f"cannot write {type(value).__name__} in a decision")


def _string(value: str) -> str:
    """A JSON string, UTF-8 text unescaped; a lone surrogate (possible only in facts passed as Python objects)
    cannot be encoded in UTF-8, so a string holding one is written with ASCII escapes."""
    if value.isascii() or _SURROGATE.search(value) is None:
        return encode_basestring(value)
    return encode_basestring_ascii(value)


def _newline(out: list[str], indent: int | None, level: int) -> None:
    if indent is not None:
        out.append("\n" + " " * (indent * level))
