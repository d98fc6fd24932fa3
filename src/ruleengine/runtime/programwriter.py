"""Writes a policy's rules as the code of one function, for one kind of claim: plain, or traced.

The rule versions that can apply to the kind are written out in evaluation order: the version
chosen by comparing the order's instant with its effective window, the condition as the
statements ``conditions.emit`` writes, each action inline or through a closure prepared here
(``actioncode``), the group stops as dictionary lookups, and the step budget charged every few
rules rather than at every visit. What the kind settles is settled in the code (``claimfolds``).

The traced variant is written by the same writer from the same checked trees: every rule is
visited (those the plain function leaves out are reported as skipped, or as not matched on the
condition that excludes the claim type), and every visit and action is reported as it happens
(``_t_visit`` and ``_t_apply``: the fields of a ``RuleVisited`` and an ``ActionApplied`` event), with every condition node recorded.
Its *shown* form, for explaining without a listener, reports each visit as the trace's entry and
each condition node as the trace shows it, written by the code itself (``events.Reporters.shown``).

The code is assembled from the checked syntax trees of the expressions, fixed templates and the
engine's own names — never from rule text — and compiled with no builtins. A failure is reported
as the plain path reports it: the code keeps the number of the rule or action running (its
*site*), and the handler turns the exception into the same EvaluationError.
"""

from __future__ import annotations

import ast
import contextlib
import datetime as dt
import functools
import itertools
import re
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..errors import EvaluationError
from ..lang import types as t
from ..lang.codegen import runtime_globals
from ..lang.functions import make_calendar
from ..lang.ir import DECISION, FACTS, ITEM, Compiled, Const, const_id, engine_id, walk
from ..lang.templates import SCALARS, formatter, in_other_language, text_writer
from ..model.conditions import ABSENT_VALUE, Condition, NodeResult, emit, emit_traced, leaves, trace_node
from .actioncode import (
    DEFERRED_REASON,
    FORMAT_NOW,
    REASON,
    SET,
    SET_CHECKED,
    UNIQUE,
    claim_needed,
    clash_of,
    deduction_of,
    money_of,
    refined,
    same_stage,
)
from .claimfolds import excluding, known_type, without_claim
from .evaluation import Budget, action_failure, charge, checked, field_type, locate_failure, not_in_effect
from .lowering import Folded, Held, first_reads, hoisted, lowered, memoized
from .pytrees import assign, call, filled_copy, joined, load_name, locate, method_call, not_in, parsed_template, store_name

if TYPE_CHECKING:
    from ..model.rules import Action, Rule
    from .policy import Policy

Decide = Callable[..., None]
"""A generated function: it fills in the decision it is given (arguments: ``ARGS``)."""

CHARGE_EVERY = 64
"""Rule visits between two checks of the budget (as the explaining path does)."""
BATCH = 16
"""Order and claimed-line rules whose visits are added to the count in one statement."""

INSTANTS = {"paid_at": "_q_t_paid", "placed_at": "_q_t_placed", "as_of": "_q_t_as_of", "claim.requested_at": "_q_t_requested"}
ARGS = (
    FACTS,
    DECISION,
    "_q_items",
    "_q_nitems",
    "_q_claimed",
    "_q_claimed_line",
    "_q_claim",
    "_q_services",
    "_q_compensations",
    "_q_violations",
    "_q_fired",
    "_q_writers",
    "_q_stopped",
    "_q_budget",
    *INSTANTS.values(),
    "_q_texts",
)

OUTCOME = {True: "matched", False: "not_matched", None: "not_met"}
"""A rule visit's outcome by the value of its condition."""

UNNAMED = "\x00unnamed"
"""The key of orders whose claim type no rule names (no claim type is text with a NUL)."""


class Writer:
    """Writes the code of one function: its statements, the constants and closures it names, its sites."""

    def __init__(
        self,
        policy: Policy,
        key: str | None,
        traced: bool = False,
        shown: bool = False,
        deferred_texts: bool = False,
        fused: bool = False,
    ) -> None:
        self.policy = policy
        self.key = key
        """The claim type every order of this function has (None: no claim; UNNAMED: a type no rule names)."""
        self.traced = traced
        """Report every rule visit and action (``_t_visit``, ``_t_apply``), and record every condition node in ``_t_rec``."""
        self.shown = shown
        """Traced, and the code writes each visit's entry and condition node as the trace shows them, instead of
        reporting a ``RuleVisited``'s fields and ``NodeResult`` records (``events.Reporters.shown``)."""
        self.active: set[int] = set()
        """The rules (by id) the fast function runs: only they run, and only they are charged, in both."""
        self.namespace: dict[str, Any] = runtime_globals(make_calendar(policy.timezone))
        self.sites: list[tuple[Rule, Action | None]] = []
        self.counter = itertools.count()
        self.pending = 0
        self.stop_groups = {r.group for r in policy.rules for a in (*r.then, *r.otherwise) if a.kind == "stop"}
        self.located: dict[int, ast.AST] = {}
        """Complete trees in the code, by id (held, so that no id is reused during the build): checked expressions, filled templates."""
        self.claimed_keys: dict[str, str] = {}
        """Group → the local holding its stop key for the claimed line."""
        self.lowered: dict[int, tuple[Compiled, ast.expr]] = {}
        """The plain code's rewritten trees, by the expression's id (``checked``)."""
        self.builtins: tuple[ast.Name, ast.Name] | None = None
        """The code's names for isinstance and dict, once an inlined has() needs them."""
        self.boundaries: dict[tuple[str, Any], str] = {}
        """(instant, boundary) → the local holding ``instant < boundary`` once compared (``before``)."""
        self.deferred_texts = deferred_texts and not traced
        """Reasons' texts are written when the decision is read (``Decision``): the code keeps their values."""
        self.fused = fused and not traced
        """Runs of line rules that only add services share one loop over the lines (``fuse``); a failure there is ``Unfused``."""
        self.scope: str | None = None
        """The scope of the rule being written (``rule``, ``fuse``): on the claimed line, the item is the same all through."""
        self.memos: dict[str, str] = {}
        """A part computed once an order (``lowering.memoized``), by its code → the local keeping its value."""
        self.held: Held = {}
        """Parts of the decision and the order the plain code reads from its locals (``lowering``): with a claim, the claims."""
        if not traced:
            self.held = {(DECISION, "services"): "_q_services", (DECISION, "compensations"): "_q_compensations"}
            self.held[DECISION, "violations"] = "_q_violations"
            if key is not None:
                self.held |= {(DECISION, "claim"): "_q_claim", (FACTS, "claim"): "_q_fclaim"}

    def fill(self, template: str, **names: ast.expr) -> list[ast.stmt]:
        """The statements of ``template`` (fixed code of this module) with each NAME in capitals replaced.

        The copies keep the template's locations and the values put in are located first, so the
        statements are complete: the final walk over the function skips them.
        """
        for value in names.values():
            locate(value, self.located)
        statements: list[ast.stmt] = [filled_copy(statement, names) for statement in parsed_template(template)]
        if self.key is not None:  # every order of the function has a claim: no action needs to ask
            statements = [statement for statement in statements if not _asks_for_the_claim(statement)]
        self.located.update((id(statement), statement) for statement in statements)
        return statements

    def checked(self, compiled: Compiled) -> ast.expr:
        """A checked expression's tree: as is in the traced code (located at load, never walked again), rewritten
        in the plain code (``lowering``: has() inlined, constants computed), once per expression."""
        if hasattr(compiled.py, "lineno"):
            self.located[id(compiled.py)] = compiled.py
        if self.traced:
            return compiled.py
        cached = self.lowered.get(id(compiled))
        if cached is None or cached[0] is not compiled:
            if self.builtins is None:
                self.builtins = (self.bind(isinstance), self.bind(dict))
            claim_type = None if self.key is None or self.key == UNNAMED else self.key
            tree = lowered(compiled.py, self.bind, *self.builtins, held=self.held, claim_type=claim_type)
            tree = memoized(tree, self.fixed_in_rule, self.memo)
            cached = self.lowered[id(compiled)] = (compiled, tree)
            if hasattr(compiled.py, "lineno"):  # the copy keeps the tree's lines (a failure names its leaf by them)
                self.located[id(cached[1])] = cached[1]
        return cached[1]

    def bind(self, value: Any, prefix: str = "_q_c") -> ast.Name:
        """A global name for a value the code uses (a constant, or a closure prepared here)."""
        name = f"{prefix}{len(self.namespace)}"
        self.namespace[name] = value
        return load_name(name)

    def site(self, rule: Rule, action: Action | None) -> ast.Constant:
        """A number for the rule (its condition) or action about to run: the failure handler reads it."""
        self.sites.append((rule, action))
        return ast.Constant(len(self.sites) - 1)

    # -- the function
    def function(self, rules: list[Rule], active: set[int], name: str) -> Decide:
        self.active = active
        body: list[ast.stmt] = [
            assign(ITEM, ast.Constant(None)),
            assign("_q_line", ast.Constant(None)),
            assign("_q_site", ast.Constant(0)),
            assign("_q_visits", ast.Constant(0)),
        ]
        if (FACTS, "claim") in self.held:
            body.append(assign("_q_fclaim", ast.Subscript(load_name(FACTS), ast.Constant("claim"), ast.Load())))
        checked_body: list[ast.stmt] = []
        index = 0
        while index < len(rules):
            end = index
            while end < len(rules) and self.fusable(rules[end]):
                end += 1
            if end - index >= 2:
                checked_body += self.fuse(rules[index:end], _services_added(rules[:index]))
                index = end
                continue
            run: list[ast.stmt] = []  # plain rules on the claimed line, one after another: the line is set once for all
            while index < len(rules) and self.joins_the_claimed_line(rules[index]):
                run += self.rule(rules[index], claimed_set=True)
                index += 1
            if run:
                checked_body += self.on_claimed_line(run, [])
            else:
                checked_body += self.rule(rules[index])
                index += 1
        for group, local in self.claimed_keys.items():
            body.append(assign(local, ast.Tuple([ast.Constant(group), load_name("_q_claimed_line")], ast.Load())))
        body += [assign(local, ast.Constant(None)) for local in self.boundaries.values()]
        body += [assign(local, load_name("_q_unset")) for local in self.memos.values()]
        handler = ast.ExceptHandler(
            load_name("_q_Exception"),
            "_q_exc",
            [
                ast.Raise(
                    call("_q_fail", load_name("_q_site"), load_name(ITEM), load_name("_q_exc"), load_name(FACTS), load_name(DECISION)),
                    ast.Constant(None),
                )
            ],
        )
        body.append(
            ast.Try(
                body=checked_body or [ast.Pass()],
                handlers=[ast.ExceptHandler(load_name("_q_EvaluationError"), None, [ast.Raise()]), handler],
                orelse=[],
                finalbody=[],
            )
        )
        names = (*ARGS, "_t_visit", "_t_apply") if self.traced else ARGS
        args = ast.arguments(posonlyargs=[], args=[ast.arg(a) for a in names], kwonlyargs=[], kw_defaults=[], defaults=[])
        func = ast.FunctionDef(name="decide", args=args, body=body, decorator_list=[], returns=None)
        locate(func, self.located)
        for index, constant in enumerate(self.policy.environment.constants):
            self.namespace[const_id(index)] = constant
        sites = self.sites

        def fail(site: int, item: Any, exc: Exception, facts: Any, decision: Any) -> EvaluationError:
            rule, action = sites[site]
            if action is None:
                return locate_failure(rule, item, exc, facts, decision)
            return action_failure(rule, action, exc)

        def tick(budget: Budget, site: int, visits: int) -> int:
            charge(budget, sites[site][0], visits)
            return 0

        self.namespace.update(
            _q_fail=fail,
            _q_tick=tick,
            _q_in_other_language=in_other_language,
            _q_Exception=Exception,
            _q_EvaluationError=EvaluationError,
            _q_Unfused=Unfused,
            _q_unset=_UNSET,
        )
        if self.traced:
            self.namespace.update(_t_outcome=OUTCOME, _t_not_in_effect=not_in_effect, _t_tuple=tuple)
        code = compile(ast.Module([func], type_ignores=[]), f"<{name}>", "exec")
        exec(code, self.namespace)
        decide: Decide = self.namespace["decide"]
        return decide

    # -- one rule version
    def rule(self, rule: Rule, claimed_set: bool = False) -> list[ast.stmt]:
        """The rule version's code; ``claimed_set``: a rule on the claimed line whose caller has set the line (``on_claimed_line``)."""
        if id(rule) not in self.active:
            return self.left_out(rule)
        self.scope = rule.scope
        out = self.charge(rule)
        per: list[ast.stmt] = [assign("_q_site", self.site(rule, None))]
        line = {"order": None, "line": "_q_line", "claimed_line": "_q_claimed_line"}[rule.scope]
        if line == "_q_line" and (
            self.traced
            or rule.group in self.stop_groups
            or rule.table is not None
            or any(a.kind in ("add_service", "stop") for a in (*rule.then, *rule.otherwise))
        ):
            per.append(assign("_q_line", ast.Subscript(load_name(ITEM), ast.Constant("sku"), ast.Load())))
        body: list[ast.stmt] = []
        when = self.condition(rule)
        for leaf in leaves(when):
            self.checked(leaf.compiled)
        if self.traced:
            body.append(assign("_t_rec", ast.List([], ast.Load())))
            result = emit_traced(when, body, self.counter, self.bind, self.shown)
            outcome = ast.Subscript(load_name("_t_outcome"), result, ast.Load())
            records = load_name("_t_rec") if self.shown else call("_t_tuple", load_name("_t_rec"))
            matched = ast.Compare(result, [ast.Is()], [ast.Constant(True)])
            body.append(self.visit(rule, line, outcome, conditions=records, matched=matched))
        else:
            result = emit(when, body, self.counter, lambda leaf: self.checked(leaf.compiled))
        then = self.actions(rule, rule.then, line)
        if rule.table is not None and rule.table.hit == "unique":
            then = self.unique(rule, line) + then
        otherwise = self.actions(rule, rule.otherwise, line)
        body.append(ast.If(ast.Compare(result, [ast.Is()], [ast.Constant(True)]), then or [ast.Pass()], otherwise))
        per += self.unless_stopped(rule, line, body)
        block: list[ast.stmt]
        if rule.scope == "order":
            block = per
        elif rule.scope == "line":
            block = [ast.For(store_name(ITEM), load_name("_q_items"), per, []), assign(ITEM, ast.Constant(None))]
        elif claimed_set:
            block = per
        else:
            block = self.on_claimed_line(per, [self.skipped(rule, None, ast.Constant("no claim in the order"))] if self.traced else [])
        guard = self.in_effect(rule)
        if guard is None:
            return [*out, *block]
        elsewhere = [self.skipped(rule, None, call("_t_not_in_effect", self.bind(rule), load_name(INSTANTS[rule.effective_on])))]
        return [*out, ast.If(guard, block, elsewhere if self.traced else [])]

    def joins_the_claimed_line(self, rule: Rule) -> bool:
        """A plain rule on the claimed line whose code is its own visit alone: no budget charge written before it, no
        version window around it. Those stay outside the claimed-line test, where an order without a claimed line
        still meets them."""
        windowed = rule.effective_on == "claim.requested_at" or rule.effective_from is not None or rule.effective_until is not None
        return not self.traced and rule.scope == "claimed_line" and self.pending + 1 < BATCH and not windowed

    def on_claimed_line(self, body: list[ast.stmt], without: list[ast.stmt]) -> list[ast.stmt]:
        """``body`` with the claimed line as the item (``without``: when the order has no claim)."""
        claimed = ast.Compare(load_name("_q_claimed"), [ast.IsNot()], [ast.Constant(None)])
        return [ast.If(claimed, [assign(ITEM, load_name("_q_claimed")), *body, assign(ITEM, ast.Constant(None))], without)]

    def condition(self, rule: Rule) -> Condition:
        """The rule's condition as this function computes it: what the claim type settles is settled (``claimfolds``)."""
        if self.traced:  # the condition as written: what the folds settle, it computes, to show it
            return rule.when
        if self.key is None:
            return without_claim(rule.when)
        if self.key == UNNAMED:
            return rule.when
        return known_type(rule.when, self.key, self.policy.environment)

    def fusable(self, rule: Rule) -> bool:
        """A line rule that only adds services, reading of the decision only its own line's services: it can share a loop."""
        return (
            self.fused
            and id(rule) in self.active
            and rule.scope == "line"
            and rule.group not in self.stop_groups
            and rule.table is None
            and self.in_effect(rule) is None
            and bool(rule.then)
            and not rule.otherwise
            and all(a.kind == "add_service" for a in rule.then)
            and all(_reads_only_its_line(leaf.compiled.py) for leaf in leaves(self.condition(rule)))
        )

    def fuse(self, rules: list[Rule], added: set[str] | None) -> list[ast.stmt]:
        """Line rules that only add services, in one loop over the lines: each line runs them in order.

        What a line's services are when a rule reads them, and so every decision, is what one loop per rule gives;
        the rules that fired are recorded after the loop, in rule order. Only an error could tell: which rule
        and line fails first. So any exception in the loop is ``Unfused``: the order is decided again by the
        function written without fused loops, which reports it as it would.

        ``added``: the services the rules before may have added (None: any). A service no rule before and none
        earlier in the loop adds cannot be on the line yet (its sku is its own: facts with a repeated sku are
        refused before any rule runs), so it is appended without looking.
        """
        added = None if added is None else set(added)
        charges: list[ast.stmt] = []
        for rule in rules:  # the budget is charged as the separate loops charge it, rule by rule (inside the try:
            charges += self.charge(rule)  # a budget exceeded there is a failure the loops could report otherwise)
        charges = self.at_once(charges)
        self.scope = "line"
        hits = [f"_q_hit{next(self.counter)}" for _ in rules]
        out: list[ast.stmt] = [assign(hit, ast.Constant(False)) for hit in hits]
        per: list[ast.stmt] = []
        for rule, hit in zip(rules, hits, strict=True):
            result = emit(self.condition(rule), per, self.counter, lambda leaf: self.checked(leaf.compiled))
            then: list[ast.stmt] = [assign(hit, ast.Constant(True))]
            for action in rule.then:  # add_service (``fusable``), to the line's own services
                service = ast.Constant(action.target)
                if added is not None and action.target not in added:
                    added.add(action.target)
                    then.append(method_call("_q_own", "append", service))
                else:
                    then.append(ast.If(not_in(service, "_q_own"), [method_call("_q_own", "append", service)], []))
            per.append(ast.If(ast.Compare(result, [ast.Is()], [ast.Constant(True)]), then, []))
        # What is the same for every line (the shop's services, the channel …) is computed once, before the loop; a
        # failure there is a failure in the loop (Unfused). The line's own services are read once per line.
        assert self.builtins is not None  # the conditions were lowered
        once = hoisted(per, self.fixed, frozenset({self.builtins[0].id}), f"_q_f{next(self.counter)}_")
        per[:] = [_OwnServices().visit(statement) for statement in per]
        tests = [statement for statement in per if isinstance(statement, ast.If)]
        conditions = [statement.test for statement in tests]
        first = first_reads(conditions, frozenset({"_q_own", "_q_x", DECISION}), f"_q_l{next(self.counter)}_")
        for statement, condition in zip(tests, conditions, strict=True):
            statement.test = condition
        sku = ast.Subscript(load_name(ITEM), ast.Constant("sku"), ast.Load())
        reads_line = any(_named(node, "_q_line") for statement in per for node in walk(statement))
        line = [assign("_q_line", sku)] if reads_line else []  # the line's sku, when something still reads it
        own = ast.Subscript(load_name("_q_services"), load_name("_q_line") if reads_line else sku, ast.Load())
        per[:0] = [*line, assign("_q_own", own), *first]
        unfused = ast.ExceptHandler(load_name("_q_Exception"), None, [ast.Raise(call("_q_Unfused"), ast.Constant(None))])
        loop = ast.For(store_name(ITEM), load_name("_q_items"), per, [])
        out += [ast.Try(body=[*charges, *once, loop], handlers=[unfused], orelse=[], finalbody=[]), assign(ITEM, ast.Constant(None))]
        for rule, hit in zip(rules, hits, strict=True):
            fired = ast.Assign([ast.Subscript(load_name("_q_fired"), ast.Constant(rule.id), ast.Store())], ast.Constant(None))
            out.append(ast.If(load_name(hit), [fired], []))
        return out

    @staticmethod
    def at_once(charges: list[ast.stmt]) -> list[ast.stmt]:
        """Charges of several rules as one addition when none of them would reach a check: the same count, no test each.

        ``charges`` are ``charge``'s statements; when the visits so far and theirs stay under ``CHARGE_EVERY``, none
        of their checks would run, so adding them at once leaves the count where they would; otherwise they run as
        written (each check where it falls).
        """
        additions = [statement.value for statement in charges if isinstance(statement, ast.AugAssign)]
        if len(additions) < 2:
            return charges
        lines, fixed = 0, 0  # the visits: so many times the order's lines, plus so many
        for visits in additions:
            if isinstance(visits, ast.BinOp) and isinstance(visits.right, ast.Constant) and isinstance(visits.right.value, int):
                fixed += visits.right.value
                visits = visits.left
            if isinstance(visits, ast.Constant) and isinstance(visits.value, int):
                fixed += visits.value
            else:
                assert isinstance(visits, ast.Name) and visits.id == "_q_nitems", ast.dump(visits)
                lines += 1

        def total() -> ast.expr:
            each: ast.expr = ast.BinOp(ast.Constant(lines), ast.Mult(), load_name("_q_nitems"))
            return ast.BinOp(each, ast.Add(), ast.Constant(fixed)) if fixed else each

        under = ast.Compare(ast.BinOp(load_name("_q_visits"), ast.Add(), total()), [ast.Lt()], [ast.Constant(CHARGE_EVERY)])
        return [ast.If(under, [ast.AugAssign(store_name("_q_visits"), ast.Add(), total())], charges)]

    def fixed_in_rule(self, name: ast.Name) -> bool:
        """``fixed``, and in a function for orders with a claim the order's claim; on the claimed line, the line."""
        return self.fixed(name) or name.id == "_q_fclaim" or (name.id == ITEM and self.scope == "claimed_line")

    def memo(self, part: ast.expr) -> ast.expr:
        """``part`` computed at most once an order: ``(m if m is not _q_unset else (m := part))``."""
        key = _canonical_generators(ast.dump(part))
        local = self.memos.get(key)
        if local is None:
            local = self.memos[key] = f"_q_m{len(self.memos)}"
        names = [load_name(local), load_name("_q_unset"), load_name(local), store_name(local)]
        known = ast.Compare(names[0], [ast.IsNot()], [names[1]])
        computed = ast.NamedExpr(names[3], part)
        kept = ast.IfExp(known, names[2], computed)
        for node in (kept, known, computed, *names):  # where the part is (a failure names its leaf by the line)
            ast.copy_location(node, part)
        return kept

    def fixed(self, name: ast.Name) -> bool:
        """Whether a name in the plain code holds the same value all through an order: the order, a constant."""
        bound = type(name) is ast.Name and name.id.startswith("_q_c") and name.id[4:].isdigit()  # bind()'s names, not _q_claim
        return name.id == FACTS or isinstance(name, Const | Folded) or bound

    def unless_stopped(self, rule: Rule, line: str | None, body: list[ast.stmt]) -> list[ast.stmt]:
        """``body``, unless the rule's group was stopped for this line or for the whole order (a stop in an order-scope rule)."""
        if rule.group not in self.stop_groups:
            return body
        tests = [not_in(self.stop_key(rule.group, None), "_q_stopped")]
        if line is not None:
            tests.insert(0, not_in(self.stop_key(rule.group, line), "_q_stopped"))
        stopped: list[ast.stmt] = []
        if self.traced:
            by: list[ast.expr] = [ast.Subscript(load_name("_q_stopped"), self.stop_key(rule.group, None), ast.Load())]
            if line is not None:
                by.insert(0, ast.Call(ast.Attribute(load_name("_q_stopped"), "get", ast.Load()), [self.stop_key(rule.group, line)], []))
            stopper = ast.BoolOp(ast.Or(), by) if len(by) > 1 else by[0]
            reason = joined([ast.Constant(f"group '{rule.group}' stopped by "), stopper])
            stopped = [self.skipped(rule, line, reason)]
        # Until the first stop (most orders have none, or one late) the empty bookkeeping answers for both keys.
        held = ast.BoolOp(ast.And(), tests) if len(tests) > 1 else tests[0]
        unstopped = ast.BoolOp(ast.Or(), [ast.UnaryOp(ast.Not(), load_name("_q_stopped")), held])
        return [ast.If(unstopped, body, stopped)]

    def unique(self, rule: Rule, line: str | None) -> list[ast.stmt]:
        """A row of a ``unique`` table that matches: an error if another row of the table matched (for this line)."""
        assert rule.table is not None
        where: ast.expr = ast.Constant(None) if line is None else load_name(line)
        key = ast.Tuple([ast.Constant(f"\x00table {rule.table.id}"), where], ast.Load())
        return self.fill(UNIQUE, KEY=key, CLASH=self.bind(clash_of(rule), "_q_a"), RULE=self.bind(rule))

    def left_out(self, rule: Rule) -> list[ast.stmt]:
        """A rule the fast function leaves out, in the traced one: reported, never run, never charged."""
        if rule.effective_on == "claim.requested_at" and self.key is None:
            return [self.skipped(rule, None, ast.Constant("no claim.requested_at to choose a version by"))]
        guard = self.in_effect(rule)
        if rule.scope == "claimed_line" and self.key is None:
            report = [self.skipped(rule, None, ast.Constant("no claim in the order"))]
        else:
            # The rule index rules it out: the leaf requiring other claim types is false, and nothing else runs.
            leaf = excluding(rule.when, self.policy.environment)
            records: list[ast.expr] = []
            # Without a claim the leaf reads an absent fact (not met); with one, its type is not among those it requires.
            result = ast.Constant(None if self.key is None else False)
            outcome = ast.Constant("not_met" if self.key is None else "not_matched")
            if leaf is not None and self.shown:
                said = ast.Constant("not_met" if self.key is None else False)  # the result as the trace says it
                if rule.when is not leaf:
                    records.append(trace_node(rule.when, said))
                if self.key is None:
                    records.append(trace_node(leaf, said, {"claim.type": ast.Constant(None)}, absent=["claim.type"]))
                else:
                    claim_type = ast.Subscript(load_name("_q_claim"), ast.Constant("type"), ast.Load())
                    records.append(trace_node(leaf, said, {"claim.type": claim_type}))
            elif leaf is not None:
                node_result = self.bind(NodeResult).id
                if rule.when is not leaf:
                    records.append(call(node_result, self.bind(rule.when), result, ast.Dict([], [])))
                read = (
                    self.bind(ABSENT_VALUE) if self.key is None else ast.Subscript(load_name("_q_claim"), ast.Constant("type"), ast.Load())
                )
                records.append(call(node_result, self.bind(leaf), result, ast.Dict([ast.Constant("claim.type")], [read])))
            line = {"order": None, "line": "_q_line", "claimed_line": "_q_claimed_line"}[rule.scope]
            nodes = ast.List(records, ast.Load()) if self.shown else ast.Tuple(records, ast.Load())
            report = self.unless_stopped(rule, line, [self.visit(rule, line, outcome, conditions=nodes)])
            if rule.scope == "line":
                each = [assign("_q_line", ast.Subscript(load_name(ITEM), ast.Constant("sku"), ast.Load())), *report]
                report = [ast.For(store_name(ITEM), load_name("_q_items"), each, []), assign(ITEM, ast.Constant(None))]
        if guard is None:
            return report
        elsewhere = self.skipped(rule, None, call("_t_not_in_effect", self.bind(rule), load_name(INSTANTS[rule.effective_on])))
        return [ast.If(guard, report, [elsewhere])]

    def event(self, report: ast.expr) -> ast.stmt:
        """A call of ``_t_visit`` or ``_t_apply`` as a statement."""
        return ast.Expr(report)

    def skipped(self, rule: Rule, line: str | None, reason: ast.expr) -> ast.stmt:
        """A rule visit that did not run the rule: ``reason`` says why (a text, never empty)."""
        return self.visit(rule, line, ast.Constant("skipped"), reason)

    def visit(
        self,
        rule: Rule,
        line: str | None,
        outcome: ast.expr,
        reason: ast.expr | None = None,
        conditions: ast.expr | None = None,
        matched: ast.expr | None = None,
    ) -> ast.stmt:
        """Report a rule visit: ``_t_visit`` with a ``RuleVisited``'s fields, or, ``shown``, with the trace's entry
        itself up to its conditions, as ``TraceBuilder.visited`` writes one (``matched``: None when it cannot be).

        ``line`` is the local holding the line's sku (None: order scope).
        """
        if not self.shown:
            where: ast.expr = ast.Constant(None) if line is None else load_name(line)
            fields = [self.bind(rule), where, outcome, ast.Constant("") if reason is None else reason]
            return self.event(call("_t_visit", *fields, *([] if conditions is None else [conditions])))

        def entry(with_line: bool) -> ast.Dict:
            items: dict[str, ast.expr] = {"rule": ast.Constant(rule.id), "matched": matched or ast.Constant(False)}
            if with_line:
                assert line is not None
                items["line"] = load_name(line)
            if rule.versions > 1:
                items["version"] = ast.Constant(rule.version)
            items["outcome"] = outcome
            if reason is not None:
                assert not isinstance(reason, ast.Constant) or reason.value
                items["reason"] = reason
            if conditions is not None and not (isinstance(conditions, ast.List) and not conditions.elts):
                items["conditions"] = conditions
            return ast.Dict([ast.Constant(k) for k in items], list(items.values()))

        if line is None:
            return self.event(call("_t_visit", entry(False)))
        has_line = ast.Compare(load_name(line), [ast.IsNot()], [ast.Constant(None)])  # as the builder: no line, no key
        return self.event(call("_t_visit", ast.IfExp(has_line, entry(True), entry(False))))

    def stop_key(self, group: str, line: str | None) -> ast.expr:
        """The key of a group stopped for a line; the claimed line's keys are built once, at the start."""
        if line is None:
            return ast.Tuple([ast.Constant(group), ast.Constant(None)], ast.Load())
        if line == "_q_line":
            return ast.Tuple([ast.Constant(group), load_name(line)], ast.Load())
        name = self.claimed_keys.get(group)
        if name is None:
            name = self.claimed_keys[group] = f"_q_group{len(self.claimed_keys)}"
        return load_name(name)

    def in_effect(self, rule: Rule) -> ast.expr | None:
        """The test choosing this version by its effective window (None: every order; ``joins_the_claimed_line`` knows when)."""
        instant = load_name(INSTANTS[rule.effective_on])
        tests: list[ast.expr] = []
        if rule.effective_on == "claim.requested_at":
            tests.append(ast.Compare(instant, [ast.IsNot()], [ast.Constant(None)]))
        if self.traced:
            if rule.effective_from is not None:
                tests.append(ast.Compare(self.bind(rule.effective_from), [ast.LtE()], [instant]))
            if rule.effective_until is not None:
                tests.append(ast.Compare(instant, [ast.Lt()], [self.bind(rule.effective_until)]))
        else:  # from B: not (instant < B); until B: instant < B — each comparison made once an order
            if rule.effective_from is not None:
                tests.append(ast.UnaryOp(ast.Not(), self.before(rule.effective_on, rule.effective_from)))
            if rule.effective_until is not None:
                tests.append(self.before(rule.effective_on, rule.effective_until))
        if not tests:
            return None
        return tests[0] if len(tests) == 1 else ast.BoolOp(ast.And(), tests)

    def before(self, on: str, bound: Any) -> ast.expr:
        """``instant < bound``, compared at most once an order: the first version asking compares, the others read it.

        Versions of a rule (and rows of a table) share their boundaries; comparing an order's instant with a
        policy's costs ~0.35 µs when their offsets are two objects. Computed where it was first needed, so a
        failure is where it was.
        """
        name = self.boundaries.get((on, bound))
        if name is None:
            name = self.boundaries[(on, bound)] = f"_q_e{len(self.boundaries)}"
        compare = ast.Compare(load_name(INSTANTS[on]), [ast.Lt()], [self.bind(bound)])
        known = ast.Compare(load_name(name), [ast.IsNot()], [ast.Constant(None)])
        return ast.IfExp(known, load_name(name), ast.NamedExpr(store_name(name), compare))

    def charge(self, rule: Rule) -> list[ast.stmt]:
        """Count the visits before the rule; check the budget when enough have been counted (a rule on the order or the
        claimed line adds to ``pending``, written as code every ``BATCH`` rules)."""
        if rule.scope == "line":
            visits: ast.expr = load_name("_q_nitems")
            if self.pending:
                visits = ast.BinOp(visits, ast.Add(), ast.Constant(self.pending))
        else:
            self.pending += 1
            if self.pending < BATCH:
                return []
            visits = ast.Constant(self.pending)
        self.pending = 0
        return [
            ast.AugAssign(store_name("_q_visits"), ast.Add(), visits),
            ast.If(
                ast.Compare(load_name("_q_visits"), [ast.GtE()], [ast.Constant(CHARGE_EVERY)]),
                [assign("_q_visits", call("_q_tick", load_name("_q_budget"), self.site(rule, None), load_name("_q_visits")))],
                [],
            ),
        ]

    # -- actions
    def actions(self, rule: Rule, actions: list[Action], line: str | None) -> list[ast.stmt]:
        if not actions:
            return []
        out: list[ast.stmt] = [ast.Assign([ast.Subscript(load_name("_q_fired"), ast.Constant(rule.id), ast.Store())], ast.Constant(None))]
        for action in actions:
            out.append(assign("_q_site", self.site(rule, action)))
            out += self.action(rule, action, line)
            if self.traced and action.kind != "set":  # a set reports itself: it knows whether it was overridden
                value = load_name("_q_x") if action.kind in ("compensation", "deduction", "reason") else ast.Constant(None)
                out.append(self.applied(rule, action, line, value, ast.Constant("applied"), ast.Constant("")))
        return out

    def applied(self, rule: Rule, action: Action, line: str | None, value: ast.expr, status: ast.expr, note: ast.expr) -> ast.stmt:
        where: ast.expr = ast.Constant(None) if line is None else load_name(line)
        return self.event(call("_t_apply", self.bind(rule), where, self.bind(action), value, status, note))

    def set(self, rule: Rule, action: Action, line: str | None) -> list[ast.stmt]:
        ftype = field_type(self.policy, action.target)
        template, value = SET, self.value(action)
        if action.value is not None and action.value.compiled is None:
            # A literal is checked now; if the field refuses it, the rule fails when it runs, as before.
            with contextlib.suppress(EvaluationError):
                template, value = SET_CHECKED, self.literal(checked(rule, action, action.value.literal, ftype))
        if self.traced:
            template = template.replace("    SAME_STAGE(", "    _q_status = SAME_STAGE(")
            template = template.replace(
                "if _q_previous is None or _q_previous[0] != STAGE:",
                "if _q_previous is None or _q_previous[0] != STAGE:\n    _q_status = REFINED(_q_previous, _q_x)",
            )
            template += "_t_apply(RULE, LINE, ACTION, _q_x, _q_status[0], _q_status[1])\n"
        return self.fill(
            template,
            VALUE=value,
            NEEDS_CLAIM=self.bind(claim_needed(rule, action), "_q_a"),
            CHECKED=self.bind(functools.partial(checked, rule, action, ftype=ftype), "_q_a"),
            NAME=ast.Constant(action.target),
            KEY=ast.Constant(action.target.removeprefix("claim.")),
            STAGE=ast.Constant(rule.stage_index),
            PRIORITY=ast.Constant(rule.priority),
            RULE=self.bind(rule),
            SAME_STAGE=self.bind(same_stage(rule, action), "_q_a"),
            REFINED=self.bind(refined, "_q_a"),
            LINE=ast.Constant(None) if line is None else load_name(line),
            ACTION=self.bind(action),
        )

    def reason(self, rule: Rule, action: Action) -> list[ast.stmt]:
        """Both texts of a reason; each zh placeholder is computed first, in order, so the en text can reuse it."""
        assert action.message is not None
        if self.deferred_texts and any(not isinstance(p, str) for p in (*action.message[0], *action.message[1])):
            needed, write = text_writer(action.message[0], action.message[1], self.policy.zone)
            if all(p.compiled.type.kind in SCALARS for p in needed):
                # Each value as the rule computes it, in the same order; one that could change or fail to be
                # written (can_wait) is written at once, where the rule would write it, and the text with it.
                zone = self.bind(self.policy.zone)
                in_zh = {p.compiled.text for p in action.message[0] if not isinstance(p, str)}
                out: list[ast.stmt] = [assign("_q_wait", ast.Constant(True))]
                values: list[ast.expr] = []
                for placeholder in needed:
                    value = load_name(f"_q_v{next(self.counter)}")
                    values.append(value)
                    tree = self.checked(placeholder.compiled)
                    out.append(assign(value.id, tree))
                    if isinstance(tree, Const | Folded) and self.waits(placeholder.compiled.type, tree.value):
                        continue  # a constant (a parameter, or computed from them) that can wait: known when written
                    out += self.fill(
                        FORMAT_NOW,
                        CAN_WAIT=self.can_wait(placeholder.compiled.type, value),
                        FORMAT=self.bind(formatter(placeholder.compiled.type), "_q_a"),
                        VALUE=value,
                        TYPE=self.bind(placeholder.compiled.type),
                        ZONE=zone,
                        LANGUAGE=ast.Constant("zh" if placeholder.compiled.text in in_zh else "en"),
                    )
                return out + self.fill(
                    DEFERRED_REASON,
                    VALUES=ast.Tuple(values, ast.Load()),
                    WRITE=self.bind(write, "_q_a"),
                    NEEDS_CLAIM=self.bind(claim_needed(rule, action), "_q_a"),
                    RULE_ID=ast.Constant(rule.id),
                )
        zone = self.bind(self.policy.zone)
        before: list[ast.stmt] = []
        shared: dict[str, tuple[ast.Name, ast.Name]] = {}
        zh: list[ast.expr] = []
        for part in action.message[0]:
            if isinstance(part, str):
                zh.append(ast.Constant(part))
                continue
            value, text = load_name(f"_q_v{next(self.counter)}"), load_name(f"_q_s{next(self.counter)}")
            typ = self.bind(part.compiled.type)
            fmt = self.bind(formatter(part.compiled.type), "_q_a").id
            before += [assign(value.id, self.checked(part.compiled)), assign(text.id, call(fmt, value, typ, zone, ast.Constant("zh")))]
            shared.setdefault(part.compiled.text, (value, text))
            zh.append(text)
        en: list[ast.expr] = []
        for part in action.message[1]:
            if isinstance(part, str):
                en.append(ast.Constant(part))
            elif part.compiled.text in shared:  # the same expression: its value, and its zh text if it reads the same
                computed, zh_text = shared[part.compiled.text]
                en.append(call("_q_in_other_language", computed, zh_text, self.bind(part.compiled.type), zone, ast.Constant("en")))
            else:
                fmt = self.bind(formatter(part.compiled.type), "_q_a").id
                en.append(call(fmt, self.checked(part.compiled), self.bind(part.compiled.type), zone, ast.Constant("en")))
        needs = self.bind(claim_needed(rule, action), "_q_a")
        return [*before, *self.fill(REASON, ZH=joined(zh), EN=joined(en), NEEDS_CLAIM=needs, RULE_ID=ast.Constant(rule.id))]

    def can_wait(self, typ: t.Type, value: ast.Name) -> ast.expr:
        """Whether a reason's value can be written later: a value of its type that cannot change and whose text
        cannot fail (an instant years from the calendar's ends, an amount far below the decimal precision)."""
        kind = typ.kind
        name = value.id
        exact = {t.TEXT: str, t.BOOL: bool, t.DATE: dt.date, t.DURATION: dt.timedelta}
        if kind in exact:
            source = f"_q_type({name}) is {self.bind(exact[kind]).id}"
        elif kind == t.TIMESTAMP:
            source = f"_q_type({name}) is {self.bind(dt.datetime).id} and 1 < {name}.year < 9999"
        else:  # a number: an int, or a finite Decimal, well inside what formatting an amount can round
            integer, decimal, bound = self.bind(int).id, self.bind(Decimal).id, self.bind(Decimal(10) ** 20).id
            source = (
                f"(_q_type({name}) is {integer} or (_q_type({name}) is {decimal} and {name}.is_finite()))"
                f" and -{bound} < {name} < {bound}"
            )
        type_name = self.bind(type).id
        expression = ast.parse(source.replace("_q_type(", f"{type_name}("), mode="eval").body
        return expression  # its names are ours: the type function, the value, bound constants

    def waits(self, typ: t.Type, value: Any) -> bool:
        """``can_wait`` for a value known when the code is written: the same test, asked once."""
        name = f"_q_v{next(self.counter)}"
        test = ast.Expression(self.can_wait(typ, load_name(name)))
        return bool(eval(compile(test, "<can wait>", "eval"), {**self.namespace, name: value}))  # our own names only

    def value(self, action: Action) -> ast.expr:
        value = action.value
        if value is None:
            return ast.Constant(None)
        if value.compiled is not None:
            return self.checked(value.compiled)
        return self.literal(value.literal)

    def literal(self, value: Any) -> ast.expr:
        return ast.Constant(value) if isinstance(value, str | int | bool | None) else self.bind(value)

    def action(self, rule: Rule, action: Action, line: str | None) -> list[ast.stmt]:
        """The statements of one action; ``line`` is the local holding the line's sku (None: order scope)."""
        kind = action.kind
        target = ast.Constant(action.target)
        if kind == "add_service":
            assert line is not None
            return [
                assign("_q_x", ast.Subscript(load_name("_q_services"), load_name(line), ast.Load())),
                ast.If(not_in(target, "_q_x"), [method_call("_q_x", "append", target)], []),
            ]
        if kind == "violation":
            return [
                method_call(
                    "_q_violations", "append", ast.Dict([ast.Constant("type"), ast.Constant("rule")], [target, ast.Constant(rule.id)])
                )
            ]
        if kind == "compensation":
            amount = call(self.bind(money_of(rule, action), "_q_a").id, self.value(action))
            keys = [ast.Constant(k) for k in ("type", "amount", "form", "payer", "rule")]
            values = [target, load_name("_q_x"), ast.Constant(action.form), ast.Constant(action.payer), ast.Constant(rule.id)]
            return [assign("_q_x", amount), method_call("_q_compensations", "append", ast.Dict(list(keys), values))]
        if kind == "set":
            return self.set(rule, action, line)
        if kind == "deduction":
            return [assign("_q_x", call(self.bind(deduction_of(rule, action), "_q_a").id, self.value(action), load_name(DECISION)))]
        if kind == "reason":
            return self.reason(rule, action)
        if kind == "stop":
            return [
                ast.Assign([ast.Subscript(load_name("_q_stopped"), self.stop_key(rule.group, line), ast.Store())], ast.Constant(rule.id))
            ]
        raise AssertionError(f"unknown action {kind}")  # pragma: no cover - the rule schema lists the kinds


def _canonical_generators(code: str) -> str:
    """``code`` (an ``ast.dump``) with its generators' variables numbered in order: the same part written twice is one key."""
    numbers: dict[str, str] = {}
    return re.sub(r"'_v\d+_", lambda m: numbers.setdefault(m.group(), f"'_v{len(numbers)}_"), code)


_UNSET: Any = object()
"""What a memo local holds before its part is computed (``Writer.memo``)."""


class Unfused(EvaluationError):
    """An exception in a fused loop (``Writer.fuse``): the order is decided again without fused loops, which reports it."""

    def __init__(self) -> None:
        super().__init__("", "a rule failed in a fused loop: decided again rule by rule", code="internal")


def _services_added(rules: list[Rule]) -> set[str] | None:
    """The services these rules' actions may add to a line; None when a table's outputs could add any."""
    if any(rule.table is not None for rule in rules):
        return None
    return {a.target for rule in rules for a in (*rule.then, *rule.otherwise) if a.kind == "add_service"}


def _reads_only_its_line(tree: ast.expr) -> bool:
    """Whether the decision so far is read only as the line's own services (``D['services'][I['sku']]``), or not at all."""
    nodes = walk(tree)
    allowed: set[int] = set()
    for node in nodes:
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Subscript)
            and _named(node.value.value, DECISION)
            and isinstance(node.value.slice, ast.Constant)
            and node.value.slice.value == "services"
            and isinstance(node.slice, ast.Subscript)
            and _named(node.slice.value, ITEM)
            and isinstance(node.slice.slice, ast.Constant)
            and node.slice.slice.value == "sku"
        ):
            allowed.add(id(node.value.value))
        elif isinstance(node, ast.Call) and node.args and _named(node.func, engine_id("counted")):
            allowed.add(id(node.args[0]))  # the budget, read from the decision
    return not any(_named(node, DECISION) and id(node) not in allowed for node in nodes)


def reads_reasons(rules: tuple[Rule, ...]) -> bool:
    """Whether an expression may read a reason's text from the decision so far, which then cannot wait (``Decision``).

    True when some expression names ``reasons`` or ``message``, or reads the decision or its claim whole.
    """
    for rule in rules:
        trees = [leaf.compiled.py for leaf in leaves(rule.when)]
        for action in (*rule.then, *rule.otherwise):
            if action.value is not None and action.value.compiled is not None:
                trees.append(action.value.compiled.py)
            for part in (*action.message[0], *action.message[1]) if action.message is not None else ():
                if not isinstance(part, str):
                    trees.append(part.compiled.py)
        for tree in trees:
            nodes = walk(tree)
            based = {id(n.value) for n in nodes if isinstance(n, ast.Subscript)}
            budgeted = {id(n.args[0]) for n in nodes if isinstance(n, ast.Call) and n.args and _named(n.func, engine_id("counted"))}
            for node in nodes:
                if isinstance(node, ast.Constant) and node.value in ("reasons", "message"):
                    return True
                if _named(node, DECISION) and id(node) not in based and id(node) not in budgeted:
                    return True
                whole_claim = not (isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and node.slice.value != "claim")
                if isinstance(node, ast.Subscript) and id(node) not in based and _named(node.value, DECISION) and whole_claim:
                    return True
    return False


class _OwnServices(ast.NodeTransformer):
    """In a fused loop, the line's own services (``_q_services[_q_line]``, ``_q_services[I['sku']]``) as the local ``_q_own``."""

    def visit_Subscript(self, node: ast.Subscript) -> ast.expr:
        self.generic_visit(node)
        if _named(node.value, "_q_services") and (_named(node.slice, "_q_line") or _is_the_sku(node.slice)):
            return ast.copy_location(load_name("_q_own"), node)
        return node


def _is_the_sku(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Subscript) and _named(node.value, ITEM) and isinstance(node.slice, ast.Constant) and node.slice.value == "sku"
    )


def _asks_for_the_claim(statement: ast.stmt) -> bool:
    """``if _q_claim is None: raise …`` (an action's templates): an error only an order without a claim can meet."""
    return (
        isinstance(statement, ast.If)
        and isinstance(statement.test, ast.Compare)
        and _named(statement.test.left, "_q_claim")
        and isinstance(statement.test.ops[0], ast.Is)
        and len(statement.body) == 1
        and isinstance(statement.body[0], ast.Raise)
    )


def _named(node: ast.AST, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name
