"""Decision tables (``tables:``): checked at load and expanded into one ordinary rule per row.

A row's rule has the table's stage, scope, priority, group, window and sources; its condition is
the table's own ``when`` (if any) and one condition per input cell (``days_between(…) <= 7``, placed
at the cell, labelled with the column); its actions are a ``set`` per field cell, a ``reason`` per
reason cell, then the row's further ``actions``. The hit policy is made of what rules already have:
``first`` ends the table's group (its ``group:``, or a group of its own) at the first row that
matches, rows running in the order written; ``unique`` makes a second matching row an evaluation
error naming both (``runtime.program``); ``collect`` lets every match apply. So traces, coverage,
explanations, cases and the fast path see rules, each knowing its table and row.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

from ..documents import Document, pointer_join
from ..lang import types as t
from ..lang.check import compile_expression
from ..lang.codegen import build_probe, number_lines
from ..lang.ir import Compiled, Environment, ExpressionProblem, called, dotted_path
from ..lang.unary import Region, Test, grouped, parse_cell
from ..lang.words import Words
from ..model.conditions import ABSENT_VALUE, Condition, Group, Leaf
from ..model.rules import Action, Location, Rule, Table, TableInput, TableRow
from ..schemas import did_you_mean
from .compilation import Compilation
from .index import constraints
from .rule_building import build_actions, build_condition, build_template, field_value, local_names, rendered_words, schedule
from .table_analysis import analyse

WHOLE_FUNCTIONS = frozenset({"days_between", "hours_between", "count"})
"""Engine functions whose values are whole numbers: a gap between two of them is no gap."""


def table_rules(
    c: Compilation,
    doc: Document,
    pointer: str,
    spec: dict[str, Any],
    env: Environment,
    globals_: dict[str, Any],
    stages: tuple[str, ...],
    order: int,
) -> list[Rule]:
    """The rules of one table (none when anything in it is wrong: every problem is reported)."""
    errors_before = len(c.diagnostics)
    table_id = spec["id"]
    scope = spec.get("scope", "order")
    item = scope != "order"
    stage, bounds, effective = schedule(c, doc, pointer, spec, stages)
    env = local_names(c, doc, pointer, spec, env)
    paths: dict[str, str] = {}
    inputs = _inputs(c, doc, pointer, spec, env, item, paths)
    outputs = tuple(spec.get("outputs", ()))
    hit = spec["hit"]
    group = spec.get("group") or f"table {table_id}"
    table_loc = Location(doc.name, *doc.locate(pointer))
    rows: list[TableRow] = []
    built: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for index, row in enumerate(spec["rows"]):
        row_pointer = f"{pointer}/rows/{index}"
        name = str(row.get("id", index + 1))
        rule_id = f"{table_id}.{name}"
        if "effective" in row:  # a version of the row: rows of one id need windows that do not overlap (checked as rules' are)
            _, row_bounds, row_effective = schedule(c, doc, row_pointer, {"stage": stage, **row}, stages)
        else:
            row_bounds, row_effective = bounds, effective
        if name in seen and "effective" not in row:
            c.error(
                doc,
                doc.locate(row_pointer + "/id"),
                "duplicate_rule",
                f"表 {table_id} 已有行 {name}（第 {seen[name]} 行）/ table {table_id} already has a row '{name}' (row {seen[name]})",
                row_pointer + "/id",
            )
        seen.setdefault(name, index + 1)
        c.rule_words = []
        title_zh = rendered_words(c, doc, pointer + "/title/zh", "title.zh")
        title_en = rendered_words(c, doc, pointer + "/title/en", "title.en")
        if "title" in row:
            title_zh = f"{title_zh} · {rendered_words(c, doc, row_pointer + '/title/zh', 'title.zh')}"
            title_en = f"{title_en} · {rendered_words(c, doc, row_pointer + '/title/en', 'title.en')}"
        else:
            title_zh, title_en = f"{title_zh} · 第 {index + 1} 行", f"{title_en} · row {index + 1}"
        description = rendered_words(c, doc, pointer + "/description", "description")
        guard = build_condition(c, doc, pointer + "/when", spec["when"], env, globals_, item, rule_id) if "when" in spec else None
        cells, tests, leaves = _cells(c, doc, row_pointer, row.get("when", []), inputs, env, globals_, item, rule_id)
        then, shown = _outputs(c, doc, row_pointer, row.get("then", []), outputs, env, globals_, item, rule_id)
        extra = (len(then), 0)
        further = row.get("actions", [])
        then += build_actions(c, doc, row_pointer + "/actions", further, env, globals_, scope, {**spec, "group": group}, rule_id)
        extra = (extra[0], len(then))
        row_loc = Location(doc.name, *doc.locate(row_pointer))
        if hit == "first" and not any(a.kind == "stop" for a in then):
            then.append(Action("stop", row_loc))
        regions = tuple(
            test.region(column.type, env.params) if test is not None and column is not None else Region(known=False)
            for test, column in zip(tests, inputs, strict=True)
        )
        window = (row_bounds[0], row_bounds[1])
        rows.append(TableRow(index + 1, rule_id, cells, regions, shown, row_loc, extra, window))
        built.append(
            {
                "id": rule_id,
                "title": (title_zh, title_en),
                "description": description,
                "when": [c for c in (guard, *leaves) if c is not None],
                "then": then,
                "location": row_loc,
                "words": tuple(c.rule_words),
                "window": (row_bounds, row_effective.get("on", "paid_at")),
            }
        )
    if len(c.diagnostics) > errors_before or any(c is None for c in inputs):
        return []
    if built and built[0]["when"] and "when" in spec:  # what the table's when leaves each column (the rule index's analysis)
        limits = constraints(built[0]["when"][0], env)
        inputs = [dataclasses.replace(c, domain=_domain(c, limits.get(paths.get(c.name, "")))) if c else c for c in inputs]
    table = Table(
        id=table_id,
        title_zh=rendered_words(c, doc, pointer + "/title/zh", "title.zh"),
        title_en=rendered_words(c, doc, pointer + "/title/en", "title.en"),
        hit=hit,
        complete=bool(spec.get("complete", False)),
        guard=_guard_text(spec.get("when")),
        inputs=tuple(c for c in inputs if c is not None),
        outputs=outputs,
        rows=tuple(rows),
        location=table_loc,
    )
    if table.complete:
        _check_complete(c, doc, pointer, table)
    out = []
    for number, entry in enumerate(built, 1):
        when = _all(entry["when"], f"{pointer}/rows/{number - 1}/when", doc, env, globals_, c, entry["id"])
        out.append(
            Rule(
                id=entry["id"],
                title_zh=entry["title"][0],
                title_en=entry["title"][1],
                description=entry["description"],
                source=spec.get("source", ""),
                guarantee=spec.get("guarantee", ""),
                stage=stage,
                stage_index=stages.index(stage) if stage in stages else 0,
                priority=spec.get("priority", 0),
                scope=scope,
                group=group if hit == "first" or "group" in spec else "",
                effective_from=entry["window"][0][0],
                effective_until=entry["window"][0][1],
                effective_on=entry["window"][1],
                when=when,
                then=entry["then"],
                otherwise=[],
                location=entry["location"],
                order=order + number - 1,
                words=entry["words"],
                claim_types=constraints(when, env).get("claim.type"),
                table=table,
                row=number,
            )
        )
    return out


def _guard_text(when: Any) -> str:
    """The table's own condition as one line, for the catalogue: its expression, or its label (a group)."""
    if when is None:
        return ""
    if isinstance(when, str):
        return " ".join(when.split())
    return " ".join(str(when.get("expr") or when.get("label") or "…").split())


def _domain(column: TableInput, allowed: frozenset[str] | None) -> tuple[str, ...] | None:
    if allowed is None or column.type.enum is None:
        return None
    return tuple(v for v in column.type.enum if v in allowed)


def _inputs(
    c: Compilation, doc: Document, pointer: str, spec: dict[str, Any], env: Environment, item: bool, paths: dict[str, str]
) -> list[TableInput | None]:
    """The input columns, each expression checked once (None: its error is reported, its cells are not checked)."""
    out: list[TableInput | None] = []
    names: set[str] = set()
    for index, column in enumerate(spec["inputs"]):
        at = f"{pointer}/inputs/{index}"
        if column["name"] in names:
            message = f"列名 {column['name']} 重复 / column name '{column['name']}' is used twice"
            c.error(doc, doc.locate(at + "/name"), "table_column", message, at)
        names.add(column["name"])
        try:
            compiled = compile_expression(column["expr"], env, item=item)
        except ExpressionProblem as exc:
            c.expression_error(doc, at + "/expr", exc)
            out.append(None)
            continue
        if compiled.type.kind in (t.LIST, t.OBJECT, t.MAP):
            c.error(
                doc,
                doc.locate(at + "/expr"),
                "table_column",
                f"列 {column['name']} 的值是{compiled.type.words()}，单元格无法检验 / column '{column['name']}' gives "
                f"{compiled.type.words()}; a cell tests a number, text, true/false, a time or a duration",
                at + "/expr",
            )
            out.append(None)
            continue
        label = rendered_words(c, doc, at + "/label", "label") if "label" in column else ""
        paths[column["name"]] = dotted_path(compiled.py) or ""
        out.append(TableInput(column["name"], label, column["expr"], compiled.type, _whole(compiled)))
    return out


def _whole(compiled: Compiled) -> bool:
    return compiled.type.integer or called(compiled.py) in WHOLE_FUNCTIONS


def _cells(
    c: Compilation,
    doc: Document,
    row_pointer: str,
    raw: Any,
    inputs: list[TableInput | None],
    env: Environment,
    globals_: dict[str, Any],
    item: bool,
    rule_id: str,
) -> tuple[tuple[str, ...], list[Test | None], list[Leaf]]:
    """The row's input cells as written, as tests, and as conditions (only the cells that test something)."""
    at = row_pointer + "/when"
    by_column = _by_column(c, doc, at, raw, [c.name if c else "" for c in inputs], "input")
    shown: list[str] = []
    tests: list[Test | None] = []
    leaves: list[Leaf] = []
    for column, (cell, cell_pointer) in zip(inputs, by_column, strict=True):
        if column is None or cell is None:
            shown.append("-" if cell is None else str(cell))
            tests.append(parse_cell("-", t.scalar(t.TEXT)) if cell is None else None)
            continue
        try:
            test = parse_cell(cell, column.type)
        except ExpressionProblem as exc:
            _cell_error(c, doc, cell_pointer, cell, exc)
            shown.append(str(cell))
            tests.append(None)
            continue
        shown.append(test.text)
        tests.append(test)
        leaf = _cell_leaf(c, doc, cell_pointer, cell, test, column, env, globals_, item, rule_id)
        if leaf is not None:
            leaves.append(leaf)
    return tuple(shown), tests, leaves


def _by_column(c: Compilation, doc: Document, at: str, raw: Any, names: list[str], what: str) -> list[tuple[Any, str]]:
    """(cell, its pointer) for each column: from a list (one per column) or a mapping by column name (missing: none)."""
    width = len(names)
    if isinstance(raw, list):
        if raw and len(raw) != width:
            message = (
                f"此行有 {len(raw)} 个{'输入' if what == 'input' else '输出'}单元格，表有 {width} 列（{', '.join(names)}）/ "
                f"the row has {len(raw)} {what} cells, the table has {width} {what} columns ({', '.join(names)})"
            )
            c.error(doc, doc.locate(at), "table_row_width", message, at)
            return [(None, at)] * width
        return [(raw[i] if raw else None, f"{at}/{i}") for i in range(width)]
    cells: list[tuple[Any, str]] = [(None, at)] * width
    for key, cell in raw.items():
        if key not in names:
            hint = did_you_mean(key, names)
            message = (
                f"表中没有{'输入' if what == 'input' else '输出'}列 {key} / the table has no {what} column '{key}'"
                + (f" (did you mean '{hint}'?)" if hint else f"; columns: {', '.join(names)}")
            )
            c.error(doc, doc.locate(pointer_join(at, key), key=True), "table_column", message, pointer_join(at, key))
            continue
        cells[names.index(key)] = (cell, pointer_join(at, key))
    return cells


def _cell_error(c: Compilation, doc: Document, cell_pointer: str, cell: Any, exc: ExpressionProblem) -> None:
    where = doc.locate_in_text(cell_pointer, exc.offset) if isinstance(cell, str) else doc.locate(cell_pointer)
    c.error(doc, where, exc.code, f"单元格 {cell!s} 无法读取 / cannot read the cell: {exc.message}", cell_pointer)


def _cell_leaf(
    c: Compilation,
    doc: Document,
    cell_pointer: str,
    cell: Any,
    test: Test,
    column: TableInput,
    env: Environment,
    globals_: dict[str, Any],
    item: bool,
    rule_id: str,
) -> Leaf | None:
    """The cell as a condition over its column, checked; an operand's own error is placed inside the cell."""
    if test.kind == "any":
        return None
    for operand in test.every_operand():
        if operand.is_literal:
            continue
        try:
            compile_expression(operand.text, env, item=item)
        except ExpressionProblem as exc:
            if isinstance(cell, str):
                c.expression_error(doc, cell_pointer, exc, base=operand.offset)
            else:
                c.error(doc, doc.locate(cell_pointer), exc.code, exc.message, cell_pointer)
            return None
    text = test.condition(grouped(column.expr), column.type)
    where = doc.locate(cell_pointer)
    try:
        compiled = compile_expression(text, env, item=item, expect=t.BOOL)
    except ExpressionProblem as exc:
        shown = column.label or column.name
        message = (
            f"单元格 {test.text} 与列 {shown}（{column.type.words()}）不相容 / the cell {test.text} cannot test column "
            f"'{column.name}' ({column.type.words()}): {exc.message}"
        )
        c.error(doc, where, "table_cell", message, cell_pointer)
        return None
    c.leaves += 1
    number_lines(compiled.py, c.leaves + 1)
    label = f"{column.label or column.name}: {test.text}"
    leaf = Leaf(compiled, cell_pointer, label, (doc.name, *where), c.leaves + 1, env=env)
    probe_name = f"rule {rule_id} {cell_pointer}"
    leaf.build_probe = functools.partial(build_probe, absent=ABSENT_VALUE, env=env, globals_=globals_, name=probe_name)
    return leaf


def _outputs(
    c: Compilation,
    doc: Document,
    row_pointer: str,
    raw: Any,
    outputs: tuple[str, ...],
    env: Environment,
    globals_: dict[str, Any],
    item: bool,
    rule_id: str,
) -> tuple[list[Action], tuple[str, ...]]:
    """The row's output cells as actions (``-``: none), and as they are shown in the table."""
    at = row_pointer + "/then"
    actions: list[Action] = []
    shown: list[str] = []
    for name, (cell, cell_pointer) in zip(outputs, _by_column(c, doc, at, raw, list(outputs), "output"), strict=True):
        if cell is None or cell == "-":
            shown.append("-")
            continue
        loc = Location(doc.name, *doc.locate(cell_pointer))
        if name == "reason":
            if not isinstance(cell, dict):
                c.error(doc, loc_of(loc), "table_cell", "reason 列的单元格是 {zh, en} / a reason cell is {zh: …, en: …}", cell_pointer)
                continue
            for lang in ("zh", "en"):
                locate = functools.partial(doc.locate_in_text, f"{cell_pointer}/{lang}")
                c.rule_words.append(Words(f"reason.{lang}", cell[lang], locate, doc.name))
            parts = (
                build_template(c, doc, cell_pointer + "/zh", cell["zh"], env, globals_, item, rule_id),
                build_template(c, doc, cell_pointer + "/en", cell["en"], env, globals_, item, rule_id),
            )
            actions.append(Action("reason", loc, message=parts))
            shown.append(f"{cell['zh']} / {cell['en']}")
            continue
        if isinstance(cell, dict) and "expr" not in cell:
            message = f"{name} 的单元格是一个值或 {{expr: …}} / a cell of {name} is a value or {{expr: …}}, not a reason"
            c.error(doc, loc_of(loc), "table_cell", message, cell_pointer)
            continue
        value = field_value(c, doc, cell_pointer, name, cell, env, globals_, item, rule_id)
        if value is not None:
            actions.append(Action("set", loc, target=name, value=value))
        shown.append("true" if cell is True else "false" if cell is False else f"= {cell['expr']}" if isinstance(cell, dict) else str(cell))
    return actions, tuple(shown)


def loc_of(loc: Location) -> tuple[int, int]:
    return (loc.line, loc.column)


def _all(
    children: list[Condition], pointer: str, doc: Document, env: Environment, globals_: dict[str, Any], c: Compilation, rule_id: str
) -> Condition:
    """The row's condition: every cell (and the table's ``when``); a row of ``-`` only always holds."""
    if children:
        return Group("all", children, pointer, "")
    compiled = compile_expression("true", env, item=False, expect=t.BOOL)
    c.leaves += 1
    number_lines(compiled.py, c.leaves + 1)
    leaf = Leaf(compiled, pointer, "", (doc.name, *doc.locate(pointer)), c.leaves + 1, env=env)
    leaf.build_probe = functools.partial(build_probe, absent=ABSENT_VALUE, env=env, globals_=globals_, name=f"rule {rule_id} {pointer}")
    return leaf


def _check_complete(c: Compilation, doc: Document, pointer: str, table: Table) -> None:
    """``complete: true``: a gap, or a cell the analysis cannot read, is a load error at the table."""
    analysis = analyse(table)
    where = doc.locate(pointer + "/complete")
    if analysis.unknown:
        names = ", ".join(analysis.unknown)
        c.error(
            doc,
            where,
            "table_not_analysable",
            f"表 {table.id} 声明完备，但列 {names} 的单元格与非常量比较，无法检查 / table {table.id} says it is complete, but the "
            f"cells of {names} compare with expressions other than numbers and parameters, so that cannot be checked",
            pointer + "/complete",
        )
    elif analysis.gaps:
        c.error(
            doc,
            where,
            "table_gap",
            f"表 {table.id} 声明完备，但没有行覆盖 {analysis.example(analysis.gaps[0])}（共 {analysis.gap_count} 处空缺）/ table "
            f"{table.id} says it is complete, but no row covers {analysis.example(analysis.gaps[0])} ({analysis.gap_count} gaps)",
            pointer + "/complete",
        )

