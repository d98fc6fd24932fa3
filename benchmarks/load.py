#!/usr/bin/env python3
"""Load test of the decision service: N concurrent clients on loopback for a bounded time.

    python benchmarks/load.py                       # starts `ruleengine serve` on a copy of rules/, 16 clients, 20 s
    python benchmarks/load.py --clients 32 --seconds 60 --workers 2 --json /tmp/load.json
    python benchmarks/load.py --url http://127.0.0.1:8000 --no-reload   # an already running service

Needs the service and the load client: ``pip install '.[server,bench]'``.

Each client sends single-order ``POST /v1/decisions`` requests back to back over
one keep-alive connection, cycling through a seeded corpus of generated orders
(every claim type). It reports decisions/s, p50/p99/max latency and every
error (a non-200 answer or a transport error), and exits 1 on any error.

While the load runs (unless ``--no-reload``), the policy folder is edited
twice: at 1/3 of the run a typo breaks a rule file (the service must keep
serving the old policy, and report the failed reload in ``/v1/policy``), at 2/3
the typo is fixed and ``seven_day_window_days`` changed to 15 (the new policy
must be live — a new digest in ``/v1/policy`` — within 2 s of the write).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
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

WINDOW = "within_days_after(logistics.signed_at, params.seven_day_window_days, claim.requested_at)"
"""The 7-day table's window column in the default policy (a misspelled fact there is the planted break)."""
TYPO = WINDOW.replace("claim.requested_at", "claim.requested_att")


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    first_errors: list[str] = field(default_factory=list)

    def error(self, kind: str, detail: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1
        if len(self.first_errors) < 5:
            self.first_errors.append(f"{kind}: {detail[:300]}")


async def client(url: str, bodies: list[bytes], offset: int, stop: float, tally: Tally) -> None:
    # aiohttp rather than httpx: the client shares this 2-core machine with the server, and httpx's
    # per-request cost (~1 ms of CPU) capped a measurement at ~750 requests/s while the server idled.
    connector = aiohttp.TCPConnector(limit=1)
    headers = {"content-type": "application/json"}
    async with aiohttp.ClientSession(url, connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as http:
        i = offset
        while time.perf_counter() < stop:
            body = bodies[i % len(bodies)]
            i += 1
            started = time.perf_counter()
            try:
                async with http.post("/v1/decisions", data=body, headers=headers) as response:
                    text = await response.read()
                    status = response.status
            except (aiohttp.ClientError, TimeoutError) as exc:
                tally.error(type(exc).__name__, str(exc))
                continue
            tally.latencies.append(time.perf_counter() - started)
            if status != 200:
                tally.error(f"HTTP {status}", text.decode("utf-8", "replace"))


async def reload_script(url: str, rules: Path, seconds: float, report: dict[str, Any]) -> None:
    """Break the policy at 1/3 of the run, fix it (with a changed parameter) at 2/3; time both reloads."""
    seven_day = rules / "guarantees" / "seven_day_return.yaml"
    parameters = rules / "parameters.yaml"
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        first = (await http.get("/v1/policy")).json()["digest"]
        await asyncio.sleep(seconds / 3)
        text = seven_day.read_text(encoding="utf-8")
        if text.count(WINDOW) != 1:
            raise SystemExit(f"{seven_day}: the window expression to break is not there once; update WINDOW")
        seven_day.write_text(text.replace(WINDOW, TYPO), encoding="utf-8")
        edited = time.perf_counter()
        while True:
            status = (await http.get("/v1/policy")).json()
            if status["last_reload_error"] is not None:
                report["broken_reported_after_s"] = round(time.perf_counter() - edited, 3)
                report["broken_kept_digest"] = status["digest"] == first
                report["broken_error"] = status["last_reload_error"]["error"]["diagnostics"][0]
                break
            if time.perf_counter() - edited > 10:
                report["broken_reported_after_s"] = None
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(max(0.0, seconds / 3 - (time.perf_counter() - edited)))
        seven_day.write_text(seven_day.read_text(encoding="utf-8").replace(TYPO, WINDOW), encoding="utf-8")
        text = parameters.read_text(encoding="utf-8")
        parameters.write_text(
            text.replace("seven_day_window_days:\n    value: 7", "seven_day_window_days:\n    value: 15"), encoding="utf-8"
        )
        edited = time.perf_counter()
        while True:
            status = (await http.get("/v1/policy")).json()
            if status["digest"] != first and status["last_reload_error"] is None:
                report["good_live_after_s"] = round(time.perf_counter() - edited, 3)
                report["good_digest"] = status["digest"]
                break
            if time.perf_counter() - edited > 10:
                report["good_live_after_s"] = None
                break
            await asyncio.sleep(0.02)


async def run(url: str, bodies: list[bytes], clients: int, seconds: float, rules: Path | None) -> tuple[Tally, dict[str, Any], float]:
    tally = Tally()
    report: dict[str, Any] = {}
    started = time.perf_counter()
    stop = started + seconds
    tasks = [client(url, bodies, i * 997, stop, tally) for i in range(clients)]
    if rules is not None:
        tasks.append(reload_script(url, rules, seconds, report))
    await asyncio.gather(*tasks)
    return tally, report, time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_server(rules: Path, workers: int, log: Path, options: list[str] | None = None) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "ruleengine.cli", "serve", "--rules", str(rules), "--port", str(port), "--workers", str(workers)]
    command += options or []
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited:\n{log.read_text()}")
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    raise SystemExit(f"the server did not become ready:\n{log.read_text()}")


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest rank."""
    if not sorted_values:
        return float("nan")
    rank = max(1, int(-(-q * len(sorted_values) // 1)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="A running service (default: start one on a copy of rules/)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--orders", type=int, default=2000, help="Distinct orders in the corpus the clients cycle through")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=1, help="Server worker processes (when this script starts the server)")
    parser.add_argument("--no-reload", action="store_true", help="Do not edit the policy during the run")
    parser.add_argument("--json", type=Path, help="Write every figure here")
    args = parser.parse_args(argv)

    bodies = [dumps(order).encode() for order in generate(args.orders, args.seed)]
    workdir = Path(tempfile.mkdtemp(prefix="ruleengine-load-"))
    process = None
    rules: Path | None = None
    try:
        if args.url is None:
            rules = workdir / "rules"
            shutil.copytree(ROOT / "rules", rules, ignore=shutil.ignore_patterns("cases"))
            process, url = start_server(rules, args.workers, workdir / "server.log")
        else:
            url = args.url.rstrip("/")
        reload_rules = None if args.no_reload or args.url is not None else rules
        tally, reload_report, elapsed = asyncio.run(run(url, bodies, args.clients, args.seconds, reload_rules))
    finally:
        if process is not None:
            process.send_signal(signal.SIGTERM)
            process.wait(30)

    latencies = sorted(tally.latencies)
    errors = sum(tally.errors.values())
    figures: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()),
        "machine": {"cpu_count": os.cpu_count(), "python": platform.python_version(), "system": platform.platform()},
        "clients": args.clients,
        "seconds": round(elapsed, 2),
        "server_workers": args.workers if args.url is None else None,
        "requests": len(latencies) + errors,
        "decisions": len(latencies) - sum(v for k, v in tally.errors.items() if k.startswith("HTTP")),
        "decisions_per_s": round(len(latencies) / elapsed, 1),
        "latency_ms": {
            "p50": round(percentile(latencies, 0.50) * 1000, 2),
            "p99": round(percentile(latencies, 0.99) * 1000, 2),
            "max": round(latencies[-1] * 1000, 2) if latencies else None,
            "mean": round(statistics.fmean(latencies) * 1000, 2) if latencies else None,
        },
        "errors": tally.errors,
        "first_errors": tally.first_errors,
        "reload": reload_report or None,
    }
    print(f"{figures['requests']:,} requests by {args.clients} clients in {elapsed:.1f} s against {url}")
    print(f"  decisions/s      {figures['decisions_per_s']:,.0f}   (target ≥ 1,000)")
    lat = figures["latency_ms"]
    print(f"  latency ms       p50 {lat['p50']}  p99 {lat['p99']}  max {lat['max']}   (target p99 < 50)")
    print(f"  errors           {errors}" + (f"  {tally.errors}" if errors else "") + "   (target 0)")
    for line in tally.first_errors:
        print(f"    {line}")
    if reload_report:
        broken = reload_report.get("broken_reported_after_s")
        good = reload_report.get("good_live_after_s")
        kept = "old policy kept" if reload_report.get("broken_kept_digest") else "OLD POLICY NOT KEPT"
        print(f"  broken edit      reported after {broken} s, {kept}")
        print(f"  good edit        live after {good} s   (target < 2 s)")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, ensure_ascii=False), encoding="utf-8")
    reload_ok = not reload_report or (
        reload_report.get("broken_kept_digest")
        and reload_report.get("good_live_after_s") is not None
        and reload_report["good_live_after_s"] < 2
    )
    return 0 if errors == 0 and reload_ok else 1


if __name__ == "__main__":
    sys.exit(main())
