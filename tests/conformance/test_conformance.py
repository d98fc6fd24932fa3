"""The conformance corpus: the language's semantics as data, run with and without tracing.

Every case in ``corpus/*.yaml`` is a tiny policy (its own files), an order (a base order of
``orders.yaml`` with changes) and what must come out: parts of the decision, or an error with its
class, code and location. Each case runs twice:

- ``untraced``: ``policy.evaluate(facts)``, the fast path;
- ``traced``: ``policy.evaluate(facts, explain=True)`` and ``policy.evaluate(facts, listener=…)``;
  each must meet the expectation, give the untraced decision's bytes (the trace aside) or the same
  error, and, where the case lists ``events``, emit them in that order.

A case whose traced run is known to disagree today says why in ``known_disagreement``: its traced
run is a strict xfail, so the change that fixes the disagreement must remove the marker. A case that
both runs get wrong says so in ``known_bug`` (both runs strict xfail). Only the public API is used:
``ruleengine.load_policy``, ``Policy.evaluate``, the error classes and the events.
See README.md in this folder.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

import ruleengine

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
ORDERS = HERE / "orders.yaml"
SCHEMA = HERE / "conformance.schema.json"
RULE_SCHEMA = HERE.parent.parent / "schemas" / "rule.schema.json"
MINIMUM_CASES = 80


# ---------------------------------------------------------------- reading the data


class _DataLoader(yaml.SafeLoader):
    """YAML as the engine reads facts: decimals stay exact (Decimal), timestamps stay text, a repeated key is an error."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys = [self.construct_object(key, deep=True) for key, _ in node.value if key.tag != "tag:yaml.org,2002:merge"]
        repeated = sorted({str(k) for k in keys if keys.count(k) > 1})
        if repeated:
            raise yaml.constructor.ConstructorError(None, None, f"repeated key {', '.join(repeated)}", node.start_mark)
        return super().construct_mapping(node, deep=deep)


_DataLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_DataLoader.add_constructor(
    "tag:yaml.org,2002:float",
    lambda loader, node: Decimal(loader.construct_scalar(node).replace("_", "")),  # type: ignore[arg-type]
)


def read_data(path: Path) -> Any:
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_DataLoader)  # a SafeLoader: plain data only


@dataclass
class Case:
    area: str
    name: str
    policy: dict[str, str]
    facts: dict[str, Any]
    expect: dict[str, Any] | None
    error: dict[str, Any] | None
    events: list[dict[str, Any]]
    limits: dict[str, Any]
    parameters: dict[str, Any]
    known_disagreement: str = ""
    known_bug: str = ""

    @property
    def id(self) -> str:
        return f"{self.area}/{self.name}"

    @property
    def fails_at_load(self) -> bool:
        return self.error is not None and self.error["class"] == "PolicyError"


def corpus_files() -> list[Path]:
    return sorted(CORPUS.glob("*.yaml"))


@cache
def load_cases() -> tuple[Case, ...]:
    cases: list[Case] = []
    for path in corpus_files():
        data = read_data(path)
        base: dict[str, str] = data.get("base", {})
        library: dict[str, str] = data.get("library", {})
        for raw in data["cases"]:
            files = dict(base)
            for name in raw.get("include", []):
                files[name] = library[name]
            files.update(raw.get("policy", {}))
            cases.append(
                Case(
                    area=data["area"],
                    name=raw["name"],
                    policy=files,
                    facts=raw.get("facts", {}),
                    expect=raw.get("expect"),
                    error=raw.get("error"),
                    events=raw.get("events", []),
                    limits=raw.get("limits", {}),
                    parameters=raw.get("parameters", {}),
                    known_disagreement=raw.get("known_disagreement", ""),
                    known_bug=raw.get("known_bug", ""),
                )
            )
    return tuple(cases)


@cache
def base_orders() -> dict[str, Any]:
    orders: dict[str, Any] = read_data(ORDERS)
    return orders


def build_facts(spec: dict[str, Any]) -> dict[str, Any]:
    """The case's order: a base order, ``lines`` copies of its first line, then ``set`` and ``unset``."""
    facts: dict[str, Any] = copy.deepcopy(base_orders()[spec.get("base", "order")])
    if "lines" in spec:
        first = facts["items"][0]
        facts["items"] = [{**copy.deepcopy(first), "sku": f"L{n}"} for n in range(1, spec["lines"] + 1)]
    for path, value in spec.get("set", {}).items():
        parent, key = _parent(facts, path)
        if isinstance(parent, list):
            parent[int(key)] = value
        else:
            parent[key] = value
    for path in spec.get("unset", []):
        parent, key = _parent(facts, path)
        if isinstance(parent, list):
            del parent[int(key)]
        else:
            del parent[key]
    return facts


def _parent(data: Any, path: str) -> tuple[Any, str]:
    keys = path.split(".")
    for key in keys[:-1]:
        data = data[int(key)] if isinstance(data, list) else data[key]
    return data, keys[-1]


def write_policy(case: Case, root: Path) -> Path:
    for name, text in case.policy.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return root


def load(case: Case, root: Path) -> ruleengine.Policy:
    limits = ruleengine.Limits(**case.limits) if case.limits else ruleengine.DEFAULT_LIMITS
    return ruleengine.load_policy(write_policy(case, root), limits=limits, parameters=case.parameters or None)


# ---------------------------------------------------------------- running a case


@dataclass
class Outcome:
    """What one evaluation gave: a decision (its bytes and data, the trace aside) or an error."""

    decision: dict[str, Any] | None = None
    text: str = ""
    error: ruleengine.RuleEngineError | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    """The visits and actions, as the events or the trace report them (traced runs only)."""

    def describe(self) -> str:
        if self.error is not None:
            return f"{type(self.error).__name__}: {self.error}"
        return self.text


def evaluate(policy: ruleengine.Policy, facts: dict[str, Any], how: str) -> Outcome:
    facts = copy.deepcopy(facts)
    events: list[ruleengine.Event] = []
    try:
        if how == "untraced":
            decision = policy.evaluate(facts)
        elif how == "explain":
            decision = policy.evaluate(facts, explain=True)
        else:
            decision = policy.evaluate(facts, listener=events.append)
    except ruleengine.RuleEngineError as exc:
        return Outcome(error=exc)
    data = decision.to_dict()
    trace = data.pop("trace", None)
    outcome = Outcome(decision=data, text=ruleengine.Decision(data).to_json())
    if how == "explain":
        assert trace is not None, "explain=True gave no trace"
        outcome.events = _trace_events(trace)
    elif how == "listener":
        outcome.events = [_event(e) for e in events]
    return outcome


def explained(policy: ruleengine.Policy, facts: dict[str, Any], listener: ruleengine.Listener | None) -> str:
    """The explained decision's bytes, or its error, with or without a listener."""
    try:
        return policy.evaluate(copy.deepcopy(facts), explain=True, listener=listener).to_json()
    except ruleengine.RuleEngineError as exc:
        return f"{type(exc).__name__}: {exc}"


def _event(event: ruleengine.Event) -> dict[str, Any]:
    if isinstance(event, ruleengine.RuleVisited):
        return {"rule": event.rule.id, "line": event.line, "outcome": event.outcome}
    return {
        "rule": event.rule.id,
        "line": event.line,
        "action": event.action.kind,
        "target": event.action.target or None,
        "status": event.status,
    }


def _trace_events(trace: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for entry in trace:
        line = entry.get("line")
        out.append({"rule": entry["rule"], "line": line, "outcome": entry["outcome"]})
        for action in entry.get("actions", []):
            out.append(
                {
                    "rule": entry["rule"],
                    "line": line,
                    "action": action["action"],
                    "target": action.get("target"),
                    "status": action.get("status", "applied"),
                }
            )
    return out


# ---------------------------------------------------------------- comparing with the expectation

_ABSENT = object()


def _at(data: Any, path: str) -> Any:
    for key in path.split("."):
        if isinstance(data, list) and re.fullmatch(r"\d+", key) and int(key) < len(data):
            data = data[int(key)]
        elif isinstance(data, dict) and key in data:
            data = data[key]
        else:
            return _ABSENT
    return data


def same(expected: Any, actual: Any) -> bool:
    """Equal as the decision document writes them: an expected 5.00 needs 5.00, not 5 or 5.0."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, Decimal):
        return isinstance(actual, Decimal) and f"{expected:f}" == f"{actual:f}"
    if isinstance(expected, int):
        return isinstance(actual, (int, Decimal)) and actual == expected
    if isinstance(expected, dict):
        return isinstance(actual, dict) and expected.keys() == actual.keys() and all(same(v, actual[k]) for k, v in expected.items())
    if isinstance(expected, list):
        return isinstance(actual, list) and len(expected) == len(actual) and all(map(same, expected, actual))
    return bool(expected == actual)


def check_decision(case: Case, outcome: Outcome) -> list[str]:
    assert case.expect is not None
    if outcome.error is not None:
        return [f"expected a decision, got {outcome.describe()}"]
    assert outcome.decision is not None
    problems = []
    for path, expected in case.expect.items():
        actual = _at(outcome.decision, path)
        if expected is None:
            if actual is not _ABSENT:
                problems.append(f"{path}: expected absent, got {_show(actual)}")
        elif actual is _ABSENT:
            problems.append(f"{path}: expected {_show(expected)}, but the decision has no {path}")
        elif not same(expected, actual):
            problems.append(f"{path}: expected {_show(expected)}, got {_show(actual)}")
    return problems


def check_error(case: Case, outcome: Outcome, root: Path) -> list[str]:
    assert case.error is not None
    want = case.error
    exc = outcome.error
    if exc is None:
        return [f"expected {want['class']} {want.get('code')}, got the decision {outcome.text}"]
    if type(exc).__name__ != want["class"]:
        return [f"expected {want['class']}, got {outcome.describe()}"]
    found: list[dict[str, Any]]
    if isinstance(exc, ruleengine.FactsError):
        found = [{"code": p.code, "pointer": p.pointer, "message": p.message} for p in exc.problems]
    elif isinstance(exc, ruleengine.PolicyError):
        found = [
            {"code": d.code, "file": _relative(d.file, root), "line": d.line, "column": d.column, "message": d.message}
            for d in exc.diagnostics
            if d.severity == "error"
        ]
    else:
        assert isinstance(exc, ruleengine.EvaluationError)
        found = [
            {
                "code": exc.code,
                "rule": exc.rule,
                "file": _relative(exc.file, root),
                "line": exc.line,
                "column": exc.column,
                "message": exc.message,
            }
        ]
    for problem in found:
        if all(_matches(key, value, problem.get(key)) for key, value in want.items() if key != "class"):
            return []
    return [f"expected {_show(want)}, got {type(exc).__name__}: {_show(found)}"]


def _matches(key: str, expected: Any, actual: Any) -> bool:
    if key == "message":
        return isinstance(actual, str) and str(expected) in actual
    return bool(expected == actual)


def _relative(file: str, root: Path) -> str:
    try:
        return (Path.cwd() / file).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return file


def check_events(case: Case, outcome: Outcome, source: str) -> list[str]:
    """The case's events appear in this order (others may come between); unnamed keys are not compared."""
    if not case.events or outcome.error is not None:
        return []
    position = 0
    for wanted in case.events:
        while position < len(outcome.events) and not all(outcome.events[position].get(k) == v for k, v in wanted.items()):
            position += 1
        if position == len(outcome.events):
            listed = "\n  ".join(json.dumps(e, ensure_ascii=False) for e in outcome.events)
            return [f"{source}: no event {json.dumps(wanted, ensure_ascii=False)} in order; the events were:\n  {listed}"]
        position += 1
    return []


def check(case: Case, outcome: Outcome, root: Path) -> list[str]:
    return check_decision(case, outcome) if case.expect is not None else check_error(case, outcome, root)


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _identity(outcome: Outcome, root: Path) -> Any:
    """What two runs must share: the decision's bytes, or the error's class, code and location."""
    exc = outcome.error
    if exc is None:
        return outcome.text
    if isinstance(exc, ruleengine.EvaluationError):
        return ("EvaluationError", exc.code, exc.rule, _relative(exc.file, root), exc.line, exc.column)
    if isinstance(exc, ruleengine.FactsError):
        return ("FactsError", [(p.pointer, p.code) for p in exc.problems])
    return (type(exc).__name__, str(exc))


# ---------------------------------------------------------------- the tests


def _params() -> list[Any]:
    params = []
    for case in load_cases():
        runs = ("load",) if case.fails_at_load else ("untraced", "traced")
        for run in runs:
            marks = []
            if case.known_bug:
                marks.append(pytest.mark.xfail(strict=True, reason=f"known bug: {case.known_bug}"))
            elif case.known_disagreement and run == "traced":
                marks.append(pytest.mark.xfail(strict=True, reason=f"known disagreement: {case.known_disagreement}"))
            params.append(pytest.param(case, run, id=f"{case.id}:{run}", marks=marks))
    return params


@pytest.mark.parametrize(("case", "run"), _params())
def test_case(case: Case, run: str, tmp_path: Path) -> None:
    root = tmp_path / "policy"
    if case.fails_at_load:
        try:
            load(case, root)
        except ruleengine.PolicyError as exc:
            problems = check_error(case, Outcome(error=exc), root)
        else:
            problems = [f"expected the policy to be refused ({_show(case.error)}), but it loaded"]
        assert not problems, "\n".join(problems)
        return
    policy = load(case, root)
    facts = build_facts(case.facts)
    untraced = evaluate(policy, facts, "untraced")
    if run == "untraced":
        problems = check(case, untraced, root)
    else:
        problems = []
        for how in ("explain", "listener"):
            traced = evaluate(policy, facts, how)
            found = check(case, traced, root)
            if not found and _identity(traced, root) != _identity(untraced, root):
                found = [f"untraced gave {untraced.describe()}", f"{how} gave {traced.describe()}"]
            problems += [f"{how}: {p}" for p in found] + check_events(case, traced, how)
        alone, heard = explained(policy, facts, None), explained(policy, facts, lambda event: None)
        if alone != heard:  # the trace the traced code writes itself, and the one made from the events
            problems.append(f"explain without a listener gave {alone[:300]!r}, with one {heard[:300]!r}")
    assert not problems, "\n".join(problems)


def test_every_case_file_follows_the_case_schema() -> None:
    validator = Draft202012Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))
    problems = []
    for path in corpus_files():
        for error in validator.iter_errors(read_data(path)):
            problems.append(f"{path.name}: {'/'.join(map(str, error.absolute_path))}: {error.message}")
    assert problems == []


def test_case_names_are_unique_and_the_corpus_is_large_enough() -> None:
    cases = load_cases()
    ids = [case.id for case in cases]
    assert sorted({i for i in ids if ids.count(i) > 1}) == []
    assert len(cases) >= MINIMUM_CASES


def test_the_base_orders_are_valid_orders(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text("policy: {name: orders, version: '1', timezone: Asia/Shanghai, stages: [only]}\n")
    policy = ruleengine.load_policy(tmp_path)
    for name in base_orders():
        assert policy.evaluate(build_facts({"base": name})).fired == []


def _language() -> dict[str, set[str]]:
    """What the public rule schema says the language has: functions, actions, set fields, scopes, `on:` instants, parameter types."""
    schema = json.loads(RULE_SCHEMA.read_text(encoding="utf-8"))
    defs = schema["$defs"]
    described = re.search(r"functions: ([a-z_, ]+)\.", defs["expression"]["description"])
    assert described is not None, "the rule schema no longer lists the functions in $defs.expression.description"
    return {
        "function": {name.strip() for name in described.group(1).split(",")},
        "action": set(defs["action"]["properties"]),
        "set field": set(defs["action"]["properties"]["set"]["propertyNames"]["enum"]),
        "scope": set(defs["rule"]["properties"]["scope"]["enum"]),
        "effective on": set(defs["rule"]["properties"]["effective"]["properties"]["on"]["enum"]),
        "parameter type": set(defs["parameter"]["properties"]["type"]["enum"]),
        "condition group": {"all", "any", "not"},
    }


def _used(kind: str, name: str, texts: str) -> bool:
    patterns = {
        "function": rf"\b{name}\(",
        "action": rf"(?m)(-\s*|\{{\s*){name}:",
        "set field": rf"\b{re.escape(name)}:",
        "scope": rf"scope:\s*{name}\b",
        "effective on": rf"[\"']on[\"']:\s*{re.escape(name)}\b",
        "parameter type": rf"type:\s*{name}\b",
        "condition group": rf"(?m)(^\s*|\{{\s*|-\s*){name}:",
    }
    return re.search(patterns[kind], texts) is not None


def test_every_language_feature_the_rule_schema_lists_has_a_case() -> None:
    """A function, action, set field, scope, version instant or parameter type without a case here fails this test."""
    texts = "\n".join(text for case in load_cases() if not case.fails_at_load for text in case.policy.values())
    missing = [f"{kind} {name}" for kind, names in _language().items() for name in sorted(names) if not _used(kind, name, texts)]
    assert missing == []
