"""Rule editing through the service (issue 17 point 3): the policy's files read, a proposal checked (diagnostics,
regression cases, impact) without touching the folder, then published atomically, recorded, reloaded and reverted.

Each test serves its own copy of the tests' policy (tests/policies/returns, with the example orders its cases
name) in process, with ``editing=True`` and a token file holding an admin token and a decide/read token.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLES, RETURNS, locate
from starlette.testclient import TestClient

from ruleengine.service import ConfigError, ServerConfig
from ruleengine.service.app import create_app

TOKENS = {"alice": ("admin-secret-token", "[admin, read, decide]"), "bob": ("reader-secret-token", "[read, decide]")}
ADMIN = {"authorization": "Bearer admin-secret-token"}
READER = {"authorization": "Bearer reader-secret-token"}
WINDOW = re.compile(r"(  seven_day_window_days:\n    type: days\n    value: )\d+\n")
ROUTES = [
    ("GET", "/v1/editing/files", None),
    ("GET", "/v1/editing/file?path=parameters.yaml", None),
    ("POST", "/v1/editing/validate", {"files": {}}),
    ("POST", "/v1/editing/cases", {"files": {}}),
    ("POST", "/v1/editing/impact", {"files": {}}),
    ("POST", "/v1/editing/publish", {"files": {}, "message": "m"}),
    ("POST", "/v1/editing/revert", {}),
]


def _tokens(tmp_path: Path, scopes: dict[str, tuple[str, str]] = TOKENS) -> Path:
    path = tmp_path / "tokens.yaml"
    lines = ["tokens:"]
    for name, (token, granted) in scopes.items():
        lines.append(f"  - {{name: {name}, sha256: {hashlib.sha256(token.encode()).hexdigest()}, scopes: {granted}}}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """tmp_path/returns: the tests' policy, with tmp_path/examples/orders above it for its cases."""
    shutil.copytree(RETURNS, tmp_path / "returns")
    shutil.copytree(EXAMPLES, tmp_path / "examples" / "orders")
    return tmp_path / "returns"


def _client(folder: Path, **config: Any) -> TestClient:
    settings: dict[str, Any] = {"rules": folder, "editing": True, "auth_token_file": _tokens(folder.parent), "watch": False, **config}
    return TestClient(create_app(ServerConfig(**settings)))


@pytest.fixture
def client(folder: Path) -> Iterator[TestClient]:
    with _client(folder) as c:
        yield c


def _window(days: int, folder: Path) -> dict[str, str]:
    """parameters.yaml with the seven-day window's value changed."""
    text = (folder / "parameters.yaml").read_text(encoding="utf-8")
    edited, count = WINDOW.subn(rf"\g<1>{days}\n", text)
    assert count == 1
    return {"parameters.yaml": edited}


def _decide(client: TestClient, example: str) -> Any:
    body = (EXAMPLES / f"{example}.json").read_bytes()
    response = client.post("/v1/decisions", content=body, headers={**ADMIN, "content-type": "application/json"})
    assert response.status_code == 200, response.text
    return response.json()


# -- who may edit, and when


def test_every_editing_route_needs_the_admin_token(client: TestClient) -> None:
    for method, path, body in ROUTES:
        anonymous = client.request(method, path, json=body)
        assert anonymous.status_code == 401, (path, anonymous.text)
        reader = client.request(method, path, json=body, headers=READER)
        assert reader.status_code == 403 and reader.json()["error"] == "insufficient_scope", (path, reader.text)
        assert "'admin'" in reader.json()["message"]


def test_editing_is_off_unless_the_service_is_started_with_it(folder: Path) -> None:
    with _client(folder, editing=False) as client:
        for method, path, body in ROUTES:
            response = client.request(method, path, json=body, headers=ADMIN)
            assert response.status_code == 404, (path, response.text)
            assert response.json()["error"] == "not_found" and "--editing" in response.json()["message"]


def test_editing_is_refused_at_start_without_an_admin_token(folder: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--editing needs --auth-token-file"):
        create_app(ServerConfig(rules=folder, editing=True, watch=False))
    readers = _tokens(tmp_path, {"bob": TOKENS["bob"]})
    with pytest.raises(ConfigError, match="'admin' scope"):
        create_app(ServerConfig(rules=folder, editing=True, auth_token_file=readers, watch=False))
    with pytest.raises(ConfigError, match="--rules"):
        create_app(ServerConfig(rules=None, editing=True, auth_token_file=_tokens(tmp_path), watch=False))


def test_editing_a_release_is_refused_at_start(folder: Path, tmp_path: Path) -> None:
    from ruleengine.authoring.publish import publish

    releases = tmp_path / "releases"
    published = publish(folder, releases)
    tokens = _tokens(tmp_path)
    for rules in (releases / "current", published.path, published.path / "guarantees"):
        with pytest.raises(ConfigError, match=r"不能编辑已发布的版本 .* is a release of .*releases.*never changed in place"):
            create_app(ServerConfig(rules=rules, editing=True, auth_token_file=tokens, watch=False))
    with _client(folder) as source:  # the source folder it was published from stays editable
        assert source.get("/v1/editing/files", headers=ADMIN).status_code == 200
    command = [sys.executable, "-m", "ruleengine.cli", "serve", "--rules", str(releases / "current"), "--editing"]
    done = subprocess.run(
        [*command, "--auth-token-file", str(tokens), "--port", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "不能编辑已发布的版本" in done.stderr and "Traceback" not in done.stderr


def test_the_cli_refuses_editing_without_a_token_file(folder: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ruleengine.cli", "serve", "--rules", str(folder), "--editing", "--port", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--editing needs --auth-token-file" in done.stderr


# -- reading and checking


def test_the_files_are_listed_and_read_but_nothing_outside_the_folder(client: TestClient, folder: Path) -> None:
    listed = client.get("/v1/editing/files", headers=ADMIN).json()
    kinds = {f["path"]: f["kind"] for f in listed["files"]}
    assert kinds["guarantees/seven_day_return.yaml"] == "policy" and kinds["cases/returns.yaml"] == "cases"
    read = client.get("/v1/editing/file", params={"path": "guarantees/seven_day_return.yaml"}, headers=ADMIN)
    assert read.json()["text"] == (folder / "guarantees" / "seven_day_return.yaml").read_text(encoding="utf-8")
    for path in ("../tokens.yaml", "/etc/passwd", "guarantees/../../tokens.yaml", "nope.yaml"):
        refused = client.get("/v1/editing/file", params={"path": path}, headers=ADMIN)
        assert refused.status_code == 404 and "no such file" in refused.json()["message"], path
    outside = client.post("/v1/editing/validate", json={"files": {"../x.yaml": "a: 1"}}, headers=ADMIN)
    assert outside.status_code == 400 and "not a path a new file may have" in outside.json()["message"]
    assert not (folder.parent / "x.yaml").exists()


def test_a_bad_edit_gets_every_diagnostic_at_its_line_and_column_in_chinese_and_english(client: TestClient, folder: Path) -> None:
    path = folder / "guarantees" / "seven_day_return.yaml"
    text = path.read_text(encoding="utf-8").replace("claim.item_condition not in", "claim.item_conditon not in", 1)
    line, column = locate(text, "claim.item_conditon")
    answer = client.post("/v1/editing/validate", json={"files": {"guarantees/seven_day_return.yaml": text}}, headers=ADMIN).json()
    assert answer["ok"] is False and answer["loads"] is False and answer["digest"] is None
    [found] = [d for d in answer["diagnostics"] if d["severity"] == "error"]
    assert (found["file"], found["line"]) == ("guarantees/seven_day_return.yaml", line)
    assert found["column"] >= column
    assert found["zh"].startswith(f"guarantees/seven_day_return.yaml 第 {line} 行第 {found['column']} 列：")
    assert found["zh"].endswith("未知的字段「item_conditon」，是否应为「item_condition」？")
    assert found["en"].startswith(f"guarantees/seven_day_return.yaml:{line}:{found['column']}: ") and "item_conditon" in found["en"]
    assert path.read_text(encoding="utf-8") != text  # nothing written
    broken = client.post("/v1/editing/validate", json={"files": {"policy.yaml": "name: [\n"}}, headers=ADMIN).json()
    assert broken["diagnostics"][0]["zh"].startswith("policy.yaml 第 2 行") and "YAML" in broken["diagnostics"][0]["zh"]
    good = client.post("/v1/editing/validate", json={"files": _window(7, folder)}, headers=ADMIN).json()
    assert good == {"ok": True, "loads": True, "digest": client.get("/v1/policy", headers=ADMIN).json()["digest"], "diagnostics": []}


def test_the_cases_run_on_the_proposed_files_with_the_failing_expectations(client: TestClient, folder: Path) -> None:
    answer = client.post("/v1/editing/cases", json={"files": _window(6, folder)}, headers=ADMIN).json()
    cases = answer["cases"]
    assert answer["loads"] is True and answer["ok"] is False and cases["failed"] >= 1
    assert cases["passed"] + cases["failed"] == len(cases["results"])
    failed = [r for r in cases["results"] if r["status"] == "failed"]
    assert any(
        m["path"] == "claim.outcome" and m["expected"] == "approved" and m["actual"] == "rejected" for r in failed for m in r["mismatches"]
    )
    assert all(r["file"] == "cases/returns.yaml" and r["line"] > 0 for r in cases["results"])
    unchanged = client.post("/v1/editing/cases", json={"files": {}}, headers=ADMIN).json()
    assert (
        unchanged["ok"] is True and unchanged["cases"]["failed"] == 0 and unchanged["cases"]["passed"] == len(unchanged["cases"]["results"])
    )


def test_the_impact_compares_the_served_policy_with_the_proposed_one(client: TestClient, folder: Path) -> None:
    answer = client.post("/v1/editing/impact", json={"files": _window(6, folder)}, headers=ADMIN).json()
    assert answer["corpus"]["kind"] == "examples" and answer["orders"] == len(list(EXAMPLES.glob("*.json")))
    assert answer["changed"] >= 1 and answer["changed_orders"]
    assert answer["digest_served"] != answer["digest_proposed"]
    generated = client.post("/v1/editing/impact", json={"files": {}, "corpus": "generated", "count": 50}, headers=ADMIN).json()
    assert generated["orders"] == 50 and generated["changed"] == 0
    # the example orders sent as JSON lines: the same orders, the same changes
    lines = "\n".join(json.dumps(json.loads(path.read_text(encoding="utf-8"))) for path in sorted(EXAMPLES.glob("*.json")))
    sent = client.post("/v1/editing/impact", json={"files": _window(6, folder), "corpus": "lines", "lines": lines}, headers=ADMIN).json()
    assert sent["corpus"] == {"kind": "lines", "orders": answer["orders"]}
    assert (sent["changed"], sent["money"]) == (answer["changed"], answer["money"])
    bad = client.post("/v1/editing/impact", json={"files": {"policy.yaml": "name: [\n"}}, headers=ADMIN)
    assert bad.status_code == 422 and bad.json()["error"] == "policy" and bad.json()["diagnostics"]


# -- publishing and reverting


def test_failing_cases_block_a_publish_unless_overridden(client: TestClient, folder: Path) -> None:
    before = (folder / "parameters.yaml").read_bytes()
    refused = client.post("/v1/editing/publish", json={"files": _window(6, folder), "message": "shorter window"}, headers=ADMIN)
    assert refused.status_code == 422 and refused.json()["error"] == "cases"
    assert "override_failing_cases" in refused.json()["message"] and refused.json()["cases"]["failed"] >= 1
    assert (folder / "parameters.yaml").read_bytes() == before
    bad = client.post(
        "/v1/editing/publish", json={"files": {"policy.yaml": "name: [\n"}, "message": "x", "override_failing_cases": True}, headers=ADMIN
    )
    assert bad.status_code == 422 and bad.json()["error"] == "policy"  # a policy that does not load is never published
    overriding = {"files": _window(6, folder), "message": "shorter window", "override_failing_cases": True}
    not_served = client.post("/v1/editing/publish", json=overriding, headers=ADMIN)  # the reload gate would not serve it
    assert not_served.status_code == 422 and "--serve-failing-cases" in not_served.json()["message"]
    assert (folder / "parameters.yaml").read_bytes() == before
    no_message = client.post("/v1/editing/publish", json={"files": _window(8, folder), "message": " "}, headers=ADMIN)
    assert no_message.status_code == 400 and "message" in no_message.json()["message"]


def test_a_service_that_serves_failing_cases_publishes_over_them_when_told(folder: Path) -> None:
    with _client(folder, serve_failing_cases=True) as client:
        served = client.get("/v1/policy", headers=ADMIN).json()["digest"]
        refused = client.post("/v1/editing/publish", json={"files": _window(6, folder), "message": "m"}, headers=ADMIN)
        assert refused.status_code == 422 and refused.json()["error"] == "cases"
        forced = client.post(
            "/v1/editing/publish", json={"files": _window(6, folder), "message": "m", "override_failing_cases": True}, headers=ADMIN
        )
        assert forced.status_code == 200, forced.text
        record = forced.json()["published"]
        assert record["override_failing_cases"] is True and record["cases"]["failed"] >= 1
        assert forced.json()["reload"] == {"ok": True, "digest": record["digest_after"]}
        assert client.get("/v1/policy", headers=ADMIN).json()["digest"] == record["digest_after"] != served
        assert client.post("/v1/editing/revert", json={}, headers=ADMIN).status_code == 200
        assert client.get("/v1/policy", headers=ADMIN).json()["digest"] == served


def test_publish_changes_the_live_policy_and_revert_restores_it_both_recorded(client: TestClient, folder: Path) -> None:
    served = client.get("/v1/policy", headers=ADMIN).json()["digest"]
    assert _decide(client, "seven-day-return-late-rejected")["claim"]["outcome"] == "rejected"
    cases = (folder / "cases" / "returns.yaml").read_text(encoding="utf-8")
    edited = _window(8, folder)  # the late request is inside an 8-day window: its case expects rejected, so update the case too
    expected = (
        "      claim.outcome: rejected\n      claim.refund_amount: 0.00\n"
        "      fired: {contains: [seven_day_return.late, claims.not_approved_owes_nothing], excludes: [seven_day_return.approve_return]}\n"
    )
    assert cases.count(expected) == 1
    edited["cases/returns.yaml"] = cases.replace(expected, "      claim.outcome: approved\n")
    checked = client.post("/v1/editing/cases", json={"files": edited}, headers=ADMIN).json()
    assert checked["ok"] is True, [r for r in checked["cases"]["results"] if r["status"] != "passed"]
    done = client.post("/v1/editing/publish", json={"files": edited, "message": "八天窗口 eight-day window"}, headers=ADMIN)
    assert done.status_code == 200, done.text
    record = done.json()["published"]
    assert record["who"] == "alice" and record["message"] == "八天窗口 eight-day window" and record["digest_before"] == served
    assert record["files"] == ["cases/returns.yaml", "parameters.yaml"] and "+    value: 8" in record["diff"]
    assert record["commit"] is None  # not a git work tree
    assert done.json()["reload"] == {"ok": True, "digest": record["digest_after"]}
    assert client.get("/v1/policy", headers=ADMIN).json()["digest"] == record["digest_after"] != served
    assert _decide(client, "seven-day-return-late-rejected")["claim"]["outcome"] == "approved"
    assert not list(folder.rglob(".*editing-*"))  # no temporary file left

    undone = client.post("/v1/editing/revert", json={}, headers=ADMIN)
    assert undone.status_code == 200, undone.text
    assert undone.json()["reverted"]["reverts"] == record["id"]
    assert client.get("/v1/policy", headers=ADMIN).json()["digest"] == served
    assert _decide(client, "seven-day-return-late-rejected")["claim"]["outcome"] == "rejected"
    assert (folder / "cases" / "returns.yaml").read_text(encoding="utf-8") == cases

    log = [json.loads(line) for line in (folder.parent / "returns.publish-log.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["action"] for r in log] == ["publish", "revert"]
    assert log[0]["before"]["parameters.yaml"] == log[1]["after"]["parameters.yaml"]
    assert {"at", "who", "message", "diff", "digest_before", "digest_after"} <= set(log[1])
    assert log[1]["digest_before"] == record["digest_after"] and log[1]["digest_after"] == served
    nothing = client.post("/v1/editing/revert", json={}, headers=ADMIN)
    assert nothing.status_code == 409 and nothing.json()["error"] == "conflict"


def test_a_revert_refuses_to_overwrite_a_file_changed_since_the_publish(client: TestClient, folder: Path) -> None:
    text = (folder / "policy.yaml").read_text(encoding="utf-8")
    published = client.post("/v1/editing/publish", json={"files": {"policy.yaml": text + "# a comment\n"}, "message": "m"}, headers=ADMIN)
    assert published.status_code == 200, published.text
    (folder / "policy.yaml").write_text(text + "# edited by hand\n", encoding="utf-8")
    refused = client.post("/v1/editing/revert", json={"message": "undo"}, headers=ADMIN)
    assert refused.status_code == 409 and "policy.yaml" in refused.json()["message"]
    assert (folder / "policy.yaml").read_text(encoding="utf-8").endswith("# edited by hand\n")


def test_a_publish_in_a_git_work_tree_is_committed_by_the_token_name(folder: Path, tmp_path: Path) -> None:
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, check=True).stdout

    git("init", "-q")
    git("-c", "user.name=t", "-c", "user.email=t@example.invalid", "add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-q", "-m", "start")
    log = tmp_path / "logs" / "publishes.jsonl"
    with _client(folder, publish_log=log) as client:
        text = (folder / "policy.yaml").read_text(encoding="utf-8")
        done = client.post(
            "/v1/editing/publish", json={"files": {"policy.yaml": text + "# 注释\n"}, "message": "六天 six days"}, headers=ADMIN
        )
        assert done.status_code == 200, done.text
        commit = done.json()["published"]["commit"]
        assert git("log", "-1", "--format=%H %an %s").strip() == f"{commit} alice 六天 six days"
        assert git("show", "--stat", "--format=", commit).strip().startswith("policy.yaml")
        reverted = client.post("/v1/editing/revert", json={}, headers=ADMIN).json()["reverted"]
        assert git("log", "-1", "--format=%H").strip() == reverted["commit"]
        assert git("status", "--porcelain") == ""
    assert [json.loads(line)["action"] for line in log.read_text(encoding="utf-8").splitlines()] == ["publish", "revert"]


def test_the_openapi_document_has_the_editing_routes_only_when_editing_is_on(client: TestClient, folder: Path) -> None:
    from openapi_spec_validator import validate

    document = client.get("/openapi.json").json()
    validate(document)
    for method, path, _ in ROUTES:
        operation = document["paths"][path.split("?")[0]][method.lower()]
        assert operation["security"] == [{"bearerAuth": ["admin"]}], path
        assert {"401", "403", "404"} <= set(operation["responses"]), path
    with _client(folder, editing=False) as off:
        assert not [path for path in off.get("/openapi.json").json()["paths"] if path.startswith("/v1/editing/")]
