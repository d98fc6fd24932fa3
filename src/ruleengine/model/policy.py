"""A loaded policy: immutable, checked, compiled; ``evaluate`` may be called from many threads."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from ..compile.parameters import Declaration
from ..errors import EvaluationError, RuleEngineError
from ..lang import types as t
from ..lang.ir import Compiled, Definition, Environment
from ..lang.templates import Part
from ..lang.words import Words
from ..limits import DEFAULT_LIMITS, Limits
from ..runtime.decision import Decision
from ..runtime.evaluation import evaluate
from ..runtime.facts import prepare
from .conditions import Condition

if TYPE_CHECKING:
    from ..runtime.events import Listener
    from ..runtime.program import CompiledPolicy


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


@dataclass(eq=False)
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

    @property
    def sort_key(self) -> tuple[int, int, int]:
        return (self.stage_index, -self.priority, self.order)

    def in_effect(self, instant: dt.datetime) -> bool:
        if self.effective_from is not None and instant < self.effective_from:
            return False
        return self.effective_until is None or instant < self.effective_until


@dataclass(eq=False, init=False)
class Policy:
    """A checked, compiled policy: get one from :func:`ruleengine.load_policy`, then

    - ``policy.evaluate(facts)`` decides one order: a :class:`~ruleengine.Decision`
      (``explain=True`` adds the trace, ``listener=`` receives the evaluation events);
    - ``policy.with_parameters({"seven_day_window_days": 15})`` is a what-if: a new Policy;
    - ``policy.compile_all()`` builds the fast path for every kind of order now;
    - ``policy.rule_ids()`` lists the rules' ids in evaluation order.

    What it holds: ``name``, ``version`` and ``digest`` (stamped on every decision),
    ``parameters`` (name → :class:`Parameter`: value, unit, description), ``rules``,
    ``root`` (the folder it was loaded from) and ``files``. A Policy does not change
    once loaded, and ``evaluate`` is safe to call from many threads.
    """

    name: str
    version: str
    digest: str
    timezone: str
    stages: tuple[str, ...]
    rules: tuple[Rule, ...]
    parameters: dict[str, Parameter]
    definitions: dict[str, Definition]
    root: Path
    files: tuple[str, ...]
    environment: Environment = field(repr=False)
    convert_facts: Callable[[Any, str], Any] = field(repr=False)
    limits: Limits = DEFAULT_LIMITS
    loaded_at: str = ""
    contents: dict[str, bytes] = field(default_factory=dict, repr=False)
    """The bytes of every file, by path relative to ``root``: what was loaded, whatever the folder holds now."""
    overrides: dict[str, Any] = field(default_factory=dict, repr=False)
    """Parameter values given at load instead of the files' (a what-if), as given: with ``contents``, all it takes to rebuild it."""
    sources: dict[str, Source] = field(default_factory=dict)
    """The sources the policy declares (``sources:``), by id."""
    citations: tuple[Citation, ...] = field(default=(), repr=False)
    """Every citation of a source in the policy's texts, in file order (unchecked when the policy declares no sources)."""

    @classmethod
    def _build(cls, **values: Any) -> Policy:
        """The loader's constructor; users load a policy with :func:`ruleengine.load_policy`."""
        names = {f.name: f for f in dataclasses.fields(cls)}
        unknown = values.keys() - names.keys()
        if unknown:
            raise TypeError(f"unknown Policy fields: {', '.join(sorted(unknown))}")
        policy = cls.__new__(cls)
        for name, spec in names.items():
            if name in values:
                value = values[name]
            elif spec.default is not dataclasses.MISSING:
                value = spec.default
            elif spec.default_factory is not dataclasses.MISSING:
                value = spec.default_factory()
            else:
                raise TypeError(f"missing Policy field: {name}")
            setattr(policy, name, value)
        return policy

    @property
    def zone(self) -> ZoneInfo:
        """The policy's time zone: days and dates are counted in it."""
        return ZoneInfo(self.timezone)

    @functools.cached_property
    def compiled(self) -> CompiledPolicy:
        """The fast path (``fastpath``): built on first use, so loading to check or lint compiles nothing."""
        from ..runtime.program import CompiledPolicy

        return CompiledPolicy(self)

    def compile_all(self) -> Policy:
        """Build the fast path for every kind of order now, not at the first order of each kind.

        A service calls this before it serves a newly loaded policy, so that no request pays
        for the build (~0.1 s for the default policy). Returns the policy.
        """
        self.compiled.build_all()
        return self

    def rule_ids(self) -> list[str]:
        """The rules' ids in evaluation order (a rule with several versions once)."""
        seen: dict[str, None] = {}
        for rule in self.rules:
            seen.setdefault(rule.id, None)
        return list(seen)

    def with_parameters(self, parameters: dict[str, Any]) -> Policy:
        """This policy with some parameter values changed (a what-if); this one is not modified.

        Raises :class:`PolicyError` when a name is unknown or a value has the wrong type.
        """
        from ..compile.loader import with_parameters

        return with_parameters(self, parameters)

    def evaluate(
        self,
        facts: Any,
        *,
        explain: bool = False,
        listener: Listener | None = None,
        trusted: bool = False,
    ) -> Decision:
        """Decide one order.

        ``facts`` is JSON or YAML text or bytes, or a mapping with ``Decimal``
        numbers such as :func:`ruleengine.read_facts` returns (a ``float`` is refused:
        it cannot hold 19.99). It is validated against the order schema unless
        ``trusted``. ``explain`` adds the trace; ``listener`` receives every
        evaluation event (coverage, logs). Raises FactsError or EvaluationError.
        """
        try:
            prepared = prepare(facts, self, trusted=trusted)
            if not explain and listener is None:
                return Decision(self.compiled.decide(prepared))
            return evaluate(self, prepared, explain=explain, listener=listener)
        except RuleEngineError:
            raise
        except Exception as exc:  # nothing outside the error family leaves the API
            hint = " (trusted facts skip validation: do they match the order schema?)" if trusted else ""
            raise EvaluationError("", f"{type(exc).__name__}: {exc}{hint}", code="internal") from exc
