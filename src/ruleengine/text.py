"""Text hygiene shared by every reader: strict decoding, refused characters, short messages."""

from __future__ import annotations

import functools
import re
import unicodedata

MAX_QUOTE = 120

# Bidi overrides and isolates (Trojan Source), zero-width characters and the BOM
# inside text: allowed nowhere, because they make a rule read differently from
# what runs.
_FORMAT_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn"}
_ALLOWED_CONTROLS = {"\n", "\t", "\r"}


def shorten(text: str, limit: int = MAX_QUOTE) -> str:
    """Escape control characters and cut long input, so a message never echoes megabytes."""
    if len(text) > limit:
        text = text[:limit] + f"… ({len(text)} characters)"
    return "".join(ch if ch in " \n" or unicodedata.category(ch) not in _FORMAT_CATEGORIES else f"\\u{ord(ch):04x}" for ch in text)


def position(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a character offset."""
    line = text.count("\n", 0, offset) + 1
    start = text.rfind("\n", 0, offset) + 1
    return line, offset - start + 1


def decode_utf8(data: bytes) -> tuple[str | None, int, str]:
    """Decode strict UTF-8 with one optional leading BOM.

    Returns ``(text, offset, message)``; ``text`` is None when the bytes are
    not UTF-8, and then ``offset`` is the character offset of the first bad byte.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8"), 0, ""
    except UnicodeDecodeError as exc:
        good = data[: exc.start].decode("utf-8", errors="replace")
        return None, len(good), f"invalid UTF-8 byte 0x{data[exc.start]:02x}"


_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_UNCOMMON = re.compile("[^\t\n\r\x20-\x7e\u3000-\u303f\u4e00-\u9fff\uff01-\uff60]")


def find_refused_character(text: str) -> tuple[int, str] | None:
    """The first NUL, control, bidi, zero-width or unassigned character, if any."""
    if text.isascii():
        match = _ASCII_CONTROL.search(text)
        if match is None:
            return None
        bad_chars = {match.group()}
    else:
        # Only characters outside printable ASCII and the common CJK blocks (all assigned, none a control or
        # format character) need looking at, one by one.
        index = next((m.start() for m in _UNCOMMON.finditer(text) if _refused(m.group())), -1)
        if index < 0:
            return None
        bad_chars = {text[index]}
    index = min(text.index(ch) for ch in bad_chars)
    ch = text[index]
    name = unicodedata.name(ch, "") or "control character"
    return index, f"character U+{ord(ch):04X} {name} is not allowed"


@functools.lru_cache(maxsize=1 << 16)
def _refused(ch: str) -> bool:
    """Cached: the same few thousand characters (CJK titles, names) come back in every order."""
    if ch in _ALLOWED_CONTROLS:
        return False
    return ord(ch) < 0x20 or unicodedata.category(ch) in _FORMAT_CATEGORIES
