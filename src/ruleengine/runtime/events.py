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
        self.owns_values = False
        """True when no listener sees the events: a node's ``values`` (a fresh dict per visit) is then made plain in
        place and kept, instead of copied (``reporters`` sets it)."""

    def __call__(self, event: Event) -> None:
        """The builder as a listener of events."""
        if isinstance(event, RuleVisited):
            self.visited(event.rule, event.line, event.outcome, event.reason, event.conditions)
        else:
            self.applied(event.rule, event.line, event.action, event.value, event.status, event.note)

    def visited(
        self, rule: Rule, line: str | None, outcome: str, reason: str = "", conditions: tuple[NodeResult, ...] = ()
    ) -> None:
        """A ``RuleVisited`` event's fields, without the event: what the traced code calls when only a trace is built."""
        entry: dict[str, Any] = {"rule": rule.id, "matched": outcome == "matched"}
        if line is not None:
            entry["line"] = line
        if rule.versions > 1:
            entry["version"] = rule.version
        entry["outcome"] = outcome
        if reason:
            entry["reason"] = reason
        if conditions:
            # One loop over the nodes (the trace's inner loop: a few hundred an order): each node's place and
            # words, its result and the values it read; for a rule that did not match, the node that decided it:
            # the first leaf that was not true, else the first leaf.
            shown: list[dict[str, Any]] = []
            failing = first_leaf = None
            find = outcome != "matched"
            in_place = self.owns_values
            for index, result in enumerate(conditions):
                node = result.node
                out = node.trace_head.copy()
                value = result.result
                out["result"] = "not_met" if value is None else value
                values = result.values
                if values:
                    _plain_values(out, values, in_place)
                shown.append(out)
                if find and failing is None and isinstance(node, Leaf):
                    if value is not True:
                        failing = index
                    elif first_leaf is None:
                        first_leaf = index
            entry["conditions"] = shown
            decisive = failing if failing is not None else first_leaf
            if find and decisive is not None:  # the same node again, as a copy: shown twice, held once each
                entry["failed"] = _copied(shown[decisive])
        entry["actions"] = []
        self.entries.append(entry)
        self._current[(rule.id, line)] = entry

    def applied(self, rule: Rule, line: str | None, action: Action, value: Any, status: str = "applied", note: str = "") -> None:
        """An ``ActionApplied`` event's fields, without the event."""
        entry = self._current.get((rule.id, line), {})
        record: dict[str, Any] = {"action": action.kind}
        if action.target:
            record["target"] = action.target
        if value is not None:
            record["value"] = plain(value)
        if status != "applied":
            record["status"] = status
        if note:
            record["note"] = note
        entry.setdefault("actions", []).append(record)


Reporters = tuple[Callable[..., None], Callable[..., None]]
"""What traced code calls at each rule visit and each action, with the fields of a ``RuleVisited`` / ``ActionApplied``."""


def reporters(trace: TraceBuilder | None, listeners: list[Listener]) -> Reporters:
    """The reporters for a trace and listeners: events are built only when some listener receives them."""
    if not listeners:
        assert trace is not None
        trace.owns_values = True
        return trace.visited, trace.applied

    def visit(rule: Rule, line: str | None, outcome: str, reason: str = "", conditions: tuple[NodeResult, ...] = ()) -> None:
        event = RuleVisited(rule, line, outcome, reason, conditions)
        if trace is not None:
            trace(event)
        for listener in listeners:
            listener(event)

    def apply(rule: Rule, line: str | None, action: Action, value: Any, status: str = "applied", note: str = "") -> None:
        event = ActionApplied(rule, line, action, value, status, note)
        if trace is not None:
            trace(event)
        for listener in listeners:
            listener(event)

    return visit, apply


def _plain_values(out: dict[str, Any], values: dict[str, Any], in_place: bool) -> None:
    """``out["values"]``: the values a node read as plain data, and ``out["absent"]``: those not in the order.

    ``in_place``: ``values`` is the trace's own (no listener holds it), so it is changed and kept, not copied.
    """
    shown = values if in_place else {}
    absent: list[str] | None = None
    for key, read in values.items():
        if type(read) in _PLAIN:
            if not in_place:
                shown[key] = read
        elif read is ABSENT_VALUE:
            shown[key] = None  # an existing key: the dict's size does not change while it is walked
            if absent is None:
                absent = [key]
            else:
                absent.append(key)
        else:
            shown[key] = plain(read)
    out["values"] = shown
    if absent is not None:
        out["absent"] = absent


def _copied(node: dict[str, Any]) -> dict[str, Any]:
    out = node.copy()
    if "values" in node:
        out["values"] = node["values"].copy()
    if "absent" in node:
        out["absent"] = list(node["absent"])
    return out
