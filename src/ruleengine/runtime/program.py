"""The fast path: a policy's rules written out as Python code, one function per kind of claim, built once.

With no listener, nothing has to be reported about a rule that does not match, so
the rules can run as straight-line code instead of a loop that interprets them.
At the first order of each kind — no claim, a claim of one type, a claim of a type
no rule names — ``programwriter`` writes the rule versions that can apply to it
(rules whose index, ``Rule.claim_types``, requires another type are left out);
with a listener or to explain, its traced variant (explaining without a listener, the shown form
of it, which writes the trace itself). ``CompiledPolicy`` holds those
functions, builds each once (under a lock: a policy is shared between threads),
and runs one for prepared facts. ``tests/test_paths_agree.py`` holds the plain and
the traced functions to the same decisions and errors.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from ..allocation import collections_paused
from ..lang.codegen import BUDGET_KEY
from .decision import Decision, PendingText
from .evaluation import Budget, output, start
from .events import Reporters
from .programwriter import UNNAMED, Decide, Unfused, Writer, reads_reasons

if TYPE_CHECKING:
    from .facts import Prepared
    from .policy import Policy


class CompiledPolicy:
    """The fast path of one policy; safe to share between threads (a function is built once per claim type)."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        typed: set[str] = set()
        for rule in policy.rules:
            typed |= rule.claim_types or set()
        self.typed = frozenset(typed)
        """Claim types some rule requires; any other type (or none) runs the rules that require none."""
        self.functions: dict[str | None, Decide] = {}
        self.traced: dict[str | None, Decide] = {}
        self.exact: dict[str | None, Decide] = {}
        """Functions without fused loops, built when a fused loop fails (``Unfused``): they report the failure exactly."""
        self.shown: dict[str | None, Decide] = {}
        """Traced functions that record each condition node as the trace shows it (``events.Reporters.shown``)."""
        self.lock = threading.Lock()
        self.max_steps = policy.limits.max_evaluation_steps
        self.max_seconds = policy.limits.max_evaluation_seconds
        self.reasons_read = reads_reasons(policy.rules)
        """Some rule reads the reasons so far: their texts are written as the rules run, not when the decision is read."""

    def decide(self, prepared: Prepared) -> Decision:
        """The decision for prepared facts; its reasons' texts are written when it is first read (``PendingText``)."""
        texts: list[PendingText] = []
        return Decision(self.run(prepared, None, texts), texts)

    def trace(self, prepared: Prepared, reporters: Reporters) -> dict[str, Any]:
        """The decision data for prepared facts, every rule visit and action reported as it happens (``events.reporters``)."""
        return self.run(prepared, reporters, None)

    def run(self, prepared: Prepared, reporters: Reporters | None, texts: list[PendingText] | None) -> dict[str, Any]:
        facts = prepared.facts
        claim = facts.get("claim")
        key = None if claim is None else claim["type"] if claim["type"] in self.typed else UNNAMED
        if reporters is not None:
            shown = reporters.shown
            function = (self.shown if shown else self.traced).get(key) or self.build(key, traced=True, shown=shown)
            return self.call(function, prepared, reporters, texts)
        try:
            return self.call(self.functions.get(key) or self.build(key), prepared, None, texts)
        except Unfused:  # a rule failed in a fused loop: decided again rule by rule, which reports the failure as it is
            if texts is not None:
                texts.clear()
            return self.call(self.exact.get(key) or self.build(key, fused=False), prepared, None, texts)

    def call(self, run: Decide, prepared: Prepared, reporters: Reporters | None, texts: list[PendingText] | None) -> dict[str, Any]:
        """Run one function over prepared facts, with a fresh decision, budget and bookkeeping; the decision data."""
        policy = self.policy
        facts = prepared.facts
        claim = facts.get("claim")
        paid_at, placed_at, as_of = facts["paid_at"], facts["placed_at"], facts["as_of"]
        requested_at = claim["requested_at"] if claim is not None else None
        services, decision = start(policy, facts)
        budget = Budget(self.max_steps, self.max_seconds)
        decision[BUDGET_KEY] = budget
        fired: dict[str, None] = {}
        items = facts["items"]
        claimed = prepared.claimed
        compensations, violations = decision["compensations"], decision["violations"]
        line = claimed["sku"] if claimed is not None else None
        writers: dict[str, Any] = {}
        stopped: dict[Any, str] = {}
        arguments = [
            facts,
            decision,
            items,
            len(items),
            claimed,
            line,
            decision.get("claim"),
            services,
            compensations,
            violations,
            fired,
            writers,
            stopped,
            budget,
            paid_at,
            placed_at,
            as_of,
            requested_at,
            texts,
        ]
        if reporters is not None:
            arguments += (reporters.visit, reporters.apply)
        run(*arguments)
        return output(policy, prepared.raw, services, decision, fired)

    def build_all(self, traced: bool = False, shown: bool = False) -> None:
        """Every function now: no claim, each claim type a rule names, and the other types."""
        for key in (None, *sorted(self.typed), UNNAMED):
            self.build(key, traced, shown)

    def build(self, key: str | None, traced: bool = False, shown: bool = False, fused: bool = True) -> Decide:
        """The function for orders without a claim (None), with a claim of one type, or of a type no rule names.

        The traced function visits every rule: those the fast one leaves out are reported as skipped, or,
        when the rule index rules them out, as not matched on the condition that excludes the claim type.
        """
        functions = self.shown if shown else self.traced if traced else self.functions if fused else self.exact
        traced = traced or shown
        with self.lock:
            run = functions.get(key)
            if run is None:
                active = [r for r in self.policy.rules if r.claim_types is None or key in r.claim_types]
                if key is None:  # no claim: rules on the claimed line, or versioned by the claim, never run
                    active = [r for r in active if r.scope != "claimed_line" and r.effective_on != "claim.requested_at"]
                writer = Writer(self.policy, key, traced, shown, deferred_texts=not self.reasons_read, fused=fused)
                label = "none" if key is None else "of another type" if key == UNNAMED else repr(key)
                rules = list(self.policy.rules) if traced else active
                with collections_paused():
                    run = functions[key] = writer.function(rules, {id(r) for r in active}, f"policy {self.policy.name!r}, claim {label}")
            return run
