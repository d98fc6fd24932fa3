"""Evaluating a policy over prepared facts: deterministic, pure, all or nothing.

Rules run by stage (the manifest's order), then priority (higher first), then
file order. Each rule sees the facts and the decision so far (``decision.…``),
so later rules chain on earlier ones. Actions write into a fresh decision;
the caller gets it only if every rule succeeded — a failing rule is an
EvaluationError naming the rule and its expression, never a partial decision.

The policy's rules run as code written once per kind of order (``program``):
without a listener the plain function, with one, or to explain, its traced
variant, which the same writer emits from the same checked trees with an event
at every rule visit and action. The helpers here (the decision's start and
output, field checks, error reports) are what that code calls.
"""

from __future__ import annotations

import datetime as dt
import functools
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..errors import EvaluationError
from ..lang import types as t
from ..lang.functions import BudgetExceeded, round_money
from ..model.conditions import leaves
from ..schemas import load_schema
from ..text import shorten
from .decision import Decision
from .events import Listener, TraceBuilder, plain, reporters
from .facts import Prepared

if TYPE_CHECKING:
    from ..model.rules import Action, Rule
    from .policy import Policy

ZERO = Decimal("0.00")


def evaluate(policy: Policy, prepared: Prepared, *, explain: bool = False, listener: Listener | None = None) -> Decision:
    if not explain and listener is None:
        return policy.compiled.decide(prepared)
    trace = TraceBuilder() if explain else None
    data = policy.compiled.trace(prepared, reporters(trace, [listener] if listener is not None else []))
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
    """The steps and CPU time one evaluation may use; rule visits and generator iterations both count.

    The clock (this thread's CPU time: a system call, a microsecond or more, several on a busy machine)
    is read at every check — every 64 rule visits, and every 256 iterations of a generator after its first
    256 (``codegen.counted``: those are charged as steps only) — but not when the evaluation starts: the
    first check starts it. Most orders are decided before their first check and
    never pay for it; the work before it is the same stretch that separates any two checks, which is what
    a check could let run past the deadline anyway.
    """

    __slots__ = ("deadline", "max_seconds", "max_steps", "steps")

    def __init__(self, max_steps: int, max_seconds: float) -> None:
        self.steps = 0
        self.max_steps = max_steps
        self.max_seconds = max_seconds
        self.deadline: float | None = None

    def count(self, steps: int) -> None:
        """Charge steps without reading the clock (a generator's first 256 iterations)."""
        self.steps += steps
        if self.steps > self.max_steps:
            raise BudgetExceeded(f"evaluation exceeded {self.max_steps} steps")

    def __call__(self, steps: int) -> None:
        self.count(steps)
        now = time.thread_time()
        if self.deadline is None:
            self.deadline = now + self.max_seconds
        elif now > self.deadline:
            raise BudgetExceeded(f"evaluation exceeded {self.max_seconds} s")


# ---------------------------------------------------------------- shared by both paths


def not_in_effect(rule: Rule, instant: dt.datetime | None) -> str:
    """Why a rule version did not run for an order: the instant it is chosen by, and its window."""
    if instant is None:
        return f"no {rule.effective_on} to choose a version by"
    start, end = rule.effective_from, rule.effective_until
    offsets = (start.utcoffset() if start else None, end.utcoffset() if end else None)
    return f"{_window(rule.effective_on, start, end, offsets, rule.version, rule.versions)}{instant.isoformat()}"


@functools.lru_cache(maxsize=1024)
def _window(
    on: str, start: dt.datetime | None, end: dt.datetime | None, offsets: tuple[Any, Any], version: int, versions: int
) -> str:
    """A version's window in words, written once per window (the traced path says it for every order).

    The offsets are part of the key: equal instants written with other offsets are other words.
    """
    which = f"version {version} of {versions}" if versions > 1 else "the rule"
    since = start.isoformat() if start else "…"
    until = end.isoformat() if end else "…"
    return f"{which} is in effect for {on} in [{since}, {until}); the order's is "


def charge(budget: Budget, rule: Rule, steps: int) -> None:
    """Charge rule visits to the budget and check it; a spent budget is an error of the rule about to run."""
    try:
        budget(steps)
    except BudgetExceeded as exc:
        raise EvaluationError(rule.id, str(exc), *_loc(rule), code="budget") from None


def locate_failure(rule: Rule, item: Any, exc: Exception, facts: Any, decision: Any) -> EvaluationError:
    """The condition of the rule that failed, from the line its expression has in the compiled code (see
    ``expressions.number_lines``): the innermost line of generated code the exception passed through."""
    line = 0
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.startswith("<"):
            line = tb.tb_lineno
        tb = tb.tb_next
    code = "budget" if isinstance(exc, BudgetExceeded) else "evaluation"
    for leaf in leaves(rule.when):
        if leaf.code_line == line:
            file, at_line, column = leaf.location
            return EvaluationError(rule.id, f"{_describe(exc)} in '{shorten(leaf.text, 80)}'", file, at_line, column, code=code)
    return EvaluationError(rule.id, _describe(exc), *_loc(rule), code=code)


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


def _loc(rule: Rule) -> tuple[str, int, int]:
    return rule.location.file, rule.location.line, rule.location.column


def _describe(exc: BaseException) -> str:
    from decimal import DecimalException

    from ..lang.functions import ExpressionFailure

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
