"""Hostile input through the command line: exit codes, ``file:line:col: code:`` lines, short and escaped messages.

Every run is ``python -m ruleengine.cli`` in a child process under the 768 MiB
address-space limit; ``run_cli`` asserts the 2 s budget (interpreter start
included). Exit codes: 2 policy or usage error, 1 facts or evaluation error.
"""

from __future__ import annotations

import json
from pathlib import Path

from hostile_support import ORDER_FILE, assert_clean_stderr, error_lines, minimal_policy, order_text, quoted, rule_yaml, run_cli

POLICY_ERROR, FACTS_ERROR = 2, 1
TEXT = order_text()


def write_order(tmp_path: Path, content: str | bytes, name: str = "order.json") -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


# ---------------------------------------------------------------- validate


def test_validate_python_tag(tmp_path: Path) -> None:
    folder = minimal_policy(tmp_path, {"hostile.yaml": rule_yaml(when="!!python/object/apply:os.system [id]")})
    code, out, err = run_cli("validate", str(folder))
    assert (code, out) == (POLICY_ERROR, "")
    assert err.splitlines() == [
        f"{folder / 'hostile.yaml'}:7:11: tag: YAML tags (tag:yaml.org,2002:python/object/apply:os.system) are not allowed",
        f"1 error: the policy was not loaded: {folder} (由 --rules 指定 given with --rules)",
    ]
    assert_clean_stderr(err)


def test_validate_100_kb_expression(tmp_path: Path) -> None:
    folder = minimal_policy(tmp_path, {"hostile.yaml": rule_yaml(when=quoted("true and " * 11_111 + "true"))})
    code, out, err = run_cli("validate", str(folder))
    assert (code, out) == (POLICY_ERROR, "")
    assert err.splitlines()[0] == f"{folder / 'hostile.yaml'}:7:11: schema: text too long: 100003 characters > limit 2000"
    assert_clean_stderr(err)


def test_validate_invalid_utf8(tmp_path: Path) -> None:
    data = rule_yaml().encode().replace(b"description: hostile", b"description: \xffhostile")
    folder = minimal_policy(tmp_path, {"hostile.yaml": data})
    code, _, err = run_cli("validate", str(folder))
    assert code == POLICY_ERROR
    assert err.splitlines()[0] == f"{folder / 'hostile.yaml'}:4:18: encoding: invalid UTF-8 byte 0xff; files must be UTF-8"
    assert_clean_stderr(err)


def test_validate_escapes_control_characters_in_messages(tmp_path: Path) -> None:
    key = "\\e[2J\\u202e\\a" + "k" * 1000  # ESC, bidi override and BEL as YAML escapes in a 1000-character key
    folder = minimal_policy(tmp_path, {"hostile.yaml": f'"{key}": 1\n'})
    code, _, err = run_cli("validate", str(folder))
    assert code == POLICY_ERROR
    first = err.splitlines()[0]
    # refused like the same characters written raw, and the message does not echo them
    message = "character U+001B control character is not allowed (written as an escape, in a key)"
    assert first == f"{folder / 'hostile.yaml'}:1:1: character: {message}"
    assert_clean_stderr(err)


def test_validate_raw_bidi_override(tmp_path: Path) -> None:
    folder = minimal_policy(tmp_path, {"hostile.yaml": rule_yaml(when=quoted("claim.type == 'no_reason_return'\u202e"))})
    code, _, err = run_cli("validate", str(folder))
    assert code == POLICY_ERROR
    assert err.splitlines()[0] == f"{folder / 'hostile.yaml'}:7:44: character: character U+202E RIGHT-TO-LEFT OVERRIDE is not allowed"
    assert_clean_stderr(err)


def test_validate_json_format(tmp_path: Path) -> None:
    folder = minimal_policy(tmp_path, {"hostile.yaml": rule_yaml(when=quoted("item.__class__"))})
    code, out, err = run_cli("validate", str(folder), "--format", "json")
    assert code == POLICY_ERROR
    diagnostics = json.loads(out)["diagnostics"]
    assert [(Path(d["file"]).name, d["line"], d["column"], d["code"]) for d in diagnostics] == [
        ("hostile.yaml", 7, 12, "expression_feature")
    ]
    assert_clean_stderr(err)


def test_limit_option_refuses_a_file(tmp_path: Path) -> None:
    folder = minimal_policy(tmp_path, {"hostile.yaml": rule_yaml() + "# padding\n" * 3000})
    code, _, err = run_cli("--limit", "max_file_bytes=20000", "validate", str(folder))
    assert code == POLICY_ERROR
    assert f"{folder / 'hostile.yaml'}:1:1: too_large: file too large: " in err
    assert_clean_stderr(err)


def test_limit_option_with_an_unknown_name(tmp_path: Path) -> None:
    code, out, err = run_cli("--limit", "max_evil=1", "validate")
    assert (code, out) == (POLICY_ERROR, "")
    assert err.startswith("usage error: --limit takes NAME=VALUE")
    assert_clean_stderr(err)


# ---------------------------------------------------------------- evaluate


def test_evaluate_nan(tmp_path: Path) -> None:
    order = write_order(tmp_path, TEXT.replace('"amount": 299.00', '"amount": NaN'))
    code, out, err = run_cli("evaluate", str(order))
    assert (code, out) == (FACTS_ERROR, "")
    assert error_lines(err) == [f"{order}:10:15: json_value: NaN is not a JSON number"]


def test_evaluate_a_two_megabyte_order(tmp_path: Path) -> None:
    order = write_order(tmp_path, TEXT.replace('"channel": "app"', '"channel": "' + "A" * 2_000_000 + '"'))
    code, _, err = run_cli("evaluate", str(order))
    assert code == FACTS_ERROR
    assert error_lines(err) == [f"{order}:1:1: too_large: file too large: {order.stat().st_size} bytes > limit 1048576"]


def test_evaluate_escape_sequences_and_900_kb_in_an_enum(tmp_path: Path) -> None:
    order = write_order(tmp_path, TEXT.replace('"channel": "app"', '"channel": "\\u001b[31mred\\u0007' + "A" * 900_000 + '"'))
    code, _, err = run_cli("evaluate", str(order))
    assert code == FACTS_ERROR
    (line,) = error_lines(err)
    # The escape decodes to ESC, a control character: refused where it is written, before any schema check.
    text = order.read_text(encoding="utf-8")
    line_no, column = text.count("\n", 0, text.index("\\u001b")) + 1, text.index("\\u001b") - text.rfind("\n", 0, text.index("\\u001b"))
    assert line == f"{order}:{line_no}:{column}: character: character U+001B control character is not allowed (written as an escape)"
    assert_clean_stderr(err)


def test_evaluate_100000_deep_nesting(tmp_path: Path) -> None:
    order = write_order(tmp_path, "[" * 100_000 + "]" * 100_000)
    code, _, err = run_cli("evaluate", str(order))
    assert code == FACTS_ERROR
    assert error_lines(err) == [f"{order}:1:33: too_deep: nested deeper than 32 levels"]


def test_evaluate_yaml_tag_from_stdin() -> None:
    code, out, err = run_cli("evaluate", "-", stdin=b"order_id: !!python/object/apply:os.system [id]\n")
    assert (code, out) == (FACTS_ERROR, "")
    assert error_lines(err) == ["<stdin>:1:11: tag: YAML tags (tag:yaml.org,2002:python/object/apply:os.system) are not allowed"]


def test_evaluate_division_by_zero(tmp_path: Path) -> None:
    action = 'set: {claim.refund_amount: "item.paid_amount / (claim.quantity - claim.quantity)"}'
    folder = minimal_policy(tmp_path, {"hostile.yaml": rule_yaml(action=action)})
    code, out, err = run_cli("evaluate", "--rules", str(folder), str(ORDER_FILE))
    assert (code, out) == (FACTS_ERROR, "")
    assert error_lines(err) == [
        f"{ORDER_FILE}: {folder / 'hostile.yaml'}:9:36: evaluation: rule hostile.rule: division by zero in action 'set'"
    ]


def test_evaluate_lone_surrogate(tmp_path: Path) -> None:
    order = write_order(tmp_path, TEXT.replace('"id": "RF2026103000009"', '"id": "RF\\ud800"'))
    code, _, err = run_cli("evaluate", str(order))
    assert code == FACTS_ERROR
    assert "internal error" not in err


# ---------------------------------------------------------------- batch


def _batch_lines(tmp_path: Path, extra: list[str]) -> Path:
    good = json.dumps(json.loads(TEXT))
    lines = [good, "NaN", "[1, 2]", "{bad json", '{"a": "' + "x" * 1_100_000 + '"}', "", *extra, good]
    return write_order(tmp_path, "\n".join(lines) + "\n", "orders.jsonl")


def test_batch_continues_after_bad_lines(tmp_path: Path) -> None:
    batch = _batch_lines(tmp_path, [])
    code, out, err = run_cli("evaluate", "--batch", str(batch))
    assert code == FACTS_ERROR
    records = [json.loads(line) for line in out.splitlines()]
    assert [r.get("line", r.get("order_id")) for r in records] == ["TM2026102600009", 2, 3, 4, 5, "TM2026102600009"]
    assert [r.get("error") for r in records] == [None, "facts", "facts", "facts", "facts", None]
    assert [p["code"] for r in records[1:5] for p in r["problems"]] == ["type", "type", "json_syntax", "too_large"]
    assert [line.split(": ")[0] for line in err.splitlines()] == [f"{batch}:{n}" for n in (2, 3, 4, 5)]
    assert_clean_stderr(err)
    assert max(len(line) for line in out.splitlines()[1:5]) < 1000


def test_batch_continues_after_a_lone_surrogate(tmp_path: Path) -> None:
    surrogate = json.dumps(json.loads(TEXT)).replace("RF2026103000009", "RF\\ud800")
    batch = _batch_lines(tmp_path, [surrogate])
    code, out, _ = run_cli("evaluate", "--batch", str(batch))
    assert code == FACTS_ERROR
    assert len(out.splitlines()) == 7
