"""Reading the policy's vocabulary (``vocabulary:``) from its files, checked, with every problem at its place.

It is read before anything else is checked, because it decides what the other files, the orders
and the decisions may say: the schemas' marked value sets get its codes (:mod:`ruleengine.schemas`).
A set the policy does not declare is the default policy's, so a policy that names no vocabulary
keeps working, and one that adds a guarantee redeclares only the sets it changes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..bundled import default_rules_dir
from ..documents import Document, DocumentError, pointer_join, read_yaml
from ..model.rules import Location
from ..model.vocabulary import Term, TermSet, Vocabulary
from ..schemas import did_you_mean, problems_at, vocabulary_sets
from .policyfolder import display_path

DEFAULT_FILE = "vocabulary.yaml"
"""The default policy's vocabulary file, in its folder: where a set a policy does not declare comes from."""

Report = Callable[[Document, str, str, str, bool], None]
"""(document, JSON pointer, code, message, at the key) → records an error."""


@dataclass(frozen=True)
class _Declared:
    doc: Document
    pointer: str
    spec: dict[str, Any]


def read_vocabulary(
    docs: Iterable[Document], report: Report, default: Callable[[], Vocabulary | None] = lambda: None
) -> tuple[Vocabulary, set[str]]:
    """The policy's vocabulary, and the names of the sets that could not be read (their errors reported).

    Sets the schemas need and the policy does not declare come from ``default()`` (the default policy's),
    read only when some set is missing.
    """
    declared: dict[str, _Declared] = {}
    broken: set[str] = set()
    for doc in docs:
        section = doc.data.get("vocabulary") if isinstance(doc.data, dict) else None
        if not isinstance(section, dict):
            continue
        bad = problems_at("rule.schema.json", "/properties/vocabulary", section, limit=20)
        for p in bad:
            key = p.keyword in ("additionalProperties", "propertyNames")
            report(doc, "/vocabulary" + p.pointer, "schema", p.message, key)
        bad_sets = {p.pointer.split("/")[1] for p in bad if p.pointer.count("/") >= 1 and p.pointer != ""}
        if any(p.pointer == "" for p in bad):
            continue
        for name, spec in section.items():
            pointer = pointer_join("/vocabulary", name)
            if name in bad_sets:
                broken.add(name)
                continue
            if name in declared:
                first = declared[name]
                where = Location(first.doc.name, *first.doc.locate(first.pointer, key=True))
                message = f"词汇集 {name} 重复声明 / vocabulary set '{name}' is already declared at {where}"
                report(doc, pointer, "duplicate_vocabulary", message, True)
                continue
            declared[name] = _Declared(doc, pointer, spec)
    sets: dict[str, TermSet] = {}
    for name, item in declared.items():
        if not item.spec.get("subset_of") and not item.spec.get("include"):
            built = _plain(name, item, report)
            if built is None:
                broken.add(name)
            else:
                sets[name] = built
    needed = set(vocabulary_sets()) - declared.keys()
    fallen_back = default() if needed else None
    fallback = fallen_back.sets if fallen_back is not None else {}
    for name in vocabulary_sets():
        if name not in declared and name in fallback and not fallback[name].subset_of and not fallback[name].include:
            sets[name] = fallback[name]
    # Sets drawn from others, once what they are drawn from is built: the policy's, then the default's that
    # the policy did not redeclare (drawn again from the policy's version of their base when it has one).
    pending = {name: item for name, item in declared.items() if item.spec.get("subset_of") or item.spec.get("include")}
    defaults = {n: s for n, s in fallback.items() if n not in declared and n in vocabulary_sets() and (s.subset_of or s.include)}
    waiting = pending.keys() | defaults.keys()
    progress = True
    while progress and (pending or defaults):
        progress = False
        for name, item in list(pending.items()):
            base = str(item.spec.get("subset_of") or item.spec.get("include"))
            if base in sets or base not in waiting:
                built = _derived(name, item, sets, broken, report)
                if built is None:
                    broken.add(name)
                else:
                    sets[name] = built
                del pending[name]
                waiting = pending.keys() | defaults.keys()
                progress = True
        for name, fb in list(defaults.items()):
            base = fb.subset_of or fb.include
            if base in sets or base not in waiting:
                if base in sets and sets[base] is not fallback.get(base):
                    sets[name] = _redrawn(fb, fallback.get(base), sets[base])
                elif base in sets:
                    sets[name] = fb
                del defaults[name]
                waiting = pending.keys() | defaults.keys()
                progress = True
    for name, item in pending.items():
        message = f"{name}: 词汇集相互引用 / vocabulary sets drawn from each other in a circle ({', '.join(pending)})"
        report(item.doc, item.pointer, "vocabulary", message, True)
        broken.add(name)
    ordered = {name: sets[name] for name in [*declared, *fallback] if name in sets}
    return Vocabulary(ordered), broken


def _plain(name: str, item: _Declared, report: Report) -> TermSet | None:
    values = item.spec["values"]
    if not isinstance(values, dict):
        message = f"{name}: 每个代码须有中英文名称 / name each code: `code: {{zh: …, en: …}}` (a list of codes needs `subset_of:`)"
        report(item.doc, item.pointer + "/values", "vocabulary", message, False)
        return None
    return TermSet(
        name,
        item.spec["title"]["zh"],
        item.spec["title"]["en"],
        tuple(Term(code, names["zh"], names["en"]) for code, names in values.items()),
        Location(item.doc.name, *item.doc.locate(item.pointer, key=True)),
    )


def _derived(name: str, item: _Declared, sets: dict[str, TermSet], broken: set[str], report: Report) -> TermSet | None:
    spec, doc = item.spec, item.doc
    if spec.get("subset_of") and spec.get("include"):
        message = f"{name}: 'subset_of' 与 'include' 只能用其一 / use either subset_of or include, not both"
        report(doc, item.pointer, "vocabulary", message, True)
        return None
    base_name = str(spec.get("subset_of") or spec.get("include"))
    key = "subset_of" if spec.get("subset_of") else "include"
    base = sets.get(base_name)
    if base is None:
        if base_name not in broken:
            known = [n for n in sets if n != name]
            hint = did_you_mean(base_name, known)
            more = f" (did you mean '{hint}'?)" if hint else f"; sets: {', '.join(known)}"
            message = f"{name}: 没有词汇集 {base_name} / no vocabulary set '{base_name}'{more}"
            report(doc, item.pointer + "/" + key, "unknown_vocabulary", message, False)
        return None
    location = Location(doc.name, *doc.locate(item.pointer, key=True))
    title = (spec["title"]["zh"], spec["title"]["en"])
    values = spec["values"]
    if key == "subset_of":
        if not isinstance(values, list):
            message = f"{name}: 子集只列出代码 / a subset lists codes of {base_name}: `values: [a, b]`"
            report(doc, item.pointer + "/values", "vocabulary", message, False)
            return None
        terms = []
        for i, code in enumerate(values):
            term = next((t for t in base.terms if t.code == code), None)
            if term is None:
                hint = did_you_mean(str(code), base.codes)
                more = f" (did you mean '{hint}'?)" if hint else f"; expected one of: {', '.join(base.codes)}"
                message = f"{name}: {base_name} 中没有 {code} / '{code}' is not a code of {base_name}{more}"
                report(doc, f"{item.pointer}/values/{i}", "unknown_code", message, False)
                return None
            terms.append(term)
        return TermSet(name, *title, tuple(terms), location, subset_of=base_name)
    if not isinstance(values, dict):
        message = f"{name}: 每个代码须有中英文名称 / name each code: `code: {{zh: …, en: …}}`"
        report(doc, item.pointer + "/values", "vocabulary", message, False)
        return None
    for code in values:
        if code in base.codes:
            at = pointer_join(item.pointer + "/values", code)
            message = f"{name}: {code} 已由 {base_name} 包含 / '{code}' is already in {base_name}, which this set includes"
            report(doc, at, "duplicate_code", message, True)
            return None
    own = tuple(Term(code, names["zh"], names["en"]) for code, names in values.items())
    return TermSet(name, *title, base.terms + own, location, include=base_name)


def _redrawn(default: TermSet, default_base: TermSet | None, base: TermSet) -> TermSet:
    """A default set drawn from another set, drawn again from the policy's version of that other set."""
    if default.include:
        drawn = set(default_base.codes) if default_base is not None else set()
        own = tuple(t for t in default.terms if t.code not in drawn and t.code not in set(base.codes))
        return TermSet(default.name, default.title_zh, default.title_en, base.terms + own, default.location, include=default.include)
    named = {t.code: t for t in base.terms}
    kept = tuple(named[code] for code in default.codes if code in named)
    return TermSet(default.name, default.title_zh, default.title_en, kept, default.location, subset_of=default.subset_of)


@functools.lru_cache(maxsize=4)
def _default_from(data: bytes, name: str) -> Vocabulary | None:
    try:
        doc = read_yaml(data, name)
    except DocumentError:
        return None
    vocabulary, broken = read_vocabulary([doc], lambda *_: None)
    return None if broken else vocabulary


def default_vocabulary() -> Vocabulary | None:
    """The default policy's vocabulary (None if it cannot be read: then every set must be declared)."""
    path = default_rules_dir() / DEFAULT_FILE
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return _default_from(data, display_path(path))


def missing_sets(vocabulary: Vocabulary, broken: set[str]) -> list[str]:
    """Sets the schemas use that neither the policy nor the default declares."""
    return [name for name in vocabulary_sets() if name not in vocabulary.sets and name not in broken]
