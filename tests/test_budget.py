"""A legal but costly policy ends in a budget error, not a hang: generators count as they run."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from conftest import RULES, load_example

import ruleengine

RULE = """# yaml-language-server: $schema=../schemas/rule.schema.json
parameters:
  long_list: {type: list, of: text, value: [%s], description: a long list}
rules:
  - id: costly.rule
    title: {zh: 昂贵, en: Costly}
    description: two nested generators, within the static bound, iterating thousands of times
    stage: compensation
    scope: line
    when: sum(count(x for x in params.long_list if x != item.sku) for l in items) > 0
    then:
      - violation: late_shipment
"""


@pytest.fixture
def costly(tmp_path: Path) -> Path:
    root = tmp_path / "rules"
    root.mkdir()
    for name in ("policy.yaml", "parameters.yaml", "definitions.yaml"):
        shutil.copy(RULES / name, root / name)
    (root / "costly.yaml").write_text(RULE % ", ".join(f"v{i}" for i in range(900)), encoding="utf-8")
    return root


@pytest.mark.parametrize("explain", [False, True], ids=["fast path", "explaining path"])
def test_generator_iterations_count_against_the_step_budget(costly: Path, explain: bool) -> None:
    facts = load_example("multi-line-partial-return.json")  # 3 lines: 3 × 3 × 900 iterations
    assert ruleengine.load_policy(costly).evaluate(facts, explain=explain).to_dict()["violations"]  # within the default budget
    small = ruleengine.load_policy(costly, limits=ruleengine.Limits(max_evaluation_steps=2000))
    with pytest.raises(ruleengine.EvaluationError) as info:
        small.evaluate(facts, explain=explain)
    assert (info.value.rule, info.value.code) == ("costly.rule", "budget")
    assert info.value.file.endswith("costly.yaml") and info.value.line == 10


def test_a_static_bound_refuses_generators_that_could_run_too_long(costly: Path) -> None:
    text = (costly / "costly.yaml").read_text(encoding="utf-8")
    (costly / "costly.yaml").write_text(text.replace("for l in items", "for l in params.long_list"), encoding="utf-8")
    with pytest.raises(ruleengine.PolicyError) as info:
        ruleengine.load_policy(costly)
    (d,) = info.value.diagnostics
    assert d.code == "too_complex" and "could iterate 810900 times" in d.message


def test_the_time_budget_stops_slow_rule_visits_within_a_check_of_the_deadline() -> None:
    """The clock starts at the first check and is read at every one: slow visits under the step limit still stop."""
    from ruleengine.lang.functions import BudgetExceeded
    from ruleengine.runtime.evaluation import Budget

    def burn(seconds: float) -> None:  # CPU work between two checks, as 64 slow rule visits would do
        start = time.thread_time()
        while time.thread_time() - start < seconds:
            pass

    budget = Budget(max_steps=100_000, max_seconds=0.05)
    with pytest.raises(BudgetExceeded, match=r"0\.05 s"):
        for _ in range(15):  # 15 checks of 64 visits: 960 steps, far below the step limit
            burn(0.02)
            budget(64)
    # 20 ms before the first check starts the clock, the deadline 50 ms later: stopped at the 5th check at the latest
    assert budget.steps <= 5 * 64


def test_builds_that_overlap_in_threads_leave_the_garbage_collector_as_it_was() -> None:
    import gc
    import threading

    from ruleengine.allocation import collections_paused

    def build(pause: float) -> None:
        with collections_paused():
            time.sleep(pause)

    for enabled in (True, False):
        (gc.enable if enabled else gc.disable)()
        try:
            threads = [threading.Thread(target=build, args=(0.001 * (i % 5),)) for i in range(40)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert gc.isenabled() is enabled
        finally:
            gc.enable()


def test_rules_on_the_claimed_line_are_charged_alike_when_the_order_has_no_claimed_line(tmp_path: Path) -> None:
    """The plain code sets the claimed line once for a run of such rules; a budget charge written between them stays
    outside that block, so trusted facts whose claim names no line are charged as the explaining path charges them."""
    import dataclasses

    (tmp_path / "policy.yaml").write_text('policy:\n  name: claimed-run\n  version: "1"\n  timezone: Asia/Shanghai\n  stages: [claim]\n')
    rules = ["rules:"]
    for n in range(70):
        rules.append(
            f"  - id: c.r{n:02d}\n    title: {{zh: 规则{n}, en: Rule {n}}}\n    description: 认领行 / claimed line\n"
            '    stage: claim\n    scope: claimed_line\n    when: {expr: "item.quantity > 1000"}\n'
            "    then:\n      - set: {claim.outcome: rejected}"
        )
    (tmp_path / "rules.yaml").write_text("\n".join(rules) + "\n", encoding="utf-8")
    policy = ruleengine.load_policy(tmp_path, limits=dataclasses.replace(ruleengine.DEFAULT_LIMITS, max_evaluation_steps=10))
    facts = load_example("quality-defect-repair-approved.json")
    facts["items"] = []  # trusted: a claim without a sku, an order without lines
    del facts["claim"]["sku"]
    with pytest.raises(ruleengine.EvaluationError) as explained:
        policy.evaluate(facts, trusted=True, explain=True)
    with pytest.raises(ruleengine.EvaluationError) as plain:
        policy.evaluate(facts, trusted=True)
    assert str(plain.value) == str(explained.value) and plain.value.code == "budget"


def test_a_generators_first_256_items_are_charged_as_steps_and_later_ones_read_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """A short list of the decision costs no system call; a long one is still timed, and every item is still charged."""
    from ruleengine.lang.codegen import BUDGET_KEY, counted
    from ruleengine.lang.functions import BudgetExceeded
    from ruleengine.runtime import evaluation

    reads: list[float] = []
    monkeypatch.setattr(evaluation.time, "thread_time", lambda: reads.append(0.0) or 0.0)
    budget = evaluation.Budget(max_steps=1100, max_seconds=1.0)
    assert sum(1 for _ in counted({BUDGET_KEY: budget}, range(256))) == 256
    assert (budget.steps, reads) == (256, [])
    assert sum(1 for _ in counted({BUDGET_KEY: budget}, range(600))) == 600
    assert budget.steps == 256 + 3 * 256 and len(reads) == 2  # items 256 and 512 began a block: the clock was read
    with pytest.raises(BudgetExceeded, match="1100 steps"):
        for _ in counted({BUDGET_KEY: budget}, range(10)):  # the steps are checked from the first item, as before
            pass
