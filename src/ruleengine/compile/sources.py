"""Citations of the sources a policy declares: ``[ID locator]`` inside its texts.

``[L2 Art 6]`` cites article 6 of source ``L2``, ``[T8]`` the whole of ``T8``, ``[SPEC §4.3]`` a
section of the project's specification. An id is capital letters and digits starting with a letter,
like the keys of ``sources:``; other bracketed text (``[phone]``, ``[1, 2]``) is not a citation.
Citations are read from the texts that say where a thing comes from: a rule's ``source`` and
``description``, a parameter's ``source`` and ``description``, a definition's ``description``
and the manifest's ``description``. The loader checks them once; lint and the catalogue reuse them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from ..documents import pointer_join

SOURCE_ID = re.compile(r"^[A-Z][A-Z0-9]{0,15}$")
"""Mirrors the ``propertyNames`` pattern of ``sources`` in rule.schema.json."""

_BRACKETED = re.compile(r"\[([A-Za-z][A-Za-z0-9]{0,15})(?:[ \t]+([^\[\]\n]*?))?[ \t]*\]")

SECTION = re.compile(r"§\s*(\d+(?:\.\d+)*)")
"""A section number in a locator: ``§4.3``."""

KIND_WORDS = {
    "law": "法律 law",
    "regulation": "法规 regulation",
    "platform_rule": "平台规则 platform rule",
    "platform_page": "平台说明 platform page",
    "report": "报道 report",
    "project": "项目文档 project document",
}


def find_citations(text: str) -> list[tuple[str, str, int]]:
    """``(id, locator, offset of its '[')`` for every bracketed reference that may be a citation, in order.

    The id keeps its case: the loader refuses ``[spec §4.3]`` when ``SPEC`` is declared, and ignores
    bracketed words (``[phone]``) that are neither citations nor a miscased declared id.
    """
    return [(m.group(1), (m.group(2) or "").strip(), m.start()) for m in _BRACKETED.finditer(text)]


def nearest_id(word: str, ids: Iterable[str]) -> str | None:
    """The one declared id a mistyped id most likely meant: one letter off or two swapped (``DCO`` → ``DOC``).

    Ids are short, so a ratio-based did-you-mean misses most typos; an id that is one edit from several
    declared ids (``T9`` among ``T1``…``T8``) gets no suggestion.
    """
    close = sorted(i for i in ids if _edits(word.upper(), i) <= 1)
    return close[0] if len(close) == 1 else None


def _edits(a: str, b: str) -> int:
    """Optimal-string-alignment distance: insertions, deletions, substitutions and adjacent swaps."""
    d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


def cited_ids(*texts: str) -> list[str]:
    """The ids cited in ``texts``, each once, in order of first citation."""
    seen: dict[str, None] = {}
    for text in texts:
        for source, _, _ in find_citations(text):
            if SOURCE_ID.match(source):
                seen.setdefault(source, None)
    return list(seen)


def citing_texts(data: Any) -> Iterator[tuple[str, str, str]]:
    """``(JSON pointer, text, cited by)`` for every text of a policy file that may cite a source."""
    if not isinstance(data, dict):
        return
    manifest = data.get("policy")
    if isinstance(manifest, dict) and isinstance(manifest.get("description"), str):
        yield "/policy/description", manifest["description"], "policy"
    for section, kind, keys in (("parameters", "parameter", ("source", "description")), ("definitions", "definition", ("description",))):
        entries = data.get(section)
        if not isinstance(entries, dict):
            continue
        for name, spec in entries.items():
            if not isinstance(spec, dict):
                continue
            for key in keys:
                if isinstance(spec.get(key), str):
                    yield pointer_join(f"/{section}", str(name)) + "/" + key, spec[key], f"{kind} {name}"
    for section in ("rules", "tables"):  # a table cites for every row: "rule TABLE"
        rules = data.get(section)
        if not isinstance(rules, list):
            continue
        for index, spec in enumerate(rules):
            if not isinstance(spec, dict):
                continue
            for key in ("source", "description"):
                if isinstance(spec.get(key), str):
                    yield f"/{section}/{index}/{key}", spec[key], f"rule {spec.get('id', index)}"
