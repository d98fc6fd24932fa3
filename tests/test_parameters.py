"""Parameter declarations: every parameter has a type and may have bounds, checked at load and for overrides.

The tests own their policy (a manifest, a few parameters of every type and one rule that reads them), so a
change to the default policy's numbers never breaks them.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import ruleengine
from ruleengine.compile.parameters import ParameterProblem, checked_value
from ruleengine.model.parameters import Declaration

MANIFEST = """\
policy:
  name: parameter-test
  version: "1"
  timezone: Asia/Shanghai
  stages: [compensation]
"""

PARAMETERS = {
    "window": "type: days\n    min: 7\n    max: 30\n    value: 7",
    "score": "type: integer\n    value: 600",
    "share": "type: rate\n    value: 0.30",
    "cap": "type: money\n    value: 500",
    "factor": "type: decimal\n    value: 1.5",
    "wait": "type: hours\n    value: 36",
    "start": 'type: timestamp\n    value: "2026-04-09T00:00:00+08:00"',
    "label": "type: text\n    value: 天猫",
    "strict": "type: boolean\n    value: true",
    "kinds": "type: list\n    of: category\n    value: [apparel, beauty]",
    "notes": "type: list\n    of: text\n    value: [a, b]",
}

RULE = """\
rules:
  - id: test.late
    title: {zh: 延迟, en: Late}
    description: reads every parameter
    stage: compensation
    when: >-
      params.strict and params.label != '' and params.start < paid_at + days(params.window) + hours(params.wait)
      and params.score > 0 and params.factor > 0 and 'x' not in params.notes
      and any(l.category in params.kinds for l in items)
    then:
      - compensation: {type: late_shipment, amount: "min(params.cap, round_money(params.share * 100))", form: tmall_points}
"""


def write_policy(root: Path, **changed: str) -> Path:
    """The test policy, with some parameters' declarations replaced (YAML lines after the name)."""
    decls = {**PARAMETERS, **changed}
    body = "".join(f"  {name}:\n    {decl}\n    description: {name}\n" for name, decl in decls.items())
    folder = root / "rules"
    folder.mkdir(exist_ok=True)
    (folder / "policy.yaml").write_text(MANIFEST, encoding="utf-8")
    (folder / "parameters.yaml").write_text("parameters:\n" + body, encoding="utf-8")
    (folder / "rules.yaml").write_text(RULE, encoding="utf-8")
    return folder


def load_errors(root: Path, **changed: str) -> list[ruleengine.Diagnostic]:
    with pytest.raises(ruleengine.PolicyError) as info:
        ruleengine.load_policy(write_policy(root, **changed))
    return [d for d in info.value.diagnostics if d.severity == "error"]


def line_of(folder: Path, name: str, key: str) -> int:
    """The 1-based line of ``key:`` inside parameter ``name`` of the test policy."""
    lines = (folder / "parameters.yaml").read_text(encoding="utf-8").splitlines()
    start = lines.index(f"  {name}:")
    return next(i for i in range(start + 1, len(lines)) if lines[i].strip().startswith(f"{key}:")) + 1


def test_every_type_loads_and_expressions_see_its_kind(tmp_path: Path) -> None:
    policy = ruleengine.load_policy(write_policy(tmp_path))
    values = {name: p.value for name, p in policy.parameters.items()}
    assert values["window"] == 7 and isinstance(values["window"], int)
    assert values["share"] == Decimal("0.30") and values["cap"] == 500
    assert values["kinds"] == ("apparel", "beauty")
    assert policy.parameters["start"].value.utcoffset().total_seconds() == 8 * 3600
    assert {p.declaration.kind for p in policy.parameters.values()} == {
        "days",
        "integer",
        "rate",
        "money",
        "decimal",
        "hours",
        "timestamp",
        "text",
        "boolean",
        "list",
    }
    assert policy.parameters["window"].unit == "days" and policy.parameters["cap"].unit == "CNY"


@pytest.mark.parametrize(
    ("name", "decl", "code", "message"),
    [
        ("window", "type: days\n    min: 7\n    value: -3", "parameter_range", "window: -3 is below its minimum 7"),
        ("window", "type: days\n    max: 30\n    value: 45", "parameter_range", "window: 45 is above its maximum 30"),
        ("window", "type: days\n    value: 7.5", "parameter_type", "window: 7.5 is not a whole number of days"),
        ("wait", "type: hours\n    value: -1", "parameter_range", "wait: -1 is below its minimum 0"),
        ("share", "type: rate\n    value: 30", "parameter_range", "share: 30 is above its maximum 1"),
        ("cap", "type: money\n    value: 500.105", "parameter_type", "cap: 500.105 has more than 2 decimals; money is exact to 0.01"),
        ("cap", "type: money\n    value: -5", "parameter_range", "cap: -5 is below its minimum 0"),
        ("cap", "type: money\n    value: abc", "parameter_type", "cap: 'abc' is not an amount: write a decimal string"),
        ("score", "type: integer\n    value: true", "parameter_type", "score: expected a whole number, got true/false"),
        ("start", "type: timestamp\n    value: \"2026-04-09\"", "parameter_type", "start: not an RFC 3339 timestamp with an offset"),
        ("strict", "type: boolean\n    value: 1", "parameter_type", "strict: expected true or false, got the number 1"),
        ("label", "type: text\n    value: [a]", "parameter_type", "label: expected text, got a list"),
        ("kinds", "type: list\n    of: category\n    value: [aparel]", "parameter_type", "kinds: 'aparel' is not a category (did you"),
        ("kinds", "type: list\n    of: category\n    value: [beauty, beauty]", "parameter_type", "kinds: 'beauty' is listed twice"),
    ],
)
def test_a_value_that_does_not_fit_is_one_error_at_the_value_naming_the_parameter(
    tmp_path: Path, name: str, decl: str, code: str, message: str
) -> None:
    errors = load_errors(tmp_path, **{name: decl})
    assert len(errors) == 1, errors  # reported once, at the parameter, not again where the rule reads it
    (error,) = errors
    assert (error.code, Path(error.file).name, error.line) == (code, "parameters.yaml", line_of(tmp_path / "rules", name, "value"))
    assert error.message.startswith(message), error.message
    assert error.column == 12  # the value, after "    value: "


@pytest.mark.parametrize(
    ("decl", "key", "message"),
    [
        ("type: days\n    min: 1.5\n    value: 7", "min", "window: 'min' must be a whole number of days"),
        ("type: days\n    min: 10\n    max: 8\n    value: 9", "min", "window: 'min' 10 is above 'max' 8"),
        ("type: days\n    min: -1\n    value: 7", "min", "window: 'min' -1 lies outside what a days can be (at least 0)"),
        ("type: text\n    max: 3\n    value: x", "max", "window: 'max' bounds a number, but the type is text"),
        ("type: days\n    of: category\n    value: 7", "of", "window: 'of' says what a list holds, but the type is days"),
        ("type: list\n    value: [a]", "type", "window: a list parameter says what it holds: add 'of: text'"),
        ("type: list\n    of: categry\n    value: [a]", "of", "window: unknown value set 'categry' (did you mean 'category'?)"),
    ],
)
def test_a_declaration_that_cannot_hold_is_an_error_at_its_key(tmp_path: Path, decl: str, key: str, message: str) -> None:
    (error,) = load_errors(tmp_path, window=decl)
    assert error.line == line_of(tmp_path / "rules", "window", key)
    assert error.message.startswith(message), error.message


def test_a_parameter_without_a_type_is_a_schema_error(tmp_path: Path) -> None:
    (error,) = load_errors(tmp_path, cap="value: 500")
    assert error.code == "schema" and "type" in error.message
    assert error.line == line_of(tmp_path / "rules", "cap", "value")  # the start of the parameter's mapping


def test_a_list_of_one_value_set_cannot_be_searched_for_another(tmp_path: Path) -> None:
    folder = write_policy(tmp_path)
    text = (folder / "rules.yaml").read_text(encoding="utf-8")
    (folder / "rules.yaml").write_text(text.replace("l.category in params.kinds", "shop.type in params.kinds"), encoding="utf-8")
    with pytest.raises(ruleengine.PolicyError) as info:
        ruleengine.load_policy(folder)
    (error,) = info.value.diagnostics
    assert error.code == "expression_type" and "a shop_type is never in a list of category values" in error.message


# ---------------------------------------------------------------- overrides obey the same declarations


@pytest.fixture
def policy(tmp_path: Path) -> ruleengine.Policy:
    return ruleengine.load_policy(write_policy(tmp_path))


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"cap": Decimal("800.10")}, {"cap": Decimal("800.10")}),
        ({"window": 15}, {"window": 15}),
        ({"window": Decimal("15")}, {"window": 15}),
        ({"share": Decimal("0.5"), "kinds": ["toys"]}, {"share": Decimal("0.5"), "kinds": ("toys",)}),
        ({"start": "2027-01-01T00:00:00Z"}, {}),
    ],
)
def test_an_override_that_fits_is_taken(policy: ruleengine.Policy, overrides: dict[str, Any], expected: dict[str, Any]) -> None:
    changed = policy.with_parameters(overrides)
    for name, value in expected.items():
        assert changed.parameters[name].value == value
    assert policy.parameters["cap"].value == 500 and policy.parameters["window"].value == 7  # the original is unchanged
    assert changed.digest != policy.digest


@pytest.mark.parametrize(
    ("overrides", "code", "message"),
    [
        ({"window": Decimal("7.5")}, "parameter_type", "override of window: 7.5 is not a whole number of days"),
        ({"window": "15"}, "parameter_type", "override of window: expected a whole number of days, got the text '15'"),
        ({"window": True}, "parameter_type", "override of window: expected a whole number of days, got true/false"),
        ({"window": 3}, "parameter_range", "override of window: 3 is below its minimum 7"),
        ({"share": Decimal("1.5")}, "parameter_range", "override of share: 1.5 is above its maximum 1"),
        ({"cap": Decimal("1.001")}, "parameter_type", "override of cap: 1.001 has more than 2 decimals"),
        ({"cap": 800.1}, "parameter_type", "override of cap: 800.1 is a binary float, which is not exact; give it as Decimal('800.1')"),
        ({"window": 7.5}, "parameter_type", "override of window: 7.5 is a binary float, and this parameter is a whole number of days"),
        ({"window": 8.0}, "parameter_type", "override of window: 8.0 is a binary float, and this parameter is a whole number of days; give it as 8"),  # noqa: E501
        ({"kinds": ["toy"]}, "parameter_type", "override of kinds: 'toy' is not a category (did you mean 'toys'?)"),
        ({"windw": 8}, "unknown_parameter", "override of unknown parameter 'windw' (did you mean 'window'?)"),
    ],
)
def test_an_override_that_does_not_fit_is_one_error_naming_the_parameter(
    policy: ruleengine.Policy, overrides: dict[str, Any], code: str, message: str
) -> None:
    with pytest.raises(ruleengine.PolicyError) as info:
        policy.with_parameters(overrides)
    (error,) = info.value.diagnostics
    assert error.code == code
    assert error.message.startswith(message), error.message


def test_the_default_policy_declares_a_type_for_every_parameter() -> None:
    policy = ruleengine.load_policy(Path(__file__).resolve().parent.parent / "rules")
    assert policy.parameters
    for param in policy.parameters.values():
        assert param.declaration.kind in ("integer", "decimal", "money", "rate", "days", "hours", "timestamp", "text", "boolean", "list")
        if param.declaration.kind == "list":
            assert param.declaration.of, param.name


# ---------------------------------------------------------------- the check itself, over open-ended values

DECIMALS = st.decimals(min_value=-1000, max_value=1000, places=3, allow_nan=False, allow_infinity=False)


@given(DECIMALS)
def test_money_takes_exactly_the_non_negative_amounts_with_at_most_two_decimals(value: Decimal) -> None:
    fits = value >= 0 and value == value.quantize(Decimal("0.01"))
    try:
        taken = checked_value(Declaration("cap", "money"), value, {}, 10)
    except ParameterProblem:
        assert not fits
    else:
        assert fits and taken == value


@given(DECIMALS, st.integers(0, 20), st.integers(0, 40))
def test_days_take_exactly_the_whole_numbers_within_the_bounds(value: Decimal, low: int, high: int) -> None:
    decl = Declaration("window", "days", Decimal(low), Decimal(high))
    fits = value == value.to_integral_value() and low <= value <= high
    try:
        taken = checked_value(decl, value, {}, 10)
    except ParameterProblem:
        assert not fits
    else:
        assert fits and taken == int(value) and isinstance(taken, int)


@given(DECIMALS)
def test_a_rate_lies_between_zero_and_one(value: Decimal) -> None:
    try:
        checked_value(Declaration("share", "rate"), value, {}, 10)
    except ParameterProblem as problem:
        assert not 0 <= value <= 1 and problem.code == "parameter_range"
    else:
        assert 0 <= value <= 1
