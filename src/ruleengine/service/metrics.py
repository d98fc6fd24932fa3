"""The service's Prometheus metrics; in a multi-worker server they are summed across worker processes."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from typing import Any

import prometheus_client
from prometheus_client import multiprocess

from ..runtime.policy import Policy

__all__ = ["UNMATCHED", "Metrics"]

UNMATCHED = "unmatched"
"""The route label of a request for a path the service does not have: one label, whatever the path (bounded cardinality)."""


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
