"""The service's life in one process: start, reload on SIGHUP, a file change or a publish, drain on SIGTERM, stop.

With ``--editing`` every worker follows the publish log: when any worker publishes or reverts (it
appends a record there), each worker reloads within a quarter of a second plus the reload itself,
with or without the file watcher (one ``stat`` every 250 ms; no signal to find the siblings by).

SIGTERM does not stop the server at once: for the grace period (``--grace-period``)
``/readyz`` answers 503 so a load balancer stops sending, requests are still answered,
and each response says ``Connection: close`` so keep-alive clients reconnect elsewhere.
Then uvicorn's own shutdown runs: the listener closes, requests in flight finish (up to
``--drain-timeout``), and the decision log is closed. A second SIGTERM, or SIGINT, skips
what is left of the grace period. A worker of a multi-worker server also stops, the same
way, when its parent process is gone; one that is being replaced (SIGHUP to the parent)
drains the same way but keeps /readyz at 200, since its replacement is already serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from types import FrameType
from typing import Any

import anyio
from starlette.applications import Starlette

from .editing import publish_log_stamp
from .shared import LOG, Service

__all__ = ["REPLACING", "SUPERVISOR_PID", "lifespan"]

SUPERVISOR_PID = "RULEENGINE_SUPERVISOR_PID"
"""The environment variable naming the parent of a multi-worker server's workers (they stop when it is gone)."""
REPLACING = "RULEENGINE_REPLACING"
"""The environment variable naming a file that exists while the parent replaces its workers (SIGHUP)."""


def lifespan(service: Service) -> Callable[[Starlette], AbstractAsyncContextManager[None]]:
    """Starlette's lifespan for ``service``: what runs at start-up and at shutdown."""

    @contextlib.asynccontextmanager
    async def run(app: Starlette) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGHUP, _sighup, service, loop)
            loop.add_signal_handler(signal.SIGUSR1, service.reopen_log)  # logrotate's postrotate
        drain = Drain(service, loop)
        drain.install()
        stop = asyncio.Event()
        tasks = []
        if service.config.watch and service.config.rules is not None:
            tasks.append(loop.create_task(_watch(service, stop)))
        if service.config.editing and service.config.rules is not None:
            tasks.append(loop.create_task(_follow_publishes(service)))
        parent = os.environ.get(SUPERVISOR_PID)
        if parent is not None and parent.isdigit():
            tasks.append(loop.create_task(_stop_when_orphaned(int(parent))))
        service.ready = True
        try:
            yield
        finally:
            # uvicorn calls this after it stopped accepting and the requests in flight finished (the drain).
            service.ready = False
            drain.uninstall()
            stop.set()
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(signal.SIGHUP)
                loop.remove_signal_handler(signal.SIGUSR1)
            if service.log is not None:
                await anyio.to_thread.run_sync(service.log.close)

    return run


class Drain:
    """SIGTERM's grace period, in front of the server's own SIGTERM handler (uvicorn's), which it calls afterwards."""

    def __init__(self, service: Service, loop: asyncio.AbstractEventLoop) -> None:
        self.service = service
        self.loop = loop
        self.previous: Any = None
        self.installed = False
        self.stopping = False

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():  # an in-process test client: no signals
            return
        self.previous = signal.getsignal(signal.SIGTERM)
        signal.signal(signal.SIGTERM, self._on_sigterm)
        self.installed = True

    def uninstall(self) -> None:
        if self.installed and signal.getsignal(signal.SIGTERM) == self._on_sigterm:
            signal.signal(signal.SIGTERM, self.previous)
        self.installed = False

    def _on_sigterm(self, sig: int, frame: FrameType | None) -> None:
        grace = self.service.config.grace_seconds
        if self.service.draining or grace <= 0:
            self._stop(sig)
            return
        replacing = os.environ.get(REPLACING)
        self.service.replaced = replacing is not None and os.path.exists(replacing)
        self.service.draining = True
        self.loop.call_soon_threadsafe(self._draining, sig, grace)

    def _draining(self, sig: int, grace: float) -> None:
        if self.service.replaced:
            LOG.info("SIGTERM: replaced; draining for %s s (connections close after their response), then stopping", grace)
        else:
            LOG.info("SIGTERM: draining for %s s (/readyz answers 503, connections close after their response), then stopping", grace)
        self.loop.call_later(grace, self._stop, sig)

    def _stop(self, sig: int) -> None:
        if self.stopping:
            return
        self.stopping = True
        previous = self.previous
        if callable(previous):
            previous(sig, None)
        else:  # no server handler (SIG_DFL): the conventional exit
            self.uninstall()
            os.kill(os.getpid(), sig)


def _sighup(service: Service, loop: asyncio.AbstractEventLoop) -> None:
    service.reopen_log()
    loop.create_task(service.reload("SIGHUP"))


async def _watch(service: Service, stop: asyncio.Event) -> None:
    async for trigger in service.live.changes(stop):
        await service.reload(trigger)


FOLLOW_SECONDS = 0.25
"""How often each worker of an editing service looks at the publish log's size and time."""


async def _follow_publishes(service: Service, every: float = FOLLOW_SECONDS) -> None:
    """Reload when the publish log changes: another worker (or this one) published or reverted an edit."""
    seen = service.publishes_seen  # taken before this worker loaded its policy: a publish in between is not missed
    while True:
        now = publish_log_stamp(service.config)
        if now != seen:
            seen = service.publishes_seen = now
            LOG.info("worker %d: the publish log changed: reloading the policy", os.getpid())
            await service.reload("publish")
        await asyncio.sleep(every)


async def _stop_when_orphaned(parent: int, every: float = 1.0) -> None:
    """A worker whose parent died (SIGKILL) would serve on unsupervised: it drains and stops instead."""
    while os.getppid() == parent:
        await asyncio.sleep(every)
    LOG.warning("worker %d: its parent process %d is gone; draining and stopping", os.getpid(), parent)
    os.kill(os.getpid(), signal.SIGTERM)
