"""The benchmark's subset policy written for GoRules ZEN's compiled expression API (``pip install zen-engine``).

The peer in ``run.py``'s comparison: the same four guarantees and cross-cutting claim rules that
``make_subset.py`` copies and ``reference.py`` writes by hand, with every condition and every computed
value — windows, amounts, rates, caps, version dates, the reasons' texts in both languages — written as
ZEN expressions, compiled once with ``zen.compile_expression`` and evaluated per order in Rust.

What is ZEN and what is Python:

- **ZEN**: one compiled expression per stage of the policy (services; the claim decision of a
  counterfeit claim, of a no-reason claim; the merchant timeout; deductions; settlement; the refused
  valid return; shipment compensation; the claim's totals and due date). A stage's rules, in priority
  order, are one chain of conditions (``cond ? {rule: …, what it sets} : …``): the first that holds
  decides, as the engine's first-wins fields do, and the expression returns what that rule sets, with
  its reason texts (ZEN template strings). Money is ZEN's decimal arithmetic (``round(x, 2)`` rounds half
  away from zero: half-up for these non-negative amounts), dates are ZEN's ``d()`` in Asia/Shanghai.
- **Python**: the driver runs the stages in order, builds each one's context from the order, and
  assembles the decision document from what the expressions return (fields set, rules fired,
  compensations listed, amounts as ``Decimal``). Like the hand-written code, it does not call the
  settlement stage for a claim that is not approved, nor the deductions stage for one that is not an
  approved no-reason return (every rule there requires it). That is the work any program calling an
  expression API does; the conditions and values are ZEN's.

Why one expression per stage and not one per rule: every ``evaluate(ctx)`` converts its context from
Python objects to ZEN values (~0.7 µs per call plus ~0.4 µs per key); a call per rule would multiply that.
Why the compiled expression API and not a decision graph (JDM): it expresses this policy (ternaries,
object literals, ``map``/``filter``/``sum``, dates with time zones, decimals, templates), and the issue
measures it; a graph converts the whole order once but adds its own per-node cost (not measured here).

The input shape: ZEN's Python binding refuses ``Decimal`` ("unsupported type"), so money goes in as
``float`` — ZEN turns a float into the shortest decimal that reads back as it (19.99 stays 19.99; checked
on every order by the agreement check) — and amounts come back as decimal strings turned into
``Decimal``. Building each stage's context from the order dict is part of ``decide`` and is timed, as
the engine's own conversion of the same dict is.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import reference as ref
import zen

TZ = ref.TZ.key
CENT = Decimal("0.01")
ZERO = Decimal("0.00")


# ------------------------------------------------------------------ expression pieces (text substituted before compiling)


def _list(values: Any) -> str:
    return "[" + ", ".join(f"'{v}'" for v in sorted(values)) + "]"


def _local(instant: str) -> str:
    return f'd({instant}).tz("{TZ}")'


def _show_time(instant: str) -> str:
    """``reference.show_time``: local time, seconds only when there are some."""
    local = _local(instant)
    return f'({local}.second() == 0 ? {local}.format("%Y-%m-%d %H:%M") : {local}.format("%Y-%m-%d %H:%M:%S"))'


def _show_money(amount: str) -> str:
    """A non-negative amount with exactly two decimals (ZEN's ``string()`` drops trailing zeros)."""
    cents = f"round(({amount}) * 100)"
    return f'(string(floor({cents} / 100)) + "." + string({cents} % 100 + 100)[1:])'


def _money(amount: str) -> str:
    return f"string(round({amount}, 2))"


def _window_end(start: str, days: int) -> str:
    """The first late instant of "within N days after start": local midnight of start's day + N+1 days."""
    return f'{_local(start)}.startOf("day").add({days + 1}, "d")'


PRORATA = "round(paid * qty / units, 2)"
"""The claimed share of the line's paid amount (ctx: paid, qty, units)."""
INSURED_PAYER = "(insured and not abuse ? 'insurance' : 'buyer')"
LEAST = ref.show_money(ref.COUNTERFEIT_COMPENSATION_MIN)


def _rule(rule: str, **fields: str) -> str:
    """An object literal: what a rule sets (values are ZEN expressions)."""
    return "{" + ", ".join([f"rule: '{rule}'", *(f"{k}: {v}" for k, v in fields.items())]) + "}"


# ------------------------------------------------------------------ the stages

SERVICES = (
    "{"
    "authenticity: verified, "
    f"fast_refund: credit >= {ref.FAST_REFUND_MIN_CREDIT_SCORE} and not abuse, "
    "seven_day: map(lines, not #.gift and ('seven_day_opt_in' in #.flags or not ("
    f"#.category in {_list(ref.SEVEN_DAY_STATUTORY_EXCLUDED_CATEGORIES)}"
    f" or some(#.flags, # in {_list(ref.SEVEN_DAY_STATUTORY_EXCLUDED_FLAGS)})"
    f" or #.category in {_list(ref.SEVEN_DAY_PLATFORM_EXCLUDED_CATEGORIES)}"
    f" or (#.category in {_list(ref.SEVEN_DAY_CONFIRMATION_CATEGORIES)} and 'no_return_confirmed' in #.flags))))"
    "}"
)

_CF_END = _window_end("signed", ref.COUNTERFEIT_WINDOW_DAYS)
_MULTIPLIER = (
    f"(program == 'subsidy' ? {ref.COUNTERFEIT_MULTIPLIER_SUBSIDY} : "
    f"(program == 'global' and d(paid_at) >= d('{ref.GLOBAL_NINEFOLD_FROM.isoformat()}')) ? {ref.COUNTERFEIT_MULTIPLIER_GLOBAL} : "
    f"{ref.COUNTERFEIT_MULTIPLIER_STANDARD})"
)
COUNTERFEIT = (
    "not covered ? (inspection == 'counterfeit_confirmed' ? "
    + _rule(
        "authenticity.law_floor",
        outcome="'approved'",
        refund=_money(PRORATA),
        payer="'merchant'",
        compensation=_money(f"max([{ref.COUNTERFEIT_LAW_MULTIPLIER} * {PRORATA}, {ref.COUNTERFEIT_COMPENSATION_MIN}])"),
        zh=f"'鉴定为假货：依法退款并赔偿退款的 {ref.COUNTERFEIT_LAW_MULTIPLIER} 倍，至少 {LEAST} 元'",
        en=f"'counterfeit confirmed: refund plus {ref.COUNTERFEIT_LAW_MULTIPLIER}× the refund, at least {LEAST}, by law'",
    )
    + " : "
    + _rule(
        "authenticity.not_covered",
        outcome="'rejected'",
        zh="'该商品无正品保障服务（店铺资质未核验）'",
        en="'the line has no genuine-goods guarantee (the shop is not verified)'",
    )
    + ") : signed == null ? "
    + _rule(
        "authenticity.not_signed",
        outcome="'needs_review'",
        zh="'订单尚未签收，无法计算假货申请期限，转人工审核'",
        en="'the order has not been signed for, so the counterfeit window cannot be computed; needs review'",
    )
    + f" : d(requested) >= {_CF_END} ? "
    + _rule(
        "authenticity.late",
        outcome="'rejected'",
        zh=f"`申请时间 ${{{_show_time('requested')}}} 不早于 {ref.COUNTERFEIT_WINDOW_DAYS} 天期限截止时刻 ${{{_show_time(_CF_END)}}}`",
        en=f"`requested at ${{{_show_time('requested')}}}, after the {ref.COUNTERFEIT_WINDOW_DAYS}-day window ended at "
        f"${{{_show_time(_CF_END)}}}`",
    )
    + " : inspection in ['pending', 'none'] ? "
    + _rule(
        "authenticity.pending",
        outcome="'needs_review'",
        zh="'假货申请等待鉴定结论'",
        en="'the counterfeit claim is waiting for an inspection'",
    )
    + " : inspection != 'counterfeit_confirmed' ? "
    + _rule(
        "authenticity.not_counterfeit",
        outcome="'rejected'",
        zh="`鉴定结论为 ${inspection}，不是假货`",
        en="`the inspection found ${inspection}, not a counterfeit`",
    )
    + " : "
    + _rule(
        "authenticity.approve",
        outcome="'approved'",
        refund=_money(PRORATA),
        payer="'merchant'",
        compensation=_money(f"max([{_MULTIPLIER} * {PRORATA}, {ref.COUNTERFEIT_COMPENSATION_MIN}])"),
        zh=f"`鉴定为假货：退款 ${{{_show_money(PRORATA)}}} 元，并按 ${{{_MULTIPLIER}}} 倍赔偿（至少 {LEAST} 元）`",
        en=f"`counterfeit confirmed: refund ${{{_show_money(PRORATA)}}} and ${{{_MULTIPLIER}}}× compensation (at least {LEAST})`",
    )
)

_NR_END = _window_end("signed", ref.SEVEN_DAY_WINDOW_DAYS)
_N = ref.SEVEN_DAY_WINDOW_DAYS
NO_REASON = (
    "not covered ? "
    + _rule(
        "seven_day_return.not_covered",
        outcome="'rejected'",
        zh="`该商品（${title}）不支持7天无理由退换货`",
        en="`the line (${sku}) has no 7-day no-reason return service`",
    )
    + " : signed == null ? "
    + _rule(
        "seven_day_return.not_signed",
        outcome="'needs_review'",
        zh="'订单尚未签收，无法计算7天无理由期限，转人工审核'",
        en="'the order has not been signed for, so the 7-day window cannot be computed; needs review'",
    )
    + f" : d(requested) >= {_NR_END} ? "
    + _rule(
        "seven_day_return.late",
        outcome="'rejected'",
        zh=f"`申请时间 ${{{_show_time('requested')}}} 不早于 {_N} 天期限截止时刻 ${{{_show_time(_NR_END)}}}"
        f"（签收 ${{{_show_time('signed')}}}）`",
        en=f"`requested at ${{{_show_time('requested')}}}, after the {_N}-day window ended at ${{{_show_time(_NR_END)}}} "
        f"(signed ${{{_show_time('signed')}}})`",
    )
    + f" : not (condition in {_list(ref.SEVEN_DAY_RETURN_CONDITIONS)}) ? "
    + _rule(
        "seven_day_return.condition",
        outcome="'rejected'",
        zh="`商品状态（${condition}）不符合7天无理由退换货要求`",
        en="`the item's condition (${condition}) does not allow a no-reason return`",
    )
    + " : type == 'no_reason_return' ? "
    + _rule(
        "seven_day_return.approve_return",
        outcome="'approved'",
        refund=_money(PRORATA),
        payer=INSURED_PAYER,
        zh=f"'签收次日起 {_N} 天内申请、商品状态合格，同意退货退款'",
        en=f"'requested within {_N} days after signing, in an accepted condition: return approved'",
    )
    + " : "
    + _rule(
        "seven_day_return.approve_exchange",
        outcome="'approved'",
        resolution="'exchange'",
        payer="'buyer'",
        zh=f"'签收次日起 {_N} 天内申请，同意换货，运费由买家承担'",
        en=f"'requested within {_N} days after signing: exchange approved, the buyer pays shipping'",
    )
)

_H = ref.MERCHANT_RESPONSE_TIMEOUT_HOURS
MERCHANT_TIMEOUT = (
    f"outcome == 'needs_review' and type in {_list(ref.RETURN_CLAIM_TYPES)} and response == 'none'"
    f" and d(as_of) > d(requested).add({_H}, 'h') ? "
    + _rule(
        "claims.merchant_timeout",
        outcome="'approved'",
        resolution="(type == 'no_reason_return' ? 'refund' : wanted)",
        refund=f"(type == 'no_reason_return' or wanted == 'refund' ? {_money(PRORATA)} : '0.00')",
        payer=f"(type in {_list(ref.MERCHANT_FAULT_CLAIM_TYPES)} ? 'merchant' : {INSURED_PAYER})",
        zh=f"`商家超过 {_H} 小时未处理（申请于 ${{{_show_time('requested')}}}），视为同意`",
        en=f"`the merchant did not answer within {_H} h of the claim (${{{_show_time('requested')}}}): approved as agreed`",
    )
    + " : null"
)

_GIFT_VALUE = "sum(map(filter(lines, #.gift), #.gift_value))"
_PAID_TOTAL = "sum(map(filter(lines, not #.gift), #.paid))"
_KEPT_PAID = f"({_PAID_TOTAL} - refund)"
_KEPT_LIST = "(sum(map(filter(lines, not #.gift), #.unit * #.qty)) - unit * qty)"
_RESETTLED = f"max([0, {_PAID_TOTAL} - {_KEPT_LIST}])"
DEDUCTIONS = (
    "{"
    f"gift: {_GIFT_VALUE} > 0 and not gift_returned ? "
    + _rule(
        "seven_day_return.gift_not_returned",
        amount=_money(_GIFT_VALUE),
        zh=f"`赠品未退回，扣除赠品价值 ${{{_show_money(_GIFT_VALUE)}}} 元`",
        en=f"`the gift was kept: its declared value ${{{_show_money(_GIFT_VALUE)}}} is deducted`",
    )
    + " : null, "
    "shipping: free_shipping == 'conditional' and threshold != null and waived != null"
    f" and {_KEPT_PAID} < threshold and waived > 0 ? "
    + _rule(
        "seven_day_return.free_shipping_lost",
        amount=_money("waived"),
        zh=f"`退货后保留商品金额 ${{{_show_money(_KEPT_PAID)}}} 元低于包邮门槛 ${{{_show_money('threshold')}}} 元，"
        f"扣除减免运费 ${{{_show_money('waived')}}} 元`",
        en=f"`the kept lines (${{{_show_money(_KEPT_PAID)}}}) fall below the free-shipping threshold ${{{_show_money('threshold')}}}: "
        f"the waived fee ${{{_show_money('waived')}}} is deducted`",
    )
    + " : null, "
    f"promotion: promotion != null and {_KEPT_LIST} < promotion and refund > {_RESETTLED} ? "
    + _rule(
        "seven_day_return.promotion_lost",
        amount=_money(f"max([0, refund - {_RESETTLED}])"),
        zh=f"`退货后保留商品原价 ${{{_show_money(_KEPT_LIST)}}} 元低于满减门槛 ${{{_show_money('promotion')}}} 元，按原价重新结算`",
        en=f"`the kept lines' list value ${{{_show_money(_KEPT_LIST)}}} falls below the discount threshold "
        f"${{{_show_money('promotion')}}}: re-settled at list price`",
    )
    + " : null"
    "}"
)

_AFTER = "(after_deductions ? max([0, refund - deducted]) : refund)"
_POSTAGE = f"type in {_list(ref.MERCHANT_FAULT_CLAIM_TYPES)} and not gift and fee > 0 and units_bought == qty"
SETTLE = (
    "{"
    f"after_deductions: after_deductions, "
    f"refund: {_money(f'{_AFTER} + (resolution == {chr(39)}refund{chr(39)} and {_POSTAGE} ? fee : 0)')}, "
    f"postage: resolution == 'refund' and {_POSTAGE} ? "
    + _rule(
        "claims.merchant_fault_postage",
        zh=f"`退回订单全部商品，退还运费 ${{{_show_money('fee')}}} 元`",
        en=f"`every unit of the order is returned: the postage ${{{_show_money('fee')}}} is refunded too`",
    )
    + " : null, "
    f"timing: resolution == 'refund' and type in {_list(ref.RETURN_CLAIM_TYPES)} ? "
    "(fast and uploaded != null ? "
    + _rule(
        "fast_refund.immediate",
        timing="'immediate'",
        zh=f"`极速退款：已于 ${{{_show_time('uploaded')}}} 上传退货单号，立即退款`",
        en=f"`fast refund: return tracking uploaded at ${{{_show_time('uploaded')}}}, refunded immediately`",
    )
    + " : "
    + _rule("claims.refund_on_return_received", timing="'on_return_received'")
    + ") : null"
    "}"
)

REFUSED_VALID_RETURN = (
    f"outcome == 'approved' and type in {_list(ref.RETURN_CLAIM_TYPES)} and response == 'refused' ? "
    + _rule(
        "claims.refused_valid_return",
        amount=_money(
            f"max([{ref.REFUSED_VALID_RETURN_MIN}, "
            f"min([round(paid * {ref.REFUSED_VALID_RETURN_RATE}, 2), {ref.REFUSED_VALID_RETURN_MAX}])])"
        ),
        zh="'商家拒绝了符合规则的退货申请，向买家赔付红包并记违规'",
        en="'the merchant refused a valid return; the buyer is compensated and a violation recorded'",
    )
    + " : null"
)

_ACTUAL_PRICE = "sum(map(filter(lines, not #.gift), #.paid))"
_SHORT = (
    f"(promise_hours <= {ref.STOCK_OUT_SHORT_PROMISE_HOURS} or (d(paid_at) >= d('{ref.STOCK_OUT_SELF_ADMISSION_FROM.isoformat()}')"
    " and admitted != null and d(admitted) < d(promised)))"
)
SHIPMENT = (
    "stock_out ? "
    + _rule(
        "on_time_shipment.stock_out",
        type="'stock_out'",
        form="'red_packet'",
        amount=_money(
            f"max([{ref.STOCK_OUT_MIN}, "
            f"min([round({_ACTUAL_PRICE} * ({_SHORT} ? {ref.STOCK_OUT_RATE_SHORT} : {ref.STOCK_OUT_RATE_LONG}), 2), "
            f"{ref.STOCK_OUT_CAP}])])"
        ),
    )
    + " : (shipped != null ? d(shipped) > d(promised) : d(as_of) > d(promised)) ? "
    + _rule(
        "on_time_shipment.late",
        type="'late_shipment'",
        form="'tmall_points'",
        amount=_money(f"min([round({_ACTUAL_PRICE} * {ref.LATE_SHIPMENT_RATE}, 2), {ref.LATE_SHIPMENT_CAP}])"),
    )
    + " : null"
)

_CLAIM_COMPENSATIONS = f"sum(map(filter(compensations, #.type in {_list(ref.CLAIM_COMPENSATION_TYPES)}), #.amount))"
_DUE = f'd(received).add({ref.REFUND_DUE_DAYS}, "d").tz("{TZ}")'
FINALIZE = (
    "{"
    f"total: outcome == 'approved' ? {_money(_CLAIM_COMPENSATIONS)}"
    " : null, "
    "due: timing == 'on_return_received' and received != null ? "
    + _rule(
        "claims.refund_due_by",
        at=f'{_DUE}.format("%Y-%m-%dT%H:%M:%S%:z")',
        zh=f"`商家于 ${{{_show_time('received')}}} 收到退货，应于 ${{{_show_time(_DUE)}}} 前退款`",
        en=f"`the merchant received the return at ${{{_show_time('received')}}}; the refund is due by ${{{_show_time(_DUE)}}}`",
    )
    + " : null"
    "}"
)

STAGES = {
    "services": SERVICES,
    "counterfeit": COUNTERFEIT,
    "no_reason": NO_REASON,
    "merchant_timeout": MERCHANT_TIMEOUT,
    "deductions": DEDUCTIONS,
    "settle": SETTLE,
    "refused_valid_return": REFUSED_VALID_RETURN,
    "shipment": SHIPMENT,
    "finalize": FINALIZE,
}


def compile_stages() -> dict[str, Callable[[dict[str, Any]], Any]]:
    """Every stage compiled once (the policy's load); ``evaluate`` is what runs per order."""
    return {name: zen.compile_expression(text).evaluate for name, text in STAGES.items()}


_EVAL = compile_stages()
SERVICE_ORDER = ("authenticity", "fast_refund", "on_time_shipment", "seven_day_return")


def _num(value: Any) -> Any:
    return None if value is None else float(value)


# ------------------------------------------------------------------ the driver


def decide(order: dict[str, Any]) -> dict[str, Any]:
    """Decide one order with the subset policy in ZEN; the same document as ``reference.decide``."""
    ev = _EVAL
    items = order["items"]
    buyer = order["buyer"]
    fired: list[str] = []
    compensations: list[dict[str, Any]] = []
    violations: list[dict[str, str]] = []

    def fire(rule: str) -> None:
        if rule not in fired:
            fired.append(rule)

    # Each stage gets the lines' fields it reads (every key costs a conversion at every call).
    paid_lines = [{"gift": line["gift"], "paid": float(line["paid_amount"])} for line in items]
    service_lines = [{"category": line["category"], "flags": line["flags"], "gift": line["gift"]} for line in items]
    verified = order["shop"]["qualification_verified"]
    granted = ev["services"]({"verified": verified, "credit": buyer["credit_score"], "abuse": buyer["abuse_flag"], "lines": service_lines})
    common = [s for s in ("authenticity", "fast_refund") if granted[s]] + ["on_time_shipment"]
    services = {
        item["sku"]: [] if item["gift"] else [*common, "seven_day_return"] if seven else list(common)
        for item, seven in zip(items, granted["seven_day"], strict=True)
    }
    for service in SERVICE_ORDER:
        if any(service in given for given in services.values()):
            fire(f"{service}.service")

    log = order["logistics"]
    claim = order.get("claim")
    decided: dict[str, Any] | None = None
    if claim is not None:
        ctype = claim["type"]
        item = next(line for line in items if line["sku"] == claim["sku"])
        line_services = services[item["sku"]]
        state: dict[str, Any] = {
            "outcome": "needs_review",
            "resolution": "none",
            "refund": ZERO,
            "timing": "none",
            "payer": "none",
            "due": None,
        }
        deductions: list[dict[str, Any]] = []
        reasons: list[dict[str, str]] = []
        money = {"paid": float(item["paid_amount"]), "qty": claim["quantity"], "units": item["quantity"]}
        insured = {"insured": "return_shipping_insurance" in line_services, "abuse": buyer["abuse_flag"]}

        def apply(result: dict[str, Any] | None) -> None:
            if result is None:
                return
            fire(result["rule"])
            for key in ("outcome", "resolution", "payer", "timing"):
                if key in result:
                    state[key] = result[key]
            if "refund" in result:
                state["refund"] = Decimal(result["refund"]).quantize(CENT)
                if "resolution" not in result and result.get("outcome") == "approved":
                    state["resolution"] = "refund"
            if "zh" in result:
                reasons.append({"rule": result["rule"], "message": f"{result['zh']} / {result['en']}"})

        # claim stage: the deciding rules of the claim's guarantee
        signed = log.get("signed_at")
        if ctype == "counterfeit":
            result = ev["counterfeit"](
                {
                    "covered": "authenticity" in line_services,
                    "inspection": claim["inspection"],
                    "signed": signed,
                    "requested": claim["requested_at"],
                    "program": order["program"],
                    "paid_at": order["paid_at"],
                    **money,
                }
            )
            apply(result)
            if "compensation" in result:
                amount = Decimal(result["compensation"]).quantize(CENT)
                compensations.append({"type": "counterfeit", "amount": amount, "form": "cash", "payer": "merchant", "rule": result["rule"]})
        elif ctype in ("no_reason_return", "no_reason_exchange"):
            apply(
                ev["no_reason"](
                    {
                        "covered": "seven_day_return" in line_services,
                        "signed": signed,
                        "requested": claim["requested_at"],
                        "condition": claim["item_condition"],
                        "type": ctype,
                        "title": item["title"],
                        "sku": item["sku"],
                        **money,
                        **insured,
                    }
                )
            )
        # review: the merchant timeout
        apply(
            ev["merchant_timeout"](
                {
                    "outcome": state["outcome"],
                    "type": ctype,
                    "response": claim["merchant_response"],
                    "requested": claim["requested_at"],
                    "as_of": order["as_of"],
                    "wanted": claim["resolution_requested"],
                    **money,
                    **insured,
                }
            )
        )
        # adjust: deductions from an approved no-reason refund
        if ctype == "no_reason_return" and state["outcome"] == "approved":
            shipping = order["shipping"]
            promotion = order.get("promotion")
            money_lines = [
                {
                    "gift": line["gift"],
                    "paid": float(line["paid_amount"]),
                    "unit": float(line["unit_price"]),
                    "qty": line["quantity"],
                    "gift_value": float(line.get("declared_gift_value", 0)),
                }
                for line in items
            ]
            found = ev["deductions"](
                {
                    "lines": money_lines,
                    "refund": float(state["refund"]),
                    "unit": float(item["unit_price"]),
                    "qty": claim["quantity"],
                    "gift_returned": claim["gift_returned"],
                    "free_shipping": shipping["free_shipping"],
                    "threshold": _num(shipping.get("threshold")),
                    "waived": _num(shipping.get("waived_fee")),
                    "promotion": None if promotion is None else float(promotion["threshold"]),
                }
            )
            for key, kind in (("gift", "gift_not_returned"), ("shipping", "free_shipping_lost"), ("promotion", "promotion_lost")):
                part = found[key]
                if part is not None:
                    fire(part["rule"])
                    deductions.append({"type": kind, "amount": Decimal(part["amount"]).quantize(CENT)})
                    reasons.append({"rule": part["rule"], "message": f"{part['zh']} / {part['en']}"})
        # settle: the refund after deductions and postage, and its timing
        if state["outcome"] == "approved":
            after = ctype == "no_reason_return" and bool(deductions)
            settled = ev["settle"](
                {
                    "after_deductions": after,
                    "refund": float(state["refund"]),
                    "deducted": float(sum(d["amount"] for d in deductions)),
                    "resolution": state["resolution"],
                    "type": ctype,
                    "gift": item["gift"],
                    "fee": float(order["shipping"]["fee"]),
                    "units_bought": sum(line["quantity"] for line in items if not line["gift"]),
                    "qty": claim["quantity"],
                    "fast": "fast_refund" in line_services,
                    "uploaded": claim.get("return_tracking_uploaded_at"),
                }
            )
            if after:
                fire("seven_day_return.refund_after_deductions")
            state["refund"] = Decimal(settled["refund"]).quantize(CENT)
            if settled["postage"] is not None:
                apply(settled["postage"])
            timing = settled["timing"]
            if timing is not None:
                apply(timing)
                if timing["rule"] == "fast_refund.immediate":
                    fire("claims.refund_on_return_received")  # its condition holds too; the faster timing wins
        # compensation: a valid return the merchant refused
        refused = ev["refused_valid_return"]({"outcome": state["outcome"], "type": ctype, "response": claim["merchant_response"], **money})
        if refused is not None:
            apply(refused)
            compensations.append(
                {
                    "type": "refused_valid_return",
                    "amount": Decimal(refused["amount"]).quantize(CENT),
                    "form": "red_packet",
                    "payer": "merchant",
                    "rule": refused["rule"],
                }
            )
            violations.append({"type": "refused_valid_return", "rule": refused["rule"]})
        decided = {"claim": claim, "state": state, "deductions": deductions, "reasons": reasons}

    shipment = ev["shipment"](
        {
            "stock_out": log["stock_out"],
            "promise_hours": log["promise_hours"],
            "paid_at": order["paid_at"],
            "admitted": log.get("stock_out_admitted_at"),
            "promised": log["promised_ship_by"],
            "shipped": log.get("shipped_at"),
            "as_of": order["as_of"],
            "lines": paid_lines,
        }
    )
    if shipment is not None:
        fire(shipment["rule"])
        amount = Decimal(shipment["amount"]).quantize(CENT)
        compensations.append(
            {"type": shipment["type"], "amount": amount, "form": shipment["form"], "payer": "merchant", "rule": shipment["rule"]}
        )
        violations.append({"type": shipment["type"], "rule": shipment["rule"]})

    out: dict[str, Any] = {"order_id": order["order_id"], "as_of": order["as_of"], "services": services}
    if decided is not None:
        state, claim = decided["state"], decided["claim"]
        final = ev["finalize"](
            {
                "outcome": state["outcome"],
                "timing": state["timing"],
                "received": claim.get("merchant_received_at"),
                "compensations": [{"type": c["type"], "amount": float(c["amount"])} for c in compensations],
            }
        )
        compensation_amount = ZERO
        if final["total"] is not None:
            fire("claims.compensation_total")
            compensation_amount = Decimal(final["total"]).quantize(CENT)
        due = final["due"]
        if due is not None:
            fire(due["rule"])
            state["due"] = due["at"]
            decided["reasons"].append({"rule": due["rule"], "message": f"{due['zh']} / {due['en']}"})
        if state["outcome"] != "approved":
            fire("claims.not_approved_owes_nothing")
            state.update(resolution="none", refund=ZERO, timing="none", payer="none")
            compensation_amount = ZERO
        result: dict[str, Any] = {
            "id": claim["id"],
            "type": claim["type"],
            "outcome": state["outcome"],
            "resolution": state["resolution"],
            "refund_amount": state["refund"],
            "compensation_amount": compensation_amount,
            "refund_timing": state["timing"],
        }
        if state["due"] is not None:
            result["refund_due_by"] = state["due"]
        result["refund_channel"] = order["payment"]["method"]
        result["return_shipping_payer"] = state["payer"]
        result["deductions"] = decided["deductions"]
        result["reasons"] = decided["reasons"]
        out["claim"] = result
    out["compensations"] = compensations
    out["violations"] = violations
    out["fired"] = fired
    return out
