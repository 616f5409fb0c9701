"""``[registry] spawning = true`` with no ``url`` asks the Spawning API, in crawl and in check.

The Spawning API is on the public internet, so a stand-in answering its documented shape runs on
127.0.0.1 (``HEED_SPAWNING_URL`` points heed at it): ``POST`` of newline-separated URLs with
``Authorization: API <key>``, answer ``{"urls": [{"url": ..., "optOut": bool}]}``. The key is
read from ``SPAWNING_OPTS_KEY``, the one name the README and configs/example.toml give.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from crawler.demo.web import LoopbackWeb, PageSpec, SiteSpec
from crawler.registry import spawning

from .crawlrun import crawl, heed, write_config

PAGE = "<!doctype html><html><body><p>{}</p>{}</body></html>"


class _Api:
    def __init__(self) -> None:
        self.asked: list[list[str]] = []
        self.opted_out: set[str] = set()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                urls = self.rfile.read(length).decode("utf-8").split("\n")
                api.asked.append(urls)
                ok = self.headers.get("Authorization") == "API secret"
                body = json.dumps(
                    {"urls": [{"url": u, "optOut": u in api.opted_out} for u in urls]}
                ).encode()
                self.send_response(200 if ok else 401)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/v2/query/urls"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Api]:
    stand_in = _Api()
    monkeypatch.setenv(spawning.URL_ENV, stand_in.url)
    monkeypatch.setenv(spawning.KEY_ENV, "secret")
    yield stand_in
    stand_in.close()


def _web() -> LoopbackWeb:
    links = '<a href="/mine.html">mine</a><a href="/other.html">other</a>'
    pages = {
        "/": PageSpec(body=PAGE.format("home", links)),
        "/mine.html": PageSpec(body=PAGE.format("an opted-out page", "")),
        "/other.html": PageSpec(body=PAGE.format("another page", "")),
    }
    return LoopbackWeb({"s": SiteSpec(pages=pages)})


def test_crawl_asks_spawning_when_it_is_the_only_registry_source(tmp_path: Path, api: _Api) -> None:
    with _web() as web:
        seed, mine, other = web.url("s"), web.url("s", "/mine.html"), web.url("s", "/other.html")
        api.opted_out.add(mine)
        run = crawl(tmp_path, {"crawl": {"seeds": [seed]}, "registry": {"spawning": True}})
    assert run.returncode == 0, run.stderr
    assert api.asked, "the Spawning API was never asked"
    assert run.decision(mine)["reasons"] == ["registry.opt-out"]
    assert run.kept_urls() == {seed, other}


def test_crawl_without_the_key_excludes_everything_and_says_why(
    tmp_path: Path, api: _Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(spawning.KEY_ENV)
    with _web() as web:
        seed = web.url("s")
        run = crawl(tmp_path, {"crawl": {"seeds": [seed]}, "registry": {"spawning": True}})
    assert run.returncode == 0, run.stderr
    assert run.kept_urls() == set()
    assert run.decision(seed)["reasons"] == ["registry.unavailable"]
    assert spawning.KEY_ENV in run.stderr  # the warning names the variable to set


def test_check_asks_spawning_when_it_is_the_only_registry_source(tmp_path: Path, api: _Api) -> None:
    config = write_config(tmp_path / "check.toml", {"registry": {"spawning": True}})
    with _web() as web:
        mine, other = web.url("s", "/mine.html"), web.url("s", "/other.html")
        api.opted_out.add(mine)
        proc = heed("check", "--config", str(config), "--json", mine, other)
    assert proc.returncode == 1, proc.stderr
    results = {r["url"]: r for r in json.loads(proc.stdout)["results"]}
    assert results[mine]["reasons"] == ["registry.opt-out"]
    assert results[other]["allowed"] is True
    assert api.asked
