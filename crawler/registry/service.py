"""``heed registry serve``: the registry's HTTP JSON API (SPEC.md §3.6).

Built on the standard library's ``ThreadingHTTPServer`` (HTTP/1.1 keep-alive); the store
serialises database access and SQLite WAL lets other processes read and write the same file.
Routes (described in ``openapi.py``, served at ``/openapi.json``):

- ``GET /v1/health``; ``POST /v1/lookup`` (batch, open to all); ``GET /v1/entries``,
  ``GET /v1/entries/{id}`` (open);
- ``POST /v1/entries``, ``DELETE /v1/entries/{id}``: need ``Authorization: Bearer <token>``,
  a token created with ``heed registry token add`` (only its SHA-256 is stored);
- ``POST /v1/challenges`` and ``POST /v1/challenges/{id}/verify``: a site owner registers an
  entry for their own origin without a token by publishing the challenge (``verify.py``).

Bounds: request bodies ≤ ``max_body`` (1 MiB), lookups ≤ ``max_batch`` URLs (10,000), each
URL ≤ 8 KiB, list pages ≤ 1,000 entries; a stalled client is dropped after 30 s. Errors are
JSON ``{"error": "..."}`` with 400 (malformed), 401 (no/wrong token), 404, 405, 411, 413, 422
(validation), 410 (challenge expired), 500 (store failure).
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import socket
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from filters.errors import RegistryError, RegistryValidationError
from filters.model import Purpose
from filters.registry import entry_from_dict, entry_to_dict

from . import verify
from ._answer import dumps as _dumps
from ._answer import lookup_body as _lookup_body
from .openapi import openapi_document
from .store import RegistryStore

__all__ = ["ApiError", "RegistryServer", "ServiceConfig", "make_server", "serve_in_thread"]

_MAX_URL = 8192
_CHALLENGE_TTL = timedelta(hours=1)
_ENTRY_PATH = re.compile(r"^/v1/entries/([A-Za-z0-9._:-]{1,128})$")
_VERIFY_PATH = re.compile(r"^/v1/challenges/([A-Za-z0-9_-]{1,64})/verify$")


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    """Limits and switches of one service instance."""

    max_body: int = 1024 * 1024
    max_batch: int = 10_000
    allow_private: bool = False
    fetch_timeout: float = 10.0


class ApiError(Exception):
    """An HTTP error answer; carries the status and a message for the JSON body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class RegistryServer(ThreadingHTTPServer):
    """The HTTP server, holding the store and the configuration for its handlers."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], store: RegistryStore, config: ServiceConfig):
        self.store = store
        self.config = config
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

    def _dispatch(self, method: str) -> None:
        self._consumed = False
        try:
            status, body = self._route(method, urlsplit(self.path))
        except ApiError as e:
            status, body = e.status, {"error": e.message}
        except RegistryValidationError as e:
            status, body = 422, {"error": str(e)}
        except RegistryError as e:
            status, body = 500, {"error": str(e)}
        self._send(status, body)

    def _send(self, status: int, body: object) -> None:
        data = body if isinstance(body, bytes) else _dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status == 401:
            self.send_header("WWW-Authenticate", 'Bearer realm="heed-registry"')
        unread = not self._consumed and self.headers.get("Content-Length", "0") != "0"
        if status in (400, 411, 413) or unread or self.headers.get("Transfer-Encoding"):
            self.send_header("Connection", "close")  # a body was (partly) left unread
            self.close_connection = True
        self.end_headers()
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
        if match := _ENTRY_PATH.match(path):
            if method == "GET":
                return self._show(match.group(1))
            if method == "DELETE":
                return self._remove(match.group(1))
            raise ApiError(405, f"{method} not allowed here")
        if match := _VERIFY_PATH.match(path):
            if method == "POST":
                return self._verify(match.group(1))
            raise ApiError(405, f"{method} not allowed here")
        if any(p == path for _, p in routes):
            raise ApiError(405, f"{method} not allowed here")
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
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError) as e:
            raise ApiError(400, f"body is not JSON: {e}") from e

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
        self.server.store.add(entry)
        return 201, {"entry": entry_to_dict(entry)}

    def _remove(self, entry_id: str) -> tuple[int, object]:
        self._auth()
        if not self.server.store.remove(entry_id):
            raise ApiError(404, f"no entry {entry_id}")
        return 200, {"removed": entry_id}

    def _challenge(self) -> tuple[int, object]:
        body = self._json_body()
        if not isinstance(body, dict) or not isinstance(body.get("origin"), str):
            raise ApiError(400, 'expected {"origin": "https://…", "entry": {...}}')
        origin = verify.normalize_origin(body["origin"])
        raw_entry = body.get("entry")
        if not isinstance(raw_entry, dict):
            raise ApiError(400, "entry must be an object")
        fields = {k: v for k, v in raw_entry.items() if k not in ("id", "verified")}
        fields["registered_by"] = f"owner:{origin}"
        entry = entry_from_dict(fields)  # validated now, so the owner learns of errors early
        if not verify.subject_in_origin(entry, origin):
            raise RegistryValidationError(f"subject {entry.subject} is not within {origin}")
        challenge_id, token = secrets.token_urlsafe(16), secrets.token_urlsafe(24)
        expires = datetime.now(UTC) + _CHALLENGE_TTL
        self.server.store.put_challenge(challenge_id, origin, token, json.dumps(fields), expires)
        return 201, {
            "challenge_id": challenge_id,
            "origin": origin,
            "well_known_url": origin + verify.WELL_KNOWN_PATH,
            "content": verify.challenge_line(token),
            "expires_at": expires.isoformat(),
            "verify_url": f"/v1/challenges/{challenge_id}/verify",
        }

    def _verify(self, challenge_id: str) -> tuple[int, object]:
        found = self.server.store.get_challenge(challenge_id)
        if found is None:
            raise ApiError(404, "no such challenge (unknown or already used)")
        origin, token, fields_json, expires = found
        if datetime.now(UTC) >= expires:
            raise ApiError(410, "challenge expired; ask for a new one")
        config = self.server.config
        text = verify.fetch_proof(
            origin, allow_private=config.allow_private, timeout=config.fetch_timeout
        )
        if not verify.proof_matches(text, token):
            raise verify.VerificationFailed(
                f"{origin}{verify.WELL_KNOWN_PATH} does not contain the challenge line"
            )
        fields = json.loads(fields_json)
        fields["verified"] = True
        fields["registered_at"] = None
        entry = entry_from_dict(fields)
        if not self.server.store.complete_challenge(challenge_id, entry):
            raise ApiError(404, "challenge already used")
        return 201, {"entry": entry_to_dict(entry)}


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
