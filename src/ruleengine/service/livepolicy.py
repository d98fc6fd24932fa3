"""The policy a running service decides with, and how it is replaced without ever serving a bad one.

A reload first waits for the folder to settle (no file changed for a quiet
period: an editor's save in progress is not read half-way), then loads it and
runs its own regression cases (:mod:`ruleengine.authoring.gate`); only a policy that
loaded completely and passes its cases replaces the current one, in one
reference assignment, so a request that already took the old policy finishes
on it. If the folder changed while it was being loaded, the reload settles
and loads again. A failed reload keeps the old policy and is remembered
(``status``) until a later one works.

The folder may be a symbolic link to a release (``ruleengine publish``): each
reload follows the link once, so a policy is always read whole from one
release, and a new release goes live when the link is swapped.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..authoring.gate import CasesFailed, CasesSummary, Checked, check_policy
from ..bundled import default_rules_dir
from ..errors import Diagnostic, PolicyError, RuleEngineError
from ..limits import DEFAULT_LIMITS, Limits
from ..runtime.policy import Policy

__all__ = ["LivePolicy", "ReloadResult", "folder_fingerprint"]

WHAT_IF_CACHE = 32
"""Policies with parameter overrides kept per running policy: a what-if session tries a few values again and again."""
QUIET_SECONDS = 0.5
"""How long no file of the folder may change before a reload reads it (``--reload-quiet-ms``)."""
SETTLE_STEP = 0.05
MIN_SETTLE_LIMIT = 10.0
"""A folder still changing after max(this, 20 quiet periods) is reported as a failed reload; the next change retries."""
MAX_LOADS = 5
"""Loads in one reload of a folder that keeps changing while it is read; then the reload fails and the next change retries."""


@dataclass(frozen=True)
class ReloadResult:
    ok: bool
    changed: bool
    trigger: str
    at: str
    digest: str
    error: dict[str, Any] | None = None
    cases: dict[str, Any] | None = None
    """The candidate's regression cases: files, passed, failed and each failure."""
    failing_cases_served: bool = False
    """The policy went live although cases fail (``serve_failing_cases``: an emergency)."""


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


LOG = logging.getLogger("ruleengine.service.livepolicy")


@dataclass
class LivePolicy:
    """The current policy of a service, its reload history and its what-if variants.

    Loading at construction is not caught: a service whose policy does not
    load, or whose cases fail (unless ``serve_failing_cases``), must not start.
    """

    rules: Path | None
    limits: Limits = DEFAULT_LIMITS
    on_reload: Callable[[ReloadResult], None] | None = None
    quiet_seconds: float = QUIET_SECONDS
    serve_failing_cases: bool = False
    policy: Policy = field(init=False)
    cases: CasesSummary = field(init=False)
    """The regression cases of the policy being served."""
    last_reload: ReloadResult | None = field(init=False, default=None)
    last_error: ReloadResult | None = field(init=False, default=None)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)
    _what_if: OrderedDict[str, Policy] = field(init=False, default_factory=OrderedDict)

    def __post_init__(self) -> None:
        checked = check_policy(self.rules, self.limits, compile_all=True)  # no request pays for the build
        if checked.cases.failed and not self.serve_failing_cases:
            raise CasesFailed(checked.cases)
        self.policy, self.cases = checked.policy, checked.cases

    @property
    def folder(self) -> Path:
        """The folder as configured (a release pointer stays a link here)."""
        return Path(self.rules) if self.rules is not None else default_rules_dir()

    def reload(self, trigger: str) -> ReloadResult:
        """Wait for the folder to settle, load it, run its cases; swap only if all of that succeeded. Never raises."""
        with self._lock:
            old = self.policy
            try:
                checked = self._load_settled()
                if checked.cases.failed and not self.serve_failing_cases:
                    raise CasesFailed(checked.cases)
            except CasesFailed as exc:
                result = ReloadResult(False, False, trigger, _now(), old.digest, _error(exc), exc.summary.to_dict())
                self.last_error = result
            except RuleEngineError as exc:
                result = ReloadResult(False, False, trigger, _now(), old.digest, _error(exc))
                self.last_error = result
            except Exception as exc:  # a bug of ours must not stop the service either: the old policy serves on
                error = {"error": "internal", "message": f"{type(exc).__name__}: {exc}"}
                result = ReloadResult(False, False, trigger, _now(), old.digest, error)
                self.last_error = result
            else:
                new = checked.policy
                changed = new.digest != old.digest
                if changed:
                    self.policy = new  # the swap: one assignment; requests holding `old` finish on it
                    self._what_if.clear()
                self.cases = checked.cases
                failing = checked.cases.failed > 0
                result = ReloadResult(True, changed, trigger, _now(), self.policy.digest, None, checked.cases.to_dict(), failing)
                self.last_error = None
            self.last_reload = result
        if self.on_reload is not None:
            self.on_reload(result)
        return result

    def _load_settled(self) -> Checked:
        """The folder checked once it has settled; loaded again if it changed while it was being read."""
        for _ in range(MAX_LOADS):
            settled = self._settle()
            try:
                checked = check_policy(self.rules, self.limits, compile_all=True)
            except PolicyError:
                if folder_fingerprint(self.folder) == settled:
                    raise
            else:
                if folder_fingerprint(self.folder) == settled:
                    return checked
            LOG.info("policy folder %s changed while it was being loaded; waiting for it to settle again", self.folder)
        raise _unsettled(self.folder, f"it changed while it was being loaded, {MAX_LOADS} times in a row")

    def _settle(self) -> tuple[str, tuple[tuple[str, int, int, int], ...]]:
        """Wait until no file of the folder changed for ``quiet_seconds``; its fingerprint then."""
        patience = max(MIN_SETTLE_LIMIT, 20 * self.quiet_seconds)
        started = since = time.monotonic()
        current = folder_fingerprint(self.folder)
        while time.monotonic() - since < self.quiet_seconds:
            if time.monotonic() - started > patience:
                raise _unsettled(self.folder, f"it was still changing after {patience:.0f} s")
            time.sleep(SETTLE_STEP)
            now = folder_fingerprint(self.folder)
            if now != current:
                current, since = now, time.monotonic()
        return current

    async def changes(self, stop: Any) -> AsyncIterator[str]:
        """Yield a trigger ("watch", "release") each time the folder, or the release its link points to, changes.

        Event-driven (inotify through watchfiles, part of the [server] extra);
        a release link is also read every 250 ms, since swapping it changes
        no file inside the folder being watched.
        """
        import watchfiles

        link = self.folder if self.folder.is_symlink() else None

        def relevant(_change: watchfiles.Change, path: str) -> bool:
            return path.endswith(WATCHED_SUFFIXES)

        while not stop.is_set():
            target = Path(os.path.realpath(self.folder))
            if not target.is_dir():  # a dangling link or a folder moved away: look again shortly
                await asyncio.sleep(0.25)
                if link is not None and Path(os.path.realpath(link)).is_dir():
                    yield "release"
                continue
            options: dict[str, Any] = {"rust_timeout": 250, "yield_on_timeout": True} if link is not None else {}
            async for found in watchfiles.awatch(
                target, watch_filter=relevant, stop_event=stop, debounce=200, step=50, recursive=True, **options
            ):
                if link is not None and Path(os.path.realpath(link)) != target:
                    yield "release"
                    break  # watch the new release
                if found:
                    yield "watch"
            else:
                return

    def with_parameters(self, parameters: dict[str, Any]) -> tuple[Policy, Policy]:
        """(current, changed): the running policy and the same policy with ``parameters`` overridden.

        Built from the bytes the running policy was loaded from, never from the
        folder, and cached; raises PolicyError for an unknown name or a wrong type.
        """
        current = self.policy
        key = current.digest + json.dumps(parameters, sort_keys=True, default=str)
        with self._lock:
            cached = self._what_if.get(key)
            if cached is not None:
                self._what_if.move_to_end(key)
                return current, cached
        changed = current.with_parameters(parameters)
        with self._lock:
            if self.policy is current:
                self._what_if[key] = changed
                while len(self._what_if) > WHAT_IF_CACHE:
                    self._what_if.popitem(last=False)
        return current, changed

    def status(self) -> dict[str, Any]:
        policy = self.policy
        titles: dict[str, dict[str, str]] = {}
        for rule in policy.rules:
            titles.setdefault(
                rule.id, {"id": rule.id, "guarantee": rule.guarantee or "claims", "title_zh": rule.title_zh, "title_en": rule.title_en}
            )
        return {
            "name": policy.name,
            "version": policy.version,
            "digest": policy.digest,
            "loaded_at": policy.loaded_at,
            "timezone": policy.timezone,
            "rules_folder": str(policy.root),
            "cases": self.cases.to_dict(),
            "serving_failing_cases": self.cases.failed > 0,
            "rules": list(titles.values()),
            "last_reload": _describe(self.last_reload),
            "last_reload_error": _describe(self.last_error),
        }


def _unsettled(folder: Path, why: str) -> PolicyError:
    message = f"策略文件夹一直在变化 the policy folder did not settle: {why}; the current policy keeps serving, the next change retries"
    return PolicyError([Diagnostic(str(folder), 1, 1, "unsettled", message)])


def _error(exc: RuleEngineError) -> dict[str, Any]:
    out = exc.to_dict()
    if isinstance(exc, PolicyError):
        out["message"] = str(exc)
    return out


def _describe(result: ReloadResult | None) -> dict[str, Any] | None:
    if result is None:
        return None
    out: dict[str, Any] = {"ok": result.ok, "changed": result.changed, "trigger": result.trigger, "at": result.at, "digest": result.digest}
    if result.error is not None:
        out["error"] = result.error
    if result.cases is not None:
        out["cases"] = result.cases
    if result.failing_cases_served:
        out["failing_cases_served"] = True
    return out


WATCHED_SUFFIXES = (".yaml", ".yml", ".json")
"""Policy files, case files and orders a case file may name next to it; an editor's swap files are not."""


def folder_fingerprint(folder: Path) -> tuple[str, tuple[tuple[str, int, int, int], ...]]:
    """Where the folder's link points, and the name, size, modification time and inode of each file that matters."""
    target = os.path.realpath(folder)
    entries: list[tuple[str, int, int, int]] = []
    for dirpath, _dirs, names in os.walk(target):
        for name in names:
            if not name.endswith(WATCHED_SUFFIXES):
                continue
            path = os.path.join(dirpath, name)
            try:
                info = os.stat(path)
            except OSError:  # deleted between the listing and the stat: the next look differs anyway
                continue
            entries.append((os.path.relpath(path, target), info.st_size, info.st_mtime_ns, info.st_ino))
    return target, tuple(sorted(entries))
