"""Steps 4–5: the type check against the order and decision schemas and the parameters, and the translation.

The result is a ``Compiled`` expression: its checked tree (``ir``), its type and what it reads. A
misspelled fact, a comparison of a timestamp with a number or ``shop.type == "offical_flagship"`` is a
load error here (with a did-you-mean), not a silent False at run time.

Why one module of ~600 lines: it is one translator with a method per construct of the language,
and what each construct means (its types, its absent-fact rule, its checked form) is decided in
that one place; split by node kind, a change to, say, comparisons would touch several files.
"""

from __future__ import annotations

import ast
import itertools
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from ..schemas import did_you_mean
from ..text import shorten
from . import ir
from . import types as t
from .bounds import MAX_GENERATOR_DEPTH, bound_work
from .codegen import place
from .functions import IMPLEMENTATIONS, SIGNATURES
from .ir import DECISION, FACTS, ITEM, SUPPRESSED, Compiled, Definition, Environment, ExpressionProblem
from .parse import _node_offset, parse


@dataclass
class _Scope:
    item: bool
    variables: dict[str, tuple[int, t.Type]] = field(default_factory=dict)
    """Generator variable as written → (its number in the code, element type)."""
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
        self.flat_bytes = self.flat.encode()
        """The parser's columns count UTF-8 bytes: ``segment`` slices these."""
        self.reads: dict[str, ast.expr] = {}
        self.params_used: set[str] = set()
        self.definitions_used: set[str] = set()
        self.uses_item = False
        self.may_be_absent = False

    def segment(self, node: ast.AST) -> str | None:
        """``ast.get_source_segment(self.flat, node)``, for the one line the expression is parsed as.

        The standard function splits and encodes the text again for every node it is asked about.
        """
        line, end_line = getattr(node, "lineno", None), getattr(node, "end_lineno", None)
        if line != 1 or end_line != 1:
            return ast.get_source_segment(self.flat, node)
        return self.flat_bytes[node.col_offset : node.end_col_offset].decode()  # type: ignore[attr-defined]

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
            source = self.segment(node) or repr(value)
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
            return ir.copy_tree(arg.py), arg.type
        if name in scope.variables:
            number, typ = scope.variables[name]
            return ir.var(name, number), typ
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
            owner = self.segment(node.value) or base_type.name
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
            source = self.segment(node)
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
                return ir.call("scale", [d, n]), t.scalar(t.DURATION)
            result = None
        elif isinstance(op, ast.Div):
            if kinds == (t.NUMBER, t.NUMBER):
                return ir.call("divide", [left, right]), t.scalar(t.NUMBER, money=lt.money)
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
                if isinstance(right_py, ir.Const):
                    values = right_py.value
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
                what = self.segment(subject) or "this field"
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
        return ir.call(name, args), t.scalar(returns, money=money or name in ("round_money", "prorata", "percent_of"))

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
            return ir.call(impl, [py]), self._aggregate_type(name, elem)
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
        number = next(_counter)
        inner = _Scope(scope.item, {**scope.variables, var: (number, iter_t.elem)}, scope.substitutions, scope.definition_stack)
        ifs = []
        for cond in gen.ifs:
            py, typ = self.visit(cond, inner)
            self._expect(typ, t.BOOL, cond, "the 'if' of a generator")
            ifs.append(py)
        elt_py, elt_t = self.visit(arg.elt, inner)
        if name != "count":
            self._check_aggregate_elem(name, elt_t, arg.elt)
        py_gen = ast.GeneratorExp(elt_py, [ast.comprehension(ir.var(var, number, store=True), iter_py, ifs, 0)])
        return ir.call(impl, [py_gen]), self._aggregate_type(name, elt_t)

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
            what = self.segment(node.args[0])
            raise self.fail(
                f"{what} is always present (required by the order schema); {name}() is not needed", node.args[0], "needless_presence_check"
            )
        source = self.segment(node.args[0]) or ".".join(keys)
        if not any(v in source.split(".")[0] for v in scope.variables):
            self.reads[source] = ir.call("dig", [base, ir.keys(keys), ast.Constant(None)])
        self.may_be_absent = saved
        if name == "has":
            return ir.call("present", [base, ir.keys(keys)]), t.scalar(t.BOOL)
        fallback, ft = self.visit(node.args[1], scope)
        if ft.kind != typ.kind:
            raise self.fail(f"the default must be {typ.words()}, not {ft.words()}", node.args[1])
        return ir.call("dig", [base, ir.keys(keys), fallback]), typ

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
        body = _Substitute(substitutions).visit(ir.copy_tree(definition.compiled.py))
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

    def visit_Arg(self, node: ir.Arg) -> ast.expr:
        if node.name in self.substitutions:
            return ir.copy_tree(self.substitutions[node.name].py)
        return node


def compile_expression(text: str, env: Environment, *, item: bool, expect: str | None = None) -> Compiled:
    """Parse, check and translate one expression; raises ExpressionProblem."""
    tree = parse(text, env.limits)
    return Checker(env, text).check(tree, _Scope(item=item), expect)


def compile_definition(definition: Definition, env: Environment) -> None:
    """Check a definition once, its parameters standing for typed placeholders."""
    tree = parse(definition.text, env.limits)
    definition.tree = tree
    checker = Checker(env, definition.text)
    placeholders = {
        pname: Compiled(definition.text, ir.arg(pname), ptype, False) for pname, ptype in definition.params
    }
    definition.compiled = checker.check(tree, _Scope(item=True, substitutions=placeholders))
