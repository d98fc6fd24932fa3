"""The policy's vocabulary: the codes an order, a decision and the rules may use, and the names people read.

Declared in the policy folder (``vocabulary:``), so the names of a guarantee or a claim type, and
the codes the schemas accept, belong to the policy, not to the package.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..schemas import Enums, enums_of
from .rules import Location


@dataclass(frozen=True)
class Term:
    """One code of a set and its names."""

    code: str
    zh: str
    en: str


@dataclass(frozen=True)
class TermSet:
    """A named set of codes (``claim_type``): its title, its terms in the order declared, where it was declared.

    ``subset_of``: the set holds some codes of another set and takes their names from it.
    ``include``: the set holds every code of another set first, then its own.
    """

    name: str
    title_zh: str
    title_en: str
    terms: tuple[Term, ...]
    location: Location | None = None
    subset_of: str = ""
    include: str = ""

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(term.code for term in self.terms)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "title": {"zh": self.title_zh, "en": self.title_en},
            "values": [{"code": term.code, "zh": term.zh, "en": term.en} for term in self.terms],
        }
        if self.subset_of:
            out["subset_of"] = self.subset_of
        if self.include:
            out["include"] = self.include
        if self.location is not None:
            out["location"] = str(self.location)
        return out


@dataclass(frozen=True)
class Vocabulary:
    """Every set of the policy, by name, in the order declared."""

    sets: dict[str, TermSet] = field(default_factory=dict)

    @property
    def enums(self) -> Enums:
        """The codes of every set, as the schemas take them (:func:`ruleengine.schemas.completed`)."""
        return enums_of({name: s.codes for name, s in self.sets.items()})

    def codes(self, set_name: str) -> tuple[str, ...]:
        found = self.sets.get(set_name)
        return found.codes if found is not None else ()

    def term(self, set_name: str, code: str) -> Term | None:
        found = self.sets.get(set_name)
        if found is None:
            return None
        return next((term for term in found.terms if term.code == code), None)

    def zh(self, set_name: str, code: str) -> str:
        """The Chinese name of a code, or the code itself when the set does not name it."""
        term = self.term(set_name, code)
        return term.zh if term is not None else code

    def en(self, set_name: str, code: str) -> str:
        term = self.term(set_name, code)
        return term.en if term is not None else code

    def words(self, set_name: str, code: str) -> str:
        """A code as policy staff read it beside the code: ``批准 approved``; the code alone when unnamed."""
        term = self.term(set_name, code)
        return f"{term.zh} {code}" if term is not None else code

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the service and the catalogue: set name → title, values (code, zh, en) in order."""
        return {name: s.to_dict() for name, s in self.sets.items()}
