"""The function library of the expression language: calendar, money, collections.

Every function is pure, bounded and total over its declared argument types;
these are the only callables an expression can reach. Calendar functions work
in the policy's time zone (Asia/Shanghai for the default policy).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from . import types as t

CENT = Decimal("0.01")


class ExpressionFailure(Exception):
    """A run-time failure inside an expression (division by zero, empty min)."""


class BudgetExceeded(ExpressionFailure):
    """The evaluation used up its step or time budget inside an expression."""


def round_money(value: Decimal | int) -> Decimal:
    """Half-up to 0.01: the one rounding rule for money."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def divide(a: Decimal | int, b: Decimal | int) -> Decimal:
    if b == 0:
        raise ExpressionFailure("division by zero")
    return Decimal(a) / Decimal(b)


def prorata(amount: Decimal | int, part: Decimal | int, whole: Decimal | int) -> Decimal:
    """``amount × part / whole``, rounded half-up to 0.01."""
    return round_money(divide(Decimal(amount) * Decimal(part), whole))


def percent_of(amount: Decimal | int, rate: Decimal | int) -> Decimal:
    """``amount × rate``, rounded half-up to 0.01 (rate 0.30 = 30 %)."""
    return round_money(Decimal(amount) * Decimal(rate))


def clamp(value: Decimal | int, low: Decimal | int, high: Decimal | int) -> Decimal | int:
    return max(low, min(value, high))


def _duration(n: Decimal | int, unit_seconds: int) -> dt.timedelta:
    return dt.timedelta(seconds=int(Decimal(n) * unit_seconds))


def days(n: Decimal | int) -> dt.timedelta:
    """A duration of ``n`` × 24 h."""
    return _duration(n, 86400)


def hours(n: Decimal | int) -> dt.timedelta:
    return _duration(n, 3600)


def scale(d: dt.timedelta, n: Decimal | int) -> dt.timedelta:
    return dt.timedelta(seconds=int(Decimal(d.total_seconds()) * Decimal(n)))


def hours_between(a: dt.datetime, b: dt.datetime) -> Decimal:
    """Hours from ``a`` to ``b`` (negative when ``b`` is earlier)."""
    return Decimal(int((b - a).total_seconds())) / 3600


def aggregate_sum(values: Iterable[Any]) -> Any:
    total: Any = 0
    for v in values:
        total = total + v
    return total


def aggregate_count(values: Iterable[Any]) -> int:
    return sum(1 for _ in values)


def aggregate_min(values: Iterable[Any]) -> Any:
    items = list(values)
    if not items:
        raise ExpressionFailure("min() of nothing")
    return min(items)


def aggregate_max(values: Iterable[Any]) -> Any:
    items = list(values)
    if not items:
        raise ExpressionFailure("max() of nothing")
    return max(items)


_MIDNIGHT = (dt.time(0), dt.time(0, fold=1))
_LAST_SECOND = dt.time(23, 59, 59)


def make_calendar(zone: str) -> dict[str, Callable[..., Any]]:
    """Calendar functions bound to the policy time zone."""
    tz = ZoneInfo(zone)
    combine = dt.datetime.combine

    def start_of_day(ts: dt.datetime) -> dt.datetime:
        """00:00 of the instant's local day, keeping its fold (what ``replace(hour=0, …)`` gives, at a third of the cost)."""
        local = ts.astimezone(tz)
        return combine(local.date(), _MIDNIGHT[local.fold], tz)

    def end_of_date(day: dt.date) -> dt.datetime:
        """The last second of a calendar day (23:59:59)."""
        return combine(day, _LAST_SECOND, tz)

    def date_of(ts: dt.datetime) -> dt.date:
        return ts.astimezone(tz).date()

    def days_between(a: dt.datetime, b: dt.datetime) -> int:
        """Calendar days from ``a``'s day to ``b``'s day in the policy time zone."""
        return (b.astimezone(tz).date() - a.astimezone(tz).date()).days

    def add_days(ts: dt.datetime, n: Decimal | int) -> dt.datetime:
        return ts + days(n)

    def add_hours(ts: dt.datetime, n: Decimal | int) -> dt.datetime:
        return ts + hours(n)

    return {
        "start_of_day": start_of_day,
        "end_of_date": end_of_date,
        "date_of": date_of,
        "days_between": days_between,
        "add_days": add_days,
        "add_hours": add_hours,
    }


@dataclass(frozen=True)
class Signature:
    params: tuple[str, ...]
    """Argument kinds; ``*`` suffix = variadic."""
    returns: str
    doc: str
    aggregate: bool = False
    """Takes one generator expression or list, e.g. ``sum(l.paid_amount for l in items)``."""


N, T, TS, DUR, D, B = t.NUMBER, t.TEXT, t.TIMESTAMP, t.DURATION, t.DATE, t.BOOL

SIGNATURES: dict[str, Signature] = {
    "start_of_day": Signature((TS,), TS, "00:00 of the instant's day in the policy time zone"),
    "end_of_date": Signature((D,), TS, "23:59:59 of a calendar date in the policy time zone"),
    "date_of": Signature((TS,), D, "the calendar date of an instant in the policy time zone"),
    "days_between": Signature((TS, TS), N, "calendar days from the first instant's day to the second's"),
    "hours_between": Signature((TS, TS), N, "hours from the first instant to the second"),
    "add_days": Signature((TS, N), TS, "the instant plus N × 24 h"),
    "add_hours": Signature((TS, N), TS, "the instant plus N hours"),
    "days": Signature((N,), DUR, "a duration of N × 24 h"),
    "hours": Signature((N,), DUR, "a duration of N hours"),
    "round_money": Signature((N,), N, "half-up to 0.01"),
    "prorata": Signature((N, N, N), N, "amount × part / whole, half-up to 0.01"),
    "percent_of": Signature((N, N), N, "amount × rate, half-up to 0.01 (rate 0.30 = 30 %)"),
    "clamp": Signature((N, N, N), N, "the value kept between a minimum and a maximum"),
    "min": Signature((N + "*",), N, "the smallest of the arguments, or of a generator"),
    "max": Signature((N + "*",), N, "the largest of the arguments, or of a generator"),
    "sum": Signature((N,), N, "total of a generator, e.g. sum(l.paid_amount for l in items)", aggregate=True),
    "count": Signature(("any",), N, "how many elements, e.g. count(l for l in items if not l.gift)", aggregate=True),
    "any": Signature((B,), B, "true if some element is true", aggregate=True),
    "all": Signature((B,), B, "true if every element is true", aggregate=True),
    "has": Signature(("path",), B, "true if an optional fact is present, e.g. has(logistics.signed_at)"),
    "default": Signature(("path", "same"), "same", "the fact, or the given value when it is absent"),
    "has_service": Signature(("item", T), B, "true if the decision so far grants the service to the line"),
}

IMPLEMENTATIONS: dict[str, Callable[..., Any]] = {
    "hours_between": hours_between,
    "days": days,
    "hours": hours,
    "round_money": round_money,
    "prorata": prorata,
    "percent_of": percent_of,
    "clamp": clamp,
    "min": min,
    "max": max,
    "sum": aggregate_sum,
    "count": aggregate_count,
    "any": any,
    "all": all,
    "divide": divide,
    "scale": scale,
    "aggregate_min": aggregate_min,
    "aggregate_max": aggregate_max,
}
