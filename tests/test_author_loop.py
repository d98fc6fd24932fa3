"""The policy author's loop, through the CLI: edit a rule → lint → test --coverage → explain → diff.

Lint runs on the default policy and on copies (of it, or of the error tests' policy) with planted mistakes;
cases, explanations and diffs run on the tests' own policy (tests/policies/returns), so the windows and
scores they change are the tests' own.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import EXAMPLES, RETURNS, RULES, replace_in

import ruleengine
from ruleengine.cli import main

ROOT = RULES.parent
SEVEN = Path("guarantees") / "seven_day_return.yaml"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


# ---------------------------------------------------------------- lint


def test_lint_of_the_bundled_policy_is_clean() -> None:
    code, out, _ = run("lint", str(RULES))
    assert code == 0
    assert out.strip().endswith("0 errors, 0 warnings")


def test_lint_names_a_misspelled_fact_with_did_you_mean(errors_copy: Callable[..., Path]) -> None:
    root = errors_copy()  # the error tests' own policy: the default policy's text is its authors' to change
    replace_in(root / SEVEN, "expr: not item.gift\n", "expr: not item.gfit\n")
    code, out, err = run("lint", str(root))
    assert code == 2
    assert "seven_day_return.yaml:" in err and "unknown_field" in err and "did you mean 'gift'" in err
    assert "Traceback" not in out + err


def test_lint_lists_the_allowed_values_of_a_misspelled_enum(errors_copy: Callable[..., Path]) -> None:
    root = errors_copy()  # the error tests' own policy: the default policy's text is its authors' to change
    shop_types = [term.code for term in ruleengine.load_policy(root).vocabulary.sets["shop_type"].terms]
    replace_in(root / SEVEN, "expr: not item.gift\n", "expr: shop.type == 'offical_flagship'\n")
    code, _, _ = run("lint", str(root), "--format", "json")
    assert code == 2
    data = json.loads(_stdout_json(root))
    (d,) = [d for d in data["diagnostics"] if d["severity"] == "error"]
    assert d["code"] == "enum_value" and "did you mean 'official_flagship'" in d["message"]
    assert f"allowed: {', '.join(shop_types)}" in d["message"]


def _stdout_json(root: Path) -> str:
    return CliRunner().invoke(main, ["lint", str(root), "--format", "json"]).stdout


def test_lint_warns_about_unused_parameters_rules_that_never_match_and_same_priority_writes(policy_copy: Callable[..., Path]) -> None:
    root = policy_copy()
    (root / "extra.yaml").write_text(
        """# yaml-language-server: $schema=../schemas/rule.schema.json
parameters:
  forgotten_cap: {type: integer, value: 10, description: 未使用 / not used}
rules:
  - id: extra.contradiction
    title: {zh: 矛盾, en: Contradiction}
    description: never true
    stage: claim
    priority: 70
    scope: claimed_line
    when:
      all:
        - claim.type == 'no_reason_return'
        - claim.type == 'quality_issue'
    then:
      - set: {claim.outcome: rejected}
  - id: extra.rival
    title: {zh: 冲突, en: Rival}
    description: sets the outcome at the same priority as seven_day_return.approve_return
    stage: claim
    priority: 70
    scope: claimed_line
    when: claim.item_condition == 'intact'
    then:
      - set: {claim.outcome: needs_review}
""",
        encoding="utf-8",
    )
    code, out, _ = run("lint", str(root))
    assert code == 0  # warnings do not fail
    assert "unused_parameter: parameter 'forgotten_cap' is not used by any rule" in out
    assert "never_fires: rule extra.contradiction can never match: its conditions leave no value for claim.type" in out
    assert "same_priority_write: rules" in out and "extra.rival" in out and "claim.outcome" in out


# ---------------------------------------------------------------- test


def test_a_policy_s_cases_pass_with_full_rule_coverage() -> None:
    # The default policy's cases are run by pytest itself (rules/cases/); test_policy_cases.py checks that
    # together they expect every rule to fire, and CI runs this same command on them.
    code, out, _ = run("test", str(RETURNS / "cases"), "--coverage", "--fail-under", "100")
    assert code == 0, out
    last = out.strip().splitlines()
    assert any(line.endswith(" passed, 0 failed") for line in last[-2:])
    assert "coverage: rules " in out and "(100.0%)" in out.split("coverage: rules ")[1].split(",")[0]


def _single_case(tmp: Path, body: str) -> Path:
    shutil.copytree(RETURNS, tmp / "rules", ignore=shutil.ignore_patterns("cases"))
    (tmp / "rules" / "cases").mkdir()
    shutil.copytree(EXAMPLES.parent, tmp / "examples")
    path = tmp / "rules" / "cases" / "one.yaml"
    path.write_text("cases:\n" + body, encoding="utf-8")
    return path


def test_a_failing_case_shows_field_expected_actual_and_the_rule(tmp_path: Path) -> None:
    path = _single_case(tmp_path, """  - name: wrong on purpose
    example: seven-day-return-late-rejected.json
    expect: {claim.outcome: approved}
""")
    code, out, _ = run("test", str(path))
    assert code == 1
    assert "FAILED" in out and "wrong on purpose" in out
    assert "claim.outcome: expected approved, got rejected" in out
    assert "by seven_day_return.late (" in out and "seven_day_return.yaml:" in out
    assert out.strip().splitlines()[-2] == "0 passed, 1 failed"


def test_junit_report_for_ci(tmp_path: Path) -> None:
    path = _single_case(tmp_path, """  - name: passes
    example: seven-day-return-late-rejected.json
    expect: {claim.outcome: rejected}
  - name: fails
    example: seven-day-return-late-rejected.json
    expect: {claim.outcome: approved}
""")
    report = tmp_path / "junit.xml"
    code, out, _ = run("test", str(path), "--format", "junit", "-o", str(report))
    assert code == 1 and out.strip() == "1 passed, 1 failed"
    suites = ET.fromstring(report.read_text(encoding="utf-8"))
    assert suites.get("tests") == "2" and suites.get("failures") == "1"
    failure = suites.find(".//testcase[@name='fails']/failure")
    assert failure is not None and "expected approved, got rejected" in (failure.text or "")


def test_a_case_whose_order_does_not_validate_is_an_error_never_a_pass(tmp_path: Path) -> None:
    path = _single_case(tmp_path, "  - name: bad facts\n    example: plain-order-no-claim.json\n    set: {shop.type: boutique}\n"
                                  "    expect: {fired: []}\n")
    code, out, _ = run("test", str(path))
    assert code == 1
    assert "does not validate" in out
    assert out.strip().splitlines()[-2].startswith("0 passed, 1 failed")


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("  - name: asserts nothing\n    example: plain-order-no-claim.json\n    expect: {}\n", "one.yaml:4:13: case_schema: "),
        (
            "  - name: no such example\n    example: plain-order-no-claim.jsn\n    expect: {fired: []}\n",
            "one.yaml:3:14: example_not_found: example 'plain-order-no-claim.jsn' not found next to the case file or in "
            "examples/orders/ (did you mean 'plain-order-no-claim.json'?)",
        ),
    ],
)
def test_a_case_file_that_asserts_nothing_or_names_no_order_runs_nothing(tmp_path: Path, body: str, words: str) -> None:
    path = _single_case(tmp_path, body)
    code, out, err = run("test", str(path))
    assert code == 2
    assert words in err
    assert err.strip().endswith("1 error in case files: no case ran")
    assert "passed" not in out


def test_coverage_shows_a_shadowed_rule_that_never_fires(tmp_path: Path) -> None:
    path = _single_case(tmp_path, """  - name: a late request
    example: seven-day-return-late-rejected.json
    expect: {claim.outcome: rejected}
""")
    # A copy of the late rule, placed below a rule that always stops the group first: it can never fire.
    seven = tmp_path / "rules" / SEVEN
    text = seven.read_text(encoding="utf-8")
    shadow = text[text.index("  - id: seven_day_return.late"):text.index("  - id: seven_day_return.condition")]
    shadow = shadow.replace("seven_day_return.late", "seven_day_return.late_again").replace("priority: 90", "priority: 89")
    seven.write_text(text + "\n" + shadow, encoding="utf-8")
    code, out, _ = run("test", str(path), "--coverage", "--fail-under", "100")
    assert code == 1
    assert "rules never fired:" in out and "  seven_day_return.late_again" in out
    assert ("condition branches" in out and "never true" in out) or "never false" in out


# ---------------------------------------------------------------- explain


def test_explain_says_why_in_chinese_first_with_the_values() -> None:
    code, out, _ = run("explain", str(EXAMPLES / "seven-day-return-late-rejected.json"), "--rules", str(RETURNS))
    assert code == 0
    assert "规则说明 Explanation" in out
    assert "申请时间 2026-11-19 00:00 不早于 7 天期限截止时刻 2026-11-19 00:00（签收 2026-11-11 15:20）" in out
    assert "start_of_day(logistics.signed_at) + days(7 + 1) = 2026-11-19 00:00" in out
    assert "params.seven_day_window_days = 7" in out
    assert "7天无理由退换货 seven_day_return" in out


# ---------------------------------------------------------------- diff


def _corpus(tmp: Path) -> Path:
    lines = [json.dumps(json.loads(p.read_text(encoding="utf-8")), ensure_ascii=False) for p in sorted(EXAMPLES.glob("*.json"))]
    path = tmp / "orders.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_diff_against_a_folder_reports_changes_money_and_examples(tmp_path: Path, returns_copy: Callable[..., Path]) -> None:
    changed = returns_copy()
    window = "seven_day_window_days:\n    type: days\n    value: {}\n"
    replace_in(changed / "parameters.yaml", window.format(7), window.format(15))
    code, out, _ = run("diff", str(_corpus(tmp_path)), "--base", str(RETURNS), "--rules", str(changed), "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["changed"] >= 1 and data["orders"] == len(list(EXAMPLES.glob("*.json")))
    kinds = {(c["guarantee"], c["field"], c["change"]): c for c in data["changes"]}
    flip = kinds[("seven_day_return", "claim.outcome", "rejected → approved")]
    assert "TM2026110800003" in flip["examples"]
    assert Decimal(data["money"]["refunds"]["delta"]) > 0  # amounts are decimal strings here too
    assert data["money"]["compensations"]["delta"] == "0.00"


def test_diff_against_a_git_revision(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(RETURNS, repo / "rules")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "add", "rules"], check=True)
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base"], check=True)
    replace_in(repo / "rules" / "parameters.yaml", "fast_refund_min_credit_score:\n    type: integer\n    value: 600\n",
               "fast_refund_min_credit_score:\n    type: integer\n    value: 650\n")
    code, out, _ = run("diff", str(_corpus(tmp_path)), "--base", "HEAD", "--rules", str(repo / "rules"))
    assert code == 0, out
    assert "against HEAD (" in out
    assert re.search(r"fast_refund +services +\d+ +-fast_refund ×\d+", out), out
    replace_in(repo / "rules" / "parameters.yaml", "fast_refund_min_credit_score:\n    type: integer\n    value: 650\n",
               "fast_refund_min_credit_score:\n    type: integer\n    value: 600\n")
    code, out, _ = run("diff", str(_corpus(tmp_path)), "--base", "HEAD", "--rules", str(repo / "rules"))
    assert code == 0 and "no decision changed" in out, out  # the folder as committed


def test_the_readme_shows_the_authors_loop() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for command in ("ruleengine lint", "ruleengine test --coverage", "ruleengine diff --base HEAD", "ruleengine explain"):
        assert command in readme
