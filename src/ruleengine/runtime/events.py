"""The evaluation event stream: one source for traces, explanations, coverage and logs.

The evaluator emits an event for every rule visit and every action; readers
(the trace builder here, coverage and decision logs elsewhere) subscribe with a
listener instead of instrumenting the evaluator again. With no listener and no
trace, no event is built at all: the fast path stays fast.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..model.conditions import ABSENT_VALUE, Leaf, NodeResult

if TYPE_CHECKING:
    from ..model.rules import Action, Rule


@dataclass(frozen=True)
class RuleVisited:
    """A rule (one version) was considered for the order or one line."""

    rule: Rule
    line: str | None
    outcome: str
    """matched | not_matched | not_met (read an absent fact) | skipped"""
    reason: str = ""
    """Why it was skipped: not in effect, no claim, stopped by another rule."""
    conditions: tuple[NodeResult, ...] = ()


@dataclass(frozen=True)
class ActionApplied:
    rule: Rule
    line: str | None
    action: Action
    value: Any
    status: str = "applied"
    """applied | overridden (a higher-priority rule already set the field) | refined (a later stage changed it)"""
    note: str = ""


Event = RuleVisited | ActionApplied
Listener = Callable[[Event], None]


_PLAIN = frozenset({str, int, Decimal, bool, type(None)})


def plain(value: Any) -> Any:
    """A value as plain JSON data (Decimal stays Decimal, times become RFC 3339 text)."""
    if type(value) in _PLAIN:
        return value
    if value is ABSENT_VALUE:
        return None
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        seconds = int(value.total_seconds())
        return f"P{seconds // 86400}D" if seconds % 86400 == 0 else f"PT{seconds // 3600}H" if seconds % 3600 == 0 else f"PT{seconds}S"
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, frozenset):
        return sorted(plain(v) for v in value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (bool, int, str, Decimal)) or value is None:
        return value
    return str(value)


class TraceBuilder:
    """Builds the decision's ``trace``: every rule visit, matched or not, with what decided it."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []
        self._current: dict[tuple[str, str | None], dict[str, Any]] = {}

    def __call__(self, event: Event) -> None:
        if isinstance(event, RuleVisited):
            rule = event.rule
            outcome = event.outcome
            entry: dict[str, Any] = {"rule": rule.id, "matched": outcome == "matched"}
            if event.line is not None:
                entry["line"] = event.line
            if rule.versions > 1:
                entry["version"] = rule.version
            entry["outcome"] = outcome
            if event.reason:
                entry["reason"] = event.reason
            conditions = event.conditions
            if conditions:
                shown = [_node(r) for r in conditions]
                entry["conditions"] = shown
                if outcome != "matched":
                    failing = _decisive_index(conditions)
                    if failing is not None:  # the same node again, as a copy: shown twice, held once each
                        entry["failed"] = _copied(shown[failing])
            entry["actions"] = []
            self.entries.append(entry)
            self._current[(rule.id, event.line)] = entry
        else:
            entry = self._current.get((event.rule.id, event.line), {})
            action = event.action
            record: dict[str, Any] = {"action": action.kind}
            if action.target:
                record["target"] = action.target
            if event.value is not None:
                record["value"] = plain(event.value)
            if event.status != "applied":
                record["status"] = event.status
            if event.note:
                record["note"] = event.note
            entry.setdefault("actions", []).append(record)


def _node(result: NodeResult) -> dict[str, Any]:
    """One condition node in a trace: where it is and what it says, its result, the values it read (absent ones named).

    Written as one loop over the values (the trace's inner loop: a few hundred nodes an order).
    """
    out = result.node.trace_head.copy()
    value = result.result
    out["result"] = "not_met" if value is None else value
    values = result.values
    if values:
        shown: dict[str, Any] = {}
        absent: list[str] | None = None
        for key, read in values.items():
            if type(read) in _PLAIN:
                shown[key] = read
            elif read is ABSENT_VALUE:
                shown[key] = None
                if absent is None:
                    absent = [key]
                else:
                    absent.append(key)
            else:
                shown[key] = plain(read)
        out["values"] = shown
        if absent is not None:
            out["absent"] = absent
    return out


def _copied(node: dict[str, Any]) -> dict[str, Any]:
    out = node.copy()
    if "values" in node:
        out["values"] = node["values"].copy()
    if "absent" in node:
        out["absent"] = list(node["absent"])
    return out


def _decisive_index(results: tuple[NodeResult, ...]) -> int | None:
    """Where ``decisive_failure`` finds the node that decided a failed condition, by position."""
    first_leaf = None
    for index, r in enumerate(results):
        if isinstance(r.node, Leaf):
            if r.result is not True:
                return index
            if first_leaf is None:
                first_leaf = index
    return first_leaf


def decisive_failure(results: tuple[NodeResult, ...] | list[NodeResult]) -> NodeResult | None:
    """The leaf that decided a failed condition: the first leaf that was false or not met
    on the path that made the whole tree fail."""
    for r in results:
        if isinstance(r.node, Leaf) and r.result is not True:
            # Inside a `not`, a true leaf is what fails; keep it simple: report the
            # first non-true leaf, else the first leaf.
            return r
    leaves = [r for r in results if isinstance(r.node, Leaf)]
    return leaves[0] if leaves else None
