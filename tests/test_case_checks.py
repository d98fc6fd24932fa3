"""Case files are checked like rules before any case runs, by ``ruleengine test`` and by the pytest plugin alike.

Each test writes the tiny policy (tests/tiny_policy.py) and case files of its own, and runs the real command.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import locate
from tiny_policy import EXAMPLES, RETURN_ORDER, run_ruleengine, write_tiny_policy

GOOD = f"""\
  - name: approved
    example: {RETURN_ORDER}
    expect: {{claim.outcome: approved}}
"""


def policy_with_cases(tmp_path: Path, *files: str) -> Path:
    """tmp_path/rules: the tiny policy, with ``files`` as cases/c1.yaml, cases/c2.yaml …; returns the folder."""
    rules = write_tiny_policy(tmp_path / "rules")
    (rules / "cases").mkdir()
    for number, body in enumerate(files, 1):
        (rules / "cases" / f"c{number}.yaml").write_text("cases:\n" + body, encoding="utf-8")
    return rules


def break_the_policy(rules: Path) -> None:
    rule = rules / "claim.yaml"
    rule.write_text(rule.read_text(encoding="utf-8").replace("claim.type", "claim.tpye"), encoding="utf-8")


def test_an_unknown_expectation_key_is_an_error_with_did_you_mean_and_nothing_runs(tmp_path: Path) -> None:
    policy_with_cases(tmp_path, GOOD + f"  - name: typo\n    example: {RETURN_ORDER}\n    expect: {{claim.outcom: approved}}\n")
    result = run_ruleengine("test", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "rules/cases/c1.yaml:7:14: case_expect: unknown decision field 'claim.outcom' (did you mean 'claim.outcome'?)",
        "1 error in case files: no case ran",
    ]
    assert result.stdout == ""  # not even the good case ran


def test_a_value_outside_the_decision_schema_is_an_error_at_the_value(tmp_path: Path) -> None:
    policy_with_cases(tmp_path, f"  - name: typo\n    example: {RETURN_ORDER}\n    expect: {{claim.outcome: aproved}}\n")
    result = run_ruleengine("test", "--format", "json", cwd=tmp_path)
    assert result.returncode == 2
    report = json.loads(result.stdout)
    assert report["error"] == "cases"
    ((line, column, code, message),) = [(d["line"], d["column"], d["code"], d["message"]) for d in report["diagnostics"]]
    assert (line, column, code) == (4, 29, "case_expect")
    assert message.startswith("claim.outcome: 'aproved' is not allowed (did you mean 'approved'?); expected one of: approved, rejected")


@pytest.mark.parametrize(
    ("expect", "at", "message"),
    [
        ("{services.SKU-1: {contains: [seven_day_retrun]}}", "seven_day_retrun", "(did you mean 'seven_day_return'?)"),
        ("{services.SKU-1: {exclude: [seven_day_return]}}", "exclude", "unknown check 'exclude' (did you mean 'excludes'?)"),
        ("{claim.outcome: {contains: approved}}", "contains", "'contains' checks the members of a list, and claim.outcome is not a list"),
        ("{claim.deductions.amount: 1.00}", "claim.deductions", "claim.deductions is a list, so 'amount' must be a position"),
        ("{claim.refund_amount: 0.001}", "0.001", "claim.refund_amount: 0.001 has more decimals than allowed"),
        ("{error: fact}", "fact}", "'error' expects facts or evaluation, not 'fact'"),
        ("{fired: {contains: [tiny.aprove]}}", "tiny.aprove", "unknown_rule: the policy has no rule 'tiny.aprove' (did you mean"),
    ],
)
def test_expectations_are_checked_against_the_decision_schema_and_the_policy(tmp_path: Path, expect: str, at: str, message: str) -> None:
    rules = policy_with_cases(tmp_path, f"  - name: checked\n    example: {RETURN_ORDER}\n    expect: {expect}\n")
    result = run_ruleengine("test", cwd=tmp_path)
    assert result.returncode == 2, result.stdout
    line, column = locate((rules / "cases" / "c1.yaml").read_text(encoding="utf-8"), at)
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"rules/cases/c1.yaml:{line}:{column}: ") and message in first, first


def test_a_missing_example_suggests_the_nearest_name(tmp_path: Path) -> None:
    name = RETURN_ORDER.name.replace("approved", "aproved")
    (tmp_path / "examples").symlink_to(EXAMPLES.parent, target_is_directory=True)
    policy_with_cases(tmp_path, f"  - name: typo\n    example: {name}\n    expect: {{claim.outcome: approved}}\n")
    result = run_ruleengine("test", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == (
        f"rules/cases/c1.yaml:3:14: example_not_found: example '{name}' not found next to the case file or in examples/orders/ "
        f"(did you mean '{RETURN_ORDER.name}'?)"
    )


def test_a_change_that_does_not_fit_the_order_is_an_error_at_its_path(tmp_path: Path) -> None:
    policy_with_cases(
        tmp_path, f"  - name: no line 7\n    example: {RETURN_ORDER}\n    set: {{items.7.quantity: 2}}\n    expect: {{fired: []}}\n"
    )
    result = run_ruleengine("test", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("rules/cases/c1.yaml:4:11: case_set: set items.7.quantity: 'items' has 1 entries; '7' is not one")


def test_an_override_of_an_unknown_parameter_is_an_error_at_its_name(tmp_path: Path) -> None:
    policy_with_cases(
        tmp_path, f"  - name: what-if\n    example: {RETURN_ORDER}\n    parameters: {{refund_sahre: 2}}\n    expect: {{fired: []}}\n"
    )
    result = run_ruleengine("test", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("rules/cases/c1.yaml:4:18: unknown_parameter: override of unknown parameter 'refund_sahre'")


def test_a_policy_that_does_not_load_exits_2_with_each_error_once(tmp_path: Path) -> None:
    rules = policy_with_cases(tmp_path, GOOD * 3, GOOD * 4)
    break_the_policy(rules)
    result = run_ruleengine("test", cwd=tmp_path)
    assert result.returncode == 2
    line, column = locate((rules / "claim.yaml").read_text(encoding="utf-8"), "tpye")
    assert result.stderr.splitlines() == [
        f"rules/claim.yaml:{line}:{column}: unknown_field: 'claim' has no field 'tpye' (did you mean 'type'?)",
        "1 error: the policy was not loaded: rules (./rules 含策略清单 has a policy manifest); no case ran",
    ]
    assert result.stdout == ""


def test_a_failing_case_says_field_expected_got_and_the_rule_briefly(tmp_path: Path) -> None:
    rules = policy_with_cases(
        tmp_path,
        f"  - name: wrong on purpose\n    example: {RETURN_ORDER}\n"
        "    expect: {claim.outcome: rejected, claim.refund_due_by: '2026-12-01T00:00:00+08:00'}\n",
    )
    # Ten more rules that could set the due date, none of which applies: the report names three and counts the rest.
    extra = "rules:\n" + "".join(
        f"  - id: tiny.due_{n}\n    title: {{zh: 到期{n}, en: due {n}}}\n    description: never here\n    stage: claim\n"
        f"    priority: {n}\n    scope: claimed_line\n    when: claim.type == 'repair'\n"
        "    then:\n      - set: {claim.refund_due_by: 'add_days(claim.requested_at, 3)'}\n"
        for n in range(1, 11)
    )
    (rules / "due.yaml").write_text(extra, encoding="utf-8")
    result = run_ruleengine("test", cwd=tmp_path)
    assert result.returncode == 1
    report = result.stdout.split("=" * 30 + " FAILURES " + "=" * 30)[1].strip().split("\n\n")[0].splitlines()
    assert report[0] == "FAILED rules/cases/c1.yaml:2 wrong on purpose"
    assert report[1] == "  claim.outcome: expected rejected, got approved"
    assert report[2] == "    set claim.outcome = approved by tiny.approve (rules/claim.yaml:2:5)"
    assert report[3] == "      because: claim.type == 'no_reason_return'"
    assert report[4] == "  claim.refund_due_by: expected 2026-12-01T00:00:00+08:00, got (absent)"
    assert report[5] == "    no rule set it; of the rules that can, these did not match:"
    assert len(report) == 10 and report[9].startswith("      … 7 more (ruleengine explain shows every rule)")


# ---------------------------------------------------------------- the pytest plugin says the same


def run_pytest(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "rules"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_pytest_plugin_reports_a_case_file_problem_the_same_way(tmp_path: Path) -> None:
    policy_with_cases(tmp_path, GOOD, f"  - name: typo\n    example: {RETURN_ORDER}\n    expect: {{claim.outcom: approved}}\n")
    result = run_pytest(tmp_path)
    assert result.returncode == 1
    assert "rules/cases/c2.yaml:4:14: case_expect: unknown decision field 'claim.outcom' (did you mean 'claim.outcome'?)" in result.stdout
    assert "1 failed, 1 passed" in result.stdout  # the good file still ran; the bad one ran none of its cases


def test_the_pytest_plugin_reports_a_policy_that_does_not_load_once(tmp_path: Path) -> None:
    rules = policy_with_cases(tmp_path, GOOD * 3, GOOD * 4)
    break_the_policy(rules)
    result = run_pytest(tmp_path)
    assert result.returncode == 1
    line, column = locate((rules / "claim.yaml").read_text(encoding="utf-8"), "tpye")
    # pytest repeats a failure's message in its short summary, whole when $CI is set: count the report only
    report = result.stdout.split("short test summary info")[0]
    assert report.count(f"rules/claim.yaml:{line}:{column}: unknown_field: 'claim' has no field 'tpye' (did you mean 'type'?)") == 1
    assert "1 failed in" in result.stdout
