"""Start the real decision service (``ruleengine serve``) as a child process on a free loopback port.

Shared by the service tests and the playground's browser tests: they speak
HTTP to the same process a user would start, not to an in-process app.
"""

from __future__ import annotations

import collections
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("starlette", reason="the service needs the [server] extra")


CHROMIUM = Path("/usr/bin/chromium")
"""Debian's chromium (apt-get install chromium): Playwright drives it, nothing downloads a browser."""
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",  # this machine's closed network refuses Chromium's own connections
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--lang=zh-CN",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


JSON_BODY = {"content-type": "application/json"}
"""What a client of the service sends with a JSON body (other media types get 415)."""


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path
    verify: Any = True

    def client(self, **kwargs: Any) -> httpx.Client:
        """A client that sends JSON bodies as JSON (a request can override the content type)."""
        return httpx.Client(base_url=self.url, **{"timeout": 10, "headers": JSON_BODY, "verify": self.verify, **kwargs})

    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, check: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.05)
        raise AssertionError(f"timed out after {timeout} s waiting for {what}; server output:\n{self.output()[-3000:]}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout)


class DigestTally:
    """The digest of the policy that answered each request, counted by a few client threads."""

    def __init__(self, server: Server, order: bytes, clients: int = 3) -> None:
        self.server = server
        self.order = order
        self.digests: collections.Counter[str] = collections.Counter()
        self.errors: collections.Counter[str] = collections.Counter()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._client) for _ in range(clients)]

    def _client(self) -> None:
        with self.server.client() as c:
            while not self._stop.is_set():
                response = c.post("/v1/decisions", content=self.order)
                with self._lock:
                    if response.status_code == 200:
                        self.digests[response.json()["policy"]["digest"]] += 1
                    else:
                        self.errors[str(response.status_code)] += 1

    def __enter__(self) -> DigestTally:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(30)


def default_policy_without_cases(tmp_path: Path) -> Path:
    """The policy a server started here would choose (the bundled one), without its regression cases.

    A server runs its policy's own cases before it serves it. A policy author who changes a number in
    ``rules/`` makes those cases fail until they are updated; that must not fail the engine's tests, which
    serve the default policy only to test the service. Cases are not part of a policy's digest.
    """
    from ruleengine.bundled import default_rules_dir

    copy = tmp_path / "served-policy"
    if not copy.exists():
        shutil.copytree(default_rules_dir(), copy, ignore=shutil.ignore_patterns("cases"))
    return copy


@contextmanager
def running_server(
    tmp_path: Path,
    *args: str,
    env: dict[str, str] | None = None,
    global_args: tuple[str, ...] = (),
    verify: Any = True,
    preexec_fn: Callable[[], None] | None = None,
) -> Iterator[Server]:
    """``ruleengine [global_args] serve --port P [args]``; waits until /readyz answers 200, stops it afterwards.

    With ``--ssl-certfile`` among the args it speaks HTTPS, trusting ``verify`` (a CA file or an SSL context).
    ``preexec_fn`` runs in the child before it starts (e.g. a resource limit that makes its writes fail).
    """
    port = free_port()
    scheme = "https" if "--ssl-certfile" in args else "http"
    if "--rules" not in args and not (tmp_path / "rules").exists() and "RULEENGINE_RULES" not in (env or {}):
        args = ("--rules", str(default_policy_without_cases(tmp_path)), *args)
    log_path = tmp_path / f"server-{port}.log"
    command = [sys.executable, "-m", "ruleengine.cli", *global_args, "serve", "--host", "127.0.0.1", "--port", str(port), *args]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}, cwd=tmp_path, preexec_fn=preexec_fn
        )
    server = Server(process, f"{scheme}://127.0.0.1:{port}", log_path, verify)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise AssertionError(f"the server exited with {process.returncode}:\n{server.output()}")
            try:
                if httpx.get(server.url + "/readyz", timeout=1, verify=verify).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"the server did not become ready:\n{server.output()}")
            time.sleep(0.1)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
