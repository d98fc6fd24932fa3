"""Loading a policy folder: read every file, check everything, compile once, all or nothing.

Every problem in every file is collected and reported together, sorted by
location; a policy with any error is never returned, so a caller (or a
running service) either gets a complete new policy or keeps its old one.
"""

from __future__ import annotations

import ast
import dataclasses
import datetime as dt
import functools
import hashlib
import itertools
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..documents import Document, DocumentError, Problem, pointer_join, read_yaml
from ..errors import Diagnostic, PolicyError
from ..lang import types as t
from ..lang.check import compile_definition, compile_expression
from ..lang.codegen import build_probe, number_lines, runtime_globals
from ..lang.functions import SIGNATURES, make_calendar
from ..lang.ir import SUPPRESSED, Definition, Environment, ExpressionProblem
from ..lang.parse import parse
from ..lang.templates import Placeholder, split
from ..lang.words import Words, render
from ..limits import DEFAULT_LIMITS, Limits
from ..model.conditions import ABSENT_VALUE, Condition, Group, Leaf
from ..model.parameters import Declaration
from ..model.rules import Action, Citation, Location, Parameter, Rule, Source, ValueExpr
from ..runtime.conversion import build_converter
from ..runtime.policy import Policy
from ..schemas import SchemaProblem, did_you_mean, load_schema, parse_timestamp, validator
from .index import constraints
from .parameters import UNITS, ParameterProblem, checked_value, declaration, expression_type
from .policyfolder import choose, policy_files
from .policyfolder import display_path as _display
from .sources import SOURCE_ID, citing_texts, find_citations, nearest_id


class _OverrideRefused(Exception):
    """An override was refused and reported; the parameter is left out."""


@functools.cache
def named_enums() -> dict[str, tuple[str, ...]]:
    """The value sets the schemas name (``category``, ``claim_type`` …): what a list parameter may hold."""
    out: dict[str, tuple[str, ...]] = {}
    for schema in ("order.schema.json", "decision.schema.json"):
        for name, node in load_schema(schema).get("$defs", {}).items():
            if isinstance(node, dict) and "enum" in node:
                out.setdefault(name, tuple(str(v) for v in node["enum"]))
    return out


@functools.cache
def fact_types() -> tuple[t.Type, t.Type]:
    """Expression types of the order facts and of the decision, from the bundled schemas."""
    return t.from_schema(load_schema("order.schema.json")), t.from_schema(load_schema("decision.schema.json"))


def load_policy(
    path: str | os.PathLike[str] | None = None,
    *,
    limits: Limits = DEFAULT_LIMITS,
    parameters: dict[str, Any] | None = None,
) -> Policy:
    """Load, check and compile a policy folder.

    Without ``path``: the folder named by ``RULEENGINE_RULES``, else ``./rules`` when
    it holds a policy manifest, else the bundled default policy (:mod:`ruleengine.compile.policyfolder`).
    ``parameters`` overrides parameter values by name (a what-if), without
    touching any file. Raises :class:`PolicyError` listing every problem.
    """
    root = choose(path).path
    return _Loader(root, limits, parameters or {}).load()


def with_parameters(policy: Policy, parameters: dict[str, Any]) -> Policy:
    """The same policy with some parameter values changed: rebuilt from the bytes it was loaded from.

    The files on disk are not read again, so a what-if always starts from the
    running policy, even while its folder is being edited.
    """
    return policy_from_contents(policy.contents, policy.root, limits=policy.limits, parameters=parameters)


def policy_from_contents(
    contents: dict[str, bytes], root: str | os.PathLike[str], *, limits: Limits = DEFAULT_LIMITS, parameters: dict[str, Any] | None = None
) -> Policy:
    """A policy built from the bytes of its files (``Policy.contents``: relative path → bytes), reading no folder.

    How a process that cannot see the folder gets the policy (a Dask worker on another machine);
    ``root`` only names the files in messages. The same bytes and overrides give the same digest.
    """
    return _Loader(Path(root), limits, dict(parameters or {}), sources=contents).load()


@dataclass
class _Loader:
    root: Path
    limits: Limits
    overrides: dict[str, Any]
    diagnostics: list[Diagnostic] = field(default_factory=list)
    docs: list[Document] = field(default_factory=list)
    bad: dict[str, list[str]] = field(default_factory=dict)
    """Document name → JSON pointers with schema errors; entries under them are not compiled."""
    broken_names: set[str] = field(default_factory=set)
    unreadable: list[str] = field(default_factory=list)
    broken_sources: set[str] = field(default_factory=set)
    contents: dict[Path, bytes] = field(default_factory=dict)
    sources: dict[str, bytes] | None = None
    """The policy's files by relative path, instead of reading the folder (a what-if of a loaded policy)."""
    leaves: int = 0
    """Conditions compiled so far: each gets its own line number in compiled code."""
    word_values: dict[str, tuple[Any, str]] = field(default_factory=dict)
    """Parameter values and kinds by name, for ``{params.NAME}`` in titles, labels and descriptions."""
    rule_words: list[Words] = field(default_factory=list)
    """The texts of the rule being built, as written."""

    # -- reporting
    def error(self, doc: Document | str, where: tuple[int, int], code: str, message: str, pointer: str = "") -> None:
        name = doc if isinstance(doc, str) else doc.name
        self.diagnostics.append(Diagnostic(name, where[0], where[1], code, message, "error", pointer))

    def expression_error(self, doc: Document, pointer: str, problem: ExpressionProblem, base: int = 0) -> None:
        if problem.code == SUPPRESSED:
            return
        line, col = doc.locate_in_text(pointer, base + problem.offset)
        self.error(doc, (line, col), problem.code, problem.message, pointer)

    # -- the pipeline
    def load(self) -> Policy:
        files = self.read_files()
        manifest = self.manifest()
        facts_type, decision_type = fact_types()
        params = self.parameters()
        self.word_values = {name: (p.value, p.declaration.kind) for name, p in params.items()}
        env = Environment(facts_type, decision_type, {n: (p.type, p.value) for n, p in params.items()}, limits=self.limits)
        env.broken |= self.broken_names
        zone = manifest.get("timezone", "Asia/Shanghai")
        globals_ = runtime_globals(make_calendar(zone))
        self.definitions(env)
        stages = tuple(manifest.get("stages", ()))
        rules = self.rules(env, globals_, stages)
        sources = self.declared_sources()
        citations = self.citations(sources)
        if self.diagnostics:
            raise PolicyError(self.without_cascades())
        digest = self.digest(files)
        return Policy._build(
            name=str(manifest["name"]),
            version=str(manifest["version"]),
            digest=digest,
            timezone=zone,
            stages=stages,
            rules=tuple(sorted(rules, key=lambda r: r.sort_key)),
            parameters=params,
            definitions=env.definitions,
            root=self.root,
            files=tuple(_display(f) for f in files),
            environment=env,
            convert_facts=build_converter(facts_type),
            limits=self.limits,
            contents={f.relative_to(self.root).as_posix(): self.contents[f] for f in files},
            overrides=dict(self.overrides),
            sources=sources,
            citations=citations,
            loaded_at=dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            rebuild=with_parameters,
        )

    def read_files(self) -> list[Path]:
        if self.sources is not None:
            files = [self.root / rel for rel in self.sources]
            for path, data in zip(files, self.sources.values(), strict=True):
                self.contents[path] = data
            self.read_documents(files)
            return files
        if not self.root.is_dir():
            what = "is not a folder" if self.root.exists() else "does not exist"
            raise PolicyError([Diagnostic(_display(self.root), 1, 1, "not_found", f"policy folder {what}")])
        files = policy_files(self.root)
        if not files:
            raise PolicyError([Diagnostic(_display(self.root), 1, 1, "empty_policy", "no rule files (*.yaml) in the policy folder")])
        if len(files) > self.limits.max_policy_files:
            raise PolicyError([Diagnostic(_display(self.root), 1, 1, "too_large", f"more than {self.limits.max_policy_files} files")])
        for path in files:
            name = _display(path)
            try:
                size = path.stat().st_size
                if size > self.limits.max_file_bytes:
                    self.error(name, (1, 1), "too_large", f"file too large: {size} bytes > limit {self.limits.max_file_bytes}")
                    continue
                self.contents[path] = path.read_bytes()
            except OSError as exc:
                self.error(name, (1, 1), "unreadable", exc.strerror or "cannot read the file")
        self.read_documents([f for f in files if f in self.contents])
        return files

    def read_documents(self, files: list[Path]) -> None:
        for path in files:
            name = _display(path)
            doc, problems, schema_problems = _read_policy_file(self.contents[path], name, self.limits)
            for p in problems:
                self.error(name, (p.line, p.column), p.code, p.message, p.pointer)
            if doc is None:
                if problems:
                    self.unreadable.append(name)
                continue
            self.docs.append(doc)
            if problems:
                # Keep what was readable, so one duplicate key does not make every name in the file unknown.
                self.bad[doc.name] = [p.pointer for p in problems] + [sp.pointer for sp in schema_problems]
                continue
            if not isinstance(doc.data, dict):
                self.error(doc, (1, 1), "schema", "a policy file is a mapping with policy, parameters, definitions and/or rules")
                continue
            for sp in schema_problems:
                where = doc.locate(sp.pointer, key=sp.keyword in ("additionalProperties", "propertyNames"))
                self.error(doc, where, "schema", sp.message, sp.pointer)
            self.bad[doc.name] = [sp.pointer for sp in schema_problems]
            if len(schema_problems) >= SCHEMA_PROBLEMS_SHOWN:
                # Errors past the first ones are not known, so no entry of this file can be trusted.
                self.bad[doc.name].append("")
                self.unreadable.append(doc.name)
                self.diagnostics.append(
                    Diagnostic(doc.name, 1, 1, "more_errors", f"only the first {SCHEMA_PROBLEMS_SHOWN} schema errors are shown", "info")
                )

    def without_cascades(self) -> list[Diagnostic]:
        """When a file could not be read at all, names it defines look unknown everywhere else: hide those."""
        if not self.unreadable:
            return self.diagnostics
        cascade = {"unknown_parameter", "unknown_function", "unknown_name", "unknown_source"}
        kept = [d for d in self.diagnostics if d.code not in cascade or d.file in self.unreadable]
        hidden = len(self.diagnostics) - len(kept)
        if hidden:
            first = min(d for d in kept if d.file in self.unreadable)
            kept.append(
                Diagnostic(
                    first.file,
                    first.line,
                    first.column,
                    "hidden_errors",
                    f"{hidden} errors about unknown names elsewhere are not shown: this file may define them; fix it first",
                    "info",
                )
            )
        return kept

    def _sections(self, key: str) -> Iterator[tuple[Document, Any]]:
        kinds = {"policy": dict, "parameters": dict, "definitions": dict, "rules": list, "sources": dict}
        for doc in self.docs:
            if isinstance(doc.data, dict) and isinstance(doc.data.get(key), kinds[key]) and not self.broken(doc, "/" + key, exact=True):
                yield doc, doc.data[key]

    def broken(self, doc: Document, pointer: str, exact: bool = False) -> bool:
        """Whether the file schema found an error at ``pointer`` (or, unless ``exact``, inside it)."""
        return any(bad in ("", pointer) or (not exact and bad.startswith(pointer + "/")) for bad in self.bad.get(doc.name, ()))

    def manifest(self) -> dict[str, Any]:
        found = list(self._sections("policy"))
        found = [(doc, m) for doc, m in found if not self.broken(doc, "/policy")]
        if not found:
            if not self.diagnostics:
                self.error(
                    _display(self.root), (1, 1), "no_manifest", "no file has the 'policy:' manifest (name, version, timezone, stages)"
                )
            raise PolicyError(self.diagnostics)
        for doc, _ in found[1:]:
            self.error(
                doc,
                doc.locate("/policy", key=True),
                "duplicate_manifest",
                f"a second 'policy:' manifest (the first is in {found[0][0].name})",
                "/policy",
            )
        doc, manifest = found[0]
        try:
            ZoneInfo(manifest["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            self.error(
                doc,
                doc.locate("/policy/timezone"),
                "timezone",
                f"unknown time zone '{manifest['timezone']}' (e.g. Asia/Shanghai)",
                "/policy/timezone",
            )
            manifest = {**manifest, "timezone": "UTC"}
        return dict(manifest)

    def parameters(self) -> dict[str, Parameter]:
        out: dict[str, Parameter] = {}
        declared: dict[str, Declaration] = {}
        enums = named_enums()
        for doc, section in self._sections("parameters"):
            for name, spec in section.items():
                pointer = pointer_join("/parameters", name)
                if self.broken(doc, pointer):
                    self.broken_names.add(name)
                    continue
                where = doc.locate(pointer, key=True)
                if name in out or name in declared:
                    first = out[name].location if name in out else "another file"
                    self.error(doc, where, "duplicate_parameter", f"parameter '{name}' is already defined at {first}", pointer)
                    continue
                try:
                    decl = declaration(name, spec, enums)
                    declared[name] = decl
                    value = checked_value(decl, spec["value"], enums, self.limits.max_collection_items)
                    if name in self.overrides:
                        value = self._override(decl, enums)
                except ParameterProblem as problem:
                    at = pointer + "/" + problem.at
                    if problem.at != "value" or "value" in spec:
                        self.error(doc, doc.locate(at), problem.code, f"{name}: {problem}", at)
                    self.broken_names.add(name)  # reported once here, not at every use
                    continue
                except _OverrideRefused:
                    self.broken_names.add(name)
                    continue
                out[name] = Parameter(
                    name,
                    value,
                    expression_type(decl, enums),
                    spec["description"],
                    spec.get("source", ""),
                    spec.get("unit", UNITS.get(decl.kind, "")),
                    Location(doc.name, *where),
                    decl,
                )
        for name in self.overrides:
            if name not in declared and name not in self.broken_names:
                hint = did_you_mean(name, declared)
                self.error(
                    "<parameters>",
                    (1, 1),
                    "unknown_parameter",
                    f"override of unknown parameter '{name}'" + (f" (did you mean '{hint}'?)" if hint else ""),
                )
        return out

    def _override(self, decl: Declaration, enums: dict[str, tuple[str, ...]]) -> Any:
        """An override obeys the parameter's declaration, and is reported by its name (it has no place in a file)."""
        try:
            return checked_value(decl, self.overrides[decl.name], enums, self.limits.max_collection_items)
        except ParameterProblem as problem:
            self.error("<parameters>", (1, 1), problem.code, f"override of {decl.name}: {problem}")
            raise _OverrideRefused from None

    # -- sources and their citations
    def declared_sources(self) -> dict[str, Source]:
        out: dict[str, Source] = {}
        for doc, section in self._sections("sources"):
            for source_id, spec in section.items():
                pointer = pointer_join("/sources", source_id)
                if self.broken(doc, pointer):
                    self.broken_sources |= {source_id, source_id.upper()}  # its citations are not blamed
                    continue
                where = doc.locate(pointer, key=True)
                if source_id in out:
                    first = out[source_id].location
                    message = f"来源 {source_id} 重复声明，首次在 {first} / source {source_id} is already declared at {first}"
                    self.error(doc, where, "duplicate_source", message, pointer)
                    continue
                note = spec.get("note", {})
                out[source_id] = Source(
                    source_id,
                    spec["kind"],
                    spec["title"]["zh"],
                    spec["title"]["en"],
                    spec["issuer"]["zh"],
                    spec["issuer"]["en"],
                    spec.get("date", ""),
                    spec.get("url", ""),
                    spec.get("document", ""),
                    note.get("zh", ""),
                    note.get("en", ""),
                    Location(doc.name, *where),
                )
        for doc in self.docs:
            if any(bad == "/sources" for bad in self.bad.get(doc.name, ())):
                self.broken_sources.add("*")  # a whole section unreadable: any id may be declared there
        return out

    def citations(self, sources: dict[str, Source]) -> tuple[Citation, ...]:
        """Every ``[ID locator]`` in the texts that say where things come from.

        Once a policy has a ``sources:`` section, a citation of an id it does not declare is an error,
        like an unknown parameter. A policy without one has not taken up citations: its bracketed
        text is kept unchecked, and lint warns about it.
        """
        checked = any(isinstance(doc.data, dict) and "sources" in doc.data for doc in self.docs)
        found: list[Citation] = []
        for doc in self.docs:
            for pointer, text, cited_by in citing_texts(doc.data):
                if self.broken(doc, pointer):
                    continue
                for source_id, locator, offset in find_citations(text):
                    where = doc.locate_in_text(pointer, offset)
                    if SOURCE_ID.match(source_id) and (source_id in sources or not checked):
                        found.append(Citation(source_id, locator, cited_by, Location(doc.name, *where)))
                    elif SOURCE_ID.match(source_id) and not self.broken_sources & {source_id, "*"}:
                        self.error(doc, where, "unknown_source", _undeclared(source_id, sources), pointer)
                    elif source_id.upper() in sources:
                        right = f"[{source_id.upper()}{' ' + locator if locator else ''}]"
                        message = f"来源编号须大写：应为 {right} / source ids are capitals: did you mean {right}?"
                        self.error(doc, where, "unknown_source", message, pointer)
        return tuple(found)

    def definitions(self, env: Environment) -> None:
        kinds = {
            "number": t.scalar(t.NUMBER),
            "money": t.scalar(t.NUMBER, money=True),
            "text": t.scalar(t.TEXT),
            "boolean": t.scalar(t.BOOL),
            "timestamp": t.scalar(t.TIMESTAMP),
            "duration": t.scalar(t.DURATION),
            "date": t.scalar(t.DATE),
        }
        docs: dict[str, Document] = {}
        for doc, section in self._sections("definitions"):
            for name, spec in section.items():
                pointer = pointer_join("/definitions", name)
                if self.broken(doc, pointer):
                    env.broken.add(name)
                    continue
                if name in SIGNATURES:
                    self.error(
                        doc,
                        doc.locate(pointer, key=True),
                        "definition_name",
                        f"'{name}' is a built-in function; choose another name",
                        pointer,
                    )
                    env.broken.add(name)
                    continue
                if name in env.definitions:
                    first = env.definitions[name]
                    self.error(
                        doc,
                        doc.locate(pointer, key=True),
                        "duplicate_definition",
                        f"definition '{name}' is already defined in {first.file}",
                        pointer,
                    )
                    continue
                if name in env.facts.fields or name in ("item", "decision", "params", "true", "false"):
                    self.error(
                        doc,
                        doc.locate(pointer, key=True),
                        "definition_name",
                        f"'{name}' already means something in expressions; choose another name",
                        pointer,
                    )
                    continue
                params = tuple((p, kinds[k]) for p, k in spec.get("params", {}).items())
                env.definitions[name] = Definition(name, params, spec["expr"], pointer=pointer + "/expr", file=doc.name)
                docs[name] = doc
        # Check each definition after those it uses; a cycle is an error.
        uses: dict[str, set[str]] = {}
        for name, d in env.definitions.items():
            try:
                tree = parse(d.text, self.limits)
            except ExpressionProblem as exc:
                self.expression_error(docs[name], d.pointer, exc)
                uses[name] = set()
                continue
            uses[name] = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id in env.definitions}
        state: dict[str, int] = {}

        def visit(name: str, chain: tuple[str, ...]) -> None:
            if state.get(name) == 2:
                return
            if state.get(name) == 1:
                cycle = " → ".join((*chain[chain.index(name) :], name))
                d = env.definitions[name]
                self.error(
                    docs[name],
                    docs[name].locate(d.pointer),
                    "definition_cycle",
                    f"definitions refer to each other in a circle: {cycle}",
                    d.pointer,
                )
                return
            state[name] = 1
            for used in sorted(uses.get(name, ())):
                visit(used, (*chain, name))
            state[name] = 2
            d = env.definitions[name]
            if any(env.definitions[u].compiled is None for u in uses.get(name, ())):
                return
            try:
                compile_definition(d, env)
            except ExpressionProblem as exc:
                d.compiled = None
                self.expression_error(docs[name], d.pointer, exc)

        for name in list(env.definitions):
            visit(name, ())

    # -- rules
    def rules(self, env: Environment, globals_: dict[str, Any], stages: tuple[str, ...]) -> list[Rule]:
        out: list[Rule] = []
        order = 0
        for doc, section in self._sections("rules"):
            for index, spec in enumerate(section):
                pointer = f"/rules/{index}"
                if self.broken(doc, pointer):
                    order += 1
                    continue
                rule = self.rule(doc, pointer, spec, env, globals_, stages, order)
                order += 1
                if rule is not None:
                    out.append(rule)
        return self.check_versions(out)

    def rule(
        self,
        doc: Document,
        pointer: str,
        spec: dict[str, Any],
        env: Environment,
        globals_: dict[str, Any],
        stages: tuple[str, ...],
        order: int,
    ) -> Rule | None:
        before = len(self.diagnostics)
        rule_id = spec["id"]
        scope = spec.get("scope", "order")
        stage = spec["stage"]
        if stage not in stages:
            hint = did_you_mean(stage, stages)
            self.error(
                doc,
                doc.locate(pointer + "/stage"),
                "unknown_stage",
                f"unknown stage '{stage}'" + (f" (did you mean '{hint}'?)" if hint else f"; stages: {', '.join(stages)}"),
                pointer + "/stage",
            )
        effective = spec.get("effective", {})
        bounds: list[dt.datetime | None] = []
        for key in ("from", "until"):
            raw = effective.get(key)
            bounds.append(parse_timestamp(raw) if raw is not None else None)
        if bounds[0] is not None and bounds[1] is not None and bounds[0] >= bounds[1]:
            self.error(doc, doc.locate(pointer + "/effective"), "effective_window", "'from' must be before 'until'", pointer + "/effective")
        self.rule_words = []
        title_zh = self.words(doc, pointer + "/title/zh", "title.zh")
        title_en = self.words(doc, pointer + "/title/en", "title.en")
        description = self.words(doc, pointer + "/description", "description")
        when = self.condition(doc, pointer + "/when", spec["when"], env, globals_, scope != "order", rule_id)
        then = self.actions(doc, pointer + "/then", spec.get("then", []), env, globals_, scope, spec, rule_id)
        otherwise = self.actions(doc, pointer + "/else", spec.get("else", []), env, globals_, scope, spec, rule_id)
        if len(self.diagnostics) > before or when is None:
            return None
        return Rule(
            id=rule_id,
            title_zh=title_zh,
            title_en=title_en,
            description=description,
            source=spec.get("source", ""),
            guarantee=spec.get("guarantee", ""),
            stage=stage,
            stage_index=stages.index(stage),
            priority=spec.get("priority", 0),
            scope=scope,
            group=spec.get("group", ""),
            effective_from=bounds[0],
            effective_until=bounds[1],
            effective_on=effective.get("on", "paid_at"),
            when=when,
            then=then,
            otherwise=otherwise,
            location=Location(doc.name, *doc.locate(pointer)),
            order=order,
            words=tuple(self.rule_words),
            # A rule index, as OPA has one: a rule that requires other claim types cannot match this order.
            claim_types=None if otherwise else constraints(when, env).get("claim.type"),
        )

    def words(self, doc: Document, pointer: str, what: str) -> str:
        """A title, label or description with its ``{params.NAME}`` filled in (the text as written on error)."""
        text = str(_get_pointer(doc.data, pointer))
        self.rule_words.append(Words(what, text, functools.partial(doc.locate_in_text, pointer), doc.name))
        try:
            return render(text, self.word_values, self.broken_names)[0]
        except ExpressionProblem as exc:
            self.expression_error(doc, pointer, exc)
            return text

    def condition(
        self, doc: Document, pointer: str, spec: Any, env: Environment, globals_: dict[str, Any], item: bool, rule_id: str
    ) -> Condition | None:
        if isinstance(spec, str) or "expr" in spec:
            text_pointer = pointer if isinstance(spec, str) else pointer + "/expr"
            text = spec if isinstance(spec, str) else spec["expr"]
            try:
                compiled = compile_expression(text, env, item=item, expect=t.BOOL)
            except ExpressionProblem as exc:
                self.expression_error(doc, text_pointer, exc)
                return None
            line, col = doc.locate_in_text(text_pointer, 0)
            label = "" if isinstance(spec, str) or "label" not in spec else self.words(doc, pointer + "/label", "label")
            self.leaves += 1
            number_lines(compiled.py, self.leaves + 1)
            leaf = Leaf(compiled, pointer, label, (doc.name, line, col), self.leaves + 1, env=env)
            probe_name = f"rule {rule_id} {pointer}"
            leaf.build_probe = functools.partial(build_probe, absent=ABSENT_VALUE, env=env, globals_=globals_, name=probe_name)
            return leaf
        op = next(k for k in ("all", "any", "not") if k in spec)
        raw = spec[op] if op != "not" else [spec[op]]
        children = []
        for i, child in enumerate(raw):
            child_pointer = f"{pointer}/{op}/{i}" if op != "not" else f"{pointer}/not"
            built = self.condition(doc, child_pointer, child, env, globals_, item, rule_id)
            if built is not None:
                children.append(built)
        if len(children) != len(raw):
            return None
        label = self.words(doc, pointer + "/label", "label") if "label" in spec else ""
        return Group(op, children, pointer, label)

    def actions(
        self,
        doc: Document,
        pointer: str,
        specs: list[dict[str, Any]],
        env: Environment,
        globals_: dict[str, Any],
        scope: str,
        rule: dict[str, Any],
        rule_id: str,
    ) -> list[Action]:
        out = []
        item = scope != "order"
        for index, spec in enumerate(specs):
            kind, value = next(iter(spec.items()))
            p = f"{pointer}/{index}/{kind}"
            loc = Location(doc.name, *doc.locate(p))
            if kind == "add_service":
                if scope == "order":
                    self.error(
                        doc, doc.locate(p), "scope", "add_service needs scope 'line' or 'claimed_line' (which line gets the service?)", p
                    )
                out.append(Action(kind, loc, target=value))
            elif kind == "set":
                for field_name, raw in value.items():
                    fp = pointer_join(p, field_name)
                    built = self.field_value(doc, fp, field_name, raw, env, globals_, item, rule_id)
                    if built is not None:
                        out.append(Action(kind, Location(doc.name, *doc.locate(fp)), target=field_name, value=built))
            elif kind in ("compensation", "deduction"):
                amount = self.money_value(doc, p + "/amount", value["amount"], env, globals_, item, rule_id)
                if amount is not None:
                    out.append(
                        Action(
                            kind, loc, target=value["type"], value=amount, form=value.get("form", ""), payer=value.get("payer", "merchant")
                        )
                    )
            elif kind == "violation":
                out.append(Action(kind, loc, target=value))
            elif kind == "reason":
                for lang in ("zh", "en"):
                    locate = functools.partial(doc.locate_in_text, f"{p}/{lang}")
                    self.rule_words.append(Words(f"reason.{lang}", value[lang], locate, doc.name))
                parts = (
                    self.template(doc, p + "/zh", value["zh"], env, globals_, item, rule_id),
                    self.template(doc, p + "/en", value["en"], env, globals_, item, rule_id),
                )
                out.append(Action(kind, loc, message=parts))
            elif kind == "stop":
                if not rule.get("group"):
                    self.error(doc, doc.locate(p), "stop_without_group", "'stop' ends the rule's group, but this rule has no 'group'", p)
                out.append(Action(kind, loc))
        return out

    def field_value(
        self, doc: Document, pointer: str, name: str, raw: Any, env: Environment, globals_: dict[str, Any], item: bool, rule_id: str
    ) -> ValueExpr | None:
        claim_type = env.decision.fields["claim"].type
        fld = claim_type.fields[name.removeprefix("claim.")]
        loc = Location(doc.name, *doc.locate(pointer))
        if isinstance(raw, str) and fld.type.enum and raw in fld.type.enum:
            return ValueExpr(literal=raw, location=loc)
        if isinstance(raw, bool) or (not isinstance(raw, str) and fld.type.kind != t.NUMBER):
            allowed = f": one of {', '.join(fld.type.enum)}" if fld.type.enum else ""
            self.error(doc, loc_tuple(loc), "value_type", f"{name} takes {fld.type.words()}{allowed}", pointer)
            return None
        if isinstance(raw, str) and fld.type.kind == t.TIMESTAMP and _LOOKS_LIKE_TIME.match(raw):
            self.error(
                doc,
                loc_tuple(loc),
                "value_type",
                f"{name} takes an expression giving a timestamp, e.g. add_days(claim.merchant_received_at, 7); "
                "a fixed instant belongs in parameters.yaml with type: timestamp",
                pointer,
            )
            return None
        if not isinstance(raw, str):
            return ValueExpr(literal=raw, location=loc)
        try:
            compiled = compile_expression(raw, env, item=item)
        except ExpressionProblem as exc:
            if fld.type.enum and exc.code == "unknown_name":
                hint = did_you_mean(raw, fld.type.enum)
                self.error(
                    doc,
                    loc_tuple(loc),
                    "enum_value",
                    f"'{raw}' is not a value of {name}"
                    + (f" (did you mean '{hint}'?)" if hint else "")
                    + f"; allowed: {', '.join(fld.type.enum)}",
                    pointer,
                )
            else:
                self.expression_error(doc, pointer, exc)
            return None
        if compiled.type.kind != fld.type.kind:
            self.error(
                doc,
                loc_tuple(loc),
                "value_type",
                f"{name} takes {fld.type.words()}, but this expression gives {compiled.type.words()}",
                pointer,
            )
            return None
        return ValueExpr(compiled=compiled, location=loc)

    def money_value(
        self, doc: Document, pointer: str, raw: Any, env: Environment, globals_: dict[str, Any], item: bool, rule_id: str
    ) -> ValueExpr | None:
        loc = Location(doc.name, *doc.locate(pointer))
        if not isinstance(raw, str):
            return ValueExpr(literal=raw, location=loc)
        try:
            compiled = compile_expression(raw, env, item=item, expect=t.NUMBER)
        except ExpressionProblem as exc:
            self.expression_error(doc, pointer, exc)
            return None
        return ValueExpr(compiled=compiled, location=loc)

    def template(
        self, doc: Document, pointer: str, text: str, env: Environment, globals_: dict[str, Any], item: bool, rule_id: str
    ) -> list[Any]:
        parts: list[Any] = []
        try:
            pieces = split(text)
        except ExpressionProblem as exc:
            self.expression_error(doc, pointer, exc)
            return parts
        for piece, offset, is_expr in pieces:
            if not is_expr:
                parts.append(piece)
                continue
            try:
                compiled = compile_expression(piece, env, item=item)
            except ExpressionProblem as exc:
                self.expression_error(doc, pointer, exc, base=offset)
                continue
            parts.append(Placeholder(compiled, offset))
        return parts

    def check_versions(self, rules: list[Rule]) -> list[Rule]:
        """The rules, each numbered among the versions of its id (versions whose windows overlap are an error)."""
        numbered: dict[int, Rule] = {}
        by_id: dict[str, list[Rule]] = {}
        for rule in rules:
            by_id.setdefault(rule.id, []).append(rule)
        for rule_id, versions in by_id.items():
            if len(versions) == 1:
                continue
            ordered = sorted(versions, key=lambda r: r.effective_from or dt.datetime.min.replace(tzinfo=dt.UTC))
            for earlier, later in itertools.pairwise(ordered):
                if earlier.effective_until is None or later.effective_from is None or earlier.effective_until > later.effective_from:
                    loc = later.location
                    self.diagnostics.append(
                        Diagnostic(
                            loc.file,
                            loc.line,
                            loc.column,
                            "duplicate_rule",
                            f"rule id '{rule_id}' is also used at {earlier.location}; "
                            "versions of one rule need 'effective' windows that do not overlap",
                        )
                    )
            for number, rule in enumerate(ordered, 1):
                numbered[id(rule)] = dataclasses.replace(rule, version=number, versions=len(ordered))
        return [numbered.get(id(rule), rule) for rule in rules]

    def digest(self, files: list[Path]) -> str:
        h = hashlib.sha256()
        for path in files:
            h.update(path.relative_to(self.root).as_posix().encode() + b"\0")
            h.update(self.contents[path] + b"\0")
        if self.overrides:
            h.update(json.dumps(self.overrides, sort_keys=True, default=str).encode())
        return "sha256:" + h.hexdigest()


_LOOKS_LIKE_TIME = re.compile(r"^\s*\d{4}-\d{2}-\d{2}")


def _undeclared(source_id: str, sources: dict[str, Source]) -> str:
    hint = nearest_id(source_id, sources)
    if hint:
        return (
            f"引用了未声明的来源 {source_id}（是否应为 {hint}？）/ "
            f"cites source {source_id}, which the policy does not declare (did you mean {hint}?)"
        )
    if not sources:
        return f"引用了来源 {source_id}，但 sources: 中没有任何来源 / cites source {source_id}, but 'sources:' declares none: add it there"
    return (
        f"引用了未声明的来源 {source_id} / cites source {source_id}, which the policy does not declare; "
        f"declared: {', '.join(sorted(sources))}; add it under 'sources:'"
    )

SCHEMA_PROBLEMS_SHOWN = 50
"""Schema errors reported per file; past that many, nothing in the file is trusted (it is not compiled)."""

MAX_RULES_PER_FILE = 2000
"""Mirrors ``maxItems`` of ``rules`` in rule.schema.json."""


def _read_policy_file(data: bytes, name: str, limits: Limits) -> tuple[Document | None, tuple[Problem, ...], tuple[SchemaProblem, ...]]:
    """Parse and schema-check one file; reloading a policy re-reads only the files that changed."""
    doc, problems, schema_problems = _parse_policy_file(data, limits)
    return (dataclasses.replace(doc, name=name) if doc is not None else None), problems, schema_problems


@functools.lru_cache(maxsize=512)
def _parse_policy_file(data: bytes, limits: Limits) -> tuple[Document | None, tuple[Problem, ...], tuple[SchemaProblem, ...]]:
    """Cached by the file's exact bytes. The Document is shared: nothing downstream modifies it."""
    doc: Document | None
    try:
        doc = read_yaml(data, "", limits)
        problems: tuple[Problem, ...] = ()
    except DocumentError as exc:
        doc, problems = exc.document, tuple(exc.problems)
    if doc is None or not isinstance(doc.data, dict):
        return doc, problems, ()
    file_schema = validator("rule.schema.json")
    rules = doc.data.get("rules")
    if isinstance(rules, list) and len(rules) > MAX_RULES_PER_FILE:
        # Refused before jsonschema, which would otherwise walk every one of them to explain.
        line, col = doc.locate("/rules", key=True)
        too_many = Problem(
            line, col, "too_large", f"{len(rules)} rules in one file; at most {MAX_RULES_PER_FILE}: split the file", "/rules"
        )
        return None, (*problems, too_many), ()
    if file_schema.is_valid(doc.data):
        return doc, problems, ()
    return doc, problems, tuple(file_schema.problems(doc.data, limit=SCHEMA_PROBLEMS_SHOWN))


def _get_pointer(data: Any, pointer: str) -> Any:
    for key in pointer.strip("/").split("/"):
        data = data[int(key)] if isinstance(data, list) else data[key.replace("~1", "/").replace("~0", "~")]
    return data


def loc_tuple(loc: Location) -> tuple[int, int]:
    return (loc.line, loc.column)
