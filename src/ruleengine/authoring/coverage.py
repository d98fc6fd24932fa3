"""Policy coverage: which rules fired, which condition branches were seen, which parameters were read.

Coverage is one more reader of the evaluation event stream (like the trace
and, later, decision logs): pass a :class:`Coverage` as the ``listener`` of
``Policy.evaluate`` for every case, then ask for the report.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ..lang.templates import Placeholder
from ..model.conditions import Group, Leaf, nodes
from ..model.rules import Rule
from ..runtime.events import ActionApplied, Event, RuleVisited
from ..runtime.policy import Policy


@dataclass
class CoverageReport:
    rules_total: int
    rules_fired: list[str]
    rules_not_fired: list[str]
    branches_total: int
    branches_seen: int
    branches_missing: list[tuple[str, str, str]]
    """(rule id with version, condition pointer and label, the outcome never seen: true/false)."""
    parameters_used: list[str]
    parameters_unused: list[str]

    @property
    def rule_percent(self) -> float:
        return 100.0 * len(self.rules_fired) / self.rules_total if self.rules_total else 100.0

    @property
    def branch_percent(self) -> float:
        return 100.0 * self.branches_seen / self.branches_total if self.branches_total else 100.0

    def summary(self) -> str:
        used, total = len(self.parameters_used), len(self.parameters_used) + len(self.parameters_unused)
        return (
            f"coverage: rules {len(self.rules_fired)}/{self.rules_total} ({self.rule_percent:.1f}%), "
            f"condition branches {self.branches_seen}/{self.branches_total} ({self.branch_percent:.1f}%), "
            f"parameters {used}/{total} used"
        )

    def text(self) -> str:
        lines = [self.summary()]
        if self.rules_not_fired:
            lines.append("rules never fired:")
            lines += [f"  {r}" for r in self.rules_not_fired]
        if self.branches_missing:
            lines.append("condition branches never seen:")
            lines += [f"  {rule} {where}: never {outcome}" for rule, where, outcome in self.branches_missing]
        if self.parameters_unused:
            lines.append("parameters never read:")
            lines += [f"  {p}" for p in self.parameters_unused]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rules": {
                "total": self.rules_total,
                "fired": self.rules_fired,
                "not_fired": self.rules_not_fired,
                "percent": round(self.rule_percent, 2),
            },
            "branches": {
                "total": self.branches_total,
                "seen": self.branches_seen,
                "percent": round(self.branch_percent, 2),
                "missing": [{"rule": r, "at": w, "never": o} for r, w, o in self.branches_missing],
            },
            "parameters": {"used": self.parameters_used, "unused": self.parameters_unused},
        }


@dataclass
class Coverage:
    """An evaluation listener that accumulates coverage over many evaluations (one thread)."""

    policy: Policy
    fired: Counter[str] = field(default_factory=Counter)
    outcomes: dict[tuple[str, int, str], set[bool]] = field(default_factory=dict)
    parameters: Counter[str] = field(default_factory=Counter)

    def __call__(self, event: Event) -> None:
        if isinstance(event, RuleVisited):
            for result in event.conditions:
                key = (event.rule.id, event.rule.version, result.node.pointer)
                if result.result is not None:
                    self.outcomes.setdefault(key, set()).add(result.result)
                if isinstance(result.node, Leaf):
                    self.parameters.update(result.node.compiled.params_used)
        elif isinstance(event, ActionApplied):
            self.fired[event.rule.id] += 1
            action = event.action
            if action.value is not None and action.value.compiled is not None:
                self.parameters.update(action.value.compiled.params_used)
            if action.message is not None:
                for parts in action.message:
                    for part in parts:
                        if isinstance(part, Placeholder):
                            self.parameters.update(part.compiled.params_used)

    def report(self) -> CoverageReport:
        ids = self.policy.rule_ids()
        fired = [r for r in ids if self.fired[r]]
        missing: list[tuple[str, str, str]] = []
        total = seen = 0
        for rule in self.policy.rules:
            for node in nodes(rule.when):
                outcomes = self.outcomes.get((rule.id, rule.version, node.pointer), set())
                total += 2
                seen += len(outcomes)
                for wanted in (True, False):
                    if wanted not in outcomes:
                        missing.append((_name(rule), _where(node), "true" if wanted else "false"))
        used = [p for p in self.policy.parameters if self.parameters[p]]
        return CoverageReport(
            rules_total=len(ids),
            rules_fired=fired,
            rules_not_fired=[r for r in ids if not self.fired[r]],
            branches_total=total,
            branches_seen=seen,
            branches_missing=missing,
            parameters_used=used,
            parameters_unused=[p for p in self.policy.parameters if not self.parameters[p]],
        )


def _name(rule: Rule) -> str:
    return f"{rule.id} (version {rule.version})" if rule.versions > 1 else rule.id


def _where(node: Leaf | Group) -> str:
    label = f" «{node.label}»" if node.label else ""
    return f"{node.pointer}{label}"
