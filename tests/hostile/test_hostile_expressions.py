"""Hostile expressions: sandbox escapes, method calls, formatting, resource bombs, spoofed names, run-time failures.

Load-time cases put the expression in the ``when:`` of a rule at line 7 (a
double-quoted expression starts at column 12) and assert the one diagnostic.
Run-time cases evaluate the example no-reason return against a minimal policy
and assert the EvaluationError: rule, file:line:col of the expression, code.
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hostile_support import (
    ORDER_FILE,
    ChildRunner,
    bounded_case,  # noqa: F401 - the autouse time and memory bound
    child_outcome,
    load_outcome,
    minimal_policy,
    only_diagnostic,
    outcome,
    quoted,
    rule_yaml,
)

import ruleengine
from ruleengine import Limits
from ruleengine.lang.ir import ExpressionProblem
from ruleengine.lang.parse import parse


def when(tmp_path: Path, expression: str) -> dict[str, Any]:
    return load_outcome(minimal_policy(tmp_path, {"hostile.yaml": rule_yaml(when=quoted(expression))}))


def parse_outcome(text: str, limits: Limits = ruleengine.DEFAULT_LIMITS) -> dict[str, Any]:
    try:
        parse(text, limits)
    except ExpressionProblem as exc:
        return {"kind": "ExpressionProblem", "code": exc.code, "offset": exc.offset, "message": exc.message}
    except Exception as exc:
        return {"kind": "unexpected", "type": type(exc).__name__, "message": str(exc)[:300]}
    return {"kind": "ok"}


# ---------------------------------------------------------------- escapes and side effects (load time)

CASES = [
    # (id, expression, (line, column, code), message start)
    ("dunder-class", "item.__class__", (7, 12, "expression_feature"), "names starting with '_' are not allowed: __class__"),
    ("subclasses", "().__class__.__bases__[0].__subclasses__()", (7, 12, "expression_feature"), "indexing with [] is not allowed"),
    ("globals", "params.__globals__", (7, 12, "expression_feature"), "names starting with '_' are not allowed: __globals__"),
    ("gi-frame", "(x for x in items).gi_frame", (7, 12, "expression_type"), "a generator (x for x in ...) must be the only argument"),
    ("gi-frame-in-sum", "sum(x.gi_frame for x in items) > 0", (7, 18, "unknown_field"), "'x' has no field 'gi_frame'"),
    ("items-clear", "items.clear()", (7, 12, "expression_feature"), "methods cannot be called"),
    ("append", "shop.services.append('x')", (7, 12, "expression_feature"), "methods cannot be called"),
    ("upper", "claim.type.upper() == 'X'", (7, 12, "expression_feature"), "methods cannot be called"),
    ("str-format", "str.format('{0}', item) == ''", (7, 12, "expression_feature"), "methods cannot be called"),
    ("f-string", "f'{item}' == ''", (7, 12, "expression_feature"), "f-strings are not allowed"),
    ("lambda", "lambda: true", (7, 12, "expression_feature"), "lambda is not allowed"),
    ("walrus", "(x := 1) == 1", (7, 13, "expression_feature"), "assignment (:=) is not allowed"),
    ("assignment", "claim.type = 'x'", (7, 23, "expression_syntax"), "invalid syntax; to compare, write =="),
    ("two-statements", "true; false", (7, 16, "expression_syntax"), "one expression only: ';' is not allowed"),
    ("import", "import os", (7, 12, "expression_syntax"), "invalid syntax"),
    ("dunder-import", "__import__('os')", (7, 12, "unknown_function"), "unknown function '__import__'"),
    ("eval", "eval('1') == 1", (7, 12, "unknown_function"), "unknown function 'eval'"),
    ("open", "open('/etc/passwd')", (7, 12, "unknown_function"), "unknown function 'open'"),
    ("getattr", "getattr(item, 'gift')", (7, 12, "unknown_function"), "unknown function 'getattr'"),
    ("type-builtin", "type(item) == type(item)", (7, 12, "unknown_function"), "unknown function 'type'"),
    ("math-bold", "𝐢𝐭𝐞𝐦.gift", (7, 12, "character"), "name '𝐢𝐭𝐞𝐦' has non-ASCII letters"),
    ("fullwidth", "ｉｔｅｍ.gift", (7, 12, "character"), "name 'ｉｔｅｍ' has non-ASCII letters"),
    ("cyrillic", "іtem.gift", (7, 12, "character"), "name 'іtem' has non-ASCII letters"),
    ("bidi-in-literal", "item.title == 'a\u202eb'", (7, 28, "character"), "character U+202E RIGHT-TO-LEFT OVERRIDE is not allowed"),
    ("zwsp-in-literal", "claim.type == 'no_reason\u200b_return'", (7, 36, "character"), "character U+200B ZERO WIDTH SPACE"),
    ("integer-over-limit", "item.quantity > 10000000000000000000", (7, 28, "out_of_range"), "number out of range (limit 1000000000000000)"),
    ("1e400", "item.paid_amount > 1e400", (7, 31, "out_of_range"), "number out of range"),
    ("is-none", "claim.merchant_received_at is None", (7, 12, "expression_feature"), "'is' is not allowed"),
    ("subscript", "items[0].gift", (7, 12, "expression_feature"), "indexing with [] is not allowed"),
    ("dict-literal", "{'a': 1} == {'a': 1}", (7, 24, "expression_feature"), "dictionaries are not allowed"),
    ("keyword-argument", "round_money(x=1) > 0", (7, 24, "expression_feature"), "keyword is not allowed"),
]


@pytest.mark.parametrize(("expression", "where", "gist"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_refused_at_load(tmp_path: Path, expression: str, where: tuple[int, int, str], gist: str) -> None:
    file, line, column, code, message = only_diagnostic(when(tmp_path, expression))
    assert (file, line, column, code) == ("hostile.yaml", *where)
    assert message.startswith(gist), message


# Expressions that start with a quote: the refusal is right, the column is checked separately (see the xfail below).
QUOTE_FIRST = [
    ("format-traversal", "'{0.__class__}'.format(item)", "expression_feature", "methods cannot be called"),
    ("percent-format", "'%s' % item == ''", "expression_feature", "% is not allowed"),
    ("text-vs-number", "'x' == 1", "expression_type", "cannot compare text with a number"),
]


@pytest.mark.parametrize(("expression", "code", "gist"), [c[1:] for c in QUOTE_FIRST], ids=[c[0] for c in QUOTE_FIRST])
def test_refused_at_load_quote_first(tmp_path: Path, expression: str, code: str, gist: str) -> None:
    file, line, _column, got_code, message = only_diagnostic(when(tmp_path, expression))
    assert (file, line, got_code) == ("hostile.yaml", 7, code)
    assert message.startswith(gist)


@pytest.mark.parametrize(
    ("when_yaml", "where"),
    [(quoted("'{0.__class__}'.format(item)"), (7, 12)), (">-\n      '%s' % item == ''", (8, 7))],
    ids=["double-quoted", "folded-block"],
)
def test_quote_first_expression_position(tmp_path: Path, when_yaml: str, where: tuple[int, int]) -> None:
    result = load_outcome(minimal_policy(tmp_path, {"hostile.yaml": rule_yaml(when=when_yaml)}))
    assert tuple(only_diagnostic(result)[1:3]) == where


def test_two_lines_in_a_block_scalar(tmp_path: Path) -> None:
    result = load_outcome(minimal_policy(tmp_path, {"hostile.yaml": rule_yaml(when="|\n      true\n      false")}))
    assert only_diagnostic(result) == ["hostile.yaml", 9, 7, "expression_syntax", "invalid syntax"]


def test_refused_expression_in_set(tmp_path: Path) -> None:
    text = rule_yaml(action='set: {claim.refund_amount: "item.__class__"}')
    result = load_outcome(minimal_policy(tmp_path, {"hostile.yaml": text}))
    assert only_diagnostic(result) == ["hostile.yaml", 9, 37, "expression_feature", "names starting with '_' are not allowed: __class__"]


def test_refused_expression_in_a_message_placeholder(tmp_path: Path) -> None:
    text = rule_yaml(action='reason: {zh: "x {item.__class__}", en: "y {claim.type.upper()}"}')
    result = load_outcome(minimal_policy(tmp_path, {"hostile.yaml": text}))
    assert result["kind"] == "PolicyError"
    assert [d[:4] for d in result["diagnostics"]] == [
        ["hostile.yaml", 9, 26, "expression_feature"],
        ["hostile.yaml", 9, 52, "expression_feature"],
    ]


def test_unclosed_placeholder(tmp_path: Path) -> None:
    text = rule_yaml(action='reason: {zh: "x {item.title", en: "y"}')
    result = load_outcome(minimal_policy(tmp_path, {"hostile.yaml": text}))
    assert only_diagnostic(result)[:4] == ["hostile.yaml", 9, 25, "template"]


# ---------------------------------------------------------------- resource bombs (in a child process)


def _bomb(expression: str) -> Callable[[], dict[str, Any]]:
    def case() -> dict[str, Any]:
        with tempfile.TemporaryDirectory() as tmp:
            return when(Path(tmp), expression)

    return case


BOMBS = [
    ("power-tower", "9**9**9 > 0", (7, 12, "expression_feature"), "** is not allowed"),
    ("power-4000000", "4000000**4000000 > 0", (7, 12, "expression_feature"), "** is not allowed"),
    ("shift-power", "1 << 10**9 > 0", (7, 12, "expression_feature"), "** is not allowed"),
    ("shift-literal", "1 << 1000000000 > 0", (7, 12, "expression_feature"), "<< is not allowed"),
    ("text-times-power", "'a' * 10**9 == ''", (7, None, "expression_feature"), "** is not allowed"),
    ("text-times-literal", "'a' * 1000000000 == ''", (7, None, "expression_type"), "arithmetic on text is not allowed"),
    ("title-times-million", "item.title * 1000000 == ''", (7, 12, "expression_type"), "arithmetic on text is not allowed"),
    ("ljust-power", "'x'.ljust(10**9) == ''", (7, None, "expression_feature"), "** is not allowed"),
    ("ljust-literal", "'x'.ljust(1000000000) == ''", (7, None, "expression_feature"), "methods cannot be called"),
    ("three-fors", "sum(1 for a in items for b in items for c in items) > 0", (7, 15, "expression_feature"), "one 'for' per generator"),
    (
        "three-deep",
        "sum(sum(sum(1 for c in items) for b in items) for a in items) > 0",
        (7, 23, "too_complex"),
        "generators nest at most two deep",
    ),
    ("parens-300", "(" * 300 + "true" + ")" * 300, (7, 212, "expression_syntax"), "too many nested parentheses"),
    ("not-1000", "not " * 1000 + "true", (7, 11, "schema"), "text too long: 4004 characters > limit 2000"),
    ("hundred-kilobytes", "item.quantity + " * 6250 + "1 > 0", (7, 11, "schema"), "text too long: 100005 characters > limit 2000"),
    (
        "nodes-over-limit",
        "item.quantity in [" + ", ".join(["1"] * 450) + "]",
        (7, 12, "too_complex"),
        "expression too large: more than 400 parts",
    ),
]

BIG_LIST = (
    "parameters:\n  hb_big:\n    type: list\n    of: text\n"
    "    value: [" + ", ".join(f"a{i}" for i in range(1000)) + "]\n    description: x\n"
)
GENERATOR_BOMB = (
    BIG_LIST + "definitions:\n  hb_g2:\n    expr: sum(sum(1 for b in params.hb_big) for a in params.hb_big)\n    description: x\n"
)


def _generator_bomb() -> dict[str, Any]:
    """Two-deep generators inside a definition, used inside two more: 1000**4 iterations."""
    text = GENERATOR_BOMB + rule_yaml(when=quoted("sum(sum(hb_g2 for d in params.hb_big) for c in params.hb_big) > 0"))
    with tempfile.TemporaryDirectory() as tmp:
        loaded = load_outcome(minimal_policy(Path(tmp), {"hostile.yaml": text}), project=lambda p: p)
        if loaded["kind"] != "ok":
            return loaded
        policy = loaded["value"]
        return outcome(lambda: claim_of(policy.evaluate(ORDER_FILE.read_bytes())))


def _line_scope_generators() -> dict[str, Any]:
    """14 two-deep generators over a 1000-item parameter in one line-scope rule, over an order of 100 lines.

    Every limit holds (841 characters, under 400 nodes, generators two deep, 100 lines); each line costs 14 million
    iterations, and the evaluation budget of 1 s must stop it.
    """
    import json
    from decimal import Decimal

    generator = "sum(sum(1 for b in params.hb_big) for a in params.hb_big)"
    text = BIG_LIST + rule_yaml(when=quoted(" + ".join([generator] * 14) + " > 0"), action="add_service: authenticity", scope="line")
    facts = json.loads(ORDER_FILE.read_text(encoding="utf-8"), parse_float=Decimal)
    facts["items"] = [dict(copy.deepcopy(facts["items"][0]), sku=f"SKU-{n}") for n in range(100)]
    facts["claim"]["sku"] = "SKU-0"
    with tempfile.TemporaryDirectory() as tmp:
        loaded = load_outcome(minimal_policy(Path(tmp), {"hostile.yaml": text}), project=lambda p: p)
        if loaded["kind"] != "ok":
            return loaded
        policy = loaded["value"]
        return outcome(lambda: sorted(policy.evaluate(facts).to_dict()["services"])[:1])


def _parse_not_1000() -> dict[str, Any]:
    return parse_outcome("not " * 1000 + "true", Limits(max_expression_chars=10_000))


def _parse_hundred_kilobytes() -> dict[str, Any]:
    return parse_outcome("x" * 100_000)


def _parse_sum_3000_terms() -> dict[str, Any]:
    return parse_outcome("1+" * 3000 + "1", Limits(max_expression_chars=10_000, max_expression_nodes=100_000))


CHILD_CASES: dict[str, Callable[[], dict[str, Any]]] = {name: _bomb(expression) for name, expression, _, _ in BOMBS}
CHILD_CASES.update(
    {
        "generator_bomb": _generator_bomb,
        "line_scope_generators": _line_scope_generators,
        "parse_not_1000": _parse_not_1000,
        "parse_hundred_kilobytes": _parse_hundred_kilobytes,
        "parse_sum_3000_terms": _parse_sum_3000_terms,
    }
)
RUNNER = ChildRunner(__name__, CHILD_CASES)


@pytest.fixture(scope="module")
def children() -> ChildRunner:
    RUNNER.run()
    return RUNNER


@pytest.mark.parametrize(("name", "where", "gist"), [(c[0], c[2], c[3]) for c in BOMBS], ids=[c[0] for c in BOMBS])
def test_bomb_refused_at_load(children: ChildRunner, name: str, where: tuple[int, int | None, str], gist: str) -> None:
    file, line, column, code, message = only_diagnostic(child_outcome(children, name))
    assert (file, line, code) == ("hostile.yaml", where[0], where[2])
    if where[1] is not None:  # a leading quote shifts the column (see test_quote_first_expression_position)
        assert column == where[1]
    assert message.startswith(gist), message


def test_parse_refuses_1000_nots_by_depth(children: ChildRunner) -> None:
    assert child_outcome(children, "parse_not_1000") == {
        "kind": "ExpressionProblem",
        "code": "too_complex",
        "offset": 160,
        "message": "expression nested deeper than 40",
    }


def test_parse_refuses_100_kb_by_length(children: ChildRunner) -> None:
    assert child_outcome(children, "parse_hundred_kilobytes") == {
        "kind": "ExpressionProblem",
        "code": "too_long",
        "offset": 0,
        "message": "expression too long: 100000 characters > limit 2000",
    }


def test_parse_survives_recursion_in_the_python_parser(children: ChildRunner) -> None:
    result = child_outcome(children, "parse_sum_3000_terms")
    assert (result["kind"], result["code"], result["offset"]) == ("ExpressionProblem", "too_complex", 0)
    assert result["message"].startswith("expression too complex")


def test_generator_bomb_through_a_definition_is_bounded(children: ChildRunner) -> None:
    result = child_outcome(children, "generator_bomb")
    code = only_diagnostic(result)[3] if result["kind"] == "PolicyError" else result.get("code")
    assert (result["kind"], code) in (("PolicyError", "too_complex"), ("EvaluationError", "budget"))


def test_line_scope_generators_stop_within_budget(children: ChildRunner) -> None:
    # 14 two-deep generators over a 1000-item parameter could iterate 14 × 10^6 times for each of 100 lines:
    # refused when the policy loads (the static bound), so it never reaches an evaluation.
    result = child_outcome(children, "line_scope_generators")
    file, _line, _column, code, message = only_diagnostic(result)
    assert (file, code) == ("hostile.yaml", "too_complex")
    assert "could iterate" in message


# ---------------------------------------------------------------- run-time failures

RULE = """\
  - id: hostile.{name}
    title: {{zh: x, en: x}}
    description: x
    stage: settle
    priority: {priority}
    scope: claimed_line
    when: {when}
    then:
      - set: {{{field}: {value}}}
"""


def rules(*specs: tuple[str, int, str, str], when_: str = '"true"') -> str:
    return "rules:\n" + "".join(RULE.format(name=n, priority=p, field=f, value=v, when=when_) for n, p, f, v in specs)


def claim_of(decision: ruleengine.Decision) -> dict[str, Any]:
    claim: dict[str, Any] = decision.to_dict()["claim"]
    return {"outcome": claim["outcome"], "refund_amount": str(claim["refund_amount"]), "fired": decision.to_dict()["fired"]}


def evaluate(tmp_path: Path, text: str, facts: Any = None) -> dict[str, Any]:
    loaded = load_outcome(minimal_policy(tmp_path, {"hostile.yaml": text}), project=lambda p: p)
    assert loaded["kind"] == "ok", loaded
    policy: ruleengine.Policy = loaded["value"]
    return outcome(lambda: claim_of(policy.evaluate(facts if facts is not None else ORDER_FILE.read_bytes())))


def test_division_by_zero_names_the_rule_and_the_expression(tmp_path: Path) -> None:
    result = evaluate(tmp_path, rules(("div", 0, "claim.refund_amount", '"item.paid_amount / (claim.quantity - claim.quantity)"')))
    assert result == {
        "kind": "EvaluationError",
        "rule": "hostile.div",
        "file": "hostile.yaml",
        "line": 10,
        "column": 36,
        "code": "evaluation",
        "message": "division by zero in action 'set'",
    }


def test_absent_optional_fact_in_an_action(tmp_path: Path) -> None:
    result = evaluate(tmp_path, rules(("absent", 0, "claim.refund_amount", '"claim.current_unit_price * 2"')))
    assert (result["kind"], result["rule"], result["line"], result["column"], result["code"]) == (
        "EvaluationError",
        "hostile.absent",
        10,
        36,
        "evaluation",
    )
    assert "reads a fact that is absent ('current_unit_price')" in result["message"]


def test_absent_optional_fact_in_a_condition_is_not_met(tmp_path: Path) -> None:
    text = rules(("guarded", 0, "claim.outcome", "approved"), when_='"claim.current_unit_price > 0"')
    assert evaluate(tmp_path, text) == {"kind": "ok", "value": {"outcome": "needs_review", "refund_amount": "0.00", "fired": []}}


def test_negative_refund(tmp_path: Path) -> None:
    result = evaluate(tmp_path, rules(("neg", 0, "claim.refund_amount", '"0 - item.paid_amount"')))
    assert result == {
        "kind": "EvaluationError",
        "rule": "hostile.neg",
        "file": "hostile.yaml",
        "line": 10,
        "column": 36,
        "code": "negative_amount",
        "message": "set amount -299.00 is negative",
    }


def test_enum_field_set_outside_the_enum_at_run_time(tmp_path: Path) -> None:
    result = evaluate(tmp_path, rules(("enum", 0, "claim.outcome", '{expr: claim.type}')))
    assert result == {
        "kind": "EvaluationError",
        "rule": "hostile.enum",
        "file": "hostile.yaml",
        "line": 10,
        "column": 30,
        "code": "enum_value",
        "message": "claim.outcome cannot be 'no_reason_return'; allowed: approved, rejected, needs_review",
    }


def test_same_priority_conflict(tmp_path: Path) -> None:
    result = evaluate(tmp_path, rules(("first", 5, "claim.outcome", "approved"), ("second", 5, "claim.outcome", "rejected")))
    assert (result["kind"], result["rule"], result["line"], result["column"], result["code"]) == (
        "EvaluationError",
        "hostile.second",
        19,
        30,
        "conflict",
    )
    assert result["message"] == "conflict: claim.outcome = rejected here, but hostile.first (same stage and priority 5) set approved"


def test_higher_priority_wins_without_conflict(tmp_path: Path) -> None:
    result = evaluate(tmp_path, rules(("first", 5, "claim.outcome", "approved"), ("second", 4, "claim.outcome", "rejected")))
    assert result == {"kind": "ok", "value": {"outcome": "approved", "refund_amount": "0.00", "fired": ["hostile.first", "hostile.second"]}}


def test_timestamp_overflow_at_run_time(tmp_path: Path) -> None:
    result = evaluate(tmp_path, rules(("overflow", 0, "claim.refund_due_by", '"add_days(claim.requested_at, 999999999999999)"')))
    assert (result["kind"], result["rule"], result["line"], result["column"], result["code"]) == (
        "EvaluationError",
        "hostile.overflow",
        10,
        36,
        "evaluation",
    )
    assert result["message"] == "value too large (OverflowError) in action 'set'"


def test_evaluation_never_mutates_the_callers_facts(policy: ruleengine.Policy) -> None:
    import json
    from decimal import Decimal

    facts = json.loads(ORDER_FILE.read_text(encoding="utf-8"), parse_float=Decimal)
    before = copy.deepcopy(facts)
    decision = policy.evaluate(facts)
    assert claim_of(decision)["outcome"] == "approved"
    assert facts == before
