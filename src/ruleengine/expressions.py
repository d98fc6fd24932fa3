"""Expressions: parsed once, checked against an allow-list and the schemas, compiled once.

An expression is Python syntax restricted to what a policy needs: facts by
dotted path, comparisons, ``and``/``or``/``not``, arithmetic on numbers,
timestamps and durations, ``x if c else y``, list literals, calls of the
engine's own functions and of the policy's named definitions, and generator
expressions inside ``sum``/``count``/``any``/``all``/``min``/``max``.

The pipeline, each step refusing what the next would trust:
1. text: length, characters (no bidi/zero-width/control; identifiers ASCII);
2. ``ast.parse(mode="eval")``: no statements, assignments, several lines;
3. an allow-list walk with node-count and depth limits;
4. type checking against the order/decision schemas and the parameters;
5. translation to a Python syntax tree in which every fact access is a
   dictionary lookup, every literal a bound constant and every call one of
   the engine's functions — compiled once into a code object.

The compiled code never sees Python builtins, attributes or methods of any
object; only what step 5 wrote. That is what makes it both safe and fast
(simpleeval's own safety measures re-check on every call; this checks once).
"""

from __future__ import annotations

import ast
import copy
import io
import itertools
import tokenize
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from . import valuetypes as t
from .functions import IMPLEMENTATIONS, SIGNATURES
from .limits import DEFAULT_LIMITS, Limits
from .schemas import did_you_mean
from .text import find_refused_character, shorten

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
        return ast.Name(id=f"_k{index}", ctx=ast.Load())


# ---------------------------------------------------------------- step 1-3: text and syntax

_ALLOWED_NODES = (
    ast.Expression,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.UnaryOp,
    ast.Not,
    ast.USub,
    ast.UAdd,
    ast.BinOp,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.Compare,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.In,
    ast.NotIn,
    ast.IfExp,
    ast.Name,
    ast.Load,
    ast.Attribute,
    ast.Constant,
    ast.List,
    ast.Tuple,
    ast.Call,
    ast.GeneratorExp,
    ast.comprehension,
    ast.Store,
)

_REFUSED: dict[type, str] = {
    ast.Lambda: "lambda is not allowed",
    ast.NamedExpr: "assignment (:=) is not allowed",
    ast.JoinedStr: "f-strings are not allowed; use a message template",
    ast.FormattedValue: "f-strings are not allowed; use a message template",
    ast.Subscript: "indexing with [] is not allowed; use a field name, a line scope, or any()/sum() over a list",
    ast.Slice: "slices are not allowed",
    ast.Starred: "* is not allowed",
    ast.Dict: "dictionaries are not allowed",
    ast.Set: "sets are not allowed; use a list [..]",
    ast.ListComp: "list comprehensions are not allowed; use sum/count/any/all over a generator",
    ast.SetComp: "set comprehensions are not allowed",
    ast.DictComp: "dict comprehensions are not allowed",
    ast.Await: "await is not allowed",
    ast.Yield: "yield is not allowed",
    ast.YieldFrom: "yield is not allowed",
    ast.Pow: "** is not allowed",
    ast.FloorDiv: "// is not allowed; use / and round_money()",
    ast.Mod: "% is not allowed",
    ast.LShift: "<< is not allowed",
    ast.RShift: ">> is not allowed",
    ast.BitOr: "| is not allowed; use 'or'",
    ast.BitAnd: "& is not allowed; use 'and'",
    ast.BitXor: "^ is not allowed",
    ast.Invert: "~ is not allowed",
    ast.MatMult: "@ is not allowed",
    ast.Is: "'is' is not allowed; use == or has()",
    ast.IsNot: "'is not' is not allowed; use != or has()",
}


def parse(text: str, limits: Limits = DEFAULT_LIMITS) -> ast.expr:
    """Steps 1–3: the checked syntax tree of one expression."""
    if not isinstance(text, str):
        raise ExpressionProblem("an expression must be text", 0, "expression_type")
    if len(text) > limits.max_expression_chars:
        raise ExpressionProblem(f"expression too long: {len(text)} characters > limit {limits.max_expression_chars}", 0, "too_long")
    if not text.strip():
        raise ExpressionProblem("empty expression", 0, "expression_syntax")
    bad = find_refused_character(text.replace("\n", " ").replace("\t", " "))
    if bad is not None:
        raise ExpressionProblem(bad[1], bad[0], "character")
    if not text.isascii() or ";" in text:  # only then can a name be a look-alike, or a ';' need its own message
        _check_identifiers(text.replace("\n", " "))
    flat = text.replace("\n", " ").replace("\r", " ").replace("\t", " ")
    try:
        tree = ast.parse(flat, mode="eval")
    except SyntaxError as exc:
        offset = (exc.offset or 1) - 1
        message = exc.msg
        if "invalid syntax" in message and "=" in text and "==" not in text and "!=" not in text and "<=" not in text and ">=" not in text:
            message += "; to compare, write =="
        elif offset >= len(flat.rstrip()) or message.startswith(("unexpected EOF", "'(' was never closed", "invalid syntax. Perhaps")):
            message += ": the expression is incomplete"
        elif "leading zeros" in message:
            message = "numbers cannot start with 0; to write a date or time, use a parameter of type timestamp"
        raise ExpressionProblem(message, min(offset, len(text)), "expression_syntax") from None
    except (RecursionError, MemoryError, ValueError) as exc:
        raise ExpressionProblem(f"expression too complex: {shorten(str(exc), 80)}", 0, "too_complex") from None
    count = 0
    stack: list[tuple[ast.AST, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > limits.max_expression_nodes:
            raise ExpressionProblem(f"expression too large: more than {limits.max_expression_nodes} parts", 0, "too_complex")
        if depth > limits.max_expression_depth:
            raise ExpressionProblem(f"expression nested deeper than {limits.max_expression_depth}", _node_offset(text, node), "too_complex")
        refused = _REFUSED.get(type(node))
        if refused is not None:
            raise ExpressionProblem(refused, _node_offset(text, node), "expression_feature")
        if not isinstance(node, _ALLOWED_NODES):
            raise ExpressionProblem(
                f"{type(node).__name__} is not allowed in an expression", _node_offset(text, node), "expression_feature"
            )
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    assert isinstance(tree, ast.Expression)
    return tree.body


def _check_identifiers(text: str) -> None:
    """Names must be ASCII: Python folds look-alikes (𝐨𝐫𝐝𝐞𝐫 → order) before the tree exists."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return  # ast.parse reports the syntax error with a better position
    for token in tokens:
        if token.type == tokenize.NAME and not token.string.isascii():
            raise ExpressionProblem(
                f"name '{shorten(token.string, 40)}' has non-ASCII letters; names are ASCII (text in quotes may be any language)",
                _offset(text, token.start[0], token.start[1]),
                "character",
            )
        if token.type == tokenize.OP and token.string == ";":
            raise ExpressionProblem("one expression only: ';' is not allowed", _offset(text, *token.start), "expression_syntax")


def _offset(text: str, line: int, col: int) -> int:
    lines = text.split("\n")
    return sum(len(x) + 1 for x in lines[: max(line - 1, 0)]) + max(col, 0)


def _node_offset(text: str, node: ast.AST, end: bool = False) -> int:
    """Character offset of a node (expressions are parsed as one line: newlines became spaces)."""
    col = getattr(node, "end_col_offset" if end else "col_offset", 0) or 0
    # col_offset counts UTF-8 bytes; convert to characters.
    return len(text.replace("\n", " ").encode("utf-8")[:col].decode("utf-8", errors="ignore"))


# ---------------------------------------------------------------- step 4-5: types and translation


@dataclass
class _Scope:
    item: bool
    variables: dict[str, tuple[str, t.Type]] = field(default_factory=dict)
    """Generator variable as written → (Python name, element type)."""
    substitutions: dict[str, Compiled] = field(default_factory=dict)
    """Definition parameter → the compiled argument."""
    definition_stack: tuple[str, ...] = ()


_counter = itertools.count()


class Checker:
    """Type-checks a parsed expression and translates it to the Python tree that runs."""

    def __init__(self, env: Environment, text: str) -> None:
        self.env = env
        self.text = text
        self.flat = text.replace("\n", " ").replace("\r", " ").replace("\t", " ")
        self.reads: dict[str, ast.expr] = {}
        self.params_used: set[str] = set()
        self.definitions_used: set[str] = set()
        self.uses_item = False
        self.may_be_absent = False

    def fail(self, message: str, node: ast.AST, code: str = "expression_type") -> ExpressionProblem:
        return ExpressionProblem(message, _node_offset(self.text, node), code)

    def fail_at_name(self, message: str, node: ast.Attribute, code: str) -> ExpressionProblem:
        """An error about ``x.name``, placed on ``name`` itself."""
        return ExpressionProblem(message, _node_offset(self.text, node, end=True) - len(node.attr), code)

    def check(self, tree: ast.expr, scope: _Scope, expect: str | None = None) -> Compiled:
        py, typ = self.visit(tree, scope)
        if expect is not None and typ.kind != expect:
            raise self.fail(f"this expression gives {typ.words()}, but {t.WORDS[expect]} is needed here", tree)
        py = bound_work(py, self.env)
        # Complete the tree now, at load: code built later (the fast path, a leaf on its own) then only
        # rewrites the same locations, never adds attributes to nodes another thread may be copying.
        place([ast.Expr(py)])
        compiled = Compiled(
            text=self.text,
            py=py,
            type=typ,
            may_be_absent=self.may_be_absent,
            reads=self.reads,
            params_used=self.params_used,
            definitions_used=self.definitions_used,
            uses_item=self.uses_item,
        )
        return compiled

    # -- dispatch
    def visit(self, node: ast.expr, scope: _Scope) -> tuple[ast.expr, t.Type]:
        method = getattr(self, "visit_" + type(node).__name__, None)
        if method is None:  # pragma: no cover - parse() refuses these already
            raise self.fail(f"{type(node).__name__} is not allowed", node, "expression_feature")
        result: tuple[ast.expr, t.Type] = method(node, scope)
        return result

    def visit_Constant(self, node: ast.Constant, scope: _Scope) -> tuple[ast.expr, t.Type]:
        value = node.value
        if isinstance(value, bool):
            return ast.Constant(value), t.scalar(t.BOOL)
        if isinstance(value, int):
            if abs(value) > self.env.limits.max_integer:
                raise self.fail(f"number out of range (limit {self.env.limits.max_integer})", node, "out_of_range")
            return ast.Constant(value), t.scalar(t.NUMBER, integer=True)
        if isinstance(value, float):
            source = ast.get_source_segment(self.flat, node) or repr(value)
            try:
                exact = Decimal(source.replace("_", ""))
            except InvalidOperation:
                raise self.fail(f"'{source}' is not a decimal number", node) from None
            if not exact.is_finite() or abs(exact.adjusted()) > 15:
                raise self.fail("number out of range", node, "out_of_range")
            return self.env.constant(exact), t.scalar(t.NUMBER)
        if isinstance(value, str):
            if len(value) > 500:
                raise self.fail("text literal longer than 500 characters", node, "out_of_range")
            return ast.Constant(value), t.scalar(t.TEXT)
        if value is None:
            raise self.fail("None is not a value here; use has(path) to test whether a fact is present", node)
        raise self.fail(f"{type(value).__name__} literals are not allowed", node, "expression_feature")

    def visit_Name(self, node: ast.Name, scope: _Scope) -> tuple[ast.expr, t.Type]:
        name = node.id
        if name in scope.substitutions:
            arg = scope.substitutions[name]
            self.may_be_absent |= arg.may_be_absent
            return copy.deepcopy(arg.py), arg.type
        if name in scope.variables:
            py_name, typ = scope.variables[name]
            return ast.Name(id=py_name, ctx=ast.Load()), typ
        if name in ("true", "false"):
            return ast.Constant(name == "true"), t.scalar(t.BOOL)
        if name == "item":
            if not scope.item:
                raise self.fail("'item' is only defined in rules with scope 'line' or 'claimed_line'", node, "unknown_name")
            self.uses_item = True
            return ast.Name(id=ITEM, ctx=ast.Load()), self.env.item
        if name == "decision":
            return ast.Name(id=DECISION, ctx=ast.Load()), self.env.decision
        if name in self.env.facts.fields:
            fld = self.env.facts.fields[name]
            py = ast.Subscript(ast.Name(id=FACTS, ctx=ast.Load()), ast.Constant(name), ast.Load())
            if fld.optional:
                self.may_be_absent = True
            if fld.type.kind != t.OBJECT:
                self.reads[name] = py
            return py, fld.type
        if name in self.env.definitions:
            return self._expand(name, [], node, scope)
        if name in self.env.broken:
            raise ExpressionProblem(f"definition '{name}' has errors (reported where it is defined)", 0, SUPPRESSED)
        if name == "params":
            raise self.fail("write params.NAME to use a parameter", node, "unknown_name")
        if name in SIGNATURES or name in IMPLEMENTATIONS:
            raise self.fail(f"'{name}' is a function: call it with (...)", node, "unknown_name")
        known = [*self.env.facts.fields, "item", "decision", "params", *self.env.definitions, *scope.variables]
        hint = did_you_mean(name, known)
        raise self.fail(
            f"unknown name '{name}'"
            + (f" (did you mean '{hint}'?)" if hint else "; facts are read as e.g. shop.type, item.paid_amount, claim.requested_at"),
            node,
            "unknown_name",
        )

    def visit_Attribute(self, node: ast.Attribute, scope: _Scope) -> tuple[ast.expr, t.Type]:
        if node.attr.startswith("_"):
            raise self.fail(f"names starting with '_' are not allowed: {node.attr}", node, "expression_feature")
        if isinstance(node.value, ast.Name) and node.value.id == "params" and "params" not in scope.variables:
            return self._param(node)
        base_py, base_type = self.visit(node.value, scope)
        if base_type.kind != t.OBJECT:
            raise self.fail_at_name(f"{base_type.words()} has no field '{node.attr}'", node, "unknown_field")
        fld = base_type.fields.get(node.attr)
        if fld is None:
            hint = did_you_mean(node.attr, base_type.fields)
            owner = ast.get_source_segment(self.flat, node.value) or base_type.name
            raise self.fail_at_name(
                f"'{owner}' has no field '{node.attr}'"
                + (f" (did you mean '{hint}'?)" if hint else f"; its fields are: {', '.join(base_type.fields)}"),
                node,
                "unknown_field",
            )
        py = ast.Subscript(base_py, ast.Constant(node.attr), ast.Load())
        if fld.optional:
            self.may_be_absent = True
        if fld.type.kind not in (t.OBJECT,):
            source = ast.get_source_segment(self.flat, node)
            if source and source.split(".")[0] not in scope.variables and not scope.substitutions:
                self.reads[source] = py
        return py, fld.type

    def _param(self, node: ast.Attribute) -> tuple[ast.expr, t.Type]:
        name = node.attr
        if name in self.env.broken:
            raise ExpressionProblem(f"parameter '{name}' has errors (reported where it is defined)", 0, SUPPRESSED)
        if name not in self.env.params:
            hint = did_you_mean(name, self.env.params)
            raise self.fail_at_name(
                f"unknown parameter '{name}'" + (f" (did you mean '{hint}'?)" if hint else "; parameters are defined in parameters.yaml"),
                node,
                "unknown_parameter",
            )
        self.params_used.add(name)
        typ, value = self.env.params[name]
        if typ.kind == t.LIST:
            value = tuple(value)
        return self.env.constant(value), typ

    def visit_BoolOp(self, node: ast.BoolOp, scope: _Scope) -> tuple[ast.expr, t.Type]:
        values = []
        for value in node.values:
            py, typ = self.visit(value, scope)
            self._expect(typ, t.BOOL, value, "'and'/'or' combine conditions")
            values.append(py)
        return ast.BoolOp(node.op, values), t.scalar(t.BOOL)

    def visit_UnaryOp(self, node: ast.UnaryOp, scope: _Scope) -> tuple[ast.expr, t.Type]:
        py, typ = self.visit(node.operand, scope)
        if isinstance(node.op, ast.Not):
            self._expect(typ, t.BOOL, node.operand, "'not' negates a condition")
            return ast.UnaryOp(ast.Not(), py), typ
        if typ.kind not in (t.NUMBER, t.DURATION):
            raise self.fail(f"a sign needs a number, not {typ.words()}", node)
        return ast.UnaryOp(node.op, py), typ

    def visit_BinOp(self, node: ast.BinOp, scope: _Scope) -> tuple[ast.expr, t.Type]:
        left, lt = self.visit(node.left, scope)
        right, rt = self.visit(node.right, scope)
        kinds = (lt.kind, rt.kind)
        op = node.op
        if t.TEXT in kinds or t.LIST in kinds or t.BOOL in kinds:
            bad = lt if lt.kind in (t.TEXT, t.LIST, t.BOOL) else rt
            raise self.fail(
                f"arithmetic on {bad.words()} is not allowed" + ("; use a message template to build text" if bad.kind == t.TEXT else ""),
                node,
            )
        number = t.scalar(t.NUMBER, integer=lt.integer and rt.integer and not isinstance(op, ast.Div), money=lt.money or rt.money)
        if isinstance(op, ast.Add):
            result = {
                (t.NUMBER, t.NUMBER): number,
                (t.TIMESTAMP, t.DURATION): lt,
                (t.DURATION, t.TIMESTAMP): rt,
                (t.DURATION, t.DURATION): lt,
            }.get(kinds)
        elif isinstance(op, ast.Sub):
            result = {
                (t.NUMBER, t.NUMBER): number,
                (t.TIMESTAMP, t.DURATION): lt,
                (t.TIMESTAMP, t.TIMESTAMP): t.scalar(t.DURATION),
                (t.DURATION, t.DURATION): lt,
            }.get(kinds)
        elif isinstance(op, ast.Mult):
            if kinds == (t.NUMBER, t.NUMBER):
                return ast.BinOp(left, op, right), number
            if kinds in ((t.DURATION, t.NUMBER), (t.NUMBER, t.DURATION)):
                d, n = (left, right) if lt.kind == t.DURATION else (right, left)
                return _call("scale", [d, n]), t.scalar(t.DURATION)
            result = None
        elif isinstance(op, ast.Div):
            if kinds == (t.NUMBER, t.NUMBER):
                return _call("divide", [left, right]), t.scalar(t.NUMBER, money=lt.money)
            result = None
        else:  # pragma: no cover - parse() refuses other operators
            result = None
        if result is None:
            symbol = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}.get(type(op), "?")
            raise self.fail(f"cannot compute {lt.words()} {symbol} {rt.words()}", node)
        return ast.BinOp(left, op, right), result

    def visit_Compare(self, node: ast.Compare, scope: _Scope) -> tuple[ast.expr, t.Type]:
        left_py, left_t = self.visit(node.left, scope)
        comparators = []
        prev_node, prev_t = node.left, left_t
        for op, right in zip(node.ops, node.comparators, strict=True):
            right_py, right_t = self.visit(right, scope)
            if isinstance(op, (ast.In, ast.NotIn)):
                if right_t.kind != t.LIST or right_t.elem is None:
                    raise self.fail(f"'in' needs a list on its right, not {right_t.words()}", right)
                if right_t.elem.kind != prev_t.kind:
                    raise self.fail(f"{prev_t.words()} is never in {right_t.words()}", node)
                if prev_t.enum and right_t.elem.enum and prev_t.name and right_t.elem.name and prev_t.name != right_t.elem.name:
                    raise self.fail(f"a {prev_t.name} is never in a list of {right_t.elem.name} values", node)
                self._check_enum(prev_t, right, prev_node)
                self._check_enum(right_t.elem, prev_node, right)
                if isinstance(right_py, ast.Name) and right_py.id.startswith("_k"):
                    values = self.env.constants[int(right_py.id[2:])]
                    if all(isinstance(v, (str, int, bool)) for v in values):
                        right_py = self.env.constant(frozenset(values))
            else:
                if prev_t.kind != right_t.kind:
                    raise self.fail(f"cannot compare {prev_t.words()} with {right_t.words()}", node)
                if not isinstance(op, (ast.Eq, ast.NotEq)) and prev_t.kind not in (t.NUMBER, t.TIMESTAMP, t.DURATION, t.DATE):
                    raise self.fail(f"{prev_t.words()} can only be compared with == or !=", node)
                self._check_enum(prev_t, right, prev_node)
                self._check_enum(right_t, prev_node, right)
            comparators.append(right_py)
            prev_node, prev_t = right, right_t
        return ast.Compare(left_py, list(node.ops), comparators), t.scalar(t.BOOL)

    def _check_enum(self, typ: t.Type, other: ast.expr, subject: ast.expr) -> None:
        """``shop.type == "offical_flagship"`` is a load error listing the allowed values."""
        if typ.enum is None:
            return
        literals: list[ast.expr] = []
        if isinstance(other, ast.Constant) and isinstance(other.value, str):
            literals = [other]
        elif isinstance(other, (ast.List, ast.Tuple)):
            literals = [e for e in other.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
        for lit in literals:
            assert isinstance(lit, ast.Constant)
            value = str(lit.value)
            if value not in typ.enum:
                hint = did_you_mean(value, typ.enum)
                what = ast.get_source_segment(self.flat, subject) or "this field"
                raise self.fail(
                    f"'{shorten(value, 40)}' is not a value of {what}"
                    + (f" (did you mean '{hint}'?)" if hint else "")
                    + f"; allowed: {', '.join(typ.enum)}",
                    lit,
                    "enum_value",
                )

    def visit_IfExp(self, node: ast.IfExp, scope: _Scope) -> tuple[ast.expr, t.Type]:
        test, tt = self.visit(node.test, scope)
        self._expect(tt, t.BOOL, node.test, "the condition of 'x if c else y'")
        body, bt = self.visit(node.body, scope)
        orelse, ot = self.visit(node.orelse, scope)
        if bt.kind != ot.kind:
            raise self.fail(f"both results of 'x if c else y' must be of one kind, not {bt.words()} and {ot.words()}", node)
        return ast.IfExp(test, body, orelse), bt

    def visit_List(self, node: ast.List | ast.Tuple, scope: _Scope) -> tuple[ast.expr, t.Type]:
        if len(node.elts) > self.env.limits.max_collection_items:
            raise self.fail("list literal too long", node, "out_of_range")
        if not node.elts:
            raise self.fail("empty list literal", node)
        elts = []
        elem: t.Type | None = None
        for e in node.elts:
            py, typ = self.visit(e, scope)
            if elem is not None and typ.kind != elem.kind:
                raise self.fail(f"a list holds one kind of value, not {elem.words()} and {typ.words()}", e)
            elem = elem or typ
            elts.append(py)
        assert elem is not None
        if all(isinstance(e, ast.Constant) for e in elts):
            values = tuple(e.value for e in elts if isinstance(e, ast.Constant))
            return self.env.constant(values), t.list_of(elem)
        return ast.Tuple(elts, ast.Load()), t.list_of(elem)

    visit_Tuple = visit_List

    def visit_GeneratorExp(self, node: ast.GeneratorExp, scope: _Scope) -> tuple[ast.expr, t.Type]:
        raise self.fail("a generator (x for x in ...) must be the only argument of sum, count, any, all, min or max", node)

    def visit_Call(self, node: ast.Call, scope: _Scope) -> tuple[ast.expr, t.Type]:
        if not isinstance(node.func, ast.Name):
            raise self.fail("methods cannot be called; use the engine's functions, e.g. round_money(x)", node, "expression_feature")
        if node.keywords:
            raise self.fail("keyword arguments are not allowed", node, "expression_feature")
        name = node.func.id
        if name in self.env.definitions:
            return self._expand(name, node.args, node, scope)
        if name in self.env.broken:
            raise ExpressionProblem(f"definition '{name}' has errors (reported where it is defined)", 0, SUPPRESSED)
        sig = SIGNATURES.get(name)
        if sig is None:
            hint = did_you_mean(name, [*SIGNATURES, *self.env.definitions])
            raise self.fail(
                f"unknown function '{name}'" + (f" (did you mean '{hint}'?)" if hint else f"; functions: {', '.join(sorted(SIGNATURES))}"),
                node,
                "unknown_function",
            )
        if name in ("has", "default"):
            return self._presence(name, node, scope)
        if name == "has_service":
            return self._has_service(node, scope)
        if sig.aggregate or (name in ("min", "max") and len(node.args) == 1):
            return self._aggregate(name, node, scope)
        return self._plain_call(name, sig, node, scope)

    def _plain_call(self, name: str, sig: Any, node: ast.Call, scope: _Scope) -> tuple[ast.expr, t.Type]:
        variadic = sig.params and sig.params[-1].endswith("*")
        kinds = list(sig.params)
        if variadic:
            kind = kinds[0].rstrip("*")
            if len(node.args) < 2:
                raise self.fail(f"{name}() needs at least two values, or one generator", node)
            kinds = [kind] * len(node.args)
        if len(node.args) != len(kinds):
            raise self.fail(
                f"{name}() takes {len(kinds)} argument{'s' if len(kinds) != 1 else ''}, got {len(node.args)}", node, "arguments"
            )
        args = []
        money = False
        for arg, kind in zip(node.args, kinds, strict=True):
            py, typ = self.visit(arg, scope)
            self._expect(typ, kind, arg, f"argument of {name}()")
            money = money or typ.money
            args.append(py)
        returns = sig.returns
        return _call(name, args), t.scalar(returns, money=money or name in ("round_money", "prorata", "percent_of"))

    def _aggregate(self, name: str, node: ast.Call, scope: _Scope) -> tuple[ast.expr, t.Type]:
        if len(node.args) != 1:
            raise self.fail(f"{name}() takes one generator, e.g. {name}(l.paid_amount for l in items)", node)
        arg = node.args[0]
        impl = {"min": "aggregate_min", "max": "aggregate_max"}.get(name, name)
        if not isinstance(arg, ast.GeneratorExp):
            py, typ = self.visit(arg, scope)
            if typ.kind != t.LIST or typ.elem is None:
                raise self.fail(f"{name}() needs a generator or a list, not {typ.words()}", arg)
            elem = typ.elem
            self._check_aggregate_elem(name, elem, arg)
            return _call(impl, [py]), self._aggregate_type(name, elem)
        if len(arg.generators) != 1:
            raise self.fail("one 'for' per generator", arg, "expression_feature")
        gen = arg.generators[0]
        if gen.is_async or not isinstance(gen.target, ast.Name):
            raise self.fail("write: for NAME in LIST", gen.target, "expression_feature")
        var = gen.target.id
        if var in self.env.facts.fields or var in ("item", "decision", "params") or var in scope.variables:
            raise self.fail(f"'{var}' already has a meaning; choose another name", gen.target)
        if len(scope.variables) >= MAX_GENERATOR_DEPTH:
            raise self.fail("generators nest at most two deep", arg, "too_complex")
        iter_py, iter_t = self.visit(gen.iter, scope)
        if iter_t.kind != t.LIST or iter_t.elem is None:
            raise self.fail(f"'for ... in' needs a list, not {iter_t.words()}", gen.iter)
        py_var = f"_v{next(_counter)}_{var}"
        inner = _Scope(scope.item, {**scope.variables, var: (py_var, iter_t.elem)}, scope.substitutions, scope.definition_stack)
        ifs = []
        for cond in gen.ifs:
            py, typ = self.visit(cond, inner)
            self._expect(typ, t.BOOL, cond, "the 'if' of a generator")
            ifs.append(py)
        elt_py, elt_t = self.visit(arg.elt, inner)
        if name != "count":
            self._check_aggregate_elem(name, elt_t, arg.elt)
        py_gen = ast.GeneratorExp(elt_py, [ast.comprehension(ast.Name(id=py_var, ctx=ast.Store()), iter_py, ifs, 0)])
        return _call(impl, [py_gen]), self._aggregate_type(name, elt_t)

    def _check_aggregate_elem(self, name: str, elem: t.Type, node: ast.expr) -> None:
        need = {
            "sum": t.NUMBER,
            "min": elem.kind if elem.kind in (t.NUMBER, t.TIMESTAMP, t.DURATION, t.DATE) else t.NUMBER,
            "max": elem.kind if elem.kind in (t.NUMBER, t.TIMESTAMP, t.DURATION, t.DATE) else t.NUMBER,
            "any": t.BOOL,
            "all": t.BOOL,
        }.get(name)
        if need is not None:
            self._expect(elem, need, node, f"the elements of {name}()")

    def _aggregate_type(self, name: str, elem: t.Type) -> t.Type:
        if name in ("any", "all"):
            return t.scalar(t.BOOL)
        if name == "count":
            return t.scalar(t.NUMBER, integer=True)
        return elem

    def _path(self, node: ast.expr, scope: _Scope) -> tuple[ast.expr, list[str], t.Type, bool]:
        """For has()/default(): the base object and the keys below it."""
        keys: list[str] = []
        cursor = node
        while isinstance(cursor, ast.Attribute):
            keys.insert(0, cursor.attr)
            cursor = cursor.value
        if not isinstance(cursor, ast.Name) or (not keys and cursor.id not in self.env.facts.fields):
            raise self.fail("has() and default() take a fact path such as claim.merchant_received_at", node)
        if cursor.id in self.env.facts.fields:
            keys.insert(0, cursor.id)
            base: ast.expr = ast.Name(id=FACTS, ctx=ast.Load())
            typ: t.Type = self.env.facts
        else:
            base, typ = self.visit(cursor, scope)
        optional = False
        for key in keys:
            if typ.kind != t.OBJECT or key not in typ.fields:
                # Let the ordinary path check produce the did-you-mean message.
                self.visit(node, scope)
                raise self.fail(f"unknown field '{key}'", node, "unknown_field")  # pragma: no cover
            optional = optional or typ.fields[key].optional
            typ = typ.fields[key].type
        return base, keys, typ, optional

    def _presence(self, name: str, node: ast.Call, scope: _Scope) -> tuple[ast.expr, t.Type]:
        want = 1 if name == "has" else 2
        if len(node.args) != want:
            raise self.fail(f"{name}() takes {want} argument{'s' if want > 1 else ''}", node)
        saved = self.may_be_absent
        base, keys, typ, optional = self._path(node.args[0], scope)
        if not optional:
            what = ast.get_source_segment(self.flat, node.args[0])
            raise self.fail(
                f"{what} is always present (required by the order schema); {name}() is not needed", node.args[0], "needless_presence_check"
            )
        source = ast.get_source_segment(self.flat, node.args[0]) or ".".join(keys)
        if not any(v in source.split(".")[0] for v in scope.variables):
            self.reads[source] = _call("dig", [base, _keys(keys), ast.Constant(None)])
        self.may_be_absent = saved
        if name == "has":
            return _call("present", [base, _keys(keys)]), t.scalar(t.BOOL)
        fallback, ft = self.visit(node.args[1], scope)
        if ft.kind != typ.kind:
            raise self.fail(f"the default must be {typ.words()}, not {ft.words()}", node.args[1])
        return _call("dig", [base, _keys(keys), fallback]), typ

    def _has_service(self, node: ast.Call, scope: _Scope) -> tuple[ast.expr, t.Type]:
        if len(node.args) != 2:
            raise self.fail("has_service(item, 'service_id') takes 2 arguments", node)
        line_py, line_t = self.visit(node.args[0], scope)
        if line_t is not self.env.item:
            raise self.fail("the first argument of has_service() is an order line, e.g. item", node.args[0])
        service = node.args[1]
        services = self.env.decision.fields["services"].type
        allowed = services.elem.elem.enum if services.elem and services.elem.elem else None
        if not isinstance(service, ast.Constant) or not isinstance(service.value, str):
            raise self.fail("the second argument of has_service() is a service id in quotes", service)
        if allowed and service.value not in allowed:
            hint = did_you_mean(service.value, allowed)
            raise self.fail(
                f"unknown service '{service.value}'" + (f" (did you mean '{hint}'?)" if hint else f"; services: {', '.join(allowed)}"),
                service,
                "enum_value",
            )
        services_py = ast.Subscript(
            ast.Subscript(ast.Name(id=DECISION, ctx=ast.Load()), ast.Constant("services"), ast.Load()),
            ast.Subscript(line_py, ast.Constant("sku"), ast.Load()),
            ast.Load(),
        )
        return ast.Compare(ast.Constant(service.value), [ast.In()], [services_py]), t.scalar(t.BOOL)

    def _expand(self, name: str, args: list[ast.expr], node: ast.expr, scope: _Scope) -> tuple[ast.expr, t.Type]:
        definition = self.env.definitions[name]
        if definition.compiled is None or definition.tree is None:
            raise ExpressionProblem(f"definition '{name}' has errors (reported where it is defined)", 0, SUPPRESSED)
        if len(args) != len(definition.params):
            raise self.fail(
                f"{name} takes {len(definition.params)} argument{'s' if len(definition.params) != 1 else ''} "
                f"({', '.join(p for p, _ in definition.params)}), got {len(args)}",
                node,
                "arguments",
            )
        if definition.compiled.uses_item and not scope.item:
            raise self.fail(f"definition '{name}' reads 'item', which this rule's scope does not have", node, "unknown_name")
        substitutions: dict[str, Compiled] = {}
        for arg, (pname, ptype) in zip(args, definition.params, strict=True):
            sub = Checker(self.env, self.text)
            py, typ = sub.visit(arg, scope)
            if typ.kind != ptype.kind:
                raise self.fail(f"argument '{pname}' of {name} must be {ptype.words()}, not {typ.words()}", arg)
            self.reads.update(sub.reads)
            self.params_used |= sub.params_used
            self.definitions_used |= sub.definitions_used
            self.uses_item |= sub.uses_item
            substitutions[pname] = Compiled(self.text, py, typ, sub.may_be_absent)
        self.definitions_used.add(name)
        self.definitions_used |= definition.compiled.definitions_used
        self.params_used |= definition.compiled.params_used
        self.uses_item |= definition.compiled.uses_item
        self.may_be_absent |= definition.compiled.may_be_absent
        for path, py in definition.compiled.reads.items():
            self.reads.setdefault(path, py)
        body = _Substitute(substitutions).visit(copy.deepcopy(definition.compiled.py))
        for sub_arg in substitutions.values():
            self.may_be_absent |= sub_arg.may_be_absent
        return body, definition.compiled.type

    def _expect(self, typ: t.Type, kind: str, node: ast.expr, what: str) -> None:
        if kind in ("any", "same", "path", "item"):
            return
        if typ.kind != kind:
            raise self.fail(f"{what} must be {t.WORDS[kind]}, not {typ.words()}", node)


class _Substitute(ast.NodeTransformer):
    """Replaces a definition's parameter names with the compiled arguments."""

    def __init__(self, substitutions: dict[str, Compiled]) -> None:
        self.substitutions = substitutions

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if node.id.startswith("_p_") and node.id[3:] in self.substitutions:
            return copy.deepcopy(self.substitutions[node.id[3:]].py)
        return node


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
                if isinstance(side, (ast.Constant, ast.Tuple)) or (isinstance(side, ast.Name) and side.id.startswith("_k")):
                    continue
                text = readable(side, env)
                if text not in seen:
                    seen.add(text)
                    out.append((text, side))
    return out


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


def readable(py: ast.expr, env: Environment) -> str:
    """The translated tree written back the way an author writes it (``claim.requested_at``, ``days(8)``)."""
    return ast.unparse(_Readable(env).visit(copy.deepcopy(py)))


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
        name = node.id
        if name in self._ROOTS:
            return ast.Name(id=self._ROOTS[name], ctx=ast.Load())
        if name.startswith("_fn_"):
            return ast.Name(id=name[4:], ctx=ast.Load())
        if name.startswith("_k"):
            return ast.Name(id=_literal(self.env.constants[int(name[2:])]), ctx=ast.Load())
        if name.startswith("_v"):
            return ast.Name(id=name.split("_", 2)[2], ctx=ast.Load())
        return node

    def visit_Call(self, node: ast.Call) -> ast.expr:
        func = node.func.id if isinstance(node.func, ast.Name) else ""
        args = [self.visit(a) for a in node.args]
        if func == "_fn_divide" and len(args) == 2:
            return ast.BinOp(args[0], ast.Div(), args[1])
        if func == "_fn_scale" and len(args) == 2:
            return ast.BinOp(args[0], ast.Mult(), args[1])
        if func in ("_fn_present", "_fn_dig") and isinstance(node.args[1], ast.Tuple):
            path: ast.expr = args[0]
            for key in node.args[1].elts:
                if isinstance(key, ast.Constant):
                    path = (
                        ast.Name(id=str(key.value), ctx=ast.Load())
                        if isinstance(path, ast.Name) and path.id == FACTS
                        else ast.Attribute(path, str(key.value), ast.Load())
                    )
            name = "has" if func == "_fn_present" else "default"
            extra = [] if func == "_fn_present" else [args[2]]
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


def _keys(keys: list[str]) -> ast.Tuple:
    return ast.Tuple([ast.Constant(k) for k in keys], ast.Load())


def _call(name: str, args: list[ast.expr]) -> ast.Call:
    return ast.Call(ast.Name(id=f"_fn_{name}", ctx=ast.Load()), args, [])


def compile_expression(text: str, env: Environment, *, item: bool, expect: str | None = None) -> Compiled:
    """Parse, check and translate one expression; raises ExpressionProblem."""
    tree = parse(text, env.limits)
    return Checker(env, text).check(tree, _Scope(item=item), expect)


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
    for node in ast.walk(py):
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
    return sum(_iterations(child, env, outer, depth) for child in ast.iter_child_nodes(node))


def _iter_bound(node: ast.expr, env: Environment) -> int:
    if isinstance(node, ast.Name) and node.id.startswith("_k"):
        value = env.constants[int(node.id[2:])]
        return len(value) if isinstance(value, (tuple, frozenset, list)) else 1
    root: ast.expr = node
    while isinstance(root, (ast.Subscript, ast.Call)):
        root = root.value if isinstance(root, ast.Subscript) else (root.args[0] if root.args else root.func)
    if isinstance(root, ast.Name) and root.id == DECISION:
        return DECISION_LIST_BOUND
    return FACT_LIST_BOUND


class _Counted(ast.NodeTransformer):
    """Wraps the iterable of every generator that may run long in ``_fn_counted(D, …)``."""

    def __init__(self, env: Environment) -> None:
        self.env = env

    def visit_GeneratorExp(self, node: ast.GeneratorExp) -> ast.expr:
        self.generic_visit(node)
        if _iterations(node, self.env, 1) > COUNTED_ABOVE:
            gen = node.generators[0]
            if not (isinstance(gen.iter, ast.Call) and isinstance(gen.iter.func, ast.Name) and gen.iter.func.id == "_fn_counted"):
                gen.iter = _call("counted", [ast.Name(id=DECISION, ctx=ast.Load()), gen.iter])
        return node


def compile_definition(definition: Definition, env: Environment) -> None:
    """Check a definition once, its parameters standing for typed placeholders."""
    tree = parse(definition.text, env.limits)
    definition.tree = tree
    checker = Checker(env, definition.text)
    placeholders = {
        pname: Compiled(definition.text, ast.Name(id=f"_p_{pname}", ctx=ast.Load()), ptype, False) for pname, ptype in definition.params
    }
    definition.compiled = checker.check(tree, _Scope(item=True, substitutions=placeholders))


# ---------------------------------------------------------------- building code


_ARGS = (FACTS, ITEM, DECISION)


def runtime_globals(calendar: dict[str, Callable[..., Any]]) -> dict[str, Any]:
    """The only names compiled code can see: the engine's functions. No builtins."""
    names: dict[str, Any] = {"__builtins__": {}}
    for name, fn in {**IMPLEMENTATIONS, **calendar}.items():
        names[f"_fn_{name}"] = fn
    names["_fn_present"] = present
    names["_fn_counted"] = counted
    names["_fn_dig"] = dig
    names["_fn_KeyError"] = KeyError
    return names


BUDGET_KEY = "\x00budget"
"""Where the evaluation keeps its step budget in the decision-so-far (no expression can name it)."""


def counted(decision: Any, iterable: Any) -> Any:
    """Iterate, charging every 256 items to the evaluation's budget (see ``bound_work``)."""
    budget = decision.get(BUDGET_KEY) if isinstance(decision, dict) else None
    for index, value in enumerate(iterable):
        if budget is not None and index & 255 == 0:
            budget(256)
        yield value


def present(base: Any, keys: tuple[str, ...]) -> bool:
    for key in keys:
        if not isinstance(base, dict) or key not in base:
            return False
        base = base[key]
    return True


def dig(base: Any, keys: tuple[str, ...], fallback: Any) -> Any:
    for key in keys:
        if not isinstance(base, dict) or key not in base:
            return fallback
        base = base[key]
    return base


def place(statements: list[ast.stmt]) -> set[int]:
    """Give every node a location (the tree is ours, built in memory); return the constants (``_kN``) it uses."""
    used: set[int] = set()
    stack: list[ast.AST] = list(statements)
    while stack:
        node = stack.pop()
        if "lineno" in node._attributes:
            node.lineno = node.end_lineno = 1  # type: ignore[attr-defined]
            node.col_offset = node.end_col_offset = 0  # type: ignore[attr-defined]
        if isinstance(node, ast.Name) and node.id.startswith("_k"):
            used.add(int(node.id[2:]))
        stack.extend(ast.iter_child_nodes(node))
    return used


def build_function(body: ast.expr | list[ast.stmt], env: Environment, globals_: dict[str, Any], name: str) -> Callable[..., Any]:
    """Compile a translated tree into ``f(F, I, D)``; constants are bound as defaults."""
    statements: list[ast.stmt] = body if isinstance(body, list) else [ast.Return(body)]
    order = sorted(place(statements))
    args = ast.arguments(
        posonlyargs=[],
        args=[ast.arg(a) for a in _ARGS] + [ast.arg(f"_k{k}") for k in order],
        kwonlyargs=[],
        kw_defaults=[],
        defaults=[ast.Name(id=f"_K{k}", ctx=ast.Load()) for k in order],
    )
    func = ast.FunctionDef(name="rule", args=args, body=list(statements), decorator_list=[], returns=None)
    module = ast.Module([func], type_ignores=[])
    for node in (func, args, *args.args, *args.defaults):
        if "lineno" in node._attributes:
            node.lineno = node.end_lineno = 1  # type: ignore[attr-defined]
            node.col_offset = node.end_col_offset = 0  # type: ignore[attr-defined]
    namespace = dict(globals_)
    for k in order:
        namespace[f"_K{k}"] = env.constants[k]
    code = compile(module, f"<{name}>", "exec")
    exec(code, namespace)
    fn: Callable[..., Any] = namespace["rule"]
    return fn
