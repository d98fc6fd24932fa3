"""The decision service's application: its operations (route, method, token scope, handler) and the Starlette app.

The engine over HTTP (Starlette on uvicorn), the way services call OPA. The modules
beside this one hold the parts: :mod:`.requestcontext` (around every request),
:mod:`.reading` (bodies and their limits), :mod:`.replies` (JSON answers and errors),
:mod:`.decisionroutes` and :mod:`.policyroutes` (the handlers), :mod:`.shared` (what they
share), :mod:`.lifecycle` (start, reload, drain) and :mod:`.server` (uvicorn, the workers).
"""

from __future__ import annotations

import gc
import logging
import os
import sys
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..errors import PolicyError
from .config import ServerConfig
from .decisionlog import DecisionLogError
from .decisionroutes import batch, case_file, decisions, explanations, read_order_route, what_if
from .editing import EDITING_ROUTES, EditingRoute
from .lifecycle import lifespan
from .policyroutes import (
    PLAYGROUND,
    example,
    examples,
    healthz,
    metrics,
    openapi,
    playground,
    policy_catalogue,
    policy_status,
    policy_vocabulary,
    readyz,
    reload_policy,
)
from .reading import caller, envelope, money_parameters, read_body
from .replies import BadRequest
from .requestcontext import Operation, RequestContext, Routes, endpoint
from .security import ConfigError
from .shared import LOG, SWITCH_SECONDS, Service
from .workbench import WORKBENCH_ROUTES, RequestRefused, WorkbenchRoute

__all__ = ["LOG_FORMAT", "OPERATIONS", "SCOPE_OF", "ConfigError", "ServerConfig", "app_from_environment", "create_app"]

LOG_FORMAT = "%(levelname)s:     %(name)s: %(message)s"
"""uvicorn's own layout, so the service's lines read like the server's."""

def workbench_operation(route: WorkbenchRoute) -> Operation:
    """A workbench route (service/workbench.py) as an operation: its envelope read and checked as every route's is."""

    async def handler(service: Service, request: Request) -> Response:
        body = await read_body(request, service.config.max_batch_bytes, service.config.request_seconds)

        def read() -> dict[str, Any]:
            asked = envelope(body, request.state.syntax, service.config.limits, route.keys, route.required)
            money_parameters(service.live.policy, asked.get("parameters", {}))
            return asked

        asked = await service.work(read)
        try:
            return await route.handler(service, asked)
        except RequestRefused as exc:
            raise BadRequest(exc.status, exc.kind, exc.message, **exc.extra) from None

    return Operation(route.method, route.path, handler, route.scope, body=True)


def editing_operation(route: EditingRoute) -> Operation:
    """An editing route (service/editing.py): admin scope; a POST's envelope read and checked here, a GET's query."""

    async def handler(service: Service, request: Request) -> Response:
        if route.method == "GET":
            asked: dict[str, Any] = dict(request.query_params)
        else:
            body = await read_body(request, service.config.max_batch_bytes, service.config.request_seconds)
            asked = await service.work(envelope, body, request.state.syntax, service.config.limits, route.keys, route.required)
        try:
            return await route.handler(service, asked, caller(request) or "anonymous")
        except RequestRefused as exc:
            raise BadRequest(exc.status, exc.kind, exc.message, **exc.extra) from None

    query = frozenset(route.keys) if route.method == "GET" else frozenset()
    return Operation(route.method, route.path, handler, "admin", body=route.method == "POST", query=query)


EXPLAIN = frozenset({"explain"})
OPERATIONS: tuple[Operation, ...] = (
    Operation("POST", "/v1/decisions", decisions, "decide", body=True, query=EXPLAIN),
    Operation("POST", "/v1/decisions/batch", batch, "decide", body=True, query=EXPLAIN),
    Operation("POST", "/v1/decisions/what-if", what_if, "decide", body=True, query=EXPLAIN),
    Operation("POST", "/v1/explanations", explanations, "decide", body=True),
    Operation("POST", "/v1/orders/read", read_order_route, "decide", body=True),
    Operation("POST", "/v1/cases", case_file, "decide", body=True),
    Operation("GET", "/v1/policy", policy_status, "read"),
    Operation("GET", "/v1/policy/catalogue", policy_catalogue, "read"),
    Operation("GET", "/v1/vocabulary", policy_vocabulary, "read"),
    Operation("GET", "/v1/examples", examples, "read"),
    Operation("GET", "/v1/examples/{name}", example, "read"),
    Operation("GET", "/metrics", metrics, "read"),
    Operation("POST", "/v1/policy/reload", reload_policy, "admin"),
    Operation("GET", "/healthz", healthz, None),
    Operation("GET", "/readyz", readyz, None),
    Operation("GET", "/openapi.json", openapi, None),
    Operation("GET", "/", playground, None, query=frozenset({"example"})),  # /?example=NAME opens that example
    *(workbench_operation(route) for route in WORKBENCH_ROUTES),
    *(editing_operation(route) for route in EDITING_ROUTES),
)
SCOPE_OF = {(op.method, op.path): op.scope for op in OPERATIONS}
EDITING_KEYS = frozenset((route.method, route.path) for route in EDITING_ROUTES)
"""The editing routes: in /openapi.json only when the service offers them (--editing); otherwise they answer 404."""
"""Which token scope each route needs (None: public): what the service enforces and /openapi.json declares."""


def create_app(config: ServerConfig | None = None) -> Starlette:
    """The ASGI application (loads the policy and the token file now: raises PolicyError / ConfigError if one is bad)."""
    service = Service(config or ServerConfig())
    service.scopes = SCOPE_OF if service.config.editing else {key: scope for key, scope in SCOPE_OF.items() if key not in EDITING_KEYS}
    routes: list[Route | Mount] = [Route(op.path, endpoint(service, op.handler), methods=[op.method]) for op in OPERATIONS]
    routes.append(Mount("/static", StaticFiles(directory=PLAYGROUND / "static", check_dir=False), name="static"))
    middleware = [Middleware(RequestContext, service=service, routes=Routes(OPERATIONS))]
    if service.allowed_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=sorted(service.allowed_origins),
                allow_methods=["GET", "POST"],
                allow_headers=["authorization", "content-type", "x-request-id"],
                expose_headers=["x-request-id", "content-disposition"],
            )
        )
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan(service))
    app.state.service = service
    return app


def app_from_environment() -> Starlette:
    """uvicorn's factory in each worker process of a multi-worker server; the CLI passes the config by environment."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    sys.setswitchinterval(SWITCH_SECONDS)
    config = ServerConfig.from_json(os.environ["RULEENGINE_SERVER_CONFIG"])
    try:
        app = create_app(config)
    except (PolicyError, ConfigError) as exc:
        # A replacement worker (SIGHUP to the parent) that cannot load the policy: the supervisor keeps the old one.
        what = "the policy does not load" if isinstance(exc, PolicyError) else "its configuration is unusable"
        LOG.error("worker %d not started, %s:\n%s", os.getpid(), what, exc)
        raise SystemExit(2) from None
    except DecisionLogError as exc:
        LOG.error("worker %d not started: %s", os.getpid(), exc)
        raise SystemExit(2) from None
    gc.freeze()  # the loaded policy is long-lived: the collector's full passes (which hold the GIL) skip it
    return app
