"""Evaluating a policy over prepared facts: deterministic, pure, all or nothing.

Rules run by stage (the manifest's order), then priority (higher first), then
file order. Each rule sees the facts and the decision so far (``decision.…``),
so later rules chain on earlier ones. Actions write into a fresh decision;
the caller gets it only if every rule succeeded — a failing rule is an
EvaluationError naming the rule and its expression, never a partial decision.

Two paths decide alike (``tests/test_paths_agree.py``): without a listener the
policy's compiled rules run (``fastpath``: straight-line code, no events); with
one, or to explain, ``_Run`` below visits every rule version and reports each
step. The helpers here (the decision's start and output, field checks, error
reports) are shared by both.
"""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from . import valuetypes as t
from .conditions import NodeResult, leaves, walk
from .decision import Decision
from .errors import EvaluationError
from .events import ActionApplied, Event, Listener, RuleVisited, TraceBuilder, plain
from .expressions import BUDGET_KEY
from .facts import Prepared
from .functions import BudgetExceeded, round_money
from .schemas import load_schema
from .templates import render
from .text import shorten

if TYPE_CHECKING:
    from .policy import Action, Policy, Rule

ZERO = Decimal("0.00")
_ORDER: list[Any] = [None]
"""The single binding of an order-scope rule."""


def evaluate(policy: Policy, prepared: Prepared, *, explain: bool = False, listener: Listener | None = None) -> Decision:
    if not explain and listener is None:
        return Decision(policy.compiled.decide(prepared))
    trace = TraceBuilder() if explain else None
    listeners = [x for x in (trace, listener) if x is not None]
    run = _Run(policy, prepared, _fan_out(listeners))
    run.execute()
    data = output(policy, prepared.raw, run.services, run.decision, run.fired)
    if trace is not None:
        data["trace"] = trace.entries
    return Decision(data)


def start(policy: Policy, facts: dict[str, Any]) -> tuple[dict[str, list[str]], dict[str, Any]]:
    """The services per line and the decision-so-far before any rule ran: a claim starts in review."""
    services: dict[str, list[str]] = {}
    for item in facts["items"]:  # a loop, not a comprehension: half the time for an order's few lines
        services[item["sku"]] = []
    decision: dict[str, Any] = {"services": services, "compensations": [], "violations": []}
    claim = facts.get("claim")
    if claim is not None:
        decision["claim"] = {
            "id": claim["id"],
            "type": claim["type"],
            "outcome": "needs_review",
            "resolution": "none",
            "refund_amount": ZERO,
            "compensation_amount": ZERO,
            "refund_timing": "none",
            "refund_channel": facts["payment"]["method"],
            "return_shipping_payer": "none",
            "deductions": [],
            "reasons": [],
        }
    return services, decision


_STARTED_CLAIM = 11
"""The fields start() gives a claim, in the order the decision document lists them."""


def output(
    policy: Policy, raw: dict[str, Any], services: dict[str, list[str]], decision: dict[str, Any], fired: dict[str, None]
) -> dict[str, Any]:
    """The decision document; takes over the evaluation's lists, which nothing else holds once it ends.

    Money in the claim is already rounded to the cent: ``checked`` rounds every amount a rule sets.
    """
    out: dict[str, Any] = {
        "order_id": raw["order_id"],
        "policy": {"name": policy.name, "version": policy.version, "digest": policy.digest},
        "as_of": raw["as_of"],
        "services": services,
    }
    claim = decision.get("claim")
    if claim is not None and len(claim) == _STARTED_CLAIM:  # no field beyond start()'s: already in order
        out["claim"] = claim.copy()
    elif claim is not None:
        written = {
            "id": claim["id"],
            "type": claim["type"],
            "outcome": claim["outcome"],
            "resolution": claim["resolution"],
            "refund_amount": claim["refund_amount"],
            "compensation_amount": claim["compensation_amount"],
            "refund_timing": claim["refund_timing"],
        }
        if "refund_due_by" in claim:
            written["refund_due_by"] = claim["refund_due_by"].astimezone(policy.zone).isoformat()
        written["refund_channel"] = claim["refund_channel"]
        written["return_shipping_payer"] = claim["return_shipping_payer"]
        written["deductions"] = claim["deductions"]
        written["reasons"] = claim["reasons"]
        out["claim"] = written
    out["compensations"] = decision["compensations"]
    out["violations"] = decision["violations"]
    out["fired"] = list(fired)
    return out


class Budget:
    """The steps and CPU time one evaluation may use; rule visits and generator iterations both count."""

    __slots__ = ("deadline", "max_seconds", "max_steps", "steps")

    def __init__(self, max_steps: int, max_seconds: float) -> None:
        self.steps = 0
        self.max_steps = max_steps
        self.max_seconds = max_seconds
        self.deadline = time.thread_time() + max_seconds

    def __call__(self, steps: int) -> None:
        self.steps += steps
        if self.steps > self.max_steps:
            raise BudgetExceeded(f"evaluation exceeded {self.max_steps} steps")
        if time.thread_time() > self.deadline:
            raise BudgetExceeded(f"evaluation exceeded {self.max_seconds} s")


def _fan_out(listeners: list[Listener]) -> Listener:
    if len(listeners) == 1:
        return listeners[0]

    def emit(event: Event) -> None:
        for listener in listeners:
            listener(event)

    return emit


class _Run:
    """The explaining path: visits every rule version and emits an event for each step; never shared between threads."""

    def __init__(self, policy: Policy, prepared: Prepared, emit: Listener) -> None:
        self.policy = policy
        self.facts = prepared.facts
        self.claimed = prepared.claimed
        self.emit = emit
        self.services, self.decision = start(policy, self.facts)
        self.fired: dict[str, None] = {}
        self.writers: dict[str, tuple[Rule, Any]] = {}
        self.stopped: dict[tuple[str, str | None], str] = {}
        self.budget = Budget(policy.limits.max_evaluation_steps, policy.limits.max_evaluation_seconds)
        # Expressions reach the budget through the decision; the budget holds no reference back, so an
        # evaluation leaves no reference cycle behind for the garbage collector.
        self.decision[BUDGET_KEY] = self.budget

    def execute(self) -> None:
        facts = self.facts
        decision = self.decision
        emit = self.emit
        instants = instants_of(facts)
        items = facts["items"]
        claimed = [self.claimed] if self.claimed is not None else None
        max_steps = self.policy.limits.max_evaluation_steps
        budget = self.budget
        for rule in self.policy.rules:
            instant = instants[rule.effective_on]
            if instant is None or not rule.in_effect(instant):
                emit(RuleVisited(rule, None, "skipped", self._not_in_effect(rule, instant)))
                continue
            if rule.scope == "order":
                bindings: list[Any] = _ORDER
            elif rule.scope == "line":
                bindings = items
            elif claimed is not None:
                bindings = claimed
            else:
                emit(RuleVisited(rule, None, "skipped", "no claim in the order"))
                continue
            for item in bindings:
                budget.steps += 1
                if budget.steps > max_steps or budget.steps & 63 == 0:
                    charge(budget, rule, 0)
                line = item["sku"] if item is not None else None
                if rule.group:
                    stopper = self.stopped.get((rule.group, line)) or self.stopped.get((rule.group, None))
                    if stopper is not None:
                        emit(RuleVisited(rule, line, "skipped", f"group '{rule.group}' stopped by {stopper}"))
                        continue
                records: list[NodeResult] = []
                try:
                    result = walk(rule.when, facts, item, decision, records)
                except Exception as exc:
                    raise locate_failure(rule, item, exc, facts, decision) from None
                outcome = "matched" if result is True else "not_met" if result is None else "not_matched"
                emit(RuleVisited(rule, line, outcome, "", tuple(records)))
                actions = rule.then if result is True else rule.otherwise
                if actions:
                    self.fired.setdefault(rule.id, None)
                    for action in actions:
                        self._apply(rule, action, item, line)

    def _not_in_effect(self, rule: Rule, instant: dt.datetime | None) -> str:
        if instant is None:
            return f"no {rule.effective_on} to choose a version by"
        start = rule.effective_from.isoformat() if rule.effective_from else "…"
        end = rule.effective_until.isoformat() if rule.effective_until else "…"
        which = f"version {rule.version} of {rule.versions}" if rule.versions > 1 else "the rule"
        return f"{which} is in effect for {rule.effective_on} in [{start}, {end}); the order's is {instant.isoformat()}"

    # -- actions
    def _apply(self, rule: Rule, action: Action, item: Any, line: str | None) -> None:
        kind = action.kind
        try:
            value = action.value(self.facts, item, self.decision) if action.value is not None else None
            if kind == "add_service":
                assert line is not None
                services = self.services[line]
                if action.target not in services:
                    services.append(action.target)
            elif kind == "set":
                self._set(rule, action, value, line)
                return
            elif kind == "compensation":
                amount = money(rule, action, value)
                self.decision["compensations"].append(
                    {"type": action.target, "amount": amount, "form": action.form, "payer": action.payer, "rule": rule.id}
                )
                value = amount
            elif kind == "violation":
                self.decision["violations"].append({"type": action.target, "rule": rule.id})
            elif kind == "deduction":
                amount = money(rule, action, value)
                claim_of(rule, action, self.decision)["deductions"].append({"type": action.target, "amount": amount})
                value = amount
            elif kind == "reason":
                value = reason(self.policy, rule, action, self.facts, item, self.decision)
            elif kind == "stop":
                self.stopped[(rule.group, line)] = rule.id
        except EvaluationError:
            raise
        except Exception as exc:
            raise action_failure(rule, action, exc) from None
        self.emit(ActionApplied(rule, line, action, value))

    def _set(self, rule: Rule, action: Action, value: Any, line: str | None) -> None:
        name = action.target
        claim = claim_of(rule, action, self.decision)
        value = checked(rule, action, value, field_type(self.policy, name))
        status, note = "applied", ""
        previous = self.writers.get(name)
        if previous is not None:
            prev_rule, prev_value = previous
            if prev_rule.stage_index == rule.stage_index:
                if prev_rule is not rule and prev_rule.priority > rule.priority:
                    self.emit(
                        ActionApplied(
                            rule,
                            line,
                            action,
                            value,
                            "overridden",
                            f"{prev_rule.id} (priority {prev_rule.priority}) already set {plain(prev_value)}",
                        )
                    )
                    return
                if prev_value != value:
                    raise conflict(rule, action, value, prev_rule, prev_value)
            elif prev_value != value:
                status, note = "refined", f"was {plain(prev_value)} from {prev_rule.id} (stage {prev_rule.stage})"
        self.writers[name] = (rule, value)
        claim[name.removeprefix("claim.")] = value
        self.emit(ActionApplied(rule, line, action, value, status, note))


# ---------------------------------------------------------------- shared by both paths


def instants_of(facts: dict[str, Any]) -> dict[str, dt.datetime | None]:
    """The instants a rule version can be chosen by (``effective.on``)."""
    claim = facts.get("claim")
    return {
        "paid_at": facts["paid_at"],
        "placed_at": facts["placed_at"],
        "as_of": facts["as_of"],
        "claim.requested_at": claim["requested_at"] if claim is not None else None,
    }


def charge(budget: Budget, rule: Rule, steps: int) -> None:
    """Charge rule visits to the budget and check it; a spent budget is an error of the rule about to run."""
    try:
        budget(steps)
    except BudgetExceeded as exc:
        raise EvaluationError(rule.id, str(exc), *_loc(rule), code="budget") from None


def locate_failure(rule: Rule, item: Any, exc: Exception, facts: Any, decision: Any) -> EvaluationError:
    """Find the leaf of the condition that failed (the compiled condition does not know) and report it."""
    for leaf in leaves(rule.when):
        try:
            leaf.fn(facts, item, decision)
        except KeyError:
            continue
        except Exception as inner:
            file, line, column = leaf.location
            code = "budget" if isinstance(inner, BudgetExceeded) else "evaluation"
            return EvaluationError(rule.id, f"{_describe(inner)} in '{shorten(leaf.text, 80)}'", file, line, column, code=code)
    return EvaluationError(rule.id, _describe(exc), *_loc(rule), code="budget" if isinstance(exc, BudgetExceeded) else "evaluation")


def action_failure(rule: Rule, action: Action, exc: Exception) -> EvaluationError:
    loc = action.value.location if action.value is not None and action.value.location else action.location
    code = "budget" if isinstance(exc, BudgetExceeded) else "evaluation"
    return EvaluationError(rule.id, f"{_describe(exc)} in action '{action.kind}'", loc.file, loc.line, loc.column, code=code)


def claim_of(rule: Rule, action: Action, decision: dict[str, Any]) -> dict[str, Any]:
    """The decision's claim, which the action needs."""
    claim: dict[str, Any] | None = decision.get("claim")
    if claim is None:
        loc = action.location
        raise EvaluationError(rule.id, f"action '{action.kind}' needs a claim, and the order has none", loc.file, loc.line, loc.column)
    return claim


MAX_AMOUNT = Decimal(load_schema("decision.schema.json")["$defs"]["money"]["contentSchema"]["maximum"])
"""The largest amount a decision holds: what ``money`` in decision.schema.json stands for, read from there."""


def money(rule: Rule, action: Action, value: Any) -> Decimal:
    """An amount rounded to the cent; a negative one, or one past what a decision can hold, is the rule's error."""
    amount = round_money(value)
    if 0 <= amount <= MAX_AMOUNT:
        return amount
    loc = action.value.location if action.value is not None and action.value.location else action.location
    if amount < 0:
        raise EvaluationError(rule.id, f"{action.kind} amount {amount} is negative", loc.file, loc.line, loc.column, code="negative_amount")
    message = f"{action.kind} amount {amount} is more than {MAX_AMOUNT:,} CNY, the most a decision holds: are the order's amounts right?"
    raise EvaluationError(rule.id, message, loc.file, loc.line, loc.column, code="amount_too_large")


def field_type(policy: Policy, name: str) -> t.Type:
    """The type of a claim field a ``set`` writes."""
    return policy.environment.decision.fields["claim"].type.fields[name.removeprefix("claim.")].type


def checked(rule: Rule, action: Action, value: Any, ftype: t.Type) -> Any:
    """A ``set`` value as the field takes it: one of its values, money to the cent."""
    if ftype.enum is not None and value not in ftype.enum:
        loc = action.value.location if action.value is not None and action.value.location else action.location
        raise EvaluationError(
            rule.id,
            f"{action.target} cannot be '{shorten(str(value), 40)}'; allowed: {', '.join(ftype.enum)}",
            loc.file,
            loc.line,
            loc.column,
            code="enum_value",
        )
    if ftype.money:
        return money(rule, action, value)
    return value


def conflict(rule: Rule, action: Action, value: Any, prev_rule: Rule, prev_value: Any) -> EvaluationError:
    """Two rules of one stage and priority set a field differently: the policy is ambiguous."""
    loc = action.value.location if action.value is not None and action.value.location else action.location
    return EvaluationError(
        rule.id,
        f"conflict: {action.target} = {plain(value)} here, but {prev_rule.id} "
        f"(same stage and priority {rule.priority}) set {plain(prev_value)}",
        loc.file,
        loc.line,
        loc.column,
        code="conflict",
    )


def reason(policy: Policy, rule: Rule, action: Action, facts: Any, item: Any, decision: dict[str, Any]) -> str:
    """Render a reason in both languages and add it to the claim."""
    assert action.message is not None
    zone = policy.zone
    zh = render(action.message[0], facts, item, decision, zone, "zh")
    en = render(action.message[1], facts, item, decision, zone, "en")
    value = f"{zh} / {en}"
    claim_of(rule, action, decision)["reasons"].append({"rule": rule.id, "message": value})
    return value


def _loc(rule: Rule) -> tuple[str, int, int]:
    return rule.location.file, rule.location.line, rule.location.column


def _describe(exc: BaseException) -> str:
    from decimal import DecimalException

    from .functions import ExpressionFailure

    if isinstance(exc, ExpressionFailure):
        return str(exc)
    if isinstance(exc, ZeroDivisionError):
        return "division by zero"
    if isinstance(exc, DecimalException):
        return f"arithmetic error ({type(exc).__name__})"
    if isinstance(exc, KeyError):
        return f"reads a fact that is absent ({shorten(str(exc), 60)}); guard it with has() or use default()"
    if isinstance(exc, (OverflowError, MemoryError, RecursionError)):
        return f"value too large ({type(exc).__name__})"
    return f"{type(exc).__name__}: {shorten(str(exc), 120)}"
