"""The plain path's rewrites of a checked tree compute the same values and fail the same way.

``has()`` on the order or its line is inlined and pure functions of constants are computed when the code is
written (``runtime/lowering.py``); the explaining path writes the trees as checked. These tests look at the
rewritten trees, then hold the two paths to the same decisions and errors on a policy the tests own.
"""

from __future__ import annotations

import ast
import copy
import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import load_example

import ruleengine
from ruleengine.lang.check import compile_expression
from ruleengine.lang.ir import Const, called, dotted_path
from ruleengine.runtime.lowering import Held, lowered

MANIFEST = """\
policy:
  name: lowered
  version: "1"
  timezone: Asia/Shanghai
  stages: [services, claim]
"""

PARAMETERS = """\
parameters:
  window_days: {value: 7, type: days, description: 期限 / the window}
  huge_days: {value: 1000000000, type: integer, description: 过大 / too many days for a date}
"""

RULES = """\
rules:
  - id: lowered.warranty
    title: {zh: 保修, en: Warranty}
    description: 有保修天数的行 / lines with a warranty
    stage: services
    scope: line
    when: {expr: "has(item.warranty_days) and not has(logistics.signed_at)"}
    then:
      - add_service: after_sales_care
  - id: lowered.window
    title: {zh: 期限, en: Window}
    description: 签收后期限内 / within the window after signing
    stage: claim
    scope: claimed_line
    when: {expr: "has(logistics.signed_at) and claim.requested_at < start_of_day(logistics.signed_at) + days(params.window_days + 1)"}
    then:
      - set: {claim.outcome: approved}
      - reason: {zh: "期限 {days(params.window_days + 1)}", en: "window {days(params.window_days + 1)}"}
"""

OVERFLOW = """\
  - id: lowered.overflow
    title: {zh: 溢出, en: Overflow}
    description: 常量算不出 / a constant that cannot be computed
    stage: claim
    scope: order
    when: {expr: "as_of < as_of + days(params.huge_days)"}
    then:
      - set: {claim.outcome: rejected}
"""


def write(folder: Path, extra: str = "") -> ruleengine.Policy:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "policy.yaml").write_text(MANIFEST, encoding="utf-8")
    (folder / "parameters.yaml").write_text(PARAMETERS, encoding="utf-8")
    (folder / "rules.yaml").write_text(RULES + extra, encoding="utf-8")
    return ruleengine.load_policy(folder)


def calls(tree: ast.AST) -> set[str | None]:
    return {called(node) for node in ast.walk(tree) if isinstance(node, ast.Call)}


def rewrite(policy: ruleengine.Policy, text: str, item: bool = True, held: Held | None = None, claim_type: str | None = None) -> ast.expr:
    compiled = compile_expression(text, policy.environment, item=item)
    bound: dict[str, Any] = {}

    def bind(value: Any) -> ast.Name:
        name = f"_c{len(bound)}"
        bound[name] = value
        return ast.Name(id=name, ctx=ast.Load())

    tree = lowered(compiled.py, bind, ast.Name(id="isinstance", ctx=ast.Load()), ast.Name(id="dict", ctx=ast.Load()), held, claim_type)
    tree.bound = bound  # type: ignore[attr-defined]
    return tree


def test_has_is_inlined_and_constants_are_computed(tmp_path: Path) -> None:
    policy = write(tmp_path / "p")
    inlined = rewrite(policy, "has(logistics.signed_at) and has(item.warranty_days)")
    assert "present" not in calls(inlined)
    folded = rewrite(policy, "start_of_day(logistics.signed_at) + days(params.window_days + 1)")
    assert calls(folded) == {"start_of_day"}
    assert dt.timedelta(days=8) in folded.bound.values()  # type: ignore[attr-defined]
    kept = rewrite(policy, "item.paid_amount / (item.quantity - 1) > 0")
    assert "divide" in calls(kept)  # not constants: computed per order


def test_the_inlined_has_is_present_on_every_shape_a_line_can_have(tmp_path: Path) -> None:
    policy = write(tmp_path / "p")
    tree = rewrite(policy, "has(item.warranty_days)")
    code = compile(ast.fix_missing_locations(ast.Expression(tree)), "<test>", "eval")
    for line in ({"warranty_days": 30}, {}, None, [], "text", {"warranty_days": None}):
        expected = isinstance(line, dict) and "warranty_days" in line
        assert eval(code, {"I": line, "isinstance": isinstance, "dict": dict}) is expected, line  # our own tree, no builtins beyond the two


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("claim.type == 'no_reason_return' and item.gift", "I['gift']"),
        ("claim.type == 'repair' and item.gift", "False"),
        ("claim.type != 'no_reason_return' or item.gift", "I['gift']"),
        ("claim.type in ('repair', 'no_reason_return')", "True"),
        ("not (claim.type == 'repair')", "True"),
        ("'refund' if claim.type == 'no_reason_return' else claim.resolution_requested", "'refund'"),
        ("item.gift and claim.type == 'repair'", "I['gift'] and False"),  # not leading: item.gift is still read first
    ],
)
def test_in_a_function_for_one_claim_type_the_type_is_a_constant(tmp_path: Path, text: str, written: str) -> None:
    policy = write(tmp_path / "p")
    assert ast.unparse(rewrite(policy, text, claim_type="no_reason_return")) == written
    assert any(dotted_path(node) == "claim.type" for node in ast.walk(rewrite(policy, text)))  # a function for no one type reads it


TYPES = """\
  - id: lowered.by_type
    title: {zh: 按类型, en: By type}
    description: 按申请类型退款 / refund by claim type
    stage: claim
    scope: claimed_line
    when: {expr: "claim.type in ('no_reason_return', 'quality_issue') and not (claim.type == 'quality_issue' and item.gift)"}
    then:
      - set: {claim.resolution: {expr: "'refund' if claim.type == 'no_reason_return' else claim.resolution_requested"}}
"""


@pytest.mark.parametrize("claim_type", ["no_reason_return", "quality_issue", "repair"])
def test_rules_reading_the_claim_type_decide_alike_in_each_function(tmp_path: Path, claim_type: str) -> None:
    policy = write(tmp_path / "p", TYPES)
    for facts in orders():
        facts["claim"]["type"] = claim_type
        facts["claim"]["resolution_requested"] = "exchange"
        fast, explained = decided(policy, facts, False), decided(policy, facts, True)
        assert fast == explained
        assert ("lowered.by_type" in fast["fired"]) is (claim_type != "repair")


def orders() -> list[dict[str, Any]]:
    base = load_example("seven-day-return-last-minute-approved.json")
    out = []
    for signed, warranty, late in ((True, 30, False), (False, None, False), (True, None, True)):
        facts = copy.deepcopy(base)
        if not signed:
            del facts["logistics"]["signed_at"]
            facts["logistics"]["status"] = "in_transit"
        if warranty is not None:
            facts["items"][0]["warranty_days"] = warranty
        if late:
            facts["claim"]["requested_at"] = facts["as_of"]
        out.append(facts)
    return out


def decided(policy: ruleengine.Policy, facts: dict[str, Any], explain: bool) -> Any:
    try:
        data = policy.evaluate(facts, explain=explain).to_dict()
    except ruleengine.EvaluationError as exc:
        return ("error", str(exc))
    data.pop("trace", None)
    return data


@pytest.mark.parametrize("index", range(3))
def test_both_paths_decide_alike(tmp_path: Path, index: int) -> None:
    policy = write(tmp_path / "p")
    facts = orders()[index]
    fast = decided(policy, facts, False)
    assert fast == decided(policy, facts, True)
    assert not isinstance(fast, tuple)


def test_a_constant_that_cannot_be_computed_fails_where_it_did(tmp_path: Path) -> None:
    policy = write(tmp_path / "p", OVERFLOW)
    facts = orders()[0]
    fast, explained = decided(policy, facts, False), decided(policy, facts, True)
    assert fast == explained
    assert fast[0] == "error" and "lowered.overflow" in fast[1] and "as_of + days(params.huge_days)" in fast[1]


def test_arithmetic_on_constants_is_exact(tmp_path: Path) -> None:
    policy = write(tmp_path / "p")
    tree = rewrite(policy, "0.1 + 0.2 == 0.3", item=False)
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.BinOp)]
    assert Decimal("0.3") in tree.bound.values()  # type: ignore[attr-defined]


CLAIM_HELD: Held = {("D", "claim"): "_q_claim", ("F", "claim"): "_q_fclaim", ("D", "services"): "_q_services"}


def test_parts_the_function_holds_are_read_from_its_locals(tmp_path: Path) -> None:
    """A function for orders with a claim holds the claim of the order and of the decision; has() asks only what is left."""
    policy = write(tmp_path / "p")
    text = "claim.requested_at < as_of and decision.claim.outcome == 'approved' and has_service(item, 'installation')"
    held = ast.unparse(rewrite(policy, text, held=CLAIM_HELD))
    assert "_q_fclaim['requested_at']" in held and "_q_claim['outcome']" in held and "_q_services[I['sku']]" in held
    assert "F['claim']" not in held and "D[" not in held
    assert ast.unparse(rewrite(policy, "has(claim.merchant_received_at)", held=CLAIM_HELD)) == (
        "isinstance(_q_fclaim, dict) and 'merchant_received_at' in _q_fclaim"
    )
    assert ast.unparse(rewrite(policy, "has(claim)", held=CLAIM_HELD)) == "True"
    assert "F['claim']" in ast.unparse(rewrite(policy, text))  # nothing held: read where it is


def test_a_claim_that_is_not_an_object_is_not_read_as_one(tmp_path: Path) -> None:
    """Held or not, has() under the claim still asks whether it is an object (trusted facts can be anything)."""
    policy = write(tmp_path / "p")
    code = compile(ast.fix_missing_locations(ast.Expression(rewrite(policy, "has(claim.sku)", held=CLAIM_HELD))), "<t>", "eval")
    for claim in ({"sku": "A"}, {}, "sku", ["sku"]):
        assert eval(code, {"_q_fclaim": claim, "isinstance": isinstance, "dict": dict}) is (isinstance(claim, dict) and "sku" in claim)


def _loop_body(code: str) -> list[ast.stmt]:
    return ast.parse(code).body


def test_what_is_the_same_at_every_turn_of_a_loop_is_computed_once_before_it() -> None:
    from ruleengine.runtime.lowering import hoisted

    body = _loop_body(
        "if (not I['gift'] and 'x' in F['shop']['services'] and F['channel'] == _q_c1) is True: pass\n"
        "if ('x' in F['shop']['services'] and isinstance(F['buyer'], _q_c9) and I['a']) is True: pass\n"
        "if (any(v > 1 for v in F['items']) and len(F['items']) > 1 and I['q'] > F['min']) is True: pass\n"
        "try:\n    r = F['campaign']['id'] == 'c'\nexcept KeyError:\n    r = None\n"
    )
    fixed = lambda name: name.id == "F" or name.id.startswith("_q_c")  # noqa: E731
    once = hoisted(body, fixed, frozenset({"isinstance"}), "_h")
    assert [ast.unparse(a) for a in once] == [
        "_h0 = 'x' in F['shop']['services']",  # met twice, computed once
        "_h1 = F['channel'] == _q_c1",
        "_h2 = isinstance(F['buyer'], _q_c9)",  # a pure call of fixed values
        "_h3 = F['items']",  # the iterable of a comprehension, which is itself computed per turn
        "_h4 = F['min']",
    ]
    code = "\n".join(ast.unparse(s) for s in body)
    assert "(not I['gift'] and _h0 and _h1) is True" in code and "(_h0 and _h2 and I['a']) is True" in code
    assert "any((v > 1 for v in _h3))" in code and "len(_h3) > 1" in code  # a comprehension, a call not named pure
    assert "I['q'] > _h4" in code
    assert "r = F['campaign']['id'] == 'c'" in code  # inside a try: an absent fact there is a value, not an error


def test_what_several_tests_read_first_is_read_once() -> None:
    from ruleengine.runtime.lowering import first_reads

    tests = [
        ast.parse(text, mode="eval").body
        for text in (
            "(not I['gift'] and a) is True",
            "(not I['gift']) is True",
            "(I['category'] in k and not I['gift']) is True",
            "(x in _q_own and b) is True",
            "(x in _q_own) is True",
        )
    ]
    first = first_reads(tests, frozenset({"_q_own"}), "_l")
    assert [ast.unparse(a) for a in first] == ["_l0 = not I['gift']"]
    assert [ast.unparse(t) for t in tests] == [
        "(_l0 and a) is True",
        "_l0 is True",
        "(I['category'] in k and _l0) is True",  # read once, used wherever it is read
        "(x in _q_own and b) is True",  # what the actions change is read where it is
        "(x in _q_own) is True",
    ]


AGGREGATES = """\
  - id: lowered.first_total
    title: {zh: 合计一, en: Total one}
    description: 非赠品实付合计 / the paid total of non-gift lines
    stage: claim
    scope: claimed_line
    when: {expr: "sum(l.paid_amount / (l.quantity - 2) for l in items if not l.gift) > 0 and item.quantity > 0"}
    then:
      - compensation: {type: late_shipment, amount: "1.00", form: red_packet, payer: merchant}
  - id: lowered.second_total
    title: {zh: 合计二, en: Total two}
    description: 同一合计与已有赔付 / the same total, and the compensations so far
    stage: claim
    scope: claimed_line
    when: {expr: "sum(l.paid_amount / (l.quantity - 2) for l in items if not l.gift) > count(decision.compensations)"}
    then:
      - set: {claim.outcome: approved}
"""


def test_an_aggregate_of_the_order_is_computed_once_an_order_and_of_the_decision_every_time(tmp_path: Path) -> None:
    """The same sum over the lines in two rules is one kept value; a count of the decision's compensations is not kept."""
    from ruleengine.runtime.lowering import memoized

    policy = write(tmp_path / "p", AGGREGATES)
    kept: list[str] = []

    def memo(part: ast.expr) -> ast.expr:
        kept.append(ast.dump(part))
        return ast.Name(id=f"_m{len(kept) - 1}", ctx=ast.Load())

    fixed = lambda name: name.id == "F" or isinstance(name, Const)  # noqa: E731
    for rule in policy.rules[-2:]:
        memoized(rule.when.compiled.py, fixed, memo)  # type: ignore[union-attr]
    from ruleengine.runtime.programwriter import _canonical_generators

    assert len(kept) == 2 and "paid_amount" in kept[0]  # the order's sum, met twice; never the count
    assert kept[0] != kept[1] and _canonical_generators(kept[0]) == _canonical_generators(kept[1])  # one key: one value kept


@pytest.mark.parametrize("quantity", [2, 3])
def test_a_kept_aggregate_decides_and_fails_where_each_rule_computing_it_would(tmp_path: Path, quantity: int) -> None:
    """Quantity 2 divides by zero in the first rule that sums (an error there, as explaining reports it); 3 decides."""
    policy = write(tmp_path / "p", AGGREGATES)
    facts = orders()[0]
    for line in facts["items"]:
        line["quantity"] = quantity
    facts["claim"]["quantity"] = 1
    fast, explained = decided(policy, facts, False), decided(policy, facts, True)
    assert fast == explained
    if quantity == 2:
        assert fast[0] == "error" and "lowered.first_total" in fast[1]
    else:
        assert "lowered.first_total" in fast["fired"] and "lowered.second_total" in fast["fired"]
    (decide,) = policy.compiled.functions.values()  # the one fast function built keeps the two rules' sum in one local
    kept = [name for name in (*decide.__code__.co_varnames, *decide.__code__.co_cellvars) if name.startswith("_q_m")]
    assert len(kept) == 2, kept  # the window rule's start of day, and the sum both total rules read: one local, not two
