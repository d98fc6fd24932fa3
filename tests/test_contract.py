"""The service's published contract, read by tools nobody here wrote: openapi-spec-validator and Schemathesis.

The OpenAPI document a running ``ruleengine serve`` hands out must be accepted
as it is (no patching), every ``$ref`` resolving from its root; the schemas it
publishes must accept and refuse exactly what the engine does; and a bounded
Schemathesis run — every check, the operations' request and response schemas
resolved — must find nothing. That run takes about a minute: it is marked
``slow`` (``pytest -m "not slow"`` skips it locally; CI runs everything).
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import referencing
import referencing.jsonschema
from conftest import EXAMPLES
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from server_support import Server, running_server

import ruleengine
from ruleengine.runtime.decision import dumps
from ruleengine.schemas import format_checker, policy_schema

CONTRACT = Path(__file__).parent / "contract"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("contract"), "--no-watch") as running:
        yield running


@pytest.fixture(scope="module")
def spec(server: Server) -> dict[str, Any]:
    with server.client() as client:
        document: dict[str, Any] = client.get("/openapi.json").json()
    return document


def test_openapi_spec_validator_accepts_the_served_document_as_it_is(spec: dict[str, Any]) -> None:
    validate(spec)  # raises on any error: an unresolvable $ref, a missing operationId target, a bad schema


def test_every_operation_has_an_id_and_every_response_declares_the_request_id(spec: dict[str, Any]) -> None:
    ids = [op["operationId"] for methods in spec["paths"].values() for op in methods.values()]
    assert len(ids) == len(set(ids)) == sum(len(methods) for methods in spec["paths"].values())
    assert spec["servers"] == [{"url": "/", "description": spec["servers"][0]["description"]}]
    assert spec["security"] == [] and spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            assert operation.get("security", spec["security"]) == [], (method, path)  # no token needed without --auth-token-file
            for status, response in operation["responses"].items():
                assert "X-Request-ID" in response["headers"], (method, path, status)


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_every_reference_resolves_from_the_document_root(spec: dict[str, Any]) -> None:
    refs = set(_refs(spec))
    assert refs and all(ref.startswith("#/components/") for ref in refs)
    for ref in refs:
        node: Any = spec
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
    assert not any("$id" in schema or "$defs" in schema for schema in spec["components"]["schemas"].values())


def _validator(spec: dict[str, Any], name: str) -> Draft202012Validator:
    """A validator for one published component, resolving its references inside the document."""
    registry: referencing.Registry[Any] = referencing.Registry().with_resource(
        "urn:openapi", referencing.Resource.from_contents(spec, default_specification=referencing.jsonschema.DRAFT202012)
    )
    return Draft202012Validator({"$ref": f"urn:openapi#/components/schemas/{name}"}, registry=registry, format_checker=format_checker())


def _mutations(order: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for path, value in [
        (("items", 0, "quantity"), 0),
        (("claim", "type"), "no_reason_retrun"),
        (("payment", "amount"), "1.005"),
        (("payment", "amount"), Decimal("387.00")),  # a JSON number where money belongs
        (("shipping", "fee"), "-1.00"),
        (("items", 0, "paid_amount"), "1000000000.01"),
        (("order_id",), "A\u202eB"),
        (("unknown_key",), 1),
    ]:
        changed = copy.deepcopy(order)
        node = changed
        for key in path[:-1]:
            node = node[key] if isinstance(node, list) or key in node else None
            if node is None:
                break
        else:
            node[path[-1]] = value
            yield changed


def test_the_published_order_and_decision_schemas_judge_as_the_engine_does(server: Server) -> None:
    with server.client() as client:
        spec = json.loads(client.get("/openapi.json").text, parse_float=Decimal)  # money's multipleOf read exactly
    policy = ruleengine.load_policy()
    # the published file with the served policy's codes filled in, as the engine reads it when the policy loads
    order_file = Draft202012Validator(policy_schema("order.schema.json", policy.enums), format_checker=format_checker())
    order_served = _validator(spec, "Order")
    decision_served = _validator(spec, "Decision")
    for path in sorted(EXAMPLES.glob("*.json")):
        order = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)  # as it is on the wire: amounts are text
        assert order_served.is_valid(order) and order_file.is_valid(order), path.name
        decision_served.validate(json.loads(policy.evaluate(order, explain=True).to_json(), parse_float=Decimal))
        for changed in _mutations(order):
            assert order_served.is_valid(changed) is order_file.is_valid(changed) is False, (path.name, changed)
            with pytest.raises(ruleengine.FactsError):  # and the engine, reading the same JSON, refuses it too
                policy.evaluate(dumps(changed, decimal_numbers=True))


def test_the_examples_the_document_offers_are_decided(spec: dict[str, Any], server: Server) -> None:
    examples = spec["components"]["examples"]
    assert set(examples) == {path.stem for path in EXAMPLES.glob("*.json")}
    with server.client() as client:
        for name in sorted(examples)[:5]:
            response = client.post("/v1/decisions", content=json.dumps(examples[name]["value"]).encode())
            assert response.status_code == 200, (name, response.text)


def test_the_parameters_a_what_if_may_change_are_the_policys(spec: dict[str, Any]) -> None:
    values = spec["components"]["schemas"]["ParameterValues"]
    policy = ruleengine.load_policy()
    assert set(values["properties"]) == set(policy.parameters) and values["additionalProperties"] is False
    assert values["properties"]["seven_day_window_days"]["type"] == "integer"
    assert values["properties"]["seven_day_return_conditions"]["type"] == "array"
    money = [name for name, parameter in policy.parameters.items() if parameter.declaration.kind == "money"]
    assert money and all(values["properties"][name]["$ref"] == "#/components/schemas/OrderMoney" for name in money)


def test_with_tokens_the_document_declares_each_operations_scope(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text("tokens:\n  - {name: ci, sha256: " + "ab" * 32 + ", scopes: [decide]}\n", encoding="utf-8")
    with running_server(tmp_path, "--no-watch", "--auth-token-file", str(tokens)) as server, server.client() as client:
        spec = client.get("/openapi.json").json()
    validate(spec)
    assert spec["paths"]["/v1/decisions"]["post"]["security"] == [{"bearerAuth": ["decide"]}]
    assert spec["paths"]["/v1/policy"]["get"]["security"] == [{"bearerAuth": ["read"]}]
    assert spec["paths"]["/v1/policy/reload"]["post"]["security"] == [{"bearerAuth": ["admin"]}]
    assert spec["paths"]["/healthz"]["get"]["security"] == []
    assert {"401", "403"} <= set(spec["paths"]["/v1/decisions"]["post"]["responses"])


@pytest.mark.slow
def test_schemathesis_finds_no_failure(server: Server, tmp_path: Path) -> None:
    """All checks, all operations, with the request and response schemas resolved (tests/contract/schemathesis.toml)."""
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(CONTRACT / "schemathesis.toml"),
        "run",
        server.url + "/openapi.json",
        "--checks",
        "all",
        "--phases",
        "examples,fuzzing,stateful",
        "--no-color",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
    ]
    env = {**os.environ, "PYTHONPATH": str(CONTRACT)}
    run = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-6000:]
    assert "No issues found" in output
    assert "Unresolvable references" not in output and "skipped parts of the schema" not in output
    generated = re.search(r"(\d+) generated, (\d+) passed", output)
    assert generated is not None and int(generated.group(1)) == int(generated.group(2)) > 300, output[-2000:]
    with httpx.Client(base_url=server.url) as client:  # and it is still serving
        assert client.get("/healthz").status_code == 200
