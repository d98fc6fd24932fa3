"""Where the bundled default policy and the JSON Schemas live.

In an installed wheel they are package data under ``ruleengine/_bundled``;
in a source checkout they are the repository's own ``rules/``, ``schemas/`` and
``examples/orders/`` (the example orders the service's playground offers).
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def _root() -> Path:
    packaged = _HERE / "_bundled"
    if (packaged / "schemas").is_dir():
        return packaged
    return _HERE.parent.parent


def default_rules_dir() -> Path:
    return _root() / "rules"


def schemas_dir() -> Path:
    return _root() / "schemas"


def bundled_path(relative: str) -> Path:
    """A bundled folder by its path in the repository (``examples/orders``)."""
    return _root() / relative
