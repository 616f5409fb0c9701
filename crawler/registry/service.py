"""``heed registry serve``: the registry's HTTP JSON API (SPEC.md §3.6).

Built on the standard library's ``ThreadingHTTPServer`` (HTTP/1.1 keep-alive); the store
serialises database access and SQLite WAL lets other processes read and write the same file.
Routes (described in ``openapi.py``, served at ``/openapi.json``):

- ``GET /v1/health``; ``POST /v1/lookup`` (batch, open to all); ``GET /v1/entries``,
  ``GET /v1/entries/{id}`` (open);
- ``POST /v1/entries``, ``DELETE /v1/entries/{id}``: need ``Authorization: Bearer <token>``,
  a token created with ``heed registry token add`` (only its SHA-256 is stored);
- ``POST /v1/challenges`` and ``POST /v1/challenges/{id}/verify``: a site owner registers an
  entry for their own origin without a token by publishing the challenge (``site_owner.py``).

Bounds: request bodies ≤ ``max_body`` (1 MiB) and JSON nested ≤ ``max_json_depth`` (32)
levels, lookups ≤ ``max_batch`` URLs (10,000), each URL ≤ 8 KiB, list pages ≤ 1,000 entries;
a stalled client is dropped after 30 s. The unauthenticated routes are bounded too: at most
``max_verifications`` (4) proof fetches at once (beyond that 503 at once), each within
``fetch_timeout`` (10 s) in all; challenges per client address by a token bucket
(``challenge_burst`` at once, then one per ``challenge_refill`` seconds) and at most
``max_pending_challenges`` pending (429 with ``Retry-After``).

Every answer, errors included, is JSON; errors are ``{"error": "..."}`` with 400 (malformed,
too deep, an expiry in the past), 401 (no/wrong token), 404, 405 (with ``Allow``, for any
method a route does not take), 411, 413, 422 (validation, failed verification), 410 (challenge
expired), 429, 503, 500 (store failure or a fault of the service).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from filters.errors import RegistryError, RegistryValidationError
from filters.model import Purpose
from filters.registry import entry_from_dict, entry_to_dict

from . import site_owner
from ._answer import dumps as _dumps
from ._answer import lookup_body as _lookup_body
from ._api import ApiError, ServiceConfig, refuse_past_expiry
from ._limits import RateLimiter, nested_deeper_than
from .openapi import openapi_document
from .store import RegistryStore

__all__ = ["ApiError", "RegistryServer", "ServiceConfig", "make_server", "serve_in_thread"]

log = logging.getLogger(__name__)

_MAX_URL = 8192
_ENTRY_PATH = re.compile(r"^/v1/entries/([A-Za-z0-9._:-]{1,128})$")
_VERIFY_PATH = re.compile(r"^/v1/challenges/([A-Za-z0-9_-]{1,64})/verify$")
#: Methods of each fixed route (the ``Allow`` of a 405); the {id} routes are in ``_allowed``.
_METHODS = {
    "/v1/health": ("GET",),
    "/openapi.json": ("GET",),
    "/v1/lookup": ("POST",),
    "/v1/entries": ("GET", "POST"),
    "/v1/challenges": ("POST",),
}


class RegistryServer(ThreadingHTTPServer):
    """The HTTP server, holding the store and the configuration for its handlers."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], store: RegistryStore, config: ServiceConfig):
        self.store = store
        self.config = config
        self.verifications = threading.BoundedSemaphore(config.max_verifications)
        self.challenge_limiter = RateLimiter(config.challenge_burst, config.challenge_refill)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def stop(self) -> None:
        """Stop serving and drop every open keep-alive connection (a clean, total stop)."""
        self.shutdown()
        self.server_close()
        with self._open_lock:
            open_now = list(self._open)
        for sock in open_now:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "heed-registry"
    timeout = 30
    server: RegistryServer
    _consumed = False

    def log_message(self, format: str, *args: Any) -> None:  # quiet; the operator's proxy logs
        return

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The standard library's error answers, as JSON. An unknown method (its 501) is
        routed like any other, so it gets a 405 with ``Allow`` (or a 404)."""
        if code == HTTPStatus.NOT_IMPLEMENTED and self.command and hasattr(self, "headers"):
            self._dispatch(self.command)
            return
        if self.request_version == "HTTP/0.9":  # an unreadable request line: answer in 1.x
            self.request_version = "HTTP/1.0"
        self.close_connection = True
        data = _dumps({"error": message or HTTPStatus(code).phrase}).encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _dispatch(self, method: str) -> None:
        self._consumed = False
        headers: dict[str, str] = {}
        try:
            status, body = self._route(method, urlsplit(self.path))
        except ApiError as e:
            status, body, headers = e.status, {"error": e.message}, e.headers
        except RegistryValidationError as e:
            status, body = 422, {"error": str(e)}
        except RegistryError as e:
            status, body = 500, {"error": str(e)}
        except Exception:  # a fault of the service: still a JSON answer, never a dropped line
            log.exception("registry service: %s %s failed", method, self.path)
            status, body = 500, {"error": "internal error"}
        self._send(status, body, headers)

    def _send(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
        data = body if isinstance(body, bytes) else _dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if status == 401:
            self.send_header("WWW-Authenticate", 'Bearer realm="heed-registry"')
        unread = not self._consumed and self.headers.get("Content-Length", "0") != "0"
        if status in (400, 411, 413) or unread or self.headers.get("Transfer-Encoding"):
            self.send_header("Connection", "close")  # a body was (partly) left unread
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _route(self, method: str, url: Any) -> tuple[int, object]:
        path = url.path
        routes = {
            ("GET", "/v1/health"): self._health,
            ("GET", "/openapi.json"): lambda: (200, openapi_document()),
            ("POST", "/v1/lookup"): self._lookup,
            ("GET", "/v1/entries"): lambda: self._list(parse_qs(url.query)),
            ("POST", "/v1/entries"): self._add,
            ("POST", "/v1/challenges"): self._challenge,
        }
        handler = routes.get((method, path))
        if handler is not None:
            return handler()
        if (match := _ENTRY_PATH.match(path)) and method in ("GET", "DELETE"):
            return self._show(match.group(1)) if method == "GET" else self._remove(match.group(1))
        if (match := _VERIFY_PATH.match(path)) and method == "POST":
            return self._verify(match.group(1))
        allowed = _allowed(path)
        if allowed:
            raise ApiError(405, f"{method} not allowed here", {"Allow": ", ".join(allowed)})
        raise ApiError(404, "no such route")

    # Helpers -----------------------------------------------------------------------------

    def _json_body(self) -> Any:
        if self.headers.get("Transfer-Encoding"):
            raise ApiError(411, "send a Content-Length, not a chunked body")
        length_text = self.headers.get("Content-Length")
        if length_text is None:
            raise ApiError(411, "Content-Length required")
        try:
            length = int(length_text)
        except ValueError as e:
            raise ApiError(400, "bad Content-Length") from e
        if length < 0:
            raise ApiError(400, "bad Content-Length")
        if length > self.server.config.max_body:
            raise ApiError(413, f"body larger than {self.server.config.max_body} bytes")
        raw = self.rfile.read(length)
        self._consumed = True
        depth = self.server.config.max_json_depth
        try:
            value = json.loads(raw)
        except RecursionError as e:
            raise ApiError(400, f"JSON nested deeper than {depth} levels") from e
        except (ValueError, UnicodeDecodeError) as e:
            raise ApiError(400, f"body is not JSON: {e}") from e
        # Fewer opening brackets than the bound cannot nest deeper (a C-speed test on bytes).
        if raw.count(b"[") + raw.count(b"{") > depth and nested_deeper_than(value, depth):
            raise ApiError(400, f"JSON nested deeper than {depth} levels")
        return value

    def _auth(self) -> str:
        header = self.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "a bearer token is required for writes")
        name = self.server.store.check_token(token.strip())
        if name is None:
            raise ApiError(401, "invalid token")
        return name

    # Handlers ----------------------------------------------------------------------------

    def _health(self) -> tuple[int, object]:
        self.server.store.get("")  # one indexed read: proves the database answers
        return 200, {"status": "ok"}

    def _lookup(self) -> tuple[int, object]:
        body = self._json_body()
        if not isinstance(body, dict) or not isinstance(body.get("urls"), list):
            raise ApiError(400, 'expected {"urls": [...]}')
        urls = body["urls"]
        if len(urls) > self.server.config.max_batch:
            raise ApiError(413, f"at most {self.server.config.max_batch} URLs per lookup")
        if not all(isinstance(u, str) and 0 < len(u) <= _MAX_URL for u in urls):
            raise ApiError(400, f"every URL must be a non-empty string of ≤ {_MAX_URL} chars")
        purpose = None
        if body.get("purpose") is not None:
            try:
                purpose = Purpose(body["purpose"])
            except ValueError as e:
                raise ApiError(422, f"unknown purpose {body['purpose']!r}") from e
        found = self.server.store.candidates(urls)
        return 200, _lookup_body(found, list(dict.fromkeys(urls)), purpose)

    def _list(self, query: dict[str, list[str]]) -> tuple[int, object]:
        try:
            limit = int(query.get("limit", ["100"])[0])
        except ValueError as e:
            raise ApiError(400, "limit must be an integer") from e
        if not 1 <= limit <= 1000:
            raise ApiError(400, "limit must be 1-1000")
        host = query.get("host", [None])[0]
        after = query.get("after", [""])[0]
        entries = self.server.store.list(host=host, after=after, limit=limit)
        following = entries[-1].id if len(entries) == limit else None
        return 200, {"entries": [entry_to_dict(e) for e in entries], "next": following}

    def _show(self, entry_id: str) -> tuple[int, object]:
        entry = self.server.store.get(entry_id)
        if entry is None:
            raise ApiError(404, f"no entry {entry_id}")
        return 200, {"entry": entry_to_dict(entry)}

    def _add(self) -> tuple[int, object]:
        name = self._auth()
        entry = entry_from_dict(self._json_body(), default_by=f"token:{name}")
        refuse_past_expiry(entry)
        self.server.store.add(entry)
        return 201, {"entry": entry_to_dict(entry)}

    def _remove(self, entry_id: str) -> tuple[int, object]:
        self._auth()
        if not self.server.store.remove(entry_id):
            raise ApiError(404, f"no entry {entry_id}")
        return 200, {"removed": entry_id}

    def _challenge(self) -> tuple[int, object]:
        client = str(self.client_address[0])
        return 201, site_owner.create_challenge(self.server, client, self._json_body)

    def _verify(self, challenge_id: str) -> tuple[int, object]:
        return 201, site_owner.verify_challenge(self.server, challenge_id)


def _allowed(path: str) -> tuple[str, ...]:
    """The methods a path takes (empty: no such route)."""
    if path in _METHODS:
        return _METHODS[path]
    if _ENTRY_PATH.match(path):
        return ("GET", "DELETE")
    if _VERIFY_PATH.match(path):
        return ("POST",)
    return ()


def make_server(
    store: RegistryStore,
    host: str = "127.0.0.1",
    port: int = 0,
    config: ServiceConfig | None = None,
) -> RegistryServer:
    """A bound, not yet serving, registry server (port 0 picks a free port)."""
    return RegistryServer((host, port), store, config or ServiceConfig())


def serve_in_thread(server: RegistryServer) -> threading.Thread:
    """Serve in a daemon thread (tests, benchmarks); stop with ``server.shutdown()``."""
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="heed-registry", daemon=True
    )
    thread.start()
    return thread
