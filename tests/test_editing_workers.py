"""Editing a service of several workers (issue 17): after a publish (or a revert) through any one worker, every
worker serves the new policy within a couple of seconds, even without the file watcher — each worker follows the
publish log (service/lifecycle.py). A real ``ruleengine serve --workers 2`` in a subprocess."""

from __future__ import annotations

import hashlib
import re
import shutil
import time
from pathlib import Path

import httpx
from conftest import EXAMPLES, RETURNS
from server_support import Server, running_server

TOKEN = "workers-admin-token"
ADMIN = {"authorization": f"Bearer {TOKEN}"}
TITLE = "title: {zh: 极速退款, en: Fast refund}"
FOLLOWING = re.compile(r"worker (\d+): the publish log changed: reloading the policy")


def _digests(server: Server, count: int) -> list[str]:
    """The digest each of ``count`` requests on a new connection was answered with (either worker may answer each)."""
    with server.client(limits=httpx.Limits(max_keepalive_connections=0), headers=ADMIN) as client:
        return [client.get("/v1/policy").json()["digest"] for _ in range(count)]


def _all_new_within(server: Server, new: str, seconds: float) -> float:
    """Seconds until 40 answers in a row carry ``new``; fails after ``seconds``."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if set(_digests(server, 40)) == {new}:
            return time.monotonic() - started
    raise AssertionError(f"after {seconds} s some worker still serves another policy: {set(_digests(server, 40))}")


def test_after_a_publish_every_worker_serves_the_new_policy_within_two_seconds(tmp_path: Path) -> None:
    shutil.copytree(RETURNS, tmp_path / "returns")
    shutil.copytree(EXAMPLES, tmp_path / "examples" / "orders")
    folder = tmp_path / "returns"
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(f"tokens:\n  - {{name: staff, sha256: {hashlib.sha256(TOKEN.encode()).hexdigest()}, scopes: [admin, read]}}\n")
    args = ("--rules", str(folder), "--editing", "--auth-token-file", str(tokens), "--workers", "2", "--no-watch")
    with running_server(tmp_path, *args) as server:
        (served,) = set(_digests(server, 10))
        text = (folder / "guarantees" / "fast_refund.yaml").read_text(encoding="utf-8")
        assert text.count(TITLE) == 1
        edit = {"guarantees/fast_refund.yaml": text.replace(TITLE, "title: {zh: 极速退款（新）, en: Fast refund (new)}")}
        with server.client(headers=ADMIN) as client:
            published = client.post("/v1/editing/publish", json={"files": edit, "message": "标题 title"})
        assert published.status_code == 200, published.text
        new = published.json()["published"]["digest_after"]
        assert new != served and published.json()["reload"]["digest"] == new
        took = _all_new_within(server, new, 2.0)
        # both workers followed the publish log (the one that published reloads again: the same digest, no change)
        server.wait_for(lambda: len(set(FOLLOWING.findall(server.output()))) == 2, timeout=5, what="both workers following")
        assert took < 2.0, took

        with server.client(headers=ADMIN) as client:
            reverted = client.post("/v1/editing/revert", json={})
        assert reverted.status_code == 200, reverted.text
        _all_new_within(server, served, 2.0)
