"""Evaluation past one machine, on Dask (``pip install 'ruleengine[dask]'``).

Two ways in, both giving exactly what one process gives:

- ``evaluate_bag(bag, policy)``: a Dask bag of JSON-lines orders becomes a bag of output lines
  (decisions, or error objects naming the line within its partition), partition by partition;
  it computes wherever the bag computes (the active ``dask.distributed.Client``, or a local scheduler);
- ``ordered_map(client, …)``: chunks of lines read here are sent to the cluster's workers and their
  results come back in input order, at most a few chunks per worker in flight, so memory stays flat
  however long the input is. ``ruleengine evaluate --batch --scheduler`` and ``ruleengine diff
  --scheduler`` run on it.

Workers need ``ruleengine`` installed, not the policy folder: the policy travels as the bytes of its files
(:class:`PolicyBytes`, ``Policy.contents``), once per worker, and each worker process rebuilds it once
and keeps it (checked against the digest it was sent with).

    import dask.bag as db
    from dask.distributed import Client
    from ruleengine import load_policy
    from ruleengine.scale.distributed import evaluate_bag

    with Client("tcp://scheduler:8786"):
        orders = db.read_text("s3://bucket/orders-2026-*.jsonl")      # any bag of JSON lines
        evaluate_bag(orders, load_policy("rules/")).to_textfiles("out/decisions-*.jsonl")
"""

from __future__ import annotations

import os
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from ..compile.loader import load_policy, policy_from_contents
from ..limits import DEFAULT_LIMITS, Limits
from ..runtime.policy import Policy
from .lines import decide_lines

IN_FLIGHT_PER_THREAD = 3
"""Chunks queued per worker thread: enough to keep every worker busy, few enough to keep memory flat."""
_KEPT = 8
_POLICIES: OrderedDict[tuple[str, Limits], Policy] = OrderedDict()
"""Per worker process: the policies it has rebuilt, by digest and limits (the last few)."""

_T = TypeVar("_T")
_R = TypeVar("_R")


@dataclass(frozen=True, eq=False)
class PolicyBytes:
    """A policy as it travels to a worker: the bytes of its files, its limits and overrides, and its digest.

    Small (the default policy is ~130 KB) and plain (it pickles), unlike a loaded Policy, which holds
    compiled code. ``policy()`` rebuilds it once per process.
    """

    root: str
    """The folder it was loaded from, to name files in messages; the worker does not read it."""
    contents: dict[str, bytes]
    limits: Limits
    overrides: dict[str, Any]
    digest: str

    @classmethod
    def of(cls, policy: Policy) -> PolicyBytes:
        return cls(os.fspath(policy.root), dict(policy.contents), policy.limits, dict(policy.overrides), policy.digest)

    def policy(self) -> Policy:
        key = (self.digest, self.limits)
        found = _POLICIES.get(key)
        if found is None:
            found = policy_from_contents(self.contents, self.root, limits=self.limits, parameters=self.overrides)
            if found.digest != self.digest:  # the same bytes and overrides always give the same digest
                raise RuntimeError(f"the policy rebuilt on this worker has digest {found.digest}, not {self.digest}")
            _POLICIES[key] = found
            while len(_POLICIES) > _KEPT:
                _POLICIES.popitem(last=False)
        else:
            _POLICIES.move_to_end(key)
        return found


def decide_partition(lines: Iterable[Any], policy: PolicyBytes, explain: bool = False, source: str = "bag") -> list[str]:
    """One partition: JSON-lines orders (text or bytes) to output lines, in order; blank lines are skipped."""
    chunk = []
    for number, line in enumerate(lines, 1):
        raw = line.encode("utf-8") if isinstance(line, str) else bytes(line)
        if raw.strip():
            chunk.append((number, raw))
    return [text for _, text, _ in decide_lines(policy.policy(), chunk, source, explain)]


def evaluate_bag(
    bag: Any,
    policy: Policy | str | os.PathLike[str] | None = None,
    *,
    rules: str | os.PathLike[str] | None = None,
    limits: Limits = DEFAULT_LIMITS,
    explain: bool = False,
) -> Any:
    """A Dask bag of JSON-lines orders → a bag of decision (or error) lines, partition by partition.

    ``policy`` is a loaded policy or a policy folder (``rules=`` names the folder too); a folder, or
    none, is loaded here as ``load_policy`` chooses, in this process and not on the workers. Its bytes
    go into the graph once; every worker rebuilds it. Decision lines are those of ``ruleengine evaluate
    --batch``, byte for byte; an error object's ``line`` counts within its partition.
    """
    from dask.delayed import delayed

    chosen = policy if isinstance(policy, Policy) else load_policy(policy if policy is not None else rules, limits=limits)
    shipped = delayed(PolicyBytes.of(chosen), pure=True, traverse=False)
    return bag.map_partitions(decide_partition, shipped, explain=explain)


def connect(address: str, timeout: float = 10.0, workers_timeout: float = 60.0) -> Any:
    """A ``dask.distributed.Client`` for a scheduler address (``tcp://host:8786``) that has at least one worker.

    Raises ImportError without the extra, OSError saying what is missing when no scheduler answers
    within ``timeout`` s or it has no worker within ``workers_timeout`` s.
    """
    from dask import distributed

    make_client: Any = distributed.Client  # untyped
    try:
        client: Any = make_client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise OSError(f"no answer within {timeout:g} s ({exc})") from None
    try:
        client.wait_for_workers(1, timeout=workers_timeout)
    except (OSError, TimeoutError):
        client.close()
        raise OSError(f"the scheduler has no worker (waited {workers_timeout:g} s)") from None
    return client


def ordered_map(client: Any, fn: Callable[..., _R], chunks: Iterable[_T], shared: Any, *args: Any) -> Iterator[_R]:
    """``fn(chunk, shared, *args)`` on the cluster for every chunk; results in input order, as they are ready.

    ``shared`` (the policy's bytes) is sent to every worker once, however many chunks there are;
    ``args`` travel with each chunk, so keep them small. At most ``IN_FLIGHT_PER_THREAD`` chunks per
    worker thread are pending, so a long input is read as results come back, and a result is released
    once it has been yielded.
    """
    scattered = client.scatter([shared], broadcast=True, hash=False)[0]  # in a list: a tuple or dict is not split
    threads = max(1, sum(client.nthreads().values()))
    pending: deque[Any] = deque()
    try:
        for chunk in chunks:
            pending.append(client.submit(fn, chunk, scattered, *args, pure=False))
            if len(pending) >= threads * IN_FLIGHT_PER_THREAD:
                yield _take(pending.popleft())
        while pending:
            yield _take(pending.popleft())
    finally:
        for future in (*pending, scattered):
            future.release()


def _take(future: Any) -> Any:
    try:
        return future.result()
    finally:
        future.release()
