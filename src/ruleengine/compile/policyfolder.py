"""Which policy folder is used: one rule for every command and for ``load_policy()``.

1. a folder given explicitly (``--rules DIR``, or the path passed to ``load_policy``);
2. else the folder named by the ``RULEENGINE_RULES`` environment variable;
3. else ``./rules``, when it holds a policy manifest (a file with a top-level ``policy:``);
4. else the default policy bundled with the package.

So the policy an author edits in a checkout is the policy every command runs,
and an installed package still works anywhere. Each command says which folder
it used and which step chose it (:func:`describe`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..bundled import default_rules_dir

if TYPE_CHECKING:
    from ..runtime.policy import Policy

ENVIRONMENT_VARIABLE = "RULEENGINE_RULES"

GIVEN, ENVIRONMENT, WORKING_FOLDER, BUNDLED, CASE_FILES = "given", "environment", "working_folder", "bundled", "case_files"
"""The step that chose a folder (``chosen_by``); ``case_files``: the policy a case file lives in (``<folder>/cases/``)."""

_WHY = {
    GIVEN: "由 --rules 指定 given with --rules",
    ENVIRONMENT: f"由环境变量指定 from ${ENVIRONMENT_VARIABLE}",
    WORKING_FOLDER: "./rules 含策略清单 has a policy manifest",
    BUNDLED: "内置默认策略 the bundled default",
    CASE_FILES: "用例所在的策略 where the case files live",
}

_MANIFEST = re.compile(rb"(?m)^policy[ \t]*:")


@dataclass(frozen=True)
class PolicyFolder:
    """A policy folder and the step of the rule that chose it."""

    path: Path
    chosen_by: str

    def to_dict(self, policy: Policy | None = None) -> dict[str, Any]:
        """The folder, the step, and (once loaded) the policy's name, version and digest: for JSON reports."""
        out: dict[str, Any] = {}
        if policy is not None:
            out = {"name": policy.name, "version": policy.version, "digest": policy.digest}
        return {**out, "folder": display_path(self.path), "chosen_by": self.chosen_by}


def choose(explicit: str | os.PathLike[str] | None = None) -> PolicyFolder:
    """The policy folder to use, by the rule above (the folder is not checked here: loading it reports problems)."""
    if explicit is not None:
        return PolicyFolder(Path(explicit), GIVEN)
    named = os.environ.get(ENVIRONMENT_VARIABLE, "").strip()
    if named:
        return PolicyFolder(Path(named), ENVIRONMENT)
    local = Path("rules")
    if holds_manifest(local):
        return PolicyFolder(local, WORKING_FOLDER)
    return PolicyFolder(default_rules_dir(), BUNDLED)


def holds_manifest(folder: Path) -> bool:
    """Whether one of the folder's policy files has a top-level ``policy:`` (read as text, not parsed)."""
    try:
        if not folder.is_dir():
            return False
        for path in policy_files(folder):
            with open(path, "rb") as handle:
                if _MANIFEST.search(handle.read(1 << 20)):
                    return True
    except OSError:
        return False
    return False


def describe(folder: PolicyFolder, policy: Policy) -> str:
    """One line for standard error: which policy a command used, from which folder, and why that folder."""
    return f"策略 policy: {policy.name} {policy.version} {policy.digest} · {where(folder)}"


def where(folder: PolicyFolder) -> str:
    """The folder and the step of the rule that chose it, in words."""
    return f"{display_path(folder.path)} ({_WHY.get(folder.chosen_by, folder.chosen_by)})"


def display_path(path: Path) -> str:
    """A path as messages show it: relative to the working folder when it is below it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # pragma: no cover - other drive on Windows
        return str(path)
    return rel if not rel.startswith("..") else str(path)


def policy_files(root: Path) -> list[Path]:
    """The YAML files of a policy folder; regression cases (``cases/``, ``*.cases.yaml``) are not part of it."""
    found = [p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()]
    return sorted(
        (p for p in found if "cases" not in p.relative_to(root).parts[:-1] and not p.name.endswith((".cases.yaml", ".cases.yml"))),
        key=lambda p: p.relative_to(root).as_posix(),
    )


def in_folder(file: str, root: Path) -> str:
    """A file the loader named (relative to the working directory) as a path relative to the policy folder ``root``."""
    if not file:
        return file
    path = Path(file) if os.path.isabs(file) else Path.cwd() / file
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return file
