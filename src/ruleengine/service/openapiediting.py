"""The editing routes' part of the OpenAPI document (``--editing``): proposals, cases, impact, publish, revert."""

from __future__ import annotations

from typing import Any

from .openapischemas import _PROBLEMS, IMPACT_REQUEST, _error, body, ref, response
from .openapischemas import errors as error_responses


def _operation(operation_id: str, summary: str, responses: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"operationId": operation_id, "summary": summary, **more, "responses": responses}


FILES = {
    "type": "object",
    "description": (
        "The proposed files: each file's path in the policy folder (from /v1/editing/files) → its whole new text. "
        "A path not listed creates a file: a .yaml name directly in one of the listed new_file_folders."
    ),
    "additionalProperties": {"type": "string"},
}
DELETE = {
    "type": "array",
    "description": "Paths of files to delete (from /v1/editing/files; not also in files).",
    "items": {"type": "string"},
}
PROPOSED: dict[str, Any] = {
    "type": "object",
    "required": ["files"],
    "additionalProperties": False,
    "properties": {"files": FILES, "delete": DELETE},
}
EDITING_ERROR = _error(
    ("policy", "cases", "conflict", "publish", "not_found", "request", "query"),
    {"diagnostics": {"type": "array"}, "cases": {"type": "object"}, "problems": _PROBLEMS, "limit": {"type": "integer"}},
)
PROPOSAL = {
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


def editing_paths() -> dict[str, Any]:
    """The editing routes (service/editing.py): 404 `not_found` unless the service runs with --editing."""
    ok = response
    off = ok("`not_found`: editing is off (start with --editing), or no such file.", ref("EditingError"))
    errors = {**error_responses(400), "404": off}
    posted = {**errors, **error_responses(408, 413, 415)}
    refused = ok("`policy`: the proposal does not load (`diagnostics`); `cases`: regression cases fail (`cases`).", ref("EditingError"))
    failed = ok("`publish`: a file or the publish log could not be written; the folder is as it was.", ref("EditingError"))
    impact_fields: dict[str, Any] = dict(IMPACT_REQUEST["properties"])  # type: ignore[call-overload]
    corpus = {key: value for key, value in impact_fields.items() if key != "parameters"}
    record = {"type": "object", "description": "The publish log's record (without the files' whole texts)."}
    return {
        "/v1/editing/files": {
            "get": _operation(
                "editingFiles",
                "The policy's files and regression case files (editing)",
                {"200": ok("The files.", {"type": "object", "required": ["folder", "digest", "files", "new_file_folders"]}), **errors},
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
                {"200": ok("Whether it loads, and every problem.", ref("EditingProposal")), **posted},
                requestBody=body(PROPOSED),
            )
        },
        "/v1/editing/cases": {
            "post": _operation(
                "editingCases",
                "Run the regression cases on the proposed files; nothing is written",
                {"200": ok("Each case's result.", ref("EditingProposal")), **posted},
                requestBody=body(PROPOSED),
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
                requestBody=body({**PROPOSED, "properties": {**PROPOSED["properties"], **corpus}}),
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
                requestBody=body(
                    {
                        "type": "object",
                        "required": ["files", "message"],
                        "additionalProperties": False,
                        "properties": {
                            "files": FILES,
                            "delete": DELETE,
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
                    "409": ok("`conflict`: nothing to revert, or a file changed since.", ref("EditingError")),
                    "422": refused,
                    "500": failed,
                },
                requestBody=body({"type": "object", "additionalProperties": False, "properties": {"message": {"type": "string"}}}),
            )
        },
    }
