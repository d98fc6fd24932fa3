"""Regression cases: YAML files that name an order and the part of its decision they expect.

A case file (``rules/cases/*.yaml``, schema ``schemas/cases.schema.json``) is
data for policy staff: an example order plus changes by dotted path, and the
expected fields. Case files are checked like rules before any case runs: their
schema, expectations against the decision schema, examples, changes, and (once
the policy loads) the rule ids and parameter overrides they name; a problem is
an error at ``file:line:col`` and nothing runs. A case whose order does not
validate fails, never passes. ``pytest`` collects case files through the plugin
in :mod:`ruleengine.authoring.pytest_plugin`; ``ruleengine test`` runs them too.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from ..compile.loader import load_policy
from ..compile.policyfolder import CASE_FILES, PolicyFolder, choose, display_path, holds_manifest, where
from ..documents import Document, DocumentError, pointer_join, read_yaml
from ..errors import Diagnostic, EvaluationError, FactsError, PolicyError, RuleEngineError
from ..runtime.decision import CLAIM_TERMS
from ..runtime.events import Listener, plain
from ..runtime.facts import read_facts
from ..runtime.moneytext import amount
from ..runtime.policy import Policy
from ..schemas import NO_ENUMS, Enums, load_schema, problems_at, validator
from ..text import shorten

MATCHERS = ("contains", "excludes", "absent")
ERRORS = ("facts", "evaluation")
"""``expect: {error: facts}``: the order is refused by the schema; ``evaluation``: a rule fails on it."""
SHOWN = 3
"""Rules a failing case's report names for one field; the rest are counted (``ruleengine explain`` shows all)."""


@dataclass
class Case:
    name: str
    file: str
    line: int
    facts: dict[str, Any]
    expect: dict[str, Any]
    parameters: dict[str, Any] = field(default_factory=dict)
    parameters_at: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Where each parameter override stands ('' for the ``parameters:`` key), for an override the policy refuses."""
    rule_refs: list[tuple[str, int, int]] = field(default_factory=list)
    """Rule ids the expectations name (``fired``), with line and column: checked against the policy before any case runs."""
    source: tuple[Document, str] | None = None
    """The case file and the case's pointer in it: its expected codes are checked against the policy's vocabulary."""

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


def policy_folder_for(path: Path, rules: PolicyFolder | None = None) -> PolicyFolder:
    """The policy a case file runs against: ``rules`` when given; else the policy folder the file lives in
    (the folder above its ``cases/``, when that holds a policy manifest); else the folder every command uses."""
    if rules is not None:
        return rules
    for parent in path.resolve().parents:
        if parent.name == "cases" and holds_manifest(parent.parent):
            return PolicyFolder(Path(display_path(parent.parent)), CASE_FILES)
    return choose()


# ---------------------------------------------------------------- reading and checking a case file


def load_cases(path: Path) -> list[Case]:
    """Read and check one case file, and build each case's order.

    Raises PolicyError listing every problem at ``file:line:col``: the file's schema,
    expectations that name no field of the decision or hold a value it cannot have
    (with a did-you-mean), a missing example (with the nearest name), a change that
    does not apply to the order. A file with any problem runs no case.
    """
    name = display_path(path)
    try:
        doc = read_yaml(path.read_bytes(), name)
    except OSError as exc:
        raise PolicyError([Diagnostic(name, 1, 1, "unreadable", f"cannot read: {exc.strerror or exc}")]) from None
    except DocumentError as exc:
        raise PolicyError([Diagnostic(name, p.line, p.column, p.code, p.message) for p in exc.problems]) from None
    schema = validator("cases.schema.json")
    problems = [] if schema.is_valid(doc.data) else schema.problems(doc.data)
    if problems:
        raise PolicyError(
            [Diagnostic(name, *doc.locate(p.pointer, key=p.keyword == "additionalProperties"), "case_schema", p.message) for p in problems]
        )
    defaults = doc.data.get("defaults", {})
    folders = [path.parent] + [parent / "examples" / "orders" for parent in path.resolve().parents]
    found: list[Diagnostic] = []
    out = []
    for index, spec in enumerate(doc.data["cases"]):
        at = f"/cases/{index}"
        line, _ = doc.locate(at)
        case_problems = list(_check_expectations(doc, at, spec["expect"]))
        facts = _build_facts(folders, doc, at, spec, defaults, case_problems)
        found += case_problems
        if case_problems or facts is None:
            continue
        case = Case(spec["name"], name, line, facts, spec["expect"], spec.get("parameters", {}))
        case.parameters_at = {"": doc.locate(f"{at}/parameters", key=True)}
        case.parameters_at |= {n: doc.locate(pointer_join(f"{at}/parameters", n), key=True) for n in case.parameters}
        case.rule_refs = list(_rule_refs(doc, f"{at}/expect"))
        case.source = (doc, at)
        out.append(case)
    if found:
        raise PolicyError(found)
    return out


def _check_expectations(doc: Document, at: str, expect: dict[str, Any], enums: Enums = NO_ENUMS) -> Iterator[Diagnostic]:
    """Each expectation names a field of the decision schema and holds a value that field can have.

    Without ``enums`` a code (an outcome, a service …) need only look like one; with a policy's, it is one of its codes.
    """
    base = f"{at}/expect"
    for key, expected in expect.items():
        pointer = pointer_join(base, key)
        if key == "error":
            if expected not in ERRORS:
                yield _problem(doc, pointer, "case_expect", f"'error' expects {' or '.join(ERRORS)}, not {_quote(expected)}")
            elif len(expect) > 1:
                where = doc.locate(pointer, key=True)
                message = "'error' expects the order to be refused: it cannot go with other expectations"
                yield Diagnostic(doc.name, *where, "case_expect", message)
            continue
        part, message = decision_field(key)
        if part is None:
            yield Diagnostic(doc.name, *doc.locate(pointer, key=True), "case_expect", message)
            continue
        yield from _check_value(doc, pointer, key, part, expected, enums)


def _check_value(doc: Document, pointer: str, key: str, part: str, expected: Any, enums: Enums) -> Iterator[Diagnostic]:
    schema = _decision_part(part)
    is_list = schema.get("type") == "array"
    if isinstance(expected, dict) and (any(k in MATCHERS for k in expected) or schema.get("type") != "object"):
        for kind, operand in expected.items():
            inner = pointer_join(pointer, kind)
            if kind not in MATCHERS:
                hint = difflib.get_close_matches(str(kind), MATCHERS, n=1, cutoff=0.6)
                message = f"unknown check '{shorten(str(kind), 40)}'" + (f" (did you mean '{hint[0]}'?)" if hint else "")
                yield _problem(doc, inner, "case_expect", message + f"; a check is one of: {', '.join(MATCHERS)}", key=True)
            elif kind == "absent":
                if not isinstance(operand, bool):
                    yield _problem(doc, inner, "case_expect", f"'absent' takes true or false, not {_quote(operand)}")
            elif not is_list:
                yield _problem(doc, inner, "case_expect", f"'{kind}' checks the members of a list, and {key} is not a list", key=True)
            else:
                items = operand if isinstance(operand, list) else [operand]
                for i, item in enumerate(items):
                    where = pointer_join(inner, i) if isinstance(operand, list) else inner
                    yield from _value_problems(doc, where, key, f"{part}/items", item, enums)
        return
    yield from _value_problems(doc, pointer, key, part, expected, enums)


def _value_problems(doc: Document, pointer: str, key: str, part: str, value: Any, enums: Enums) -> Iterator[Diagnostic]:
    for p in problems_at("decision.schema.json", part, value, limit=3, enums=enums):
        yield _problem(doc, pointer + p.pointer, "case_expect", f"{key}: {p.message}")


def _problem(doc: Document, pointer: str, code: str, message: str, key: bool = False) -> Diagnostic:
    return Diagnostic(doc.name, *doc.locate(pointer, key=key), code, message)


def _quote(value: Any) -> str:
    return repr(shorten(str(plain(value)), 40))


def decision_field(dotted: str) -> tuple[str | None, str]:
    """The JSON pointer into the decision schema of an expectation's path, or None and why not (with a did-you-mean)."""
    root = load_schema("decision.schema.json")
    pointer, node = "", root
    parts = dotted.split(".")
    for depth, part in enumerate(parts):
        pointer, node = _resolve(root, pointer, node)
        so_far = ".".join(parts[:depth])
        if node.get("type") == "object" or "properties" in node:
            properties = node.get("properties", {})
            if part in properties:
                pointer, node = f"{pointer}/properties/{part}", properties[part]
            elif isinstance(node.get("additionalProperties"), dict):
                pointer, node = f"{pointer}/additionalProperties", node["additionalProperties"]
            else:
                return None, _unknown_field(dotted, so_far, part, list(properties))
        elif node.get("type") == "array":
            if not part.isdigit():
                return None, f"unknown decision field '{dotted}': {so_far} is a list, so '{part}' must be a position (0, 1, …)"
            pointer, node = f"{pointer}/items", node.get("items", {})
        else:
            return None, f"unknown decision field '{dotted}': {so_far} is a single value, it has no '{part}'"
    pointer, _ = _resolve(root, pointer, node)
    return pointer, ""


def _unknown_field(dotted: str, so_far: str, part: str, names: list[str]) -> str:
    prefix = f"{so_far}." if so_far else ""
    hint = difflib.get_close_matches(part, names, n=1, cutoff=0.6)
    if hint:
        return f"unknown decision field '{dotted}' (did you mean '{prefix}{hint[0]}'?)"
    return f"unknown decision field '{dotted}'; {so_far or 'a decision'} has: {', '.join(names)}"


def _resolve(root: dict[str, Any], pointer: str, node: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Follow local ``$ref``s (``#/$defs/money``) to the schema that says what a value may be."""
    while isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/"):
        pointer = node["$ref"][1:]
        node = root
        for step in pointer.split("/")[1:]:
            node = node[step]
    return pointer, node


def _decision_part(pointer: str) -> dict[str, Any]:
    node: Any = load_schema("decision.schema.json")
    for step in pointer.split("/")[1:]:
        node = node[step]
    return dict(node)


def _rule_refs(doc: Document, base: str) -> Iterator[tuple[str, int, int]]:
    fired = doc.data
    for step in base.split("/")[1:]:
        fired = fired[int(step)] if isinstance(fired, list) else fired[step]
    fired = fired.get("fired")
    at = pointer_join(base, "fired")
    lists = {"": fired} if isinstance(fired, list) else fired if isinstance(fired, dict) else {}
    for kind, ids in lists.items():
        if kind not in ("", "contains", "excludes"):
            continue
        inner = pointer_join(at, kind) if kind else at
        for i, rule_id in enumerate(ids if isinstance(ids, list) else [ids]):
            yield str(rule_id), *doc.locate(pointer_join(inner, i) if isinstance(ids, list) else inner)


def _build_facts(
    folders: list[Path], doc: Document, at: str, spec: dict[str, Any], defaults: dict[str, Any], problems: list[Diagnostic]
) -> dict[str, Any] | None:
    example = spec.get("example", defaults.get("example"))
    example_at = f"{at}/example" if "example" in spec else "/defaults/example"
    facts: dict[str, Any] = {}
    if example is not None:
        found = _find_example(folders, example)
        if isinstance(found, str):
            problems.append(_problem(doc, example_at, "example_not_found", found))
            return None
        try:
            facts = read_facts(found)
        except FactsError as exc:
            problems.append(_problem(doc, example_at, "example_unreadable", f"example '{example}': {exc}"))
            return None
    if "facts" in spec:
        facts = _merge(facts, copy.deepcopy(spec["facts"]))
    if not facts:
        problems.append(_problem(doc, at, "case_order", "a case needs 'example' or 'facts' (here or in 'defaults')"))
        return None
    # The file's default changes belong to the default example: a case naming its own order starts clean.
    own_order = "example" in spec or "facts" in spec
    default_changes = {} if own_order else defaults.get("set", {})
    for dotted, value in {**default_changes, **spec.get("set", {})}.items():
        where = pointer_join(f"{at}/set", dotted) if dotted in spec.get("set", {}) else pointer_join("/defaults/set", dotted)
        problem = _set_path(facts, dotted, value)
        if problem:
            problems.append(_problem(doc, where, "case_set", f"set {dotted}: {problem}", key=True))
    return facts


def _find_example(folders: list[Path], name: str) -> Path | str:
    """The example order file (next to the case file, or in an examples/orders/ above it), or a message with the nearest name."""
    for folder in folders:
        if (folder / name).is_file():
            return folder / name
    nearby = sorted({p.name for folder in folders if folder.is_dir() for p in folder.glob("*.json")})
    hint = difflib.get_close_matches(name, nearby, n=1, cutoff=0.6)
    message = f"example '{shorten(name, 80)}' not found next to the case file or in examples/orders/"
    return message + (f" (did you mean '{hint[0]}'?)" if hint else "")


def _merge(base: Any, extra: Any) -> Any:
    if isinstance(base, dict) and isinstance(extra, dict):
        out = dict(base)
        for key, value in extra.items():
            out[key] = _merge(base.get(key), value) if key in base else value
        return out
    return extra


def _set_path(data: Any, dotted: str, value: Any) -> str:
    """Change the facts at a dotted path; a message when the path does not fit the order."""
    parts = dotted.split(".")
    target = data
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        if isinstance(target, list):
            if not part.isdigit() or int(part) >= len(target):
                return f"'{'.'.join(parts[:depth])}' has {len(target)} entries; '{part}' is not one of them (0…{len(target) - 1})"
            if last:
                target[int(part)] = value
                return ""
            target = target[int(part)]
        elif isinstance(target, dict):
            if last:
                if value is None:
                    target.pop(part, None)
                else:
                    target[part] = value
                return ""
            target = target.setdefault(part, {})
        else:
            return f"'{'.'.join(parts[:depth])}' is a single value, it has no '{part}'"
    return ""


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
    """What a case file can only get wrong about its policy: rule ids it names, parameter overrides it makes, codes its
    vocabulary does not have."""
    policy = cache.policy(folder)
    ids = policy.rule_ids()
    known = set(ids)
    out: list[Diagnostic] = []
    for case in cases:
        if case.source is not None:
            doc, at = case.source
            out += _check_expectations(doc, at, case.expect, policy.enums)
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
    """Money as exact plain numbers (``259.00``), read back by the strict reader as the same Decimal.

    A value met twice (one Decimal shared by two amounts) is written twice: the reader refuses anchors.
    """

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _decimal(dumper: yaml.SafeDumper, value: Decimal) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:float", f"{value:f}")


_CaseDumper.add_representer(Decimal, _decimal)
