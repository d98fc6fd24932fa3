"""Whatever a client sends, the service answers with a decision or a structured 4xx — never a 500.

In-process (Starlette's test client over the same ASGI app the server runs),
so hypothesis can try hundreds of bodies in seconds; the real-process tests
are in test_server.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_properties import mutated_orders

pytest.importorskip("starlette", reason="the service needs the [server] extra")
from server_support import default_policy_without_cases
from starlette.testclient import TestClient

from ruleengine.runtime.decision import dumps
from ruleengine.service import ServerConfig, create_app

ANSWERS = {200, 400, 413, 422}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    rules = default_policy_without_cases(tmp_path_factory.mktemp("policy"))  # the default policy, whatever its cases say
    config = ServerConfig(rules=rules, watch=False, max_body_bytes=64 * 1024)
    with TestClient(create_app(config), headers={"content-type": "application/json"}) as c:
        yield c


def _check(response: Any) -> None:
    assert response.status_code in ANSWERS, response.text
    body = response.json()
    if response.status_code != 200:
        assert isinstance(body["error"], str) and body["error"] != "internal"
        assert body["request_id"] == response.headers["x-request-id"]
        assert "Traceback" not in response.text


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_arbitrary_bytes_get_a_structured_answer(client: TestClient, body: bytes) -> None:
    _check(client.post("/v1/decisions", content=body))
    _check(client.post("/v1/decisions/batch", content=body))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=json_values)
def test_arbitrary_json_gets_a_structured_answer(client: TestClient, value: Any) -> None:
    import json

    body = json.dumps(value).encode()
    _check(client.post("/v1/decisions", content=body))
    _check(client.post("/v1/decisions/batch", content=body))
    _check(client.post("/v1/decisions/what-if", content=body))
    _check(client.post("/v1/cases", content=body))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=mutated_orders())
def test_mutated_orders_get_a_decision_or_a_structured_error(client: TestClient, case: tuple[str, dict[str, Any]]) -> None:
    _, order = case
    body = dumps(order).encode()
    _check(client.post("/v1/decisions?explain=true", content=body))
    _check(client.post("/v1/decisions/batch", content=b"[" + body + b"]"))
    _check(client.post("/v1/decisions/what-if", content=dumps({"order": order, "parameters": {"refund_due_days": 3}}).encode()))
