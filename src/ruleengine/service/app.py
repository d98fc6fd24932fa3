"""The decision service's routes and lifecycle: the engine over HTTP (Starlette on uvicorn), the way services call OPA.

Every response to bad input is a structured JSON error with a 4xx status —
the facts' problems with their JSON pointers, the rule that failed, the limit
that was exceeded — never a 500 or a traceback; every response carries the
request id and is counted in ``/metrics`` (:class:`RequestContext`, around
everything, unknown routes included). Who may call what is checked before a
route runs (:mod:`.security`). The policy is replaced only by a reload that
loaded completely and passes its own cases (:mod:`ruleengine.service.livepolicy`); a
decision is answered only once its record is in the decision log, when one is
kept (:mod:`ruleengine.service.decisionlog`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import re
import signal
import tempfile
import time
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

import anyio
import prometheus_client
from starlette.applications import Starlette
from starlette.datastructures import Headers, MutableHeaders, QueryParams
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route, compile_path
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..authoring.case_files import case_file_text
from ..authoring.catalogue import catalogue_data
from ..authoring.explanation import WORDS, explanation_data
from ..authoring.impact import changes
from ..errors import Diagnostic, EvaluationError, FactsError, FactsProblem, PolicyError, RuleEngineError
from ..limits import Limits
from ..runtime.decision import Decision, dumps
from ..runtime.facts import read_facts
from ..runtime.moneytext import MONEY_NUMBER, number_message, read_order_money
from ..runtime.policy import Policy
from ..schemas import did_you_mean
from ..text import shorten
from .config import ServerConfig
from .decisionlog import DecisionLog, DecisionLogError, check_writable
from .editing import EDITING_ROUTES, EditingRoute, check_editing_config
from .livepolicy import LivePolicy, ReloadResult
from .metrics import UNMATCHED, Metrics
from .openapi import example_orders, example_titles, openapi_bytes
from .security import ConfigError, Refusal, Tokens, body_syntax, cross_site, require
from .workbench import WORKBENCH_ROUTES, RequestRefused, WorkbenchRoute

__all__ = ["ConfigError", "ServerConfig", "create_app", "serve"]

PLAYGROUND = Path(__file__).parent.parent / "playground"
LOG_FORMAT = "%(levelname)s:     %(name)s: %(message)s"
"""uvicorn's own layout, so the service's lines read like the server's."""
LOG = logging.getLogger("ruleengine.server")


class BadRequest(Exception):
    """Ends a request with a structured client error: ``{"error": kind, "message": ..., **extra}``."""

    def __init__(self, status: int, kind: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": kind, "message": message, **extra}


class Service:
    """What the routes share: the live policy, the metrics, the decision log, the limits."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.tokens = Tokens.load(config.auth_token_file) if config.auth_token_file is not None else None
        check_editing_config(config, self.tokens)
        self.allowed_origins = frozenset(config.allow_origins)
        self.metrics = Metrics()
        self.live = LivePolicy(
            config.rules,
            config.limits,
            on_reload=self._reloaded,
            quiet_seconds=config.reload_quiet_seconds,
            serve_failing_cases=config.serve_failing_cases,
        )
        self.metrics.serving(None, self.live.policy)
        self._cases_checked(self.live.cases.failed, self.live.cases.failed > 0)
        if self.live.cases.failed:
            LOG.warning(
                "serving policy %s although %d of its regression cases fail (--serve-failing-cases)",
                self.live.policy.digest,
                self.live.cases.failed,
            )
        self._guarantees = _guarantee_of(self.live.policy)
        self.log: DecisionLog | None = None
        if config.decision_log is not None:  # opened now: a log that cannot be kept stops the start (DecisionLogError)
            self.log = DecisionLog(
                _log_path(config),
                max_bytes=config.log_max_bytes,
                backups=config.log_backups,
                include_facts=config.log_facts,
                fsync=config.log_fsync,
                on_result=self._logged,
            )
            self.metrics.log_healthy.set(1)
        self.ready = False

    # -- lifecycle
    def _reloaded(self, result: ReloadResult) -> None:
        self.metrics.reloads.labels("ok" if result.ok else "failed", result.trigger).inc()
        self.metrics.reload_failed.set(0 if result.ok else 1)
        if result.cases is not None:
            self._cases_checked(result.cases["failed"], self.live.cases.failed > 0)
        if result.ok and result.changed:
            self._guarantees = _guarantee_of(self.live.policy)
        _log_reload(result)

    def _cases_checked(self, failed: int, serving_failing: bool) -> None:
        self.metrics.failing_cases.set(failed)
        self.metrics.serving_failing_cases.set(1 if serving_failing else 0)

    def _logged(self, records: int, error: BaseException | None) -> None:
        """The decision log reports each write (on the event loop; with --log-fsync on the log's own thread)."""
        if error is None:
            self.metrics.log_records.inc(records)
            self.metrics.log_writes.inc(1 if records else 0)
            self.metrics.log_healthy.set(1)
        else:
            self.metrics.log_errors.inc()
            self.metrics.log_healthy.set(0)

    def reopen_log(self) -> None:
        if self.log is not None:
            self.log.reopen()

    async def reload(self, trigger: str) -> ReloadResult:
        old = self.live.policy
        result = await anyio.to_thread.run_sync(self.live.reload, trigger)
        if result.changed:
            self.metrics.serving(old, self.live.policy)
        return result

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGHUP, self._sighup, loop)
            loop.add_signal_handler(signal.SIGUSR1, self.reopen_log)  # logrotate's postrotate
        stop = asyncio.Event()
        watcher = loop.create_task(self._watch(stop)) if self.config.watch and self.config.rules is not None else None
        self.ready = True
        try:
            yield
        finally:
            # uvicorn calls this after it stopped accepting and the requests in flight finished (the drain).
            self.ready = False
            stop.set()
            if watcher is not None:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(signal.SIGHUP)
                loop.remove_signal_handler(signal.SIGUSR1)
            if self.log is not None:
                await anyio.to_thread.run_sync(self.log.close)

    def _sighup(self, loop: asyncio.AbstractEventLoop) -> None:
        self.reopen_log()
        loop.create_task(self.reload("SIGHUP"))

    async def _watch(self, stop: asyncio.Event) -> None:
        async for trigger in self.live.changes(stop):
            await self.reload(trigger)

    # -- deciding
    def evaluate(
        self,
        policy: Policy,
        facts: Any,
        request_id: str,
        explain: bool,
        caller: str | None = None,
        as_text: bool = False,
        received: bytes | None = None,
    ) -> Decided:
        """Decide one order (already parsed): the decision or its FactsError / EvaluationError, and its log record.

        ``caller``: the token's name, for the log. ``as_text``: also write the decision as
        canonical JSON, once, for the answer and the record. ``received``: the request body
        the order was read from (its hash is the record's ``facts_sha256``).
        """
        try:
            decision = policy.evaluate(facts, explain=explain)
        except (FactsError, EvaluationError) as exc:
            self.metrics.errors.labels(exc.to_dict()["error"]).inc()
            line = None
            if self.log is not None:
                error = error_body(exc, policy)
                line = self.log.entry(
                    request_id=request_id,
                    facts=facts,
                    decision=None,
                    policy_digest=policy.digest,
                    error=error,
                    caller=caller,
                    received=received,
                )
            return Decided(exc, None, line)
        data = decision.data
        self.metrics.decided(data, self._guarantees)
        text = dumps(data) if as_text else None
        if self.log is None:
            return Decided(data, text, None)
        line = self.log.entry(
            request_id=request_id,
            facts=facts,
            decision=data,
            policy_digest=policy.digest,
            decision_json=text,
            caller=caller,
            received=received,
        )
        return Decided(data, text, line)

    async def decide(
        self, policy: Policy, facts: Any, request_id: str, explain: bool, caller: str | None = None, received: bytes | None = None
    ) -> dict[str, Any]:
        """Decide one order and wait for its record; raises FactsError / EvaluationError (also recorded)."""
        decided = await self._decided(self.evaluate(policy, facts, request_id, explain, caller, received=received))
        assert isinstance(decided.outcome, dict)
        return decided.outcome

    async def decide_text(
        self, policy: Policy, facts: Any, request_id: str, explain: bool, caller: str | None = None, received: bytes | None = None
    ) -> str:
        """:meth:`decide`, the decision as its canonical JSON."""
        decided = await self._decided(self.evaluate(policy, facts, request_id, explain, caller, as_text=True, received=received))
        assert decided.text is not None
        return decided.text

    async def _decided(self, decided: Decided) -> Decided:
        if decided.record is not None:
            await self.recorded([decided.record])
        if isinstance(decided.outcome, RuleEngineError):
            raise decided.outcome
        return decided

    async def recorded(self, lines: list[bytes]) -> None:
        """Wait until ``lines`` are in the decision log: a decision whose record is not written is not answered."""
        if self.log is None or not lines:
            return
        try:
            await self.log.commit(lines)
        except DecisionLogError as exc:
            self.metrics.log_unrecorded.labels("yes" if self.config.log_fail_open else "no").inc(len(lines))
            if self.config.log_fail_open:
                return
            message = f"决策记录无法写入，未确认 the decision could not be recorded in the decision log, so it is not given: {exc}"
            raise BadRequest(503, "decision_log", message) from None

    def log_ok(self) -> bool:
        return self.log is None or self.log.healthy


class Decided(NamedTuple):
    """One order decided by :meth:`Service.evaluate`."""

    outcome: dict[str, Any] | RuleEngineError
    """The decision, or the FactsError / EvaluationError that stopped it."""
    text: str | None
    """The decision as canonical JSON, when asked for."""
    record: bytes | None
    """Its decision-log line, when a log is kept."""


def _log_path(config: ServerConfig) -> Path:
    assert config.decision_log is not None
    path = config.decision_log
    if config.workers > 1:  # one file per worker: rotation renames files, which two writers would race
        path = path.with_name(f"{path.stem}.{os.getpid()}{path.suffix}")
    return path


def _guarantee_of(policy: Policy) -> dict[str, str]:
    return {rule.id: rule.guarantee or "claims" for rule in policy.rules}


def _log_reload(result: ReloadResult) -> None:
    log = LOG
    if result.ok:
        log.info("policy reload (%s): %s %s", result.trigger, "loaded" if result.changed else "unchanged", result.digest)
    else:
        message = (result.error or {}).get("message", "")
        log.error("policy reload (%s) failed; still serving %s:\n%s", result.trigger, result.digest, message)


# -- errors


class JSON(Response):
    """Canonical JSON (exact money, fixed key order): the bytes of ``Decision.to_json()`` for a decision."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content).encode("utf-8")


def _in_policy(file: str, root: Path) -> str:
    """A file the loader named (relative to the working directory) as a path relative to the policy folder."""
    if not file:
        return file
    path = Path(file) if os.path.isabs(file) else Path.cwd() / file
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return file


def error_body(exc: RuleEngineError, policy: Policy) -> dict[str, Any]:
    """An engine error as the service answers it: with a message, and files relative to the policy folder."""
    body = exc.to_dict()
    body["message"] = body.get("message") or str(exc)
    if "file" in body:
        body["file"] = _in_policy(body["file"], policy.root)
    if "diagnostics" in body:
        body["diagnostics"] = [{**d, "file": _in_policy(d["file"], policy.root)} for d in body["diagnostics"]]
    return body


_STATUS_ERRORS = {400: "request", 401: "unauthorized", 403: "cross_site", 404: "not_found", 405: "method_not_allowed"}
_STATUS_ERRORS |= {408: "timeout", 413: "too_large", 415: "unsupported_media_type", 503: "not_ready"}


def _error_bytes(status: int, kind: str, message: str, request_id: str, **extra: Any) -> bytes:
    return dumps({"error": kind, "message": message, **extra, "request_id": request_id}).encode("utf-8")


_REQUEST_ID = re.compile(r"[!-~]{1,128}")
"""An X-Request-ID the service echoes: 1 to 128 visible ASCII characters; anything else is replaced by a new id."""


# -- the operations


Handler = Callable[["Service", Request], Awaitable[Response]]


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
        started = time.perf_counter()
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

        async def reply(message: Message) -> None:
            nonlocal status, started, held
            if message["type"] == "http.response.start":
                status = message["status"]
                response_headers = MutableHeaders(scope=message)
                if status >= 400 and not response_headers.get("content-type", "").startswith("application/json"):
                    held = message  # replaced by a JSON error once its text has arrived
                    return
                response_headers["x-request-id"] = request_id
                await send(message)
                started = True
            elif held is not None:
                text.append(message.get("body", b""))
                if not message.get("more_body", False):
                    kept = [(k, v) for k, v in held.get("headers", []) if k.lower() not in (b"content-type", b"content-length")]
                    message_text = b"".join(text).decode("utf-8", "replace").strip()[:500] or "error"
                    await _send_error(send, status, _STATUS_ERRORS.get(status, "internal"), message_text, request_id, kept)
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
            await _send_error(send, status, refusal.error, refusal.message, request_id, extra)
        except Exception:
            LOG.exception("internal error on %s %s", method, label)
            if not started:
                status = 500
                await _send_error(send, 500, "internal", "internal error; see the server log", request_id, [])
        finally:
            metrics = self.service.metrics
            metrics.requests.labels(label, method, str(status or 500)).inc()
            metrics.latency.labels(label).observe(time.perf_counter() - started)

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


async def _send_error(send: Send, status: int, kind: str, message: str, request_id: str, headers: list[tuple[bytes, bytes]]) -> None:
    body = _error_bytes(status, kind, message, request_id)
    raw = [
        *headers,
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-request-id", request_id.encode("latin-1")),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def _endpoint(service: Service, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """The engine's errors as the service's JSON errors around one route."""

    async def endpoint(request: Request) -> Response:
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

    return endpoint


# -- request helpers


async def _body(request: Request, limit: int, seconds: float) -> bytes:
    """The request body, refused past ``limit`` bytes (413) or when it trickles in slower than ``seconds`` (408)."""
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
                chunks.append(chunk)
    except TimeoutError:
        raise BadRequest(408, "timeout", f"the request body did not arrive within {seconds} s") from None
    return b"".join(chunks)


def _flag(request: Request, name: str) -> bool:
    """A boolean query parameter, spelled as OpenAPI clients spell it: true or false."""
    value = request.query_params.get(name)
    if value is None or value == "false":
        return False
    if value == "true":
        return True
    raise BadRequest(400, "query", f"?{name}= must be true or false, not {shorten(value, 40)!r}")


def _read_order(body: bytes, request: Request, policy: Policy) -> Any:
    if not body.strip():
        raise FactsError([FactsProblem("", "the request body is empty: send an order as JSON (or YAML)", "empty")])
    return read_facts(body, "request", policy, syntax=request.state.syntax)


def _envelope(body: bytes, request: Request, limits: Limits, keys: Mapping[str, type], required: str | None) -> dict[str, Any]:
    """A request object of the given keys and types: an unknown key, a missing or mistyped one is refused alike on every route."""
    shape = "{" + ", ".join(f'"{k}": …' for k in keys) + "}"
    data = read_facts(body, "request", limits=limits, syntax=request.state.syntax) if body.strip() else None
    if not isinstance(data, dict):
        raise BadRequest(
            400, "request", f"send a JSON object {shape}", problems=[_problem("", "type", "the request body must be an object")]
        )
    problems = []
    for key in data:
        if key not in keys:
            hint = did_you_mean(key, keys)
            problems.append(
                _problem(f"/{key}", "additionalProperties", f"unknown field {key!r}" + (f"; did you mean {hint!r}?" if hint else ""))
            )
    if required is not None and required not in data:
        problems.append(_problem("", "required", f"missing required field {required!r}"))
    for key, kind in keys.items():
        if key in data and not isinstance(data[key], kind):
            problems.append(_problem(f"/{key}", "type", f"{key!r} must be {'an object' if kind is dict else 'a string'}"))
    if problems:
        raise BadRequest(400, "request", "; ".join(p["message"] for p in problems) + f" (send {shape})", problems=problems)
    return data


def _read_money(order: Any) -> None:
    """The amounts of an order inside a request body (a batch item, a what-if's order) read as a lone order's are."""
    problems = read_order_money(order)
    if problems:
        raise FactsError(problems)


def _money_parameters(policy: Policy, parameters: dict[str, Any]) -> None:
    """On the wire a money parameter's override is a decimal string, as money in an order is."""
    problems = [
        Diagnostic("<parameters>", 1, 1, MONEY_NUMBER, f"override of {name}: {number_message(value)}")
        for name, value in parameters.items()
        if name in policy.parameters
        and policy.parameters[name].declaration.kind == "money"
        and type(value) in (int, Decimal)
    ]
    if problems:
        raise PolicyError(problems)


def _problem(pointer: str, code: str, message: str) -> dict[str, str]:
    return {"pointer": pointer, "code": code, "message": message}


def _caller(request: Request) -> str | None:
    caller: str | None = getattr(request.state, "caller", None)
    return caller


# -- routes


async def decisions(service: Service, request: Request) -> Response:
    policy = service.live.policy  # taken once: a reload during this request does not change it
    explain = _flag(request, "explain")
    body = await _body(request, service.config.max_body_bytes, service.config.request_seconds)
    facts = _read_order(body, request, policy)
    text = await service.decide_text(policy, facts, request.state.request_id, explain, _caller(request), received=body)
    return Response(text, media_type=JSON.media_type)


async def explanations(service: Service, request: Request) -> Response:
    """The decision with its trace and the explanation by guarantee (what ``ruleengine explain`` prints, as data)."""
    policy = service.live.policy
    body = await _body(request, service.config.max_body_bytes, service.config.request_seconds)
    facts = _read_order(body, request, policy)
    decision = await service.decide(policy, facts, request.state.request_id, True, _caller(request), received=body)
    return JSON({"decision": decision, "explanation": explanation_data(decision["trace"], policy)})


async def read_order(service: Service, request: Request) -> Response:
    """An order document (JSON or YAML text) read and returned as JSON, not yet checked against the schema.

    The playground's paste: what it sends to the other routes is then plain JSON; the
    schema's problems come from deciding it, each at its pointer.
    """
    policy = service.live.policy
    body = await _body(request, service.config.max_body_bytes, service.config.request_seconds)
    order = _read_order(body, request, policy)
    if not isinstance(order, dict):
        raise FactsError([FactsProblem("", "an order document must be a JSON object", "type")])
    return JSON(order)


async def batch(service: Service, request: Request) -> Response:
    policy = service.live.policy
    explain = _flag(request, "explain")
    config = service.config
    body = await _body(request, config.max_batch_bytes, config.request_seconds)
    # The list is one document: as large as its orders together, one level deeper than one of them.
    limits = dataclasses.replace(
        config.limits, max_file_bytes=config.max_batch_bytes, max_nodes=config.limits.max_nodes * 16, max_depth=config.limits.max_depth + 1
    )
    items = read_facts(body, "request", limits=limits, syntax=request.state.syntax) if body.strip() else None
    if not isinstance(items, list):
        raise BadRequest(400, "request", "the request body must be a JSON array of orders")
    if len(items) > config.max_batch_items:
        raise BadRequest(413, "too_large", f"{len(items)} orders; at most {config.max_batch_items} per batch", limit=config.max_batch_items)
    deadline = time.monotonic() + config.request_seconds
    request_id = request.state.request_id
    caller = _caller(request)

    def run() -> tuple[list[dict[str, Any]], list[bytes]]:
        out: list[dict[str, Any]] = []
        lines: list[bytes] = []
        for index, facts in enumerate(items):
            if time.monotonic() > deadline:
                message = f"not decided within the request's {config.request_seconds} s"
                out.append({"index": index, "error": {"error": "deadline", "message": message}})
                continue
            try:
                _read_money(facts)  # a batch item's amounts, read as a lone order's are
            except FactsError as exc:
                service.metrics.errors.labels(exc.to_dict()["error"]).inc()
                out.append({"index": index, "error": error_body(exc, policy)})
                continue
            outcome, _, line = service.evaluate(policy, facts, f"{request_id}/{index}", explain, caller)
            if line is not None:
                lines.append(line)
            if isinstance(outcome, RuleEngineError):
                out.append({"index": index, "error": error_body(outcome, policy)})
            else:
                out.append({"index": index, "decision": outcome})
        return out, lines

    out, lines = await anyio.to_thread.run_sync(run)
    await service.recorded(lines)  # the batch's records are written together, before it is answered
    return JSON(out)


async def what_if(service: Service, request: Request) -> Response:
    """The order decided by the running policy and by the same policy with some parameters changed."""
    explain = _flag(request, "explain")
    body = await _body(request, service.config.max_body_bytes, service.config.request_seconds)
    envelope = _envelope(body, request, service.config.limits, {"order": dict, "parameters": dict}, "order")
    parameters = envelope.get("parameters", {})
    _read_money(envelope["order"])
    _money_parameters(service.live.policy, parameters)
    current, changed = await anyio.to_thread.run_sync(service.live.with_parameters, parameters)
    request_id = request.state.request_id
    before = Decision(await service.decide(current, envelope["order"], request_id, explain, _caller(request))).to_dict()
    after = changed.evaluate(envelope["order"], explain=explain).to_dict()
    guarantees = _guarantee_of(current)
    result: dict[str, Any] = {
        "parameters": {name: {"current": current.parameters[name].value, "changed": changed.parameters[name].value} for name in parameters},
        "current": before,
        "changed": after,
        "changes": [{"guarantee": g, "field": f, "change": c} for g, f, c in changes(before, after, guarantees)],
    }
    if explain:
        result["explanation"] = {
            "current": explanation_data(before["trace"], current),
            "changed": explanation_data(after["trace"], changed),
        }
    return JSON(result)


async def case_file(service: Service, request: Request) -> Response:
    """A regression case file for an order and what the running policy decides for it (ready to commit)."""
    body = await _body(request, service.config.max_body_bytes, service.config.request_seconds)
    envelope = _envelope(body, request, service.config.limits, {"order": dict, "name": str, "parameters": dict}, "order")
    name = envelope.get("name", "")
    if len(name) > 300:
        raise BadRequest(
            400, "request", "the case name is longer than 300 characters", problems=[_problem("/name", "maxLength", "longer than 300")]
        )
    policy = service.live.policy
    parameters = envelope.get("parameters") or {}
    _read_money(envelope["order"])
    _money_parameters(policy, parameters)
    if parameters:
        policy = (await anyio.to_thread.run_sync(service.live.with_parameters, parameters))[1]
    decision = policy.evaluate(envelope["order"]).to_dict()
    text = case_file_text(name or f"order {decision['order_id']}", envelope["order"], decision, parameters)
    return Response(
        text.encode("utf-8"),
        media_type="application/yaml; charset=utf-8",
        headers={"content-disposition": _attachment(f"{decision['order_id']}.cases.yaml")},
    )


def _attachment(filename: str) -> str:
    """A Content-Disposition for any file name: plain ASCII for every client, the exact name as RFC 6266's filename*."""
    plain = re.sub(r"[^A-Za-z0-9._-]", "_", filename)
    if plain == filename:
        return f'attachment; filename="{filename}"'
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{urllib.parse.quote(filename, safe='')}"


async def policy_status(service: Service, request: Request) -> Response:
    status = service.live.status()
    root = service.live.policy.root
    summaries = [status.get("cases") or {}]
    for key in ("last_reload", "last_reload_error"):
        reload = status.get(key) or {}
        error = reload.get("error")
        if error and "diagnostics" in error:
            error["diagnostics"] = [{**d, "file": _in_policy(d["file"], root)} for d in error["diagnostics"]]
        summaries += [reload.get("cases") or {}, (error or {}).get("cases") or {}]
    for summary in summaries:  # the regression cases' files, like every other file, relative to the policy folder
        if summary.get("failures"):
            summary["failures"] = [{**f, "file": _in_policy(f["file"], root)} for f in summary["failures"]]
    return JSON(status)


async def reload_policy(service: Service, request: Request) -> Response:
    """Load the folder again now, as SIGHUP does; with several workers, SIGHUP to the parent replaces them one by one."""
    if service.config.workers > 1:
        os.kill(os.getppid(), signal.SIGHUP)
        return JSON({"status": "replacing workers", "trigger": "api"}, status_code=202)
    result = await service.reload("api")
    out = dataclasses.asdict(result)
    if result.ok:
        return JSON(out)
    error = dict(result.error or {"error": "internal", "message": "the reload failed"})
    if "diagnostics" in error:
        error["diagnostics"] = [{**d, "file": _in_policy(d["file"], service.live.policy.root)} for d in error["diagnostics"]]
    error.setdefault("message", "the policy folder does not load; the served policy is unchanged")
    return JSON({**error, "request_id": request.state.request_id}, status_code=500 if error.get("error") == "internal" else 422)


async def policy_catalogue(service: Service, request: Request) -> Response:
    # With the words policy staff read for the decision's values (approved → 批准 approved), as the CLI prints them.
    return JSON({**catalogue_data(service.live.policy), "words": WORDS})


async def examples(service: Service, request: Request) -> Response:
    titles = example_titles()
    return JSON([{"name": path.stem, "file": path.name, **titles.get(path.stem, {})} for path in example_orders()])


async def example(service: Service, request: Request) -> Response:
    name = request.path_params["name"]
    for path in example_orders():
        if path.stem == name:
            return Response(path.read_bytes(), media_type="application/json")
    raise BadRequest(404, "not_found", f"no example order named {name!r}")


async def healthz(service: Service, request: Request) -> Response:
    return JSON({"status": "ok"})


async def readyz(service: Service, request: Request) -> Response:
    if service.ready and service.log_ok():
        return JSON({"status": "ready", "policy": service.live.policy.digest})
    if service.ready and service.log is not None:
        message = f"the decision log cannot be written: {service.log.last_error}"
        if service.config.log_fail_open:  # decisions are still answered (--log-fail-open), and counted as unrecorded
            return JSON({"status": "ready", "policy": service.live.policy.digest, "decision_log": "failing", "message": message})
        body = {"error": "decision_log", "message": message, "status": "not_ready", "decision_log": "failing"}
        return JSON({**body, "request_id": request.state.request_id}, status_code=503)
    message = "no policy served yet, or shutting down"
    return JSON({"error": "not_ready", "message": message, "status": "not_ready", "request_id": request.state.request_id}, status_code=503)


async def metrics(service: Service, request: Request) -> Response:
    return Response(service.metrics.exposition(), media_type=prometheus_client.CONTENT_TYPE_LATEST)


async def openapi(service: Service, request: Request) -> Response:
    scopes = SCOPE_OF if service.config.editing else {key: scope for key, scope in SCOPE_OF.items() if key not in EDITING_KEYS}
    return Response(openapi_bytes(scopes, service.tokens is not None, service.live.policy), media_type="application/json")


PLAYGROUND_CSP = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'"
"""The page loads only its own files and talks only to this service: no inline script or style, nothing external."""


async def playground(service: Service, request: Request) -> Response:
    return FileResponse(
        PLAYGROUND / "index.html",
        media_type="text/html; charset=utf-8",
        headers={"content-security-policy": PLAYGROUND_CSP, "x-content-type-options": "nosniff", "referrer-policy": "no-referrer"},
    )


def _workbench(route: WorkbenchRoute) -> Operation:
    """A workbench route (service/workbench.py) as an operation: its envelope read and checked here, as every route's is."""

    async def handler(service: Service, request: Request) -> Response:
        body = await _body(request, service.config.max_batch_bytes, service.config.request_seconds)
        envelope = _envelope(body, request, service.config.limits, route.keys, route.required)
        _money_parameters(service.live.policy, envelope.get("parameters", {}))
        try:
            return await route.handler(service, envelope)
        except RequestRefused as exc:
            raise BadRequest(exc.status, exc.kind, exc.message, **exc.extra) from None

    return Operation(route.method, route.path, handler, route.scope, body=True)


def _editing(route: EditingRoute) -> Operation:
    """An editing route (service/editing.py): admin scope; a POST's envelope read and checked here, a GET's query."""

    async def handler(service: Service, request: Request) -> Response:
        if route.method == "GET":
            envelope: dict[str, Any] = dict(request.query_params)
        else:
            body = await _body(request, service.config.max_batch_bytes, service.config.request_seconds)
            envelope = _envelope(body, request, service.config.limits, route.keys, route.required)
        try:
            return await route.handler(service, envelope, _caller(request) or "anonymous")
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
    Operation("POST", "/v1/orders/read", read_order, "decide", body=True),
    Operation("POST", "/v1/cases", case_file, "decide", body=True),
    Operation("GET", "/v1/policy", policy_status, "read"),
    Operation("GET", "/v1/policy/catalogue", policy_catalogue, "read"),
    Operation("GET", "/v1/examples", examples, "read"),
    Operation("GET", "/v1/examples/{name}", example, "read"),
    Operation("GET", "/metrics", metrics, "read"),
    Operation("POST", "/v1/policy/reload", reload_policy, "admin"),
    Operation("GET", "/healthz", healthz, None),
    Operation("GET", "/readyz", readyz, None),
    Operation("GET", "/openapi.json", openapi, None),
    Operation("GET", "/", playground, None, query=frozenset({"example"})),  # /?example=NAME opens that example
    *(_workbench(route) for route in WORKBENCH_ROUTES),
    *(_editing(route) for route in EDITING_ROUTES),
)
SCOPE_OF = {(op.method, op.path): op.scope for op in OPERATIONS}
EDITING_KEYS = frozenset((route.method, route.path) for route in EDITING_ROUTES)
"""The editing routes: in /openapi.json only when the service offers them (--editing); otherwise they answer 404."""
"""Which token scope each route needs (None: public): what the service enforces and /openapi.json declares."""


def create_app(config: ServerConfig | None = None) -> Starlette:
    """The ASGI application (loads the policy and the token file now: raises PolicyError / ConfigError if one is bad)."""
    service = Service(config or ServerConfig())
    routes: list[Route | Mount] = [Route(op.path, _endpoint(service, op.handler), methods=[op.method]) for op in OPERATIONS]
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
    app = Starlette(routes=routes, middleware=middleware, lifespan=service.lifespan)
    app.state.service = service
    return app


def _app_from_environment() -> Starlette:
    """uvicorn's factory in each worker process of a multi-worker server; the CLI passes the config by environment."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    config = ServerConfig.from_json(os.environ["RULEENGINE_SERVER_CONFIG"])
    try:
        return create_app(config)
    except (PolicyError, ConfigError) as exc:
        # A replacement worker (SIGHUP to the parent) that cannot load the policy: uvicorn keeps the old one.
        what = "the policy does not load" if isinstance(exc, PolicyError) else "its configuration is unusable"
        LOG.error("worker %d not started, %s:\n%s", os.getpid(), what, exc)
        raise SystemExit(2) from None
    except DecisionLogError as exc:
        LOG.error("worker %d not started: %s", os.getpid(), exc)
        raise SystemExit(2) from None


def serve(config: ServerConfig) -> None:
    """Run the service until SIGINT/SIGTERM (drain, close the decision log, exit).

    Raises PolicyError when the policy does not load or its cases fail, ConfigError for an unusable
    option, DecisionLogError when the decision log cannot be kept.
    """
    import uvicorn

    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)

    options: dict[str, Any] = {
        "host": config.host,
        "port": config.port,
        "timeout_graceful_shutdown": config.drain_seconds,
        "access_log": config.access_log,
        "log_level": "info",
        "lifespan": "on",
        "server_header": False,
    }
    if config.ssl_certfile is not None:
        options["ssl_certfile"] = str(config.ssl_certfile)
        options["ssl_keyfile"] = str(config.ssl_keyfile) if config.ssl_keyfile is not None else None
    if config.workers > 1:
        # Metrics from every worker, summed by /metrics in whichever worker answers.
        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="ruleengine-metrics-"))
        os.environ["RULEENGINE_SERVER_CONFIG"] = config.to_json()
        # Check the policy (and its cases), the tokens and the log's folder once before starting workers: a bad one exits here.
        create_app(dataclasses.replace(config, decision_log=None))
        if config.decision_log is not None:
            check_writable(config.decision_log)
        uvicorn.run("ruleengine.service.app:_app_from_environment", factory=True, workers=config.workers, **options)
    else:
        uvicorn.run(create_app(config), **options)
