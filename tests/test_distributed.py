"""Dask batch evaluation gives exactly the single-process decisions (local mode, processes and threads)."""

from __future__ import annotations

import io
import sys

import pytest
from conftest import ROOT, RULES

db = pytest.importorskip("dask.bag")

from ruleengine.batch import run  # noqa: E402
from ruleengine.distributed import evaluate_bag  # noqa: E402

sys.path.insert(0, str(ROOT / "examples" / "corpus"))
from generate import generate, write_jsonl  # noqa: E402


def _lines() -> list[str]:
    buffer = io.StringIO()
    write_jsonl(generate(300, seed=9), buffer)
    lines = buffer.getvalue().splitlines()
    lines.insert(17, "{broken")
    return lines


def _single_process(lines: list[str]) -> list[str]:
    out, err = io.StringIO(), io.StringIO()
    run((line.encode() + b"\n" for line in lines), out, err, rules=str(RULES), source="bag")
    return out.getvalue().splitlines()


@pytest.mark.parametrize("scheduler", ["processes", "threads"])
def test_dask_matches_the_single_process_batch(scheduler: str) -> None:
    lines = _lines()
    expected = _single_process(lines)
    bag = db.from_sequence(lines, npartitions=4)
    got = evaluate_bag(bag, rules=str(RULES)).compute(scheduler=scheduler)
    # Line numbers in error objects are per partition in Dask; decisions must be identical, in order.
    assert [x for x in got if '"error"' not in x[:12]] == [x for x in expected if '"error"' not in x[:12]]
    assert len(got) == len(expected) == 301
    assert sum('"error":"facts"' in x or '"error": "facts"' in x for x in got) == 1
