"""Batch evaluation: streamed JSON lines, the same output in the same order with one or several workers."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from conftest import ROOT

sys.path.insert(0, str(ROOT / "examples" / "corpus"))
from generate import generate, write_jsonl


def _corpus(tmp: Path, count: int = 450) -> Path:
    path = tmp / "orders.jsonl"
    with open(path, "w", encoding="utf-8") as handle:
        write_jsonl(generate(count, seed=5), handle)
    lines = path.read_text(encoding="utf-8").splitlines()
    lines.insert(7, "{not json")  # a broken line
    lines.insert(300, json.dumps({"order_id": "x"}))  # a line that violates the schema
    lines.insert(11, "")  # blank lines are skipped
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ruleengine.cli", "evaluate", *args], capture_output=True, text=True, timeout=300)


def test_jobs_keep_input_order_and_report_bad_lines(tmp_path: Path) -> None:
    path = _corpus(tmp_path)
    one = _run("--batch", str(path), "--jobs", "1")
    two = _run("--batch", str(path), "--jobs", "2")
    assert one.returncode == two.returncode == 1  # some lines were refused
    assert one.stdout == two.stdout  # byte for byte, in input order
    rows = [json.loads(line, parse_float=Decimal) for line in one.stdout.splitlines()]
    assert len(rows) == 452  # 450 orders + 2 bad lines; the blank line is skipped
    errors = [r for r in rows if "error" in r]
    assert [(e["error"], e["line"]) for e in errors] == [("facts", 8), ("facts", 302)]
    assert [r["order_id"] for r in rows if "error" not in r][:3] == ["GEN5-000000", "GEN5-000001", "GEN5-000002"]
    assert one.stderr.count("\n") == 2 and f"{path}:8:" in one.stderr and "Traceback" not in one.stderr + two.stderr


def test_progress_is_shown_only_when_asked_or_on_a_terminal(tmp_path: Path) -> None:
    path = _corpus(tmp_path, 60)
    quiet = _run("--batch", str(path))
    assert "orders in" not in quiet.stderr
    shown = _run("--batch", str(path), "--progress")
    assert "62 orders in" in shown.stderr
