"""Small builders of Python syntax trees, and fixed templates filled in: what the generated code is made of."""

from __future__ import annotations

import ast
import functools
from typing import Any

from ..lang.ir import child_nodes


def load_name(name: str) -> ast.Name:
    return ast.Name(id=name, ctx=ast.Load())


def store_name(name: str) -> ast.Name:
    return ast.Name(id=name, ctx=ast.Store())


def assign(name: str, value: ast.expr) -> ast.stmt:
    return ast.Assign([store_name(name)], value)


def call(fn: str, *args: ast.expr) -> ast.Call:
    return ast.Call(load_name(fn), list(args), [])


def method_call(obj: str, method: str, *args: ast.expr) -> ast.stmt:
    return ast.Expr(ast.Call(ast.Attribute(load_name(obj), method, ast.Load()), list(args), []))


def joined(pieces: list[ast.expr]) -> ast.expr:
    text = pieces[0] if pieces else ast.Constant("")
    for piece in pieces[1:]:
        text = ast.BinOp(text, ast.Add(), piece)
    return text


def not_in(key: ast.expr, container: str) -> ast.expr:
    return ast.Compare(key, [ast.NotIn()], [load_name(container)])


@functools.cache
def parsed_template(template: str) -> list[ast.stmt]:
    return ast.parse(template).body


def filled_copy(node: Any, names: dict[str, ast.expr]) -> Any:
    if isinstance(node, ast.Name) and node.id in names:
        return names[node.id]
    if isinstance(node, list):
        return [filled_copy(item, names) for item in node]
    if not isinstance(node, ast.AST):
        return node
    new = type(node)(**{field: filled_copy(getattr(node, field), names) for field in node._fields})
    for attribute in node._attributes:
        setattr(new, attribute, getattr(node, attribute))
    return new


def locate(root: ast.AST, located: dict[int, ast.AST]) -> None:
    """Give the nodes written here a location; the checked expression trees (``located``) have theirs since load."""
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in located:
            continue
        if "lineno" in node._attributes:
            node.lineno = node.end_lineno = 1  # type: ignore[attr-defined]
            node.col_offset = node.end_col_offset = 0  # type: ignore[attr-defined]
        stack.extend(child_nodes(node))
