"""Shared machinery of the hostile-input corpus (``tests/hostile``).

* ``minimal_policy`` builds a throw-away policy folder: the bundled manifest,
  parameters and definitions plus the hostile file(s) (loads in ~5 ms).
* ``outcome`` runs a callable and describes what came out as plain data
  (an error family member with its code and position, a value, or an
  unexpected exception), so that a case can assert exactly one outcome.
* ``ChildRunner`` runs the potentially expensive cases of a module in a child
  process under ``RLIMIT_AS`` (768 MiB) with a per-case timeout; the child
  measures each case's CPU time and peak RSS itself (``VmHWM``, reset before
  every case), and a hung or crashed case is recorded and the remaining cases
  continue in a fresh child.
* ``bounded`` is the per-test budget of the in-process cases: < 2 s of CPU (a busy
  machine's waiting is not the engine's work) and a pytest process under 512 MiB.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import ruleengine
from ruleengine import EvaluationError, FactsError, Limits, PolicyError

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
ROOT = TESTS.parent
RULES = ROOT / "rules"
EXAMPLES = ROOT / "examples" / "orders"
ORDER_FILE = HERE / "order.json"
"""A frozen copy of examples/orders/fast-refund-immediate.json: a no-reason return, one line, approved."""

CASE_SECONDS = 2.0
"""A case's budget in CPU seconds (the work the engine does, not time spent waiting for a busy machine's cores)."""
CASE_BYTES = 512 * 2**20
CHILD_ADDRESS_SPACE = 768 * 2**20
CHILD_TIMEOUT = 20.0
CHILD_STARTUP = 30.0
"""A case still running after this long (wall clock) hangs: kill it, go on with the rest."""

MINIMAL_FILES = ("policy.yaml", "parameters.yaml", "definitions.yaml")

# The hostile rule file. Line 7, column 11 is where WHEN starts; an expression
# written as "..." starts at column 12. Line 9 holds the action.
RULE_TEMPLATE = """\
rules:
  - id: hostile.rule
    title: {{zh: 敌意输入, en: hostile input}}
    description: hostile input
    stage: {stage}
    scope: {scope}
    when: {when}
    then:
      - {action}
"""


def rule_yaml(
    when: str = '"true"', action: str = "set: {claim.outcome: approved}", scope: str = "claimed_line", stage: str = "claim"
) -> str:
    return RULE_TEMPLATE.format(when=when, action=action, scope=scope, stage=stage)


def quoted(expression: str) -> str:
    """An expression as a YAML double-quoted scalar (JSON string syntax is valid YAML)."""
    return json.dumps(expression, ensure_ascii=False)


def minimal_policy(root: Path, files: dict[str, str | bytes]) -> Path:
    """A policy folder with the bundled manifest, parameters and definitions, plus ``files``."""
    folder = root / "rules"
    folder.mkdir(parents=True, exist_ok=True)
    for name in MINIMAL_FILES:
        shutil.copyfile(RULES / name, folder / name)
    for name, content in files.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")
    return folder


# ---------------------------------------------------------------- outcomes


def describe(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, PolicyError):
        return {
            "kind": "PolicyError",
            "diagnostics": [[Path(d.file).name, d.line, d.column, d.code, d.message] for d in exc.diagnostics if d.severity == "error"],
        }
    if isinstance(exc, FactsError):
        return {"kind": "FactsError", "problems": [[p.pointer, p.code, p.line, p.column, p.message] for p in exc.problems]}
    if isinstance(exc, EvaluationError):
        return {
            "kind": "EvaluationError",
            "rule": exc.rule,
            "file": Path(exc.file).name if exc.file else "",
            "line": exc.line,
            "column": exc.column,
            "code": exc.code,
            "message": exc.message,
        }
    return {"kind": "unexpected", "type": type(exc).__name__, "message": str(exc)[:300]}


def outcome(fn: Callable[[], Any]) -> dict[str, Any]:
    """What ``fn()`` did, as plain (JSON-compatible) data."""
    try:
        value = fn()
    except Exception as exc:  # the point is to see anything that escapes
        return describe(exc)
    return {"kind": "ok", "value": value}


def load_outcome(root: Path, limits: Limits | None = None, project: Callable[[ruleengine.Policy], Any] | None = None) -> dict[str, Any]:
    """Load a policy folder; on success the value is ``project(policy)`` (default: the rule ids)."""

    def run() -> Any:
        policy = ruleengine.load_policy(root, limits=limits or ruleengine.DEFAULT_LIMITS)
        return project(policy) if project is not None else policy.rule_ids()

    return outcome(run)


def only_diagnostic(result: dict[str, Any]) -> list[Any]:
    """The single error of a PolicyError outcome: [file, line, column, code, message]."""
    assert result["kind"] == "PolicyError", result
    assert len(result["diagnostics"]) == 1, result["diagnostics"]
    diagnostic: list[Any] = result["diagnostics"][0]
    return diagnostic


def only_problem(result: dict[str, Any]) -> list[Any]:
    """The single problem of a FactsError outcome: [pointer, code, line, column, message]."""
    assert result["kind"] == "FactsError", result
    assert len(result["problems"]) == 1, result["problems"]
    problem: list[Any] = result["problems"][0]
    return problem


def order_text() -> str:
    return ORDER_FILE.read_text(encoding="utf-8")


def claim_outcome(decision: ruleengine.Decision) -> str:
    return str(decision.to_dict()["claim"]["outcome"])


# ---------------------------------------------------------------- budgets


def _peak_rss() -> int:
    """Peak resident set size of this process in bytes (VmHWM, resettable; else ru_maxrss)."""
    with contextlib.suppress(OSError, AttributeError):
        match = re.search(r"VmHWM:\s+(\d+) kB", Path("/proc/self/status").read_text())
        if match:
            return int(match.group(1)) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _reset_peak_rss() -> None:
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


@contextlib.contextmanager
def bounded() -> Iterator[None]:
    """The in-process budget of one case: under 2 s of CPU, and the test process under 512 MiB."""
    started = time.process_time()
    yield
    elapsed = time.process_time() - started
    assert elapsed < CASE_SECONDS, f"case took {elapsed:.2f} s of CPU (budget {CASE_SECONDS} s)"
    peak = _peak_rss()
    assert peak < CASE_BYTES, f"test process peaked at {peak / 2**20:.0f} MiB (budget 512 MiB)"


_CHILD = r"""
import importlib, json, resource, sys, time
limit, module, names = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
sys.path[:0] = [{hostile!r}, {tests!r}]
mod = importlib.import_module(module)
setup = getattr(mod, "child_setup", None)
if setup is not None:
    setup()
from hostile_support import _peak_rss, _reset_peak_rss
print(json.dumps({{"ready": True}}), flush=True)
for name in names:
    _reset_peak_rss()
    started = time.process_time()
    try:
        result = mod.CHILD_CASES[name]()
    except BaseException as exc:
        result = {{"kind": "crash", "type": type(exc).__name__, "message": str(exc)[:300]}}
    seconds = time.process_time() - started
    peak = _peak_rss()
    print(json.dumps({{"name": name, "result": result, "seconds": seconds, "peak_rss": peak}}, default=str), flush=True)
    if peak >= {budget}:
        break  # later cases would inherit this peak: they get a fresh child
"""


class ChildRunner:
    """Runs a module's ``CHILD_CASES`` in child processes, lazily, once per test session."""

    def __init__(self, module: str, cases: dict[str, Callable[[], dict[str, Any]]]) -> None:
        self.module = module
        self.cases = cases
        self.results: dict[str, dict[str, Any]] = {}
        self.ran = False

    def result(self, name: str) -> dict[str, Any]:
        if not self.ran:
            self.run()
        return self.results[name]

    def run(self) -> None:
        self.ran = True
        pending = list(self.cases)
        while pending:
            # stderr goes to a file, not a pipe: a chatty child can never block on it.
            with tempfile.TemporaryFile() as errors:
                self._one_child(pending, errors)

    def _one_child(self, pending: list[str], errors: Any) -> None:
        """Run ``pending`` cases in one child until they are done, one hangs or crashes, or memory was spent."""
        script = _CHILD.format(hostile=str(HERE), tests=str(TESTS), budget=CASE_BYTES)
        process = subprocess.Popen(
            [sys.executable, "-c", script, str(CHILD_ADDRESS_SPACE), self.module, *pending],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            cwd=str(ROOT),
        )

        def stderr_tail() -> str:
            errors.seek(0)
            return str(errors.read()[-2000:].decode("utf-8", "backslashreplace"))

        lines: queue.Queue[str | None] = queue.Queue()

        def pump() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                lines.put(line)
            lines.put(None)

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        try:
            try:
                ready = lines.get(timeout=CHILD_STARTUP)  # imports, and the module's child_setup()
            except queue.Empty:
                ready = None
            if ready is None or "ready" not in ready:
                process.kill()
                process.wait()
                raise RuntimeError(f"the child for {self.module} did not start: {stderr_tail()}")
            consumed = 0
            while pending:
                try:
                    line = lines.get(timeout=CHILD_TIMEOUT)
                except queue.Empty:
                    self.results[pending.pop(0)] = {"result": {"kind": "timeout"}, "seconds": CHILD_TIMEOUT, "peak_rss": 0}
                    return
                if line is None:
                    process.wait()
                    if process.returncode == 0 and consumed:
                        return  # the child stopped after a case that raised its peak memory: go on in a fresh one
                    self.results[pending.pop(0)] = {
                        "result": {"kind": "crash", "returncode": process.returncode, "stderr": stderr_tail()},
                        "seconds": 0.0,
                        "peak_rss": 0,
                    }
                    return
                record = json.loads(line)
                self.results[record["name"]] = record
                pending.remove(record["name"])
                consumed += 1
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()
            reader.join(5.0)  # EOF follows the child's exit
            if process.stdout is not None:
                process.stdout.close()


def child_outcome(runner: ChildRunner, name: str) -> dict[str, Any]:
    """The outcome of a child-run case, after asserting its own time and memory budget."""
    record = runner.result(name)
    result: dict[str, Any] = record["result"]
    assert result.get("kind") not in ("timeout", "crash"), f"{name}: {result}"
    assert record["seconds"] < CASE_SECONDS, f"{name} took {record['seconds']:.2f} s of CPU in the child (budget {CASE_SECONDS} s)"
    assert record["peak_rss"] < CASE_BYTES, f"{name} peaked at {record['peak_rss'] / 2**20:.0f} MiB (budget 512 MiB)"
    return result


# ---------------------------------------------------------------- the command line


def run_cli(*args: str, stdin: bytes | None = None, timeout: float = 20.0) -> tuple[int, str, str]:
    """``python -m ruleengine.cli ARGS`` under the child address-space limit: (exit code, stdout, stderr).

    Asserts the 2 s CPU budget (interpreter start included) and the 512 MiB peak of that one process
    (its own rusage, collected with ``os.wait4``); ``timeout`` (wall clock) only stops a hang.
    """

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (CHILD_ADDRESS_SPACE, CHILD_ADDRESS_SPACE))

    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "LC_ALL": "C.UTF-8"}
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "ruleengine.cli", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=str(ROOT),
        env=env,
        preexec_fn=limit,
    )
    streams: dict[str, bytes] = {}

    def read(name: str, stream: Any) -> None:
        streams[name] = stream.read()
        stream.close()

    def write() -> None:
        assert process.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            process.stdin.write(stdin or b"")
        with contextlib.suppress(BrokenPipeError):
            process.stdin.close()

    threads = [
        threading.Thread(target=read, args=("out", process.stdout), daemon=True),
        threading.Thread(target=read, args=("err", process.stderr), daemon=True),
        threading.Thread(target=write, daemon=True),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, timeout - (time.perf_counter() - started)))
    if any(thread.is_alive() for thread in threads):
        process.kill()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    elapsed = usage.ru_utime + usage.ru_stime
    assert elapsed < CASE_SECONDS, f"ruleengine {' '.join(args)[:80]} took {elapsed:.2f} s of CPU"
    assert usage.ru_maxrss * 1024 < CASE_BYTES, f"ruleengine {' '.join(args)[:80]} peaked at {usage.ru_maxrss // 1024} MiB"
    out = streams.get("out", b"").decode("utf-8", "backslashreplace")
    err = streams.get("err", b"").decode("utf-8", "backslashreplace")
    return process.returncode, out, err


POLICY_LINE = "策略 policy: "
"""How a command in text mode starts the line that says which policy it used."""


def error_lines(stderr: str) -> list[str]:
    """Standard error without the line that says which policy the command used."""
    return [line for line in stderr.splitlines() if not line.startswith(POLICY_LINE)]


def assert_clean_stderr(stderr: str) -> None:
    """No traceback, every line short, no raw control character (ESC, BEL, NUL, bidi)."""
    assert "Traceback" not in stderr, stderr[-2000:]
    for line in stderr.splitlines():
        assert len(line) < 1000, f"{len(line)}-character line: {line[:200]}…"
        raw = [
            ch for ch in line if (ord(ch) < 0x20 and ch != "\t") or ch in "\x7f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200b"
        ]
        assert not raw, f"raw control characters {raw!r} in: {line[:200]}"


@pytest.fixture(autouse=True)
def bounded_case() -> Iterator[None]:
    """Every hostile case runs under the same time and memory bound (imported by each test module)."""
    with bounded():
        yield
