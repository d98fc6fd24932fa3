"""The ruleengine benchmark: throughput, latency, load time and memory, against the issue's targets.

    python benchmarks/run.py [--orders 20000] [--rounds 5] [--seed 1] [--quick] [--json FILE]

It generates a seeded corpus (``examples/corpus/generate.py``), then in every round
runs each measured variant once over the whole corpus, in a rotated order, so that
machine drift falls on every variant alike; the figures are medians over rounds:

- engine, full default policy, facts validated     (``policy.evaluate(order)``)
- engine, full default policy, trusted facts       (``policy.evaluate(order, trusted=True)``)
- engine, subset policy, validated and trusted     (four guarantees, ``make_subset.py``)
- hand-written Python for the same subset          (``reference.decide(order)``)
- GoRules ZEN's compiled expressions, same subset  (``zen_subset.decide(order)``, the peer)
- engine, full default policy, explaining          (``policy.evaluate(order, explain=True)``, on the
                                                    first ``--explain-orders`` orders of the corpus)

plus, in the same rounds, a fresh ``load_policy`` of the default policy and of a
generated 1,000-rule policy (``many_rules.py``), and a cold load of each in a new
interpreter. Before the rounds it streams the corpus through ``evaluate`` in a child
process, sampling memory at 25/50/75/100 %, and checks that the engine (subset,
trusted and validated) and ZEN each agree with the hand-written reference on every
order, field by field.

Exit status: 0, or 1 when the engine or ZEN disagrees with the reference on any order.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import importlib.util
import json
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RULES = REPO / "rules"
sys.path.insert(0, str(HERE))

import reference  # noqa: E402
from make_subset import make_subset  # noqa: E402
from many_rules import write_many_rules  # noqa: E402

import ruleengine  # noqa: E402

# The targets.
TARGET_VALIDATED_ORDERS_PER_S = 20_000
TARGET_SUBSET_RATIO = 2.0
TARGET_LOAD_DEFAULT_MS = 200
TARGET_LOAD_MANY_MS = 2000
FLAT_TOLERANCE = 0.05
FLAT_SLACK_TRACED = 64 * 1024
FLAT_SLACK_RSS = 1024 * 1024
"""Memory is flat when the 100 % sample exceeds the 25 % sample (taken once a quarter of the stream has warmed
every code path) by at most 5 %, or by at most 64 KiB (tracemalloc) / 1 MiB (RSS, counted in pages and arenas)."""
MANY_RULES = 1000


def load_corpus_module() -> Any:
    spec = importlib.util.spec_from_file_location("corpus_generate", REPO / "examples" / "corpus" / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------ machine


def machine() -> dict[str, Any]:
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            model = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), "")
    except OSError:
        pass
    return {
        "processor": platform.processor() or platform.machine(),
        "cpu_model": model,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "system": f"{platform.system()} {platform.release()}",
        "date": dt.datetime.now(dt.UTC).astimezone().isoformat(timespec="seconds"),
    }


def code_version() -> str:
    """The commit measured, and whether the engine or the rules had uncommitted changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src", "rules", "schemas"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return head + (" + uncommitted changes in src/, rules/ or schemas/" if dirty else "")


def pin_to_one_core(cpu: int | None) -> int | None:
    """Run on one core (children inherit it): 'orders/s on one core' then means exactly that."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    available = sorted(os.sched_getaffinity(0))
    chosen = available[-1] if cpu is None else cpu
    os.sched_setaffinity(0, {chosen})
    return chosen


# ------------------------------------------------------------------ corpus


def corpus_summary(orders: list[dict[str, Any]]) -> dict[str, Any]:
    lines = Counter(len(o["items"]) for o in orders)
    claims = Counter(o["claim"]["type"] for o in orders if "claim" in o)
    return {
        "orders": len(orders),
        "lines": dict(sorted(lines.items())),
        "claim_share": sum(claims.values()) / len(orders),
        "claim_types": {t: claims.get(t, 0) for t in load_corpus_module().CLAIM_TYPES},
    }


# ------------------------------------------------------------------ agreement


def compare(engine: dict[str, Any], ours: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Fields where the decisions differ (reasons by rule id; services order-free; policy stamp excluded),
    and the rules whose reason message text differs (reported, not a disagreement)."""
    fields: list[str] = []
    messages: list[str] = []
    keys = (set(engine) | set(ours)) - {"policy"}
    for key in sorted(keys):
        a, b = engine.get(key), ours.get(key)
        if key == "services" and isinstance(a, dict) and isinstance(b, dict):
            if a.keys() != b.keys() or any(sorted(a[s]) != sorted(b[s]) for s in a):
                fields.append(key)
        elif key == "claim" and isinstance(a, dict) and isinstance(b, dict):
            for name in sorted(set(a) | set(b)):
                x, y = a.get(name), b.get(name)
                if name == "reasons" and isinstance(x, list) and isinstance(y, list):
                    if [r["rule"] for r in x] != [r["rule"] for r in y]:
                        fields.append("claim.reasons")
                    else:
                        messages += [r["rule"] for r, s in zip(x, y, strict=True) if r["message"] != s["message"]]
                elif x != y or type(x) is not type(y):
                    fields.append(f"claim.{name}")
        elif a != b:
            fields.append(key)
    return fields, messages


def check_agreement(
    decide: Callable[[dict[str, Any]], dict[str, Any]], orders: list[dict[str, Any]], report_dir: Path, name: str
) -> dict[str, Any]:
    """``decide`` against the reference on every order; disagreeing orders go to ``report_dir/disagreements-NAME.jsonl``."""
    by_field: Counter[str] = Counter()
    message_diffs: Counter[str] = Counter()
    examples: list[dict[str, Any]] = []
    bad_orders: list[dict[str, Any]] = []
    for order in orders:
        engine = decide(order)
        ours = reference.decide(order)
        fields, messages = compare(engine, ours)
        message_diffs.update(messages)
        if fields:
            by_field.update(fields)
            bad_orders.append(order)
            if len(examples) < 5:
                examples.append(
                    {
                        "order_id": order["order_id"],
                        "fields": fields,
                        "engine": {f: _field(engine, f) for f in fields},
                        "reference": {f: _field(ours, f) for f in fields},
                    }
                )
    result: dict[str, Any] = {
        "orders": len(orders),
        "disagreements": len(bad_orders),
        "by_field": dict(by_field),
        "examples": examples,
        "message_text_differences": dict(message_diffs),
    }
    if bad_orders:
        corpus = load_corpus_module()
        path = report_dir / f"disagreements-{name}.jsonl"
        with open(path, "w", encoding="utf-8") as out:
            corpus.write_jsonl(bad_orders, out)
        result["orders_file"] = str(path)
    return result


def _field(decision: dict[str, Any], name: str) -> Any:
    value: Any = decision
    for part in name.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if name == "claim.reasons" and isinstance(value, list):
        return [r["rule"] for r in value]
    return value


def check_many_rules(policy: ruleengine.Policy, orders: list[dict[str, Any]]) -> dict[str, int]:
    """The generated policy must be valid at run time too: decide some orders with it."""
    fired: set[str] = set()
    errors = 0
    for order in orders:
        try:
            fired.update(policy.evaluate(order, trusted=True).fired)
        except ruleengine.RuleEngineError:
            errors += 1
    return {"orders": len(orders), "fired": len(fired), "errors": errors}


# ------------------------------------------------------------------ timing


def time_variant(fn: Callable[[dict[str, Any]], Any], orders: list[dict[str, Any]], cpu: bool = False) -> tuple[int, list[int]]:
    """The time of one pass (ns) and each call's wall time (ns); results are dropped as they come.

    The pass's time is wall time, or with ``cpu`` the process's CPU time (``time.process_time_ns``: all its
    threads, so a peer's native threads count too): on a shared core, what the pass cost without the time it
    waited for the core.
    """
    gc.collect()
    clock = time.perf_counter_ns
    samples = [0] * len(orders)
    start, cpu_start = clock(), time.process_time_ns()
    for index, order in enumerate(orders):
        t0 = clock()
        fn(order)
        samples[index] = clock() - t0
    if cpu:
        return time.process_time_ns() - cpu_start, samples
    return clock() - start, samples


def percentile(sorted_values: list[int], p: float) -> float:
    """Nearest-rank percentile of sorted values."""
    rank = min(len(sorted_values), max(1, math.ceil(p / 100 * len(sorted_values))))
    return float(sorted_values[rank - 1])


def time_load(path: Path) -> float:
    gc.collect()
    start = time.perf_counter_ns()
    ruleengine.load_policy(path)
    return (time.perf_counter_ns() - start) / 1e6


COLD_LOAD = """
import json, sys, time
start = time.perf_counter_ns()
import ruleengine
imported = time.perf_counter_ns()
ruleengine.load_policy(sys.argv[1])
loaded = time.perf_counter_ns()
print(json.dumps({"import_ms": (imported - start) / 1e6, "load_ms": (loaded - imported) / 1e6}))
"""


def cold_load(path: Path) -> dict[str, float]:
    """``import ruleengine`` and a load in a new interpreter: nothing cached (parsed files, schemas, validators)."""
    out = subprocess.run([sys.executable, "-c", COLD_LOAD, str(path)], check=True, capture_output=True, text=True)
    result: dict[str, float] = json.loads(out.stdout)
    return result


# ------------------------------------------------------------------ memory


def memory_profile(orders: int, seed: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child-memory", str(orders), str(seed)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def _status_kib(field: str) -> int:
    """A memory figure of this process from /proc/self/status (VmRSS: now, VmHWM: its peak), in KiB."""
    try:
        with open("/proc/self/status", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def child_memory(count: int, seed: int) -> None:
    """Stream the corpus (generated lazily) through the full policy, validated, keeping no decision.

    Pass 1 samples ru_maxrss, VmHWM and VmRSS with nothing else running; pass 2 samples
    tracemalloc's current and peak (started after the policy is loaded, so it shows what
    streaming costs). Both at 25, 50, 75 and 100 % of the stream. (ru_maxrss survives exec:
    the parent starts this child before it builds its own corpus, so the figure is the child's.)
    """
    corpus = load_corpus_module()
    policy = ruleengine.load_policy(RULES)
    marks = {max(1, count * q // 4): q * 25 for q in (1, 2, 3, 4)}

    def rss_sample(percent: int) -> dict[str, int]:
        return {
            "percent": percent,
            "ru_maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "hwm_kib": _status_kib("VmHWM"),
            "rss_kib": _status_kib("VmRSS"),
        }

    after_load = rss_sample(0)
    rss: list[dict[str, int]] = []
    for index, order in enumerate(corpus.generate(count, seed), 1):
        policy.evaluate(order)
        if index in marks:
            rss.append(rss_sample(marks[index]))
    traced: list[dict[str, int]] = []
    stream: Iterator[dict[str, Any]] = corpus.generate(count, seed)
    gc.collect()
    tracemalloc.start()
    for index, order in enumerate(stream, 1):
        policy.evaluate(order)
        if index in marks:
            current, peak = tracemalloc.get_traced_memory()
            traced.append({"percent": marks[index], "current_bytes": current, "peak_bytes": peak})
    tracemalloc.stop()
    print(json.dumps({"orders": count, "after_load": after_load, "rss": rss, "tracemalloc": traced}))


def flat(first: float, last: float, slack: float) -> bool:
    return last - first <= max(first * FLAT_TOLERANCE, slack)


# ------------------------------------------------------------------ the run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="ruleengine benchmark (see benchmarks/README.md)")
    parser.add_argument("--orders", type=int, default=20_000, help="corpus size (default 20000)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds; figures are medians (default 5)")
    parser.add_argument("--seed", type=int, default=1, help="corpus seed (default 1)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2,000 orders, 3 rounds")
    parser.add_argument("--cpu", type=int, default=None, help="the core to pin to (default: the last one)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin the process to one core")
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="time each pass by wall time (default) or by the process's CPU time (a shared machine: waits for the core excluded)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write every figure as JSON to this file")
    parser.add_argument(
        "--explain-orders", type=int, default=500, help="orders decided with explain=True in each round (default 500: it is slow today)"
    )
    parser.add_argument("--no-zen", action="store_true", help="leave out GoRules ZEN (zen-engine not installed)")
    parser.add_argument("--child-memory", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_memory:
        child_memory(*args.child_memory)
        return 0
    if args.quick:
        args.orders, args.rounds = 2_000, 3
    zen_decide: Callable[[dict[str, Any]], Any] | None = None
    if not args.no_zen:
        try:
            from zen_subset import decide as zen_decide
        except ImportError as exc:
            print(f"GoRules ZEN is not installed ({exc}): pip install '.[bench]', or run with --no-zen", file=sys.stderr)
            return 2

    info = machine()
    info["pinned_cpu"] = None if args.no_pin else pin_to_one_core(args.cpu)
    info["code"] = code_version()
    command = "python benchmarks/run.py " + " ".join(argv if argv is not None else sys.argv[1:])
    print(f"ruleengine benchmark · {info['date']}")
    print(f"  command: {command.strip()}")
    print(f"  code: {info['code']}")
    print(
        f"  machine: {info['cpu_model'] or info['processor']} (platform.processor(): {platform.processor() or '—'}), "
        f"os.cpu_count() = {info['cpu_count']}, {info['system']}, "
        f"{info['implementation']} {info['python']}" + (f"; pinned to CPU {info['pinned_cpu']}" if info["pinned_cpu"] is not None else "")
    )

    # -- memory first, in a child process streaming the corpus (before this process grows: see child_memory)
    start = time.perf_counter()
    memory = memory_profile(args.orders, args.seed)
    print(f"  memory: streamed {args.orders:,} orders through the full policy in a child process ({time.perf_counter() - start:.1f} s)")

    # -- corpus and policies
    corpus = load_corpus_module()
    start = time.perf_counter()
    orders = list(corpus.generate(args.orders, args.seed))
    summary = corpus_summary(orders)
    print(
        f"  corpus: {summary['orders']:,} orders (seed {args.seed}, generated in {time.perf_counter() - start:.1f} s); "
        f"lines per order {summary['lines']}; {summary['claim_share']:.1%} with a claim; "
        f"claim types {sum(1 for n in summary['claim_types'].values() if n)}/{len(summary['claim_types'])}"
        + ("" if args.orders >= 20_000 else " (a smoke run: the issue's figures need at least 20,000 orders)")
    )
    work = Path(tempfile.mkdtemp(prefix="ruleengine-bench-"))
    subset_dir = make_subset(work / "subset")
    many_dir = write_many_rules(work / "many", MANY_RULES, seed=args.seed)
    full = ruleengine.load_policy(RULES)
    subset = ruleengine.load_policy(subset_dir)
    many = ruleengine.load_policy(many_dir)
    many_check = check_many_rules(many, orders[:500])
    print(
        f"  policies: full {len(full.rule_ids())} rules ({len(full.rules)} versions); "
        f"subset {len(subset.rule_ids())} rules; generated {len(many.rule_ids())} rules "
        f"({many_check['fired']} of them fired on {many_check['orders']} orders, {many_check['errors']} errors); in {work}"
    )

    # -- agreement, on the whole corpus: every implementation against the hand-written reference
    checked: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
        "engine_trusted": lambda order: subset.evaluate(order, trusted=True).to_dict(),
        "engine_validated": lambda order: subset.evaluate(order).to_dict(),
    }
    if zen_decide is not None:
        checked["zen"] = zen_decide
    agreements: dict[str, dict[str, Any]] = {}
    for name, decide in checked.items():
        start = time.perf_counter()
        agreement = agreements[name] = check_agreement(decide, orders, work, name)
        print(
            f"  agreement, {name} (subset) vs hand-written: {agreement['disagreements']} disagreements "
            f"in {agreement['orders']:,} orders ({time.perf_counter() - start:.1f} s)"
        )
        for example in agreement["examples"]:
            print(f"    {example['order_id']}: {', '.join(example['fields'])}")
            for field in example["fields"]:
                print(f"      {field}: {name} {example['engine'][field]!r} / reference {example['reference'][field]!r}")
        if agreement.get("orders_file"):
            print(
                f"    the disagreeing orders: {agreement['orders_file']} — reproduce one with "
                f"ruleengine evaluate --batch {agreement['orders_file']} --rules {subset_dir} --format json"
            )
        if agreement["message_text_differences"]:
            print(f"    (reason message texts differ, not counted: {agreement['message_text_differences']})")
    disagreements = sum(a["disagreements"] for a in agreements.values())

    # -- interleaved rounds
    variants: dict[str, Callable[[dict[str, Any]], Any]] = {
        "full_validated": full.evaluate,
        "full_trusted": lambda order: full.evaluate(order, trusted=True),
        "subset_validated": subset.evaluate,
        "subset_trusted": lambda order: subset.evaluate(order, trusted=True),
        "reference": reference.decide,
    }
    if zen_decide is not None:
        variants["zen"] = zen_decide
    variants["full_explain"] = lambda order: full.evaluate(order, explain=True)
    explain_orders = orders[: args.explain_orders]

    def variant_orders(name: str) -> list[dict[str, Any]]:
        return explain_orders if name == "full_explain" else orders

    names = list(variants)
    # Untimed, once: the first order of each kind builds its function (a service builds them all before it serves,
    # Policy.compile_all); the rounds time evaluations, not builds.
    for name in names:
        for order in variant_orders(name)[:1000]:
            variants[name](order)
    seconds: dict[str, list[float]] = {n: [] for n in names}
    p50: dict[str, list[float]] = {n: [] for n in names}
    p99: dict[str, list[float]] = {n: [] for n in names}
    ratio_trusted: list[float] = []
    ratio_validated: list[float] = []
    ratio_zen: list[float] = []
    loads: dict[str, list[float]] = {"default_warm": [], "many_warm": [], "default_cold": [], "many_cold": []}
    imports: list[float] = []
    for r in range(args.rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        took: dict[str, float] = {}
        for name in order:
            total, samples = time_variant(variants[name], explain_orders if name == "full_explain" else orders, args.clock == "cpu")
            samples.sort()
            took[name] = total / 1e9
            seconds[name].append(took[name])
            p50[name].append(percentile(samples, 50) / 1e3)
            p99[name].append(percentile(samples, 99) / 1e3)
        ratio_trusted.append(took["subset_trusted"] / took["reference"])
        ratio_validated.append(took["subset_validated"] / took["reference"])
        if "zen" in took:
            ratio_zen.append(took["zen"] / took["reference"])
        loads["default_warm"].append(time_load(RULES))
        loads["many_warm"].append(time_load(many_dir))
        cold = cold_load(RULES)
        loads["default_cold"].append(cold["load_ms"])
        imports.append(cold["import_ms"])
        loads["many_cold"].append(cold_load(many_dir)["load_ms"])
        print(
            f"  round {r + 1}/{args.rounds}: "
            + ", ".join(f"{n} {len(variant_orders(n)) / took[n]:,.0f}/s" for n in names)
            + f"; ratio {ratio_trusted[-1]:.2f}×"
            + (f", ZEN {ratio_zen[-1]:.2f}×" if ratio_zen else "")
        )
    # A load is quick: take at least 5 of each even in a quick run.
    while len(loads["default_warm"]) < 5:
        loads["default_warm"].append(time_load(RULES))
        loads["many_warm"].append(time_load(many_dir))
    while len(loads["default_cold"]) < 5:
        cold = cold_load(RULES)
        loads["default_cold"].append(cold["load_ms"])
        imports.append(cold["import_ms"])
        loads["many_cold"].append(cold_load(many_dir)["load_ms"])

    # -- memory, in a child process streaming the corpus

    med = statistics.median
    rate = {n: len(variant_orders(n)) / med(seconds[n]) for n in names}
    spread = {n: (len(variant_orders(n)) / max(seconds[n]), len(variant_orders(n)) / min(seconds[n])) for n in names}
    per_order_us = {n: med(seconds[n]) / len(variant_orders(n)) * 1e6 for n in names}
    results: dict[str, Any] = {
        "machine": info,
        "command": command.strip(),
        "clock": args.clock,
        "corpus": summary | {"seed": args.seed},
        "rounds": args.rounds,
        "orders_per_s": rate,
        "orders_per_s_range": spread,
        "p50_us": {n: med(p50[n]) for n in names},
        "p99_us": {n: med(p99[n]) for n in names},
        "ratio_engine_trusted_to_reference": med(ratio_trusted),
        "ratio_engine_validated_to_reference": med(ratio_validated),
        "ratio_zen_to_reference": med(ratio_zen) if ratio_zen else None,
        "ratios_per_round": {"engine_trusted": ratio_trusted, "engine_validated": ratio_validated, "zen": ratio_zen},
        "us_per_order": per_order_us,
        "explain_orders": len(explain_orders),
        "load_ms": {k: med(v) for k, v in loads.items()},
        "load_ms_samples": loads,
        "import_ms": med(imports),
        "memory": memory,
        "agreement": agreements,
        "generated_policy_check": many_check,
    }
    print()
    print(render_peers(results))
    print()
    print(render_table(results))
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
        print(f"\n(written to {args.json})")
    if disagreements:
        return 1
    shutil.rmtree(work, ignore_errors=True)  # kept only when it holds disagreeing orders to reproduce
    return 0


PEERS = (
    ("reference", "hand-written Python (`reference.py`)"),
    ("zen", "GoRules ZEN, compiled expressions (`zen_subset.py`)"),
    ("subset_trusted", "this engine, `trusted=True`"),
    ("subset_validated", "this engine, validating every order"),
)


def render_peers(res: dict[str, Any]) -> str:
    """The subset policy, side by side: time per order and its multiple of the hand-written code's."""
    us, reference_us = res["us_per_order"], res["us_per_order"]["reference"]
    per_round = {"subset_trusted": "engine_trusted", "subset_validated": "engine_validated", "zen": "zen"}
    lines = ["| subset policy | µs per order | orders/s | × hand-written (median of rounds; rounds min–max) |", "|---|---:|---:|---:|"]
    for name, label in PEERS:
        if name not in us:
            continue
        rounds = res["ratios_per_round"].get(per_round.get(name, ""), [])
        ratio = f"{statistics.median(rounds):.2f} ({min(rounds):.2f}–{max(rounds):.2f})" if rounds else f"{us[name] / reference_us:.2f}"
        lines.append(f"| {label} | {us[name]:.1f} | {res['orders_per_s'][name]:,.0f} | {ratio} |")
    return "\n".join(lines)


def render_table(res: dict[str, Any]) -> str:
    rate, rng, p50, p99, load = res["orders_per_s"], res["orders_per_s_range"], res["p50_us"], res["p99_us"], res["load_ms"]

    def status(ok: bool) -> str:
        return "met" if ok else "**not met**"

    def orders(name: str) -> str:
        lo, hi = rng[name]
        return f"{rate[name]:,.0f} ({lo:,.0f}–{hi:,.0f})"

    rss = res["memory"]["rss"]
    base = res["memory"]["after_load"]
    traced = res["memory"]["tracemalloc"]
    rss_flat = flat(rss[0]["ru_maxrss_kib"] * 1024, rss[-1]["ru_maxrss_kib"] * 1024, FLAT_SLACK_RSS)
    peak_flat = flat(traced[0]["peak_bytes"], traced[-1]["peak_bytes"], FLAT_SLACK_TRACED)
    current_flat = flat(traced[0]["current_bytes"], traced[-1]["current_bytes"], FLAT_SLACK_TRACED)
    rows = [
        (
            "full policy, validated facts: orders/s on one core",
            orders("full_validated"),
            f"≥ {TARGET_VALIDATED_ORDERS_PER_S:,}",
            status(rate["full_validated"] >= TARGET_VALIDATED_ORDERS_PER_S),
        ),
        ("full policy, trusted facts: orders/s on one core", orders("full_trusted"), "reported beside", "—"),
        ("full policy, validated: µs per evaluate, p50 / p99", f"{p50['full_validated']:,.0f} / {p99['full_validated']:,.0f}", "—", "—"),
        ("full policy, trusted: µs per evaluate, p50 / p99", f"{p50['full_trusted']:,.0f} / {p99['full_trusted']:,.0f}", "—", "—"),
        ("subset, engine, trusted: orders/s", orders("subset_trusted"), "—", "—"),
        ("subset, engine, validated: orders/s", orders("subset_validated"), "—", "—"),
        ("subset, hand-written Python: orders/s", orders("reference"), "—", "—"),
        (
            "subset: time ratio engine (trusted) / hand-written",
            f"{res['ratio_engine_trusted_to_reference']:.2f}×",
            f"≤ {TARGET_SUBSET_RATIO:g}×",
            status(res["ratio_engine_trusted_to_reference"] <= TARGET_SUBSET_RATIO),
        ),
        ("subset: time ratio engine (validated) / hand-written", f"{res['ratio_engine_validated_to_reference']:.2f}×", "—", "—"),
        (
            "load default policy, fresh load_policy (warm caches)",
            f"{load['default_warm']:,.0f} ms",
            f"< {TARGET_LOAD_DEFAULT_MS} ms",
            status(load["default_warm"] < TARGET_LOAD_DEFAULT_MS),
        ),
        (
            "load default policy, cold (new interpreter, after import)",
            f"{load['default_cold']:,.0f} ms",
            f"< {TARGET_LOAD_DEFAULT_MS} ms",
            status(load["default_cold"] < TARGET_LOAD_DEFAULT_MS),
        ),
        (
            f"load generated {MANY_RULES:,}-rule policy (warm caches)",
            f"{load['many_warm']:,.0f} ms",
            f"< {TARGET_LOAD_MANY_MS:,} ms",
            status(load["many_warm"] < TARGET_LOAD_MANY_MS),
        ),
        (
            f"load generated {MANY_RULES:,}-rule policy, cold",
            f"{load['many_cold']:,.0f} ms",
            f"< {TARGET_LOAD_MANY_MS:,} ms",
            status(load["many_cold"] < TARGET_LOAD_MANY_MS),
        ),
        ("`import ruleengine`, cold", f"{res['import_ms']:,.0f} ms", "—", "—"),
        (
            "peak memory, tracemalloc, at 25/50/75/100 % of the stream",
            " / ".join(f"{s['peak_bytes'] / 1024:.0f}" for s in traced) + " KiB",
            "flat",
            status(peak_flat),
        ),
        (
            "memory held, tracemalloc current, at 25/50/75/100 %",
            " / ".join(f"{s['current_bytes'] / 1024:.0f}" for s in traced) + " KiB",
            "flat",
            status(current_flat),
        ),
        (
            "peak RSS, ru_maxrss: after load → at 25/50/75/100 %",
            f"{base['ru_maxrss_kib'] / 1024:.1f} → " + " / ".join(f"{s['ru_maxrss_kib'] / 1024:.1f}" for s in rss) + " MiB",
            "flat",
            status(rss_flat),
        ),
        (
            "RSS now, VmRSS: after load → at 25/50/75/100 %",
            f"{base['rss_kib'] / 1024:.1f} → " + " / ".join(f"{s['rss_kib'] / 1024:.1f}" for s in rss) + " MiB",
            "flat",
            status(flat(rss[0]["rss_kib"] * 1024, rss[-1]["rss_kib"] * 1024, FLAT_SLACK_RSS)),
        ),
        (
            f"full policy, explaining (explain=True, full trace): orders/s, first {res['explain_orders']:,} orders",
            orders("full_explain"),
            "≥ 2,000 (later)",
            status(rate["full_explain"] >= 2000),
        ),
        *(
            (
                f"decisions, {name} (subset) vs hand-written",
                f"{a['disagreements']} disagreements / {a['orders']:,}",
                "0",
                status(a["disagreements"] == 0),
            )
            for name, a in res["agreement"].items()
        ),
    ]
    head = ("figure", "median of rounds (orders/s: min–max)", "target", "")
    lines = [f"| {' | '.join(head)} |", "|---|---:|---|---|"]
    lines += [f"| {' | '.join(row)} |" for row in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
