"""docs/policy.md is generated from the rules and must not go stale."""

from __future__ import annotations

from pathlib import Path

import ruleengine
from ruleengine.catalogue import markdown

ROOT = Path(__file__).resolve().parent.parent


def test_the_committed_catalogue_is_up_to_date(policy: ruleengine.Policy) -> None:
    committed = (ROOT / "docs" / "policy.md").read_text(encoding="utf-8")
    assert committed == markdown(policy), "docs/policy.md is stale: run `ruleengine catalogue -o docs/policy.md`"


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
