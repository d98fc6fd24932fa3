"""uvicorn's HTTP connections with a deadline for each request's head: slow clients (slowloris) are cut off.

uvicorn times out an idle keep-alive connection (``timeout_keep_alive``) and caps the
connections it serves (``limit_concurrency``: 503 past it), but a connection that sends
its request line and headers a byte at a time, or nothing at all, is kept forever. Here a
request's head must arrive within ``--header-timeout`` seconds of the connection opening
or of the request's first byte; otherwise the client gets 408 and the connection closes.

At shutdown uvicorn closes every connection without a request in progress at once; one
accepted just before the listener closed, whose request is on its way, is then reset. Here
such a connection gets a moment (``LAST_REQUEST_SECONDS``) for that request, which is
answered with ``Connection: close``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["ServiceConfig", "TimedHeadProtocol"]

LAST_REQUEST_SECONDS = 0.5
"""At shutdown, how long an idle connection may still bring a request before it is closed."""

_LATE_TEXT = b"the request headers did not arrive in time\n"
_LATE = b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
_LATE += b"content-length: " + str(len(_LATE_TEXT)).encode() + b"\r\n\r\n" + _LATE_TEXT


class ServiceConfig(uvicorn.Config):
    """uvicorn's configuration and the head deadline; picklable, so worker processes get it too."""

    def __init__(self, app: Any, *, header_timeout: float = 10.0, **options: Any) -> None:
        super().__init__(app, **options)
        self.header_timeout = header_timeout


class TimedHeadProtocol(HttpToolsProtocol):
    """uvicorn's httptools connection, closed with 408 when a request's head does not arrive in time."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_seconds: float = getattr(self.config, "header_timeout", 10.0)
        self._head_timer: asyncio.TimerHandle | None = None
        self._last_request = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_waiting()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._head_timer is None:
            self._await_head()

    def on_headers_complete(self) -> None:
        self._stop_waiting()
        super().on_headers_complete()
        if self._last_request and self.cycle is not None:
            self.cycle.keep_alive = False  # answered, then closed

    def shutdown(self) -> None:
        """uvicorn's graceful shutdown: an idle connection is closed after a last moment for a request already sent."""
        if self.cycle is None or self.cycle.response_complete:
            self._last_request = True
            self.loop.call_later(LAST_REQUEST_SECONDS, self._close_if_idle)
        else:
            super().shutdown()

    def _close_if_idle(self) -> None:
        if self.cycle is None or self.cycle.response_complete:
            if not self.transport.is_closing():
                self.transport.close()
        else:
            self.cycle.keep_alive = False

    def _await_head(self) -> None:
        self._head_timer = self.loop.call_later(self._head_seconds, self._head_late)

    def _stop_waiting(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_late(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.write(_LATE)
            self.transport.close()
