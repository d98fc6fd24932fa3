"""Order facts: read strictly, validated against the order schema, converted once.

An order document's amounts are decimal strings (``"199.00"``), read as
``Decimal`` when the document is read; facts passed as Python data may hold
the exact number or that string. After validation every timestamp becomes an
aware ``datetime``, every date a ``date`` and every amount a ``Decimal``;
other numbers are already ``int`` or ``Decimal`` (floats are refused: they
cannot hold 19.99). The caller's data is never changed: objects holding
timestamps are copied, the others are shared (nothing writes to facts during an
evaluation, and no decision keeps a reference to them).
"""

from __future__ import annotations

import ast
import datetime as dt
import itertools
import os
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..documents import DocumentError, check_shape, read_json, read_yaml
from ..errors import FactsError, FactsProblem
from ..lang import types as t
from ..schemas import parse_timestamp
from ..text import shorten
from .moneytext import amount, amount_words, read_order_money

if TYPE_CHECKING:
    from ..limits import Limits
    from .policy import Policy


@dataclass
class Prepared:
    """Facts ready for evaluation."""

    facts: dict[str, Any]
    raw: dict[str, Any]
    claimed: dict[str, Any] | None


FLOAT_REFUSED = (
    "binary floating-point numbers are refused (a float cannot hold 19.99): pass decimal.Decimal "
    '(an amount may also be its decimal string, "19.99"), or read the order with ruleengine.read_facts '
    "(JSON/YAML text, bytes or a path)"
)


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
    if not trusted:
        order = policy.order_validator
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


Converter = Callable[[Any, str], Any]


def build_converter(typ: t.Type) -> Converter:
    """The facts converter (built once, at load): a generated happy path, and the exact one behind it.

    The happy path checks and converts plain JSON data (dicts, lists, str, int, finite Decimal,
    timestamps in the usual shape) without building a pointer per value; on anything else it gives
    up and the exact converter, which names the pointer of every problem, converts the order again.
    """
    exact = _exact(typ)
    fast = _HappyPath().function(typ)

    def convert(value: Any, pointer: str) -> Any:
        try:
            return fast(value)
        except Exception:
            return exact(value, pointer)

    return convert


def _exact(typ: t.Type) -> Converter:
    """A function copying a value of ``typ`` with timestamps and dates parsed."""
    fn: Converter
    if typ.kind == t.TIMESTAMP:
        fn = _timestamp
    elif typ.kind == t.DATE:
        fn = _date
    elif typ.kind == t.NUMBER:
        fn = _money if typ.money else _number
    elif typ.kind == t.LIST and typ.elem is not None:
        inner = _exact(typ.elem)
        if inner is _same:
            fn = _copy_list
        else:

            def fn(value: Any, pointer: str, inner: Converter = inner) -> Any:
                return [inner(v, f"{pointer}/{i}") for i, v in enumerate(value)]
    elif typ.kind == t.OBJECT:
        special = [(k, _exact(f.type)) for k, f in typ.fields.items()]
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


class _GiveUp(Exception):
    """The happy path met something unusual: the exact converter takes over."""


_WITH_OFFSET = frozenset({"--T::+:", "--T::-:"})


def _usual_timestamp(value: Any) -> dt.datetime:
    """``2026-10-26T22:10:05+08:00``, ``…05Z``, ``…05.250+08:00``: what ``parse_timestamp``'s pattern accepts, checked by position.

    ``fromisoformat`` then requires ASCII digits everywhere else (or raises: the exact path explains).
    """
    if type(value) is not str or len(value) < 20:
        raise _GiveUp
    # The usual two shapes first: every third character from the fifth is a separator ("--T::+:", "--T::Z").
    if (len(value) == 25 and value[4:23:3] in _WITH_OFFSET) or (len(value) == 20 and value[4:20:3] == "--T::Z"):
        return dt.datetime.fromisoformat(value)
    if value[4] != "-" or value[7] != "-" or value[10] != "T" or value[13] != ":" or value[16] != ":":
        raise _GiveUp
    if value[-1] == "Z":
        fraction = len(value) - 20
    elif value[-3] == ":" and value[-6] in "+-":
        fraction = len(value) - 25
    else:
        raise _GiveUp
    if fraction != 0 and not (2 <= fraction <= 10 and value[19] == "."):
        raise _GiveUp
    return dt.datetime.fromisoformat(value)


def _usual_date(value: Any) -> dt.date:
    if type(value) is str:
        return dt.date.fromisoformat(value)
    raise _GiveUp


_CONVERT, _CHECK, _SHARE = "convert", "check", "share"


class _HappyPath:
    """Writes the converter of one type as a single function: objects holding timestamps are copied, the rest checked.

    Objects and lists without timestamps are not copied: nothing writes to facts during an evaluation.
    The code is built from the bundled order schema's field names (as constants), never from input.
    """

    def __init__(self) -> None:
        self.namespace: dict[str, Any] = {
            "__builtins__": {},
            "_h_type": type,
            "_h_dict": dict,
            "_h_list": list,
            "_h_int": int,
            "_h_Decimal": Decimal,
            "_h_GiveUp": _GiveUp,
            "_h_timestamp": _usual_timestamp,
            "_h_date": _usual_date,
            "_h_str": str,
            "_h_len": len,
            "_h_WITH_OFFSET": _WITH_OFFSET,
            "_h_fromisoformat": dt.datetime.fromisoformat,
        }
        self.counter = itertools.count()

    def function(self, typ: t.Type) -> Callable[[Any], Any]:
        copy = self.work(typ) == _CONVERT
        body = self.object(typ, "V", "O" if copy else None)
        body.append(ast.Return(_n("O" if copy else "V")))
        args = ast.arguments(posonlyargs=[], args=[ast.arg("V")], kwonlyargs=[], kw_defaults=[], defaults=[])
        func = ast.FunctionDef(name="convert", args=args, body=body, decorator_list=[], returns=None)
        module = ast.fix_missing_locations(ast.Module([func], type_ignores=[]))
        exec(compile(module, "<facts converter>", "exec"), self.namespace)
        fn: Callable[[Any], Any] = self.namespace["convert"]
        return fn

    def local(self, prefix: str) -> str:
        return f"{prefix}{next(self.counter)}"

    def work(self, typ: t.Type) -> str:
        """What a value of ``typ`` needs: converting (it holds timestamps or dates), checking, or nothing."""
        if typ.kind in (t.TIMESTAMP, t.DATE):
            return _CONVERT
        if typ.kind == t.NUMBER:
            return _CHECK
        if typ.kind == t.OBJECT:
            return _CONVERT if any(self.work(f.type) == _CONVERT for f in typ.fields.values()) else _CHECK
        if typ.kind == t.LIST and typ.elem is not None:
            return _CONVERT if self.work(typ.elem) == _CONVERT else _CHECK
        return _SHARE

    def object(self, typ: t.Type, source: str, copy: str | None) -> list[ast.stmt]:
        """Check the object in local ``source``; when ``copy`` is named, leave the converted copy there."""
        code: list[ast.stmt] = [_give_up_unless(_is(_n(source), "_h_dict"))]
        if copy is not None:
            code.append(ast.Assign([_s(copy)], ast.Call(_n("_h_dict"), [_n(source)], [])))
        for key, fld in typ.fields.items():
            value = self.local("X")
            store = ast.Subscript(_n(copy), ast.Constant(key), ast.Store()) if copy is not None else None
            inner = self.value(fld.type, value, store)
            if inner:
                read = ast.Assign([_s(value)], ast.Subscript(_n(source), ast.Constant(key), ast.Load()))
                code.append(ast.If(ast.Compare(ast.Constant(key), [ast.In()], [_n(source)]), [read, *inner], []))
        return code

    def value(self, typ: t.Type, value: str, store: ast.expr | None) -> list[ast.stmt]:
        """Check the value in local ``value``; when it converts, assign its converted form to ``store``."""
        work = self.work(typ)
        if work == _SHARE:
            return []
        if typ.kind == t.DATE:
            assert store is not None
            return [ast.Assign([store], ast.Call(_n("_h_date"), [_n(value)], []))]
        if typ.kind == t.TIMESTAMP:
            assert store is not None
            # The first shape _usual_timestamp accepts, tested here without the call; the others through it.
            usual = ast.BoolOp(
                ast.And(),
                [
                    _is(_n(value), "_h_str"),
                    ast.Compare(ast.Call(_n("_h_len"), [_n(value)], []), [ast.Eq()], [ast.Constant(25)]),
                    ast.Compare(
                        ast.Subscript(_n(value), ast.Slice(ast.Constant(4), ast.Constant(23), ast.Constant(3)), ast.Load()),
                        [ast.In()],
                        [_n("_h_WITH_OFFSET")],
                    ),
                ],
            )
            parse = ast.Call(_n("_h_fromisoformat"), [_n(value)], [])
            return [ast.Assign([store], ast.IfExp(usual, parse, ast.Call(_n("_h_timestamp"), [_n(value)], [])))]
        if typ.kind == t.NUMBER:
            kind = self.local("T")
            finite = ast.Call(ast.Attribute(_n(value), "is_finite", ast.Load()), [], [])
            usual = ast.BoolOp(
                ast.Or(), [_is(_n(kind), "_h_int", typed=True), ast.BoolOp(ast.And(), [_is(_n(kind), "_h_Decimal", typed=True), finite])]
            )
            return [ast.Assign([_s(kind)], ast.Call(_n("_h_type"), [_n(value)], [])), _give_up_unless(usual)]
        if typ.kind == t.OBJECT:
            if work == _CONVERT and store is not None:
                copy = self.local("O")
                return [*self.object(typ, value, copy), ast.Assign([store], _n(copy))]
            return self.object(typ, value, None)
        assert typ.kind == t.LIST and typ.elem is not None
        code = [_give_up_unless(_is(_n(value), "_h_list"))]
        element = self.local("E")
        if work == _CONVERT and store is not None:
            copies = self.local("L")
            item: ast.expr
            if typ.elem.kind == t.OBJECT:
                copy = self.local("O")
                each, item = self.object(typ.elem, element, copy), _n(copy)
            else:
                assert typ.elem.kind in (t.TIMESTAMP, t.DATE), "lists of lists with timestamps are not in the order schema"
                fn = "_h_timestamp" if typ.elem.kind == t.TIMESTAMP else "_h_date"
                each, item = [], ast.Call(_n(fn), [_n(element)], [])
            each.append(ast.Expr(ast.Call(ast.Attribute(_n(copies), "append", ast.Load()), [item], [])))
            return [
                *code,
                ast.Assign([_s(copies)], ast.List([], ast.Load())),
                ast.For(_s(element), _n(value), each, []),
                ast.Assign([store], _n(copies)),
            ]
        each = self.value(typ.elem, element, None)
        return [*code, ast.For(_s(element), _n(value), each, [])] if each else code


def _n(name: str) -> ast.Name:
    return ast.Name(id=name, ctx=ast.Load())


def _s(name: str) -> ast.Name:
    return ast.Name(id=name, ctx=ast.Store())


def _is(value: ast.expr, kind: str, typed: bool = False) -> ast.expr:
    """``type(value) is kind`` (``value is kind`` when ``value`` already holds a type)."""
    return ast.Compare(value if typed else ast.Call(_n("_h_type"), [value], []), [ast.Is()], [_n(kind)])


def _give_up_unless(test: ast.expr) -> ast.stmt:
    return ast.If(ast.UnaryOp(ast.Not(), test), [ast.Raise(ast.Call(_n("_h_GiveUp"), [], []), None)], [])


def _same(value: Any, pointer: str) -> Any:
    return value


def _copy_list(value: Any, pointer: str) -> Any:
    return list(value)


def _number(value: Any, pointer: str) -> Any:
    if isinstance(value, float):
        raise FactsError([FactsProblem(pointer, FLOAT_REFUSED, "float")])
    if isinstance(value, Decimal) and not value.is_finite():
        raise FactsError([FactsProblem(pointer, "not a finite number", "not_finite")])
    return value


def _money(value: Any, pointer: str) -> Any:
    """An amount: the exact number, or the decimal string of an order document (validated facts hold only those)."""
    if isinstance(value, str):
        parsed = amount(value)
        if parsed is None:
            message = f"不是金额 / {shorten(value, 40)!r} is not an amount: write {amount_words()}"
            raise FactsError([FactsProblem(pointer, message, "pattern")])
        return parsed
    return _number(value, pointer)


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
