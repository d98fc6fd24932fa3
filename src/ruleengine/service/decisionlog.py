"""The decision log: one JSON line per decision, acknowledged only once its line is written.

A service must be able to say later which policy decided an order and on
what facts. Each record carries the time, the request id, the order id, the
policy digest, a SHA-256 of the facts — of the bytes the order arrived as
when it had bytes of its own, else of its canonical JSON — (the facts
themselves only when asked for, with buyer ids masked) and the decision.

Durability is a group commit on the event loop: a request adds its line to
the open group and waits; once per turn of the loop the group is written
with one ``write`` and all of its requests are released together. So a
decision is answered only after its record is in the file — in the operating
system's cache, which survives the process being killed. With ``fsync`` the
write and one ``fdatasync`` run on a thread, off the loop, while the next
group gathers; that survives a power cut too. Lines waiting are bounded
(``max_pending_bytes``): past it a request waits for room (backpressure),
nothing is dropped. A group that cannot be written is cut back off the file
(never a torn line) and its requests get :class:`DecisionLogError`; a file
torn by a crash is repaired at the next open. A log that was deleted or
moved (logrotate) is noticed at the next write and opened again;
:meth:`DecisionLog.reopen` does it on request.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import errno
import hashlib
import logging
import os
import stat
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..durable import fsync_folder
from ..runtime.decision import dumps

__all__ = ["DecisionLog", "DecisionLogError", "facts_digest", "mask_facts"]

LOG = logging.getLogger("ruleengine.service.decisionlog")

MAX_PENDING_BYTES = 8 << 20
"""Record bytes waiting to be written before requests wait for room (one group; with fsync a second one is being written)."""
PROBE_SECONDS = 2.0
"""While writes fail, how often the file is checked again even if no request comes to try a write."""
MIN_FREE_BYTES = 1 << 20
"""A log whose disk has less room than this is refused at start (and not yet healthy again while failing)."""


class DecisionLogError(Exception):
    """The decision log cannot be opened or written: the decisions waiting on it are not acknowledged."""


def facts_digest(facts: Any, received: bytes | None = None) -> str:
    """The SHA-256 of an order: of ``received``, the bytes it arrived as, when given; else of its canonical JSON.

    The bytes cost a few microseconds to hash and are what the caller can hash
    again from its own copy of the request; writing the order as canonical
    JSON first (a batch item, which has no bytes of its own) costs as much as
    a third of deciding it.
    """
    return "sha256:" + hashlib.sha256(received if received is not None else dumps(facts).encode()).hexdigest()


def mask_id(value: Any) -> Any:
    """Keep the last four characters, enough to tell two buyers apart in a support ticket, not to find one."""
    if not isinstance(value, str):
        return value
    return "*" * max(len(value) - 4, 4) + value[-4:] if len(value) > 4 else "****"


def mask_facts(facts: Any) -> Any:
    """A copy of the facts with the buyer's id masked; the rest is what the rules read."""
    if not isinstance(facts, dict) or not isinstance(facts.get("buyer"), dict):
        return facts
    return {**facts, "buyer": {**facts["buyer"], "id": mask_id(facts["buyer"].get("id"))}}


class _Group:
    """Lines written together, and who waits for them: one future per event loop, shared by its requests."""

    __slots__ = ("futures", "lines", "size")

    def __init__(self) -> None:
        self.lines: list[bytes] = []
        self.size = 0
        self.futures: dict[asyncio.AbstractEventLoop, asyncio.Future[BaseException | None]] = {}

    def future(self, loop: asyncio.AbstractEventLoop) -> asyncio.Future[BaseException | None]:
        found = self.futures.get(loop)
        if found is None:
            found = self.futures[loop] = loop.create_future()
        return found

    def release(self, error: BaseException | None) -> None:
        for loop, future in self.futures.items():
            _resolve(loop, future, error)


def _settle(future: asyncio.Future[BaseException | None], error: BaseException | None) -> None:
    if not future.done():
        future.set_result(error)  # a result, not an exception: no "never retrieved" warning when nobody waits


def _resolve(loop: asyncio.AbstractEventLoop, future: asyncio.Future[BaseException | None], error: BaseException | None) -> None:
    """Settle a future of ``loop``: directly on that loop's thread, through its queue from another thread."""
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        _settle(future, error)
        return
    with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
        loop.call_soon_threadsafe(_settle, future, error)


class DecisionLog:
    """Decision records appended to ``path``; rotation keeps ``backups`` older files of at most ``max_bytes``.

    ``backups=0`` turns rotation by size off (rotate with logrotate instead).
    ``on_result(records, error)`` is called after every write (``error``
    None) or failure, and with 0 records when the file becomes writable again.
    Records are committed from an event loop (:meth:`commit`). Constructing
    the log opens the file now: raises DecisionLogError.
    """

    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int = 64 << 20,
        backups: int = 5,
        include_facts: bool = False,
        fsync: bool = False,
        max_pending_bytes: int = MAX_PENDING_BYTES,
        on_result: Callable[[int, BaseException | None], None] | None = None,
        probe_seconds: float = PROBE_SECONDS,
    ) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.backups = backups
        self.include_facts = include_facts
        self.fsync = fsync
        self.max_pending_bytes = max_pending_bytes
        self.on_result = on_result
        self.probe_seconds = probe_seconds
        self.healthy = True
        self.last_error: str | None = None
        self.records_written = 0
        self.groups_written = 0
        self._lock = threading.Lock()
        """Guards the open group and the flags below; the file belongs to whoever set ``_writing``."""
        self._idle = threading.Condition(self._lock)
        self._open_group = _Group()
        self._room_waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[BaseException | None]]] = []
        self._flush_scheduled = False
        self._writing = False
        self._reopen_requested = False
        self._closing = False
        self._probe: asyncio.TimerHandle | None = None
        self._fsync_thread = ThreadPoolExecutor(1, thread_name_prefix="decision-log") if fsync else None
        self._fd: int | None = None
        check_writable(path)
        try:
            self._fd = self._open_file()
        except OSError as exc:
            raise DecisionLogError(f"cannot open the decision log {path}: {exc.strerror or exc}") from None

    # -- records
    def entry(
        self,
        *,
        request_id: str,
        facts: Any,
        decision: dict[str, Any] | None,
        policy_digest: str,
        error: dict[str, Any] | None = None,
        decision_json: str | None = None,
        caller: str | None = None,
        received: bytes | None = None,
    ) -> bytes:
        """One record as a line (bytes, newline included), to be committed with :meth:`commit`.

        ``decision_json`` is the decision already written as canonical JSON (the
        response's bytes): given, it is copied into the record instead of being written again.
        ``caller``: the name of the client's token when the service authenticates (never the token).
        ``received``: the bytes the order arrived as (a request body), hashed for ``facts_sha256``.
        """
        entry: dict[str, Any] = {
            "time": dt.datetime.now(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z"),
            "request_id": request_id,
            "order_id": facts.get("order_id") if isinstance(facts, dict) else None,
            "policy": policy_digest,
            "facts_sha256": facts_digest(facts, received),
        }
        if caller is not None:
            entry["caller"] = caller
        if self.include_facts:
            entry["facts"] = mask_facts(facts)
        if error is not None:
            entry["error"] = error
        if decision is not None and decision_json is None:
            entry["decision"] = decision
        text = dumps(entry)
        if decision is not None and decision_json is not None:
            text = text[:-1] + ',"decision":' + decision_json + "}"
        return (text + "\n").encode("utf-8")

    async def commit(self, lines: Sequence[bytes]) -> None:
        """Append ``lines`` (written together) and return once they are in the file; raises DecisionLogError."""
        if not lines:
            return
        loop = asyncio.get_running_loop()
        size = sum(len(line) for line in lines)
        while True:
            with self._lock:
                if self._closing:
                    raise DecisionLogError("the decision log is closed")
                group = self._open_group
                if not group.lines or group.size + size <= self.max_pending_bytes:
                    group.lines.extend(lines)
                    group.size += size
                    done = group.future(loop)
                    schedule = not self._flush_scheduled and not self._writing
                    self._flush_scheduled = self._flush_scheduled or schedule
                    break
                room = loop.create_future()
                self._room_waiters.append((loop, room))
            await room  # backpressure: a write takes the waiting group, then there is room again
        if schedule:
            loop.call_soon(self._flush)  # after the requests ready in this turn of the loop have added theirs
        error = await asyncio.shield(done)  # shielded: a cancelled request must not cancel its group's future
        if error is not None:
            raise DecisionLogError(f"the decision record was not written: {_describe(error)}")

    def _flush(self) -> None:
        """Take the open group and write it: here, on the loop, or (``fsync``) on the log's thread."""
        with self._lock:
            self._flush_scheduled = False
            if self._writing or self._closing or not self._open_group.lines:
                return  # a write in progress takes the lines next; close() writes what is left
            group, self._open_group = self._open_group, _Group()
            room, self._room_waiters = self._room_waiters, []
            self._writing = True
        for loop, future in room:
            _resolve(loop, future, None)
        if self._fsync_thread is not None:
            self._fsync_thread.submit(self._write_group, group)
        else:
            self._write_group(group)

    def _write_group(self, group: _Group) -> None:
        reopen = False
        with self._lock:
            reopen, self._reopen_requested = self._reopen_requested, False
        if reopen:
            with contextlib.suppress(OSError):
                self._reopen(reason="asked to")
        error = self._write(b"".join(group.lines))
        group.release(error)
        self._result(len(group.lines), error)
        with self._lock:
            self._writing = False
            self._idle.notify_all()
            waiting = next(iter(self._open_group.futures), None) if self._open_group.lines and not self._flush_scheduled else None
            self._flush_scheduled = self._flush_scheduled or waiting is not None
        if waiting is not None:  # lines gathered while this group was written (fsync): write them next
            with contextlib.suppress(RuntimeError):
                waiting.call_soon_threadsafe(self._flush)
        if error is not None:
            self._schedule_probe(group)

    # -- lifecycle
    def reopen(self) -> None:
        """Close and open the file again (after logrotate moved it, on SIGUSR1 or SIGHUP): now, or before the next write."""
        with self._lock:
            if self._writing or self._closing:
                self._reopen_requested = True
                return
            self._writing = True
        try:
            self._reopen(reason="asked to")
        except OSError:
            pass  # reported by _reopen; the next write tries again
        finally:
            with self._lock:
                self._writing = False
                self._idle.notify_all()

    def close(self) -> None:
        """Write every line already committed, then close the file. Later commits raise DecisionLogError."""
        with self._lock:
            self._closing = True
        if self._fsync_thread is not None:
            self._fsync_thread.shutdown(wait=True)  # the group being written, if any
        if self._probe is not None:
            self._probe.cancel()
        with self._lock:
            while self._writing:  # a write on the event loop's thread, when close() runs on another
                self._idle.wait()
            group, self._open_group = self._open_group, _Group()
            room, self._room_waiters = self._room_waiters, []
        for loop, future in room:
            _resolve(loop, future, None)  # they find the log closed
        if group.lines:
            error = self._write(b"".join(group.lines))
            group.release(error)
            self._result(len(group.lines), error)
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    # -- the file
    def _write(self, data: bytes) -> OSError | DecisionLogError | None:
        try:
            fd = self._ready_for(len(data))
            before = os.fstat(fd).st_size
            try:
                view = memoryview(data)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                if self.fsync:
                    os.fdatasync(fd)
            except OSError:
                with contextlib.suppress(OSError):  # never leave part of a group (a torn line) behind
                    os.ftruncate(fd, before)
                raise
        except (OSError, DecisionLogError) as exc:
            return exc
        return None

    def _result(self, records: int, error: BaseException | None) -> None:
        if error is None:
            self.records_written += records
            self.groups_written += 1 if records else 0
            if not self.healthy:
                LOG.warning("decision log %s is writable again", self.path)
            self.healthy, self.last_error = True, None
        else:
            if self.healthy:
                LOG.error("decision log %s cannot be written: %s", self.path, _describe(error))
            self.healthy, self.last_error = False, _describe(error)
        if self.on_result is not None:
            self.on_result(records, error)

    def _schedule_probe(self, group: _Group) -> None:
        """While failing, look at the file every ``probe_seconds`` even if no request comes to try a write."""
        loop = next(iter(group.futures), None)
        if loop is None or self.probe_seconds <= 0:
            return

        def arm() -> None:
            if self._probe is None and not self._closing:
                self._probe = loop.call_later(self.probe_seconds, self._probe_now)

        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(arm)

    def _probe_now(self) -> None:
        """Open the file again and check the disk has room: healthy again if both hold (a write will tell for sure)."""
        self._probe = None
        with self._lock:
            if self.healthy or self._closing or self._writing:
                return
            self._writing = True
        try:
            self._reopen(reason="checking it", quiet=True)
            check_writable(self.path)
        except (OSError, DecisionLogError):
            with contextlib.suppress(RuntimeError):
                self._probe = asyncio.get_running_loop().call_later(self.probe_seconds, self._probe_now)
        else:
            self._result(0, None)
        finally:
            with self._lock:
                self._writing = False
                self._idle.notify_all()

    def _ready_for(self, size: int) -> int:
        """The descriptor to write ``size`` bytes to: opened again if the file was deleted or replaced, rotated if full."""
        if self._fd is None:
            self._fd = self._open_file()
            return self._fd
        try:
            on_disk: os.stat_result | None = os.stat(self.path)
        except FileNotFoundError:
            on_disk = None
        current = os.fstat(self._fd)
        if on_disk is None or (on_disk.st_ino, on_disk.st_dev) != (current.st_ino, current.st_dev):
            self._reopen(reason="it was deleted or moved" if on_disk is None else "it was replaced")
        elif self.max_bytes and self.backups and current.st_size and current.st_size + size > self.max_bytes:
            self._rotate()
        if self._fd is None:
            raise DecisionLogError("the file is not open")
        return self._fd

    def _reopen(self, reason: str, quiet: bool = False) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
        try:
            self._fd = self._open_file()
        except OSError as exc:
            if not quiet:
                LOG.error("decision log %s cannot be opened again (%s): %s", self.path, reason, exc.strerror or exc)
            raise
        if not quiet:
            LOG.info("decision log %s opened again: %s", self.path, reason)

    def _rotate(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        for index in range(self.backups - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{index}")
            if older.exists():
                os.replace(older, self.path.with_name(f"{self.path.name}.{index + 1}"))
        os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
        self._fd = self._open_file()

    def _open_file(self) -> int:
        """Open (creating the folder and the file) for appending; a line torn by a crash is cut off first."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise OSError(0, "not a regular file (the log is appended to, rotated and repaired: give a file path)")
            _cut_torn_line(fd, info.st_size, self.path)
            if self.fsync:  # the new file's name must survive a power cut too
                fsync_folder(self.path.parent)
        except BaseException:
            os.close(fd)
            raise
        return fd


def check_writable(path: Path) -> None:
    """Raise DecisionLogError (one line, naming the path) unless a decision log can be kept at ``path``.

    The folder is created if missing; an existing file must be a regular file
    this process may append to, and the disk must have some room. The start of
    a service calls this so that a log it cannot keep stops it at once.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        problem = exc.strerror or exc
        raise DecisionLogError(f"cannot create the folder {path.parent} for the decision log {path}: {problem}") from None
    if path.is_dir():
        raise DecisionLogError(f"the decision log {path} is a folder; give a file path")
    if path.exists() and not path.is_file():
        raise DecisionLogError(f"the decision log {path} is not a regular file (it is appended to, rotated and repaired)")
    if path.exists() and not os.access(path, os.W_OK):
        raise DecisionLogError(f"the decision log {path} cannot be written (permission denied)")
    if not os.access(path.parent, os.W_OK):
        raise DecisionLogError(f"the folder of the decision log {path.parent} cannot be written (permission denied)")
    try:
        disk = os.statvfs(path.parent)
    except OSError as exc:  # pragma: no cover - the folder exists: statvfs does not fail on Linux
        raise DecisionLogError(f"cannot check the disk of the decision log {path}: {exc.strerror or exc}") from None
    if disk.f_bavail * disk.f_frsize < MIN_FREE_BYTES:
        free = disk.f_bavail * disk.f_frsize
        raise DecisionLogError(f"the disk of the decision log {path} is full ({free} bytes free; at least {MIN_FREE_BYTES} needed)")


def _cut_torn_line(fd: int, size: int, path: Path) -> None:
    """A process killed in the middle of a write can leave a last line without its newline: it was never acknowledged."""
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return
    end = size
    while end > 0:
        start = max(0, end - 65536)
        chunk = os.pread(fd, end - start, start)
        newline = chunk.rfind(b"\n")
        if newline >= 0:
            end = start + newline + 1
            break
        end = start
    os.ftruncate(fd, end)
    LOG.warning("decision log %s ended in a torn record (a crash while writing): %d bytes cut off", path, size - end)



def _describe(error: BaseException) -> str:
    if isinstance(error, OSError) and error.errno:
        return f"{error.strerror} ({errno.errorcode.get(error.errno, error.errno)})"
    if isinstance(error, OSError):
        return str(error.strerror or error)
    return str(error)
