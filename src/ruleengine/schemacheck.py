"""A bundled JSON Schema compiled once into one Python function that answers "valid?" for the happy path.

A compiled validator in Rust (jsonschema-rs) spends most of an order's check
converting Python values (every ``Decimal`` through its text) into its own; a
function written for the schema reads the values where they are. It is only a
first answer: ``True`` means jsonschema (the authority, which explains errors)
accepts the instance too, ``False`` means "not sure" and the caller asks the
validators behind it, which say why. So it may be strict where the schema is
lenient — a ``float``, a ``Decimal`` integer, a number with an exponent the
decimal context cannot divide, an unusual timestamp shape read through the
exact format check — but never accepts what jsonschema refuses.

:func:`compile_check` knows the keywords the bundled schemas use (``type``,
``enum`` of strings, ``required``, ``properties``, ``additionalProperties:
false``, ``items``, the length, count and range bounds, ``multipleOf``,
``pattern``, ``uniqueItems`` of strings, the two formats, local ``$ref``,
``anyOf`` whose branches differ in type) and ignores only annotations; a
schema with any other keyword is not compiled (None), and its validator keeps
the others. The code is written from the bundled schema's own keys and bound
constants, never from instance data, and runs with no builtins.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from . import instants

Check = Callable[[Any], bool]

ANNOTATIONS = frozenset(
    {
        "$schema",
        "$id",
        "$comment",
        "$defs",
        "title",
        "description",
        "examples",
        "default",
        "deprecated",
        "readOnly",
        "writeOnly",
        # Content keywords are annotations in draft 2020-12: jsonschema does not assert them.
        "contentMediaType",
        "contentEncoding",
        "contentSchema",
    }
)

_TYPES: dict[str, tuple[type, ...]] = {
    # What the function accepts for each JSON type: Python types jsonschema also counts as that type.
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),  # type() is int: never bool, never a Decimal or float however whole
    "number": (int, Decimal),  # a Decimal must also be finite (checked below)
    "boolean": (bool,),
    "null": (type(None),),
}


class Unsupported(Exception):
    """The schema uses something this compiler does not write: the caller keeps its other validators."""


def compile_check(schema: dict[str, Any], formats: dict[str, Callable[[str], bool]], name: str = "schema") -> Check | None:
    """``schema`` (numbers read as ``Decimal``) as one function of an instance, or None when it cannot be written.

    ``formats`` are the checks of the ``format`` values jsonschema asserts (by name: true when valid, false or
    ValueError when not); a format not among them is not compiled.
    """
    try:
        check: Check = _Writer(schema, formats).function(name)
    except Unsupported:
        return None
    return check


def compile_converter(
    schema: dict[str, Any], formats: dict[str, Callable[[str], bool]], parsers: dict[str, Callable[[str], Any]], name: str = "schema"
) -> Callable[[Any], Any] | None:
    """As :func:`compile_check`, and a valid instance comes back converted: each ``format`` value parsed by its parser.

    One pass where a check and a converter would make two. The objects holding such values are copied
    (the instance is never changed), the others shared. None means "not sure" (as False for the check),
    and so does a value the function does not convert itself: a number written as text (``contentSchema``).
    A ``date-time`` in the usual shape is read as ``instants.usual`` reads it (``fromisoformat``, which checks
    exactly what its format requires there: ``schemas.is_date_time``), holding its offset's shared object;
    other shapes are checked, then parsed.
    """
    try:
        convert: Callable[[Any], Any] = _Writer(schema, formats, parsers).function(name)
    except Unsupported:
        return None
    return convert


class _Writer:
    def __init__(
        self, root: dict[str, Any], formats: dict[str, Callable[[str], bool]], parsers: dict[str, Callable[[str], Any]] | None = None
    ) -> None:
        self.root = root
        self.formats = formats
        self.parsers = parsers
        """Converting: the parser of each format whose values come back parsed (None: only checking)."""
        self.fail = "return False" if parsers is None else "return None"
        self.lines: list[str] = []
        self.namespace: dict[str, Any] = {"__builtins__": {}, "_c_type": type, "_c_len": len, "_c_set": set, "_c_Decimal": Decimal}
        self.constants: dict[tuple[type, Any], str] = {}
        self.counter = itertools.count()
        self.refs: list[str] = []
        self.last_test: tuple[int, int, list[str]] | None = None
        """The last ``fail_unless``: its line, its depth and its tests."""

    def function(self, name: str) -> Any:
        converts = self.converts(self.root)
        self.node(self.root, "V", 1, store="R" if converts else None)
        result = "True" if self.parsers is None else "R" if converts else "V"
        source = "\n".join(["def check(V):", *self.lines, f"    return {result}", ""])
        kind = "check" if self.parsers is None else "converter"
        exec(compile(source, f"<schema {kind} {name}>", "exec"), self.namespace)
        return self.namespace["check"]

    def converts(self, schema: Any) -> bool:
        """Whether a value of ``schema`` comes back converted: it holds a value of a format being parsed."""
        if self.parsers is None or not isinstance(schema, dict):
            return False
        if "$ref" in schema and self.converts(self.resolve(schema["$ref"])):
            return True
        if schema.get("format") in self.parsers:
            return True
        if any(self.converts(sub) for sub in schema.get("properties", {}).values()):
            return True
        if self.converts(schema.get("items")) or any(self.converts(b) for b in schema.get("anyOf", ())):
            raise Unsupported("converted values inside a list or an anyOf")
        return False

    def constant(self, value: Any) -> str:
        key = (type(value), value if not isinstance(value, (set, frozenset)) else tuple(sorted(value)))
        name = self.constants.get(key)
        if name is None:
            name = self.constants[key] = f"_c_{len(self.constants)}"
            self.namespace[name] = value
        return name

    def local(self) -> str:
        return f"x{next(self.counter)}"

    def emit(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)

    def fail_unless(self, indent: int, test: str) -> None:
        """Fail unless ``test``; a test right after another at the same depth joins it (one ``if``, fewer jumps)."""
        last = self.last_test
        if last is not None and last[0] == len(self.lines) - 2 and last[1] == indent:
            last[2].append(test)
            self.lines[last[0]] = "    " * indent + "if not (" + " and ".join(f"({t})" for t in last[2]) + "):"
            return
        self.last_test = (len(self.lines), indent, [test])
        self.emit(indent, f"if not ({test}):")
        self.emit(indent + 1, self.fail)

    def resolve(self, ref: str) -> dict[str, Any]:
        if not ref.startswith("#/"):
            raise Unsupported(f"$ref {ref}")
        node: Any = self.root
        for step in ref[2:].split("/"):
            step = step.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or step not in node:
                raise Unsupported(f"$ref {ref}")
            node = node[step]
        if not isinstance(node, dict):
            raise Unsupported(f"$ref {ref}")
        return node

    # -- one schema node, checking the value in local ``var``
    def node(self, schema: Any, var: str, indent: int, known: tuple[str, tuple[type, ...]] | None = None, store: str | None = None) -> None:
        """Check the value in local ``var``; ``known``: the local holding its type, and the types it can be (an ``anyOf`` chose).

        Converting, ``store`` is where its converted value goes when the schema converts (``converts``).
        """
        if schema is True or schema == {}:
            return
        if not isinstance(schema, dict):
            raise Unsupported("boolean schema false")
        unknown = {key for key in schema.keys() - ANNOTATIONS - _KEYWORDS if not key.startswith("x-")}  # x-…: annotations
        if unknown:
            raise Unsupported(", ".join(sorted(unknown)))
        if "$ref" in schema:
            ref = schema["$ref"]
            if ref in self.refs or len(self.refs) > 32:
                raise Unsupported(f"recursive $ref {ref}")
            self.refs.append(ref)
            self.node(self.resolve(ref), var, indent, known, store)
            self.refs.pop()
        if "anyOf" in schema:
            self.any_of(schema["anyOf"], var, indent)
        types = schema.get("type")
        if types is None:
            if schema.keys() & _TYPED:
                raise Unsupported("type-specific keywords without a type")
        else:
            self.typed(schema, [types] if isinstance(types, str) else list(types), var, indent, known, store)
        if "enum" in schema:
            values = schema["enum"]
            if not values or not all(type(v) is str for v in values):
                raise Unsupported("enum of other values than text")
            member = f"{var} in {self.constant(frozenset(values))}"
            self.fail_unless(indent, member if types == "string" else f"_c_type({var}) is {self.constant(str)} and {member}")

    def typed(
        self,
        schema: dict[str, Any],
        types: list[str],
        var: str,
        indent: int,
        known: tuple[str, tuple[type, ...]] | None,
        store: str | None = None,
    ) -> None:
        if any(t not in _TYPES for t in types):
            raise Unsupported(f"type {types}")
        if store is not None and len(types) != 1:
            raise Unsupported("a converted value of several types")
        if known is not None and len(types) == 1 and set(known[1]) <= set(_TYPES[types[0]]):  # already tested
            self.type_keywords(schema, types[0], var, known[0], indent, store)
            return
        if len(types) == 1 and len(_TYPES[types[0]]) == 1:  # one Python type: a test, then its keywords
            python = self.constant(_TYPES[types[0]][0])
            self.fail_unless(indent, f"_c_type({var}) is {python}")
            self.type_keywords(schema, types[0], var, python, indent, store)
            return
        kind = self.local()
        self.emit(indent, f"{kind} = _c_type({var})")
        branches = [(t, " or ".join(f"{kind} is {self.constant(p)}" for p in _TYPES[t])) for t in types]
        first = True
        for json_type, test in branches:
            self.emit(indent, f"{'if' if first else 'elif'} {test}:")
            first = False
            before = len(self.lines)
            self.type_keywords(schema, json_type, var, kind, indent + 1)
            if len(self.lines) == before:
                self.emit(indent + 1, "pass")
        self.emit(indent, "else:")
        self.emit(indent + 1, self.fail)

    def type_keywords(self, schema: dict[str, Any], json_type: str, var: str, kind: str, indent: int, store: str | None = None) -> None:
        """The keywords that apply to ``json_type``; those of other types are ignored, as jsonschema does."""
        if json_type in ("integer", "number"):
            between = "minimum" in schema and "maximum" in schema
            if json_type == "number" and not between:  # between two bounds a NaN cannot pass (comparing it
                self.fail_unless(indent, f"{kind} is {self.constant(int)} or {var}.is_finite()")  # raises), nor an infinity
            exact = json_type == "number"  # a number is mostly a Decimal: compared with Decimal bounds, no int to convert
            if between:
                low, high = self.number(schema["minimum"], exact), self.number(schema["maximum"], exact)
                self.fail_unless(indent, f"{low} <= {var} <= {high}")
            bounds = (("exclusiveMinimum", ">"), ("exclusiveMaximum", "<"))
            for keyword, op in bounds if between else (("minimum", ">="), ("maximum", "<="), *bounds):
                if keyword in schema:
                    self.fail_unless(indent, f"{var} {op} {self.number(schema[keyword], exact)}")
            if "multipleOf" in schema:  # after the bounds: the remainder of a bounded number is computed exactly
                self.fail_unless(indent, f"not ({var} % {self.number(schema['multipleOf'], exact)})")
        elif json_type == "string":
            fmt = schema.get("format")
            parse = self.parsers.get(fmt) if self.parsers is not None and store is not None and fmt is not None else None
            short = not schema.keys() & {"minLength", "pattern"} and schema.get("maxLength", 25) >= 25
            if parse is not None and fmt == "date-time" and short:
                # The usual shape first, parsed and so checked (its length needs no test); the others checked, then parsed.
                # An offset met before, inline as instants.usual reads it. The epochs' keys are all six characters
                # ("±HH:MM"), so finding one says the text is 25 characters long: no test of its length.
                # Any other shape through one call (it raises where the function would give up): two lines an
                # instant, where a third of the function's code was these branches, run for one order in many.
                epoch = self.local()
                self.emit(
                    indent,
                    f"{epoch} = {self.constant(instants.OFFSET_EPOCHS.get)}({var}[19:])"
                    f" if {var}[4:19:3] == {instants.USUAL_SEPARATORS_BEFORE_OFFSET!r} else None",
                )
                naive = f"{self.constant(dt.datetime.fromisoformat)}({var}[:19])"
                if fmt not in self.formats:
                    raise Unsupported(f"format {fmt}")
                other = self.constant(_other_instant(schema.get("maxLength"), self.formats[fmt], parse))
                self.emit(
                    indent,
                    f"{store} = {epoch} + ({naive} - {self.constant(instants.NAIVE_EPOCH)}) if {epoch} is not None else {other}({var})",
                )
                return
            self.text_keywords(schema, var, indent, store)
        elif json_type == "array":
            if "minItems" in schema:
                self.fail_unless(indent, f"_c_len({var}) >= {int(schema['minItems'])}")
            if "maxItems" in schema:
                self.fail_unless(indent, f"_c_len({var}) <= {int(schema['maxItems'])}")
            items = schema.get("items", True)
            if items is not True and items != {}:
                element = self.local()
                self.emit(indent, f"for {element} in {var}:")
                before = len(self.lines)
                self.node(items, element, indent + 1)
                if len(self.lines) == before:
                    self.emit(indent + 1, "pass")
            if schema.get("uniqueItems") is True:
                if not _only_text(self, items):
                    raise Unsupported("uniqueItems of other values than text")
                self.fail_unless(indent, f"_c_len({var}) < 2 or _c_len(_c_set({var})) == _c_len({var})")  # most lists: 0 or 1
        elif json_type == "object":
            self.object(schema, var, indent, store)
        elif store is not None:
            raise Unsupported(f"a converted {json_type}")

    def text_keywords(self, schema: dict[str, Any], var: str, indent: int, store: str | None) -> None:
        """A string's lengths, pattern and format; converting (``store``), a formatted value goes there parsed."""
        low, high = schema.get("minLength"), schema.get("maxLength")
        if low is not None and high is not None:
            self.fail_unless(indent, f"{int(low)} <= _c_len({var}) <= {int(high)}")
        elif low is not None:
            self.fail_unless(indent, f"_c_len({var}) >= {int(low)}")
        elif high is not None:
            self.fail_unless(indent, f"_c_len({var}) <= {int(high)}")
        if "pattern" in schema:
            search = f"{self.constant(re.compile(schema['pattern']))}.search({var}) is not None"
            if _refuses_only_unprintable(schema["pattern"]):  # the usual text, printable throughout, without the regex
                search = f"{var}.isprintable() or {search}"
            self.fail_unless(indent, search)
        fmt = schema.get("format")
        if fmt is not None:
            check = self.formats.get(fmt)
            if check is None:
                raise Unsupported(f"format {fmt}")
            call = f"{self.constant(check)}({var})"
            parse = self.parsers.get(fmt) if self.parsers is not None and store is not None else None
            if parse is not None:
                self.fail_unless(indent, call)
                self.emit(indent, f"{store} = {self.constant(parse)}({var})")
            else:
                if fmt == "date-time":  # the usual shape inline: see schemas.is_date_time, which does the same
                    usual = self.usual_instant(var)
                    call = f"({usual} and {self.constant(instants.usual)}({var}) is not None) or {call}"
                self.fail_unless(indent, call)
        if store is not None and (fmt is None or self.parsers is None or fmt not in self.parsers):
            raise Unsupported("a converted text without a parser")

    def usual_instant(self, var: str) -> str:
        """The usual shapes of an instant, by their separators: ``2026-10-26T22:10:05+08:00`` and ``…05Z``
        (``instants.usual_shape``, written inline).

        ``fromisoformat`` then accepts exactly the ASCII digits RFC 3339 requires in the other places and checks
        the calendar (``schemas.is_date_time``): no pattern to match first.
        """
        return (
            f"((_c_len({var}) == 25 and {var}[4:23:3] in {self.constant(instants.USUAL_SEPARATORS)})"
            f" or (_c_len({var}) == 20 and {var}[4:20:3] == {instants.USUAL_UTC!r}))"
        )

    def object(self, schema: dict[str, Any], var: str, indent: int, store: str | None = None) -> None:
        properties: dict[str, Any] = schema.get("properties", {})
        required = list(schema.get("required", []))
        extra = schema.get("additionalProperties", True)
        if extra is not False and extra is not True and extra != {}:
            raise Unsupported("additionalProperties with a schema")
        # A required property is read as var[key]: when it is missing, the KeyError is "not sure". Without
        # additional properties, the keys are counted instead of compared as sets (a set comparison costs more).
        undeclared = [key for key in required if key not in properties]
        if undeclared:
            self.fail_unless(indent, f"{var}.keys() >= {self.constant(frozenset(undeclared))}")
        count = None
        if extra is False and set(required) >= set(properties):  # every property, and only those
            self.fail_unless(indent, f"_c_len({var}) == {len(properties)}")
        elif extra is False:
            count = self.local()
            self.emit(indent, f"{count} = {sum(1 for key in properties if key in required)}")
        copy = None
        if store is not None:  # the copy that holds the converted values
            copy = self.local()
            self.emit(indent, f"{copy} = {self.constant(dict)}({var})")
        missing = self.constant(_MISSING)
        for key, sub in properties.items():
            value = self.local()
            into = f"{copy}[{key!r}]" if copy is not None and self.converts(sub) else None
            if key in required:
                self.emit(indent, f"{value} = {var}[{key!r}]")
                self.node(sub, value, indent, store=into)
            else:
                self.emit(indent, f"{value} = {var}.get({key!r}, {missing})")
                self.emit(indent, f"if {value} is not {missing}:")
                if count is not None:
                    self.emit(indent + 1, f"{count} += 1")
                before = len(self.lines)
                self.node(sub, value, indent + 1, store=into)
                if len(self.lines) == before:
                    self.emit(indent + 1, "pass")
        if count is not None:
            self.fail_unless(indent, f"_c_len({var}) == {count}")
        if store is not None:
            self.emit(indent, f"{store} = {copy}")

    def any_of(self, branches: list[Any], var: str, indent: int) -> None:
        """``anyOf`` whose branches each admit other Python types: the value's type chooses the only branch that can hold."""
        seen: set[type] = set()
        chosen: list[tuple[list[type], Any]] = []
        for branch in branches:
            if not isinstance(branch, dict):
                raise Unsupported("anyOf of boolean schemas")
            resolved = self.resolve(branch["$ref"]) if set(branch) - ANNOTATIONS == {"$ref"} else branch
            types = resolved.get("type")
            if types is None:
                raise Unsupported("anyOf branch without a type")
            python = [p for t in ([types] if isinstance(types, str) else types) for p in _TYPES.get(t, (object,))]
            if object in python or seen & set(python):
                raise Unsupported("anyOf branches of overlapping types")
            seen |= set(python)
            chosen.append((python, branch))
        if self.parsers is not None:  # a number written as text: the exact converter reads it, so no branch here
            chosen = [(python, branch) for python, branch in chosen if "contentSchema" not in self.resolved(branch)]
        kind = self.local()
        self.emit(indent, f"{kind} = _c_type({var})")
        for index, (python, branch) in enumerate(chosen):
            test = " or ".join(f"{kind} is {self.constant(p)}" for p in python)
            self.emit(indent, f"{'if' if index == 0 else 'elif'} {test}:")
            before = len(self.lines)
            self.node(branch, var, indent + 1, (kind, tuple(python)))
            if len(self.lines) == before:
                self.emit(indent + 1, "pass")
        if chosen:
            self.emit(indent, "else:")
            self.emit(indent + 1, self.fail)
        else:
            self.emit(indent, self.fail)

    def resolved(self, branch: dict[str, Any]) -> dict[str, Any]:
        return self.resolve(branch["$ref"]) if "$ref" in branch else branch

    def number(self, value: Any, exact: bool = False) -> str:
        """A bound as a constant; ``exact``: as a Decimal (the same number: comparing it with a Decimal converts nothing)."""
        if type(value) not in (int, Decimal):
            raise Unsupported(f"bound {value!r}")
        return self.constant(Decimal(value) if exact else value)


@functools.lru_cache(maxsize=64)
def _other_instant(
    longest: int | None, is_valid: Callable[[str], bool], parse: Callable[[str], Any]
) -> Callable[[str], Any]:
    """A ``date-time`` text in a shape other than the one read inline: parsed, or ValueError ("not sure").

    The usual shapes at an offset met for the first time, or in UTC, as ``instants.usual`` reads them;
    any other checked (its length, then its format), then parsed.
    """

    def other(text: str) -> Any:
        if instants.usual_shape(text):
            return instants.usual(text)
        if (longest is not None and len(text) > longest) or not is_valid(text):
            raise ValueError("not an instant of the schema")
        return parse(text)

    return other


def _only_text(writer: _Writer, items: Any) -> bool:
    """Whether every element the items schema admits is text (so a set of them compares as jsonschema does)."""
    if not isinstance(items, dict):
        return False
    if "$ref" in items:
        return _only_text(writer, writer.resolve(items["$ref"])) or items.get("type") == "string"
    return items.get("type") == "string"


_MISSING = object()

_UNPRINTABLE_CLASS = re.compile(r"\^\[\^((?:\\u[0-9a-fA-F]{4}(?:-\\u[0-9a-fA-F]{4})?)+)\]\*\$")


def _refuses_only_unprintable(pattern: str) -> bool:
    """Whether ``pattern`` is ``^[^…]*$`` over code points that are all unprintable (``str.isprintable`` is false).

    Then a printable string matches it: ``isprintable()`` is a sufficient test, and the regex runs only
    for other strings (a tab, a line break, an ideographic space).
    """
    match = _UNPRINTABLE_CLASS.fullmatch(pattern)
    if match is None:
        return False
    for low, high in re.findall(r"\\u([0-9a-fA-F]{4})(?:-\\u([0-9a-fA-F]{4}))?", match.group(1)):
        for code in range(int(low, 16), int(high or low, 16) + 1):
            if chr(code).isprintable():
                return False
    return True


_TYPED = frozenset(
    {
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "minLength",
        "maxLength",
        "pattern",
        "format",
        "minItems",
        "maxItems",
        "items",
        "uniqueItems",
        "properties",
        "required",
        "additionalProperties",
    }
)
"""Keywords that apply to one JSON type: written only inside a check of the type."""

_KEYWORDS = _TYPED | {"type", "enum", "$ref", "anyOf"}
