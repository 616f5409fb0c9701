"""The document cache on disk (crawler/doccache.py) behind SiteLoader (crawler/sitestate.py).

Every test fetches from real servers on loopback and reads the real SQLite file back: a warm
loader makes no request and decides exactly as the cold one did; an expired entry is
revalidated (304 keeps the body, 200 replaces it); an unreachable robots.txt is not served
past the crawl's retry time; a damaged file never stops a run and is never deleted; several
processes share one file.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import multiprocessing
import os
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from crawler.config import RunConfig, parse_config
from crawler.demo.web import LoopbackWeb, PageSpec, SiteSpec
from crawler.doccache import DocumentCache, default_cache_path, open_document_cache
from crawler.fetcher import Fetcher
from crawler.sitestate import UNREACHABLE_TTL, SiteLoader
from filters import ConfigError, DocState, FetchOutcome, Headers
from filters.engine import SiteSignals, decide_pre_fetch

UA = "Mozilla/5.0 (compatible; heedbot/0.1; +https://example.org/bot)"
CFG = RunConfig(user_agent=UA, allow_private_networks=True, download_timeout=5.0)
NOW = datetime(2026, 1, 1, tzinfo=UTC)
TEXT = "text/plain; charset=utf-8"
ROBOTS = (
    "User-agent: *\nCrawl-delay: 0.05\nDisallow: /private/\n\n"
    "User-agent: GPTBot\nDisallow: /gpt/\n\nLicense: {{site:a}}/license.rsl\n"
)
RSL = (
    '<?xml version="1.0"?>\n<rsl xmlns="https://rslstandard.org/rsl">\n'
    '  <content url="{{site:a}}/open/">\n'
    '    <license><permits type="usage">ai-all</permits><payment type="free"/></license>\n'
    "  </content>\n</rsl>\n"
)
PATHS = ("/", "/private/x", "/open/page", "/docs/a?b=c", "/tdm/reserved", "/gpt/x")


def _load(
    cfg: RunConfig, cache: DocumentCache | None, origin: str
) -> tuple[SiteSignals, SiteLoader]:
    async def go() -> tuple[SiteSignals, SiteLoader]:
        fetcher = Fetcher(
            user_agent=cfg.user_agent, timeout=cfg.download_timeout, allow_private=True
        )
        try:
            loader = SiteLoader(fetcher, cfg, cache)
            return await loader.load(origin), loader
        finally:
            await fetcher.aclose()

    return asyncio.run(go())


def _decisions(site: SiteSignals, origin: str, cfg: RunConfig = CFG) -> list[Any]:
    engine = cfg.engine()
    return [decide_pre_fetch(site, origin + p, engine, now=NOW) for p in PATHS]


def _doc(site: SiteSignals) -> Any:
    assert site.robots.document is not None
    return site.robots.document


def _documents(site: SiteSignals) -> list[Any]:
    docs = [site.robots.document]
    docs += [p.document for p in (site.aitxt, site.tdmrep) if p is not None]
    docs += [p.document for p in site.rsl.values()]
    return docs


# -- a tiny server that honours If-None-Match / If-Modified-Since -------------------------------


@dataclass
class Doc:
    status: int = 200
    body: bytes = b""
    content_type: str = TEXT
    etag: str | None = None
    last_modified: str | None = None


@dataclass
class DocServer:
    """Documents by path, changeable while serving; every request logged with its headers."""

    docs: dict[str, Doc] = field(default_factory=dict)
    log: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    origin: str = ""

    def requests(self, path: str | None = None) -> list[tuple[str, dict[str, str]]]:
        return [r for r in self.log if path is None or r[0] == path]


@pytest.fixture
def server() -> Iterator[DocServer]:
    state = DocServer()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            state.log.append((self.path, headers))
            doc = state.docs.get(self.path, Doc(status=404, body=b"nope"))
            etag_match = doc.etag is not None and headers.get("if-none-match") == doc.etag
            date_match = (
                doc.last_modified is not None
                and headers.get("if-modified-since") == doc.last_modified
            )
            if doc.status == 200 and (etag_match or date_match):
                self.send_response(304)
                self._validators(doc)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(doc.status)
            self.send_header("Content-Type", doc.content_type)
            self.send_header("Set-Cookie", "session=secret")
            self._validators(doc)
            self.send_header("Content-Length", str(len(doc.body)))
            self.end_headers()
            self.wfile.write(doc.body)

        def _validators(self, doc: Doc) -> None:
            if doc.etag:
                self.send_header("ETag", doc.etag)
            if doc.last_modified:
                self.send_header("Last-Modified", doc.last_modified)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    state.origin = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield state
    finally:
        httpd.shutdown()
        thread.join(timeout=5)
        httpd.server_close()


def _age(cache_file: Path, url: str, seconds: float) -> None:
    """Make the stored entry for ``url`` ``seconds`` older, as time passing would."""
    with sqlite3.connect(cache_file) as db:
        db.execute("UPDATE documents SET fetched_at = fetched_at - ? WHERE url = ?", (seconds, url))


# -- cold, then warm ------------------------------------------------------------------------


def test_a_warm_loader_requests_nothing_and_decides_exactly_as_the_cold_one(tmp_path: Path) -> None:
    pages = {
        "/robots.txt": PageSpec(body=ROBOTS, content_type=TEXT),
        "/ai.txt": PageSpec(body="User-agent: *\nDisallow: /docs/\n", content_type=TEXT),
        "/.well-known/tdmrep.json": PageSpec(
            body='[{"location": "/tdm/*", "tdm-reservation": 1}]', content_type="application/json"
        ),
        "/license.rsl": PageSpec(body=RSL, content_type="application/rsl+xml"),
    }
    path = tmp_path / "cache" / "documents.sqlite"
    with LoopbackWeb({"a": SiteSpec(pages=pages)}) as web:
        origin = web.origin("a")
        with DocumentCache(path) as cache:
            cold, cold_loader = _load(CFG, cache, origin)
        assert len(web.requests()) == 4
        assert sorted(cold_loader.fetched) == sorted(
            origin + p
            for p in ("/robots.txt", "/ai.txt", "/.well-known/tdmrep.json", "/license.rsl")
        )
        web.clear_log()
        with DocumentCache(path) as cache:  # a new process would open it like this
            warm, warm_loader = _load(CFG, cache, origin)
            assert len(cache) == 4
        assert web.requests() == []
        assert warm_loader.fetched == []
        assert len(warm_loader.cached) == 4
    assert warm.robots.state is DocState.OK and warm.tdmrep is not None
    # Same bytes, status, content-type, fetch time: the same policies and the same decisions.
    assert _documents(warm) == _documents(cold)
    assert _decisions(warm, origin) == _decisions(cold, origin)
    allowed = [d.allowed for d in _decisions(warm, origin)]
    assert allowed == [True, False, True, False, False, False]  # the documents were really read


def test_the_crawl_delay_of_a_cached_robots_txt_still_paces_the_host(tmp_path: Path) -> None:
    with LoopbackWeb({"a": {"/robots.txt": PageSpec(body=ROBOTS, content_type=TEXT)}}) as web:
        origin = web.origin("a")
        with DocumentCache(tmp_path / "c.sqlite") as cache:
            _load(CFG, cache, origin)

            async def go() -> float:
                fetcher = Fetcher(user_agent=UA, timeout=5.0, allow_private=True)
                try:
                    await SiteLoader(fetcher, CFG, cache).load(origin)
                    return fetcher.politeness.delay(origin.split("//")[1].split(":")[0])
                finally:
                    await fetcher.aclose()

            web.clear_log()
            assert asyncio.run(go()) == pytest.approx(0.05)
            assert [r.path for r in web.requests()] == []


def test_no_cache_means_every_document_is_requested(tmp_path: Path) -> None:
    with LoopbackWeb({"a": {"/robots.txt": PageSpec(body=ROBOTS, content_type=TEXT)}}) as web:
        origin = web.origin("a")
        _load(CFG, None, origin)
        _load(CFG, None, origin)
        assert [r.path for r in web.requests()].count("/robots.txt") == 2


# -- revalidation ---------------------------------------------------------------------------


def test_an_expired_entry_is_revalidated_and_a_304_keeps_the_stored_body(
    tmp_path: Path, server: DocServer
) -> None:
    server.docs["/robots.txt"] = Doc(body=b"User-agent: *\nDisallow: /private/\n", etag='"r1"')
    server.docs["/ai.txt"] = Doc(
        body=b"User-agent: *\nDisallow: /docs/\n", last_modified="Wed, 01 Jan 2025 00:00:00 GMT"
    )
    path = tmp_path / "c.sqlite"
    with DocumentCache(path) as cache:
        cold, _ = _load(CFG, cache, server.origin)
        first = cache.get(server.origin + "/robots.txt", agent=UA)
    assert first is not None
    _age(path, server.origin + "/robots.txt", CFG.signal_ttl + 1)
    _age(path, server.origin + "/ai.txt", CFG.signal_ttl + 1)
    with DocumentCache(path) as cache:
        aged = cache.get(server.origin + "/robots.txt", agent=UA)
    assert aged is not None
    server.log.clear()
    with DocumentCache(path) as cache:
        warm, loader = _load(CFG, cache, server.origin)
        refreshed = cache.get(server.origin + "/robots.txt", agent=UA)
    # One conditional request per expired document, with the stored validators.
    assert server.requests("/robots.txt")[0][1].get("if-none-match") == '"r1"'
    ai_headers = server.requests("/ai.txt")[0][1]
    assert ai_headers.get("if-modified-since") == "Wed, 01 Jan 2025 00:00:00 GMT"
    assert "if-none-match" not in ai_headers
    # 404 tdmrep.json was fresh (a durable answer): not requested again.
    assert server.requests("/.well-known/tdmrep.json") == []
    assert server.origin + "/robots.txt" in loader.fetched
    # The 304 kept the body; the entry's fetch time moved to the confirmation.
    assert refreshed is not None and refreshed.body == first.body
    assert refreshed.fetched_at > aged.fetched_at + timedelta(seconds=CFG.signal_ttl)
    assert _doc(warm).fetched_at == refreshed.fetched_at.isoformat()
    assert _doc(warm).sha256 == _doc(cold).sha256
    assert warm.robots.state is DocState.OK
    assert [d.allowed for d in _decisions(warm, server.origin)] == [
        d.allowed for d in _decisions(cold, server.origin)
    ]
    assert not _decisions(warm, server.origin)[1].allowed


def test_a_changed_document_replaces_its_entry(tmp_path: Path, server: DocServer) -> None:
    server.docs["/robots.txt"] = Doc(body=b"User-agent: *\nAllow: /\n", etag='"v1"')
    path = tmp_path / "c.sqlite"
    with DocumentCache(path) as cache:
        before, _ = _load(CFG, cache, server.origin)
    assert all(d.allowed for d in _decisions(before, server.origin))
    server.docs["/robots.txt"] = Doc(body=b"User-agent: heedbot\nDisallow: /\n", etag='"v2"')
    _age(path, server.origin + "/robots.txt", CFG.signal_ttl + 1)
    with DocumentCache(path) as cache:
        after, _ = _load(CFG, cache, server.origin)
        entry = cache.get(server.origin + "/robots.txt", agent=UA)
    assert server.requests("/robots.txt")[-1][1].get("if-none-match") == '"v1"'
    assert not any(d.allowed for d in _decisions(after, server.origin))
    assert (
        entry is not None
        and entry.sha256 == hashlib.sha256(b"User-agent: heedbot\nDisallow: /\n").hexdigest()
    )
    assert entry.headers.get("etag") == '"v2"'
    assert "set-cookie" not in entry.headers  # never kept on disk
    # Within the TTL the new entry is served: nothing requested, the new policy.
    server.log.clear()
    with DocumentCache(path) as cache:
        again, _ = _load(CFG, cache, server.origin)
    assert server.requests("/robots.txt") == []
    assert not any(d.allowed for d in _decisions(again, server.origin))


def test_signal_ttl_zero_revalidates_every_time(tmp_path: Path, server: DocServer) -> None:
    server.docs["/robots.txt"] = Doc(body=b"User-agent: *\nAllow: /\n", etag='"z"')
    cfg = replace(CFG, signal_ttl=0.0)
    with DocumentCache(tmp_path / "c.sqlite") as cache:
        _load(cfg, cache, server.origin)
        _load(cfg, cache, server.origin)
    robots = server.requests("/robots.txt")
    assert len(robots) == 2 and robots[1][1].get("if-none-match") == '"z"'


def test_an_unreachable_robots_txt_is_not_served_past_the_crawls_retry_time(
    tmp_path: Path, server: DocServer
) -> None:
    server.docs["/robots.txt"] = Doc(status=503, body=b"busy")
    path = tmp_path / "c.sqlite"
    url = server.origin + "/robots.txt"
    with DocumentCache(path) as cache:
        first, _ = _load(CFG, cache, server.origin)
        assert first.robots.state is DocState.UNREACHABLE
        _load(CFG, cache, server.origin)  # within 10 minutes: the crawl would not retry either
    assert len(server.requests("/robots.txt")) == 1
    server.docs["/robots.txt"] = Doc(body=b"User-agent: *\nAllow: /\n", etag='"ok"')
    _age(path, url, UNREACHABLE_TTL + 1)  # far inside signal_ttl, past the retry time
    with DocumentCache(path) as cache:
        later, _ = _load(CFG, cache, server.origin)
    robots = server.requests("/robots.txt")
    assert len(robots) == 2
    assert "if-none-match" not in robots[1][1]  # nothing to revalidate on an error
    assert later.robots.state is DocState.OK
    # The same age on a good entry is still fresh: only the error class expires early.
    _age(path, url, UNREACHABLE_TTL + 1)
    with DocumentCache(path) as cache:
        _load(CFG, cache, server.origin)
    assert len(server.requests("/robots.txt")) == 2


def test_a_good_entry_turning_503_is_replaced_by_the_live_answer(
    tmp_path: Path, server: DocServer
) -> None:
    server.docs["/robots.txt"] = Doc(body=b"User-agent: *\nAllow: /\n", etag='"ok"')
    path = tmp_path / "c.sqlite"
    with DocumentCache(path) as cache:
        _load(CFG, cache, server.origin)
    server.docs["/robots.txt"] = Doc(status=503, body=b"down", etag='"ok"')
    _age(path, server.origin + "/robots.txt", CFG.signal_ttl + 1)
    with DocumentCache(path) as cache:
        site, _ = _load(CFG, cache, server.origin)
    assert site.robots.state is DocState.UNREACHABLE  # never the stale allow
    assert not any(d.allowed for d in _decisions(site, server.origin))


def test_entries_are_kept_per_user_agent(tmp_path: Path, server: DocServer) -> None:
    server.docs["/robots.txt"] = Doc(body=b"User-agent: *\nAllow: /\n")
    other = replace(CFG, user_agent="Mozilla/5.0 (compatible; heedbot/0.2; +https://example.org/x)")
    with DocumentCache(tmp_path / "c.sqlite") as cache:
        _load(CFG, cache, server.origin)
        _load(other, cache, server.origin)
    assert len(server.requests("/robots.txt")) == 2


def test_a_body_cut_at_a_smaller_bound_is_a_miss_under_a_larger_one(
    tmp_path: Path, server: DocServer
) -> None:
    big = b"User-agent: *\n" + b"Disallow: /x\n" * 50_000  # 650 kB
    server.docs["/robots.txt"] = Doc(body=big)
    small = replace(CFG, robots_max_bytes=500 * 1024)
    with DocumentCache(tmp_path / "c.sqlite") as cache:
        cut, _ = _load(small, cache, server.origin)
        assert _doc(cut).sha256 == hashlib.sha256(big[: 500 * 1024]).hexdigest()
        whole, _ = _load(CFG, cache, server.origin)  # 2 MiB bound: the stored cut cannot say
        assert _doc(whole).sha256 == hashlib.sha256(big).hexdigest()
        again, loader = _load(small, cache, server.origin)  # the whole body, cut again
    assert len(server.requests("/robots.txt")) == 2
    assert loader.fetched == []
    assert _doc(again).sha256 == _doc(cut).sha256
    assert _doc(again).fetched_at == _doc(whole).fetched_at
    assert [(d.allowed, d.reasons) for d in _decisions(again, server.origin, small)] == [
        (d.allowed, d.reasons) for d in _decisions(cut, server.origin, small)
    ]


# -- damaged files ------------------------------------------------------------------------


def test_a_garbage_cache_file_is_moved_aside_and_the_run_goes_on(
    tmp_path: Path, server: DocServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.docs["/robots.txt"] = Doc(body=b"User-agent: *\nDisallow: /private/\n")
    path = tmp_path / "c.sqlite"
    garbage = os.urandom(4096)
    path.write_bytes(garbage)
    with caplog.at_level(logging.WARNING, logger="crawler.doccache"):
        cache = DocumentCache(path)
    assert "not a usable SQLite file" in caplog.text
    with cache:
        site, _ = _load(CFG, cache, server.origin)
        assert cache.enabled and len(cache) == 3
    assert site.robots.state is DocState.OK
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("c.sqlite.corrupt-")]
    assert len(aside) == 1 and aside[0].read_bytes() == garbage  # never deleted


def test_a_damaged_sqlite_file_is_moved_aside(
    tmp_path: Path, server: DocServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.docs["/robots.txt"] = Doc(body=b"User-agent: *\nAllow: /\n")
    path = tmp_path / "c.sqlite"
    damaged = b"SQLite format 3\x00" + b"\xff" * 4080
    path.write_bytes(damaged)
    with caplog.at_level(logging.WARNING, logger="crawler.doccache"), DocumentCache(path) as cache:
        site, _ = _load(CFG, cache, server.origin)
        assert cache.enabled
    assert site.robots.state is DocState.OK
    assert "moved to" in caplog.text
    assert [p.read_bytes() for p in tmp_path.glob("c.sqlite.corrupt-*")] == [damaged]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_cache_file_is_ignored_and_left_alone(
    tmp_path: Path, server: DocServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.docs["/robots.txt"] = Doc(body=b"User-agent: *\nAllow: /\n")
    path = tmp_path / "c.sqlite"
    DocumentCache(path).close()
    path.chmod(0)
    try:
        with (
            caplog.at_level(logging.WARNING, logger="crawler.doccache"),
            DocumentCache(path) as cache,
        ):
            assert not cache.enabled
            site, _ = _load(CFG, cache, server.origin)
            _load(CFG, cache, server.origin)
    finally:
        path.chmod(0o600)
    assert "cannot be read" in caplog.text
    assert site.robots.state is DocState.OK
    assert len(server.requests("/robots.txt")) == 2  # as if empty
    assert path.exists() and list(tmp_path.glob("*.corrupt-*")) == []


def test_a_cache_path_that_cannot_be_opened_is_ignored(
    tmp_path: Path, server: DocServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.docs["/robots.txt"] = Doc(body=b"User-agent: *\nAllow: /\n")
    path = tmp_path / "c.sqlite"
    path.symlink_to(path)  # a loop: open() fails whoever runs the test
    with caplog.at_level(logging.WARNING, logger="crawler.doccache"), DocumentCache(path) as cache:
        assert not cache.enabled
        site, _ = _load(CFG, cache, server.origin)
    assert "cannot be read" in caplog.text
    assert site.robots.state is DocState.OK
    assert path.is_symlink() and list(tmp_path.glob("*.corrupt-*")) == []


def test_an_entry_that_does_not_read_back_is_a_miss(tmp_path: Path, server: DocServer) -> None:
    server.docs["/robots.txt"] = Doc(body=b"User-agent: *\nDisallow: /\n")
    path = tmp_path / "c.sqlite"
    url = server.origin + "/robots.txt"
    with DocumentCache(path) as cache:
        _load(CFG, cache, server.origin)
    with sqlite3.connect(path) as db:  # a flipped body: its sha256 no longer matches
        db.execute(
            "UPDATE documents SET body = ? WHERE url = ?", (b"User-agent: *\nAllow: /\n", url)
        )
    with DocumentCache(path) as cache:
        assert cache.get(url, agent=UA) is None
        site, loader = _load(CFG, cache, server.origin)
    assert url in loader.fetched and len(server.requests("/robots.txt")) == 2
    assert not any(d.allowed for d in _decisions(site, server.origin))
    for column, value in (("headers", "not json"), ("error", "no-such-kind"), ("status", 7)):
        with sqlite3.connect(path) as db:
            db.execute(f"UPDATE documents SET {column} = ? WHERE url = ?", (value, url))
        with DocumentCache(path) as cache:
            assert cache.get(url, agent=UA) is None, column
        with DocumentCache(path) as cache:  # and the next live fetch repairs the entry
            _load(CFG, cache, server.origin)
            assert cache.get(url, agent=UA) is not None


def test_a_future_fetch_time_is_not_trusted(tmp_path: Path, server: DocServer) -> None:
    server.docs["/robots.txt"] = Doc(body=b"User-agent: *\nAllow: /\n")
    path = tmp_path / "c.sqlite"
    with DocumentCache(path) as cache:
        _load(CFG, cache, server.origin)
    _age(path, server.origin + "/robots.txt", -3600.0)
    with DocumentCache(path) as cache:
        _load(CFG, cache, server.origin)
    assert len(server.requests("/robots.txt")) == 2


# -- several processes ----------------------------------------------------------------------


def _hammer(path: str, worker: int, rounds: int) -> int:
    """Write and read overlapping entries; return how many reads were wrong."""
    wrong = 0
    with DocumentCache(Path(path)) as cache:
        for i in range(rounds):
            url = f"http://h{i % 50}.example/robots.txt"
            body = f"User-agent: *\nDisallow: /w{worker}/{i}\n".encode() * 20
            outcome = FetchOutcome(
                url=url,
                status=200,
                headers=Headers([("Content-Type", TEXT), ("ETag", f'"{worker}-{i}"')]),
                body=body,
                final_url=url,
                fetched_at=datetime.now(UTC),
            )
            cache.put(url, outcome, max_bytes=1 << 20, agent=UA)
            got = cache.get(url, agent=UA)
            if got is None or hashlib.sha256(got.body).hexdigest() != got.sha256:
                wrong += 1
        if not cache.enabled:
            wrong += 1_000_000
    return wrong


def test_several_processes_share_one_cache_file(tmp_path: Path) -> None:
    path = tmp_path / "shared" / "c.sqlite"
    DocumentCache(path).close()
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(3) as pool:
        wrong = pool.starmap(_hammer, [(str(path), w, 400) for w in range(3)])
    assert wrong == [0, 0, 0]
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with DocumentCache(path) as cache:
        assert len(cache) == 50
        for i in range(50):
            entry = cache.get(f"http://h{i}.example/robots.txt", agent=UA)
            assert entry is not None and entry.status == 200


# -- configuration ----------------------------------------------------------------------------

BASE = {"identity": {"contact_url": "https://example.org/bot"}}


def test_document_cache_config_key() -> None:
    assert parse_config(BASE).document_cache == ""
    cfg = parse_config({**BASE, "network": {"document_cache": "~/heed/docs.sqlite"}})
    assert cfg.document_cache == str(Path.home() / "heed" / "docs.sqlite")
    for bad in (1, True, ["x"], "   ", "a\x00b"):
        with pytest.raises(ConfigError, match=r"\[network\] document_cache"):
            parse_config({**BASE, "network": {"document_cache": bad}})


def test_opening_creates_the_folder_and_refuses_an_unusable_one(tmp_path: Path) -> None:
    assert open_document_cache("") is None
    cache = open_document_cache(str(tmp_path / "new" / "deeper" / "d.sqlite"))
    assert cache is not None and cache.enabled
    cache.close()
    assert (tmp_path / "new" / "deeper" / "d.sqlite").is_file()
    with pytest.raises(ConfigError, match="is a folder"):
        open_document_cache(str(tmp_path))
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="cannot create"):
        open_document_cache(str(blocker / "sub" / "d.sqlite"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_an_unwritable_folder_is_a_config_error(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(ConfigError, match="not writable"):
            open_document_cache(str(locked / "d.sqlite"))
    finally:
        locked.chmod(0o700)


def test_default_cache_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_path() == tmp_path / "heed" / "documents.sqlite"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/dir")
    assert default_cache_path() == Path.home() / ".cache" / "heed" / "documents.sqlite"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_path() == Path.home() / ".cache" / "heed" / "documents.sqlite"
