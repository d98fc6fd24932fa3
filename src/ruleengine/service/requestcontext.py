"""Around every HTTP request: the operation it asks for, the refusals, the request id, the metrics, JSON errors.

Who may call what is checked before a route runs (:mod:`.security`); every response
carries the request id and is counted in ``/metrics``, unknown routes included. While
the service drains (SIGTERM, :mod:`.lifecycle`) every response says ``Connection: close``,
so a keep-alive client opens its next connection elsewhere instead of meeting a closed one.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import Headers, MutableHeaders, QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import EvaluationError, FactsError, PolicyError, RuleEngineError
from .metrics import UNMATCHED
from .replies import JSON, STATUS_ERRORS, BadRequest, error_body, send_error
from .security import Refusal, body_syntax, cross_site, require
from .shared import LOG, Service

__all__ = ["Handler", "Operation", "RequestContext", "Routes", "endpoint"]

Handler = Callable[[Service, Request], Awaitable[Response]]

_REQUEST_ID = re.compile(r"[!-~]{1,128}")
"""An X-Request-ID the service echoes: 1 to 128 visible ASCII characters; anything else is replaced by a new id."""


@dataclass(frozen=True)
class Operation:
    """One route and method: its handler, the token scope it needs (None: public), whether it reads a body, its query parameters."""

    method: str
    path: str
    handler: Handler
    scope: str | None
    body: bool = False
    query: frozenset[str] = frozenset()


class Routes:
    """Finds a request's operation before it runs, so refusals (404, 405, 401, 403, 415) happen in one place."""

    def __init__(self, operations: tuple[Operation, ...]) -> None:
        by_path: dict[str, dict[str, Operation]] = {}
        for op in operations:
            by_path.setdefault(op.path, {})[op.method] = op
        self.table = [(compile_path(path)[0], path, methods) for path, methods in by_path.items()]

    def find(self, method: str, path: str) -> tuple[str, Operation | None, list[str]]:
        """(the route's metrics label, its operation or None, the methods the path takes)."""
        for pattern, template, methods in self.table:
            if pattern.match(path):
                op = methods.get("GET" if method == "HEAD" else method)
                allowed = sorted({*methods, *(["HEAD"] if "GET" in methods else [])})
                return template, op, allowed
        if path.startswith("/static/"):
            return "/static", None, ["GET", "HEAD"]
        return UNMATCHED, None, []


class RequestContext:
    """Around every HTTP request: the request id, the refusals, the metrics, and JSON for every error.

    It answers for routes that do not exist or do not take the method, for a
    caller without the route's token scope or from a foreign web origin, and
    for a body of the wrong media type. An error response that comes from
    inside Starlette as text (a static file not found) is rewritten as the
    JSON error every other route gives.
    """

    def __init__(self, app: ASGIApp, service: Service, routes: Routes) -> None:
        self.app = app
        self.service = service
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        headers = Headers(scope=scope)
        given = headers.get("x-request-id")
        request_id = given if given is not None and _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        method = scope["method"]
        label, operation, allowed = self.routes.find(method, scope["path"])
        status = 0
        started = False
        held: Message | None = None
        text: list[bytes] = []
        service = self.service

        def closing() -> list[tuple[bytes, bytes]]:
            return [(b"connection", b"close")] if service.draining else []

        async def reply(message: Message) -> None:
            nonlocal status, started, held
            if message["type"] == "http.response.start":
                status = message["status"]
                response_headers = MutableHeaders(scope=message)
                if status >= 400 and not response_headers.get("content-type", "").startswith("application/json"):
                    held = message  # replaced by a JSON error once its text has arrived
                    return
                response_headers["x-request-id"] = request_id
                if service.draining:
                    response_headers["connection"] = "close"
                await send(message)
                started = True
            elif held is not None:
                text.append(message.get("body", b""))
                if not message.get("more_body", False):
                    kept = [(k, v) for k, v in held.get("headers", []) if k.lower() not in (b"content-type", b"content-length")]
                    message_text = b"".join(text).decode("utf-8", "replace").strip()[:500] or "error"
                    await send_error(send, status, STATUS_ERRORS.get(status, "internal"), message_text, request_id, kept + closing())
                    started = True
            else:
                await send(message)

        try:
            if not self._preflight(method, headers, operation):
                self._check(method, scope, headers, label, operation, allowed, state)
            await self.app(scope, receive, reply)
        except Refusal as refusal:
            status = refusal.status
            extra = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in refusal.headers.items()]
            await send_error(send, status, refusal.error, refusal.message, request_id, extra + closing())
        except Exception:
            LOG.exception("internal error on %s %s", method, label)
            if not started:
                status = 500
                await send_error(send, 500, "internal", "internal error; see the server log", request_id, closing())
        finally:
            metrics = service.metrics
            metrics.requests.labels(label, method, str(status or 500)).inc()
            metrics.latency.labels(label).observe(time.perf_counter() - began)

    def _preflight(self, method: str, headers: Headers, operation: Operation | None) -> bool:
        """A CORS preflight from an allowed origin: CORSMiddleware (inside) answers it."""
        return method == "OPTIONS" and "access-control-request-method" in headers and headers.get("origin") in self.service.allowed_origins

    def _check(
        self,
        method: str,
        scope: Scope,
        headers: Headers,
        label: str,
        operation: Operation | None,
        allowed: list[str],
        state: dict[str, Any],
    ) -> None:
        if operation is None:
            if label == "/static" and method in allowed:
                return
            if allowed:
                methods = ", ".join(allowed)
                raise Refusal(405, "method_not_allowed", f"{label} takes {methods}, not {method}", {"allow": methods})
            raise Refusal(404, "not_found", f"no route {scope['path']!r}; the routes are in /openapi.json")
        if operation.scope is not None or method not in ("GET", "HEAD"):
            cross_site(headers, self.service.allowed_origins)
        if operation.scope is not None and self.service.tokens is not None:
            caller = self.service.tokens.caller(headers.get("authorization"))
            require(caller, operation.scope)
            state["caller"] = caller.name
        unknown = sorted(set(QueryParams(scope.get("query_string", b"")).keys()) - operation.query)
        if unknown:
            takes = ", ".join(f"?{name}=" for name in sorted(operation.query)) or "no query parameters"
            raise Refusal(400, "query", f"unknown query parameter {unknown[0]!r}: {operation.path} takes {takes}")
        if operation.body:
            state["syntax"] = body_syntax(headers)


def endpoint(service: Service, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """The engine's errors as the service's JSON errors around one route."""

    async def run(request: Request) -> Response:
        policy = service.live.policy
        request_id = request.state.request_id
        try:
            return await handler(service, request)
        except BadRequest as exc:
            body = exc.body
            status = exc.status
        except FactsError as exc:
            body, status = error_body(exc, policy), 400
        except PolicyError as exc:  # a what-if with a bad parameter value
            body, status = error_body(exc, policy), 400
        except EvaluationError as exc:
            body, status = error_body(exc, policy), 422
        except RuleEngineError as exc:
            body, status = error_body(exc, policy), 400
        return JSON({**body, "request_id": request_id}, status_code=status)

    return run
