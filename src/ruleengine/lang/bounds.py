"""The work an expression can do, bounded at load: its size once definitions are written out, its
generators' nesting and worst-case iterations; generators that may run long are charged to the budget."""

from __future__ import annotations

import ast

from . import ir
from .ir import DECISION, Environment, ExpressionProblem, child_nodes, walk

EXPANDED_NODES_FACTOR = 4
"""An expression may grow this many times its own size limit once definitions are written out."""
MAX_GENERATOR_DEPTH = 2
MAX_ITERATIONS = 100_000
"""Static bound on the generator iterations of one expression (lines × lines × …)."""
COUNTED_ABOVE = 500
"""Generators that may iterate more than this are counted against the evaluation's budget as they run."""
FACT_LIST_BOUND = 100
DECISION_LIST_BOUND = 1000


def bound_work(py: ast.expr, env: Environment) -> ast.expr:
    """Check, on the tree with every definition written out, what the source alone cannot show.

    Definitions can hide size (a definition using another twice doubles the tree) and nesting (a
    generator inside a definition inside a generator). Here the expanded tree's size, its generator
    depth and its worst-case iteration count are bounded; generators that may iterate many times are
    wrapped so that each iteration counts against the evaluation's step and time budget.
    """
    size = 0
    generators = False
    for node in walk(py):
        size += 1
        generators = generators or isinstance(node, ast.GeneratorExp)
    limit = env.limits.max_expression_nodes * EXPANDED_NODES_FACTOR
    if size > limit:
        raise ExpressionProblem(f"expression too large once its definitions are written out: {size} parts > {limit}", 0, "too_complex")
    if not generators:
        return py
    total = _iterations(py, env, 1)
    if total > MAX_ITERATIONS:
        raise ExpressionProblem(
            f"generators here could iterate {total} times (lists of facts and parameters nested); at most {MAX_ITERATIONS}",
            0,
            "too_complex",
        )
    counted: ast.expr = _Counted(env).visit(py)
    return counted


def _iterations(node: ast.AST, env: Environment, outer: int, depth: int = 0) -> int:
    """Worst-case generator iterations under ``node``, given ``outer`` iterations around it."""
    if isinstance(node, ast.GeneratorExp):
        if depth >= MAX_GENERATOR_DEPTH:
            raise ExpressionProblem(
                f"generators nest at most {MAX_GENERATOR_DEPTH} deep (counting those inside definitions)", 0, "too_complex"
            )
        bound = outer * _iter_bound(node.generators[0].iter, env)
        inner = [*node.generators[0].ifs, node.elt]
        return (
            bound
            + sum(_iterations(child, env, bound, depth + 1) for child in inner)
            + _iterations(node.generators[0].iter, env, outer, depth)
        )
    return sum(_iterations(child, env, outer, depth) for child in child_nodes(node))


def _iter_bound(node: ast.expr, env: Environment) -> int:
    if isinstance(node, ir.Const):
        value = node.value
        return len(value) if isinstance(value, (tuple, frozenset, list)) else 1
    root: ast.expr = node
    while isinstance(root, (ast.Subscript, ast.Call)):
        root = root.value if isinstance(root, ast.Subscript) else (root.args[0] if root.args else root.func)
    if isinstance(root, ast.Name) and root.id == DECISION:
        return DECISION_LIST_BOUND
    return FACT_LIST_BOUND


class _Counted(ast.NodeTransformer):
    """Wraps the iterable of every generator that may run long in the engine's ``counted(D, …)``."""

    def __init__(self, env: Environment) -> None:
        self.env = env

    def visit_GeneratorExp(self, node: ast.GeneratorExp) -> ast.expr:
        self.generic_visit(node)
        if _iterations(node, self.env, 1) > COUNTED_ABOVE:
            gen = node.generators[0]
            if ir.called(gen.iter) != "counted":
                gen.iter = ir.call("counted", [ast.Name(id=DECISION, ctx=ast.Load()), gen.iter])
        return node
