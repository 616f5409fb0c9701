"""Registry clients: embedded SQLite, the HTTP service (batched, cached, and stopped
mid-run), the Spawning adapter against a local imitation, and the combined client."""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from crawler.registry import spawning
from crawler.registry.client import (
    CombinedRegistryClient,
    HttpRegistryClient,
    SqliteRegistryClient,
    open_registry,
)
from filters.errors import ConfigError
from filters.model import Purpose, Verdict
from filters.reasons import ReasonCode
from filters.registry import evaluate

from .conftest import NOW, entry

URLS = ["https://a.example.com/x", "https://example.org/"]


def run(coro):
    return asyncio.run(coro)


async def _lookup_and_close(client, urls):
    try:
        return await client.lookup(urls)
    finally:
        await client.aclose()


def test_open_registry_dispatch(db_path, store):
    assert open_registry("") is None
    client = open_registry(f"sqlite://{db_path}")
    assert isinstance(client, SqliteRegistryClient)
    run(client.aclose())
    client = open_registry("http://127.0.0.1:9")
    assert isinstance(client, HttpRegistryClient)
    run(client.aclose())
    with pytest.raises(ConfigError):
        open_registry("ftp://x")
    with pytest.raises(ConfigError, match="no SQLite registry"):
        open_registry(f"sqlite://{db_path}.missing")


def test_sqlite_client_returns_candidates(db_path, store):
    store.add(entry("domain", "example.com", id="dom"))
    answer = run(_lookup_and_close(open_registry(f"sqlite://{db_path}"), URLS))
    assert [e.id for e in answer[URLS[0]]] == ["dom"]
    assert answer[URLS[1]] == ()
    result, _ = evaluate(answer[URLS[0]], URLS[0], Purpose.TRAIN_AI, NOW)
    assert result.reasons == (ReasonCode.REGISTRY_OPT_OUT,)


def test_sqlite_client_read_failure_is_unavailable(db_path, store):
    client = SqliteRegistryClient(str(db_path))
    client._store.close()  # a store that can no longer answer
    assert run(client.lookup(URLS)) == dict.fromkeys(URLS)


def test_http_client_batches_and_caches(service):
    service.store.add(entry("domain", "example.com", id="dom"))
    urls = [f"https://h{i}.example.com/" for i in range(25)] + ["https://example.org/"]

    async def scenario():
        client = HttpRegistryClient(service.url, batch=10)
        first = await client.lookup(urls)
        service.store.remove("dom")  # a cached answer does not change within a run
        second = await client.lookup(urls[:3])
        await client.aclose()
        return first, second

    first, second = run(scenario())
    assert all([e.id for e in first[u]] == ["dom"] for u in urls[:25])
    assert first["https://example.org/"] == ()
    assert [e.id for e in second[urls[0]]] == ["dom"]


def test_service_stopped_mid_run_gives_unavailable_never_allowed(service):
    service.store.add(entry("domain", "example.com", id="dom"))

    async def scenario():
        client = HttpRegistryClient(service.url, timeout=2)
        before = await client.lookup(["https://example.com/a"])
        service.stop()
        after = await client.lookup(["https://example.com/b", "https://example.org/c"])
        await client.aclose()
        return before, after

    before, after = run(scenario())
    assert [e.id for e in before["https://example.com/a"]] == ["dom"]
    assert after == {"https://example.com/b": None, "https://example.org/c": None}


class FakeApi:
    """A loopback imitation of an HTTP API: ``reply(path, body, headers) -> (status, bytes)``."""

    def __init__(self, reply) -> None:
        self.requests: list[tuple[str, bytes, dict[str, str]]] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                api.requests.append((self.path, body, headers))
                status, data = reply(self.path, body, headers)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def spawning_reply(path, body, headers):
    if headers.get("authorization") != "API secret":
        return 401, b'{"detail": "bad key"}'
    urls = body.decode().split("\n")
    items = [{"url": u, "optOut": "private" in u} for u in urls]
    return 200, json.dumps({"urls": items}).encode()


@pytest.fixture
def spawning_api():
    api = FakeApi(spawning_reply)
    yield api
    api.close()


def test_spawning_opt_out_becomes_a_url_entry(spawning_api):
    urls = ["https://example.com/private/1", "https://example.com/public"]
    client = spawning.SpawningClient(spawning_api.url + "/api/v2/query/urls", "secret")
    answer = run(_lookup_and_close(client, urls))
    path, body, headers = spawning_api.requests[0]
    assert path == "/api/v2/query/urls" and body == "\n".join(urls).encode()
    assert headers["content-type"] == "text/plain"
    assert answer["https://example.com/public"] == ()
    (opt_out,) = answer["https://example.com/private/1"]
    assert opt_out.id.startswith("spawning:") and opt_out.registered_by == "spawning"
    result, _ = evaluate((opt_out,), urls[0], Purpose.TRAIN_AI, NOW)
    assert (result.verdict, result.reasons) == (Verdict.DENY, (ReasonCode.REGISTRY_OPT_OUT,))
    assert evaluate((opt_out,), urls[0], Purpose.SEARCH, NOW)[0].verdict is Verdict.NONE


@pytest.mark.parametrize("key", [None, "wrong"])
def test_spawning_missing_or_bad_key_is_unavailable(spawning_api, key):
    client = spawning.SpawningClient(spawning_api.url, key)
    assert run(_lookup_and_close(client, URLS)) == dict.fromkeys(URLS)
    assert len(spawning_api.requests) == (0 if key is None else 1)


@pytest.mark.parametrize(
    "reply",
    [
        lambda p, b, h: (500, b"{}"),
        lambda p, b, h: (200, b"not json"),
        lambda p, b, h: (200, b'{"urls": [{"url": "https://other/", "optOut": false}]}'),
        lambda p, b, h: (200, b'{"urls": [{"url": "https://a.example.com/x", "optOut": "no"}]}'),
    ],
)
def test_spawning_errors_are_unavailable(reply):
    api = FakeApi(reply)
    try:
        answer = run(_lookup_and_close(spawning.SpawningClient(api.url, "secret"), URLS))
    finally:
        api.close()
    assert answer == dict.fromkeys(URLS)


def test_open_registry_with_spawning_combines_sources(db_path, store, spawning_api, monkeypatch):
    store.add(entry("domain", "example.com", id="dom"))
    monkeypatch.setenv(spawning.URL_ENV, spawning_api.url)
    monkeypatch.setenv(spawning.KEY_ENV, "secret")
    client = open_registry(f"sqlite://{db_path}", spawning=True)
    assert isinstance(client, CombinedRegistryClient)
    urls = ["https://example.com/private", "https://example.org/"]
    answer = run(_lookup_and_close(client, urls))
    assert sorted(e.id.split(":")[0] for e in answer[urls[0]]) == ["dom", "spawning"]
    assert answer[urls[1]] == ()
    monkeypatch.delenv(spawning.KEY_ENV)
    client = open_registry(f"sqlite://{db_path}", spawning=True)
    assert run(_lookup_and_close(client, urls)) == dict.fromkeys(urls)


def test_answer_entries_are_validated_once_and_invalid_ones_always_refused():
    from crawler.registry.client import _parse_lookup
    from filters.errors import RegistryValidationError
    from filters.registry import entry_to_dict

    good = entry_to_dict(entry("domain", "Example.COM", id="dom"))
    urls = ["https://a.example.com/", "https://b.example.com/"]
    body = {"results": [{"url": u, "entries": [dict(good)]} for u in urls]}
    parsed = _parse_lookup(body, urls)
    assert parsed[urls[0]][0] is parsed[urls[1]][0]
    assert parsed[urls[0]][0] == entry("domain", "example.com", id="dom")
    for bad in ({"verified": 1}, {"subject": "com"}, {"purposes": ["nope"]}, {"note": ["x"]}):
        broken = {"results": [{"url": urls[0], "entries": [good | bad]}]}
        with pytest.raises(RegistryValidationError):
            _parse_lookup(broken, urls[:1])
