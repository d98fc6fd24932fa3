"""One error family for everything the public API raises.

The shape follows the jsonschema package: an error carries *where* (file,
line, column or a JSON pointer), *what* (a short message) and *which rule of
the format* failed (a stable ``code``), so that a CLI, an HTTP service and a
test can all print or match it without parsing prose.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .text import shorten

__all__ = [
    "Diagnostic",
    "EvaluationError",
    "FactsError",
    "FactsProblem",
    "PolicyError",
    "RuleEngineError",
]


@dataclass(frozen=True, order=True)
class Diagnostic:
    """A problem in a policy file, at a 1-based line and column."""

    file: str
    line: int
    column: int
    code: str
    message: str
    severity: str = "error"
    path: str = ""

    def __str__(self) -> str:
        kind = self.code if self.severity == "error" else f"{self.severity}: {self.code}"
        return f"{self.file}:{self.line}:{self.column}: {kind}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class FactsProblem:
    """A problem in an order document, at a JSON pointer."""

    pointer: str
    message: str
    code: str = "facts"
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = self.pointer or "/"
        if self.line is not None:
            where = f"{where} (line {self.line}, column {self.column})"
        return f"{where}: {self.code}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"pointer": self.pointer, "code": self.code, "message": self.message}
        if self.line is not None:
            out["line"] = self.line
            out["column"] = self.column
        return out


class RuleEngineError(Exception):
    """Base of every error the public API raises on bad input."""

    def to_dict(self) -> dict[str, Any]:  # pragma: no cover - overridden
        return {"error": type(self).__name__, "message": str(self)}


class PolicyError(RuleEngineError):
    """A policy could not be loaded: every problem found, sorted by location."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = sorted(diagnostics, key=lambda d: (d.file, d.line, d.column, d.severity != "error", d.code))
        super().__init__(self._summary())

    def _summary(self) -> str:
        n = sum(1 for d in self.diagnostics if d.severity == "error")
        head = f"{n} error{'s' if n != 1 else ''}"
        return head + ":\n" + "\n".join(str(d) for d in self.diagnostics)

    def to_dict(self) -> dict[str, Any]:
        return {"error": "policy", "diagnostics": [d.to_dict() for d in self.diagnostics]}


class FactsError(RuleEngineError):
    """An order document is unreadable or violates the order schema."""

    def __init__(self, problems: list[FactsProblem], source: str = "") -> None:
        self.problems = problems
        self.source = source
        prefix = f"{source}: " if source else ""
        super().__init__(prefix + "; ".join(str(p) for p in problems))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": "facts", "problems": [p.to_dict() for p in self.problems]}
        if self.source:
            out["source"] = self.source
        return out


@dataclass
class EvaluationError(RuleEngineError):
    """A rule failed while evaluating: the rule and where its expression is."""

    rule: str
    message: str
    file: str = ""
    line: int = 0
    column: int = 0
    code: str = "evaluation"

    def __post_init__(self) -> None:
        self.message = shorten(self.message)
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}: " if self.file else ""
        return f"{where}{self.code}: rule {self.rule}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "error": "evaluation",
            "rule": self.rule,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "code": self.code,
            "message": self.message,
        }
