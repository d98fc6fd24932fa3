"""Stage 3: rules built from their YAML: conditions compiled into checked trees, actions, texts, versions."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import itertools
import re
from collections.abc import Callable
from typing import Any

from ..documents import Document, pointer_join
from ..errors import Diagnostic
from ..lang import types as t
from ..lang.check import compile_definition, compile_expression
from ..lang.codegen import build_probe, number_lines
from ..lang.functions import SIGNATURES
from ..lang.ir import Definition, Environment, ExpressionProblem
from ..lang.templates import Placeholder, split
from ..lang.words import Words, render
from ..model.conditions import ABSENT_VALUE, Condition, Group, Leaf
from ..model.rules import Action, Location, Rule, ValueExpr
from ..schemas import did_you_mean, parse_timestamp
from ..text import shorten
from .compilation import Compilation
from .index import constraints

_LOOKS_LIKE_TIME = re.compile(r"^\s*\d{4}-\d{2}-\d{2}")


TableBuilder = Callable[[Compilation, Document, str, dict[str, Any], Environment, dict[str, Any], tuple[str, ...], int], list[Rule]]
"""Builds the rules of one table (``compile.tables.table_rules``), given by the pipeline: tables build on this module."""


def build_rules(
    c: Compilation, env: Environment, globals_: dict[str, Any], stages: tuple[str, ...], tables: TableBuilder | None = None
) -> list[Rule]:
    """Every file's rules, then its tables' rows (rules too), numbered in that order: file order breaks priority ties."""
    out: list[Rule] = []
    order = 0
    for doc in c.docs:
        for index, spec in enumerate(_section(c, doc, "rules")):
            pointer = f"/rules/{index}"
            if c.broken(doc, pointer):
                order += 1
                continue
            rule = build_rule(c, doc, pointer, spec, env, globals_, stages, order)
            order += 1
            if rule is not None:
                out.append(rule)
        for index, spec in enumerate(_section(c, doc, "tables") if tables is not None else []):
            assert tables is not None
            if not c.broken(doc, f"/tables/{index}"):
                out += tables(c, doc, f"/tables/{index}", spec, env, globals_, stages, order)
            order += len(spec.get("rows", ())) if isinstance(spec, dict) else 1
    return number_versions(c, out)


def _section(c: Compilation, doc: Document, key: str) -> list[Any]:
    found = doc.data.get(key) if isinstance(doc.data, dict) else None
    return found if isinstance(found, list) and not c.broken(doc, "/" + key, exact=True) else []


def build_rule(
    c: Compilation,
    doc: Document,
    pointer: str,
    spec: dict[str, Any],
    env: Environment,
    globals_: dict[str, Any],
    stages: tuple[str, ...],
    order: int,
) -> Rule | None:
    before = len(c.diagnostics)
    rule_id = spec["id"]
    scope = spec.get("scope", "order")
    stage, bounds, effective = schedule(c, doc, pointer, spec, stages)
    env = local_names(c, doc, pointer, spec, env)
    c.rule_words = []
    title_zh = rendered_words(c, doc, pointer + "/title/zh", "title.zh")
    title_en = rendered_words(c, doc, pointer + "/title/en", "title.en")
    description = rendered_words(c, doc, pointer + "/description", "description")
    when = build_condition(c, doc, pointer + "/when", spec["when"], env, globals_, scope != "order", rule_id)
    then = build_actions(c, doc, pointer + "/then", spec.get("then", []), env, globals_, scope, spec, rule_id)
    otherwise = build_actions(c, doc, pointer + "/else", spec.get("else", []), env, globals_, scope, spec, rule_id)
    if len(c.diagnostics) > before or when is None:
        return None
    return Rule(
        id=rule_id,
        title_zh=title_zh,
        title_en=title_en,
        description=description,
        source=spec.get("source", ""),
        guarantee=spec.get("guarantee", ""),
        stage=stage,
        stage_index=stages.index(stage),
        priority=spec.get("priority", 0),
        scope=scope,
        group=spec.get("group", ""),
        effective_from=bounds[0],
        effective_until=bounds[1],
        effective_on=effective.get("on", "paid_at"),
        when=when,
        then=then,
        otherwise=otherwise,
        location=Location(doc.name, *doc.locate(pointer)),
        order=order,
        words=tuple(c.rule_words),
        # A rule index, as OPA has one: a rule that requires other claim types cannot match this order.
        claim_types=None if otherwise else constraints(when, env).get("claim.type"),
    )


def schedule(
    c: Compilation, doc: Document, pointer: str, spec: dict[str, Any], stages: tuple[str, ...]
) -> tuple[str, list[dt.datetime | None], dict[str, Any]]:
    """A rule's or table's stage (checked) and effective window (``from`` before ``until``)."""
    stage = spec["stage"]
    if stage not in stages:
        hint = did_you_mean(stage, stages)
        c.error(
            doc,
            doc.locate(pointer + "/stage"),
            "unknown_stage",
            f"unknown stage '{stage}'" + (f" (did you mean '{hint}'?)" if hint else f"; stages: {', '.join(stages)}"),
            pointer + "/stage",
        )
    effective = spec.get("effective", {})
    bounds: list[dt.datetime | None] = []
    for key in ("from", "until"):
        raw = effective.get(key)
        bounds.append(parse_timestamp(raw) if raw is not None else None)
    if bounds[0] is not None and bounds[1] is not None and bounds[0] >= bounds[1]:
        c.error(doc, doc.locate(pointer + "/effective"), "effective_window", "'from' must be before 'until'", pointer + "/effective")
    return stage, bounds, effective


def local_names(c: Compilation, doc: Document, pointer: str, spec: dict[str, Any], env: Environment) -> Environment:
    """A rule's or table's ``let:`` names, for its own expressions only: definitions without arguments, in order."""
    lets = spec.get("let")
    if not lets:
        return env
    local = dataclasses.replace(env, definitions=dict(env.definitions), broken=set(env.broken))
    for name, text in lets.items():
        at = pointer_join(pointer + "/let", name)
        taken = name in local.definitions or name in SIGNATURES or name in env.facts.fields
        if taken or name in ("item", "decision", "params", "true", "false"):
            what = "a definition" if name in local.definitions else "a function" if name in SIGNATURES else "a name of the language"
            message = f"局部名 {name} 已有含义 / let name '{name}' is already {what}; choose another"
            c.error(doc, doc.locate(at, key=True), "let_name", message, at)
            continue
        local.definitions[name] = definition = Definition(name, (), text, pointer=at, file=doc.name)
        try:
            compile_definition(definition, local)
        except ExpressionProblem as exc:
            definition.compiled = None
            c.expression_error(doc, at, exc)
    return local


def rendered_words(c: Compilation, doc: Document, pointer: str, what: str) -> str:
    """A title, label or description with its ``{params.NAME}`` filled in (the text as written on error)."""
    text = str(_get_pointer(doc.data, pointer))
    c.rule_words.append(Words(what, text, functools.partial(doc.locate_in_text, pointer), doc.name))
    try:
        return render(text, c.word_values, c.broken_names)[0]
    except ExpressionProblem as exc:
        c.expression_error(doc, pointer, exc)
        return text


def build_condition(
    c: Compilation, doc: Document, pointer: str, spec: Any, env: Environment, globals_: dict[str, Any], item: bool, rule_id: str
) -> Condition | None:
    if isinstance(spec, str) or "expr" in spec:
        text_pointer = pointer if isinstance(spec, str) else pointer + "/expr"
        text = spec if isinstance(spec, str) else spec["expr"]
        try:
            compiled = compile_expression(text, env, item=item, expect=t.BOOL)
        except ExpressionProblem as exc:
            c.expression_error(doc, text_pointer, exc)
            return None
        line, col = doc.locate_in_text(text_pointer, 0)
        label = "" if isinstance(spec, str) or "label" not in spec else rendered_words(c, doc, pointer + "/label", "label")
        c.leaves += 1
        number_lines(compiled.py, c.leaves + 1)
        leaf = Leaf(compiled, pointer, label, (doc.name, line, col), c.leaves + 1, env=env)
        probe_name = f"rule {rule_id} {pointer}"
        leaf.build_probe = functools.partial(build_probe, absent=ABSENT_VALUE, env=env, globals_=globals_, name=probe_name)
        return leaf
    op = next(k for k in ("all", "any", "not") if k in spec)
    raw = spec[op] if op != "not" else [spec[op]]
    children = []
    for i, child in enumerate(raw):
        child_pointer = f"{pointer}/{op}/{i}" if op != "not" else f"{pointer}/not"
        built = build_condition(c, doc, child_pointer, child, env, globals_, item, rule_id)
        if built is not None:
            children.append(built)
    if len(children) != len(raw):
        return None
    label = rendered_words(c, doc, pointer + "/label", "label") if "label" in spec else ""
    return Group(op, children, pointer, label)


def build_actions(
    c: Compilation,
    doc: Document,
    pointer: str,
    specs: list[dict[str, Any]],
    env: Environment,
    globals_: dict[str, Any],
    scope: str,
    rule: dict[str, Any],
    rule_id: str,
) -> list[Action]:
    out = []
    item = scope != "order"
    for index, spec in enumerate(specs):
        kind, value = next(iter(spec.items()))
        p = f"{pointer}/{index}/{kind}"
        loc = Location(doc.name, *doc.locate(p))
        if kind == "add_service":
            if scope == "order":
                c.error(
                    doc, doc.locate(p), "scope", "add_service needs scope 'line' or 'claimed_line' (which line gets the service?)", p
                )
            out.append(Action(kind, loc, target=value))
        elif kind == "set":
            for field_name, raw in value.items():
                fp = pointer_join(p, field_name)
                built = field_value(c, doc, fp, field_name, raw, env, globals_, item, rule_id)
                if built is not None:
                    out.append(Action(kind, Location(doc.name, *doc.locate(fp)), target=field_name, value=built))
        elif kind in ("compensation", "deduction"):
            amount = money_value(c, doc, p + "/amount", value["amount"], env, globals_, item, rule_id)
            if amount is not None:
                out.append(
                    Action(
                        kind, loc, target=value["type"], value=amount, form=value.get("form", ""), payer=value.get("payer", "merchant")
                    )
                )
        elif kind == "violation":
            out.append(Action(kind, loc, target=value))
        elif kind == "reason":
            for lang in ("zh", "en"):
                locate = functools.partial(doc.locate_in_text, f"{p}/{lang}")
                c.rule_words.append(Words(f"reason.{lang}", value[lang], locate, doc.name))
            parts = (
                build_template(c, doc, p + "/zh", value["zh"], env, globals_, item, rule_id),
                build_template(c, doc, p + "/en", value["en"], env, globals_, item, rule_id),
            )
            out.append(Action(kind, loc, message=parts))
        elif kind == "stop":
            if not rule.get("group"):
                c.error(doc, doc.locate(p), "stop_without_group", "'stop' ends the rule's group, but this rule has no 'group'", p)
            out.append(Action(kind, loc))
    return out


def field_value(
    c: Compilation, doc: Document, pointer: str, name: str, raw: Any, env: Environment, globals_: dict[str, Any], item: bool, rule_id: str
) -> ValueExpr | None:
    claim_type = env.decision.fields["claim"].type
    fld = claim_type.fields[name.removeprefix("claim.")]
    loc = Location(doc.name, *doc.locate(pointer))
    if isinstance(raw, dict):  # {expr: …}: a value computed, never a word
        pointer, raw = pointer + "/expr", raw["expr"]
    elif isinstance(raw, str) and fld.type.enum:  # a word: one of the field's values, as written
        if raw in fld.type.enum:
            return ValueExpr(literal=raw, location=loc)
        hint = did_you_mean(raw, fld.type.enum)
        if re.fullmatch(r"[a-z_]+", raw) and raw not in env.definitions:  # a word: a misspelt value
            message = (
                f"'{raw}' 不是 {name} 的取值 / '{raw}' is not a value of {name}"
                + (f" (did you mean '{hint}'?)" if hint else "")
                + f"; allowed: {', '.join(fld.type.enum)}"
            )
        else:
            message = (
                f"{name} 取 {', '.join(fld.type.enum)} 之一；计算得出的值写作 {{expr: …}} / {name} takes one of its words "
                f"as written; a value computed by an expression is written {{expr: {shorten(raw, 60)}}}"
            )
        c.error(doc, loc_tuple(loc), "enum_value", message, pointer)
        return None
    if isinstance(raw, bool) or (not isinstance(raw, str) and fld.type.kind != t.NUMBER):
        allowed = f": one of {', '.join(fld.type.enum)}" if fld.type.enum else ""
        c.error(doc, loc_tuple(loc), "value_type", f"{name} takes {fld.type.words()}{allowed}", pointer)
        return None
    if isinstance(raw, str) and fld.type.kind == t.TIMESTAMP and _LOOKS_LIKE_TIME.match(raw):
        c.error(
            doc,
            loc_tuple(loc),
            "value_type",
            f"{name} takes an expression giving a timestamp, e.g. add_days(claim.merchant_received_at, 7); "
            "a fixed instant belongs in parameters.yaml with type: timestamp",
            pointer,
        )
        return None
    if not isinstance(raw, str):
        return ValueExpr(literal=raw, location=loc)
    try:
        compiled = compile_expression(raw, env, item=item)
    except ExpressionProblem as exc:
        c.expression_error(doc, pointer, exc)
        return None
    if compiled.type.kind != fld.type.kind:
        c.error(
            doc,
            loc_tuple(loc),
            "value_type",
            f"{name} takes {fld.type.words()}, but this expression gives {compiled.type.words()}",
            pointer,
        )
        return None
    return ValueExpr(compiled=compiled, location=loc)


def money_value(
    c: Compilation, doc: Document, pointer: str, raw: Any, env: Environment, globals_: dict[str, Any], item: bool, rule_id: str
) -> ValueExpr | None:
    loc = Location(doc.name, *doc.locate(pointer))
    if not isinstance(raw, str):
        return ValueExpr(literal=raw, location=loc)
    try:
        compiled = compile_expression(raw, env, item=item, expect=t.NUMBER)
    except ExpressionProblem as exc:
        c.expression_error(doc, pointer, exc)
        return None
    return ValueExpr(compiled=compiled, location=loc)


def build_template(
    c: Compilation, doc: Document, pointer: str, text: str, env: Environment, globals_: dict[str, Any], item: bool, rule_id: str
) -> list[Any]:
    parts: list[Any] = []
    try:
        pieces = split(text)
    except ExpressionProblem as exc:
        c.expression_error(doc, pointer, exc)
        return parts
    for piece, offset, is_expr in pieces:
        if not is_expr:
            parts.append(piece)
            continue
        try:
            compiled = compile_expression(piece, env, item=item)
        except ExpressionProblem as exc:
            c.expression_error(doc, pointer, exc, base=offset)
            continue
        parts.append(Placeholder(compiled, offset))
    return parts


def number_versions(c: Compilation, rules: list[Rule]) -> list[Rule]:
    """The rules, each numbered among the versions of its id (versions whose windows overlap are an error)."""
    numbered: dict[int, Rule] = {}
    by_id: dict[str, list[Rule]] = {}
    for rule in rules:
        by_id.setdefault(rule.id, []).append(rule)
    for rule_id, versions in by_id.items():
        if len(versions) == 1:
            continue
        ordered = sorted(versions, key=lambda r: r.effective_from or dt.datetime.min.replace(tzinfo=dt.UTC))
        for earlier, later in itertools.pairwise(ordered):
            if earlier.effective_until is None or later.effective_from is None or earlier.effective_until > later.effective_from:
                loc = later.location
                c.diagnostics.append(
                    Diagnostic(
                        loc.file,
                        loc.line,
                        loc.column,
                        "duplicate_rule",
                        f"rule id '{rule_id}' is also used at {earlier.location}; "
                        "versions of one rule need 'effective' windows that do not overlap",
                    )
                )
        for number, rule in enumerate(ordered, 1):
            numbered[id(rule)] = dataclasses.replace(rule, version=number, versions=len(ordered))
    return [numbered.get(id(rule), rule) for rule in rules]


def _get_pointer(data: Any, pointer: str) -> Any:
    for key in pointer.strip("/").split("/"):
        data = data[int(key)] if isinstance(data, list) else data[key.replace("~1", "/").replace("~0", "~")]
    return data


def loc_tuple(loc: Location) -> tuple[int, int]:
    return (loc.line, loc.column)
