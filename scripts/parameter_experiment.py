"""Change every parameter of the policy and see which tests notice.

The engine's tests (``tests/``) must not depend on the default policy's numbers: they run on small
policies of their own, or read the values from the loaded parameters. Only the policy's regression
cases (``rules/cases/``) may pin them. This script checks that promise:

1. copy the checkout (without ``.git``) to a temporary folder;
2. change every parameter value in the policy's parameter files, within plausible bounds (windows
   +1 day or hour, rates ±0.05 inside 0–1, money +10 %, counts +1, lists one enum value fewer or
   more, timestamps +1 day), respecting a parameter's declared ``min``/``max``;
3. check the changed policy still loads, and refresh ``docs/policy.md`` as the author loop does;
4. run ``python -m pytest tests`` and ``python -m pytest rules`` in the copy (the copy's own engine,
   through ``PYTHONPATH``) and print which tests fail.

An engine test that fails is run once more in the changed copy and, if it fails again, in an
unchanged copy: only a test that fails with the changes and passes without them failed because of a
value (time budgets and the known flaky reload test can fail on a busy machine, and a test can be
broken on the checkout itself). With ``--attribute`` it also changes one parameter at a time: it lists
the cases each change fails (and the parameters no case depends on), and names, for each case that
failed, the changes it depends on. Exit status: 0 when no engine test failed because of a changed
value, 1 when one did, 2 when the changed policy does not load.

    python scripts/parameter_experiment.py [--attribute] [--keep] [--only tests|rules] [--tests PATH…]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
IGNORED = shutil.ignore_patterns(
    ".git", "__pycache__", "*.pyc", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis", ".venv", "venv", "build", "dist"
)
CENT = Decimal("0.01")
RATE_STEP = Decimal("0.05")


@dataclass
class Change:
    name: str
    file: Path
    start: int
    """Offsets of the value's text in the file, replaced by ``text``."""
    end: int
    old: str
    """The value as the file wrote it."""
    new: Any
    text: str


# ---------------------------------------------------------------- the changes


def kind_of(spec: dict[str, Any]) -> str:
    """The declared ``type``; for files written before types were required, what the unit and value say."""
    if "type" in spec and spec["type"] != "number":
        return str(spec["type"])
    unit, value = spec.get("unit", ""), spec.get("value")
    if unit in ("days", "hours", "rate"):
        return str(unit)
    if unit == "CNY":
        return "money"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, list):
        return "list"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, (float, Decimal)):
        return "decimal"
    return "text"


def bounds(spec: dict[str, Any], kind: str) -> tuple[Decimal | None, Decimal | None]:
    low = {"rate": Decimal(0), "days": Decimal(0), "hours": Decimal(0), "money": Decimal(0)}.get(kind)
    high = Decimal(1) if kind == "rate" else None
    if "min" in spec:
        low = Decimal(str(spec["min"])) if low is None else max(low, Decimal(str(spec["min"])))
    if "max" in spec:
        high = Decimal(str(spec["max"])) if high is None else min(high, Decimal(str(spec["max"])))
    return low, high


def changed_number(value: Decimal, step: Decimal, low: Decimal | None, high: Decimal | None) -> Decimal:
    """``value + step``, or ``value - step`` when that would leave the bounds."""
    for candidate in (value + step, value - step):
        if (low is None or candidate >= low) and (high is None or candidate <= high):
            return candidate
    raise ValueError(f"no change of {step} keeps {value} within [{low}, {high}]")


def value_sets(policy: Any) -> dict[str, list[str]]:
    """The policy's value sets (its vocabulary): what a list parameter's ``of`` names."""
    return {name: list(policy.vocabulary.codes(name)) for name in policy.vocabulary.sets}


def changed_list(value: list[str], spec: dict[str, Any], vocabulary: dict[str, list[str]]) -> list[str]:
    """One value fewer (the last) when there are two or more; otherwise one more from the list's value set."""
    if len(value) >= 2:
        return value[:-1]
    extra = [x for x in vocabulary.get(str(spec.get("of", "")), []) if x not in value]
    return [*value, extra[0] if extra else f"{value[0] if value else 'value'}_changed"]


def changed_value(spec: dict[str, Any], vocabulary: dict[str, list[str]]) -> Any:
    kind, value = kind_of(spec), spec["value"]
    low, high = bounds(spec, kind)
    if kind in ("days", "hours", "integer"):
        return int(changed_number(Decimal(value), Decimal(1), low, high))
    if kind == "rate":
        return changed_number(Decimal(str(value)), RATE_STEP, low, high).quantize(CENT)
    if kind == "money":
        old = Decimal(str(value))
        return changed_number(old, max((old / 10).quantize(CENT), Decimal(1)), low, high).quantize(CENT)
    if kind == "decimal":
        return changed_number(Decimal(str(value)), Decimal(1), low, high)
    if kind == "boolean":
        return not value
    if kind == "timestamp":
        return (datetime.fromisoformat(str(value)) + timedelta(days=1)).isoformat()
    if kind == "list":
        return changed_list(list(value), spec, vocabulary)
    return f"{value}_changed"


def as_yaml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, list):
        return "[" + ", ".join(as_yaml(x) for x in value) + "]"
    if isinstance(value, int):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def parameter_files(rules: Path) -> Iterator[Path]:
    for path in sorted(rules.rglob("*.y*ml")):
        if "cases" not in path.relative_to(rules).parts:
            yield path


def plan(rules: Path, vocabulary: dict[str, list[str]]) -> list[Change]:
    """Where and how every parameter's value changes (offsets into the files, so comments and lines stay)."""
    changes = []
    for path in parameter_files(rules):
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
        if not isinstance(data, dict) or not isinstance(data.get("parameters"), dict):
            continue
        root = yaml.compose(text)
        assert root is not None
        section = next(v for k, v in root.value if k.value == "parameters")
        for key, node in section.value:
            spec = data["parameters"][key.value]
            value_node = next(v for k, v in node.value if k.value == "value")
            new = changed_value(spec, vocabulary)
            start, end = value_node.start_mark.index, value_node.end_mark.index
            changes.append(Change(key.value, path, start, end, " ".join(text[start:end].split()), new, as_yaml(new)))
    return changes


def apply(changes: list[Change], rules_from: Path, rules_to: Path) -> None:
    """Write ``changes`` (planned on ``rules_from``) into the same files under ``rules_to``."""
    by_file: dict[Path, list[Change]] = {}
    for change in changes:
        by_file.setdefault(change.file, []).append(change)
    for path, file_changes in by_file.items():
        text = path.read_text(encoding="utf-8")
        for change in sorted(file_changes, key=lambda c: c.start, reverse=True):
            text = text[: change.start] + change.text + text[change.end :]
        (rules_to / path.relative_to(rules_from)).write_text(text, encoding="utf-8")


# ---------------------------------------------------------------- running the tests


def engine(copy: Path) -> Any:
    """The copy's own ruleengine package, imported in this process."""
    sys.path.insert(0, str(copy / "src"))
    import ruleengine
    import ruleengine.authoring.cases
    import ruleengine.authoring.catalogue

    return ruleengine


@dataclass
class Failure:
    test: str
    """pytest's node id (``tests/test_x.py::test_y[param]``)."""
    message: str
    """The first line of pytest's failure message."""


def run_pytest(copy: Path, targets: list[str], report: Path) -> tuple[int, list[Failure], str]:
    """Run pytest on ``targets`` in the copy; the number of tests run, the failing ones, pytest's last line."""
    env = {**os.environ, "PYTHONPATH": str(copy / "src"), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("RULEENGINE_RULES", None)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}", *targets]
    done = subprocess.run(command, cwd=copy, env=env, capture_output=True, text=True, check=False)
    lines = [x for x in done.stdout.splitlines() if x.strip()]
    if not report.is_file():
        raise SystemExit(f"pytest {' '.join(targets)} did not run:\n{done.stdout}\n{done.stderr}")
    failed, total = [], 0
    for case in ET.parse(report).iter("testcase"):
        total += 1
        problem = case.find("failure")
        problem = problem if problem is not None else case.find("error")
        if problem is not None:
            message = (problem.get("message") or "").strip().splitlines()
            failed.append(Failure(node_id(copy, case.get("classname", ""), case.get("name", "")), message[0][:200] if message else ""))
    return total, failed, lines[-1] if lines else ""


VALUE = "FAILED because of a changed value"


def classify(failed: list[Failure], copy: Path, checkout: Path, work: Path) -> dict[str, str]:
    """Why each engine test failed. Time budgets and the one known flaky reload test can fail on a busy
    machine, and a test may fail on the unchanged checkout too: only a test that fails again in the
    changed copy and passes in an unchanged one failed because of a value."""
    _, again, _ = run_pytest(copy, [f.test for f in failed], work / "again.xml")
    still = [f.test for f in again]
    unchanged = work / "unchanged"
    if still:
        shutil.copytree(checkout, unchanged, ignore=IGNORED)
    _, anyway, _ = run_pytest(unchanged, still, work / "unchanged.xml") if still else (0, [], "")
    fails_anyway = {f.test for f in anyway}
    verdicts = {}
    for failure in failed:
        if failure.test not in still:
            verdicts[failure.test] = "passed when run again"
        elif failure.test in fails_anyway:
            verdicts[failure.test] = "fails without the change too"
        else:
            verdicts[failure.test] = VALUE
    return verdicts


def node_id(copy: Path, classname: str, name: str) -> str:
    """The pytest node id of a junit test case (``tests.hostile.test_x`` + ``test_y`` → ``tests/hostile/test_x.py::test_y``)."""
    parts = classname.split(".")
    for cut in range(len(parts), 0, -1):
        for suffix in (".py", ""):
            path = "/".join(parts[:cut]) + suffix
            if (copy / path).is_file():
                return "::".join([path, *parts[cut:], name])
    return f"{classname}::{name}"


def case_id(case: Any) -> str:
    return f"{Path(case.file).name}:{case.line} {case.name}"


def attribute(ruleengine: Any, changes: list[Change], rules: Path, cases: Path, work: Path) -> dict[str, set[str]]:
    """For each change made alone (to ``rules``, unchanged otherwise): the cases (in ``cases``) that fail."""
    failing: dict[str, set[str]] = {}
    single = work / "single"
    for change in changes:
        shutil.rmtree(single, ignore_errors=True)
        shutil.copytree(rules, single, ignore=IGNORED)
        apply([change], rules, single)
        run = ruleengine.authoring.cases.run_files([cases], rules=single)
        failing[change.name] = {case_id(r.case) for r in run.results if not r.passed}
    return failing


def print_attribution(changes: list[Change], alone: dict[str, set[str]], together: set[str]) -> None:
    print("\neach change alone, and the cases that fail with it:")
    for change in changes:
        hit = alone[change.name]
        masked = len(hit - together)
        note = f" ({masked} of them pass when every value changes)" if masked else ""
        print(f"  {change.name}: {change.old} → {change.text}: " + (f"{len(hit)} cases{note}" if hit else "no case depends on it"))
    print(f"\nthe {len(together)} cases that fail when every value changes, and the changes that fail each alone:")
    for name in sorted(together):
        culprits = [f"{c.name}: {c.old} → {c.text}" for c in changes if name in alone[c.name]]
        print(f"  {name}\n    " + ("\n    ".join(culprits) if culprits else "(no single change: only the combination)"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--checkout", type=Path, default=ROOT, help="the checkout to copy (default: this one)")
    parser.add_argument("--only", choices=["tests", "rules"], help="run only the engine's tests or only the policy's cases")
    parser.add_argument("--attribute", action="store_true", help="change one parameter at a time: which cases depend on which values")
    parser.add_argument("--keep", action="store_true", help="keep the changed copy and print where it is")
    parser.add_argument(
        "--tests", nargs="+", metavar="PATH", default=["tests"], help="the engine's tests to run (default: tests/), e.g. to retry a fix"
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="parameter-experiment-"))
    copy = work / "checkout"
    shutil.copytree(args.checkout, copy, ignore=IGNORED)
    rules = copy / "rules"
    original = work / "original-rules"
    shutil.copytree(rules, original)
    try:
        ruleengine = engine(copy)
        changes = plan(original, value_sets(ruleengine.load_policy(original)))
        apply(changes, original, rules)
        print(f"changed {len(changes)} parameters:")
        for change in changes:
            print(f"  {change.name}: {change.old} → {change.text}")

        try:
            policy = ruleengine.load_policy(rules)
        except ruleengine.PolicyError as exc:
            print(f"the changed policy does not load:\n{exc}", file=sys.stderr)
            return 2
        (copy / "docs" / "policy.md").write_text(ruleengine.authoring.catalogue.markdown(policy), encoding="utf-8")
        print(f"the changed policy loads: {policy.name} {policy.version} {policy.digest[:19]}…; docs/policy.md refreshed")

        status = 0
        for target in ("tests", "rules"):
            if args.only not in (None, target):
                continue
            paths = args.tests if target == "tests" else [target]
            total, failed, summary = run_pytest(copy, paths, work / f"{target}.xml")
            print(f"\npython -m pytest {' '.join(paths)}: {len(failed)} of {total} failed ({summary})")
            if target == "tests" and failed:
                verdicts = classify(failed, copy, args.checkout, work)
                for failure in failed:
                    print(f"  {verdicts[failure.test]}: {failure.test}: {failure.message}")
                status = 1 if VALUE in verdicts.values() else 0
            else:
                for failure in failed:
                    print(f"  FAILED {failure.test}")
            if target == "rules" and args.attribute:
                run = ruleengine.authoring.cases.run_files([rules / "cases"])
                together = {case_id(r.case) for r in run.results if not r.passed}
                print(f"\nruleengine test rules/cases (in process): {len(together)} of {len(run.results)} cases failed")
                print_attribution(changes, attribute(ruleengine, changes, original, rules / "cases", work), together)
        return status
    finally:
        if args.keep:
            print(f"\nthe changed copy: {copy}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
