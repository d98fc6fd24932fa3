"""Decision tables as policy staff use them: lint's analysis, explain's marked row, the catalogue's grid.

Every policy here is the tests' own (tests/policies/tables, or written into a temporary folder);
the language of cells and the hit policies themselves are conformance cases (tests/conformance/corpus/tables.yaml).
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ruleengine
from ruleengine.authoring.catalogue import catalogue_data, markdown
from ruleengine.authoring.explanation import explanation_data, explanation_text
from ruleengine.authoring.lint import lint

ROOT = Path(__file__).resolve().parent.parent
TABLES = ROOT / "tests" / "policies" / "tables"
RETURN_ORDER = ROOT / "examples" / "orders" / "seven-day-return-last-minute-approved.json"
"""A no-reason return of one 259.00 line, signed 2026-11-11 and requested 2026-11-18 (7 days after)."""

MANIFEST = """\
policy:
  name: t
  version: "1"
  timezone: Asia/Shanghai
  stages: [claim]
"""


def write(folder: Path, table: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "policy.yaml").write_text(MANIFEST, encoding="utf-8")
    (folder / "tables.yaml").write_text(table, encoding="utf-8")
    return folder


def order(**claim: Any) -> dict[str, Any]:
    facts: dict[str, Any] = json.loads(RETURN_ORDER.read_text(encoding="utf-8"))
    facts["claim"].update(claim)
    return facts


def quantity_table(hit: str, rows: list[str], complete: bool = False) -> str:
    """A line table over item.quantity (whole numbers) whose rows each grant a service."""
    lines = [
        "tables:",
        "  - id: q",
        "    title: {zh: 数量, en: quantity}",
        "    description: 按数量 / by quantity",
        "    stage: claim",
        "    scope: line",
        f"    hit: {hit}",
        *(["    complete: true"] if complete else []),
        "    inputs:",
        "      - {name: quantity, expr: item.quantity, label: 数量}",
        "    rows:",
    ]
    lines += [f'      - {{when: ["{cell}"], actions: [{{add_service: authenticity}}]}}' for cell in rows]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def tables() -> ruleengine.Policy:
    return ruleengine.load_policy(TABLES)


# ---------------------------------------------------------------- rows are rules


def test_each_row_is_a_rule_named_by_its_table_and_row(tables: ruleengine.Policy) -> None:
    rows = [r for r in tables.rules if r.table is not None]
    assert [(r.id, r.row) for r in rows] == [
        ("returns.late", 1),
        ("returns.damaged", 2),
        ("returns.big", 3),
        ("returns.approve", 4),
        ("returns.early", 5),
    ]
    assert all(r.table is rows[0].table and r.stage == "claim" and r.scope == "claimed_line" for r in rows)
    assert all(r.claim_types == frozenset({"no_reason_return"}) for r in rows), "the table's when indexes every row"


def test_the_first_matching_row_decides_and_the_rows_after_it_are_skipped(tables: ruleengine.Policy) -> None:
    window = tables.parameters["window_days"].value
    decision = tables.evaluate(order(), explain=True).to_dict()
    assert decision["claim"]["outcome"] == "approved" and decision["fired"] == ["returns.approve"]
    visits = {entry["rule"]: entry["outcome"] for entry in decision["trace"]}
    assert visits["returns.early"] == "skipped"
    late = order(requested_at=f"2026-11-{11 + window + 1}T10:00:00+08:00")
    late_decision = tables.evaluate({**late, "as_of": "2026-11-30T10:00:00+08:00"}).to_dict()
    assert late_decision["claim"]["outcome"] == "rejected" and late_decision["fired"] == ["returns.late"]


def test_the_untraced_and_the_traced_decisions_are_the_same(tables: ruleengine.Policy) -> None:
    for facts in (order(), order(item_condition="damaged"), order(type="quality_issue")):
        plain = tables.evaluate(copy.deepcopy(facts)).to_dict()
        traced = tables.evaluate(copy.deepcopy(facts), explain=True).to_dict()
        del traced["trace"]
        assert plain == traced


# ---------------------------------------------------------------- explain


def test_explain_marks_the_row_that_decided(tables: ruleengine.Policy) -> None:
    decision = tables.evaluate(order(), explain=True).to_dict()
    entries = [e for group in explanation_data(decision["trace"], tables) for e in group["entries"]]
    decided = [e for e in entries if e.get("table", {}).get("decided")]
    assert [(e["rule"], e["table"]["row"], e["table"]["hit"]) for e in decided] == [("returns.approve", 4, "first")]
    text = explanation_text(decision["trace"], tables)
    assert "▶ 决策表 returns 第 4/5 行决定结果 / row 4/5 of table returns decides (hit: first)" in text
    assert text.count("▶") == 1


# ---------------------------------------------------------------- the catalogue


def test_the_catalogue_shows_a_table_as_a_grid(tables: ruleengine.Policy) -> None:
    text = markdown(tables)
    assert "### 决策表 table `returns` — 无理由退货 / no-reason returns" in text
    assert "命中策略 hit policy: **first**" in text and "完备 complete ✔" in text
    grid = [line for line in text.splitlines() if re.match(r"^\| \d+ `returns\.", line)]
    assert len(grid) == 5
    window = tables.parameters["window_days"].value
    assert grid[0].startswith(f"| 1 `returns.late` | > params.window_days ({window} days) | - | - | rejected | none |")
    assert "| [damaged, used] |" in grid[1]
    assert "### `returns.late`" not in text, "the rows are in the grid, not repeated as rules"


def test_the_catalogue_data_has_the_grid_and_each_row_knows_its_table(tables: ruleengine.Policy) -> None:
    guarantee = catalogue_data(tables)["guarantees"][0]
    (table,) = guarantee["tables"]
    assert table["hit"] == "first" and table["complete"] is True
    assert [c["name"] for c in table["inputs"]] == ["days", "amount", "condition"]
    assert table["outputs"] == ["claim.outcome", "claim.resolution", "reason"]
    assert table["rows"][3] == {
        "rule": "returns.approve",
        "row": 4,
        "cells": ["[0..params.window_days]", "-", "-"],
        "outputs": ["approved", "refund", "-"],
        "actions": [],
    }
    assert {r["id"]: r["table"] for r in guarantee["rules"]}["returns.big"] == {"id": "returns", "row": 3}


# ---------------------------------------------------------------- lint's analysis


def findings(folder: Path) -> list[ruleengine.Diagnostic]:
    return [d for d in lint(ruleengine.load_policy(folder)) if d.code.startswith("table_")]


def test_a_complete_table_has_nothing_to_say(tables: ruleengine.Policy) -> None:
    assert [d for d in lint(tables) if d.code.startswith("table_")] == []


def test_lint_names_overlapping_rows_of_a_unique_table_with_an_input_both_match(tmp_path: Path) -> None:
    (found,) = findings(write(tmp_path, quantity_table("unique", ["<= 3", "[3..5]", "> 5"])))
    assert (found.code, found.severity, found.line) == ("table_overlap", "warning", 12)
    assert "rows q.1 and q.2 of unique table q both match 数量 quantity = 3" in found.message


def test_lint_names_a_row_shadowed_by_earlier_rows_under_first(tmp_path: Path) -> None:
    found = findings(write(tmp_path, quantity_table("first", ["< 3", ">= 3", "[2..4]"])))
    assert [(d.code, d.line) for d in found] == [("table_row_shadowed", 13)]
    assert "every input it matches is matched first by row 1, 2" in found[0].message


def test_lint_names_a_row_no_input_matches(tmp_path: Path) -> None:
    found = findings(write(tmp_path, quantity_table("collect", ["-", "(3..4)"])))
    assert [(d.code, d.line) for d in found] == [("table_row_never_hit", 12)]


def test_lint_notes_a_gap_with_an_example_and_does_not_fail_on_it(tmp_path: Path) -> None:
    (found,) = findings(write(tmp_path, quantity_table("first", ["< 3", "> 3"])))
    assert (found.code, found.severity) == ("table_gap", "info")
    assert "no row of table q covers 数量 quantity = 3 (1 kinds of input in all)" in found.message


def test_a_gap_in_a_complete_table_is_a_load_error_at_complete(tmp_path: Path) -> None:
    with pytest.raises(ruleengine.PolicyError) as caught:
        ruleengine.load_policy(write(tmp_path, quantity_table("first", ["< 3", "> 3"], complete=True)))
    (error,) = caught.value.diagnostics
    assert (error.code, error.line, error.column) == ("table_gap", 8, 15)
    assert "no row covers 数量 quantity = 3" in error.message


def test_cells_the_analysis_cannot_read_are_said_and_refuse_complete(tmp_path: Path) -> None:
    table = quantity_table("first", ["< item.unit_price", "-"])
    (found,) = findings(write(tmp_path / "a", table))
    assert found.code == "table_not_analysed" and "quantity" in found.message
    with pytest.raises(ruleengine.PolicyError, match="table_not_analysable"):
        ruleengine.load_policy(write(tmp_path / "b", quantity_table("first", ["< item.unit_price", "-"], complete=True)))


def test_enum_columns_take_their_values_from_the_schema(tmp_path: Path) -> None:
    """Two of the claim's item conditions are covered: the gap names a third, from the policy's vocabulary."""
    table = """\
tables:
  - id: c
    title: {zh: 状况, en: condition}
    description: 按状况 / by condition
    stage: claim
    hit: first
    inputs:
      - {name: condition, expr: claim.item_condition}
    outputs: [claim.outcome]
    rows:
      - {when: [[intact, damaged]], then: [approved]}
"""
    folder = write(tmp_path, table)
    (found,) = findings(folder)
    codes = ruleengine.load_policy(folder).vocabulary.codes("item_condition")  # the order schema's set, from the vocabulary
    others = [v for v in codes if v not in ("intact", "damaged")]
    assert found.code == "table_gap" and f"condition = {others[0]}" in found.message
    assert f"({len(others)} kinds of input in all)" in found.message


# ---------------------------------------------------------------- the analysis agrees with evaluation

CELLS = st.one_of(
    st.just("-"),
    st.integers(1, 6).map(str),
    st.tuples(st.sampled_from(["<", "<=", ">", ">=", "!="]), st.integers(1, 6)).map(lambda p: f"{p[0]} {p[1]}"),
    st.tuples(st.sampled_from("[("), st.integers(1, 6), st.integers(1, 6), st.sampled_from("])")).map(
        lambda p: f"{p[0]}{min(p[1], p[2])}..{max(p[1], p[2])}{p[3]}"
    ),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(CELLS, min_size=1, max_size=4))
def test_the_analysis_finds_exactly_the_quantities_no_row_matches(rows: list[str], tmp_path_factory: pytest.TempPathFactory) -> None:
    """Gaps and never-hit rows, as lint reports them, against evaluating the table for quantities 1 to 8."""
    folder = write(tmp_path_factory.mktemp("q"), quantity_table("collect", rows))
    policy = ruleengine.load_policy(folder)
    facts = order()
    matched: dict[int, set[str]] = {}
    for quantity in range(1, 9):
        facts["items"][0]["quantity"] = quantity
        facts["claim"]["quantity"] = 1
        matched[quantity] = set(policy.evaluate(copy.deepcopy(facts)).to_dict()["fired"])
    found = findings(folder)
    gap = [d for d in found if d.code == "table_gap"]
    uncovered = [q for q, fired in matched.items() if not fired]
    if uncovered:
        assert gap, f"quantities {uncovered} match no row, and lint says nothing"
    never = {d.line - 10 for d in found if d.code == "table_row_never_hit"}
    hit = {int(rule_id.split(".")[1]) for fired in matched.values() for rule_id in fired}
    assert not never & hit, f"rows {rows}: a row lint says is never hit matched an order"
    if gap and "quantity = " in gap[0].message:
        value = gap[0].message.split("quantity = ")[1].split()[0].rstrip(",")
        if value.isdigit() and 1 <= int(value) <= 8:
            assert not matched[int(value)], f"lint's example quantity {value} matches a row"


def test_the_analysis_takes_an_enum_columns_values_from_the_tables_when(tmp_path: Path) -> None:
    """claim.type under a when that allows two types: two rows, one per type, are complete; a lone row leaves a gap."""
    table = """\
tables:
  - id: c
    title: {zh: 类型, en: types}
    description: 按类型 / by type
    stage: claim
    hit: first
    complete: true
    when: claim.type in ['no_reason_return', 'no_reason_exchange']
    inputs:
      - {name: type, expr: claim.type}
    outputs: [claim.outcome]
    rows:
      - {when: [no_reason_return], then: [approved]}
      - {when: [no_reason_exchange], then: [rejected]}
"""
    assert [r.id for r in ruleengine.load_policy(write(tmp_path / "a", table)).rules] == ["c.1", "c.2"]
    with pytest.raises(ruleengine.PolicyError, match="no row covers type = no_reason_exchange"):
        ruleengine.load_policy(write(tmp_path / "b", table.replace("      - {when: [no_reason_exchange], then: [rejected]}\n", "")))


def test_versions_of_a_row_are_analysed_apart(tmp_path: Path) -> None:
    """Two versions of one row match the same inputs, but are never in effect together: not a shadowed row."""
    table = quantity_table("first", ["-", "-"]).replace(
        '      - {when: ["-"], actions: [{add_service: authenticity}]}\n',
        "",
    )
    rows = """\
      - {id: v, effective: {until: "2026-01-01T00:00:00+08:00"}, when: ["-"], actions: [{add_service: authenticity}]}
      - {id: v, effective: {from: "2026-01-01T00:00:00+08:00"}, when: ["-"], actions: [{add_service: seven_day_return}]}
"""
    assert findings(write(tmp_path, table + rows)) == []
