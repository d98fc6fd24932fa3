"""Decide a chunk of JSON lines: the unit of work of a batch, in this process, a process pool or a Dask cluster."""

from __future__ import annotations

import json
from typing import Any

from ..errors import RuleEngineError
from ..runtime.facts import read_facts
from ..runtime.policy import Policy


def decide_lines(policy: Policy, chunk: list[tuple[int, bytes]], source: str, explain: bool) -> list[tuple[bool, str, str]]:
    """(ok, output line, message for stderr) for each (line number, raw line)."""
    out = []
    for number, raw in chunk:
        where = f"{source}:{number}"
        try:
            decision = policy.evaluate(read_facts(raw, where, policy), explain=explain)
            out.append((True, decision.to_json(), ""))
        except RuleEngineError as exc:
            error: dict[str, Any] = {"line": number, **exc.to_dict()}
            error.setdefault("source", where)
            first = str(exc).splitlines()[0]
            message = first if first.startswith(where) else f"{where}: {first}"
            out.append((False, json.dumps(error, ensure_ascii=False, default=str), message))
    return out
