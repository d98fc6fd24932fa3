"""Checked trees to Python code objects, compiled with no builtins: the only names code can see are the
engine's functions and the constants bound for it."""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import Any

from .functions import IMPLEMENTATIONS
from .ir import DECISION, FACTS, ITEM, Const, Environment, child_nodes, const_id, engine_id, walk

_ARGS = (FACTS, ITEM, DECISION)


def runtime_globals(calendar: dict[str, Callable[..., Any]]) -> dict[str, Any]:
    """The only names compiled code can see: the engine's functions. No builtins."""
    names: dict[str, Any] = {"__builtins__": {}}
    for name, fn in {**IMPLEMENTATIONS, **calendar}.items():
        names[engine_id(name)] = fn
    names[engine_id("present")] = present
    names[engine_id("counted")] = counted
    names[engine_id("dig")] = dig
    names[engine_id("KeyError")] = KeyError
    return names


BUDGET_KEY = "\x00budget"
"""Where the evaluation keeps its step budget in the decision-so-far (no expression can name it)."""


def counted(decision: Any, iterable: Any) -> Any:
    """Iterate, charging every 256 items to the evaluation's budget (see ``bound_work``).

    The first 256 are charged as steps only; the clock (a system call) is read from the next 256 on, as it is
    every 64 rule visits: a short list of the decision never pays for it.
    """
    budget = decision.get(BUDGET_KEY) if isinstance(decision, dict) else None
    for index, value in enumerate(iterable):
        if budget is not None and index & 255 == 0:
            if index:
                budget(256)
            else:
                budget.count(256)
        yield value


def present(base: Any, keys: tuple[str, ...]) -> bool:
    for key in keys:
        if not isinstance(base, dict) or key not in base:
            return False
        base = base[key]
    return True


def dig(base: Any, keys: tuple[str, ...], fallback: Any) -> Any:
    for key in keys:
        if not isinstance(base, dict) or key not in base:
            return fallback
        base = base[key]
    return base


def place(statements: list[ast.stmt]) -> set[int]:
    """Give every node without one a location (the tree is ours, built in memory); return the constants (``_kN``) it uses.

    A node that has a location keeps it: a condition's tree carries its own line number (``number_lines``).
    """
    used: set[int] = set()
    stack: list[ast.AST] = list(statements)
    while stack:
        node = stack.pop()
        if "lineno" in node._attributes and getattr(node, "lineno", None) is None:
            node.lineno = node.end_lineno = 1  # type: ignore[attr-defined]
            node.col_offset = node.end_col_offset = 0  # type: ignore[attr-defined]
        if isinstance(node, Const):
            used.add(node.index)
        stack.extend(child_nodes(node))
    return used


def number_lines(py: ast.expr, line: int) -> None:
    """Give every node of a checked tree the line ``line`` in the code it is compiled into.

    A condition's tree gets a line of its own (from 2: the code written around it is on line 1), so a
    failure's traceback names the condition that failed, whichever code ran it — at no cost when none fails.
    """
    for node in walk(py):
        if "lineno" in node._attributes:
            node.lineno = node.end_lineno = line  # type: ignore[attr-defined]


def build_function(
    body: ast.expr | list[ast.stmt], env: Environment, globals_: dict[str, Any], name: str, extra: tuple[str, ...] = ()
) -> Callable[..., Any]:
    """Compile a translated tree into ``f(F, I, D, *extra)``; constants are bound as defaults."""
    statements: list[ast.stmt] = body if isinstance(body, list) else [ast.Return(body)]
    order = sorted(place(statements))
    args = ast.arguments(
        posonlyargs=[],
        args=[ast.arg(a) for a in (*_ARGS, *extra)] + [ast.arg(const_id(k)) for k in order],
        kwonlyargs=[],
        kw_defaults=[],
        defaults=[ast.Name(id=f"_K{k}", ctx=ast.Load()) for k in order],
    )
    func = ast.FunctionDef(name="rule", args=args, body=list(statements), decorator_list=[], returns=None)
    module = ast.Module([func], type_ignores=[])
    for node in (func, args, *args.args, *args.defaults):
        if "lineno" in node._attributes:
            node.lineno = node.end_lineno = 1  # type: ignore[attr-defined]
            node.col_offset = node.end_col_offset = 0  # type: ignore[attr-defined]
    namespace = dict(globals_)
    for k in order:
        namespace[f"_K{k}"] = env.constants[k]
    code = compile(module, f"<{name}>", "exec")
    exec(code, namespace)
    fn: Callable[..., Any] = namespace["rule"]
    return fn


def build_probe(
    probes: list[tuple[str, ast.expr | None, Any]],
    absent: Any,
    *,
    env: Environment,
    globals_: dict[str, Any],
    name: str,
    shown: Callable[[Any], Any] | None = None,
    as_is: frozenset[type] = frozenset(),
) -> Callable[..., dict[str, Any]]:
    """``probe(F, I, D)``: the value of each probe tree by name (``absent`` where reading it fails), then the constants.

    ``shown`` (a function making a value plain data, which gives a value of a type in ``as_is`` back as it is):
    ``probe(F, I, D, node)`` instead, which sets the same values, each made plain, as ``node["values"]``, an absent
    one as None named in ``node["absent"]``, and returns ``node``; for code that builds a trace itself, the values
    need no second pass.

    Generators in a probe are not charged to the evaluation's budget: what an explanation shows must not
    change what the evaluation decides.
    """
    if shown is not None:
        return _shown_probe(probes, shown, as_is, env=env, globals_=globals_, name=name)
    statements: list[ast.stmt] = [ast.Assign([ast.Name(id="_p_v", ctx=ast.Store())], ast.Dict([], []))]
    constants: dict[str, Any] = {}
    for key, tree, constant in probes:
        if tree is None:
            constants[key] = constant
            continue
        target = ast.Subscript(ast.Name(id="_p_v", ctx=ast.Load()), ast.Constant(key), ast.Store())
        fallback = ast.Assign([target], ast.Name(id="_p_absent", ctx=ast.Load()))
        handler = ast.ExceptHandler(ast.Name(id="_p_Exception", ctx=ast.Load()), None, [fallback])
        statements.append(ast.Try(body=[ast.Assign([target], tree)], handlers=[handler], orelse=[], finalbody=[]))
    statements.append(ast.Return(ast.Name(id="_p_v", ctx=ast.Load())))
    free = {**globals_, engine_id("counted"): _uncounted, "_p_absent": absent, "_p_Exception": Exception}
    read = build_function(statements, env, free, name)
    if not constants:
        return read

    def probe(facts: Any, item: Any, decision: Any) -> dict[str, Any]:
        values: dict[str, Any] = read(facts, item, decision)
        values.update(constants)
        return values

    return probe


def _shown_probe(
    probes: list[tuple[str, ast.expr | None, Any]],
    shown: Callable[[Any], Any],
    as_is: frozenset[type],
    *,
    env: Environment,
    globals_: dict[str, Any],
    name: str,
) -> Callable[..., dict[str, Any]]:
    """``build_probe`` with ``shown``: the same values in the same order, each as ``shown`` makes it.

    A constant (a parameter) is written after the trees, as the plain probe's ``update`` does: where a tree has
    its name, the tree keeps the place and the constant the value, and is never absent.
    """
    constants = {key: constant for key, tree, constant in probes if tree is None}
    free = {**globals_, engine_id("counted"): _uncounted, "_p_Exception": Exception, "_p_type": type, "_p_as_is": as_is, "_p_shown": shown}

    def item(key: str) -> ast.Subscript:
        return ast.Subscript(_load("_p_v"), ast.Constant(key), ast.Store())

    statements: list[ast.stmt] = [_assign("_p_v", ast.Dict([], [])), _assign("_p_a", ast.Constant(None))]
    for key, tree, _ in probes:
        if tree is None:
            continue
        if key in constants:
            statements.append(ast.Assign([item(key)], ast.Constant(None)))
            continue
        plain_value = ast.IfExp(
            ast.Compare(ast.Call(_load("_p_type"), [_load("_p_x")], []), [ast.In()], [_load("_p_as_is")]),
            _load("_p_x"),
            ast.Call(_load("_p_shown"), [_load("_p_x")], []),
        )
        named = ast.IfExp(
            ast.Compare(_load("_p_a"), [ast.Is()], [ast.Constant(None)]),
            ast.List([ast.Constant(key)], ast.Load()),
            ast.BinOp(_load("_p_a"), ast.Add(), ast.List([ast.Constant(key)], ast.Load())),
        )
        handler = ast.ExceptHandler(_load("_p_Exception"), None, [ast.Assign([item(key)], ast.Constant(None)), _assign("_p_a", named)])
        statements.append(
            ast.Try(body=[_assign("_p_x", tree)], handlers=[handler], orelse=[ast.Assign([item(key)], plain_value)], finalbody=[])
        )
    for index, (key, constant) in enumerate(constants.items()):
        free[f"_p_c{index}"] = constant
        value: ast.expr = _load(f"_p_c{index}")
        if type(constant) not in as_is:  # made plain at every call: each trace holds its own copy
            value = ast.Call(_load("_p_shown"), [value], [])
        statements.append(ast.Assign([item(key)], value))
    node = ast.Name(id="_p_node", ctx=ast.Load())
    statements += [
        ast.Assign([ast.Subscript(node, ast.Constant("values"), ast.Store())], _load("_p_v")),
        ast.If(
            ast.Compare(_load("_p_a"), [ast.IsNot()], [ast.Constant(None)]),
            [ast.Assign([ast.Subscript(node, ast.Constant("absent"), ast.Store())], _load("_p_a"))],
            [],
        ),
        ast.Return(node),
    ]
    return build_function(statements, env, free, name, extra=("_p_node",))


def _load(name: str) -> ast.Name:
    return ast.Name(id=name, ctx=ast.Load())


def _assign(name: str, value: ast.expr) -> ast.stmt:
    return ast.Assign([ast.Name(id=name, ctx=ast.Store())], value)


def _uncounted(decision: Any, iterable: Any) -> Any:
    """``counted`` without the charge: for reading values an explanation shows."""
    return iterable
