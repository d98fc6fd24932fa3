"""Publishing a policy: checked, copied whole into a release folder, then made live by one rename.

::

    releases/
      20260513T101500.000000Z-1a2b3c4d5e6f/    a release: policy files, cases, the example orders the cases name
      20260514T083000.250000Z-9f8e7d6c5b4a/
      current -> 20260514T083000.250000Z-9f8e7d6c5b4a

The service runs with ``--rules releases/current``. A release is written
under a hidden temporary name, checked there (the copy, not the source: what
goes live is exactly what passed), flushed to disk and renamed to its final
name; only then is ``current`` replaced, by ``rename(2)`` of a new link over
it. A reader follows the link once per load, so it sees the old release or
the new one whole, never a half-copied folder or a mix of both.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..durable import fsync_folder
from ..errors import RuleEngineError
from ..limits import DEFAULT_LIMITS, Limits
from .gate import CasesFailed, CasesSummary, check_policy

__all__ = ["CURRENT", "PublishError", "Published", "copy_policy_folder", "publish", "releases_holding", "rollback"]

CURRENT = "current"
"""The link in the releases folder that names the live release."""


class PublishError(RuleEngineError):
    """The releases folder cannot be used (not writable, ``current`` is not a link, nothing to roll back to)."""

    def to_dict(self) -> dict[str, Any]:
        return {"error": "publish", "message": str(self)}


@dataclass(frozen=True)
class Published:
    release: str
    """The release's folder name in the releases folder."""
    path: Path
    name: str
    version: str
    digest: str
    cases: CasesSummary
    previous: str | None
    """The release ``current`` named before (None: the first publish)."""
    removed: list[str] = field(default_factory=list)
    """Old releases deleted to keep ``keep``."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "release": self.release,
            "path": str(self.path),
            "policy": {"name": self.name, "version": self.version, "digest": self.digest},
            "cases": {"files": self.cases.files, "passed": self.cases.passed, "failed": self.cases.failed},
            "previous": self.previous,
            "removed": self.removed,
        }


def publish(source: Path, releases: Path, *, keep: int = 5, limits: Limits = DEFAULT_LIMITS) -> Published:
    """Check ``source`` (it loads, its cases pass), copy it into a new release and make that release current.

    Raises PolicyError (CasesFailed for failing cases) with the source's own
    file:line, or PublishError; on any error ``current`` is left as it was.
    """
    if not source.is_dir():
        raise PublishError(f"{source} is not a policy folder")
    if releases.is_dir():
        _current_release(releases)  # a 'current' that is not a link is refused before the check, not after it
    checked = check_policy(source, limits)  # first on the source, so that errors name the author's files
    if checked.cases.failed:
        raise CasesFailed(checked.cases)
    with _locked(releases):
        for stale in releases.glob(".incoming-*"):  # left by a publish that was killed: nobody else holds the lock
            shutil.rmtree(stale, ignore_errors=True)
        staging = releases / f".incoming-{os.getpid()}-{dt.datetime.now(dt.UTC):%H%M%S%f}"
        try:
            copy_policy_folder(source, staging)
            copy = check_policy(staging, limits)
            if copy.policy.digest != checked.policy.digest or copy.cases.failed or copy.cases.passed != checked.cases.passed:
                raise PublishError(f"{source} changed while it was being published; nothing was published, try again")
            _fsync_tree(staging)
            name = _release_name(releases, checked.policy.digest)
            os.rename(staging, releases / name)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        previous = _point_current(releases, name)
        removed = _prune(releases, keep, keep_also={name, previous})
    policy = checked.policy
    return Published(name, releases / name, policy.name, policy.version, policy.digest, checked.cases, previous, removed)


def rollback(releases: Path, *, limits: Limits = DEFAULT_LIMITS) -> Published:
    """Make the release before the current one current again, after checking it as a publish would."""
    with _locked(releases):
        current = _current_release(releases)
        if current is None:
            raise PublishError(f"{releases / CURRENT} does not exist: nothing was published there yet")
        older = [r for r in _releases(releases) if r < current]
        if not older:
            raise PublishError(f"no release before {current} in {releases}")
        target = older[-1]
        checked = check_policy(releases / target, limits)
        if checked.cases.failed:
            raise CasesFailed(checked.cases)
        previous = _point_current(releases, target)
    policy = checked.policy
    return Published(target, releases / target, policy.name, policy.version, policy.digest, checked.cases, previous)


@contextlib.contextmanager
def _locked(releases: Path) -> Iterator[None]:
    """One publish at a time per releases folder (two at once would race for ``current``)."""
    try:
        releases.mkdir(parents=True, exist_ok=True)
        handle = open(releases / ".publish.lock", "a")  # noqa: SIM115 - held for the whole block
    except OSError as exc:
        raise PublishError(f"cannot use the releases folder {releases}: {exc.strerror or exc}") from None
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def copy_policy_folder(source: Path, staging: Path) -> None:
    """The folder (hidden files and editor leftovers aside) and, when its cases name example orders, those orders."""
    hidden = shutil.ignore_patterns(".*", "*~", "*.swp", "__pycache__")
    try:
        shutil.copytree(source, staging, ignore=hidden, symlinks=False)
        examples = _examples_folder(source)
        if examples is not None and not (staging / "examples" / "orders").exists():
            # Case files find orders in an examples/orders folder above them; the release carries its own.
            (staging / "examples" / "orders").mkdir(parents=True)
            for order in sorted(examples.glob("*.json")):
                shutil.copy2(order, staging / "examples" / "orders" / order.name)
    except OSError as exc:
        raise PublishError(f"cannot copy {source} into {staging.parent}: {exc}") from None


def _examples_folder(source: Path) -> Path | None:
    for folder in [source.resolve(), *source.resolve().parents]:
        candidate = folder / "examples" / "orders"
        if candidate.is_dir():
            return candidate
    return None


def _fsync_tree(root: Path) -> None:
    """Files, then folders: the release is on disk before any link names it (a power cut leaves the old one)."""
    for dirpath, _dirs, names in os.walk(root, topdown=False):
        for name in names:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_folder(Path(dirpath))
    fsync_folder(root.parent)



def _release_name(releases: Path, digest: str) -> str:
    # Microseconds, so that releases published within one second still sort in the order they were made
    # (pruning keeps the newest by name).
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    base = f"{stamp}-{digest.removeprefix('sha256:')[:12]}"
    name, n = base, 1
    while (releases / name).exists():
        n += 1
        name = f"{base}-{n}"
    return name


def releases_holding(folder: Path) -> Path | None:
    """The releases folder when ``folder`` is a release or inside one (``releases/current`` too), else None.

    A releases folder is one with a ``current`` link or the lock file a publish leaves; a release is never
    changed in place (what went live is what was checked), so an editor must refuse to write into one.
    """
    real = Path(os.path.realpath(folder))
    for candidate in (real, *real.parents):
        parent = candidate.parent
        if parent != candidate and ((parent / CURRENT).is_symlink() or (parent / ".publish.lock").is_file()):
            return parent
    return None


def _current_release(releases: Path) -> str | None:
    link = releases / CURRENT
    if not link.is_symlink():
        if link.exists():
            raise PublishError(f"{link} is not a symbolic link; move it away (publish replaces it with a link to a release)")
        return None
    return Path(os.readlink(link)).name


def _point_current(releases: Path, name: str) -> str | None:
    """Replace the ``current`` link in one rename; returns the release it named before."""
    previous = _current_release(releases)
    temporary = releases / f".{CURRENT}-{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    try:
        os.symlink(name, temporary)  # relative: the releases folder can be moved or mounted elsewhere
        os.replace(temporary, releases / CURRENT)
        fsync_folder(releases)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise PublishError(f"cannot point {releases / CURRENT} at {name}: {exc.strerror or exc}") from None
    return previous


def _releases(releases: Path) -> list[str]:
    """Release folders by age (their names start with the UTC time of the publish)."""
    return sorted(p.name for p in releases.iterdir() if p.is_dir() and not p.is_symlink() and not p.name.startswith("."))


def _prune(releases: Path, keep: int, keep_also: set[str | None]) -> list[str]:
    names = _releases(releases)
    removed = []
    for name in names[: max(0, len(names) - keep)]:
        if name in keep_also:
            continue
        shutil.rmtree(releases / name, ignore_errors=True)
        removed.append(name)
    return removed
