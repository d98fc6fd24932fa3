"""Schemathesis hooks: the order rules the JSON Schema cannot state, applied to the orders it generates as valid.

An order that matches ``order.schema.json`` can still be refused (400
``facts``) for what a schema cannot say: two lines with the same sku, a claim
on a sku that is not a line, a claim for more units than the line has, time
running backwards (the engine's ``CHRONOLOGY``: paid after placed, shipped after paid,
nothing after ``as_of`` …). For the requests Schemathesis generates as *valid*, these hooks
make the generated order consistent in exactly those respects, so that its
``positive_data_acceptance`` check holds the service to deciding every
consistent valid order. Invalid (negative) requests are sent as generated.
"""

from __future__ import annotations

import datetime as dt
import graphlib
from typing import Any

import schemathesis

from ruleengine.runtime.facts import CHRONOLOGY

ORDER_BODIES = {"decide": "order", "explain": "order", "whatIf": "envelope", "caseFile": "envelope", "decideBatch": "list"}


def _instant(value: Any) -> dt.datetime | None:
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00").replace("z", "+00:00"))
        return parsed.astimezone(dt.UTC) if parsed.tzinfo is not None else None
    except (ValueError, OverflowError):
        return None


_INSTANTS = list(graphlib.TopologicalSorter({later: {earlier} for earlier, later, _ in CHRONOLOGY}).static_order())
"""Every instant the engine orders (ruleengine.runtime.facts.CHRONOLOGY), earliest first: a linear extension of its rules."""


def _pointer_get(order: dict[str, Any], pointer: str) -> Any:
    node: Any = order
    for key in pointer.strip("/").split("/"):
        node = node.get(key) if isinstance(node, dict) else None
    return node


def _pointer_set(order: dict[str, Any], pointer: str, value: Any) -> None:
    *parents, last = pointer.strip("/").split("/")
    node: Any = order
    for key in parents:
        node = node[key]
    node[last] = value


def consistent(order: Any) -> None:
    """Make a generated order obey the rules the schema cannot state (in place)."""
    if not isinstance(order, dict) or not isinstance(order.get("items"), list):
        return
    items = [item for item in order["items"] if isinstance(item, dict)]
    for index, item in enumerate(items):
        item["sku"] = f"SKU-{index}"
    # Time runs forwards: the instants present, sorted, handed out in an order that obeys every rule.
    present = [pointer for pointer in _INSTANTS if _instant(_pointer_get(order, pointer)) is not None]
    values = sorted((_pointer_get(order, pointer) for pointer in present), key=lambda value: _instant(value))  # type: ignore[arg-type, return-value]
    for pointer, value in zip(present, values, strict=True):
        _pointer_set(order, pointer, value)
    claim = order.get("claim")
    if isinstance(claim, dict) and items:
        line = items[0]
        claim["sku"] = line["sku"]
        wanted, has = claim.get("quantity"), line.get("quantity")
        if isinstance(wanted, (int, float)) and isinstance(has, (int, float)):  # a JSON integer may come as 443.0
            claim["quantity"] = min(wanted, has)


@schemathesis.hook
def map_case(context: schemathesis.HookContext, case: schemathesis.Case) -> schemathesis.Case:
    operation = context.operation
    kind = ORDER_BODIES.get(operation.definition.raw.get("operationId", "")) if operation is not None else None
    if kind is None or case.meta is None or not case.meta.generation.mode.is_positive:
        return case
    body = case.body
    if kind == "order":
        consistent(body)
    elif kind == "envelope" and isinstance(body, dict):
        consistent(body.get("order"))
    elif kind == "list" and isinstance(body, list):
        for order in body:
            consistent(order)
    return case
