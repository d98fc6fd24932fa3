"""Shared fixtures: the bundled policy, the example orders, and throw-away policy folders."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import ruleengine

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "rules"
EXAMPLES = ROOT / "examples" / "orders"


@pytest.fixture(scope="session")
def policy() -> ruleengine.Policy:
    return ruleengine.load_policy(RULES)


def load_example(name: str) -> dict[str, Any]:
    """An example order as plain data (Decimal numbers), ready to modify."""
    with open(EXAMPLES / name, encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle, parse_float=Decimal)
    return data


@pytest.fixture
def example() -> Callable[[str], dict[str, Any]]:
    return load_example


@pytest.fixture
def policy_copy(tmp_path: Path) -> Callable[..., Path]:
    """Copy the bundled policy into tmp_path/rules; ``edit(relpath, old, new)`` or ``write(relpath, text)``.

    Usage: ``root = policy_copy(); (root / "x.yaml").write_text(...)``.
    """

    def make(**files: str) -> Path:
        root = tmp_path / "rules"
        if not root.exists():
            shutil.copytree(RULES, root)
        for rel, text in files.items():
            target = root / rel.replace("__", "/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        return root

    return make


def replace_in(path: Path, old: str, new: str) -> None:
    """Edit one file of a copied policy; fails loudly if ``old`` is not there exactly once."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")
