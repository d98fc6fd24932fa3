"""The service's OpenAPI 3.1 description, built from the same JSON Schemas the engine validates with.

The order and decision schemas are embedded unchanged (OpenAPI 3.1 speaks JSON
Schema 2020-12, and each schema's ``$id`` keeps its internal ``$ref``s
resolving), so a client generated from ``/openapi.json`` cannot drift from
what the engine accepts and returns.
"""

from __future__ import annotations

import functools
from typing import Any

from .schemas import load_schema

__all__ = ["openapi_document"]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERRORS = {
    "400": _json(
        {"oneOf": [_ref("FactsError"), _ref("RequestError")]},
        "Unreadable JSON/YAML, or an order that violates the order schema: every problem with its JSON pointer.",
    ),
    "408": _json(_ref("RequestError"), "The request body did not arrive within the request's time limit."),
    "413": _json(_ref("RequestError"), "The request body (or the batch) is larger than the service's limit."),
    "422": _json(_ref("EvaluationError"), "A rule failed while deciding this order: the rule and where its expression is."),
    "503": _json(
        _ref("RequestError"),
        "The decision log cannot be written (error `decision_log`): the decision is not given, since it could not be recorded.",
    ),
}

_EXPLAIN = {
    "name": "explain",
    "in": "query",
    "required": False,
    "schema": {"type": "boolean", "default": False},
    "description": "Add the trace: every rule visited, its conditions with the values and parameters they read.",
}

_ORDER_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": _ref("Order")},
        "application/yaml": {"schema": _ref("Order")},
    },
}

_FACTS_ERROR = {
    "type": "object",
    "required": ["error", "problems"],
    "properties": {
        "error": {"const": "facts"},
        "source": {"type": "string"},
        "problems": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["pointer", "code", "message"],
                "properties": {
                    "pointer": {"type": "string", "description": "JSON pointer into the order ('' is the whole document)."},
                    "code": {"type": "string", "description": "The schema keyword or reader rule that failed."},
                    "message": {"type": "string"},
                    "line": {"type": "integer"},
                    "column": {"type": "integer"},
                },
            },
        },
    },
}

_EVALUATION_ERROR = {
    "type": "object",
    "required": ["error", "rule", "code", "message"],
    "properties": {
        "error": {"const": "evaluation"},
        "rule": {"type": "string", "description": "The id of the rule that failed."},
        "file": {"type": "string"},
        "line": {"type": "integer"},
        "column": {"type": "integer"},
        "code": {"type": "string"},
        "message": {"type": "string"},
    },
}

_REQUEST_ERROR = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {"error": {"type": "string"}, "message": {"type": "string"}, "limit": {"type": "integer"}},
}

_BATCH_ITEM = {
    "type": "object",
    "required": ["index"],
    "properties": {
        "index": {"type": "integer", "description": "Position of the order in the request."},
        "decision": _ref("Decision"),
        "error": {"oneOf": [_ref("FactsError"), _ref("EvaluationError"), _ref("RequestError")]},
    },
    "oneOf": [{"required": ["decision"]}, {"required": ["error"]}],
}

_WHAT_IF_REQUEST = {
    "type": "object",
    "required": ["order"],
    "additionalProperties": False,
    "properties": {
        "order": _ref("Order"),
        "parameters": {"type": "object", "description": 'Parameter values by name, e.g. {"seven_day_window_days": 15}.'},
    },
}

_WHAT_IF_RESPONSE = {
    "type": "object",
    "required": ["parameters", "current", "changed", "changes"],
    "properties": {
        "parameters": {"type": "object", "description": "Each overridden parameter: {current, changed}."},
        "current": _ref("Decision"),
        "changed": _ref("Decision"),
        "explanation": {
            "type": "object",
            "description": "With ?explain=true: the explanation of each decision.",
            "properties": {"current": _ref("Explanation"), "changed": _ref("Explanation")},
        },
        "changes": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"guarantee": {"type": "string"}, "field": {"type": "string"}, "change": {"type": "string"}},
            },
        },
    },
}


_EXPLANATION = {
    "type": "array",
    "description": (
        "By guarantee (what `ruleengine explain` prints, as data): each rule visited with its outcome, whether it is "
        "relevant to this order, its conditions as a tree (`depth`) with `decided` on the ones that decided it, and "
        "each value read with its `display` text (`parameter`: a policy parameter)."
    ),
    "items": {
        "type": "object",
        "required": ["guarantee", "title", "hidden", "entries"],
        "properties": {
            "guarantee": {"type": "string"},
            "title": {"type": "string", "description": "The guarantee's Chinese name."},
            "hidden": {"type": "integer", "description": "Rules that did not apply to this order (not relevant)."},
            "entries": {"type": "array", "items": {"type": "object"}},
        },
    },
}

_EXPLANATION_RESPONSE = {
    "type": "object",
    "required": ["decision", "explanation"],
    "properties": {"decision": _ref("Decision"), "explanation": _ref("Explanation")},
}


def _paths() -> dict[str, Any]:
    plain = {"200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}}
    return {
        "/v1/decisions": {
            "post": {
                "summary": "Decide one order",
                "operationId": "decide",
                "parameters": [_EXPLAIN],
                "requestBody": _ORDER_BODY,
                "responses": {"200": _json(_ref("Decision"), "The decision."), **_ERRORS},
            }
        },
        "/v1/decisions/batch": {
            "post": {
                "summary": "Decide a list of orders; each item is a decision or its own error",
                "operationId": "decideBatch",
                "parameters": [_EXPLAIN],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "array", "items": _ref("Order")}}}},
                "responses": {"200": _json({"type": "array", "items": _ref("BatchItem")}, "One item per order, in order."), **_ERRORS},
            }
        },
        "/v1/decisions/what-if": {
            "post": {
                "summary": "Decide an order with the running policy and with some parameters changed (no file is touched)",
                "operationId": "whatIf",
                "parameters": [_EXPLAIN],
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("WhatIfRequest")}}},
                "responses": {"200": _json(_ref("WhatIfResponse"), "Both decisions and what changed."), **_ERRORS},
            }
        },
        "/v1/explanations": {
            "post": {
                "summary": "Decide one order and explain it by guarantee: which condition decided, with its values and parameters",
                "operationId": "explain",
                "requestBody": _ORDER_BODY,
                "responses": {"200": _json(_ref("ExplanationResponse"), "The decision (with its trace) and the explanation."), **_ERRORS},
            }
        },
        "/v1/orders/read": {
            "post": {
                "summary": "Read an order document (JSON or YAML text) and return it as JSON, not yet checked against the schema",
                "operationId": "readOrder",
                "requestBody": {"required": True, "content": {"application/json": {}, "application/yaml": {}}},
                "responses": {"200": _json({"type": "object"}, "The document as JSON."), **_ERRORS},
            }
        },
        "/v1/policy": {
            "get": {
                "summary": "The running policy: name, version, digest, loaded_at, rules, its cases, the last reload and its error",
                "responses": plain,
            }
        },
        "/v1/policy/catalogue": {
            "get": {
                "summary": "Every guarantee, its rules in words, its parameters and sources; `words`: the Chinese for decision values",
                "responses": plain,
            }
        },
        "/v1/examples": {"get": {"summary": "The bundled example orders", "responses": plain}},
        "/v1/examples/{name}": {
            "get": {
                "summary": "One bundled example order",
                "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": _json(_ref("Order"), "The order."), "404": _json(_ref("RequestError"), "No such example.")},
            }
        },
        "/v1/cases": {
            "post": {
                "summary": "A regression case file (YAML) pinning what the running policy decides for an order",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["order"],
                                "properties": {"order": _ref("Order"), "name": {"type": "string"}, "parameters": {"type": "object"}},
                            }
                        }
                    },
                },
                "responses": {
                    "200": {"description": "The case file.", "content": {"application/yaml": {"schema": {"type": "string"}}}},
                    **_ERRORS,
                },
            }
        },
        "/healthz": {"get": {"summary": "The process is up", "responses": plain}},
        "/readyz": {
            "get": {
                "summary": "A policy is loaded, the decision log (if any) can be written and the service is not shutting down",
                "responses": {**plain, "503": {"description": "Not ready (shutting down, or the decision log is failing)"}},
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "responses": {"200": {"description": "Prometheus text format", "content": {"text/plain": {}}}},
            }
        },
    }


@functools.cache
def openapi_document() -> dict[str, Any]:
    from . import __version__

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ruleengine decision service",
            "version": __version__,
            "description": "Consumer-guarantee decisions over order facts. Bodies are the engine's own JSON Schemas.",
        },
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "paths": _paths(),
        "components": {
            "schemas": {
                "Order": load_schema("order.schema.json"),
                "Decision": load_schema("decision.schema.json"),
                "FactsError": _FACTS_ERROR,
                "EvaluationError": _EVALUATION_ERROR,
                "RequestError": _REQUEST_ERROR,
                "BatchItem": _BATCH_ITEM,
                "WhatIfRequest": _WHAT_IF_REQUEST,
                "WhatIfResponse": _WHAT_IF_RESPONSE,
                "Explanation": _EXPLANATION,
                "ExplanationResponse": _EXPLANATION_RESPONSE,
            }
        },
    }
