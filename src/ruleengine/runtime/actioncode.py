"""The code of actions: the templates a ``set`` and a reason are written from, and the closures actions call.

Each closure is prepared once per action when the function is written, and bound to a name the
code calls: amounts checked and rounded, deductions added to the claim, the error of an action
that needs a claim, the rule of a field already set in the same stage.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..errors import EvaluationError
from .evaluation import claim_of, conflict, money
from .events import plain

if TYPE_CHECKING:
    from ..model.rules import Action, Rule


def money_of(rule: Rule, action: Action) -> Callable[[Any], Any]:
    def amount(value: Any) -> Any:
        return money(rule, action, value)

    return amount


def deduction_of(rule: Rule, action: Action) -> Callable[[Any, dict[str, Any]], Decimal]:
    entry_type = action.target

    def deduct(value: Any, decision: dict[str, Any]) -> Decimal:
        amount = money(rule, action, value)
        claim_of(rule, action, decision)["deductions"].append({"type": entry_type, "amount": amount})
        return amount

    return deduct


def clash_of(rule: Rule) -> Callable[[Rule], EvaluationError]:
    """Two rows of a ``unique`` table match: the policy does not say which applies."""

    def clash(earlier: Rule) -> EvaluationError:
        table, loc = rule.table, rule.location
        assert table is not None
        # Short: an evaluation error's message is cut at 120 characters.
        message = f"第 {earlier.row} 行与第 {rule.row} 行同时命中 / rows {earlier.id} and {rule.id} both match (hit: unique)"
        return EvaluationError(rule.id, message, loc.file, loc.line, loc.column, code="table_unique")

    return clash


def claim_needed(rule: Rule, action: Action) -> Callable[[], EvaluationError]:
    def needed() -> EvaluationError:
        try:
            claim_of(rule, action, {})
        except EvaluationError as exc:
            return exc
        raise AssertionError("claim_of accepted a decision without a claim")  # pragma: no cover

    return needed


SET = """
_q_x = VALUE
if _q_claim is None:
    raise NEEDS_CLAIM()
_q_x = CHECKED(_q_x)
_q_previous = _q_writers.get(NAME)
if _q_previous is None or _q_previous[0] != STAGE:
    _q_writers[NAME] = (STAGE, PRIORITY, RULE, _q_x)
    _q_claim[KEY] = _q_x
else:
    SAME_STAGE(_q_x, _q_previous, _q_writers, _q_claim)
"""
"""``set``: the field's checks, then the write; writers are (stage, priority, rule, value), and a later stage refines."""
SET_CHECKED = SET.replace("_q_x = CHECKED(_q_x)\n", "")
"""``set`` of a literal already checked."""


def same_stage(rule: Rule, action: Action) -> Callable[[Any, tuple[int, int, Rule, Any], dict[str, Any], dict[str, Any]], tuple[str, str]]:
    """A field already set in the rule's stage: a higher priority wins, an equal one must agree."""
    name, key = action.target, action.target.removeprefix("claim.")

    def settle(value: Any, previous: tuple[int, int, Rule, Any], writers: dict[str, Any], claim: dict[str, Any]) -> tuple[str, str]:
        _, prev_priority, prev_rule, prev_value = previous
        if prev_rule is not rule and prev_priority > rule.priority:
            return "overridden", f"{prev_rule.id} (priority {prev_rule.priority}) already set {plain(prev_value)}"
        if prev_value != value:
            raise conflict(rule, action, value, prev_rule, prev_value)
        writers[name] = (rule.stage_index, rule.priority, rule, value)
        claim[key] = value
        return _APPLIED

    return settle


_APPLIED = ("applied", "")


def refined(previous: tuple[int, int, Rule, Any] | None, value: Any) -> tuple[str, str]:
    """How a write in a later stage than the last one reads in a trace: a refinement when it changes the value."""
    if previous is None or previous[3] == value:
        return _APPLIED
    _, _, prev_rule, prev_value = previous
    return "refined", f"was {plain(prev_value)} from {prev_rule.id} (stage {prev_rule.stage})"


UNIQUE = """
_q_x = _q_stopped.get(KEY)
if _q_x is not None:
    raise CLASH(_q_x)
_q_stopped[KEY] = RULE
"""
"""A matching row of a ``unique`` table: the first one is recorded (in the stops, under a key no group has)."""

DEFERRED_REASON = """
if _q_claim is None:
    raise NEEDS_CLAIM()
_q_x = {"rule": RULE_ID, "message": None}
if _q_wait:
    _q_texts.append((_q_x, WRITE, VALUES))
else:
    _q_x["message"] = WRITE(VALUES)
_q_claim["reasons"].append(_q_x)
"""
"""A reason whose text ``WRITE(VALUES)`` gives when the decision is read (``_q_wait``: every value can wait), or now."""

FORMAT_NOW = """
if not CAN_WAIT:
    FORMAT(VALUE, TYPE, ZONE, LANGUAGE)
    _q_wait = False
"""
"""A reason's value that could change or fail to be written: written now, where the rule would write it (and fail)."""

REASON = """
_q_x = ZH + " / " + EN
if _q_claim is None:
    raise NEEDS_CLAIM()
_q_claim["reasons"].append({"rule": RULE_ID, "message": _q_x})
"""
