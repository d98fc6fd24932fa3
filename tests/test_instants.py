"""Instants read from text: the value ``fromisoformat`` gives, holding one shared object per offset.

Sharing the offset object is what makes comparing two instants cheap (Python compares field by field only
then); it must never change an instant's value, offset, text or the errors reading it raises.
"""

from __future__ import annotations

import copy
import datetime as dt
import sys
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ruleengine import FactsError, instants, load_policy
from ruleengine.compile.declarations import fact_types
from ruleengine.runtime.conversion import _HappyPath
from ruleengine.runtime.facts import prepare
from ruleengine.schemas import parse_timestamp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples" / "corpus"))
from generate import generate  # noqa: E402

OFFSETS = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1).map(lambda m: dt.timezone(dt.timedelta(minutes=m)))
WALL_TIMES = st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30)).map(lambda d: d.replace(microsecond=0))


def _outcome(read: Any, text: str) -> Any:
    try:
        return read(text)
    except Exception as exc:
        return type(exc)


def _same_instant(a: dt.datetime, b: dt.datetime) -> None:
    assert (a, a.utcoffset(), a.fold, a.isoformat(), a.tzname()) == (b, b.utcoffset(), b.fold, b.isoformat(), b.tzname())
    assert a.replace(tzinfo=None) == b.replace(tzinfo=None)  # the same wall time, not only the same instant


@given(WALL_TIMES, OFFSETS)
def test_an_instant_reads_as_fromisoformat_reads_it_the_first_time_and_every_time_after(wall: dt.datetime, zone: dt.tzinfo) -> None:
    text = wall.replace(tzinfo=zone).isoformat()
    for _ in range(2):  # the first read of an offset keeps its epoch; the second goes through it
        _same_instant(instants.usual(text), dt.datetime.fromisoformat(text))
    if text.endswith("+00:00"):
        assert instants.usual(text).tzinfo is dt.UTC


@given(WALL_TIMES, OFFSETS)
def test_instants_at_one_offset_share_its_object_wherever_they_are_read(wall: dt.datetime, zone: dt.tzinfo) -> None:
    text = wall.replace(tzinfo=zone).isoformat()
    other = (wall + dt.timedelta(days=1, seconds=7)).replace(tzinfo=zone).isoformat() if wall.year < 9999 else text
    read = [instants.usual(text), instants.usual(other), parse_timestamp(text), parse_timestamp(other.replace("T", "t"))]
    assert len({id(value.tzinfo) for value in read}) == 1


DIGITS = st.sampled_from("0123456789０２+-:.Zz T")
HEADS = st.lists(DIGITS, min_size=14, max_size=14).map(
    # the separators in place, as every caller checks them; anything in the places of the digits
    lambda d: "{}{}{}{}-{}{}-{}{}T{}{}:{}{}:{}{}".format(*d)
)


@given(HEADS, st.sampled_from(["+08:00", "-05:30", "Z", "+24:00", "+08:60", "+8:00", "+08:0０"]))
def test_text_that_is_no_instant_raises_what_fromisoformat_raises(head: str, offset: str) -> None:
    for known in ("2026-10-26T22:10:05+08:00", "2026-10-26T22:10:05-05:30"):
        instants.usual(known)  # so that both ways of reading are tried: through an epoch, and the first time
    text = head + offset
    expected, read = _outcome(dt.datetime.fromisoformat, text), _outcome(instants.usual, text)
    if isinstance(expected, dt.datetime):
        _same_instant(read, expected)
    else:
        assert read is expected


@pytest.mark.parametrize(
    "text",
    [
        "2026-10-26T22:10:05.1234Z",  # 25 characters, no offset after the seconds
        "2026-10-26T22:10:05.1+08:00",
        "2026-10-26T22:10:05Z",
        "2026-10-26T22:10:05+00:00",
        "2026-10-26T22:10:05-00:00",
        "20261026T221005.123+08:00",  # what fromisoformat reads and RFC 3339 does not: the callers check the separators
    ],
)
def test_only_offsets_written_plus_minus_hh_mm_get_an_epoch(text: str) -> None:
    _same_instant(instants.usual(text), dt.datetime.fromisoformat(text))
    for offset, epoch in instants.OFFSET_EPOCHS.items():
        assert len(offset) == 6 and offset[0] in "+-" and offset[3] == ":"
        assert epoch.replace(tzinfo=None) == instants.NAIVE_EPOCH and epoch.isoformat().endswith(offset.replace("-00:00", "+00:00"))


def test_a_named_zone_keeps_its_name_and_its_object() -> None:
    named = dt.datetime(2026, 10, 26, tzinfo=dt.timezone(dt.timedelta(hours=8), "CST"))
    zoned = dt.datetime(2026, 10, 26, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert instants.shared(named).tzname() == "CST"
    assert instants.shared(zoned) is zoned


def test_an_orders_instants_and_the_policys_boundaries_share_one_offset_object() -> None:
    """Validated, trusted (the facts converter's own code) and the rules' version boundaries alike."""
    policy = load_policy(ROOT / "rules")
    order = copy.deepcopy(next(o for o in generate(50, seed=3) if "claim" in o and o["paid_at"].endswith("+08:00")))
    for key in ("placed_at", "paid_at", "as_of"):
        order[key] = order[key][:19] + "+08:00"
    order["claim"]["requested_at"] = order["claim"]["requested_at"][:19] + "+08:00"
    eight = dt.timedelta(hours=8)
    boundaries = [r.effective_from for r in policy.rules if r.effective_from is not None and r.effective_from.utcoffset() == eight]
    assert boundaries
    for trusted in (False, True):
        facts = prepare(order, policy, trusted=trusted).facts
        read = [facts["placed_at"], facts["paid_at"], facts["as_of"], facts["claim"]["requested_at"], *boundaries]
        assert len({id(value.tzinfo) for value in read}) == 1
    converted = _HappyPath().function(fact_types()[0])(order)
    assert converted["as_of"].tzinfo is boundaries[0].tzinfo


def _unseen_offset() -> str:
    for minutes in range(1, 24 * 60):
        text = dt.datetime(2026, 1, 1, tzinfo=dt.timezone(dt.timedelta(minutes=minutes))).isoformat()[-6:]
        if text not in instants.OFFSET_EPOCHS:
            return text
    raise AssertionError("every offset seen")  # pragma: no cover


@pytest.mark.parametrize("trusted", [False, True])
def test_an_instant_holding_a_nul_is_refused_and_changes_nothing_for_the_orders_after_it(trusted: bool) -> None:
    """fromisoformat stops reading at a NUL ("…22:Z\\x00:05+08:00" reads as 22:00 UTC): such text is no instant, and
    the first order holding an offset must not teach the process another reading of it."""
    policy = load_policy(ROOT / "rules")
    order = copy.deepcopy(next(o for o in generate(50, seed=3) if "claim" in o))
    offset = _unseen_offset()
    poisoned = copy.deepcopy(order)
    poisoned["placed_at"] = f"2026-10-26T22:Z\x00:05{offset}"
    with pytest.raises(FactsError) as refused:
        policy.evaluate(poisoned, trusted=trusted)
    assert [(p.pointer, p.code) for p in refused.value.problems] == [("/placed_at", "format")]
    text = f"2026-11-08T20:03:45{offset}"
    _same_instant(instants.usual(text), dt.datetime.fromisoformat(text))
    with pytest.raises(ValueError):
        instants.usual(f"2026-10-26T22:Z\x00:05{offset}")  # refused through the offset's epoch too


@pytest.mark.parametrize("offset", ["+ab:cd", "-\u4e00\u4e01:\u4e02\u4e03", "+０８:００"])
def test_only_an_offset_written_in_ascii_digits_gets_an_epoch(offset: str) -> None:
    for text in (f"2026-10-26T22:Z\x00:05{offset}", f"2026-10-26T22:10:05{offset}"):
        with pytest.raises(ValueError):
            instants.usual(text)
    assert offset not in instants.OFFSET_EPOCHS
