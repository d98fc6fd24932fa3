"""What the routes share (:class:`Service`): the live policy, the metrics, the decision log, the worker pool.

The policy is replaced only by a reload that loaded completely and passes its own cases
(:mod:`.livepolicy`); a decision is answered only once its record is in the decision log,
when one is kept (:mod:`.decisionlog`). Evaluation, explanation and serialisation run in
a bounded pool of threads (:meth:`Service.work`): the event loop only reads and writes
sockets, so ``/healthz`` answers while heavy requests are decided.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import anyio
import anyio.to_thread

from ..errors import EvaluationError, FactsError, RuleEngineError
from ..runtime.decision import dumps
from ..runtime.policy import Policy
from .config import ServerConfig
from .decisionlog import DecisionLog, DecisionLogError
from .editing import check_editing_config, publish_log_stamp
from .livepolicy import LivePolicy, ReloadResult
from .metrics import Metrics
from .replies import BadRequest, error_body
from .security import Tokens

__all__ = ["LOG", "SWITCH_SECONDS", "Decided", "Service"]

LOG = logging.getLogger("ruleengine.server")
SWITCH_SECONDS = 0.001
"""How often a thread deciding an order hands the interpreter over in a server process (Python's default is
5 ms): the event loop waits about this long per turn, so /healthz and small requests answer beside heavy ones."""
T = TypeVar("T")


class Service:
    """What the routes share: the live policy, the metrics, the decision log, the limits, the worker pool."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.tokens = Tokens.load(config.auth_token_file) if config.auth_token_file is not None else None
        check_editing_config(config, self.tokens)
        self.publishes_seen = publish_log_stamp(config)
        """The publish log as it was before the policy was loaded (editing): a later change means a newer policy."""
        self.allowed_origins = frozenset(config.allow_origins)
        self.metrics = Metrics()
        self.pool = anyio.CapacityLimiter(config.threads)
        """The threads that evaluate, explain and serialise: bounded, so a burst queues instead of starving the loop."""
        self.scopes: Mapping[tuple[str, str], str | None] = {}
        """Which token scope each route needs (set by create_app): what /openapi.json declares."""
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
        self.guarantees = guarantee_of(self.live.policy)
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
        self.draining = False
        """Set by SIGTERM: /readyz answers 503 and every response closes its connection, for the grace period."""
        self.replaced = False
        """Draining because a new worker replaces this one (SIGHUP to the parent): /readyz stays 200."""

    async def work(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` in the worker pool (CPU work: parsing, evaluating, explaining, serialising)."""
        return await anyio.to_thread.run_sync(function, *args, limiter=self.pool)

    # -- policy and log events
    def _reloaded(self, result: ReloadResult) -> None:
        self.metrics.reloads.labels("ok" if result.ok else "failed", result.trigger).inc()
        self.metrics.reload_failed.set(0 if result.ok else 1)
        if result.cases is not None:
            self._cases_checked(result.cases["failed"], self.live.cases.failed > 0)
        if result.ok and result.changed:
            self.guarantees = guarantee_of(self.live.policy)
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

        CPU work: call it in the pool (:meth:`work`). ``caller``: the token's name, for the log.
        ``as_text``: also write the decision as canonical JSON, once, for the answer and the
        record. ``received``: the request body the order was read from (its hash is the
        record's ``facts_sha256``).
        """
        try:
            data = policy.evaluate(facts, explain=explain).data  # read here: the reasons' texts are written now
        except (FactsError, EvaluationError) as exc:
            self.metrics.errors.labels(exc.to_dict()["error"]).inc()
            line = None
            if self.log is not None:
                line = self.log.entry(
                    request_id=request_id,
                    facts=facts,
                    decision=None,
                    policy_digest=policy.digest,
                    error=error_body(exc, policy),
                    caller=caller,
                    received=received,
                )
            return Decided(exc, None, line)
        self.metrics.decided(data, self.guarantees)
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

    async def answer(self, decided: Decided) -> Decided:
        """Wait for the decision's record; then raise its FactsError / EvaluationError, or give it back."""
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

    def explain_bound(self, size: int) -> None:
        """Refuse an explained answer past --max-explain-bytes (before its decision is recorded or answered)."""
        limit = self.config.max_explain_bytes
        if size > limit:
            message = (
                f"解释过大 the explained answer would be {size} bytes; the limit is {limit} (--max-explain-bytes): "
                "ask without explain, or for fewer orders at a time"
            )
            raise BadRequest(422, "explain_too_large", message, limit=limit, size=size)


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


def guarantee_of(policy: Policy) -> dict[str, str]:
    return {rule.id: rule.guarantee or "claims" for rule in policy.rules}


def _log_reload(result: ReloadResult) -> None:
    if result.ok:
        LOG.info("policy reload (%s): %s %s", result.trigger, "loaded" if result.changed else "unchanged", result.digest)
    else:
        message = (result.error or {}).get("message", "")
        LOG.error("policy reload (%s) failed; still serving %s:\n%s", result.trigger, result.digest, message)
