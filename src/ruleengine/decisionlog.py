"""The decision log: one JSON line per decision, written off the request path, rotated by size.

A service must be able to say later which policy decided an order and on
what facts. Each record carries the time, the request id, the order id, the
policy digest, a SHA-256 of the canonical facts (the facts themselves only
when asked for, with buyer ids masked) and the decision.

Records are queued by the request and written by one thread
(``logging.handlers.QueueListener`` over a ``RotatingFileHandler``), so a
slow disk never slows a decision; ``close`` drains the queue, so every
accepted decision reaches the file on a graceful shutdown.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import logging.handlers
import queue
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .decision import dumps

__all__ = ["DecisionLog", "facts_digest", "mask_facts"]


def facts_digest(facts: Any) -> str:
    """A hash of the facts that does not depend on key order, spacing or number spelling (``1.0`` vs ``1.00`` aside)."""
    return "sha256:" + hashlib.sha256(dumps(facts).encode()).hexdigest()


def mask_id(value: Any) -> Any:
    """Keep the last four characters, enough to tell two buyers apart in a support ticket, not to find one."""
    if not isinstance(value, str):
        return value
    return "*" * max(len(value) - 4, 4) + value[-4:] if len(value) > 4 else "****"


def mask_facts(facts: Any) -> Any:
    """A copy of the facts with the buyer's id masked; the rest is what the rules read."""
    if not isinstance(facts, dict) or not isinstance(facts.get("buyer"), dict):
        return facts
    return {**facts, "buyer": {**facts["buyer"], "id": mask_id(facts["buyer"].get("id"))}}


@dataclass
class DecisionLog:
    """Writes decision records to ``path``; rotation keeps ``backups`` older files of at most ``max_bytes``."""

    path: Path
    max_bytes: int = 64 << 20
    backups: int = 5
    include_facts: bool = False
    _queue: queue.SimpleQueue[logging.LogRecord] = field(init=False, repr=False)
    _listener: logging.handlers.QueueListener = field(init=False, repr=False)
    _handler: logging.handlers.RotatingFileHandler = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._queue = queue.SimpleQueue()
        self._handler = logging.handlers.RotatingFileHandler(
            self.path, maxBytes=self.max_bytes, backupCount=self.backups, encoding="utf-8", delay=True
        )
        self._handler.setFormatter(logging.Formatter("%(message)s"))
        self._listener = logging.handlers.QueueListener(self._queue, self._handler)
        self._listener.start()

    def record(
        self,
        *,
        request_id: str,
        facts: Any,
        decision: dict[str, Any] | None,
        policy_digest: str,
        error: dict[str, Any] | None = None,
        caller: str | None = None,
    ) -> None:
        """Queue one record; called on the request path, so it only serialises and enqueues.

        ``caller``: the name of the client's token when the service authenticates (never the token).
        """
        entry: dict[str, Any] = {
            "time": dt.datetime.now(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z"),
            "request_id": request_id,
            "order_id": facts.get("order_id") if isinstance(facts, dict) else None,
            "policy": policy_digest,
            "facts_sha256": facts_digest(facts),
        }
        if caller is not None:
            entry["caller"] = caller
        if self.include_facts:
            entry["facts"] = mask_facts(facts)
        if decision is not None:
            entry["decision"] = decision
        if error is not None:
            entry["error"] = error
        line = dumps(entry)
        self._queue.put(logging.LogRecord("ruleengine.decisions", logging.INFO, "", 0, line, None, None))

    def close(self) -> None:
        """Write everything queued, then close the file."""
        self._listener.stop()
        self._handler.close()
