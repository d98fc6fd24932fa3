"""Facts converted once, at the start of an evaluation: timestamps parsed, amounts exact, numbers checked.

``build_converter`` (at load) writes a converter for the order schema's type: a
generated happy path for plain JSON data, and behind it the exact converter,
which names the pointer of every problem. Objects holding timestamps are copied,
the others shared: nothing writes to facts during an evaluation.
"""

from __future__ import annotations

import ast
import datetime as dt
import itertools
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from .. import instants
from ..errors import FactsError, FactsProblem
from ..lang import types as t
from ..schemas import parse_timestamp
from ..text import shorten
from .moneytext import amount, amount_words

FLOAT_REFUSED = (
    "binary floating-point numbers are refused (a float cannot hold 19.99): pass decimal.Decimal "
    '(an amount may also be its decimal string, "19.99"), or read the order with ruleengine.read_facts '
    "(JSON/YAML text, bytes or a path)"
)


Converter = Callable[[Any, str], Any]


def build_converter(typ: t.Type) -> FactsConverter:
    """The facts converter (built once, at load): a generated happy path, and the exact one behind it."""
    return FactsConverter(_HappyPath().function(typ), _exact(typ))


class FactsConverter:
    """``convert(value, pointer)``: the happy path, and when it gives up, the exact converter.

    The happy path (``happy``) checks and converts plain JSON data (dicts, lists, str, int, finite
    Decimal, timestamps in the usual shapes) without building a pointer per value, parsing every
    timestamp of the type; on anything else it raises, and the exact converter, which names the
    pointer of every problem, converts the order again.
    """

    def __init__(self, happy: Callable[[Any], Any], exact: Converter) -> None:
        self.happy = happy
        self.exact = exact

    def __call__(self, value: Any, pointer: str) -> Any:
        try:
            return self.happy(value)
        except Exception:
            return self.exact(value, pointer)


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




def _usual_timestamp(value: Any) -> dt.datetime:
    """``2026-10-26T22:10:05+08:00``, ``…05Z``, ``…05.250+08:00``: what ``parse_timestamp``'s pattern accepts, checked by position.

    ``fromisoformat`` then requires ASCII digits everywhere else (or raises: the exact path explains).
    """
    if type(value) is not str or len(value) < 20:
        raise _GiveUp
    # The usual two shapes first: every third character from the fifth is a separator ("--T::+:", "--T::Z").
    if instants.usual_shape(value):
        return instants.usual(value)
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
    return instants.shared(dt.datetime.fromisoformat(value))


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
            "_h_fromisoformat": dt.datetime.fromisoformat,
            "_h_epoch": instants.OFFSET_EPOCHS.get,
            "_h_naive_epoch": instants.NAIVE_EPOCH,
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
            # The first shape _usual_timestamp accepts, at an offset met before, read inline as instants.usual
            # reads it; the others through _usual_timestamp. The epochs' keys are all six characters ("±HH:MM"):
            # finding one says the text is 25 characters long, with no test of its length.
            epoch = self.local("Z")
            usual = ast.BoolOp(
                ast.And(),
                [
                    _is(_n(value), "_h_str"),
                    ast.Compare(_slice(value, 4, 19, 3), [ast.Eq()], [ast.Constant(instants.USUAL_SEPARATORS_BEFORE_OFFSET)]),
                ],
            )
            lookup = ast.Call(_n("_h_epoch"), [_slice(value, 19, None)], [])
            wall = ast.BinOp(ast.Call(_n("_h_fromisoformat"), [_slice(value, None, 19)], []), ast.Sub(), _n("_h_naive_epoch"))
            known = ast.Compare(_n(epoch), [ast.IsNot()], [ast.Constant(None)])
            return [
                ast.Assign([_s(epoch)], ast.IfExp(usual, lookup, ast.Constant(None))),
                ast.Assign([store], ast.IfExp(known, ast.BinOp(_n(epoch), ast.Add(), wall), ast.Call(_n("_h_timestamp"), [_n(value)], []))),
            ]
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


def _slice(value: str, lower: int | None, upper: int | None, step: int | None = None) -> ast.expr:
    """``value[lower:upper:step]``."""
    bounds = [None if b is None else ast.Constant(b) for b in (lower, upper, step)]
    return ast.Subscript(_n(value), ast.Slice(*bounds), ast.Load())


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
