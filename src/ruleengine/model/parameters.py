"""What ``parameters.yaml`` declares a parameter to be: its type and bounds (the compiler checks values against it)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

IMPLICIT_BOUNDS: dict[str, tuple[Decimal | None, Decimal | None]] = {
    "days": (Decimal(0), None),
    "hours": (Decimal(0), None),
    "money": (Decimal(0), None),
    "rate": (Decimal(0), Decimal(1)),
}


@dataclass(frozen=True)
class Declaration:
    """What ``parameters.yaml`` says a parameter is, apart from its value."""

    name: str
    kind: str
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    of: str = ""
    """For a list: the named enum its items belong to (``category``), or ``text``."""

    @property
    def bounds(self) -> tuple[Decimal | None, Decimal | None]:
        low, high = IMPLICIT_BOUNDS.get(self.kind, (None, None))
        return (self.minimum if self.minimum is not None else low, self.maximum if self.maximum is not None else high)
