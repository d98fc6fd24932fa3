"""Editing a served policy folder in place: a proposal is checked whole, then written, recorded and revertible.

A proposal is the folder as it would be with some of its files replaced or created (relative path →
text) and some deleted (:mod:`.proposalfiles` says which paths may be). It is checked in a copy of the
folder (so the regression cases read the proposed case files too), never in the folder itself.
Publishing writes it with :func:`.proposalfiles.apply_atomically`: the folder holds the old policy or
the new one whole. Every publish and revert is one JSON line in the
publish log (who, when, message, the diff, digests before and after, the files' texts before and
after: what a revert writes back), and a git commit when the folder is in a git work tree.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import fcntl
import json
import os
import re
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..compile.loader import load_policy
from ..compile.policyfolder import in_folder
from ..errors import Diagnostic, PolicyError
from ..limits import DEFAULT_LIMITS, Limits
from ..runtime.policy import Policy
from .cases import CaseResult
from .gate import run_policy_cases
from .proposalfiles import EditRefused, apply_atomically, checked_changes, editable_files, new_file_folders, sha256
from .publish import copy_policy_folder

__all__ = [
    "EditRefused",
    "Proposal",
    "check_proposal",
    "editable_files",
    "new_file_folders",
    "publish_edit",
    "publish_log_path",
    "read_editable",
    "revert_last",
    "zh_diagnostic",
]

def read_editable(folder: Path, relative: str) -> dict[str, Any]:
    """One file of the policy folder as text; EditRefused(not_found) for a path that is not one of ``editable_files``."""
    path = _editable_path(folder, relative)
    data = path.read_bytes()
    return {"path": relative, "text": data.decode("utf-8", "replace"), "sha256": sha256(data)}


def _editable_path(folder: Path, relative: str) -> Path:
    known = {f["path"] for f in editable_files(folder)}
    if relative not in known:
        raise EditRefused(
            "not_found", f"文件不存在 no such file: {relative[:200]!r} is not a file of the policy folder (list: /v1/editing/files)"
        )
    return folder / relative


# ---------------------------------------------------------------- checking a proposal


@dataclass
class Proposal:
    """What the folder would be with the proposed files: its policy (None when it does not load), problems, cases."""

    policy: Policy | None
    diagnostics: list[dict[str, Any]] = field(default_factory=list)
    cases: list[dict[str, Any]] = field(default_factory=list)
    passed: int = 0
    failed: int = 0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ok": self.policy is not None and not self.failed,
            "loads": self.policy is not None,
            "digest": self.policy.digest if self.policy is not None else None,
            "diagnostics": self.diagnostics,
        }
        if self.cases or self.failed:
            out["cases"] = {"passed": self.passed, "failed": self.failed, "results": self.cases}
        return out


@contextlib.contextmanager
def _proposed_copy(folder: Path, changes: dict[str, bytes | None]) -> Iterator[Path]:
    """A temporary copy of the folder with the proposed files written into it (and the deleted ones removed)."""
    with tempfile.TemporaryDirectory(prefix="ruleengine-edit-") as scratch:
        copy = Path(scratch) / folder.name
        copy_policy_folder(folder, copy)
        for relative, data in changes.items():
            if data is None:
                (copy / relative).unlink()
            else:
                (copy / relative).write_bytes(data)
        yield copy


def check_proposal(
    folder: Path, files: dict[str, str], limits: Limits = DEFAULT_LIMITS, *, cases: bool = True, deleted: Iterable[str] = ()
) -> Proposal:
    """Load the folder as it would be with ``files`` (replaced or new) and without ``deleted``, and (``cases``) run its
    regression cases; nothing is written to ``folder``."""
    return _check_changes(folder, checked_changes(folder, files, deleted), limits, cases=cases)


def _check_changes(folder: Path, changes: dict[str, bytes | None], limits: Limits, *, cases: bool = True) -> Proposal:
    with _proposed_copy(folder, changes) as copy:
        try:
            policy = load_policy(copy, limits=limits)
        except PolicyError as exc:
            return Proposal(None, [_diagnostic(d, copy) for d in exc.diagnostics])
        if not cases:
            return Proposal(policy)
        results: list[CaseResult] = []
        summary = run_policy_cases(policy, copy, each=results)
        rows = [_case_row(r, copy) for r in results]
        rows += [
            {"file": in_folder(f.file, copy), "line": f.line, "name": f.name, "status": f.status, "message": f.message}
            for f in summary.failures
            if f.status == "problem"
        ]
        return Proposal(policy, [], rows, summary.passed, summary.failed)


def _case_row(result: CaseResult, root: Path) -> dict[str, Any]:
    row: dict[str, Any] = {
        "file": in_folder(result.case.file, root),
        "line": result.case.line,
        "name": result.case.name,
        "status": result.status,
    }
    if not result.passed:
        row["message"] = result.message
        row["mismatches"] = [
            {"path": m.path, "expected": _plain(m.expected), "actual": _plain(m.actual), "rules": list(m.writers)}
            for m in result.mismatches
        ]
    return row


def _plain(value: Any) -> Any:
    text = json.dumps(value, default=str, ensure_ascii=False)
    return json.loads(text) if type(value).__name__ != "_Missing" else None




ZH_CODES = {
    "expression_syntax": "表达式语法错误",
    "expression_type": "表达式的类型不符",
    "hidden_errors": "其他文件中关于未知名称的错误暂不显示：此文件可能定义了它们，请先修正此文件",
    "yaml": "YAML 语法错误",
    "syntax": "语法错误",
    "parse": "表达式无法解析",
    "schema": "不符合规则文件的格式",
    "type": "类型不符",
    "unknown_name": "未知的名称",
    "unknown_parameter": "未知的参数",
    "unknown_field": "未知的字段",
    "duplicate_key": "键重复",
    "duplicate_id": "规则编号重复",
    "duplicate_parameter": "参数重复",
    "parameter_type": "参数的值不符合类型",
}


_DID_YOU_MEAN = re.compile(r"did you mean '([^']+)'")
_NAMED = re.compile(r"(?:field|name|parameter|key) '([^']+)'")


def zh_diagnostic(code: str, message: str = "") -> str:
    """The Chinese a policy author reads for a diagnostic's code, with the name it is about and the suggestion
    when the English message carries them (the English message stays beside it)."""
    zh = ZH_CODES.get(code) or next(
        (text for key, text in ZH_CODES.items() if code.startswith(key + "_") or code.endswith("_" + key)), "规则有误"
    )
    named = _NAMED.search(message)
    if named:
        zh += f"「{named.group(1)}」"
    suggestion = _DID_YOU_MEAN.search(message)
    if suggestion:
        zh += f"，是否应为「{suggestion.group(1)}」？"
    return zh


def _diagnostic(d: Diagnostic, root: Path) -> dict[str, Any]:
    file = in_folder(d.file, root)
    zh = zh_diagnostic(d.code, d.message)
    return {
        "file": file,
        "line": d.line,
        "column": d.column,
        "code": d.code,
        "severity": d.severity,
        "zh": f"{file} 第 {d.line} 行第 {d.column} 列：{zh}",
        "en": f"{file}:{d.line}:{d.column}: {d.code}: {d.message}",
        "message": d.message,
    }


# ---------------------------------------------------------------- publishing and reverting


def publish_log_path(folder: Path, configured: Path | None) -> Path:
    """The publish log: the configured path, else ``<folder>.publish-log.jsonl`` beside the folder."""
    return configured if configured is not None else folder.parent / f"{folder.name}.publish-log.jsonl"


def publish_edit(
    folder: Path,
    files: dict[str, str],
    *,
    who: str,
    message: str,
    log: Path,
    served: Policy,
    deleted: Iterable[str] = (),
    override_failing_cases: bool = False,
    limits: Limits = DEFAULT_LIMITS,
) -> dict[str, Any]:
    """Check the proposal, write, create and delete its files atomically in ``folder``, record it; the record is returned.

    Refused (EditRefused ``policy``) when it does not load, (``cases``) when a case fails and
    ``override_failing_cases`` is not set. ``served`` is the policy served now (its digest is "before").
    """
    if not message.strip():
        raise EditRefused("request", "请写明发布说明 a publish needs a message (what changed and why)", pointer="/message")
    with _locked(log):
        changes = checked_changes(folder, files, deleted)
        proposal = _check_changes(folder, changes, limits)
        if proposal.policy is None:
            raise EditRefused(
                "policy", "规则无法加载，未发布 the proposed policy does not load; nothing was published", diagnostics=proposal.diagnostics
            )
        if proposal.failed and not override_failing_cases:
            raise EditRefused(
                "cases",
                f"{proposal.failed} 个回归用例未通过，未发布 {proposal.failed} regression case(s) fail; nothing was published "
                "(send override_failing_cases: true to publish anyway)",
                cases=proposal.to_dict()["cases"],
            )
        before = {r: _read(folder / r) for r in changes}
        changed = {r: data for r, data in changes.items() if data != before[r]}
        if not changed:
            raise EditRefused("request", "没有改动 the proposed files are the same as the folder's: nothing to publish")
        apply_atomically(folder, changed)
        head = {"action": "publish", "at": _now(), "who": who, "message": message}
        tail = {"override_failing_cases": bool(override_failing_cases and proposal.failed)}
        return _recorded(log, folder, head, before, changed, (served.digest, proposal.policy.digest), proposal, tail)


def _read(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None


def _texts(files: dict[str, bytes | None], changed: dict[str, bytes | None]) -> dict[str, str | None]:
    """The changed files' texts in ``files`` (null: the file is not there: created, or deleted)."""
    return {r: None if files[r] is None else files[r].decode("utf-8", "replace") for r in sorted(changed)}  # type: ignore[union-attr]


def _files_of(before: dict[str, bytes | None], after: dict[str, bytes | None]) -> dict[str, list[str]]:
    """The changed files of a record, and which of them were created and deleted."""
    return {
        "files": sorted(after),
        "created": sorted(r for r in after if before[r] is None),
        "deleted": sorted(r for r in after if after[r] is None),
    }


def revert_last(
    folder: Path, *, who: str, message: str, log: Path, served: Policy, allow_failing_cases: bool = False, limits: Limits = DEFAULT_LIMITS
) -> dict[str, Any]:
    """Undo the last publish not undone yet: its files get their texts from before it; recorded as a revert.

    Refused like a publish when the files before it no longer load, or (unless ``allow_failing_cases``) fail their cases.
    """
    with _locked(log):
        records = _records(log)
        reverted = {r.get("reverts") for r in records if r.get("action") == "revert"}
        target = next((r for r in reversed(records) if r.get("action") == "publish" and r.get("id") not in reverted), None)
        if target is None:
            raise EditRefused("conflict", "没有可撤销的发布 there is no publish to revert in the publish log")
        for relative, text in target["after"].items():
            if _read(folder / relative) != (None if text is None else text.encode("utf-8")):
                raise EditRefused(
                    "conflict",
                    f"{relative} 在发布后又被修改，无法撤销 {relative} changed after publish {target['id']}; edit it instead",
                )
        restore = checked_changes(
            folder,
            {r: t for r, t in target["before"].items() if t is not None},
            [r for r, t in target["before"].items() if t is None],
            restoring=True,
        )
        proposal = _check_changes(folder, restore, limits)
        if proposal.policy is None:
            raise EditRefused(
                "policy", "撤销后的规则无法加载 the policy before that publish does not load any more", diagnostics=proposal.diagnostics
            )
        current = {r: _read(folder / r) for r in restore}
        apply_atomically(folder, restore)
        text = message.strip() or f"撤销发布 revert publish {target['id']}: {target['message']}"
        head = {"action": "revert", "at": _now(), "who": who, "message": text, "reverts": target["id"]}
        return _recorded(log, folder, head, current, restore, (served.digest, proposal.policy.digest), proposal, {})


def _recorded(
    log: Path,
    folder: Path,
    head: dict[str, Any],
    before: dict[str, bytes | None],
    after: dict[str, bytes | None],
    digests: tuple[str, str],
    proposal: Proposal,
    tail: dict[str, Any],
) -> dict[str, Any]:
    """A publish's or a revert's record (the files, digests, cases, diff and texts), committed and logged."""
    record = {
        **head,
        **_files_of(before, after),
        "digest_before": digests[0],
        "digest_after": digests[1],
        "cases": {"passed": proposal.passed, "failed": proposal.failed},
        **tail,
        "diff": _diff(before, after),
        "before": _texts(before, after),
        "after": _texts(after, after),
    }
    record["commit"] = _git_commit(folder, sorted(after), head["who"], head["message"])
    _append(log, record)
    return record


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _diff(before: dict[str, bytes | None], after: dict[str, bytes | None]) -> str:
    parts: list[str] = []
    for relative in sorted(after):
        old, new = before.get(relative), after[relative]
        old_lines = (old or b"").decode("utf-8", "replace").splitlines(keepends=True)
        new_lines = (new or b"").decode("utf-8", "replace").splitlines(keepends=True)
        names = ("/dev/null" if old is None else f"a/{relative}", "/dev/null" if new is None else f"b/{relative}")
        parts += difflib.unified_diff(old_lines, new_lines, *names)
    return "".join(line if line.endswith("\n") else line + "\n" for line in parts)


@contextlib.contextmanager
def _locked(log: Path) -> Iterator[None]:
    """One publish or revert at a time (several workers may serve the same folder)."""
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        handle = open(log.with_name(log.name + ".lock"), "a")  # noqa: SIM115 - held for the whole block
    except OSError as exc:
        raise EditRefused("publish", f"无法使用发布记录 cannot use the publish log {log}: {exc.strerror or exc}") from None
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _records(log: Path) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    out = []
    for line in log.read_text(encoding="utf-8").splitlines():
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if isinstance(record, dict):
                out.append(record)
    return out


def _append(log: Path, record: dict[str, Any]) -> None:
    records = _records(log)
    record["id"] = 1 + max((r.get("id", 0) for r in records if isinstance(r.get("id"), int)), default=0)
    line = json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n"
    try:
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise EditRefused(
            "publish", f"已写入文件但无法记录 the files were written but the publish log {log} could not be: {exc.strerror or exc}"
        ) from None


def _git_commit(folder: Path, files: list[str], who: str, message: str) -> str | None:
    """Commit the files when the folder is in a git work tree (the commit's id), else None; git's own failure is recorded."""

    def git(*args: str) -> subprocess.CompletedProcess[bytes]:
        env = {**os.environ, "GIT_AUTHOR_NAME": who, "GIT_AUTHOR_EMAIL": f"{who}@ruleengine.invalid"}
        env.setdefault("GIT_COMMITTER_NAME", "ruleengine")
        env.setdefault("GIT_COMMITTER_EMAIL", "ruleengine@ruleengine.invalid")
        return subprocess.run(["git", "-C", str(folder), *args], capture_output=True, timeout=60, env=env, check=False)

    try:
        inside = git("rev-parse", "--is-inside-work-tree")
        if inside.returncode != 0 or inside.stdout.strip() != b"true":
            return None
        added = git("add", "--", *files)
        done = git("commit", "--no-verify", "-m", message, "--", *files) if added.returncode == 0 else added
        if done.returncode != 0:
            return "failed: " + (done.stderr or done.stdout).decode(errors="replace").strip()[:500]
        return git("rev-parse", "HEAD").stdout.decode().strip()
    except (OSError, subprocess.SubprocessError) as exc:
        return f"failed: {exc}"
