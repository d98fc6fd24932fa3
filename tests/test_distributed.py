"""On Dask, exactly what one process gives: local schedulers, and a real cluster (scheduler and worker
processes over TCP on loopback) for evaluate_bag, ``evaluate --batch --scheduler`` and ``diff --scheduler``.

They run the tests' own policy (tests/policies/returns) over generated orders."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import RETURNS, ROOT, replace_in

db = pytest.importorskip("dask.bag")
distributed = pytest.importorskip("dask.distributed")

from ruleengine import load_policy  # noqa: E402
from ruleengine.scale.batch import run  # noqa: E402
from ruleengine.scale.distributed import PolicyBytes, evaluate_bag  # noqa: E402

sys.path.insert(0, str(ROOT / "examples" / "corpus"))
from generate import generate, write_jsonl  # noqa: E402


def _lines(count: int = 300, seed: int = 9) -> list[str]:
    buffer = io.StringIO()
    write_jsonl(generate(count, seed=seed), buffer)
    lines = buffer.getvalue().splitlines()
    lines.insert(17, "{broken")
    return lines


def _single_process(lines: list[str], rules: Path = RETURNS, source: str = "bag") -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    run((line.encode() + b"\n" for line in lines), out, err, rules=str(rules), source=source)
    return out.getvalue(), err.getvalue()


def _decisions(lines: list[str]) -> list[str]:
    return [x for x in lines if not x.startswith('{"line":')]


@pytest.mark.parametrize("scheduler", ["processes", "threads"])
def test_dask_local_schedulers_match_the_single_process_batch(scheduler: str) -> None:
    lines = _lines()
    expected = _single_process(lines)[0].splitlines()
    got = evaluate_bag(db.from_sequence(lines, npartitions=4), rules=str(RETURNS)).compute(scheduler=scheduler)
    # An error object's line counts within its partition; decisions must be identical, in order.
    assert _decisions(got) == _decisions(expected)
    assert len(got) == len(expected) == 301
    assert sum('"error": "facts"' in x for x in got) == 1


def test_the_policy_travels_as_bytes_and_is_rebuilt_with_the_same_digest(tmp_path: Path) -> None:
    folder = tmp_path / "returns"
    shutil.copytree(RETURNS, folder)
    policy = load_policy(folder, parameters={"seven_day_window_days": 15})
    shipped = PolicyBytes.of(policy)
    shutil.rmtree(folder)  # a worker never reads the folder
    rebuilt = shipped.policy()
    assert rebuilt.digest == policy.digest and rebuilt.parameters["seven_day_window_days"].value == 15
    assert shipped.policy() is rebuilt  # once per process
    assert rebuilt.overrides == {"seven_day_window_days": 15}


# ---------------------------------------------------------------- a real cluster: scheduler and 2 worker processes, TCP on loopback


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A LocalCluster of two single-threaded worker processes; yields the scheduler's tcp:// address."""
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", protocol="tcp", dashboard_address=None
    ) as local:
        assert local.scheduler_address.startswith("tcp://127.0.0.1:")
        yield local.scheduler_address


def _corpus(tmp: Path, count: int = 2000) -> Path:
    path = tmp / "orders.jsonl"
    lines = _lines(count, seed=4)
    lines.insert(1200, json.dumps({"order_id": "x"}))  # an order the schema refuses
    lines.insert(700, "")  # a blank line is skipped
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ruleengine.cli", *args], capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_evaluate_bag_on_a_cluster_matches_one_process(cluster: str, tmp_path: Path) -> None:
    lines = _lines(2000, seed=4)
    folder = tmp_path / "returns"
    shutil.copytree(RETURNS, folder)
    policy = load_policy(folder)
    expected = _single_process(lines, folder)[0].splitlines()
    bag = evaluate_bag(db.from_sequence(lines, npartitions=8), policy)
    shutil.rmtree(folder)  # the workers get the policy's bytes, never its path
    with distributed.Client(cluster) as client:
        got = bag.compute()
        assert len(client.scheduler_info()["workers"]) == 2
    assert _decisions(got) == _decisions(expected)
    assert len(got) == 2001


@pytest.mark.slow
def test_batch_on_a_cluster_is_byte_identical_to_one_process(cluster: str, tmp_path: Path) -> None:
    path = _corpus(tmp_path)
    one = _cli("evaluate", "--batch", str(path), "--rules", str(RETURNS))
    spread = _cli("evaluate", "--batch", str(path), "--rules", str(RETURNS), "--scheduler", cluster)
    assert one.returncode == spread.returncode == 1  # two lines were refused
    assert spread.stdout == one.stdout and spread.stderr == one.stderr  # error lines name the same input line
    assert one.stdout.count("\n") == 2002 and f"{path}:18:" in one.stderr


@pytest.mark.slow
def test_diff_on_a_cluster_gives_the_same_totals_changes_and_examples(cluster: str, tmp_path: Path) -> None:
    path = _corpus(tmp_path)
    changed = tmp_path / "changed"
    shutil.copytree(RETURNS, changed)
    window = "  seven_day_window_days:\n    type: days\n    value: {}\n"
    replace_in(changed / "parameters.yaml", window.format(7), window.format(15))
    score = "  fast_refund_min_credit_score:\n    type: integer\n    value: {}\n"
    replace_in(changed / "parameters.yaml", score.format(600), score.format(650))
    args = ("diff", str(path), "--base", str(RETURNS), "--rules", str(changed), "--format", "json")
    one = _cli(*args, "--changes", str(tmp_path / "one.jsonl"))
    spread = _cli(*args, "--changes", str(tmp_path / "spread.jsonl"), "--scheduler", cluster)
    assert one.returncode == spread.returncode == 0, one.stderr + spread.stderr
    assert spread.stdout == one.stdout
    report = json.loads(one.stdout)
    assert report["orders"] == 2002 and report["refused"] == {"base": 2, "new": 2}
    assert report["changed"] > 50 and Decimal(report["money"]["refunds"]["delta"]) > 0  # money is a decimal string in JSON
    detail = (tmp_path / "one.jsonl").read_text(encoding="utf-8")
    assert (tmp_path / "spread.jsonl").read_text(encoding="utf-8") == detail
    assert detail.count("\n") == report["changed"]
    text_one = _cli(*args[:-2])
    text_spread = _cli(*args[:-2], "--scheduler", cluster)
    assert text_spread.stdout == text_one.stdout and "seven_day_return" in text_one.stdout


@pytest.mark.slow
def test_a_scheduler_that_does_not_answer_is_named(tmp_path: Path) -> None:
    path = _corpus(tmp_path, 3)
    batch = _cli("evaluate", "--batch", str(path), "--scheduler", "tcp://127.0.0.1:9")  # --batch answers in JSON
    assert batch.returncode == 2 and "Traceback" not in batch.stderr
    error = json.loads(batch.stdout)
    assert error["error"] == "io" and error["source"] == "tcp://127.0.0.1:9"
    assert error["message"].startswith("cannot use the Dask scheduler: no answer within 10 s")
    report = _cli("diff", str(path), "--base", str(RETURNS), "--scheduler", "tcp://127.0.0.1:9")
    assert report.returncode == 2 and report.stdout == "" and "Traceback" not in report.stderr
    assert "tcp://127.0.0.1:9: cannot use the Dask scheduler: no answer within 10 s" in report.stderr
    both = _cli("evaluate", "--batch", str(path), "--jobs", "2", "--scheduler", "tcp://127.0.0.1:9")
    assert both.returncode == 2 and "--scheduler goes with --batch, instead of --jobs" in both.stderr
