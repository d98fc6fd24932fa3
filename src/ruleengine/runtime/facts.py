"""Order facts: read strictly, validated against the order schema, converted once.

An order document's amounts are decimal strings (``"199.00"``), read as
``Decimal`` when the document is read; facts passed as Python data may hold
the exact number or that string. After validation every timestamp becomes an
aware ``datetime``, every date a ``date`` and every amount a ``Decimal``;
other numbers are already ``int`` or ``Decimal`` (floats are refused: they
cannot hold 19.99). The caller's data is never changed: objects holding
timestamps are copied, the others are shared (nothing writes to facts during an
evaluation, and no decision keeps a reference to them). The converter itself is
``conversion``'s; this module reads, validates and checks what the schema cannot
say (unique lines, time running forwards).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..documents import DocumentError, check_shape, read_json, read_yaml
from ..errors import FactsError, FactsProblem
from ..text import shorten
from .conversion import FLOAT_REFUSED
from .moneytext import read_order_money

if TYPE_CHECKING:
    from ..limits import Limits
    from .policy import Policy


@dataclass
class Prepared:
    """Facts ready for evaluation."""

    facts: dict[str, Any]
    raw: dict[str, Any]
    claimed: dict[str, Any] | None


def read_facts(
    data: bytes | str | os.PathLike[str],
    name: str = "",
    policy: Policy | None = None,
    *,
    limits: Limits | None = None,
    syntax: str | None = None,
) -> Any:
    """Read an order document into facts for ``Policy.evaluate``: numbers as int or Decimal, never float.

    ``data`` is JSON or YAML text or bytes, or the path of such a file (a
    ``pathlib.Path``; a ``str`` is text). ``syntax`` "json" or "yaml" says which
    (an HTTP request's media type); by default JSON when it starts with '{' or '['.
    Read within ``limits``, else the policy's, else the defaults; a problem is a
    FactsError at its line and column. In an order (a document that is an
    object), amounts are decimal strings and come back as ``Decimal``; a JSON or
    YAML number where money belongs is a FactsError naming the string to write.
    """
    from ..limits import DEFAULT_LIMITS

    limits = limits or (policy.limits if policy is not None else DEFAULT_LIMITS)
    if isinstance(data, os.PathLike):
        name = name or os.fspath(data)
        data = _read_file(Path(data), name, limits)
    if syntax is None:
        head = (data[:64].decode("utf-8", "replace") if isinstance(data, bytes) else data[:64]).lstrip("\ufeff \t\r\n")
        syntax = "json" if head.startswith("{") or head.startswith("[") else "yaml"
    try:
        facts = read_json(data, name, limits) if syntax == "json" else read_yaml(data, name, limits).data
    except DocumentError as exc:
        raise FactsError([FactsProblem("", p.message, p.code, p.line, p.column) for p in exc.problems], name) from None
    if isinstance(facts, str) and isinstance(data, str) and facts.endswith((".json", ".yaml", ".yml")) and "\n" not in facts:
        hint = f"'{shorten(facts, 80)}' was read as text, not as a file: to read a file, pass pathlib.Path('{shorten(facts, 80)}')"
        raise FactsError([FactsProblem("", hint, "type")], name)
    if isinstance(facts, dict):
        problems = read_order_money(facts)
        if problems:
            raise FactsError(problems, name)
    return facts


def _read_file(path: Path, name: str, limits: Limits) -> bytes:
    try:
        size = path.stat().st_size
        if size > limits.max_file_bytes:
            raise FactsError([FactsProblem("", f"file too large: {size} bytes > limit {limits.max_file_bytes}", "too_large")], name)
        return path.read_bytes()
    except OSError as exc:
        raise FactsError([FactsProblem("", f"cannot read: {exc.strerror or exc}", "unreadable")], name) from None


def prepare(facts: Any, policy: Policy, *, trusted: bool = False) -> Prepared:
    if isinstance(facts, (bytes, str)):
        facts = read_facts(facts, "", policy)
    if not isinstance(facts, dict):
        raise FactsError([FactsProblem("", "an order document must be a JSON object", "type")])
    converted = None
    if not trusted:
        order = policy.order_validator
        converted = order.converted(facts)  # the happy path: validated and converted in one pass
        if converted is None and not order.is_valid(facts):
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
            if problems:  # jsonschema is the authority; the compiled validators only speed up the happy path
                raise FactsError(problems)
    if converted is None:
        converted = policy.convert_facts(facts, "")
    claimed = _usual(converted)
    if claimed is _UNUSUAL:
        problems = _consistency(converted)
        if problems:
            raise FactsError(problems)
        claimed = None
        claim = converted.get("claim")
        if claim is not None:
            claimed = next((i for i in converted["items"] if i["sku"] == claim["sku"]), None)
    return Prepared(converted, facts, claimed)


_UNUSUAL: Any = object()


CHRONOLOGY: tuple[tuple[str, str, str], ...] = (
    ("/placed_at", "/paid_at", "the order is paid before it was placed"),
    ("/paid_at", "/as_of", "the order is paid after as_of, the decision instant"),
    ("/paid_at", "/logistics/shipped_at", "the parcel is shipped before the order was paid"),
    ("/logistics/shipped_at", "/logistics/signed_at", "the parcel is signed for before it was shipped"),
    ("/paid_at", "/claim/requested_at", "the claim is requested before the order was paid"),
    ("/claim/requested_at", "/as_of", "the claim is requested after as_of, the decision instant"),
    ("/logistics/signed_at", "/claim/confirmed_receipt_at", "receipt is confirmed before the parcel was signed for"),
    ("/logistics/signed_at", "/claim/return_tracking_uploaded_at", "the return is shipped before the parcel was signed for"),
    ("/logistics/signed_at", "/claim/merchant_received_at", "the return is received before the parcel was signed for"),
    ("/logistics/shipped_at", "/as_of", "the parcel is shipped after as_of, the decision instant"),
    ("/logistics/signed_at", "/as_of", "the parcel is signed for after as_of, the decision instant"),
    ("/claim/confirmed_receipt_at", "/as_of", "receipt is confirmed after as_of, the decision instant"),
    ("/claim/return_tracking_uploaded_at", "/as_of", "the return is shipped after as_of, the decision instant"),
    ("/claim/merchant_received_at", "/as_of", "the return is received after as_of, the decision instant"),
)
"""Instants that cannot come in the other order: (earlier, later, what it would mean), checked when both are present.

The order schema documents each of them; a violation is a facts error at the later instant's pointer.
"""

_CHRONOLOGY_KEYS = tuple(
    (tuple(earlier.strip("/").split("/")), tuple(later.strip("/").split("/"))) for earlier, later, _ in CHRONOLOGY
)


def _at(facts: dict[str, Any], keys: tuple[str, ...]) -> Any:
    value: Any = facts
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
        if value is None:
            return None
    return value


def _usual(facts: dict[str, Any]) -> Any:
    """The claimed line (None: no claim) of facts that ``_consistency`` accepts and that have every field it reads; else _UNUSUAL.

    The happy path of the consistency checks, written out for speed (it runs for every order): ``_consistency``
    runs only when this gives up, and names the problems. ``CHRONOLOGY`` is what both check.
    """
    try:
        items = facts["items"]
        lines = {}
        for item in items:
            lines[item["sku"]] = item
        paid, as_of = facts["paid_at"], facts["as_of"]
        if len(lines) != len(items) or not facts["placed_at"] <= paid <= as_of:
            return _UNUSUAL
        logistics = facts["logistics"]
        shipped, signed = logistics.get("shipped_at"), logistics.get("signed_at")
        if shipped is not None and not paid <= shipped <= as_of:
            return _UNUSUAL
        if signed is not None and (signed > as_of or (shipped is not None and shipped > signed)):
            return _UNUSUAL
        claim = facts.get("claim")
        if claim is None:
            return None
        if not paid <= claim["requested_at"] <= as_of:
            return _UNUSUAL
        for at in (claim.get("confirmed_receipt_at"), claim.get("return_tracking_uploaded_at"), claim.get("merchant_received_at")):
            if at is not None and (at > as_of or (signed is not None and at < signed)):
                return _UNUSUAL
        line = lines[claim["sku"]]
        if claim.get("quantity", 0) > line.get("quantity", 0):
            return _UNUSUAL
        return line
    except Exception:
        return _UNUSUAL


def _unusable_numbers(facts: Any) -> list[FactsProblem]:
    """Binary floats (they cannot hold 19.99), NaN, infinities and absurd exponents, by pointer."""
    found = []
    stack: list[tuple[Any, str]] = [(facts, "")]
    while stack:
        value, pointer = stack.pop()
        if isinstance(value, float):
            found.append(FactsProblem(pointer, FLOAT_REFUSED, "float"))
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
    for (earlier_at, later_at, meaning), (earlier_keys, later_keys) in zip(CHRONOLOGY, _CHRONOLOGY_KEYS, strict=True):
        earlier, later = _at(facts, earlier_keys), _at(facts, later_keys)
        if earlier is not None and later is not None and earlier > later:
            pointer = later_at if later_at != "/as_of" else earlier_at
            shown = f"{earlier_at[1:]} {earlier.isoformat()}, {later_at[1:]} {later.isoformat()}"
            problems.append(FactsProblem(pointer, f"{meaning} ({shown})", "chronology"))
    claim = facts.get("claim")
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
