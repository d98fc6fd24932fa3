"""The decision log: a decision is answered only once its record is written, and no record is torn or lost.

First the log itself (group commit, backpressure, a torn last line, a deleted
or rotated file, start-up errors, a write that fails); then the service over
real HTTP: a log that cannot be kept stops the start, a write failure refuses
decisions (or answers them with --log-fail-open) and makes /readyz 503,
SIGKILL under load loses no acknowledged decision, SIGUSR1 reopens the file.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import EXAMPLES, RETURNS
from server_support import running_server

from ruleengine.service.decisionlog import DecisionLog, DecisionLogError

ORDER = (EXAMPLES / "seven-day-return-last-minute-approved.json").read_bytes()


def _line(n: int, pad: int = 60) -> bytes:
    return (json.dumps({"request_id": f"r{n}", "pad": "x" * pad}) + "\n").encode()


def _ids(path: Path) -> list[str]:
    return [json.loads(line)["request_id"] for line in path.read_text(encoding="utf-8").splitlines()]


# -- the log


def test_group_commit_acknowledges_each_record_only_once_it_is_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    log = DecisionLog(path)
    seen_in_file: list[bool] = []

    async def decide(n: int) -> None:
        line = _line(n)
        await log.commit([line])
        seen_in_file.append(line in path.read_bytes())

    async def main() -> None:
        await asyncio.gather(*(decide(n) for n in range(300)))

    asyncio.run(main())
    log.close()
    assert all(seen_in_file) and len(seen_in_file) == 300
    assert sorted(_ids(path)) == sorted(f"r{n}" for n in range(300))
    assert log.records_written == 300
    assert log.groups_written < 300  # records shared writes


def test_past_its_bound_a_request_waits_for_room_and_nothing_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    groups: list[int] = []
    line_size = len(_line(0))
    log = DecisionLog(path, max_pending_bytes=20 * line_size, on_result=lambda records, error: groups.append(records))

    async def main() -> None:
        await asyncio.gather(*(log.commit([_line(n)]) for n in range(1000)))

    asyncio.run(main())
    log.close()
    assert sorted(_ids(path)) == sorted(f"r{n}" for n in range(1000))
    assert max(groups) <= 20  # never more waiting than the bound
    assert sum(groups) == 1000


def test_with_fsync_groups_gather_while_one_is_written(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    log = DecisionLog(path, fsync=True)

    async def decide(n: int) -> None:
        await log.commit([_line(n)])
        assert _line(n) in path.read_bytes()

    async def main() -> None:
        await asyncio.gather(*(decide(n) for n in range(400)))

    asyncio.run(main())
    log.close()
    assert sorted(_ids(path)) == sorted(f"r{n}" for n in range(400))
    assert log.groups_written < 400


def test_a_last_line_torn_by_a_crash_is_cut_off_when_the_log_is_opened(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "decisions.jsonl"
    path.write_bytes(_line(1) + _line(2)[:25])
    log = DecisionLog(path)
    asyncio.run(log.commit([_line(3)]))
    log.close()
    assert path.read_bytes() == _line(1) + _line(3)
    assert "torn record" in caplog.text


def test_a_deleted_log_is_noticed_and_a_moved_one_is_reopened(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "decisions.jsonl"
    log = DecisionLog(path)
    asyncio.run(log.commit([_line(1)]))
    path.unlink()
    asyncio.run(log.commit([_line(2)]))  # the next write notices the file is gone and creates it again
    assert _ids(path) == ["r2"]
    path.rename(path.with_name("decisions.jsonl.1"))  # logrotate moves it, then the service is told to reopen
    log.reopen()
    asyncio.run(log.commit([_line(3)]))
    log.close()
    assert _ids(path) == ["r3"]
    assert _ids(path.with_name("decisions.jsonl.1")) == ["r2"]


def test_a_failing_log_is_checked_again_and_is_healthy_again_without_a_request(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    path = folder / "decisions.jsonl"
    log = DecisionLog(path, probe_seconds=0.1)

    async def main() -> None:
        await log.commit([_line(1)])
        shutil.rmtree(folder)
        folder.write_text("")  # a file where the folder was: the log can be neither written nor created again
        with pytest.raises(DecisionLogError):
            await log.commit([_line(2)])
        assert not log.healthy and log.last_error
        folder.unlink()
        for _ in range(100):
            await asyncio.sleep(0.05)
            if log.healthy:
                break
        assert log.healthy  # found writable again by the log itself, with no request to try
        await log.commit([_line(3)])

    asyncio.run(main())
    log.close()
    assert _ids(path) == ["r3"]


def test_rotation_by_size_keeps_whole_records(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    log = DecisionLog(path, max_bytes=1000, backups=2)
    for n in range(40):
        asyncio.run(log.commit([_line(n)]))
    log.close()
    files = [path, path.with_name("decisions.jsonl.1"), path.with_name("decisions.jsonl.2")]
    assert all(f.stat().st_size <= 1000 for f in files)
    assert not path.with_name("decisions.jsonl.3").exists()
    kept = [i for f in reversed(files) for i in _ids(f)]
    assert kept == [f"r{n}" for n in range(40 - len(kept), 40)]  # the newest records, in order


def _unkeepable(tmp_path: Path, kind: str) -> Path:
    if kind == "parent-cannot-be-created":  # a file where the folder should be
        (tmp_path / "blocker").write_text("")
        return tmp_path / "blocker" / "logs" / "decisions.jsonl"
    if kind == "a-folder":
        (tmp_path / "adir").mkdir()
        return tmp_path / "adir"
    return Path("/dev/full")


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("parent-cannot-be-created", "cannot create the folder"), ("a-folder", "is a folder"), ("dev-full", "not a regular file")],
)
def test_a_log_that_cannot_be_kept_is_refused_at_once_in_one_line(tmp_path: Path, kind: str, expected: str) -> None:
    path = _unkeepable(tmp_path, kind)
    with pytest.raises(DecisionLogError) as raised:
        DecisionLog(path)
    assert expected in str(raised.value) and str(path) in str(raised.value) and "\n" not in str(raised.value)


def test_a_failed_write_leaves_no_torn_line_and_fails_its_requests(tmp_path: Path) -> None:
    """In a child process whose files may not grow past 8 KiB (RLIMIT_FSIZE): the write that crosses it fails."""
    path = tmp_path / "decisions.jsonl"
    script = textwrap.dedent(
        f"""
        import asyncio, json, resource, sys
        from pathlib import Path
        from ruleengine.service.decisionlog import DecisionLog, DecisionLogError
        resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192))
        log = DecisionLog(Path({str(path)!r}))
        ok, failed = [], []
        async def one(n):
            line = (json.dumps({{"request_id": f"r{{n}}", "pad": "x" * 300}}) + "\\n").encode()
            try:
                await log.commit([line])
                ok.append(n)
            except DecisionLogError as exc:
                failed.append(str(exc))
        async def main():
            for n in range(60):
                await one(n)
        asyncio.run(main())
        print(json.dumps({{"ok": ok, "failed": failed[:1], "n_failed": len(failed), "healthy": log.healthy}}))
        log.close()
        """
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["n_failed"] > 0 and not result["healthy"]
    assert "File too large" in result["failed"][0]
    data = path.read_bytes()
    assert data.endswith(b"\n") and len(data) <= 8192
    assert _ids(path) == [f"r{n}" for n in result["ok"]]  # exactly the acknowledged records, each whole


# -- the service


@pytest.mark.parametrize("kind", ["parent-cannot-be-created", "dev-full"])  # a folder: click refuses it, also with exit 2
def test_a_log_that_cannot_be_kept_stops_the_start_with_exit_2_and_one_line(tmp_path: Path, kind: str) -> None:
    log = _unkeepable(tmp_path, kind)
    run = subprocess.run(
        [sys.executable, "-m", "ruleengine.cli", "serve", "--rules", str(RETURNS), "--port", "0", "--decision-log", str(log)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    problem = [line for line in run.stderr.splitlines() if line.startswith("ruleengine serve:")]
    assert len(problem) == 1, run.stderr
    assert str(log) in problem[0] or str(log.parent) in problem[0]


def _limit_file_size(limit: int) -> Any:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def _metric(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            found = dict(part.split("=", 1) for part in line[line.find("{") + 1 : line.find("}")].split(",")) if "{" in line else {}
            if all(found.get(k) == f'"{v}"' for k, v in labels.items()):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.mark.parametrize("fail_open", [False, True], ids=["fail-closed", "fail-open"])
def test_a_log_that_fails_while_running_refuses_decisions_and_readiness(tmp_path: Path, fail_open: bool) -> None:
    log = tmp_path / "decisions.jsonl"
    args = ["--decision-log", str(log), "--log-max-bytes", str(1 << 30)] + (["--log-fail-open"] if fail_open else [])
    acknowledged: list[str] = []
    # Files of the server process may not grow past 64 KiB: the decision log reaches that after ~40 records.
    with running_server(tmp_path, *args, preexec_fn=_limit_file_size(65536)) as server, server.client() as c:
        for n in range(200):
            response = c.post("/v1/decisions", content=ORDER, headers={"x-request-id": f"r{n}"})
            if response.status_code != 200:
                break
            acknowledged.append(f"r{n}")
        else:
            assert fail_open, "no decision was refused although the log could not grow"
        metrics = c.get("/metrics").text
        ready = c.get("/readyz")
        if fail_open:
            assert len(acknowledged) == 200
            assert ready.status_code == 200 and ready.json()["decision_log"] == "failing"
            assert _metric(metrics, "ruleengine_decision_log_unrecorded_decisions_total", answered="yes") > 0
        else:
            assert response.status_code == 503
            assert response.json()["error"] == "decision_log" and "File too large" in response.json()["message"]
            assert ready.status_code == 503 and ready.json()["decision_log"] == "failing"
            assert _metric(metrics, "ruleengine_decision_log_unrecorded_decisions_total", answered="no") == 1
        assert _metric(metrics, "ruleengine_decision_log_write_errors_total") >= 1
        assert _metric(metrics, "ruleengine_decision_log_healthy") == 0
    records = _ids(log)  # every line whole
    assert log.stat().st_size <= 65536
    if fail_open:
        assert records == acknowledged[: len(records)] and len(records) < 200
    else:
        assert records == acknowledged  # every answered decision is in the file, nothing else


def test_sigkill_under_load_loses_no_acknowledged_decision(tmp_path: Path) -> None:
    log = tmp_path / "decisions.jsonl"
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    with running_server(tmp_path, "--decision-log", str(log)) as server:

        def client(k: int) -> None:
            with server.client() as c:
                n = 0
                while not stop.is_set():
                    request_id = f"c{k}-{n}"
                    n += 1
                    try:
                        response = c.post("/v1/decisions", content=ORDER, headers={"x-request-id": request_id})
                    except httpx.TransportError:
                        return
                    if response.status_code == 200:
                        with lock:
                            acknowledged.append(request_id)

        clients = [threading.Thread(target=client, args=(k,)) for k in range(6)]
        for t in clients:
            t.start()
        server.wait_for(lambda: len(acknowledged) > 300, timeout=30, what="some load")
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(10)
        stop.set()
        for t in clients:
            t.join(15)
    records = _ids(log)  # every line parses: none torn
    missing = set(acknowledged) - set(records)
    assert not missing, f"{len(missing)} acknowledged decisions are not in the log"
    assert len(records) - len(acknowledged) <= len(clients)  # at most the requests in flight, never answered


def test_sigusr1_reopens_the_log_and_a_deleted_log_is_noticed(tmp_path: Path) -> None:
    log = tmp_path / "decisions.jsonl"
    with running_server(tmp_path, "--decision-log", str(log)) as server, server.client() as c:
        assert c.post("/v1/decisions", content=ORDER, headers={"x-request-id": "a"}).status_code == 200
        os.rename(log, tmp_path / "decisions.jsonl.1")  # logrotate moves the file, then signals
        server.process.send_signal(signal.SIGUSR1)
        server.wait_for(lambda: "opened again" in server.output(), what="the reopen")
        assert c.post("/v1/decisions", content=ORDER, headers={"x-request-id": "b"}).status_code == 200
        log.unlink()
        time.sleep(0.1)
        assert c.post("/v1/decisions", content=ORDER, headers={"x-request-id": "c"}).status_code == 200
        assert c.get("/readyz").status_code == 200
    assert _ids(tmp_path / "decisions.jsonl.1") == ["a"]
    assert _ids(log) == ["c"]
    record = json.loads(log.read_text(encoding="utf-8"))
    assert record["facts_sha256"] == "sha256:" + hashlib.sha256(ORDER).hexdigest()  # the body as sent: the caller can find it
