"""The state of one load: the files read, their documents, the problems found so far.

Every stage (reading, declarations, rule building) reads it and adds to it, so every problem in
every file is collected and reported together; nothing is compiled from an entry the file schema refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..documents import Document
from ..errors import Diagnostic
from ..lang.ir import SUPPRESSED, ExpressionProblem
from ..lang.words import Words
from ..limits import Limits


@dataclass
class Compilation:
    """What one load has found so far: the files, their documents, every problem; each stage reads and adds to it."""

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

    def sections(self, key: str) -> Iterator[tuple[Document, Any]]:
        kinds = {"policy": dict, "parameters": dict, "definitions": dict, "rules": list, "sources": dict}
        for doc in self.docs:
            if isinstance(doc.data, dict) and isinstance(doc.data.get(key), kinds[key]) and not self.broken(doc, "/" + key, exact=True):
                yield doc, doc.data[key]

    def broken(self, doc: Document, pointer: str, exact: bool = False) -> bool:
        """Whether the file schema found an error at ``pointer`` (or, unless ``exact``, inside it)."""
        return any(bad in ("", pointer) or (not exact and bad.startswith(pointer + "/")) for bad in self.bad.get(doc.name, ()))


def without_cascades(c: Compilation) -> list[Diagnostic]:
    """When a file could not be read at all, names it defines look unknown everywhere else: hide those."""
    if not c.unreadable:
        return c.diagnostics
    cascade = {"unknown_parameter", "unknown_function", "unknown_name", "unknown_source"}
    kept = [d for d in c.diagnostics if d.code not in cascade or d.file in c.unreadable]
    hidden = len(c.diagnostics) - len(kept)
    if hidden:
        first = min(d for d in kept if d.file in c.unreadable)
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
