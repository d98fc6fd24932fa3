"""Condition trees: ``all`` / ``any`` / ``not`` over expressions, with three outcomes.

A leaf that reads an optional fact which is absent is *not met*: it is neither
true nor false, and ``not`` keeps it not met (as SQL's NULL or OPA's
undefined). ``all`` is false at its first false child, else not met if a child
was not met; ``any`` is true at its first true child, else not met if a child
was not met. A rule's ``then`` runs when its condition is true, ``else`` when
it is false or not met — so a missing fact can never approve anything by accident.

One code writer serves both ways of running a policy: ``emit`` writes a condition
as Python statements for the fast path, ``emit_traced`` writes the same statements
with a record of every node it visits and the values the leaf read, for
explanations, traces and coverage (``runtime.programwriter`` inlines either in the policy's
code). The expressions are the same checked trees in both, so a condition cannot
short-circuit, iterate, stop on its budget or fail differently when it is traced.
"""

from __future__ import annotations

import ast
import datetime as dt
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ..lang.ir import DECISION, FACTS, ITEM, Compiled, Environment
from ..lang.readable import operands

ABSENT = None
"""The third outcome of a condition: it read a fact that is absent."""


@dataclass(eq=False)
class Leaf:
    compiled: Compiled
    pointer: str
    label: str
    location: tuple[str, int, int]
    code_line: int = 0
    """The line its expression has in compiled code (``expressions.number_lines``): a failure's traceback names it."""
    env: Environment | None = field(repr=False, default=None)
    build_probe: Callable[..., Callable[..., Any]] | None = field(repr=False, default=None)
    """Compiles the leaf's probes (see ``probe`` and ``shown_probe``) into one function, when first traced."""

    @property
    def text(self) -> str:
        return self.compiled.text

    @functools.cached_property
    def probes(self) -> list[tuple[str, ast.expr | None, Any]]:
        """(name, tree, constant) for each fact, comparison operand and parameter the leaf reads."""
        out: list[tuple[str, ast.expr | None, Any]] = []
        seen: set[str] = set()
        assert self.env is not None
        sides = operands(self.compiled.py, self.env, skip=set(self.compiled.reads))
        for name, py in [*sides, *self.compiled.reads.items()]:
            if name not in seen:
                seen.add(name)
                out.append((name, py, None))
        for name in sorted(self.compiled.params_used):
            out.append((f"params.{name}", None, self.env.params[name][1]))
        return out

    @functools.cached_property
    def trace_head(self) -> dict[str, Any]:
        """What a trace says of this node whatever the order: where it is, its label, its expression."""
        head: dict[str, Any] = {"at": self.pointer}
        if self.label:
            head["label"] = self.label
        head["expr"] = self.text
        return head

    @functools.cached_property
    def probe(self) -> Callable[..., dict[str, Any]]:
        """``probe(F, I, D)``: the values the leaf read, by name, for an explanation; an absent one is ABSENT_VALUE.

        Reading them spends nothing of the evaluation's budget: tracing an evaluation does not change it.
        """
        assert self.build_probe is not None
        probe: Callable[..., dict[str, Any]] = self.build_probe(self.probes)
        return probe

    @functools.cached_property
    def shown_probe(self) -> Callable[..., dict[str, Any]]:
        """``shown_probe(F, I, D, node)``: the trace's ``node`` with the values the leaf read as the trace shows them
        (``values``, plain data; ``absent``, those not in the order), for the code that builds a trace itself."""
        assert self.build_probe is not None
        probe: Callable[..., dict[str, Any]] = self.build_probe(self.probes, shown=plain, as_is=SCALARS)
        return probe


@dataclass(eq=False)
class Group:
    op: str  # "all" | "any" | "not"
    children: list[Condition]
    pointer: str
    label: str

    @functools.cached_property
    def trace_head(self) -> dict[str, Any]:
        """What a trace says of this node whatever the order: where it is, its label, its operator."""
        head: dict[str, Any] = {"at": self.pointer}
        if self.label:
            head["label"] = self.label
        head["op"] = self.op
        return head


Condition = Leaf | Group


def leaves(node: Condition) -> Iterator[Leaf]:
    if isinstance(node, Leaf):
        yield node
    else:
        for child in node.children:
            yield from leaves(child)


def nodes(node: Condition) -> Iterator[Condition]:
    yield node
    if isinstance(node, Group):
        for child in node.children:
            yield from nodes(child)


# ---------------------------------------------------------------- fast path


def _absence(node: Condition, out: dict[int, bool]) -> bool:
    """Whether each node (by id) can be not met: it has a leaf that may read an absent fact."""
    absent = node.compiled.may_be_absent if isinstance(node, Leaf) else any([_absence(c, out) for c in node.children])
    out[id(node)] = absent
    return absent


def emit(
    node: Condition, out: list[ast.stmt], counter: Iterator[int], tree: Callable[[Leaf], ast.expr] | None = None
) -> ast.expr:
    """Append statements computing ``node`` (temporaries ``_rN``, N from ``counter``); return the expression holding its value.

    The value is ``True``, ``False`` or ``None`` (not met); a two-valued subtree is one expression. ``tree`` gives
    the tree written for a leaf (default: its checked tree as is).
    """
    absent: dict[int, bool] = {}
    _absence(node, absent)
    return _emit(node, out, counter, absent, tree or _as_checked)


def _as_checked(leaf: Leaf) -> ast.expr:
    return leaf.compiled.py


def _emit(
    node: Condition, out: list[ast.stmt], counter: Iterator[int], absent: dict[int, bool], tree: Callable[[Leaf], ast.expr]
) -> ast.expr:
    if not absent[id(node)]:
        return _pure(node, tree)
    var = f"_r{next(counter)}"
    target = ast.Name(id=var, ctx=ast.Store())
    load = ast.Name(id=var, ctx=ast.Load())
    if isinstance(node, Leaf):
        out.append(
            ast.Try(
                body=[ast.Assign([target], tree(node))],
                handlers=[
                    ast.ExceptHandler(
                        ast.Name(id="_fn_KeyError", ctx=ast.Load()),
                        None,
                        [ast.Assign([ast.Name(id=var, ctx=ast.Store())], ast.Constant(None))],
                    )
                ],
                orelse=[],
                finalbody=[],
            )
        )
        return load
    if node.op == "not":
        inner = _emit(node.children[0], out, counter, absent, tree)
        out.append(
            ast.Assign(
                [target], ast.IfExp(ast.Compare(inner, [ast.Is()], [ast.Constant(None)]), ast.Constant(None), ast.UnaryOp(ast.Not(), inner))
            )
        )
        return load
    decisive = node.op == "any"  # the child value that ends the group
    out.append(ast.Assign([target], ast.Constant(not decisive)))
    body = out
    for child in node.children:
        value = _emit(child, body, counter, absent, tree)
        if not isinstance(value, ast.Name):  # a two-valued child: compute it once, test it twice
            temp = f"_r{next(counter)}"
            body.append(ast.Assign([ast.Name(id=temp, ctx=ast.Store())], value))
            value = ast.Name(id=temp, ctx=ast.Load())
        body = _next_child(body, var, value, decisive)
    return load


def _pure(node: Condition, tree: Callable[[Leaf], ast.expr]) -> ast.expr:
    """A two-valued subtree as one Python expression (short-circuit ``and``/``or``)."""
    if isinstance(node, Leaf):
        return tree(node)
    if node.op == "not":
        return ast.UnaryOp(ast.Not(), _pure(node.children[0], tree))
    if len(node.children) == 1:
        return _pure(node.children[0], tree)
    return ast.BoolOp(ast.And() if node.op == "all" else ast.Or(), [_pure(c, tree) for c in node.children])


# ---------------------------------------------------------------- traced


@dataclass
class NodeResult:
    """What one condition node gave, and what it read."""

    node: Condition
    result: bool | None
    values: dict[str, Any] = field(default_factory=dict)


def emit_traced(
    node: Condition, out: list[ast.stmt], counter: Iterator[int], name: Callable[[Any], ast.expr], shown: bool = False
) -> ast.expr:
    """As ``emit``, and every node visited is recorded, in order, in the list ``_t_rec``. ``name(obj)`` binds an
    object the code refers to.

    A record is a ``NodeResult`` with the node's value and, for a leaf, the values it read (what a listener
    receives); or, ``shown``, the node as the trace shows it (``trace_node``), built here instead of from the
    ``NodeResult`` afterwards, when the trace is the only reader.
    The statements are ``emit``'s, node for node: the same short-circuits decide which nodes run.
    """
    var = f"_r{next(counter)}"
    load = ast.Name(id=var, ctx=ast.Load())
    if isinstance(node, Leaf):
        out.append(
            ast.Try(
                body=[ast.Assign([ast.Name(id=var, ctx=ast.Store())], node.compiled.py)],
                handlers=[
                    ast.ExceptHandler(
                        ast.Name(id="_fn_KeyError", ctx=ast.Load()),
                        None,
                        [ast.Assign([ast.Name(id=var, ctx=ast.Store())], ast.Constant(None))],
                    )
                ],
                orelse=[],
                finalbody=[],
            )
        )
        facts: list[ast.expr] = [ast.Name(id=n, ctx=ast.Load()) for n in (FACTS, ITEM, DECISION)]
        record: ast.expr
        if not shown:
            record = ast.Call(name(NodeResult), [name(node), load, ast.Call(name(node.probe), facts, [])], [])
        elif node.probes:
            record = ast.Call(name(node.shown_probe), [*facts, trace_node(node, shown_result(load))], [])
        else:
            record = trace_node(node, shown_result(load))
        out.append(_recorded(record))
        return load
    held = f"_t_n{next(counter)}"
    group: ast.expr
    if shown:
        group = trace_node(node, ast.Constant(None))
    else:
        group = ast.Call(name(NodeResult), [name(node), ast.Constant(None), ast.Dict([], [])], [])
    out.append(ast.Assign([ast.Name(id=held, ctx=ast.Store())], group))
    out.append(_recorded(ast.Name(id=held, ctx=ast.Load())))
    if node.op == "not":
        inner = emit_traced(node.children[0], out, counter, name, shown)
        out.append(
            ast.Assign(
                [ast.Name(id=var, ctx=ast.Store())],
                ast.IfExp(ast.Compare(inner, [ast.Is()], [ast.Constant(None)]), ast.Constant(None), ast.UnaryOp(ast.Not(), inner)),
            )
        )
    else:
        decisive = node.op == "any"
        out.append(ast.Assign([ast.Name(id=var, ctx=ast.Store())], ast.Constant(not decisive)))
        body = out
        for child in node.children:
            value = emit_traced(child, body, counter, name, shown)
            body = _next_child(body, var, value, decisive)
    if shown:
        target: ast.expr = ast.Subscript(ast.Name(id=held, ctx=ast.Load()), ast.Constant("result"), ast.Store())
        out.append(ast.Assign([target], shown_result(load)))
    else:
        out.append(ast.Assign([ast.Attribute(ast.Name(id=held, ctx=ast.Load()), "result", ast.Store())], load))
    return load


def trace_node(node: Condition, result: ast.expr, values: dict[str, ast.expr] | None = None, absent: list[str] | None = None) -> ast.Dict:
    """A display of the node as a trace shows it: its ``trace_head``, then ``result`` (and ``values``, read already
    plain, and ``absent``, the names of those not in the order)."""
    keys: list[ast.expr | None] = [ast.Constant(k) for k in node.trace_head]
    items: list[ast.expr] = [ast.Constant(v) for v in node.trace_head.values()]
    keys.append(ast.Constant("result"))
    items.append(result)
    if values:
        keys.append(ast.Constant("values"))
        items.append(ast.Dict([ast.Constant(k) for k in values], list(values.values())))
    if absent:
        keys.append(ast.Constant("absent"))
        items.append(ast.List([ast.Constant(k) for k in absent], ast.Load()))
    return ast.Dict(keys, items)


def shown_result(value: ast.expr) -> ast.expr:
    """A node's value as the trace shows it: ``True``, ``False`` or ``"not_met"``."""
    return ast.IfExp(ast.Compare(value, [ast.Is()], [ast.Constant(None)]), ast.Constant("not_met"), value)


def _recorded(record: ast.expr) -> ast.stmt:
    return ast.Expr(ast.Call(ast.Attribute(ast.Name(id="_t_rec", ctx=ast.Load()), "append", ast.Load()), [record], []))


class _AbsentValue:
    def __repr__(self) -> str:
        return "absent"


ABSENT_VALUE = _AbsentValue()
"""What an explanation shows for a fact that is not in the order."""


def _next_child(body: list[ast.stmt], var: str, value: ast.expr, decisive: bool) -> list[ast.stmt]:
    """One child of ``all``/``any``: its decisive value ends the group, unknown makes it unknown, else the next child runs.

    Returns the statements where the next child goes (they run only when this one was not decisive).
    """
    rest: list[ast.stmt] = [
        ast.If(
            ast.Compare(value, [ast.Is()], [ast.Constant(None)]),
            [ast.Assign([ast.Name(id=var, ctx=ast.Store())], ast.Constant(None))],
            [],
        )
    ]
    body.append(
        ast.If(
            ast.Compare(value, [ast.Is()], [ast.Constant(decisive)]),
            [ast.Assign([ast.Name(id=var, ctx=ast.Store())], ast.Constant(decisive))],
            rest,
        )
    )
    return rest


# ---------------------------------------------------------------- shown in a trace


SCALARS = frozenset({str, int, Decimal, bool, type(None)})
"""The types of value a trace shows as they are."""


def plain(value: Any) -> Any:
    """A value as plain JSON data (Decimal stays Decimal, times become RFC 3339 text)."""
    kind = type(value)
    if kind in SCALARS:
        return value
    convert = _CONVERT.get(kind)
    if convert is not None:
        return convert(value)
    return _plain_other(value)


def _sequence(value: list[Any] | tuple[Any, ...]) -> list[Any]:
    # A list of scalars (a shop's services, a line's flags) is copied in one step, not an element at a time.
    if SCALARS.issuperset(map(type, value)):
        return list(value)
    return [plain(v) for v in value]


def _duration(value: dt.timedelta) -> str:
    seconds = int(value.total_seconds())
    return f"P{seconds // 86400}D" if seconds % 86400 == 0 else f"PT{seconds // 3600}H" if seconds % 3600 == 0 else f"PT{seconds}S"


_CONVERT: dict[type, Callable[[Any], Any]] = {
    dt.datetime: dt.datetime.isoformat,
    dt.date: dt.date.isoformat,
    dt.timedelta: _duration,
    list: _sequence,
    tuple: _sequence,
    dict: lambda value: {k: plain(v) for k, v in value.items()},
}
"""``plain`` by the exact type of a value: one lookup instead of a chain of ``isinstance`` (a subclass takes the chain)."""


def _plain_other(value: Any) -> Any:
    if value is ABSENT_VALUE:
        return None
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return _duration(value)
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, frozenset):
        return sorted(plain(v) for v in value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (bool, int, str, Decimal)) or value is None:
        return value
    return str(value)
