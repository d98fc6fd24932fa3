"""Same input, same bytes: across runs, processes, hash seeds and threads; and the caller's facts stay untouched."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLES, RULES, load_example

import ruleengine

CLI = Path(sys.executable).parent / "ruleengine"
NAMES = sorted(p.name for p in EXAMPLES.glob("*.json"))


def test_there_are_examples_to_compare() -> None:
    assert len(NAMES) >= 16


@pytest.mark.parametrize("explain", [False, True])
def test_two_runs_in_one_process_give_the_same_bytes(policy: ruleengine.Policy, explain: bool) -> None:
    for name in NAMES:
        first = policy.evaluate(load_example(name), explain=explain).to_json()
        second = policy.evaluate(load_example(name), explain=explain).to_json()
        assert first == second, name
        assert first.encode("utf-8") == second.encode("utf-8")
        assert ('"trace":' in first) is explain


def test_a_freshly_loaded_policy_gives_the_same_bytes(policy: ruleengine.Policy) -> None:
    other = ruleengine.load_policy(RULES)
    assert other.digest == policy.digest
    for name in NAMES:
        assert other.evaluate(load_example(name), explain=True).to_json() == policy.evaluate(load_example(name), explain=True).to_json()


def test_dict_text_and_bytes_input_agree(policy: ruleengine.Policy) -> None:
    for name in NAMES:
        raw = (EXAMPLES / name).read_bytes()
        from_dict = policy.evaluate(load_example(name)).to_json()
        assert policy.evaluate(raw).to_json() == from_dict, name
        assert policy.evaluate(raw.decode("utf-8")).to_json() == from_dict, name


def _cli(seed: str, *extra: str) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    files = [str(EXAMPLES / name) for name in NAMES]
    return subprocess.run([str(CLI), "evaluate", *files, "--format", "json", *extra], env=env, capture_output=True, timeout=60, check=False)


@pytest.mark.parametrize("extra", [(), ("--explain",)], ids=["plain", "explain"])
def test_cli_output_is_identical_across_hash_seeds(policy: ruleengine.Policy, extra: tuple[str, ...]) -> None:
    runs = {seed: _cli(seed, *extra) for seed in ("0", "1", "12345")}
    for seed, run in runs.items():
        assert run.returncode == 0, (seed, run.stderr.decode())
        assert run.stderr == b"", seed
    outputs = {run.stdout for run in runs.values()}
    assert len(outputs) == 1, "the decision bytes depend on PYTHONHASHSEED"
    # ... and they are exactly what the library writes in this process.
    expected = "".join(policy.evaluate(load_example(name), explain=bool(extra)).to_json(indent=2) + "\n" for name in NAMES)
    assert runs["0"].stdout.decode("utf-8") == expected


def test_one_policy_from_eight_threads_matches_single_threaded_results() -> None:
    fresh = ruleengine.load_policy(RULES)  # nothing cached yet: lazy state is built under contention
    facts = {name: load_example(name) for name in NAMES}
    rounds, threads = 12, 8
    barrier = threading.Barrier(threads)
    results: list[list[tuple[str, bool, str]]] = [[] for _ in range(threads)]
    failures: list[BaseException] = []

    def work(index: int) -> None:
        try:
            barrier.wait()
            for r in range(rounds):
                order = NAMES[index % len(NAMES) :] + NAMES[: index % len(NAMES)]  # threads start on different orders
                for name in order:
                    explain = (r + index) % 10 == 0
                    results[index].append((name, explain, fresh.evaluate(facts[name], explain=explain).to_json()))
        except BaseException as exc:
            failures.append(exc)

    pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)  # switch threads often: interleave inside evaluations
    try:
        for t in pool:
            t.start()
        for t in pool:
            t.join(timeout=120)
    finally:
        sys.setswitchinterval(interval)
    assert not failures, failures
    single = ruleengine.load_policy(RULES)
    expected = {
        (name, explain): single.evaluate(load_example(name), explain=explain).to_json() for name in NAMES for explain in (False, True)
    }
    total = 0
    for per_thread in results:
        assert len(per_thread) == rounds * len(NAMES)
        for name, explain, text in per_thread:
            assert text == expected[(name, explain)], (name, explain)
            total += 1
    assert total == threads * rounds * len(NAMES)
    # the shared facts were not changed by concurrent evaluation either
    assert facts == {name: load_example(name) for name in NAMES}


def _with_types(value: Any) -> Any:
    """A deep copy that also records the type of every leaf (Decimal('1') != 1 would otherwise compare equal)."""
    if isinstance(value, dict):
        return {k: _with_types(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_types(v) for v in value]
    return (type(value).__name__, value)


@pytest.mark.parametrize("name", NAMES)
def test_facts_dict_is_not_mutated(policy: ruleengine.Policy, name: str) -> None:
    facts = load_example(name)
    before = _with_types(copy.deepcopy(facts))
    events: list[Any] = []
    policy.evaluate(facts)
    policy.evaluate(facts, explain=True, listener=events.append)
    assert events
    assert _with_types(facts) == before
    assert json.dumps(facts, default=str, sort_keys=False) == json.dumps(copy.deepcopy(facts), default=str)


def test_changing_a_returned_decision_does_not_leak_into_the_next_one(policy: ruleengine.Policy) -> None:
    facts = load_example("seven-day-return-gift-not-returned.json")
    expected = policy.evaluate(facts).to_json()
    first = policy.evaluate(facts).to_dict()
    first["services"]["SKU-QY-CL-120"].append("official_store")
    first["claim"]["deductions"].clear()
    first["claim"]["refund_amount"] = Decimal("999.00")
    first["fired"].clear()
    assert policy.evaluate(facts).to_json() == expected
    assert facts == load_example("seven-day-return-gift-not-returned.json")


def test_to_dict_is_a_fresh_object(policy: ruleengine.Policy) -> None:
    decision = policy.evaluate(load_example("fast-refund-immediate.json"))
    before = decision.to_json()
    decision.to_dict()["claim"]["refund_amount"] = Decimal("0.01")
    assert decision.to_json() == before


@pytest.mark.parametrize("explain", [False, True])
def test_changing_the_facts_afterwards_does_not_change_a_returned_decision(policy: ruleengine.Policy, explain: bool) -> None:
    """Converted facts share the caller's objects that hold no timestamp; no decision or trace may keep one."""
    facts = load_example("seven-day-return-gift-not-returned.json")
    decision = policy.evaluate(facts, explain=explain)
    before = decision.to_json()
    for item in facts["items"]:
        item["flags"].append("changed")
        item["title"] = "changed"
    facts["shop"]["services"].append("changed")
    facts["buyer"]["credit_score"] = 1
    facts["payment"]["method"] = "changed"
    assert decision.to_json() == before
