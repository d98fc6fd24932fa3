"""The rule index: which values of an enum fact (the claim type) a rule's condition requires."""

from __future__ import annotations

from ..lang.constraints import Domain, leaf_constraints, meet
from ..lang.ir import Environment
from ..model.conditions import Condition, Group, Leaf


def constraints(node: Condition, env: Environment) -> dict[str, Domain]:
    """Allowed values per enum fact that the condition requires (through ``all`` groups and ``and``)."""
    if isinstance(node, Leaf):
        out: dict[str, Domain] = {}
        for path, values in leaf_constraints(node.compiled.py, env):
            out[path] = meet(out.get(path), values)
        return out
    assert isinstance(node, Group)
    if node.op != "all":
        return {}
    merged: dict[str, Domain] = {}
    for child in node.children:
        for path, domain in constraints(child, env).items():
            merged[path] = meet(merged.get(path), domain)
    return merged
