"""Only a complete, checked policy is served: a reload waits for the folder to settle and runs the policy's own cases.

The experiments of issue 14 run against the real service under load: a rule
file saved the way a non-atomic editor saves it (the first 80 lines, a pause,
then the rest) and a rule file deleted for 2 s. Every answer carries the
digest of the policy that decided it; every answer must come from the
complete policy.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import EXAMPLES, RETURNS, replace_in
from server_support import DigestTally, Server, running_server

from ruleengine.authoring.gate import CasesFailed
from ruleengine.service.livepolicy import LivePolicy

SEVEN_DAY = Path("guarantees") / "seven_day_return.yaml"
WINDOW_7 = "seven_day_window_days:\n    type: days\n    value: 7"
WINDOW_15 = "seven_day_window_days:\n    type: days\n    value: 15"
"""A valid edit that the policy's own cases reject (they pin the 7-day window)."""
ORDER = (EXAMPLES / "seven-day-return-last-minute-approved.json").read_bytes()


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    """A copy of the tests' policy with its cases, and the example orders the cases name beside it (as in the repository).

    The tests' own policy, not ``rules/``: a policy author's change to the default policy (whose cases
    then fail until they are updated) must not fail the engine's tests.
    """
    shutil.copytree(RETURNS, tmp_path / "rules")
    shutil.copytree(EXAMPLES, tmp_path / "examples" / "orders")
    return tmp_path / "rules"


# -- the gate in the library


def test_a_reload_whose_cases_fail_is_refused_and_reported_like_a_bad_policy(rules: Path) -> None:
    live = LivePolicy(rules, quiet_seconds=0.05)
    first = live.policy.digest
    assert live.status()["cases"]["failed"] == 0 and live.status()["cases"]["passed"] > 0
    replace_in(rules / "parameters.yaml", WINDOW_7, WINDOW_15)
    result = live.reload("watch")
    assert not result.ok and live.policy.digest == first
    status = live.status()
    error = status["last_reload_error"]["error"]
    assert error["error"] == "cases" and error["cases"]["failed"] > 0
    failure = error["cases"]["failures"][0]
    assert failure["file"].endswith(".yaml") and failure["line"] > 0 and failure["status"] in ("failed", "error")
    assert error["diagnostics"][0]["code"].startswith("case_") and "回归用例" in error["diagnostics"][0]["message"]
    assert status["serving_failing_cases"] is False
    replace_in(rules / "parameters.yaml", WINDOW_15, WINDOW_7)
    result = live.reload("watch")
    assert result.ok and live.status()["last_reload_error"] is None and live.policy.digest == first


def test_serving_failing_cases_is_possible_on_request_and_says_so(rules: Path) -> None:
    live = LivePolicy(rules, quiet_seconds=0.05, serve_failing_cases=True)
    first = live.policy.digest
    replace_in(rules / "parameters.yaml", WINDOW_7, WINDOW_15)
    result = live.reload("SIGHUP")
    assert result.ok and result.changed and result.failing_cases_served and live.policy.digest != first
    status = live.status()
    assert status["serving_failing_cases"] is True and status["cases"]["failed"] > 0
    assert status["last_reload"]["failing_cases_served"] is True


def test_a_policy_whose_cases_fail_does_not_start(rules: Path, tmp_path: Path) -> None:
    replace_in(rules / "parameters.yaml", WINDOW_7, WINDOW_15)
    with pytest.raises(CasesFailed) as raised:
        LivePolicy(rules)
    assert all(d.file.endswith(".yaml") and d.line > 0 for d in raised.value.diagnostics)
    run = subprocess.run(
        [sys.executable, "-m", "ruleengine.cli", "serve", "--rules", str(rules), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "case_failed" in run.stderr and "seven_day_return.yaml:" in run.stderr


def test_a_rule_file_deleted_for_a_moment_is_refused_by_the_cases_that_name_its_rules(rules: Path) -> None:
    live = LivePolicy(rules, quiet_seconds=0.05)
    first = live.policy.digest
    deleted = rules / "guarantees" / "on_time_shipment.yaml"
    kept = deleted.read_bytes()
    deleted.unlink()
    result = live.reload("watch")
    assert not result.ok and live.policy.digest == first
    assert result.error is not None and result.error["error"] == "cases"
    problems = result.error["cases"]["failures"]
    assert any(f["status"] == "problem" and "on_time_shipment" in f["message"] for f in problems)
    deleted.write_bytes(kept)
    assert live.reload("watch").ok and live.policy.digest == first


def _save_slowly(path: Path, head_lines: int, pause: float, content: bytes) -> None:
    """A non-atomic editor save: truncate, write the first lines, pause, write the rest."""
    lines = content.splitlines(keepends=True)
    with open(path, "wb") as handle:
        handle.write(b"".join(lines[:head_lines]))
        handle.flush()
        time.sleep(pause)
        handle.write(b"".join(lines[head_lines:]))


def test_a_save_in_progress_is_waited_for_and_a_stalled_one_is_refused(rules: Path) -> None:
    live = LivePolicy(rules, quiet_seconds=0.5)
    first = live.policy.digest
    content = (rules / SEVEN_DAY).read_bytes()
    # A pause shorter than the quiet period: the reload waits for the end of the save and finds the same policy.
    writer = threading.Thread(target=_save_slowly, args=(rules / SEVEN_DAY, 80, 0.3, content))
    writer.start()
    time.sleep(0.05)
    result = live.reload("watch")
    writer.join()
    assert result.ok and not result.changed and live.policy.digest == first
    # A save that stalls (longer than the quiet period and the load): the cut-down file is read, and refused.
    (rules / SEVEN_DAY).write_bytes(b"".join(content.splitlines(keepends=True)[:80]))
    result = live.reload("watch")
    assert not result.ok and live.policy.digest == first
    assert result.error is not None and result.error["error"] in ("cases", "policy")
    (rules / SEVEN_DAY).write_bytes(content)
    assert live.reload("watch").ok and live.status()["last_reload_error"] is None


# -- the service under load


def _status(c: httpx.Client) -> dict[str, object]:
    data: dict[str, object] = c.get("/v1/policy").json()
    return data


def _reloads(server: Server) -> int:
    with server.client() as c:
        text = c.get("/metrics").text
    return int(sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith("ruleengine_policy_reloads_total")))


@pytest.fixture
def serving(rules: Path, tmp_path: Path) -> Iterator[Server]:
    with running_server(tmp_path, "--rules", str(rules)) as server:
        yield server


def test_truncated_saves_and_a_deleted_file_never_serve_an_incomplete_policy(rules: Path, serving: Server) -> None:
    server = serving
    with server.client() as c:
        complete = str(_status(c)["digest"])

        def settled(before: int) -> bool:
            """A reload ran since ``before`` and the last one found the complete policy."""
            return _reloads(server) > before and _status(c)["last_reload_error"] is None

        seven_day = (rules / SEVEN_DAY).read_bytes()
        deleted = rules / "guarantees" / "on_time_shipment.yaml"
        kept = deleted.read_bytes()
        trials: list[tuple[str, int]] = []
        with DigestTally(server, ORDER) as tally:
            for pause in (0.3, 0.6, 1.0):
                before = _reloads(server)
                _save_slowly(rules / SEVEN_DAY, 80, pause, seven_day)
                server.wait_for(lambda before=before: settled(before), timeout=30, what="the reloads after the save")
                time.sleep(1.0)
                trials.append((f"save, pause {pause} s", sum(tally.digests.values())))
            before = _reloads(server)
            deleted.unlink()
            time.sleep(2.0)
            deleted.write_bytes(kept)
            server.wait_for(lambda: settled(before), timeout=30, what="the reloads after the file came back")
            time.sleep(1.0)
            trials.append(("delete for 2 s", sum(tally.digests.values())))
        print("\nanswers by policy digest:", dict(tally.digests), "errors:", dict(tally.errors), "answers after each trial:", trials)
        assert set(tally.digests) == {complete}, f"an incomplete policy answered: {dict(tally.digests)}"
        assert not tally.errors
        assert _status(c)["digest"] == complete


def test_failing_cases_are_shown_in_the_status_metrics_and_log_until_fixed(rules: Path, serving: Server) -> None:
    server = serving
    with server.client() as c:
        first = _status(c)["digest"]
        replace_in(rules / "parameters.yaml", WINDOW_7, WINDOW_15)
        server.wait_for(lambda: _status(c)["last_reload_error"] is not None, timeout=20, what="the refused reload")
        status = c.get("/v1/policy").json()
        assert status["digest"] == first
        error = status["last_reload_error"]["error"]
        assert error["error"] == "cases" and error["cases"]["failed"] > 0
        assert "ruleengine_policy_failing_cases " + str(float(error["cases"]["failed"])) in c.get("/metrics").text
        assert "regression case" in server.output() and "still serving" in server.output()
        assert c.post("/v1/decisions", content=ORDER).json()["policy"]["digest"] == first
        replace_in(rules / "parameters.yaml", WINDOW_15, WINDOW_7)
        server.wait_for(lambda: _status(c)["last_reload_error"] is None, timeout=20, what="the fixed policy")
        assert "ruleengine_policy_failing_cases 0.0" in c.get("/metrics").text


def test_serve_failing_cases_starts_loudly(rules: Path, tmp_path: Path) -> None:
    replace_in(rules / "parameters.yaml", WINDOW_7, WINDOW_15)
    with running_server(tmp_path, "--rules", str(rules), "--serve-failing-cases") as server, server.client() as c:
        status = c.get("/v1/policy").json()
        assert status["serving_failing_cases"] is True and status["cases"]["failed"] > 0
        assert "ruleengine_policy_serving_failing_cases 1.0" in c.get("/metrics").text
        assert "although" in server.output() and "regression cases fail" in server.output()
        assert c.post("/v1/decisions", content=ORDER).status_code == 200
    assert json.dumps(status["cases"]["failures"][0], ensure_ascii=False).count("seven_day") > 0
