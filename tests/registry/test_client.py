"""Registry clients: embedded SQLite, the HTTP service (batched, cached, and stopped
mid-run), the Spawning adapter against a local imitation, and the combined client."""

from __future__ import annotations

import asyncio
import json
import socket
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
from filters.registry import Answer, Unavailable, evaluate

from .conftest import NOW, entry

URLS = ["https://a.example.com/x", "https://example.org/"]


def run(coro):
    return asyncio.run(coro)


async def _lookup_and_close(client, urls):
    try:
        return await client.lookup(urls)
    finally:
        await client.aclose()


def _ids(answer):
    assert type(answer) is Answer, answer
    return [e.id for e in answer.entries]


def _details(answer, urls):
    """The Unavailable details of ``urls`` (every URL must be there and unavailable)."""
    assert set(answer) == set(urls)
    assert all(type(answer[u]) is Unavailable for u in urls), answer
    return {answer[u].detail for u in urls}


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
    assert _ids(answer[URLS[0]]) == ["dom"]
    assert answer[URLS[1]] == Answer(())
    result, _ = evaluate(answer[URLS[0]].entries, URLS[0], Purpose.TRAIN_AI, NOW)
    assert result.reasons == (ReasonCode.REGISTRY_OPT_OUT,)


def test_sqlite_client_read_failure_is_unavailable(db_path, store):
    client = SqliteRegistryClient(str(db_path))
    client._store.close()  # a store that can no longer answer
    (detail,) = _details(run(client.lookup(URLS)), URLS)
    assert detail.startswith("database error")


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
    assert all(_ids(first[u]) == ["dom"] for u in urls[:25])
    assert first["https://example.org/"] == Answer(())
    assert _ids(second[urls[0]]) == ["dom"]


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
    assert _ids(before["https://example.com/a"]) == ["dom"]
    (detail,) = _details(after, ["https://example.com/b", "https://example.org/c"])
    assert detail.startswith("connection failed")


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
    assert answer["https://example.com/public"] == Answer(())
    (opt_out,) = answer["https://example.com/private/1"].entries
    assert opt_out.id.startswith("spawning:") and opt_out.registered_by == "spawning"
    result, _ = evaluate((opt_out,), urls[0], Purpose.TRAIN_AI, NOW)
    assert (result.verdict, result.reasons) == (Verdict.DENY, (ReasonCode.REGISTRY_OPT_OUT,))
    assert evaluate((opt_out,), urls[0], Purpose.SEARCH, NOW)[0].verdict is Verdict.NONE


@pytest.mark.parametrize("key", [None, "wrong"])
def test_spawning_missing_or_bad_key_is_unavailable(spawning_api, key):
    client = spawning.SpawningClient(spawning_api.url, key)
    expected = "SPAWNING_OPTS_KEY is not set" if key is None else "HTTP 401"
    assert _details(run(_lookup_and_close(client, URLS)), URLS) == {f"Spawning: {expected}"}
    assert len(spawning_api.requests) == (0 if key is None else 1)


@pytest.mark.parametrize(
    ("reply", "detail"),
    [
        (lambda p, b, h: (500, b"{}"), "HTTP 500"),
        (lambda p, b, h: (200, b"not json"), "bad answer"),
        (
            lambda p, b, h: (200, b'{"urls": [{"url": "https://other/", "optOut": false}]}'),
            "no answer for the URL",
        ),
        (
            lambda p, b, h: (
                200,
                b'{"urls": [{"url": "https://a.example.com/x", "optOut": "no"}]}',
            ),
            "no answer for the URL",
        ),
    ],
)
def test_spawning_errors_are_unavailable(reply, detail):
    api = FakeApi(reply)
    try:
        answer = run(_lookup_and_close(spawning.SpawningClient(api.url, "secret"), URLS))
    finally:
        api.close()
    (got,) = _details(answer, URLS)
    assert got.startswith(f"Spawning: {detail}")


def test_open_registry_with_spawning_combines_sources(db_path, store, spawning_api, monkeypatch):
    store.add(entry("domain", "example.com", id="dom"))
    monkeypatch.setenv(spawning.URL_ENV, spawning_api.url)
    monkeypatch.setenv(spawning.KEY_ENV, "secret")
    client = open_registry(f"sqlite://{db_path}", spawning=True)
    assert isinstance(client, CombinedRegistryClient)
    urls = ["https://example.com/private", "https://example.org/"]
    answer = run(_lookup_and_close(client, urls))
    assert sorted(i.split(":")[0] for i in _ids(answer[urls[0]])) == ["dom", "spawning"]
    assert answer[urls[1]] == Answer(())
    monkeypatch.delenv(spawning.KEY_ENV)
    client = open_registry(f"sqlite://{db_path}", spawning=True)
    assert _details(run(_lookup_and_close(client, urls)), urls) == {
        "Spawning: SPAWNING_OPTS_KEY is not set"
    }


def test_answer_entries_are_validated_once_and_invalid_ones_always_refused():
    from crawler.registry.client import _parse_lookup
    from filters.errors import RegistryValidationError
    from filters.registry import entry_to_dict

    good = entry_to_dict(entry("domain", "Example.COM", id="dom"))
    urls = ["https://a.example.com/", "https://b.example.com/"]
    body = {"results": [{"url": u, "entries": [dict(good)]} for u in urls]}
    parsed = _parse_lookup(body, urls)
    assert parsed[urls[0]].entries[0] is parsed[urls[1]].entries[0]
    assert parsed[urls[0]].entries[0] == entry("domain", "example.com", id="dom")
    for bad in ({"verified": 1}, {"subject": "com"}, {"purposes": ["nope"]}, {"note": ["x"]}):
        broken = {"results": [{"url": urls[0], "entries": [good | bad]}]}
        with pytest.raises(RegistryValidationError):
            _parse_lookup(broken, urls[:1])


def test_http_client_says_why_it_could_not_answer():
    # A service that answers 503, one that never answers, one that answers the wrong shape.
    unavailable = FakeApi(lambda p, b, h: (503, b'{"error": "busy"}'))
    wrong = FakeApi(lambda p, b, h: (200, b'{"results": []}'))
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # connections are queued, never accepted: no answer ever comes

    async def ask(url, timeout=10.0):
        return await _lookup_and_close(HttpRegistryClient(url, timeout=timeout), URLS)

    try:
        assert _details(run(ask(unavailable.url)), URLS) == {"HTTP 503"}
        (detail,) = _details(run(ask(wrong.url)), URLS)
        assert detail == "bad lookup answer: lookup answer is missing URLs"
        port = silent.getsockname()[1]
        assert _details(run(ask(f"http://127.0.0.1:{port}", timeout=0.3)), URLS) == {"timeout"}
    finally:
        unavailable.close()
        wrong.close()
        silent.close()


def test_combined_client_is_unavailable_when_any_source_is(db_path, store, service):
    service.store.add(entry("domain", "example.com", id="dom"))
    urls = ["https://example.com/a", "https://example.org/"]

    async def scenario():
        client = CombinedRegistryClient(
            [SqliteRegistryClient(str(db_path)), HttpRegistryClient(service.url, timeout=2)]
        )
        both = await client.lookup(urls)
        service.stop()
        one_down = await client.lookup(["https://example.com/b", *urls])  # urls are cached
        await client.aclose()
        return both, one_down

    both, one_down = run(scenario())
    assert _ids(both[urls[0]]) == ["dom", "dom"] and both[urls[1]] == Answer(())
    assert _ids(one_down[urls[0]]) == ["dom", "dom"]  # both sources still answer it
    down = one_down["https://example.com/b"]
    assert type(down) is Unavailable and down.detail.startswith("connection failed")
    assert set(one_down) == {"https://example.com/b", *urls}
