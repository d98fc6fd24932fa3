"""The plain path's rewrites of a checked tree: the same values, fewer calls per order.

The traced path writes the checked trees as they are (an explanation shows them as written); the plain
function may write a rewritten copy that computes the same value and fails the same way:

- ``has(logistics.shipped_at)`` on the order or its line is inlined (``'shipped_at' in F['logistics']``, with the
  test ``present`` makes that each level is an object): no call of ``present`` per order;
- a pure function of constants (``days(params.window_days + 1)``) and arithmetic on constants are computed
  once, when the code is written; one that fails then (an overflow) is left to fail where it did;
- a part of the order or the decision that the function holds in a local for all its orders (``D['services']``,
  and with a claim ``D['claim']``, ``F['claim']``) is read from it;
- in a function for one claim type, ``claim.type`` is that type, wherever it is read (``claim.type ==
  'no_reason_return' and …``, ``'refund' if claim.type == … else …``): comparisons of constants are computed,
  and a condition's or a choice's constant test settles it (``True and x`` is ``x``, Python's own reading);
- a call of an aggregate, or of repeated arithmetic and calendar, on what is fixed for the order is computed once
  an order, where first needed (``memoized``).

And for a loop over the lines (``Writer.fuse``): what is the same at every turn is computed before it
(``hoisted``), what several tests read first once per turn (``first_reads``).
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from ..lang.functions import IMPLEMENTATIONS
from ..lang.ir import FACTS, ITEM, Const, Engine, called, child_nodes, copy_tree, dotted_path, walk

FOLDED = frozenset({"days", "hours", "scale", "divide", "round_money", "prorata", "percent_of", "clamp"})
"""Engine functions that depend on nothing but their arguments: called with constants, computed once."""

_ARITHMETIC: dict[type[ast.operator], Callable[[Any, Any], Any]] = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul}
_NUMBERS = (int, Decimal)
_COMPARISONS: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}


Held = dict[tuple[str, str], str]
"""(``F`` or ``D``, key) → the local holding that part in every order the function decides (it always exists)."""


def lowered(
    tree: ast.expr,
    bind: Callable[[Any], ast.Name],
    isinstance_: ast.Name,
    dict_: ast.Name,
    held: Held | None = None,
    claim_type: str | None = None,
) -> ast.expr:
    """A rewritten copy of ``tree`` (the tree itself is not changed); ``bind(value)`` names a constant in the code,
    ``isinstance_`` and ``dict_`` are the names the code has for those two; ``claim_type``: the type of every
    order's claim (None: not one type)."""
    return _Lower(bind, isinstance_, dict_, held or {}, claim_type).visit(copy_tree(tree))  # type: ignore[no-any-return]


class Folded(ast.Name):
    """A value computed when the code is written (a pure function of constants), by the name it is bound to.

    Like a constant (``ir.Const``), its ``value`` is known before any order: the code writer asks about it once.
    """

    value: Any


class _Lower(ast.NodeTransformer):
    def __init__(self, bind: Callable[[Any], ast.Name], isinstance_: ast.Name, dict_: ast.Name, held: Held, claim_type: str | None) -> None:
        self.bind = bind
        self.isinstance = isinstance_
        self.dict = dict_
        self.held = held
        self.claim_type = claim_type

    def value(self, node: ast.AST) -> tuple[bool, Any]:
        if isinstance(node, Const | Folded):
            return True, node.value
        if isinstance(node, ast.Constant) and not isinstance(node.value, str | bool) and node.value is not None:
            return True, node.value
        return False, None

    def folded(self, value: Any, node: ast.AST) -> ast.expr:
        folded = Folded(id=self.bind(value).id, ctx=ast.Load())
        folded.value = value
        return ast.copy_location(folded, node)

    def visit_BinOp(self, node: ast.BinOp) -> ast.expr:
        self.generic_visit(node)
        compute = _ARITHMETIC.get(type(node.op))
        (left_known, left), (right_known, right) = self.value(node.left), self.value(node.right)
        if compute is None or not (left_known and right_known):
            return node
        if not (type(left) in _NUMBERS and type(right) in _NUMBERS):
            return node
        try:
            return self.folded(compute(left, right), node)
        except ArithmeticError:
            return node

    def visit_Subscript(self, node: ast.Subscript) -> ast.expr:
        if self.claim_type is not None and dotted_path(node) == "claim.type":  # every order's claim is of this type
            return ast.copy_location(ast.Constant(self.claim_type), node)
        self.generic_visit(node)
        local = self.held_as(node.value, node.slice)
        return node if local is None else ast.copy_location(ast.Name(id=local, ctx=ast.Load()), node)

    def held_as(self, base: ast.expr, key: ast.expr) -> str | None:
        """The local holding ``base[key]``, if the function holds it."""
        if type(base) is ast.Name and isinstance(key, ast.Constant) and isinstance(key.value, str):
            return self.held.get((base.id, key.value))
        return None

    def visit_Compare(self, node: ast.Compare) -> ast.expr:
        """A comparison of constants (``'no_reason_return' == 'repair'``) computed: Python's own answer, now."""
        self.generic_visit(node)
        operands = [node.left, *node.comparators]
        if not all(type(op) in _COMPARISONS for op in node.ops) or not all(isinstance(o, ast.Constant | Const | Folded) for o in operands):
            return node
        values = [o.value for o in operands]  # type: ignore[attr-defined]
        try:
            result = all(_COMPARISONS[type(op)](a, b) for op, a, b in zip(node.ops, values, values[1:], strict=False))
        except Exception:  # it fails when the order is evaluated, where it always did
            return node
        return ast.copy_location(ast.Constant(result), node)

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.expr:
        """Leading constants of ``and`` / ``or`` settle it or drop out: ``True and x`` is ``x``, ``False and x`` is ``False``."""
        self.generic_visit(node)
        values = list(node.values)
        settles = isinstance(node.op, ast.Or)  # the truth that ends an ``or``; an ``and`` ends on a false value
        while len(values) > 1 and isinstance(values[0], ast.Constant):
            if bool(values[0].value) == settles:
                return values[0]
            values.pop(0)
        if len(values) == 1:
            return values[0]
        node.values = values
        return node

    def visit_IfExp(self, node: ast.IfExp) -> ast.expr:
        self.generic_visit(node)
        if isinstance(node.test, ast.Constant):
            return node.body if node.test.value else node.orelse
        return node

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.expr:
        self.generic_visit(node)
        if isinstance(node.op, ast.Not) and isinstance(node.operand, ast.Constant):
            return ast.copy_location(ast.Constant(not node.operand.value), node)
        return node

    def visit_Call(self, node: ast.Call) -> ast.expr:
        self.generic_visit(node)
        function = called(node)
        if function in FOLDED and not node.keywords:
            values = [self.value(arg) for arg in node.args]
            if all(known for known, _ in values):
                try:
                    return self.folded(IMPLEMENTATIONS[function](*(value for _, value in values)), node)
                except Exception:  # it fails when the order is evaluated, where it always did
                    return node
        if function == "present" and len(node.args) == 2:
            return self.present(node) or node
        return node

    def present(self, node: ast.Call) -> ast.expr | None:
        """``present(base, (k1, …, kn))`` as ``k1 in base and isinstance(base[k1], dict) and k2 in base[k1] …``.

        Only for the order (``F``, an object by the time any rule runs) and its line (``I``, tested as ``present``
        tests it), with literal keys: anything else keeps the call.
        """
        base, keys = node.args
        if not (isinstance(base, ast.Name) and type(base) is ast.Name and base.id in (FACTS, ITEM) and isinstance(keys, ast.Tuple)):
            return None
        if not keys.elts or not all(isinstance(k, ast.Constant) and isinstance(k.value, str) for k in keys.elts):
            return None
        tests: list[ast.expr] = []
        current: ast.expr = ast.Name(id=base.id, ctx=ast.Load())
        if base.id == ITEM:  # the order itself is always an object (``facts.prepare``); a line is tested as present tests it
            tests.append(ast.Call(self.isinstance, [current, self.dict], []))
        for index, key in enumerate(keys.elts):
            assert isinstance(key, ast.Constant)
            local = self.held_as(current, key) if index == 0 else None
            if local is not None:  # always there: only whether it is an object is a question
                current = ast.Name(id=local, ctx=ast.Load())
            else:
                tests.append(ast.Compare(ast.Constant(key.value), [ast.In()], [current]))
                current = ast.Subscript(current, ast.Constant(key.value), ast.Load())
            if index < len(keys.elts) - 1:
                tests.append(ast.Call(self.isinstance, [current, self.dict], []))
        inlined = ast.BoolOp(ast.And(), tests) if len(tests) > 1 else tests[0] if tests else ast.Constant(True)
        for part in walk(inlined):
            ast.copy_location(part, node)
        return inlined


_INVARIANT_PARTS = (ast.Compare, ast.BoolOp, ast.UnaryOp, ast.Subscript, ast.Tuple, ast.IfExp, ast.Call, ast.Constant, ast.Name)
_OPERATORS = (ast.expr_context, ast.cmpop, ast.boolop, ast.unaryop)
_COMPUTED = (ast.Compare, ast.BoolOp, ast.UnaryOp, ast.Subscript, ast.Call)
"""What is worth a local: it computes something (a name or a constant is read as cheaply from where it is)."""


def hoisted(statements: list[ast.stmt], fixed: Callable[[ast.Name], bool], pure: frozenset[str], prefix: str) -> list[ast.stmt]:
    """Rewrite ``statements`` (a loop's body) in place: each part that is the same at every turn computed once, before.

    A part is the same at every turn when the only names it reads are ``fixed`` (the order, constants) and the only
    functions it calls are ``pure`` (by name): no comprehension, no budget, nothing the loop assigns. Parts inside a
    ``try`` stay where they are (a fact absent there is a value, not an error). The returned assignments (locals
    ``prefix0``, ``prefix1`` …) compute them in the order the loop first meets them; run before it, they can fail
    where the loop would not have reached them, so the caller runs them where any failure is answered exactly
    (``Writer.fuse``: the order is decided again without the fused loop).
    """
    hoister = _Hoist(fixed, pure, prefix)
    statements[:] = [hoister.visit(statement) for statement in statements]
    return hoister.assignments


class _Hoist(ast.NodeTransformer):
    def __init__(self, fixed: Callable[[ast.Name], bool], pure: frozenset[str], prefix: str) -> None:
        self.fixed = fixed
        self.pure = pure
        self.prefix = prefix
        self.assignments: list[ast.stmt] = []
        self.names: dict[str, str] = {}
        """A hoisted part's code → its local: the same part met again reads the same local."""

    def visit_Try(self, node: ast.Try) -> ast.Try:
        return node

    def visit(self, node: ast.AST) -> Any:
        if isinstance(node, _COMPUTED) and self.invariant(node):
            code = ast.dump(node)
            local = self.names.get(code)
            if local is None:
                local = self.names[code] = f"{self.prefix}{len(self.names)}"
                self.assignments.append(ast.copy_location(ast.Assign([ast.Name(id=local, ctx=ast.Store())], node), node))
            return ast.copy_location(ast.Name(id=local, ctx=ast.Load()), node)
        return super().visit(node)

    def invariant(self, node: ast.AST) -> bool:
        if not isinstance(node, _INVARIANT_PARTS):
            return False
        if isinstance(node, ast.Name):
            return isinstance(node.ctx, ast.Load) and self.fixed(node)
        if isinstance(node, ast.Call):
            if node.keywords or not (type(node.func) is ast.Name and node.func.id in self.pure):
                return False
            return all(self.invariant(arg) for arg in node.args)
        return all(self.invariant(child) for child in child_nodes(node) if not isinstance(child, _OPERATORS))


def first_reads(tests: list[ast.expr], varying: frozenset[str], prefix: str) -> list[ast.stmt]:
    """Rewrite ``tests`` in place: what two or more of them read first (``not I['gift']``) read once, into a local.

    The first operand of a test is computed whenever the test is, so computing it before the tests computes nothing
    new; only what ``varying`` names (what the tests' actions change) is left where it is. The returned assignments
    (locals ``prefix0`` …) go before the tests.
    """
    heads: dict[str, ast.expr] = {}
    seen: dict[str, int] = {}
    for test in tests:
        head = _first_operand(test)
        if head is not None and not any(isinstance(n, ast.Name) and n.id in varying for n in walk(head)):
            code = ast.dump(head)
            heads.setdefault(code, head)
            seen[code] = seen.get(code, 0) + 1
    names = {code: f"{prefix}{index}" for index, code in enumerate(c for c in heads if seen[c] > 1)}
    if not names:
        return []
    rewriter = _Replace(names)
    tests[:] = [rewriter.visit(test) for test in tests]
    return [ast.copy_location(ast.Assign([ast.Name(id=names[c], ctx=ast.Store())], heads[c]), heads[c]) for c in names]


def _first_operand(test: ast.expr) -> ast.expr | None:
    """What ``test`` (``(a and b …) is True``) computes first, when that is a computation."""
    node = test.left if isinstance(test, ast.Compare) else test
    while isinstance(node, ast.BoolOp):
        node = node.values[0]
    return node if isinstance(node, _COMPUTED) else None


class _Replace(ast.NodeTransformer):
    def __init__(self, names: dict[str, str]) -> None:
        self.names = names

    def visit(self, node: ast.AST) -> Any:
        if isinstance(node, ast.expr):
            local = self.names.get(ast.dump(node))
            if local is not None:
                return ast.copy_location(ast.Name(id=local, ctx=ast.Load()), node)
        return super().visit(node)


KEPT = frozenset(
    {
        *("sum", "count", "any", "all", "aggregate_min", "aggregate_max"),
        *("prorata", "start_of_day", "end_of_date", "date_of", "days_between", "hours_between", "add_days", "add_hours"),
    }
)
"""The engine's functions whose calls are worth keeping: those over a generator, and the arithmetic and calendar
that definitions repeat (``claimed_prorata``, a day's start or end: time-zone conversions)."""


def memoized(tree: ast.expr, fixed: Callable[[ast.Name], bool], memo: Callable[[ast.expr], ast.expr]) -> ast.expr:
    """``tree`` with each call of a ``KEPT`` function on what is fixed all through an order as ``memo(part)``.

    A definition is written out wherever it is used (``order_actual_price`` sums the lines in every rule that reads
    it); such a part gives the same value each time in an order, so the function computes it once, where it is first
    needed (``memo`` returns code reading the value kept, or computing and keeping it; a part that fails keeps
    nothing and fails again where it is next read). ``fixed`` says which names hold the same value all through the
    order; a generator's own variables are its own.
    """
    return _Memo(fixed, memo).visit(tree)  # type: ignore[no-any-return]


class _Memo(ast.NodeTransformer):
    def __init__(self, fixed: Callable[[ast.Name], bool], memo: Callable[[ast.expr], ast.expr]) -> None:
        self.fixed = fixed
        self.memo = memo

    def visit(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Call) and isinstance(node.func, Engine) and node.func.function in KEPT and self.kept(node):
            return self.memo(node)
        return super().visit(node)

    def kept(self, node: ast.Call) -> bool:
        """Whether ``node`` reads only fixed names, calls only the engine's functions, assigns nothing."""
        parts = walk(node)
        targets = [part.target for part in parts if isinstance(part, ast.comprehension)]
        own = {name.id for target in targets for name in walk(target) if isinstance(name, ast.Name)}
        for part in parts:
            if isinstance(part, (ast.NamedExpr, ast.Lambda, ast.Attribute, ast.Await, ast.Yield, ast.YieldFrom)):
                return False
            if isinstance(part, ast.Call) and not (isinstance(part.func, Engine) and part.func.function != "counted"):
                return False
            if isinstance(part, ast.Name) and part.id not in own and not (isinstance(part, Engine) or self.fixed(part)):
                return False
        return True
