"""Shared fixtures: the bundled policy, the tests' own small policy, the example orders, and throw-away policy folders."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker

import ruleengine

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "rules"
EXAMPLES = ROOT / "examples" / "orders"
RETURNS = ROOT / "tests" / "policies" / "returns"
"""A small policy the tests own (7-day returns, fast refund, shipping): engine tests decide orders with it,
so they never depend on the default policy's numbers, which only its cases in rules/cases/ pin."""
ERRORS = ROOT / "tests" / "policies" / "errors"
"""A small policy the error tests own (its 7-day return written as rules): they break it by its exact text,
so an author's rewrite of the default policy never breaks them."""


@pytest.fixture(scope="session")
def policy() -> ruleengine.Policy:
    return ruleengine.load_policy(RULES)


@pytest.fixture(scope="session")
def returns_policy() -> ruleengine.Policy:
    return ruleengine.load_policy(RETURNS)


def load_example(name: str) -> dict[str, Any]:
    """An example order as ``read_facts`` reads it (money as Decimal), ready to modify."""
    data: dict[str, Any] = ruleengine.read_facts(EXAMPLES / name)
    return data


@pytest.fixture
def example() -> Callable[[str], dict[str, Any]]:
    return load_example


def _copier(source: Path, dest: Path) -> Callable[..., Path]:
    """``make(**files)`` copies ``source`` to ``dest`` once and writes ``files`` (``a__b.yaml`` is ``a/b.yaml``)."""

    def make(**files: str) -> Path:
        if not dest.exists():
            shutil.copytree(source, dest)
        for rel, text in files.items():
            target = dest / rel.replace("__", "/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        return dest

    return make


@pytest.fixture
def policy_copy(tmp_path: Path) -> Callable[..., Path]:
    """Copy the bundled policy into tmp_path/rules; ``edit(relpath, old, new)`` or ``write(relpath, text)``.

    Usage: ``root = policy_copy(); (root / "x.yaml").write_text(...)``.
    """
    return _copier(RULES, tmp_path / "rules")


@pytest.fixture
def returns_copy(tmp_path: Path) -> Callable[..., Path]:
    """Like ``policy_copy``, for the tests' own policy (tests/policies/returns): copied to tmp_path/returns."""
    return _copier(RETURNS, tmp_path / "returns")


@pytest.fixture
def errors_copy(tmp_path: Path) -> Callable[..., Path]:
    """Like ``policy_copy``, for the error tests' own policy (tests/policies/errors): copied to tmp_path/rules."""
    return _copier(ERRORS, tmp_path / "rules")


def replace_in(path: Path, old: str, new: str) -> None:
    """Edit one file of a copied policy; fails loudly if ``old`` is not there exactly once."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")


# ---------------------------------------------------------------- shared checks, independent of the engine's own

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
FORMATS = FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    """jsonschema skips date-time without an optional package: check RFC 3339 with an offset here."""
    if not isinstance(value, str):
        return True
    return bool(RFC3339.match(value)) and dt.datetime.fromisoformat(value).tzinfo is not None


def _decision_validator() -> Draft202012Validator:
    from ruleengine.schemas import completed

    with open(ROOT / "schemas" / "decision.schema.json", encoding="utf-8") as handle:
        schema = json.load(handle, parse_float=Decimal)
    Draft202012Validator.check_schema(schema)
    schema = completed(schema, ruleengine.load_policy(RULES).enums)  # the value sets: the default policy's vocabulary
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FORMATS)


DECISION_SCHEMA = _decision_validator()
"""The decision schema with the default policy's codes, checked by jsonschema with a strict date-time format:
what tests hold decisions to."""


def line_col(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column (in characters, as the engine counts them) of ``offset`` in ``text``."""
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def locate(text: str, marker: str) -> tuple[int, int]:
    """Where the one occurrence of ``marker`` starts in ``text``."""
    assert text.count(marker) == 1, f"{marker!r} occurs {text.count(marker)} times"
    return line_col(text, text.index(marker))
