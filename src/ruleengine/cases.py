"""Regression cases: YAML files that name an order and the part of its decision they expect.

A case file (``rules/cases/*.yaml``, schema ``schemas/cases.schema.json``) is
data for policy staff: an example order plus changes by dotted path, and the
expected fields. A case that expects nothing, or whose order does not
validate, is an error — never a pass. ``pytest`` collects case files through
the plugin in :mod:`ruleengine.pytest_plugin`; ``ruleengine test`` runs them too.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from .decision import CLAIM_TERMS
from .documents import DocumentError, read_yaml
from .errors import Diagnostic, EvaluationError, FactsError, PolicyError, RuleEngineError
from .events import Listener, plain
from .facts import read_facts
from .loader import _display, load_policy
from .policy import Policy
from .schemas import validator

MATCHERS = ("contains", "excludes", "absent", "error")


@dataclass
class Case:
    name: str
    file: str
    line: int
    facts: dict[str, Any] | None
    expect: dict[str, Any]
    parameters: dict[str, Any] = field(default_factory=dict)
    problem: str = ""
    """Why the case cannot run (a missing example file, a bad path in ``set``)."""

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


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


def case_files(paths: list[Path]) -> list[Path]:
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out += sorted(p for p in path.rglob("*.yaml") if is_case_file(p))
        elif path.suffix in (".yaml", ".yml"):
            out.append(path)
    return out


def is_case_file(path: Path) -> bool:
    if path.suffix not in (".yaml", ".yml"):
        return False
    return "cases" in path.parent.parts or path.name.endswith((".cases.yaml", ".cases.yml"))


def policy_root_for(path: Path) -> Path:
    """The policy folder a case file belongs to: the folder above its ``cases/`` folder."""
    for parent in path.resolve().parents:
        if parent.name == "cases":
            return parent.parent
    return path.resolve().parent


def load_cases(path: Path) -> list[Case]:
    """Read one case file; raises PolicyError (with file:line:col) when it is malformed."""
    name = _display(path)
    try:
        doc = read_yaml(path.read_bytes(), name)
    except DocumentError as exc:
        raise PolicyError([Diagnostic(name, p.line, p.column, p.code, p.message) for p in exc.problems]) from None
    problems = validator("cases.schema.json").problems(doc.data)
    if problems:
        raise PolicyError(
            [Diagnostic(name, *doc.locate(p.pointer, key=p.keyword == "additionalProperties"), "case_schema", p.message) for p in problems]
        )
    defaults = doc.data.get("defaults", {})
    out = []
    for index, spec in enumerate(doc.data["cases"]):
        line, _ = doc.locate(f"/cases/{index}")
        case = Case(spec["name"], name, line, None, spec["expect"], spec.get("parameters", {}))
        try:
            case.facts = _build_facts(path, spec, defaults)
        except (OSError, FactsError, KeyError, IndexError, ValueError, TypeError) as exc:
            case.problem = f"cannot build the order: {exc}"
        out.append(case)
    return out


def _build_facts(path: Path, spec: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    example = spec.get("example", defaults.get("example"))
    facts: dict[str, Any] = {}
    if example is not None:
        facts = read_facts(_find_example(path, example).read_bytes(), example)
    if "facts" in spec:
        facts = _merge(facts, copy.deepcopy(spec["facts"]))
    if not facts:
        raise ValueError("a case needs 'example' or 'facts'")
    # The file's default changes belong to the default example: a case naming its own order starts clean.
    own_order = "example" in spec or "facts" in spec
    changes = {**({} if own_order else defaults.get("set", {})), **spec.get("set", {})}
    for dotted, value in changes.items():
        _set_path(facts, dotted, value)
    return facts


def _find_example(case_file: Path, name: str) -> Path:
    candidates = [case_file.parent / name]
    for parent in case_file.resolve().parents:
        candidates.append(parent / "examples" / "orders" / name)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise OSError(f"example '{name}' not found next to the case file or in examples/orders/")


def _merge(base: Any, extra: Any) -> Any:
    if isinstance(base, dict) and isinstance(extra, dict):
        out = dict(base)
        for key, value in extra.items():
            out[key] = _merge(base.get(key), value) if key in base else value
        return out
    return extra


def _set_path(data: Any, dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    target = data
    for part in parts[:-1]:
        target = target[int(part)] if isinstance(target, list) else target.setdefault(part, {})
    last = parts[-1]
    if isinstance(target, list):
        target[int(last)] = value
    elif value is None:
        target.pop(last, None)
    else:
        target[last] = value


class PolicyCache:
    """Policies by folder and parameter overrides, loaded once per run."""

    def __init__(self) -> None:
        self._policies: dict[tuple[str, str], Policy | PolicyError] = {}

    def get(self, root: Path, parameters: dict[str, Any]) -> Policy:
        key = (str(root.resolve()), repr(sorted(parameters.items())))
        if key not in self._policies:
            try:
                self._policies[key] = load_policy(root, parameters=parameters or None)
            except PolicyError as exc:
                self._policies[key] = exc
        found = self._policies[key]
        if isinstance(found, PolicyError):
            raise found
        return found


def run_case(case: Case, policy: Policy, listener: Listener | None = None) -> CaseResult:
    if case.problem:
        return CaseResult(case, "error", message=case.problem)
    assert case.facts is not None
    expected_error = case.expect.get("error") if set(case.expect) == {"error"} else None
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
    unknown = sorted(_named_rules(case.expect) - set(policy.rule_ids()))
    if unknown:
        return CaseResult(case, "error", message=f"the case names rules the policy does not have: {', '.join(unknown)}")
    mismatches = [m for m in _compare(decision, case.expect)]
    if mismatches:
        _explain_mismatches(mismatches, case, policy)
        return CaseResult(case, "failed", mismatches)
    return CaseResult(case, "passed")


def _named_rules(expect: dict[str, Any]) -> set[str]:
    fired = expect.get("fired")
    if isinstance(fired, list):
        return {str(x) for x in fired}
    if isinstance(fired, dict):
        return {str(x) for key in ("contains", "excludes") for x in (fired.get(key) or [])}
    return set()


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


def _explain_mismatches(mismatches: list[Mismatch], case: Case, policy: Policy) -> None:
    """Attach, to each mismatch, the rules that wrote that part of the decision and why."""
    assert case.facts is not None
    trace = policy.evaluate(case.facts, explain=True).to_dict().get("trace", [])
    kinds = {"compensations": "compensation", "violations": "violation", "services": "add_service"}
    for m in mismatches:
        head = m.path.split(".")[0]
        for entry in trace:
            for action in entry.get("actions", []):
                target = action.get("target", "")
                touches = (
                    target == m.path
                    or (head == "claim" and m.path.startswith("claim.deductions") and action["action"] == "deduction")
                    or (head == "claim" and m.path.startswith("claim.reasons") and action["action"] == "reason")
                    or kinds.get(head) == action["action"]
                )
                if touches:
                    rule = next((r for r in policy.rules if r.id == entry["rule"]), None)
                    where = f" ({rule.location})" if rule else ""
                    status = f" [{action['status']}]" if "status" in action else ""
                    m.writers.append(f"{action['action']} {target} = {_show(action.get('value'))} by {entry['rule']}{where}{status}")
                    met = [c.get("label") or c.get("expr") for c in entry.get("conditions", []) if "expr" in c and c.get("result") is True]
                    if met:
                        m.writers.append("  because: " + "; ".join(str(x) for x in met))
        if not m.writers and head == "claim":
            m.writers.append("no rule set it; rules that did not match:")
            for entry in trace:
                failed = entry.get("failed")
                if failed is not None and not entry.get("matched") and entry["rule"].split(".")[0] != "claims":
                    label = failed.get("label") or failed.get("expr")
                    values = ", ".join(f"{k} = {_show(v)}" for k, v in failed.get("values", {}).items())
                    m.writers.append(f"  {entry['rule']}: not met: {label}" + (f" ({values})" if values else ""))


@dataclass
class Run:
    results: list[CaseResult] = field(default_factory=list)
    broken_files: list[tuple[str, PolicyError]] = field(default_factory=list)

    @property
    def passed(self) -> int:
        return sum(1 for r in self.results if r.passed)

    @property
    def failed(self) -> int:
        return len(self.results) - self.passed + len(self.broken_files)


def run_files(paths: list[Path], rules: Path | None = None, listener: Listener | None = None) -> Run:
    """Run every case of every case file; a file or policy that does not load counts as a failure."""
    run = Run()
    cache = PolicyCache()
    for path in case_files(paths):
        try:
            cases = load_cases(path)
        except PolicyError as exc:
            run.broken_files.append((_display(path), exc))
            continue
        root = rules if rules is not None else policy_root_for(path)
        for case in cases:
            try:
                policy = cache.get(root, case.parameters)
            except PolicyError as exc:
                run.results.append(CaseResult(case, "error", message=f"the policy does not load:\n{exc}"))
                continue
            run.results.append(run_case(case, policy, listener))
    return run


def case_file_text(name: str, facts: dict[str, Any], decision: dict[str, Any], parameters: dict[str, Any] | None = None) -> str:
    """A case file pinning what a policy decides for one order today: services, the claim, money and rules fired.

    The order is written out in full (a case that named an example would change
    when the example does), so the file runs anywhere with ``ruleengine test``.
    """
    expect: dict[str, Any] = {}
    for sku, services in decision["services"].items():
        if "." not in sku:  # a dotted path cannot name a key with a dot in it
            expect[f"services.{sku}"] = list(services)
    claim = decision.get("claim")
    if claim is not None:
        expect.update({f"claim.{key}": claim[key] for key in CLAIM_TERMS if key in claim})
        expect["claim.deductions"] = claim["deductions"]
    expect["compensations"] = decision["compensations"]
    expect["violations"] = decision["violations"]
    expect["fired"] = decision["fired"]
    case: dict[str, Any] = {"name": name}
    if parameters:
        case["parameters"] = parameters
    case["facts"] = facts
    case["expect"] = expect
    header = (
        f"# Pinned from policy {decision['policy']['name']} {decision['policy']['version']} ({decision['policy']['digest'][:19]}…).\n"
        "# Run it with: ruleengine test THIS_FILE --rules RULES_FOLDER\n"
    )
    return header + yaml.dump({"cases": [case]}, Dumper=_CaseDumper, allow_unicode=True, sort_keys=False, width=120)


class _CaseDumper(yaml.SafeDumper):
    """Money as exact plain numbers (``259.00``), read back by the strict reader as the same Decimal."""


def _decimal(dumper: yaml.SafeDumper, value: Decimal) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:float", f"{value:f}")


_CaseDumper.add_representer(Decimal, _decimal)
