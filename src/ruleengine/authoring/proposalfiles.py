"""Which files of a policy folder an edit may change, create or delete, and writing such a change all or nothing.

A proposal names files by their path relative to the policy folder (``/``-separated). An existing file
may be replaced or deleted when it is one of the folder's policy or case files; a new file may be created
only as a ``.yaml`` file directly inside a folder that already holds such files (``guarantees/``,
``cases/``, …), under a plain name: no ``..``, no hidden names, no absolute path, nothing through a link.
:func:`apply_atomically` writes every new text under a temporary name first, then renames each into
place and moves each deleted file aside; if any step fails, the steps already done are undone, so the
folder holds the old policy or the new one whole.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..compile.policyfolder import policy_files
from ..durable import fsync_folder
from .gate import case_files_of

__all__ = ["MAX_FILE_BYTES", "EditRefused", "apply_atomically", "checked_changes", "editable_files", "new_file_folders", "sha256"]

MAX_FILE_BYTES = 1 << 20
MAX_PATH = 200
_NAME = re.compile(r"\w[\w.\-]*")
"""One part of a new file's path: letters (Chinese too), digits, ``_``, ``-``, ``.``; not starting with a dot."""


class EditRefused(Exception):
    """An edit that cannot be done as asked: ``kind`` (not_found, request, policy, cases, conflict, publish), a message, details."""

    def __init__(self, kind: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.kind, self.message, self.extra = kind, message, extra


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def editable_files(folder: Path) -> list[dict[str, Any]]:
    """The policy's files and its regression case files: path (relative, /-separated), kind, size and SHA-256."""
    out = []
    cases = set(case_files_of(folder))
    for path in sorted({*policy_files(folder), *cases}, key=lambda p: p.relative_to(folder).as_posix()):
        if path.is_symlink():
            continue
        data = path.read_bytes()
        kind = "cases" if path in cases else "policy"
        out.append({"path": path.relative_to(folder).as_posix(), "kind": kind, "bytes": len(data), "sha256": sha256(data)})
    return out


def new_file_folders(folder: Path) -> list[str]:
    """The folders a new file may be created in: the policy folder's subfolders that already hold one of its files."""
    real = Path(os.path.realpath(folder))
    out = set()
    for entry in editable_files(folder):
        parent = entry["path"].rpartition("/")[0]
        if parent and _plain_folder(folder, parent, real):
            out.add(parent)
    return sorted(out)


def _plain_folder(folder: Path, relative: str, real: Path) -> bool:
    """Whether ``relative`` is a real folder inside ``folder``, reached through no link."""
    here = folder
    for part in relative.split("/"):
        here = here / part
        if here.is_symlink() or not here.is_dir():
            return False
    return Path(os.path.realpath(here)).is_relative_to(real)


def _refuse(relative: str, zh: str, en: str) -> EditRefused:
    return EditRefused("request", f"{zh} {relative[:MAX_PATH]!r}: {en}", pointer=f"/files/{relative[:MAX_PATH]}")


def _new_path(folder: Path, relative: str, folders: list[str] | None) -> None:
    """EditRefused unless ``relative`` may be created: a plain .yaml name in one of ``folders`` (None: in any plain folder
    inside, for a revert putting back a file a publish deleted), not there yet."""
    parts = relative.split("/")
    where = "、".join(f"{f}/" for f in folders or []) or "—"
    plain = len(relative) <= MAX_PATH and "\\" not in relative and all(_NAME.fullmatch(part) for part in parts)
    if not plain or not relative.endswith(".yaml") or len(parts) < 2:
        raise _refuse(
            relative,
            "新文件的路径无效",
            f"not a path a new file may have: a .yaml name of letters, digits, _ - . (not starting with a dot) in one of {where}",
        )
    parent = "/".join(parts[:-1])
    allowed = parent in folders if folders is not None else _plain_folder(folder, parent, Path(os.path.realpath(folder)))
    if not allowed:
        raise _refuse(relative, f"新文件只能建在 {where} 中", f"a new file goes directly in one of the folders {where}")
    if os.path.lexists(folder / relative):
        raise _refuse(relative, "已有同名文件（不是可编辑的文件）", "a file of that name exists and is not one of the editable files")


def checked_changes(
    folder: Path, files: dict[str, str], deleted: Iterable[str] = (), *, restoring: bool = False
) -> dict[str, bytes | None]:
    """The proposal as bytes per path (None: delete it), each path checked: replaced and deleted files exist, new ones
    may be made (``restoring``: a revert puts back files a publish deleted, in any plain folder inside)."""
    known = {f["path"] for f in editable_files(folder)}
    folders = None if restoring else new_file_folders(folder)
    out: dict[str, bytes | None] = {}
    for relative, text in files.items():
        if not isinstance(text, str):
            raise _refuse(relative, "文件内容须为文本", "the content must be a string")
        if relative not in known:
            _new_path(folder, relative, folders)
        data = text.encode("utf-8")
        if len(data) > MAX_FILE_BYTES:
            raise _refuse(relative, "文件过大", f"larger than {MAX_FILE_BYTES} bytes")
        out[relative] = data
    for relative in deleted:
        if not isinstance(relative, str) or relative not in known:
            shown = str(relative)[:MAX_PATH]
            raise EditRefused("request", f"要删除的文件不存在 no such file to delete: {shown!r}", pointer="/delete")
        if relative in out:
            raise EditRefused("request", f"同一文件不能既修改又删除 {relative!r} is both edited and deleted", pointer="/delete")
        out[relative] = None
    return out


def apply_atomically(folder: Path, changes: dict[str, bytes | None]) -> None:
    """Write, create and delete (None) the files: every new text staged first, then each moved into place; all or nothing."""
    pid = os.getpid()
    staged: list[tuple[Path, Path]] = []
    try:
        for relative, data in changes.items():
            if data is None:
                continue
            target = folder / relative
            temporary = target.with_name(f".{target.name}.editing-{pid}")
            with open(temporary, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            if target.exists():
                with contextlib.suppress(OSError):
                    os.chmod(temporary, target.stat().st_mode & 0o7777)
            staged.append((temporary, target))
    except OSError as exc:
        for temporary, _ in staged:
            with contextlib.suppress(OSError):
                temporary.unlink()
        raise EditRefused("publish", f"无法写入 cannot write into {folder}: {exc.strerror or exc}; nothing was changed") from None
    undo: list[tuple[Path, bytes | Path | None]] = []  # (target, its old bytes | where it was moved aside | None: it is new)
    try:
        for temporary, target in staged:
            old = target.read_bytes() if target.exists() else None
            os.replace(temporary, target)
            undo.append((target, old))
        for relative, data in changes.items():
            if data is None:
                target = folder / relative
                aside = target.with_name(f".{target.name}.deleting-{pid}")
                os.replace(target, aside)
                undo.append((target, aside))
    except OSError as exc:
        for target, was in reversed(undo):  # put back what was done: the folder holds the old policy whole
            with contextlib.suppress(OSError):
                if was is None:
                    target.unlink()
                elif isinstance(was, Path):
                    os.replace(was, target)
                else:
                    target.write_bytes(was)
        for temporary, _ in staged:
            with contextlib.suppress(OSError):
                temporary.unlink()
        raise EditRefused("publish", f"无法写入 cannot replace files in {folder}: {exc.strerror or exc}; nothing was changed") from None
    for _, was in undo:
        if isinstance(was, Path):
            with contextlib.suppress(OSError):
                was.unlink()
    for parent in {(folder / relative).parent for relative in changes}:
        fsync_folder(parent)
