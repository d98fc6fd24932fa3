"""The fast path: a policy's rules written out as Python code, one function per kind of claim.

With no listener, nothing has to be reported about a rule that does not match, so
the rules can run as straight-line code instead of a loop that interprets them.
At the first order of each kind — no claim, a claim of one type, a claim of a type
no rule names — the rule versions that can apply to it are written out in
evaluation order (rules whose index, ``Rule.claim_types``, requires another type are
left out): the version chosen by comparing the order's instant with its effective
window, the condition as the statements ``conditions.emit`` writes, each action
inline or through a closure prepared here, the group stops as dictionary lookups,
and the step budget charged every few rules rather than at every visit (the work
between two checks stays bounded; generators that may run long charge it
themselves). What the kind settles is settled in the code: a test of ``claim.type``
against literals is its value for that type, and without a claim a leaf whose first
step reads the claim is not met.

The code is assembled from the checked syntax trees of the expressions, fixed
templates of this module and the engine's own names — never from rule text — and
compiled with no builtins: the safety model of ``expressions.build_function``. A
failure is reported as the explaining path reports it: the code keeps the number of
the rule or action running (its *site*), and the handler turns the exception into
the same EvaluationError. ``tests/test_paths_agree.py`` holds the two paths to the
same decisions and errors.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import functools
import gc
import itertools
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..errors import EvaluationError
from ..lang.codegen import BUDGET_KEY, runtime_globals
from ..lang.constraints import leaf_constraints
from ..lang.functions import make_calendar
from ..lang.ir import DECISION, FACTS, ITEM, Compiled, Const, Engine, Environment, const_id, dotted_path
from ..lang.templates import formatter, in_other_language
from ..model.conditions import ABSENT_VALUE, Condition, Group, Leaf, NodeResult, emit, emit_traced, leaves
from .evaluation import (
    Budget,
    action_failure,
    charge,
    checked,
    claim_of,
    conflict,
    field_type,
    locate_failure,
    money,
    not_in_effect,
    output,
    start,
)
from .events import ActionApplied, Listener, RuleVisited, plain

if TYPE_CHECKING:
    from ..model.rules import Action, Rule
    from .facts import Prepared
    from .policy import Policy

Decide = Callable[..., None]
"""A generated function: it fills in the decision it is given (arguments: ``_ARGS``)."""

CHARGE_EVERY = 64
"""Rule visits between two checks of the budget (as the explaining path does)."""
BATCH = 16
"""Order and claimed-line rules whose visits are added to the count in one statement."""

_INSTANTS = {"paid_at": "_q_t_paid", "placed_at": "_q_t_placed", "as_of": "_q_t_as_of", "claim.requested_at": "_q_t_requested"}
_ARGS = (
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
    *_INSTANTS.values(),
)


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
        self.lock = threading.Lock()
        self.max_steps = policy.limits.max_evaluation_steps
        self.max_seconds = policy.limits.max_evaluation_seconds

    def decide(self, prepared: Prepared) -> dict[str, Any]:
        """The decision data for prepared facts."""
        return self.run(prepared, None)

    def trace(self, prepared: Prepared, emit: Listener) -> dict[str, Any]:
        """The decision data for prepared facts, every rule visit and action reported to ``emit`` as it happens."""
        return self.run(prepared, emit)

    def run(self, prepared: Prepared, emit: Listener | None) -> dict[str, Any]:
        policy = self.policy
        facts = prepared.facts
        claim = facts.get("claim")
        key = None if claim is None else claim["type"] if claim["type"] in self.typed else _UNNAMED
        functions = self.functions if emit is None else self.traced
        run = functions.get(key) or self.build(key, traced=emit is not None)
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
        ]
        if emit is not None:
            arguments.append(emit)
        run(*arguments)
        return output(policy, prepared.raw, services, decision, fired)

    def build_all(self, traced: bool = False) -> None:
        """Every function now: no claim, each claim type a rule names, and the other types."""
        for key in (None, *sorted(self.typed), _UNNAMED):
            self.build(key, traced)

    def build(self, key: str | None, traced: bool = False) -> Decide:
        """The function for orders without a claim (None), with a claim of one type, or of a type no rule names.

        The traced function visits every rule: those the fast one leaves out are reported as skipped, or,
        when the rule index rules them out, as not matched on the condition that excludes the claim type.
        """
        functions = self.traced if traced else self.functions
        with self.lock:
            run = functions.get(key)
            if run is None:
                active = [r for r in self.policy.rules if r.claim_types is None or key in r.claim_types]
                if key is None:  # no claim: rules on the claimed line, or versioned by the claim, never run
                    active = [r for r in active if r.scope != "claimed_line" and r.effective_on != "claim.requested_at"]
                writer = _Writer(self.policy, key, traced)
                label = "none" if key is None else "of another type" if key == _UNNAMED else repr(key)
                rules = list(self.policy.rules) if traced else active
                enabled = gc.isenabled()
                gc.disable()  # the build allocates many small trees: collections would walk the whole policy each time
                try:
                    run = functions[key] = writer.function(rules, {id(r) for r in active}, f"policy {self.policy.name!r}, claim {label}")
                finally:
                    if enabled:
                        gc.enable()
            return run


_OUTCOME = {True: "matched", False: "not_matched", None: "not_met"}
"""A rule visit's outcome by the value of its condition."""

_UNNAMED = "\x00unnamed"
"""The key of orders whose claim type no rule names (no claim type is text with a NUL)."""


def _name(name: str) -> ast.Name:
    return ast.Name(id=name, ctx=ast.Load())


def _store(name: str) -> ast.Name:
    return ast.Name(id=name, ctx=ast.Store())


def _assign(name: str, value: ast.expr) -> ast.stmt:
    return ast.Assign([_store(name)], value)


def _call(fn: str, *args: ast.expr) -> ast.Call:
    return ast.Call(_name(fn), list(args), [])


def _method(obj: str, method: str, *args: ast.expr) -> ast.stmt:
    return ast.Expr(ast.Call(ast.Attribute(_name(obj), method, ast.Load()), list(args), []))


def _joined(pieces: list[ast.expr]) -> ast.expr:
    text = pieces[0] if pieces else ast.Constant("")
    for piece in pieces[1:]:
        text = ast.BinOp(text, ast.Add(), piece)
    return text


def _not_in(key: ast.expr, container: str) -> ast.expr:
    return ast.Compare(key, [ast.NotIn()], [_name(container)])


class _Writer:
    """Writes the code of one function: its statements, the constants and closures it names, its sites."""

    def __init__(self, policy: Policy, key: str | None, traced: bool = False) -> None:
        self.policy = policy
        self.key = key
        """The claim type every order of this function has (None: no claim; _UNNAMED: a type no rule names)."""
        self.traced = traced
        """Report every rule visit and action to ``_t_emit``, and record every condition node in ``_t_rec``."""
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

    def fill(self, template: str, **names: ast.expr) -> list[ast.stmt]:
        """The statements of ``template`` (fixed code of this module) with each NAME in capitals replaced.

        The copies keep the template's locations and the values put in are located first, so the
        statements are complete: the final walk over the function skips them.
        """
        for value in names.values():
            _locate(value, self.located)
        statements: list[ast.stmt] = [_copy(statement, names) for statement in _parsed(template)]
        self.located.update((id(statement), statement) for statement in statements)
        return statements

    def checked(self, compiled: Compiled) -> ast.expr:
        """A checked expression's tree, written into the code as is: located at load, never walked again."""
        if hasattr(compiled.py, "lineno"):
            self.located[id(compiled.py)] = compiled.py
        return compiled.py

    def bind(self, value: Any, prefix: str = "_q_c") -> ast.Name:
        """A global name for a value the code uses (a constant, or a closure prepared here)."""
        name = f"{prefix}{len(self.namespace)}"
        self.namespace[name] = value
        return _name(name)

    def site(self, rule: Rule, action: Action | None) -> ast.Constant:
        """A number for the rule (its condition) or action about to run: the failure handler reads it."""
        self.sites.append((rule, action))
        return ast.Constant(len(self.sites) - 1)

    # -- the function
    def function(self, rules: list[Rule], active: set[int], name: str) -> Decide:
        self.active = active
        body: list[ast.stmt] = [
            _assign(ITEM, ast.Constant(None)),
            _assign("_q_line", ast.Constant(None)),
            _assign("_q_site", ast.Constant(0)),
            _assign("_q_visits", ast.Constant(0)),
        ]
        checked_body: list[ast.stmt] = []
        for rule in rules:
            checked_body += self.rule(rule)
        for group, local in self.claimed_keys.items():
            body.append(_assign(local, ast.Tuple([ast.Constant(group), _name("_q_claimed_line")], ast.Load())))
        handler = ast.ExceptHandler(
            _name("_q_Exception"),
            "_q_exc",
            [
                ast.Raise(
                    _call("_q_fail", _name("_q_site"), _name(ITEM), _name("_q_exc"), _name(FACTS), _name(DECISION)), ast.Constant(None)
                )
            ],
        )
        body.append(
            ast.Try(
                body=checked_body or [ast.Pass()],
                handlers=[ast.ExceptHandler(_name("_q_EvaluationError"), None, [ast.Raise()]), handler],
                orelse=[],
                finalbody=[],
            )
        )
        names = (*_ARGS, "_t_emit") if self.traced else _ARGS
        args = ast.arguments(posonlyargs=[], args=[ast.arg(a) for a in names], kwonlyargs=[], kw_defaults=[], defaults=[])
        func = ast.FunctionDef(name="decide", args=args, body=body, decorator_list=[], returns=None)
        _locate(func, self.located)
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
            _q_fail=fail, _q_tick=tick, _q_in_other_language=in_other_language, _q_Exception=Exception, _q_EvaluationError=EvaluationError
        )
        if self.traced:
            self.namespace.update(
                _t_visited=RuleVisited, _t_applied=ActionApplied, _t_outcome=_OUTCOME, _t_not_in_effect=not_in_effect, _t_tuple=tuple
            )
        code = compile(ast.Module([func], type_ignores=[]), f"<{name}>", "exec")
        exec(code, self.namespace)
        decide: Decide = self.namespace["decide"]
        return decide

    # -- one rule version
    def rule(self, rule: Rule) -> list[ast.stmt]:
        if id(rule) not in self.active:
            return self.left_out(rule)
        out = self.charge(rule)
        per: list[ast.stmt] = [_assign("_q_site", self.site(rule, None))]
        line = {"order": None, "line": "_q_line", "claimed_line": "_q_claimed_line"}[rule.scope]
        if line == "_q_line" and (
            self.traced
            or rule.group in self.stop_groups
            or rule.table is not None
            or any(a.kind in ("add_service", "stop") for a in (*rule.then, *rule.otherwise))
        ):
            per.append(_assign("_q_line", ast.Subscript(_name(ITEM), ast.Constant("sku"), ast.Load())))
        body: list[ast.stmt] = []
        if self.traced:  # the condition as written: what the folds below settle, it computes, to show it
            when = rule.when
        elif self.key is None:
            when = _without_claim(rule.when)
        elif self.key == _UNNAMED:
            when = rule.when
        else:
            when = _known_type(rule.when, self.key, self.policy.environment)
        for leaf in leaves(when):
            self.checked(leaf.compiled)
        if self.traced:
            body.append(_assign("_t_rec", ast.List([], ast.Load())))
            result = emit_traced(when, body, self.counter, self.bind)
            outcome = ast.Subscript(_name("_t_outcome"), result, ast.Load())
            records = _call("_t_tuple", _name("_t_rec"))
            where: ast.expr = ast.Constant(None) if line is None else _name(line)
            body.append(self.event(_call("_t_visited", self.bind(rule), where, outcome, ast.Constant(""), records)))
        else:
            result = emit(when, body, self.counter)
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
            block = [ast.For(_store(ITEM), _name("_q_items"), per, []), _assign(ITEM, ast.Constant(None))]
        else:
            block = [
                ast.If(
                    ast.Compare(_name("_q_claimed"), [ast.IsNot()], [ast.Constant(None)]),
                    [_assign(ITEM, _name("_q_claimed")), *per, _assign(ITEM, ast.Constant(None))],
                    [self.skipped(rule, None, ast.Constant("no claim in the order"))] if self.traced else [],
                )
            ]
        guard = self.in_effect(rule)
        if guard is None:
            return [*out, *block]
        elsewhere = [self.skipped(rule, None, _call("_t_not_in_effect", self.bind(rule), _name(_INSTANTS[rule.effective_on])))]
        return [*out, ast.If(guard, block, elsewhere if self.traced else [])]

    def unless_stopped(self, rule: Rule, line: str | None, body: list[ast.stmt]) -> list[ast.stmt]:
        """``body``, unless the rule's group was stopped for this line or for the whole order (a stop in an order-scope rule)."""
        if rule.group not in self.stop_groups:
            return body
        tests = [_not_in(self.stop_key(rule.group, None), "_q_stopped")]
        if line is not None:
            tests.insert(0, _not_in(self.stop_key(rule.group, line), "_q_stopped"))
        stopped: list[ast.stmt] = []
        if self.traced:
            by: list[ast.expr] = [ast.Subscript(_name("_q_stopped"), self.stop_key(rule.group, None), ast.Load())]
            if line is not None:
                by.insert(0, ast.Call(ast.Attribute(_name("_q_stopped"), "get", ast.Load()), [self.stop_key(rule.group, line)], []))
            stopper = ast.BoolOp(ast.Or(), by) if len(by) > 1 else by[0]
            reason = _joined([ast.Constant(f"group '{rule.group}' stopped by "), stopper])
            stopped = [self.skipped(rule, line, reason)]
        return [ast.If(ast.BoolOp(ast.And(), tests) if len(tests) > 1 else tests[0], body, stopped)]

    def unique(self, rule: Rule, line: str | None) -> list[ast.stmt]:
        """A row of a ``unique`` table that matches: an error if another row of the table matched (for this line)."""
        assert rule.table is not None
        where: ast.expr = ast.Constant(None) if line is None else _name(line)
        key = ast.Tuple([ast.Constant(f"\x00table {rule.table.id}"), where], ast.Load())
        return self.fill(_UNIQUE, KEY=key, CLASH=self.bind(_clash(rule), "_q_a"), RULE=self.bind(rule))

    def left_out(self, rule: Rule) -> list[ast.stmt]:
        """A rule the fast function leaves out, in the traced one: reported, never run, never charged."""
        if rule.effective_on == "claim.requested_at" and self.key is None:
            return [self.skipped(rule, None, ast.Constant("no claim.requested_at to choose a version by"))]
        guard = self.in_effect(rule)
        if rule.scope == "claimed_line" and self.key is None:
            report = [self.skipped(rule, None, ast.Constant("no claim in the order"))]
        else:
            # The rule index rules it out: the leaf requiring other claim types is false, and nothing else runs.
            leaf = _excluding(rule.when, self.policy.environment)
            records: list[ast.expr] = []
            # Without a claim the leaf reads an absent fact (not met); with one, its type is not among those it requires.
            result = ast.Constant(None if self.key is None else False)
            outcome = ast.Constant("not_met" if self.key is None else "not_matched")
            if leaf is not None:
                node_result = self.bind(NodeResult).id
                if rule.when is not leaf:
                    records.append(_call(node_result, self.bind(rule.when), result, ast.Dict([], [])))
                read = self.bind(ABSENT_VALUE) if self.key is None else ast.Subscript(_name("_q_claim"), ast.Constant("type"), ast.Load())
                records.append(_call(node_result, self.bind(leaf), result, ast.Dict([ast.Constant("claim.type")], [read])))
            line = {"order": None, "line": "_q_line", "claimed_line": "_q_claimed_line"}[rule.scope]
            where: ast.expr = ast.Constant(None) if line is None else _name(line)
            visit = _call("_t_visited", self.bind(rule), where, outcome, ast.Constant(""), ast.Tuple(records, ast.Load()))
            report = self.unless_stopped(rule, line, [self.event(visit)])
            if rule.scope == "line":
                each = [_assign("_q_line", ast.Subscript(_name(ITEM), ast.Constant("sku"), ast.Load())), *report]
                report = [ast.For(_store(ITEM), _name("_q_items"), each, []), _assign(ITEM, ast.Constant(None))]
        if guard is None:
            return report
        elsewhere = self.skipped(rule, None, _call("_t_not_in_effect", self.bind(rule), _name(_INSTANTS[rule.effective_on])))
        return [ast.If(guard, report, [elsewhere])]

    def event(self, event: ast.expr) -> ast.stmt:
        return ast.Expr(_call("_t_emit", event))

    def skipped(self, rule: Rule, line: str | None, reason: ast.expr) -> ast.stmt:
        where: ast.expr = ast.Constant(None) if line is None else _name(line)
        return self.event(_call("_t_visited", self.bind(rule), where, ast.Constant("skipped"), reason))

    def stop_key(self, group: str, line: str | None) -> ast.expr:
        """The key of a group stopped for a line; the claimed line's keys are built once, at the start."""
        if line is None:
            return ast.Tuple([ast.Constant(group), ast.Constant(None)], ast.Load())
        if line == "_q_line":
            return ast.Tuple([ast.Constant(group), _name(line)], ast.Load())
        name = self.claimed_keys.get(group)
        if name is None:
            name = self.claimed_keys[group] = f"_q_group{len(self.claimed_keys)}"
        return _name(name)

    def in_effect(self, rule: Rule) -> ast.expr | None:
        """The test choosing this version by its effective window (None: every order)."""
        instant = _name(_INSTANTS[rule.effective_on])
        tests: list[ast.expr] = []
        if rule.effective_on == "claim.requested_at":
            tests.append(ast.Compare(instant, [ast.IsNot()], [ast.Constant(None)]))
        if rule.effective_from is not None:
            tests.append(ast.Compare(self.bind(rule.effective_from), [ast.LtE()], [instant]))
        if rule.effective_until is not None:
            tests.append(ast.Compare(instant, [ast.Lt()], [self.bind(rule.effective_until)]))
        if not tests:
            return None
        return tests[0] if len(tests) == 1 else ast.BoolOp(ast.And(), tests)

    def charge(self, rule: Rule) -> list[ast.stmt]:
        """Count the visits before the rule; check the budget when enough have been counted."""
        if rule.scope == "line":
            visits: ast.expr = _name("_q_nitems")
            if self.pending:
                visits = ast.BinOp(visits, ast.Add(), ast.Constant(self.pending))
        else:
            self.pending += 1
            if self.pending < BATCH:
                return []
            visits = ast.Constant(self.pending)
        self.pending = 0
        return [
            ast.AugAssign(_store("_q_visits"), ast.Add(), visits),
            ast.If(
                ast.Compare(_name("_q_visits"), [ast.GtE()], [ast.Constant(CHARGE_EVERY)]),
                [_assign("_q_visits", _call("_q_tick", _name("_q_budget"), self.site(rule, None), _name("_q_visits")))],
                [],
            ),
        ]

    # -- actions
    def actions(self, rule: Rule, actions: list[Action], line: str | None) -> list[ast.stmt]:
        if not actions:
            return []
        out: list[ast.stmt] = [ast.Assign([ast.Subscript(_name("_q_fired"), ast.Constant(rule.id), ast.Store())], ast.Constant(None))]
        for action in actions:
            out.append(_assign("_q_site", self.site(rule, action)))
            out += self.action(rule, action, line)
            if self.traced and action.kind != "set":  # a set reports itself: it knows whether it was overridden
                value = _name("_q_x") if action.kind in ("compensation", "deduction", "reason") else ast.Constant(None)
                out.append(self.applied(rule, action, line, value, ast.Constant("applied"), ast.Constant("")))
        return out

    def applied(self, rule: Rule, action: Action, line: str | None, value: ast.expr, status: ast.expr, note: ast.expr) -> ast.stmt:
        where: ast.expr = ast.Constant(None) if line is None else _name(line)
        return self.event(_call("_t_applied", self.bind(rule), where, self.bind(action), value, status, note))

    def set(self, rule: Rule, action: Action, line: str | None) -> list[ast.stmt]:
        ftype = field_type(self.policy, action.target)
        template, value = _SET, self.value(action)
        if action.value is not None and action.value.compiled is None:
            # A literal is checked now; if the field refuses it, the rule fails when it runs, as before.
            with contextlib.suppress(EvaluationError):
                template, value = _SET_CHECKED, self.literal(checked(rule, action, action.value.literal, ftype))
        if self.traced:
            template = template.replace("    SAME_STAGE(", "    _q_status = SAME_STAGE(")
            template = template.replace(
                "if _q_previous is None or _q_previous[0] != STAGE:",
                "if _q_previous is None or _q_previous[0] != STAGE:\n    _q_status = REFINED(_q_previous, _q_x)",
            )
            template += "_t_emit(_t_applied(RULE, LINE, ACTION, _q_x, _q_status[0], _q_status[1]))\n"
        return self.fill(
            template,
            VALUE=value,
            NEEDS_CLAIM=self.bind(_claim_needed(rule, action), "_q_a"),
            CHECKED=self.bind(functools.partial(checked, rule, action, ftype=ftype), "_q_a"),
            NAME=ast.Constant(action.target),
            KEY=ast.Constant(action.target.removeprefix("claim.")),
            STAGE=ast.Constant(rule.stage_index),
            PRIORITY=ast.Constant(rule.priority),
            RULE=self.bind(rule),
            SAME_STAGE=self.bind(_same_stage(rule, action), "_q_a"),
            REFINED=self.bind(_refined, "_q_a"),
            LINE=ast.Constant(None) if line is None else _name(line),
            ACTION=self.bind(action),
        )

    def reason(self, rule: Rule, action: Action) -> list[ast.stmt]:
        """Both texts of a reason; each zh placeholder is computed first, in order, so the en text can reuse it."""
        assert action.message is not None
        zone = self.bind(self.policy.zone)
        before: list[ast.stmt] = []
        shared: dict[str, tuple[ast.Name, ast.Name]] = {}
        zh: list[ast.expr] = []
        for part in action.message[0]:
            if isinstance(part, str):
                zh.append(ast.Constant(part))
                continue
            value, text = _name(f"_q_v{next(self.counter)}"), _name(f"_q_s{next(self.counter)}")
            typ = self.bind(part.compiled.type)
            fmt = self.bind(formatter(part.compiled.type), "_q_a").id
            before += [_assign(value.id, self.checked(part.compiled)), _assign(text.id, _call(fmt, value, typ, zone, ast.Constant("zh")))]
            shared.setdefault(part.compiled.text, (value, text))
            zh.append(text)
        en: list[ast.expr] = []
        for part in action.message[1]:
            if isinstance(part, str):
                en.append(ast.Constant(part))
            elif part.compiled.text in shared:  # the same expression: its value, and its zh text if it reads the same
                computed, zh_text = shared[part.compiled.text]
                en.append(_call("_q_in_other_language", computed, zh_text, self.bind(part.compiled.type), zone, ast.Constant("en")))
            else:
                fmt = self.bind(formatter(part.compiled.type), "_q_a").id
                en.append(_call(fmt, self.checked(part.compiled), self.bind(part.compiled.type), zone, ast.Constant("en")))
        needs = self.bind(_claim_needed(rule, action), "_q_a")
        return [*before, *self.fill(_REASON, ZH=_joined(zh), EN=_joined(en), NEEDS_CLAIM=needs, RULE_ID=ast.Constant(rule.id))]

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
                _assign("_q_x", ast.Subscript(_name("_q_services"), _name(line), ast.Load())),
                ast.If(_not_in(target, "_q_x"), [_method("_q_x", "append", target)], []),
            ]
        if kind == "violation":
            return [
                _method("_q_violations", "append", ast.Dict([ast.Constant("type"), ast.Constant("rule")], [target, ast.Constant(rule.id)]))
            ]
        if kind == "compensation":
            amount = _call(self.bind(_money(rule, action), "_q_a").id, self.value(action))
            keys = [ast.Constant(k) for k in ("type", "amount", "form", "payer", "rule")]
            values = [target, _name("_q_x"), ast.Constant(action.form), ast.Constant(action.payer), ast.Constant(rule.id)]
            return [_assign("_q_x", amount), _method("_q_compensations", "append", ast.Dict(list(keys), values))]
        if kind == "set":
            return self.set(rule, action, line)
        if kind == "deduction":
            return [_assign("_q_x", _call(self.bind(_deduction(rule, action), "_q_a").id, self.value(action), _name(DECISION)))]
        if kind == "reason":
            return self.reason(rule, action)
        if kind == "stop":
            return [ast.Assign([ast.Subscript(_name("_q_stopped"), self.stop_key(rule.group, line), ast.Store())], ast.Constant(rule.id))]
        raise AssertionError(f"unknown action {kind}")  # pragma: no cover - the rule schema lists the kinds


# ---------------------------------------------------------------- conditions on the known claim type

_TESTS: dict[type, Callable[[Any, Any], bool]] = {
    ast.Eq: lambda a, b: bool(a == b),
    ast.NotEq: lambda a, b: bool(a != b),
    ast.In: lambda a, b: bool(a in b),
    ast.NotIn: lambda a, b: bool(a not in b),
}


def _known_type(node: Condition, claim_type: str, env: Environment) -> Condition:
    """The condition with each test of ``claim.type`` against literals replaced by its value for ``claim_type``.

    Exact: every order the function runs has a claim of that type, so the test cannot read an absent fact
    or raise, and its value is the same Python comparison made now. A ``True`` child of ``all`` is dropped.
    """
    if isinstance(node, Leaf):
        py = node.compiled.py
        if not (isinstance(py, ast.Compare) and len(py.ops) == 1 and type(py.ops[0]) in _TESTS and dotted_path(py.left) == "claim.type"):
            return node
        right = py.comparators[0]
        if isinstance(right, (ast.Constant, Const)):
            literal = right.value
        else:
            return node
        value = _TESTS[type(py.ops[0])](claim_type, literal)
        return dataclasses.replace(node, compiled=dataclasses.replace(node.compiled, py=ast.Constant(value), may_be_absent=False))
    children = [_known_type(child, claim_type, env) for child in node.children]
    if node.op == "all":
        children = [
            c for c in children if not (isinstance(c, Leaf) and isinstance(c.compiled.py, ast.Constant) and c.compiled.py.value is True)
        ]
        if len(children) <= 1:
            return children[0] if children else _constant(node, True)
    return dataclasses.replace(node, children=children)


def _excluding(node: Condition, env: Environment) -> Leaf | None:
    """The first leaf, through ``all`` groups, that tests the claim type: where the rule index found the rule cannot match."""
    if isinstance(node, Leaf):
        return node if any(path == "claim.type" for path, _ in leaf_constraints(node.compiled.py, env)) else None
    if node.op != "all":
        return None
    for child in node.children:
        found = _excluding(child, env)
        if found is not None:
            return found
    return None


def _constant(node: Group, value: bool) -> Leaf:
    first = next(leaves(node))
    return dataclasses.replace(first, compiled=dataclasses.replace(first.compiled, py=ast.Constant(value), may_be_absent=False))


def _without_claim(node: Condition) -> Condition:
    """The condition for orders without a claim: a leaf whose first step reads the claim is not met.

    Exact: nothing in the leaf runs before that read, which fails (absent) in every such order.
    """
    if isinstance(node, Group):
        return dataclasses.replace(node, children=[_without_claim(child) for child in node.children])
    if not _reads_claim_first(node.compiled.py):
        return node
    # Still "may be absent": the three-valued code must carry the None, a two-valued ``and`` would not.
    return dataclasses.replace(node, compiled=dataclasses.replace(node.compiled, py=ast.Constant(None), may_be_absent=True))


def _reads_claim_first(py: ast.expr) -> bool:
    """Whether the first thing evaluating ``py`` does that can fail is reading ``claim`` or ``decision.claim``.

    Follows Python's evaluation order: the left side of a comparison or operator, the first operand of
    ``and``/``or``, the test of ``x if c else y``, the first argument of a call of the engine's functions.
    """
    node = py
    while True:
        if isinstance(node, (ast.Compare, ast.BinOp)):
            node = node.left
        elif isinstance(node, ast.BoolOp):
            node = node.values[0]
        elif isinstance(node, ast.UnaryOp):
            node = node.operand
        elif isinstance(node, ast.IfExp):
            node = node.test
        elif isinstance(node, ast.Call) and isinstance(node.func, Engine) and node.args:
            node = node.args[0]
        elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            base = node.value
            if isinstance(base, ast.Name) and base.id in (FACTS, DECISION):
                return node.slice.value == "claim"
            node = base
        else:
            return False


# ---------------------------------------------------------------- the actions that are calls


def _money(rule: Rule, action: Action) -> Callable[[Any], Any]:
    def amount(value: Any) -> Any:
        return money(rule, action, value)

    return amount


def _deduction(rule: Rule, action: Action) -> Callable[[Any, dict[str, Any]], Decimal]:
    entry_type = action.target

    def deduct(value: Any, decision: dict[str, Any]) -> Decimal:
        amount = money(rule, action, value)
        claim_of(rule, action, decision)["deductions"].append({"type": entry_type, "amount": amount})
        return amount

    return deduct


def _clash(rule: Rule) -> Callable[[Rule], EvaluationError]:
    """Two rows of a ``unique`` table match: the policy does not say which applies."""

    def clash(earlier: Rule) -> EvaluationError:
        table, loc = rule.table, rule.location
        assert table is not None
        # Short: an evaluation error's message is cut at 120 characters.
        message = f"第 {earlier.row} 行与第 {rule.row} 行同时命中 / rows {earlier.id} and {rule.id} both match (hit: unique)"
        return EvaluationError(rule.id, message, loc.file, loc.line, loc.column, code="table_unique")

    return clash


def _claim_needed(rule: Rule, action: Action) -> Callable[[], EvaluationError]:
    def needed() -> EvaluationError:
        try:
            claim_of(rule, action, {})
        except EvaluationError as exc:
            return exc
        raise AssertionError("claim_of accepted a decision without a claim")  # pragma: no cover

    return needed


@functools.cache
def _parsed(template: str) -> list[ast.stmt]:
    return ast.parse(template).body


def _copy(node: Any, names: dict[str, ast.expr]) -> Any:
    if isinstance(node, ast.Name) and node.id in names:
        return names[node.id]
    if isinstance(node, list):
        return [_copy(item, names) for item in node]
    if not isinstance(node, ast.AST):
        return node
    new = type(node)(**{field: _copy(getattr(node, field), names) for field in node._fields})
    for attribute in node._attributes:
        setattr(new, attribute, getattr(node, attribute))
    return new


def _locate(root: ast.AST, located: dict[int, ast.AST]) -> None:
    """Give the nodes written here a location; the checked expression trees (``located``) have theirs since load."""
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in located:
            continue
        if "lineno" in node._attributes:
            node.lineno = node.end_lineno = 1  # type: ignore[attr-defined]
            node.col_offset = node.end_col_offset = 0  # type: ignore[attr-defined]
        stack.extend(ast.iter_child_nodes(node))


_SET = """
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
_SET_CHECKED = _SET.replace("_q_x = CHECKED(_q_x)\n", "")
"""``set`` of a literal already checked."""


def _same_stage(
    rule: Rule, action: Action
) -> Callable[[Any, tuple[int, int, Rule, Any], dict[str, Any], dict[str, Any]], tuple[str, str]]:
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


def _refined(previous: tuple[int, int, Rule, Any] | None, value: Any) -> tuple[str, str]:
    """How a write in a later stage than the last one reads in a trace: a refinement when it changes the value."""
    if previous is None or previous[3] == value:
        return _APPLIED
    _, _, prev_rule, prev_value = previous
    return "refined", f"was {plain(prev_value)} from {prev_rule.id} (stage {prev_rule.stage})"


_UNIQUE = """
_q_x = _q_stopped.get(KEY)
if _q_x is not None:
    raise CLASH(_q_x)
_q_stopped[KEY] = RULE
"""
"""A matching row of a ``unique`` table: the first one is recorded (in the stops, under a key no group has)."""

_REASON = """
_q_x = ZH + " / " + EN
if _q_claim is None:
    raise NEEDS_CLAIM()
_q_claim["reasons"].append({"rule": RULE_ID, "message": _q_x})
"""
