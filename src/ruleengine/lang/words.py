"""The words of a policy that follow its numbers: titles, labels and descriptions with ``{params.NAME}``.

A title that says "超过签收次日起{params.seven_day_window_days}天" is rendered with the parameter's value when
the policy loads (and again for a what-if), so every reader — explain, the catalogue, the service, the
playground — sees the number the rule really uses. Only parameters may appear: these texts describe the
rule, not an order (a reason, which describes an order, may use any expression). ``{params.NAME:%}``
shows a rate as a percentage (0.30 → 30%).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..schemas import did_you_mean
from .ir import ExpressionProblem
from .templates import split

_PLACEHOLDER = re.compile(r"^\s*params\.([A-Za-z_][A-Za-z0-9_]*)\s*(:%)?\s*$")

_NUMBER = re.compile(r"(?<![\d.:/\-])(\d+(?:\.\d+)?)(\s*%)?(?![\d:/]|\.\d|-\d)")
"""A number written in prose ("15-day" too); not part of a date (2026-07-14), a time (19:00), a range (7-15) or an id."""


@dataclass(frozen=True)
class Words:
    """One text of a rule as its author wrote it, and where it is."""

    what: str
    """``title.zh``, ``description``, ``label``, ``reason.zh`` …: which text, for messages."""
    template: str
    locate: Callable[[int], tuple[int, int]]
    """The file line and column of a character of the text."""
    file: str


def render(template: str, parameters: dict[str, Any], broken: Collection[str] = ()) -> tuple[str, frozenset[str]]:
    """The text with its placeholders filled in, and the parameters it names; ExpressionProblem at a bad one.

    ``parameters`` maps a name to its ``(value, kind)``; a ``broken`` one (its own error already reported)
    is left as written.
    """
    out: list[str] = []
    used: set[str] = set()
    for piece, offset, is_placeholder in split(template):
        if not is_placeholder:
            out.append(piece)
            continue
        match = _PLACEHOLDER.match(piece)
        if match is None:
            raise ExpressionProblem(
                "a title, label or description may only name parameters, as {params.NAME} or {params.NAME:%}; "
                "a reason may use any expression",
                offset,
                "words",
            )
        name, percent = match.group(1), bool(match.group(2))
        if name in broken and name not in parameters:
            out.append("{" + piece + "}")
            continue
        if name not in parameters:
            hint = did_you_mean(name, parameters)
            raise ExpressionProblem(f"unknown parameter '{name}'" + (f" (did you mean '{hint}'?)" if hint else ""), offset, "words")
        value, kind = parameters[name]
        if percent and not isinstance(value, (int, Decimal)):
            raise ExpressionProblem(f"'{name}' is not a number: ':%' shows a rate as a percentage", offset, "words")
        out.append(show(value, kind, percent))
        used.add(name)
    return "".join(out), frozenset(used)


def show(value: Any, kind: str, percent: bool = False) -> str:
    """A parameter value in prose: whole numbers plain, money with two decimals, a rate as 30% when asked."""
    if percent:
        return f"{(Decimal(value) * 100).normalize():f}%"
    if kind == "money":
        return f"{Decimal(value).quantize(Decimal('0.01')):f}"
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    if isinstance(value, (tuple, list)):
        return "、".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def literal_numbers(template: str) -> list[tuple[int, Decimal, bool]]:
    """``(offset, number, followed by %)`` for each number written as prose, outside placeholders."""
    found = []
    for piece, offset, is_placeholder in split(template):
        if is_placeholder:
            continue
        for match in _NUMBER.finditer(piece):
            found.append((offset + match.start(1), Decimal(match.group(1)), bool(match.group(2))))
    return found


def same_number(written: Decimal, percent: bool, value: Any) -> bool:
    """Whether prose that says ``written`` (``30%`` when ``percent``) states ``value``."""
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        return False
    return written == (Decimal(value) * 100 if percent else Decimal(value))
