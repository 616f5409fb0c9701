"""Fixtures for the registry tests: a real SQLite file, the real service on 127.0.0.1, and a
loopback "site" whose files a test can set (for the verification flow)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from crawler.registry.service import RegistryServer, ServiceConfig, make_server, serve_in_thread
from crawler.registry.store import RegistryStore
from filters.registry import Entry, make_entry

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def entry(kind: str, subject: str, choice: str = "opt-out", **kw: Any) -> Entry:
    kw.setdefault("purposes", ["train-ai"])
    kw.setdefault("registered_by", "test")
    kw.setdefault("registered_at", NOW)
    purposes = kw.pop("purposes")
    return make_entry(kind, subject, choice, purposes, **kw)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "registry.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[RegistryStore]:
    with RegistryStore(db_path) as s:
        yield s


class Service:
    def __init__(self, server: RegistryServer, store: RegistryStore, token: str) -> None:
        self.server = server
        self.store = store
        self.token = token
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        self.running = True

    def stop(self) -> None:
        if self.running:
            self.server.stop()
            self.running = False


def start_service(store: RegistryStore, **config: Any) -> Service:
    """The real service on 127.0.0.1 (a free port) with the tests' limits, changed by
    ``config`` (``ServiceConfig`` fields); stop it with ``.stop()``."""
    config = {"allow_private": True, "max_body": 65536, "max_batch": 2000, **config}
    taken = len(store.token_names())
    token = store.add_token(f"ops{taken}" if taken else "ops")
    server = make_server(store, "127.0.0.1", 0, ServiceConfig(**config))
    serve_in_thread(server)
    return Service(server, store, token)


@pytest.fixture
def service(store: RegistryStore) -> Iterator[Service]:
    svc = start_service(store)
    yield svc
    svc.stop()


class Site:
    """A loopback web site: ``files`` maps a path to (status, body, headers)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.files: dict[str, tuple[int, bytes, dict[str, str]]] = {}
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                status, body, headers = site.files.get(self.path, (404, b"not found", {}))
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        bound = self.server.server_address[1]
        self.origin = f"http://{host}" + ("" if bound == 80 else f":{bound}")
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site() -> Iterator[Site]:
    s = Site()
    yield s
    s.close()
