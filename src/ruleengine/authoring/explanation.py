"""Readable text for policy staff: a decision summary and an explanation tree, Chinese first."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

from ..lang.templates import format_value
from ..runtime.policy import Policy

SERVICE_NAMES = {
    "official_store": "官方旗舰店",
    "authenticity": "正品保障",
    "seven_day_return": "7天无理由退换货",
    "return_shipping_insurance": "退货包运费",
    "fast_refund": "极速退款",
    "damage_return": "破损包退",
    "quality_return": "质量问题退换货",
    "not_as_described": "不符包赔",
    "after_sales_care": "售后无忧",
    "price_protection": "价保",
    "delivery_install": "送货上门（送装一体）",
    "installation": "安装服务",
    "trade_in": "以旧换新",
    "on_time_shipment": "发货保障",
    "livestream_parity": "直播同等保障",
}

WORDS = {
    "approved": "批准 approved",
    "rejected": "驳回 rejected",
    "needs_review": "待审核 needs_review",
    "refund": "退款 refund",
    "exchange": "换货 exchange",
    "repair": "维修 repair",
    "replacement": "换新 replacement",
    "price_difference": "差价 price_difference",
    "none": "无 none",
    "immediate": "立即 immediate",
    "on_return_received": "商家收货后 on_return_received",
    "buyer": "买家 buyer",
    "merchant": "商家 merchant",
    "insurance": "运费险 insurance",
    "red_packet": "红包 red_packet",
    "tmall_points": "天猫积分 tmall_points",
    "cash": "现金 cash",
}


def decision_text(decision: dict[str, Any], policy: Policy) -> str:
    lines = [
        f"订单 Order {decision['order_id']}   决策时刻 as of {decision['as_of']}",
        f"策略 Policy {decision['policy']['name']} {decision['policy']['version']} ({decision['policy']['digest'][:19]}…)",
        "",
    ]
    lines.append("保障服务 Services")
    for sku, services in decision["services"].items():
        names = "、".join(SERVICE_NAMES.get(s, s) for s in services) or "（无 none）"
        lines.append(f"  {sku}: {names}")
    claim = decision.get("claim")
    if claim is not None:
        lines += ["", f"售后申请 Claim {claim['id']} ({claim['type']})"]
        lines.append(f"  结果 outcome:        {WORDS.get(claim['outcome'], claim['outcome'])}")
        lines.append(f"  处理 resolution:     {WORDS.get(claim['resolution'], claim['resolution'])}")
        lines.append(f"  退款 refund:         {claim['refund_amount']} 元 via {claim['refund_channel']}")
        lines.append(f"  赔付 compensation:   {claim['compensation_amount']} 元")
        timing = WORDS.get(claim["refund_timing"], claim["refund_timing"])
        if "refund_due_by" in claim:
            timing += f"，最迟 due by {claim['refund_due_by']}"
        lines.append(f"  退款时效 timing:     {timing}")
        lines.append(f"  退货运费 return shipping paid by: {WORDS.get(claim['return_shipping_payer'], claim['return_shipping_payer'])}")
        for d in claim["deductions"]:
            lines.append(f"  扣减 deduction:      {d['type']} −{d['amount']} 元")
        for r in claim["reasons"]:
            lines.append(f"  · {r['message']}  [{r['rule']}]")
    if decision["compensations"]:
        lines += ["", "赔付 Compensations"]
        for c in decision["compensations"]:
            form, payer = WORDS.get(c["form"], c["form"]), WORDS.get(c["payer"], c["payer"])
            lines.append(f"  {c['type']}: {c['amount']} 元 {form}，{payer} 支付  [{c['rule']}]")
    if decision["violations"]:
        lines += ["", "违规 Violations"]
        for v in decision["violations"]:
            lines.append(f"  {v['type']}  [{v['rule']}]")
    lines += ["", "触发规则 Fired: " + (", ".join(decision["fired"]) or "（无 none）")]
    trace = decision.get("trace")
    if trace is not None:
        lines += ["", explanation_text(trace, policy)]
    return "\n".join(lines)


_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:\d{2}|Z)$")


def _human(value: Any, zone: ZoneInfo) -> str:
    """A trace value as policy staff read it: local times, money as text, absent facts named."""
    if value is None:
        return "（缺失 absent）"
    if isinstance(value, str) and _ISO.match(value):
        return format_value(dt.datetime.fromisoformat(value.replace("Z", "+00:00")), None, zone)
    if isinstance(value, bool):
        return "是 true" if value else "否 false"
    if isinstance(value, list):
        return "[" + "、".join(_human(v, zone) for v in value) + "]" if len(value) < 12 else f"[{len(value)} items]"
    if isinstance(value, dict):
        return "{…}"
    return str(value)


def explanation_data(trace: list[dict[str, Any]], policy: Policy) -> list[dict[str, Any]]:
    """The explanation as data (the service's ``/v1/explanations``), computed once for the CLI text and the playground.

    By guarantee (in the catalogue's order): each rule visited with its outcome, whether it is
    relevant to this order (``explanation_text`` hides the others), the conditions as a tree
    (``depth``) with ``decided`` on the ones that decided it — the failed one when it did not
    match, the met ones that read values when it did — and every value shown as policy staff
    read it (``display``), parameters marked.
    """
    zone = policy.zone
    rules = {r.id: r for r in policy.rules}
    groups: dict[str, list[dict[str, Any]]] = {}
    for entry in trace:
        rule = rules.get(entry["rule"])
        groups.setdefault(rule.guarantee if rule and rule.guarantee else "claims", []).append(entry)
    order = [*SERVICE_NAMES, "claims"]
    out = []
    for guarantee in sorted(groups, key=lambda g: order.index(g) if g in order else 99):
        entries = [_entry_data(entry, rules, zone) for entry in groups[guarantee]]
        out.append(
            {
                "guarantee": guarantee,
                "title": SERVICE_NAMES.get(guarantee, "跨保障规则 cross-cutting"),
                "hidden": sum(1 for e in entries if not e["relevant"]),
                "entries": entries,
            }
        )
    return out


def explanation_text(trace: list[dict[str, Any]], policy: Policy, show_all: bool = False) -> str:
    """Chinese first, by guarantee: what applied, what did not and the condition that decided, with its values.

    Rules that did not apply to this kind of order at all (their first condition failed, e.g. another
    claim type) and skipped rules are counted, not shown, unless ``show_all``.
    """
    out = ["规则说明 Explanation"]
    for group in explanation_data(trace, policy):
        shown = [e for e in group["entries"] if show_all or e["relevant"]]
        hidden = len(group["entries"]) - len(shown)
        more = f"  （另有 {hidden} 条规则不适用于此订单 / {hidden} more did not apply）" if hidden else ""
        out.append(f"{group['title']} {group['guarantee']}{more}")
        for entry in shown:
            out += _entry_lines(entry)
    return "\n".join(out)


def _relevant(entry: dict[str, Any]) -> bool:
    if entry.get("outcome") == "skipped":
        return False
    if entry.get("matched"):
        return True
    failed = entry.get("failed")
    conditions = entry.get("conditions", [])
    leaves = [c for c in conditions if "expr" in c]
    # Not applicable: it failed on its very first condition (another claim type, a gift line …).
    return not (failed is not None and leaves and failed["at"] == leaves[0]["at"])


MARKS = {"matched": "✔", "not_matched": "✘", "not_met": "∅", "skipped": "–"}


def _values(values: dict[str, Any], zone: ZoneInfo) -> list[dict[str, Any]]:
    return [{"name": k, "value": v, "display": _human(v, zone), "parameter": k.startswith("params.")} for k, v in values.items()]


def _condition_data(condition: dict[str, Any], zone: ZoneInfo, decided: bool, base: int) -> dict[str, Any]:
    out: dict[str, Any] = {"at": condition.get("at", ""), "depth": max(0, condition.get("at", "").count("/") - base) // 2}
    for key in ("op", "label", "expr", "result"):
        if key in condition:
            out[key] = condition[key]
    out["values"] = _values(condition.get("values", {}), zone)
    out["decided"] = decided
    return out


def _entry_data(entry: dict[str, Any], rules: dict[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    rule = rules.get(entry["rule"])
    outcome = entry.get("outcome", "")
    matched = bool(entry.get("matched"))
    failed = entry.get("failed") if not matched else None
    conditions = entry.get("conditions", [])
    base = conditions[0]["at"].count("/") if conditions else 0

    def decides(c: dict[str, Any]) -> bool:
        if failed is not None:
            return bool(c.get("at") == failed.get("at"))
        return matched and bool(c.get("values")) and c.get("result") is True

    data: dict[str, Any] = {"rule": entry["rule"]}
    if "line" in entry:
        data["line"] = entry["line"]
    data.update(
        {
            "title_zh": rule.title_zh if rule else "",
            "title_en": rule.title_en if rule else "",
            "outcome": outcome,
            "mark": MARKS.get(outcome, "?"),
            "matched": matched,
            "relevant": _relevant(entry),
        }
    )
    if rule is not None and rule.table is not None:
        # A row of a decision table: which one, and whether it decided (first, unique) or is one of those applied (collect).
        table = rule.table
        data["table"] = {"id": table.id, "row": rule.row, "rows": len(table.rows), "hit": table.hit, "decided": matched}
    if "reason" in entry:
        data["reason"] = entry["reason"]
    if failed is not None:
        data["failed"] = {
            "label": failed.get("label"),
            "expr": failed.get("expr", ""),
            "result": failed.get("result"),
            "values": _values(failed.get("values", {}), zone),
        }
    data["conditions"] = [_condition_data(c, zone, decides(c), base) for c in conditions]
    actions = []
    for action in entry.get("actions", []):
        shown = dict(action)
        if "value" in action:
            shown["display"] = _human(action["value"], zone)
        actions.append(shown)
    data["actions"] = actions
    return data


def _entry_lines(entry: dict[str, Any]) -> list[str]:
    line = f" [{entry['line']}]" if "line" in entry else ""
    title = f"  {entry['title_zh']} / {entry['title_en']}" if entry["title_zh"] or entry["title_en"] else ""
    out = [f"  {entry['mark']} {entry['rule']}{line}{title}"]
    table = entry.get("table")
    if table is not None and table["decided"]:
        zh = "命中（逐项累加）" if table["hit"] == "collect" else "决定结果"
        en = "applies (collect)" if table["hit"] == "collect" else f"decides (hit: {table['hit']})"
        row = f"{table['row']}/{table['rows']}"
        out.append(f"      ▶ 决策表 {table['id']} 第 {row} 行{zh} / row {row} of table {table['id']} {en}")
    if "reason" in entry:
        out.append(f"      跳过 skipped: {entry['reason']}")
    failed = entry.get("failed")
    if failed is not None:
        label = failed["label"] or failed["expr"]
        word = "条件缺失事实 not met (absent fact)" if failed["result"] == "not_met" else "未满足 not met"
        out.append(f"      {word}: {label}")
        out.append(f"        {failed['expr']}")
        out += [f"        {v['name']} = {v['display']}" for v in failed["values"]]
    if entry["matched"]:
        for condition in entry["conditions"]:
            if condition["decided"]:
                out.append(f"      满足 met: {condition.get('label') or condition.get('expr')}")
                out += [f"        {v['name']} = {v['display']}" for v in condition["values"]]
    for action in entry["actions"]:
        status = f" ({action['status']}: {action.get('note', '')})" if "status" in action else ""
        target = f" {action['target']}" if "target" in action else ""
        value = f" = {action['display']}" if "value" in action else ""
        out.append(f"      → {action['action']}{target}{value}{status}")
    return out
