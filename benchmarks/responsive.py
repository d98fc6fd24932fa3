#!/usr/bin/env python3
"""The decision service stays responsive, drains and restarts without a failed request (issue 14 points 3 and 4).

    python benchmarks/responsive.py healthz      # /healthz latency while 16 heavy explains run (target p99 < 50 ms)
    python benchmarks/responsive.py batch        # a 10,000-order batch refused past --max-batch: time, server RSS
    python benchmarks/responsive.py sighup       # --workers 2, 32 clients, SIGHUP every 5 s: failed requests (target 0)
    python benchmarks/responsive.py sigterm      # 32 keep-alive clients through SIGTERM: failed requests, /readyz 503 time
    python benchmarks/responsive.py slowloris    # 200 slow-header clients beside 16 normal ones: normal p99, slow ones cut

Each starts ``ruleengine serve`` on loopback on the default policy (``rules/``, its cases left out), runs
for a bounded time and prints its figures (``--json FILE`` writes them). Needs ``pip install '.[bench]'``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
from load import ROOT, percentile, start_server

EXAMPLE = ROOT / "examples" / "orders" / "seven-day-return-last-minute-approved.json"


def order(lines: int = 1) -> bytes:
    """The last-minute return with ``lines`` lines (each its own SKU); with 100 its explained answer is about 1 MB."""
    data: dict[str, Any] = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    item = data["items"][0]
    data["items"] = [item] + [{**item, "sku": f"SKU-{i:03d}"} for i in range(1, lines)]
    data["payment"]["amount"] = str(Decimal(item["paid_amount"]) * lines)
    return json.dumps(data).encode()


HEADERS = {"content-type": "application/json"}
THREADS = os.environ.get("RESPONSIVE_SERVE_OPTIONS", "").split()


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def healthz(url: str, explains: int, seconds: float) -> dict[str, Any]:
    heavy = order(100)
    statuses: list[int] = []
    explain_times: list[float] = []
    latencies: list[float] = []
    timeout = aiohttp.ClientTimeout(total=600)
    async with aiohttp.ClientSession(timeout=timeout) as session:

        async def explain() -> None:
            began = time.perf_counter()
            async with session.post(url + "/v1/decisions?explain=true", data=heavy, headers=HEADERS) as r:
                await r.read()
                statuses.append(r.status)
            explain_times.append(time.perf_counter() - began)

        async def probe() -> None:
            await asyncio.sleep(0.5)
            stop = time.perf_counter() + seconds
            async with aiohttp.ClientSession(timeout=timeout) as own:  # its own connection, as a load balancer's probe
                while time.perf_counter() < stop and len(statuses) < explains:
                    began = time.perf_counter()
                    async with own.get(url + "/healthz") as r:
                        await r.read()
                    latencies.append(time.perf_counter() - began)
                    await asyncio.sleep(0.02)

        await asyncio.gather(probe(), *(explain() for _ in range(explains)))
    slowest = sorted(range(len(latencies)), key=lambda i: -latencies[i])[:3]
    print("slowest probes (index, ms):", [(i, round(latencies[i] * 1000)) for i in slowest], file=sys.stderr)
    latencies.sort()
    return {
        "explains": explains,
        "explain_status": sorted(set(statuses)),
        "explain_s_max": round(max(explain_times), 2),
        "healthz_probes": len(latencies),
        "healthz_ms_p50": round(percentile(latencies, 0.5) * 1000, 1),
        "healthz_ms_p99": round(percentile(latencies, 0.99) * 1000, 1),
        "healthz_ms_max": round(latencies[-1] * 1000, 1),
    }


async def batch(url: str, pid: int, orders: int, at_once: int) -> dict[str, Any]:
    body = b"[" + b",".join([order()] * orders) + b"]"
    before = rss_kib(pid)
    peak = before
    times: list[float] = []
    statuses: list[int] = []
    async with aiohttp.ClientSession() as session:

        async def send() -> None:
            began = time.perf_counter()
            async with session.post(url + "/v1/decisions/batch", data=body, headers=HEADERS) as r:
                await r.read()
                statuses.append(r.status)
            times.append(time.perf_counter() - began)

        async def watch() -> None:
            nonlocal peak
            while len(statuses) < at_once:
                peak = max(peak, rss_kib(pid))
                await asyncio.sleep(0.005)

        await asyncio.gather(watch(), *(send() for _ in range(at_once)))
    return {
        "orders": orders,
        "body_mb": round(len(body) / 1e6, 1),
        "at_once": at_once,
        "status": sorted(set(statuses)),
        "answer_ms_max": round(max(times) * 1000, 1),
        "server_rss_growth_mb": round((peak - before) / 1024, 1),
    }


async def steady_load(url: str, clients: int, stop: asyncio.Event, tally: dict[str, Any]) -> None:
    body = order()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:

        async def client() -> None:
            while not stop.is_set():
                began = time.perf_counter()
                try:
                    async with session.post(url + "/v1/decisions", data=body, headers=HEADERS) as r:
                        await r.read()
                        key = "ok" if r.status == 200 else f"HTTP {r.status}"
                except (TimeoutError, aiohttp.ClientError) as exc:
                    key = type(exc).__name__
                tally[key] = tally.get(key, 0) + 1
                tally.setdefault("latencies", []).append(time.perf_counter() - began)

        await asyncio.gather(*(client() for _ in range(clients)))


async def sighup(url: str, process: Any, log: Path, clients: int, restarts: int) -> dict[str, Any]:
    tally: dict[str, Any] = {}
    stop = asyncio.Event()
    load = asyncio.create_task(steady_load(url, clients, stop, tally))
    await asyncio.sleep(2)
    began = time.perf_counter()
    for n in range(1, restarts + 1):
        process.send_signal(signal.SIGHUP)
        while log.read_text().count("restart complete") < n:
            if time.perf_counter() - began > 120 * n:
                raise SystemExit(f"restart {n} did not complete:\n{log.read_text()[-3000:]}")
            await asyncio.sleep(0.1)
        await asyncio.sleep(1)
    elapsed = time.perf_counter() - began
    stop.set()
    await load
    latencies = sorted(tally.pop("latencies"))
    return {
        "clients": clients,
        "restarts": restarts,
        "seconds": round(elapsed, 1),
        "requests": sum(tally.values()),
        "failed": sum(v for k, v in tally.items() if k != "ok"),
        "outcomes": tally,
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
    }


async def sigterm(url: str, process: Any, clients: int) -> dict[str, Any]:
    tally: dict[str, Any] = {}
    stop = asyncio.Event()
    load = asyncio.create_task(steady_load(url, clients, stop, tally))
    await asyncio.sleep(2)
    sent = time.perf_counter()
    process.send_signal(signal.SIGTERM)
    ready_503 = None
    refused_at = None
    async with aiohttp.ClientSession() as session:
        while refused_at is None:
            try:
                async with session.get(url + "/readyz", headers={"connection": "close"}) as r:
                    if r.status == 503 and ready_503 is None:
                        ready_503 = time.perf_counter() - sent
            except aiohttp.ClientError:
                refused_at = time.perf_counter() - sent
            await asyncio.sleep(0.01)
    stop.set()
    await load
    tally.pop("latencies")
    failed = {k: v for k, v in tally.items() if k != "ok"}
    # After the listener closed every new request is refused: those are not drops, the service is gone.
    return {
        "clients": clients,
        "readyz_503_after_ms": round((ready_503 or 0) * 1000),
        "listener_closed_after_s": round(refused_at, 2),
        "answered": tally.get("ok", 0),
        "not_answered": failed,
    }


async def slowloris(url: str, slow: int, clients: int, seconds: float) -> dict[str, Any]:
    host, port = url.removeprefix("http://").split(":")
    cut = 0
    opened = 0

    async def slow_client() -> None:
        nonlocal cut, opened
        reader, writer = await asyncio.open_connection(host, int(port))
        opened += 1
        writer.write(b"POST /v1/decisions HTTP/1.1\r\nhost: x\r\n")
        try:
            while True:  # one more header byte every second, never the end of the head
                await asyncio.sleep(1)
                writer.write(b"x")
                await writer.drain()
                if reader.at_eof():
                    break
        except (ConnectionError, OSError):
            pass
        finally:
            cut += 1
            writer.close()

    tally: dict[str, Any] = {}
    stop = asyncio.Event()
    slow_tasks = [asyncio.create_task(slow_client()) for _ in range(slow)]
    await asyncio.sleep(1)
    load = asyncio.create_task(steady_load(url, clients, stop, tally))
    await asyncio.sleep(seconds)
    stop.set()
    await load
    still_open = sum(1 for t in slow_tasks if not t.done())
    for t in slow_tasks:
        t.cancel()
    latencies = sorted(tally.pop("latencies"))
    return {
        "slow_clients": slow,
        "slow_opened": opened,
        "slow_cut_off": cut,
        "slow_still_open": still_open,
        "normal_clients": clients,
        "normal_requests": sum(tally.values()),
        "normal_failed": sum(v for k, v in tally.items() if k != "ok"),
        "normal_p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["healthz", "batch", "sighup", "sigterm", "slowloris"])
    parser.add_argument("--explains", type=int, default=16, help="healthz: concurrent 100-line explains")
    parser.add_argument("--seconds", type=float, default=60.0, help="healthz: longest run; slowloris: load time")
    parser.add_argument("--orders", type=int, default=10_000, help="batch: orders in the batch (--max-batch is 1000)")
    parser.add_argument("--at-once", type=int, default=8, help="batch: such batches sent together")
    parser.add_argument("--clients", type=int, default=32, help="sighup, sigterm: concurrent keep-alive clients; slowloris: normal ones")
    parser.add_argument("--restarts", type=int, default=3, help="sighup: SIGHUPs, each after the last restart completed")
    parser.add_argument("--slow", type=int, default=200, help="slowloris: slow-header clients")
    parser.add_argument("--json", type=Path, help="Write the figures here")
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="ruleengine-responsive-"))
    rules = workdir / "rules"
    shutil.copytree(ROOT / "rules", rules, ignore=shutil.ignore_patterns("cases"))
    log = workdir / "server.log"
    workers = 2 if args.what == "sighup" else 1
    extra = {"slowloris": ["--header-timeout", "5"], "sigterm": ["--grace-period", "2"], "healthz": ["--request-timeout", "300", *THREADS]}
    process, url = start_server(rules, workers, log, extra.get(args.what, []))
    try:
        if args.what == "healthz":
            figures = asyncio.run(healthz(url, args.explains, args.seconds))
        elif args.what == "batch":
            figures = asyncio.run(batch(url, process.pid, args.orders, args.at_once))
        elif args.what == "sighup":
            figures = asyncio.run(sighup(url, process, log, args.clients, args.restarts))
        elif args.what == "sigterm":
            figures = asyncio.run(sigterm(url, process, args.clients))
        else:
            figures = asyncio.run(slowloris(url, args.slow, args.clients // 2, args.seconds if args.seconds < 60 else 15))
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(60)
            except Exception:
                process.kill()
        figures_machine = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    figures = {"benchmark": args.what, **figures, "machine": figures_machine}
    print(json.dumps(figures, indent=2, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
