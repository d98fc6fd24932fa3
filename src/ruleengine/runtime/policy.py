"""A checked, compiled policy, and the one way to decide an order with it."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from ..errors import EvaluationError, RuleEngineError
from ..lang.ir import Definition, Environment
from ..limits import DEFAULT_LIMITS, Limits
from ..model.rules import Citation, Parameter, Rule, Source
from ..model.vocabulary import Vocabulary
from ..schemas import NO_ENUMS, Enums, Validator, validator
from .decision import Decision
from .evaluation import evaluate
from .facts import prepare

if TYPE_CHECKING:
    from .conversion import FactsConverter
    from .events import Listener
    from .program import CompiledPolicy


@dataclass(frozen=True, eq=False, init=False)
class Policy:
    """A checked, compiled policy: get one from :func:`ruleengine.load_policy`, then

    - ``policy.evaluate(facts)`` decides one order: a :class:`~ruleengine.Decision`
      (``explain=True`` adds the trace, ``listener=`` receives the evaluation events);
    - ``policy.with_parameters({"seven_day_window_days": 15})`` is a what-if: a new Policy;
    - ``policy.compile_all()`` builds the fast path for every kind of order now;
    - ``policy.rule_ids()`` lists the rules' ids in evaluation order.

    What it holds: ``name``, ``version`` and ``digest`` (stamped on every decision),
    ``parameters`` (name → :class:`Parameter`: value, unit, description), ``rules``,
    ``root`` (the folder it was loaded from), ``files`` and ``vocabulary`` (the codes
    orders and decisions may use, with their names). A Policy does not change
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
    convert_facts: FactsConverter = field(repr=False)
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
    vocabulary: Vocabulary = field(default_factory=Vocabulary, repr=False)
    """The policy's vocabulary: the codes of services, claim types, categories … and the names people read."""
    enums: Enums = NO_ENUMS
    """The vocabulary's codes as the schemas take them: ``validator(name, policy.enums)`` checks this policy's documents."""
    rebuild: Callable[[Policy, dict[str, Any]], Policy] | None = field(default=None, repr=False, compare=False)
    """The compiler that built it, given the overrides of a what-if (the runtime does not import the compiler)."""

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
            object.__setattr__(policy, name, value)
        return policy

    @property
    def zone(self) -> ZoneInfo:
        """The policy's time zone: days and dates are counted in it."""
        return ZoneInfo(self.timezone)

    @functools.cached_property
    def order_validator(self) -> Validator:
        """The order schema with this policy's codes: what ``evaluate`` checks an order against."""
        return validator("order.schema.json", self.enums)

    @functools.cached_property
    def compiled(self) -> CompiledPolicy:
        """The generated program (``runtime.program``): built on first use, so loading to check or lint compiles nothing."""
        from .program import CompiledPolicy

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
        if self.rebuild is None:
            raise TypeError("this policy was not built by the loader: it cannot be rebuilt with other parameters")
        return self.rebuild(self, parameters)

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
                return self.compiled.decide(prepared)
            return evaluate(self, prepared, explain=explain, listener=listener)
        except RuleEngineError:
            raise
        except Exception as exc:  # nothing outside the error family leaves the API
            hint = " (trusted facts skip validation: do they match the order schema?)" if trusted else ""
            raise EvaluationError("", f"{type(exc).__name__}: {exc}{hint}", code="internal") from exc
