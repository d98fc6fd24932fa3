"""Unary tests: the cells of a decision table, each a test of its column's value.

A cell is read once, at load, into a :class:`Test`; the loader turns each test into an ordinary
condition over the column's expression (``days_between(…) <= 7``), so a table row runs, traces and
explains as a rule does. The forms, as a policy author writes them in YAML:

- ``-``: any value (the cell does not test its column);
- a value: ``approved``, ``7``, ``true`` — equal to it (a word is text for a text column, an expression
  such as ``params.x`` for any other);
- a comparison: ``">= 500"``, ``≤ 7``, ``"< params.x"``, ``"!= buyer"``;
- a range: ``7..15`` (both ends included), ``"[7..15)"``, ``"(0..params.x]"`` — ``[``/``]`` include the
  end, ``(``/``)`` leave it out;
- a list of these: ``[counterfeit, not_as_described]`` — any one of them;
- ``{not: …}`` — any value but those: ``{not: [pending, none]}``.

Besides the condition text, a test keeps what the table analysis reads (:meth:`Test.region`): the set of
values or the intervals it admits, when its operands are literals or parameters.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from . import types as t
from .ir import ExpressionProblem

ANY = "-"
_OPERATORS = {">=": ">=", "<=": "<=", "!=": "!=", "==": "==", "≥": ">=", "≤": "<=", "≠": "!=", ">": ">", "<": "<", "=": "=="}
_RANGE = re.compile(r"^([\[(])?\s*(.+?)\s*\.\.\s*(.+?)\s*([\])])?$", re.DOTALL)


@dataclass(frozen=True)
class Operand:
    """One operand of a test: a literal value, or an expression's text at ``offset`` in the cell."""

    text: str
    offset: int
    literal: Any = None
    is_literal: bool = False

    def source(self, column: t.Type) -> str:
        """The operand as expression text: a literal word of a text column is quoted."""
        if not self.is_literal:
            return self.text
        value = self.literal
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str):
            return repr(value)
        return str(value)


@dataclass(frozen=True)
class Test:
    """One cell: ``kind`` is ``any`` | ``compare`` (``op``, ``operands[0]``) | ``range`` | ``one_of`` | ``not`` (``parts``)."""

    kind: str
    text: str
    op: str = ""
    operands: tuple[Operand, ...] = ()
    closed: tuple[bool, bool] = (True, True)
    parts: tuple[Test, ...] = ()

    def condition(self, column: str, column_type: t.Type) -> str:
        """The test as an expression over ``column`` (already parenthesised where needed); empty for ``any``."""
        if self.kind == "any":
            return ""
        if self.kind == "compare":
            operand = self.operands[0]
            if column_type.kind == t.BOOL and operand.is_literal and isinstance(operand.literal, bool) and self.op in ("==", "!="):
                return column if operand.literal == (self.op == "==") else f"not {column}"  # reads as written: not has(…)
            return f"{column} {self.op} {operand.source(column_type)}"
        if self.kind == "not":
            return f"not ({self.parts[0].condition(column, column_type)})"
        if self.kind == "range":
            low, high = (o.source(column_type) for o in self.operands)
            return f"{low} {'<=' if self.closed[0] else '<'} {column} {'<=' if self.closed[1] else '<'} {high}"
        if all(p.kind == "compare" and p.op == "==" for p in self.parts):
            return f"{column} in [{', '.join(p.operands[0].source(column_type) for p in self.parts)}]"
        return " or ".join(f"({p.condition(column, column_type)})" for p in self.parts)

    def every_operand(self) -> list[Operand]:
        if self.kind in ("one_of", "not"):
            return [o for p in self.parts for o in p.every_operand()]
        return list(self.operands)

    def region(self, column_type: t.Type, params: dict[str, tuple[t.Type, Any]]) -> Region:
        """What the test admits, for the table analysis (``known=False`` when an operand is not a literal or parameter)."""
        if self.kind == "any":
            return Region(any=True)
        numeric = column_type.kind == t.NUMBER
        if self.kind == "not":
            inner = self.parts[0].region(column_type, params)
            if not inner.known:
                return inner
            return dataclasses.replace(inner, negated=not inner.negated)
        if self.kind == "one_of":
            regions = [p.region(column_type, params) for p in self.parts]
            if not all(r.known for r in regions):
                return Region(known=False)
            if any(r.any for r in regions):
                return Region(any=True)
            if numeric:
                return Region(intervals=tuple(i for r in regions for i in r.intervals))
            if any(r.negated for r in regions):
                return Region(known=False)
            return Region(values=frozenset(v for r in regions for v in r.values))
        values = [_value(o, params) for o in self.operands]
        if any(v is _UNKNOWN for v in values):
            return Region(known=False)
        if not numeric:
            if self.kind == "range" or self.op not in ("==", "!="):
                return Region(known=False)
            return Region(values=frozenset(values), negated=self.op == "!=")
        if not all(isinstance(v, Decimal | int) and not isinstance(v, bool) for v in values):
            return Region(known=False)
        numbers = [Decimal(v) for v in values]
        if self.kind == "range":
            return Region(intervals=(Interval(numbers[0], self.closed[0], numbers[1], self.closed[1]),))
        number, op = numbers[0], self.op
        shapes = {
            "==": (Interval(number, True, number, True),),
            "!=": (Interval(None, False, number, False), Interval(number, False, None, False)),
            "<": (Interval(None, False, number, False),),
            "<=": (Interval(None, False, number, True),),
            ">": (Interval(number, False, None, False),),
            ">=": (Interval(number, True, None, False),),
        }
        return Region(intervals=shapes[op])


@dataclass(frozen=True)
class Interval:
    """Numbers between ``low`` and ``high`` (None: unbounded), each end included when its flag says so."""

    low: Decimal | None
    low_closed: bool
    high: Decimal | None
    high_closed: bool

    def __contains__(self, value: object) -> bool:
        assert isinstance(value, Decimal)
        if self.low is not None and (value < self.low or (value == self.low and not self.low_closed)):
            return False
        return self.high is None or value < self.high or (value == self.high and self.high_closed)


@dataclass(frozen=True)
class Region:
    """What one cell admits: any value, a set of values or a union of intervals — or, ``negated``, all but them."""

    any: bool = False
    values: frozenset[Any] = frozenset()
    negated: bool = False
    intervals: tuple[Interval, ...] = ()
    known: bool = True

    def admits(self, value: Any) -> bool:
        if self.any:
            return True
        if self.intervals:
            return any(value in i for i in self.intervals) != self.negated
        return (value in self.values) != self.negated

    def points(self) -> list[Decimal]:
        """The interval ends: where what the cell admits may change."""
        return [p for i in self.intervals for p in (i.low, i.high) if p is not None]


_UNKNOWN = object()


def _value(operand: Operand, params: dict[str, tuple[t.Type, Any]]) -> Any:
    if operand.is_literal:
        return operand.literal
    text = operand.text.strip()
    number = re.fullmatch(r"-?\d+(\.\d+)?", text)
    if number:
        return Decimal(text)
    name = re.fullmatch(r"params\.([a-z][a-z0-9_]*)", text)
    if name and name.group(1) in params:
        value = params[name.group(1)][1]
        return value if isinstance(value, str | bool | int | Decimal) else _UNKNOWN
    return _UNKNOWN


def parse_cell(raw: Any, column_type: t.Type) -> Test:
    """Read one cell as written in YAML; raises ExpressionProblem (offset in the cell's text) for a malformed one."""
    if isinstance(raw, dict) and set(raw) == {"not"}:
        inner = parse_cell(raw["not"], column_type)
        if inner.kind in ("any", "not"):
            raise ExpressionProblem("not takes a value, a comparison, a range or a list of them", 0, "table_cell")
        return Test("not", f"not {inner.text}", parts=(inner,))
    if isinstance(raw, list):
        if not raw:
            raise ExpressionProblem("an empty list admits nothing; write '-' for any value", 0, "table_cell")
        parts = tuple(parse_cell(item, column_type) for item in raw)
        if any(p.kind in ("any", "one_of", "not") for p in parts):
            raise ExpressionProblem("a list holds values, comparisons and ranges, not '-' or another list", 0, "table_cell")
        return Test("one_of", _shown(raw), parts=parts)
    if isinstance(raw, bool | int | Decimal):
        return Test("compare", _shown(raw), "==", (Operand(_shown(raw), 0, raw, True),))
    if not isinstance(raw, str):
        raise ExpressionProblem("a cell is '-', a value, a comparison, a range or a list of them", 0, "table_cell")
    text = raw.strip()
    lead = len(raw) - len(raw.lstrip())
    if text == ANY:
        return Test("any", ANY)
    if not text:
        raise ExpressionProblem("an empty cell: write '-' for any value", 0, "table_cell")
    for word in sorted(_OPERATORS, key=len, reverse=True):
        if text.startswith(word):
            rest = text[len(word) :]
            operand = _operand(rest, lead + len(word), column_type)
            return Test("compare", text, _OPERATORS[word], (operand,))
    found = _RANGE.match(text)
    if found and ".." in text and not text.startswith(("'", '"')):
        opening, low, high, closing = found.groups()
        if (opening is None) != (closing is None):
            raise ExpressionProblem(
                "a range is written 7..15, or with brackets on both ends: [7..15], [7..15), (7..15]", 0, "table_cell"
            )
        low_at = lead + found.start(2)
        high_at = lead + found.start(3)
        operands = (_operand(low, low_at, column_type, word=False), _operand(high, high_at, column_type, word=False))
        closed = (opening != "(", closing != ")")
        return Test("range", text, operands=operands, closed=closed)
    return Test("compare", text, "==", (_operand(text, lead, column_type),))


def _operand(text: str, offset: int, column_type: t.Type, word: bool = True) -> Operand:
    """An operand: a number, or a word of a text column (literal text), or an expression."""
    stripped = text.strip()
    offset += len(text) - len(text.lstrip())
    if not stripped:
        raise ExpressionProblem("a comparison needs a value after its operator", offset, "table_cell")
    if re.fullmatch(r"-?\d+(\.\d+)?", stripped):
        return Operand(stripped, offset, Decimal(stripped) if "." in stripped else int(stripped), True)
    if stripped in ("true", "false") and column_type.kind == t.BOOL:
        return Operand(stripped, offset, stripped == "true", True)
    if word and column_type.kind == t.TEXT and not _is_expression(stripped):
        return Operand(stripped, offset, stripped.strip("'\""), True)
    return Operand(stripped, offset)


def _is_expression(text: str) -> bool:
    """Whether a word in a text column is meant as an expression: quoted text, a parameter, a fact path, a call."""
    if text[:1] in ("'", '"') and text[-1:] == text[:1]:
        return False
    try:
        tree = ast.parse(text, mode="eval").body
    except SyntaxError:
        return False
    return not isinstance(tree, ast.Name)


def _shown(raw: Any) -> str:
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, list):
        return "[" + ", ".join(_shown(r) for r in raw) + "]"
    return str(raw)


def grouped(column: str) -> str:
    """The column's expression, in parentheses unless it is a name, a path, a call or a literal."""
    try:
        tree = ast.parse(column.strip(), mode="eval").body
    except SyntaxError:
        return f"({column})"
    if isinstance(tree, ast.Name | ast.Attribute | ast.Call | ast.Constant):
        return column.strip()
    return f"({column.strip()})"
