"""The decision service over real HTTP: a ``ruleengine serve`` child process on a loopback port.

What a calling service relies on: the decision is the library's, byte for
byte; bad input is a 4xx with the problems (never a 500); the policy is
replaced only by a complete one; the decision log and the metrics say what
happened.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from conftest import DECISION_SCHEMA, EXAMPLES, RETURNS, RULES, load_example, replace_in
from server_support import Server, default_policy_without_cases, running_server

import ruleengine
from ruleengine.runtime.decision import dumps

LAST_MINUTE = "seven-day-return-last-minute-approved.json"
WINDOW = "not within_days_after(logistics.signed_at, params.seven_day_window_days, claim.requested_at)"
WINDOW_DAYS = "seven_day_window_days:\n    type: days\n    value: {}\n"
"""The window's declaration in the tests' own policy (tests/policies/returns), which these tests serve."""
WITHOUT_CASES = shutil.ignore_patterns("cases")
"""Copies the tests edit are served without the policy's cases, which would refuse those edits (tests/test_reload_gate.py tests that)."""
GRACEFUL = (0, -signal.SIGTERM)
"""uvicorn drains, runs the shutdown (the decision log is closed), then re-raises SIGTERM: the conventional exit."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("server"), "--rules", str(RETURNS)) as running:
        yield running


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


def _body(name: str) -> bytes:
    return (EXAMPLES / name).read_bytes()


# -- deciding


def test_a_decision_is_the_librarys_byte_for_byte(client: httpx.Client) -> None:
    response = client.post("/v1/decisions", content=_body(LAST_MINUTE), headers={"content-type": "application/json"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    expected = ruleengine.load_policy(RETURNS).evaluate(_body(LAST_MINUTE)).to_json()
    assert response.text == expected
    DECISION_SCHEMA.validate(json.loads(response.text, parse_float=Decimal))


def test_a_decision_is_a_line_of_evaluate_batch_and_the_json_format_indented(client: httpx.Client, tmp_path: Path) -> None:
    # what the README promises, and nothing more: the CLI's --format json indents the same document
    served = client.post("/v1/decisions", content=_body(LAST_MINUTE)).text
    orders = tmp_path / "orders.jsonl"
    orders.write_text(dumps(load_example(LAST_MINUTE)) + "\n", encoding="utf-8")
    command = [sys.executable, "-m", "ruleengine.cli", "evaluate", "--batch", str(orders), "--rules", str(RETURNS)]
    batch = subprocess.run(command, capture_output=True, text=True)
    assert batch.stdout == served + "\n"
    pretty = subprocess.run(
        [sys.executable, "-m", "ruleengine.cli", "evaluate", str(EXAMPLES / LAST_MINUTE), "--format", "json", "--rules", str(RETURNS)],
        capture_output=True,
        text=True,
    )
    assert pretty.stdout != served and json.loads(pretty.stdout, parse_float=Decimal) == json.loads(served, parse_float=Decimal)


def test_the_readme_tables_name_every_route_and_every_error_kind() -> None:
    from ruleengine.service.app import OPERATIONS
    from ruleengine.service.openapi import ERROR_KINDS

    readme = (RULES.parent / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## The decision service") : readme.index("**Who may call.**")]
    routes = {line.split("|")[1] for line in section.splitlines() if line.startswith("| `")}
    for op in OPERATIONS:
        assert any(f"{op.method} {op.path}" in cell for cell in routes), (op.method, op.path)
    for op in OPERATIONS:
        row = next(line for line in section.splitlines() if line.startswith("| `") and f"{op.method} {op.path}" in line.split("|")[1])
        assert f"| {f'`{op.scope}`' if op.scope else '—'} |" in row, (op.path, row)
    kinds = {line.split("|")[2].strip().strip("`") for line in section.splitlines() if line.startswith("| 4") or line.startswith("| 5")}
    assert kinds == set(ERROR_KINDS) - {"internal"}
    for kind, (status, _) in ERROR_KINDS.items():
        if kind != "internal":
            assert f"| {status} | `{kind}` |" in section, kind
    assert "same bytes as `ruleengine evaluate --format json`" not in readme


def test_every_example_order_is_decided_as_the_library_decides_it(client: httpx.Client) -> None:
    policy = ruleengine.load_policy(RETURNS)
    for path in sorted(EXAMPLES.glob("*.json")):
        response = client.post("/v1/decisions", content=path.read_bytes())
        assert response.status_code == 200, (path.name, response.text)
        assert response.text == policy.evaluate(path.read_bytes()).to_json(), path.name


def test_explain_adds_the_trace(client: httpx.Client) -> None:
    plain = client.post("/v1/decisions", content=_body(LAST_MINUTE)).json()
    explained = client.post("/v1/decisions?explain=true", content=_body(LAST_MINUTE)).json()
    assert "trace" not in plain
    rules = {entry["rule"] for entry in explained["trace"]}
    assert "seven_day_return.approve_return" in rules
    window = next(e for e in explained["trace"] if e["rule"] == "seven_day_return.late")
    assert not window["matched"]
    assert any(c.get("values", {}).get("params.seven_day_window_days") == 7 for c in window["conditions"])
    assert {k: v for k, v in explained.items() if k != "trace"} == plain


def test_a_yaml_order_is_accepted(client: httpx.Client) -> None:
    order = yaml.safe_load(_body(LAST_MINUTE))
    text = yaml.safe_dump(order, allow_unicode=True)
    assert not text.lstrip().startswith("{")
    response = client.post("/v1/decisions", content=text.encode(), headers={"content-type": "application/yaml"})
    assert response.status_code == 200, response.text
    assert response.json()["claim"]["outcome"] == "approved"


def test_the_request_id_is_echoed_or_made(client: httpx.Client) -> None:
    given = client.post("/v1/decisions", content=_body(LAST_MINUTE), headers={"x-request-id": "req-42"})
    assert given.headers["x-request-id"] == "req-42"
    made = client.post("/v1/decisions", content=_body(LAST_MINUTE))
    assert len(made.headers["x-request-id"]) == 32


# -- bad requests: 4xx with the problems, never a 500


def test_invalid_json_is_a_400_with_its_position(client: httpx.Client) -> None:
    response = client.post("/v1/decisions", content=b'{"order_id": "x",\n  "channel": }')
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "facts"
    (problem,) = body["problems"]
    assert (problem["line"], problem["column"]) == (2, 14)


def test_an_order_that_violates_the_schema_is_a_400_with_json_pointers(client: httpx.Client) -> None:
    order = load_example(LAST_MINUTE)
    order["items"][0]["quantity"] = 0
    order["claim"]["type"] = "no_reason_retrun"
    response = client.post("/v1/decisions", content=dumps(order).encode())
    assert response.status_code == 400
    problems = {p["pointer"]: p for p in response.json()["problems"]}
    assert set(problems) == {"/items/0/quantity", "/claim/type"}
    assert problems["/items/0/quantity"]["code"] == "minimum"
    assert "no_reason_return" in problems["/claim/type"]["message"]


@pytest.mark.parametrize(
    ("body", "code"),
    [(b"", "empty"), (b"[1, 2]", "type"), (b"\xff\xfe\x00", None), (b'{"a": NaN}', None), (b"a: [1, *x]", None)],
    ids=["empty", "array", "binary", "nan", "yaml-alias"],
)
def test_unreadable_bodies_are_400s(client: httpx.Client, body: bytes, code: str | None) -> None:
    response = client.post("/v1/decisions", content=body)
    assert response.status_code == 400, response.text
    data = response.json()
    assert data["error"] == "facts" and data["problems"]
    if code is not None:
        assert data["problems"][0]["code"] == code


def test_a_too_large_body_is_a_413(client: httpx.Client) -> None:
    big = b'{"order_id": "' + b"x" * (2 << 20) + b'"}'
    response = client.post("/v1/decisions", content=big)
    assert response.status_code == 413
    body = response.json()
    assert body == {"error": "too_large", "message": body["message"], "limit": 1 << 20, "request_id": response.headers["x-request-id"]}

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while reading
        for _ in range(40):
            yield b" " * 65536

    streamed = client.post("/v1/decisions", content=chunks())
    assert streamed.status_code == 413


def test_a_bad_query_flag_is_a_400(client: httpx.Client) -> None:
    response = client.post("/v1/decisions?explain=maybe", content=_body(LAST_MINUTE))
    assert response.status_code == 400
    assert "explain" in response.json()["message"]


@pytest.mark.parametrize(
    ("method", "path", "status", "error"),
    [
        ("GET", "/v1/nothing", 404, "not_found"),
        ("GET", "/static/nothing.js", 404, "not_found"),
        ("GET", "/v1/decisions", 405, "method_not_allowed"),
        ("DELETE", "/v1/policy", 405, "method_not_allowed"),
        ("GET", "/v1/policy?verbose=1", 400, "query"),
        ("POST", "/v1/decisions?explian=true", 400, "query"),
    ],
)
def test_unknown_routes_methods_and_query_parameters_are_json_errors_counted_in_the_metrics(
    client: httpx.Client, method: str, path: str, status: int, error: str
) -> None:
    route = {"/v1/nothing": "unmatched", "/static/nothing.js": "/static"}.get(path, path.split("?")[0])
    before = _metric(client.get("/metrics").text, "ruleengine_http_requests_total", route=route, method=method, status=str(status))
    response = client.request(method, path, content=_body(LAST_MINUTE) if method == "POST" else None, headers={"x-request-id": "probe-1"})
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert (body["error"], body["request_id"]) == (error, "probe-1") and body["message"]
    assert response.headers["x-request-id"] == "probe-1"
    if status == 405:
        assert response.headers["allow"] in ("POST", "GET, HEAD")
    after = _metric(client.get("/metrics").text, "ruleengine_http_requests_total", route=route, method=method, status=str(status))
    assert after == before + 1


def test_a_request_id_that_is_not_visible_ascii_is_replaced(client: httpx.Client) -> None:
    response = client.get("/healthz", headers={"x-request-id": "x" * 129})
    assert len(response.headers["x-request-id"]) == 32 and response.headers["x-request-id"] != "x" * 129


NEGATIVE_REFUND = """\
rules:
  - id: tests_server.negative_refund
    guarantee: claims
    title: {zh: 负退款, en: A negative refund}
    description: A rule that fails on approved claims, to see how the service reports it.
    stage: finalize
    priority: 50
    scope: claimed_line
    when: decision.claim.outcome == 'approved'
    then:
      - set: {claim.refund_amount: "item.paid_amount - 100000"}
"""


def test_an_evaluation_error_is_a_422_naming_the_rule(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(RETURNS, rules, ignore=WITHOUT_CASES)
    (rules / "tests_server.yaml").write_text(NEGATIVE_REFUND, encoding="utf-8")
    with running_server(tmp_path, "--rules", str(rules)) as server, server.client() as c:
        response = c.post("/v1/decisions", content=_body(LAST_MINUTE))
        batch = c.post("/v1/decisions/batch", content=b"[" + _body(LAST_MINUTE) + b"]")
    assert response.status_code == 422
    body = response.json()
    assert (body["error"], body["rule"]) == ("evaluation", "tests_server.negative_refund")
    assert body["file"] == "tests_server.yaml" and body["line"] == 11  # the set action, relative to the policy folder
    assert "negative" in body["message"] and body["request_id"] == response.headers["x-request-id"]
    assert batch.status_code == 200 and batch.json()[0]["error"] == {k: v for k, v in body.items() if k != "request_id"}


# -- batch


def test_a_batch_answers_every_item_in_order_with_its_own_error(client: httpx.Client) -> None:
    good = load_example(LAST_MINUTE)
    bad = load_example(LAST_MINUTE)
    del bad["buyer"]
    other = load_example("fast-refund-immediate.json")
    response = client.post("/v1/decisions/batch", content=dumps([good, bad, other]).encode())
    assert response.status_code == 200
    first, second, third = response.json()
    assert first["index"] == 0 and first["decision"]["order_id"] == good["order_id"]
    assert second["index"] == 1 and second["error"]["error"] == "facts"
    assert second["error"]["problems"][0]["message"] == "missing required field 'buyer'"
    assert third["decision"]["order_id"] == other["order_id"]


def test_a_batch_must_be_a_list_of_bounded_length(client: httpx.Client) -> None:
    assert client.post("/v1/decisions/batch", content=_body(LAST_MINUTE)).status_code == 400
    too_many = client.post("/v1/decisions/batch", content=b"[" + b",".join([b"{}"] * 1001) + b"]")
    assert too_many.status_code == 413
    assert too_many.json()["limit"] == 1000


# -- what-if and case files (the playground's API)


def test_a_what_if_recomputes_with_the_changed_parameter_only_for_that_request(client: httpx.Client) -> None:
    order = load_example(LAST_MINUTE)
    order["claim"]["requested_at"] = "2026-11-20T10:00:00+08:00"  # 9 days after signing
    order["as_of"] = "2026-11-20T10:30:00+08:00"
    order["claim"]["return_tracking_uploaded_at"] = "2026-11-20T10:12:00+08:00"
    response = client.post(
        "/v1/decisions/what-if?explain=true", content=dumps({"order": order, "parameters": {"seven_day_window_days": 15}}).encode()
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["parameters"] == {"seven_day_window_days": {"current": 7, "changed": 15}}
    assert body["current"]["claim"]["outcome"] == "rejected"
    assert body["changed"]["claim"]["outcome"] == "approved"
    assert {"guarantee": "seven_day_return", "field": "claim.outcome", "change": "rejected → approved"} in body["changes"]
    assert body["current"]["policy"]["digest"] != body["changed"]["policy"]["digest"]
    assert "trace" in body["changed"]
    # The running policy is untouched.
    assert client.post("/v1/decisions", content=dumps(order).encode()).json()["claim"]["outcome"] == "rejected"
    assert client.get("/v1/policy").json()["digest"] == body["current"]["policy"]["digest"]


@pytest.mark.parametrize(
    ("parameters", "message"),
    [({"seven_day_window_dayz": 8}, "did you mean 'seven_day_window_days'"), ({"seven_day_window_days": "15"}, "a whole number")],
)
def test_a_bad_what_if_parameter_is_a_400(client: httpx.Client, parameters: dict[str, Any], message: str) -> None:
    response = client.post("/v1/decisions/what-if", content=dumps({"order": load_example(LAST_MINUTE), "parameters": parameters}).encode())
    assert response.status_code == 400
    assert message in response.json()["message"]


def test_a_money_parameter_is_a_decimal_string_in_a_what_if_as_money_is_in_an_order(client: httpx.Client) -> None:
    order = json.loads(_body("stock-out-min-5-floor.json"))  # the wire form: amounts are strings
    response = client.post("/v1/decisions/what-if", content=dumps({"order": order, "parameters": {"stock_out_min": "7.50"}}).encode())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["parameters"] == {"stock_out_min": {"current": "5.00", "changed": "7.50"}}
    assert [c["amount"] for c in body["current"]["compensations"]] == ["5.00"]
    assert [c["amount"] for c in body["changed"]["compensations"]] == ["7.50"]
    number_order = {**order, "payment": {**order["payment"], "amount": 1}}
    for request in ({"order": order, "parameters": {"stock_out_min": 7.5}}, {"order": number_order}):
        refused = client.post("/v1/decisions/what-if", content=json.dumps(request).encode())
        assert refused.status_code == 400, refused.text
        problems = refused.json().get("diagnostics") or refused.json().get("problems")
        assert [p["code"] for p in problems] == ["money_number"], refused.text


def test_a_batch_item_with_a_number_for_money_gets_its_own_error(client: httpx.Client) -> None:
    good = json.loads(_body(LAST_MINUTE))
    number = json.loads(_body(LAST_MINUTE))
    number["items"][0]["paid_amount"] = 259  # a JSON number where money belongs
    response = client.post("/v1/decisions/batch", content=json.dumps([good, number]).encode())
    assert response.status_code == 200
    first, second = response.json()
    assert first["decision"]["claim"]["refund_amount"] == "259.00"
    assert [(p["pointer"], p["code"]) for p in second["error"]["problems"]] == [("/items/0/paid_amount", "money_number")]


@pytest.mark.parametrize("route", ["/v1/decisions/what-if", "/v1/cases"])
def test_unknown_keys_are_refused_alike_on_every_route(client: httpx.Client, route: str) -> None:
    # "parameter" for "parameters": refused, never silently ignored (a case file would pin the decision without the override)
    request = {"order": load_example(LAST_MINUTE), "parameter": {"seven_day_window_days": 15}}
    response = client.post(route, content=dumps(request).encode())
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "request"
    assert body["problems"] == [
        {"pointer": "/parameter", "code": "additionalProperties", "message": "unknown field 'parameter'; did you mean 'parameters'?"}
    ]
    missing = client.post(route, content=b'{"parameters": {}}').json()
    assert missing["error"] == "request" and missing["problems"][0]["code"] == "required"


def test_a_downloaded_case_file_passes_with_ruleengine_test(client: httpx.Client, tmp_path: Path) -> None:
    order = load_example(LAST_MINUTE)
    response = client.post("/v1/cases", content=dumps({"order": order, "name": "最后一分钟申请 / last-minute request"}).encode())
    assert response.status_code == 200
    assert response.headers["content-disposition"] == f'attachment; filename="{order["order_id"]}.cases.yaml"'
    case = tmp_path / "last-minute.cases.yaml"
    case.write_bytes(response.content)
    run = subprocess.run(
        [sys.executable, "-m", "ruleengine.cli", "test", str(case), "--rules", str(RETURNS)], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed, 0 failed" in run.stdout
    # …and it pins the decision: the same case fails against a policy with a shorter window.
    shorter = tmp_path / "rules"
    shutil.copytree(RETURNS, shorter)
    replace_in(shorter / "parameters.yaml", WINDOW_DAYS.format(7), WINDOW_DAYS.format(6))
    run = subprocess.run(
        [sys.executable, "-m", "ruleengine.cli", "test", str(case), "--rules", str(shorter)], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 1 and "claim.outcome" in run.stdout


def test_a_case_file_for_any_order_id_has_a_file_name_every_client_reads(client: httpx.Client) -> None:
    order = load_example(LAST_MINUTE)
    order["order_id"] = '订单 "7"\t/..'
    response = client.post("/v1/cases", content=dumps({"order": order}).encode())
    assert response.status_code == 200
    assert response.headers["content-disposition"] == (
        "attachment; filename=\"____7___...cases.yaml\"; filename*=UTF-8''%E8%AE%A2%E5%8D%95%20%227%22%09%2F...cases.yaml"
    )


def test_the_catalogue_and_examples_are_served(client: httpx.Client) -> None:
    catalogue = client.get("/v1/policy/catalogue").json()
    guarantees = {g["id"]: g for g in catalogue["guarantees"]}
    assert "seven_day_return" in guarantees and guarantees["seven_day_return"]["title"].startswith("7天无理由退换货")
    window = next(p for p in catalogue["parameters"] if p["name"] == "seven_day_window_days")
    assert window["value"] == 7 and "seven_day_return.approve_return" in window["used_by"]
    names = [e["name"] for e in client.get("/v1/examples").json()]
    assert len(names) == len(list(EXAMPLES.glob("*.json")))
    assert client.get(f"/v1/examples/{Path(LAST_MINUTE).stem}").content == _body(LAST_MINUTE)
    assert client.get("/v1/examples/../../etc/passwd").status_code == 404


# -- describing itself


def test_policy_health_readiness_and_openapi(client: httpx.Client) -> None:
    status = client.get("/v1/policy").json()
    policy = ruleengine.load_policy(RETURNS)
    assert (status["name"], status["version"], status["digest"]) == (policy.name, policy.version, policy.digest)
    assert status["loaded_at"].endswith("Z") and status["last_reload_error"] is None
    assert [r["id"] for r in status["rules"]] == policy.rule_ids()
    assert {"id", "title_zh", "title_en", "guarantee"} <= set(status["rules"][0])
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready", "policy": policy.digest}
    spec = client.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    body = spec["paths"]["/v1/decisions"]["post"]
    assert body["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Order"}
    assert body["responses"]["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Decision"}


def _metric(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            found = dict(part.split("=", 1) for part in line[line.find("{") + 1 : line.find("}")].split(",")) if "{" in line else {}
            if all(found.get(k) == f'"{v}"' for k, v in labels.items()):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_requests_latency_and_decisions(client: httpx.Client) -> None:
    before = client.get("/metrics").text
    client.post("/v1/decisions", content=_body(LAST_MINUTE))
    client.post("/v1/decisions", content=b"{")
    after = client.get("/metrics")
    assert after.headers["content-type"].startswith("text/plain")
    text = after.text

    def grew(name: str, **labels: str) -> float:
        return _metric(text, name, **labels) - _metric(before, name, **labels)

    assert grew("ruleengine_http_requests_total", route="/v1/decisions", status="200") == 1
    assert grew("ruleengine_http_requests_total", route="/v1/decisions", status="400") == 1
    assert grew("ruleengine_http_request_duration_seconds_count", route="/v1/decisions") == 2
    assert grew("ruleengine_decisions_total", guarantee="seven_day_return", outcome="approved") == 1
    assert grew("ruleengine_decision_errors_total", error="facts") == 0  # unreadable JSON never reached a policy
    assert _metric(text, "ruleengine_policy_info", digest=ruleengine.load_policy(RETURNS).digest) == 1


# -- hot reload


def _digest(c: httpx.Client) -> str:
    return str(c.get("/v1/policy").json()["digest"])


def test_a_broken_edit_keeps_the_old_policy_and_a_fixed_one_goes_live(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(RETURNS, rules, ignore=WITHOUT_CASES)
    order = load_example(LAST_MINUTE)
    order["claim"]["requested_at"] = "2026-11-20T10:00:00+08:00"
    order["as_of"] = "2026-11-20T10:30:00+08:00"
    order["claim"]["return_tracking_uploaded_at"] = "2026-11-20T10:12:00+08:00"
    body = dumps(order).encode()
    with running_server(tmp_path, "--rules", str(rules)) as server, server.client() as c:
        first = _digest(c)
        assert c.post("/v1/decisions", content=body).json()["claim"]["outcome"] == "rejected"

        # A typo: the expression names a fact that does not exist.
        replace_in(rules / "guarantees" / "seven_day_return.yaml", WINDOW, WINDOW.replace("requested_at", "requested_att"))
        server.wait_for(lambda: c.get("/v1/policy").json()["last_reload_error"] is not None, what="the failed reload")
        status = c.get("/v1/policy").json()
        assert status["digest"] == first
        error = status["last_reload_error"]["error"]
        assert error["error"] == "policy"
        assert any(d["file"].endswith("seven_day_return.yaml") and "requested_att" in d["message"] for d in error["diagnostics"])
        assert c.post("/v1/decisions", content=body).status_code == 200
        metrics = c.get("/metrics").text
        assert _metric(metrics, "ruleengine_policy_reloads_total", result="failed", trigger="watch") >= 1
        assert _metric(metrics, "ruleengine_policy_last_reload_failed") == 1
        assert "failed; still serving" in server.output()

        # The fix, with a wider window: live in well under the 2 s target on an idle machine (benchmarks/load.py
        # measures that under load); 5 s here, so a busy CI machine does not make the test flaky.
        replace_in(rules / "guarantees" / "seven_day_return.yaml", WINDOW.replace("requested_at", "requested_att"), WINDOW)
        replace_in(rules / "parameters.yaml", WINDOW_DAYS.format(7), WINDOW_DAYS.format(15))
        edited = time.monotonic()
        server.wait_for(lambda: _digest(c) != first, timeout=5.0, what="the fixed policy")
        assert time.monotonic() - edited < 5.0
        assert c.get("/v1/policy").json()["last_reload_error"] is None
        assert c.post("/v1/decisions", content=body).json()["claim"]["outcome"] == "approved"
        assert _metric(c.get("/metrics").text, "ruleengine_policy_last_reload_failed") == 0


def test_sighup_reloads(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(RETURNS, rules, ignore=WITHOUT_CASES)
    with running_server(tmp_path, "--rules", str(rules), "--no-watch") as server, server.client() as c:
        first = _digest(c)
        replace_in(rules / "parameters.yaml", WINDOW_DAYS.format(7), WINDOW_DAYS.format(10))
        time.sleep(0.5)
        assert _digest(c) == first  # not watched
        server.process.send_signal(signal.SIGHUP)
        server.wait_for(lambda: _digest(c) != first, what="the SIGHUP reload")
        assert c.get("/v1/policy").json()["last_reload"]["trigger"] == "SIGHUP"
        assert _metric(c.get("/metrics").text, "ruleengine_policy_reloads_total", result="ok", trigger="SIGHUP") == 1


def test_a_policy_that_is_bad_at_start_stops_the_server_with_its_errors(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(RETURNS, rules, ignore=WITHOUT_CASES)
    replace_in(rules / "guarantees" / "seven_day_return.yaml", WINDOW, WINDOW.replace("requested_at", "requested_att"))
    run = subprocess.run(
        [sys.executable, "-m", "ruleengine.cli", "serve", "--rules", str(rules), "--port", "0"], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 2
    assert "seven_day_return.yaml:" in run.stderr and "requested_att" in run.stderr


# -- decision log


def test_the_decision_log_has_every_accepted_decision_after_sigterm(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "decisions.jsonl"
    orders = [load_example(LAST_MINUTE), load_example("fast-refund-immediate.json")]
    with running_server(tmp_path, "--decision-log", str(log), "--log-facts") as server:
        with server.client() as c:
            ids = []
            for i in range(20):
                response = c.post("/v1/decisions", content=dumps(orders[i % 2]).encode(), headers={"x-request-id": f"r{i}"})
                assert response.status_code == 200
                ids.append(f"r{i}")
            bad = load_example(LAST_MINUTE)
            bad["items"][0]["quantity"] = 0
            assert c.post("/v1/decisions", content=dumps(bad).encode(), headers={"x-request-id": "bad"}).status_code == 400
        assert server.stop() in GRACEFUL
    assert "Application shutdown complete" in server.output()
    records = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert [r["request_id"] for r in records] == [*ids, "bad"]
    policy = ruleengine.load_policy(default_policy_without_cases(tmp_path))  # what the server served
    first = records[0]
    assert first["order_id"] == orders[0]["order_id"] and first["policy"] == policy.digest
    assert first["facts_sha256"].startswith("sha256:") and first["time"].endswith("Z")
    assert first["decision"] == json.loads(policy.evaluate(orders[0]).to_json())
    assert re.fullmatch(r"[0-9]+\.[0-9]{2}", first["decision"]["claim"]["refund_amount"])  # written as the service writes it
    assert first["facts"]["payment"]["amount"] == f"{orders[0]['payment']['amount']:f}"
    assert first["facts"]["buyer"]["id"] == "*************1002"  # masked: buyer_tb_20881002
    assert orders[0]["buyer"]["id"] not in log.read_text(encoding="utf-8")
    assert records[0]["facts_sha256"] == records[2]["facts_sha256"] != records[1]["facts_sha256"]
    assert records[-1]["error"]["error"] == "facts" and "decision" not in records[-1]


def test_without_log_facts_only_the_hash_is_logged_and_the_log_rotates(tmp_path: Path) -> None:
    log = tmp_path / "decisions.jsonl"
    with running_server(tmp_path, "--decision-log", str(log), "--log-max-bytes", "20000", "--log-backups", "3") as server:
        with server.client() as c:
            for _ in range(60):
                assert c.post("/v1/decisions", content=_body(LAST_MINUTE)).status_code == 200
        assert server.stop() in GRACEFUL
    assert "Application shutdown complete" in server.output()
    files = sorted(tmp_path.glob("decisions.jsonl*"))
    assert [f.name for f in files] == ["decisions.jsonl", "decisions.jsonl.1", "decisions.jsonl.2", "decisions.jsonl.3"]
    assert all(f.stat().st_size <= 20000 for f in files)
    record = json.loads(log.read_text(encoding="utf-8").splitlines()[-1])
    assert "facts" not in record and record["facts_sha256"].startswith("sha256:")


def test_sigterm_drains_requests_in_flight(tmp_path: Path) -> None:
    log = tmp_path / "decisions.jsonl"
    orders = [load_example(LAST_MINUTE)] * 1000
    result: dict[str, Any] = {}
    with running_server(tmp_path, "--decision-log", str(log)) as server:

        def send() -> None:
            with server.client(timeout=60) as c:
                result["response"] = c.post("/v1/decisions/batch", content=dumps(orders).encode())

        def deciding() -> bool:  # the batch is being decided: some of its decisions are counted, none answered yet
            with server.client() as c:
                text = c.get("/metrics").text
            return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith("ruleengine_decisions_total")) > 0

        sender = threading.Thread(target=send)
        sender.start()
        server.wait_for(lambda: "response" in result or deciding() or server.process.poll() is not None, what="the batch to start")
        code = server.stop()
        sender.join(60)
    assert code in GRACEFUL
    response = result["response"]
    assert response.status_code == 200
    assert all("decision" in item for item in response.json())
    assert len(log.read_text(encoding="utf-8").splitlines()) == 1000


def test_two_workers_serve_and_sum_their_metrics(tmp_path: Path) -> None:
    with running_server(tmp_path, "--workers", "2", "--rules", str(RETURNS)) as server:
        with server.client(limits=httpx.Limits(max_keepalive_connections=0)) as c:
            for _ in range(20):  # a new connection each time: the kernel spreads them over both workers
                assert c.post("/v1/decisions", content=_body(LAST_MINUTE)).status_code == 200
            text = c.get("/metrics").text
        assert server.stop() in GRACEFUL
    assert _metric(text, "ruleengine_http_requests_total", route="/v1/decisions", status="200") == 20
    assert _metric(text, "ruleengine_decisions_total", guarantee="seven_day_return", outcome="approved") == 20
    assert len({line.split("[")[1].split("]")[0] for line in server.output().splitlines() if "Started server process" in line}) == 2


def test_a_body_that_trickles_in_is_a_408(tmp_path: Path) -> None:
    import socket

    with running_server(tmp_path, "--request-timeout", "0.5") as server:
        host, port = server.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(b"POST /v1/decisions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
            started = time.monotonic()
            answer = ""
            while "}" not in answer.partition("\r\n\r\n")[2]:
                answer += sock.recv(65536).decode()
        assert answer.startswith("HTTP/1.1 408"), answer
        assert '"error":"timeout"' in answer
        assert 0.4 < time.monotonic() - started < 5
        with server.client() as c:  # and the server goes on serving
            assert c.post("/v1/decisions", content=_body(LAST_MINUTE)).status_code == 200


def test_sighup_to_the_parent_of_two_workers_replaces_them_only_with_a_good_policy(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(RETURNS, rules, ignore=WITHOUT_CASES)

    def digests(server: Server) -> set[str]:
        with server.client(limits=httpx.Limits(max_keepalive_connections=0)) as c:
            return {_digest(c) for _ in range(8)}  # new connections: both workers answer

    with running_server(tmp_path, "--rules", str(rules), "--workers", "2", "--no-watch") as server:
        (first,) = digests(server)
        replace_in(rules / "guarantees" / "seven_day_return.yaml", WINDOW, WINDOW.replace("requested_at", "requested_att"))
        server.process.send_signal(signal.SIGHUP)
        refused = "restart incomplete: 0 of 2 workers replaced"
        server.wait_for(lambda: refused in server.output(), timeout=30, what="the refused replacement")
        assert "aborting the restart" in server.output()
        assert "the policy does not load" in server.output() and "requested_att" in server.output()
        assert digests(server) == {first}
        replace_in(rules / "guarantees" / "seven_day_return.yaml", WINDOW.replace("requested_at", "requested_att"), WINDOW)
        replace_in(rules / "parameters.yaml", WINDOW_DAYS.format(7), WINDOW_DAYS.format(15))
        server.process.send_signal(signal.SIGHUP)
        # Sampling answers cannot tell "both replaced" from "8 answers happened to come from the new one":
        # the supervisor says when the restart is complete, and from then on every answer is the new policy's.
        server.wait_for(lambda: "restart complete: all 2 workers replaced" in server.output(), timeout=60, what="both workers replaced")
        (second,) = digests(server)
        assert second != first
