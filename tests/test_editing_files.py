"""Adding and deleting files with the editor (issue 17): a new rule file and a deleted one are part of the
proposal that is validated, tested, compared and published (all or nothing) and reverted; new paths stay
inside the policy folder's own folders. Same set-up as tests/test_editing.py (its fixtures)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLES, RETURNS
from starlette.testclient import TestClient
from test_editing import ADMIN, _client

from ruleengine.authoring.proposalfiles import EditRefused, apply_atomically

MOVED = "guarantees/on_time_shipment.yaml"
NEW = "guarantees/shipping.yaml"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    shutil.copytree(RETURNS, tmp_path / "returns")
    shutil.copytree(EXAMPLES, tmp_path / "examples" / "orders")
    return tmp_path / "returns"


@pytest.fixture
def client(folder: Path) -> Iterator[TestClient]:
    with _client(folder) as c:
        yield c


def _move(folder: Path) -> dict[str, Any]:
    """The on-time-shipment rules moved to a new file: the old one deleted, the same text in a new one."""
    return {"files": {NEW: (folder / MOVED).read_text(encoding="utf-8")}, "delete": [MOVED]}


def test_the_listing_says_where_new_files_may_go(client: TestClient) -> None:
    listed = client.get("/v1/editing/files", headers=ADMIN).json()
    assert listed["new_file_folders"] == ["cases", "claims", "guarantees"]


def test_a_new_file_and_a_deleted_one_are_checked_as_part_of_the_proposal(client: TestClient, folder: Path) -> None:
    moved = _move(folder)
    checked = client.post("/v1/editing/cases", json=moved, headers=ADMIN).json()
    assert checked["loads"] and checked["ok"], checked
    # deleting alone loses the rules its cases expect; a new file with a broken rule is reported at its own line
    lost = client.post("/v1/editing/cases", json={"files": {}, "delete": [MOVED]}, headers=ADMIN).json()
    assert lost["loads"] and lost["cases"]["failed"] >= 1
    broken = client.post("/v1/editing/validate", json={"files": {"guarantees/new.yaml": "rules:\n  - id: [\n"}}, headers=ADMIN).json()
    assert not broken["loads"] and broken["diagnostics"][0]["file"] == "guarantees/new.yaml"
    impact = client.post("/v1/editing/impact", json=moved, headers=ADMIN).json()
    assert impact["changed"] == 0
    untouched = ["fast_refund.yaml", "on_time_shipment.yaml", "seven_day_return.yaml"]
    assert sorted(p.name for p in (folder / "guarantees").iterdir()) == untouched


@pytest.mark.parametrize(
    "path",
    [
        "../x.yaml",
        "guarantees/../../x.yaml",
        "/tmp/x.yaml",
        "guarantees/.hidden.yaml",
        "guarantees/x.txt",
        "guarantees/x.yml.sh",
        "x.yaml",
        "elsewhere/x.yaml",
        "guarantees/sub/x.yaml",
        "guarantees\\x.yaml",
        "guarantees//x.yaml",
    ],
)
def test_a_new_file_stays_a_yaml_file_in_one_of_the_policy_folders_own_folders(client: TestClient, folder: Path, path: str) -> None:
    def files() -> list[Path]:  # the publish log's lock file aside
        return sorted(p.relative_to(folder.parent) for p in folder.parent.rglob("*") if not p.name.endswith(".lock"))

    before = files()
    for route, more in (("validate", {}), ("publish", {"message": "m"})):
        refused = client.post(f"/v1/editing/{route}", json={"files": {path: "rules: []\n"}, **more}, headers=ADMIN)
        assert refused.status_code == 400 and refused.json()["error"] == "request", refused.text
        assert "新文件" in refused.json()["message"]
    assert files() == before


def test_a_deletion_names_an_editable_file_not_also_edited(client: TestClient, folder: Path) -> None:
    for delete in (["nope.yaml"], ["../tokens.yaml"], [1]):
        refused = client.post("/v1/editing/validate", json={"files": {}, "delete": delete}, headers=ADMIN)
        assert refused.status_code == 400, refused.text
    text = (folder / MOVED).read_text(encoding="utf-8")
    both = client.post("/v1/editing/validate", json={"files": {MOVED: text}, "delete": [MOVED]}, headers=ADMIN)
    assert both.status_code == 400 and "both edited and deleted" in both.json()["message"]
    assert (folder.parent / "tokens.yaml").exists()


def test_publish_creates_and_deletes_together_and_revert_puts_both_back(client: TestClient, folder: Path) -> None:
    served = client.get("/v1/policy", headers=ADMIN).json()["digest"]
    text = (folder / MOVED).read_text(encoding="utf-8")
    done = client.post("/v1/editing/publish", json={**_move(folder), "message": "准时发货规则换文件 move a file"}, headers=ADMIN)
    assert done.status_code == 200, done.text
    record = done.json()["published"]
    assert (record["files"], record["created"], record["deleted"]) == ([MOVED, NEW], [NEW], [MOVED])
    assert f"--- /dev/null\n+++ b/{NEW}" in record["diff"] and f"--- a/{MOVED}\n+++ /dev/null" in record["diff"]
    assert not (folder / MOVED).exists() and (folder / NEW).read_text(encoding="utf-8") == text
    assert not list(folder.rglob(".*editing-*")) and not list(folder.rglob(".*deleting-*"))
    assert done.json()["reload"]["ok"] and client.get("/v1/policy", headers=ADMIN).json()["digest"] == record["digest_after"]
    listed = {f["path"] for f in client.get("/v1/editing/files", headers=ADMIN).json()["files"]}
    assert NEW in listed and MOVED not in listed

    undone = client.post("/v1/editing/revert", json={}, headers=ADMIN)
    assert undone.status_code == 200, undone.text
    assert (undone.json()["reverted"]["created"], undone.json()["reverted"]["deleted"]) == ([MOVED], [NEW])
    assert (folder / MOVED).read_text(encoding="utf-8") == text and not (folder / NEW).exists()
    assert client.get("/v1/policy", headers=ADMIN).json()["digest"] == served
    log = [json.loads(line) for line in (folder.parent / "returns.publish-log.jsonl").read_text(encoding="utf-8").splitlines()]
    assert log[0]["before"] == {MOVED: text, NEW: None} and log[0]["after"] == {MOVED: None, NEW: text}


def test_a_revert_refuses_when_a_file_it_would_delete_was_changed(client: TestClient, folder: Path) -> None:
    assert client.post("/v1/editing/publish", json={**_move(folder), "message": "m"}, headers=ADMIN).status_code == 200
    (folder / NEW).write_text((folder / NEW).read_text(encoding="utf-8") + "# by hand\n", encoding="utf-8")
    refused = client.post("/v1/editing/revert", json={}, headers=ADMIN)
    assert refused.status_code == 409 and NEW in refused.json()["message"]
    assert (folder / NEW).exists() and not (folder / MOVED).exists()


def test_a_failed_rename_puts_every_file_back(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The last step (moving the deleted file aside) fails: the replaced file gets its text back, the new one goes."""
    edited = (folder / "parameters.yaml").read_bytes()
    original = {p: p.read_bytes() for p in folder.rglob("*.yaml")}
    real = os.replace
    calls: list[str] = []

    def failing(source: Any, target: Any) -> None:
        calls.append(str(target))
        if ".deleting-" in str(target):
            raise OSError(28, "No space left on device")
        real(source, target)

    monkeypatch.setattr(os, "replace", failing)
    with pytest.raises(EditRefused, match="nothing was changed"):
        apply_atomically(folder, {"parameters.yaml": edited + b"# x\n", NEW: b"rules: []\n", MOVED: None})
    assert len(calls) == 3
    assert {p: p.read_bytes() for p in folder.rglob("*.yaml")} == original
    assert not [p for p in folder.rglob("*") if p.name.startswith(".")]


def test_a_publish_that_creates_and_deletes_is_one_git_commit(folder: Path) -> None:
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, check=True).stdout

    git("init", "-q")
    git("-c", "user.name=t", "-c", "user.email=t@example.invalid", "add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-q", "-m", "start")
    with _client(folder) as client:
        done = client.post("/v1/editing/publish", json={**_move(folder), "message": "move"}, headers=ADMIN).json()["published"]
        assert git("show", "--no-renames", "--name-status", "--format=", done["commit"]).split() == ["D", MOVED, "A", NEW]
        reverted = client.post("/v1/editing/revert", json={}, headers=ADMIN).json()["reverted"]
        assert not reverted["commit"].startswith("failed") and git("status", "--porcelain") == ""
