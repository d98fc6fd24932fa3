"""Stage 2: what the rules refer to — the manifest, parameters, sources and their citations, definitions."""

from __future__ import annotations

import ast
import functools
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..documents import Document, pointer_join
from ..errors import PolicyError
from ..lang import types as t
from ..lang.check import compile_definition
from ..lang.functions import SIGNATURES
from ..lang.ir import Definition, Environment, ExpressionProblem, walk
from ..lang.parse import parse
from ..model.parameters import Declaration
from ..model.rules import Citation, Location, Parameter, Source
from ..schemas import NO_ENUMS, Enums, did_you_mean, policy_schema
from .compilation import Compilation
from .parameters import UNITS, ParameterProblem, checked_value, declaration, expression_type
from .policyfolder import display_path as _display
from .sources import SOURCE_ID, citing_texts, find_citations, nearest_id


def read_manifest(c: Compilation) -> dict[str, Any]:
    found = list(c.sections("policy"))
    found = [(doc, m) for doc, m in found if not c.broken(doc, "/policy")]
    if not found:
        if not c.diagnostics:
            c.error(
                _display(c.root), (1, 1), "no_manifest", "no file has the 'policy:' manifest (name, version, timezone, stages)"
            )
        raise PolicyError(c.diagnostics)
    for doc, _ in found[1:]:
        c.error(
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
        c.error(
            doc,
            doc.locate("/policy/timezone"),
            "timezone",
            f"unknown time zone '{manifest['timezone']}' (e.g. Asia/Shanghai)",
            "/policy/timezone",
        )
        manifest = {**manifest, "timezone": "UTC"}
    return dict(manifest)


def read_parameters(c: Compilation) -> dict[str, Parameter]:
    out: dict[str, Parameter] = {}
    declared: dict[str, Declaration] = {}
    enums = dict(c.enums)  # a list parameter holds codes of a vocabulary set (``of: category``)
    for doc, section in c.sections("parameters"):
        for name, spec in section.items():
            pointer = pointer_join("/parameters", name)
            if c.broken(doc, pointer):
                c.broken_names.add(name)
                continue
            where = doc.locate(pointer, key=True)
            if name in out or name in declared:
                first = out[name].location if name in out else "another file"
                c.error(doc, where, "duplicate_parameter", f"parameter '{name}' is already defined at {first}", pointer)
                continue
            try:
                decl = declaration(name, spec, enums)
                declared[name] = decl
                value = checked_value(decl, spec["value"], enums, c.limits.max_collection_items)
                if name in c.overrides:
                    value = _override(c, decl, enums)
            except ParameterProblem as problem:
                at = pointer + "/" + problem.at
                if problem.at != "value" or "value" in spec:
                    c.error(doc, doc.locate(at), problem.code, f"{name}: {problem}", at)
                c.broken_names.add(name)  # reported once here, not at every use
                continue
            except _OverrideRefused:
                c.broken_names.add(name)
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
    for name in c.overrides:
        if name not in declared and name not in c.broken_names:
            hint = did_you_mean(name, declared)
            c.error(
                "<parameters>",
                (1, 1),
                "unknown_parameter",
                f"override of unknown parameter '{name}'" + (f" (did you mean '{hint}'?)" if hint else ""),
            )
    return out


def _override(c: Compilation, decl: Declaration, enums: dict[str, tuple[str, ...]]) -> Any:
    """An override obeys the parameter's declaration, and is reported by its name (it has no place in a file)."""
    try:
        return checked_value(decl, c.overrides[decl.name], enums, c.limits.max_collection_items)
    except ParameterProblem as problem:
        c.error("<parameters>", (1, 1), problem.code, f"override of {decl.name}: {problem}")
        raise _OverrideRefused from None


def read_sources(c: Compilation) -> dict[str, Source]:
    out: dict[str, Source] = {}
    for doc, section in c.sections("sources"):
        for source_id, spec in section.items():
            pointer = pointer_join("/sources", source_id)
            if c.broken(doc, pointer):
                c.broken_sources |= {source_id, source_id.upper()}  # its citations are not blamed
                continue
            where = doc.locate(pointer, key=True)
            if source_id in out:
                first = out[source_id].location
                message = f"来源 {source_id} 重复声明，首次在 {first} / source {source_id} is already declared at {first}"
                c.error(doc, where, "duplicate_source", message, pointer)
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
    for doc in c.docs:
        if any(bad == "/sources" for bad in c.bad.get(doc.name, ())):
            c.broken_sources.add("*")  # a whole section unreadable: any id may be declared there
    return out


def find_policy_citations(c: Compilation, sources: dict[str, Source]) -> tuple[Citation, ...]:
    """Every ``[ID locator]`` in the texts that say where things come from.

    Once a policy has a ``sources:`` section, a citation of an id it does not declare is an error,
    like an unknown parameter. A policy without one has not taken up citations: its bracketed
    text is kept unchecked, and lint warns about it.
    """
    checked = any(isinstance(doc.data, dict) and "sources" in doc.data for doc in c.docs)
    found: list[Citation] = []
    for doc in c.docs:
        for pointer, text, cited_by in citing_texts(doc.data):
            if c.broken(doc, pointer):
                continue
            for source_id, locator, offset in find_citations(text):
                where = doc.locate_in_text(pointer, offset)
                if SOURCE_ID.match(source_id) and (source_id in sources or not checked):
                    found.append(Citation(source_id, locator, cited_by, Location(doc.name, *where)))
                elif SOURCE_ID.match(source_id) and not c.broken_sources & {source_id, "*"}:
                    c.error(doc, where, "unknown_source", _undeclared(source_id, sources), pointer)
                elif source_id.upper() in sources:
                    right = f"[{source_id.upper()}{' ' + locator if locator else ''}]"
                    message = f"来源编号须大写：应为 {right} / source ids are capitals: did you mean {right}?"
                    c.error(doc, where, "unknown_source", message, pointer)
    return tuple(found)


def compile_definitions(c: Compilation, env: Environment) -> None:
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
    for doc, section in c.sections("definitions"):
        for name, spec in section.items():
            pointer = pointer_join("/definitions", name)
            if c.broken(doc, pointer):
                env.broken.add(name)
                continue
            if name in SIGNATURES:
                c.error(
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
                c.error(
                    doc,
                    doc.locate(pointer, key=True),
                    "duplicate_definition",
                    f"definition '{name}' is already defined in {first.file}",
                    pointer,
                )
                continue
            if name in env.facts.fields or name in ("item", "decision", "params", "true", "false"):
                c.error(
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
            tree = parse(d.text, c.limits)
        except ExpressionProblem as exc:
            c.expression_error(docs[name], d.pointer, exc)
            uses[name] = set()
            continue
        uses[name] = {n.id for n in walk(tree) if isinstance(n, ast.Name) and n.id in env.definitions}
    state: dict[str, int] = {}

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = " → ".join((*chain[chain.index(name) :], name))
            d = env.definitions[name]
            c.error(
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
            c.expression_error(docs[name], d.pointer, exc)

    for name in list(env.definitions):
        visit(name, ())


class _OverrideRefused(Exception):
    """An override was refused and reported; the parameter is left out."""


@functools.lru_cache(maxsize=16)
def fact_types(enums: Enums = NO_ENUMS) -> tuple[t.Type, t.Type]:
    """Expression types of the order facts and of the decision: the bundled schemas with the policy's codes."""
    return t.from_schema(policy_schema("order.schema.json", enums)), t.from_schema(policy_schema("decision.schema.json", enums))


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
