"""The loader's own tree walk visits what ``ast.walk`` visits, in the same order (code is written in that order)."""

from __future__ import annotations

import ast

import pytest

from ruleengine.lang.ir import child_nodes, copy_tree, walk

EXPRESSIONS = [
    "a + b * f(x, y[1], z.q, key=3) if c and not d else [e for e in g if e > 1]",
    "sum(l['paid_amount'] for l in F['items'] if not l['gift']) >= 0 < x <= 9",
    "{'a': 1, **rest}, (1, 2), {3, 4}, -x, x[1:2:3], f'{x!r:>{w}}'",
    "lambda q, *r, s=1, **t: (q, r, s, t)",
    "[y := 1, (z for z in w for v in z if v)]",
]


@pytest.mark.parametrize("text", EXPRESSIONS)
def test_walk_and_children_match_the_standard_library(text: str) -> None:
    tree = ast.parse(text, mode="eval")
    assert walk(tree) == list(ast.walk(tree))
    for node in ast.walk(tree):
        assert child_nodes(node) == list(ast.iter_child_nodes(node))


def test_a_copied_tree_walks_as_the_original() -> None:
    tree = ast.parse(EXPRESSIONS[0], mode="eval")
    copied = copy_tree(tree)
    assert [type(n) for n in walk(copied)] == [type(n) for n in ast.walk(tree)]
