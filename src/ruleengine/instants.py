"""Instants read from text hold one shared offset object per offset, which makes comparing them cheap.

Python compares or subtracts two aware datetimes field by field only when they hold the same tzinfo
object; with two objects it first asks each for its UTC offset, about fifteen times the cost (~0.35 µs
against ~0.02 µs). ``datetime.fromisoformat`` makes a new offset object for every instant it reads, so
each of an order's instants, and each of a policy's boundaries, would hold its own, and every rule
comparing two of them would pay. Every instant the engine reads from text comes from here instead: the
same wall time, the same offset, the same text when written; only the offset object is shared.

Code that is written out (the compiled order check, the facts converter) reads the usual shape inline,
as :func:`usual` does: ``OFFSET_EPOCHS.get(text[19:])``, then ``epoch + (fromisoformat(text[:19]) -
NAIVE_EPOCH)``; when the offset has no epoch yet, :func:`usual` itself.
"""

from __future__ import annotations

import datetime as dt
import re

NAIVE_EPOCH = dt.datetime(1970, 1, 1)

USUAL_SEPARATORS = frozenset({"--T::+:", "--T::-:"})
"""The characters at 4, 7, …, 22 of the usual RFC 3339 instant, ``2026-10-26T22:10:05+08:00``."""
USUAL_SEPARATORS_BEFORE_OFFSET = "--T::"
"""The characters at 4, 7, …, 16 of the usual RFC 3339 instant: the date's and the time's separators."""
USUAL_UTC = "--T::Z"
"""The characters at 4, 7, …, 19 of the usual instant in UTC, ``2026-10-26T14:10:05Z``."""

OFFSET_EPOCHS: dict[str, dt.datetime] = {}
"""By the text of an offset (``+08:00``): midnight of 1970-01-01 at that offset, holding its shared object.

Filled by :func:`usual`, only with texts ``±HH:MM`` in ASCII digits that ``fromisoformat`` reads as that offset
alone — a few thousand at most, whatever the orders hold. Every key is six characters: code that finds
``text[19:]`` here knows ``text`` is 25 characters long.
"""

_OFFSET = re.compile(r"[+-][0-9]{2}:[0-9]{2}\Z")

_ZONES: dict[tuple[dt.timedelta | None, str | None], dt.tzinfo] = {}
"""The shared object of each offset (and name, which ``fromisoformat`` never gives) met so far."""


def usual_shape(text: str) -> bool:
    """Whether ``text`` has the usual instant's separators: ``2026-10-26T22:10:05+08:00`` or ``…05Z`` (then :func:`usual` reads it)."""
    return (len(text) == 25 and text[4:23:3] in USUAL_SEPARATORS) or (len(text) == 20 and text[4:20:3] == USUAL_UTC)


def usual(text: str) -> dt.datetime:
    """``2026-10-26T22:10:05+08:00`` or ``…05Z``, whose separators the caller has checked, read.

    What ``fromisoformat`` gives, and raises, holding the shared offset object: the offset's epoch plus the
    wall time read without the offset, or, the first time an offset is met, the whole text read and its
    epoch kept. An instant in UTC needs nothing more: ``fromisoformat`` gives UTC's single object.
    """
    if len(text) == 25:
        epoch = OFFSET_EPOCHS.get(text[19:])
        if epoch is not None:
            try:
                return epoch + (dt.datetime.fromisoformat(text[:19]) - NAIVE_EPOCH)
            except TypeError:  # the wall time read with an offset of its own: no instant of this shape
                raise ValueError(f"not an instant: {text!r}") from None
    if "\x00" in text:  # fromisoformat stops reading at a NUL and would give another instant
        raise ValueError(f"not an instant: {text!r}")
    value = shared(dt.datetime.fromisoformat(text))
    offset = text[19:]
    if len(text) == 25 and _OFFSET.match(offset):  # the epoch from the offset's own text, never from an order's reading
        epoch = shared(dt.datetime.fromisoformat("1970-01-01T00:00:00" + offset))
        if epoch.utcoffset() == value.utcoffset():
            OFFSET_EPOCHS.setdefault(offset, epoch)
    return value


def shared(value: dt.datetime) -> dt.datetime:
    """``value`` holding the shared object of its offset; an instant in a named zone (``ZoneInfo``) as it is."""
    zone = value.tzinfo
    if type(zone) is not dt.timezone or zone is dt.UTC:
        return value
    common = _ZONES.setdefault((zone.utcoffset(None), zone.tzname(None)), zone)
    return value if common is zone else value.replace(tzinfo=common)
