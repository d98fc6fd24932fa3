"""Regression cases run against their policy: what a case file names of the policy is checked, then each case.

A case whose order does not validate fails, never passes; a failing case names
the rules that wrote the fields it expected. ``pytest`` collects case files
through the plugin in :mod:`ruleengine.authoring.pytest_plugin`; ``ruleengine
test`` runs them too. Reading case files is :mod:`ruleengine.authoring.case_files`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..compile.loader import load_policy
from ..compile.policyfolder import PolicyFolder, where
from ..errors import Diagnostic, EvaluationError, FactsError, PolicyError, RuleEngineError
from ..runtime.events import Listener, plain
from ..runtime.moneytext import amount
from ..runtime.policy import Policy
from ..text import shorten
from .case_files import MATCHERS, Case, case_files, load_cases, policy_folder_for

SHOWN = 3
"""Rules a failing case's report names for one field; the rest are counted (``ruleengine explain`` shows all)."""


@dataclass
class Mismatch:
    path: str
    expected: Any
    actual: Any
    writers: list[str] = field(default_factory=list)
    """Rules that wrote to this part of the decision, with what decided them."""


@dataclass
class CaseResult:
    case: Case
    status: str  # passed | failed | error
    mismatches: list[Mismatch] = field(default_factory=list)
    message: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def report(self) -> str:
        head = f"{self.status.upper()} {self.case.where} {self.case.name}"
        lines = [head]
        if self.message:
            lines += ["  " + line for line in self.message.splitlines()]
        for m in self.mismatches:
            lines.append(f"  {m.path}: expected {_show(m.expected)}, got {_show(m.actual)}")
            lines += ["    " + w for w in m.writers]
        return "\n".join(lines)


def _show(value: Any) -> str:
    if value is _MISSING:
        return "(absent)"
    if isinstance(value, Decimal):
        return f"{value:f}"
    return str(plain(value))


class _Missing:
    pass


_MISSING: Any = _Missing()


# ---------------------------------------------------------------- policies


class PolicyCache:
    """Policies by folder, and their what-if variants by parameter overrides: each loaded once per run."""

    def __init__(self) -> None:
        self._policies: dict[Path, Policy | PolicyError] = {}
        self._variants: dict[tuple[Path, str], Policy | PolicyError] = {}
        self.reported: set[Path] = set()
        """Folders whose load errors were already shown (the pytest plugin shows them once)."""

    def policy(self, folder: PolicyFolder) -> Policy:
        key = folder.path.resolve()
        if key not in self._policies:
            try:
                self._policies[key] = load_policy(folder.path)
            except PolicyError as exc:
                self._policies[key] = exc
        return _raise_or_return(self._policies[key])

    def get(self, folder: PolicyFolder, parameters: dict[str, Any]) -> Policy:
        """The folder's policy with the case's parameter overrides (rebuilt from the same bytes, not read again)."""
        base = self.policy(folder)
        if not parameters:
            return base
        key = (folder.path.resolve(), repr(sorted(parameters.items())))
        if key not in self._variants:
            try:
                self._variants[key] = base.with_parameters(parameters)
            except PolicyError as exc:
                self._variants[key] = exc
        return _raise_or_return(self._variants[key])


def _raise_or_return(found: Policy | PolicyError) -> Policy:
    if isinstance(found, PolicyError):
        raise found
    return found


def check_against_policy(cases: list[Case], folder: PolicyFolder, cache: PolicyCache) -> list[Diagnostic]:
    """What a case file can only get wrong about its policy: rule ids it names, parameter overrides it makes."""
    policy = cache.policy(folder)
    ids = policy.rule_ids()
    known = set(ids)
    out = []
    for case in cases:
        for rule_id, line, column in case.rule_refs:
            if rule_id not in known:
                hint = difflib.get_close_matches(rule_id, ids, n=1, cutoff=0.6)
                message = f"the policy has no rule '{shorten(rule_id, 80)}'" + (f" (did you mean '{hint[0]}'?)" if hint else "")
                out.append(Diagnostic(case.file, line, column, "unknown_rule", message))
        if case.parameters:
            try:
                cache.get(folder, case.parameters)
            except PolicyError as exc:
                for d in exc.diagnostics:
                    named = next((n for n in case.parameters if f"'{n}'" in d.message), "")
                    at = "" if d.file.startswith("<") else f" ({d.file}:{d.line}:{d.column})"
                    out.append(Diagnostic(case.file, *case.parameters_at[named], d.code, d.message + at))
    return sorted(out)


# ---------------------------------------------------------------- running


def run_case(case: Case, policy: Policy, listener: Listener | None = None) -> CaseResult:
    expected_error = case.expect.get("error")
    try:
        decision = policy.evaluate(case.facts, listener=listener).to_dict()
    except FactsError as exc:
        if expected_error == "facts":
            return CaseResult(case, "passed")
        return CaseResult(case, "error", message="the order does not validate: " + str(exc))
    except EvaluationError as exc:
        if expected_error == "evaluation":
            return CaseResult(case, "passed")
        return CaseResult(case, "error", message=str(exc))
    except RuleEngineError as exc:  # pragma: no cover - evaluate raises only the two above
        return CaseResult(case, "error", message=str(exc))
    if expected_error is not None:
        return CaseResult(case, "failed", [Mismatch("error", expected_error, "a decision")])
    mismatches = list(_compare(decision, case.expect))
    if mismatches:
        _explain_mismatches(mismatches, case, policy)
        return CaseResult(case, "failed", mismatches)
    return CaseResult(case, "passed")


def _compare(decision: dict[str, Any], expect: dict[str, Any]) -> Iterator[Mismatch]:
    for path, expected in expect.items():
        actual = _get(decision, path)
        if isinstance(expected, dict) and expected and all(k in MATCHERS for k in expected):
            for kind, operand in expected.items():
                if kind == "absent":
                    if (actual is _MISSING) != bool(operand):
                        yield Mismatch(path, "absent" if operand else "present", actual)
                elif kind in ("contains", "excludes"):
                    items = operand if isinstance(operand, list) else [operand]
                    have = actual if isinstance(actual, list) else []
                    wrong = [i for i in items if (_contains(have, i) if kind == "excludes" else not _contains(have, i))]
                    if actual is _MISSING or wrong:
                        yield Mismatch(path, {kind: wrong or items}, actual)
            continue
        if not _equal(actual, expected):
            yield Mismatch(path, expected, actual)


def _contains(items: list[Any], wanted: Any) -> bool:
    return any(_equal(i, wanted) for i in items)


def _equal(actual: Any, expected: Any) -> bool:
    if actual is _MISSING:
        return False
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, (int, Decimal)) and isinstance(actual, (int, Decimal)):
        return Decimal(actual) == Decimal(expected)
    if isinstance(expected, str) and isinstance(actual, Decimal):  # an amount written as on the wire: "259.00"
        return amount(expected) == actual
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return False
        if all(not isinstance(x, (dict, list)) for x in [*expected, *actual]):
            return sorted(map(str, expected)) == sorted(map(str, actual))
        return all(_equal(a, e) for a, e in zip(actual, expected, strict=True))
    if isinstance(expected, dict) and isinstance(actual, dict):
        return set(expected) == set(actual) and all(_equal(actual[k], expected[k]) for k in expected)
    return bool(actual == expected)


def _get(data: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return _MISSING
    return data


_ACTION_OF = {"compensations": "compensation", "violations": "violation", "services": "add_service"}


def _touches(action: str, target: str, path: str) -> bool:
    """Whether an action of that kind and target writes the part of the decision at ``path``."""
    head = path.split(".")[0]
    return (
        target == path
        or path.startswith(target + ".")
        or (path.startswith("claim.deductions") and action == "deduction")
        or (path.startswith("claim.reasons") and action == "reason")
        or _ACTION_OF.get(head) == action
    )


def _explain_mismatches(mismatches: list[Mismatch], case: Case, policy: Policy) -> None:
    """Attach to each mismatch, briefly, the rules that wrote that part of the decision (and why), or that could have."""
    trace = policy.evaluate(case.facts, explain=True).to_dict().get("trace", [])
    locations = {r.id: r.location for r in policy.rules}
    for m in mismatches:
        writers: list[str] = []
        for entry in trace:
            for action in entry.get("actions", []):
                target = action.get("target", "")
                if not _touches(action["action"], target, m.path):
                    continue
                status = f" [{action['status']}]" if "status" in action else ""
                where = f" ({locations[entry['rule']]})" if entry["rule"] in locations else ""
                line = f"{action['action']} {target} = {_show(action.get('value'))} by {entry['rule']}{where}{status}"
                met = [str(c.get("label") or c.get("expr")) for c in entry.get("conditions", []) if "expr" in c and c.get("result") is True]
                writers.append(shorten(line, 200) + ("\n  because: " + shorten("; ".join(met), 200) if met else ""))
        if writers:
            m.writers = [w for text in _at_most(writers, "more rules wrote it") for w in text.split("\n")]
            continue
        could = {r.id for r in policy.rules for a in (*r.then, *r.otherwise) if _touches(a.kind, a.target, m.path)}
        missed = []
        for entry in trace:
            failed = entry.get("failed")
            if entry["rule"] in could and failed is not None and not entry.get("matched"):
                label = failed.get("label") or failed.get("expr")
                values = ", ".join(f"{k} = {_show(v)}" for k, v in failed.get("values", {}).items())
                missed.append(shorten(f"{entry['rule']}: not met: {label}" + (f" ({values})" if values else ""), 200))
        if missed:
            m.writers = ["no rule set it; of the rules that can, these did not match:", *("  " + x for x in _at_most(missed, "more"))]
        else:
            m.writers = ["no rule set it" + ("" if could else "; no rule of the policy sets it")]


def _at_most(lines: list[str], more: str) -> list[str]:
    if len(lines) <= SHOWN:
        return lines
    return [*lines[:SHOWN], f"… {len(lines) - SHOWN} {more} (ruleengine explain shows every rule)"]


@dataclass
class Run:
    """A run of case files: the results, or why no case ran (case-file problems, policies that do not load)."""

    results: list[CaseResult] = field(default_factory=list)
    problems: list[Diagnostic] = field(default_factory=list)
    """Problems in case files: found before any case runs, and then none runs."""
    policy_errors: list[tuple[PolicyFolder, PolicyError]] = field(default_factory=list)
    """Policies that do not load, each once: then no case runs."""
    policies: list[tuple[PolicyFolder, Policy]] = field(default_factory=list)
    """The policies the cases ran against."""

    @property
    def ran(self) -> bool:
        return not self.problems and not self.policy_errors

    @property
    def passed(self) -> int:
        return sum(1 for r in self.results if r.passed)

    @property
    def failed(self) -> int:
        return len(self.results) - self.passed


def problems_text(diagnostics: list[Diagnostic], outcome: str = "no case ran") -> str:
    """Case-file problems as ``ruleengine test`` and the pytest plugin print them: one per line, then a count."""
    n = len(diagnostics)
    return "\n".join([*(str(d) for d in diagnostics), f"{n} error{'s' if n != 1 else ''} in case files: {outcome}"])


def policy_error_text(folder: PolicyFolder, error: PolicyError, outcome: str = "no case ran") -> str:
    """A policy that does not load, each error once, then a count."""
    n = sum(1 for d in error.diagnostics if d.severity == "error")
    lines = [str(d) for d in error.diagnostics]
    return "\n".join([*lines, f"{n} error{'s' if n != 1 else ''}: the policy was not loaded: {where(folder)}; {outcome}"])


def run_files(
    paths: list[Path], rules: PolicyFolder | None = None, listener: Listener | None = None, cache: PolicyCache | None = None
) -> Run:
    """Check every case file and load every policy first; run the cases only when all of that succeeded."""
    run = Run()
    cache = cache or PolicyCache()
    files: list[tuple[PolicyFolder, list[Case]]] = []
    for path in case_files(paths):
        folder = policy_folder_for(path, rules)
        try:
            cases = load_cases(path)
        except PolicyError as exc:
            run.problems += exc.diagnostics
            cases = []
        files.append((folder, cases))
    folders = {folder.path.resolve(): folder for folder, _ in files}
    for folder in folders.values():
        try:
            run.policies.append((folder, cache.policy(folder)))
        except PolicyError as exc:
            run.policy_errors.append((folder, exc))
    if run.policy_errors:
        return run
    for folder, cases in files:
        run.problems += check_against_policy(cases, folder, cache)
    if run.problems:
        return run
    for folder, cases in files:
        for case in cases:
            run.results.append(run_case(case, cache.get(folder, case.parameters), listener))
    return run


