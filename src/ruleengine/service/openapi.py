"""The service's OpenAPI 3.1 description, built from the same JSON Schemas the engine validates with.

The order, decision and case-file schemas are published as components: each
schema's ``$defs`` become components of their own (``#/$defs/money`` →
``#/components/schemas/OrderMoney``) and ``$id``/``$schema`` are dropped, so
every ``$ref`` resolves from the document's root — which is how
openapi-spec-validator, Redocly, openapi-typescript and Schemathesis read
them. A client generated from ``/openapi.json`` cannot drift from what the
engine accepts and returns. Every error kind has its own ``error`` value, so
no response matches two branches of a ``oneOf``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ..compile.parameters import NUMERIC, WHOLE
from ..runtime.decision import dumps
from ..runtime.policy import Policy
from ..schemas import load_schema, policy_schema
from ..text import shorten
from .openapiediting import EDITING_ERROR, PROPOSAL, editing_paths
from .openapischemas import (
    BATCH_ITEM,
    CASE_REQUEST,
    CATALOGUE,
    ERROR_KINDS,
    ERROR_SCHEMAS,
    EXPLAIN,
    EXPLANATION,
    IMPACT_REQUEST,
    IMPACT_RESPONSE,
    POLICY_STATUS,
    RELOAD,
    REQUEST_ID_HEADER,
    VOCABULARY,
    WHAT_IF_REQUEST,
    WHAT_IF_RESPONSE,
    body,
    document_schemas,
    errors,
    example_orders,
    example_values,
    hoisted,
    order_examples,
    plain,
    ref,
    response,
)
from .security import SCOPES

__all__ = ["ERROR_KINDS", "example_orders", "openapi_bytes", "openapi_document"]


def _operation(operation_id: str, summary: str, responses: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"operationId": operation_id, "summary": summary, **more, "responses": responses}


def _paths(example_names: list[str]) -> dict[str, Any]:
    decide_errors = (400, 408, 413, 415, 422, 503)
    ok = response
    return {
        "/v1/decisions": {
            "post": _operation(
                "decide",
                "Decide one order",
                {"200": ok("The decision.", ref("Decision")), **errors(*decide_errors)},
                parameters=[EXPLAIN],
                requestBody=body(ref("Order"), order_examples()),
            )
        },
        "/v1/decisions/batch": {
            "post": _operation(
                "decideBatch",
                "Decide a list of orders; each item is a decision or its own error",
                {
                    "200": ok("One item per order, in order.", {"type": "array", "items": ref("BatchItem")}),
                    **errors(400, 408, 413, 415, 503),
                },
                parameters=[EXPLAIN],
                requestBody=body(
                    {
                        "type": "array",
                        "items": {
                            "$ref": "#/components/schemas/DocumentValue",
                            "description": "An order (see Order); an item that is not a valid order gets its own error in the answer.",
                        },
                    },
                    order_examples(lambda order: [order]),
                ),
            )
        },
        "/v1/decisions/what-if": {
            "post": _operation(
                "whatIf",
                "Decide an order with the running policy and with some parameters changed (no file is touched)",
                {"200": ok("Both decisions and what changed.", ref("WhatIfResponse")), **errors(*decide_errors)},
                parameters=[EXPLAIN],
                requestBody=body(
                    ref("WhatIfRequest"), order_examples(lambda order: {"order": order, "parameters": {"seven_day_window_days": 15}})
                ),
            )
        },
        "/v1/impact": {
            "post": _operation(
                "impact",
                "A what-if over many orders: every order decided with the running policy and with the parameters changed",
                {
                    "200": ok("The impact: counts and money by guarantee and field, the changed orders.", ref("ImpactResponse")),
                    **errors(400, 408, 413, 415, 503),
                },
                requestBody=body(ref("ImpactRequest"), {"window": {"value": {"parameters": {"seven_day_window_days": 15}}}}),
            )
        },
        "/v1/explanations": {
            "post": _operation(
                "explain",
                "Decide one order and explain it by guarantee: which condition decided, with its values and parameters",
                {"200": ok("The decision (with its trace) and the explanation.", ref("ExplanationResponse")), **errors(*decide_errors)},
                requestBody=body(ref("Order"), order_examples()),
            )
        },
        "/v1/orders/read": {
            "post": _operation(
                "readOrder",
                "Read an order document (JSON or YAML text) and return it as JSON, not yet checked against the schema",
                {"200": ok("The document as JSON.", {"type": "object"}), **errors(400, 408, 413, 415)},
                requestBody=body(ref("Document")),
            )
        },
        "/v1/cases": {
            "post": _operation(
                "caseFile",
                "A regression case file (YAML) pinning what the running policy decides for an order",
                {"200": ok("The case file, ready for rules/cases/.", ref("CaseFile"), "application/yaml"), **errors(*decide_errors)},
                requestBody=body(ref("CaseRequest"), order_examples(lambda order: {"order": order, "name": "an example"})),
            )
        },
        "/v1/policy": {
            "get": _operation(
                "policyStatus",
                "The running policy: name, version, digest, loaded_at, rules, the last reload and its error",
                {"200": ok("The policy being served.", ref("PolicyStatus")), **errors(400)},
            )
        },
        "/v1/policy/reload": {
            "post": _operation(
                "reloadPolicy",
                "Load the policy folder again now (as SIGHUP does); only a policy that loads completely replaces the served one",
                {
                    "200": ok("The reload worked; `changed` says whether a new policy is served.", ref("ReloadResult")),
                    "202": ok("With several workers: they are being replaced one by one.", {"type": "object", "required": ["status"]}),
                    **errors(400),
                    "422": ok("The folder does not load: the served policy is unchanged; the diagnostics say why.", ref("ReloadError")),
                },
            )
        },
        "/v1/policy/catalogue": {
            "get": _operation(
                "policyCatalogue",
                "Every guarantee, its rules in words, its parameters and sources; `vocabulary`: the names of every code",
                {"200": ok("The catalogue.", ref("Catalogue")), **errors(400)},
            )
        },
        "/v1/vocabulary": {
            "get": _operation(
                "policyVocabulary",
                "The live policy's vocabulary: every value set with its codes and their Chinese and English names",
                {"200": ok("The vocabulary, by set.", ref("Vocabulary")), **errors(400)},
            )
        },
        "/v1/examples": {
            "get": _operation(
                "listExamples",
                "The bundled example orders",
                {
                    "200": {
                        **ok(
                            "Name and file of each example, its Chinese title and the guarantee it is about (the playground's picker).",
                            {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["name", "file"],
                                    "additionalProperties": False,
                                    "properties": {
                                        "name": {"type": "string"},
                                        "file": {"type": "string"},
                                        "title_zh": {"type": "string"},
                                        "guarantee": {"type": "string"},
                                    },
                                },
                            },
                        ),
                        "links": {"example": {"operationId": "getExample", "parameters": {"name": "$response.body#/0/name"}}},
                    },
                    **errors(400),
                },
            )
        },
        "/v1/examples/{name}": {
            "get": _operation(
                "getExample",
                "One bundled example order",
                {"200": ok("The order.", ref("Order")), **errors(400, 404)},
                parameters=[{"name": "name", "in": "path", "required": True, "schema": {"type": "string", "enum": example_names}}],
            )
        },
        "/healthz": {"get": _operation("health", "The process is up", {"200": ok("Up.", _STATUS_OK)})},
        "/readyz": {
            "get": _operation(
                "ready",
                "A policy is loaded and the service is not shutting down",
                {"200": ok("Ready.", _READY), **errors(503)},
            )
        },
        "/metrics": {
            "get": _operation(
                "metrics",
                "Prometheus metrics (text exposition format)",
                {"200": plain("Requests, latency, decisions, errors, reloads, the policy served.", "text/plain"), **errors(400)},
            )
        },
        "/openapi.json": {"get": _operation("openapi", "This document", {"200": ok("OpenAPI 3.1.", {"type": "object"})})},
        "/": {
            "get": _operation(
                "playground",
                "The playground page",
                {"200": plain("The page (HTML); its scripts and styles are under /static/.", "text/html")},
            )
        },
    }


_STATUS_OK = {"type": "object", "required": ["status"], "properties": {"status": {"const": "ok"}}}
_READY = {
    "type": "object",
    "required": ["status", "policy"],
    "properties": {
        "status": {"const": "ready"},
        "policy": {"type": "string"},
        "decision_log": {"const": "failing", "description": "With --log-fail-open: decisions are answered but not recorded."},
        "message": {"type": "string"},
    },
}


def _secured(paths: dict[str, Any], scopes: Mapping[tuple[str, str], str | None]) -> dict[str, Any]:
    """Each operation's security: its scope, or none for the public routes; 401 and 403 where a token is needed."""
    for path, methods in paths.items():
        for method, operation in methods.items():
            scope = scopes[(method.upper(), path)]
            if scope is None:
                operation["security"] = []
                continue
            operation["security"] = [{"bearerAuth": [scope]}]
            operation["responses"].update(errors(401))
            operation["responses"]["403"] = response(
                f"`insufficient_scope`: the token lacks the scope `{scope}`; `cross_site`: {ERROR_KINDS['cross_site'][1]}",
                ref("RequestError"),
            )
    return paths


def _cross_site(paths: dict[str, Any], scopes: Mapping[tuple[str, str], str | None]) -> dict[str, Any]:
    for path, methods in paths.items():
        for method, operation in methods.items():
            if scopes[(method.upper(), path)] is not None:
                operation["responses"]["403"] = response(f"`cross_site`: {ERROR_KINDS['cross_site'][1]}", ref("RequestError"))
    return paths


@functools.cache
def _document(scopes: tuple[tuple[tuple[str, str], str | None], ...], auth: bool) -> dict[str, Any]:
    from .. import __version__

    table = dict(scopes)
    names = [path.stem for path in example_orders()]
    paths = _paths(names)
    if any(path.startswith("/v1/editing/") for _, path in table):  # offered only with --editing
        paths.update(editing_paths())
    missing = {(m.upper(), p) for p, methods in paths.items() for m in methods} ^ set(table)
    if missing:  # pragma: no cover - a route added on one side only
        raise AssertionError(f"routes and OpenAPI operations differ: {sorted(missing)}")
    paths = _secured(paths, table) if auth else _cross_site(paths, table)
    scheme = {
        "type": "http",
        "scheme": "bearer",
        "description": (
            "A token from the service's --auth-token-file (stored there as its SHA-256). Scopes: "
            + "; ".join(f"`{name}`: {what}" for name, what in SCOPES.items())
            + ("." if auth else ". This service was started without --auth-token-file: no route needs a token.")
        ),
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ruleengine decision service",
            "version": __version__,
            "description": (
                "Consumer-guarantee decisions over order facts. Bodies are the engine's own JSON Schemas. Request bodies are "
                "application/json or application/yaml (UTF-8, no Content-Encoding). Every response carries X-Request-ID (the "
                "client's, or a new one); every error is JSON with `error`, `message` and `request_id`. Amounts of money are "
                'decimal strings ("199.00"), never JSON numbers: a binary float cannot hold 0.07 or 33.33.'
            ),
        },
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "servers": [{"url": "/", "description": "This service (the document's own origin)."}],
        "security": [{"bearerAuth": []}] if auth else [],
        "paths": paths,
        "components": {
            "schemas": {
                **hoisted(load_schema("order.schema.json"), "Order"),
                **hoisted(load_schema("decision.schema.json"), "Decision"),
                **hoisted(load_schema("cases.schema.json"), "CaseFile"),
                **ERROR_SCHEMAS,
                "BatchItem": BATCH_ITEM,
                "WhatIfRequest": WHAT_IF_REQUEST,
                "WhatIfResponse": WHAT_IF_RESPONSE,
                "CaseRequest": CASE_REQUEST,
                "ImpactRequest": IMPACT_REQUEST,
                "ImpactResponse": IMPACT_RESPONSE,
                "EditingProposal": PROPOSAL,
                "EditingError": EDITING_ERROR,
                "Explanation": EXPLANATION,
                "ExplanationResponse": {
                    "type": "object",
                    "required": ["decision", "explanation"],
                    "properties": {"decision": ref("Decision"), "explanation": ref("Explanation")},
                },
                **document_schemas(),
                "PolicyStatus": POLICY_STATUS,
                "ReloadResult": RELOAD,
                "Catalogue": CATALOGUE,
                "Vocabulary": VOCABULARY,
            },
            "examples": {name: {"summary": f"examples/orders/{name}.json", "value": order} for name, order in example_values().items()},
            "headers": {"RequestId": REQUEST_ID_HEADER},
            "securitySchemes": {"bearerAuth": scheme},
        },
    }


def _parameter_values(policy: Policy) -> dict[str, Any]:
    """The running policy's parameters as a schema: what a what-if (or a case file) may override, and with what.

    From each parameter's declaration (type, bounds, value set), so an override the policy would refuse is
    one the schema refuses too.
    """
    text = {"type": "string", "pattern": load_schema("order.schema.json")["$defs"]["text"]["pattern"]}
    limit = Decimal(policy.limits.max_integer)
    properties = {}
    for name, parameter in policy.parameters.items():
        declared = parameter.declaration
        low, high = declared.bounds
        schema: dict[str, Any]
        extra = ""
        if declared.kind in WHOLE:
            schema = {"type": "integer", "minimum": low if low is not None else -limit, "maximum": high if high is not None else limit}
        elif declared.kind == "money":
            # Money on the wire is a decimal string, as in an order; the declaration's own bounds (beyond the
            # order schema's 0 to 10^9) are in the description: a pattern cannot state them.
            schema = ref("OrderMoney")
            bounds = [f"{word} {bound}" for word, bound in (("at least", low), ("at most", high)) if bound not in (None, 0)]
            extra = f'; a decimal string such as "{parameter.value:.2f}"' + (f", {' and '.join(bounds)}" if bounds else "")
        elif declared.kind in NUMERIC:
            schema = dict(document_schemas()["DocumentValue"]["anyOf"][2])
            schema.update((key, bound) for key, bound in (("minimum", low), ("maximum", high)) if bound is not None)
        elif declared.kind == "timestamp":
            schema = {"type": "string", "format": "date-time"}
        elif declared.kind == "boolean":
            schema = {"type": "boolean"}
        elif declared.kind == "list":
            element = parameter.type.elem
            items = {"enum": list(element.enum)} if element is not None and element.enum else text
            schema = {"type": "array", "uniqueItems": True, "maxItems": policy.limits.max_collection_items, "items": items}
        else:
            schema = text
        unit = f" ({parameter.unit})" if parameter.unit else ""
        value = shorten(str(parameter.value), 80)
        properties[name] = {**schema, "description": f"{declared.kind}{unit}: {parameter.description}; the policy's value: {value}{extra}"}
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
        "description": f"Overrides of the parameters of the policy {policy.name} {policy.version}, by name (nothing on disk changes).",
    }


_SERVED: dict[tuple[Any, ...], bytes] = {}


def openapi_document(scopes: Mapping[tuple[str, str], str | None], auth: bool, policy: Policy) -> dict[str, Any]:
    """The document of a service whose routes need ``scopes`` (method, path → scope or None), with or without tokens,
    serving ``policy`` (whose parameters a what-if may change)."""
    base = _document(tuple(sorted(scopes.items(), key=lambda item: item[0])), auth)
    schemas = {
        **base["components"]["schemas"],
        # The order and decision as this policy takes them: its vocabulary's codes in every value set.
        **hoisted(policy_schema("order.schema.json", policy.enums), "Order"),
        **hoisted(policy_schema("decision.schema.json", policy.enums), "Decision"),
        "ParameterValues": _parameter_values(policy),
    }
    return {**base, "components": {**base["components"], "schemas": schemas}}


def openapi_bytes(scopes: Mapping[tuple[str, str], str | None], auth: bool, policy: Policy) -> bytes:
    """The document as served, rendered once per policy (the playground asks for it on every page load)."""
    key = (tuple(sorted(scopes.items(), key=lambda item: item[0])), auth, policy.digest)
    text = _SERVED.get(key)
    if text is None:
        text = dumps(openapi_document(scopes, auth, policy), decimal_numbers=True).encode("utf-8")
        if len(_SERVED) > 8:
            _SERVED.clear()
        _SERVED[key] = text
    return text
