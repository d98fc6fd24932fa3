"""Batch evaluation on Dask, for corpora that outgrow one machine (``pip install 'ruleengine[dask]'``).

The same decisions as ``ruleengine evaluate --batch``, line for line: a Dask bag of JSON-lines orders
becomes a bag of output lines (decisions, or error objects naming the line). Each worker process loads
the policy once and keeps it for every partition it is given.

    import dask.bag as db
    from ruleengine.distributed import evaluate_bag

    orders = db.read_text("s3://bucket/orders-2026-*.jsonl")    # or any bag of JSON lines
    evaluate_bag(orders, rules="rules/").to_textfiles("out/decisions-*.jsonl")
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .batch import decide_lines
from .limits import DEFAULT_LIMITS, Limits
from .loader import load_policy
from .policy import Policy

_POLICIES: dict[tuple[str | None, Limits], Policy] = {}
"""Per worker process: the policies it has loaded, by folder and limits."""


def _policy(rules: str | None, limits: Limits) -> Policy:
    key = (rules, limits)
    if key not in _POLICIES:
        _POLICIES[key] = load_policy(rules, limits=limits)
    return _POLICIES[key]


def decide_partition(
    lines: Iterable[Any], rules: str | None = None, limits: Limits = DEFAULT_LIMITS, explain: bool = False, source: str = "bag"
) -> list[str]:
    """One partition: JSON-lines orders (text or bytes) to output lines, in order; blank lines are skipped."""
    chunk = []
    for number, line in enumerate(lines, 1):
        raw = line.encode("utf-8") if isinstance(line, str) else bytes(line)
        if raw.strip():
            chunk.append((number, raw))
    return [text for _, text, _ in decide_lines(_policy(rules, limits), chunk, source, explain)]


def evaluate_bag(bag: Any, rules: str | None = None, limits: Limits = DEFAULT_LIMITS, explain: bool = False) -> Any:
    """A Dask bag of JSON-lines orders → a bag of decision (or error) lines, partition by partition.

    ``rules`` must be a folder every worker can read (None: each worker chooses as ``load_policy()`` does,
    from its own RULEENGINE_RULES and working folder).
    """
    return bag.map_partitions(decide_partition, rules=rules, limits=limits, explain=explain)
