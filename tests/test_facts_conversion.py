"""The facts converter's happy path gives what the exact converter gives, and gives up on anything else.

The happy path (generated code, no pointers) converts plain JSON data; on anything unusual it
hands the order to the exact converter, which names the pointer of every problem. Neither may
ever see a value the other would convert differently.
"""

from __future__ import annotations

import copy
import datetime as dt
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ruleengine.compile.declarations import fact_types
from ruleengine.runtime.conversion import _exact, _GiveUp, _HappyPath, _usual_timestamp
from ruleengine.schemas import parse_timestamp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples" / "corpus"))
from generate import generate

FACTS_TYPE = fact_types()[0]
HAPPY = _HappyPath().function(FACTS_TYPE)
EXACT = _exact(FACTS_TYPE)


def test_the_happy_path_converts_a_corpus_as_the_exact_converter_does() -> None:
    for order in generate(500, seed=5):
        assert HAPPY(order) == EXACT(order, ""), order["order_id"]


def _outcome(fn: Any, value: Any) -> Any:
    try:
        return fn(value)
    except _GiveUp:
        return "gives up"
    except Exception as exc:
        return type(exc).__name__


@pytest.mark.parametrize(
    "text",
    [
        "2026-10-26T22:10:05+08:00",
        "2026-10-26T22:10:05-00:00",
        "2026-10-26T22:10:05Z",
        "2026-10-26T22:10:05.1Z",
        "2026-10-26T22:10:05.123456789+08:00",
        "2026-10-26T22:10:05.1234567890+08:00",
        "2026-10-26T22:10:05.+08:00",
        "2026-10-26t22:10:05Z",
        "2026-10-26T22:10:05z",
        "2026-10-26T22:10:05+24:00",
        "２026-10-26T22:10:05Z",
        "2026-13-26T22:10:05Z",
        "2026-10-26T22:10:05 +08:00",
        "2026-10-26T22:10:05+0800",
        "2026-10-26T22:10:05.12a+08:00",
        "2026-W43-1T22:10:05Z",
        "2026-10-26T22:10:05+08:00:30",
        "2026-10-26T22:10Z",
        "2026-10-26T22:10:05+08:00\n",
        "",
    ],
)
def test_a_usual_timestamp_is_parsed_as_parse_timestamp_parses_it(text: str) -> None:
    happy, exact = _outcome(_usual_timestamp, text), _outcome(parse_timestamp, text)
    if isinstance(happy, dt.datetime):
        assert happy == exact and happy.utcoffset() == exact.utcoffset()
    else:  # given up, or refused by fromisoformat: the exact converter decides
        assert happy in ("gives up", "ValueError")
        assert happy == "gives up" or exact == "ValueError"


@pytest.mark.parametrize(
    ("pointer", "value"),
    [
        (("payment", "amount"), 19.99),
        (("payment", "amount"), Decimal("NaN")),
        (("payment", "amount"), True),
        (("items", 0, "quantity"), 1.0),
        (("placed_at",), dt.datetime(2026, 10, 26, 22, 10, 5, tzinfo=dt.UTC)),
        (("items",), ()),
        (("shop",), [("id", "x")]),
        (("shop", "services"), "abc"),
        (("claim", "installation", "agreed_date"), dt.date(2026, 10, 27)),
    ],
)
def test_unusual_values_go_to_the_exact_converter(pointer: tuple[Any, ...], value: Any) -> None:
    order = copy.deepcopy(next(iter(generate(1, seed=3))))
    order.setdefault("claim", {"id": "C1", "type": "installation", "sku": order["items"][0]["sku"]})
    order["claim"].setdefault("installation", {})
    base: Any = order
    for key in pointer[:-1]:
        base = base[key]
    base[pointer[-1]] = value
    with pytest.raises(_GiveUp):
        HAPPY(order)


def test_lists_of_objects_with_timestamps_are_copied_and_converted() -> None:
    """Not in the bundled order schema today; the converter must still handle it as the exact one does."""
    from ruleengine.lang import types as t

    event = t.Type(t.OBJECT, fields={"at": t.Field(t.scalar(t.TIMESTAMP), True), "n": t.Field(t.scalar(t.NUMBER), True)})
    typ = t.Type(
        t.OBJECT, fields={"events": t.Field(t.Type(t.LIST, elem=event), True), "days": t.Field(t.Type(t.LIST, elem=t.scalar(t.DATE)), True)}
    )
    facts = {"events": [{"at": "2026-10-26T22:10:05+08:00", "n": 1}, {"n": Decimal("2.5")}], "days": ["2026-10-26"]}
    happy = _HappyPath().function(typ)
    assert happy(facts) == _exact(typ)(facts, "")
    assert happy(facts)["events"][0] is not facts["events"][0]
    assert facts["events"][0]["at"] == "2026-10-26T22:10:05+08:00"  # the caller's data is not changed
