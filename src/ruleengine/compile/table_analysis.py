"""Analysis of a decision table over its cells: gaps, overlapping rows, rows that can never be hit.

Each input column's values are cut into pieces on which every cell of the column gives the same
answer: for numbers (money, days, counts) the points where a cell's interval starts or ends and the
stretches between them — only whole numbers where the column holds whole numbers (a count, days or
hours between instants), no amount below zero; for an enum its values (from the schema), for
true/false both, for other text the words the cells name and "any other text". Every combination
of pieces is then one kind of input, and the rows matching it are a bit set: no row is a gap, two
rows under ``unique`` an overlap, and a row that is never the first to match under ``first`` is
shadowed by the rows before it. The walk stops early where no row can match any more, and gives up
past :data:`MAX_STEPS` combinations. The analysis is within the table's own ``when``.

Loading runs it for a table that says ``complete: true`` (a gap is a load error); ``lint`` runs it
for every table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ..errors import Diagnostic
from ..lang import types as t
from ..model.rules import Location, Table, TableInput

MAX_STEPS = 200_000
"""Combinations of column pieces walked at most, per table."""
EXAMPLES = 5
"""Gaps kept as examples (all are counted)."""

_OTHER = "\x00other"


@dataclass(frozen=True)
class Piece:
    """A piece of a column's values: a value standing for it, and how it is shown."""

    value: Any
    shown: str


@dataclass
class Analysis:
    table: Table
    pieces: list[list[Piece]] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    """Columns whose cells compare with expressions the analysis cannot read: nothing else is found."""
    too_many: bool = False
    gaps: list[tuple[int, ...]] = field(default_factory=list)
    gap_count: int = 0
    overlaps: dict[tuple[int, int], tuple[int, ...]] = field(default_factory=dict)
    """(row, row) numbers → an input both match (``unique`` tables)."""
    first_hits: int = 0
    matched: int = 0
    shadowed_by: dict[int, int] = field(default_factory=dict)
    """Row number → the rows (a bit set) that match first wherever it matches (``first`` tables)."""

    def example(self, combination: tuple[int, ...]) -> str:
        """An input as policy staff read it: ``签收后天数 days = 8, claim.type = counterfeit``."""
        parts = []
        for column, pieces, index in zip(self.table.inputs, self.pieces, combination, strict=True):
            name = f"{column.label} {column.name}" if column.label else column.name
            parts.append(f"{name} = {pieces[index].shown}")
        return ", ".join(parts)

    def never_hit(self) -> list[int]:
        """Rows no input matches."""
        return [row.number for row in self.table.rows if not self.matched >> (row.number - 1) & 1]

    def shadowed(self) -> dict[int, list[int]]:
        """Under ``first``: rows that match some input but are never the first to: row → the earlier rows that win."""
        if self.table.hit != "first":
            return {}
        out = {}
        for row in self.table.rows:
            bit = 1 << (row.number - 1)
            if self.matched & bit and not self.first_hits & bit:
                winners = self.shadowed_by.get(row.number, 0)
                out[row.number] = [n + 1 for n in range(len(self.table.rows)) if winners >> n & 1]
        return out


def analyse(table: Table) -> Analysis:
    analysis = Analysis(table)
    masks: list[list[int]] = []
    for index, column in enumerate(table.inputs):
        regions = [row.regions[index] for row in table.rows]
        if not all(r.known for r in regions):
            analysis.unknown.append(column.name)
            continue
        pieces = _pieces(column, regions)
        analysis.pieces.append(pieces)
        masks.append([sum(1 << n for n, r in enumerate(regions) if r.any or r.admits(p.value)) for p in pieces])
    if analysis.unknown:
        return analysis
    for in_effect in _epochs(table):
        _walk(analysis, masks, in_effect)
    analysis.gaps.sort()
    return analysis


def _epochs(table: Table) -> list[int]:
    """The sets of rows (bit sets) in effect together: one, unless some rows are versions with windows of their own."""
    ends = sorted({end for row in table.rows for end in row.window if end is not None})
    every = (1 << len(table.rows)) - 1
    if not ends:
        return [every]
    found: list[int] = []
    for instant in [None, *ends]:  # before the first end, then from each end on
        mask = 0
        for row in table.rows:
            start, until = row.window
            begun = start is None if instant is None else start is None or start <= instant
            active = begun and (instant is None or until is None or instant < until)
            mask |= active << (row.number - 1)
        if mask and mask not in found:
            found.append(mask)
    return found


def _walk(analysis: Analysis, masks: list[list[int]], in_effect: int) -> None:
    steps = 0
    unique = analysis.table.hit == "unique"
    stack: list[tuple[int, int, tuple[int, ...]]] = [(0, in_effect, ())]
    while stack:
        column, mask, chosen = stack.pop()
        steps += 1
        if steps > MAX_STEPS:  # per set of rows in effect together
            analysis.too_many = True
            return
        if mask == 0:
            rest = masks[column:]
            analysis.gap_count += math.prod(len(m) for m in rest)
            if len(analysis.gaps) < EXAMPLES:
                analysis.gaps.append(chosen + (0,) * len(rest))
            continue
        if column == len(masks):
            analysis.matched |= mask
            first = mask & -mask
            analysis.first_hits |= first
            rest_bits = mask ^ first
            while rest_bits:
                bit = rest_bits & -rest_bits
                row = bit.bit_length()
                analysis.shadowed_by[row] = analysis.shadowed_by.get(row, 0) | first
                if unique:
                    analysis.overlaps.setdefault((first.bit_length(), row), chosen)
                rest_bits ^= bit
            continue
        for index in reversed(range(len(masks[column]))):
            stack.append((column + 1, mask & masks[column][index], (*chosen, index)))


def _pieces(column: TableInput, regions: list[Any]) -> list[Piece]:
    typ = column.type
    if all(r.any for r in regions):
        return [Piece(None, "-")]
    if typ.kind == t.NUMBER:
        return _number_pieces(column, sorted({p for r in regions for p in r.points()}))
    if typ.kind == t.BOOL:
        return [Piece(True, "true"), Piece(False, "false")]
    if typ.enum:
        return [Piece(v, v) for v in (column.domain if column.domain is not None else typ.enum)]
    named = sorted({str(v) for r in regions for v in r.values})
    return [*(Piece(v, v) for v in named), Piece(_OTHER, "其他文字 any other text")]


def _number_pieces(column: TableInput, points: list[Decimal]) -> list[Piece]:
    """The points and the stretches between them, each stretch by one value inside it (a whole one if need be)."""
    whole, floor = column.whole, Decimal(0) if column.type.money else None
    out: list[Piece] = []

    def stretch(low: Decimal | None, high: Decimal | None) -> None:
        if whole:
            start = (low.to_integral_value(rounding="ROUND_FLOOR") + 1) if low is not None else None
            if start is None:
                start = (high.to_integral_value(rounding="ROUND_CEILING") - 1) if high is not None else Decimal(0)
            value: Decimal | None = start if high is None or start < high else None
        elif low is None and high is None:
            value = Decimal(0)
        elif low is None:
            assert high is not None
            value = high - 1
        elif high is None:
            value = low + 1
        else:
            value = (low + high) / 2
        if value is None or (floor is not None and value < floor):
            return
        low_text = "−∞" if low is None else str(low)
        high_text = "∞" if high is None else str(high)
        out.append(Piece(value, f"{value} ({low_text}..{high_text})"))

    previous: Decimal | None = None
    for point in points:
        stretch(previous, point)
        if (not whole or point == point.to_integral_value()) and (floor is None or point >= floor):
            out.append(Piece(point, str(point)))
        previous = point
    stretch(previous, None)
    return out


def findings(table: Table) -> list[Diagnostic]:
    """What ``lint`` says of a table: overlaps under ``unique``, rows never hit or shadowed, gaps, or why it could not look."""
    analysis = analyse(table)
    where = table.location
    out: list[Diagnostic] = []

    def say(loc: Location, code: str, message: str, severity: str) -> None:
        out.append(Diagnostic(loc.file, loc.line, loc.column, code, message, severity))

    if analysis.unknown:
        names = ", ".join(analysis.unknown)
        say(
            where,
            "table_not_analysed",
            f"表 {table.id} 的列 {names} 与非常量比较，未作完备与重叠检查 / table {table.id}: the cells of {names} compare with "
            "expressions other than numbers and parameters, so gaps and overlaps were not checked",
            "info",
        )
        return out
    if analysis.too_many:
        say(
            where,
            "table_not_analysed",
            f"表 {table.id} 的输入组合超过 {MAX_STEPS} 种，未作检查 / table {table.id} has more than {MAX_STEPS} kinds of input "
            "to check; gaps and overlaps were not checked",
            "info",
        )
        return out
    rows = {row.number: row for row in table.rows}
    for (first, second), combination in sorted(analysis.overlaps.items()):
        a, b = rows[first], rows[second]
        say(
            b.location,
            "table_overlap",
            f"表 {table.id}（unique）第 {first} 行与第 {second} 行都匹配 {analysis.example(combination)}，此时求值出错 / rows "
            f"{a.rule_id} and {b.rule_id} of unique table {table.id} both match {analysis.example(combination)}: "
            "such an order fails to evaluate",
            "warning",
        )
    for number in analysis.never_hit():
        say(
            rows[number].location,
            "table_row_never_hit",
            f"表 {table.id} 第 {number} 行的单元格不接受任何输入 / row {rows[number].rule_id} of table {table.id} can never "
            "match: its cells admit no input",
            "warning",
        )
    for number, winners in analysis.shadowed().items():
        earlier = ", ".join(str(w) for w in winners)
        say(
            rows[number].location,
            "table_row_shadowed",
            f"表 {table.id} 第 {number} 行永远不会命中：它匹配的输入都先由第 {earlier} 行命中 / row {rows[number].rule_id} of "
            f"table {table.id} can never be hit (hit: first): every input it matches is matched first by row {earlier}",
            "warning",
        )
    if analysis.gaps:
        example = analysis.example(analysis.gaps[0])
        say(
            where,
            "table_gap",
            f"表 {table.id} 没有行覆盖 {example} 等 {analysis.gap_count} 种输入 / no row of table {table.id} covers {example} "
            f"({analysis.gap_count} kinds of input in all); add a row, or rely on what applies when no row does",
            "info",
        )
    return out
