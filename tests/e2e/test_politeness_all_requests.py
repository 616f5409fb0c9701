"""Politeness covers every request to a host, signal documents included (SPEC.md §3.1, §7).

The real ``heed crawl`` runs against a loopback web of several hosts (one 127.0.0.x address
each), every one with a ``Crawl-delay`` between 0.2 and 0.5 s, an ai.txt, a tdmrep.json, an
RSL licence named by robots.txt and one named by a page's ``Link`` header, a redirect and a
page answered 503 (retried), besides ordinary pages. The server's log, stamped at arrival,
must show robots.txt as the first request to each host and alone until it was answered, then
every further request to that host at least the delay after the previous one — whichever
client (the httpx document loader or Scrapy's downloader) sent it.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from crawler.demo.web import LoopbackWeb, PageSpec, RequestLogEntry, SiteSpec

from .crawlrun import crawl

TEXT = "text/plain; charset=utf-8"
RSL = "application/rsl+xml"
#: Timer granularity and scheduling slack allowed on each gap (a correctness check, not speed).
TOLERANCE = 0.010
#: Seconds every robots.txt takes to answer: nothing else may arrive meanwhile.
ROBOTS_DELAY = 0.25
DELAYS = {"alpha": 0.2, "beta": 0.3, "gamma": 0.4, "delta": 0.5}


def _rsl(site: str) -> PageSpec:
    body = (
        '<?xml version="1.0"?>\n<rsl xmlns="https://rslstandard.org/rsl">\n'
        f'  <content url="{{{{site:{site}}}}}/">\n'
        '    <license><permits type="usage">ai-all, search</permits>'
        '<payment type="free"/></license>\n'
        "  </content>\n</rsl>\n"
    )
    return PageSpec(body=body, content_type=RSL)


def _html(body: str) -> str:
    return f"<!doctype html><html><head><title>t</title></head><body>{body}</body></html>"


def _site(name: str, delay: float) -> SiteSpec:
    links = "".join(f'<a href="/{p}">{p}</a>' for p in ("a", "b", "c", "old", "busy", "linked"))
    robots = (
        f"User-agent: *\nCrawl-delay: {delay}\nAllow: /\n\n"
        f"License: {{{{site:{name}}}}}/license.rsl\n"
    )
    pages = {
        "/robots.txt": PageSpec(body=robots, content_type=TEXT),
        "/ai.txt": PageSpec(body="User-agent: *\nAllow: /\n", content_type=TEXT),
        "/.well-known/tdmrep.json": PageSpec(
            body='[{"location": "/", "tdm-reservation": 0}]', content_type="application/json"
        ),
        "/license.rsl": _rsl(name),
        "/page.rsl": _rsl(name),
        "/": PageSpec(body=_html(f"<p>{name} home</p>{links}")),
        "/a": PageSpec(body=_html("<p>a</p>")),
        "/b": PageSpec(body=_html("<p>b</p>")),
        "/c": PageSpec(body=_html("<p>c</p>")),
        "/old": PageSpec(status=301, redirect_to="/d"),
        "/d": PageSpec(body=_html("<p>d, moved</p>")),
        "/busy": PageSpec(
            status=503, body="busy", content_type=TEXT, headers=(("Retry-After", "0"),)
        ),
        "/linked": PageSpec(
            body=_html("<p>licensed by a Link header</p>"),
            headers=(
                (
                    "Link",
                    f'<{{{{site:{name}}}}}/page.rsl>; rel="license"; type="{RSL}"',
                ),
            ),
        ),
    }
    return SiteSpec(pages=pages, robots_delay=ROBOTS_DELAY)


def _violations(entries: list[RequestLogEntry], delay: float) -> list[str]:
    found = []
    for before, after in itertools.pairwise(entries):
        gap = after.time - before.time
        if gap < delay - TOLERANCE:
            found.append(f"{before.path} -> {after.path}: {gap * 1000:.1f} ms < {delay * 1000:g}")
    return found


def test_every_request_to_a_host_keeps_its_crawl_delay(tmp_path: Path) -> None:
    sites = {name: _site(name, delay) for name, delay in DELAYS.items()}
    with LoopbackWeb(sites) as web:
        seeds = [web.url(name) for name in DELAYS]
        run = crawl(
            tmp_path,
            {
                "crawl": {"seeds": seeds, "max_depth": 2},
                "network": {"concurrency": 16, "per_host_concurrency": 2, "autothrottle": False},
            },
        )
        assert run.returncode == 0, run.stderr
        problems: list[str] = []
        for name, delay in DELAYS.items():
            entries = sorted(web.requests(name), key=lambda e: e.time)
            paths = [e.path for e in entries]
            # Everything was requested: the documents, the pages, the hop, the retries.
            for path in ("/ai.txt", "/.well-known/tdmrep.json", "/license.rsl", "/page.rsl"):
                assert paths.count(path) == 1, (name, paths)
            assert {"/", "/a", "/b", "/c", "/old", "/d", "/linked"} <= set(paths), paths
            assert paths.count("/busy") == 3, paths  # the first try and Scrapy's 2 retries
            # robots.txt first, and alone until it was answered.
            assert paths[0] == "/robots.txt", (name, paths)
            assert paths.count("/robots.txt") == 1, (name, paths)
            answered = entries[0].time + ROBOTS_DELAY
            assert entries[1].time >= answered - TOLERANCE, (name, entries[1].time - answered)
            problems += [f"{name}: {v}" for v in _violations(entries, delay)]
        assert problems == [], problems
        kept = run.kept_urls()
        for name in DELAYS:
            assert {web.url(name, p) for p in ("/", "/a", "/b", "/c", "/linked")} <= kept
            assert run.decision(web.url(name, "/busy"))["reasons"] == ["fetch.status"]
