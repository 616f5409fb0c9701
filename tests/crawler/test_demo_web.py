"""Tests for crawler/demo/web.py: the loopback multi-host web really serves what its specs say."""

from __future__ import annotations

import gzip
import ipaddress
import json
import re
import socket
import threading
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from crawler.demo.sites import (
    DEMO_CONFIG,
    ONLY_ROBOTS_SITES,
    demo_expectations,
    demo_never_requested,
    demo_registry_entries,
    demo_seeds,
    demo_sites,
)
from crawler.demo.web import LoopbackWeb, PageSpec, SiteSpec
from filters import registry
from filters.reasons import ReasonCode

SITES: dict[str, SiteSpec] = {
    "alpha": SiteSpec(
        pages={
            "/": PageSpec(body='<a href="{{site:beta}}/page">beta</a>'),
            "/robots.txt": PageSpec(
                body="User-agent: *\nDisallow: /x\n", content_type="text/plain"
            ),
            "/hdr": PageSpec(
                body="h",
                headers=(("X-Robots-Tag", "noai"), ("X-Robots-Tag", "heedbot: noml")),
            ),
            "/link": PageSpec(
                body="l", headers=(("Link", '<{{site:beta}}/l.xml>; rel="license"'),)
            ),
            "/teapot": PageSpec(status=418, body="short and stout", content_type="text/plain"),
            "/none": PageSpec(body=b"raw", content_type=None),
            "/q?x=1": PageSpec(body="with query"),
            "/to-beta": PageSpec(redirect_to="@beta/page"),
            "/to-local": PageSpec(status=301, redirect_to="/hdr"),
            "/to-abs": PageSpec(redirect_to="{{site:beta}}/page"),
            "/slow": PageSpec(body="slow", delay=0.3),
            "/trickle": PageSpec(body=b"0123456789", chunk_delay=0.05, chunk_size=3),
            "/huge": PageSpec(body=b"abc", repeat_body_bytes=3 * 1024 * 1024 + 1),
            "/chunked": PageSpec(body=b"xyz", repeat_body_bytes=100_000, chunked=True),
            "/bomb": PageSpec(body=b"\0", repeat_body_bytes=20 * 1024 * 1024, gzip=True),
            "/gz": PageSpec(body="<p>small</p>", gzip=True),
            "/drop": PageSpec(close_connection=True),
        },
        robots_delay=0.2,
    ),
    "beta": SiteSpec(
        pages={"/page": PageSpec(body="beta page")},
        not_found=PageSpec(status=410, body="gone", content_type="text/plain"),
    ),
}


@pytest.fixture(scope="module")
def web() -> Iterator[LoopbackWeb]:
    with LoopbackWeb(SITES) as w:
        yield w


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as c:
        yield c


def test_each_site_has_its_own_loopback_origin(web: LoopbackWeb) -> None:
    hosts = {urlsplit(web.origin(s)).netloc for s in ("alpha", "beta")}
    assert len(hosts) == 2
    for site in ("alpha", "beta"):
        parts = urlsplit(web.origin(site))
        assert parts.scheme == "http"
        assert parts.hostname is not None
        assert ipaddress.ip_address(parts.hostname).is_loopback
        assert parts.port
    assert web.url("beta", "page") == web.origin("beta") + "/page"
    assert web.site_of(web.url("beta", "/x?y")) == "beta"
    assert web.site_of("http://example.com/") is None


def test_distinct_addresses_when_linux_allows_them(web: LoopbackWeb) -> None:
    try:
        with socket.socket() as probe:
            probe.bind(("127.0.0.250", 0))
    except OSError:
        pytest.skip("this system cannot bind 127.0.0.x beyond 127.0.0.1")
    hosts = [urlsplit(web.origin(s)).hostname for s in ("alpha", "beta")]
    assert hosts == ["127.0.0.2", "127.0.0.3"]


def test_status_body_and_content_type(web: LoopbackWeb, client: httpx.Client) -> None:
    r = client.get(web.url("alpha", "/teapot"))
    assert r.status_code == 418
    assert r.text == "short and stout"
    assert r.headers["content-type"] == "text/plain"
    r = client.get(web.url("alpha", "/none"))
    assert "content-type" not in r.headers
    assert r.content == b"raw"


def test_repeated_headers_are_all_sent(web: LoopbackWeb, client: httpx.Client) -> None:
    r = client.get(web.url("alpha", "/hdr"))
    assert r.headers.get_list("x-robots-tag") == ["noai", "heedbot: noml"]


def test_placeholders_in_body_and_headers(web: LoopbackWeb, client: httpx.Client) -> None:
    body = client.get(web.url("alpha", "/")).text
    assert body == f'<a href="{web.origin("beta")}/page">beta</a>'
    link = client.get(web.url("alpha", "/link")).headers["link"]
    assert link == f'<{web.origin("beta")}/l.xml>; rel="license"'


def test_unknown_paths_use_the_site_default(web: LoopbackWeb, client: httpx.Client) -> None:
    assert client.get(web.url("alpha", "/missing")).status_code == 404
    r = client.get(web.url("beta", "/missing"))
    assert (r.status_code, r.text) == (410, "gone")


def test_query_is_matched_exactly_then_without_query(
    web: LoopbackWeb, client: httpx.Client
) -> None:
    assert client.get(web.url("alpha", "/q?x=1")).text == "with query"
    assert client.get(web.url("alpha", "/q?x=2")).status_code == 404
    assert client.get(web.url("alpha", "/hdr?anything")).text == "h"


@pytest.mark.parametrize(
    ("path", "status", "target"),
    [
        ("/to-beta", 302, ("beta", "/page")),
        ("/to-local", 301, ("alpha", "/hdr")),
        ("/to-abs", 302, ("beta", "/page")),
    ],
)
def test_redirects(
    web: LoopbackWeb, client: httpx.Client, path: str, status: int, target: tuple[str, str]
) -> None:
    r = client.get(web.url("alpha", path))
    assert r.status_code == status
    assert r.headers["location"] == web.url(*target)


def test_head_sends_headers_without_body(web: LoopbackWeb, client: httpx.Client) -> None:
    r = client.head(web.url("alpha", "/hdr"))
    assert r.status_code == 200
    assert r.headers.get_list("x-robots-tag") == ["noai", "heedbot: noml"]
    assert r.headers["content-length"] == "1"
    assert r.content == b""
    web_log = [e for e in web.requests("alpha") if e.path == "/hdr" and e.method == "HEAD"]
    assert web_log


def test_delay_and_robots_delay(web: LoopbackWeb, client: httpx.Client) -> None:
    # Lower bounds only: a delay is a minimum, never asserted as a maximum.
    start = time.monotonic()
    assert client.get(web.url("alpha", "/slow")).text == "slow"
    assert time.monotonic() - start >= 0.3
    start = time.monotonic()
    assert client.get(web.url("alpha", "/robots.txt")).text.startswith("User-agent: *")
    assert time.monotonic() - start >= 0.2


def test_chunk_delay_trickles_the_body(web: LoopbackWeb, client: httpx.Client) -> None:
    with client.stream("GET", web.url("alpha", "/trickle")) as r:
        pieces = list(r.iter_raw())
    assert b"".join(pieces) == b"0123456789"
    assert len(pieces) >= 2  # sent as 4 pieces with pauses; the client sees more than one read


def test_repeat_body_bytes_is_exact(web: LoopbackWeb, client: httpx.Client) -> None:
    r = client.get(web.url("alpha", "/huge"))
    size = 3 * 1024 * 1024 + 1
    assert r.headers["content-length"] == str(size)
    assert r.content == (b"abc" * (size // 3 + 1))[:size]


def test_chunked_transfer(web: LoopbackWeb, client: httpx.Client) -> None:
    r = client.get(web.url("alpha", "/chunked"))
    assert r.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in r.headers
    assert r.content == (b"xyz" * 40_000)[:100_000]


def test_gzip_bomb_is_small_on_the_wire(web: LoopbackWeb, client: httpx.Client) -> None:
    with client.stream("GET", web.url("alpha", "/bomb")) as r:
        assert r.headers["content-encoding"] == "gzip"
        wire = b"".join(r.iter_raw())
    assert int(r.headers["content-length"]) == len(wire) < 1024 * 1024
    inflated = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(wire)
    assert len(inflated) == 20 * 1024 * 1024
    assert inflated.count(b"\0") == len(inflated)


def test_gzip_small_page(web: LoopbackWeb, client: httpx.Client) -> None:
    with client.stream("GET", web.url("alpha", "/gz")) as r:
        wire = b"".join(r.iter_raw())
    assert gzip.decompress(wire) == b"<p>small</p>"


def test_close_connection_sends_nothing(web: LoopbackWeb) -> None:
    with pytest.raises(httpx.TransportError), httpx.Client(timeout=5) as c:
        c.get(web.url("alpha", "/drop"))
    assert any(e.path == "/drop" for e in web.requests("alpha"))


def test_request_log_records_every_request_in_order() -> None:
    with LoopbackWeb(SITES) as w, httpx.Client(timeout=5) as c:
        c.get(w.url("alpha", "/robots.txt"), headers={"User-Agent": "heedbot/0 (+x)"})
        c.get(w.url("beta", "/page?a=b"))
        c.get(w.url("beta", "/nope"))
        log = w.requests()
        assert [(e.site, e.method, e.path) for e in log] == [
            ("alpha", "GET", "/robots.txt"),
            ("beta", "GET", "/page?a=b"),
            ("beta", "GET", "/nope"),
        ]
        assert dict((k.lower(), v) for k, v in log[0].headers)["user-agent"] == "heedbot/0 (+x)"
        assert log[0].time <= log[1].time <= log[2].time <= time.monotonic()
        assert [e.path for e in w.requests("beta")] == ["/page?a=b", "/nope"]
        w.clear_log()
        assert w.requests() == []


def test_fifty_parallel_requests_are_served_concurrently() -> None:
    sites = {"s": {"/wait": PageSpec(body="ok", delay=1.5)}}
    done: list[float] = []
    lock = threading.Lock()
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)

    def fetch(_: int) -> str:
        text = client.get(w.url("s", "/wait")).text
        with lock:
            done.append(time.monotonic())
        return text

    with (
        LoopbackWeb(sites) as w,
        httpx.Client(timeout=60, limits=limits) as client,
        ThreadPoolExecutor(50) as pool,
    ):
        texts = list(pool.map(fetch, range(50)))
        arrivals = [e.time for e in w.requests("s")]
    assert texts == ["ok"] * 50
    assert len(arrivals) == 50
    # Served one at a time, the 50th request would arrive ~49 s after the first answer; served
    # concurrently, every request has arrived before any answer (each waits 1.5 s) is complete.
    assert max(arrivals) < min(done)


def test_unknown_placeholder_fails_at_start() -> None:
    web = LoopbackWeb({"a": {"/": PageSpec(body="{{site:nowhere}}")}})
    with pytest.raises(ValueError, match="nowhere"):
        web.start()
    web.stop()


def test_unknown_redirect_site_fails_at_start() -> None:
    web = LoopbackWeb({"a": {"/": PageSpec(redirect_to="@nowhere/x")}})
    with pytest.raises(ValueError, match="nowhere"):
        web.start()


def test_stop_releases_the_ports() -> None:
    web = LoopbackWeb({"a": {"/": PageSpec(body="x")}}).start()
    url = web.url("a")
    assert httpx.get(url).text == "x"
    web.stop()
    web.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(url, timeout=2)


# --------------------------------------------------------------------------- the demo web


@pytest.fixture(scope="module")
def demo() -> Iterator[LoopbackWeb]:
    with LoopbackWeb(demo_sites()) as w:
        yield w


_HREF = re.compile(r'href="([^"]+)"')


def test_demo_truth_is_well_formed() -> None:
    codes = {c.value for c in ReasonCode}
    sites = demo_sites()
    seen: set[tuple[str, str]] = set()
    for e in demo_expectations():
        assert (e.site, e.path) not in seen
        seen.add((e.site, e.path))
        assert e.site in sites
        assert set(e.reasons) <= codes, e
        assert e.reasons == tuple(sorted(e.reasons))
        assert e.kept == (not e.reasons), e
        assert (e.stage is None) == e.kept, e
        if e.stage == "pre-fetch" and e.final is None:
            assert not e.fetched, e
        if e.stage == "post-fetch":
            assert e.fetched, e
        if not e.kept:
            assert e.license is None and not e.license_conflict
    assert len(sites) <= 12
    assert 40 <= len(seen) <= 100


def test_demo_covers_every_signal_and_error_case() -> None:
    covered = {r for e in demo_expectations() for r in e.reasons}
    # Not reachable in the default demo configuration (documented in docs/demo.md): loopback
    # is allowed, the registry is local, the mode is opt-out, parse errors are informational,
    # and search-only or noarchive directives do not deny train-ai.
    unreachable = {
        "fetch.blocked-address",
        "registry.unavailable",
        "consent.missing",
        "license.not-open",
        "aipref.parse-error",
        "html.unparseable",  # the HTML reading is tolerant: no servable page makes it fail
        "blocklist.listed",  # the demo configures no domain blocklist
    }
    search_only = {c.value for c in ReasonCode if c.value.endswith((".noindex", ".none"))}
    archive = {c.value for c in ReasonCode if c.value.endswith((".noarchive", ".nocache"))}
    assert covered == {c.value for c in ReasonCode} - unreachable - search_only - archive


def test_every_excluded_page_has_a_kept_control_on_its_site() -> None:
    by_site: dict[str, list[bool]] = {}
    for e in demo_expectations():
        by_site.setdefault(e.site, []).append(e.kept)
    site_wide = {s for s, kept in by_site.items() if not any(kept)}
    assert site_wide == {"down", "lazy", "aierror", "badtdm"}
    for site, kept in by_site.items():
        if site not in site_wide:
            assert any(kept) and not all(kept), site


def test_demo_expectations_are_reachable_from_the_seeds(demo: LoopbackWeb) -> None:
    """Every expected URL is linked from a seed that the crawl fetches."""
    seeds = demo_seeds(demo)
    assert seeds == [demo.url(s, "/") for s in demo_sites()]
    denied_roots = {e.site for e in demo_expectations() if e.path == "/" and not e.kept}
    linked: set[str] = set(seeds)
    with httpx.Client(timeout=10) as c:
        for seed in seeds:
            if demo.site_of(seed) in denied_roots:
                continue
            page = c.get(seed)
            assert page.status_code == 200
            linked |= {urljoin(seed, h) for h in _HREF.findall(page.text)}
    for e in demo_expectations():
        assert demo.url(e.site, e.path) in linked, e


def test_demo_pages_serve_what_their_expectation_needs(demo: LoopbackWeb) -> None:
    with httpx.Client(timeout=10) as c:
        for e in demo_expectations():
            if not e.kept or e.path == "/":
                continue
            r = c.get(demo.url(e.site, e.path), follow_redirects=True)
            assert r.status_code == 200, e
            final = e.final or f"@{e.site}{e.path}"
            site, _, path = final[1:].partition("/")
            assert str(r.url) == demo.url(site, "/" + path), e


def test_demo_error_and_signal_documents(demo: LoopbackWeb) -> None:
    with httpx.Client(timeout=10) as c:
        assert c.get(demo.url("down", "/robots.txt")).status_code == 503
        assert c.get(demo.url("hub", "/robots.txt")).status_code == 404
        assert "Crawl-delay: 60" in c.get(demo.url("lazy", "/robots.txt")).text
        assert c.get(demo.url("aierror", "/ai.txt")).status_code == 500
        assert c.get(demo.url("aierror", "/.well-known/tdmrep.json")).status_code == 429
        bad = c.get(demo.url("badtdm", "/.well-known/tdmrep.json"))
        assert bad.headers["content-type"] == "application/json"
        with pytest.raises(ValueError):
            json.loads(bad.text)
        tdm = json.loads(c.get(demo.url("tdm", "/.well-known/tdmrep.json")).text)
        assert tdm[0]["tdm-policy"] == demo.url("tdm", "/policy.json")
        ai = c.get(demo.url("strict", "/ai.txt"))
        assert ai.headers["content-type"].startswith("text/html") and "Disallow: /" in ai.text
        robots = c.get(demo.url("rsl", "/robots.txt")).text
        assert f"License: {demo.url('rsl', '/license.rsl')}" in robots
        rsl = c.get(demo.url("rsl", "/license.rsl")).text
        assert f'url="{demo.url("rsl", "/premium/")}"' in rsl
        assert "{{site:" not in rsl + robots


def test_demo_slow_robots_and_size_cases(demo: LoopbackWeb) -> None:
    with httpx.Client(timeout=10) as c:
        start = time.monotonic()
        assert "Disallow: /area/" in c.get(demo.url("slow", "/robots.txt")).text
        assert time.monotonic() - start >= 1.5
        huge = c.get(demo.url("hub", "/huge.html"))
        assert len(huge.content) > DEMO_CONFIG["max_page_bytes"]
        with c.stream("GET", demo.url("hub", "/bomb.html")) as r:
            wire = b"".join(r.iter_raw())
        assert len(wire) < DEMO_CONFIG["max_page_bytes"]
        assert len(gzip.decompress(wire)) > DEMO_CONFIG["max_page_bytes"]
    with httpx.Client(timeout=10, max_redirects=5, follow_redirects=True) as c:
        assert str(c.get(demo.url("hub", "/chain5/0.html")).url).endswith("/chain5/5.html")
        with pytest.raises(httpx.TooManyRedirects):
            c.get(demo.url("hub", "/chain6/0.html"))


def test_demo_registry_entries_validate(demo: LoopbackWeb) -> None:
    entries = []
    for raw in demo_registry_entries():
        data = dict(raw)
        data["subject"] = demo.expand(str(data["subject"]))
        entries.append(registry.entry_from_dict(data))
    kinds = {(e.subject_kind.value, e.choice.value) for e in entries}
    assert ("prefix", "opt-out") in kinds and ("url", "opt-in") in kinds
    # The runner passes only these fields on (plus ``note``): nothing else may matter.
    assert all(
        set(raw) <= {"id", "subject_kind", "subject", "choice", "purposes", "registered_by", "note"}
        for raw in demo_registry_entries()
    )


def test_never_requested_lists_pre_fetch_denials() -> None:
    never = set(demo_never_requested())
    for e in demo_expectations():
        if e.stage == "pre-fetch" and e.final is None:
            assert (e.site, e.path) in never
        if e.fetched:
            assert (e.site, e.path) not in never
    assert ("hub", "/chain6/6.html") in never
    assert ONLY_ROBOTS_SITES == ("down",)


def test_demo_config_matches_the_bundled_demo_toml() -> None:
    """The truth is only valid for the policy ``heed demo`` really runs."""
    tomllib = pytest.importorskip("tomllib")
    from importlib import resources

    text = resources.files("crawler.demo").joinpath("demo.toml").read_text(encoding="utf-8")
    flat = {k: v for section in tomllib.loads(text).values() for k, v in section.items()}
    for key, value in DEMO_CONFIG.items():
        assert flat[key] == value, key
