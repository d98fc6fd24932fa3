"""The policy a running service decides with, and how it is replaced without ever serving a bad one.

A reload loads and checks the whole folder first; only a policy that loaded
completely replaces the current one, in one reference assignment, so a
request that already took the old policy finishes on it. A failed reload
keeps the old policy and is remembered (``status``) until a later one works.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import PolicyError, RuleEngineError
from .limits import DEFAULT_LIMITS, Limits
from .loader import load_policy
from .policy import Policy

__all__ = ["LivePolicy", "ReloadResult"]

WHAT_IF_CACHE = 32
"""Policies with parameter overrides kept per running policy: a what-if session tries a few values again and again."""


@dataclass(frozen=True)
class ReloadResult:
    ok: bool
    changed: bool
    trigger: str
    at: str
    digest: str
    error: dict[str, Any] | None = None


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class LivePolicy:
    """The current policy of a service, its reload history and its what-if variants."""

    rules: Path | None
    limits: Limits = DEFAULT_LIMITS
    on_reload: Callable[[ReloadResult], None] | None = None
    policy: Policy = field(init=False)
    last_reload: ReloadResult | None = field(init=False, default=None)
    last_error: ReloadResult | None = field(init=False, default=None)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)
    _what_if: OrderedDict[str, Policy] = field(init=False, default_factory=OrderedDict)

    def __post_init__(self) -> None:
        # The first load is not caught: a service that cannot load its policy must not start.
        self.policy = load_policy(self.rules, limits=self.limits).compile_all()

    def reload(self, trigger: str) -> ReloadResult:
        """Load the folder again; swap only if the new policy loaded completely. Never raises for a bad policy."""
        with self._lock:
            old = self.policy
            try:
                new = load_policy(self.rules, limits=self.limits).compile_all()  # no request pays for the build
            except RuleEngineError as exc:
                result = ReloadResult(False, False, trigger, _now(), old.digest, _error(exc))
                self.last_error = result
            except Exception as exc:  # a bug of ours must not stop the service either: the old policy serves on
                error = {"error": "internal", "message": f"{type(exc).__name__}: {exc}"}
                result = ReloadResult(False, False, trigger, _now(), old.digest, error)
                self.last_error = result
            else:
                changed = new.digest != old.digest
                if changed:
                    self.policy = new  # the swap: one assignment; requests holding `old` finish on it
                    self._what_if.clear()
                result = ReloadResult(True, changed, trigger, _now(), self.policy.digest)
                self.last_error = None
            self.last_reload = result
        if self.on_reload is not None:
            self.on_reload(result)
        return result

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
            "rules": list(titles.values()),
            "last_reload": _describe(self.last_reload),
            "last_reload_error": _describe(self.last_error),
        }


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
    return out
