"""simpleeval over the checked, translated tree: the evaluator of the explaining path.

Explanations, traces and coverage evaluate each condition node by node, and
show the values of its parts; that path runs the same checked tree through
simpleeval's interpreter (``previously_parsed``: parsed and checked once, at
load). The fast path runs the tree compiled to a code object. Tests hold the
two to the same answers, so an explanation always describes the decision.

simpleeval sees only what the checker wrote: the facts, the line, the
decision so far, bound constants and the engine's own functions.
"""

from __future__ import annotations

import ast
from typing import Any

from simpleeval import EvalWithCompoundTypes

from .expressions import DECISION, FACTS, ITEM, Environment


class Interpreter:
    def __init__(self, env: Environment, globals_: dict[str, Any]) -> None:
        self.env = env
        self.functions = {name: fn for name, fn in globals_.items() if name.startswith("_fn_")}

    def evaluate(self, tree: ast.expr, text: str, facts: Any, item: Any, decision: Any) -> Any:
        names = {f"_k{i}": value for i, value in enumerate(self.env.constants)}
        names.update({FACTS: facts, ITEM: item, DECISION: decision})
        return EvalWithCompoundTypes(names=names, functions=self.functions).eval(text, previously_parsed=tree)
