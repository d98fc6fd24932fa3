#!/usr/bin/env python3
"""What the decision log costs, and whether it loses acknowledged decisions when the service is killed.

    python benchmarks/durability.py                          # 3 rounds: throughput 10 s per variant, SIGKILL after 4 s
    python benchmarks/durability.py --rounds 5 --seconds 20 --clients 32 --json /tmp/durability.json

Loopback only; bounded in time (rounds × (variants × seconds + kill-after + start-ups)).

**Throughput.** Each round starts ``ruleengine serve`` (one worker, the bundled policy) once per variant —
no decision log, ``--decision-log``, ``--decision-log --log-fsync`` — in an order rotated from round to
round, and runs N aiohttp clients (one keep-alive connection each) sending single-order
``POST /v1/decisions`` back to back through a seeded corpus, for ``--warmup`` seconds (not counted) and
then ``--seconds``. Figures: decisions/s, the server's CPU time per decision (user + system, all its
threads, from /proc: on a shared machine this is the steadier figure of what the log costs), p50/p99 latency,
the server's RSS at the end, and for the log variants records written per write (from /metrics);
medians over rounds.

**SIGKILL.** Each round starts the service with a decision log, runs the clients with a unique
``X-Request-ID`` per request, and SIGKILLs the server after ``--kill-after`` seconds. Acknowledged =
requests the clients got a 200 for; then the log is read: lines that do not parse (torn), acknowledged
ids missing from the log (lost; target 0), and records of requests never answered (in flight when
killed, at most the number of clients).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples" / "corpus"))
from generate import dumps, generate  # noqa: E402

VARIANTS: dict[str, list[str]] = {
    "no log": [],
    "log": ["--decision-log", "{log}"],
    "log + fsync": ["--decision-log", "{log}", "--log-fsync"],
}


@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)
    acknowledged: list[str] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


async def client(url: str, bodies: list[bytes], offset: int, count_from: float, stop: float, run: Run, tag: str) -> None:
    connector = aiohttp.TCPConnector(limit=1)
    async with aiohttp.ClientSession(url, connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as http:
        i = offset
        n = 0
        while time.perf_counter() < stop:
            body = bodies[i % len(bodies)]
            i += 1
            n += 1
            request_id = f"{tag}-{n}"
            headers = {"content-type": "application/json", "x-request-id": request_id}
            started = time.perf_counter()
            try:
                async with http.post("/v1/decisions", data=body, headers=headers) as response:
                    await response.read()
                    status = response.status
            except (aiohttp.ClientError, TimeoutError, ConnectionError) as exc:
                run.error(type(exc).__name__)
                if time.perf_counter() >= stop:
                    return
                await asyncio.sleep(0.05)
                continue
            if status == 200:
                run.acknowledged.append(request_id)
                if started >= count_from:
                    run.latencies.append(time.perf_counter() - started)
            else:
                run.error(f"HTTP {status}")


async def load(
    url: str,
    bodies: list[bytes],
    clients: int,
    seconds: float,
    warmup: float = 0.0,
    kill: subprocess.Popen[bytes] | None = None,
    server: int | None = None,
) -> tuple[Run, float, float]:
    """``warmup`` seconds of load first, not counted in the latencies or the rate (every request is acknowledged).

    Returns the run, its counted seconds and the server's CPU seconds over them (``server``: its pid).
    """
    run = Run()
    started = time.perf_counter() + warmup
    stop = started + seconds
    tasks = [asyncio.create_task(client(url, bodies, k * 997, started, stop, run, f"c{k}")) for k in range(clients)]
    if kill is not None:
        await asyncio.sleep(seconds / 2)
        kill.send_signal(signal.SIGKILL)
    cpu = 0.0
    if server is not None:
        await asyncio.sleep(warmup)
        cpu = -cpu_seconds(server)
        await asyncio.sleep(seconds)
        cpu += cpu_seconds(server)
    await asyncio.gather(*tasks)
    return run, time.perf_counter() - started, cpu


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start(args: list[str], workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "ruleengine.cli", "serve", "--port", str(port), "--no-watch", *args]
    out = open(workdir / f"server-{port}.log", "wb")  # noqa: SIM115 - the server's output, kept for a failure
    process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=workdir)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited:\n{(workdir / f'server-{port}.log').read_text()}")
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    raise SystemExit("the server did not become ready")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered), max(1, int(-(-q * len(ordered) // 1)))) - 1]


def throughput(name: str, bodies: list[bytes], clients: int, seconds: float, warmup: float, workdir: Path, index: int) -> dict[str, Any]:
    log = workdir / f"decisions-{index}.jsonl"
    args = [a.format(log=log) for a in VARIANTS[name]]
    process, url = start(args, workdir)
    try:
        run, elapsed, cpu = asyncio.run(load(url, bodies, clients, seconds, warmup, server=process.pid))
        text = httpx.get(url + "/metrics", timeout=10).text
        rss = rss_mb(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)
    out: dict[str, Any] = {
        "decisions_per_s": len(run.latencies) / elapsed,
        "cpu_us_per_decision": cpu / len(run.latencies) * 1e6 if run.latencies else float("nan"),
        "p50_ms": percentile(run.latencies, 0.5) * 1000,
        "p99_ms": percentile(run.latencies, 0.99) * 1000,
        "errors": sum(run.errors.values()),
        "rss_mb": rss,
    }
    if args:
        writes = metric(text, "ruleengine_decision_log_writes_total")
        records = metric(text, "ruleengine_decision_log_records_total")
        out["records_per_write"] = records / writes if writes else float("nan")
        out["records_in_file"] = len(log.read_bytes().splitlines())
        out["acknowledged"] = len(run.acknowledged)
        log.unlink()
    return out


def sigkill(bodies: list[bytes], clients: int, kill_after: float, workdir: Path, index: int) -> dict[str, Any]:
    log = workdir / f"killed-{index}.jsonl"
    process, url = start(["--decision-log", str(log)], workdir)
    run, _, _ = asyncio.run(load(url, bodies, clients, 2 * kill_after, kill=process))
    process.wait(30)
    ids: list[str] = []
    torn = 0
    for line in log.read_bytes().splitlines():
        try:
            ids.append(json.loads(line)["request_id"])
        except (ValueError, KeyError):
            torn += 1
    logged = set(ids)
    acknowledged = set(run.acknowledged)
    out = {
        "acknowledged": len(acknowledged),
        "records": len(ids),
        "torn": torn,
        "lost": len(acknowledged - logged),
        "unanswered_logged": len(logged - acknowledged),
    }
    log.unlink()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0, help="Load per throughput variant and round")
    parser.add_argument("--warmup", type=float, default=2.0, help="Seconds of load before the measured ones (not counted)")
    parser.add_argument("--kill-after", type=float, default=4.0, help="Seconds of load before SIGKILL")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    bodies = [dumps(order).encode() for order in generate(args.orders, args.seed)]
    workdir = Path(tempfile.mkdtemp(prefix="ruleengine-durability-"))
    names = list(VARIANTS)
    samples: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    kills: list[dict[str, Any]] = []
    for r in range(args.rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            samples[name].append(throughput(name, bodies, args.clients, args.seconds, args.warmup, workdir, r))
            s = samples[name][-1]
            print(f"round {r + 1} {name:12} {s['decisions_per_s']:7.0f}/s  p99 {s['p99_ms']:.1f} ms  errors {s['errors']}", flush=True)
        kills.append(sigkill(bodies, args.clients, args.kill_after, workdir, r))
        print(f"round {r + 1} SIGKILL      {kills[-1]}", flush=True)

    def median(name: str, key: str) -> float:
        return statistics.median(s[key] for s in samples[name])

    base = median("no log", "decisions_per_s")
    print(f"\n{args.rounds} rounds, {args.clients} clients, {args.seconds:g} s per variant; medians")
    base_cpu = median("no log", "cpu_us_per_decision")
    print(
        f"{'variant':14} {'decisions/s':>11} {'cost':>6} {'CPU µs/decision':>15} {'cost':>6} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'RSS MB':>7} {'per write':>9}"
    )
    for name in names:
        rate = median(name, "decisions_per_s")
        cpu = median(name, "cpu_us_per_decision")
        per_write = f"{median(name, 'records_per_write'):9.1f}" if name != "no log" else f"{'—':>9}"
        cost = f"{(1 - rate / base) * 100:5.1f}%" if name != "no log" else f"{'—':>6}"
        cpu_cost = f"{(cpu / base_cpu - 1) * 100:5.1f}%" if name != "no log" else f"{'—':>6}"
        print(
            f"{name:14} {rate:11.0f} {cost} {cpu:15.0f} {cpu_cost} {median(name, 'p50_ms'):7.2f} {median(name, 'p99_ms'):7.2f} "
            f"{median(name, 'rss_mb'):7.1f} {per_write}"
        )
    lost = [k["lost"] for k in kills]
    torn = [k["torn"] for k in kills]
    print(
        f"SIGKILL after {args.kill_after:g} s: acknowledged {[k['acknowledged'] for k in kills]}, lost {lost} (target 0), "
        f"torn lines {torn}, records of unanswered requests {[k['unanswered_logged'] for k in kills]}"
    )
    errors = sum(s["errors"] for name in names for s in samples[name])
    unlogged = [s["acknowledged"] - s["records_in_file"] for name in names[1:] for s in samples[name]]
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "date": time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()),
                    "machine": {"cpu_count": os.cpu_count(), "python": platform.python_version(), "system": platform.platform()},
                    "arguments": {k: str(v) for k, v in vars(args).items()},
                    "throughput": samples,
                    "sigkill": kills,
                },
                indent=2,
            ),
            encoding="utf-8",
        )
    return 0 if not any(lost) and not any(torn) and errors == 0 and not any(unlogged) else 1


if __name__ == "__main__":
    sys.exit(main())
