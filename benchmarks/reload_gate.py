#!/usr/bin/env python3
"""Does the service ever serve a policy cut short by a save in progress, or missing a file for a moment?

    python benchmarks/reload_gate.py online                    # 9 slow saves + 3 deletions under load, guarded and unguarded
    python benchmarks/reload_gate.py offline                   # every line cut of every policy file: loads? passes its cases?
    python benchmarks/reload_gate.py offline --files guarantees/seven_day_return.yaml --orders 5000

Loopback only; bounded: ``online`` runs ``--trials`` saves and ``--deletions`` deletions (a few seconds each)
per variant; ``offline`` loads the policy once per line cut (2,637 cuts of the default policy; ~15 min on
this machine, ``--files``/``--stride`` for less).

**online.** A copy of ``rules/`` (with its cases, and the example orders the cases name beside it) is
served by ``ruleengine serve``; aiohttp clients send orders from a seeded corpus back to back and count
the answers by the policy digest each one carries. Trials: ``guarantees/seven_day_return.yaml`` saved
the way a non-atomic editor saves it — truncate, write the first 80 lines, pause (spread over
0.3–1.0 s; ``--stalls`` more with a ``--stall-seconds`` (3 s) pause, longer than the quiet period and a
reload, which only the cases can stop), write the rest — and ``guarantees/return_shipping_insurance.yaml`` deleted for 2 s
and restored; and ``--edits`` valid edits (the policy's version changed, then back, saved normally),
timed until the new digest is live. After each trial the script waits until a reload has found the
complete policy again ("settled": seconds from the end of the edit). The
digests of the cut-down policies are computed beforehand, so each answer is labelled. Variants:
``guarded`` (the defaults: quiet period 500 ms, cases gate) and ``unguarded`` (``--reload-quiet-ms 0
--serve-failing-cases``: no quiet period and no cases gate, only the check that the folder did not
change while it was loaded; what the experiment catches without the gate). Exit 1 if the guarded
service answered from anything but the complete policy.

**offline.** For each policy file and each number of whole lines N, the file is cut to its first N lines
and the policy loaded; a policy that loads is checked with its own cases (what the reload gate does).
For every cut that loads *and* passes, ``--orders`` corpus orders are decided with the complete and the
cut policy and the decisions compared (the policy stamp aside): how many differ, in outcome or anywhere.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples" / "corpus"))
from generate import dumps, generate  # noqa: E402

from ruleengine import load_policy  # noqa: E402
from ruleengine.authoring.gate import run_policy_cases  # noqa: E402
from ruleengine.errors import PolicyError, RuleEngineError  # noqa: E402
from ruleengine.model.rules import Policy  # noqa: E402

SAVED = Path("guarantees") / "seven_day_return.yaml"
EDITED = Path("policy.yaml")
VERSION, EDITED_VERSION = 'version: "2026.11"', 'version: "2026.99"'
"""A valid edit (the policy's version), saved normally: how soon it is live under load, and back again."""
DELETED = Path("guarantees") / "return_shipping_insurance.yaml"
HEAD_LINES = 80


def copy_policy(workdir: Path) -> Path:
    rules = workdir / "rules"
    shutil.copytree(ROOT / "rules", rules)
    shutil.copytree(ROOT / "examples" / "orders", workdir / "examples" / "orders")
    return rules


# -- online


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start(rules: Path, extra: list[str], workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    out = open(workdir / f"server-{port}.log", "wb")  # noqa: SIM115 - the server's output, kept for a failure
    command = [sys.executable, "-m", "ruleengine.cli", "serve", "--rules", str(rules), "--port", str(port), *extra]
    process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=workdir)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited:\n{(workdir / f'server-{port}.log').read_text()}")
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    raise SystemExit("the server did not become ready")


class Answers:
    def __init__(self) -> None:
        self.by_digest: collections.Counter[str] = collections.Counter()
        self.errors: collections.Counter[str] = collections.Counter()
        self.stop = False


async def client(url: str, bodies: list[bytes], offset: int, answers: Answers) -> None:
    async with aiohttp.ClientSession(url, connector=aiohttp.TCPConnector(limit=1), timeout=aiohttp.ClientTimeout(total=30)) as http:
        i = offset
        while not answers.stop:
            body = bodies[i % len(bodies)]
            i += 1
            try:
                async with http.post("/v1/decisions", data=body, headers={"content-type": "application/json"}) as response:
                    text = await response.read()
                    status = response.status
            except (aiohttp.ClientError, TimeoutError) as exc:
                answers.errors[type(exc).__name__] += 1
                continue
            if status == 200:
                answers.by_digest[json.loads(text)["policy"]["digest"]] += 1
            elif status != 400:  # a corpus order the schema refuses is not the policy's doing
                answers.errors[f"HTTP {status}"] += 1


async def settled(http: httpx.AsyncClient, before: int, complete: str, timeout: float = 60.0) -> float:
    """Wait until a reload ran since ``before`` (reload count), the complete policy is served and the last reload found it."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if await reloads(http) > before:
            status = (await http.get("/v1/policy")).json()
            if status["digest"] == complete and status["last_reload_error"] is None:
                return time.monotonic() - started
        await asyncio.sleep(0.05)
    return float("nan")


async def reloads(http: httpx.AsyncClient) -> int:
    metrics = (await http.get("/metrics")).text
    return int(sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines() if line.startswith("ruleengine_policy_reloads_total")))


async def slow_save(path: Path, content: bytes, pause: float) -> None:
    lines = content.splitlines(keepends=True)
    with open(path, "wb") as handle:
        handle.write(b"".join(lines[:HEAD_LINES]))
        handle.flush()
        await asyncio.sleep(pause)
        handle.write(b"".join(lines[HEAD_LINES:]))


async def live(http: httpx.AsyncClient, digest: str, timeout: float = 60.0) -> float:
    """Seconds until ``/v1/policy`` serves ``digest``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if (await http.get("/v1/policy")).json()["digest"] == digest:
            return time.monotonic() - started
        await asyncio.sleep(0.02)
    return float("nan")


async def experiment(
    url: str, rules: Path, bodies: list[bytes], clients: int, plan: list[tuple[str, float]], digests: dict[str, str]
) -> list[dict[str, Any]]:
    answers = Answers()
    tasks = [asyncio.create_task(client(url, bodies, k * 997, answers)) for k in range(clients)]
    saved = (rules / SAVED).read_bytes()
    kept = (rules / DELETED).read_bytes()
    results: list[dict[str, Any]] = []
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        await asyncio.sleep(1.0)
        for kind, seconds in plan:
            before_answers = collections.Counter(answers.by_digest)
            before_errors = collections.Counter(answers.errors)
            before = await reloads(http)
            if kind == "edit":
                text = (rules / EDITED).read_text(encoding="utf-8")
                edited = VERSION in text
                (rules / EDITED).write_text(text.replace(*((VERSION, EDITED_VERSION) if edited else (EDITED_VERSION, VERSION))), "utf-8")
                waited = await live(http, digests["edited" if edited else "complete"])
            elif kind == "save":
                await slow_save(rules / SAVED, saved, seconds)
                waited = await settled(http, before, digests["complete"])
            else:
                (rules / DELETED).unlink()
                await asyncio.sleep(seconds)
                (rules / DELETED).write_bytes(kept)
                waited = await settled(http, before, digests["complete"])
            await asyncio.sleep(1.0)  # and any reload the end of the edit started
            results.append(
                {
                    "trial": f"{kind} {seconds:.2f} s" if kind != "edit" else "valid edit",
                    "answers": dict(answers.by_digest - before_answers),
                    "errors": dict(answers.errors - before_errors),
                    "settled_after_s": round(waited, 2),
                }
            )
    answers.stop = True
    await asyncio.gather(*tasks)
    return results


def labels(rules: Path, workdir: Path) -> dict[str, str]:
    """The digests of the complete policy and of the two cut-down ones, with how many rules each has."""
    out: dict[str, str] = {}
    complete = load_policy(rules)
    out[complete.digest] = f"complete ({len(complete.rules)} rules)"
    cut = workdir / "cut"
    shutil.copytree(rules, cut)
    content = (rules / SAVED).read_bytes()
    (cut / SAVED).write_bytes(b"".join(content.splitlines(keepends=True)[:HEAD_LINES]))
    try:
        policy = load_policy(cut)
        out[policy.digest] = f"first {HEAD_LINES} lines of {SAVED.name} ({len(policy.rules)} rules)"
    except PolicyError:
        pass
    (cut / SAVED).write_bytes(content)
    (cut / DELETED).unlink()
    policy = load_policy(cut)
    out[policy.digest] = f"without {DELETED.name} ({len(policy.rules)} rules)"
    (cut / DELETED).write_bytes((rules / DELETED).read_bytes())
    (cut / EDITED).write_text((rules / EDITED).read_text(encoding="utf-8").replace(VERSION, EDITED_VERSION), "utf-8")
    edited = load_policy(cut)
    out[edited.digest] = f"edited (the version changed; {len(edited.rules)} rules)"
    shutil.rmtree(cut)
    return out


def online(args: argparse.Namespace) -> int:
    bodies = [dumps(order).encode() for order in generate(args.orders, args.seed)]
    variants = {"guarded": [], "unguarded": ["--reload-quiet-ms", "0", "--serve-failing-cases"]}
    failed = False
    report: dict[str, Any] = {}
    for name in args.variants:
        workdir = Path(tempfile.mkdtemp(prefix="ruleengine-gate-"))
        rules = copy_policy(workdir)
        known = labels(rules, workdir)
        process, url = start(rules, variants[name], workdir)
        plan: list[tuple[str, float]] = [("save", 0.3 + 0.7 * k / max(1, args.trials - 1)) for k in range(args.trials)]
        plan += [("save", args.stall_seconds)] * args.stalls + [("delete", 2.0)] * args.deletions + [("edit", 0.0)] * args.edits
        digests = {label.split(" ")[0]: d for d, label in known.items()}
        try:
            results = asyncio.run(experiment(url, rules, bodies, args.clients, plan, digests))
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(60)
        complete = digests["complete"]
        whole = {complete, digests["edited"]}
        print(f"\n{name}: {' '.join(variants[name]) or 'defaults (quiet 500 ms, cases gate)'}")
        print(f"  {'trial':14} {'answers':>8} {'complete':>9} {'other':>6}  settled  incomplete policies answering")
        for r in results:
            total = sum(r["answers"].values())
            other = {known.get(d, d[:19]): n for d, n in r["answers"].items() if d not in whole}
            print(
                f"  {r['trial']:14} {total:8} {sum(r['answers'].get(d, 0) for d in whole):9} {sum(other.values()):6}  "
                f"{r['settled_after_s']:5.2f} s  {other or ''}{'  errors ' + str(r['errors']) if r['errors'] else ''}"
            )
        incomplete = sum(sum(n for d, n in r["answers"].items() if d not in whole) for r in results)
        trials_hit = sum(1 for r in results if any(d not in whole for d in r["answers"]))
        print(f"  {incomplete} answers from an incomplete policy, in {trials_hit} of {len(results)} trials")
        edits = sorted(r["settled_after_s"] for r in results if r["trial"] == "valid edit")
        if edits:
            print(f"  a valid edit was live after {edits} s (median {statistics.median(edits):.2f} s)")
        report[name] = {"results": results, "labels": known, "incomplete_answers": incomplete, "trials_with_incomplete": trials_hit}
        failed = failed or (name == "guarded" and incomplete > 0)
        shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    return 1 if failed else 0


# -- offline


def decide_all(policy: Policy, orders: list[dict[str, Any]]) -> list[dict[str, Any] | None]:
    out: list[dict[str, Any] | None] = []
    for order in orders:
        try:
            decision = policy.evaluate(order).to_dict()
        except RuleEngineError:
            out.append(None)
            continue
        decision.pop("policy", None)
        out.append(decision)
    return out


def _outcome(decision: dict[str, Any] | None) -> Any:
    return ((decision or {}).get("claim") or {}).get("outcome")


def offline(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="ruleengine-cuts-"))
    rules = copy_policy(workdir)
    complete = load_policy(rules)
    orders = list(generate(args.orders, args.seed))
    reference = decide_all(complete, orders)
    files = [Path(f) for f in args.files] or sorted(
        p.relative_to(rules) for p in rules.rglob("*.yaml") if "cases" not in p.relative_to(rules).parts
    )
    totals = collections.Counter[str]()
    passing: list[dict[str, Any]] = []
    started = time.monotonic()
    print(f"{'file':42} {'cuts':>5} {'load':>5} {'pass':>5}")
    for rel in files:
        path = rules / rel
        content = path.read_bytes()
        lines = content.splitlines(keepends=True)
        counts = collections.Counter[str]()
        try:
            for n in range(0, len(lines), args.stride):
                path.write_bytes(b"".join(lines[:n]))
                counts["cuts"] += 1
                try:
                    policy = load_policy(rules)
                except PolicyError:
                    continue
                counts["load"] += 1
                if run_policy_cases(policy, rules).failed:
                    continue
                counts["pass"] += 1
                decisions = decide_all(policy, orders)
                differ = sum(1 for a, b in zip(reference, decisions, strict=True) if a != b)
                outcome = sum(1 for a, b in zip(reference, decisions, strict=True) if _outcome(a) != _outcome(b))
                missing = [line.decode().strip() for line in lines[n:]]
                passing.append(
                    {
                        "file": str(rel),
                        "lines": f"{n} of {len(lines)}",
                        "rules": len(policy.rules),
                        "decisions_differ": differ,
                        "outcomes_differ": outcome,
                        "cut_off": missing[:4],
                    }
                )
        finally:
            path.write_bytes(content)
        totals.update(counts)
        print(f"{rel!s:42} {counts['cuts']:5} {counts['load']:5} {counts['pass']:5}", flush=True)
    print(f"{'total':42} {totals['cuts']:5} {totals['load']:5} {totals['pass']:5}   ({time.monotonic() - started:.0f} s)")
    print(f"\ncuts that load and pass every case, and what they change in {args.orders:,} corpus decisions:")
    for p in passing:
        differ = f"{p['decisions_differ']} decisions differ ({p['outcomes_differ']} in outcome)"
        print(f"  {p['file']} cut at {p['lines']} lines: {p['rules']} rules; {differ}")
        print(f"    cut off: {' ⏎ '.join(p['cut_off'])}")
    if args.json:
        args.json.write_text(json.dumps({"totals": dict(totals), "passing": passing}, indent=2, ensure_ascii=False), encoding="utf-8")
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("part", choices=["online", "offline"])
    parser.add_argument("--orders", type=int, default=2000, help="Corpus orders (online: sent; offline: compared)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--clients", type=int, default=4, help="online: concurrent clients")
    parser.add_argument("--trials", type=int, default=9, help="online: slow saves (pauses spread over 0.3–1.0 s)")
    parser.add_argument("--stalls", type=int, default=2, help="online: saves that stall (longer than the quiet period and a load)")
    parser.add_argument("--stall-seconds", type=float, default=3.0, help="online: how long a stalled save pauses")
    parser.add_argument("--deletions", type=int, default=3, help="online: a file deleted for 2 s")
    parser.add_argument("--edits", type=int, default=4, help="online: valid edits (the version, saved normally), timed until live")
    parser.add_argument("--variants", nargs="+", default=["guarded", "unguarded"], choices=["guarded", "unguarded"])
    parser.add_argument("--files", nargs="*", default=[], help="offline: policy files (relative to rules/); default all")
    parser.add_argument("--stride", type=int, default=1, help="offline: every Nth line cut")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    return online(args) if args.part == "online" else offline(args)


if __name__ == "__main__":
    sys.exit(main())
