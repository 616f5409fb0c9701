"""End-to-end: ``[policy] blocklists`` in real ``heed crawl`` and ``heed check`` runs (loopback).

A listed site is never requested at all (its robots.txt included): the server's request log
for it stays empty, whether it is a seed, a link or a redirect target, and each of those is
recorded ``blocklist.listed``. A configured list that cannot be read stops the run with exit
code 2 before anything is fetched. Loopback sites are addresses (127.0.0.x), so the list
names the listed site's address, which heed accepts as a host entry.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from crawler.demo.web import LoopbackWeb, PageSpec, SiteSpec

from .crawlrun import crawl, heed, write_config

TEXT = "text/plain; charset=utf-8"
ALLOW_ALL = PageSpec(body="User-agent: *\nAllow: /\n", content_type=TEXT)


def _page(body: str) -> PageSpec:
    return PageSpec(body=f"<html><body>{body}</body></html>")


SITES = {
    "good": SiteSpec(
        pages={
            "/robots.txt": ALLOW_ALL,
            "/": _page('<a href="/ok">ok</a> <a href="{{site:bad}}/linked">bad</a>'),
            "/ok": _page("an allowed page"),
            "/go": PageSpec(status=302, redirect_to="@bad/landing"),
        }
    ),
    "bad": SiteSpec(
        pages={
            "/robots.txt": ALLOW_ALL,
            "/": _page("infringing home"),
            "/linked": _page("infringing page"),
            "/landing": _page("infringing landing"),
        }
    ),
    "lists": SiteSpec(pages={}),  # serves the blocklist itself (set per test)
}


def _host(web: LoopbackWeb, site: str) -> str:
    return urlsplit(web.origin(site)).hostname or ""


@pytest.fixture
def web() -> Any:
    with LoopbackWeb(SITES) as w:
        if _host(w, "good") == _host(w, "bad"):
            pytest.skip("loopback sites share one address here (no 127.0.0.x binding)")
        yield w


def _seeds(web: LoopbackWeb) -> list[str]:
    return [web.url("good", "/"), web.url("good", "/go"), web.url("bad", "/")]


def _write_list(tmp: Path, web: LoopbackWeb) -> Path:
    path = tmp / "lists" / "infringing.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = (
        "# persistently infringing sites\nnothing.example\n0.0.0.0 hosts.example\n"
        f"{_host(web, 'bad')}  # the bad site\n"
    )
    path.write_text(text, encoding="utf-8")
    return path


def test_a_listed_site_is_never_requested_and_its_urls_are_recorded(
    web: LoopbackWeb, tmp_path: Path
) -> None:
    listed = _write_list(tmp_path, web)
    # Relative to the config file's folder (the config is written to tmp_path/run.toml).
    run = crawl(
        tmp_path,
        {
            "crawl": {"seeds": _seeds(web), "max_depth": 2},
            "policy": {"blocklists": ["lists/infringing.txt"]},
        },
    )
    assert run.returncode == 0, run.stderr
    assert web.requests("bad") == []  # nothing at all: no robots.txt, no page, no redirect hop
    assert {e.path for e in web.requests("good")} >= {"/robots.txt", "/", "/ok", "/go"}
    bad_host = _host(web, "bad")
    for url in (web.url("bad", "/"), web.url("bad", "/linked")):
        decision = run.decision(url)
        assert decision["allowed"] is False and decision["stage"] == "pre-fetch", url
        assert decision["reasons"] == ["blocklist.listed"], url
        assert decision["http_status"] is None
    redirected = run.decision(web.url("good", "/go"))
    assert redirected["reasons"] == ["blocklist.listed"]
    assert redirected["final_url"] == web.url("bad", "/landing")
    assert run.kept_urls() == {web.url("good", "/"), web.url("good", "/ok")}
    assert run.summary["by_reason"] == {"blocklist.listed": 3}
    info = json.loads((run.out / "run.json").read_text(encoding="utf-8"))
    (used,) = info["blocklists"]
    assert used["source"] == str(listed)
    assert used["entries"] == 3  # nothing.example, hosts.example and the bad site's address
    assert used["sha256"] == hashlib.sha256(listed.read_bytes()).hexdigest()
    assert bad_host in listed.read_text(encoding="utf-8")


def test_heed_check_says_the_same_and_requests_nothing_from_the_site(
    web: LoopbackWeb, tmp_path: Path
) -> None:
    listed = _write_list(tmp_path, web)
    config = write_config(tmp_path / "check.toml", {"policy": {"blocklists": [str(listed)]}})
    urls = [web.url("bad", "/linked"), web.url("good", "/go"), web.url("good", "/ok")]
    run = heed("check", "--config", str(config), "--json", "--explain", *urls)
    assert run.returncode == 1, run.stderr  # one or more URLs excluded
    results = {r["url"]: r for r in json.loads(run.stdout)["results"]}
    for url in urls[:2]:
        assert results[url]["allowed"] is False
        assert results[url]["reasons"] == ["blocklist.listed"]
        assert results[url]["stage"] == "pre-fetch"
    assert results[urls[2]]["allowed"] is True
    assert web.requests("bad") == []
    assert "blocklist" in run.stdout


def test_a_missing_list_stops_the_run_before_anything_is_fetched(
    web: LoopbackWeb, tmp_path: Path
) -> None:
    run = crawl(
        tmp_path,
        {"crawl": {"seeds": _seeds(web)}, "policy": {"blocklists": ["no-such-list.txt"]}},
    )
    assert run.returncode == 2, run.stderr
    assert "no-such-list.txt" in run.stderr
    assert web.requests() == []
    assert not list((run.out / "records").glob("*.parquet"))
    check = heed(
        "check",
        "--config",
        str(
            write_config(tmp_path / "c.toml", {"policy": {"blocklists": [str(tmp_path / "gone")]}})
        ),
        web.url("good", "/ok"),
    )
    assert check.returncode == 2, check.stderr
    assert web.requests() == []


def test_a_list_fetched_by_url_is_used_and_a_failing_url_stops_the_run(
    tmp_path: Path,
) -> None:
    with LoopbackWeb(SITES) as probe:
        bad_host = _host(probe, "bad")
        shared = bad_host == _host(probe, "good")
    if shared:
        pytest.skip("loopback sites share one address here (no 127.0.0.x binding)")
    sites = dict(SITES)
    sites["lists"] = SiteSpec(
        pages={"/infringing.txt": PageSpec(body="{{site:bad}}\n", content_type=TEXT)}
    )
    with LoopbackWeb(sites) as web:
        # The list names the bad site by its origin URL: its host is what is listed.
        url = web.url("lists", "/infringing.txt")
        run = crawl(
            tmp_path / "one",
            {"crawl": {"seeds": _seeds(web), "max_depth": 1}, "policy": {"blocklists": [url]}},
        )
        assert run.returncode == 0, run.stderr
        assert web.requests("bad") == []
        assert [e.path for e in web.requests("lists")] == ["/infringing.txt"]  # fetched once
        assert run.decision(web.url("bad", "/"))["reasons"] == ["blocklist.listed"]
        info = json.loads((run.out / "run.json").read_text(encoding="utf-8"))
        assert [(b["source"], b["entries"]) for b in info["blocklists"]] == [(url, 1)]

        missing = web.url("lists", "/missing.txt")
        before = len(web.requests())
        failed = crawl(
            tmp_path / "two", {"crawl": {"seeds": _seeds(web)}, "policy": {"blocklists": [missing]}}
        )
        assert failed.returncode == 2, failed.stderr
        assert "404" in failed.stderr
        assert [e.path for e in web.requests()[before:]] == ["/missing.txt"]  # nothing else


def test_a_site_document_that_redirects_into_a_listed_site_is_not_followed(
    tmp_path: Path,
) -> None:
    sites = dict(SITES)
    sites["good"] = SiteSpec(
        pages={
            "/robots.txt": PageSpec(status=301, redirect_to="@bad/robots.txt"),
            "/": _page("home"),
        }
    )
    with LoopbackWeb(sites) as web:
        if _host(web, "good") == _host(web, "bad"):
            pytest.skip("loopback sites share one address here (no 127.0.0.x binding)")
        _write_list(tmp_path, web)
        run = crawl(
            tmp_path,
            {
                "crawl": {"seeds": [web.url("good", "/")], "max_depth": 0},
                "policy": {"blocklists": ["lists/infringing.txt"]},
            },
        )
        assert run.returncode == 0, run.stderr
        assert web.requests("bad") == []  # the redirect hop into the listed site was refused
        # robots.txt could not be read: the good site is excluded, fail closed
        assert run.decision(web.url("good", "/"))["reasons"] == ["robots.unreachable"]


def test_heed_recheck_requests_nothing_from_a_listed_site(web: LoopbackWeb, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    _write_list(tmp_path, web)
    data = tmp_path / "data.parquet"
    urls = [web.url("good", "/ok"), web.url("bad", "/"), web.url("bad", "/linked")]
    pq.write_table(pa.table({"url": urls}), data)
    config = write_config(
        tmp_path / "run.toml", {"policy": {"blocklists": ["lists/infringing.txt"]}}
    )
    proc = heed(
        "recheck", str(data), "--config", str(config), "--out", str(tmp_path / "out"),
        "--json", "--no-cache",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert web.requests("bad") == []
    removed = pq.read_table(tmp_path / "out" / "removals").to_pylist()
    assert {r["url"]: r["reasons"] for r in removed} == {
        urls[1]: ["blocklist.listed"],
        urls[2]: ["blocklist.listed"],
    }
