"""Property tests: hostile facts and hostile expressions end in a Decision or a RuleEngineError, nothing else.

(a) Example orders with random mutations either evaluate to a decision that validates against the
    decision schema, or raise a RuleEngineError subclass (an EvaluationError of code 'internal' counts
    as a crash: it is how Policy.evaluate wraps an exception nobody expected).
(b) Random expression strings in a rule's ``when:`` either load or raise PolicyError, within 2 s;
    a policy that loads then evaluates the examples to a decision or an EvaluationError.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import shutil
import time
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import DECISION_SCHEMA, EXAMPLES, RFC3339, RULES, load_example
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import ruleengine
from ruleengine.lang.functions import make_calendar
from ruleengine.runtime.decision import dumps

ROOT = Path(__file__).resolve().parent.parent
NAMES = sorted(p.name for p in EXAMPLES.glob("*.json"))
EXAMPLE_DATA = {name: load_example(name) for name in NAMES}

def check_decision(decision: ruleengine.Decision, facts: dict[str, Any]) -> None:
    data = json.loads(decision.to_json(), parse_float=Decimal)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in DECISION_SCHEMA.iter_errors(data)]
    assert not errors, errors
    assert ("claim" in data) == ("claim" in facts)
    assert list(data["services"]) == [item["sku"] for item in facts["items"]]
    claim = data.get("claim")
    if claim is not None and claim["outcome"] != "approved":  # docs/specification.md §5.6
        assert claim["resolution"] == "none"
        assert claim["refund_amount"] == claim["compensation_amount"] == "0.00"
        assert claim["refund_timing"] == "none" and claim["return_shipping_payer"] == "none"


def check_error(exc: ruleengine.RuleEngineError) -> None:
    if isinstance(exc, ruleengine.EvaluationError):
        assert exc.code != "internal", f"an unexpected exception inside the engine: {exc}"
    if isinstance(exc, ruleengine.FactsError):
        assert exc.problems
        for p in exc.problems:
            assert p.pointer == "" or p.pointer.startswith("/"), p
            assert p.message
    json.dumps(exc.to_dict(), default=str)  # every error can be reported as JSON
    str(exc)


# ---------------------------------------------------------------- (a) mutated facts


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, Decimal)):
        return "number"
    return type(value).__name__


def _all_values(doc: Any) -> list[Any]:
    return [v for v in (_get(doc, p) for p in _paths(doc)) if isinstance(v, (str, bool, int, Decimal))]


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.decimals(min_value=-(10**12), max_value=10**12, allow_nan=False, allow_infinity=False, places=2),
    st.decimals(min_value=-(10**15), max_value=10**15, allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(["", "2026-11-11T15:20:00+08:00", "2026-11-11T15:20:00", "2026-02-30T10:00:00+08:00", "2026-11-11", "SKU-X"]),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=6,
)
EXTREME_NUMBERS = st.sampled_from(
    [
        0,
        -1,
        10**9,
        10**15,
        10**16,
        10**30,
        -(10**30),
        Decimal("-0.01"),
        Decimal("0.001"),
        Decimal("999999999.99"),
        Decimal("1000000000.01"),
        Decimal("1E+15"),
        Decimal("1E+30"),
        Decimal("-1E+30"),
        Decimal("1E-30"),
    ]
)


def _shift_timestamp(value: str, hours: int) -> str:
    return (dt.datetime.fromisoformat(value) + dt.timedelta(hours=hours)).isoformat()


def _plausible(draw: st.DrawFn, doc: dict[str, Any]) -> None:
    """Keep the kind, change the value: enums and flags from other examples, moved times, other amounts."""
    paths = [p for p in _paths(doc) if not isinstance(_get(doc, p), (dict, list))]
    if not paths:
        return
    path = draw(st.sampled_from(paths))
    old = _get(doc, path)
    parent = _get(doc, path[:-1])
    if isinstance(old, str) and RFC3339.match(old):
        parent[path[-1]] = _shift_timestamp(old, draw(st.integers(min_value=-400, max_value=400)))
    elif _kind(old) == "number":
        parent[path[-1]] = draw(st.one_of(st.integers(min_value=0, max_value=5), st.decimals(min_value=0, max_value=2000, places=2)))
    else:
        pool = [v for v in _all_values(EXAMPLE_DATA[draw(st.sampled_from(NAMES))]) if _kind(v) == _kind(old)]
        pool += ["conditional", "no_reason_exchange", "customized", "fresh_food", "seven_day_opt_in", "refused", "lost", "global"]
        parent[path[-1]] = draw(st.sampled_from([v for v in pool if _kind(v) == _kind(old)] or [old]))


def _destroy(draw: st.DrawFn, doc: dict[str, Any]) -> None:
    paths = _paths(doc)
    candidates = {
        "delete": [p for p in paths if isinstance(_get(doc, p[:-1]), dict)],
        "retype": paths,
        "extreme": [p for p in paths if _kind(_get(doc, p)) == "number"],
        "duplicate": [p for p in paths if isinstance(_get(doc, p), list) and _get(doc, p)],
    }
    ops = [op for op, found in candidates.items() if found]
    if not ops:
        return
    op = draw(st.sampled_from(ops))
    path = draw(st.sampled_from(candidates[op]))
    parent = _get(doc, path[:-1])
    if op == "delete":
        del parent[path[-1]]
    elif op == "retype":
        old = _get(doc, path)
        parent[path[-1]] = draw(JSON_VALUES.filter(lambda v, old=old: _kind(v) != _kind(old)))
    elif op == "extreme":
        parent[path[-1]] = draw(EXTREME_NUMBERS)
    else:
        target = _get(doc, path)
        target.append(copy.deepcopy(draw(st.sampled_from(target))))


@st.composite
def mutated_orders(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """An example order with 0–4 plausible changes and 0–2 destructive ones (deleted key, wrong type,
    huge or negative number, duplicated list entry)."""
    name = draw(st.sampled_from(NAMES))
    doc = copy.deepcopy(EXAMPLE_DATA[name])
    for _ in range(draw(st.integers(min_value=0, max_value=4))):
        _plausible(draw, doc)
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2]))):
        _destroy(draw, doc)
    return name, doc


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(case=mutated_orders(), explain=st.booleans(), as_text=st.booleans())
def test_mutated_orders_decide_or_raise_an_engine_error(
    policy: ruleengine.Policy, case: tuple[str, dict[str, Any]], explain: bool, as_text: bool
) -> None:
    _, facts = case
    before = copy.deepcopy(facts)
    try:
        source: Any = dumps(facts) if as_text else facts
    except (TypeError, ValueError):
        source = facts
    try:
        decision = policy.evaluate(source, explain=explain)
    except ruleengine.RuleEngineError as exc:
        event(f"refused: {type(exc).__name__}")
        check_error(exc)
    else:
        event("decided")
        check_decision(decision, facts)
    assert facts == before  # never mutated, even when refused


def test_mutations_reach_both_outcomes(policy: ruleengine.Policy) -> None:
    """Not vacuous: the mutation strategy produces orders that are decided and orders that are refused."""
    seen: set[str] = set()

    @settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(case=mutated_orders())
    def probe(case: tuple[str, dict[str, Any]]) -> None:
        try:
            policy.evaluate(case[1])
            seen.add("decision")
        except ruleengine.FactsError:
            seen.add("facts_error")
        except ruleengine.RuleEngineError:
            seen.add("other_error")

    probe()
    assert {"decision", "facts_error"} <= seen


# ---------------------------------------------------------------- (b) random expressions


NAMES_IN_EXPRESSIONS = [
    "item",
    "claim",
    "params",
    "shop",
    "shop.type",
    "__class__",
    "item.__class__",
    "items",
    "decision",
    "buyer",
    "x",
    "l",
    "item.paid_amount",
    "item.quantity",
    "claim.quantity",
    "claim.requested_at",
    "logistics.signed_at",
    "as_of",
    "params.seven_day_window_days",
    "params.late_shipment_rate",
    "params.seven_day_return_conditions",
    "params.nope",
    "decision.claim.refund_amount",
    "decision.claim.outcome",
    "decision.services",
    "claim.merchant_received_at",
    "promotion.threshold",
    "item.flags",
    "shop.services",
    "true",
    "false",
    "None",
    "window_end",
    "order_actual_price",
    "kept_list_value",
    "claimed_prorata",
    "item.gift",
    "buyer.abuse_flag",
    "_k0",
    "F",
    "I",
    "D",
    "_fn_sum",
    "__builtins__",
]
LITERALS = [
    "0",
    "1",
    "-1",
    "0.1",
    "2.675",
    "1e400",
    "1e-400",
    "99999999999999999999",
    "'approved'",
    "'x'",
    "''",
    '"official_flagship"',
    "'offical_flagship'",
    "[]",
    "[1, 2]",
    "['a']",
    "0x1f",
    "1_0",
    "1j",
    "...",
    "b'x'",
    "'\\u202e'",
]
FUNCTIONS = [
    "sum",
    "count",
    "any",
    "all",
    "min",
    "max",
    "has",
    "default",
    "prorata",
    "round_money",
    "percent_of",
    "clamp",
    "days",
    "hours",
    "start_of_day",
    "add_days",
    "within_days_after",
    "window_end",
    "has_service",
    "len",
    "getattr",
    "__import__",
    "eval",
    "open",
    "type",
    "print",
]
OPERATORS = ["+", "-", "*", "/", "**", "%", "//", "and", "or", "==", "!=", "<", "<=", ">", ">=", "in", "not in", "is", "|", "@"]
TOKENS = [
    *NAMES_IN_EXPRESSIONS[:20],
    *LITERALS[:8],
    *OPERATORS,
    "(",
    ")",
    "[",
    "]",
    ".",
    ",",
    ":",
    "lambda",
    "for",
    "if",
    "else",
    "not",
    "{",
    "}",
    ";",
    "=",
    ":=",
    "\\",
    "#",
]

ATOMS = st.sampled_from(NAMES_IN_EXPRESSIONS + LITERALS)


def _compound(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, st.sampled_from(OPERATORS), children).map(" ".join),
        children.map(lambda c: f"not {c}"),
        children.map(lambda c: f"({c})"),
        children.map(lambda c: f"-{c}"),
        st.tuples(st.sampled_from(FUNCTIONS), st.lists(children, max_size=3)).map(lambda t: f"{t[0]}({', '.join(t[1])})"),
        st.tuples(children, st.sampled_from(["__class__", "paid_amount", "type", "mro", "_k0", "gift", "x"])).map(
            lambda t: f"{t[0]}.{t[1]}"
        ),
        st.tuples(children, children).map(lambda t: f"{t[0]}[{t[1]}]"),
        children.map(lambda c: f"lambda: {c}"),
        st.tuples(children, children, children).map(lambda t: f"{t[0]} if {t[1]} else {t[2]}"),
        st.lists(children, max_size=3).map(lambda xs: f"[{', '.join(xs)}]"),
        st.tuples(st.sampled_from(["sum", "count", "any", "all", "min", "max"]), st.sampled_from(["l", "x", "item"]), children).map(
            lambda t: f"{t[0]}({t[1]}.paid_amount for {t[1]} in items if {t[2]})"
        ),
        st.tuples(children, children).map(lambda t: f"{t[0]}({t[1]})"),
    )


GRAMMAR = st.recursive(ATOMS, _compound, max_leaves=8)
TOKEN_SOUP = st.lists(st.sampled_from(TOKENS), min_size=1, max_size=10).map(" ".join)

# A typed sub-grammar, so that a good share of the expressions load and then run over the examples.
NUMBERS = st.recursive(
    st.sampled_from(
        [
            "item.paid_amount",
            "item.quantity",
            "item.unit_price",
            "claim.quantity",
            "buyer.credit_score",
            "order_actual_price",
            "kept_list_value",
            "claimed_prorata",
            "decision.claim.refund_amount",
            "params.seven_day_window_days",
            "params.late_shipment_rate",
            "shipping.fee",
            "promotion.threshold",
            "default(promotion.threshold, 0)",
            "sum(l.paid_amount for l in items)",
            "count(l for l in items if l.gift)",
            "0",
            "1",
            "0.01",
            "2.675",
            "100",
            "-3",
        ]
    ),
    lambda n: st.one_of(
        st.tuples(n, st.sampled_from(["+", "-", "*", "/"]), n).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(st.sampled_from(["min", "max"]), n, n).map(lambda t: f"{t[0]}({t[1]}, {t[2]})"),
        n.map(lambda x: f"round_money({x})"),
        st.tuples(n, n, n).map(lambda t: f"prorata({t[0]}, {t[1]}, {t[2]})"),
        st.tuples(n, n, n).map(lambda t: f"clamp({t[0]}, {t[1]}, {t[2]})"),
    ),
    max_leaves=4,
)
TIMES = st.sampled_from(
    ["claim.requested_at", "logistics.signed_at", "as_of", "paid_at", "logistics.promised_ship_by", "claim.merchant_received_at"]
).flatmap(
    lambda ts: st.sampled_from(
        [ts, f"start_of_day({ts})", f"add_days({ts}, 7)", f"window_end({ts}, 7)", f"{ts} + days(1)", f"{ts} - hours(36)"]
    )
)
CONDITIONS = st.recursive(
    st.one_of(
        st.tuples(NUMBERS, st.sampled_from(["<", "<=", "==", "!=", ">", ">="]), NUMBERS).map(" ".join),
        st.tuples(TIMES, st.sampled_from(["<", ">=", "=="]), TIMES).map(" ".join),
        st.sampled_from(
            [
                "has(claim.merchant_received_at)",
                "has(logistics.shipped_at)",
                "'customized' in item.flags",
                "shop.type == 'flagship'",
                "item.category in params.seven_day_statutory_excluded_categories",
                "any(l.gift for l in items)",
                "has_service(item, 'fast_refund')",
                "true",
                "decision.claim.outcome == 'approved'",
                "not item.gift",
                "within_days_after(logistics.signed_at, params.seven_day_window_days, claim.requested_at)",
                "no_reason_claim",
                "approved_no_reason_return",
                "claim.type in ['no_reason_return', 'counterfeit']",
                "logistics.stock_out",
            ]
        ),
    ),
    lambda c: st.one_of(
        c.map(lambda x: f"not ({x})"),
        st.tuples(c, st.sampled_from(["and", "or"]), c).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
    ),
    max_leaves=4,
)
EXPRESSIONS = st.one_of(CONDITIONS, GRAMMAR, TOKEN_SOUP)

RULE_FILE = """\
rules:
  - id: fuzz.rule
    title: {{zh: 模糊测试, en: Fuzz}}
    description: A rule whose condition is generated.
    stage: {stage}
    scope: {scope}
    when: {when}
    then:
      - violation: late_shipment
"""


@pytest.fixture(scope="module")
def fuzz_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # The manifest, parameters and definitions of the bundled policy, without its rules: each
    # generated expression is loaded in a small policy, so many can be tried quickly.
    root = tmp_path_factory.mktemp("fuzz") / "rules"
    root.mkdir()
    for name in ("policy.yaml", "parameters.yaml", "definitions.yaml"):
        shutil.copy(RULES / name, root / name)
    return root


def test_the_fuzz_rule_file_loads_with_a_plain_condition(fuzz_root: Path) -> None:
    (fuzz_root / "fuzz.yaml").write_text(
        RULE_FILE.format(stage="compensation", scope="order", when=json.dumps("logistics.stock_out")), encoding="utf-8"
    )
    loaded = ruleengine.load_policy(fuzz_root)
    assert "fuzz.rule" in loaded.rule_ids()
    decision = loaded.evaluate(load_example("stock-out-compensation.json"))
    assert "fuzz.rule" in decision.fired


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    expr=EXPRESSIONS,
    stage=st.sampled_from(["services", "claim", "settle", "compensation", "finalize"]),
    scope=st.sampled_from(["order", "line", "claimed_line"]),
)
def test_random_expressions_load_or_raise_policy_error_quickly(fuzz_root: Path, expr: str, stage: str, scope: str) -> None:
    (fuzz_root / "fuzz.yaml").write_text(
        RULE_FILE.format(stage=stage, scope=scope, when=json.dumps(expr, ensure_ascii=False)), encoding="utf-8"
    )
    start = time.monotonic()
    try:
        loaded = ruleengine.load_policy(fuzz_root)
    except ruleengine.PolicyError as exc:
        elapsed = time.monotonic() - start
        event(f"refused: {exc.diagnostics[0].code if exc.diagnostics else '?'}")
        assert exc.diagnostics
        for d in exc.diagnostics:
            assert d.file.endswith("fuzz.yaml"), d  # the rest of the policy is fine: the problem is where the expression is
            assert d.line >= 1 and d.column >= 1 and d.code and d.message
        json.dumps(exc.to_dict())
    else:
        elapsed = time.monotonic() - start
        event("loaded")
        assert "fuzz.rule" in loaded.rule_ids()
        for name in ("seven-day-return-gift-not-returned.json", "stock-out-compensation.json", "plain-order-no-claim.json"):
            facts = EXAMPLE_DATA[name]
            try:
                decision = loaded.evaluate(facts, explain=name.startswith("stock"))
            except ruleengine.EvaluationError as exc:
                event(f"evaluation error: {exc.code}")
                check_error(exc)
                assert exc.rule == "fuzz.rule", exc
            else:
                check_decision(decision, facts)
    assert elapsed < 2.0, f"loading took {elapsed:.2f} s"


@settings(max_examples=400, deadline=None)
@given(
    instant=st.datetimes(min_value=dt.datetime(1970, 1, 2), max_value=dt.datetime(2100, 1, 1), timezones=st.just(dt.UTC)),
    zone=st.sampled_from(["Asia/Shanghai", "America/New_York", "America/Havana", "Australia/Lord_Howe", "Europe/London"]),
)
def test_start_of_day_is_midnight_of_the_local_day_with_its_fold(instant: dt.datetime, zone: str) -> None:
    """The calendar's start_of_day gives what ``replace(hour=0, …)`` of the local time gives, fold and offset included
    (also in zones whose clocks change at midnight)."""
    local = instant.astimezone(ZoneInfo(zone))
    expected = local.replace(hour=0, minute=0, second=0, microsecond=0)
    got = make_calendar(zone)["start_of_day"](instant)
    assert (got, got.fold, got.utcoffset(), got.isoformat()) == (expected, expected.fold, expected.utcoffset(), expected.isoformat())
