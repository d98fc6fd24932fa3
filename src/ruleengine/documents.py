"""Strict readers for YAML and JSON documents, with a position for every value.

PyYAML and ``json`` are safe from code execution only with the right entry
points, and even then they accept what a policy author never means: YAML 1.1
booleans (``no``), sexagesimal numbers (``1:30``), octal (``010``), dates,
duplicate keys, aliases, NaN. Here every such input is an error at a line and
column, and every value keeps the position it came from (a JSON pointer maps to
a line and column), so schema and expression errors can name ``file:line:col``.

Why one module of ~520 lines: the YAML and JSON readers share the refusal rules and the
position map, and are kept side by side so that what one refuses the other refuses too.
"""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml

from .limits import DEFAULT_LIMITS, Limits
from .text import decode_utf8, find_refused_character, position, shorten

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Problem:
    """A problem in a document, before it is known whether it is a policy or facts file."""

    line: int
    column: int
    code: str
    message: str
    pointer: str = ""


class DocumentError(Exception):
    def __init__(self, problems: list[Problem], document: Document | None = None) -> None:
        self.problems = problems
        self.document = document
        """What could be read despite the problems (duplicate keys, ambiguous scalars), if the syntax was sound."""
        super().__init__("; ".join(p.message for p in problems))


@dataclass
class Document:
    """A parsed document: plain data plus where each value stands in the text."""

    name: str
    text: str
    data: Any
    marks: dict[str, tuple[int, int]] = field(default_factory=dict)
    """JSON pointer → (line, column) of the value."""
    key_marks: dict[str, tuple[int, int]] = field(default_factory=dict)
    """JSON pointer → (line, column) of the mapping key that holds the value."""
    spans: dict[str, tuple[int, int]] = field(default_factory=dict)
    """JSON pointer of a text value → (start, end) character offsets in ``text``."""

    def locate(self, pointer: str, key: bool = False) -> tuple[int, int]:
        """Position of ``pointer``, or of its nearest ancestor that has one."""
        table = self.key_marks if key else self.marks
        p = pointer
        while True:
            if p in table:
                return table[p]
            if p in self.marks:
                return self.marks[p]
            if not p:
                return (1, 1)
            p = p.rsplit("/", 1)[0]

    def locate_in_text(self, pointer: str, offset: int) -> tuple[int, int]:
        """Position of character ``offset`` inside the text value at ``pointer``.

        Walks the value and its source side by side, skipping what the source
        has and the value does not (quotes, indentation, folded line breaks).
        """
        if pointer not in self.spans:
            return self.locate(pointer)
        start, end = self.spans[pointer]
        value = _get(self.data, pointer)
        if not isinstance(value, str):
            return self.locate(pointer)
        src = start
        double = src < end and self.text[src] == '"'
        if src < end and self.text[src] in "\"'":
            src += 1  # the opening quote is not part of the value
        elif src < end and self.text[src] in "|>":
            src = self.text.find("\n", src, end) + 1 or end
        for i, ch in enumerate(value):
            if i >= offset:
                break
            while src < end and self.text[src] != ch:
                if double and self.text[src] == "\\" and src + 1 < end:
                    src += _escape_length(self.text, src)
                    break
                src += 1
            else:
                if src < end:
                    src += 1
        if offset < len(value) and not value[offset].isspace():
            while src < end and self.text[src] != value[offset] and self.text[src] in " \t\n\r":
                src += 1
        return self.position(min(src, len(self.text)))

    def position(self, offset: int) -> tuple[int, int]:
        """1-based line and column of a character offset (line starts computed once per document)."""
        starts = self.__dict__.get("_line_starts")
        if starts is None:
            starts = [0]
            find, at = self.text.find, self.text.find("\n")
            while at != -1:
                starts.append(at + 1)
                at = find("\n", at + 1)
            self.__dict__["_line_starts"] = starts
        line = bisect.bisect_right(starts, offset)
        return line, offset - starts[line - 1] + 1


_ESCAPE_LENGTHS = {"x": 4, "u": 6, "U": 10}


def _escape_length(text: str, index: int) -> int:
    """Source characters of the YAML escape at ``index`` (it stands for one value character)."""
    return _ESCAPE_LENGTHS.get(text[index + 1], 2)


def pointer_join(base: str, key: str | int) -> str:
    return f"{base}/{str(key).replace('~', '~0').replace('/', '~1')}"


def _get(data: Any, pointer: str) -> Any:
    for part in pointer.split("/")[1:]:
        part = part.replace("~1", "/").replace("~0", "~")
        data = data[int(part)] if isinstance(data, list) else data[part]
    return data


# ---------------------------------------------------------------- YAML

_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_YAML11_BOOL = re.compile(r"^(?:yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF)$")
_WORDS = frozenset({"null", "Null", "NULL", *_BOOL, *["yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF"]})
"""The plain scalars starting with a letter that are not text (or are not text to every YAML reader)."""
_INT = re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_AMBIGUOUS_NUMBER = re.compile(
    r"^[-+]?(?:0[0-9_]+|0[xXoObB][0-9a-fA-F_]+|[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?|[0-9][0-9_]*_[0-9_]*(?:\.[0-9_]*)?)$"
)
_SPECIAL_FLOAT = re.compile(r"^[-+]?\.(?:inf|Inf|INF|nan|NaN|NAN)$")
_DATE_LIKE = re.compile(
    r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
    r"(?:(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]*)?)?[ \t]*(?:Z|[-+][0-9]{1,2}(?::?[0-9]{2})?)?)?$"
)


def resolve_plain_scalar(text: str, limits: Limits = DEFAULT_LIMITS) -> tuple[Any, str]:
    """The value of an unquoted YAML scalar under YAML 1.2 core rules.

    Returns ``(value, error)``; a non-empty error means the scalar means
    different things to different YAML readers and must be quoted.
    """
    if text[:1].isalpha() and text not in _WORDS:  # most scalars: text (every other form starts with a digit, sign or dot)
        return text, ""
    if _NULL.match(text):
        return None, ""
    if text in _BOOL:
        return _BOOL[text], ""
    if _YAML11_BOOL.match(text):
        return None, f"'{text}' is a boolean in YAML 1.1 and text in YAML 1.2: quote it, or write true/false"
    if _INT.match(text):
        if len(text) > 18 or abs(int(text)) > limits.max_integer:
            return None, f"integer {shorten(text, 30)} is out of range (limit {limits.max_integer})"
        return int(text), ""
    if _SPECIAL_FLOAT.match(text):
        return None, f"'{text}' is not a finite number; quote it if you mean text"
    if _AMBIGUOUS_NUMBER.match(text):
        return None, f"'{text}' is read as a number by some YAML readers (octal, base 60 or with '_'): quote it"
    if _FLOAT.match(text):
        try:
            value = Decimal(text)
        except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
            return None, f"'{text}' is not a number"
        if not _usable_decimal(value, limits.max_integer):
            return None, f"number {shorten(text, 30)} is out of range"
        return value, ""
    if _DATE_LIKE.match(text):
        return None, f"'{shorten(text, 40)}' looks like a date: quote it (dates and timestamps are text here)"
    return text, ""


def read_yaml(data: bytes | str, name: str, limits: Limits = DEFAULT_LIMITS) -> Document:
    """Parse one YAML document strictly, or raise DocumentError with every position known."""
    text = _decode(data, name, limits)
    _prescan_yaml(text, limits)
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        raise DocumentError([_yaml_problem(exc, text)]) from None
    except (yaml.YAMLError, RecursionError, ValueError) as exc:  # pragma: no cover - prescan catches these
        raise DocumentError([Problem(1, 1, "yaml", shorten(str(exc)))]) from None
    if node is None:
        raise DocumentError([Problem(1, 1, "empty", "the file holds no YAML document")])
    doc = Document(name=name, text=text, data=None)
    problems: list[Problem] = []
    doc.data = _construct(node, "", doc, problems, limits)
    if problems:
        raise DocumentError(problems, doc)
    return doc


def _decode(data: bytes | str, name: str, limits: Limits) -> str:
    size = len(data.encode("utf-8") if isinstance(data, str) else data)
    if size > limits.max_file_bytes:
        raise DocumentError([Problem(1, 1, "too_large", f"file too large: {size} bytes > limit {limits.max_file_bytes}")])
    if isinstance(data, bytes):
        text, offset, message = decode_utf8(data)
        if text is None:
            good = data.decode("utf-8", errors="replace")
            line, col = position(good, offset)
            raise DocumentError([Problem(line, col, "encoding", message + "; files must be UTF-8")])
    else:
        text = data.removeprefix("\ufeff")
    bad = find_refused_character(text)
    if bad is not None:
        line, col = position(text, bad[0])
        raise DocumentError([Problem(line, col, "character", bad[1])])
    return text


def _yaml_problem(exc: yaml.MarkedYAMLError, text: str = "") -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    message = " ".join(part for part in (exc.context, exc.problem) if part) or "invalid YAML"
    if mark is not None and 0 <= mark.index < len(text) and text[mark.index] == "\t":
        message += " (a tab: indent with spaces, not tabs)"
        return Problem(line, col, "yaml_syntax", shorten(message, 300))
    for known, hint in _YAML_HINTS.items():
        if known in message:
            message += f" ({hint})"
            break
    return Problem(line, col, "yaml_syntax", shorten(message, 300))


_YAML_HINTS = {
    "mapping values are not allowed": "a ': ' inside an unquoted value? put the value in quotes",
    "did not find expected key": "check the indentation here, and look for an unclosed quote above",
    "did not find expected '-' indicator": "list items must line up under each other",
    "found character '\\t'": "indent with spaces, not tabs",
    "found undefined alias": "aliases (*name) are not allowed: write the value out",
    "while scanning a quoted scalar": "a quote is not closed",
}


def _prescan_yaml(text: str, limits: Limits) -> None:
    """Walk the event stream (iterative, cheap) to refuse what composing would trust."""
    depth = 0
    documents = 0
    try:
        for count, event in enumerate(yaml.parse(text, Loader=_Loader)):
            mark: Any = event.start_mark
            where = (mark.line + 1, mark.column + 1)
            if count > limits.max_nodes:
                raise DocumentError([Problem(*where, "too_large", f"more than {limits.max_nodes} YAML nodes")])
            if isinstance(event, yaml.AliasEvent):
                raise DocumentError([Problem(*where, "alias", "aliases (*name) are not allowed: write the value out")])
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise DocumentError([Problem(*where, "several_documents", "one YAML document per file: remove '---'")])
            if isinstance(event, yaml.NodeEvent) and event.anchor is not None:
                raise DocumentError([Problem(*where, "anchor", f"anchors (&{shorten(event.anchor, 30)}) are not allowed")])
            tag = getattr(event, "tag", None)
            if tag is not None and isinstance(event, (yaml.ScalarEvent, yaml.CollectionStartEvent)):
                implicit = getattr(event, "implicit", True)
                explicit = not (implicit[0] or implicit[1]) if isinstance(implicit, tuple) else not implicit
                if explicit and tag != "!":
                    raise DocumentError([Problem(*where, "tag", f"YAML tags ({shorten(tag, 60)}) are not allowed")])
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > limits.max_depth:
                    raise DocumentError([Problem(*where, "too_deep", f"nesting deeper than {limits.max_depth} levels")])
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.MarkedYAMLError as exc:
        raise DocumentError([_yaml_problem(exc, text)]) from None
    except (yaml.YAMLError, RecursionError, MemoryError) as exc:
        raise DocumentError([Problem(1, 1, "yaml_syntax", shorten(str(exc)))]) from None


def _construct(node: yaml.Node, pointer: str, doc: Document, problems: list[Problem], limits: Limits) -> Any:
    mark = (node.start_mark.line + 1, node.start_mark.column + 1)
    doc.marks[pointer] = mark
    if isinstance(node, yaml.ScalarNode):
        if node.style in (None, ""):
            value, error = resolve_plain_scalar(node.value, limits)
            if error:
                problems.append(Problem(*mark, "ambiguous_scalar", error, pointer))
            if isinstance(value, str):
                doc.spans[pointer] = (node.start_mark.index, node.end_mark.index)
            return value
        doc.spans[pointer] = (node.start_mark.index, node.end_mark.index)
        bad = find_refused_character(node.value)
        if bad is not None:
            problems.append(Problem(*mark, "character", f"{bad[1]} (written as an escape)", pointer))
        return node.value
    if isinstance(node, yaml.SequenceNode):
        return [_construct(child, pointer_join(pointer, i), doc, problems, limits) for i, child in enumerate(node.value)]
    assert isinstance(node, yaml.MappingNode)
    out: dict[str, Any] = {}
    first_seen: dict[str, int] = {}
    for key_node, value_node in node.value:
        key_mark = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
        if not isinstance(key_node, yaml.ScalarNode):
            problems.append(Problem(*key_mark, "key", "mapping keys must be text", pointer))
            continue
        if key_node.style in (None, ""):
            key, error = resolve_plain_scalar(key_node.value, limits)
            if key_node.value == "<<":
                problems.append(Problem(*key_mark, "merge_key", "merge keys (<<) are not allowed", pointer))
                continue
            if error:
                problems.append(Problem(*key_mark, "ambiguous_scalar", error, pointer))
                continue
        else:
            key = key_node.value
        if not isinstance(key, str):
            problems.append(Problem(*key_mark, "key", f"mapping keys must be text, not {key!r}: quote it", pointer))
            continue
        bad = find_refused_character(key) if key_node.style not in (None, "") else None  # plain keys: the raw text was checked
        if bad is not None:
            problems.append(Problem(*key_mark, "character", f"{bad[1]} (written as an escape, in a key)", pointer))
            continue
        child = pointer_join(pointer, key)
        if key in first_seen:
            problems.append(
                Problem(*key_mark, "duplicate_key", f"duplicate key '{shorten(key, 60)}' (first at line {first_seen[key]})", child)
            )
            continue
        first_seen[key] = key_mark[0]
        doc.key_marks[child] = key_mark
        out[key] = _construct(value_node, child, doc, problems, limits)
    return out


# ---------------------------------------------------------------- JSON


class _Refused(ValueError):
    def __init__(self, message: str, token: str, duplicate: bool = False) -> None:
        super().__init__(message)
        self.token = token
        self.duplicate = duplicate


def _refuse_constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON number", name)


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Refused(f"duplicate key '{shorten(key, 60)}'", key, duplicate=True)
            seen.add(key)
    return out


def _decimal(text: str, limit: int = DEFAULT_LIMITS.max_integer) -> Decimal:
    value = Decimal(text)
    if not _usable_decimal(value, limit):
        raise _Refused(f"number {shorten(text, 30)} is out of range", text)
    return value


def _usable_decimal(value: Decimal, limit: int) -> bool:
    """Finite, at most ``limit`` in size (as integers are), and 0 or not finer than 10^-15."""
    return value.is_finite() and abs(value) <= limit and (value == 0 or value.adjusted() >= -15)


def _integer(text: str, limit: int = DEFAULT_LIMITS.max_integer) -> int:
    if len(text) > 19 or abs(value := int(text)) > limit:
        raise _Refused(f"integer {shorten(text, 30)} is out of range", text)
    return value


_JSON_TOKEN = re.compile(r'\s+|"(?:[^"\\]|\\.)*"|[{}\[\]:,]|[^\s{}\[\]:,"]+')


def _find_token(text: str, refused: _Refused) -> int:
    """Offset of the refused value (or of the repeated key) in JSON text; 0 if not found."""
    keys: list[set[str] | None] = []
    previous = ""
    for match in _JSON_TOKEN.finditer(text):
        token = match.group()
        if token.isspace():
            continue
        if token == "{":
            keys.append(set())
        elif token == "[":
            keys.append(None)
        elif token in "}]":
            if keys:
                keys.pop()
        elif refused.duplicate and token.startswith('"') and keys and keys[-1] is not None and previous in ("{", ","):
            try:
                key = json.loads(token)
            except ValueError:
                key = token
            if key == refused.token and key in keys[-1]:
                return match.start()
            keys[-1].add(key)
        elif not refused.duplicate and token == refused.token:
            return match.start()
        previous = token
    return 0


_SUSPECT_ESCAPE = re.compile(r"\\u(?!00[2-6][0-9a-fA-F]|007[0-9a-eA-E])[0-9a-fA-F]{4}")
"""A \\u escape of anything but printable ASCII: its string is checked like raw text (controls, format, private use …)."""


def _refused_in_strings(value: Any) -> tuple[str, str] | None:
    """(pointer, message) of the first decoded string holding a refused character or a lone surrogate."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        item, pointer = stack.pop()
        if isinstance(item, str):
            bad = find_refused_character(item)
            if bad is not None:
                return pointer, bad[1] + " (written as an escape)"
        elif isinstance(item, dict):
            for key, child in item.items():
                bad_key = find_refused_character(key)
                if bad_key is not None:
                    return pointer, bad_key[1] + " (in a key)"
                stack.append((child, pointer_join(pointer, key)))
        elif isinstance(item, list):
            stack.extend((child, pointer_join(pointer, i)) for i, child in enumerate(item))
    return None


def read_json(data: bytes | str, name: str, limits: Limits = DEFAULT_LIMITS) -> Any:
    """Parse JSON strictly: Decimal numbers, no NaN, no duplicate keys, UTF-8 only."""
    text = _decode(data, name, limits)
    value = _loads(text, limits)
    if _SUSPECT_ESCAPE.search(text):  # the raw text was clean; an escape may still decode to NUL, bidi, a surrogate
        bad = _refused_in_strings(value)
        if bad is not None:
            line, col = position(text, _escape_offset(text))
            raise DocumentError([Problem(line, col, "character", bad[1], bad[0])])
    return value


def _escape_offset(text: str) -> int:
    """Offset of the first escape that decodes to a refused character or a lone surrogate."""
    for match in _SUSPECT_ESCAPE.finditer(text):
        code = int(match.group()[2:], 16)
        if 0xD800 <= code <= 0xDBFF and re.match(r"\\u[dD][c-fC-F][0-9a-fA-F]{2}", text[match.end() : match.end() + 6]):
            continue  # a high surrogate followed by a low one: a valid pair
        if 0xDC00 <= code <= 0xDFFF and re.match(r"\\u[dD][89abAB][0-9a-fA-F]{2}$", text[max(0, match.start() - 6) : match.start()]):
            continue
        if 0xD800 <= code <= 0xDFFF or find_refused_character(chr(code)) is not None:
            return match.start()
    return 0


def _loads(text: str, limits: Limits) -> Any:
    try:
        return json.loads(
            text,
            parse_float=lambda s: _decimal(s, limits.max_integer),
            parse_int=lambda s: _integer(s, limits.max_integer),
            parse_constant=_refuse_constant,
            object_pairs_hook=_pairs,
        )
    except json.JSONDecodeError as exc:
        raise DocumentError([Problem(exc.lineno, exc.colno, "json_syntax", exc.msg)]) from None
    except _Refused as exc:
        line, col = position(text, _find_token(text, exc))
        raise DocumentError([Problem(line, col, "json_value", str(exc))]) from None
    except RecursionError:
        line, col = position(text, _depth_offset(text, limits.max_depth))
        raise DocumentError([Problem(line, col, "too_deep", f"nested deeper than {limits.max_depth} levels")]) from None
    except ValueError as exc:
        raise DocumentError([Problem(1, 1, "json_value", shorten(str(exc)))]) from None


def _depth_offset(text: str, limit: int) -> int:
    """Offset of the bracket that nests deeper than ``limit`` (strings skipped); 0 if none."""
    depth = 0
    for match in _JSON_TOKEN.finditer(text):
        token = match.group()
        if token in ("{", "["):
            depth += 1
            if depth > limit:
                return match.start()
        elif token in ("}", "]"):
            depth -= 1
    return 0


def check_shape(value: Any, limits: Limits) -> tuple[str, str, str] | None:
    """(pointer, code, message) of the first value nested too deep or list too long, or of a document with too
    many values; walked iteratively, before any validator or rule touches the data."""
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    count = 0
    while stack:
        item, pointer, depth = stack.pop()
        count += 1
        if count > limits.max_nodes:
            return "", "too_large", f"more than {limits.max_nodes} values"
        if depth > limits.max_depth:
            return pointer, "too_deep", f"nested deeper than {limits.max_depth} levels"
        if isinstance(item, dict):
            stack.extend((v, pointer_join(pointer, k), depth + 1) for k, v in item.items())
        elif isinstance(item, list):
            if len(item) > limits.max_collection_items:
                return pointer, "too_large", f"{len(item)} items, more than the limit of {limits.max_collection_items}"
            stack.extend((v, pointer_join(pointer, i), depth + 1) for i, v in enumerate(item))
    return None
