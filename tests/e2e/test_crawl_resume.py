"""End-to-end: a crawl into a folder with earlier output resumes (crawler/resume.py).

Each test runs the real ``heed crawl`` in subprocesses, reads the loopback server's request
log to prove what was (not) requested, and reads the Parquet parts back with pyarrow.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from crawler.demo.web import LoopbackWeb, PageSpec, SiteSpec

from .crawlrun import CrawlRun, crawl, crawl_killed_after_parts, heed, write_config

TEXT = "text/plain; charset=utf-8"


def page(text: str, **kw: object) -> PageSpec:
    return PageSpec(body=f"<html><body>{text}</body></html>", **kw)  # type: ignore[arg-type]


def hub_site(n: int, *, delay: float = 0.0) -> tuple[SiteSpec, set[str], set[str]]:
    """A home page linking to ``/p0``… plus opted-out pages: (site, keepable, opted-out paths).

    Every 5th page says ``X-Robots-Tag: noai`` (fetched, never written); every 7th link goes
    under ``/private/``, which robots.txt disallows (never requested).
    """
    pages: dict[str, PageSpec] = {
        "/robots.txt": PageSpec(body="User-agent: *\nDisallow: /private/\n", content_type=TEXT)
    }
    keep, out = {"/"}, set()
    links = []
    for i in range(n):
        path = f"/private/p{i}" if i % 7 == 3 else f"/p{i}"
        links.append(f'<a href="{path}">{i}</a>')
        if i % 5 == 1:
            pages[path] = page(f"no ai {i}", delay=delay, headers=(("X-Robots-Tag", "noai"),))
            out.add(path)
        else:
            pages[path] = page(f"page {i}", delay=delay)
            (out if path.startswith("/private/") else keep).add(path)
    pages["/"] = page(" ".join(links))
    return SiteSpec(pages=pages), keep, out


def page_paths(web: LoopbackWeb) -> list[str]:
    signal_docs = {"/robots.txt", "/ai.txt", "/.well-known/tdmrep.json"}
    return [e.path for e in web.requests("s") if e.path not in signal_docs]


def assert_unique(run: CrawlRun) -> None:
    for table in (run.records(), run.decisions()):
        dupes = [u for u, n in Counter(r["url"] for r in table).items() if n > 1]
        assert not dupes, dupes


def test_second_run_requests_nothing_already_decided_and_max_pages_spans_the_job(
    tmp_path: Path,
) -> None:
    site, keep, out = hub_site(30)
    with LoopbackWeb({"s": site}) as web:
        cfg = {"crawl": {"seeds": [web.url("s")]}}
        first = crawl(tmp_path, cfg, "--max-pages", "10")
        assert first.returncode == 0, first.stderr
        decided_1 = {d["url"] for d in first.decisions()}
        assert len(decided_1) == 10 and not first.summary["resumed"]

        web.clear_log()
        second = crawl(tmp_path, cfg, "--max-pages", "18")  # 8 more for the whole job
        assert second.returncode == 0, second.stderr
        requested_2 = {web.url("s", p) for p in page_paths(web)}
        decided_2 = {d["url"] for d in second.decisions()}

        web.clear_log()
        third = crawl(tmp_path, cfg)  # the rest
        assert third.returncode == 0, third.stderr
        requested_3 = {web.url("s", p) for p in page_paths(web)}

        web.clear_log()
        fourth = crawl(tmp_path, cfg)  # all done: nothing at all is requested
        assert fourth.returncode == 0, fourth.stderr
        requested_4 = page_paths(web)
        info = json.loads((fourth.out / "run.json").read_text())
        table = heed("crawl", "--config", str(tmp_path / "run.toml"))  # the summary table
        all_urls = {web.url("s", p) for p in keep | out}
        kept = {web.url("s", p) for p in keep}

    assert not requested_2 & decided_1
    assert len(decided_2 - decided_1) == 8 and len(requested_2) <= 8
    s2 = second.summary
    assert s2["resumed"] and s2["skipped_done"] == 10 and s2["considered"] == 8
    assert s2["frontier_restored"] == 8  # the seed is done; its links came from the log
    assert not requested_3 & decided_2
    assert requested_4 == []
    assert fourth.summary["considered"] == 0
    assert fourth.summary["skipped_done"] == len(all_urls)
    assert_unique(fourth)
    assert {d["url"] for d in fourth.decisions()} == all_urls
    assert fourth.kept_urls() == kept
    assert info["resume"]["skipped_done"] == len(all_urls)
    assert len(info["previous_runs"]) == 3
    assert table.returncode == 0, table.stderr
    assert f"skipped (done earlier)  {len(all_urls):>7}" in table.stdout
    assert "frontier restored" in table.stdout


def test_rerun_after_sigkill_keeps_every_page_exactly_once(tmp_path: Path) -> None:
    site, keep, out = hub_site(300, delay=0.02)
    out_dir = tmp_path / "out"
    with LoopbackWeb({"s": site}) as web:
        config = write_config(
            tmp_path / "c.toml",
            {
                "crawl": {"seeds": [web.url("s")], "out": str(out_dir)},
                "output": {"part_max_rows": 10, "row_group_rows": 5, "flush_interval": 0.2},
            },
        )
        crawl_killed_after_parts(config, out_dir)
        killed = CrawlRun(0, "", "", out_dir)
        decided_before = {d["url"] for d in killed.decisions()}
        assert not (out_dir / "run.json").exists(), "the crawl finished before it was killed"
        assert 0 < len(decided_before) < len(keep | out) - 20, "not killed mid-crawl"

        web.clear_log()
        proc2 = heed("crawl", "--config", str(config), "--json")
        rerun = CrawlRun(proc2.returncode, proc2.stdout, proc2.stderr, out_dir)
        requested = [web.url("s", p) for p in page_paths(web)]
        kept_urls = {web.url("s", p) for p in keep}
        opted_out = {web.url("s", p) for p in out}

    assert rerun.returncode == 0, rerun.stderr
    assert rerun.summary["resumed"] and rerun.summary["frontier_restored"] > 0
    assert not set(requested) & decided_before
    records = rerun.records()
    counts = Counter(r["url"] for r in records)
    assert set(counts) == kept_urls
    assert max(counts.values()) == 1
    assert_unique(rerun)
    assert {d["url"] for d in rerun.decisions()} == kept_urls | opted_out
    assert not any(b"no ai" in r["body"] for r in records)
    assert not [u for u in requested if "/private/" in u]
    assert not list(out_dir.rglob("*.tmp"))


def test_fresh_refuses_a_folder_with_output_and_deletes_nothing(tmp_path: Path) -> None:
    site, keep, _ = hub_site(5)
    with LoopbackWeb({"s": site}) as web:
        cfg = {"crawl": {"seeds": [web.url("s")]}}
        first = crawl(tmp_path, cfg)
        assert first.returncode == 0, first.stderr
        before = sorted(p.relative_to(first.out) for p in first.out.rglob("*") if p.is_file())
        web.clear_log()
        fresh = crawl(tmp_path, cfg, "--fresh")
        setting = crawl(tmp_path, {**cfg, "output": {"resume": False}})
        requested = web.requests("s")
        new_folder = crawl(tmp_path / "new", cfg, "--fresh")
        other_purpose = crawl(tmp_path, {**cfg, "policy": {"purpose": "search"}})
        kept_urls = {web.url("s", p) for p in keep}
    after = sorted(p.relative_to(first.out) for p in first.out.rglob("*") if p.is_file())
    for refused in (fresh, setting):
        assert refused.returncode == 2, refused.stderr
        assert "--fresh" in refused.stderr and "already holds output" in refused.stderr
    assert requested == []
    assert after == before  # nothing deleted, nothing added
    assert new_folder.returncode == 0, new_folder.stderr
    assert new_folder.kept_urls() == first.kept_urls() == kept_urls
    assert other_purpose.returncode == 2
    assert "purpose train-ai" in other_purpose.stderr


def test_damaged_frontier_lines_are_ignored_one_by_one_and_reported(tmp_path: Path) -> None:
    site, keep, out = hub_site(20)
    with LoopbackWeb({"s": site}) as web:
        cfg = {"crawl": {"seeds": [web.url("s")]}}
        first = crawl(tmp_path, cfg, "--max-pages", "5")
        assert first.returncode == 0, first.stderr
        log = first.out / "frontier.jsonl"
        lines = log.read_text().splitlines()
        assert len(lines) == 21  # the seed and every link on it, though only 5 were requested
        lost = json.loads(lines[10])["url"]
        lines[10] = "\x00garbage{"  # a damaged line in the middle: its URL is lost
        lines.insert(3, '{"url": 5, "depth": 1}')  # valid JSON, not an entry
        torn = '{"url": "http://127.0.0.1:1/x", "de'  # a write cut short by a kill
        log.write_bytes(("\n".join(lines) + "\n" + torn).encode())
        web.clear_log()
        second = crawl(tmp_path, cfg)
        requested = {web.url("s", p) for p in page_paths(web)}
        all_urls = {web.url("s", p) for p in keep | out}
    assert second.returncode == 0, second.stderr
    assert second.summary["frontier_ignored_lines"] == 3
    assert "ignored 3 line(s)" in second.stderr
    assert lost not in requested
    assert {d["url"] for d in second.decisions()} == all_urls - {lost}
    assert_unique(second)
    # The torn tail was cut off before appending; the damaged lines stay (heed rewrites
    # nothing) and the log still ends on a line boundary.
    text = log.read_text()
    assert text.endswith("\n") and torn not in text
    assert "\x00garbage{" in text
