"""Message templates: text with ``{expression}`` placeholders, formatted for people.

Values are shown the way a service agent reads them: money with two decimals,
instants as ``2026-11-19 00:00`` in the policy time zone, durations in days or
hours. ``{{`` and ``}}`` are literal braces.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from . import types as t
from .ir import Compiled, ExpressionProblem


@dataclass
class Placeholder:
    compiled: Compiled
    offset: int
    """Where the expression starts inside the template text."""


Part = str | Placeholder


_BRACE = re.compile(r"[{}]")


def split(template: str) -> list[tuple[str, int, bool]]:
    """``(text, offset, is_expression)`` pieces; raises ExpressionProblem on unbalanced braces.

    A text piece's offset is where it ends less its length (an escaped brace is one character of it).
    The text between braces is taken whole: a policy's reasons and descriptions are read at every load.
    """
    pieces: list[tuple[str, int, bool]] = []
    buf: list[str] = []
    size = 0
    """Characters in ``buf``."""
    i = 0
    n = len(template)
    while True:
        found = _BRACE.search(template, i)
        at = n if found is None else found.start()
        if at > i:
            buf.append(template[i:at])
            size += at - i
        if found is None:
            break
        ch = template[at]
        if ch == "{" and template.startswith("{{", at):
            buf.append("{")
            size += 1
            i = at + 2
        elif ch == "}" and template.startswith("}}", at):
            buf.append("}")
            size += 1
            i = at + 2
        elif ch == "{":
            if buf:
                pieces.append(("".join(buf), at - size, False))
                buf, size = [], 0
            end, quote = at + 1, ""
            while end < n and (template[end] != "}" or quote):
                c = template[end]
                if quote and c == quote:
                    quote = ""
                elif not quote and c in "'\"":
                    quote = c
                end += 1
            if end >= n:
                raise ExpressionProblem("'{' without a closing '}' (write '{{' for a literal brace)", at, "template")
            expr = template[at + 1 : end]
            if not expr.strip():
                raise ExpressionProblem("empty placeholder {}", at, "template")
            pieces.append((expr, at + 1, True))
            i = end + 1
        else:
            raise ExpressionProblem("'}' without an opening '{' (write '}}' for a literal brace)", at, "template")
    if buf:
        pieces.append(("".join(buf), n - size, False))
    return pieces


def format_value(value: Any, typ: t.Type | None, zone: ZoneInfo, lang: str = "zh") -> str:
    """A value as a person reads it (also used by explanations)."""
    if isinstance(value, bool):
        return ("是" if value else "否") if lang == "zh" else ("yes" if value else "no")
    if isinstance(value, Decimal) or (isinstance(value, int) and typ is not None and typ.money):
        if typ is not None and typ.money:
            return f"{Decimal(value).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):f}"
        return f"{value.normalize():f}" if isinstance(value, Decimal) else str(value)
    if isinstance(value, dt.datetime):
        return _instant(value, zone)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        seconds = int(value.total_seconds())
        if seconds % 86400 == 0:
            return f"{seconds // 86400} 天" if lang == "zh" else f"{seconds // 86400} days"
        if seconds % 3600 == 0:
            return f"{seconds // 3600} 小时" if lang == "zh" else f"{seconds // 3600} h"
        return f"{seconds} 秒" if lang == "zh" else f"{seconds} s"
    if isinstance(value, (list, tuple, frozenset)):
        sep = "、" if lang == "zh" else ", "
        return sep.join(format_value(v, None, zone, lang) for v in (sorted(value) if isinstance(value, frozenset) else value))
    return str(value)


def _instant(value: dt.datetime, zone: ZoneInfo) -> str:
    local = value.astimezone(zone)
    return local.strftime("%Y-%m-%d %H:%M:%S" if local.second else "%Y-%m-%d %H:%M")


def formatter(typ: t.Type) -> Callable[[Any, t.Type, ZoneInfo, str], str]:
    """``format_value`` for values of one type, with the common case first (the fast path's reasons)."""
    if typ.kind == t.TEXT:
        return _format_text
    if typ.kind == t.TIMESTAMP:
        return _format_timestamp
    return format_value


def _format_text(value: Any, typ: t.Type, zone: ZoneInfo, lang: str) -> str:
    return value if type(value) is str else format_value(value, typ, zone, lang)


def _format_timestamp(value: Any, typ: t.Type, zone: ZoneInfo, lang: str) -> str:
    return _instant(value, zone) if type(value) is dt.datetime else format_value(value, typ, zone, lang)


_SAME_IN_EVERY_LANGUAGE = frozenset({str, int, Decimal, dt.datetime, dt.date})


def in_other_language(value: Any, formatted: str, typ: t.Type, zone: ZoneInfo, lang: str) -> str:
    """``format_value(value, typ, zone, lang)``, given ``formatted``, the same value in another language.

    Text, numbers, money, instants and dates read the same in every language; yes/no, durations and
    lists do not, and are formatted again.
    """
    return formatted if type(value) in _SAME_IN_EVERY_LANGUAGE else format_value(value, typ, zone, lang)


SCALARS = frozenset({t.BOOL, t.NUMBER, t.TEXT, t.TIMESTAMP, t.DURATION, t.DATE})
"""The kinds whose values do not change once computed: a reason showing only these can be written later."""


def text_writer(zh: list[Part], en: list[Part], zone: ZoneInfo) -> tuple[list[Placeholder], Callable[[tuple[Any, ...]], str]]:
    """A reason's two texts as a function of its values, written when the decision is read, not when its rule runs.

    Returns the placeholders whose values it needs, one per distinct expression, Chinese first, in order, and
    ``write(values)``, which gives exactly the text the rule would have built at once: ``zh / en``, an
    expression in both texts formatted from the same value (``in_other_language``).
    """
    needed: list[Placeholder] = []
    index: dict[str, int] = {}
    for part in (*zh, *en):
        if not isinstance(part, str) and part.compiled.text not in index:
            index[part.compiled.text] = len(needed)
            needed.append(part)
    # Each piece: text, or (the index of its value, its formatter, its type).
    plan_zh = [p if isinstance(p, str) else (index[p.compiled.text], formatter(p.compiled.type), p.compiled.type) for p in zh]
    plan_en = [p if isinstance(p, str) else (index[p.compiled.text], formatter(p.compiled.type), p.compiled.type) for p in en]

    def write(values: tuple[Any, ...]) -> str:
        zh_texts: dict[int, str] = {}
        out: list[str] = []
        for piece in plan_zh:
            if isinstance(piece, str):
                out.append(piece)
            else:
                at, fmt, typ = piece
                text = fmt(values[at], typ, zone, "zh")
                zh_texts.setdefault(at, text)
                out.append(text)
        out.append(" / ")
        for piece in plan_en:
            if isinstance(piece, str):
                out.append(piece)
            else:
                at, fmt, typ = piece
                if at in zh_texts:
                    out.append(in_other_language(values[at], zh_texts[at], typ, zone, "en"))
                else:
                    out.append(fmt(values[at], typ, zone, "en"))
        return "".join(out)

    return needed, write
