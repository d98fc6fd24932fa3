"""ruleengine: declarative guarantee policies in YAML, checked at load, evaluated over order facts.

>>> import ruleengine
>>> policy = ruleengine.load_policy()            # $RULEENGINE_RULES, else ./rules, else the bundled default
>>> decision = policy.evaluate(order_facts)      # doctest: +SKIP
>>> decision.to_json()                           # doctest: +SKIP
"""

from .compile.loader import load_policy
from .errors import Diagnostic, EvaluationError, FactsError, FactsProblem, PolicyError, RuleEngineError
from .limits import DEFAULT_LIMITS, Limits
from .model.rules import Citation, Source
from .model.vocabulary import Term, TermSet, Vocabulary
from .runtime.decision import Decision
from .runtime.events import ActionApplied, Event, Listener, RuleVisited
from .runtime.facts import read_facts
from .runtime.policy import Policy

__all__ = [
    "DEFAULT_LIMITS",
    "ActionApplied",
    "Citation",
    "Decision",
    "Diagnostic",
    "EvaluationError",
    "Event",
    "FactsError",
    "FactsProblem",
    "Limits",
    "Listener",
    "Policy",
    "PolicyError",
    "RuleEngineError",
    "RuleVisited",
    "Source",
    "Term",
    "TermSet",
    "Vocabulary",
    "load_policy",
    "read_facts",
]

__version__ = "0.1.0"
