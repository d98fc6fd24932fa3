"""The bundled JSON Schemas, validated without network access and with formats enforced.

jsonschema's defaults fetch remote ``$ref`` s, skip ``format``, and mix floats
with decimals. Here schemas are read with ``Decimal`` numbers (so
``multipleOf: 0.01`` is exact), references resolve only inside a registry of
the bundled schemas, and ``date-time`` must carry an offset.

The published schemas describe documents on the wire, where money is a decimal
string. The engine checks Python data, where money may also be the exact number
(``Decimal`` or ``int``): :func:`python_form` derives that variant from the
published schema when it is loaded, so there is one schema, never two copies.

The value sets a person reads (services, claim types, categories, flags …) are not
in the bundled files: a node marked ``"x-vocabulary": "claim_type"`` holds a code of
that set of the policy's vocabulary, and :func:`completed` fills in the policy's
codes when the policy loads. Every function that checks a document takes those
codes as ``enums`` (``Policy.enums``); without them a marked value need only look
like a code.

Why one module of ~600 lines: reading the bundled files, their Python form, filling in
a policy's codes, the registry, the validators and the words of their errors all work
on the same schema trees and caches; apart, each part would import the others.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from . import instants
from .bundled import schemas_dir
from .schemacheck import compile_check, compile_converter
from .text import shorten

if TYPE_CHECKING:  # jsonschema and referencing are imported when an explanation is first needed
    import referencing
    from jsonschema import FormatChecker
    from jsonschema.exceptions import ValidationError

_DATE_TIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

def is_date_time(value: object) -> bool:
    """RFC 3339: a real calendar instant with an explicit offset (no naive times).

    The usual shape (``2026-10-26T22:10:05+08:00``) skips the pattern: with its separators in place,
    ``fromisoformat`` accepts exactly the ASCII digits the pattern requires elsewhere, and checks the calendar
    (read by ``instants.usual``, which also refuses a NUL, where ``fromisoformat`` would stop reading).
    """
    if not isinstance(value, str):
        return True
    if len(value) == 25 and value[4:23:3] in instants.USUAL_SEPARATORS:
        instants.usual(value)  # ValueError when it is no instant
        return True
    if not _DATE_TIME.match(value):
        return False
    parse_timestamp(value)
    return True


def is_date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _DATE.match(value):
        return False
    dt.date.fromisoformat(value)
    return True


@functools.cache
def format_checker() -> FormatChecker:
    """jsonschema's checker with only our two formats: RFC 3339 instants with an offset, and dates."""
    from jsonschema import FormatChecker

    checker = FormatChecker(formats=())
    checker.checks("date-time", raises=ValueError)(is_date_time)
    checker.checks("date", raises=ValueError)(is_date)
    return checker


def parse_timestamp(value: str) -> dt.datetime:
    """An RFC 3339 timestamp as an aware datetime holding its offset's shared object (``instants``); ValueError if it has no offset."""
    if not _DATE_TIME.match(value):
        raise ValueError(f"not an RFC 3339 timestamp with an offset: {shorten(value, 40)!r}")
    parsed = dt.datetime.fromisoformat(value.replace("z", "Z"))
    if parsed.tzinfo is None:  # pragma: no cover - the pattern requires an offset
        raise ValueError("timestamp without an offset")
    return instants.shared(parsed)


VOCABULARY = "x-vocabulary"
"""The keyword that marks a node holding a code of one of the policy's vocabulary sets."""

Enums = tuple[tuple[str, tuple[str, ...]], ...]
"""A policy's vocabulary as the schemas need it: (set name, its codes in order) pairs, sorted by set name; hashable."""

NO_ENUMS: Enums = ()
"""No vocabulary: a marked value need only be a code (the schemas' structure alone)."""


def enums_of(sets: Mapping[str, tuple[str, ...]]) -> Enums:
    return tuple(sorted((name, tuple(codes)) for name, codes in sets.items()))


@functools.cache
def vocabulary_sets() -> dict[str, tuple[str, ...]]:
    """Every set a bundled schema marks, with the schemas that use it: what a policy's vocabulary must declare."""
    found: dict[str, list[str]] = {}

    def walk(node: Any, name: str) -> None:
        if isinstance(node, dict):
            mark = node.get(VOCABULARY)
            if isinstance(mark, str) and name not in found.setdefault(mark, []):
                found[mark].append(name)
            for value in node.values():
                walk(value, name)
        elif isinstance(node, list):
            for value in node:
                walk(value, name)

    for name in SCHEMA_FILES:
        if (schemas_dir() / name).exists():
            walk(load_schema(name), name)
    return {mark: tuple(names) for mark, names in sorted(found.items())}


def completed(schema: dict[str, Any], enums: Enums) -> dict[str, Any]:
    """The schema with the policy's codes in every node marked ``x-vocabulary``.

    A list of distinct codes of one set (``uniqueItems``) holds at most the set's codes: its ``maxItems`` is their
    number (the bundled files bound it generously, for documents checked without a policy).
    """
    if not enums:
        return schema
    codes = dict(enums)
    defs = schema.get("$defs", {})

    def set_of(node: Any) -> str | None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                node = defs.get(ref.removeprefix("#/$defs/"), {})
            mark = node.get(VOCABULARY) if isinstance(node, dict) else None
            return mark if isinstance(mark, str) else None
        return None

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            out = {k: walk(v) for k, v in node.items()}
            mark = out.get(VOCABULARY)
            if isinstance(mark, str) and mark in codes:
                out.pop("pattern", None)
                out["enum"] = list(codes[mark])
            if out.get("uniqueItems") is True:
                held = set_of(out.get("items"))
                if held in codes:
                    out["maxItems"] = len(codes[held])
            return out
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    filled: dict[str, Any] = walk(schema)
    return filled


@functools.cache
def load_schema(name: str) -> dict[str, Any]:
    """A bundled schema by file name, numbers as Decimal.

    Not checked against the metaschema here: the bundled schemas are fixed package data, checked by the
    tests (test_schemas), and the check cost a third of a cold policy load.
    """
    with open(schemas_dir() / name, encoding="utf-8") as handle:
        schema: dict[str, Any] = json.load(handle, parse_float=Decimal)
    return schema


def python_form(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema as the engine checks Python data: a decimal string may also be the exact number it stands for.

    Wherever the published schema writes a number as text — a string whose
    ``contentMediaType`` is ``application/json`` with a ``contentSchema`` of type
    number (money: ``"199.00"``) — the Python form takes either that string or a
    number (``int`` or ``Decimal``) that the ``contentSchema`` accepts. Read with
    ``Decimal`` numbers, that check is exact.
    """

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            out = {k: walk(v) for k, v in node.items()}
            content = out.get("contentSchema")
            if (
                out.get("type") == "string"
                and out.get("contentMediaType") == "application/json"
                and isinstance(content, dict)
                and content.get("type") in ("number", "integer")
            ):
                text = {k: v for k, v in out.items() if k not in ("description", "examples")}
                either: dict[str, Any] = {"anyOf": [text, content]}
                if "description" in out:
                    either["description"] = out["description"]
                return either
            return out
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    derived: dict[str, Any] = walk(schema)
    return derived


@functools.lru_cache(maxsize=64)
def policy_schema(name: str, enums: Enums = NO_ENUMS) -> dict[str, Any]:
    """A bundled schema with a policy's codes filled in (:func:`completed`): the schema of that policy's documents."""
    return completed(load_schema(name), enums)


@functools.lru_cache(maxsize=64)
def python_schema(name: str, enums: Enums = NO_ENUMS) -> dict[str, Any]:
    """A bundled schema in its :func:`python_form`, numbers as Decimal: what ``validator(name, enums)`` checks."""
    return python_form(policy_schema(name, enums))


SCHEMA_FILES = ("order.schema.json", "decision.schema.json", "rule.schema.json", "cases.schema.json", "tokens.schema.json")


@functools.lru_cache(maxsize=64)
def registry(enums: Enums = NO_ENUMS) -> referencing.Registry[Any]:
    """Every bundled schema by its ``$id`` (with a policy's codes); nothing is ever retrieved from elsewhere."""
    import referencing
    import referencing.jsonschema

    resources = []
    for name in SCHEMA_FILES:
        if (schemas_dir() / name).exists():
            schema = policy_schema(name, enums)
            resource = referencing.Resource.from_contents(schema, default_specification=referencing.jsonschema.DRAFT202012)
            resources.append((schema.get("$id", name), resource))
    return referencing.Registry().with_resources(resources).crawl()


@dataclass(frozen=True)
class SchemaProblem:
    pointer: str
    message: str
    keyword: str
    key: str | None = None
    """For an unexpected or missing property: its name."""


class Validator:
    """A validator for one bundled schema: compiled ones answer "valid?" fast, jsonschema explains why not.

    First the schema's own Python function (``schemacheck``: it reads the values where they are, where
    jsonschema-rs converts each one, every Decimal through its text); when it is not sure, jsonschema-rs
    (Rust, exact decimals and formats); when that says no (or is not installed), the jsonschema package
    finds the most relevant errors, with pointers.
    """

    def __init__(self, name: str, enums: Enums = NO_ENUMS) -> None:
        self.name = name
        self.enums = enums
        self.schema = python_schema(name, enums)
        formats: dict[str, Callable[[str], bool]] = {"date-time": is_date_time, "date": is_date}
        self._check = compile_check(self.schema, formats, name)
        parsers: dict[str, Callable[[str], Any]] = {"date-time": parse_timestamp, "date": dt.date.fromisoformat}
        self._convert = compile_converter(self.schema, formats, parsers, name)
        self._rust = _compiled(name, enums)

    @functools.cached_property
    def _validator(self) -> Any:
        """jsonschema: built the first time something is invalid (or jsonschema-rs cannot judge a value)."""
        from jsonschema import Draft202012Validator

        return Draft202012Validator(_inline_enums(self.schema), registry=registry(self.enums), format_checker=format_checker())

    def is_valid(self, instance: Any) -> bool:
        if self._check is not None:
            try:
                if self._check(instance):
                    return True
            except Exception:  # any surprise in a value is "not sure": the validators behind judge it
                pass
        if self._rust is not None:
            try:
                return bool(self._rust.is_valid(instance))
            except (ValueError, TypeError, OverflowError):
                pass  # a value the compiled validator cannot represent: let jsonschema judge it
        return bool(self._validator.is_valid(instance))

    def converted(self, instance: Any) -> Any:
        """The instance, valid, with its timestamps and dates parsed (the objects holding them copied); None: not sure.

        One pass for the happy path of a caller that would validate, then convert (the facts); None sends it
        the usual way: ``is_valid``, ``problems``, its own converter.
        """
        if self._convert is None:
            return None
        try:
            return self._convert(instance)
        except Exception:  # any surprise in a value is "not sure"
            return None

    def problems(self, instance: Any, limit: int = 20) -> list[SchemaProblem]:
        from jsonschema.exceptions import relevance

        out = []
        for error in sorted(self._validator.iter_errors(instance), key=relevance, reverse=True):
            out.append(_describe(_deepest(error)))
            if len(out) >= limit:
                break
        out.sort(key=lambda p: p.pointer)
        return out


def _inline_enums(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with references to its named enums (``#/$defs/claim_type``) replaced by the enum itself.

    The files name every enum once, for readers and for the policy's vocabulary; jsonschema would resolve
    such a reference at every value it checks, several times slower on a long list of flags.
    """
    defs = schema.get("$defs", {})
    enums = {f"#/$defs/{name}": d for name, d in defs.items() if isinstance(d, dict) and ("enum" in d or VOCABULARY in d)}

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref in enums:
                return {**enums[ref], **{k: walk(v) for k, v in node.items() if k != "$ref"}}
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    inlined: dict[str, Any] = walk(schema)
    return inlined


@functools.lru_cache(maxsize=64)
def _part_validators(name: str, pointer: str, enums: Enums = NO_ENUMS) -> tuple[Any, Callable[[], Any]]:
    """(compiled or None, jsonschema when first asked) validators of one part of a schema, its ``$defs`` carried
    along for its ``$ref``s: the happy path never imports jsonschema."""

    def standalone(schema: dict[str, Any]) -> dict[str, Any]:
        part: Any = schema
        for step in pointer.split("/")[1:]:
            part = part[step.replace("~1", "/").replace("~0", "~")]
        return {**part, "$defs": schema.get("$defs", {})}

    fast = None
    try:
        import jsonschema_rs

        fast = jsonschema_rs.Draft202012Validator(standalone(_float_form(name, enums)), validate_formats=True)
    except ImportError:  # pragma: no cover - an optional speed-up
        pass

    @functools.cache
    def checker() -> Any:
        from jsonschema import Draft202012Validator

        return Draft202012Validator(standalone(python_schema(name, enums)), format_checker=format_checker())

    return fast, checker


def problems_at(name: str, pointer: str, instance: Any, limit: int = 5, enums: Enums = NO_ENUMS) -> list[SchemaProblem]:
    """Problems of ``instance`` against one part of a bundled schema (``/properties/claim``), most relevant first.

    The part's ``$ref``s must point into the schema's ``$defs`` (as every bundled schema's do).
    """
    fast, checker = _part_validators(name, pointer, enums)
    try:
        if fast is not None and fast.is_valid(instance):
            return []
    except (ValueError, TypeError, OverflowError):
        pass  # a value the compiled validator cannot represent: jsonschema judges it
    from jsonschema.exceptions import relevance

    errors = sorted(checker().iter_errors(instance), key=relevance, reverse=True)
    return [_describe(_deepest(error)) for error in errors[:limit]]


def _compiled(name: str, enums: Enums) -> Any:
    """jsonschema-rs for a bundled schema without remote references, or None where it is unavailable."""
    try:
        import jsonschema_rs
    except ImportError:  # pragma: no cover - an optional speed-up
        return None
    return jsonschema_rs.Draft202012Validator(_float_form(name, enums), validate_formats=True)


def _float_form(name: str, enums: Enums) -> dict[str, Any]:
    """The schema's python form read with plain JSON numbers, as jsonschema-rs takes it."""
    with open(schemas_dir() / name, encoding="utf-8") as handle:
        return python_form(completed(json.load(handle), enums))


def _deepest(error: ValidationError) -> ValidationError:
    """For anyOf/oneOf, the error of the branch the author meant, not the whole list.

    A branch is the wrong one when the value is not even of its kind (a type
    error, or its distinguishing key is missing); of the branches left, the
    one whose error goes deepest into the value explains most.
    """
    while error.context and str(error.validator) in ("anyOf", "oneOf"):
        branches: dict[int, list[ValidationError]] = {}
        for sub in error.context:
            branches.setdefault(int(sub.relative_schema_path[0]), []).append(sub)
        meant = [errs for errs in branches.values() if not any(_wrong_kind(e, error) for e in errs)]
        if not meant:
            return error
        best = max((e for errs in meant for e in errs), key=lambda e: (len(e.absolute_path), -_weak(e)))
        error = best
    return error


def _wrong_kind(sub: ValidationError, parent: ValidationError) -> bool:
    return len(sub.absolute_path) == len(parent.absolute_path) and str(sub.validator) in ("type", "required", "const")


def _weak(error: ValidationError) -> int:
    return 1 if str(error.validator) in ("anyOf", "oneOf") else 0


def _pointer(error: ValidationError) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in error.absolute_path)


def _describe(error: ValidationError) -> SchemaProblem:
    pointer = _pointer(error)
    keyword = str(error.validator)
    instance = error.instance
    schema: Any = error.schema
    expected: Any = error.validator_value
    key: str | None = None
    if keyword == "additionalProperties" and isinstance(instance, dict):
        allowed = set(schema.get("properties", {}))
        extra = sorted(k for k in instance if k not in allowed)
        key = extra[0] if extra else None
        names = ", ".join(sorted(allowed))
        message = f"unknown field '{shorten(str(key), 60)}'" + (f"; expected one of: {names}" if names else "")
        suggestion = did_you_mean(str(key), allowed) if key is not None else None
        if suggestion:
            message = f"unknown field '{shorten(str(key), 60)}' (did you mean '{suggestion}'?)"
        return SchemaProblem(pointer + "/" + str(key) if key else pointer, message, keyword, key)
    if keyword == "required":
        match = re.match(r"^'(.+)' is a required property$", str(error.message))
        key = match.group(1) if match else str(_first(expected))
        return SchemaProblem(pointer, f"missing required field '{key}'", keyword, key)
    if "propertyNames" in error.schema_path and isinstance(instance, str):
        allowed_names = [str(v) for v in expected] if keyword == "enum" else []
        hint = did_you_mean(instance, allowed_names)
        message = f"unknown field '{shorten(instance, 60)}'" + (f" (did you mean '{hint}'?)" if hint else "")
        if allowed_names and not hint:
            message += f"; expected one of: {', '.join(allowed_names)}"
        elif not allowed_names:
            message = f"'{shorten(instance, 60)}' is not an allowed name here"
        return SchemaProblem(pointer + "/" + instance, message, "propertyNames", instance)
    if keyword in ("oneOf", "anyOf") and error.context:
        return _no_branch(pointer, instance, error)
    if keyword == "maxLength" and isinstance(instance, str):
        return SchemaProblem(pointer, f"text too long: {len(instance)} characters > limit {expected}", keyword)
    if keyword == "minLength":
        return SchemaProblem(pointer, "must not be empty", keyword)
    if keyword == "enum":
        allowed_values = ", ".join(str(v) for v in expected)
        suggestion = did_you_mean(str(instance), [str(v) for v in expected])
        hint = f" (did you mean '{suggestion}'?)" if suggestion else ""
        return SchemaProblem(pointer, f"'{shorten(str(instance), 60)}' is not allowed{hint}; expected one of: {allowed_values}", keyword)
    if keyword == "type":
        shown = "" if instance is None or isinstance(instance, (dict, list)) else " " + shorten(_show(instance), 60)
        return SchemaProblem(pointer, f"expected {_type_words(expected)}, got {_json_type(instance)}{shown}", keyword)
    if keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        words = {
            "minimum": "below the minimum",
            "maximum": "above the maximum",
            "exclusiveMinimum": "not above",
            "exclusiveMaximum": "not below",
        }[keyword]
        return SchemaProblem(pointer, f"{shorten(_show(instance), 40)} is {words} {_show(expected)}", keyword)
    if keyword in ("minItems", "maxItems"):
        bound = "at least" if keyword == "minItems" else "at most"
        count = len(instance) if isinstance(instance, list) else 0
        return SchemaProblem(pointer, f"{bound} {expected} items, got {count}", keyword)
    if keyword == "format":
        return SchemaProblem(
            pointer,
            f"{shorten(_show(instance), 60)} is not a valid {error.validator_value}"
            + (" (RFC 3339 with an offset, e.g. 2026-11-11T15:20:00+08:00)" if error.validator_value == "date-time" else ""),
            keyword,
        )
    if keyword == "pattern" and isinstance(schema, dict) and isinstance(schema.get("contentSchema"), dict):
        message = f"不是金额 / {shorten(_show(instance), 40)} is not an amount: write {number_text_words(schema)}"
        return SchemaProblem(pointer, message, keyword)
    if keyword == "multipleOf":
        return SchemaProblem(pointer, f"{_show(instance)} has more decimals than allowed (step {error.validator_value})", keyword)
    return SchemaProblem(pointer, shorten(error.message, 200), keyword)


def number_text_words(schema: dict[str, Any]) -> str:
    """What a number written as text (money: ``"199.00"``) must look like, from its ``contentSchema``: for messages."""
    content = schema["contentSchema"]
    exponent = Decimal(str(content.get("multipleOf", 1))).normalize().as_tuple().exponent
    decimals = f" with at most {-exponent} decimals" if isinstance(exponent, int) and exponent < 0 else ""
    bounds = f", {content['minimum']} to {content['maximum']}" if "minimum" in content and "maximum" in content else ""
    return f'a decimal string{decimals}{bounds}, such as "199.00" (no sign, exponent or spaces)'


def _no_branch(pointer: str, instance: Any, error: ValidationError) -> SchemaProblem:
    """No alternative fits: say which keys or kinds would."""
    keyword = str(error.validator)
    options: list[str] = []
    known: set[str] = set()
    kinds: list[str] = []
    for sub in error.context or ():
        required: Any = sub.validator_value
        if str(sub.validator) == "required":
            options += [str(k) for k in required if str(k) not in options]
        if str(sub.validator) == "type":
            kinds.append(_type_words(sub.validator_value))
        schema: Any = sub.schema
        if isinstance(schema, dict):
            known |= set(schema.get("properties", {}))
    if isinstance(instance, dict):
        unknown = [k for k in instance if known and k not in known]
        if unknown:
            hint = did_you_mean(str(unknown[0]), known)
            return SchemaProblem(
                pointer + "/" + str(unknown[0]),
                f"unknown field '{shorten(str(unknown[0]), 60)}'"
                + (f" (did you mean '{hint}'?)" if hint else f"; expected one of: {', '.join(sorted(known))}"),
                "additionalProperties",
                str(unknown[0]),
            )
        present = [k for k in options if k in instance]
        if len(present) > 1:
            return SchemaProblem(pointer, f"use only one of: {', '.join(present)}", keyword)
        if options:
            return SchemaProblem(pointer, f"needs one of: {', '.join(options)}", keyword)
    if kinds:
        return SchemaProblem(pointer, f"expected {' or '.join(dict.fromkeys(kinds))}, got {_json_type(instance)}", keyword)
    return SchemaProblem(pointer, shorten(error.message, 200), keyword)


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


def _show(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dict, list)):
        return _json_type(value)
    return json.dumps(value, ensure_ascii=False, default=str)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, Decimal, float)):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _type_words(expected: Any) -> str:
    words = {
        "object": "an object",
        "array": "a list",
        "string": "text",
        "integer": "an integer",
        "number": "a number",
        "boolean": "true or false",
        "null": "null",
    }
    if isinstance(expected, list):
        return " or ".join(words.get(str(t), str(t)) for t in expected)
    return words.get(str(expected), str(expected))


def did_you_mean(word: str, candidates: Any) -> str | None:
    import difflib

    matches = difflib.get_close_matches(word, sorted(str(c) for c in candidates), n=1, cutoff=0.75)
    return matches[0] if matches else None


@functools.lru_cache(maxsize=64)
def validator(name: str, enums: Enums = NO_ENUMS) -> Validator:
    """The validator of a bundled schema; with a policy's ``enums``, of that policy's documents."""
    return Validator(name, enums)
