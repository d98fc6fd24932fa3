"""The checked form of an expression: Python syntax trees whose special names are typed nodes.

``check`` translates what an author wrote into a tree of Python nodes that ``codegen`` compiles as it is:
facts are dictionary lookups on ``F`` (the order), ``I`` (the line) and ``D`` (the decision so far). The
few names that mean something more are nodes of their own types — a bound constant (``Const``), one of
the engine's functions (``Engine``), a generator's variable (``Var``), a definition's parameter (``Arg``)
— so every reader of the tree (the readable form, the bounds, the rule index, the code writer) asks a
node what it is instead of decoding its name.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from ..limits import DEFAULT_LIMITS, Limits
from . import types as t

_T = TypeVar("_T")

FACTS, ITEM, DECISION = "F", "I", "D"
SUPPRESSED = "suppressed"
"""Code of a problem that only repeats one reported elsewhere; the loader drops it."""


class ExpressionProblem(Exception):
    """A load-time problem at a 0-based character offset in the expression."""

    def __init__(self, message: str, offset: int = 0, code: str = "expression") -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.code = code


@dataclass
class Definition:
    """A named, typed, reusable expression (``within_days_after(start, n, at)``)."""

    name: str
    params: tuple[tuple[str, t.Type], ...]
    text: str
    tree: ast.expr | None = None
    compiled: Compiled | None = None
    pointer: str = ""
    file: str = ""


@dataclass
class Compiled:
    """A checked expression: its Python tree, its type, and what it reads."""

    text: str
    py: ast.expr
    type: t.Type
    may_be_absent: bool
    reads: dict[str, ast.expr] = field(default_factory=dict)
    """Fact path as written → Python tree that reads it (for explanations)."""
    params_used: set[str] = field(default_factory=set)
    definitions_used: set[str] = field(default_factory=set)
    uses_item: bool = False


@dataclass
class Environment:
    """What names mean for one policy: fact roots, parameters, definitions, functions."""

    facts: t.Type
    decision: t.Type
    params: dict[str, tuple[t.Type, Any]]
    definitions: dict[str, Definition] = field(default_factory=dict)
    limits: Limits = DEFAULT_LIMITS
    broken: set[str] = field(default_factory=set)
    """Parameters and definitions whose own errors are already reported: uses of them are not errors again."""
    constants: list[Any] = field(default_factory=list)
    _const_index: dict[tuple[str, Any], int] = field(default_factory=dict)

    @property
    def item(self) -> t.Type:
        items = self.facts.fields["items"].type
        assert items.elem is not None
        return items.elem

    def constant(self, value: Any) -> ast.expr:
        """A Python name bound to ``value`` when the code is built (Decimal, datetime, frozenset…)."""
        key = (type(value).__name__, value)
        index = self._const_index.get(key)
        if index is None:
            index = len(self.constants)
            self.constants.append(value)
            self._const_index[key] = index
        return const(index, value)




class Const(ast.Name):
    """A value bound when the code is built (Decimal, datetime, frozenset …): ``value``, the ``index``-th constant."""

    index: int
    value: Any


class Engine(ast.Name):
    """One of the engine's functions (``function``), by the name it has in compiled code's namespace."""

    function: str


class Var(ast.Name):
    """A generator's variable: ``name`` as the author wrote it."""

    name: str


class Arg(ast.Name):
    """A definition's parameter (``name``), replaced by the argument wherever the definition is used."""

    name: str


def engine_id(function: str) -> str:
    """The name an engine function has in compiled code's namespace (``codegen.runtime_globals``)."""
    return f"_fn_{function}"


def const_id(index: int) -> str:
    """The name the ``index``-th constant has in compiled code."""
    return f"_k{index}"


def const(index: int, value: Any) -> Const:
    node = Const(id=const_id(index), ctx=ast.Load())
    node.index, node.value = index, value
    return node


def engine(function: str) -> Engine:
    node = Engine(id=engine_id(function), ctx=ast.Load())
    node.function = function
    return node


def var(name: str, number: int, store: bool = False) -> Var:
    node = Var(id=f"_v{number}_{name}", ctx=ast.Store() if store else ast.Load())
    node.name = name
    return node


def arg(name: str) -> Arg:
    node = Arg(id=f"_p_{name}", ctx=ast.Load())
    node.name = name
    return node


def call(function: str, args: list[ast.expr]) -> ast.Call:
    """A call of one of the engine's functions."""
    return ast.Call(engine(function), args, [])


def called(node: ast.AST) -> str | None:
    """The engine function ``node`` calls, if it is such a call."""
    if isinstance(node, ast.Call) and isinstance(node.func, Engine):
        return node.func.function
    return None


def keys(names: list[str]) -> ast.Tuple:
    return ast.Tuple([ast.Constant(k) for k in names], ast.Load())


def copy_tree(node: _T) -> _T:
    """A copy of a checked tree whose nodes and lists are new; the values they hold are shared.

    ``copy.deepcopy`` did the same a third slower per node and was a quarter of a policy's load (a
    definition's body is copied wherever it is used): its memo and reduce protocol buy nothing here,
    since a tree's leaves (strings, numbers, Decimals, tuples of keys, a constant's value) are never
    changed in place.
    """
    copied: Any = _copied(node)
    return cast(_T, copied)


def _copied(node: Any) -> Any:
    if isinstance(node, list):
        return [_copied(v) if isinstance(v, (ast.AST, list)) else v for v in node]
    if not isinstance(node, ast.AST):
        return node
    new = node.__class__.__new__(node.__class__)
    fields = new.__dict__
    for name, value in node.__dict__.items():
        fields[name] = _copied(value) if isinstance(value, (ast.AST, list)) else value
    return new


def child_nodes(node: ast.AST) -> list[ast.AST]:
    """``ast.iter_child_nodes(node)`` as a list, in the same order.

    Loading a policy walks every expression's tree several times (its size, its bounds, its locations, the
    code written from it); the standard generator, through ``ast.iter_fields``, was a tenth of a cold load.
    """
    children: list[ast.AST] = []
    for name in node._fields:
        value = getattr(node, name, None)
        if isinstance(value, ast.AST):
            children.append(value)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, ast.AST):
                    children.append(item)
    return children


def walk(node: ast.AST) -> list[ast.AST]:
    """``ast.walk(node)`` as a list: every node of the tree, breadth first, in the same order."""
    nodes = [node]
    index = 0
    while index < len(nodes):
        nodes.extend(child_nodes(nodes[index]))
        index += 1
    return nodes


def dotted_path(py: ast.expr) -> str | None:
    """``claim.type`` for the translated ``F['claim']['type']`` (also ``item.…``, ``decision.…``); else None."""
    keys: list[str] = []
    node = py
    while isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
        keys.append(node.slice.value)
        node = node.value
    if not isinstance(node, ast.Name) or not keys:
        return None
    root = {FACTS: "", ITEM: "item", DECISION: "decision"}.get(node.id)
    if root is None:
        return None
    return ".".join(([root] if root else []) + keys[::-1])
