"""The strict YAML/JSON readers: every trap refused at a line and column, every value located.

``ruleengine.documents`` is what stands between a policy author's file and the engine: YAML 1.1
surprises (``no``, ``1:30``, ``010``, dates), invisible characters, aliases, duplicate keys and
JSON's NaN/huge numbers must all be errors with a position, and ``Document.locate_in_text`` must
map a character inside any scalar style back to the file's line and column.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import pytest
from conftest import line_col, locate

from ruleengine.documents import DocumentError, Problem, read_json, read_yaml, resolve_plain_scalar
from ruleengine.limits import DEFAULT_LIMITS, Limits

# ---------------------------------------------------------------- helpers




def yaml_problems(data: str | bytes, limits: Limits = DEFAULT_LIMITS) -> list[Problem]:
    with pytest.raises(DocumentError) as info:
        read_yaml(data, "test.yaml", limits)
    assert info.value.problems, "a DocumentError must carry at least one problem"
    return info.value.problems


def json_problems(data: str | bytes) -> list[Problem]:
    with pytest.raises(DocumentError) as info:
        read_json(data, "test.json")
    assert info.value.problems
    return info.value.problems


def only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, problems
    return problems[0]


# ---------------------------------------------------------------- YAML 1.1 traps

# (source, marker where the error must point, words the message must contain)
YAML11_TRAPS = [
    pytest.param("answer: no\n", "no", ("'no'", "boolean", "quote"), id="no"),
    pytest.param("answer: Yes\n", "Yes", ("'Yes'", "boolean"), id="Yes"),
    pytest.param("on: 1\n", "on", ("'on'", "boolean"), id="on-as-key"),
    pytest.param("time: 1:30\n", "1:30", ("'1:30'", "quote"), id="sexagesimal"),
    pytest.param(
        "mode: 010\n",
        "010",
        ("'010'", "quote"),
        id="octal-010",
    ),
    pytest.param("mode: 0o17\n", "0o17", ("'0o17'",), id="octal-0o"),
    pytest.param("mask: 0x1F\n", "0x1F", ("'0x1F'",), id="hex"),
    pytest.param("count: 1_000\n", "1_000", ("'1_000'", "'_'"), id="underscore"),
    pytest.param("ratio: .nan\n", ".nan", ("not a finite number",), id="nan"),
    pytest.param("ratio: .inf\n", ".inf", ("not a finite number",), id="inf"),
    pytest.param("ratio: -.inf\n", "-.inf", ("not a finite number",), id="minus-inf"),
    pytest.param("from: 2026-01-15\n", "2026-01-15", ("looks like a date", "quote"), id="date"),
    pytest.param("from: 2026-02-30\n", "2026-02-30", ("looks like a date",), id="impossible-date"),
    pytest.param("at: 2026-01-15T10:00:00+08:00\n", "2026-01-15T10", ("looks like a date",), id="timestamp"),
    pytest.param("big: 10000000000000001\n", "10000000000000001", ("out of range",), id="huge-integer"),
    pytest.param("big: 1e400\n", "1e400", ("out of range",), id="huge-float"),
]


@pytest.mark.parametrize(("source", "marker", "words"), YAML11_TRAPS)
def test_yaml11_trap_is_refused_at_its_position(source: str, marker: str, words: tuple[str, ...]) -> None:
    problem = only(yaml_problems(source))
    assert problem.code == "ambiguous_scalar"
    assert (problem.line, problem.column) == locate(source, marker)
    for word in words:
        assert word in problem.message


def test_yaml11_trap_on_a_later_line_is_located_there() -> None:
    source = "rules:\n  - id: x\n    items:\n      - fine\n      - 0x1F\n"
    problem = only(yaml_problems(source))
    assert (problem.code, problem.line, problem.column) == ("ambiguous_scalar", 5, 9)
    assert problem.pointer == "/rules/0/items/1"


def test_every_trap_in_one_file_is_reported() -> None:
    source = "a: no\nb: 1:30\nc: 2026-01-15\n"
    problems = yaml_problems(source)
    assert [(p.line, p.column, p.code) for p in problems] == [
        (1, 4, "ambiguous_scalar"),
        (2, 4, "ambiguous_scalar"),
        (3, 4, "ambiguous_scalar"),
    ]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param("v: true\n", True, id="true"),
        pytest.param("v: false\n", False, id="false"),
        pytest.param("v: 1\n", 1, id="1"),
        pytest.param("v: -2\n", -2, id="-2"),
        pytest.param("v: 0\n", 0, id="0"),
        pytest.param("v: 1000000000000000\n", 10**15, id="max-integer"),
        pytest.param("v: 'no'\n", "no", id="quoted-no"),
        pytest.param("v: '1:30'\n", "1:30", id="quoted-1:30"),
        pytest.param("v: \"2026-01-15\"\n", "2026-01-15", id="quoted-date"),
        pytest.param("v: '010'\n", "010", id="quoted-010"),
        pytest.param("v: hello world\n", "hello world", id="text"),
        pytest.param("v: ~\n", None, id="null"),
        pytest.param("v:\n", None, id="empty-null"),
    ],
)
def test_unambiguous_scalars_load(source: str, expected: Any) -> None:
    value = read_yaml(source, "ok.yaml").data["v"]
    assert value == expected
    assert type(value) is type(expected)


def test_decimal_keeps_its_written_digits() -> None:
    value = read_yaml("rate: 0.30\n", "ok.yaml").data["rate"]
    assert isinstance(value, Decimal)
    assert value == Decimal("0.30")
    assert str(value) == "0.30"  # not 0.3, not 0.29999999999999998889776975


@pytest.mark.parametrize(
    ("text", "value"),
    [("true", True), ("False", False), ("1", 1), ("-2", -2), ("0.30", Decimal("0.30")), ("hello", "hello"), ("", None), ("null", None)],
)
def test_resolve_plain_scalar_accepts(text: str, value: Any) -> None:
    resolved, error = resolve_plain_scalar(text)
    assert error == ""
    assert resolved == value
    assert type(resolved) is type(value)


@pytest.mark.parametrize(
    "text",
    [
        "no",
        "off",
        "ON",
        "1:30",
        "010",
        "+010",
        "0o17",
        "0x1F",
        "0b101",
        "1_000",
        ".nan",
        ".inf",
        "2026-01-15",
        "2026-02-30",
        "10000000000000001",
    ],
)
def test_resolve_plain_scalar_refuses(text: str) -> None:
    value, error = resolve_plain_scalar(text)
    assert value is None
    assert error, f"{text!r} must be refused"


def test_resolve_plain_scalar_respects_the_integer_limit() -> None:
    assert resolve_plain_scalar("500", Limits(max_integer=1000)) == (500, "")
    value, error = resolve_plain_scalar("5000", Limits(max_integer=1000))
    assert value is None
    assert "1000" in error


# ---------------------------------------------------------------- encoding and characters


def test_utf8_bom_is_accepted() -> None:
    assert read_yaml(b"\xef\xbb\xbfname: x\n", "bom.yaml").data == {"name": "x"}
    assert read_yaml("\ufeffname: x\n", "bom.yaml").data == {"name": "x"}
    assert read_json(b"\xef\xbb\xbf{\"name\": 1}", "bom.json") == {"name": 1}


def test_positions_after_a_bom_are_not_shifted() -> None:
    problem = only(yaml_problems(b"\xef\xbb\xbfa: 1\nb: no\n"))
    assert (problem.line, problem.column, problem.code) == (2, 4, "ambiguous_scalar")


@pytest.mark.parametrize(
    ("char", "name"),
    [
        pytest.param("\x00", "U+0000", id="NUL"),
        pytest.param("\u202e", "U+202E", id="bidi-override"),
        pytest.param("\u2066", "U+2066", id="bidi-isolate"),
        pytest.param("\u200b", "U+200B", id="zero-width-space"),
        pytest.param("\u200d", "U+200D", id="zero-width-joiner"),
        pytest.param("\ufeff", "U+FEFF", id="bom-inside"),
        pytest.param("\x1b", "U+001B", id="escape"),
    ],
)
def test_invisible_and_control_characters_are_refused_with_position(char: str, name: str) -> None:
    source = "title: ok\nexpr: claim.type == 'a" + char + "b'\n"
    problem = only(yaml_problems(source))
    assert problem.code == "character"
    assert (problem.line, problem.column) == line_col(source, source.index(char))
    assert name in problem.message


def test_refused_character_in_json_has_position() -> None:
    source = '{\n  "title": "a\u202eb"\n}'
    problem = only(json_problems(source))
    assert (problem.code, problem.line, problem.column) == ("character", *locate(source, "\u202e"))


@pytest.mark.parametrize(
    ("data", "position", "byte"),
    [
        pytest.param(b"a: 1\nb: caf\xe9\n", (2, 7), "0xe9", id="latin1"),
        pytest.param(b"a: 1\nb: \xe4\xb8\n", (2, 4), "0xe4", id="truncated-sequence"),
        pytest.param(b"a: \xff\n", (1, 4), "0xff", id="ff"),
        pytest.param(b"a: \xed\xa0\x80\n", (1, 4), "0xed", id="surrogate"),
    ],
)
def test_invalid_utf8_is_refused_with_position(data: bytes, position: tuple[int, int], byte: str) -> None:
    problem = only(yaml_problems(data))
    assert problem.code == "encoding"
    assert (problem.line, problem.column) == position
    assert byte in problem.message
    assert "UTF-8" in problem.message


def test_invalid_utf8_in_json_is_refused_with_position() -> None:
    problem = only(json_problems(b'{"a": 1,\n "b": "caf\xe9"}'))
    assert (problem.code, problem.line, problem.column) == ("encoding", 2, 11)


# ---------------------------------------------------------------- YAML structure


def test_several_documents_are_refused_at_the_second() -> None:
    source = "a: 1\n---\nb: 2\n"
    problem = only(yaml_problems(source))
    assert problem.code == "several_documents"
    assert (problem.line, problem.column) == locate(source, "---")


def test_one_explicit_document_is_fine() -> None:
    assert read_yaml("---\na: 1\n...\n", "one.yaml").data == {"a": 1}


@pytest.mark.parametrize("source", ["", "\n\n", "# only a comment\n"])
def test_empty_document_is_refused(source: str) -> None:
    problem = only(yaml_problems(source))
    assert (problem.code, problem.line, problem.column) == ("empty", 1, 1)


def test_anchor_is_refused_at_its_position() -> None:
    source = "base: &b {x: 1}\nother: 2\n"
    problem = only(yaml_problems(source))
    assert problem.code == "anchor"
    assert (problem.line, problem.column) == locate(source, "&b")


def test_alias_is_refused_at_its_position() -> None:
    source = "base: 1\nother: *b\n"
    problem = only(yaml_problems(source))
    assert problem.code == "alias"
    assert (problem.line, problem.column) == locate(source, "*b")


def test_alias_bomb_is_refused_fast() -> None:
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 12):
        refs = ", ".join([f"*l{i - 1}"] * 9)
        lines.append(f"l{i}: &l{i} [{refs}]")
    source = "\n".join(lines) + "\n"
    started = time.perf_counter()
    problems = yaml_problems(source)
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0
    assert problems[0].code in ("anchor", "alias")
    assert (problems[0].line, problems[0].column) == locate(source, "&l0")


def test_alias_bomb_without_anchors_in_flow_is_refused_fast() -> None:
    # Only aliases (no anchor): refused at the first alias, nothing is expanded.
    source = "a: [" + ", ".join(["*x"] * 50_000) + "]\n"
    started = time.perf_counter()
    problem = yaml_problems(source)[0]
    assert time.perf_counter() - started < 2.0
    assert (problem.code, problem.line, problem.column) == ("alias", 1, 5)


@pytest.mark.parametrize(
    ("source", "marker"),
    [
        pytest.param("x: !!python/object:os.system {a: 1}\n", "!!python/object", id="python-object"),
        pytest.param("x: !!python/object/apply:os.system [echo hi]\n", "!!python/object", id="python-apply"),
        pytest.param("x: !!python/name:os.system ''\n", "!!python/name", id="python-name"),
        pytest.param("x: !!binary aGk=\n", "!!binary", id="binary"),
        pytest.param("x: !!str 1\n", "!!str", id="str"),
        pytest.param("x: !custom 1\n", "!custom", id="local"),
    ],
)
def test_tags_are_refused(source: str, marker: str) -> None:
    problem = only(yaml_problems(source))
    assert problem.code == "tag"
    assert (problem.line, problem.column) == locate(source, marker)


def test_nesting_at_the_limit_loads_and_one_deeper_is_refused() -> None:
    depth = DEFAULT_LIMITS.max_depth
    assert read_yaml("[" * depth + "]" * depth, "ok.yaml").data is not None
    problem = only(yaml_problems("[" * (depth + 1) + "]" * (depth + 1)))
    assert (problem.code, problem.line, problem.column) == ("too_deep", 1, depth + 1)
    assert str(depth) in problem.message


def test_deep_block_nesting_is_refused_at_the_first_level_too_deep() -> None:
    depth = DEFAULT_LIMITS.max_depth
    source = "".join("  " * i + f"k{i}:\n" for i in range(depth + 5)) + "  " * (depth + 5) + "leaf\n"
    problem = only(yaml_problems(source))
    assert problem.code == "too_deep"
    assert (problem.line, problem.column) == locate(source, f"k{depth}:")


def test_hostile_nesting_is_refused_quickly_without_recursion_error() -> None:
    started = time.perf_counter()
    problem = only(yaml_problems("[" * 100_000))
    assert time.perf_counter() - started < 2.0
    # libyaml's scanner stops first (at 1000 levels); the pure-Python reader stops at the engine's limit.
    assert problem.code in ("too_deep", "yaml_syntax")
    assert "nesting" in problem.message
    assert problem.line == 1


def test_custom_depth_limit() -> None:
    problem = only(yaml_problems("a: {b: {c: 1}}\n", Limits(max_depth=2)))
    assert (problem.code, problem.line, problem.column) == ("too_deep", 1, 8)


def test_file_size_limit() -> None:
    problem = only(yaml_problems("a: " + "x" * 200 + "\n", Limits(max_file_bytes=100)))
    assert problem.code == "too_large"
    assert "100" in problem.message


def test_duplicate_key_is_refused_at_the_second_key() -> None:
    source = "rules:\n  - id: a\n    stage: claim\n    stage: settle\n"
    problem = only(yaml_problems(source))
    assert problem.code == "duplicate_key"
    assert (problem.line, problem.column) == locate(source, "stage: settle")
    assert "'stage'" in problem.message
    assert "line 3" in problem.message


def test_duplicate_keys_differing_only_in_quoting_are_duplicates() -> None:
    source = "a: 1\n'a': 2\n"
    problem = only(yaml_problems(source))
    assert (problem.code, problem.line, problem.column) == ("duplicate_key", 2, 1)


def test_merge_key_is_refused() -> None:
    source = "base: {a: 1}\nderived:\n  <<: {a: 2}\n  b: 3\n"
    problem = only(yaml_problems(source))
    assert problem.code == "merge_key"
    assert (problem.line, problem.column) == locate(source, "<<")


@pytest.mark.parametrize(
    ("source", "marker"),
    [
        pytest.param("1: a\n", "1", id="integer"),
        pytest.param("x: 0\ntrue: a\n", "true", id="boolean"),
        pytest.param("null: a\n", "null", id="null"),
        pytest.param("~: a\n", "~", id="tilde"),
        pytest.param("0.5: a\n", "0.5", id="decimal"),
        pytest.param("? [a, b]\n: c\n", "[a, b]", id="list"),
        pytest.param("? {a: 1}\n: c\n", "{a: 1}", id="mapping"),
    ],
)
def test_keys_that_are_not_text_are_refused(source: str, marker: str) -> None:
    problem = only(yaml_problems(source))
    assert problem.code == "key"
    assert (problem.line, problem.column) == locate(source, marker)
    assert "keys must be text" in problem.message


def test_quoted_number_key_is_text() -> None:
    assert read_yaml("'1': a\n", "ok.yaml").data == {"1": "a"}


@pytest.mark.parametrize(
    ("source", "position"),
    [
        pytest.param("a: [1, 2\nb: 3\n", (2, 2), id="unclosed-flow-sequence"),
        pytest.param("a: 1\n b: 2\n", (2, 3), id="bad-indent"),
        pytest.param("a:\n\tb: 1\n", (2, 1), id="tab"),
        pytest.param("a: b: c\n", (1, 5), id="nested-mapping-on-one-line"),
    ],
)
def test_yaml_syntax_errors_have_a_position(source: str, position: tuple[int, int]) -> None:
    problem = only(yaml_problems(source))
    assert problem.code == "yaml_syntax"
    assert (problem.line, problem.column) == position
    assert problem.message


def test_values_keep_their_positions() -> None:
    source = "rules:\n  - id: first\n    stage: claim\n    tags: [a, b]\n"
    doc = read_yaml(source, "pos.yaml")
    assert doc.locate("/rules/0/stage") == locate(source, "claim")
    assert doc.locate("/rules/0/stage", key=True) == locate(source, "stage")
    assert doc.locate("/rules/0/tags/1") == locate(source, "b]")
    # An unknown pointer falls back to its nearest known ancestor.
    assert doc.locate("/rules/0/missing/deeper") == locate(source, "id: first")


# ---------------------------------------------------------------- locate_in_text


def check_locate(source: str, pointer: str, needle: str, offset_in_value: int | None = None) -> None:
    """The position of ``needle`` inside the value at ``pointer`` maps to where it is written."""
    doc = read_yaml(source, "expr.yaml")
    value: Any = doc.data
    for part in pointer.split("/")[1:]:
        value = value[int(part)] if isinstance(value, list) else value[part]
    assert isinstance(value, str)
    offset = value.index(needle) if offset_in_value is None else offset_in_value
    assert doc.locate_in_text(pointer, offset) == locate(source, needle)


@pytest.mark.parametrize(
    ("source", "pointer", "needle"),
    [
        pytest.param("expr: claim.type == 'x' and item.paid_amout > 1\n", "/expr", "item.paid_amout", id="plain"),
        pytest.param("a: 1\nexpr: not item.paid_amout\n", "/expr", "paid_amout", id="plain-second-line"),
        pytest.param("expr: 'claim.type == ''x'' and item.paid_amout > 1'\n", "/expr", "item.paid_amout", id="single-quoted"),
        pytest.param(
            "expr: \"'seven_day_opt_in' in item.flagz\"\n", "/expr", "item.flagz", id="double-quoted"
        ),
        pytest.param(
            'expr: "item.title == \\"x\\" and item.paid_amout > 1"\n', "/expr", "item.paid_amout", id="double-quoted-escaped-quote"
        ),
        pytest.param(
            "expr: |\n  claim.type == 'x'\n  and item.paid_amout > 1\n", "/expr", "item.paid_amout", id="literal-block"
        ),
        pytest.param(
            "expr: >-\n  claim.type == 'x'\n  and item.paid_amout > 1\n", "/expr", "item.paid_amout", id="folded-block"
        ),
        pytest.param(
            "expr: >-\n  claim.type == 'x'\n\n  and item.paid_amout > 1\n", "/expr", "item.paid_amout", id="folded-blank-line"
        ),
        pytest.param(
            "rules:\n  - when:\n      expr: >-\n        claim.type == 'x'\n        and item.paid_amout > 1\n",
            "/rules/0/when/expr",
            "item.paid_amout",
            id="folded-nested",
        ),
        pytest.param(
            "expr: claim.type == 'x'\n  and item.paid_amout > 1\n", "/expr", "item.paid_amout", id="plain-multiline"
        ),
        pytest.param(
            "- {label: 无签收时间 / no signing time, expr: not has(logistics.signed_att)}\n",
            "/0/expr",
            "logistics.signed_att",
            id="flow-mapping-after-chinese",
        ),
        pytest.param(
            "zh: \"商品状态（{claim.item_conditon}）不符合\"\n", "/zh", "claim.item_conditon", id="template-chinese"
        ),
        pytest.param(
            "expr: >-\r\n  claim.type == 'x'\r\n  and item.paid_amout > 1\r\n", "/expr", "item.paid_amout", id="folded-crlf"
        ),
    ],
)
def test_locate_in_text_maps_offsets_to_the_file(source: str, pointer: str, needle: str) -> None:
    check_locate(source, pointer, needle)


def test_locate_in_text_at_offset_zero_is_the_first_character() -> None:
    source = "a: 1\nexpr: >-\n    claim.type == 'x'\n"
    check_locate(source, "/expr", "claim.type", 0)
    source = "expr: 'claim.type'\n"
    check_locate(source, "/expr", "claim.type", 0)


@pytest.mark.parametrize(
    "source",
    [
        pytest.param('expr: "claim.note == \\t and item.paid_amout > 1"\n', id="tab-escape"),
        pytest.param('expr: "claim.note == \'caf\\u00e9\' and item.paid_amout > 1"\n', id="unicode-escape"),
    ],
)
def test_locate_in_text_after_an_escape_sequence(source: str) -> None:
    check_locate(source, "/expr", "item.paid_amout")


def test_locate_in_text_of_a_non_text_value_falls_back_to_the_value() -> None:
    source = "a: 1\nnumber: 42\n"
    doc = read_yaml(source, "n.yaml")
    assert doc.locate_in_text("/number", 1) == locate(source, "42")


# ---------------------------------------------------------------- JSON


@pytest.mark.parametrize(
    ("source", "words"),
    [
        pytest.param('{"a": NaN}', ("NaN",), id="NaN"),
        pytest.param('{"a": Infinity}', ("Infinity",), id="Infinity"),
        pytest.param('{"a": -Infinity}', ("-Infinity",), id="minus-Infinity"),
        pytest.param('{"a": 1e400}', ("out of range",), id="1e400"),
        pytest.param('{"a": 1e-400}', ("out of range",), id="1e-400"),
        pytest.param('{"a": 10000000000000001}', ("out of range",), id="big-integer"),
        pytest.param('{"a": 1, "a": 2}', ("duplicate key 'a'",), id="duplicate-key"),
        pytest.param('{"o": {"k": 1, "k": 1}}', ("duplicate key 'k'",), id="nested-duplicate-key"),
    ],
)
def test_json_values_refused(source: str, words: tuple[str, ...]) -> None:
    problem = only(json_problems(source))
    assert problem.code == "json_value"
    for word in words:
        assert word in problem.message


def test_json_5000_digit_integer_is_refused_without_echoing_it() -> None:
    problem = only(json_problems('{"a": ' + "9" * 5000 + "}"))
    assert problem.code == "json_value"
    assert "out of range" in problem.message
    assert len(problem.message) < 300


@pytest.mark.parametrize("source", ["[" * 100_000, "[" * 100_000 + "]" * 100_000, '{"a":' * 100_000])
def test_json_deep_nesting_is_refused_without_recursion_error(source: str) -> None:
    problem = only(json_problems(source))
    assert problem.code == "too_deep"


def test_json_numbers_are_decimal_or_int() -> None:
    data = read_json('{"price": 19.99, "rate": 0.30, "n": 3, "big": 1000000000000000, "e": 1.5e3}', "n.json")
    assert data["price"] == Decimal("19.99") and isinstance(data["price"], Decimal)
    assert str(data["rate"]) == "0.30"
    assert data["n"] == 3 and type(data["n"]) is int
    assert data["big"] == 10**15 and type(data["big"]) is int
    assert data["e"] == Decimal("1500") and isinstance(data["e"], Decimal)
    assert not any(isinstance(v, float) for v in data.values())


def test_json_syntax_error_has_position() -> None:
    problem = only(json_problems('{\n  "a": 1,\n}'))
    assert (problem.code, problem.line, problem.column) == ("json_syntax", 3, 1)


def test_the_quick_character_scan_skips_only_allowed_characters() -> None:
    """find_refused_character looks only at characters outside printable ASCII and the common CJK blocks."""
    from ruleengine.text import _UNCOMMON, _refused

    skipped = [c for c in range(0x110000) if not _UNCOMMON.match(chr(c))]
    assert len(skipped) > 20000  # the CJK unified ideographs among them
    assert not [hex(c) for c in skipped if _refused(chr(c))]


@pytest.mark.parametrize(
    ("text", "usable"),
    [
        ("1000000000000000", True),
        ("1000000000000000.0", True),
        ("1000000000000000.1", False),
        ("1000000000000001", False),
        ("-1000000000000000.01", False),
        ("0.000000000000001", True),
        ("0.0000000000000001", False),
        ("0.0000000000000000", True),
        ("1e-15", True),
        ("1e+16", False),
    ],
)
def test_a_number_is_read_only_within_the_integer_limit_and_15_decimals_in_json_and_yaml(text: str, usable: bool) -> None:
    # what /openapi.json publishes for any document: -10^15 ≤ x ≤ 10^15, and 0 or |x| ≥ 10^-15
    for read in (lambda: read_json(f'{{"n": {text}}}', "x"), lambda: read_yaml(f"n: {text}\n", "x").data):
        if usable:
            assert read()["n"] == Decimal(text)
        else:
            with pytest.raises(DocumentError, match="out of range"):
                read()
