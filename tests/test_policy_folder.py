"""One rule for which policy a command uses: --rules, else $RULEENGINE_RULES, else ./rules with a manifest, else bundled.

Every command follows it and says which policy it used; ``load_policy()`` follows it too.
The commands run as a user runs them: the ``ruleengine`` script in a folder of the test's own.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from tiny_policy import RETURN_ORDER, run_ruleengine, write_tiny_policy

import ruleengine
from ruleengine.bundled import default_rules_dir
from ruleengine.compile.policyfolder import BUNDLED, ENVIRONMENT, ENVIRONMENT_VARIABLE, GIVEN, WORKING_FOLDER, choose

LINE = re.compile(r"^策略 policy: (\S+) (\S+) (sha256:[0-9a-f]{64}) · (.+) \((.+)\)$")


def policy_line(stderr: str) -> tuple[str, str, str]:
    """(name, folder, why) from the one line a command writes about its policy."""
    (match,) = [m for m in map(LINE.match, stderr.splitlines()) if m]
    return match.group(1), match.group(4), match.group(5)


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """A working folder whose ./rules is the tiny policy, and a second policy elsewhere for $RULEENGINE_RULES."""
    write_tiny_policy(tmp_path / "work" / "rules", name="local")
    write_tiny_policy(tmp_path / "elsewhere", name="from-env")
    write_tiny_policy(tmp_path / "given", name="given")
    return tmp_path / "work"


# ---------------------------------------------------------------- the rule


def test_the_rule_step_by_step(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(work)
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, str(work.parent / "elsewhere"))
    assert choose(work.parent / "given") == type(choose())(work.parent / "given", GIVEN)
    assert (choose().path, choose().chosen_by) == (work.parent / "elsewhere", ENVIRONMENT)
    monkeypatch.delenv(ENVIRONMENT_VARIABLE)
    assert (choose().path, choose().chosen_by) == (Path("rules"), WORKING_FOLDER)
    (work / "rules" / "policy.yaml").unlink()  # ./rules without a manifest is not a policy
    assert (choose().path, choose().chosen_by) == (default_rules_dir(), BUNDLED)


def test_an_empty_environment_variable_counts_as_unset(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(work)
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, "")
    assert choose().chosen_by == WORKING_FOLDER


def test_load_policy_follows_the_same_rule(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(work)
    monkeypatch.delenv(ENVIRONMENT_VARIABLE, raising=False)
    assert ruleengine.load_policy().name == "local"
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, str(work.parent / "elsewhere"))
    assert ruleengine.load_policy().name == "from-env"
    assert ruleengine.load_policy(work.parent / "given").name == "given"
    monkeypatch.chdir(work.parent)
    monkeypatch.delenv(ENVIRONMENT_VARIABLE)
    assert ruleengine.load_policy().root == default_rules_dir()


# ---------------------------------------------------------------- every command


def _diff_orders(folder: Path) -> Path:
    path = folder / "orders.jsonl"
    path.write_text(json.dumps(json.loads(RETURN_ORDER.read_text(encoding="utf-8"))) + "\n", encoding="utf-8")
    return path


COMMANDS = {
    "validate": lambda w: ["validate"],
    "lint": lambda w: ["lint"],
    "evaluate": lambda w: ["evaluate", str(RETURN_ORDER)],
    "explain": lambda w: ["explain", str(RETURN_ORDER)],
    "test": lambda w: ["test"],
    "diff": lambda w: ["diff", str(_diff_orders(w)), "--base", str(w.parent / "given")],
    "catalogue": lambda w: ["catalogue"],
}


@pytest.fixture
def with_a_case(work: Path) -> Path:
    for folder in (work / "rules", work.parent / "elsewhere", work.parent / "given"):
        (folder / "cases").mkdir()
        (folder / "cases" / "one.yaml").write_text(
            f"cases:\n  - name: approved\n    example: {RETURN_ORDER}\n    expect: {{claim.outcome: approved}}\n", encoding="utf-8"
        )
    return work


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_uses_and_names_the_same_policy_at_each_step(with_a_case: Path, command: str) -> None:
    work = with_a_case
    args = COMMANDS[command](work)
    local = run_ruleengine(*args, cwd=work)
    assert local.returncode == 0, local.stderr
    assert policy_line(local.stderr) == ("local", "rules", "./rules 含策略清单 has a policy manifest")

    from_env = run_ruleengine(*args, cwd=work, env={ENVIRONMENT_VARIABLE: str(work.parent / "elsewhere")})
    assert from_env.returncode == 0, from_env.stderr
    name, folder, why = policy_line(from_env.stderr)
    assert (name, Path(folder).resolve()) == ("from-env", (work.parent / "elsewhere").resolve())
    assert why == f"由环境变量指定 from ${ENVIRONMENT_VARIABLE}"

    given = run_ruleengine(*args, "--rules", str(work.parent / "given"), cwd=work, env={ENVIRONMENT_VARIABLE: "/nowhere"})
    assert given.returncode == 0, given.stderr
    name, folder, why = policy_line(given.stderr)
    assert (name, why) == ("given", "由 --rules 指定 given with --rules")


def test_without_rules_nearby_the_bundled_policy_is_used(tmp_path: Path) -> None:
    result = run_ruleengine("validate", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    _, folder, why = policy_line(result.stderr)
    assert Path(folder).resolve() == default_rules_dir().resolve() and why == "内置默认策略 the bundled default"


def test_the_json_reports_carry_the_policy_and_a_decision_does_not_carry_the_folder(work: Path) -> None:
    report = run_ruleengine("validate", "--format", "json", cwd=work)
    assert report.returncode == 0 and report.stderr == ""
    policy = json.loads(report.stdout)["policy"]
    assert policy["name"] == "local" and policy["folder"] == "rules" and policy["chosen_by"] == WORKING_FOLDER
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", policy["digest"])
    lint = json.loads(run_ruleengine("lint", "--format", "json", cwd=work).stdout)
    assert lint["policy"] == policy
    decision = run_ruleengine("evaluate", str(RETURN_ORDER), "--format", "json", cwd=work)
    assert decision.returncode == 0
    assert json.loads(decision.stdout)["policy"] == {k: policy[k] for k in ("name", "version", "digest")}
    assert str(work) not in decision.stdout and '"rules"' not in decision.stdout


def test_the_positional_folder_is_an_alias_of_rules(work: Path) -> None:
    given = str(work.parent / "given")
    assert policy_line(run_ruleengine("validate", given, cwd=work).stderr)[0] == "given"
    assert policy_line(run_ruleengine("lint", given, cwd=work).stderr)[0] == "given"
    twice = run_ruleengine("validate", given, "--rules", "rules", cwd=work)
    assert twice.returncode == 2 and "usage error: the policy folder is given twice" in twice.stderr


def test_a_missing_folder_named_by_the_environment_says_so(work: Path) -> None:
    result = run_ruleengine("validate", cwd=work, env={ENVIRONMENT_VARIABLE: "no-such-folder"})
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "no-such-folder:1:1: not_found: policy folder does not exist",
        f"1 error: the policy was not loaded: no-such-folder (由环境变量指定 from ${ENVIRONMENT_VARIABLE})",
    ]


# ---------------------------------------------------------------- test and catalogue follow the chosen folder


def test_test_without_arguments_runs_the_cases_of_the_chosen_folder(with_a_case: Path) -> None:
    work = with_a_case
    (work.parent / "elsewhere" / "cases" / "two.yaml").write_text(
        f"cases:\n  - name: also approved\n    example: {RETURN_ORDER}\n    expect: {{claim.outcome: approved}}\n", encoding="utf-8"
    )
    local = run_ruleengine("test", cwd=work)
    assert "rules/cases/one.yaml ." in local.stdout and "1 passed, 0 failed" in local.stdout
    elsewhere = run_ruleengine("test", cwd=work, env={ENVIRONMENT_VARIABLE: str(work.parent / "elsewhere")})
    assert "2 passed, 0 failed" in elsewhere.stdout, elsewhere.stdout + elsewhere.stderr


def test_a_case_file_given_by_path_runs_against_the_policy_it_lives_in(with_a_case: Path) -> None:
    work = with_a_case
    result = run_ruleengine("test", str(work.parent / "given" / "cases" / "one.yaml"), cwd=work)
    assert result.returncode == 0, result.stdout + result.stderr
    name, _, why = policy_line(result.stderr)
    assert (name, why) == ("given", "用例所在的策略 where the case files live")


def test_catalogue_output_without_rules_is_the_catalogue_of_the_chosen_policy(work: Path) -> None:
    result = run_ruleengine("catalogue", "-o", "catalogue.md", cwd=work)
    assert result.returncode == 0, result.stderr
    text = (work / "catalogue.md").read_text(encoding="utf-8")
    assert "`tiny.approve`" in text and "local" in text


def test_serve_uses_the_same_rule_and_says_which_policy(work: Path) -> None:
    pytest.importorskip("starlette")
    from server_support import running_server

    write_tiny_policy(work.parent / "serve" / "rules", name="served")
    with running_server(work.parent / "serve") as server:
        status = server.client().get("/v1/policy").json()
        assert status["name"] == "served"
        name, folder, why = policy_line(server.output())
        assert (name, folder, why) == ("served", "rules", "./rules 含策略清单 has a policy manifest")


def test_the_readme_states_the_rule() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    assert f"`{ENVIRONMENT_VARIABLE}`" in readme and "`./rules`" in readme and "--rules DIR" in readme
