"""Checked trees written back the way an author writes them: for explanations, messages and the catalogue."""

from __future__ import annotations

import ast
from decimal import Decimal
from typing import Any, ClassVar

from . import ir
from .ir import DECISION, FACTS, ITEM, Environment


def operands(py: ast.expr, env: Environment, skip: set[str]) -> list[tuple[str, ast.expr]]:
    """The sides of the comparisons that decide a condition, as readable text and as trees.

    Works on the translated tree, so values computed inside definitions (a
    window's end, say) are shown too.
    """
    out: list[tuple[str, ast.expr]] = []
    seen = set(skip)
    nodes: list[ast.expr] = [py]
    while nodes:
        node = nodes.pop(0)
        if isinstance(node, ast.BoolOp):
            nodes.extend(node.values)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            nodes.append(node.operand)
        elif isinstance(node, ast.Compare):
            for side in [node.left, *node.comparators]:
                if isinstance(side, (ast.Constant, ast.Tuple, ir.Const)):
                    continue
                text = readable(side, env)
                if text not in seen:
                    seen.add(text)
                    out.append((text, side))
    return out


def readable(py: ast.expr, env: Environment) -> str:
    """The translated tree written back the way an author writes it (``claim.requested_at``, ``days(8)``)."""
    return ast.unparse(_Readable(env).visit(ir.copy_tree(py)))


class _Readable(ast.NodeTransformer):
    _ROOTS: ClassVar[dict[str, str]] = {ITEM: "item", DECISION: "decision"}

    def __init__(self, env: Environment) -> None:
        self.env = env

    def visit_Subscript(self, node: ast.Subscript) -> ast.expr:
        base = node.value
        key = node.slice.value if isinstance(node.slice, ast.Constant) else None
        if isinstance(base, ast.Name) and base.id == FACTS and isinstance(key, str):
            return ast.Name(id=key, ctx=ast.Load())
        value = self.visit(base)
        if isinstance(key, str):
            return ast.Attribute(value=value, attr=key, ctx=ast.Load())
        return ast.Subscript(value=value, slice=self.visit(node.slice), ctx=ast.Load())

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if node.id in self._ROOTS:
            return ast.Name(id=self._ROOTS[node.id], ctx=ast.Load())
        return node

    def visit_Engine(self, node: ir.Engine) -> ast.expr:
        return ast.Name(id=node.function, ctx=ast.Load())

    def visit_Const(self, node: ir.Const) -> ast.expr:
        return ast.Name(id=_literal(node.value), ctx=ast.Load())

    def visit_Var(self, node: ir.Var) -> ast.expr:
        return ast.Name(id=node.name, ctx=node.ctx)

    def visit_Call(self, node: ast.Call) -> ast.expr:
        func = ir.called(node)
        args = [self.visit(a) for a in node.args]
        if func == "divide" and len(args) == 2:
            return ast.BinOp(args[0], ast.Div(), args[1])
        if func == "scale" and len(args) == 2:
            return ast.BinOp(args[0], ast.Mult(), args[1])
        if func in ("present", "dig") and isinstance(node.args[1], ast.Tuple):
            path: ast.expr = args[0]
            for key in node.args[1].elts:
                if isinstance(key, ast.Constant):
                    path = (
                        ast.Name(id=str(key.value), ctx=ast.Load())
                        if isinstance(path, ast.Name) and path.id == FACTS
                        else ast.Attribute(path, str(key.value), ast.Load())
                    )
            name = "has" if func == "present" else "default"
            extra = [] if func == "present" else [args[2]]
            return ast.Call(ast.Name(id=name, ctx=ast.Load()), [path, *extra], [])
        return ast.Call(self.visit(node.func), args, [])


def _literal(value: Any) -> str:
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, (tuple, list, frozenset)):
        items = sorted(value) if isinstance(value, frozenset) else list(value)
        return "[" + ", ".join(repr(v) if isinstance(v, str) else _literal(v) for v in items) + "]"
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return repr(value)
