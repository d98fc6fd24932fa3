"""What a checked condition pins down: the values of enum facts it allows (``claim.type == 'x'`` → {x}).

The compiler records it on each rule (the rule index: a rule whose claim types exclude an
order's is left out of that order's program) and lint reads it for rules that can never match.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from . import types as t
from .ir import Const, Environment, dotted_path

Domain = frozenset[str] | None
"""The values a text fact may still take under a condition (None: unconstrained)."""


def leaf_constraints(py: ast.expr, env: Environment) -> Iterator[tuple[str, frozenset[str]]]:
    """The enum facts one leaf pins down, and the values it allows them (``claim.type == 'x'`` → claim.type, {x})."""
    parts = py.values if isinstance(py, ast.BoolOp) and isinstance(py.op, ast.And) else [py]
    for part in parts:
        if not (isinstance(part, ast.Compare) and len(part.ops) == 1):
            continue
        path = dotted_path(part.left)
        if path is None:
            continue
        enum = _enum_of(path, env)
        if enum is None:
            continue
        values = _literal_values(part.comparators[0], env)
        if values is None:
            continue
        op = part.ops[0]
        if isinstance(op, (ast.Eq, ast.In)):
            yield path, frozenset(values)
        elif isinstance(op, (ast.NotEq, ast.NotIn)):
            yield path, frozenset(enum) - frozenset(values)


def _literal_values(node: ast.expr, env: Environment) -> list[str] | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, Const):
        value = node.value
        if isinstance(value, (tuple, frozenset)) and all(isinstance(v, str) for v in value):
            return list(value)
    return None


def _enum_of(path: str, env: Environment) -> tuple[str, ...] | None:
    parts = path.split(".")
    typ = env.item if parts[0] == "item" else env.facts.fields[parts[0]].type if parts[0] in env.facts.fields else None
    for key in parts[1:]:
        if typ is None or typ.kind != t.OBJECT or key not in typ.fields:
            return None
        typ = typ.fields[key].type
    return typ.enum if typ is not None else None


def meet(a: Domain, b: Domain) -> Domain:
    if a is None:
        return b
    if b is None:
        return a
    return a & b
