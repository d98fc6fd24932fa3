"""The fast path and the explaining path decide alike.

The fast path runs each rule's compiled condition and skips rules its index rules out; the explaining
path walks every condition node by node through simpleeval, for traces and coverage. An explanation is
only worth reading if it describes the decision that was made: over a corpus of generated orders, the
two must give the same decision (the trace aside) — or the same error.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import ruleengine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples" / "corpus"))
from generate import generate


def _decide(policy: ruleengine.Policy, facts: dict[str, Any], explain: bool) -> Any:
    try:
        data = policy.evaluate(facts, explain=explain).to_dict()
    except ruleengine.RuleEngineError as exc:
        return (type(exc).__name__, str(exc))
    data.pop("trace", None)
    return data


def test_fast_and_explaining_paths_agree_on_a_corpus(policy: ruleengine.Policy) -> None:
    orders = list(generate(1000, seed=11))
    disagreements = [o["order_id"] for o in orders if _decide(policy, o, False) != _decide(policy, o, True)]
    assert disagreements == []
