"""Batch evaluation of JSON-lines orders: streamed, in order, in constant memory, over N processes.

Each worker process loads the policy once; lines travel in chunks, and at most a few chunks per worker
are in flight, so memory stays flat however long the input is. Output keeps input order: one decision,
or one error object naming the line, per non-empty input line.
"""

from __future__ import annotations

import gc
import multiprocessing
import sys
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from ..compile.loader import load_policy
from ..limits import DEFAULT_LIMITS, Limits
from ..runtime.policy import Policy
from .lines import decide_lines

CHUNK_LINES = 1000
IN_FLIGHT_PER_JOB = 3


@dataclass
class BatchResult:
    decided: int = 0
    refused: int = 0


def _chunks(stream: Iterable[bytes], size: int = CHUNK_LINES) -> Iterator[list[tuple[int, bytes]]]:
    chunk: list[tuple[int, bytes]] = []
    for number, raw in enumerate(stream, 1):
        if raw.strip():
            chunk.append((number, raw))
            if len(chunk) >= size:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


# -- worker processes: the policy is loaded once per process

_WORKER: dict[str, Any] = {}


def _init_worker(rules: str | None, limits: Limits, parameters: dict[str, Any] | None, source: str, explain: bool) -> None:
    if "policy" not in _WORKER:  # a forked worker already has the parent's policy; a spawned one loads it
        _WORKER["policy"] = load_policy(rules, limits=limits, parameters=parameters)
    _WORKER.update(source=source, explain=explain)


def _work(chunk: list[tuple[int, bytes]]) -> tuple[str, int, list[str]]:
    """One chunk, returned as one block of output text (cheap to send back), a count and the messages."""
    return _block(decide_lines(_WORKER["policy"], chunk, _WORKER["source"], _WORKER["explain"]))


def _block(rows: list[tuple[bool, str, str]]) -> tuple[str, int, list[str]]:
    return "".join(line + "\n" for _, line, _ in rows), sum(1 for ok, _, _ in rows if ok), [m for ok, _, m in rows if not ok]


def _on_cluster(chunk: list[tuple[int, bytes]], policy: Any, source: str, explain: bool) -> tuple[str, int, list[str]]:
    """One chunk on a Dask worker (``policy``: a ``distributed.PolicyBytes``, rebuilt once per worker process)."""
    return _block(decide_lines(policy.policy(), chunk, source, explain))


def run(
    stream: Iterable[bytes],
    out: IO[str],
    err: IO[str],
    *,
    rules: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
    parameters: dict[str, Any] | None = None,
    source: str = "<stdin>",
    jobs: int = 1,
    explain: bool = False,
    progress: bool = False,
    policy: Policy | None = None,
    client: Any = None,
) -> BatchResult:
    """Decide every line of ``stream``; write decisions to ``out`` and one message per bad line to ``err``.

    ``jobs`` > 1: that many worker processes here. ``client`` (a ``dask.distributed.Client``): the chunks
    go to the cluster's workers instead, with the policy's bytes; the output is the same, byte for byte.
    """
    result = BatchResult()
    meter = _Progress(err) if progress else None

    def emit(block: tuple[str, int, list[str]]) -> None:
        text, decided, messages = block
        out.write(text)
        result.decided += decided
        result.refused += len(messages)
        for message in messages:
            err.write(message + "\n")
        if meter is not None:
            meter.update(result.decided + result.refused)

    if client is not None:
        from .distributed import PolicyBytes, ordered_map

        shipped = PolicyBytes.of(policy or load_policy(rules, limits=limits, parameters=parameters))
        for block in ordered_map(client, _on_cluster, _chunks(stream), shipped, source, explain):
            emit(block)
    elif jobs <= 1:
        loaded = policy or load_policy(rules, limits=limits, parameters=parameters)
        for chunk in _chunks(stream):
            emit(_block(decide_lines(loaded, chunk, source, explain)))
    else:
        context = multiprocessing.get_context("spawn" if sys.platform == "darwin" else "fork")
        if policy is not None and context.get_start_method() == "fork":
            _WORKER["policy"] = policy.compile_all()  # built once here, not once in every worker
        gc.freeze()  # forked workers share the parent's objects: no collection in a worker writes to their pages
        try:
            with context.Pool(jobs, _init_worker, (rules, limits, parameters, source, explain)) as pool:
                pending: deque[Any] = deque()
                for chunk in _chunks(stream):
                    pending.append(pool.apply_async(_work, (chunk,)))
                    if len(pending) >= jobs * IN_FLIGHT_PER_JOB:
                        emit(pending.popleft().get())
                while pending:
                    emit(pending.popleft().get())
        finally:
            gc.unfreeze()
    if meter is not None:
        meter.done(result.decided + result.refused)
    return result


class _Progress:
    """A one-line counter on a terminal, refreshed at most twice a second."""

    def __init__(self, err: IO[str]) -> None:
        self.err = err
        self.started = time.monotonic()
        self.shown = 0.0

    def update(self, count: int) -> None:
        now = time.monotonic()
        if now - self.shown >= 0.5:
            self.shown = now
            rate = count / max(now - self.started, 1e-9)
            self.err.write(f"\r{count:,} orders, {rate:,.0f}/s")
            self.err.flush()

    def done(self, count: int) -> None:
        elapsed = time.monotonic() - self.started
        self.err.write(f"\r{count:,} orders in {elapsed:.1f}s ({count / max(elapsed, 1e-9):,.0f}/s)\n")
