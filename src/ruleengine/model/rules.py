"""The parts of a policy as the compiler builds them: rules, their actions, parameters, sources, citations."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from ..lang import types as t
from ..lang.ir import Compiled
from ..lang.templates import Part
from ..lang.unary import Region
from ..lang.words import Words
from .conditions import Condition
from .parameters import Declaration


@dataclass(frozen=True)
class Location:
    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Parameter:
    name: str
    value: Any
    type: t.Type
    description: str
    source: str
    unit: str
    location: Location
    declaration: Declaration


@dataclass(frozen=True)
class Source:
    """A law, platform rule, report or project document the policy cites (``sources:``), as declared."""

    id: str
    kind: str
    title_zh: str
    title_en: str
    issuer_zh: str
    issuer_en: str
    date: str
    """The version the rules follow (YYYY, YYYY-MM or YYYY-MM-DD); empty when not recorded."""
    url: str
    document: str
    """A document of the project, by its path from the folder that holds the policy folder."""
    note_zh: str
    note_en: str
    location: Location

    def to_dict(self) -> dict[str, Any]:
        """As declared in ``sources:`` (empty fields left out), plus the id."""
        out: dict[str, Any] = {"id": self.id, "kind": self.kind, "title": {"zh": self.title_zh, "en": self.title_en}}
        out["issuer"] = {"zh": self.issuer_zh, "en": self.issuer_en}
        out.update((k, v) for k, v in (("date", self.date), ("url", self.url), ("document", self.document)) if v)
        if self.note_zh:
            out["note"] = {"zh": self.note_zh, "en": self.note_en}
        return out


@dataclass(frozen=True)
class Citation:
    """One ``[ID locator]`` in a rule's, parameter's or definition's text, where it was written."""

    source: str
    locator: str
    """What is cited inside the source: ``Art 6``, ``§4.3``; empty for the whole source."""
    cited_by: str
    """``rule ID``, ``parameter NAME``, ``definition NAME`` or ``policy``."""
    location: Location


@dataclass(eq=False)
class ValueExpr:
    """An action's value: a literal or a compiled expression."""

    literal: Any = None
    compiled: Compiled | None = None
    location: Location | None = None


@dataclass(eq=False)
class Action:
    kind: str
    """add_service | set | compensation | violation | deduction | reason | stop"""
    location: Location
    target: str = ""
    """The service, decision field, compensation/violation/deduction type."""
    value: ValueExpr | None = None
    form: str = ""
    payer: str = ""
    message: tuple[list[Part], list[Part]] | None = None
    """(zh parts, en parts) of a reason."""


@dataclass(frozen=True, eq=False)
class TableInput:
    """An input column of a decision table: its name, its label (Chinese first) and its expression."""

    name: str
    label: str
    expr: str
    type: t.Type
    whole: bool
    """Its values are whole numbers (a count, days or hours between instants): the analysis skips the gaps between them."""
    domain: tuple[str, ...] | None = None
    """The values the table's own ``when`` leaves it (``claim.type`` under ``no_reason_claim``): the analysis looks at those only."""


@dataclass(frozen=True, eq=False)
class TableRow:
    """One row as written: its rule id, its cells (as written and as the analysis reads them) and its outputs."""

    number: int
    rule_id: str
    cells: tuple[str, ...]
    regions: tuple[Region, ...]
    outputs: tuple[str, ...]
    location: Location
    extra: tuple[int, int] = (0, 0)
    """Where its further ``actions`` are in its rule's ``then`` (start, end): after the outputs' actions."""
    window: tuple[dt.datetime | None, dt.datetime | None] = (None, None)
    """When it is in effect (from, until): a row may be a version of its rule, as a rule may."""


@dataclass(frozen=True, eq=False)
class Table:
    """A decision table (``tables:``): its columns, hit policy and rows; each row is also a :class:`Rule`."""

    id: str
    title_zh: str
    title_en: str
    hit: str
    """first (the first matching row, in order, decides) | unique (at most one row may match) | collect (every match applies)"""
    complete: bool
    guard: str
    """The table's own condition (``when:``), every row's first; empty when it has none."""
    inputs: tuple[TableInput, ...]
    outputs: tuple[str, ...]
    """Output column names: decision fields (``claim.outcome``) and ``reason``."""
    rows: tuple[TableRow, ...]
    location: Location


@dataclass(frozen=True, eq=False)
class Rule:
    """One version of a rule, ready to run."""

    id: str
    title_zh: str
    title_en: str
    description: str
    source: str
    guarantee: str
    stage: str
    stage_index: int
    priority: int
    scope: str
    group: str
    effective_from: dt.datetime | None
    effective_until: dt.datetime | None
    effective_on: str
    when: Condition
    then: list[Action]
    otherwise: list[Action]
    location: Location
    order: int
    version: int = 0
    versions: int = 1
    words: tuple[Words, ...] = ()
    """Its titles, description, labels and reasons as written (lint reads them)."""
    claim_types: frozenset[str] | None = None
    """Claim types the condition requires (None: any). The fast path leaves the rule out for other types."""
    table: Table | None = None
    """The decision table this rule is a row of (None: a rule written as a rule)."""
    row: int = 0
    """Its row number in the table, from 1."""

    @property
    def sort_key(self) -> tuple[int, int, int]:
        return (self.stage_index, -self.priority, self.order)

    def in_effect(self, instant: dt.datetime) -> bool:
        if self.effective_from is not None and instant < self.effective_from:
            return False
        return self.effective_until is None or instant < self.effective_until


