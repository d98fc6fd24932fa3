"""The editing routes: change the served policy's files from the page, seeing the consequences before publishing.

Off unless the service is started with ``--editing``, which needs a token file with an ``admin``
token; every route here needs that scope. ``validate``, ``cases`` and ``impact`` check a proposal
(``files``: relative path → the file's new text, a new file too; ``delete``: paths to delete) in a copy
of the folder and change nothing;
``publish`` writes the files into the served folder (:mod:`ruleengine.authoring.workspace`) and
reloads; ``revert`` undoes the last publish. Registered by :mod:`.app` (``EDITING_ROUTES``), which
reads each request's envelope; this module never imports the app.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
from starlette.responses import Response

from ..authoring.publish import releases_holding
from ..authoring.workspace import (
    EditRefused,
    check_proposal,
    editable_files,
    new_file_folders,
    publish_edit,
    publish_log_path,
    read_editable,
    revert_last,
)
from ..runtime.decision import dumps
from .config import ServerConfig
from .security import ConfigError, Tokens
from .workbench import RequestRefused, corpus, impact_report

if TYPE_CHECKING:
    from .shared import Service

__all__ = ["EDITING_ROUTES", "EditingRoute", "check_editing_config", "publish_log_stamp"]

STATUS = {"not_found": 404, "request": 400, "policy": 422, "cases": 422, "conflict": 409, "publish": 500}
"""The HTTP status of each kind of refused edit."""

Handler = Callable[["Service", dict[str, Any], str], Awaitable[Response]]


@dataclass(frozen=True)
class EditingRoute:
    """A route of the editor: its envelope's keys and types (POST) or query parameters (GET); always the ``admin`` scope."""

    method: str
    path: str
    handler: Handler
    keys: dict[str, type]
    required: str | None = None


def check_editing_config(config: ServerConfig, tokens: Tokens | None) -> None:
    """ConfigError unless editing can be offered safely: a policy folder of its own, and an admin token to guard it."""
    if not config.editing:
        return
    if tokens is None or not any("admin" in caller.scopes for _, caller in tokens.entries):
        raise ConfigError("--editing needs --auth-token-file with a token that has the 'admin' scope: editing changes the served policy")
    if config.rules is None:
        raise ConfigError("--editing needs --rules FOLDER: the bundled default policy is not edited in place")
    folder = Path(os.path.realpath(config.rules))
    releases = releases_holding(Path(config.rules))
    if releases is not None:
        raise ConfigError(
            f"--editing: 不能编辑已发布的版本 {config.rules} is a release of {releases} (made by ruleengine publish): a release is "
            "never changed in place. Serve the source folder with --editing, or edit the source and publish it again"
        )
    if not os.access(folder, os.W_OK):
        raise ConfigError(f"--editing: the policy folder {folder} is not writable by this service")


def publish_log_stamp(config: ServerConfig) -> tuple[int, int, int] | None:
    """The publish log's identity, size and time (None: editing off, or no log yet). Each worker takes it before
    loading the policy and reloads when it changes (:mod:`.lifecycle`): any worker's publish reaches them all."""
    if not config.editing or config.rules is None:
        return None
    try:
        found = publish_log_path(Path(os.path.realpath(config.rules)), config.publish_log).stat()
    except OSError:
        return None
    return found.st_ino, found.st_size, found.st_mtime_ns


def _folder(service: Service) -> Path:
    if not service.config.editing or service.config.rules is None:
        raise RequestRefused(404, "not_found", "规则编辑未开启 rule editing is off: start the service with ruleengine serve --editing")
    return Path(os.path.realpath(service.config.rules))


def _json(body: Any, status: int = 200) -> Response:
    return Response(dumps(body).encode("utf-8"), status_code=status, media_type="application/json")


async def _run(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """A workspace call in a worker thread, its refusal as the service's JSON error."""
    try:
        return await anyio.to_thread.run_sync(lambda: function(*args, **kwargs))
    except EditRefused as exc:
        raise RequestRefused(STATUS.get(exc.kind, 400), exc.kind, exc.message, **exc.extra) from None


def _files(envelope: dict[str, Any]) -> dict[str, str]:
    files = envelope.get("files", {})
    bad = [name for name, text in files.items() if not isinstance(text, str)]
    if bad:
        message = f"'files' maps each file's path to its text; {bad[0][:200]!r} is not text"
        raise RequestRefused(400, "request", message, problems=[{"pointer": f"/files/{bad[0][:200]}", "code": "type", "message": message}])
    return dict(files)


def _deleted(envelope: dict[str, Any]) -> list[str]:
    deleted = envelope.get("delete", [])
    bad = next((i for i, path in enumerate(deleted) if not isinstance(path, str)), None)
    if bad is not None:
        message = "'delete' lists the paths of the files to delete, as text"
        raise RequestRefused(400, "request", message, problems=[{"pointer": f"/delete/{bad}", "code": "type", "message": message}])
    return list(deleted)


async def list_files(service: Service, envelope: dict[str, Any], caller: str) -> Response:
    folder = _folder(service)
    files = await _run(editable_files, folder)
    folders = await _run(new_file_folders, folder)
    return _json({"folder": folder.name, "digest": service.live.policy.digest, "files": files, "new_file_folders": folders})


async def read_file(service: Service, envelope: dict[str, Any], caller: str) -> Response:
    folder = _folder(service)
    relative = envelope.get("path")
    if not relative:
        raise RequestRefused(400, "query", "?path= names the file to read (list: /v1/editing/files)")
    return _json(await _run(read_editable, folder, relative))


async def validate(service: Service, envelope: dict[str, Any], caller: str) -> Response:
    folder = _folder(service)
    proposal = await _run(check_proposal, folder, _files(envelope), service.config.limits, cases=False, deleted=_deleted(envelope))
    return _json(proposal.to_dict())


async def cases(service: Service, envelope: dict[str, Any], caller: str) -> Response:
    folder = _folder(service)
    proposal = await _run(check_proposal, folder, _files(envelope), service.config.limits, deleted=_deleted(envelope))
    return _json(proposal.to_dict())


async def impact(service: Service, envelope: dict[str, Any], caller: str) -> Response:
    folder = _folder(service)
    described, orders = corpus(envelope, service.config.max_batch_bytes)
    proposal = await _run(check_proposal, folder, _files(envelope), service.config.limits, cases=False, deleted=_deleted(envelope))
    if proposal.policy is None:
        message = "规则无法加载，无法比较 the proposed policy does not load, so it cannot be compared"
        raise RequestRefused(422, "policy", message, diagnostics=proposal.diagnostics)
    served = service.live.policy
    report = await anyio.to_thread.run_sync(impact_report, served, proposal.policy, orders, "served", "proposed")
    return _json({"corpus": described, "digest_served": served.digest, "digest_proposed": proposal.policy.digest, **report})


def _shown(record: dict[str, Any]) -> dict[str, Any]:
    """A publish log record as answered: without the files' whole texts (they are in the log)."""
    return {key: value for key, value in record.items() if key not in ("before", "after")}


async def publish(service: Service, envelope: dict[str, Any], caller: str) -> Response:
    """Publish the proposal. Over failing cases only when asked and when this service serves such a policy at all
    (--serve-failing-cases): otherwise the reload gate would keep the old policy while the folder holds the new one."""
    folder = _folder(service)
    override = envelope.get("override_failing_cases", False) is True
    allowed = override and service.config.serve_failing_cases
    try:
        record = await _run(
            publish_edit,
            folder,
            _files(envelope),
            who=caller,
            message=envelope.get("message", ""),
            log=publish_log_path(folder, service.config.publish_log),
            served=service.live.policy,
            deleted=_deleted(envelope),
            override_failing_cases=allowed,
            limits=service.config.limits,
        )
    except RequestRefused as exc:
        if exc.kind == "cases" and override and not allowed:
            exc.message = (
                "回归用例未通过，且本服务不提供未通过用例的规则（未以 --serve-failing-cases 启动），未发布 "
                "regression cases fail and this service does not serve a policy whose cases fail (it was not started with "
                "--serve-failing-cases), so override_failing_cases cannot apply; nothing was published"
            )
        raise
    reloaded = await service.reload("editing")
    return _json({"published": _shown(record), "reload": {"ok": reloaded.ok, "digest": reloaded.digest}})


async def revert(service: Service, envelope: dict[str, Any], caller: str) -> Response:
    folder = _folder(service)
    record = await _run(
        revert_last,
        folder,
        who=caller,
        message=envelope.get("message", ""),
        log=publish_log_path(folder, service.config.publish_log),
        served=service.live.policy,
        allow_failing_cases=service.config.serve_failing_cases,
        limits=service.config.limits,
    )
    reloaded = await service.reload("editing")
    return _json({"reverted": _shown(record), "reload": {"ok": reloaded.ok, "digest": reloaded.digest}})


CORPUS_KEYS: dict[str, type] = {"corpus": str, "count": object, "seed": object, "lines": str}
EDITING_ROUTES: tuple[EditingRoute, ...] = (
    EditingRoute("GET", "/v1/editing/files", list_files, {}),
    EditingRoute("GET", "/v1/editing/file", read_file, {"path": str}),
    EditingRoute("POST", "/v1/editing/validate", validate, {"files": dict, "delete": list}, "files"),
    EditingRoute("POST", "/v1/editing/cases", cases, {"files": dict, "delete": list}, "files"),
    EditingRoute("POST", "/v1/editing/impact", impact, {"files": dict, "delete": list, **CORPUS_KEYS}, "files"),
    EditingRoute(
        "POST", "/v1/editing/publish", publish, {"files": dict, "delete": list, "message": str, "override_failing_cases": bool}, "files"
    ),
    EditingRoute("POST", "/v1/editing/revert", revert, {"message": str}),
)
