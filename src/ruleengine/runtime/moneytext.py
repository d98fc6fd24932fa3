"""Money on the wire: in order documents, decisions and the service's bodies an amount is a decimal string.

A binary float (JavaScript's numbers, ajv, Python's json module) cannot hold 0.07 or 33.33, so a JSON
number checked with ``multipleOf: 0.01`` passes one validator and fails another; a decimal string such as
``"33.33"`` is read alike by all of them, and exactly here. The published order schema says what such a
string looks like (its ``money`` pattern); this module reads it into ``Decimal`` and refuses a JSON number
where money belongs, naming the string to write instead. ``decision.dumps`` writes every Decimal as text.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from ..errors import FactsProblem
from ..lang import types as t
from ..schemas import load_schema, number_text_words

_MONEY = load_schema("order.schema.json")["$defs"]["money"]
ORDER_MONEY = re.compile(_MONEY["pattern"])
"""An amount as an order writes it: the order schema's own pattern (at most 2 decimals, within its bounds)."""

CENT = Decimal("0.01")
MONEY_NUMBER = "money_number"
"""The code of the problem "a JSON number where money belongs"."""

Where = tuple[Any, ...]
"""Where a value is, as nested (parent, key) pairs: a JSON pointer is only written out for a problem."""
Reader = Callable[[Any, Where, list[FactsProblem]], None]

_KNOWN: dict[str, Decimal] = {}
"""Amounts already read, by their text: prices repeat, and a Decimal is immutable, so one may be shared."""
_KNOWN_MAX = 4096


def amount(text: str) -> Decimal | None:
    """The exact amount a wire string stands for, or None when the order schema's pattern refuses it."""
    value = _KNOWN.get(text)
    if value is None:
        if not ORDER_MONEY.match(text):
            return None
        value = Decimal(text)
        if len(_KNOWN) >= _KNOWN_MAX:
            _KNOWN.clear()
        _KNOWN[text] = value
    return value


def forget_amounts() -> None:
    """Empty the cache of amounts read (bounded by ``_KNOWN_MAX``): for a memory measurement that should not count it."""
    _KNOWN.clear()


def amount_words() -> str:
    """What an amount on the wire looks like, from the order schema: for messages."""
    return number_text_words(_MONEY)


def number_message(value: Decimal | int) -> str:
    """A JSON number where money belongs: the string to write instead (zh, then en)."""
    number = Decimal(value)
    text = f"{number.quantize(CENT):f}" if number.is_finite() and abs(number) < 10**16 and number == number.quantize(CENT) else ""
    if text and ORDER_MONEY.match(text):
        return f'金额写作字符串 "{text}" / money is written as a decimal string, "{text}", not the JSON number {number}'
    return f"金额写作字符串 / money is written as {amount_words()}, not the JSON number {number}"


def read_order_money(order: Any) -> list[FactsProblem]:
    """Every amount of an order document just read from the wire, as ``Decimal`` (in place); a JSON number there is a problem.

    A string that is not an amount stays as it is: validation names it, with the order's other problems.
    Not idempotent — the Decimals it leaves look like JSON numbers — so it runs once, where a document is read.
    """
    problems: list[FactsProblem] = []
    _order_reader()(order, (), problems)
    return problems


def _pointer(path: Where) -> str:
    parts: list[str] = []
    while path:
        path, key = path
        parts.append(str(key).replace("~", "~0").replace("/", "~1"))
    return "".join("/" + part for part in reversed(parts))


@functools.cache
def _order_reader() -> Reader:
    """The reader of the order schema's amounts, built once from its types (which fields are money, where lists are)."""
    reader = _object_reader(t.from_schema(load_schema("order.schema.json")))
    assert reader is not None, "the order schema has money fields"
    return reader


def _object_reader(typ: t.Type) -> Reader | None:
    """A function reading the amounts of an object of ``typ`` in place; None when it holds none."""
    money: list[str] = []
    nested: list[tuple[str, Reader]] = []
    for key, fld in typ.fields.items():
        kind = fld.type
        if kind.kind == t.NUMBER and kind.money:
            money.append(key)
        elif kind.kind == t.OBJECT:
            inner = _object_reader(kind)
            if inner is not None:
                nested.append((key, inner))
        elif kind.kind == t.LIST and kind.elem is not None and kind.elem.kind == t.OBJECT:
            inner = _object_reader(kind.elem)
            if inner is not None:
                nested.append((key, _each(inner)))
    if not money and not nested:
        return None

    def read(node: Any, path: Where, problems: list[FactsProblem]) -> None:
        if type(node) is not dict:
            return  # not an object: validation says so
        for key in money:
            value = node.get(key)
            if value is None:
                continue
            if type(value) is str:
                number = amount(value)
                if number is not None:
                    node[key] = number
            elif type(value) in (int, Decimal):
                problems.append(FactsProblem(_pointer((path, key)), number_message(value), MONEY_NUMBER))
        for key, inner in nested:
            value = node.get(key)
            if value is not None:
                inner(value, (path, key), problems)

    return read


def _each(reader: Reader) -> Reader:
    def read(node: Any, path: Where, problems: list[FactsProblem]) -> None:
        if type(node) is list:
            for index, item in enumerate(node):
                reader(item, (path, index), problems)

    return read
