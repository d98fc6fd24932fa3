"""``ruleengine publish``: a checked policy made live by one rename, which a service on ``RELEASES/current`` follows."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import EXAMPLES, RETURNS, replace_in
from server_support import DigestTally, running_server

import ruleengine

ORDER = (EXAMPLES / "seven-day-return-last-minute-approved.json").read_bytes()
VERSION = 'version: "1"'


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    """The tests' policy folder with its cases, and the example orders the cases name beside it (as in the repository)."""
    shutil.copytree(RETURNS, tmp_path / "src" / "rules")
    shutil.copytree(EXAMPLES, tmp_path / "src" / "examples" / "orders")
    return tmp_path / "src" / "rules"


def publish(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ruleengine.cli", "publish", *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def releases_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.is_symlink() and not p.name.startswith("."))


def test_publish_copies_a_checked_policy_into_a_release_and_points_current_at_it(rules: Path, tmp_path: Path) -> None:
    releases = tmp_path / "releases"
    run = publish(tmp_path, "--rules", str(rules), "--releases", str(releases))
    assert run.returncode == 0, run.stderr
    current = releases / "current"
    assert current.is_symlink() and not os.readlink(current).startswith("/")  # relative: the folder can move
    (release,) = releases_in(releases)
    assert os.readlink(current) == release and release in run.stdout and "cases passed" in run.stdout
    source = ruleengine.load_policy(rules)
    assert ruleengine.load_policy(current).digest == source.digest
    # The release carries its cases and the orders they name: checked again where it lies, they pass.
    assert (current / "cases").is_dir() and (current / "examples" / "orders").is_dir()
    check = subprocess.run(
        [sys.executable, "-m", "ruleengine.cli", "test", str(current / "cases"), "--rules", str(current)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.parametrize("edit", ["failing-cases", "broken-rule"])
def test_a_policy_that_fails_its_check_is_not_published(rules: Path, tmp_path: Path, edit: str) -> None:
    releases = tmp_path / "releases"
    assert publish(tmp_path, "--rules", str(rules), "--releases", str(releases)).returncode == 0
    before = os.readlink(releases / "current")
    if edit == "failing-cases":
        window = "seven_day_window_days:\n    type: days\n    value: {}"
        replace_in(rules / "parameters.yaml", window.format(7), window.format(15))
    else:
        window = "not within_days_after(logistics.signed_at, params.seven_day_window_days, claim.requested_at)"
        replace_in(rules / "guarantees" / "seven_day_return.yaml", window, window.replace("requested_at", "requested_att"))
    run = publish(tmp_path, "--rules", str(rules), "--releases", str(releases))
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "nothing was published" in run.stderr
    if edit == "failing-cases":
        assert "case_failed" in run.stderr and "cases/returns.yaml:" in run.stderr
    else:
        assert "guarantees/seven_day_return.yaml:" in run.stderr and "requested_att" in run.stderr
    assert os.readlink(releases / "current") == before
    assert releases_in(releases) == [before]
    assert not list(releases.glob(".incoming-*"))


def test_the_service_follows_publishes_and_a_rollback_and_never_answers_from_anything_else(rules: Path, tmp_path: Path) -> None:
    releases = tmp_path / "releases"
    assert publish(tmp_path, "--rules", str(rules), "--releases", str(releases)).returncode == 0
    first = ruleengine.load_policy(rules).digest
    with running_server(tmp_path, "--rules", str(releases / "current")) as server, server.client() as c:
        status = c.get("/v1/policy").json()
        assert status["digest"] == first and status["rules_folder"].endswith(os.readlink(releases / "current"))
        with DigestTally(server, ORDER) as tally:
            replace_in(rules / "policy.yaml", VERSION, 'version: "2"')
            second = ruleengine.load_policy(rules).digest
            run = publish(tmp_path, "--rules", str(rules), "--releases", str(releases))
            assert run.returncode == 0, run.stderr
            published = time.monotonic()
            server.wait_for(lambda: c.get("/v1/policy").json()["digest"] == second, timeout=20, what="the published release")
            live_after = time.monotonic() - published
            assert c.get("/v1/policy").json()["last_reload"]["trigger"] == "release"
            rolled = publish(tmp_path, "--releases", str(releases), "--rollback")
            assert rolled.returncode == 0 and "rolled back to" in rolled.stdout
            server.wait_for(lambda: c.get("/v1/policy").json()["digest"] == first, timeout=20, what="the rollback")
            time.sleep(0.5)
    print(f"\nlive {live_after:.2f} s after the publish; answers by digest: {dict(tally.digests)}")
    assert set(tally.digests) <= {first, second} and tally.digests[second] > 0
    assert not tally.errors


def test_old_releases_are_pruned_but_never_the_current_one(rules: Path, tmp_path: Path) -> None:
    releases = tmp_path / "releases"
    for n in range(3):
        replace_in(rules / "policy.yaml", f'version: "{n + 1}"', f'version: "{n + 2}"')
        assert publish(tmp_path, "--rules", str(rules), "--releases", str(releases), "--keep", "2").returncode == 0
    kept = releases_in(releases)
    assert len(kept) == 2 and os.readlink(releases / "current") == kept[-1]
    assert ruleengine.load_policy(releases / "current").version == "4"


def test_current_that_is_not_a_link_is_refused(rules: Path, tmp_path: Path) -> None:
    releases = tmp_path / "releases"
    (releases / "current").mkdir(parents=True)
    run = publish(tmp_path, "--rules", str(rules), "--releases", str(releases))
    assert run.returncode == 2 and "not a symbolic link" in run.stderr and "Traceback" not in run.stderr
