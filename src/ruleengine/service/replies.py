"""The service's answers: canonical JSON, and every error as a JSON body with its kind, message and request id.

Every response to bad input is a structured JSON error with a 4xx status — the facts'
problems with their JSON pointers, the rule that failed, the limit that was exceeded —
never a 500 or a traceback.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.types import Send

from ..compile.policyfolder import in_folder
from ..errors import RuleEngineError
from ..runtime.decision import dumps
from ..runtime.policy import Policy

__all__ = ["JSON", "STATUS_ERRORS", "BadRequest", "error_body", "json_bytes", "send_error"]


class BadRequest(Exception):
    """Ends a request with a structured client error: ``{"error": kind, "message": ..., **extra}``."""

    def __init__(self, status: int, kind: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": kind, "message": message, **extra}


class JSON(Response):
    """Canonical JSON (exact money, fixed key order): the bytes of ``Decision.to_json()`` for a decision."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return json_bytes(content)


def json_bytes(content: Any) -> bytes:
    """What :class:`JSON` sends, written where the caller chooses (in the worker pool for a large answer)."""
    return dumps(content).encode("utf-8")




def error_body(exc: RuleEngineError, policy: Policy) -> dict[str, Any]:
    """An engine error as the service answers it: with a message, and files relative to the policy folder."""
    body = exc.to_dict()
    body["message"] = body.get("message") or str(exc)
    if "file" in body:
        body["file"] = in_folder(body["file"], policy.root)
    if "diagnostics" in body:
        body["diagnostics"] = [{**d, "file": in_folder(d["file"], policy.root)} for d in body["diagnostics"]]
    return body


STATUS_ERRORS = {400: "request", 401: "unauthorized", 403: "cross_site", 404: "not_found", 405: "method_not_allowed"}
STATUS_ERRORS |= {408: "timeout", 413: "too_large", 415: "unsupported_media_type", 503: "not_ready"}
"""The error kind of a status that Starlette answered on its own (a static file not found)."""


async def send_error(send: Send, status: int, kind: str, message: str, request_id: str, headers: list[tuple[bytes, bytes]]) -> None:
    body = dumps({"error": kind, "message": message, "request_id": request_id}).encode("utf-8")
    raw = [
        *headers,
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-request-id", request_id.encode("latin-1")),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
