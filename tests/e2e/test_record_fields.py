"""End-to-end: attribution columns, ``[privacy] redact`` and ``keep_body`` in a real crawl.

The real ``heed crawl`` against a loopback web; records read back with pyarrow.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from crawler.demo.web import LoopbackWeb, PageSpec, SiteSpec

from .crawlrun import CrawlRun, crawl

NEW_COLUMNS = (
    "author",
    "publisher",
    "site_name",
    "published_at",
    "language",
    "redactions",
    "body_kept",
)
_LD = {
    "@context": "https://schema.org",
    "@type": "Article",
    "author": [{"name": "Ann Lee"}, {"name": "Bo Ek"}],
    "publisher": {"@type": "Organization", "name": "Loop Press"},
    "datePublished": "2024-05-01T10:00:00+02:00",
}
ARTICLE = (
    '<!doctype html><html lang="en-gb"><head><title>Article</title>'
    '<meta property="og:site_name" content="Loop News">'
    f'<script type="application/ld+json">{json.dumps(_LD)}</script></head><body>'
    "<p>Write to ann.lee@example.org or call +44 20 7946 0958.</p>"
    "<p>Released 2024-05-01, version 3.12.4, price $1,299.99.</p>"
    '<a href="/plain">plain</a> <a href="/optout">out</a></body></html>'
)
PLAIN = "<html><body><p>No names here; contact bo@example.org.</p></body></html>"
OPTOUT = (
    '<html><head><meta name="robots" content="noai"><meta name="author" content="Cy">'
    "</head><body><p>secret cy@example.org</p></body></html>"
)


def _site() -> SiteSpec:
    return SiteSpec(
        pages={
            "/": PageSpec(body=ARTICLE),
            "/plain": PageSpec(body=PLAIN),
            "/optout": PageSpec(body=OPTOUT),
        }
    )


def _records(run: CrawlRun) -> dict[str, dict[str, Any]]:
    parts = sorted((run.out / "records").glob("*.parquet"))
    assert parts, run.stderr
    for part in parts:
        schema = pq.read_schema(part)
        assert set(NEW_COLUMNS) <= set(schema.names)
        assert schema.metadata[b"heed.schema_version"] == b"2"
    return {r["url"]: r for r in run.records()}


def _decisions(run: CrawlRun) -> set[tuple[str, bool, tuple[str, ...]]]:
    return {(d["url"], d["allowed"], tuple(d["reasons"])) for d in run.decisions()}


def test_attribution_redaction_and_dropped_body(tmp_path: Path) -> None:
    privacy = {"privacy": {"redact": ["email", "phone"], "keep_body": False}}
    with LoopbackWeb({"news": _site()}) as web:
        seeds = {"crawl": {"seeds": [web.url("news")]}}
        plain_run = crawl(tmp_path / "plain", seeds)
        private_run = crawl(tmp_path / "private", {**seeds, **privacy})
        home, plain_url, optout = (
            web.url("news"),
            web.url("news", "/plain"),
            web.url("news", "/optout"),
        )
    assert plain_run.returncode == 0, plain_run.stderr
    assert private_run.returncode == 0, private_run.stderr

    # redaction runs after the decision: the same pages are kept and excluded either way
    assert _decisions(plain_run) == _decisions(private_run)
    assert private_run.decision(optout)["allowed"] is False

    before = _records(plain_run)
    after = _records(private_run)
    assert set(before) == set(after) == {home, plain_url}

    article = after[home]
    assert article["author"] == "Ann Lee; Bo Ek"
    assert article["publisher"] == "Loop Press"
    assert article["site_name"] == "Loop News"
    assert article["published_at"] == "2024-05-01T08:00:00Z"
    assert article["language"] == "en-GB"
    assert "[email]" in article["text"] and "[phone]" in article["text"]
    assert "ann.lee@example.org" not in article["text"]
    assert "7946" not in article["text"]
    assert "2024-05-01" in article["text"] and "3.12.4" in article["text"]
    assert "$1,299.99" in article["text"]
    assert article["redactions"] == 2
    assert article["body"] == b"" and article["body_kept"] is False
    assert article["sha256"] == hashlib.sha256(ARTICLE.encode()).hexdigest()

    plain = after[plain_url]
    assert plain["redactions"] == 1 and "[email]" in plain["text"]
    assert all(plain[c] is None for c in NEW_COLUMNS[:5])
    assert plain["body"] == b"" and plain["sha256"] == hashlib.sha256(PLAIN.encode()).hexdigest()

    # redaction off (the default): text as extracted, count null, body kept, same attribution
    untouched = before[home]
    assert "ann.lee@example.org" in untouched["text"] and "+44 20 7946 0958" in untouched["text"]
    assert untouched["redactions"] is None and before[plain_url]["redactions"] is None
    assert untouched["body"] == ARTICLE.encode() and untouched["body_kept"] is True
    assert untouched["sha256"] == article["sha256"]
    for column in NEW_COLUMNS[:5]:
        assert untouched[column] == article[column]
