"""The policy catalogue for policy staff: every guarantee, its rules in plain words, its parameters, its sources.

Generated from a loaded policy (``ruleengine catalogue``) into ``docs/policy.md``;
a test fails when the committed file is stale, so it is never edited by hand.

Why ~530 lines: the catalogue's data (which the service serves as JSON) and its Markdown
are one description of rules and tables in words; the Markdown half only lays that data out.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

from ..compile.sources import SOURCE_ID, find_citations
from ..lang.templates import Placeholder, format_value
from ..lang.words import show
from ..model.conditions import Condition, Group, Leaf
from ..model.rules import Action, Parameter, Rule, Source
from ..runtime.policy import Policy
from .explanation import guarantee_order

SCOPES = {"order": "整单 the order", "line": "每个商品行 each line", "claimed_line": "申请的商品行 the claimed line"}
OPS = {"all": "全部满足 all of", "any": "任一满足 any of", "not": "不满足 not"}
HIT_WORDS = {
    "first": "首个命中：按行序第一条匹配的行生效 / first: the first matching row, in order, applies",
    "unique": "唯一命中：至多一行匹配 / unique: at most one row may match",
    "collect": "全部命中：每条匹配的行都生效 / collect: every matching row applies",
}


def catalogue_data(policy: Policy) -> dict[str, Any]:
    """The catalogue as plain data (what the service's ``/v1/policy/catalogue`` returns): the same content as the markdown."""
    by_guarantee = _by_guarantee(policy)
    users = _parameter_users(policy)
    cited_by = _cited_by(policy)
    return {
        "name": policy.name,
        "version": policy.version,
        "digest": policy.digest,
        "timezone": policy.timezone,
        "stages": list(policy.stages),
        "guarantees": [
            {
                "id": g,
                "title": policy.vocabulary.zh("guarantee", g),
                "title_en": policy.vocabulary.en("guarantee", g),
                "rules": [_rule_data(rule, policy) for rule in sorted(by_guarantee[g], key=lambda r: (r.sort_key, r.version))],
                "tables": [_table_data(rows, policy) for rows in _tables(by_guarantee[g])],
            }
            for g in by_guarantee
        ],
        "parameters": [
            {
                "name": name,
                "value": _plain(param.value),
                "display": _parameter_value(param, policy),
                "type": param.type.words(),
                "kind": param.declaration.kind,
                "unit": param.unit,
                "description": " ".join(param.description.split()),
                "source": param.source,
                "citations": _citations(policy, param.source, param.description),
                "used_by": users.get(name, []),
            }
            for name, param in policy.parameters.items()
        ],
        "sources": [{**source.to_dict(), "cited_by": cited_by.get(source_id, [])} for source_id, source in policy.sources.items()],
        "vocabulary": policy.vocabulary.to_dict(),
    }


def _citations(policy: Policy, *texts: str) -> list[dict[str, Any]]:
    """The declared sources ``texts`` cite, in order, each once with every locator used and its title."""
    found: dict[str, list[str]] = {}
    for text in texts:
        for source_id, locator, _ in find_citations(text):
            if SOURCE_ID.match(source_id) and source_id in policy.sources:
                locators = found.setdefault(source_id, [])
                if locator and locator not in locators:
                    locators.append(locator)
    return [
        {
            "source": source_id,
            "locators": locators,
            "title": {"zh": policy.sources[source_id].title_zh, "en": policy.sources[source_id].title_en},
        }
        for source_id, locators in found.items()
    ]


def _cited_by(policy: Policy) -> dict[str, list[str]]:
    """Source id → what cites it (``rule ID``, ``parameter NAME`` …), each once, in file order."""
    out: dict[str, list[str]] = {}
    for citation in policy.citations:
        users = out.setdefault(citation.source, [])
        if citation.cited_by not in users:
            users.append(citation.cited_by)
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _rule_data(rule: Rule, policy: Policy) -> dict[str, Any]:
    return {
        "id": rule.id,
        "version": rule.version,
        "versions": rule.versions,
        "title_zh": rule.title_zh,
        "title_en": rule.title_en,
        "description": " ".join(rule.description.split()),
        "source": rule.source,
        "citations": _citations(policy, rule.source, rule.description),
        "stage": rule.stage,
        "priority": rule.priority,
        "scope": SCOPES[rule.scope],
        "group": rule.group,
        "effective": {
            "on": rule.effective_on,
            "from": rule.effective_from.isoformat() if rule.effective_from else None,
            "until": rule.effective_until.isoformat() if rule.effective_until else None,
        },
        "when": _condition_data(rule.when),
        "then": [_action(a, policy) for a in rule.then],
        "else": [_action(a, policy) for a in rule.otherwise],
        "parameters": sorted(_params_used(rule)),
        **({"table": {"id": rule.table.id, "row": rule.row}} if rule.table is not None else {}),
    }


def _tables(rules: list[Rule]) -> list[list[Rule]]:
    """The decision tables among ``rules`` (each version once), each as its rows' rules in row order."""
    found: dict[int, list[Rule]] = {}
    for rule in sorted(rules, key=lambda r: (r.sort_key, r.version)):
        if rule.table is not None:
            found.setdefault(id(rule.table), []).append(rule)
    return [sorted(rows, key=lambda r: r.row) for rows in found.values()]


def _table_data(rows: list[Rule], policy: Policy) -> dict[str, Any]:
    """A table as a grid: its columns, hit policy and rows (cells as written; outputs; further actions)."""
    first = rows[0]
    table = first.table
    assert table is not None
    return {
        "id": table.id,
        "version": first.version,
        "versions": first.versions,
        "title_zh": table.title_zh,
        "title_en": table.title_en,
        "description": " ".join(first.description.split()),
        "source": first.source,
        "citations": _citations(policy, first.source, first.description),
        "stage": first.stage,
        "priority": first.priority,
        "scope": SCOPES[first.scope],
        "group": first.group if not first.group.startswith("table ") else "",
        "effective": _rule_data(first, policy)["effective"],
        "hit": table.hit,
        "hit_words": HIT_WORDS[table.hit],
        "complete": table.complete,
        "when": table.guard,
        "inputs": [{"name": c.name, "label": c.label, "expr": " ".join(c.expr.split())} for c in table.inputs],
        "outputs": list(table.outputs),
        "rows": [
            {
                "rule": rule.id,
                "row": rule.row,
                **({"version": rule.version, "effective": _rule_data(rule, policy)["effective"]} if rule.versions > 1 else {}),
                "cells": list(row.cells),
                "outputs": _outputs(rule, table.outputs, row.outputs, policy),
                "actions": [_action(a, policy) for a in rule.then[row.extra[0] : row.extra[1]]],
            }
            for rule, row in zip(rows, (table.rows[r.row - 1] for r in rows), strict=True)
        ],
    }


def _outputs(rule: Rule, columns: tuple[str, ...], shown: tuple[str, ...], policy: Policy) -> list[str]:
    """A row's output cells as written, a reason with its parameters' values in force (as the rules' reasons are shown)."""
    reason = next((a for a in rule.then if a.kind == "reason"), None)
    out = []
    for column, cell in zip(columns, shown, strict=True):
        if column == "reason" and cell != "-" and reason is not None and reason.message is not None:
            cell = _template(reason.message[0], policy) + " / " + _template(reason.message[1], policy)
        out.append(cell)
    return out


def _condition_data(node: Condition) -> dict[str, Any]:
    if isinstance(node, Leaf):
        return {"label": node.label, "expr": " ".join(node.text.split())}
    assert isinstance(node, Group)
    return {"op": node.op, "words": OPS[node.op], "label": node.label, "children": [_condition_data(c) for c in node.children]}


def _by_guarantee(policy: Policy) -> dict[str, list[Rule]]:
    found: dict[str, list[Rule]] = {}
    for rule in policy.rules:
        found.setdefault(rule.guarantee or "claims", []).append(rule)
    order = guarantee_order(policy)
    ordered = sorted(found, key=lambda g: (order.index(g) if g in order else len(order), g))
    return {g: found[g] for g in ordered}


def _parameter_users(policy: Policy) -> dict[str, list[str]]:
    users: dict[str, list[str]] = {}
    for rule in policy.rules:
        for p in _params_used(rule):
            if rule.id not in users.setdefault(p, []):
                users[p].append(rule.id)
    return users


def _parameter_value(param: Parameter, policy: Policy) -> str:
    value = format_value(param.value, param.type, policy.zone, "en")
    if param.unit and param.unit not in ("rate",):
        value += f" {param.unit}"
    return value


def markdown(policy: Policy) -> str:
    out = [
        "# 保障服务目录 / Policy catalogue",
        "",
        f"策略 Policy **{policy.name} {policy.version}**, 时区 time zone {policy.timezone}. "
        "本文件由 `ruleengine catalogue` 从 `rules/` 生成，请勿手工编辑 / generated from `rules/` by "
        "`ruleengine catalogue`: do not edit by hand.",
        "",
        "阶段顺序 Stages, in order: " + " → ".join(f"`{s}`" for s in policy.stages),
        "",
    ]
    by_guarantee = _by_guarantee(policy)
    ordered = list(by_guarantee)
    out.append("## 目录 Contents")
    out.append("")
    for g in ordered:
        out.append(f"- [{_guarantee_title(policy, g)} — `{g}`](#{g.replace('_', '-')})")
    out.append("- [参数 Parameters](#parameters)")
    if policy.sources:
        out.append("- [来源 Sources](#sources)")
    out.append("- [词汇 Vocabulary](#vocabulary)")
    out.append("")
    for g in ordered:
        out.append(f'<a id="{g.replace("_", "-")}"></a>')
        out.append(f"## {_guarantee_title(policy, g)} — `{g}`")
        out.append("")
        tables = {id(rows[0].table): rows for rows in _tables(by_guarantee[g])}
        for rule in sorted(by_guarantee[g], key=lambda r: (r.sort_key, r.version)):
            if rule.table is None:
                out += list(_rule(rule, policy))
            elif id(rule.table) in tables:  # at its first row, the whole table
                out += list(_table(_table_data(tables.pop(id(rule.table)), policy), policy))
    out += list(_parameters(policy))
    out += list(_sources(policy))
    out += list(_vocabulary(policy))
    return "\n".join(out).rstrip() + "\n"


def _guarantee_title(policy: Policy, guarantee: str) -> str:
    term = policy.vocabulary.term("guarantee", guarantee) or policy.vocabulary.term("service", guarantee)
    return f"{term.zh} / {term.en}" if term is not None else guarantee


def _named(policy: Policy, set_name: str, code: str) -> str:
    """A code with its Chinese name before it: 7天无理由退换货 `seven_day_return`."""
    term = policy.vocabulary.term(set_name, code)
    return f"{term.zh} `{code}`" if term is not None else f"`{code}`"


def _vocabulary(policy: Policy) -> Iterator[str]:
    yield '<a id="vocabulary"></a>'
    yield "## 词汇 Vocabulary"
    yield ""
    yield (
        "订单、决策与规则使用的代码及其名称，在策略的 `vocabulary:` 中声明；订单与决策只接受这些代码。"
        " The codes orders, decisions and rules use, and their names, declared under the policy's `vocabulary:`;"
        " orders and decisions accept exactly these codes."
    )
    yield ""
    for name, term_set in policy.vocabulary.sets.items():
        drawn = ""
        if term_set.subset_of or term_set.include:
            drawn = f"（取自 from `{term_set.subset_of}`）" if term_set.subset_of else f"（含 includes `{term_set.include}`）"
        yield f'<a id="vocabulary-{name.replace("_", "-")}"></a>'
        yield f"### {term_set.title_zh} / {term_set.title_en} — `{name}`{drawn}"
        yield ""
        yield "| 代码 code | 中文 | English |"
        yield "|---|---|---|"
        for term in term_set.terms:
            yield f"| `{term.code}` | {term.zh} | {term.en} |"
        yield ""


def _rule(rule: Rule, policy: Policy) -> Iterator[str]:
    version = f" (版本 version {rule.version}/{rule.versions})" if rule.versions > 1 else ""
    yield f"### `{rule.id}`{version} — {rule.title_zh} / {rule.title_en}"
    yield ""
    yield " ".join(rule.description.split())
    yield ""
    facts = [f"阶段 stage `{rule.stage}`", f"优先级 priority {rule.priority}", f"范围 scope: {SCOPES[rule.scope]}"]
    if rule.group:
        facts.append(f"组 group `{rule.group}`")
    yield "- " + " · ".join(facts)
    if rule.effective_from or rule.effective_until:
        start = rule.effective_from.isoformat() if rule.effective_from else "…"
        end = rule.effective_until.isoformat() if rule.effective_until else "…"
        yield f"- 生效 effective: `{rule.effective_on}` in [{start}, {end})"
    if rule.source:
        yield f"- 来源 source: {rule.source}"
    cited = _citations(policy, rule.source, rule.description)
    if cited:
        yield "- 引用 cites:"
        yield from (f"  - {_cited(c)}" for c in cited)
    yield "- 条件 when:"
    yield from _condition(rule.when, 1)
    if rule.then:
        yield "- 则 then:"
        yield from (f"  - {_action(a, policy)}" for a in rule.then)
    if rule.otherwise:
        yield "- 否则 else:"
        yield from (f"  - {_action(a, policy)}" for a in rule.otherwise)
    used = sorted(_params_used(rule))
    if used:
        yield "- 参数 parameters: " + ", ".join(f"[`{p}`](#param-{p.replace('_', '-')})" for p in used)
    yield ""


def _table(data: dict[str, Any], policy: Policy) -> Iterator[str]:
    version = f" (版本 version {data['version']}/{data['versions']})" if data["versions"] > 1 else ""
    yield f"### 决策表 table `{data['id']}`{version} — {data['title_zh']} / {data['title_en']}"
    yield ""
    yield data["description"]
    yield ""
    facts = [f"阶段 stage `{data['stage']}`", f"优先级 priority {data['priority']}", f"范围 scope: {data['scope']}"]
    if data["group"]:
        facts.append(f"组 group `{data['group']}`")
    yield "- " + " · ".join(facts)
    yield f"- 命中策略 hit policy: **{data['hit']}** — {data['hit_words']}" + (" · 完备 complete ✔" if data["complete"] else "")
    effective = data["effective"]
    if effective["from"] or effective["until"]:
        yield f"- 生效 effective: `{effective['on']}` in [{effective['from'] or '…'}, {effective['until'] or '…'})"
    if data["when"]:
        yield f"- 适用条件 applies when: `{data['when']}`"
    if data["source"]:
        yield f"- 来源 source: {data['source']}"
    if data["citations"]:
        yield "- 引用 cites:"
        yield from (f"  - {_cited(c)}" for c in data["citations"])
    yield ""
    heads = ["行 row"]
    heads += [f"{c['label'] or c['name']}<br>`{c['expr']}`" for c in data["inputs"]]
    heads += [f"→ `{o}`" for o in data["outputs"]]
    extra = any(row["actions"] for row in data["rows"])
    if extra:
        heads.append("→ 其他动作 actions")
    yield "| " + " | ".join(_cell(h) for h in heads) + " |"
    yield "|" + "---|" * len(heads)
    for row in data["rows"]:
        label = f"{row['row']} `{row['rule']}`"
        if "version" in row:
            window = row["effective"]
            label += f"<br>版本 version {row['version']}: [{window['from'] or '…'}, {window['until'] or '…'})"
        cells = [label, *(_with_values(c, policy) for c in row["cells"]), *row["outputs"]]
        if extra:
            cells.append("<br>".join(row["actions"]) or "-")
        yield "| " + " | ".join(_cell(c) for c in cells) + " |"
    yield ""


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _with_values(cell: str, policy: Policy) -> str:
    """A cell as written, each ``params.NAME`` followed by its value in force: ``≤ params.window (7 days)``."""

    def value(found: re.Match[str]) -> str:
        param = policy.parameters.get(found.group(1))
        return found.group(0) + (f" ({_parameter_value(param, policy)})" if param is not None else "")

    return _PARAM.sub(value, cell)


_PARAM = re.compile(r"params\.([a-z][a-z0-9_]*)")


def _condition(node: Condition, depth: int) -> Iterator[str]:
    pad = "  " * depth
    if isinstance(node, Leaf):
        label = f"{node.label} — " if node.label else ""
        yield f"{pad}- {label}`{' '.join(node.text.split())}`"
        return
    assert isinstance(node, Group)
    label = f" ({node.label})" if node.label else ""
    yield f"{pad}- {OPS[node.op]}{label}:"
    for child in node.children:
        yield from _condition(child, depth + 1)


def _action(action: Action, policy: Policy) -> str:
    value = ""
    if action.value is not None:
        value = f"`{' '.join(action.value.compiled.text.split())}`" if action.value.compiled else f"`{action.value.literal}`"
    if action.kind == "add_service":
        return f"授予服务 add service {_named(policy, 'service', action.target)}"
    if action.kind == "set":
        return f"设置 set `{action.target}` = {value}"
    if action.kind == "compensation":
        form, payer = policy.vocabulary.words("compensation_form", action.form), policy.vocabulary.words("payer", action.payer)
        return f"赔付 compensation {_named(policy, 'compensation_type', action.target)} {value} ({form}, {payer})"
    if action.kind == "deduction":
        return f"扣减 deduction {_named(policy, 'deduction_type', action.target)} {value}"
    if action.kind == "violation":
        return f"记违规 violation {_named(policy, 'violation_type', action.target)}"
    if action.kind == "reason":
        assert action.message is not None
        return "原因 reason: " + _template(action.message[0], policy) + " / " + _template(action.message[1], policy)
    return "结束本组 stop the group"


def _template(parts: list[Any], policy: Policy) -> str:
    """A reason as written, its ``{params.NAME}`` shown with the value (what depends on the order stays an expression)."""
    out = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
            continue
        text = " ".join(part.compiled.text.split())
        param = policy.parameters.get(text.removeprefix("params.")) if text.startswith("params.") else None
        out.append(show(param.value, param.declaration.kind) if param is not None else "{" + text + "}")
    return "".join(out)


def _params_used(rule: Rule) -> set[str]:
    used: set[str] = set()
    stack: list[Condition] = [rule.when]
    while stack:
        node = stack.pop()
        if isinstance(node, Leaf):
            used |= node.compiled.params_used
        else:
            stack.extend(node.children)
    for action in [*rule.then, *rule.otherwise]:
        if action.value is not None and action.value.compiled is not None:
            used |= action.value.compiled.params_used
        if action.message is not None:
            for parts in action.message:
                for p in parts:
                    if isinstance(p, Placeholder):
                        used |= p.compiled.params_used
    return used


def _parameters(policy: Policy) -> Iterator[str]:
    users = _parameter_users(policy)
    yield '<a id="parameters"></a>'
    yield "## 参数 Parameters"
    yield ""
    yield "| 参数 parameter | 值 value | 说明 description | 来源 source | 使用规则 used by |"
    yield "|---|---|---|---|---|"
    for name, param in policy.parameters.items():
        value = _parameter_value(param, policy)
        used = ", ".join(f"`{r}`" for r in users.get(name, [])) or "—（未使用 unused）"
        cell = " ".join(param.description.split()).replace("|", "\\|")
        cited = [_cited(c) for c in _citations(policy, param.source, param.description)]
        source = "<br>".join([param.source or "—", *cited]).replace("|", "\\|")
        yield f'| <a id="param-{name.replace("_", "-")}"></a>`{name}` | {value} | {cell} | {source} | {used} |'
    yield ""


def _cited(citation: dict[str, Any]) -> str:
    """``[`L1`](#source-l1) 标题 / Title — Art 55``: a cited source with its title, linked to the sources table."""
    where = f" — {', '.join(citation['locators'])}" if citation["locators"] else ""
    source_id = citation["source"]
    return f"[`{source_id}`](#source-{source_id.lower()}) {citation['title']['zh']} / {citation['title']['en']}{where}"


def _sources(policy: Policy) -> Iterator[str]:
    if not policy.sources:
        return
    cited_by = _cited_by(policy)
    yield '<a id="sources"></a>'
    yield "## 来源 Sources"
    yield ""
    yield (
        "规则、参数与定义以 `[编号 位置]` 引用来源，例如 `[L2 Art 6]`、`[SPEC §4.3]`；来源在策略的 `sources:` 中声明。"
        " Rules, parameters and definitions cite a source as `[ID locator]`, e.g. `[L2 Art 6]`, `[SPEC §4.3]`;"
        " the policy declares its sources under `sources:`."
    )
    yield ""
    yield "| 编号 id | 类别 kind | 标题 title | 发布方 issuer | 日期 date | 查阅 where to read | 引用 cited by |"
    yield "|---|---|---|---|---|---|---|"
    for source_id, source in policy.sources.items():
        cells = [
            f'<a id="source-{source_id.lower()}"></a>`{source_id}`',
            policy.vocabulary.words("source_kind", source.kind),
            f"{source.title_zh}<br>{source.title_en}",
            f"{source.issuer_zh}<br>{source.issuer_en}",
            source.date or "—",
            _where(source),
            _cited_count(cited_by.get(source_id, [])),
        ]
        yield "| " + " | ".join(" ".join(c.split()).replace("|", "\\|") for c in cells) + " |"
    yield ""


def _where(source: Source) -> str:
    parts = []
    if source.url:
        parts.append(f"<{source.url}>")
    if source.document:
        parts.append(f"`{source.document}`")
    if source.note_zh:
        parts.append(f"{source.note_zh}<br>{source.note_en}")
    return "<br>".join(parts)


def _cited_count(users: list[str]) -> str:
    kinds = [user.split(" ", 1)[0] for user in users]
    words = {"rule": "规则 rules", "parameter": "参数 parameters", "definition": "定义 definitions", "policy": "清单 manifest"}
    return ", ".join(f"{word} {kinds.count(kind)}" for kind, word in words.items() if kind in kinds) or "—（未引用 not cited）"
