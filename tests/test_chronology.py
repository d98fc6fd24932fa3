"""Facts that cannot happen are facts errors: instants recorded in an impossible order.

Checked before any rule runs, so every path (the fast one, the explaining one, trusted facts) refuses the
same orders at the same pointer. Which policy decides does not matter here: no rule is reached.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest
from conftest import load_example
from hypothesis import given, settings
from hypothesis import strategies as st

import ruleengine

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
T0 = dt.datetime(2026, 10, 1, 9, 0, tzinfo=SHANGHAI)

# Every instant the checks read, in an order that can happen (offsets from T0, in hours).
TIMELINE = {
    "/placed_at": 0,
    "/paid_at": 1,
    "/logistics/shipped_at": 24,
    "/logistics/signed_at": 72,
    "/claim/confirmed_receipt_at": 73,
    "/claim/requested_at": 96,
    "/claim/return_tracking_uploaded_at": 98,
    "/claim/merchant_received_at": 144,
    "/as_of": 168,
}

# What the order schema documents, pair by pair: (earlier, later).
MUST_PRECEDE = [
    ("/placed_at", "/paid_at"),
    ("/paid_at", "/as_of"),
    ("/paid_at", "/logistics/shipped_at"),
    ("/logistics/shipped_at", "/logistics/signed_at"),
    ("/paid_at", "/claim/requested_at"),
    ("/claim/requested_at", "/as_of"),
    ("/logistics/signed_at", "/claim/confirmed_receipt_at"),
    ("/logistics/signed_at", "/claim/return_tracking_uploaded_at"),
    ("/logistics/signed_at", "/claim/merchant_received_at"),
    ("/logistics/shipped_at", "/as_of"),
    ("/logistics/signed_at", "/as_of"),
    ("/claim/confirmed_receipt_at", "/as_of"),
    ("/claim/return_tracking_uploaded_at", "/as_of"),
    ("/claim/merchant_received_at", "/as_of"),
]


def stamp(hours: float) -> str:
    return (T0 + dt.timedelta(hours=hours)).isoformat()


def put(facts: dict[str, Any], pointer: str, value: str) -> None:
    *parents, last = pointer.strip("/").split("/")
    node = facts
    for key in parents:
        node = node[key]
    node[last] = value


def order(times: dict[str, float]) -> dict[str, Any]:
    facts = copy.deepcopy(load_example("abuse-flag-buyer-pays-return.json"))
    facts["logistics"]["status"] = "delivered"
    facts["logistics"]["promised_ship_by"] = stamp(48)
    for pointer, hours in times.items():
        put(facts, pointer, stamp(hours))
    return facts


def refusals(policy: ruleengine.Policy, facts: dict[str, Any]) -> list[list[tuple[str, str]]]:
    """The (pointer, code) problems on each path; each path must refuse."""
    seen = []
    for kwargs in ({}, {"explain": True}, {"trusted": True}, {"listener": lambda event: None}):
        with pytest.raises(ruleengine.FactsError) as info:
            policy.evaluate(facts, **kwargs)  # type: ignore[arg-type]
        seen.append(sorted((p.pointer, p.code) for p in info.value.problems))
    return seen


def test_the_timeline_itself_is_possible(policy: ruleengine.Policy) -> None:
    policy.evaluate(order(TIMELINE))
    equal = dict.fromkeys(TIMELINE, 1.0) | {"/placed_at": 0}
    policy.evaluate(order(equal))  # instants may coincide


@pytest.mark.parametrize(("earlier", "later"), MUST_PRECEDE)
def test_an_instant_out_of_order_is_a_facts_error_at_its_pointer_on_every_path(
    policy: ruleengine.Policy, earlier: str, later: str
) -> None:
    times = dict(TIMELINE)
    if later == "/as_of":
        times[earlier] = TIMELINE["/as_of"] + 0.5  # the event is recorded after the decision instant
        expected = earlier
    else:
        times[later] = TIMELINE[earlier] - 0.5
        expected = later
    paths = refusals(policy, order(times))
    assert all(path == paths[0] for path in paths), paths
    assert (expected, "chronology") in paths[0], paths[0]
    with pytest.raises(ruleengine.FactsError) as info:
        policy.evaluate(order(times))
    (problem,) = [p for p in info.value.problems if p.pointer == expected]
    assert earlier.strip("/") in problem.message and later.strip("/") in problem.message


def test_optional_instants_are_checked_only_when_present(policy: ruleengine.Policy) -> None:
    facts = order({k: v for k, v in TIMELINE.items() if k != "/logistics/signed_at"})
    del facts["logistics"]["signed_at"]
    facts["logistics"]["status"] = "in_transit"
    facts["claim"]["merchant_received_at"] = stamp(30)  # no signing to be before
    facts["claim"]["return_tracking_uploaded_at"] = stamp(29)
    policy.evaluate(facts)


def out_of_order(times: dict[str, float]) -> set[str]:
    """The pointers the checks name for these instants: each documented pair out of order, at its later instant
    (at the earlier one when the later is as_of)."""
    return {later if later != "/as_of" else earlier for earlier, later in MUST_PRECEDE if times[earlier] > times[later]}


def refused_exactly_at(policy: ruleengine.Policy, facts: dict[str, Any], broken: set[str]) -> None:
    """The order is decided when nothing is out of order, else refused with a chronology problem at each of ``broken``."""
    if not broken:
        policy.evaluate(facts)
        return
    with pytest.raises(ruleengine.FactsError) as info:
        policy.evaluate(facts)
    assert {p.pointer for p in info.value.problems if p.code == "chronology"} == broken


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(TIMELINE)), st.integers(-200, 200), max_size=4))
def test_an_order_is_refused_exactly_when_some_documented_pair_is_out_of_order(
    policy: ruleengine.Policy, shifts: dict[str, int]
) -> None:
    times = {k: v + shifts.get(k, 0) for k, v in TIMELINE.items()}
    facts = order(times)
    broken = out_of_order(times)
    refused_exactly_at(policy, facts, broken)


OFFSETS = [dt.timezone(dt.timedelta(hours=8)), dt.timezone(dt.timedelta(hours=-5)), dt.UTC]


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(st.sampled_from(sorted(TIMELINE)), st.integers(-3600, 3600), max_size=4),
    st.dictionaries(st.sampled_from(sorted(TIMELINE)), st.sampled_from(range(len(OFFSETS))), max_size=3),
    st.booleans(),
)
def test_instants_written_with_other_offsets_or_shapes_are_ordered_as_instants(
    policy: ruleengine.Policy, shifts: dict[str, int], offsets: dict[str, int], fraction: bool
) -> None:
    """Instants are compared as instants, however written (another offset, a fraction of a second, ``Z``). Shifts
    are in seconds, so that instants a second apart, written with different offsets, sort one way as text and the
    other as instants."""
    times = {k: v * 3600 + shifts.get(k, 0) for k, v in TIMELINE.items()}
    broken = out_of_order(times)
    facts = order({})
    for pointer, seconds in times.items():
        instant = (T0 + dt.timedelta(seconds=seconds)).astimezone(OFFSETS[offsets.get(pointer, 0)])
        text = instant.isoformat(timespec="milliseconds" if fraction and pointer == "/as_of" else "seconds")
        put(facts, pointer, text.replace("+00:00", "Z") if pointer == "/paid_at" else text)
    refused_exactly_at(policy, facts, broken)


def test_trusted_instants_in_a_zone_with_folds_are_compared_pair_by_pair(policy: ruleengine.Policy) -> None:
    """Instants sharing a tzinfo compare by wall clock, others in UTC: ``<=`` is not transitive across them, so no
    documented pair may be taken as following from two others. Paid 01:30 (second time) and shipped 01:45 (first
    time) in New York on the day the clocks go back: shipped after paid by the clock, before as_of in UTC, while
    paid is after as_of."""
    from zoneinfo import ZoneInfo

    new_york = ZoneInfo("America/New_York")
    paid = dt.datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=new_york)  # 06:30 UTC
    shipped = dt.datetime(2026, 11, 1, 1, 45, fold=0, tzinfo=new_york)  # 05:45 UTC
    facts = policy.convert_facts(load_example("plain-order-no-claim.json"), "")
    facts = dict(facts, placed_at=paid, paid_at=paid, as_of=dt.datetime(2026, 11, 1, 6, 0, tzinfo=dt.UTC))
    facts["logistics"] = {k: v for k, v in facts["logistics"].items() if k != "signed_at"} | {"shipped_at": shipped}
    with pytest.raises(ruleengine.FactsError) as info:
        policy.evaluate(facts, trusted=True)
    assert ("/paid_at", "chronology") in {(p.pointer, p.code) for p in info.value.problems}
