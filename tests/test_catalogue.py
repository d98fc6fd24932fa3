"""docs/policy.md is generated from the rules and must not go stale."""

from __future__ import annotations

from pathlib import Path

import pytest

import ruleengine
from ruleengine.authoring.catalogue import markdown
from ruleengine.compile.policyfolder import ENVIRONMENT_VARIABLE, WORKING_FOLDER, choose

ROOT = Path(__file__).resolve().parent.parent


def test_the_committed_catalogue_is_up_to_date(policy: ruleengine.Policy) -> None:
    committed = (ROOT / "docs" / "policy.md").read_text(encoding="utf-8")
    assert committed == markdown(policy), "docs/policy.md is stale: run `ruleengine catalogue -o docs/policy.md` in the project folder"


def test_the_command_the_stale_message_names_writes_the_catalogue_of_rules(
    policy: ruleengine.Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`ruleengine catalogue -o docs/policy.md` in the project folder (no --rules, no RULEENGINE_RULES) reads ./rules."""
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv(ENVIRONMENT_VARIABLE, raising=False)
    chosen = choose()
    assert (chosen.path.resolve(), chosen.chosen_by) == (policy.root.resolve(), WORKING_FOLDER)


def test_the_catalogue_lists_every_guarantee_rule_and_parameter(policy: ruleengine.Policy) -> None:
    text = markdown(policy)
    for rule_id in policy.rule_ids():
        assert f"`{rule_id}`" in text
    for name, parameter in policy.parameters.items():
        assert f"`{name}`" in text
        assert " ".join(parameter.description.split()) in text
    for guarantee in ("seven_day_return", "authenticity", "on_time_shipment", "trade_in", "livestream_parity"):
        assert "## " in text and f"`{guarantee}`" in text
    assert "7天无理由退换货" in text and "不符包赔" in text


def test_a_changed_parameter_shows_in_the_catalogue(policy_copy) -> None:  # type: ignore[no-untyped-def]
    root = policy_copy()
    changed = ruleengine.load_policy(root, parameters={"seven_day_window_days": 15})
    line = next(x for x in markdown(changed).splitlines() if "`seven_day_window_days`" in x and x.startswith("|"))
    assert "| 15 days |" in line
