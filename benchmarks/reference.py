"""A hand-written Python implementation of the benchmark's subset policy.

This is the baseline the engine is measured against: what a competent engineer
would write by hand for four guarantees of the default policy, without a rule
engine. It decides exactly what the engine decides with only these rule files
loaded (see ``make_subset.py``):

- ``rules/guarantees/seven_day_return.yaml``  7天无理由退换货
- ``rules/guarantees/fast_refund.yaml``       极速退款
- ``rules/guarantees/authenticity.yaml``      正品保障
- ``rules/guarantees/on_time_shipment.yaml``  发货保障
- ``rules/claims/common.yaml``                merchant timeout, refund timing and due date,
                                              merchant-fault postage, refused valid return,
                                              the claim's total, "not approved owes nothing"

Claims of the other types (quality, damage, not as described, price drop, …) have
no deciding rule in the subset: they stay ``needs_review`` unless the merchant
timeout approves them, as the subset policy does. Services the subset does not
grant (``return_shipping_insurance`` …) are never present.

It reads the same order dicts as the engine (Decimal money, RFC 3339 timestamp
strings, parsed here on use) and does not validate them: compare it with the
engine's trusted mode. Parameter values are read once, at import, from
``rules/parameters.yaml``; version dates come from the rule files' ``effective``
windows. ``decide(order)`` returns the decision as the engine's
``Decision.to_dict()`` does, without the ``policy`` stamp.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

PARAMETERS_FILE = Path(__file__).resolve().parent.parent / "rules" / "parameters.yaml"


def _load_parameters(path: Path) -> dict[str, Any]:
    """Parameter values by name: YAML floats as exact Decimals (0.30 → Decimal('0.3'))."""
    with open(path, encoding="utf-8") as handle:
        spec = yaml.safe_load(handle)["parameters"]

    def exact(value: Any) -> Any:
        if isinstance(value, float):
            return Decimal(str(value))
        if isinstance(value, list):
            return frozenset(value)
        return value

    return {name: exact(entry["value"]) for name, entry in spec.items()}


_P = _load_parameters(PARAMETERS_FILE)

# --- 7天无理由退换货
SEVEN_DAY_WINDOW_DAYS: int = _P["seven_day_window_days"]
SEVEN_DAY_STATUTORY_EXCLUDED_CATEGORIES: frozenset[str] = _P["seven_day_statutory_excluded_categories"]
SEVEN_DAY_STATUTORY_EXCLUDED_FLAGS: frozenset[str] = _P["seven_day_statutory_excluded_flags"]
SEVEN_DAY_PLATFORM_EXCLUDED_CATEGORIES: frozenset[str] = _P["seven_day_platform_excluded_categories"]
SEVEN_DAY_CONFIRMATION_CATEGORIES: frozenset[str] = _P["seven_day_confirmation_categories"]
SEVEN_DAY_RETURN_CONDITIONS: frozenset[str] = _P["seven_day_return_conditions"]
# --- 极速退款
FAST_REFUND_MIN_CREDIT_SCORE: int = _P["fast_refund_min_credit_score"]
REFUND_DUE_DAYS: int = _P["refund_due_days"]
# --- 发货保障
LATE_SHIPMENT_RATE: Decimal = _P["late_shipment_rate"]
LATE_SHIPMENT_CAP: int = _P["late_shipment_cap"]
STOCK_OUT_SHORT_PROMISE_HOURS: int = _P["stock_out_short_promise_hours"]
STOCK_OUT_RATE_SHORT: Decimal = _P["stock_out_rate_short_promise"]
STOCK_OUT_RATE_LONG: Decimal = _P["stock_out_rate_long_promise"]
STOCK_OUT_MIN: int = _P["stock_out_min"]
STOCK_OUT_CAP: int = _P["stock_out_cap"]
# --- 正品保障
COUNTERFEIT_WINDOW_DAYS: int = _P["counterfeit_window_days"]
COUNTERFEIT_MULTIPLIER_STANDARD: int = _P["counterfeit_multiplier_standard"]
COUNTERFEIT_MULTIPLIER_GLOBAL: int = _P["counterfeit_multiplier_global"]
COUNTERFEIT_MULTIPLIER_SUBSIDY: int = _P["counterfeit_multiplier_subsidy"]
COUNTERFEIT_COMPENSATION_MIN: int = _P["counterfeit_compensation_min"]
COUNTERFEIT_LAW_MULTIPLIER: int = _P["counterfeit_law_multiplier"]
# --- cross-cutting
MERCHANT_RESPONSE_TIMEOUT_HOURS: int = _P["merchant_response_timeout_hours"]
REFUSED_VALID_RETURN_RATE: Decimal = _P["refused_valid_return_rate"]
REFUSED_VALID_RETURN_MIN: int = _P["refused_valid_return_min"]
REFUSED_VALID_RETURN_MAX: int = _P["refused_valid_return_max"]
RETURN_CLAIM_TYPES: frozenset[str] = _P["return_claim_types"]
MERCHANT_FAULT_CLAIM_TYPES: frozenset[str] = _P["merchant_fault_claim_types"]
CLAIM_COMPENSATION_TYPES: frozenset[str] = _P["claim_compensation_types"]

TZ = ZoneInfo("Asia/Shanghai")
# Rule versions (the rules' `effective` windows, keyed on paid_at).
GLOBAL_NINEFOLD_FROM = dt.datetime(2018, 1, 11, tzinfo=TZ)  # authenticity.approve: Tmall Global ×9
STOCK_OUT_SELF_ADMISSION_FROM = dt.datetime(2026, 4, 9, tzinfo=TZ)  # on_time_shipment.stock_out: admitted early → 10 %

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
Fire = Callable[[str], None]
"""Records that a rule fired (its actions ran), once, in firing order."""
SUBSET_SERVICES = ("authenticity", "fast_refund", "on_time_shipment", "seven_day_return")


# ------------------------------------------------------------------ helpers


def ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def money(value: Decimal | int) -> Decimal:
    """Half-up to 0.01."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def prorata(amount: Decimal, part: int, whole: int) -> Decimal:
    return money(amount * part / whole)


def window_end(start: dt.datetime, num_days: int) -> dt.datetime:
    """The first late instant of "within N days after start": 00:00 of start's day + N+1 days."""
    local = start.astimezone(TZ).replace(hour=0, minute=0, second=0, microsecond=0)
    return local + dt.timedelta(days=num_days + 1)


def show_time(instant: dt.datetime) -> str:
    local = instant.astimezone(TZ)
    return local.strftime("%Y-%m-%d %H:%M:%S" if local.second else "%Y-%m-%d %H:%M")


def show_money(amount: Decimal | int) -> str:
    return f"{money(amount):f}"


def actual_price(items: list[dict[str, Any]]) -> Decimal:
    """The order's actual price: paid amounts of its non-gift lines, postage excluded."""
    return sum((line["paid_amount"] for line in items if not line["gift"]), ZERO)


# ------------------------------------------------------------------ services


def line_services(order: dict[str, Any], item: dict[str, Any]) -> list[str]:
    if item["gift"]:
        return []
    services = []
    if order["shop"]["qualification_verified"]:
        services.append("authenticity")
    buyer = order["buyer"]
    if buyer["credit_score"] >= FAST_REFUND_MIN_CREDIT_SCORE and not buyer["abuse_flag"]:
        services.append("fast_refund")
    services.append("on_time_shipment")
    if has_seven_day_return(item):
        services.append("seven_day_return")
    return services


def has_seven_day_return(item: dict[str, Any]) -> bool:
    flags = item["flags"]
    if "seven_day_opt_in" in flags:
        return True
    category = item["category"]
    if category in SEVEN_DAY_STATUTORY_EXCLUDED_CATEGORIES or any(f in SEVEN_DAY_STATUTORY_EXCLUDED_FLAGS for f in flags):
        return False
    if category in SEVEN_DAY_PLATFORM_EXCLUDED_CATEGORIES:
        return False
    return not (category in SEVEN_DAY_CONFIRMATION_CATEGORIES and "no_return_confirmed" in flags)


# ------------------------------------------------------------------ the decision


class _Claim:
    """The claim decision being built: the facts it reads and the fields it sets."""

    def __init__(self, order: dict[str, Any], claim: dict[str, Any], item: dict[str, Any], services: list[str]) -> None:
        self.order = order
        self.claim = claim
        self.item = item
        self.services = services
        self.outcome = "needs_review"
        self.resolution = "none"
        self.refund_amount = ZERO
        self.compensation_amount = ZERO
        self.refund_timing = "none"
        self.refund_due_by: dt.datetime | None = None
        self.return_shipping_payer = "none"
        self.deductions: list[dict[str, Any]] = []
        self.reasons: list[dict[str, str]] = []

    def reason(self, rule: str, zh: str, en: str) -> None:
        self.reasons.append({"rule": rule, "message": f"{zh} / {en}"})

    @property
    def prorata(self) -> Decimal:
        return prorata(self.item["paid_amount"], self.claim["quantity"], self.item["quantity"])

    def insured_return_payer(self) -> str:
        insured = "return_shipping_insurance" in self.services
        return "insurance" if insured and not self.order["buyer"]["abuse_flag"] else "buyer"

    def approve_refund(self, payer: str) -> None:
        self.outcome, self.resolution = "approved", "refund"
        self.refund_amount = self.prorata
        self.return_shipping_payer = payer


def decide(order: dict[str, Any]) -> dict[str, Any]:
    """Decide one order with the subset policy (no validation: the facts are trusted)."""
    items = order["items"]
    fired: list[str] = []
    compensations: list[dict[str, Any]] = []
    violations: list[dict[str, str]] = []

    def fire(rule: str) -> None:
        if rule not in fired:
            fired.append(rule)

    services = {item["sku"]: line_services(order, item) for item in items}
    for service in SUBSET_SERVICES:
        if any(service in granted for granted in services.values()):
            fire(f"{service}.service")

    paid_at = ts(order["paid_at"])
    as_of = ts(order["as_of"])
    facts_claim = order.get("claim")
    claim: _Claim | None = None
    if facts_claim is not None:
        item = next(line for line in items if line["sku"] == facts_claim["sku"])
        claim = _Claim(order, facts_claim, item, services[item["sku"]])
        decide_claim(claim, paid_at, compensations, fire)
        merchant_timeout(claim, as_of, fire)
        adjust_no_reason_return(claim, fire)
        settle(claim, fire)
        refused_valid_return(claim, compensations, violations, fire)

    shipment_compensation(order, paid_at, as_of, compensations, violations, fire)

    if claim is not None:
        finalize(claim, compensations, fire)

    out: dict[str, Any] = {"order_id": order["order_id"], "as_of": order["as_of"], "services": services}
    if claim is not None:
        decided: dict[str, Any] = {
            "id": claim.claim["id"],
            "type": claim.claim["type"],
            "outcome": claim.outcome,
            "resolution": claim.resolution,
            "refund_amount": claim.refund_amount,
            "compensation_amount": claim.compensation_amount,
            "refund_timing": claim.refund_timing,
        }
        if claim.refund_due_by is not None:
            decided["refund_due_by"] = claim.refund_due_by.astimezone(TZ).isoformat()
        decided["refund_channel"] = order["payment"]["method"]
        decided["return_shipping_payer"] = claim.return_shipping_payer
        decided["deductions"] = claim.deductions
        decided["reasons"] = claim.reasons
        out["claim"] = decided
    out["compensations"] = compensations
    out["violations"] = violations
    out["fired"] = fired
    return out


# ------------------------------------------------------------------ claim stage


def decide_claim(claim: _Claim, paid_at: dt.datetime, compensations: list[dict[str, Any]], fire: Fire) -> None:
    ctype = claim.claim["type"]
    if ctype == "counterfeit":
        decide_counterfeit(claim, paid_at, compensations, fire)
    elif ctype in ("no_reason_return", "no_reason_exchange"):
        decide_no_reason(claim, fire)
    # Other claim types: no rule of the subset decides them; they stay needs_review.


def decide_counterfeit(claim: _Claim, paid_at: dt.datetime, compensations: list[dict[str, Any]], fire: Fire) -> None:
    c, order = claim.claim, claim.order
    inspection = c["inspection"]
    if "authenticity" not in claim.services:
        if inspection == "counterfeit_confirmed":  # the law's floor, whatever the window
            rule = "authenticity.law_floor"
            fire(rule)
            claim.approve_refund("merchant")
            amount = money(max(COUNTERFEIT_LAW_MULTIPLIER * claim.prorata, COUNTERFEIT_COMPENSATION_MIN))
            compensations.append({"type": "counterfeit", "amount": amount, "form": "cash", "payer": "merchant", "rule": rule})
            least = show_money(COUNTERFEIT_COMPENSATION_MIN)
            claim.reason(
                rule,
                f"鉴定为假货：依法退款并赔偿退款的 {COUNTERFEIT_LAW_MULTIPLIER} 倍，至少 {least} 元",
                f"counterfeit confirmed: refund plus {COUNTERFEIT_LAW_MULTIPLIER}× the refund, at least {least}, by law",
            )
        else:
            fire("authenticity.not_covered")
            claim.outcome = "rejected"
            claim.reason(
                "authenticity.not_covered",
                "该商品无正品保障服务（店铺资质未核验）",
                "the line has no genuine-goods guarantee (the shop is not verified)",
            )
        return
    signed = order["logistics"].get("signed_at")
    if signed is None:
        fire("authenticity.not_signed")
        claim.outcome = "needs_review"
        claim.reason(
            "authenticity.not_signed",
            "订单尚未签收，无法计算假货申请期限，转人工审核",
            "the order has not been signed for, so the counterfeit window cannot be computed; needs review",
        )
        return
    requested = ts(c["requested_at"])
    end = window_end(ts(signed), COUNTERFEIT_WINDOW_DAYS)
    if requested >= end:
        fire("authenticity.late")
        claim.outcome = "rejected"
        claim.reason(
            "authenticity.late",
            f"申请时间 {show_time(requested)} 不早于 {COUNTERFEIT_WINDOW_DAYS} 天期限截止时刻 {show_time(end)}",
            f"requested at {show_time(requested)}, after the {COUNTERFEIT_WINDOW_DAYS}-day window ended at {show_time(end)}",
        )
        return
    if inspection in ("pending", "none"):
        fire("authenticity.pending")
        claim.outcome = "needs_review"
        claim.reason("authenticity.pending", "假货申请等待鉴定结论", "the counterfeit claim is waiting for an inspection")
        return
    if inspection != "counterfeit_confirmed":
        fire("authenticity.not_counterfeit")
        claim.outcome = "rejected"
        claim.reason(
            "authenticity.not_counterfeit", f"鉴定结论为 {inspection}，不是假货", f"the inspection found {inspection}, not a counterfeit"
        )
        return
    program = order["program"]
    if program == "subsidy":
        multiplier = COUNTERFEIT_MULTIPLIER_SUBSIDY
    elif program == "global" and paid_at >= GLOBAL_NINEFOLD_FROM:
        multiplier = COUNTERFEIT_MULTIPLIER_GLOBAL
    else:
        multiplier = COUNTERFEIT_MULTIPLIER_STANDARD
    rule = "authenticity.approve"
    fire(rule)
    claim.approve_refund("merchant")
    refund = claim.prorata
    amount = money(max(multiplier * refund, COUNTERFEIT_COMPENSATION_MIN))
    compensations.append({"type": "counterfeit", "amount": amount, "form": "cash", "payer": "merchant", "rule": rule})
    least = show_money(COUNTERFEIT_COMPENSATION_MIN)
    claim.reason(
        rule,
        f"鉴定为假货：退款 {show_money(refund)} 元，并按 {multiplier} 倍赔偿（至少 {least} 元）",
        f"counterfeit confirmed: refund {show_money(refund)} and {multiplier}× compensation (at least {least})",
    )


def decide_no_reason(claim: _Claim, fire: Fire) -> None:
    c, order = claim.claim, claim.order
    if "seven_day_return" not in claim.services:
        fire("seven_day_return.not_covered")
        claim.outcome = "rejected"
        claim.reason(
            "seven_day_return.not_covered",
            f"该商品（{claim.item['title']}）不支持7天无理由退换货",
            f"the line ({claim.item['sku']}) has no 7-day no-reason return service",
        )
        return
    signed_text = order["logistics"].get("signed_at")
    if signed_text is None:
        fire("seven_day_return.not_signed")
        claim.outcome = "needs_review"
        claim.reason(
            "seven_day_return.not_signed",
            "订单尚未签收，无法计算7天无理由期限，转人工审核",
            "the order has not been signed for, so the 7-day window cannot be computed; needs review",
        )
        return
    signed, requested = ts(signed_text), ts(c["requested_at"])
    end = window_end(signed, SEVEN_DAY_WINDOW_DAYS)
    if requested >= end:
        fire("seven_day_return.late")
        claim.outcome = "rejected"
        n = SEVEN_DAY_WINDOW_DAYS
        claim.reason(
            "seven_day_return.late",
            f"申请时间 {show_time(requested)} 不早于 {n} 天期限截止时刻 {show_time(end)}（签收 {show_time(signed)}）",
            f"requested at {show_time(requested)}, after the {n}-day window ended at {show_time(end)} (signed {show_time(signed)})",
        )
        return
    condition = c["item_condition"]
    if condition not in SEVEN_DAY_RETURN_CONDITIONS:
        fire("seven_day_return.condition")
        claim.outcome = "rejected"
        claim.reason(
            "seven_day_return.condition",
            f"商品状态（{condition}）不符合7天无理由退换货要求",
            f"the item's condition ({condition}) does not allow a no-reason return",
        )
        return
    n = SEVEN_DAY_WINDOW_DAYS
    if c["type"] == "no_reason_return":
        fire("seven_day_return.approve_return")
        claim.approve_refund(claim.insured_return_payer())
        claim.reason(
            "seven_day_return.approve_return",
            f"签收次日起 {n} 天内申请、商品状态合格，同意退货退款",
            f"requested within {n} days after signing, in an accepted condition: return approved",
        )
    else:
        fire("seven_day_return.approve_exchange")
        claim.outcome, claim.resolution, claim.return_shipping_payer = "approved", "exchange", "buyer"
        claim.reason(
            "seven_day_return.approve_exchange",
            f"签收次日起 {n} 天内申请，同意换货，运费由买家承担",
            f"requested within {n} days after signing: exchange approved, the buyer pays shipping",
        )


# ------------------------------------------------------------------ review: merchant timeout


def merchant_timeout(claim: _Claim, as_of: dt.datetime, fire: Fire) -> None:
    c = claim.claim
    if claim.outcome != "needs_review" or c["type"] not in RETURN_CLAIM_TYPES or c["merchant_response"] != "none":
        return
    requested = ts(c["requested_at"])
    if as_of <= requested + dt.timedelta(hours=MERCHANT_RESPONSE_TIMEOUT_HOURS):
        return
    fire("claims.merchant_timeout")
    no_reason = c["type"] == "no_reason_return"
    claim.outcome = "approved"
    claim.resolution = "refund" if no_reason else c["resolution_requested"]
    claim.refund_amount = claim.prorata if no_reason or c["resolution_requested"] == "refund" else ZERO
    claim.return_shipping_payer = "merchant" if c["type"] in MERCHANT_FAULT_CLAIM_TYPES else claim.insured_return_payer()
    h = MERCHANT_RESPONSE_TIMEOUT_HOURS
    claim.reason(
        "claims.merchant_timeout",
        f"商家超过 {h} 小时未处理（申请于 {show_time(requested)}），视为同意",
        f"the merchant did not answer within {h} h of the claim ({show_time(requested)}): approved as agreed",
    )


# ------------------------------------------------------------------ adjust: deductions from a no-reason refund


def adjust_no_reason_return(claim: _Claim, fire: Fire) -> None:
    c, order, item = claim.claim, claim.order, claim.item
    if c["type"] != "no_reason_return" or claim.outcome != "approved":
        return
    items = order["items"]

    gift_value = sum((line.get("declared_gift_value", 0) for line in items if line["gift"]), ZERO)
    if gift_value > 0 and not c["gift_returned"]:
        fire("seven_day_return.gift_not_returned")
        claim.deductions.append({"type": "gift_not_returned", "amount": money(gift_value)})
        claim.reason(
            "seven_day_return.gift_not_returned",
            f"赠品未退回，扣除赠品价值 {show_money(gift_value)} 元",
            f"the gift was kept: its declared value {show_money(gift_value)} is deducted",
        )

    refund = claim.prorata
    paid_total = actual_price(items)
    shipping = order["shipping"]
    threshold, waived = shipping.get("threshold"), shipping.get("waived_fee")
    if shipping["free_shipping"] == "conditional" and threshold is not None and waived is not None:
        kept_paid = paid_total - refund
        if kept_paid < threshold and waived > 0:
            fire("seven_day_return.free_shipping_lost")
            claim.deductions.append({"type": "free_shipping_lost", "amount": money(waived)})
            claim.reason(
                "seven_day_return.free_shipping_lost",
                f"退货后保留商品金额 {show_money(kept_paid)} 元低于包邮门槛 {show_money(threshold)} 元，"
                f"扣除减免运费 {show_money(waived)} 元",
                f"the kept lines ({show_money(kept_paid)}) fall below the free-shipping threshold {show_money(threshold)}: "
                f"the waived fee {show_money(waived)} is deducted",
            )

    promotion = order.get("promotion")
    if promotion is not None:
        list_value = sum(line["unit_price"] * line["quantity"] for line in items if not line["gift"])
        kept_list = list_value - item["unit_price"] * c["quantity"]
        resettled = max(0, paid_total - kept_list)
        if kept_list < promotion["threshold"] and refund > resettled:
            fire("seven_day_return.promotion_lost")
            claim.deductions.append({"type": "promotion_lost", "amount": money(max(0, refund - resettled))})
            claim.reason(
                "seven_day_return.promotion_lost",
                f"退货后保留商品原价 {show_money(kept_list)} 元低于满减门槛 {show_money(promotion['threshold'])} 元，按原价重新结算",
                f"the kept lines' list value {show_money(kept_list)} falls below the discount threshold "
                f"{show_money(promotion['threshold'])}: re-settled at list price",
            )


# ------------------------------------------------------------------ settle: refund amount and timing


def settle(claim: _Claim, fire: Fire) -> None:
    c, order, item = claim.claim, claim.order, claim.item
    if claim.outcome != "approved":
        return
    if c["type"] == "no_reason_return" and claim.deductions:
        fire("seven_day_return.refund_after_deductions")
        claim.refund_amount = money(max(0, claim.refund_amount - sum(d["amount"] for d in claim.deductions)))
    if claim.resolution != "refund":
        return
    fee = order["shipping"]["fee"]
    if c["type"] in MERCHANT_FAULT_CLAIM_TYPES and not item["gift"] and fee > 0:
        units = sum(line["quantity"] for line in order["items"] if not line["gift"])
        if units == c["quantity"]:
            fire("claims.merchant_fault_postage")
            claim.refund_amount = money(claim.refund_amount + fee)
            claim.reason(
                "claims.merchant_fault_postage",
                f"退回订单全部商品，退还运费 {show_money(fee)} 元",
                f"every unit of the order is returned: the postage {show_money(fee)} is refunded too",
            )
    if c["type"] not in RETURN_CLAIM_TYPES:
        return
    uploaded = c.get("return_tracking_uploaded_at")
    if "fast_refund" in claim.services and uploaded is not None:
        fire("fast_refund.immediate")
        claim.refund_timing = "immediate"
        when = show_time(ts(uploaded))
        claim.reason(
            "fast_refund.immediate",
            f"极速退款：已于 {when} 上传退货单号，立即退款",
            f"fast refund: return tracking uploaded at {when}, refunded immediately",
        )
        fire("claims.refund_on_return_received")  # its condition holds too; the faster timing wins
    else:
        fire("claims.refund_on_return_received")
        claim.refund_timing = "on_return_received"


# ------------------------------------------------------------------ compensation


def refused_valid_return(claim: _Claim, compensations: list[dict[str, Any]], violations: list[dict[str, str]], fire: Fire) -> None:
    c = claim.claim
    if claim.outcome != "approved" or c["type"] not in RETURN_CLAIM_TYPES or c["merchant_response"] != "refused":
        return
    rule = "claims.refused_valid_return"
    fire(rule)
    share = money(claim.item["paid_amount"] * REFUSED_VALID_RETURN_RATE)
    amount = money(max(REFUSED_VALID_RETURN_MIN, min(share, REFUSED_VALID_RETURN_MAX)))
    compensations.append({"type": "refused_valid_return", "amount": amount, "form": "red_packet", "payer": "merchant", "rule": rule})
    violations.append({"type": "refused_valid_return", "rule": rule})
    claim.reason(
        rule,
        "商家拒绝了符合规则的退货申请，向买家赔付红包并记违规",
        "the merchant refused a valid return; the buyer is compensated and a violation recorded",
    )


def shipment_compensation(
    order: dict[str, Any],
    paid_at: dt.datetime,
    as_of: dt.datetime,
    compensations: list[dict[str, Any]],
    violations: list[dict[str, str]],
    fire: Fire,
) -> None:
    log = order["logistics"]
    promised = ts(log["promised_ship_by"])
    if log["stock_out"]:
        short = log["promise_hours"] <= STOCK_OUT_SHORT_PROMISE_HOURS
        if not short and paid_at >= STOCK_OUT_SELF_ADMISSION_FROM:
            admitted = log.get("stock_out_admitted_at")
            short = admitted is not None and ts(admitted) < promised
        rate = STOCK_OUT_RATE_SHORT if short else STOCK_OUT_RATE_LONG
        share = money(actual_price(order["items"]) * rate)
        amount = money(max(STOCK_OUT_MIN, min(share, STOCK_OUT_CAP)))
        rule = "on_time_shipment.stock_out"
        fire(rule)
        compensations.append({"type": "stock_out", "amount": amount, "form": "red_packet", "payer": "merchant", "rule": rule})
        violations.append({"type": "stock_out", "rule": rule})
        return
    shipped = log.get("shipped_at")
    late = ts(shipped) > promised if shipped is not None else as_of > promised
    if late:
        amount = money(min(money(actual_price(order["items"]) * LATE_SHIPMENT_RATE), LATE_SHIPMENT_CAP))
        rule = "on_time_shipment.late"
        fire(rule)
        compensations.append({"type": "late_shipment", "amount": amount, "form": "tmall_points", "payer": "merchant", "rule": rule})
        violations.append({"type": "late_shipment", "rule": rule})


# ------------------------------------------------------------------ finalize


def finalize(claim: _Claim, compensations: list[dict[str, Any]], fire: Fire) -> None:
    if claim.outcome == "approved":
        fire("claims.compensation_total")
        claim.compensation_amount = money(sum((x["amount"] for x in compensations if x["type"] in CLAIM_COMPENSATION_TYPES), ZERO))
    received = claim.claim.get("merchant_received_at")
    if claim.refund_timing == "on_return_received" and received is not None:
        fire("claims.refund_due_by")
        received_at = ts(received)
        claim.refund_due_by = received_at + dt.timedelta(days=REFUND_DUE_DAYS)
        due = show_time(claim.refund_due_by)
        claim.reason(
            "claims.refund_due_by",
            f"商家于 {show_time(received_at)} 收到退货，应于 {due} 前退款",
            f"the merchant received the return at {show_time(received_at)}; the refund is due by {due}",
        )
    if claim.outcome != "approved":
        fire("claims.not_approved_owes_nothing")
        claim.resolution = "none"
        claim.refund_amount = claim.compensation_amount = ZERO
        claim.refund_timing = "none"
        claim.return_shipping_payer = "none"
