"""The evaluation event stream: one source for traces, explanations, coverage and logs.

The evaluator emits an event for every rule visit and every action; readers
(the trace builder here, coverage and decision logs elsewhere) subscribe with a
listener instead of instrumenting the evaluator again. With no listener and no
trace, no event is built at all: the fast path stays fast. Explaining without a
listener, none is built either: the traced code writes the trace's entries and
nodes itself and hands them to the builder (``Reporters.shown``), which adds only
what depends on the whole visit — the node that decided it, its actions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from ..model.conditions import ABSENT_VALUE, SCALARS, NodeResult
from ..model.conditions import plain as plain

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


class TraceBuilder:
    """Builds the decision's ``trace``: every rule visit, matched or not, with what decided it."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def __call__(self, event: Event) -> None:
        """The builder as a listener of events."""
        if isinstance(event, RuleVisited):
            self.visited(event.rule, event.line, event.outcome, event.reason, event.conditions)
        else:
            self.applied(event.rule, event.line, event.action, event.value, event.status, event.note)

    def visited(
        self, rule: Rule, line: str | None, outcome: str, reason: str = "", conditions: tuple[NodeResult, ...] = ()
    ) -> None:
        """A ``RuleVisited`` event's fields: the trace's entry, its nodes made from the records (copies: a listener holds them)."""
        entry: dict[str, Any] = {"rule": rule.id, "matched": outcome == "matched"}
        if line is not None:
            entry["line"] = line
        if rule.versions > 1:
            entry["version"] = rule.version
        entry["outcome"] = outcome
        if reason:
            entry["reason"] = reason
        if conditions:
            entry["conditions"] = [_shown_node(result) for result in conditions]
        self.add(entry)

    def add(self, entry: dict[str, Any]) -> None:
        """A rule visit's entry up to its conditions, as ``visited`` writes it (and the traced code that writes it
        itself, without a listener: ``programwriter``): then the node that decided a rule that did not match, and its actions."""
        conditions = entry.get("conditions")
        if conditions and entry["outcome"] != "matched":
            # The first leaf (a node with an expression) that was not true, else the first leaf.
            decisive = None
            for node in conditions:
                if "expr" in node:
                    if node["result"] is not True:
                        decisive = node
                        break
                    if decisive is None:
                        decisive = node
            if decisive is not None:  # the node itself: the document is read through copies (``Decision``)
                entry["failed"] = decisive
        entry["actions"] = []
        self.entries.append(entry)

    def applied(self, rule: Rule, line: str | None, action: Action, value: Any, status: str = "applied", note: str = "") -> None:
        """An ``ActionApplied`` event's fields, without the event."""
        entries = self.entries
        entry = entries[-1] if entries else {}
        if entry.get("rule") != rule.id or entry.get("line") != line:  # the traced code reports an action right after its visit
            entry = next((e for e in reversed(entries) if e["rule"] == rule.id and e.get("line") == line), {})
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


class Reporters(NamedTuple):
    """What traced code calls at each rule visit and each action, with the fields of a ``RuleVisited`` / ``ActionApplied``."""

    visit: Callable[..., None]
    apply: Callable[..., None]
    shown: bool = False
    """The code writes each visit's entry and its condition nodes as the trace shows them (``visit`` is
    ``TraceBuilder.add``), instead of reporting a ``RuleVisited``'s fields with ``NodeResult`` records: only when
    no listener would receive them."""


def reporters(trace: TraceBuilder | None, listeners: list[Listener]) -> Reporters:
    """The reporters for a trace and listeners: events are built only when some listener receives them."""
    if not listeners:
        assert trace is not None
        return Reporters(trace.add, trace.applied, shown=True)

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

    return Reporters(visit, apply)


def _shown_node(result: NodeResult) -> dict[str, Any]:
    """A condition node as the trace shows it: where it is, its words, its result and the values it read, as plain data."""
    out = result.node.trace_head.copy()
    value = result.result
    out["result"] = "not_met" if value is None else value
    values = result.values
    if values:
        shown: dict[str, Any] = {}
        absent: list[str] | None = None
        for key, read in values.items():
            if type(read) in SCALARS:
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
