"""Static checks beyond what loading refuses: unused names, rules that can never fire, likely conflicts.

Loading already refuses unknown facts and fields (with did-you-mean), enum typos, type mismatches,
duplicate rule ids and overlapping versions. Lint adds warnings about a policy that loads but is
probably not what its author meant. Every finding is a Diagnostic at ``file:line:col``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from pathlib import Path

from ..compile.index import constraints
from ..compile.sources import SECTION
from ..compile.table_analysis import findings
from ..errors import Diagnostic
from ..lang.ir import Compiled
from ..lang.templates import Placeholder
from ..lang.words import literal_numbers, same_number
from ..model.conditions import Condition, Leaf
from ..model.rules import Citation, Rule, Source
from ..runtime.policy import Policy


def lint(policy: Policy) -> list[Diagnostic]:
    found = [
        *_unused(policy),
        *_never_fire(policy),
        *_same_field_same_priority(policy),
        *_unused_sources(policy),
        *_undeclared_sources(policy),
        *_unknown_sections(policy),
        *_numbers_that_are_parameters(policy),
        *_tables(policy),
    ]
    return sorted(found, key=lambda d: (d.file, d.line, d.column, d.code))


# ---------------------------------------------------------------- unused names


def _unused(policy: Policy) -> Iterator[Diagnostic]:
    params: set[str] = set()
    definitions: set[str] = set()
    for rule in policy.rules:
        for compiled in _expressions(rule):
            params |= compiled.params_used
            definitions |= compiled.definitions_used
    for name, param in policy.parameters.items():
        if name not in params:
            loc = param.location
            yield Diagnostic(loc.file, loc.line, loc.column, "unused_parameter", f"parameter '{name}' is not used by any rule", "warning")
    for name, definition in policy.definitions.items():
        if name not in definitions:
            yield Diagnostic(definition.file, 1, 1, "unused_definition", f"definition '{name}' is not used by any rule", "warning")


def _unused_sources(policy: Policy) -> Iterator[Diagnostic]:
    cited = {c.source for c in policy.citations}
    for source_id, source in policy.sources.items():
        if source_id not in cited:
            loc = source.location
            yield Diagnostic(
                loc.file,
                loc.line,
                loc.column,
                "unused_source",
                f"来源 {source_id} 未被任何规则、参数或定义引用 / source {source_id} is not cited by any rule, parameter or definition",
                "warning",
            )


def _undeclared_sources(policy: Policy) -> Iterator[Diagnostic]:
    """A policy without ``sources:`` loads with its citations unchecked: say so once per id, where it is first cited."""
    if policy.sources:
        return
    first: dict[str, Citation] = {}
    for citation in policy.citations:
        first.setdefault(citation.source, citation)
    for source_id, citation in first.items():
        loc = citation.location
        yield Diagnostic(
            loc.file,
            loc.line,
            loc.column,
            "undeclared_source",
            f"引用了来源 {source_id}，但策略没有 sources: 声明，引用未经检查 / cites source {source_id}, but the policy has no "
            "'sources:' section, so its citations go unchecked: declare the sources it cites (e.g. in sources.yaml)",
            "warning",
        )


_HEADING = re.compile(r"^#{1,6}\s+(\d+(?:\.\d+)*)\.?\s", re.MULTILINE)


def _unknown_sections(policy: Policy) -> Iterator[Diagnostic]:
    """``[SPEC §9.9]``: a section the project's Markdown document does not have (checked when the document is at hand)."""
    headings = {source_id: _sections_of(source, policy.root) for source_id, source in policy.sources.items()}
    for citation in policy.citations:
        sections = headings.get(citation.source)
        if sections is None:
            continue
        source = policy.sources[citation.source]
        for number in SECTION.findall(citation.locator):
            if number not in sections:
                loc = citation.location
                yield Diagnostic(
                    loc.file,
                    loc.line,
                    loc.column,
                    "unknown_section",
                    f"{source.document} 没有第 {number} 节 / {source.document} has no section {number}",
                    "warning",
                )


def _sections_of(source: Source, root: Path) -> frozenset[str] | None:
    """The numbered headings of a project document, or None when it is not Markdown or not found next to the policy."""
    if not source.document.endswith(".md"):
        return None
    path = root.parent / source.document
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return frozenset(_HEADING.findall(text))


def _expressions(rule: Rule) -> Iterator[Compiled]:
    stack: list[Condition] = [rule.when]
    while stack:
        node = stack.pop()
        if isinstance(node, Leaf):
            yield node.compiled
        else:
            stack.extend(node.children)
    for action in [*rule.then, *rule.otherwise]:
        if action.value is not None and action.value.compiled is not None:
            yield action.value.compiled
        if action.message is not None:
            for parts in action.message:
                yield from (p.compiled for p in parts if isinstance(p, Placeholder))


# ---------------------------------------------------------------- conditions that can never hold


def _never_fire(policy: Policy) -> Iterator[Diagnostic]:
    for rule in policy.rules:
        domains = constraints(rule.when, policy.environment)
        for path, domain in domains.items():
            if domain is not None and not domain:
                loc = rule.location
                yield Diagnostic(
                    loc.file,
                    loc.line,
                    loc.column,
                    "never_fires",
                    f"rule {rule.id} can never match: its conditions leave no value for {path}",
                    "warning",
                )












# ---------------------------------------------------------------- decision tables


def _tables(policy: Policy) -> Iterator[Diagnostic]:
    """Each table (each version) once: gaps, overlapping rows under ``unique``, rows never hit (compile/table_analysis)."""
    seen: set[int] = set()
    for rule in policy.rules:
        if rule.table is not None and id(rule.table) not in seen:
            seen.add(id(rule.table))
            yield from findings(rule.table)


# ---------------------------------------------------------------- likely conflicts


def _same_field_same_priority(policy: Policy) -> Iterator[Diagnostic]:
    """Two rules of one stage and priority that set one field conflict at run time unless they exclude each other."""
    writers: dict[tuple[int, int], list[tuple[Rule, set[str]]]] = {}
    for rule in policy.rules:
        fields = {a.target for a in rule.then if a.kind == "set"}
        if fields:
            writers.setdefault((rule.stage_index, rule.priority), []).append((rule, fields))
    for (_, priority), entries in writers.items():
        for (a, fa), (b, fb) in itertools.combinations(entries, 2):
            shared = sorted(fa & fb)
            if not shared or a.id == b.id or _exclusive(a, b, policy):
                continue
            loc = b.location
            yield Diagnostic(
                loc.file,
                loc.line,
                loc.column,
                "same_priority_write",
                f"rules {a.id} and {b.id} both set {', '.join(shared)} in stage {b.stage} at priority {priority}; "
                "if both match with different values the evaluation fails: give one a higher priority",
                "warning",
            )


def _exclusive(a: Rule, b: Rule, policy: Policy) -> bool:
    if _disjoint_windows(a, b):
        return True
    first = a if a.sort_key <= b.sort_key else b
    if a.group and a.group == b.group and any(action.kind == "stop" for action in first.then):
        return True  # the first one to match ends the group
    if a.table is not None and a.table is b.table and a.table.hit == "unique":
        return True  # rows of a unique table: the table analysis reports an input both match
    ca, cb = constraints(a.when, policy.environment), constraints(b.when, policy.environment)
    for path in ca.keys() & cb.keys():
        da, db = ca[path], cb[path]
        if da is not None and db is not None and not da & db:
            return True
    return False


def _disjoint_windows(a: Rule, b: Rule) -> bool:
    if a.effective_on != b.effective_on:
        return False
    a_ends_first = a.effective_until is not None and b.effective_from is not None and a.effective_until <= b.effective_from
    b_ends_first = b.effective_until is not None and a.effective_from is not None and b.effective_until <= a.effective_from
    return a_ends_first or b_ends_first


# ---------------------------------------------------------------- words that would go stale


def _numbers_that_are_parameters(policy: Policy) -> Iterator[Diagnostic]:
    """A title or reason that writes "7" where the rule reads a parameter worth 7 goes wrong when the value changes."""
    seen: set[tuple[str, int, int]] = set()
    for rule in policy.rules:
        read: set[str] = set()
        for compiled in _expressions(rule):
            read |= compiled.params_used
        values = {name: policy.parameters[name].value for name in sorted(read) if name in policy.parameters}
        for words in rule.words:
            for offset, number, percent in literal_numbers(words.template):
                names = [name for name, value in values.items() if same_number(number, percent, value)]
                line, column = words.locate(offset)
                if not names or (words.file, line, column) in seen:
                    continue
                seen.add((words.file, line, column))
                shown = f"{number}%" if percent else str(number)
                placeholder = f"{{params.{names[0]}{':%' if percent else ''}}}"
                yield Diagnostic(
                    words.file,
                    line,
                    column,
                    "literal_parameter_value",
                    f"{words.what} of rule {rule.id} writes {shown}, the value of params.{names[0]} that the rule reads: "
                    f"write {placeholder} so the text follows the parameter",
                    "warning",
                )
