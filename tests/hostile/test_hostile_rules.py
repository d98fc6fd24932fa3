"""Hostile rule files: YAML tags, aliases, duplicate keys, YAML 1.1 typing, encodings, sizes, nesting.

Each case drops one file into a minimal policy (the bundled manifest,
parameters and definitions) and asserts the exact diagnostic: file, line,
column, code and the gist of the message. The expensive ones (bombs, huge
files, deep nesting) run in a child process with their own time and memory
budget (see hostile_support).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hostile_support import (
    ChildRunner,
    bounded_case,  # noqa: F401 - the autouse time and memory bound
    child_outcome,
    load_outcome,
    minimal_policy,
    only_diagnostic,
    quoted,
    rule_yaml,
)

from ruleengine import Limits


def load_with(tmp_path: Path, content: str | bytes, name: str = "hostile.yaml", limits: Limits | None = None) -> dict[str, Any]:
    return load_outcome(minimal_policy(tmp_path, {name: content}), limits)


BASE = rule_yaml()


# ---------------------------------------------------------------- tags: no code execution


def test_python_object_apply_os_system_is_refused_and_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = rule_yaml(when=f'!!python/object/apply:os.system ["touch {marker}"]')
    file, line, column, code, message = only_diagnostic(load_with(tmp_path, text))
    assert (file, line, column, code) == ("hostile.yaml", 7, 11, "tag")
    assert "python/object/apply:os.system" in message
    assert not marker.exists()


def test_python_name_tag_is_refused(tmp_path: Path) -> None:
    text = BASE + "extra: !!python/name:os.system\n"
    assert only_diagnostic(load_with(tmp_path, text))[:4] == ["hostile.yaml", 10, 8, "tag"]


def test_python_object_new_tag_is_refused(tmp_path: Path) -> None:
    text = BASE.replace("description: hostile input", "description: !!python/object/new:os.system [id]")
    file, line, column, code, message = only_diagnostic(load_with(tmp_path, text))
    assert (file, line, column, code) == ("hostile.yaml", 4, 18, "tag")
    assert "python/object/new:os.system" in message


def test_custom_include_tag_is_refused(tmp_path: Path) -> None:
    text = "rules: !include /etc/passwd\n"
    file, line, column, code, message = only_diagnostic(load_with(tmp_path, text))
    assert (file, line, column, code) == ("hostile.yaml", 1, 8, "tag")
    assert "!include" in message


def test_a_tag_in_a_copy_of_the_bundled_policy_is_the_only_error(policy_copy: Callable[..., Path]) -> None:
    root = policy_copy(**{"hostile/tags.yaml": rule_yaml(when="!!python/object/apply:os.system [id]")})
    assert only_diagnostic(load_outcome(root))[:4] == ["tags.yaml", 7, 11, "tag"]


# ---------------------------------------------------------------- anchors and aliases


def test_anchor_and_alias_are_refused_at_the_anchor(tmp_path: Path) -> None:
    text = BASE.replace("description: hostile input", "description: &d hostile input\n    source: *d")
    file, line, column, code, message = only_diagnostic(load_with(tmp_path, text))
    assert (file, line, column, code) == ("hostile.yaml", 4, 18, "anchor")
    assert message == "anchors (&d) are not allowed"


def test_alias_without_anchor_is_refused(tmp_path: Path) -> None:
    file, line, column, code, message = only_diagnostic(load_with(tmp_path, "rules: *missing\n"))
    assert (file, line, column, code) == ("hostile.yaml", 1, 8, "alias")
    assert "aliases (*name) are not allowed" in message


def test_merge_key_is_refused(tmp_path: Path) -> None:
    text = BASE.replace("    stage: claim", "    <<: {stage: claim}")
    file, line, column, code, _ = only_diagnostic(load_with(tmp_path, text))
    assert (file, line, column, code) == ("hostile.yaml", 5, 5, "merge_key")


BILLION_LAUGHS = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
)


def _billion_laughs() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        return load_outcome(minimal_policy(Path(tmp), {"hostile.yaml": BILLION_LAUGHS}))


def _cyclic_alias() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        return load_outcome(minimal_policy(Path(tmp), {"hostile.yaml": "rules: &a [*a]\n"}))


# ---------------------------------------------------------------- duplicate keys


def test_duplicate_top_level_key(tmp_path: Path) -> None:
    file, line, column, code, message = only_diagnostic(load_with(tmp_path, BASE + "rules: []\n"))
    assert (file, line, column, code) == ("hostile.yaml", 10, 1, "duplicate_key")
    assert message == "duplicate key 'rules' (first at line 1)"


def test_duplicate_key_inside_a_rule(tmp_path: Path) -> None:
    text = BASE.replace("    stage: claim\n", "    stage: claim\n    stage: finalize\n")
    file, line, column, code, message = only_diagnostic(load_with(tmp_path, text))
    assert (file, line, column, code) == ("hostile.yaml", 6, 5, "duplicate_key")
    assert message == "duplicate key 'stage' (first at line 5)"


def test_duplicate_key_inside_set(tmp_path: Path) -> None:
    text = rule_yaml(action="set: {claim.outcome: approved, claim.outcome: rejected}")
    file, line, column, code, message = only_diagnostic(load_with(tmp_path, text))
    assert (file, line, column, code) == ("hostile.yaml", 9, 40, "duplicate_key")
    assert message == "duplicate key 'claim.outcome' (first at line 9)"


# ---------------------------------------------------------------- YAML 1.1 implicit typing


@pytest.mark.parametrize(
    ("scalar", "gist"),
    [
        ("no", "'no' is a boolean in YAML 1.1"),
        ("1:30", "'1:30' is read as a number by some YAML readers"),
        ("010", "'010' is read as a number by some YAML readers"),
        ("0x1F", "'0x1F' is read as a number by some YAML readers"),
        (".nan", "'.nan' is not a finite number"),
        (".inf", "'.inf' is not a finite number"),
        ("2026-02-30", "'2026-02-30' looks like a date"),
        ("2026-01-15 10:00:00", "'2026-01-15 10:00:00' looks like a date"),
    ],
)
def test_yaml11_scalar_as_a_condition_is_refused(tmp_path: Path, scalar: str, gist: str) -> None:
    file, line, column, code, message = only_diagnostic(load_with(tmp_path, rule_yaml(when=scalar)))
    assert (file, line, column, code) == ("hostile.yaml", 7, 11, "ambiguous_scalar")
    assert message.startswith(gist)


def test_on_as_a_key_is_refused(tmp_path: Path) -> None:
    text = BASE.replace("    stage: claim\n", "    stage: claim\n    effective: {on: as_of}\n")
    file, line, column, code, message = only_diagnostic(load_with(tmp_path, text))
    assert (file, line, column, code) == ("hostile.yaml", 6, 17, "ambiguous_scalar")
    assert message.startswith("'on' is a boolean in YAML 1.1")


def test_quoted_on_key_loads_as_the_text_on(tmp_path: Path) -> None:
    text = BASE.replace("    stage: claim\n", '    stage: claim\n    effective: {"on": as_of}\n')
    result = load_outcome(minimal_policy(tmp_path, {"hostile.yaml": text}), project=lambda p: p.rules[0].effective_on)
    assert result == {"kind": "ok", "value": "as_of"}


def test_quoted_sexagesimal_loads_as_the_string(tmp_path: Path) -> None:
    text = BASE.replace("description: hostile input", 'description: "1:30"')
    result = load_outcome(minimal_policy(tmp_path, {"hostile.yaml": text}), project=lambda p: p.rules[0].description)
    assert result == {"kind": "ok", "value": "1:30"}


def test_underscore_number_as_priority_is_refused(tmp_path: Path) -> None:
    text = BASE.replace("    stage: claim\n", "    stage: claim\n    priority: 1_000\n")
    file, line, column, code, message = only_diagnostic(load_with(tmp_path, text))
    assert (file, line, column, code) == ("hostile.yaml", 6, 15, "ambiguous_scalar")
    assert message.startswith("'1_000' is read as a number")


def test_octal_money_in_set_is_refused(tmp_path: Path) -> None:
    text = rule_yaml(action="set: {claim.refund_amount: 010}")
    assert only_diagnostic(load_with(tmp_path, text))[:4] == ["hostile.yaml", 9, 36, "ambiguous_scalar"]


def test_unquoted_impossible_date_in_effective_is_refused(tmp_path: Path) -> None:
    text = BASE.replace("    stage: claim\n", "    stage: claim\n    effective: {from: 2026-02-30}\n")
    file, line, column, code, message = only_diagnostic(load_with(tmp_path, text))
    assert (file, line, column, code) == ("hostile.yaml", 6, 23, "ambiguous_scalar")
    assert "looks like a date" in message


def test_non_text_mapping_key_is_refused(tmp_path: Path) -> None:
    text = BASE.replace("    stage: claim\n", "    stage: claim\n    1: one\n")
    file, line, column, code, message = only_diagnostic(load_with(tmp_path, text))
    assert (file, line, column, code) == ("hostile.yaml", 6, 5, "key")
    assert message == "mapping keys must be text, not 1: quote it"


# ---------------------------------------------------------------- encodings and characters


def test_invalid_utf8(tmp_path: Path) -> None:
    data = BASE.encode().replace(b"description: hostile", b"description: \xffhostile")
    file, line, column, code, message = only_diagnostic(load_with(tmp_path, data))
    assert (file, line, column, code) == ("hostile.yaml", 4, 18, "encoding")
    assert message == "invalid UTF-8 byte 0xff; files must be UTF-8"


def test_utf16_with_bom_is_refused(tmp_path: Path) -> None:
    file, line, column, code, message = only_diagnostic(load_with(tmp_path, BASE.encode("utf-16")))
    assert (file, line, column, code) == ("hostile.yaml", 1, 1, "encoding")
    assert "files must be UTF-8" in message


def test_utf8_bom_is_accepted_and_positions_do_not_shift(tmp_path: Path) -> None:
    root = minimal_policy(tmp_path, {"hostile.yaml": b"\xef\xbb\xbf" + BASE.encode()})
    result = load_outcome(root, project=lambda p: [p.rules[0].id, p.rules[0].location.line, p.rules[0].location.column])
    assert result == {"kind": "ok", "value": ["hostile.rule", 2, 5]}


@pytest.mark.parametrize(
    ("character", "name"),
    [
        ("\x00", "U+0000"),
        ("\x07", "U+0007"),
        ("\u202e", "U+202E RIGHT-TO-LEFT OVERRIDE"),
        ("\u200b", "U+200B ZERO WIDTH SPACE"),
    ],
    ids=["nul", "bell", "bidi-override", "zero-width-space"],
)
def test_raw_refused_character(tmp_path: Path, character: str, name: str) -> None:
    text = BASE.replace("description: hostile input", f"description: hostile{character} input")
    file, line, column, code, message = only_diagnostic(load_with(tmp_path, text))
    assert (file, line, column, code) == ("hostile.yaml", 4, 25, "character")
    assert message.startswith(f"character {name}")
    assert character not in message


@pytest.mark.parametrize(("escape", "name"), [("\\u202e", "U+202E"), ("\\u200b", "U+200B")], ids=["bidi-override", "zero-width-space"])
def test_escaped_refused_character_in_double_quoted_string(tmp_path: Path, escape: str, name: str) -> None:
    text = BASE.replace("description: hostile input", f'description: "hostile{escape} input"')
    file, line, column, code, message = only_diagnostic(load_with(tmp_path, text))
    assert (file, line, column, code) == ("hostile.yaml", 4, 18, "character")
    assert message.startswith(f"character {name}")
    assert message.endswith("(written as an escape)")


# ---------------------------------------------------------------- sizes, nesting, documents


def test_file_over_a_configured_size_limit(tmp_path: Path) -> None:
    text = BASE + "# padding\n" * 3000  # 30 kB; the bundled parameters.yaml is 12 kB
    file, line, column, code, message = only_diagnostic(load_with(tmp_path, text, limits=Limits(max_file_bytes=20_000)))
    assert (file, line, column, code) == ("hostile.yaml", 1, 1, "too_large")
    assert message == f"file too large: {len(text.encode())} bytes > limit 20000"


def _over_default_size() -> dict[str, Any]:
    text = BASE + "# " + "x" * (1 << 20) + "\n"
    with tempfile.TemporaryDirectory() as tmp:
        result = load_outcome(minimal_policy(Path(tmp), {"hostile.yaml": text}))
    result["size"] = len(text.encode())
    return result


def _flow_nesting_40() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        return load_outcome(minimal_policy(Path(tmp), {"hostile.yaml": "rules: " + "[" * 40 + "]" * 40 + "\n"}))


def _block_nesting_1000() -> dict[str, Any]:
    text = "rules:\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(1000)) + "  " * 1001 + "leaf\n"
    with tempfile.TemporaryDirectory() as tmp:
        return load_outcome(minimal_policy(Path(tmp), {"hostile.yaml": text}))


def _flow_list_300000() -> dict[str, Any]:
    text = "rules: [" + ",".join(["1"] * 300_000) + "]\n"
    with tempfile.TemporaryDirectory() as tmp:
        return load_outcome(minimal_policy(Path(tmp), {"hostile.yaml": text}))


def _hundred_kilobyte_expression() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        return load_outcome(minimal_policy(Path(tmp), {"hostile.yaml": rule_yaml(when=quoted("true and " * 11_111 + "true"))}))


def _definition_bomb() -> dict[str, Any]:
    """30 definitions, each the sum of two uses of the previous: 1.5 kB of YAML, 2**30 nodes when expanded."""
    text = "definitions:\n  hb0:\n    expr: item.paid_amount + item.paid_amount\n    description: x\n"
    text += "".join(f"  hb{i}:\n    expr: hb{i - 1} + hb{i - 1}\n    description: x\n" for i in range(1, 31))
    with tempfile.TemporaryDirectory() as tmp:
        return load_outcome(minimal_policy(Path(tmp), {"hostile.yaml": text + rule_yaml(when=quoted("hb30 > 0"))}))


MANY_RULES = """\
  - id: hostile.r{i}
    title: {{zh: x, en: x}}
    description: x
    stage: claim
    scope: claimed_line
    when: "item.paid_amount > {i} and claim.type == 'no_reason_return'"
    then:
      - set: {{claim.refund_amount: "item.paid_amount - {i}"}}
"""


def _four_thousand_rules() -> dict[str, Any]:
    """A file of 2000 small rules: the most one file may hold (2000 rules per file, 1 MiB)."""
    text = "rules:\n" + "".join(MANY_RULES.format(i=i) for i in range(2000))
    with tempfile.TemporaryDirectory() as tmp:
        result = load_outcome(minimal_policy(Path(tmp), {"hostile.yaml": text}), project=lambda p: len(p.rules))
    result["size"] = len(text.encode())
    return result


def test_several_documents(tmp_path: Path) -> None:
    file, line, column, code, message = only_diagnostic(load_with(tmp_path, BASE + "---\nrules: []\n"))
    assert (file, line, column, code) == ("hostile.yaml", 10, 1, "several_documents")
    assert "one YAML document per file" in message


@pytest.mark.parametrize("content", ["", "# nothing but a comment\n# and another\n", "\n\n   \n"], ids=["empty", "comments", "blank"])
def test_empty_file(tmp_path: Path, content: str) -> None:
    assert only_diagnostic(load_with(tmp_path, content)) == ["hostile.yaml", 1, 1, "empty", "the file holds no YAML document"]


def test_tab_indented_mapping_is_refused_at_the_tab(tmp_path: Path) -> None:
    text = BASE.replace("\n    stage: claim", "\n\tstage: claim")
    file, line, column, code, message = only_diagnostic(load_with(tmp_path, text))
    assert (file, line, column, code) == ("hostile.yaml", 5, 1, "yaml_syntax")
    assert "tab character" in message


TAB_LIST = "rules:\n\t- id: hostile.rule\n"


def test_tab_indented_list_is_refused_at_the_tab(tmp_path: Path) -> None:
    assert only_diagnostic(load_with(tmp_path, TAB_LIST))[:4] == ["hostile.yaml", 2, 1, "yaml_syntax"]


def test_tab_indented_list_message_says_tab(tmp_path: Path) -> None:
    message = only_diagnostic(load_with(tmp_path, TAB_LIST))[4]
    assert "tab" in message


# ---------------------------------------------------------------- the expensive ones, in a child process

CHILD_CASES: dict[str, Callable[[], dict[str, Any]]] = {
    "billion_laughs": _billion_laughs,
    "cyclic_alias": _cyclic_alias,
    "over_default_size": _over_default_size,
    "flow_nesting_40": _flow_nesting_40,
    "block_nesting_1000": _block_nesting_1000,
    "flow_list_300000": _flow_list_300000,
    "hundred_kilobyte_expression": _hundred_kilobyte_expression,
    "definition_bomb": _definition_bomb,
    "four_thousand_rules": _four_thousand_rules,
}
RUNNER = ChildRunner(__name__, CHILD_CASES)


@pytest.fixture(scope="module")
def children() -> ChildRunner:
    """Runs every child case once, before the in-process budget of the first test that needs them starts."""
    RUNNER.run()
    return RUNNER


def test_billion_laughs_is_refused_at_the_first_anchor(children: ChildRunner) -> None:
    result = child_outcome(children, "billion_laughs")
    assert only_diagnostic(result) == ["hostile.yaml", 1, 4, "anchor", "anchors (&a) are not allowed"]


def test_cyclic_alias_is_refused(children: ChildRunner) -> None:
    assert only_diagnostic(child_outcome(children, "cyclic_alias")) == ["hostile.yaml", 1, 8, "anchor", "anchors (&a) are not allowed"]


def test_file_over_the_default_1_mib_limit(children: ChildRunner) -> None:
    result = child_outcome(children, "over_default_size")
    assert only_diagnostic(result) == ["hostile.yaml", 1, 1, "too_large", f"file too large: {result['size']} bytes > limit 1048576"]


def test_flow_nesting_deeper_than_the_limit(children: ChildRunner) -> None:
    result = child_outcome(children, "flow_nesting_40")
    assert only_diagnostic(result) == ["hostile.yaml", 1, 39, "too_deep", "nesting deeper than 32 levels"]


def test_block_nesting_1000_levels(children: ChildRunner) -> None:
    result = child_outcome(children, "block_nesting_1000")
    assert only_diagnostic(result) == ["hostile.yaml", 33, 65, "too_deep", "nesting deeper than 32 levels"]


def test_flow_list_of_300000_items_hits_the_node_limit(children: ChildRunner) -> None:
    file, line, column, code, message = only_diagnostic(child_outcome(children, "flow_list_300000"))
    assert (file, line, code, message) == ("hostile.yaml", 1, "too_large", "more than 200000 YAML nodes")
    assert column == 9 + 2 * 199_996  # event 200,001 is the 199,997th scalar (after 4 stream/document/mapping events)


def test_hundred_kilobyte_expression_is_refused_by_length(children: ChildRunner) -> None:
    result = child_outcome(children, "hundred_kilobyte_expression")
    assert only_diagnostic(result) == ["hostile.yaml", 7, 11, "schema", "text too long: 100003 characters > limit 2000"]


def test_definition_bomb_is_refused_quickly(children: ChildRunner) -> None:
    file, line, _column, code, _message = only_diagnostic(child_outcome(children, "definition_bomb"))
    assert (file, code) == ("hostile.yaml", "too_complex")
    assert line > 1


def test_largest_legal_rule_file_loads_within_budget(children: ChildRunner) -> None:
    result = child_outcome(children, "four_thousand_rules")
    assert result["kind"] == "ok"
    assert result["value"] == 2000
    assert result["size"] < 1 << 20


def test_a_file_of_more_rules_than_the_limit_is_refused_quickly(tmp_path: Path) -> None:
    text = "rules:\n" + "".join(MANY_RULES.format(i=i) for i in range(4000))
    file, line, column, code, message = only_diagnostic(load_with(tmp_path, text))
    assert (file, line, column, code) == ("hostile.yaml", 1, 1, "too_large")
    assert message == "4000 rules in one file; at most 2000: split the file"
