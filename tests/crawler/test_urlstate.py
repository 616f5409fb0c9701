"""The embedded URL ledger (crawler/urlstate/): claims, budget, frontier, decisions, memory."""

from __future__ import annotations

import asyncio
import tracemalloc
from pathlib import Path

from crawler.config import parse_config
from crawler.context import RunContext
from crawler.settings import scrapy_settings
from crawler.urlstate import SqliteLedger, UrlLedger
from filters import ReasonCode, Stage
from filters.engine import denied


def _ledger(tmp_path: Path, max_pages: int = 100) -> tuple[SqliteLedger, list[tuple[str, int]]]:
    logged: list[tuple[str, int]] = []
    ledger = SqliteLedger(
        max_pages, on_discovered=lambda u, d: logged.append((u, d)), scratch_parent=tmp_path
    )
    return ledger, logged


def test_it_is_a_url_ledger(tmp_path: Path) -> None:
    ledger, _ = _ledger(tmp_path)
    assert isinstance(ledger, UrlLedger)
    ledger.close()


def test_claims_each_url_once_in_order_and_logs_it_once(tmp_path: Path) -> None:
    ledger, logged = _ledger(tmp_path)
    got = ledger.claim([("http://a/1", 1), ("http://a/2", 1), ("http://a/1", 2)])
    assert got == [("http://a/1", 1), ("http://a/2", 1)]
    assert ledger.claim([("http://a/2", 1), ("http://a/3", 2)]) == [("http://a/3", 2)]
    assert logged == [("http://a/1", 1), ("http://a/2", 1), ("http://a/3", 2)]
    assert ledger.claimed == 3
    ledger.close()


def test_max_pages_bounds_claims_and_counts_earlier_done_urls(tmp_path: Path) -> None:
    ledger, logged = _ledger(tmp_path, max_pages=3)
    ledger.load_done(["http://a/done"])
    assert ledger.budget == 2
    links = [(f"http://a/{i}", 1) for i in range(4)] + [("http://a/done", 1)]
    assert ledger.claim(links) == [("http://a/0", 1), ("http://a/1", 1)]
    # Over the budget a new URL is still logged to the frontier (a rerun requests it), once.
    assert [u for u, _ in logged] == [f"http://a/{i}" for i in range(4)]
    assert ledger.claim(links) == []
    assert len(logged) == 4
    ledger.close()


def test_decisions_and_done_urls_are_decided_and_never_claimed(tmp_path: Path) -> None:
    ledger, logged = _ledger(tmp_path)
    ledger.load_done(["http://a/old"])
    ledger.mark_decided("http://a/new", kept=True)
    assert ledger.is_decided("http://a/old") and ledger.is_decided("http://a/new")
    assert not ledger.is_decided("http://a/other")
    assert ledger.claim([("http://a/old", 0), ("http://a/new", 0)]) == []
    assert logged == []
    assert ledger.claim([("http://a/other", 0)]) == [("http://a/other", 0)]
    assert not ledger.is_decided("http://a/other")  # claimed is not decided
    ledger.close()


def test_the_restored_frontier_is_yielded_in_order_and_not_logged_again(tmp_path: Path) -> None:
    ledger, logged = _ledger(tmp_path)
    entries = [(f"http://a/{i}", i % 3) for i in range(1234)]
    ledger.load_frontier(entries)
    assert list(ledger.frontier()) == entries
    assert ledger.claim(entries[:2]) == entries[:2]
    assert logged == []
    assert list(ledger.frontier()) == entries  # claiming does not change what was restored
    ledger.close()


def test_close_removes_the_scratch_folder(tmp_path: Path) -> None:
    ledger, _ = _ledger(tmp_path)
    assert ledger.scratch.is_dir() and ledger.scratch.parent == tmp_path
    ledger.claim([("http://a/1", 0)])
    ledger.close()
    ledger.close()
    assert not ledger.scratch.exists()


def test_a_hundred_thousand_urls_are_kept_out_of_python_memory(tmp_path: Path) -> None:
    ledger, _ = _ledger(tmp_path, max_pages=10**9)
    ledger.on_discovered = None
    tracemalloc.start()
    try:
        for page in range(1000):
            links = [(f"http://host{page % 50}.test/p/{page}/{i}", 1) for i in range(100)]
            assert len(ledger.claim(links)) == 100
            for url, _ in links[:10]:
                ledger.mark_decided(url)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # A Python set of these 100,000 URLs alone takes over 10 MB; the ledger's page cache is
    # SQLite's (not traced) and bounded.
    assert peak < 2_000_000, peak
    assert ledger.claimed == 100_000
    assert ledger.is_decided("http://host0.test/p/0/0")
    ledger.close()


def _context(tmp_path: Path, **crawl: object) -> RunContext:
    cfg = parse_config(
        {"identity": {"contact_url": "https://example.org/bot"}, "crawl": {"max_pages": 5, **crawl}}
    )
    return RunContext(cfg, tmp_path / "out")


def test_the_run_context_decides_each_url_once_through_its_ledger(tmp_path: Path) -> None:
    ctx = _context(tmp_path)
    assert isinstance(ctx.ledger, SqliteLedger)
    decision = denied(ReasonCode.FETCH_ERROR, Stage.PRE_FETCH, raw="test", source="http://a/")
    assert ctx.record_decision("http://a/", decision)
    assert not ctx.record_decision("http://a/", decision)  # once per URL
    assert ctx.already_decided("http://a/") and ctx.ledger.is_decided("http://a/")
    assert ctx.considered == 1
    scratch = ctx.ledger.scratch
    settings = scrapy_settings(ctx, progress=False)
    # Pending requests on disk in the private scratch folder, no in-memory fingerprint set.
    assert Path(settings["JOBDIR"]).parent == scratch
    assert settings["DUPEFILTER_CLASS"] == "scrapy.dupefilters.BaseDupeFilter"
    ctx.writer.close(ctx.run_info())
    ctx.frontier.close()
    asyncio.run(ctx.close_clients())
    assert not scratch.exists()


def test_resume_moves_the_done_set_and_frontier_into_the_ledger(tmp_path: Path) -> None:
    first = _context(tmp_path)
    decision = denied(ReasonCode.FETCH_ERROR, Stage.PRE_FETCH, raw="test", source="http://a/")
    first.frontier.add("http://a/next", 1)
    first.record_decision("http://a/", decision)
    first.writer.close(first.run_info())
    first.frontier.close()
    asyncio.run(first.close_clients())
    again = _context(tmp_path)
    assert again.resume.resumed and again.resume.done_count == 1
    assert again.resume.index is None and list(again.resume.done_urls()) == []  # released
    assert again.ledger.is_decided("http://a/")
    assert list(again.ledger.frontier()) == [("http://a/next", 1)]
    assert again.ledger.claim([("http://a/", 0), ("http://a/next", 1)]) == [("http://a/next", 1)]
    assert again.summary()["skipped_done"] == 1
    again.writer.close(again.run_info())
    again.frontier.close()
    asyncio.run(again.close_clients())
