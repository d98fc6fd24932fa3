"""Impact analysis: decide a corpus of orders with two policies and report what changed.

``ruleengine diff --base HEAD orders.jsonl`` answers the question a policy
author has before a change ships: how many decisions change, of which kind,
for which guarantee, with how much money, and which orders show it.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from .decision import CLAIM_TERMS
from .errors import RuleEngineError
from .facts import read_facts
from .loader import load_policy
from .policy import Policy
from .text import shorten

EXAMPLES_PER_KIND = 5
TOP_CHANGES = 3
"""Changes named per field in the text summary (the JSON report has them all)."""
MAX_FIELDS = 40
ZERO = Decimal("0.00")


@dataclass
class Impact:
    base: str
    new: str
    orders: int = 0
    changed: int = 0
    refused_base: int = 0
    refused_new: int = 0
    refunds_base: Decimal = ZERO
    refunds_new: Decimal = ZERO
    compensations_base: Decimal = ZERO
    compensations_new: Decimal = ZERO
    kinds: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    """(guarantee, field, change) → number of orders."""
    examples: dict[tuple[str, str, str], list[str]] = field(default_factory=dict)
    fields: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(guarantee, field) → number of orders with some change there."""
    money: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    """(guarantee, field) → the change in money there (new minus base), for the fields that hold money."""

    def add(self, order_id: str, changes: list[tuple[str, str, str]], money: dict[tuple[str, str], Decimal] | None = None) -> None:
        if changes:
            self.changed += 1
        for kind in dict.fromkeys(changes):
            self.kinds[kind] += 1
            shown = self.examples.setdefault(kind, [])
            if len(shown) < EXAMPLES_PER_KIND:
                shown.append(order_id)
        for place in dict.fromkeys((g, f) for g, f, _ in changes):
            self.fields[place] += 1
        for place, delta in (money or {}).items():
            if place in self.fields or delta:
                self.money[place] = self.money.get(place, ZERO) + delta

    def by_field(self) -> list[dict[str, Any]]:
        """Changes by guarantee and field: orders, money, the commonest changes; the largest first."""
        out = []
        for (g, f), orders in self.fields.items():
            kinds = sorted(((n, c) for (kg, kf, c), n in self.kinds.items() if (kg, kf) == (g, f)), key=lambda x: (-x[0], x[1]))
            entry: dict[str, Any] = {"guarantee": g, "field": f, "orders": orders, "kinds": len(kinds)}
            if (g, f) in self.money:
                entry["money_delta"] = self.money[(g, f)]
            entry["top"] = [{"change": c, "orders": n} for n, c in kinds[:TOP_CHANGES]]
            out.append(entry)
        return sorted(out, key=lambda e: (-e["orders"], -abs(e.get("money_delta", ZERO)), e["guarantee"], e["field"]))

    def to_dict(self) -> dict[str, Any]:
        return {
            "base": self.base,
            "new": self.new,
            "orders": self.orders,
            "changed": self.changed,
            "refused": {"base": self.refused_base, "new": self.refused_new},
            "money": {
                "refunds": {"base": self.refunds_base, "new": self.refunds_new, "delta": self.refunds_new - self.refunds_base},
                "compensations": {
                    "base": self.compensations_base,
                    "new": self.compensations_new,
                    "delta": self.compensations_new - self.compensations_base,
                },
            },
            "fields": [{k: v for k, v in e.items() if k != "top"} for e in self.by_field()],
            "changes": [
                {"guarantee": g, "field": f, "change": c, "orders": n, "examples": self.examples[(g, f, c)]}
                for (g, f, c), n in sorted(self.kinds.items(), key=lambda kv: (-kv[1], kv[0]))
            ],
        }

    def text(self) -> str:
        share = f" ({100 * self.changed / self.orders:.1f}%)" if self.orders else ""
        lines = [
            f"影响分析 Impact: {self.new} against {self.base}, over {self.orders} orders",
            f"  变化的决策 changed decisions: {self.changed}{share}",
            f"  无法决策 refused (facts/evaluation errors): base {self.refused_base}, new {self.refused_new}",
            f"  Δ 退款 refunds:       {_signed(self.refunds_new - self.refunds_base)} CNY ({self.refunds_base} → {self.refunds_new})",
            f"  Δ 赔付 compensations: {_signed(self.compensations_new - self.compensations_base)} CNY "
            f"({self.compensations_base} → {self.compensations_new})",
        ]
        if not self.kinds:
            lines.append("  没有决策变化 no decision changed")
            return "\n".join(lines)
        rows = self.by_field()
        lines.append("  按保障与字段 by guarantee and field (订单数 orders · Δ 金额 money CNY · 主要变化 main changes), largest first:")
        g_width = max(len(e["guarantee"]) for e in rows)
        f_width = max(len(e["field"]) for e in rows)
        for e in rows[:MAX_FIELDS]:
            money = _signed(e["money_delta"]) if "money_delta" in e else ""
            lines.append(f"    {e['guarantee']:<{g_width}}  {e['field']:<{f_width}}  {e['orders']:>7}  {money:>12}   {_main_changes(e)}")
        if len(rows) > MAX_FIELDS:
            lines.append(f"    … {len(rows) - MAX_FIELDS} more fields")
        lines.append("  每项变化及示例订单 every change, with example orders: --format json")
        return "\n".join(lines)


def _main_changes(entry: dict[str, Any], width: int = 100) -> str:
    """The commonest changes of a field with their counts, as many as fit; when every order changed differently, how many."""
    if entry["top"][0]["orders"] == 1 and entry["kinds"] > 1:
        return f"{entry['kinds']} different changes"
    shown: list[str] = []
    for top in entry["top"]:
        text = f"{shorten(top['change'], 60)} ×{top['orders']}"
        if shown and len(", ".join([*shown, text])) > width:
            break
        shown.append(text)
    more = entry["kinds"] - len(shown)
    return ", ".join(shown) + (f", … {more} more" if more else "")


def _signed(value: Decimal) -> str:
    return f"+{value:f}" if value > 0 else f"{value:f}"


def compare(base: Policy, new: Policy, orders: Iterable[Any], base_name: str, new_name: str) -> Impact:
    """Decide every order with both policies; order documents may be dicts or JSON/YAML text."""
    impact = Impact(base_name, new_name)
    guarantees = {r.id: r.guarantee for r in (*base.rules, *new.rules)}
    for facts in orders:
        impact.orders += 1
        before, after = _decide(base, facts), _decide(new, facts)
        order_id = _order_id(facts, before, after, impact.orders)
        if isinstance(before, str):
            impact.refused_base += 1
        if isinstance(after, str):
            impact.refused_new += 1
        if isinstance(before, dict):
            impact.refunds_base += _refund(before)
            impact.compensations_base += _compensations(before)
        if isinstance(after, dict):
            impact.refunds_new += _refund(after)
            impact.compensations_new += _compensations(after)
        impact.add(order_id, list(changes(before, after, guarantees)), _money(before, after, guarantees))
    return impact


def _money(before: Any, after: Any, guarantees: dict[str, str]) -> dict[tuple[str, str], Decimal]:
    """The change in money by (guarantee, field), attributed as ``changes`` attributes the change itself."""
    out: dict[tuple[str, str], Decimal] = {}
    if not isinstance(before, dict) or not isinstance(after, dict):
        return out
    b, a = before.get("claim"), after.get("claim")
    if b and a:
        owner = _claim_guarantee(a, guarantees) or _claim_guarantee(b, guarantees)
        for key in ("refund_amount", "compensation_amount"):
            out[(owner, f"claim.{key}")] = Decimal(a[key]) - Decimal(b[key])
        out[(owner, "claim.deductions")] = sum((Decimal(d["amount"]) for d in a["deductions"]), ZERO) - sum(
            (Decimal(d["amount"]) for d in b["deductions"]), ZERO
        )
    for sign, decision in ((-1, before), (1, after)):
        for item in decision["compensations"]:
            place = (guarantees.get(item["rule"], "") or "claims", "compensations")
            out[place] = out.get(place, ZERO) + sign * Decimal(item["amount"])
    return out


def _decide(policy: Policy, facts: Any) -> dict[str, Any] | str:
    try:
        return policy.evaluate(facts).to_dict()
    except RuleEngineError as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"


def _order_id(facts: Any, before: Any, after: Any, index: int) -> str:
    for decision in (before, after):
        if isinstance(decision, dict):
            return str(decision["order_id"])
    if isinstance(facts, dict) and isinstance(facts.get("order_id"), str):
        return str(facts["order_id"])
    return f"#{index}"


def _refund(decision: dict[str, Any]) -> Decimal:
    claim = decision.get("claim")
    return Decimal(claim["refund_amount"]) if claim else ZERO


def _compensations(decision: dict[str, Any]) -> Decimal:
    return sum((Decimal(c["amount"]) for c in decision["compensations"]), ZERO)


def changes(before: Any, after: Any, guarantees: dict[str, str]) -> Iterator[tuple[str, str, str]]:
    """(guarantee, field, change) for every difference in substance (digests and wording aside)."""
    if isinstance(before, str) or isinstance(after, str):
        if before != after:
            yield (
                "(order)",
                "decision",
                f"{'refused' if isinstance(before, str) else 'decided'} → {'refused' if isinstance(after, str) else 'decided'}",
            )
        return
    for sku in sorted(set(before["services"]) | set(after["services"])):
        old, new = set(before["services"].get(sku, [])), set(after["services"].get(sku, []))
        for service in sorted(new - old):
            yield (service, "services", f"+{service}")
        for service in sorted(old - new):
            yield (service, "services", f"-{service}")
    b, a = before.get("claim"), after.get("claim")
    if b and a:
        owner = _claim_guarantee(a, guarantees) or _claim_guarantee(b, guarantees)
        for key in CLAIM_TERMS:
            if b.get(key) != a.get(key):
                yield (owner, f"claim.{key}", f"{_show(b.get(key))} → {_show(a.get(key))}")
        if [d["type"] for d in b["deductions"]] != [d["type"] for d in a["deductions"]] or b["deductions"] != a["deductions"]:
            yield (owner, "claim.deductions", f"{_kinds(b['deductions'])} → {_kinds(a['deductions'])}")
    for name in ("compensations", "violations"):
        old_items = Counter(_key(name, x) for x in before[name])
        new_items = Counter(_key(name, x) for x in after[name])
        for item in sorted((new_items - old_items).elements()):
            yield (guarantees.get(item[1], "") or "claims", name, f"+{item[0]}")
        for item in sorted((old_items - new_items).elements()):
            yield (guarantees.get(item[1], "") or "claims", name, f"-{item[0]}")


def _claim_guarantee(claim: dict[str, Any], guarantees: dict[str, str]) -> str:
    for reason in claim["reasons"]:
        owner = guarantees.get(reason["rule"], "")
        if owner and owner != "claims":
            return owner
    return ""


def _key(name: str, item: dict[str, Any]) -> tuple[str, str]:
    if name == "compensations":
        return (f"{item['type']} {item['amount']}", item["rule"])
    return (str(item["type"]), item["rule"])


def _kinds(deductions: list[dict[str, Any]]) -> str:
    return "[" + ", ".join(f"{d['type']} {d['amount']}" for d in deductions) + "]"


def _show(value: Any) -> str:
    return "(absent)" if value is None else str(value)


# ---------------------------------------------------------------- inputs


def read_orders(path: Path) -> Iterator[Any]:
    """Orders from a JSON-lines file (one order per line) or a folder of .json files; bad lines are kept as text."""
    if path.is_dir():
        for file in sorted(path.glob("*.json")):
            yield _parse(file.read_bytes(), str(file))
        return
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                yield _parse(line, f"{path}:{number}")


def _parse(data: bytes, source: str) -> Any:
    try:
        return read_facts(data, source)
    except RuleEngineError:
        return data  # evaluate() reports it as refused, for both policies alike


class UnknownBase(ValueError):
    """``--base`` names neither a folder nor a git revision holding the rules folder: a usage error."""


def base_policy(spec: str, rules: Path) -> tuple[Policy, str]:
    """The policy to compare against: a folder, or a git revision of the rules folder.

    Raises UnknownBase when ``spec`` is neither (naming the revision), PolicyError when that policy does not load.
    """
    candidate = Path(spec)
    if candidate.is_dir():
        return load_policy(candidate), str(candidate)
    if not rules.is_dir():
        raise UnknownBase(f"--base '{spec}' is not a folder, and the policy folder {rules} does not exist to find it in git")
    try:
        top = _git(rules, "rev-parse", "--show-toplevel").decode().strip()
    except UnknownBase:
        raise UnknownBase(f"--base '{spec}' is not a folder, and the policy folder {rules} is not in a git repository") from None
    try:
        if spec.startswith("-"):  # never an option to git
            raise UnknownBase(spec)
        commit = _git(rules, "rev-parse", "--verify", "--quiet", f"{spec}^{{commit}}").decode().strip()
        revision = _git(rules, "rev-parse", "--short", commit).decode().strip()
    except UnknownBase:
        raise UnknownBase(f"unknown git revision '{spec}' (in {top}); --base takes a revision such as HEAD, or a folder") from None
    relative = rules.resolve().relative_to(Path(top).resolve()).as_posix()
    try:
        archive = _git(Path(top), "archive", "--format=tar", commit, "--", relative)
    except UnknownBase:
        raise UnknownBase(f"git revision '{spec}' ({revision}) has no folder '{relative}'") from None
    with tempfile.TemporaryDirectory(prefix="ruleengine-base-") as folder, tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
        return load_policy(Path(folder) / relative), f"{spec} ({revision})"


def _git(where: Path, *args: str) -> bytes:
    try:
        done = subprocess.run(["git", "-C", str(where.resolve()), *args], capture_output=True, check=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        detail = (getattr(exc, "stderr", b"") or b"").decode(errors="replace").strip() or str(exc)
        raise UnknownBase(f"git {' '.join(args)} failed: {detail}") from None
    return done.stdout
