"""Write a generated policy of N (default 1,000) varied, valid rules, to time loading a large policy.

The folder gets the default manifest, parameters and definitions (copied from
``rules/``), and the generated rules in files of 100 (``generated/rules_NN.yaml``).
The rules are built from a dozen templates over the order facts — service grants
per line, claim decisions with windows and inspections, deductions, merchant
timeouts, order-level compensations and violations, reasons with placeholders —
with randomised categories, thresholds, windows and rates (seeded). Every rule
has its own priority, so no two rules of a stage can conflict on a field, and
actions that need a claim sit in ``claimed_line`` scope, so the policy also
evaluates the corpus without errors (``run.py`` checks a few hundred orders).

    python benchmarks/many_rules.py [DEST] [--rules 1000] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path
from random import Random

REPO = Path(__file__).resolve().parent.parent
RULES = REPO / "rules"
BASE_FILES = ("policy.yaml", "parameters.yaml", "definitions.yaml")
PER_FILE = 100


def words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


CATEGORIES = words(
    "apparel shoes_bags toys home_textiles beauty personal_care food fresh_food phone computer small_appliance "
    "large_appliance furniture building_materials books periodicals digital_content audio_video jewelry_gold "
    "underwear medicine alcohol vr_devices vehicles services custom_goods"
)
FLAGS = ("customized", "unsealed_media", "no_return_confirmed", "seven_day_opt_in", "needs_installation", "large")
SERVICES = words(
    "official_store authenticity seven_day_return return_shipping_insurance fast_refund damage_return "
    "quality_return not_as_described after_sales_care price_protection delivery_install installation trade_in "
    "on_time_shipment livestream_parity"
)
CLAIM_TYPES = words(
    "no_reason_return no_reason_exchange quality_issue damaged_on_arrival counterfeit not_as_described price_drop "
    "installation_issue trade_in repair"
)
INSPECTIONS = ("defect_confirmed", "counterfeit_confirmed", "no_defect", "mismatch_confirmed_platform", "mismatch_confirmed_merchant")
CONDITIONS = ("intact", "opened_for_inspection", "activated", "seal_broken", "tags_removed", "used", "damaged")
PROGRAMS = ("standard", "subsidy", "global")
CHANNELS = ("app", "web", "mini_program", "livestream")
METHODS = ("alipay", "huabei", "bank_card", "credit_card")
SHOP_TYPES = ("official_flagship", "tmall_global_direct", "flagship", "specialty", "franchise")
RATES = ("0.01", "0.02", "0.03", "0.05", "0.08", "0.10", "0.15", "0.20")
COMPENSATION_FORMS = {
    "late_shipment": "tmall_points",
    "stock_out": "red_packet",
    "refused_valid_return": "red_packet",
    "counterfeit": "cash",
    "not_as_described": "red_packet",
    "installation_late": "red_packet",
    "delivery_install_late": "cash",
}


def q(text: str) -> str:
    """A YAML flow scalar for an expression (JSON strings are valid YAML)."""
    return json.dumps(text, ensure_ascii=False)


def names(rng: Random, pool: tuple[str, ...] | list[str], k: int) -> str:
    return "[" + ", ".join(f"'{x}'" for x in rng.sample(list(pool), k)) + "]"


def _header(i: int, stage: str, priority: int, scope: str, what: str) -> list[str]:
    return [
        f"  - id: generated.r{i:04d}",
        f"    title: {{zh: 生成规则 {i}, en: Generated rule {i}}}",
        f"    description: {q(f'负载基准生成的规则：{what} / generated for the load benchmark: {what}')}",
        "    source: benchmarks/many_rules.py",
        f"    stage: {stage}",
        f"    priority: {priority}",
        f"    scope: {scope}",
    ]


def _when(leaves: list[tuple[str, str]], op: str = "all") -> list[str]:
    out = ["    when:", f"      {op}:"]
    for label, expr in leaves:
        out.append(f"        - {{label: {q(label)}, expr: {q(expr)}}}")
    return out


def rule(i: int, priority: int, rng: Random) -> str:
    """One rule from one of twelve templates, chosen by ``i`` (so every template is used evenly)."""
    kind = i % 12
    if kind == 0:  # a service for lines of some categories above a price
        lines = _header(i, "services", priority, "line", "service by category and price")
        lines += _when(
            [
                ("not a gift", "not item.gift"),
                ("category", f"item.category in {names(rng, CATEGORIES, rng.randint(2, 6))}"),
                ("price", f"item.paid_amount >= {rng.randint(1, 2000)}"),
            ]
        )
        lines += ["    then:", f"      - add_service: {rng.choice(SERVICES)}"]
    elif kind == 1:  # a service by shop and flags
        lines = _header(i, "services", priority, "line", "service by shop and flags")
        lines += _when(
            [
                ("not a gift", "not item.gift"),
                ("shop", f"shop.type in {names(rng, SHOP_TYPES, 2)} or '{rng.choice(FLAGS)}' in item.flags"),
            ],
            "any",
        )
        lines += ["    then:", f"      - add_service: {rng.choice(SERVICES)}"]
    elif kind == 2:  # a claim window after signing
        days = rng.choice((3, 7, 10, 15, 30, 90))
        lines = _header(i, "claim", priority, "claimed_line", "claim window after signing")
        lines += _when(
            [
                ("type", f"claim.type == '{rng.choice(CLAIM_TYPES)}'"),
                ("signed", "has(logistics.signed_at)"),
                ("late", f"not within_days_after(logistics.signed_at, {days}, claim.requested_at)"),
            ]
        )
        lines += [
            "    then:",
            "      - set: {claim.outcome: rejected}",
            "      - reason:",
            f"          zh: {q(f'申请时间 {{claim.requested_at}} 晚于 {{window_end(logistics.signed_at, {days})}}')}",
            f"          en: {q(f'requested at {{claim.requested_at}}, after {{window_end(logistics.signed_at, {days})}}')}",
        ]
    elif kind == 3:  # an approval on an inspection
        lines = _header(i, "claim", priority, "claimed_line", "approval on an inspection")
        lines += _when(
            [
                ("type", f"claim.type in {names(rng, CLAIM_TYPES, 3)}"),
                ("inspection", f"claim.inspection == '{rng.choice(INSPECTIONS)}'"),
                ("condition", f"claim.item_condition in {names(rng, CONDITIONS, 3)}"),
            ]
        )
        lines += [
            "    then:",
            "      - set:",
            "          claim.outcome: approved",
            "          claim.resolution: {expr: claim.resolution_requested}",
            "          claim.refund_amount: \"claimed_prorata if claim.resolution_requested == 'refund' else 0\"",
            f"          claim.return_shipping_payer: {rng.choice(('merchant', 'buyer'))}",
            "      - reason: {zh: '鉴定结论为 {claim.inspection}', en: 'inspection: {claim.inspection}'}",
        ]
    elif kind == 4:  # needs review when a fact is missing
        optional = rng.choice(("claim.merchant_received_at", "claim.return_tracking_uploaded_at", "claim.confirmed_receipt_at"))
        lines = _header(i, "claim", priority, "claimed_line", "review when a fact is missing")
        lines += _when([("type", f"claim.type == '{rng.choice(CLAIM_TYPES)}'"), ("missing", f"not has({optional})")])
        lines += ["    then:", "      - set: {claim.outcome: needs_review}"]
    elif kind == 5:  # a deduction from an approved refund
        lines = _header(i, "adjust", priority, "claimed_line", "deduction")
        lines += _when(
            [
                ("approved refund", "approved_refund"),
                ("kept below", f"kept_paid_total < {rng.randint(50, 3000)}"),
                ("gift kept", "not claim.gift_returned"),
            ]
        )
        rate = rng.choice(RATES)
        lines += [
            "    then:",
            f"      - deduction: {{type: {rng.choice(('gift_not_returned', 'free_shipping_lost', 'promotion_lost'))}, "
            f"amount: {q(f'percent_of(claimed_prorata, {rate})')}}}",
        ]
    elif kind == 6:  # a refund timing
        lines = _header(i, "settle", priority, "claimed_line", "refund timing")
        lines += _when(
            [
                ("approved refund", "approved_refund"),
                ("credit", f"buyer.credit_score >= {rng.randint(350, 950)}"),
                ("method", f"payment.method in {names(rng, METHODS, 2)}"),
            ]
        )
        lines += ["    then:", f"      - set: {{claim.refund_timing: {rng.choice(('immediate', 'on_return_received'))}}}"]
    elif kind == 7:  # an order-level compensation on a late instant
        ctype = rng.choice(tuple(COMPENSATION_FORMS))
        hours = rng.choice((12, 24, 48, 72))
        lines = _header(i, "compensation", priority, "order", "late compensation")
        lines += _when(
            [
                ("shipped late", f"has(logistics.shipped_at) and logistics.shipped_at > logistics.promised_ship_by + hours({hours})"),
                ("program", f"program in {names(rng, PROGRAMS, 2)}"),
            ]
        )
        cap = rng.randint(50, 800)
        lines += [
            "    then:",
            "      - compensation:",
            f"          type: {ctype}",
            f"          amount: {q(f'clamp(percent_of(order_actual_price, {rng.choice(RATES)}), 1, {cap})')}",
            f"          form: {COMPENSATION_FORMS[ctype]}",
            "          payer: merchant",
            f"      - violation: {ctype}"
            if ctype in ("late_shipment", "stock_out", "refused_valid_return")
            else "      - violation: late_shipment",
        ]
    elif kind == 8:  # a compensation by a generator over the lines
        lines = _header(i, "compensation", priority, "order", "compensation over the lines")
        cats = names(rng, CATEGORIES, rng.randint(2, 5))
        lines += _when(
            [
                ("lines", f"any(l.category in {cats} for l in items if not l.gift)"),
                ("channel", f"channel in {names(rng, CHANNELS, 2)}"),
                ("total", f"sum(l.paid_amount for l in items) > {rng.randint(10, 5000)}"),
            ]
        )
        lines += [
            "    then:",
            "      - compensation:",
            "          type: stock_out",
            f"          amount: {q(f'min(sum(l.paid_amount for l in items if l.category in {cats}), {rng.randint(5, 300)})')}",
            "          form: red_packet",
            "          payer: merchant",
        ]
    elif kind == 9:  # a merchant timeout variant
        hours = rng.choice((24, 36, 48, 72))
        lines = _header(i, "review", priority, "claimed_line", "merchant timeout")
        lines += _when(
            [
                ("needs review", "decision.claim.outcome == 'needs_review'"),
                ("no answer", "claim.merchant_response == 'none'"),
                ("timeout", f"as_of > claim.requested_at + hours({hours})"),
            ]
        )
        lines += [
            "    then:",
            "      - set: {claim.outcome: approved, claim.resolution: {expr: claim.resolution_requested}}",
            f"      - reason: {{zh: '超过 {hours} 小时未处理', en: 'no answer within {hours} h'}}",
        ]
    elif kind == 10:  # a due date
        days = rng.choice((3, 5, 7, 10))
        lines = _header(i, "finalize", priority, "claimed_line", "refund due date")
        lines += _when(
            [
                ("received", "has(claim.merchant_received_at)"),
                ("approved", "decision.claim.outcome == 'approved'"),
                ("paid", f"paid_at >= placed_at and days_between(paid_at, as_of) > {rng.randint(0, 60)}"),
            ]
        )
        lines += ["    then:", f"      - set: {{claim.refund_due_by: {q(f'add_days(claim.merchant_received_at, {days})')}}}"]
    else:  # a compensation total
        lines = _header(i, "finalize", priority, "order", "compensation total")
        lines += _when(
            [
                ("approved", "decision.claim.outcome == 'approved'"),
                ("credit", f"buyer.credit_score < {rng.randint(400, 900)} or buyer.abuse_flag"),
            ]
        )
        lines += [
            "    then:",
            "      - set:",
            "          claim.compensation_amount: sum(c.amount for c in decision.compensations)",
        ]
    return "\n".join(lines)


def write_many_rules(dest: Path | None = None, count: int = 1000, seed: int = 1, rules: Path = RULES) -> Path:
    """Write the policy folder (a new temporary folder if ``dest`` is None) and return it."""
    folder = Path(tempfile.mkdtemp(prefix="ruleengine-many-")) if dest is None else Path(dest)
    folder.mkdir(parents=True, exist_ok=True)
    for name in BASE_FILES:
        shutil.copyfile(rules / name, folder / name)
    rng = Random(seed)
    (folder / "generated").mkdir(exist_ok=True)
    for start in range(0, count, PER_FILE):
        body = [rule(i, 10 * (count - i), rng) for i in range(start + 1, min(start + PER_FILE, count) + 1)]
        text = "# Generated by benchmarks/many_rules.py for the load benchmark.\nrules:\n" + "\n\n".join(body) + "\n"
        (folder / "generated" / f"rules_{start // PER_FILE:02d}.yaml").write_text(text, encoding="utf-8")
    return folder


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dest", nargs="?", type=Path)
    parser.add_argument("--rules", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    folder = write_many_rules(args.dest, args.rules, args.seed)
    import ruleengine

    policy = ruleengine.load_policy(folder)
    print(f"{folder}  ({len(policy.rules)} rules)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
