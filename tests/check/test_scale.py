"""1,000 URLs across 100 origins in one ``heed check`` process, without refetching any
origin's documents (asserted from the servers' request log, not timed)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from crawler.demo.web import LoopbackWeb, PageSpec, SiteSpec

from .conftest import TEXT, heed

ORIGINS, PAGES = 100, 10
DOCS = ("/robots.txt", "/ai.txt", "/.well-known/tdmrep.json")


def test_thousand_urls_hundred_origins(config: Path, tmp_path: Path) -> None:
    pages = {f"/p/{i}": PageSpec(body=f"<html><body>page {i}</body></html>") for i in range(PAGES)}
    pages["/robots.txt"] = PageSpec(body="User-agent: *\nDisallow: /p/9\n", content_type=TEXT)
    sites = {f"s{n:03d}": SiteSpec(pages) for n in range(ORIGINS)}
    with LoopbackWeb(sites) as web:
        urls = [web.url(site, f"/p/{i}") for site in sites for i in range(PAGES)]
        listing = tmp_path / "urls.txt"
        listing.write_text("# every page of every origin\n" + "\n".join(urls) + "\n")
        run = heed("check", "--config", config, "--json", "--urls-file", listing, timeout=300)
        log = web.requests()
    assert run.code == 1, run.stderr
    summary = run.data["summary"]
    assert summary["checked"] == ORIGINS * PAGES
    assert summary["kept"] == ORIGINS * (PAGES - 1)
    assert summary["by_reason"]["robots.disallow"] == ORIGINS
    assert summary["site_documents_fetched"] == ORIGINS * len(DOCS)
    counts = Counter((e.site, e.path) for e in log)
    for site in sites:
        for doc in DOCS:
            assert counts[(site, doc)] == 1, (site, doc)
        for i in range(PAGES - 1):
            assert counts[(site, f"/p/{i}")] == 1, (site, i)
        assert counts[(site, "/p/9")] == 0
    assert len(log) == ORIGINS * (len(DOCS) + PAGES - 1)
