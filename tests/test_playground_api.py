"""The routes the playground page needs, over real HTTP: the explanation as data, reading a pasted order, the page itself.

The page shows only what these return (the API is the single source): the
explanation is computed by the same code as ``ruleengine explain``. The service runs the tests' own policy
(tests/policies/returns), so the values asserted here are the tests' own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml
from conftest import EXAMPLES, RETURNS, load_example
from server_support import Server, running_server

import ruleengine
from ruleengine.authoring.explanation import explanation_data, explanation_text
from ruleengine.authoring.impact import compare
from ruleengine.runtime.decision import dumps

LATE = "seven-day-return-late-rejected.json"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    server: Server
    with running_server(tmp_path_factory.mktemp("playground-api"), "--rules", str(RETURNS)) as server, server.client() as c:
        yield c


def _entry(explanation: list[dict[str, Any]], rule: str) -> dict[str, Any]:
    return next(e for g in explanation for e in g["entries"] if e["rule"] == rule)


def test_an_explanation_names_the_deciding_condition_with_its_values_and_parameters(client: httpx.Client) -> None:
    response = client.post("/v1/explanations", content=(EXAMPLES / LATE).read_bytes())
    assert response.status_code == 200
    body = response.json()
    policy = ruleengine.load_policy(RETURNS)
    expected = policy.evaluate((EXAMPLES / LATE).read_bytes(), explain=True).to_json()
    assert response.text.startswith('{"decision":' + expected + ',"explanation":')
    late = _entry(body["explanation"], "seven_day_return.late")
    assert (late["mark"], late["matched"], late["relevant"], late["title_zh"]) == ("✔", True, True, "超过7天无理由期限")
    decided = [c for c in late["conditions"] if c["decided"]]
    window = decided[-1]
    assert window["label"] == "超过签收次日起7天 / after the window" and window["depth"] == 1
    values = {v["name"]: v for v in window["values"]}
    assert values["params.seven_day_window_days"] == {"name": "params.seven_day_window_days", "value": 7, "display": "7", "parameter": True}
    assert values["logistics.signed_at"]["display"] == "2026-11-11 15:20" and not values["logistics.signed_at"]["parameter"]
    approve = _entry(body["explanation"], "seven_day_return.approve_return")
    assert approve["outcome"] == "skipped" or not approve["matched"]
    groups = [g["guarantee"] for g in body["explanation"]]
    assert groups.index("seven_day_return") < groups.index("claims")


def test_the_explanation_data_is_what_the_cli_text_prints() -> None:
    policy = ruleengine.load_policy()
    trace = policy.evaluate((EXAMPLES / LATE).read_bytes(), explain=True).to_dict()["trace"]
    data = explanation_data(trace, policy)
    text = explanation_text(trace, policy)
    for group in data:
        assert f"{group['title']} {group['guarantee']}" in text
        for entry in group["entries"]:
            shown = re.search(rf"^  {entry['mark']} {re.escape(entry['rule'])}( \[|  |$)", text, re.MULTILINE)
            assert (shown is not None) is entry["relevant"], entry["rule"]


def test_a_not_matched_rule_is_decided_by_its_failed_condition(client: httpx.Client) -> None:
    body = client.post("/v1/explanations", content=(EXAMPLES / "seven-day-return-last-minute-approved.json").read_bytes()).json()
    late = _entry(body["explanation"], "seven_day_return.late")
    assert late["matched"] is False and late["failed"]["label"] == "超过签收次日起7天 / after the window"
    assert [c["at"] for c in late["conditions"] if c["decided"]] == ["/rules/1/when/all/1"]


def test_an_unusable_order_is_a_400_with_pointers_not_an_explanation(client: httpx.Client) -> None:
    order = load_example(LATE)
    order["items"][0]["quantity"] = 0
    response = client.post("/v1/explanations", content=dumps(order).encode())
    assert response.status_code == 400
    assert [p["pointer"] for p in response.json()["problems"]] == ["/items/0/quantity"]


def test_a_pasted_yaml_order_is_read_back_as_json(client: httpx.Client) -> None:
    yaml_body = {"content-type": "application/yaml"}
    response = client.post(
        "/v1/orders/read", content=b"order_id: A1\nitems:\n  - {sku: X, unit_price: '12.50', quantity: 0}\n", headers=yaml_body
    )
    assert response.status_code == 200
    assert response.text == '{"order_id":"A1","items":[{"sku":"X","unit_price":"12.50","quantity":0}]}'
    json_text = (EXAMPLES / LATE).read_bytes()
    assert client.post("/v1/orders/read", content=json_text).json() == json.loads(json_text)
    number = client.post("/v1/orders/read", content=b"items:\n  - {unit_price: 12.50}\n", headers=yaml_body)
    assert number.status_code == 400
    assert [(p["pointer"], p["code"]) for p in number.json()["problems"]] == [("/items/0/unit_price", "money_number")]
    assert '"12.50"' in number.json()["problems"][0]["message"]
    bad = client.post("/v1/orders/read", content=b"order_id: [A1\n", headers=yaml_body)
    assert bad.status_code == 400
    problem = bad.json()["problems"][0]
    assert (problem["code"], problem["line"]) == ("yaml_syntax", 2)
    assert client.post("/v1/orders/read", content=b"").status_code == 400
    not_an_object = client.post("/v1/orders/read", content=b"[null, null]")
    assert not_an_object.status_code == 400 and not_an_object.json()["problems"][0]["code"] == "type"


def test_a_what_if_with_explain_explains_both_decisions(client: httpx.Client) -> None:
    request = {"order": load_example(LATE), "parameters": {"seven_day_window_days": 15}}
    body = client.post("/v1/decisions/what-if?explain=true", content=dumps(request).encode()).json()
    assert (body["current"]["claim"]["outcome"], body["changed"]["claim"]["outcome"]) == ("rejected", "approved")
    current = _entry(body["explanation"]["current"], "seven_day_return.late")
    changed = _entry(body["explanation"]["changed"], "seven_day_return.late")
    assert (current["matched"], changed["matched"]) == (True, False)
    shown = {v["name"]: v["display"] for v in changed["failed"]["values"]}
    assert shown["params.seven_day_window_days"] == "15"
    plain = client.post("/v1/decisions/what-if", content=dumps(request).encode()).json()
    assert "explanation" not in plain


def test_the_page_its_files_and_the_new_routes_are_served_and_described(client: httpx.Client) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    # Only its own files, no inline script or style (the browser tests fail on any violation it logs)
    assert page.headers["content-security-policy"].startswith("default-src 'self';")
    for asset in ("/static/playground.js", "/static/playground.css"):
        assert client.get(asset).status_code == 200, asset
        assert f'"{asset}"' in page.text
    # the rule editor's bundle is one of its own files; its style sheet gets this answer's nonce, a new one each time
    assert client.get("/static/vendor/codemirror.js").headers["content-type"].startswith(("text/javascript", "application/javascript"))
    nonce = re.search(r"'nonce-([^']+)'", page.headers["content-security-policy"])
    assert nonce and f'<meta name="style-nonce" content="{nonce.group(1)}">' in page.text
    assert nonce.group(1) not in client.get("/").headers["content-security-policy"]
    spec = client.get("/openapi.json").json()
    assert {"/v1/explanations", "/v1/orders/read"} <= set(spec["paths"])
    assert {"Explanation", "ExplanationResponse"} <= set(spec["components"]["schemas"])


def test_the_catalogue_and_the_vocabulary_route_carry_the_policys_names(client: httpx.Client) -> None:
    """What the playground shows for a code is the served policy's own name for it, read from the service."""
    policy = ruleengine.load_policy(RETURNS)
    vocabulary = client.get("/v1/vocabulary").json()
    assert client.get("/v1/policy/catalogue").json()["vocabulary"] == vocabulary
    for set_name in ("outcome", "return_shipping_payer", "claim_type", "service", "category"):
        served = {v["code"]: (v["zh"], v["en"]) for v in vocabulary[set_name]["values"]}
        assert served == {t.code: (t.zh, t.en) for t in policy.vocabulary.sets[set_name].terms}, set_name
    shop_services = vocabulary["shop_service"]
    assert shop_services["subset_of"] == "service"
    named = {v["code"]: v["zh"] for v in vocabulary["service"]["values"]}
    assert all(v["zh"] == named[v["code"]] for v in shop_services["values"])


def test_impact_over_the_examples_is_what_ruleengine_diff_finds(client: httpx.Client) -> None:
    response = client.post("/v1/impact", json={"parameters": {"seven_day_window_days": 15}})
    assert response.status_code == 200, response.text
    body = response.json()
    policy = ruleengine.load_policy(RETURNS)
    expected = compare(
        policy,
        policy.with_parameters({"seven_day_window_days": 15}),
        [p.read_bytes() for p in sorted(EXAMPLES.glob("*.json"))],
        "current",
        "what-if",
    )
    assert json.loads(dumps(expected.to_dict())).items() <= body.items()
    assert body["corpus"] == {"kind": "examples", "orders": expected.orders}
    assert body["parameters"] == {"seven_day_window_days": {"current": 7, "changed": 15}}
    assert len(body["changed_orders"]) == expected.changed > 0
    assert all(isinstance(o["order"], dict) and o["changes"] for o in body["changed_orders"])


def test_impact_over_a_generated_corpus_is_the_same_for_the_same_seed(client: httpx.Client) -> None:
    first = client.post("/v1/impact", json={"parameters": {"seven_day_window_days": 3}, "corpus": "generated", "count": 200, "seed": 5})
    again = client.post("/v1/impact", json={"parameters": {"seven_day_window_days": 3}, "corpus": "generated", "count": 200, "seed": 5})
    assert first.status_code == 200 and first.json()["corpus"] == {"kind": "generated", "orders": 200, "seed": 5}
    assert {k: v for k, v in first.json().items() if k != "milliseconds"} == {k: v for k, v in again.json().items() if k != "milliseconds"}


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"parameters": {}, "corpus": "everything"}, "/corpus"),
        ({"parameters": {}, "corpus": "generated", "count": 5001}, "/count"),
        ({"parameters": {}, "corpus": "generated", "seed": -1}, "/seed"),
        ({"parameters": {}, "corpus": "lines"}, "/lines"),
        ({"parameters": {}, "corpus": "lines", "lines": " \n\n"}, "/lines"),
        ({"parameters": {}, "orders": []}, "/orders"),
    ],
)
def test_a_bad_impact_request_is_refused_at_its_field(client: httpx.Client, body: dict[str, Any], pointer: str) -> None:
    response = client.post("/v1/impact", json=body)
    assert response.status_code == 400, response.text
    assert [p["pointer"] for p in response.json()["problems"]] == [pointer]


def test_an_impact_with_a_refused_parameter_value_says_which(client: httpx.Client) -> None:
    response = client.post("/v1/impact", json={"parameters": {"seven_day_window_days": 7.5}})
    assert response.status_code == 400
    assert response.json()["diagnostics"][0]["code"] == "parameter_type"


def test_the_example_list_gives_each_example_its_chinese_title_and_guarantee(client: httpx.Client) -> None:
    listed = {e["name"]: e for e in client.get("/v1/examples").json()}
    assert listed["seven-day-return-late-rejected"]["guarantee"] == "seven_day_return"
    titles = yaml.safe_load((EXAMPLES / "titles.yaml").read_text(encoding="utf-8"))
    assert listed["seven-day-return-late-rejected"]["title_zh"] == titles["seven-day-return-late-rejected"]["zh"]
    assert all(entry["title_zh"] == titles[name]["zh"] for name, entry in listed.items())
    assert client.get("/?example=seven-day-return-late-rejected").status_code == 200
