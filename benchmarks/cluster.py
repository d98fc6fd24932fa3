"""Scaling on a Dask cluster: batch evaluation and the impact analysis with 1 and with 2 worker processes.

    python benchmarks/cluster.py [--orders 40000] [--rounds 3] [--seed 1] [--json FILE]

Two ``LocalCluster``s run side by side on loopback — a scheduler and one single-threaded worker
process, and a scheduler and two — and every round times, on each, the same two jobs over the same
seeded corpus (a JSON-lines file written once):

- batch: ``ruleengine.scale.batch.run(..., client=…)``, what ``ruleengine evaluate --batch --scheduler`` runs:
  this process reads the lines and sends chunks of 1,000, the workers parse, validate, decide and write
  JSON, the results come back in order (and are hashed here, not kept);
- diff: ``impact.compare_on_cluster``, what ``ruleengine diff --scheduler`` runs: the default policy
  against the same with ``seven_day_window_days`` 15 and ``late_shipment_rate`` 0.25.

Both are also run once in this process alone (``batch.run`` with one job, ``impact.compare``), and
every cluster run is checked against them: the same output hash, the same impact report. Memory per
worker is each worker process's peak RSS (VmHWM, from /proc, asked through ``client.run``) after the
rounds, and its RSS then; the client's is this process's. Times are wall times, medians of rounds; the
CPU time this process (the client, reading and sending, and the schedulers) spends during each run is
reported too, since on a 2-core machine it competes with the workers.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from run import code_version, load_corpus_module, machine  # noqa: E402

import ruleengine  # noqa: E402
from ruleengine.authoring import impact  # noqa: E402
from ruleengine.runtime.decision import dumps  # noqa: E402
from ruleengine.scale.batch import run as run_batch  # noqa: E402


class Hashing(io.TextIOBase):
    """An output stream that keeps only a hash of what is written (and how many lines)."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.lines = 0

    def write(self, text: str) -> int:
        self.digest.update(text.encode("utf-8"))
        self.lines += text.count("\n")
        return len(text)


def status_kib(field: str) -> int:
    """VmHWM (peak RSS) or VmRSS of the calling process, in KiB: run on each worker through client.run."""
    with open("/proc/self/status", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def worker_memory(client: Any) -> list[dict[str, int]]:
    peaks = client.run(status_kib, "VmHWM")
    now = client.run(status_kib, "VmRSS")
    return [{"peak_kib": peaks[w], "rss_kib": now[w]} for w in sorted(peaks)]


def changed_policy(work: Path) -> Path:
    """The default policy with a 15-day no-reason window and a 0.25 late-shipment rate (a copy in ``work``)."""
    folder = work / "changed"
    shutil.copytree(REPO / "rules", folder)
    parameters = folder / "parameters.yaml"
    text = parameters.read_text(encoding="utf-8")
    for name, value in (("seven_day_window_days", "15"), ("late_shipment_rate", "0.25")):
        text, found = re.subn(rf"(?m)^(  {name}:\n(?:    .*\n)*?    value: ).*$", rf"\g<1>{value}", text)
        assert found == 1, name
    parameters.write_text(text, encoding="utf-8")
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="ruleengine on a Dask cluster: 1 and 2 workers (see benchmarks/README.md)")
    parser.add_argument("--orders", type=int, default=40_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    from dask.distributed import Client, LocalCluster

    info = machine()
    print(f"ruleengine on Dask · {info['date']} · code {code_version()}")
    print(f"  machine: {info['cpu_model']}, os.cpu_count() = {info['cpu_count']}, {info['system']}, CPython {info['python']}")
    work = Path(tempfile.mkdtemp(prefix="ruleengine-cluster-"))
    corpus = work / "orders.jsonl"
    with open(corpus, "w", encoding="utf-8") as out:
        load_corpus_module().write_jsonl(load_corpus_module().generate(args.orders, args.seed), out)
    base = ruleengine.load_policy(REPO / "rules")
    new = ruleengine.load_policy(changed_policy(work))
    print(f"  corpus: {args.orders:,} orders (seed {args.seed}), {corpus.stat().st_size / 1e6:.0f} MB; policies loaded")

    here_cpu: dict[tuple[str, int], list[float]] = {}

    def timed(name: str, client: Any, job: Callable[[], str]) -> tuple[float, str]:
        """Wall time of ``job``; the CPU time this process (client and schedulers) spent meanwhile is kept too."""
        start, cpu = time.perf_counter(), time.process_time()
        result = job()
        took = time.perf_counter() - start
        if client is not None:
            here_cpu.setdefault((name, len(client.nthreads())), []).append(time.process_time() - cpu)
        return took, result

    def batch(client: Any) -> tuple[float, str]:
        def job() -> str:
            sink, err = Hashing(), Hashing()
            with open(corpus, "rb") as stream:
                run_batch(stream, sink, err, policy=base, source=str(corpus), client=client)
            return sink.digest.hexdigest()

        return timed("batch", client, job)

    def diff(client: Any) -> tuple[float, str]:
        def job() -> str:
            if client is None:
                return dumps(impact.compare(base, new, impact.read_orders(corpus), "base", "new").to_dict())
            return dumps(impact.compare_on_cluster(client, base, new, impact.read_documents(corpus), "base", "new").to_dict())

        return timed("diff", client, job)

    jobs: dict[str, Callable[[Any], tuple[float, str]]] = {"batch": batch, "diff": diff}
    alone = {name: job(None) for name, job in jobs.items()}
    print("  one process: " + ", ".join(f"{name} {args.orders / took:,.0f} orders/s" for name, (took, _) in alone.items()))

    options = {"threads_per_worker": 1, "processes": True, "host": "127.0.0.1", "dashboard_address": None}
    times: dict[tuple[str, int], list[float]] = {(name, n): [] for name in jobs for n in (1, 2)}
    same = True
    with LocalCluster(n_workers=1, **options) as one, LocalCluster(n_workers=2, **options) as two:
        clients = {1: Client(one), 2: Client(two)}
        try:
            for r in range(args.rounds):
                for name, job in jobs.items():
                    for n in (1, 2) if r % 2 == 0 else (2, 1):
                        took, result = job(clients[n])
                        same &= result == alone[name][1]
                        times[(name, n)].append(took)
                print(
                    f"  round {r + 1}/{args.rounds}: "
                    + ", ".join(f"{name} ×{n} workers {args.orders / times[(name, n)][-1]:,.0f}/s" for name, n in times)
                )
            memory = {n: worker_memory(clients[n]) for n in (1, 2)}
        finally:
            for client in clients.values():
                client.close()
    client_peak = status_kib("VmHWM")
    med = statistics.median
    rate = {f"{name}_{n}": args.orders / med(ts) for (name, n), ts in times.items()}
    results = {
        "machine": info,
        "orders": args.orders,
        "rounds": args.rounds,
        "one_process_orders_per_s": {name: args.orders / took for name, (took, _) in alone.items()},
        "orders_per_s": rate,
        "seconds": {f"{name}_{n}": ts for (name, n), ts in times.items()},
        "speedup_1_to_2": {name: med(times[(name, 1)]) / med(times[(name, 2)]) for name in jobs},
        "worker_memory_kib": memory,
        "this_process_cpu_s": {f"{name}_{n}": ts for (name, n), ts in here_cpu.items()},
        "client_peak_kib": client_peak,
        "identical_to_one_process": same,
    }
    print()
    print("| job | one process | 1 worker | 2 workers | speed-up 1 → 2 |")
    print("|---|---:|---:|---:|---:|")
    for name in jobs:
        print(
            f"| {name} (orders/s) | {results['one_process_orders_per_s'][name]:,.0f} | {rate[f'{name}_1']:,.0f} | "
            f"{rate[f'{name}_2']:,.0f} | {results['speedup_1_to_2'][name]:.2f}× |"
        )
    for (name, n), ts in sorted(here_cpu.items()):
        print(f"  CPU time of this process (client and scheduler) during {name} ×{n}: {med(ts):.1f} s, median of rounds")
    for n in (1, 2):
        shown = " · ".join(f"peak {m['peak_kib'] / 1024:.0f} MiB, now {m['rss_kib'] / 1024:.0f} MiB" for m in memory[n])
        print(f"  memory, {n} worker{'s' if n > 1 else ''}: {shown}")
    print(f"  memory, this process (client, both schedulers, the one-process runs): peak {client_peak / 1024:.0f} MiB")
    print(f"  output identical to one process in every run: {'yes' if same else 'NO'}")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1, default=str) + "\n", encoding="utf-8")
    shutil.rmtree(work, ignore_errors=True)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
