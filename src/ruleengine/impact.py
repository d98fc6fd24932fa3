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
from .errors import Diagnostic, PolicyError, RuleEngineError
from .facts import read_facts
from .loader import load_policy
from .policy import Policy

EXAMPLES_PER_KIND = 5
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

    def add(self, order_id: str, changes: list[tuple[str, str, str]]) -> None:
        if changes:
            self.changed += 1
        for kind in dict.fromkeys(changes):
            self.kinds[kind] += 1
            shown = self.examples.setdefault(kind, [])
            if len(shown) < EXAMPLES_PER_KIND:
                shown.append(order_id)

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
        if self.kinds:
            lines.append("  按保障与字段 by guarantee and field:")
            width = max(len(f"{g}  {f}  {c}") for g, f, c in self.kinds)
            for (g, f, c), n in sorted(self.kinds.items(), key=lambda kv: (-kv[1], kv[0])):
                label = f"{g}  {f}  {c}"
                lines.append(f"    {label.ljust(width)}  {n:>6}   e.g. {', '.join(self.examples[(g, f, c)])}")
        else:
            lines.append("  没有决策变化 no decision changed")
        return "\n".join(lines)


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
        impact.add(order_id, list(changes(before, after, guarantees)))
    return impact


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


def base_policy(spec: str, rules: Path) -> tuple[Policy, str]:
    """The policy to compare against: a folder, or a git revision of the rules folder."""
    candidate = Path(spec)
    if candidate.is_dir():
        return load_policy(candidate), str(candidate)
    top = _git(rules, "rev-parse", "--show-toplevel").decode().strip()
    relative = rules.resolve().relative_to(Path(top).resolve()).as_posix()
    archive = _git(Path(top), "archive", "--format=tar", spec, "--", relative)
    revision = _git(rules, "rev-parse", "--short", spec).decode().strip()
    with tempfile.TemporaryDirectory(prefix="ruleengine-base-") as folder, tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
        return load_policy(Path(folder) / relative), f"{spec} ({revision})"


def _git(where: Path, *args: str) -> bytes:
    try:
        done = subprocess.run(["git", "-C", str(where.resolve()), *args], capture_output=True, check=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        detail = (getattr(exc, "stderr", b"") or b"").decode(errors="replace").strip() or str(exc)
        raise PolicyError([Diagnostic(str(where), 1, 1, "base", f"git {' '.join(args)} failed: {detail.splitlines()[-1]}")]) from None
    return done.stdout
