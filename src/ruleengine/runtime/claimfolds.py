"""Conditions on the known claim type: what a function written for one kind of claim settles when it is written.

A function runs only orders of its kind (no claim, or a claim of one type), so a test of
``claim.type`` against literals has one value in it, and without a claim a leaf whose first
step reads the claim is not met. Both folds are exact; the traced function keeps the
conditions as written, to show them.
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Callable
from typing import Any

from ..lang.constraints import leaf_constraints
from ..lang.ir import DECISION, FACTS, Const, Engine, Environment, dotted_path
from ..model.conditions import Condition, Group, Leaf, leaves

_TESTS: dict[type, Callable[[Any, Any], bool]] = {
    ast.Eq: lambda a, b: bool(a == b),
    ast.NotEq: lambda a, b: bool(a != b),
    ast.In: lambda a, b: bool(a in b),
    ast.NotIn: lambda a, b: bool(a not in b),
}


def known_type(node: Condition, claim_type: str, env: Environment) -> Condition:
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
    children = [known_type(child, claim_type, env) for child in node.children]
    if node.op == "all":
        children = [
            c for c in children if not (isinstance(c, Leaf) and isinstance(c.compiled.py, ast.Constant) and c.compiled.py.value is True)
        ]
        if len(children) <= 1:
            return children[0] if children else _constant(node, True)
    return dataclasses.replace(node, children=children)


def excluding(node: Condition, env: Environment) -> Leaf | None:
    """The first leaf, through ``all`` groups, that tests the claim type: where the rule index found the rule cannot match."""
    if isinstance(node, Leaf):
        return node if any(path == "claim.type" for path, _ in leaf_constraints(node.compiled.py, env)) else None
    if node.op != "all":
        return None
    for child in node.children:
        found = excluding(child, env)
        if found is not None:
            return found
    return None


def _constant(node: Group, value: bool) -> Leaf:
    first = next(leaves(node))
    return dataclasses.replace(first, compiled=dataclasses.replace(first.compiled, py=ast.Constant(value), may_be_absent=False))


def without_claim(node: Condition) -> Condition:
    """The condition for orders without a claim: a leaf whose first step reads the claim is not met.

    Exact: nothing in the leaf runs before that read, which fails (absent) in every such order.
    """
    if isinstance(node, Group):
        return dataclasses.replace(node, children=[without_claim(child) for child in node.children])
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
