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
from pathlib import Path
from typing import Any

import yaml

from ..bundled import bundled_path
from ..compile.parameters import NUMERIC, WHOLE
from ..documents import read_json
from ..runtime.decision import dumps
from ..runtime.policy import Policy
from ..schemas import load_schema
from ..text import shorten
from .security import SCOPES

__all__ = ["ERROR_KINDS", "example_orders", "openapi_bytes", "openapi_document"]

ERROR_KINDS: dict[str, tuple[int, str]] = {
    "query": (400, "an unknown query parameter, or a value it cannot take"),
    "request": (400, "the request envelope is not what the route takes: not an object or array, an unknown or missing key"),
    "facts": (
        400,
        "unreadable JSON/YAML, or an order that violates the order schema or is inconsistent; every problem at its JSON pointer",
    ),
    "policy": (400, "a what-if parameter value the policy refuses (unknown name, wrong type); 422 from reload: the folder does not load"),
    "unauthorized": (401, "no bearer token, or one the service does not know (only with --auth-token-file)"),
    "cross_site": (403, "a request from another web origin (Origin / Sec-Fetch-Site) not allowed by --allow-origin"),
    "insufficient_scope": (403, "the token is known but lacks the route's scope"),
    "not_found": (404, "no such route, or no example order of that name"),
    "method_not_allowed": (405, "the route does not take that method (the Allow header lists those it takes)"),
    "timeout": (408, "the request body did not arrive within --request-timeout"),
    "too_large": (413, "the body is over --max-body-bytes (a batch: --max-batch-bytes or --max-batch orders)"),
    "unsupported_media_type": (
        415,
        "a body that is not application/json or application/yaml (UTF-8), or a Content-Encoding other than identity",
    ),
    "evaluation": (
        422,
        "a rule failed on this order (e.g. its evaluation budget, or an amount out of range): the rule and its file:line:col",
    ),
    "not_ready": (503, "/readyz: no policy is being served yet, or the service is shutting down"),
    "decision_log": (
        503,
        "the decision log cannot be written: the decision is not given, since it could not be recorded (not with --log-fail-open); "
        "/readyz says so too",
    ),
    "cases": (422, "editing: a publish refused because regression cases fail (send override_failing_cases: true to publish anyway)"),
    "conflict": (409, "editing: nothing to revert, or a file changed after the publish being reverted"),
    "publish": (500, "editing: the files or the publish log could not be written; the folder is left as it was"),
    "internal": (500, "a bug of the service, never an answer to input: the log has the details"),
}
"""Every value of ``error`` in an error response, its status and when it is given (the README's table comes from here)."""

BATCH_ITEM_ERRORS = ("facts", "evaluation", "deadline")


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _hoisted(schema: dict[str, Any], prefix: str) -> dict[str, dict[str, Any]]:
    """A bundled schema and its ``$defs`` as separate components whose references resolve from the document root."""

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                if key in ("$id", "$schema", "$defs"):
                    continue
                if key == "$ref" and isinstance(value, str) and value.startswith("#/$defs/"):
                    out[key] = "#/components/schemas/" + _component_name(prefix, value.removeprefix("#/$defs/"))
                else:
                    out[key] = rewrite(value)
            return out
        if isinstance(node, list):
            return [rewrite(v) for v in node]
        return node

    components = {prefix: rewrite(schema)}
    for name, definition in schema.get("$defs", {}).items():
        components[_component_name(prefix, name)] = rewrite(definition)
    return components


def _component_name(prefix: str, definition: str) -> str:
    return prefix + "".join(part.capitalize() for part in definition.split("_"))


def _error(kinds: tuple[str, ...] | str, extra: dict[str, Any] | None = None, required: tuple[str, ...] = ()) -> dict[str, Any]:
    error = {"const": kinds} if isinstance(kinds, str) else {"enum": list(kinds)}
    return {
        "type": "object",
        "required": ["error", "message", *required],
        "properties": {
            "error": error,
            "message": {"type": "string", "description": "What went wrong, for a person."},
            "request_id": {"type": "string", "description": "The request's id (also the X-Request-ID header); in the decision log too."},
            **(extra or {}),
        },
    }


_PROBLEMS = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["pointer", "code", "message"],
        "properties": {
            "pointer": {"type": "string", "description": "JSON pointer into the order or request ('' is the whole document)."},
            "code": {"type": "string", "description": "The schema keyword or reader rule that failed."},
            "message": {"type": "string"},
            "line": {"type": "integer"},
            "column": {"type": "integer"},
        },
    },
}

_DIAGNOSTICS = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["file", "line", "column", "code", "message"],
        "properties": {
            "file": {"type": "string", "description": "Relative to the policy folder."},
            "line": {"type": "integer"},
            "column": {"type": "integer"},
            "code": {"type": "string"},
            "message": {"type": "string"},
            "severity": {"type": "string"},
            "path": {"type": "string"},
        },
    },
}

_EVALUATION = {
    "rule": {"type": "string", "description": "The id of the rule that failed."},
    "file": {"type": "string", "description": "The rule's file, relative to the policy folder."},
    "line": {"type": "integer"},
    "column": {"type": "integer"},
    "code": {"type": "string"},
}

_ERROR_SCHEMAS: dict[str, dict[str, Any]] = {
    "FactsError": _error("facts", {"problems": _PROBLEMS, "source": {"type": "string"}}, ("problems",)),
    "EvaluationError": _error("evaluation", _EVALUATION, ("rule", "code")),
    "PolicyError": _error("policy", {"diagnostics": _DIAGNOSTICS}, ("diagnostics",)),
    "RequestError": _error(
        tuple(kind for kind in ERROR_KINDS if kind not in ("facts", "evaluation", "policy")),
        {"limit": {"type": "integer", "description": "The limit that was exceeded (413)."}, "problems": _PROBLEMS},
    ),
    "DeadlineError": _error("deadline"),
    "ReloadError": {
        "type": "object",
        "required": ["error", "message"],
        "properties": {
            "error": {"type": "string"},
            "message": {"type": "string"},
            "request_id": {"type": "string"},
            "diagnostics": _DIAGNOSTICS,
        },
    },
}

_EXPLAIN = {
    "name": "explain",
    "in": "query",
    "required": False,
    "schema": {"type": "boolean", "default": False},
    "description": "Add the trace: every rule visited, its conditions with the values and parameters they read.",
}

_REQUEST_ID_HEADER = {
    "description": "The request's id: the X-Request-ID the client sent (1–128 visible ASCII characters), or a new one.",
    "required": True,
    "schema": {"type": "string", "minLength": 1, "maxLength": 128},
}


def _response(description: str, schema: dict[str, Any] | None = None, media: str = "application/json") -> dict[str, Any]:
    out: dict[str, Any] = {"description": description, "headers": {"X-Request-ID": {"$ref": "#/components/headers/RequestId"}}}
    if schema is not None:
        out["content"] = {media: {"schema": schema}}
    return out


def _plain(description: str, media: str) -> dict[str, Any]:
    """A response that is not JSON or YAML: its media type, no schema."""
    return {**_response(description), "content": {media: {}}}


def _errors(*statuses: int) -> dict[str, Any]:
    """The error responses of an operation, each with the error kinds of its status."""
    out: dict[str, Any] = {}
    for status in statuses:
        kinds = [kind for kind, (code, _) in ERROR_KINDS.items() if code == status]
        branches = []
        request_kinds = [k for k in kinds if k not in ("facts", "evaluation", "policy")]
        if "facts" in kinds:
            branches.append(_ref("FactsError"))
        if "policy" in kinds and status == 400:
            branches.append(_ref("PolicyError"))
        if "evaluation" in kinds:
            branches.append(_ref("EvaluationError"))
        if request_kinds:
            branches.append(_ref("RequestError"))
        schema = branches[0] if len(branches) == 1 else {"oneOf": branches}
        description = "; ".join(f"`{k}`: {ERROR_KINDS[k][1]}" for k in kinds)
        out[str(status)] = _response(description, schema)
    return out


def _body(schema: dict[str, Any], examples: dict[str, Any] | None = None) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": schema}
    if examples:
        media["examples"] = examples
    return {"required": True, "content": {"application/json": media, "application/yaml": {"schema": schema}}}


def example_orders() -> list[Path]:
    """The bundled example orders (``GET /v1/examples``), in name order."""
    return sorted(bundled_path("examples/orders").glob("*.json"))


@functools.cache
def example_titles() -> dict[str, dict[str, str]]:
    """Each example's Chinese title and guarantee (examples/orders/titles.yaml), by name; empty without that file."""
    path = bundled_path("examples/orders/titles.yaml")
    if not path.is_file():
        return {}
    titles = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {str(name): {"title_zh": str(t["zh"]), "guarantee": str(t["guarantee"])} for name, t in titles.items()}


@functools.cache
def _example_values() -> dict[str, Any]:
    return {path.stem: read_json(path.read_bytes(), path.name) for path in example_orders()}


def _order_examples(wrap: Any = None) -> dict[str, Any]:
    if wrap is None:
        return {name: {"$ref": f"#/components/examples/{name}"} for name in _example_values()}
    return {name: {"summary": f"the example order {name}", "value": wrap(order)} for name, order in list(_example_values().items())[:3]}


_BATCH_ITEM = {
    "oneOf": [
        {
            "type": "object",
            "required": ["index", "decision"],
            "additionalProperties": False,
            "properties": {"index": {"type": "integer", "minimum": 0}, "decision": _ref("Decision")},
        },
        {
            "type": "object",
            "required": ["index", "error"],
            "additionalProperties": False,
            "properties": {
                "index": {"type": "integer", "minimum": 0},
                "error": {"oneOf": [_ref("FactsError"), _ref("EvaluationError"), _ref("DeadlineError")]},
            },
        },
    ],
    "description": "One order's decision, or its own error (`facts`, `evaluation`, or `deadline` when the request's time ran out).",
}

_PARAMETER_VALUES = _ref("ParameterValues")

_WHAT_IF_REQUEST = {
    "type": "object",
    "required": ["order"],
    "additionalProperties": False,
    "properties": {"order": _ref("Order"), "parameters": _PARAMETER_VALUES},
}

_CASE_REQUEST = {
    "type": "object",
    "required": ["order"],
    "additionalProperties": False,
    "properties": {
        "order": _ref("Order"),
        "name": {"$ref": "#/components/schemas/OrderText", "maxLength": 300, "description": "What the case shows (default: the order id)."},
        "parameters": _PARAMETER_VALUES,
    },
}

_IMPACT_REQUEST = {
    "type": "object",
    "required": ["parameters"],
    "additionalProperties": False,
    "properties": {
        "parameters": _PARAMETER_VALUES,
        "corpus": {
            "enum": ["examples", "generated", "lines"],
            "default": "examples",
            "description": "The bundled example orders; orders generated by examples/corpus/generate.py; or `lines`.",
        },
        "count": {"type": "integer", "minimum": 1, "maximum": 5000, "default": 1000, "description": "Orders to generate."},
        "seed": {"type": "integer", "minimum": 0, "maximum": 2**31, "default": 1, "description": "Same seed, same orders."},
        "lines": {
            "type": "string",
            "allOf": [{"pattern": load_schema("order.schema.json")["$defs"]["text"]["pattern"]}, {"pattern": "\\S"}],
            "description": "With corpus `lines`: the orders as JSON lines, one order per line.",
        },
    },
    "if": {"required": ["corpus"], "properties": {"corpus": {"const": "lines"}}},
    "then": {"required": ["lines"]},
}

_IMPACT_RESPONSE = {
    "type": "object",
    "required": ["corpus", "parameters", "orders", "changed", "refused", "money", "fields", "changes", "changed_orders"],
    "description": "What `ruleengine diff` reports (counts and money by guarantee and field), and up to 200 changed orders.",
    "properties": {
        "corpus": {"type": "object"},
        "parameters": {"type": "object"},
        "orders": {"type": "integer"},
        "changed": {"type": "integer"},
        "refused": {"type": "object"},
        "money": {"type": "object"},
        "fields": {"type": "array", "items": {"type": "object"}},
        "changes": {"type": "array", "items": {"type": "object"}},
        "changed_orders": {"type": "array", "items": {"type": "object"}},
        "changed_orders_not_shown": {"type": "integer"},
    },
}

_WHAT_IF_RESPONSE = {
    "type": "object",
    "required": ["parameters", "current", "changed", "changes"],
    "properties": {
        "parameters": {
            "type": "object",
            "description": "Each overridden parameter: its value in the running policy and in the request.",
            "additionalProperties": {"type": "object", "required": ["current", "changed"]},
        },
        "current": _ref("Decision"),
        "changed": _ref("Decision"),
        "explanation": {
            "type": "object",
            "description": "With ?explain=true: the explanation of each decision.",
            "required": ["current", "changed"],
            "properties": {"current": _ref("Explanation"), "changed": _ref("Explanation")},
        },
        "changes": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["guarantee", "field", "change"],
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
            "entries": {"type": "array", "items": {"type": "object", "required": ["rule"], "properties": {"rule": {"type": "string"}}}},
        },
    },
}


def _document_schemas() -> dict[str, dict[str, Any]]:
    """What the strict reader takes (``/v1/orders/read``): any object of its strings and numbers."""
    text = {"type": "string", "pattern": load_schema("order.schema.json")["$defs"]["text"]["pattern"]}
    document = {
        "type": "object",
        "propertyNames": text,
        "additionalProperties": _ref("DocumentValue"),
        "description": (
            "Any JSON/YAML object the service's strict reader accepts: numbers between -10^15 and 10^15 and not closer to 0 "
            "than 10^-15, no control or invisible characters (nor unassigned or private-use ones), at most 32 levels deep."
        ),
    }
    number = {
        "type": "number",
        "minimum": -(10**15),
        "maximum": 10**15,
        "not": {"exclusiveMinimum": Decimal("-1e-15"), "exclusiveMaximum": Decimal("1e-15"), "not": {"const": 0}},
    }
    value = {"anyOf": [{"type": ["null", "boolean"]}, text, number, {"type": "array", "items": _ref("DocumentValue")}, _ref("Document")]}
    return {"Document": document, "DocumentValue": value}


_RELOAD = {
    "type": "object",
    "required": ["ok", "changed", "trigger", "at", "digest"],
    "properties": {
        "ok": {"type": "boolean"},
        "changed": {"type": "boolean", "description": "A new policy is now served."},
        "trigger": {"type": "string"},
        "at": {"type": "string"},
        "digest": {"type": "string", "description": "The digest of the policy served now."},
        "error": {"type": ["object", "null"]},
    },
}

_POLICY_STATUS = {
    "type": "object",
    "required": ["name", "version", "digest", "loaded_at", "timezone", "rules", "last_reload", "last_reload_error"],
    "properties": {
        "name": {"type": "string"},
        "version": {"type": "string"},
        "digest": {"type": "string"},
        "loaded_at": {"type": "string"},
        "timezone": {"type": "string"},
        "rules_folder": {"type": "string"},
        "rules": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "guarantee", "title_zh", "title_en"],
                "properties": {
                    "id": {"type": "string"},
                    "guarantee": {"type": "string"},
                    "title_zh": {"type": "string"},
                    "title_en": {"type": "string"},
                },
            },
        },
        "cases": {
            "type": "object",
            "description": "The policy's own regression cases, run before it was served: files, passed, failed and each failure.",
            "required": ["files", "passed", "failed", "failures"],
        },
        "serving_failing_cases": {"type": "boolean", "description": "Served although some cases fail (--serve-failing-cases)."},
        "last_reload": {"oneOf": [{"type": "null"}, {"type": "object", "required": ["ok", "trigger", "at", "digest"]}]},
        "last_reload_error": {"oneOf": [{"type": "null"}, {"type": "object", "required": ["ok", "trigger", "at", "digest", "error"]}]},
    },
}

_CATALOGUE = {
    "type": "object",
    "required": ["guarantees", "parameters", "words"],
    "properties": {
        "guarantees": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "title", "rules"],
                "properties": {
                    "id": {"type": "string"},
                    "title": {"type": "string"},
                    "rules": {"type": "array", "items": {"type": "object"}},
                },
            },
        },
        "parameters": {
            "type": "array",
            "items": {"type": "object", "required": ["name", "value"], "properties": {"name": {"type": "string"}, "value": {}}},
        },
        "words": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "The Chinese (and English) for decision values.",
        },
    },
}


_FILES = {
    "type": "object",
    "description": "The proposed files: each file's path in the policy folder (from /v1/editing/files) → its whole new text.",
    "additionalProperties": {"type": "string"},
}
_EDITING_ERROR = _error(
    ("policy", "cases", "conflict", "publish", "not_found", "request", "query"),
    {"diagnostics": {"type": "array"}, "cases": {"type": "object"}, "problems": _PROBLEMS, "limit": {"type": "integer"}},
)
_PROPOSAL = {
    "type": "object",
    "required": ["ok", "loads", "digest", "diagnostics"],
    "properties": {
        "ok": {"type": "boolean", "description": "It loads and (cases) every regression case passes."},
        "loads": {"type": "boolean"},
        "digest": {"type": ["string", "null"], "description": "The proposed policy's digest (null when it does not load)."},
        "diagnostics": {
            "type": "array",
            "description": "Every problem at file:line:col, in Chinese (`zh`) and English (`en`).",
            "items": {"type": "object", "required": ["file", "line", "column", "code", "zh", "en"]},
        },
        "cases": {
            "type": "object",
            "description": "Each regression case: passed, failed (with the failing expectations) or error.",
            "required": ["passed", "failed", "results"],
        },
    },
}


def _editing_paths() -> dict[str, Any]:
    """The editing routes (service/editing.py): 404 `not_found` unless the service runs with --editing."""
    ok = _response
    errors = {**_errors(400), "404": ok("`not_found`: editing is off (start with --editing), or no such file.", _ref("EditingError"))}
    posted = {**errors, **_errors(408, 413, 415)}
    refused = ok("`policy`: the proposal does not load (`diagnostics`); `cases`: regression cases fail (`cases`).", _ref("EditingError"))
    failed = ok("`publish`: a file or the publish log could not be written; the folder is as it was.", _ref("EditingError"))
    impact_fields: dict[str, Any] = dict(_IMPACT_REQUEST["properties"])  # type: ignore[call-overload]
    corpus = {key: value for key, value in impact_fields.items() if key != "parameters"}
    record = {"type": "object", "description": "The publish log's record (without the files' whole texts)."}
    return {
        "/v1/editing/files": {
            "get": _operation(
                "editingFiles",
                "The policy's files and regression case files (editing)",
                {"200": ok("The files.", {"type": "object", "required": ["folder", "digest", "files"]}), **errors},
            )
        },
        "/v1/editing/file": {
            "get": _operation(
                "editingFile",
                "One file's text (editing)",
                {"200": ok("The file.", {"type": "object", "required": ["path", "text", "sha256"]}), **errors},
                parameters=[
                    {
                        "name": "path",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string"},
                        "description": "As listed by /v1/editing/files.",
                    }
                ],
            )
        },
        "/v1/editing/validate": {
            "post": _operation(
                "editingValidate",
                "Load the policy as it would be with the proposed files; nothing is written",
                {"200": ok("Whether it loads, and every problem.", _ref("EditingProposal")), **posted},
                requestBody=_body(
                    {"type": "object", "required": ["files"], "additionalProperties": False, "properties": {"files": _FILES}}
                ),
            )
        },
        "/v1/editing/cases": {
            "post": _operation(
                "editingCases",
                "Run the regression cases on the proposed files; nothing is written",
                {"200": ok("Each case's result.", _ref("EditingProposal")), **posted},
                requestBody=_body(
                    {"type": "object", "required": ["files"], "additionalProperties": False, "properties": {"files": _FILES}}
                ),
            )
        },
        "/v1/editing/impact": {
            "post": _operation(
                "editingImpact",
                "Decide a corpus with the served policy and with the proposed one; nothing is written",
                {
                    "200": ok(
                        "What `ruleengine diff` reports, and the changed orders.",
                        {"type": "object", "required": ["corpus", "orders", "changed"]},
                    ),
                    **posted,
                    "422": refused,
                },
                requestBody=_body(
                    {"type": "object", "required": ["files"], "additionalProperties": False, "properties": {"files": _FILES, **corpus}}
                ),
            )
        },
        "/v1/editing/publish": {
            "post": _operation(
                "editingPublish",
                "Write the proposed files into the served folder (checked first), record it and reload",
                {
                    "200": ok(
                        "The publish log's record and the reload.",
                        {"type": "object", "required": ["published", "reload"], "properties": {"published": record}},
                    ),
                    **posted,
                    "422": refused,
                    "500": failed,
                },
                requestBody=_body(
                    {
                        "type": "object",
                        "required": ["files", "message"],
                        "additionalProperties": False,
                        "properties": {
                            "files": _FILES,
                            "message": {"type": "string", "minLength": 1},
                            "override_failing_cases": {"type": "boolean", "default": False},
                        },
                    }
                ),
            )
        },
        "/v1/editing/revert": {
            "post": _operation(
                "editingRevert",
                "Undo the last publish not undone yet (its files get their texts from before it); recorded too",
                {
                    "200": ok(
                        "The revert's record and the reload.",
                        {"type": "object", "required": ["reverted", "reload"], "properties": {"reverted": record}},
                    ),
                    **posted,
                    "409": ok("`conflict`: nothing to revert, or a file changed since.", _ref("EditingError")),
                    "422": refused,
                    "500": failed,
                },
                requestBody=_body({"type": "object", "additionalProperties": False, "properties": {"message": {"type": "string"}}}),
            )
        },
    }


def _operation(operation_id: str, summary: str, responses: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"operationId": operation_id, "summary": summary, **more, "responses": responses}


def _paths(example_names: list[str]) -> dict[str, Any]:
    decide_errors = (400, 408, 413, 415, 422, 503)
    ok = _response
    return {
        "/v1/decisions": {
            "post": _operation(
                "decide",
                "Decide one order",
                {"200": ok("The decision.", _ref("Decision")), **_errors(*decide_errors)},
                parameters=[_EXPLAIN],
                requestBody=_body(_ref("Order"), _order_examples()),
            )
        },
        "/v1/decisions/batch": {
            "post": _operation(
                "decideBatch",
                "Decide a list of orders; each item is a decision or its own error",
                {
                    "200": ok("One item per order, in order.", {"type": "array", "items": _ref("BatchItem")}),
                    **_errors(400, 408, 413, 415, 503),
                },
                parameters=[_EXPLAIN],
                requestBody=_body(
                    {
                        "type": "array",
                        "items": {
                            "$ref": "#/components/schemas/DocumentValue",
                            "description": "An order (see Order); an item that is not a valid order gets its own error in the answer.",
                        },
                    },
                    _order_examples(lambda order: [order]),
                ),
            )
        },
        "/v1/decisions/what-if": {
            "post": _operation(
                "whatIf",
                "Decide an order with the running policy and with some parameters changed (no file is touched)",
                {"200": ok("Both decisions and what changed.", _ref("WhatIfResponse")), **_errors(*decide_errors)},
                parameters=[_EXPLAIN],
                requestBody=_body(
                    _ref("WhatIfRequest"), _order_examples(lambda order: {"order": order, "parameters": {"seven_day_window_days": 15}})
                ),
            )
        },
        "/v1/impact": {
            "post": _operation(
                "impact",
                "A what-if over many orders: every order decided with the running policy and with the parameters changed",
                {
                    "200": ok("The impact: counts and money by guarantee and field, the changed orders.", _ref("ImpactResponse")),
                    **_errors(400, 408, 413, 415, 503),
                },
                requestBody=_body(_ref("ImpactRequest"), {"window": {"value": {"parameters": {"seven_day_window_days": 15}}}}),
            )
        },
        "/v1/explanations": {
            "post": _operation(
                "explain",
                "Decide one order and explain it by guarantee: which condition decided, with its values and parameters",
                {"200": ok("The decision (with its trace) and the explanation.", _ref("ExplanationResponse")), **_errors(*decide_errors)},
                requestBody=_body(_ref("Order"), _order_examples()),
            )
        },
        "/v1/orders/read": {
            "post": _operation(
                "readOrder",
                "Read an order document (JSON or YAML text) and return it as JSON, not yet checked against the schema",
                {"200": ok("The document as JSON.", {"type": "object"}), **_errors(400, 408, 413, 415)},
                requestBody=_body(_ref("Document")),
            )
        },
        "/v1/cases": {
            "post": _operation(
                "caseFile",
                "A regression case file (YAML) pinning what the running policy decides for an order",
                {"200": ok("The case file, ready for rules/cases/.", _ref("CaseFile"), "application/yaml"), **_errors(*decide_errors)},
                requestBody=_body(_ref("CaseRequest"), _order_examples(lambda order: {"order": order, "name": "an example"})),
            )
        },
        "/v1/policy": {
            "get": _operation(
                "policyStatus",
                "The running policy: name, version, digest, loaded_at, rules, the last reload and its error",
                {"200": ok("The policy being served.", _ref("PolicyStatus")), **_errors(400)},
            )
        },
        "/v1/policy/reload": {
            "post": _operation(
                "reloadPolicy",
                "Load the policy folder again now (as SIGHUP does); only a policy that loads completely replaces the served one",
                {
                    "200": ok("The reload worked; `changed` says whether a new policy is served.", _ref("ReloadResult")),
                    "202": ok("With several workers: they are being replaced one by one.", {"type": "object", "required": ["status"]}),
                    **_errors(400),
                    "422": ok("The folder does not load: the served policy is unchanged; the diagnostics say why.", _ref("ReloadError")),
                },
            )
        },
        "/v1/policy/catalogue": {
            "get": _operation(
                "policyCatalogue",
                "Every guarantee, its rules in words, its parameters and sources; `words`: the Chinese for decision values",
                {"200": ok("The catalogue.", _ref("Catalogue")), **_errors(400)},
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
                    **_errors(400),
                },
            )
        },
        "/v1/examples/{name}": {
            "get": _operation(
                "getExample",
                "One bundled example order",
                {"200": ok("The order.", _ref("Order")), **_errors(400, 404)},
                parameters=[{"name": "name", "in": "path", "required": True, "schema": {"type": "string", "enum": example_names}}],
            )
        },
        "/healthz": {"get": _operation("health", "The process is up", {"200": ok("Up.", _STATUS_OK)})},
        "/readyz": {
            "get": _operation(
                "ready",
                "A policy is loaded and the service is not shutting down",
                {"200": ok("Ready.", _READY), **_errors(503)},
            )
        },
        "/metrics": {
            "get": _operation(
                "metrics",
                "Prometheus metrics (text exposition format)",
                {"200": _plain("Requests, latency, decisions, errors, reloads, the policy served.", "text/plain"), **_errors(400)},
            )
        },
        "/openapi.json": {"get": _operation("openapi", "This document", {"200": ok("OpenAPI 3.1.", {"type": "object"})})},
        "/": {
            "get": _operation(
                "playground",
                "The playground page",
                {"200": _plain("The page (HTML); its scripts and styles are under /static/.", "text/html")},
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
            operation["responses"].update(_errors(401))
            operation["responses"]["403"] = _response(
                f"`insufficient_scope`: the token lacks the scope `{scope}`; `cross_site`: {ERROR_KINDS['cross_site'][1]}",
                _ref("RequestError"),
            )
    return paths


def _cross_site(paths: dict[str, Any], scopes: Mapping[tuple[str, str], str | None]) -> dict[str, Any]:
    for path, methods in paths.items():
        for method, operation in methods.items():
            if scopes[(method.upper(), path)] is not None:
                operation["responses"]["403"] = _response(f"`cross_site`: {ERROR_KINDS['cross_site'][1]}", _ref("RequestError"))
    return paths


@functools.cache
def _document(scopes: tuple[tuple[tuple[str, str], str | None], ...], auth: bool) -> dict[str, Any]:
    from .. import __version__

    table = dict(scopes)
    names = [path.stem for path in example_orders()]
    paths = _paths(names)
    if any(path.startswith("/v1/editing/") for _, path in table):  # offered only with --editing
        paths.update(_editing_paths())
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
                **_hoisted(load_schema("order.schema.json"), "Order"),
                **_hoisted(load_schema("decision.schema.json"), "Decision"),
                **_hoisted(load_schema("cases.schema.json"), "CaseFile"),
                **_ERROR_SCHEMAS,
                "BatchItem": _BATCH_ITEM,
                "WhatIfRequest": _WHAT_IF_REQUEST,
                "WhatIfResponse": _WHAT_IF_RESPONSE,
                "CaseRequest": _CASE_REQUEST,
                "ImpactRequest": _IMPACT_REQUEST,
                "ImpactResponse": _IMPACT_RESPONSE,
                "EditingProposal": _PROPOSAL,
                "EditingError": _EDITING_ERROR,
                "Explanation": _EXPLANATION,
                "ExplanationResponse": {
                    "type": "object",
                    "required": ["decision", "explanation"],
                    "properties": {"decision": _ref("Decision"), "explanation": _ref("Explanation")},
                },
                **_document_schemas(),
                "PolicyStatus": _POLICY_STATUS,
                "ReloadResult": _RELOAD,
                "Catalogue": _CATALOGUE,
            },
            "examples": {name: {"summary": f"examples/orders/{name}.json", "value": order} for name, order in _example_values().items()},
            "headers": {"RequestId": _REQUEST_ID_HEADER},
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
            schema = _ref("OrderMoney")
            bounds = [f"{word} {bound}" for word, bound in (("at least", low), ("at most", high)) if bound not in (None, 0)]
            extra = f'; a decimal string such as "{parameter.value:.2f}"' + (f", {' and '.join(bounds)}" if bounds else "")
        elif declared.kind in NUMERIC:
            schema = dict(_document_schemas()["DocumentValue"]["anyOf"][2])
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
    schemas = {**base["components"]["schemas"], "ParameterValues": _parameter_values(policy)}
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
