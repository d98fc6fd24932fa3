"""Impact analysis: decide a corpus of orders with two policies and report what changed.

``ruleengine diff --base HEAD orders.jsonl`` answers the question a policy
author has before a change ships: how many decisions change, of which kind,
for which guarantee, with how much money, and which orders show it.

It streams: every order is decided with both policies, compared and added to the
totals, then dropped, so a corpus of millions of orders runs in constant memory.
What is kept is bounded: totals per guarantee and field, and per field at most
``MAX_CHANGES_PER_FIELD`` different changes, each with its count and first example
orders; a field with more (amounts and dates that differ order by order) keeps its
counts and money and says it had more. Every order's changes, in full, can be
written as they come (``detail``: one JSON line per changed order). A corpus can
also be cut into chunks decided on a Dask cluster (``compare_on_cluster``); the
chunks' totals merge, in input order, into exactly what one process finds.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..compile.loader import load_policy
from ..errors import RuleEngineError
from ..runtime.decision import CLAIM_TERMS, dumps
from ..runtime.facts import read_facts
from ..runtime.policy import Policy
from ..text import shorten

EXAMPLES_PER_KIND = 5
TOP_CHANGES = 3
"""Changes named per field in the text summary (the JSON report has them all, up to MAX_CHANGES_PER_FIELD)."""
MAX_CHANGES_PER_FIELD = 256
"""Different changes kept per guarantee and field; past that, the field keeps its counts and money only."""
MAX_FIELDS = 40
CHUNK_ORDERS = 1000
"""Orders per task on a cluster."""
ZERO = Decimal("0.00")

Change = tuple[str, str, str]
"""(guarantee, field, change)."""
Place = tuple[str, str]
"""(guarantee, field)."""


@dataclass
class Impact:
    """What changed between two policies over a corpus: bounded, whatever the corpus's size.

    ``add`` takes one order's changes; ``merge`` appends the totals of a later part of the corpus,
    so parts decided apart (on a cluster) add up to what one pass over the whole finds.
    """

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
    kinds: Counter[Change] = field(default_factory=Counter)
    """(guarantee, field, change) → number of orders; not kept for the crowded fields."""
    examples: dict[Change, list[str]] = field(default_factory=dict)
    fields: Counter[Place] = field(default_factory=Counter)
    """(guarantee, field) → number of orders with some change there."""
    money: dict[Place, Decimal] = field(default_factory=dict)
    """(guarantee, field) → the change in money there (new minus base), for the fields that hold money."""
    distinct: Counter[Place] = field(default_factory=Counter)
    """(guarantee, field) → how many different changes ``kinds`` holds for it."""
    crowded: set[Place] = field(default_factory=set)
    """Fields with more than MAX_CHANGES_PER_FIELD different changes: their changes are not kept one by one."""

    def add(self, order_id: str, changes: list[Change], money: dict[Place, Decimal] | None = None) -> None:
        if changes:
            self.changed += 1
        for kind in dict.fromkeys(changes):
            if self._keeps(kind):
                self.kinds[kind] += 1
                shown = self.examples.setdefault(kind, [])
                if len(shown) < EXAMPLES_PER_KIND:
                    shown.append(order_id)
        for place in dict.fromkeys((g, f) for g, f, _ in changes):
            self.fields[place] += 1
        for place, delta in (money or {}).items():
            if place in self.fields or delta:
                self.money[place] = self.money.get(place, ZERO) + delta

    def merge(self, later: Impact) -> None:
        """Add the totals of the orders that come after this part's (the next chunk of the same corpus)."""
        self.orders += later.orders
        self.changed += later.changed
        self.refused_base += later.refused_base
        self.refused_new += later.refused_new
        self.refunds_base += later.refunds_base
        self.refunds_new += later.refunds_new
        self.compensations_base += later.compensations_base
        self.compensations_new += later.compensations_new
        for place in later.crowded:
            self._crowd(place)
        for kind, count in later.kinds.items():
            if self._keeps(kind):
                self.kinds[kind] += count
                shown = self.examples.setdefault(kind, [])
                shown.extend(later.examples[kind][: EXAMPLES_PER_KIND - len(shown)])
        self.fields.update(later.fields)
        for place, delta in later.money.items():
            self.money[place] = self.money.get(place, ZERO) + delta

    def _keeps(self, kind: Change) -> bool:
        """Whether ``kind`` is counted one by one: a field keeps its first MAX_CHANGES_PER_FIELD different changes.

        Whether a field is crowded depends only on how many different changes the whole corpus has there,
        never on the order they come in or on how the corpus was cut, so merged parts equal one pass.
        """
        place = (kind[0], kind[1])
        if place in self.crowded:
            return False
        if kind not in self.kinds:
            if self.distinct[place] >= MAX_CHANGES_PER_FIELD:
                self._crowd(place)
                return False
            self.distinct[place] += 1
        return True

    def _crowd(self, place: Place) -> None:
        if place in self.crowded:
            return
        self.crowded.add(place)
        for kind in [k for k in self.kinds if (k[0], k[1]) == place]:
            del self.kinds[kind]
            del self.examples[kind]
        del self.distinct[place]

    def by_field(self) -> list[dict[str, Any]]:
        """Changes by guarantee and field: orders, money, the commonest changes; the largest first."""
        grouped: dict[Place, list[tuple[int, str]]] = {}
        for (g, f, c), n in self.kinds.items():
            grouped.setdefault((g, f), []).append((n, c))
        out = []
        for (g, f), orders in self.fields.items():
            kinds = sorted(grouped.get((g, f), ()), key=lambda x: (-x[0], x[1]))
            entry: dict[str, Any] = {"guarantee": g, "field": f, "orders": orders, "kinds": len(kinds)}
            if (g, f) in self.crowded:
                entry["crowded"] = True  # more than MAX_CHANGES_PER_FIELD different changes: counted, not listed
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
        if not self.fields:
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
        lines.append("  每项变化及示例订单 every change, with example orders: --format json; every changed order: --changes FILE")
        return "\n".join(lines)


def _main_changes(entry: dict[str, Any], width: int = 100) -> str:
    """The commonest changes of a field with their counts, as many as fit; when every order changed differently, how many."""
    if entry.get("crowded"):
        return f"more than {MAX_CHANGES_PER_FIELD} different changes"
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


def compare(
    base: Policy, new: Policy, orders: Iterable[Any], base_name: str, new_name: str, *, detail: Callable[[str], Any] | None = None
) -> Impact:
    """Decide every order with both policies; order documents may be dicts or JSON/YAML text.

    ``detail``, when given, receives one JSON line per order whose decision changed, as it comes.
    """
    return _Comparison(base, new, base_name, new_name, detail).run(enumerate(orders, 1))


class _Comparison:
    """One pass over (part of) a corpus: each order decided twice, compared, added to the totals, dropped."""

    def __init__(self, base: Policy, new: Policy, base_name: str, new_name: str, detail: Callable[[str], Any] | None) -> None:
        self.base, self.new, self.detail = base, new, detail
        self.impact = Impact(base_name, new_name)
        self.guarantees = {r.id: r.guarantee for r in (*base.rules, *new.rules)}

    def run(self, orders: Iterable[tuple[int, Any]]) -> Impact:
        """``orders``: (index in the corpus from 1, facts); the index names an order that has no id."""
        impact = self.impact
        for index, facts in orders:
            impact.orders += 1
            before, after = _decide(self.base, facts), _decide(self.new, facts)
            order_id = _order_id(facts, before, after, index)
            if isinstance(before, str):
                impact.refused_base += 1
            else:
                impact.refunds_base += _refund(before)
                impact.compensations_base += _compensations(before)
            if isinstance(after, str):
                impact.refused_new += 1
            else:
                impact.refunds_new += _refund(after)
                impact.compensations_new += _compensations(after)
            found = list(changes(before, after, self.guarantees))
            impact.add(order_id, found, _money(before, after, self.guarantees))
            if found and self.detail is not None:
                self.detail(detail_line(index, order_id, found))
        return impact


def detail_line(index: int, order_id: str, found: list[Change]) -> str:
    """One changed order, in full: ``{"index": …, "order_id": …, "changes": [{guarantee, field, change}, …]}``."""
    listed = [{"guarantee": g, "field": f, "change": c} for g, f, c in found]
    return dumps({"index": index, "order_id": order_id, "changes": listed})


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
        return policy.evaluate(facts).data  # read here, never changed: no copy
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
    for source, data in read_documents(path):
        yield _parse(data, source)


def read_documents(path: Path) -> Iterator[tuple[str, bytes]]:
    """(where, bytes) of every order of a JSON-lines file (``FILE:LINE``; blank lines skipped) or a folder of .json files."""
    if path.is_dir():
        for file in sorted(path.glob("*.json")):
            yield str(file), file.read_bytes()
        return
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                yield f"{path}:{number}", line


def _parse(data: bytes, source: str) -> Any:
    try:
        return read_facts(data, source)
    except RuleEngineError:
        return data  # evaluate() reports it as refused, for both policies alike


# ---------------------------------------------------------------- on a Dask cluster


def compare_on_cluster(
    client: Any,
    base: Policy,
    new: Policy,
    documents: Iterable[tuple[str, bytes]],
    base_name: str,
    new_name: str,
    *,
    detail: Callable[[str], Any] | None = None,
) -> Impact:
    """``compare`` with the orders decided on a Dask cluster (``client``), in chunks read here as they are needed.

    ``documents`` are (where, bytes) as ``read_documents`` gives them. Both policies travel as the bytes
    of their files; every chunk comes back as its totals (and its detail lines), merged in input order:
    the result is the one ``compare`` gives, total for total and example for example.
    """
    from ..scale.distributed import PolicyBytes, ordered_map

    shipped = (PolicyBytes.of(base), PolicyBytes.of(new))
    total = Impact(base_name, new_name)
    for part, lines in ordered_map(client, _compare_chunk, _chunks(documents), shipped, base_name, new_name, detail is not None):
        total.merge(part)
        if detail is not None:
            for line in lines:
                detail(line)
    return total


def _chunks(documents: Iterable[tuple[str, bytes]]) -> Iterator[list[tuple[int, str, bytes]]]:
    chunk: list[tuple[int, str, bytes]] = []
    for index, (source, data) in enumerate(documents, 1):
        chunk.append((index, source, data))
        if len(chunk) >= CHUNK_ORDERS:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _compare_chunk(
    chunk: list[tuple[int, str, bytes]], policies: tuple[Any, Any], base_name: str, new_name: str, with_detail: bool
) -> tuple[Impact, list[str]]:
    """One chunk on a worker: its totals, and its detail lines when asked for."""
    lines: list[str] = []
    comparison = _Comparison(policies[0].policy(), policies[1].policy(), base_name, new_name, lines.append if with_detail else None)
    return comparison.run((index, _parse(data, source)) for index, source, data in chunk), lines


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
