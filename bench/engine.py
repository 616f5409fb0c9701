"""Decision-engine throughput on one core (prints figures; asserts nothing).

(a) headers-only: the response-header signals of a page (X-Robots-Tag, Content-Usage,
    Content-Signal, tdm-reservation) folded into allow/deny, over a realistic mix of responses
    (most carry none of these headers; some carry one or two).
(b) full decision: the pre-fetch decision (robots.txt for the product token, the AI-agent
    inference over the default 14 tokens, Content-Usage and Content-Signal rules, ai.txt,
    tdmrep.json, the registry's entries, RSL) plus the post-fetch decision on the response
    headers, licence and mode, for a page of an origin whose documents are already parsed.
    Every URL is distinct, so no per-URL cache helps; the engine reuses the site documents'
    results for URLs that match the same patterns (path classes, filters/engine/_pathclass.py), as
    it does in a crawl. The line below it evaluates every signal afresh for each URL.
(c) the same full decision for an HTML page, including parsing the page with lxml (its size
    is printed: HTML parsing dominates and scales with the page).

Usage: python bench/engine.py [--seconds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from filters import FetchOutcome, Headers, Purpose, Verdict, aitxt, robots, rsl, tdmrep
from filters.engine import (
    Answer,
    EngineConfig,
    Evaluator,
    SiteSignals,
    decide_post_fetch,
    decide_pre_fetch,
)
from filters.registry import make_entry

ROBOTS = b"""User-agent: *
Disallow: /private/
Disallow: /tmp/*.bak$
Allow: /private/public/
Crawl-delay: 1
Content-Usage: train-ai=y
Content-Usage: /drafts/ train-ai=n

User-agent: GPTBot
User-agent: CCBot
Disallow: /no-gpt/

User-agent: Google-Extended
Disallow: /articles/

User-agent: heedbot
Disallow: /search
Allow: /
Content-Signal: search=yes, ai-train=yes

License: https://example.org/license.xml
Sitemap: https://example.org/sitemap.xml
"""

TDMREP = json.dumps(
    [
        {"location": "/reserved/*", "tdm-reservation": 1, "tdm-policy": "https://example.org/p"},
        {"location": "/free/", "tdm-reservation": 0},
    ]
    + [{"location": f"/section{i}/", "tdm-reservation": i % 2} for i in range(8)]
).encode()

RSL = b"""<rsl xmlns="https://rslstandard.org/rsl">
  <content url="/archive/*"><license>
    <prohibits type="usage">ai-train</prohibits>
  </license></content>
  <content url="/"><license><permits type="usage">search ai-train</permits></license></content>
</rsl>"""


def _outcome(url: str, body: bytes, ctype: str) -> FetchOutcome:
    return FetchOutcome(
        url=url,
        status=200,
        headers=Headers({"content-type": ctype}),
        body=body,
        fetched_at=datetime.now(UTC),
    )


def _site() -> SiteSignals:
    return SiteSignals(
        robots=robots.policy_from_fetch(
            _outcome("https://example.org/robots.txt", ROBOTS, "text/plain")
        ),
        aitxt=aitxt.policy_from_fetch(FetchOutcome(url="https://example.org/ai.txt", status=404)),
        tdmrep=tdmrep.policy_from_fetch(
            _outcome("https://example.org/.well-known/tdmrep.json", TDMREP, "application/json")
        ),
        rsl={
            "https://example.org/license.xml": rsl.policy_from_fetch(
                _outcome("https://example.org/license.xml", RSL, "application/rsl+xml")
            )
        },
    )


def _header_mix(n: int) -> list[Headers]:
    base = [
        ("content-type", "text/html; charset=utf-8"),
        ("cache-control", "max-age=600"),
        ("server", "nginx"),
        ("date", "Sun, 22 Nov 2026 10:00:00 GMT"),
        ("etag", '"abc"'),
    ]
    extras = [
        (),
        (),
        (),
        (),
        (),
        (),
        (("x-robots-tag", "noindex, nofollow"),),
        (("x-robots-tag", "heedbot: noai"),),
        (("content-usage", "train-ai=n"),),
        (("content-signal", "search=yes, ai-train=no"),),
        (("tdm-reservation", "1"), ("tdm-policy", "https://example.org/policy")),
        (("x-robots-tag", "noai, noimageai"), ("content-usage", "train-ai=y, search=y")),
    ]
    rng = random.Random(7)
    return [Headers(base + list(rng.choice(extras))) for _ in range(n)]


def _rate(fn, inputs: list, seconds: float) -> float:  # type: ignore[no-untyped-def,type-arg]
    """Calls per second of ``fn`` over ``inputs`` (looping over them until ``seconds`` pass)."""
    count, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        for item in inputs:
            fn(item)
        count += len(inputs)
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    args = parser.parse_args()
    cfg = EngineConfig(purpose=Purpose.TRAIN_AI)
    site = _site()
    mix = _header_mix(4096)
    entries = Answer(
        (
            make_entry("domain", "example.org", "opt-in", ["train-ai"], registered_by="bench"),
            make_entry(
                "prefix",
                "https://example.org/private/",
                "opt-out",
                ["train-ai"],
                registered_by="bench",
            ),
        )
    )
    # A run's one evaluator: it owns the memos (path classes, header results).
    ev = Evaluator(cfg)
    paths = [
        "/",
        "/articles/a",
        "/private/x",
        "/free/y",
        "/reserved/z",
        "/drafts/d",
        "/search",
        "/section3/p",
        "/archive/2020/a",
        "/tmp/a.bak",
        "/b/c/d/e",
    ]
    urls = [f"https://example.org{p}" for p in paths]

    # (a) headers only: every response has different header objects, as on the wire
    deny = Verdict.DENY

    def headers_only(headers: Headers) -> bool:
        for result in ev.evaluate_headers(headers):  # noqa: SIM110 (a plain loop, as the engine folds)
            if result.verdict is deny:
                return False
        return True

    # (b) full decision for a page, site documents already parsed; every URL distinct, so
    # no per-URL cache can help
    pages = [
        (url, FetchOutcome(url=url, status=200, headers=mix[i % 4096], body=b""))
        for i, url in enumerate(f"{u}{n}" for n in range(2000) for u in urls)
    ]

    def full(item: tuple[str, FetchOutcome]) -> None:
        url, response = item
        pre = ev.decide_pre_fetch(site, url, entries)
        if pre.allowed:
            page = ev.inspect_response(response)
            ev.decide_post_fetch(pre, site, page, registry_answer=entries)

    def afresh(item: tuple[str, FetchOutcome]) -> None:
        # the plain functions: no evaluator, so no memo of any kind
        url, response = item
        pre = decide_pre_fetch(site, url, cfg, entries)
        if pre.allowed:
            page = ev.inspect_response(response)
            decide_post_fetch(pre, site, page, cfg, registry_answer=entries)

    html_page = (
        b"<!doctype html><html><head><title>t</title>"
        b'<meta name="robots" content="index"><link rel="license" '
        b'href="https://creativecommons.org/licenses/by/4.0/"></head><body>'
        + b"".join(
            b'<p>Paragraph %d with <a href="/p%d">a link</a>.</p>' % (i, i) for i in range(40)
        )
        + b"</body></html>"
    )
    html_response = FetchOutcome(
        url="https://example.org/",
        status=200,
        headers=Headers({"content-type": "text/html"}),
        body=html_page,
    )

    def full_html() -> None:
        pre = ev.decide_pre_fetch(site, "https://example.org/", entries)
        ev.decide_post_fetch(pre, site, ev.inspect_response(html_response), registry_answer=entries)

    print(f"heed engine benchmark · one core · python {sys.version.split()[0]} · pid {os.getpid()}")
    a = _rate(headers_only, mix, args.seconds)
    print(f"(a) headers-only evaluation      {a:>12,.0f} /s   target ≥ 600,000/s")
    b = _rate(full, pages, args.seconds)
    print(f"(b) full decision, parsed docs   {b:>12,.0f} /s   target ≥  50,000/s")
    b0 = _rate(afresh, pages, args.seconds)
    print(f"    same, no memo (plain funcs)  {b0:>12,.0f} /s")
    c = _rate(lambda _: full_html(), [None] * 100, args.seconds)
    print(f"(c) full decision + HTML parse   {c:>12,.0f} /s   ({len(html_page):,} B page)")


if __name__ == "__main__":
    main()
