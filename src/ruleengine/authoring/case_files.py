"""Case files: reading and checking them before anything runs, and writing one that pins a decision.

A case file (``rules/cases/*.yaml``, schema ``schemas/cases.schema.json``) is
data for policy staff: an example order plus changes by dotted path, and the
expected fields. Case files are checked like rules before any case runs: their
schema, expectations against the decision schema, examples, changes; a problem
is an error at ``file:line:col`` and nothing runs.
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

from ..compile.policyfolder import CASE_FILES, PolicyFolder, choose, display_path, holds_manifest
from ..documents import Document, DocumentError, pointer_join, read_yaml
from ..errors import Diagnostic, FactsError, PolicyError
from ..runtime.decision import CLAIM_TERMS
from ..runtime.events import plain
from ..runtime.facts import read_facts
from ..schemas import load_schema, problems_at, validator
from ..text import shorten

MATCHERS = ("contains", "excludes", "absent")
ERRORS = ("facts", "evaluation")
"""``expect: {error: facts}``: the order is refused by the schema; ``evaluation``: a rule fails on it."""


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

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


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
        out.append(case)
    if found:
        raise PolicyError(found)
    return out


def _check_expectations(doc: Document, at: str, expect: dict[str, Any]) -> Iterator[Diagnostic]:
    """Each expectation names a field of the decision schema and holds a value that field can have."""
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
        yield from _check_value(doc, pointer, key, part, expected)


def _check_value(doc: Document, pointer: str, key: str, part: str, expected: Any) -> Iterator[Diagnostic]:
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
                    yield from _value_problems(doc, where, key, f"{part}/items", item)
        return
    yield from _value_problems(doc, pointer, key, part, expected)


def _value_problems(doc: Document, pointer: str, key: str, part: str, value: Any) -> Iterator[Diagnostic]:
    for p in problems_at("decision.schema.json", part, value, limit=3):
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
