"""Memory over a long stream: ``ruleengine evaluate --batch`` and ``ruleengine diff`` on 1,000,000 orders.

    python benchmarks/flat_memory.py [--orders 1000000] [--seed 1] [--corpus FILE] [--json FILE]

The corpus is written once by ``examples/corpus/generate.py --out`` (streamed: the generator holds one
order at a time), unless ``--corpus`` names one already written. Each command then runs as it would
for a user — a new process, ``python -m ruleengine.cli …`` — and this script watches it from outside:
every 0.1 s it reads how far the command has read its input (the file position of its descriptor,
``/proc/PID/fdinfo``) and its memory — ``Pss`` from ``/proc/PID/smaps_rollup`` (shared pages divided
among the processes sharing them, so the sum over ``--jobs 2``'s parent and forked workers counts each
page once), ``VmRSS`` and ``VmHWM`` (peak) from ``/proc/PID/status`` — and keeps the first sample past
25, 50 and 75 % of the input and the last one before it exits. The peak over the whole run is the
kernel's (``ru_maxrss`` from ``wait4``: the largest single process of the tree). *Flat*: the last
sample's RSS (summed over the processes) is at most 5 % (or 2 MiB) above the 50 % sample's. RSS, not PSS:
on a shared machine a process's PSS moves when other processes start or stop sharing its libraries (a
``diff`` whose RSS stayed at 49.1 MiB throughout showed PSS from 36 to 43 MiB). From 50 %, not 25 %:
forked workers turn the parent's shared pages into their own as they touch them (copy on write, bounded
by the parent's size), which the first quarter of a run has not finished doing.

Runs: ``evaluate --batch`` with one process and with ``--jobs 2`` (decisions to /dev/null), and
``diff`` against the same policy with ``seven_day_window_days`` 15 and ``late_shipment_rate`` 0.25
(its text summary kept; ``--changes`` to /dev/null, so every changed order is written too).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from cluster import changed_policy  # noqa: E402
from run import code_version, machine  # noqa: E402

FLAT_TOLERANCE = 0.05
FLAT_SLACK_KIB = 2048


def status(pid: int) -> dict[str, int]:
    out = {"rss_kib": 0, "hwm_kib": 0}
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    out["rss_kib"] = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    out["hwm_kib"] = int(line.split()[1])
    except OSError:
        pass
    return out


def pss_kib(pid: int) -> int:
    """Proportional set size: the process's pages, shared ones divided among the processes sharing them,
    so the sum over a parent and its forked workers counts every page once."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="utf-8") as handle:
            return [int(x) for x in handle.read().split()]
    except OSError:
        return []


def position(pid: int, path: Path) -> int | None:
    """How far ``pid`` has read ``path`` (the offset of the descriptor open on it), or None."""
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == str(path):
                    with open(f"/proc/{pid}/fdinfo/{fd}", encoding="utf-8") as handle:
                        return int(handle.readline().split()[1])
            except OSError:
                continue
    except OSError:
        return None
    return None


def watch(command: list[str], corpus: Path, out: Path, err: Path) -> dict[str, Any]:
    size = corpus.stat().st_size
    started = time.perf_counter()
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        process = subprocess.Popen(command, stdout=stdout, stderr=stderr, cwd=REPO)
    marks = [25, 50, 75]
    samples: list[dict[str, Any]] = []
    last: dict[str, Any] = {}
    while True:
        done, code, usage = os.wait4(process.pid, os.WNOHANG)  # not Popen.poll: wait4 also gives the peak RSS
        if done:
            break
        offset = position(process.pid, corpus)
        pids = [process.pid, *children(process.pid)]
        mem = [status(p) for p in pids]
        if offset is not None:
            percent = 100 * offset / size
            last = {
                "percent": round(percent, 1),
                "seconds": round(time.perf_counter() - started, 1),
                "rss_kib": sum(m["rss_kib"] for m in mem),
                "pss_kib": sum(pss_kib(p) for p in pids),
                "hwm_kib": max(m["hwm_kib"] for m in mem),
                "processes": len(pids),
            }
            while marks and percent >= marks[0]:
                samples.append({**last, "mark": marks.pop(0)})
        time.sleep(0.1)
    process.returncode = os.waitstatus_to_exitcode(code)
    if last:
        samples.append({**last, "mark": "last"})
    return {
        "command": " ".join(command[2:]),
        "seconds": round(time.perf_counter() - started, 1),
        "exit": process.returncode,
        "samples": samples,
        "ru_maxrss_kib": usage.ru_maxrss,
        "stderr_tail": err.read_text(encoding="utf-8", errors="replace")[-300:],
    }


def flat(samples: list[dict[str, Any]]) -> bool:
    half = next(s for s in samples if s["mark"] == 50)
    final = samples[-1]
    return bool(final["rss_kib"] - half["rss_kib"] <= max(half["rss_kib"] * FLAT_TOLERANCE, FLAT_SLACK_KIB))


def _series(run: dict[str, Any], key: str) -> str:
    return " / ".join(f"{s[key] / 1024:.1f}" for s in run["samples"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="batch and diff memory over a long stream (see benchmarks/README.md)")
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--corpus", type=Path, default=None, help="a JSON-lines corpus already written (else one is generated)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    info = machine()
    print(f"ruleengine memory over a long stream · {info['date']} · code {code_version()}")
    work = Path(tempfile.mkdtemp(prefix="ruleengine-flat-"))
    corpus = args.corpus
    if corpus is None:
        corpus = work / "orders.jsonl"
        start = time.perf_counter()
        generator = REPO / "examples" / "corpus" / "generate.py"
        subprocess.run(
            [sys.executable, str(generator), "--count", str(args.orders), "--seed", str(args.seed), "--out", str(corpus)], check=True
        )
        print(f"  corpus: {args.orders:,} orders (seed {args.seed}) written in {time.perf_counter() - start:.0f} s")
    corpus = corpus.resolve()
    with open(corpus, "rb") as handle:
        orders = sum(1 for line in handle if line.strip())
    print(f"  corpus: {corpus} ({orders:,} orders, {corpus.stat().st_size / 1e9:.2f} GB)")
    changed = changed_policy(work)
    cli = [sys.executable, "-m", "ruleengine.cli"]
    runs = {
        "batch, one process": [*cli, "evaluate", "--batch", str(corpus), "--rules", str(REPO / "rules")],
        "batch, --jobs 2": [*cli, "evaluate", "--batch", str(corpus), "--rules", str(REPO / "rules"), "--jobs", "2"],
        "diff": [*cli, "diff", str(corpus), "--base", str(REPO / "rules"), "--rules", str(changed), "--changes", os.devnull],
    }
    results: dict[str, Any] = {"machine": info, "orders": orders, "runs": {}}
    for name, command in runs.items():
        out = Path(os.devnull) if name.startswith("batch") else work / "diff.txt"
        run = watch(command, corpus, out, work / "stderr.txt")
        if not name.startswith("batch"):
            run["report"] = out.read_text(encoding="utf-8")
        run["orders_per_s"] = round(orders / run["seconds"])
        run["flat"] = flat(run["samples"])
        results["runs"][name] = run
        print(
            f"  {name}: {run['seconds']:.0f} s ({run['orders_per_s']:,}/s), exit {run['exit']}, "
            f"{run['samples'][-1]['processes']} process(es); at 25/50/75 %/end: "
            f"PSS {_series(run, 'pss_kib')} MiB, RSS {_series(run, 'rss_kib')} MiB, peak RSS so far {_series(run, 'hwm_kib')} MiB; "
            f"ru_maxrss {run['ru_maxrss_kib'] / 1024:.1f} MiB; flat: {'yes' if run['flat'] else 'NO'}"
        )
    print()
    print("| run | orders/s | RSS (MiB) at 25 / 50 / 75 % / end | PSS (MiB) at 25 / 50 / 75 % / end | largest peak RSS (MiB) | flat |")
    print("|---|---:|---|---|---:|---|")
    for name, run in results["runs"].items():
        flat_text = "yes" if run["flat"] else "**no**"
        print(
            f"| {name} | {run['orders_per_s']:,} | {_series(run, 'rss_kib')} | {_series(run, 'pss_kib')} | "
            f"{run['ru_maxrss_kib'] / 1024:.1f} | {flat_text} |"
        )
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1, default=str) + "\n", encoding="utf-8")
    shutil.rmtree(work, ignore_errors=True)
    return 0 if all(r["flat"] for r in results["runs"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
