"""Stage 1: the policy's files (a folder, or bytes already loaded) read as YAML documents and checked against the file schema."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from pathlib import Path

from ..documents import Document, DocumentError, Problem, read_yaml
from ..errors import Diagnostic, PolicyError
from ..limits import Limits
from ..schemas import SchemaProblem, validator
from .compilation import Compilation
from .policyfolder import display_path as _display
from .policyfolder import policy_files

SCHEMA_PROBLEMS_SHOWN = 50
"""Schema errors reported per file; past that many, nothing in the file is trusted (it is not compiled)."""

MAX_RULES_PER_FILE = 2000
"""Mirrors ``maxItems`` of ``rules`` in rule.schema.json."""


def read_files(c: Compilation) -> list[Path]:
    if c.sources is not None:
        files = [c.root / rel for rel in c.sources]
        for path, data in zip(files, c.sources.values(), strict=True):
            c.contents[path] = data
        read_documents(c, files)
        return files
    if not c.root.is_dir():
        what = "is not a folder" if c.root.exists() else "does not exist"
        raise PolicyError([Diagnostic(_display(c.root), 1, 1, "not_found", f"policy folder {what}")])
    files = policy_files(c.root)
    if not files:
        raise PolicyError([Diagnostic(_display(c.root), 1, 1, "empty_policy", "no rule files (*.yaml) in the policy folder")])
    if len(files) > c.limits.max_policy_files:
        raise PolicyError([Diagnostic(_display(c.root), 1, 1, "too_large", f"more than {c.limits.max_policy_files} files")])
    for path in files:
        name = _display(path)
        try:
            size = path.stat().st_size
            if size > c.limits.max_file_bytes:
                c.error(name, (1, 1), "too_large", f"file too large: {size} bytes > limit {c.limits.max_file_bytes}")
                continue
            c.contents[path] = path.read_bytes()
        except OSError as exc:
            c.error(name, (1, 1), "unreadable", exc.strerror or "cannot read the file")
    read_documents(c, [f for f in files if f in c.contents])
    return files


def read_documents(c: Compilation, files: list[Path]) -> None:
    for path in files:
        name = _display(path)
        doc, problems, schema_problems = _read_policy_file(c.contents[path], name, c.limits)
        for p in problems:
            c.error(name, (p.line, p.column), p.code, p.message, p.pointer)
        if doc is None:
            if problems:
                c.unreadable.append(name)
            continue
        c.docs.append(doc)
        if problems:
            # Keep what was readable, so one duplicate key does not make every name in the file unknown.
            c.bad[doc.name] = [p.pointer for p in problems] + [sp.pointer for sp in schema_problems]
            continue
        if not isinstance(doc.data, dict):
            c.error(doc, (1, 1), "schema", "a policy file is a mapping with policy, parameters, definitions and/or rules")
            continue
        for sp in schema_problems:
            where = doc.locate(sp.pointer, key=sp.keyword in ("additionalProperties", "propertyNames"))
            c.error(doc, where, "schema", sp.message, sp.pointer)
        c.bad[doc.name] = [sp.pointer for sp in schema_problems]
        if len(schema_problems) >= SCHEMA_PROBLEMS_SHOWN:
            # Errors past the first ones are not known, so no entry of this file can be trusted.
            c.bad[doc.name].append("")
            c.unreadable.append(doc.name)
            c.diagnostics.append(
                Diagnostic(doc.name, 1, 1, "more_errors", f"only the first {SCHEMA_PROBLEMS_SHOWN} schema errors are shown", "info")
            )


def policy_digest(c: Compilation, files: list[Path]) -> str:
    h = hashlib.sha256()
    for path in files:
        h.update(path.relative_to(c.root).as_posix().encode() + b"\0")
        h.update(c.contents[path] + b"\0")
    if c.overrides:
        h.update(json.dumps(c.overrides, sort_keys=True, default=str).encode())
    return "sha256:" + h.hexdigest()


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
    tables = doc.data.get("tables")
    rows = sum(len(t["rows"]) for t in tables if isinstance(t, dict) and isinstance(t.get("rows"), list)) if isinstance(tables, list) else 0
    count = (len(rules) if isinstance(rules, list) else 0) + rows  # a table's row is a rule
    if count > MAX_RULES_PER_FILE:
        # Refused before jsonschema, which would otherwise walk every one of them to explain.
        where = "/tables" if rows and not (isinstance(rules, list) and len(rules) > MAX_RULES_PER_FILE) else "/rules"
        line, col = doc.locate(where, key=True)
        counted = f"{count} rules{' (table rows included)' if rows else ''} in one file"
        too_many = Problem(line, col, "too_large", f"{counted}; at most {MAX_RULES_PER_FILE}: split the file", where)
        return None, (*problems, too_many), ()
    if file_schema.is_valid(doc.data):
        return doc, problems, ()
    return doc, problems, tuple(file_schema.problems(doc.data, limit=SCHEMA_PROBLEMS_SHOWN))
