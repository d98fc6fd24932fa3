"""The routes about the service itself: the policy served, its reload and catalogue, the example orders, health, metrics, the contract."""

from __future__ import annotations

import dataclasses
import os
import secrets
import signal
from pathlib import Path

import prometheus_client
from starlette.requests import Request
from starlette.responses import Response

from ..authoring.catalogue import catalogue_data
from ..compile.policyfolder import in_folder
from .openapi import openapi_bytes
from .openapischemas import example_orders, example_titles
from .replies import JSON, BadRequest, json_bytes
from .shared import Service

__all__ = [
    "PLAYGROUND",
    "example",
    "examples",
    "healthz",
    "metrics",
    "openapi",
    "playground",
    "policy_catalogue",
    "policy_status",
    "readyz",
    "reload_policy",
]

PLAYGROUND = Path(__file__).parent.parent / "playground"


async def policy_status(service: Service, request: Request) -> Response:
    status = service.live.status()
    root = service.live.policy.root
    summaries = [status.get("cases") or {}]
    for key in ("last_reload", "last_reload_error"):
        reload = status.get(key) or {}
        error = reload.get("error")
        if error and "diagnostics" in error:
            error["diagnostics"] = [{**d, "file": in_folder(d["file"], root)} for d in error["diagnostics"]]
        summaries += [reload.get("cases") or {}, (error or {}).get("cases") or {}]
    for summary in summaries:  # the regression cases' files, like every other file, relative to the policy folder
        if summary.get("failures"):
            summary["failures"] = [{**f, "file": in_folder(f["file"], root)} for f in summary["failures"]]
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
        error["diagnostics"] = [{**d, "file": in_folder(d["file"], service.live.policy.root)} for d in error["diagnostics"]]
    error.setdefault("message", "the policy folder does not load; the served policy is unchanged")
    return JSON({**error, "request_id": request.state.request_id}, status_code=500 if error.get("error") == "internal" else 422)


async def policy_catalogue(service: Service, request: Request) -> Response:
    policy = service.live.policy
    payload = await service.work(lambda: json_bytes(catalogue_data(policy)))
    return Response(payload, media_type=JSON.media_type)


async def policy_vocabulary(service: Service, request: Request) -> Response:
    """The live policy's codes and their names (services, claim types, categories …), by set."""
    return JSON(service.live.policy.vocabulary.to_dict())


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
    request_id = request.state.request_id
    if service.draining and not service.replaced:  # SIGTERM: still answering, but a load balancer should send new requests elsewhere
        message = "draining: shutting down after the grace period; send new requests to another instance"
        return JSON({"error": "not_ready", "message": message, "status": "draining", "request_id": request_id}, status_code=503)
    if service.ready and service.log_ok():
        return JSON({"status": "ready", "policy": service.live.policy.digest})
    if service.ready and service.log is not None:
        message = f"the decision log cannot be written: {service.log.last_error}"
        if service.config.log_fail_open:  # decisions are still answered (--log-fail-open), and counted as unrecorded
            return JSON({"status": "ready", "policy": service.live.policy.digest, "decision_log": "failing", "message": message})
        body = {"error": "decision_log", "message": message, "status": "not_ready", "decision_log": "failing"}
        return JSON({**body, "request_id": request_id}, status_code=503)
    message = "no policy served yet, or shutting down"
    return JSON({"error": "not_ready", "message": message, "status": "not_ready", "request_id": request_id}, status_code=503)


async def metrics(service: Service, request: Request) -> Response:
    return Response(await service.work(service.metrics.exposition), media_type=prometheus_client.CONTENT_TYPE_LATEST)


async def openapi(service: Service, request: Request) -> Response:
    payload = await service.work(openapi_bytes, service.scopes, service.tokens is not None, service.live.policy)
    return Response(payload, media_type="application/json")


PLAYGROUND_CSP = (
    "default-src 'self'; style-src 'self' 'nonce-{nonce}'; style-src-attr 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'"
)
"""The page loads only its own files and talks only to this service: no inline script, nothing external. The rule
editor (CodeMirror) writes its style sheet into a ``<style>`` element with this answer's nonce (the page reads it from
``<meta name="style-nonce">``) and sets ``style`` attributes on its own elements; neither runs code, and the page
never writes markup from text."""

NONCE_SLOT = "{{style-nonce}}"


async def playground(service: Service, request: Request) -> Response:
    nonce = secrets.token_urlsafe(18)
    page = (PLAYGROUND / "index.html").read_text(encoding="utf-8").replace(NONCE_SLOT, nonce)
    return Response(
        page.encode("utf-8"),
        media_type="text/html; charset=utf-8",
        headers={
            "content-security-policy": PLAYGROUND_CSP.format(nonce=nonce),
            "x-content-type-options": "nosniff",
            "referrer-policy": "no-referrer",
            "cache-control": "no-store",
        },
    )
