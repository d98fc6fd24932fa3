"""Reading a request: its body within its size and time limits, a batch counted as it arrives, the envelopes.

A body is read chunk by chunk and refused (413) as soon as it passes its limit, and (408)
when it trickles in slower than the request's deadline. A batch's orders are counted while
the bytes arrive (:class:`ArrayItems`), so a batch of too many orders is refused before it
is all read, let alone parsed.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from starlette.requests import Request

from ..errors import Diagnostic, FactsError, FactsProblem, PolicyError
from ..limits import Limits
from ..runtime.facts import read_facts
from ..runtime.moneytext import MONEY_NUMBER, number_message, read_order_money
from ..runtime.policy import Policy
from ..schemas import did_you_mean
from ..text import shorten
from .replies import BadRequest

__all__ = [
    "ArrayItems",
    "caller",
    "envelope",
    "flag",
    "money_parameters",
    "problem",
    "read_body",
    "read_money",
    "read_order",
]


async def read_body(request: Request, limit: int, seconds: float, items: ArrayItems | None = None) -> bytes:
    """The request body, refused past ``limit`` bytes (413), past ``items.limit`` array items (413), or slower than ``seconds`` (408)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BadRequest(413, "too_large", f"request body of {declared} bytes; the limit is {limit}", limit=limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(seconds):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise BadRequest(413, "too_large", f"request body larger than the limit of {limit} bytes", limit=limit)
                if items is not None and items.feed(chunk) > items.limit:
                    message = f"more than {items.limit} orders; at most {items.limit} per batch"
                    raise BadRequest(413, "too_large", message, limit=items.limit)
                chunks.append(chunk)
    except TimeoutError:
        raise BadRequest(408, "timeout", f"the request body did not arrive within {seconds} s") from None
    return b"".join(chunks)


_ESCAPED = re.compile(rb"\\.", re.DOTALL)
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b"[]{},")
_NESTED = re.compile(rb"\{[^\[\]{}]*\}|\[[^\[\]{}]*\]")


class ArrayItems:
    """Counts the items of a JSON array as its bytes arrive, without parsing them.

    Each chunk is reduced with C-speed operations (escapes removed, strings split off at
    their quotes, everything but brackets and commas deleted, nested groups collapsed), so
    only the few brackets still open are kept between chunks. Commas at the array's own
    level separate its items. A body that is not a JSON array counts 0 (it is refused when
    parsed); YAML batches are counted once parsed.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.items = 0
        """Commas between the array's items seen so far."""
        self._in_string = False
        self._escape = False
        self._open = b""
        """The brackets still open inside the array (of the item being read)."""
        self._array: bool | None = None

    def feed(self, chunk: bytes) -> int:
        """A lower bound of the items begun so far: one more than the commas between them (0 before the first comma)."""
        if self._array is False:
            return 0
        if self._escape:
            chunk, self._escape = chunk[1:], False
        chunk = _ESCAPED.sub(b"", chunk)
        if chunk.endswith(b"\\"):
            chunk, self._escape = chunk[:-1], True
        parts = chunk.split(b'"')
        outside = b"".join(parts[1 if self._in_string else 0 :: 2])
        self._in_string ^= len(parts) % 2 == 0
        if self._array is None:
            head = outside.lstrip()
            if not head:
                return 0
            self._array = head.startswith(b"[")
            if not self._array:
                return 0
            outside = head[1:]  # from here on, the structure inside the array
        structure = self._open + outside.translate(None, _NOT_STRUCTURE)
        while True:  # an item's own brackets, once closed, say nothing about the array's items
            collapsed = _NESTED.sub(b"", structure)
            if collapsed == structure:
                break
            structure = collapsed
        kept = bytearray()
        depth = 0
        for byte in structure:
            if byte in b"[{":
                depth += 1
            elif byte in b"]}":
                depth -= 1
            elif depth == 0:  # a comma between two of the array's items
                self.items += 1
                continue
            kept.append(byte)
        self._open = bytes(kept)
        return self.items + 1 if self.items else 0


def flag(request: Request, name: str) -> bool:
    """A boolean query parameter, spelled as OpenAPI clients spell it: true or false."""
    value = request.query_params.get(name)
    if value is None or value == "false":
        return False
    if value == "true":
        return True
    raise BadRequest(400, "query", f"?{name}= must be true or false, not {shorten(value, 40)!r}")


def read_order(body: bytes, syntax: str, policy: Policy) -> Any:
    """One order from a request body (CPU work: call it in the pool)."""
    if not body.strip():
        raise FactsError([FactsProblem("", "the request body is empty: send an order as JSON (or YAML)", "empty")])
    return read_facts(body, "request", policy, syntax=syntax)


_KIND_NAMES = {dict: "an object", list: "an array", bool: "true or false", str: "a string"}


def envelope(body: bytes, syntax: str, limits: Limits, keys: Mapping[str, type], required: str | None) -> dict[str, Any]:
    """A request object of the given keys and types: an unknown key, a missing or mistyped one is refused alike on every route."""
    shape = "{" + ", ".join(f'"{k}": …' for k in keys) + "}"
    data = read_facts(body, "request", limits=limits, syntax=syntax) if body.strip() else None
    if not isinstance(data, dict):
        wrong = [problem("", "type", "the request body must be an object")]
        raise BadRequest(400, "request", f"send a JSON object {shape}", problems=wrong)
    problems: list[dict[str, str]] = []
    for key in data:
        if key not in keys:
            hint = did_you_mean(key, keys)
            problems.append(
                problem(f"/{key}", "additionalProperties", f"unknown field {key!r}" + (f"; did you mean {hint!r}?" if hint else ""))
            )
    if required is not None and required not in data:
        problems.append(problem("", "required", f"missing required field {required!r}"))
    for key, kind in keys.items():
        if key in data and not isinstance(data[key], kind):
            problems.append(problem(f"/{key}", "type", f"{key!r} must be {_KIND_NAMES.get(kind, 'a string')}"))
    if problems:
        raise BadRequest(400, "request", "; ".join(p["message"] for p in problems) + f" (send {shape})", problems=problems)
    return data


def read_money(order: Any) -> None:
    """The amounts of an order inside a request body (a batch item, a what-if's order) read as a lone order's are."""
    problems = read_order_money(order)
    if problems:
        raise FactsError(problems)


def money_parameters(policy: Policy, parameters: dict[str, Any]) -> None:
    """On the wire a money parameter's override is a decimal string, as money in an order is."""
    problems = [
        Diagnostic("<parameters>", 1, 1, MONEY_NUMBER, f"override of {name}: {number_message(value)}")
        for name, value in parameters.items()
        if name in policy.parameters and policy.parameters[name].declaration.kind == "money" and type(value) in (int, Decimal)
    ]
    if problems:
        raise PolicyError(problems)


def problem(pointer: str, code: str, message: str) -> dict[str, str]:
    return {"pointer": pointer, "code": code, "message": message}


def caller(request: Request) -> str | None:
    """The name of the token the request came with (for the decision log), None without authentication."""
    name: str | None = getattr(request.state, "caller", None)
    return name
