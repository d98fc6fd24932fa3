"""The parts of the service's OpenAPI description: the error kinds, and the schemas of its requests and answers.

The order, decision and case-file schemas are published as components: each
schema's ``$defs`` become components of their own (``#/$defs/money`` →
``#/components/schemas/OrderMoney``) and ``$id``/``$schema`` are dropped, so
every ``$ref`` resolves from the document's root. Every error kind has its own
``error`` value, so no response matches two branches of a ``oneOf``.

Why ~530 lines: most of it is the schemas themselves, as data; the editing routes' are in
:mod:`.openapiediting`.
"""

from __future__ import annotations

import functools
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from ..bundled import bundled_path
from ..documents import read_json
from ..schemas import load_schema

__all__ = ["ERROR_KINDS", "example_orders"]
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
    "explain_too_large": (422, "an explained answer (?explain=true, /v1/explanations) over --max-explain-bytes: ask without explain"),
    "not_ready": (503, "/readyz: no policy is being served yet, the service is draining after SIGTERM (status draining), or shutting down"),
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


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def hoisted(schema: dict[str, Any], prefix: str) -> dict[str, dict[str, Any]]:
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

ERROR_SCHEMAS: dict[str, dict[str, Any]] = {
    "FactsError": _error("facts", {"problems": _PROBLEMS, "source": {"type": "string"}}, ("problems",)),
    "EvaluationError": _error("evaluation", _EVALUATION, ("rule", "code")),
    "PolicyError": _error("policy", {"diagnostics": _DIAGNOSTICS}, ("diagnostics",)),
    "RequestError": _error(
        tuple(kind for kind in ERROR_KINDS if kind not in ("facts", "evaluation", "policy")),
        {
            "limit": {"type": "integer", "description": "The limit that was exceeded (413, 422 explain_too_large)."},
            "size": {"type": "integer", "description": "explain_too_large: the size in bytes the explained answer would have had."},
            "status": {"enum": ["not_ready", "draining"], "description": "not_ready: why /readyz is not ready."},
            "problems": _PROBLEMS,
        },
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

EXPLAIN = {
    "name": "explain",
    "in": "query",
    "required": False,
    "schema": {"type": "boolean", "default": False},
    "description": "Add the trace: every rule visited, its conditions with the values and parameters they read.",
}

REQUEST_ID_HEADER = {
    "description": "The request's id: the X-Request-ID the client sent (1–128 visible ASCII characters), or a new one.",
    "required": True,
    "schema": {"type": "string", "minLength": 1, "maxLength": 128},
}


def response(description: str, schema: dict[str, Any] | None = None, media: str = "application/json") -> dict[str, Any]:
    out: dict[str, Any] = {"description": description, "headers": {"X-Request-ID": {"$ref": "#/components/headers/RequestId"}}}
    if schema is not None:
        out["content"] = {media: {"schema": schema}}
    return out


def plain(description: str, media: str) -> dict[str, Any]:
    """A response that is not JSON or YAML: its media type, no schema."""
    return {**response(description), "content": {media: {}}}


def errors(*statuses: int) -> dict[str, Any]:
    """The error responses of an operation, each with the error kinds of its status."""
    out: dict[str, Any] = {}
    for status in statuses:
        kinds = [kind for kind, (code, _) in ERROR_KINDS.items() if code == status]
        branches = []
        request_kinds = [k for k in kinds if k not in ("facts", "evaluation", "policy")]
        if "facts" in kinds:
            branches.append(ref("FactsError"))
        if "policy" in kinds and status == 400:
            branches.append(ref("PolicyError"))
        if "evaluation" in kinds:
            branches.append(ref("EvaluationError"))
        if request_kinds:
            branches.append(ref("RequestError"))
        schema = branches[0] if len(branches) == 1 else {"oneOf": branches}
        description = "; ".join(f"`{k}`: {ERROR_KINDS[k][1]}" for k in kinds)
        out[str(status)] = response(description, schema)
    return out


def body(schema: dict[str, Any], examples: dict[str, Any] | None = None) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": schema}
    if examples:
        media["examples"] = examples
    return {"required": True, "content": {"application/json": media, "application/yaml": {"schema": schema}}}


@functools.cache
def example_titles() -> dict[str, dict[str, str]]:
    """Each example's Chinese title and guarantee (examples/orders/titles.yaml), by name; empty without that file."""
    path = bundled_path("examples/orders/titles.yaml")
    if not path.is_file():
        return {}
    titles = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {str(name): {"title_zh": str(t["zh"]), "guarantee": str(t["guarantee"])} for name, t in titles.items()}


@functools.cache
def example_orders() -> list[Path]:
    """The bundled example orders (``GET /v1/examples``), in name order."""
    return sorted(bundled_path("examples/orders").glob("*.json"))


@functools.cache
def example_values() -> dict[str, Any]:
    return {path.stem: read_json(path.read_bytes(), path.name) for path in example_orders()}


def order_examples(wrap: Any = None) -> dict[str, Any]:
    if wrap is None:
        return {name: {"$ref": f"#/components/examples/{name}"} for name in example_values()}
    return {name: {"summary": f"the example order {name}", "value": wrap(order)} for name, order in list(example_values().items())[:3]}


BATCH_ITEM = {
    "oneOf": [
        {
            "type": "object",
            "required": ["index", "decision"],
            "additionalProperties": False,
            "properties": {"index": {"type": "integer", "minimum": 0}, "decision": ref("Decision")},
        },
        {
            "type": "object",
            "required": ["index", "error"],
            "additionalProperties": False,
            "properties": {
                "index": {"type": "integer", "minimum": 0},
                "error": {"oneOf": [ref("FactsError"), ref("EvaluationError"), ref("DeadlineError")]},
            },
        },
    ],
    "description": "One order's decision, or its own error (`facts`, `evaluation`, or `deadline` when the request's time ran out).",
}

_PARAMETER_VALUES = ref("ParameterValues")

WHAT_IF_REQUEST = {
    "type": "object",
    "required": ["order"],
    "additionalProperties": False,
    "properties": {"order": ref("Order"), "parameters": _PARAMETER_VALUES},
}

IMPACT_REQUEST = {
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

IMPACT_RESPONSE = {
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

CASE_REQUEST = {
    "type": "object",
    "required": ["order"],
    "additionalProperties": False,
    "properties": {
        "order": ref("Order"),
        "name": {"$ref": "#/components/schemas/OrderText", "maxLength": 300, "description": "What the case shows (default: the order id)."},
        "parameters": _PARAMETER_VALUES,
    },
}

WHAT_IF_RESPONSE = {
    "type": "object",
    "required": ["parameters", "current", "changed", "changes"],
    "properties": {
        "parameters": {
            "type": "object",
            "description": "Each overridden parameter: its value in the running policy and in the request.",
            "additionalProperties": {"type": "object", "required": ["current", "changed"]},
        },
        "current": ref("Decision"),
        "changed": ref("Decision"),
        "explanation": {
            "type": "object",
            "description": "With ?explain=true: the explanation of each decision.",
            "required": ["current", "changed"],
            "properties": {"current": ref("Explanation"), "changed": ref("Explanation")},
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

EXPLANATION = {
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
            "title": {"type": "string", "description": "The guarantee's Chinese name (the policy's vocabulary)."},
            "title_en": {"type": "string", "description": "Its English name."},
            "hidden": {"type": "integer", "description": "Rules that did not apply to this order (not relevant)."},
            "entries": {"type": "array", "items": {"type": "object", "required": ["rule"], "properties": {"rule": {"type": "string"}}}},
        },
    },
}


def document_schemas() -> dict[str, dict[str, Any]]:
    """What the strict reader takes (``/v1/orders/read``): any object of its strings and numbers."""
    text = {"type": "string", "pattern": load_schema("order.schema.json")["$defs"]["text"]["pattern"]}
    document = {
        "type": "object",
        "propertyNames": text,
        "additionalProperties": ref("DocumentValue"),
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
    value = {"anyOf": [{"type": ["null", "boolean"]}, text, number, {"type": "array", "items": ref("DocumentValue")}, ref("Document")]}
    return {"Document": document, "DocumentValue": value}


RELOAD = {
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

POLICY_STATUS = {
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

CATALOGUE = {
    "type": "object",
    "required": ["guarantees", "parameters", "vocabulary"],
    "properties": {
        "guarantees": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "title", "title_en", "rules"],
                "properties": {
                    "id": {"type": "string"},
                    "title": {"type": "string", "description": "The guarantee's Chinese name, from the policy's vocabulary."},
                    "title_en": {"type": "string", "description": "Its English name."},
                    "rules": {"type": "array", "items": {"type": "object"}},
                    "tables": {
                        "type": "array",
                        "description": "The guarantee's decision tables as grids: inputs, outputs, hit policy and rows (cells as written).",
                        "items": {
                            "type": "object",
                            "required": ["id", "hit", "inputs", "outputs", "rows"],
                            "properties": {
                                "id": {"type": "string"},
                                "hit": {"enum": ["first", "unique", "collect"]},
                                "complete": {"type": "boolean"},
                                "inputs": {"type": "array", "items": {"type": "object", "required": ["name", "label", "expr"]}},
                                "outputs": {"type": "array", "items": {"type": "string"}},
                                "rows": {"type": "array", "items": {"type": "object", "required": ["rule", "row", "cells", "outputs"]}},
                            },
                        },
                    },
                },
            },
        },
        "parameters": {
            "type": "array",
            "items": {"type": "object", "required": ["name", "value"], "properties": {"name": {"type": "string"}, "value": {}}},
        },
        "vocabulary": ref("Vocabulary"),
    },
}

VOCABULARY = {
    "type": "object",
    "description": (
        "The policy's vocabulary (its `vocabulary:` files): for each value set an order, a decision or a rule uses "
        "(`service`, `claim_type`, `category`, `flag`, `outcome` …), its title and its codes in order, each with its "
        "Chinese and English name. The order and decision schemas of /openapi.json take exactly these codes "
        "(their value sets are marked `x-vocabulary`)."
    ),
    "additionalProperties": {
        "type": "object",
        "required": ["name", "title", "values"],
        "properties": {
            "name": {"type": "string"},
            "title": {"type": "object", "properties": {"zh": {"type": "string"}, "en": {"type": "string"}}},
            "values": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["code", "zh", "en"],
                    "properties": {"code": {"type": "string"}, "zh": {"type": "string"}, "en": {"type": "string"}},
                },
            },
            "subset_of": {"type": "string", "description": "The set whose codes (and names) this set picks."},
            "include": {"type": "string", "description": "The set whose every code this set holds before its own."},
            "location": {"type": "string", "description": "file:line:col of its declaration."},
        },
    },
}
