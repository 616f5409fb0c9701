"""``heed registry serve``: the registry's HTTP JSON API (SPEC.md §3.6) on uvicorn.

The routes are a FastAPI application (``app.py``, which lists them with their answers); this
module holds one service instance (``RegistryServer``: the store, the limits, the pool of
proof fetches and the challenge rate limiter, read by every request) and serves it with
uvicorn's h11 protocol on a socket bound at once (port 0 reports the port it got). Blocking
routes run in the threadpool; the store serialises database access and SQLite WAL lets other
processes read and write the same file.

Bounds kept from the HTTP layer up: request bodies ≤ ``max_body`` (1 MiB) and JSON nested ≤
``max_json_depth`` (32) levels, lookups ≤ ``max_batch`` URLs (10,000), each URL ≤ 8 KiB, list
pages ≤ 1,000 entries, request heads ≤ 16 KiB. A client that stalls in a request, or sits on
an idle keep-alive connection, for ``stall_timeout`` (30 s) is dropped; a request line that
cannot be HTTP is answered 400 as soon as it ends (not when the head does). The
unauthenticated routes are bounded too: at most ``max_verifications`` (4) proof fetches at
once (beyond that 503 at once), each within ``fetch_timeout`` (10 s) in all; challenges per
client address by a token bucket (``challenge_burst`` at once, then one per
``challenge_refill`` seconds) and at most ``max_pending_challenges`` pending (429 with
``Retry-After``). Every answer is JSON, the protocol's own 400s included.

``stop()`` is graceful: it stops accepting, closes idle connections and lets requests under
way finish (at most ``shutdown_grace`` seconds, then they are cancelled).
"""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from ._answer import dumps as _dumps
from ._api import ApiError, ServiceConfig
from ._limits import RateLimiter
from .store import RegistryStore

if TYPE_CHECKING:
    from fastapi import APIRouter

__all__ = ["ApiError", "RegistryServer", "ServiceConfig", "make_server", "serve_in_thread"]

#: A request line: method token, target, version (RFC 9112 §3).
_REQUEST_LINE = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+ [^ \x00-\x1f]+ HTTP/[0-9]\.[0-9]")
_MAX_HEAD = 16 * 1024


class RegistryServer:
    """One service instance: what its requests share and, once bound, its socket and server.

    ``config`` may be replaced while serving (each request reads it)."""

    def __init__(self, store: RegistryStore, config: ServiceConfig) -> None:
        self.store = store
        self.config = config
        self.verifications = threading.BoundedSemaphore(config.max_verifications)
        self.challenge_limiter = RateLimiter(config.challenge_burst, config.challenge_refill)
        self.server_address: tuple[str, int] = ("", 0)
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._serving = threading.Event()
        self._done = threading.Event()
        self._done.set()

    def bind(self, app: Any, host: str, port: int) -> None:
        """Bind and listen on ``host:port`` (0: a free port, reported in ``server_address``)."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sock.listen(1024)
        except OSError:
            sock.close()
            raise
        self._socket = sock
        self.server_address = sock.getsockname()[:2]
        config = uvicorn.Config(
            app,
            http=_protocol(self.config.stall_timeout),
            lifespan="off",
            ws="none",
            log_config=None,
            access_log=False,
            server_header=False,
            headers=[("Server", "heed-registry")],
            timeout_keep_alive=max(1, round(self.config.stall_timeout)),
            timeout_graceful_shutdown=max(1, round(self.config.shutdown_grace)),
            h11_max_incomplete_event_size=_MAX_HEAD,
        )
        self._server = uvicorn.Server(config)

    def serve_forever(self) -> None:
        """Serve until ``shutdown()`` or, in the main thread, SIGTERM (then return) or SIGINT
        (then raise ``KeyboardInterrupt``), both after a graceful stop."""
        if self._server is None or self._socket is None:
            raise RuntimeError("bind the server first")
        self._done.clear()
        self._serving.set()
        main = threading.current_thread() is threading.main_thread()
        # uvicorn stops gracefully on SIGTERM, then raises it again with the handler found
        # before: a no-op one lets serve_forever return (SIGINT raises KeyboardInterrupt).
        previous = signal.signal(signal.SIGTERM, _return) if main else None
        try:
            self._server.run(sockets=[self._socket])
        finally:
            if main:
                signal.signal(signal.SIGTERM, previous)
            self._serving.clear()
            self._done.set()

    def shutdown(self) -> None:
        """Stop serving, gracefully, and wait until ``serve_forever`` has returned."""
        if self._server is not None and self._serving.is_set():
            self._server.should_exit = True
            self._done.wait()

    def server_close(self) -> None:
        """Close the listening socket."""
        if self._socket is not None:
            self._socket.close()

    def stop(self) -> None:
        """A clean, total stop: ``shutdown()`` then ``server_close()``."""
        self.shutdown()
        self.server_close()


def _return(signum: int, frame: object) -> None:
    return


def _protocol(stall_timeout: float) -> type[H11Protocol]:
    class Protocol(_Protocol):
        stall = stall_timeout

    return Protocol


class _Protocol(H11Protocol):
    """uvicorn's h11 protocol with the service's guards: a JSON 400 for an unreadable request,
    sent as soon as its first line ends, and a timer that drops a client stalled mid-request
    (uvicorn's keep-alive timer covers idle connections)."""

    stall = 30.0
    _line = b""
    _checking = True
    _stall_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_stall()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_stall()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._cancel_stall()
        if self._checking and not self._line_ok(data):
            return
        super().data_received(data)
        if self.conn.their_state in (h11.IDLE, h11.SEND_BODY) and (
            self.timeout_keep_alive_task is None
        ):
            self._arm_stall()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # The next request's line is checked when it arrives fresh (pipelined bytes are h11's).
        if self.conn.their_state is h11.IDLE:
            self._line, self._checking = b"", not self.conn.trailing_data[0]

    def _line_ok(self, data: bytes) -> bool:
        """Check the request line once it has ended; False when refused (answered)."""
        self._line += data
        text = self._line.lstrip(b"\r\n")
        end = text.find(b"\n")
        if end < 0:
            if len(text) > _MAX_HEAD:
                self._checking = False  # h11 refuses it
            return True
        self._checking = False
        if _REQUEST_LINE.fullmatch(text[:end].rstrip(b"\r")):
            return True
        self.send_400_response("unreadable request line")
        return False

    def send_400_response(self, msg: str) -> None:
        """The protocol's 400 (an unreadable request), as JSON like every answer."""
        body = _dumps({"error": msg}).encode("utf-8")
        head = (
            "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        self.transport.write(head.encode("ascii") + body)
        self.transport.close()

    def _arm_stall(self) -> None:
        self._cancel_stall()
        self._stall_timer = self.loop.call_later(self.stall, self._stalled)

    def _cancel_stall(self) -> None:
        if self._stall_timer is not None:
            self._stall_timer.cancel()
            self._stall_timer = None

    def _stalled(self) -> None:
        if not self.transport.is_closing():
            self.transport.close()


def make_server(
    store: RegistryStore,
    host: str = "127.0.0.1",
    port: int = 0,
    config: ServiceConfig | None = None,
    *,
    routers: Sequence[APIRouter] = (),
) -> RegistryServer:
    """A bound, not yet serving, registry server (port 0 picks a free port)."""
    from .app import create_app  # app.py builds on RegistryServer

    app = create_app(store, config or ServiceConfig(), routers=routers)
    server: RegistryServer = app.state.registry
    server.bind(app, host, port)
    return server


def serve_in_thread(server: RegistryServer) -> threading.Thread:
    """Serve in a daemon thread (tests, benchmarks); stop with ``server.stop()``."""
    thread = threading.Thread(target=server.serve_forever, name="heed-registry", daemon=True)
    thread.start()
    server._serving.wait()
    return thread
