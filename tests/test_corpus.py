"""The synthetic order corpus (examples/corpus/generate.py): valid, deterministic, and covering the policy.

2,000 orders with seed 7 are generated once per module and decided once with the bundled policy.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import io
import json
import re
import subprocess
import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import ruleengine
from ruleengine.schemas import completed

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "examples" / "corpus" / "generate.py"
SCHEMA = completed(
    json.loads((ROOT / "schemas" / "order.schema.json").read_text(encoding="utf-8")), ruleengine.load_policy(ROOT / "rules").enums
)
"""The order schema with the default policy's codes (its vocabulary): the values the corpus must cover."""
COUNT, SEED = 2000, 7

OUTCOMES = {"approved", "rejected", "needs_review"}
# Every claim type can end in each outcome under the default policy: approved when its guarantee applies,
# rejected (missing service, late, no defect ...), needs_review while something is unknown (not signed for,
# inspection pending, no current price, no installation or trade-in details).
EXPECTED_OUTCOMES = {claim_type: OUTCOMES for claim_type in SCHEMA["$defs"]["claim_type"]["enum"]}
EDGE_CASES = (
    "credit_599", "credit_600", "credit_601", "abuse_flag", "nad_count_3", "gift_line", "promotion", "campaign",
    "conditional_free_shipping", "stock_out_short_before", "stock_out_short_not_before", "stock_out_long_before",
    "stock_out_long_not_before", "partial_claim", "full_claim", "utc_request",
)  # fmt: skip
MONEY_KEYS = (
    "unit_price|paid_amount|amount|fee|threshold|waived_fee|discount|declared_gift_value|current_unit_price|overcharge|appraised_value"
)
MONEY_IN_TEXT = re.compile(rf'"(?:{MONEY_KEYS})":"([^"]*)"')
MONEY_AS_NUMBER = re.compile(rf'"(?:{MONEY_KEYS})":[-0-9]')


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("corpus_generate", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


corpus = _load()


def _jsonl(orders: Any) -> str:
    buffer = io.StringIO()
    corpus.write_jsonl(orders, buffer)
    return buffer.getvalue()


def _ts(value: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, value
    return parsed


@pytest.fixture(scope="module")
def orders() -> list[dict[str, Any]]:
    return list(corpus.generate(COUNT, SEED))


@pytest.fixture(scope="module")
def decided(orders: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Each order's decision (as plain data), and the orders that raised anything, by id."""
    policy = ruleengine.load_policy()
    decisions, failures = [], {}
    for order in orders:
        try:
            decisions.append(policy.evaluate(order).to_dict())
        except Exception as exc:
            failures[order["order_id"]] = f"{type(exc).__name__}: {exc}"
    return decisions, failures


def test_every_order_validates_and_decides(decided: tuple[list[dict[str, Any]], dict[str, str]]) -> None:
    decisions, failures = decided
    assert not failures, dict(list(failures.items())[:5])
    assert len(decisions) == COUNT


def test_same_seed_same_bytes_other_seed_other_bytes(orders: list[dict[str, Any]]) -> None:
    first = _jsonl(orders)
    assert first == _jsonl(corpus.generate(COUNT, SEED))
    assert first != _jsonl(corpus.generate(COUNT, SEED + 1))
    assert first.count("\n") == COUNT


def test_the_command_line_writes_the_same_lines(tmp_path: Path, orders: list[dict[str, Any]]) -> None:
    expected = _jsonl(orders[:40]).encode("utf-8")
    command = [sys.executable, str(SCRIPT), "--count", "40", "--seed", str(SEED)]
    stdout = subprocess.run(command, check=True, capture_output=True, timeout=60).stdout
    assert stdout == expected
    out = tmp_path / "corpus.jsonl"
    subprocess.run([*command, "--out", str(out)], check=True, capture_output=True, timeout=60)
    assert out.read_bytes() == expected


def test_json_lines_round_trip_with_exact_money(orders: list[dict[str, Any]]) -> None:
    text = _jsonl(orders[:300])
    assert "\\u" not in text and "旗舰店" in text  # ensure_ascii=False
    assert not MONEY_AS_NUMBER.search(text)  # on the wire an amount is a decimal string
    amounts = MONEY_IN_TEXT.findall(text)
    assert amounts and all(re.fullmatch(r"[0-9]+\.[0-9]{2}", a) for a in amounts), [a for a in amounts if "." not in a][:5]
    for line, order in zip(text.splitlines(), orders, strict=False):
        assert ruleengine.read_facts(line) == order


def _numbers(value: Any, path: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [n for key, item in value.items() for n in _numbers(item, f"{path}/{key}")]
    if isinstance(value, list):
        return [n for i, item in enumerate(value) for n in _numbers(item, f"{path}/{i}")]
    return [(path, value)] if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool) else []


def test_orders_are_internally_consistent(orders: list[dict[str, Any]]) -> None:
    assert len({o["order_id"] for o in orders}) == COUNT
    for order in orders:
        oid = order["order_id"]
        for path, number in _numbers(order):
            assert isinstance(number, (int, Decimal)), (oid, path)
            if isinstance(number, Decimal):
                assert number == number.quantize(Decimal("0.01")) and number.as_tuple().exponent == -2, (oid, path, number)
        items = order["items"]
        assert 1 <= len(items) <= 4, oid
        assert len({i["sku"] for i in items}) == len(items), oid
        for item in items:
            assert Decimal(0) <= item["paid_amount"] <= item["unit_price"] * item["quantity"], (oid, item["sku"])
        assert order["payment"]["amount"] == sum(i["paid_amount"] for i in items) + order["shipping"]["fee"], oid
        log = order["logistics"]
        placed, paid, as_of = _ts(order["placed_at"]), _ts(order["paid_at"]), _ts(order["as_of"])
        assert placed <= paid, oid
        events = [paid]
        if "shipped_at" in log:
            assert paid <= _ts(log["shipped_at"]), oid
            events.append(_ts(log["shipped_at"]))
        if "signed_at" in log:
            assert _ts(log["shipped_at"]) <= _ts(log["signed_at"]), oid
            events.append(_ts(log["signed_at"]))
        if "stock_out_admitted_at" in log:
            events.append(_ts(log["stock_out_admitted_at"]))
        claim = order.get("claim")
        if claim is not None:
            line = next(i for i in items if i["sku"] == claim["sku"])
            assert 1 <= claim["quantity"] <= line["quantity"], oid
            requested = _ts(claim["requested_at"])
            assert requested > paid, oid
            events.append(requested)
            for key in ("return_tracking_uploaded_at", "merchant_received_at", "merchant_responded_at", "confirmed_receipt_at"):
                if key in claim:
                    events.append(_ts(claim[key]))
                    if key != "confirmed_receipt_at":
                        assert _ts(claim[key]) >= requested, (oid, key)
            if "completed_at" in claim.get("installation", {}):
                events.append(_ts(claim["installation"]["completed_at"]))
        assert as_of >= max(events), oid


def _enum(*path: str) -> set[str]:
    node: Any = SCHEMA["properties"]
    for key in path:
        node = node[key]
    if "$ref" in node:
        node = SCHEMA["$defs"][node["$ref"].rsplit("/", 1)[1]]
    return set(node["enum"])


def test_the_corpus_covers_every_fact_value(orders: list[dict[str, Any]]) -> None:
    seen: dict[str, set[Any]] = {k: set() for k in ("category", "flag", "shop", "service", "program", "channel", "method", "status")}
    claim_seen: dict[str, set[Any]] = {
        k: set() for k in ("type", "item_condition", "inspection", "merchant_response", "resolution_requested")
    }
    optional: set[str] = set()
    for order in orders:
        for item in order["items"]:
            seen["category"].add(item["category"])
            seen["flag"].update(item["flags"])
        seen["shop"].add((order["shop"]["type"], order["shop"]["qualification_verified"]))
        seen["service"].update(order["shop"]["services"])
        seen["program"].add(order["program"])
        seen["channel"].add(order["channel"])
        seen["method"].add(order["payment"]["method"])
        seen["status"].add(order["logistics"]["status"])
        claim = order.get("claim")
        if claim is not None:
            for key, values in claim_seen.items():
                values.add(claim[key])
            optional.update(claim)
    assert seen["category"] == set(SCHEMA["$defs"]["category"]["enum"])
    assert seen["flag"] == _enum("items", "items", "properties", "flags", "items")
    assert seen["shop"] == {(t, v) for t in _enum("shop", "properties", "type") for v in (True, False)}
    assert seen["service"] == _enum("shop", "properties", "services", "items")
    assert seen["program"] == _enum("program")
    assert seen["channel"] == _enum("channel")
    assert seen["method"] == _enum("payment", "properties", "method")
    assert seen["status"] == _enum("logistics", "properties", "status")
    for key, values in claim_seen.items():
        assert values == _enum("claim", "properties", key), key
    assert set(SCHEMA["properties"]["claim"]["properties"]) <= optional
    claimed = sum(1 for o in orders if "claim" in o)
    assert 0.5 * COUNT <= claimed <= 0.7 * COUNT


def test_edge_cases_are_present(orders: list[dict[str, Any]]) -> None:
    found: Counter[str] = Counter()
    for order in orders:
        log = order["logistics"]
        score = order["buyer"]["credit_score"]
        found[f"credit_{score}"] += score in (599, 600, 601)
        found["abuse_flag"] += order["buyer"]["abuse_flag"]
        found["nad_count_3"] += order["buyer"]["claims_last_30_days"]["not_as_described"] == 3
        found["gift_line"] += any(i["gift"] for i in order["items"])
        found["promotion"] += "promotion" in order
        found["campaign"] += "campaign" in order
        found["conditional_free_shipping"] += order["shipping"]["free_shipping"] == "conditional"
        if log["stock_out"]:
            admitted = log.get("stock_out_admitted_at")
            short = log["promise_hours"] <= 48
            before = admitted is not None and _ts(admitted) < _ts(log["promised_ship_by"])
            found[f"stock_out_{'short' if short else 'long'}_{'before' if before else 'not_before'}"] += 1
        claim = order.get("claim")
        if claim is not None:
            line = next(i for i in order["items"] if i["sku"] == claim["sku"])
            found["partial_claim" if claim["quantity"] < line["quantity"] else "full_claim"] += 1
            found["utc_request"] += claim["requested_at"].endswith("Z")
    assert not [k for k in EDGE_CASES if not found[k]]


def test_every_outcome_of_every_claim_type(decided: tuple[list[dict[str, Any]], dict[str, str]]) -> None:
    decisions, _ = decided
    outcomes: dict[str, set[str]] = {}
    for decision in decisions:
        if "claim" in decision:
            outcomes.setdefault(decision["claim"]["type"], set()).add(decision["claim"]["outcome"])
    missing = {t: sorted(expected - outcomes.get(t, set())) for t, expected in EXPECTED_OUTCOMES.items()}
    assert not {t: m for t, m in missing.items() if m}


def test_deductions_and_compensations_are_reached(decided: tuple[list[dict[str, Any]], dict[str, str]]) -> None:
    decisions, _ = decided
    compensations = Counter(c["type"] for d in decisions for c in d["compensations"])
    assert compensations["late_shipment"] and compensations["stock_out"]
    assert compensations["counterfeit"] and compensations["not_as_described"] and compensations["refused_valid_return"]
    deductions = Counter(x["type"] for d in decisions if "claim" in d for x in d["claim"]["deductions"])
    assert {"gift_not_returned", "free_shipping_lost", "promotion_lost"} <= set(deductions)


def test_orders_cross_every_version_date(orders: list[dict[str, Any]]) -> None:
    paid = [_ts(o["paid_at"]) for o in orders]
    assert min(paid) >= dt.datetime(2017, 12, 1, tzinfo=dt.UTC) - dt.timedelta(hours=8)
    assert max(paid) < dt.datetime(2026, 12, 1, tzinfo=dt.UTC) - dt.timedelta(hours=8)
    for name, boundary in corpus.VERSION_DATES.items():
        before = [p for p in paid if p < boundary]
        after = [p for p in paid if p >= boundary]
        assert before and after, name
        # Denser near the date: orders within two days on each side.
        assert sum(1 for p in before if boundary - p <= dt.timedelta(days=2)) >= 5, name
        assert sum(1 for p in after if p - boundary <= dt.timedelta(days=2)) >= 5, name
