"""End-to-end: ``heed crawl`` a loopback web, change the web, ``heed recheck`` the corpus.

The changes (issue "heed recheck"): robots.txt adds a GPTBot Disallow for a directory; a
tdmrep.json appears; a registry opt-out is added; a page starts sending X-Robots-Tag: noai; a
licence changes; a page disappears; one origin's robots.txt starts answering 503. Each
``--refetch`` mode must remove exactly the rows it can see opted out, with the right reason,
keep everything else, and request only what it should (the servers' request logs).
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest

from crawler.demo.web import LoopbackWeb, PageSpec, SiteSpec
from crawler.registry.store import RegistryStore
from filters.registry import make_entry

from .crawlrun import CrawlRun, crawl, heed, write_config

TEXT = "text/plain; charset=utf-8"
CC_BY = "https://creativecommons.org/licenses/by/4.0/"
CC_BY_NC = "https://creativecommons.org/licenses/by-nc/4.0/"
DOCS = ("/robots.txt", "/ai.txt", "/.well-known/tdmrep.json")


def _page(body: str, license_url: str | None = None, **headers: str) -> PageSpec:
    link = f'<link rel="license" href="{license_url}">' if license_url else ""
    return PageSpec(
        body=f"<html><head><title>t</title>{link}</head><body>{body}</body></html>",
        headers=tuple(headers.items()),
    )


def _links(*paths: str) -> str:
    return "".join(f'<a href="{p}">{p}</a> ' for p in paths)


def _robots(text: str, status: int = 200) -> PageSpec:
    return PageSpec(body=text, content_type=TEXT, status=status)


A_PATHS = ("/dir/1", "/dir/2", "/open/1", "/noai", "/lic", "/gone", "/reg")


def _site_a(after: bool) -> SiteSpec:
    robots = "User-agent: *\nAllow: /\n"
    if after:
        robots += "\nUser-agent: GPTBot\nDisallow: /dir/\n"
    pages = {
        "/robots.txt": _robots(robots),
        "/": _page(_links(*A_PATHS)),
        "/dir/1": _page("d1"),
        "/dir/2": _page("d2"),
        "/open/1": _page("o1"),
        "/noai": _page("n", **({"X-Robots-Tag": "noai"} if after else {})),
        "/lic": _page("l", CC_BY_NC if after else CC_BY),
        "/reg": _page("r"),
    }
    if not after:
        pages["/gone"] = _page("g")
    return SiteSpec(pages=pages)


def _site_b(after: bool) -> SiteSpec:
    pages = {
        "/robots.txt": _robots("User-agent: *\nAllow: /\nCrawl-delay: 1\n"),
        "/": _page(_links("/tdm/1", "/free/1")),
        "/tdm/1": _page("t"),
        "/free/1": _page("f"),
    }
    if after:
        pages["/.well-known/tdmrep.json"] = PageSpec(
            body='[{"location": "/tdm/*", "tdm-reservation": 1}]', content_type="application/json"
        )
    return SiteSpec(pages=pages)


def _site_c(after: bool) -> SiteSpec:
    return SiteSpec(
        pages={
            "/robots.txt": _robots("busy", 503) if after else _robots("User-agent: *\nAllow: /\n"),
            "/": _page(_links("/x")),
            "/x": _page("x"),
        }
    )


def _sites(after: bool) -> dict[str, SiteSpec]:
    return {"a": _site_a(after), "b": _site_b(after), "c": _site_c(after)}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp("recheck")
    registry = tmp / "registry.db"
    RegistryStore(registry).close()
    with LoopbackWeb(_sites(after=False)) as web:
        sections = {
            "crawl": {"seeds": [web.url(s, "/") for s in "abc"], "max_depth": 1},
            "registry": {"url": f"sqlite:///{registry}"},
        }
        run = crawl(tmp / "crawl", sections)
        assert run.returncode == 0, run.stderr
        crawled = {r["url"] for r in run.records()}
        for name in "abc":
            web.replace_site(name, _sites(after=True)[name])
        store = RegistryStore(registry)
        store.add(
            make_entry("url", web.url("a", "/reg"), "opt-out", ["train-ai"], registered_by="t")
        )
        store.close()
        config = write_config(tmp / "recheck.toml", sections)
        yield web, run, crawled, config, tmp


def _recheck(world: Any, mode: str, *extra: str) -> tuple[CrawlRun, dict[str, Any], list[Any]]:
    web, run, _, config, tmp = world
    web.clear_log()
    out = tmp / ("recheck-" + "-".join((mode, *extra)).replace("/", "_").strip("-"))
    proc = heed(
        "recheck",
        str(run.out),
        "--config",
        str(config),
        "--out",
        str(out),
        "--refetch",
        mode,
        "--json",
        "--no-cache",
        *extra,
    )
    assert proc.returncode == 0, proc.stderr
    return (
        CrawlRun(proc.returncode, proc.stdout, proc.stderr, out),
        json.loads(proc.stdout),
        web.requests(),
    )


def _removed(out: Path) -> dict[str, list[str]]:
    rows = pq.read_table(out / "removals").to_pylist()
    return {r["url"]: list(r["reasons"]) for r in rows}


def test_the_crawl_kept_every_page_before_the_change(world: Any) -> None:
    web, _, crawled, _, _ = world
    want = {web.url("a", p) for p in ("/", *A_PATHS)}
    want |= {web.url("b", p) for p in ("/", "/tdm/1", "/free/1")}
    want |= {web.url("c", p) for p in ("/", "/x")}
    assert crawled == want


def test_refetch_none_sees_documents_and_registry_and_requests_no_page(world: Any) -> None:
    web, _, crawled, _, _ = world
    run, summary, requests = _recheck(world, "none")
    removed = _removed(run.out)
    a, b, c = (lambda p, s=s: web.url(s, p) for s in "abc")  # type: ignore[misc]
    assert removed == {
        a("/dir/1"): ["robots.ai-agent"],
        a("/dir/2"): ["robots.ai-agent"],
        a("/reg"): ["registry.opt-out"],
        b("/tdm/1"): ["tdmrep.reserved"],
        c("/"): ["robots.unreachable"],
        c("/x"): ["robots.unreachable"],
    }
    kept = {r["url"] for r in run.records()}
    assert kept == crawled - set(removed)
    assert summary["removed"] == len(removed) and summary["kept"] == len(kept)
    # no page requested; each document of each origin once
    paths = [(e.site, e.path) for e in requests]
    assert all(p in DOCS for _, p in paths), paths
    assert len(paths) == len(set(paths))
    assert (run.out / "removed-urls.txt").read_text().split() == [
        u for u in (r["url"] for r in pq.read_table(run.out / "removals").to_pylist())
    ]


def test_refetch_headers_sees_a_new_noai_header_and_flags_a_gone_page(world: Any) -> None:
    web, _, crawled, _, _ = world
    run, _summary, requests = _recheck(world, "headers")
    removed = _removed(run.out)
    assert removed[web.url("a", "/noai")] == ["x-robots-tag.noai"]
    assert web.url("a", "/gone") not in removed
    flags = pq.read_table(run.out / "flags").to_pylist()
    assert {(f["url"], f["flag"], f["kept"]) for f in flags} >= {
        (web.url("a", "/gone"), "gone", True)
    }
    kept = {r["url"] for r in run.records()}
    assert web.url("a", "/gone") in kept and kept == crawled - set(removed)
    pages = [e for e in requests if e.path not in DOCS]
    assert pages and {e.method for e in pages} == {"HEAD"}
    # the pre-fetch removals were never requested
    assert not [e for e in pages if e.path.startswith(("/dir/", "/reg", "/tdm/")) or e.site == "c"]
    # Crawl-delay: 1 on b holds for every request to b, documents included
    times = [e.time for e in requests if e.site == "b"]
    assert len(times) >= 3
    assert min(t2 - t1 for t1, t2 in itertools.pairwise(times)) >= 0.9


def test_refetch_full_flags_a_licence_change_and_rederives_it(world: Any) -> None:
    web, _, crawled, _, _ = world
    run, _summary, requests = _recheck(world, "full")
    removed = _removed(run.out)
    assert removed[web.url("a", "/noai")] == ["x-robots-tag.noai"]
    flags = {(f["url"], f["flag"]) for f in pq.read_table(run.out / "flags").to_pylist()}
    assert (web.url("a", "/lic"), "license-changed") in flags
    records = {r["url"]: r for r in run.records()}
    assert records[web.url("a", "/lic")]["license"] == "CC-BY-NC-4.0"
    assert {e.method for e in requests if e.path not in DOCS} == {"GET"}
    assert set(records) == crawled - set(removed)


def test_the_output_reads_back_with_pyarrow_pandas_duckdb_and_datasets(world: Any) -> None:
    run, summary, _ = _recheck(world, "none", "--url-column", "url")
    table = pq.read_table(run.out / "records")
    assert table.num_rows == summary["kept"]
    frame = pd.read_parquet(run.out / "records")
    assert len(frame) == summary["kept"]
    count = duckdb.sql(f"select count(*) from '{run.out}/records/*.parquet'").fetchall()
    assert count[0][0] == summary["kept"]
    datasets = pytest.importorskip("datasets")
    ds = datasets.load_dataset(
        "parquet", data_files=str(run.out / "records" / "*.parquet"), split="train"
    )
    assert ds.num_rows == summary["kept"]
    changes = pq.read_table(run.out / "changes").to_pylist()
    changed = {(c["origin"], c["document"]) for c in changes if c["changed"]}
    web = world[0]
    assert (web.origin("a"), "robots.txt") in changed
    assert (web.origin("b"), "tdmrep.json") in changed
    assert (web.origin("c"), "robots.txt") in changed
    info = json.loads((run.out / "run.json").read_text())
    assert info["removed"] == summary["removed"]
    from crawler.output import read_records

    assert read_records(run.out).num_rows == summary["kept"]  # heed's own reader, too


def test_a_plain_parquet_and_a_json_lines_file_are_rechecked(world: Any, tmp_path: Path) -> None:
    web, _run, crawled, config, _ = world
    dotted = web.url("a", "/open/../dir/2")  # is /dir/2 on the wire: judged as that
    urls = [*sorted(crawled), "not a url", web.url("a", "/dir/1"), dotted]
    import pyarrow as pa

    pq.write_table(pa.table({"url": urls, "text": ["t"] * len(urls)}), tmp_path / "plain.parquet")
    lines = [json.dumps({"url": u, "text": "t", "n": i}) for i, u in enumerate(urls)]
    lines.insert(3, "this line is not json")
    (tmp_path / "plain.jsonl").write_text("\n".join(lines) + "\n")
    for name in ("plain.parquet", "plain.jsonl"):
        out = tmp_path / f"out-{name}"
        proc = heed(
            "recheck",
            str(tmp_path / name),
            "--config",
            str(config),
            "--out",
            str(out),
            "--json",
            "--no-cache",
        )
        assert proc.returncode == 0, proc.stderr
        removed = _removed(out)
        assert removed[web.url("a", "/dir/1")] == ["robots.ai-agent"]
        assert removed["not a url"] == ["fetch.invalid-url"]
        assert removed[dotted] == ["robots.ai-agent"]
        summary = json.loads(proc.stdout)
        assert summary["removed"] == len(pq.read_table(out / "removals"))
        if name.endswith(".jsonl"):
            kept_lines = b"".join(p.read_bytes() for p in sorted((out / "records").glob("*.jsonl")))
            kept = [json.loads(x) for x in kept_lines.splitlines()]
            assert all(set(k) == {"url", "text", "n"} for k in kept)
            assert web.url("a", "/open/1") in {k["url"] for k in kept}


def test_a_second_recheck_with_a_warm_cache_fetches_nothing(world: Any) -> None:
    web, run, _, config, tmp = world
    cache = tmp / "cache.sqlite"
    results = []
    for i in range(2):
        web.clear_log()
        out = tmp / f"cached-{i}"
        proc = heed(
            "recheck",
            str(run.out),
            "--config",
            str(config),
            "--out",
            str(out),
            "--json",
            "--cache",
            str(cache),
        )
        assert proc.returncode == 0, proc.stderr
        results.append((json.loads(proc.stdout), web.requests()))
    (first, first_log), (second, second_log) = results
    assert first_log and not [e for e in second_log if e.site != "c"]
    assert first["removed"] == second["removed"] and first["by_reason"] == second["by_reason"]


def test_a_killed_recheck_rerun_into_the_same_folder_completes_it_once(world: Any) -> None:
    import signal
    import subprocess
    import sys
    import time

    from .crawlrun import ROOT

    _web, run, _, config, tmp = world
    args = ["recheck", str(run.out), "--config", str(config), "--refetch", "full"]
    args += ["--no-cache", "--batch-rows", "1", "--json"]
    clean = heed(*args, "--out", str(tmp / "clean"))
    assert clean.returncode == 0, clean.stderr
    out = tmp / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "crawler.cli", *args, "--out", str(out)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list((out / ".done").glob("*.json"))) < 3:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    done_before = len(list((out / ".done").glob("*.json")))
    assert done_before >= 3
    again = heed(*args, "--out", str(out))
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    assert summary["batches_done_earlier"] >= 3
    want = json.loads(clean.stdout)
    assert _removed(out) == _removed(tmp / "clean")
    kept = sorted(r["url"] for r in CrawlRun(0, "", "", out).records())
    assert kept == sorted(r["url"] for r in CrawlRun(0, "", "", tmp / "clean").records())
    assert len(kept) == len(set(kept)) == want["kept"]
    lines = (out / "removed-urls.txt").read_text().split()
    assert sorted(lines) == sorted(_removed(tmp / "clean"))


@pytest.mark.parametrize("mode", ["none", "headers"])
def test_two_worker_processes_decide_exactly_as_one(world: Any, mode: str) -> None:
    one, one_summary, _ = _recheck(world, mode, "--workers", "1")
    two, two_summary, requests = _recheck(world, mode, "--workers", "2", "--batch-rows", "4")
    assert two_summary["workers"] == 2
    assert _removed(two.out) == _removed(one.out)
    assert sorted(r["url"] for r in two.records()) == sorted(r["url"] for r in one.records())
    for key in ("kept", "removed", "flagged", "by_reason", "flags"):
        assert two_summary[key] == one_summary[key], key
    # hosts are split between the workers: still one request per origin document
    docs = [(e.site, e.path) for e in requests if e.path in DOCS]
    assert len(docs) == len(set(docs))


def test_an_answer_whose_body_cannot_be_read_is_removed_not_kept_as_down(
    tmp_path: Path,
) -> None:
    import pyarrow as pa

    broken = (("Content-Encoding", "gzip"),)  # the body is not gzip: it cannot be decoded
    site = SiteSpec(
        pages={
            "/robots.txt": _robots("User-agent: *\nAllow: /\n"),
            "/optout-broken": PageSpec(
                body="not gzip at all", headers=(*broken, ("X-Robots-Tag", "noai"))
            ),
            "/broken": PageSpec(body="not gzip either", headers=broken),
        }
    )
    with LoopbackWeb({"s": site}) as web:
        urls = [web.url("s", "/optout-broken"), web.url("s", "/broken")]
        pq.write_table(pa.table({"url": urls}), tmp_path / "in.parquet")
        config = write_config(tmp_path / "run.toml", {})
        proc = heed(
            "recheck", str(tmp_path / "in.parquet"), "--config", str(config),
            "--out", str(tmp_path / "out"), "--refetch", "full", "--no-cache", "--json",
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    removed = _removed(tmp_path / "out")
    assert "x-robots-tag.noai" in removed[urls[0]]  # its headers were read and count
    assert removed[urls[1]] == ["fetch.error"]  # unreadable: excluded, not "unreachable"
    assert json.loads(proc.stdout)["kept"] == 0
