"""The command line keeps its promises: JSON errors under --format json, lint --fail-on, a diff summary, named git refs.

Run as a user runs them (the ``ruleengine`` script), on the tiny policy of tests/tiny_policy.py.
"""

from __future__ import annotations

import json
import re
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from tiny_policy import EXAMPLES, RETURN_ORDER, run_ruleengine, write_tiny_policy


@pytest.fixture
def work(tmp_path: Path) -> Path:
    write_tiny_policy(tmp_path / "rules")
    return tmp_path


# ---------------------------------------------------------------- --format json: every error is JSON


@pytest.mark.parametrize(
    ("args", "code", "error"),
    [
        (["evaluate", "no-such-order.json", "--format", "json"], 1, "io"),
        (["explain", "no-such-order.json", "--format", "json"], 1, "io"),
        (["evaluate", "--batch", "no-such-orders.jsonl"], 1, "io"),  # --batch writes JSON by default
        (["evaluate", "--format", "json"], 2, "usage"),  # no order given
        (["evaluate", str(RETURN_ORDER), "--jobs", "0", "--format", "json"], 2, "usage"),  # found by click
        (["diff", "no-such-orders.jsonl", "--base", "HEAD", "--format", "json"], 2, "usage"),
        (["test", "no-such-cases", "--format", "json"], 2, "usage"),
        (["validate", "--rules", "no-such-folder", "--format", "json"], 2, "policy"),
        (["lint", "--rules", "no-such-folder", "--format", "json"], 2, "policy"),
    ],
)
def test_format_json_turns_every_error_into_json(work: Path, args: list[str], code: int, error: str) -> None:
    result = run_ruleengine(*args, cwd=work)
    assert result.returncode == code, result.stdout + result.stderr
    data = json.loads(result.stdout)
    assert data["error"] == error
    assert result.stderr == ""
    if error == "io":
        assert data["source"].startswith("no-such-order") and data["message"] == "cannot read: No such file or directory"
    if error == "usage":
        assert data["message"]


def test_without_json_the_same_errors_are_lines_on_standard_error(work: Path) -> None:
    result = run_ruleengine("evaluate", "no-such-order.json", cwd=work)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.splitlines()[-1] == "no-such-order.json: cannot read: No such file or directory"


# ---------------------------------------------------------------- lint --fail-on

CONTRADICTION = """\
rules:
  - id: extra.contradiction
    title: {zh: 矛盾, en: contradiction}
    description: never true
    stage: claim
    priority: 5
    scope: claimed_line
    when:
      all:
        - claim.type == 'no_reason_return'
        - claim.type == 'quality_issue'
    then:
      - set: {claim.outcome: rejected}
"""


def test_lint_fail_on_warning_fails_a_policy_with_warnings(work: Path) -> None:
    clean = run_ruleengine("lint", "--fail-on", "warning", cwd=work)
    assert (clean.returncode, clean.stdout.strip()) == (0, "0 errors, 0 warnings")
    (work / "rules" / "extra.yaml").write_text(CONTRADICTION, encoding="utf-8")
    default = run_ruleengine("lint", cwd=work)
    assert default.returncode == 0 and default.stdout.strip().endswith("0 errors, 1 warning")
    strict = run_ruleengine("lint", "--fail-on", "warning", cwd=work)
    assert strict.returncode == 1
    assert "never_fires: rule extra.contradiction can never match" in strict.stdout
    assert strict.stdout.strip().endswith("0 errors, 1 warning (--fail-on warning: failed)")
    report = json.loads(run_ruleengine("lint", "--fail-on", "warning", "--format", "json", cwd=work).stdout)
    assert (report["warnings"], report["failed"]) == (1, True)


def test_lint_errors_exit_2_whatever_fail_on_says(work: Path) -> None:
    (work / "rules" / "extra.yaml").write_text(CONTRADICTION.replace("claim.type ==", "claim.tpye =="), encoding="utf-8")
    for level in ("warning", "error"):
        result = run_ruleengine("lint", "--fail-on", level, cwd=work)
        assert result.returncode == 2 and "unknown_field" in result.stderr


# ---------------------------------------------------------------- diff: a summary in text, the detail in JSON


def test_the_diff_text_is_a_summary_by_guarantee_and_field_largest_first(work: Path) -> None:
    changed = write_tiny_policy(work / "changed", refund_share="0.5")
    rule = changed / "claim.yaml"
    rule.write_text(
        rule.read_text(encoding="utf-8").replace("claim.type == 'no_reason_return'", "claim.type in ['no_reason_return', 'quality_issue']"),
        encoding="utf-8",
    )
    args = ("diff", str(EXAMPLES), "--base", "rules", "--rules", "changed")
    text = run_ruleengine(*args, cwd=work)
    detail = run_ruleengine(*args, "--format", "json", cwd=work)
    assert text.returncode == 0 and detail.returncode == 0, text.stderr
    data = json.loads(detail.stdout)
    rows = [line.split() for line in text.stdout.split("largest first:\n")[1].splitlines() if line.startswith("    ")]
    assert [(r[0], r[1], int(r[2])) for r in rows] == [(f["guarantee"], f["field"], f["orders"]) for f in data["fields"]]
    assert [int(r[2]) for r in rows] == sorted((int(r[2]) for r in rows), reverse=True) and len(rows) >= 2
    refund = next(r for r in rows if r[1] == "claim.refund_amount")
    assert Decimal(refund[3]) == Decimal(data["money"]["refunds"]["delta"]) == sum(Decimal(f.get("money_delta", 0)) for f in data["fields"])
    # The text names the commonest changes with counts, never every order; the JSON keeps every change and examples.
    assert not re.search(r"TM\d{13}", text.stdout)
    assert sum(c["orders"] for c in data["changes"] if c["field"] == "claim.outcome") == next(
        f["orders"] for f in data["fields"] if f["field"] == "claim.outcome"
    )
    assert all(c["examples"] for c in data["changes"])


def _repository(work: Path) -> None:
    for command in (["init", "-q"], ["add", "rules"], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base"]):
        subprocess.run(["git", "-C", str(work), *command], check=True)


def test_an_unknown_git_revision_is_named(work: Path) -> None:
    _repository(work)
    orders = work / "orders.jsonl"
    orders.write_text(json.dumps(json.loads(RETURN_ORDER.read_text(encoding="utf-8"))) + "\n", encoding="utf-8")
    result = run_ruleengine("diff", str(orders), "--base", "HEAD~99", cwd=work)
    assert result.returncode == 2
    assert "usage error: unknown git revision 'HEAD~99'" in result.stderr
    as_json = run_ruleengine("diff", str(orders), "--base", "HEAD~99", "--format", "json", cwd=work)
    assert as_json.returncode == 2 and "unknown git revision 'HEAD~99'" in json.loads(as_json.stdout)["message"]
    option = run_ruleengine("diff", str(orders), "--base", "--output=/tmp/x", cwd=work)  # never passed to git as an option
    assert option.returncode == 2 and "unknown git revision '--output=/tmp/x'" in option.stderr
    same = run_ruleengine("diff", str(orders), "--base", "HEAD", cwd=work)
    assert same.returncode == 0 and "没有决策变化 no decision changed" in same.stdout
