"""Steps 1–3 of reading an expression: the text, Python's parser, and an allow-list of syntax.

Each step refuses what the next would trust: the text's length and characters (no bidi, zero-width or
control characters; ASCII identifiers), ``ast.parse(mode="eval")`` (no statements, assignments or several
lines), and a walk of the tree that allows only the nodes a policy needs, within node-count and depth limits.
"""

from __future__ import annotations

import ast
import io
import tokenize

from ..limits import DEFAULT_LIMITS, Limits
from ..text import find_refused_character, shorten
from .ir import ExpressionProblem, child_nodes

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
        stack.extend((child, depth + 1) for child in child_nodes(node))
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
