"""Running the service: uvicorn with the service's limits, and with several workers a supervisor that replaces them safely.

uvicorn does most of it: ``timeout_keep_alive``, ``limit_concurrency`` (the connection
cap), ``timeout_graceful_shutdown`` (the drain) and, with ``--workers N``, a parent process
that binds the socket once, shares it with its workers and on SIGHUP starts each new
worker, waits until it is ready (``timeout_worker_healthcheck``: the start timeout), and
only then stops the old one. What it lacks is here: the head deadline
(:mod:`.connections`), the grace period (:mod:`.lifecycle`), telling the workers who their
parent is so they stop when it dies and whether they are being replaced (then the old one's
/readyz stays 200 while it drains: the new one is serving), forgetting the metrics of workers
that have stopped, saying when a restart is complete, and removing its temporary folder
(the metrics) on exit.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from prometheus_client import multiprocess
from uvicorn.config import STARTUP_FAILURE
from uvicorn.server import Server
from uvicorn.supervisors.multiprocess import Multiprocess

from .app import LOG_FORMAT, create_app
from .config import ServerConfig
from .connections import ServiceConfig, TimedHeadProtocol
from .decisionlog import check_writable
from .lifecycle import REPLACING, SUPERVISOR_PID
from .shared import LOG, SWITCH_SECONDS

__all__ = ["Supervisor", "serve"]

METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR"


class Supervisor(Multiprocess):
    """uvicorn's worker supervisor, which also forgets stopped workers' metrics and says how a restart ended."""

    def restart_all(self) -> None:
        before = {process.pid for process in self.processes}
        replacing = Path(os.environ[REPLACING])
        replacing.touch()  # an old worker stopped now is being replaced: /readyz stays 200 while it drains
        try:
            super().restart_all()
        finally:
            replacing.unlink(missing_ok=True)
        replaced = sum(1 for process in self.processes if process.pid not in before)
        self._forget(before)
        if replaced == len(self.processes):
            LOG.info("restart complete: all %d workers replaced", replaced)
        else:
            LOG.error("restart incomplete: %d of %d workers replaced; the others serve on", replaced, len(self.processes))

    def keep_subprocess_alive(self) -> None:
        before = {process.pid for process in self.processes}
        super().keep_subprocess_alive()
        self._forget(before)

    def _forget(self, before: set[int | None]) -> None:
        """The gauges of a worker that has stopped are dropped (Prometheus' ``mark_process_dead``)."""
        if not os.environ.get(METRICS_DIR):
            return
        for pid in before - {process.pid for process in self.processes}:
            if pid is not None:
                multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def serve(config: ServerConfig) -> None:
    """Run the service until SIGINT/SIGTERM (grace period, drain, close the decision log, exit).

    Raises PolicyError when the policy does not load or its cases fail, ConfigError for an unusable
    option, DecisionLogError when the decision log cannot be kept.
    """
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    sys.setswitchinterval(SWITCH_SECONDS)
    options: dict[str, Any] = {
        "host": config.host,
        "port": config.port,
        "timeout_graceful_shutdown": config.drain_seconds,
        "timeout_worker_healthcheck": config.worker_start_seconds,
        "limit_concurrency": config.max_connections,
        "header_timeout": config.header_seconds,
        "http": TimedHeadProtocol,
        "access_log": config.access_log,
        "log_level": "info",
        "lifespan": "on",
        "server_header": False,
    }
    if config.ssl_certfile is not None:
        options["ssl_certfile"] = str(config.ssl_certfile)
        options["ssl_keyfile"] = str(config.ssl_keyfile) if config.ssl_keyfile is not None else None
    if config.workers == 1:
        app = create_app(config)
        gc.freeze()  # the loaded policy is long-lived: the collector's full passes (which hold the GIL) skip it
        server = Server(ServiceConfig(app, **options))
        server.run()
        if not server.started:
            sys.exit(STARTUP_FAILURE)
        return
    # Check the policy (and its cases), the tokens and the log's folder once before starting workers: a bad one exits here.
    create_app(dataclasses.replace(config, decision_log=None))
    if config.decision_log is not None:
        check_writable(config.decision_log)
    own = Path(tempfile.mkdtemp(prefix="ruleengine-serve-"))  # removed on exit
    if not os.environ.get(METRICS_DIR):  # metrics from every worker, summed by /metrics in whichever worker answers
        (own / "metrics").mkdir()
        os.environ[METRICS_DIR] = str(own / "metrics")
    os.environ["RULEENGINE_SERVER_CONFIG"] = config.to_json()
    os.environ[SUPERVISOR_PID] = str(os.getpid())
    os.environ[REPLACING] = str(own / "replacing")
    try:
        uvicorn_config = ServiceConfig("ruleengine.service.app:app_from_environment", factory=True, workers=config.workers, **options)
        Supervisor(uvicorn_config, sockets=[uvicorn_config.bind_socket()]).run()
    finally:
        shutil.rmtree(own, ignore_errors=True)
