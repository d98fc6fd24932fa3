"""The decision service: the engine over HTTP (Starlette on uvicorn), the way services call OPA.

Every response to bad input is a structured JSON error with a 4xx status —
the facts' problems with their JSON pointers, the rule that failed, the limit
that was exceeded — never a 500 or a traceback. The policy is replaced only by
a reload that loaded completely and passes its own cases (:mod:`ruleengine.livepolicy`);
a decision is answered only once its record is in the decision log, when one
is kept (:mod:`ruleengine.decisionlog`).

Install with ``pip install 'ruleengine[server]'``; start with ``ruleengine serve``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import signal
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import anyio
import prometheus_client
from prometheus_client import multiprocess
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .bundled import bundled_path
from .cases import case_file_text
from .catalogue import catalogue_data
from .decision import Decision, dumps
from .decisionlog import DecisionLog, DecisionLogError, check_writable
from .errors import EvaluationError, FactsError, FactsProblem, PolicyError, RuleEngineError
from .facts import read_facts
from .impact import changes
from .limits import DEFAULT_LIMITS, Limits
from .livepolicy import LivePolicy, ReloadResult
from .openapi import openapi_document
from .policy import Policy
from .report import WORDS, explanation_data

__all__ = ["ServerConfig", "create_app", "serve"]

PLAYGROUND = Path(__file__).parent / "playground"
LOG_FORMAT = "%(levelname)s:     %(name)s: %(message)s"
"""uvicorn's own layout, so the service's lines read like the server's."""


@dataclass(frozen=True)
class ServerConfig:
    rules: Path | None = None
    """The policy folder (None: the bundled default policy, which is not watched)."""
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    decision_log: Path | None = None
    log_facts: bool = False
    """Also write the facts (buyer ids masked) into the decision log."""
    log_max_bytes: int = 64 << 20
    log_backups: int = 5
    log_fsync: bool = False
    """fdatasync each group of records before answering (survives a power cut; without it, a killed process)."""
    log_fail_open: bool = False
    """Answer decisions whose record could not be written (counted as unrecorded) instead of refusing them with 503."""
    watch: bool = True
    reload_quiet_seconds: float = 0.5
    """A reload waits until no file of the policy folder changed for this long."""
    serve_failing_cases: bool = False
    """Serve a policy whose own regression cases fail (an emergency; reported in /v1/policy, the log and the metrics)."""
    max_body_bytes: int = 1 << 20
    max_batch_items: int = 1000
    max_batch_bytes: int = 16 << 20
    request_seconds: float = 10.0
    """Deadline of one request; a batch item not started by then is answered with a ``deadline`` error."""
    limits: Limits = DEFAULT_LIMITS
    drain_seconds: float = 30.0
    """How long a SIGTERM waits for requests in flight before the decision log is closed."""
    access_log: bool = False


class BadRequest(Exception):
    """Ends a request with a structured client error."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body.get("message", ""))
        self.status = status
        self.body = body


@dataclass
class Metrics:
    """Prometheus metrics; in a multi-worker server they are aggregated across worker processes."""

    registry: prometheus_client.CollectorRegistry = field(default_factory=lambda: prometheus_client.CollectorRegistry(auto_describe=True))

    def __post_init__(self) -> None:
        r = self.registry
        self.requests = prometheus_client.Counter(
            "ruleengine_http_requests", "HTTP requests by route and status.", ["route", "method", "status"], registry=r
        )
        self.latency = prometheus_client.Histogram(
            "ruleengine_http_request_duration_seconds",
            "Time to answer a request, by route.",
            ["route"],
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0),
            registry=r,
        )
        self.decisions = prometheus_client.Counter(
            "ruleengine_decisions",
            "Decisions by guarantee and outcome (orders without a claim: guarantee 'none', outcome 'no_claim').",
            ["guarantee", "outcome"],
            registry=r,
        )
        self.errors = prometheus_client.Counter("ruleengine_decision_errors", "Orders not decided, by error kind.", ["error"], registry=r)
        self.reloads = prometheus_client.Counter(
            "ruleengine_policy_reloads", "Policy reloads by result (ok, failed) and trigger.", ["result", "trigger"], registry=r
        )
        self.policy_info = prometheus_client.Gauge(
            "ruleengine_policy_info",
            "The policy being served (value 1).",
            ["name", "version", "digest"],
            registry=r,
            multiprocess_mode="liveall",
        )
        self.reload_failed = prometheus_client.Gauge(
            "ruleengine_policy_last_reload_failed",
            "1 while the last reload failed (the previous policy is still serving).",
            registry=r,
            multiprocess_mode="liveall",
        )
        self.failing_cases = prometheus_client.Gauge(
            "ruleengine_policy_failing_cases",
            "Regression cases that failed in the last policy checked (a start or a reload).",
            registry=r,
            multiprocess_mode="liveall",
        )
        self.serving_failing_cases = prometheus_client.Gauge(
            "ruleengine_policy_serving_failing_cases",
            "1 while the policy being served fails some of its own cases (--serve-failing-cases).",
            registry=r,
            multiprocess_mode="liveall",
        )
        self.log_records = prometheus_client.Counter(
            "ruleengine_decision_log_records", "Decision records written to the decision log.", registry=r
        )
        self.log_writes = prometheus_client.Counter(
            "ruleengine_decision_log_writes", "Writes to the decision log (each a group of records).", registry=r
        )
        self.log_errors = prometheus_client.Counter(
            "ruleengine_decision_log_write_errors", "Writes to the decision log that failed (their records were not kept).", registry=r
        )
        self.log_unrecorded = prometheus_client.Counter(
            "ruleengine_decision_log_unrecorded_decisions",
            "Decisions whose record could not be written: refused with 503, or answered anyway (--log-fail-open).",
            ["answered"],
            registry=r,
        )
        self.log_healthy = prometheus_client.Gauge(
            "ruleengine_decision_log_healthy",
            "1 while the decision log can be written (0 after a failed write, until one succeeds).",
            registry=r,
            multiprocess_mode="liveall",
        )

    def serving(self, old: Policy | None, new: Policy) -> None:
        if old is not None:
            with contextlib.suppress(KeyError):
                self.policy_info.remove(old.name, old.version, old.digest)
        self.policy_info.labels(new.name, new.version, new.digest).set(1)

    def decided(self, decision: dict[str, Any], guarantee_of: dict[str, str]) -> None:
        claim = decision.get("claim")
        if claim is None:
            self.decisions.labels("none", "no_claim").inc()
            return
        owner = next((guarantee_of[r["rule"]] for r in claim["reasons"] if guarantee_of.get(r["rule"], "claims") != "claims"), "claims")
        self.decisions.labels(owner, claim["outcome"]).inc()

    def exposition(self) -> bytes:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = prometheus_client.CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return prometheus_client.generate_latest(registry)
        return prometheus_client.generate_latest(self.registry)


class Service:
    """What the routes share: the live policy, the metrics, the decision log, the limits."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
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
            logging.getLogger("ruleengine.server").warning(
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
    def evaluate(self, policy: Policy, facts: Any, request_id: str, explain: bool, as_text: bool = False) -> Decided:
        """Decide one order (already parsed): the decision or its FactsError / EvaluationError, and its log record.

        ``as_text``: also write the decision as canonical JSON, once, for the answer and the record.
        """
        try:
            decision = policy.evaluate(facts, explain=explain)
        except (FactsError, EvaluationError) as exc:
            self.metrics.errors.labels(exc.to_dict()["error"]).inc()
            line = None
            if self.log is not None:
                line = self.log.entry(request_id=request_id, facts=facts, decision=None, policy_digest=policy.digest, error=exc.to_dict())
            return Decided(exc, None, line)
        data = decision.data
        self.metrics.decided(data, self._guarantees)
        text = dumps(data) if as_text else None
        if self.log is not None:
            line = self.log.entry(request_id=request_id, facts=facts, decision=data, policy_digest=policy.digest, decision_json=text)
            return Decided(data, text, line)
        return Decided(data, text, None)

    async def decide(self, policy: Policy, facts: Any, request_id: str, explain: bool) -> dict[str, Any]:
        """Decide one order and wait for its record; raises FactsError / EvaluationError (also recorded)."""
        decided = await self._decided(self.evaluate(policy, facts, request_id, explain))
        assert isinstance(decided.outcome, dict)
        return decided.outcome

    async def decide_text(self, policy: Policy, facts: Any, request_id: str, explain: bool) -> str:
        """:meth:`decide`, the decision as its canonical JSON."""
        decided = await self._decided(self.evaluate(policy, facts, request_id, explain, as_text=True))
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
            raise BadRequest(503, {"error": "decision_log", "message": message}) from None

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
    log = logging.getLogger("ruleengine.server")
    if result.ok:
        log.info("policy reload (%s): %s %s", result.trigger, "loaded" if result.changed else "unchanged", result.digest)
    else:
        message = (result.error or {}).get("message", "")
        log.error("policy reload (%s) failed; still serving %s:\n%s", result.trigger, result.digest, message)


# -- request helpers


async def _body(request: Request, limit: int, seconds: float) -> bytes:
    """The request body, refused past ``limit`` bytes (413) or when it trickles in slower than ``seconds`` (408)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BadRequest(413, {"error": "too_large", "message": f"request body of {declared} bytes; the limit is {limit}", "limit": limit})
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(seconds):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    message = f"request body larger than the limit of {limit} bytes"
                    raise BadRequest(413, {"error": "too_large", "message": message, "limit": limit})
                chunks.append(chunk)
    except TimeoutError:
        raise BadRequest(408, {"error": "timeout", "message": f"the request body did not arrive within {seconds} s"}) from None
    return b"".join(chunks)


def _flag(request: Request, name: str) -> bool:
    value = request.query_params.get(name)
    if value is None or value.lower() in ("0", "false", "no"):
        return False
    if value.lower() in ("", "1", "true", "yes"):
        return True
    raise BadRequest(400, {"error": "query", "message": f"?{name}= must be true or false, not {value!r}"})


def _read_order(body: bytes, policy: Policy) -> Any:
    if not body.strip():
        raise FactsError([FactsProblem("", "the request body is empty: send an order as JSON (or YAML)", "empty")])
    return read_facts(body, "request", policy)


def _read_json_object(body: bytes, limits: Limits) -> dict[str, Any]:
    data = read_facts(body, "request", limits=limits)
    if not isinstance(data, dict):
        raise FactsError([FactsProblem("", "the request body must be a JSON object", "type")])
    return data


class JSON(Response):
    """Canonical JSON (exact money, fixed key order), the same bytes the CLI writes."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content).encode("utf-8")


Handler = Callable[[Service, Request], Awaitable[Response]]


def _endpoint(service: Service, route: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Request id, metrics and the error contract around one route."""

    async def endpoint(request: Request) -> Response:
        started = time.perf_counter()
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        request.state.request_id = request_id[:128]
        try:
            response = await handler(service, request)
        except BadRequest as exc:
            response = JSON(exc.body, status_code=exc.status)
        except FactsError as exc:
            response = JSON(exc.to_dict(), status_code=400)
        except PolicyError as exc:  # a what-if with a bad parameter value
            response = JSON({**exc.to_dict(), "message": str(exc)}, status_code=400)
        except EvaluationError as exc:
            response = JSON(exc.to_dict(), status_code=422)
        except RuleEngineError as exc:
            response = JSON(exc.to_dict(), status_code=400)
        except Exception as exc:  # a bug of ours, never of the input: no traceback to the client
            logging.getLogger("ruleengine.server").exception("internal error on %s", route)
            response = JSON({"error": "internal", "message": f"internal error ({type(exc).__name__}); see the server log"}, status_code=500)
        response.headers["x-request-id"] = request.state.request_id
        service.metrics.requests.labels(route, request.method, str(response.status_code)).inc()
        service.metrics.latency.labels(route).observe(time.perf_counter() - started)
        return response

    return endpoint


# -- routes


async def decisions(service: Service, request: Request) -> Response:
    policy = service.live.policy  # taken once: a reload during this request does not change it
    explain = _flag(request, "explain")
    body = await _body(request, service.config.max_body_bytes, service.config.request_seconds)
    facts = _read_order(body, policy)
    return Response(await service.decide_text(policy, facts, request.state.request_id, explain), media_type=JSON.media_type)


async def explanations(service: Service, request: Request) -> Response:
    """The decision with its trace and the explanation by guarantee (what ``ruleengine explain`` prints, as data)."""
    policy = service.live.policy
    body = await _body(request, service.config.max_body_bytes, service.config.request_seconds)
    facts = _read_order(body, policy)
    decision = await service.decide(policy, facts, request.state.request_id, True)
    return JSON({"decision": decision, "explanation": explanation_data(decision["trace"], policy)})


async def read_order(service: Service, request: Request) -> Response:
    """An order document (JSON or YAML text) read and returned as JSON, not yet checked against the schema.

    The playground's paste: what it sends to the other routes is then plain JSON; the
    schema's problems come from deciding it, each at its pointer.
    """
    policy = service.live.policy
    body = await _body(request, service.config.max_body_bytes, service.config.request_seconds)
    return JSON(_read_order(body, policy))


async def batch(service: Service, request: Request) -> Response:
    policy = service.live.policy
    explain = _flag(request, "explain")
    config = service.config
    body = await _body(request, config.max_batch_bytes, config.request_seconds)
    # The list is one document: as large as its orders together, one level deeper than one of them.
    limits = dataclasses.replace(
        config.limits, max_file_bytes=config.max_batch_bytes, max_nodes=config.limits.max_nodes * 16, max_depth=config.limits.max_depth + 1
    )
    items = read_facts(body, "request", limits=limits) if body.strip() else None
    if not isinstance(items, list):
        raise BadRequest(400, {"error": "type", "message": "the request body must be a JSON array of orders"})
    if len(items) > service.config.max_batch_items:
        raise BadRequest(
            413,
            {
                "error": "too_large",
                "message": f"{len(items)} orders; at most {service.config.max_batch_items} per batch",
                "limit": service.config.max_batch_items,
            },
        )
    deadline = time.monotonic() + service.config.request_seconds
    request_id = request.state.request_id

    def run() -> tuple[list[dict[str, Any]], list[bytes]]:
        out: list[dict[str, Any]] = []
        lines: list[bytes] = []
        for index, facts in enumerate(items):
            if time.monotonic() > deadline:
                out.append(
                    {
                        "index": index,
                        "error": {"error": "deadline", "message": f"not decided within the request's {service.config.request_seconds} s"},
                    }
                )
                continue
            outcome, _, line = service.evaluate(policy, facts, f"{request_id}/{index}", explain)
            if line is not None:
                lines.append(line)
            out.append(
                {"index": index, "error": outcome.to_dict()}
                if isinstance(outcome, RuleEngineError)
                else {"index": index, "decision": outcome}
            )
        return out, lines

    out, lines = await anyio.to_thread.run_sync(run)
    await service.recorded(lines)  # the batch's records are written together, before it is answered
    return JSON(out)


async def what_if(service: Service, request: Request) -> Response:
    """The order decided by the running policy and by the same policy with some parameters changed."""
    explain = _flag(request, "explain")
    body = _read_json_object(await _body(request, service.config.max_body_bytes, service.config.request_seconds), service.config.limits)
    unknown = sorted(set(body) - {"order", "parameters"})
    if unknown or "order" not in body:
        raise BadRequest(
            400,
            {
                "error": "type",
                "message": 'send {"order": {...}, "parameters": {"name": value}}' + (f"; unknown {unknown}" if unknown else ""),
            },
        )
    parameters = body.get("parameters", {})
    if not isinstance(parameters, dict):
        raise BadRequest(400, {"error": "type", "message": "'parameters' must be an object of parameter values by name"})
    current, changed = await anyio.to_thread.run_sync(service.live.with_parameters, parameters)
    request_id = request.state.request_id
    before = Decision(await service.decide(current, body["order"], request_id, explain)).to_dict()
    after = changed.evaluate(body["order"], explain=explain).to_dict()
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


async def policy_status(service: Service, request: Request) -> Response:
    return JSON(service.live.status())


async def policy_catalogue(service: Service, request: Request) -> Response:
    # With the words policy staff read for the decision's values (approved → 批准 approved), as the CLI prints them.
    return JSON({**catalogue_data(service.live.policy), "words": WORDS})


async def examples(service: Service, request: Request) -> Response:
    return JSON([{"name": path.stem, "file": path.name} for path in _example_files()])


async def example(service: Service, request: Request) -> Response:
    name = request.path_params["name"]
    for path in _example_files():
        if path.stem == name:
            return Response(path.read_bytes(), media_type="application/json")
    raise BadRequest(404, {"error": "not_found", "message": f"no example order named {name!r}"})


async def case_file(service: Service, request: Request) -> Response:
    """A regression case file for an order and what the running policy decides for it (ready to commit)."""
    body = _read_json_object(await _body(request, service.config.max_body_bytes, service.config.request_seconds), service.config.limits)
    if "order" not in body or not isinstance(body.get("name", ""), str):
        raise BadRequest(400, {"error": "type", "message": 'send {"order": {...}, "name": "what the case shows"}'})
    policy = service.live.policy
    parameters = body.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise BadRequest(400, {"error": "type", "message": "'parameters' must be an object of parameter values by name"})
    if parameters:
        policy = (await anyio.to_thread.run_sync(service.live.with_parameters, parameters))[1]
    decision = policy.evaluate(body["order"]).to_dict()
    text = case_file_text(body.get("name") or f"order {decision['order_id']}", body["order"], decision, parameters)
    filename = f"{decision['order_id']}.cases.yaml"
    return Response(
        text.encode("utf-8"),
        media_type="application/yaml; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )


async def healthz(service: Service, request: Request) -> Response:
    return JSON({"status": "ok"})


async def readyz(service: Service, request: Request) -> Response:
    if not service.ready:
        return JSON({"status": "not_ready"}, status_code=503)
    if not service.log_ok():
        body = {
            "status": "ready" if service.config.log_fail_open else "not_ready",
            "decision_log": "failing",
            "message": service.log.last_error if service.log else None,
        }
        return JSON(body, status_code=200 if service.config.log_fail_open else 503)
    return JSON({"status": "ready", "policy": service.live.policy.digest})


async def metrics(service: Service, request: Request) -> Response:
    return Response(service.metrics.exposition(), media_type=prometheus_client.CONTENT_TYPE_LATEST)


async def openapi(service: Service, request: Request) -> Response:
    return JSON(openapi_document())


PLAYGROUND_CSP = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'"
"""The page loads only its own files and talks only to this service: no inline script or style, nothing external."""


async def playground(service: Service, request: Request) -> Response:
    return FileResponse(
        PLAYGROUND / "index.html",
        media_type="text/html; charset=utf-8",
        headers={"content-security-policy": PLAYGROUND_CSP, "x-content-type-options": "nosniff", "referrer-policy": "no-referrer"},
    )


def _example_files() -> list[Path]:
    return sorted(bundled_path("examples/orders").glob("*.json"))


def create_app(config: ServerConfig | None = None) -> Starlette:
    """The ASGI application (loads the policy now: raises PolicyError if it is bad)."""
    service = Service(config or ServerConfig())
    table: list[tuple[str, str, Handler]] = [
        ("/v1/decisions", "POST", decisions),
        ("/v1/decisions/batch", "POST", batch),
        ("/v1/decisions/what-if", "POST", what_if),
        ("/v1/explanations", "POST", explanations),
        ("/v1/orders/read", "POST", read_order),
        ("/v1/policy", "GET", policy_status),
        ("/v1/policy/catalogue", "GET", policy_catalogue),
        ("/v1/examples", "GET", examples),
        ("/v1/examples/{name}", "GET", example),
        ("/v1/cases", "POST", case_file),
        ("/healthz", "GET", healthz),
        ("/readyz", "GET", readyz),
        ("/metrics", "GET", metrics),
        ("/openapi.json", "GET", openapi),
        ("/", "GET", playground),
    ]
    routes: list[Route | Mount] = [Route(path, _endpoint(service, path, handler), methods=[method]) for path, method, handler in table]
    routes.append(Mount("/static", StaticFiles(directory=PLAYGROUND / "static", check_dir=False), name="static"))
    app = Starlette(routes=routes, lifespan=service.lifespan)
    app.state.service = service
    return app


def _app_from_environment() -> Starlette:
    """uvicorn's factory in each worker process of a multi-worker server; the CLI passes the config by environment."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    spec = json.loads(os.environ["RULEENGINE_SERVER_CONFIG"])
    try:
        return create_app(_config_from_json(spec))
    except PolicyError as exc:
        # A replacement worker (SIGHUP to the parent) that cannot load the policy: uvicorn keeps the old one.
        logging.getLogger("ruleengine.server").error("worker %d not started, the policy does not load:\n%s", os.getpid(), exc)
        raise SystemExit(2) from None
    except DecisionLogError as exc:
        logging.getLogger("ruleengine.server").error("worker %d not started: %s", os.getpid(), exc)
        raise SystemExit(2) from None


def _config_from_json(spec: dict[str, Any]) -> ServerConfig:
    spec = dict(spec)
    for name in ("rules", "decision_log"):
        if spec.get(name) is not None:
            spec[name] = Path(spec[name])
    spec["limits"] = Limits(**spec["limits"])
    return ServerConfig(**spec)


def serve(config: ServerConfig) -> None:
    """Run the service until SIGINT/SIGTERM (drain, close the decision log, exit).

    Raises PolicyError when the policy does not load or its cases fail, DecisionLogError when the log cannot be kept.
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
    if config.workers > 1:
        # Metrics from every worker, summed by /metrics in whichever worker answers.
        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="ruleengine-metrics-"))
        os.environ["RULEENGINE_SERVER_CONFIG"] = json.dumps(dataclasses.asdict(config), default=str)  # paths as text
        # Check the policy (and its cases) and the log's folder once before starting workers: a bad one exits here.
        LivePolicy(config.rules, config.limits, serve_failing_cases=config.serve_failing_cases)
        if config.decision_log is not None:
            check_writable(config.decision_log)
        uvicorn.run("ruleengine.server:_app_from_environment", factory=True, workers=config.workers, **options)
    else:
        uvicorn.run(create_app(config), **options)
