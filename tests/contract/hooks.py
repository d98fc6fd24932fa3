"""Schemathesis hooks: the order rules the JSON Schema cannot state, applied to the orders it generates as valid.

An order that matches ``order.schema.json`` can still be refused (400
``facts``) for what a schema cannot say: two lines with the same sku, a claim
on a sku that is not a line, a claim for more units than the line has, time
running backwards (``placed_at`` ≤ ``paid_at`` ≤ ``as_of``, ``claim.requested_at`` ≤
``as_of``). For the requests Schemathesis generates as *valid*, these hooks
make the generated order consistent in exactly those respects, so that its
``positive_data_acceptance`` check holds the service to deciding every
consistent valid order. Invalid (negative) requests are sent as generated.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import schemathesis

ORDER_BODIES = {"decide": "order", "explain": "order", "whatIf": "envelope", "caseFile": "envelope", "decideBatch": "list"}


def _instant(value: Any) -> dt.datetime | None:
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00").replace("z", "+00:00"))
        return parsed.astimezone(dt.UTC) if parsed.tzinfo is not None else None
    except (ValueError, OverflowError):
        return None


def consistent(order: Any) -> None:
    """Make a generated order obey the rules the schema cannot state (in place)."""
    if not isinstance(order, dict) or not isinstance(order.get("items"), list):
        return
    items = [item for item in order["items"] if isinstance(item, dict)]
    for index, item in enumerate(items):
        item["sku"] = f"SKU-{index}"
    # Time runs forwards: the three order instants in order, the claim not after the decision instant.
    keys = [key for key in ("placed_at", "paid_at", "as_of") if _instant(order.get(key)) is not None]
    ordered = sorted((order[key] for key in keys), key=lambda value: _instant(value) or dt.datetime.min.replace(tzinfo=dt.UTC))
    for key, value in zip(keys, ordered, strict=True):
        order[key] = value
    claim = order.get("claim")
    if isinstance(claim, dict) and items:
        line = items[0]
        claim["sku"] = line["sku"]
        if isinstance(claim.get("quantity"), int) and isinstance(line.get("quantity"), int):
            claim["quantity"] = min(claim["quantity"], line["quantity"])
        as_of, requested = _instant(order.get("as_of")), _instant(claim.get("requested_at"))
        if as_of is not None and requested is not None and requested > as_of:
            claim["requested_at"] = order["as_of"]


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
