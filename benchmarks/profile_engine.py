"""Profile the engine on the full default policy with cProfile: where does an evaluation's time go?

    python benchmarks/profile_engine.py [--orders 5000] [--seed 1] [--trusted] [--subset] [--top 15]

Prints the top functions by total (own) time, then the same time grouped by part
of the engine: facts validation (jsonschema, jsonschema-rs, the shape walk),
facts conversion (timestamps parsed, the copy), the rule loop (evaluation.py),
expressions (the compiled condition / value functions and the function library),
reason messages (templates), and the decision's output. The corpus is generated
before profiling starts; profiling slows everything down, so compare shares, not
absolute times, with ``run.py``.
"""

from __future__ import annotations

import argparse
import ast
import cProfile
import dataclasses
import io
import pstats
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from make_subset import make_subset  # noqa: E402
from run import RULES, load_corpus_module  # noqa: E402

import ruleengine  # noqa: E402

PARTS = (
    # (part, test on (file, function)) — the first match wins
    ("validation", lambda f, n: "jsonschema" in f or "jsonschema" in n or "referencing" in f or "rpds" in f),
    ("validation", lambda f, n: f.endswith("documents.py") and "shape" in n),
    ("validation", lambda f, n: (f.endswith(("schemas.py", "schemacheck.py")) and n != "parse_timestamp") or f.startswith("<schema ")),
    ("conversion", lambda f, n: f.endswith(("facts.py", "conversion.py")) or f == "<facts converter>"),
    ("conversion", lambda f, n: n in ("parse_timestamp", "fromisoformat")),
    ("conversion", lambda f, n: "re.Pattern" in n),
    ("expressions", lambda f, n: f.startswith("<rule ") or f.endswith(("functions.py", "check.py", "codegen.py"))),
    ("reasons", lambda f, n: f.endswith("templates.py") or "strftime" in n),
    ("rule loop", lambda f, n: f.endswith(("evaluation.py", "policy.py", "program.py", "actioncode.py")) or f.startswith("<policy ")),
    ("trace", lambda f, n: f.endswith(("events.py", "conditions.py"))),
    ("output", lambda f, n: f.endswith("decision.py")),
    ("builtins (dict.get, isinstance, …)", lambda f, n: f == "~"),
)


def part_of(filename: str, name: str) -> str:
    for part, test in PARTS:
        if test(filename, name):
            return part
    return "other"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--trusted", action="store_true", help="skip facts validation")
    parser.add_argument("--subset", action="store_true", help="the four-guarantee subset instead of the full policy")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="ruleengine-subset-") as folder:
        policy = ruleengine.load_policy(make_subset(Path(folder)) if args.subset else RULES)
    orders = list(load_corpus_module().generate(args.orders, args.seed))
    for order in orders[:50]:  # warm every lazy cache outside the profile
        policy.evaluate(order, trusted=args.trusted)

    profiler = cProfile.Profile()
    profiler.enable()
    for order in orders:
        policy.evaluate(order, trusted=args.trusted)
    profiler.disable()

    stats = pstats.Stats(profiler)
    total = stats.total_tt  # type: ignore[attr-defined]
    what = f"{'subset' if args.subset else 'full'} policy, {'trusted' if args.trusted else 'validated'} facts"
    print(
        f"cProfile, {args.orders:,} orders (seed {args.seed}), {what}: {total:.2f} s profiled, {total / args.orders * 1e6:.0f} µs/order\n"
    )

    rows = []
    by_part: dict[str, float] = defaultdict(float)
    for (filename, line, name), (_cc, calls, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append((tottime, calls, cumtime, filename, line, name))
        by_part[part_of(filename, name)] += tottime
    rows.sort(reverse=True)
    print("| # | function | calls | own s | own % | cum s |\n|---:|---|---:|---:|---:|---:|")
    for rank, (tottime, calls, cumtime, filename, line, name) in enumerate(rows[: args.top], 1):
        where = filename if filename.startswith("<") else f"{short(filename)}:{line}"
        print(f"| {rank} | `{name}` ({where}) | {calls:,} | {tottime:.3f} | {tottime / total:.1%} | {cumtime:.3f} |")
    print("\n| part | own s | share |\n|---|---:|---:|")
    for part, seconds in sorted(by_part.items(), key=lambda kv: -kv[1]):
        print(f"| {part} | {seconds:.3f} | {seconds / total:.1%} |")
    print()
    phase_split(policy, orders, args.trusted)
    if "--raw" in sys.argv:
        buffer = io.StringIO()
        pstats.Stats(profiler, stream=buffer).sort_stats("tottime").print_stats(args.top)
        print(buffer.getvalue())
    return 0


def phase_split(policy: ruleengine.Policy, orders: list[dict[str, Any]], trusted: bool) -> None:
    """The same split without the profiler's distortion: each phase timed on its own over the corpus.

    Uses the engine's internals (``facts.prepare``, ``evaluation.evaluate``); skipped if they moved.
    """
    try:
        from ruleengine.lang import types as t
        from ruleengine.lang.ir import Compiled
        from ruleengine.model.conditions import Leaf
        from ruleengine.runtime.evaluation import evaluate as run_rules
        from ruleengine.runtime.facts import prepare
    except ImportError as exc:  # pragma: no cover - internals renamed
        print(f"(phase split skipped: {exc})")
        return

    def clock(fn: Callable[[dict[str, Any]], Any]) -> float:
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter_ns()
            for order in orders:
                fn(order)
            best = min(best, (time.perf_counter_ns() - start) / 1e3 / len(orders))
        return best

    total = clock(lambda o: policy.evaluate(o, trusted=trusted))
    prepare_validated = clock(lambda o: prepare(o, policy))
    prepare_trusted = clock(lambda o: prepare(o, policy, trusted=True))
    prepared = [prepare(o, policy, trusted=True) for o in orders]
    it = iter(prepared * 3)
    rules = clock(lambda _o: run_rules(policy, next(it)))
    # The skeleton: the same rules, versions, scopes, lines, groups and budget with every condition
    # the constant False, so no action, expression or reason runs (the fast path compiles this policy anew).
    false = Leaf(Compiled("False", ast.Constant(False), t.scalar(t.BOOL), False), "", "", ("", 1, 1))
    fields = {f.name: getattr(policy, f.name) for f in dataclasses.fields(policy)}
    never = type(policy)._build(**{**fields, "rules": tuple(dataclasses.replace(rule, when=false) for rule in policy.rules)})
    it = iter(prepared * 3)
    skeleton = clock(lambda _o: run_rules(never, next(it)))
    rows = [("evaluate, as called", total)]
    if not trusted:
        rows.append(("validation (prepare validated − prepare trusted)", prepare_validated - prepare_trusted))
    rows += [
        ("conversion + consistency (prepare, trusted)", prepare_trusted),
        ("rules: loop, expressions, actions, reasons, output (evaluation.evaluate)", rules),
        ("… of which the skeleton: the same rules with every condition False at once", skeleton),
        ("… of which conditions, actions, expressions, reasons (the difference)", rules - skeleton),
        (
            "the rest: the evaluate wrapper, the Decision",
            total - rules - prepare_validated if not trusted else total - rules - prepare_trusted,
        ),
    ]
    print("Unprofiled, best of 3 passes:\n\n| phase | µs / order | share |\n|---|---:|---:|")
    for name, us in rows:
        print(f"| {name} | {us:.1f} | {us / total:.0%} |")


def short(filename: str) -> str:
    for marker in ("/site-packages/", "/src/", "/lib/python3"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


if __name__ == "__main__":
    sys.exit(main())
