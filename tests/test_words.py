"""Words stay true when a number changes: ``{params.NAME}`` in titles, labels and descriptions, and the lint
warning for a number written where the rule reads a parameter of that value. On a policy the tests own."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

import ruleengine
from ruleengine.authoring.catalogue import markdown
from ruleengine.authoring.lint import lint

MANIFEST = """\
policy: {name: words-test, version: "1", timezone: Asia/Shanghai, stages: [compensation]}
parameters:
  window_days: {value: 7, type: days, description: 期限 / window}
  share: {value: 0.30, type: rate, description: 比例 / share}
  cap: {value: 500, type: money, description: 上限 / cap}
"""

TITLE = "超过{params.window_days}天（按{params.share:%}，上限{params.cap}元）"
RULE = """\
rules:
  - id: test.late
    title: {zh: "%s", en: "Past {params.window_days} days"}
    description: "发货晚于付款后 {params.window_days} 天 / shipped {params.window_days} days after payment"
    stage: compensation
    when:
      all:
        - label: "超过{params.window_days}天 / more than {params.window_days} days"
          expr: logistics.shipped_at >= paid_at + days(params.window_days)
    then:
      - compensation: {type: late_shipment, amount: "min(params.cap, percent_of(100, params.share))", form: tmall_points}
      - reason: {zh: "晚于{params.window_days}天", en: "late"}
""".replace("%s", TITLE)


def policy_folder(root: Path, rule: str = RULE) -> Path:
    folder = root / "rules"
    folder.mkdir(exist_ok=True)
    (folder / "policy.yaml").write_text(MANIFEST, encoding="utf-8")
    (folder / "rules.yaml").write_text(rule, encoding="utf-8")
    return folder


def test_titles_labels_and_descriptions_show_the_parameter_values(tmp_path: Path) -> None:
    policy = ruleengine.load_policy(policy_folder(tmp_path))
    (rule,) = policy.rules
    assert rule.title_zh == "超过7天（按30%，上限500.00元）" and rule.title_en == "Past 7 days"
    assert rule.description == "发货晚于付款后 7 天 / shipped 7 days after payment"
    assert rule.when.children[0].label == "超过7天 / more than 7 days"
    text = markdown(policy)
    assert "超过7天（按30%，上限500.00元）" in text and "{params." not in text


def test_a_what_if_renders_the_words_with_the_changed_values(tmp_path: Path) -> None:
    policy = ruleengine.load_policy(policy_folder(tmp_path))
    changed = policy.with_parameters({"window_days": 15, "share": Decimal("0.25")})
    (rule,) = changed.rules
    assert rule.title_zh == "超过15天（按25%，上限500.00元）"
    assert rule.when.children[0].label == "超过15天 / more than 15 days"
    assert policy.rules[0].title_zh.startswith("超过7天")  # the running policy keeps its words


@pytest.mark.parametrize(
    ("title", "message"),
    [
        ("超过{params.window_dayz}天", "unknown parameter 'window_dayz' (did you mean 'window_days'?)"),
        ("超过{logistics.shipped_at}", "a title, label or description may only name parameters"),
        ("超过{params.window_days", "'{' without a closing '}'"),
    ],
)
def test_a_bad_placeholder_is_an_error_at_its_place(tmp_path: Path, title: str, message: str) -> None:
    folder = policy_folder(tmp_path, RULE.replace(TITLE, title))
    with pytest.raises(ruleengine.PolicyError) as info:
        ruleengine.load_policy(folder)
    (error,) = info.value.diagnostics
    assert (Path(error.file).name, error.line) == ("rules.yaml", 3)
    assert error.code in ("words", "template")
    assert message in error.message
    assert error.column in (18 + title.index("{"), 18 + title.index("{") + 1)  # at the placeholder, inside the title


def test_lint_warns_where_a_text_writes_the_value_of_a_parameter_its_rule_reads(tmp_path: Path) -> None:
    written = RULE.replace("超过{params.window_days}天 / more than", "超过7天 / more than").replace(
        'reason: {zh: "晚于{params.window_days}天"', 'reason: {zh: "晚于7天，按30%赔付"'
    )
    policy = ruleengine.load_policy(policy_folder(tmp_path, written))
    found = [(d.line, d.column, d.message) for d in lint(policy) if d.code == "literal_parameter_value"]
    assert [(line, column) for line, column, _ in found] == [(8, 21), (12, 25), (12, 29)]  # at each number
    assert "label of rule test.late writes 7, the value of params.window_days" in found[0][2]
    assert "write {params.window_days}" in found[0][2]
    assert "writes 30%, the value of params.share" in found[2][2] and "{params.share:%}" in found[2][2]


def test_lint_is_quiet_about_numbers_the_rule_does_not_read(tmp_path: Path) -> None:
    quiet = RULE.replace('en: "Past {params.window_days} days"', 'en: "Past 2026-07-14 19:00, 3 times, 500 kg"')
    quiet = quiet.replace("min(params.cap, percent_of(100, params.share))", "percent_of(100, params.share)")
    policy = ruleengine.load_policy(policy_folder(tmp_path, quiet))
    assert [d for d in lint(policy) if d.code == "literal_parameter_value"] == []


def test_lint_finds_a_value_written_as_a_compound_word_but_not_in_a_range(tmp_path: Path) -> None:
    written = RULE.replace('en: "Past {params.window_days} days"', 'en: "Past the 7-day window (not the 7-15 range)"')
    policy = ruleengine.load_policy(policy_folder(tmp_path, written))
    found = [(d.line, d.column) for d in lint(policy) if d.code == "literal_parameter_value"]
    assert found == [(3, 93)]  # the 7 of "7-day", not the 7 of "7-15"
