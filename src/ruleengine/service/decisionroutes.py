"""The routes that decide orders: one, a batch, a what-if, an explanation, a case file, and reading an order.

Each reads its body on the event loop and does everything else — parsing, evaluating,
explaining, serialising — in the service's worker pool (:meth:`Service.work`), then waits
on the loop for the decision's record when a decision log is kept. An explained answer
larger than ``--max-explain-bytes`` is refused (422 ``explain_too_large``) before its
decision is recorded.
"""

from __future__ import annotations

import dataclasses
import re
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..authoring.case_files import case_file_text
from ..authoring.explanation import explanation_data
from ..authoring.impact import changes
from ..errors import FactsError, FactsProblem, RuleEngineError
from ..runtime.decision import Decision
from ..runtime.facts import read_facts
from .reading import ArrayItems, caller, envelope, flag, money_parameters, problem, read_body, read_money, read_order
from .replies import JSON, BadRequest, error_body, json_bytes
from .shared import Decided, Service, guarantee_of

__all__ = ["batch", "case_file", "decisions", "explanations", "read_order_route", "what_if"]


def _json(payload: bytes) -> Response:
    return Response(payload, media_type=JSON.media_type)


Decide = Callable[[bytes, str, str, str | None], tuple[Decided, bytes]]
"""What a deciding route does in the worker pool: (body, syntax, request id, caller) → the decision and the answer."""


async def _deciding(service: Service, request: Request, decide: Decide) -> Response:
    """Read the body on the loop, decide in the worker pool, wait for the decision's record, answer."""
    body = await read_body(request, service.config.max_body_bytes, service.config.request_seconds)
    syntax, request_id, who = request.state.syntax, request.state.request_id, caller(request)
    decided, payload = await service.work(lambda: decide(body, syntax, request_id, who))
    await service.answer(decided)
    return _json(payload)


async def decisions(service: Service, request: Request) -> Response:
    policy = service.live.policy  # taken once: a reload during this request does not change it
    explain = flag(request, "explain")

    def decide(body: bytes, syntax: str, request_id: str, who: str | None) -> tuple[Decided, bytes]:
        decided = service.evaluate(policy, read_order(body, syntax, policy), request_id, explain, who, as_text=True, received=body)
        payload = (decided.text or "").encode("utf-8")
        if explain:
            service.explain_bound(len(payload))
        return decided, payload

    return await _deciding(service, request, decide)


async def explanations(service: Service, request: Request) -> Response:
    """The decision with its trace and the explanation by guarantee (what ``ruleengine explain`` prints, as data)."""
    policy = service.live.policy

    def explain(body: bytes, syntax: str, request_id: str, who: str | None) -> tuple[Decided, bytes]:
        decided = service.evaluate(policy, read_order(body, syntax, policy), request_id, True, who, received=body)
        if isinstance(decided.outcome, RuleEngineError):
            return decided, b""
        payload = json_bytes({"decision": decided.outcome, "explanation": explanation_data(decided.outcome["trace"], policy)})
        service.explain_bound(len(payload))
        return decided, payload

    return await _deciding(service, request, explain)


async def read_order_route(service: Service, request: Request) -> Response:
    """An order document (JSON or YAML text) read and returned as JSON, not yet checked against the schema.

    The playground's paste: what it sends to the other routes is then plain JSON; the
    schema's problems come from deciding it, each at its pointer.
    """
    policy = service.live.policy
    body = await read_body(request, service.config.max_body_bytes, service.config.request_seconds)
    syntax = request.state.syntax

    def read() -> bytes:
        order = read_order(body, syntax, policy)
        if not isinstance(order, dict):
            raise FactsError([FactsProblem("", "an order document must be a JSON object", "type")])
        return json_bytes(order)

    return _json(await service.work(read))


async def batch(service: Service, request: Request) -> Response:
    policy = service.live.policy
    explain = flag(request, "explain")
    config = service.config
    syntax = request.state.syntax
    counted = ArrayItems(config.max_batch_items) if syntax == "json" else None  # a YAML batch is counted once parsed
    body = await read_body(request, config.max_batch_bytes, config.request_seconds, counted)
    # The list is one document: as large as its orders together, one level deeper than one of them.
    limits = dataclasses.replace(
        config.limits, max_file_bytes=config.max_batch_bytes, max_nodes=config.limits.max_nodes * 16, max_depth=config.limits.max_depth + 1
    )
    deadline = time.monotonic() + config.request_seconds
    request_id, who = request.state.request_id, caller(request)

    def run() -> tuple[bytes, list[bytes]]:
        items = read_facts(body, "request", limits=limits, syntax=syntax) if body.strip() else None
        if not isinstance(items, list):
            raise BadRequest(400, "request", "the request body must be a JSON array of orders")
        if len(items) > config.max_batch_items:
            message = f"{len(items)} orders; at most {config.max_batch_items} per batch"
            raise BadRequest(413, "too_large", message, limit=config.max_batch_items)
        out: list[dict[str, Any]] = []
        lines: list[bytes] = []
        for index, facts in enumerate(items):
            if time.monotonic() > deadline:
                message = f"not decided within the request's {config.request_seconds} s"
                out.append({"index": index, "error": {"error": "deadline", "message": message}})
                continue
            try:
                read_money(facts)  # a batch item's amounts, read as a lone order's are
            except FactsError as exc:
                service.metrics.errors.labels(exc.to_dict()["error"]).inc()
                out.append({"index": index, "error": error_body(exc, policy)})
                continue
            outcome, _, line = service.evaluate(policy, facts, f"{request_id}/{index}", explain, who)
            if line is not None:
                lines.append(line)
            if isinstance(outcome, RuleEngineError):
                out.append({"index": index, "error": error_body(outcome, policy)})
            else:
                out.append({"index": index, "decision": outcome})
        payload = json_bytes(out)
        if explain:
            service.explain_bound(len(payload))
        return payload, lines

    payload, lines = await service.work(run)
    await service.recorded(lines)  # the batch's records are written together, before it is answered
    return _json(payload)


async def what_if(service: Service, request: Request) -> Response:
    """The order decided by the running policy and by the same policy with some parameters changed."""
    explain = flag(request, "explain")

    def decide(body: bytes, syntax: str, request_id: str, who: str | None) -> tuple[Decided, bytes]:
        asked = envelope(body, syntax, service.config.limits, {"order": dict, "parameters": dict}, "order")
        parameters = asked.get("parameters", {})
        read_money(asked["order"])
        money_parameters(service.live.policy, parameters)
        current, changed = service.live.with_parameters(parameters)
        decided = service.evaluate(current, asked["order"], request_id, explain, who)
        if isinstance(decided.outcome, RuleEngineError):
            return decided, b""
        before = Decision(decided.outcome).to_dict()
        after = changed.evaluate(asked["order"], explain=explain).to_dict()
        values = {name: {"current": current.parameters[name].value, "changed": changed.parameters[name].value} for name in parameters}
        result: dict[str, Any] = {
            "parameters": values,
            "current": before,
            "changed": after,
            "changes": [{"guarantee": g, "field": f, "change": c} for g, f, c in changes(before, after, guarantee_of(current))],
        }
        if explain:
            result["explanation"] = {
                "current": explanation_data(before["trace"], current),
                "changed": explanation_data(after["trace"], changed),
            }
        payload = json_bytes(result)
        if explain:
            service.explain_bound(len(payload))
        return decided, payload

    return await _deciding(service, request, decide)


async def case_file(service: Service, request: Request) -> Response:
    """A regression case file for an order and what the running policy decides for it (ready to commit)."""
    body = await read_body(request, service.config.max_body_bytes, service.config.request_seconds)
    syntax = request.state.syntax

    def write() -> tuple[str, bytes]:
        asked = envelope(body, syntax, service.config.limits, {"order": dict, "name": str, "parameters": dict}, "order")
        name = asked.get("name", "")
        if len(name) > 300:
            problems = [problem("/name", "maxLength", "longer than 300")]
            raise BadRequest(400, "request", "the case name is longer than 300 characters", problems=problems)
        policy = service.live.policy
        parameters = asked.get("parameters") or {}
        read_money(asked["order"])
        money_parameters(policy, parameters)
        if parameters:
            policy = service.live.with_parameters(parameters)[1]
        decision = policy.evaluate(asked["order"]).to_dict()
        text = case_file_text(name or f"order {decision['order_id']}", asked["order"], decision, parameters)
        return str(decision["order_id"]), text.encode("utf-8")

    order_id, text = await service.work(write)
    return Response(
        text, media_type="application/yaml; charset=utf-8", headers={"content-disposition": _attachment(f"{order_id}.cases.yaml")}
    )


def _attachment(filename: str) -> str:
    """A Content-Disposition for any file name: plain ASCII for every client, the exact name as RFC 6266's filename*."""
    plain = re.sub(r"[^A-Za-z0-9._-]", "_", filename)
    if plain == filename:
        return f'attachment; filename="{filename}"'
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{urllib.parse.quote(filename, safe='')}"
