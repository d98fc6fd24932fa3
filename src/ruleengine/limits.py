"""Limits on every input, with defaults sized for a 2-core service.

Each limit is enforced *before* the expensive step it protects (reading,
parsing, validating, evaluating), so that hostile input ends in a clean error
instead of a hang or an out-of-memory kill.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int = 1 << 20
    """A rule, parameter or facts file larger than this is refused unread."""
    max_policy_files: int = 500
    max_depth: int = 32
    """Nesting of YAML/JSON collections."""
    max_nodes: int = 200_000
    """YAML events / JSON values in one document."""
    max_expression_chars: int = 2000
    max_expression_nodes: int = 400
    """Syntax-tree nodes in one expression, after definitions are expanded."""
    max_expression_depth: int = 40
    max_collection_items: int = 1000
    """Elements of a list literal or parameter list."""
    max_integer: int = 10**15
    """Largest integer literal or integer fact."""
    max_evaluation_steps: int = 100_000
    """Rule and line visits plus generator iterations in one evaluation."""
    max_evaluation_seconds: float = 1.0
    """CPU-time budget of one evaluation (its thread's), checked every 64 rule visits and every 256 generator
    iterations after a generator's first 256, counted from the first check (see ``runtime.evaluation.Budget``)."""


DEFAULT_LIMITS = Limits()
