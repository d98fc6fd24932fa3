"""What ``ruleengine serve`` is started with: one frozen value, passed to every worker process."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..limits import DEFAULT_LIMITS, Limits

__all__ = ["ServerConfig"]


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
    grace_seconds: float = 1.0
    """After SIGTERM: how long /readyz answers 503 while requests are still served (closing connections); then the listener closes."""
    worker_start_seconds: int = 30
    """With several workers: how long a new worker may take to load the policy and become ready before a restart is given up."""
    header_seconds: float = 10.0
    """How long a request's line and headers may take to arrive (slow clients get 408 and are disconnected)."""
    max_connections: int = 1000
    """Connections (and requests in progress) per worker; a request past it gets 503 at once."""
    threads: int = 1
    """Worker threads per process that parse, evaluate, explain and serialise (the event loop only does I/O).

    One by default: evaluation holds the GIL, so more threads only contend with each other and with the
    event loop (16 heavy explains: /healthz p99 36 ms with 1 thread, 160 ms with 2); --workers adds cores."""
    max_explain_bytes: int = 8 << 20
    """An explained answer (?explain=true, /v1/explanations) larger than this is refused with 422 explain_too_large."""
    access_log: bool = False
    allow_origins: tuple[str, ...] = ()
    """Web origins (``https://tools.example``) whose pages may call the API; every other cross-site request is refused."""
    auth_token_file: Path | None = None
    """Bearer tokens (their SHA-256, a name and scopes); None: no authentication."""
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    editing: bool = False
    """Offer the editing routes (/v1/editing/...): needs an admin token in ``auth_token_file`` and a policy folder."""
    publish_log: Path | None = None
    """Where editing's publishes and reverts are recorded (None: ``<folder>.publish-log.jsonl`` beside the folder)."""

    def __post_init__(self) -> None:
        from .security import ConfigError, web_origin

        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            raise ConfigError("--ssl-certfile and --ssl-keyfile go together")
        for origin in self.allow_origins:
            if web_origin(origin) != origin:
                raise ConfigError(
                    f"--allow-origin {origin!r}: give a web origin as a browser sends it, scheme://host[:port], e.g. https://tools.example"
                )

    def to_json(self) -> str:
        """For the worker processes of a multi-worker server, which uvicorn starts afresh."""
        return json.dumps(dataclasses.asdict(self), default=str)  # paths as text

    @classmethod
    def from_json(cls, text: str) -> ServerConfig:
        spec: dict[str, Any] = json.loads(text)
        for name in ("rules", "decision_log", "auth_token_file", "ssl_certfile", "ssl_keyfile", "publish_log"):
            if spec.get(name) is not None:
                spec[name] = Path(spec[name])
        spec["limits"] = Limits(**spec["limits"])
        spec["allow_origins"] = tuple(spec["allow_origins"])
        return cls(**spec)
