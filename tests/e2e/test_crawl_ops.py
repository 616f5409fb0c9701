"""End-to-end: identity, back-off, the registry as a service, and a killed crawl."""

from __future__ import annotations

import itertools
from pathlib import Path

import pyarrow.parquet as pq

from crawler.demo.web import LoopbackWeb, PageSpec, SiteSpec
from crawler.registry.service import make_server, serve_in_thread
from crawler.registry.store import RegistryStore
from filters.registry import make_entry

from .crawlrun import crawl, crawl_killed_after_parts, heed, write_config


def page(text: str, **kw: object) -> PageSpec:
    return PageSpec(body=f"<html><body>{text}</body></html>", **kw)  # type: ignore[arg-type]


def test_user_agent_carries_the_token_and_contact_on_every_request(tmp_path: Path) -> None:
    with LoopbackWeb({"s": SiteSpec(pages={"/": page("home")})}) as web:
        run = crawl(
            tmp_path,
            {
                "crawl": {"seeds": [web.url("s")]},
                "identity": {
                    "product_token": "examplebot",
                    "contact_url": "http://127.0.0.1/about",
                },
            },
        )
        agents = {
            dict((k.lower(), v) for k, v in e.headers)["user-agent"] for e in web.requests("s")
        }
    assert run.returncode == 0, run.stderr
    assert len(agents) == 1
    (agent,) = agents
    assert "examplebot" in agent and "http://127.0.0.1/about" in agent


def test_retry_after_on_429_slows_the_host_before_retrying(tmp_path: Path) -> None:
    site = SiteSpec(pages={"/busy": page("busy", status=429, headers=(("Retry-After", "1"),))})
    with LoopbackWeb({"s": site}) as web:
        run = crawl(tmp_path, {"crawl": {"seeds": [web.url("s", "/busy")]}})
        times = [e.time for e in web.requests("s") if e.path == "/busy"]
        busy = web.url("s", "/busy")
    assert run.returncode == 0, run.stderr
    assert len(times) == 3  # the first try and Scrapy's two retries
    assert min(b - a for a, b in itertools.pairwise(times)) >= 0.9
    decision = run.decision(busy)
    assert decision["reasons"] == ["fetch.status"] and decision["http_status"] == 429


def test_registry_service_opt_out_and_outage(tmp_path: Path) -> None:
    store = RegistryStore(tmp_path / "reg.db")
    pages = {"/": page("home"), "/mine": page("mine"), "/other": page("other")}
    with LoopbackWeb({"s": SiteSpec(pages=pages)}) as web:
        store.add(
            make_entry("url", web.url("s", "/mine"), "opt-out", ["train-ai"], registered_by="owner")
        )
        server = make_server(store)
        serve_in_thread(server)
        url = f"http://127.0.0.1:{server.server_address[1]}"
        seeds = [web.url("s", p) for p in pages]
        try:
            up = crawl(
                tmp_path / "up",
                {"crawl": {"seeds": seeds, "max_depth": 0}, "registry": {"url": url}},
            )
        finally:
            server.shutdown()
            server.server_close()
        web.clear_log()
        down = crawl(
            tmp_path / "down", {"crawl": {"seeds": seeds, "max_depth": 0}, "registry": {"url": url}}
        )
        requested_when_down = [e.path for e in web.requests("s")]
    store.close()
    assert up.returncode == 0, up.stderr
    assert up.decision(web_url := seeds[1])["reasons"] == ["registry.opt-out"]
    assert up.kept_urls() == {seeds[0], seeds[2]}
    assert down.returncode == 0, down.stderr
    assert down.records() == []
    for seed in seeds:
        assert down.decision(seed)["reasons"] == ["registry.unavailable"]
    assert set(requested_when_down) <= {"/robots.txt", "/ai.txt", "/.well-known/tdmrep.json"}
    assert web_url


def test_missing_registry_file_is_a_configuration_error(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "c.toml",
        {
            "crawl": {"seeds": ["http://127.0.0.1:9/"], "out": str(tmp_path / "out")},
            "registry": {"url": f"sqlite:///{tmp_path / 'nope.db'}"},
        },
    )
    proc = heed("crawl", "--config", str(config))
    assert proc.returncode == 2, proc.stderr
    assert "registry" in proc.stderr


def test_sigkill_mid_crawl_leaves_only_complete_parts(tmp_path: Path) -> None:
    links = " ".join(f'<a href="/p{i}">{i}</a>' for i in range(400))
    pages = {"/": page(links)} | {f"/p{i}": page(f"page {i}", delay=0.02) for i in range(400)}
    out = tmp_path / "out"
    with LoopbackWeb({"big": SiteSpec(pages=pages)}) as web:
        config = write_config(
            tmp_path / "c.toml",
            {
                "crawl": {"seeds": [web.url("big")], "out": str(out), "max_pages": 1000},
                "output": {"part_max_rows": 10, "row_group_rows": 5, "flush_interval": 0.2},
            },
        )
        crawl_killed_after_parts(config, out)
        parts = sorted((out / "records").glob("*.parquet"))
        assert len(parts) >= 2, "the crawl published no parts before the kill"
        assert not (out / "run.json").exists()  # it really was killed mid-run
        for part in parts + sorted((out / "decisions").glob("*.parquet")):
            table = pq.read_table(part)
            assert table.num_rows > 0
        before = {p.name for p in parts}
        # A second run into the same folder cleans the leftovers, continues the numbering and
        # resumes the job (max_pages counts the whole job, so it is raised here).
        decided = len(list(pq.read_table(out / "decisions").column("url")))
        again = heed("crawl", "--config", str(config), "--json", "--max-pages", str(decided + 20))
    assert again.returncode == 0, again.stderr
    after = {p.name for p in (out / "records").glob("*.parquet")}
    assert before < after
    assert not list(out.rglob("*.tmp"))
