"""End-to-end: the real ``heed crawl`` against loopback webs, output read back from Parquet.

Every test that checks a denial also reads the server's request log, so "denied" means "never
requested", not just "not written".
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest

from crawler.demo.web import LoopbackWeb, PageSpec, SiteSpec

from .crawlrun import crawl, heed, write_config

TEXT = "text/plain; charset=utf-8"


def page(body: str, **kw: object) -> PageSpec:
    return PageSpec(body=f"<html><body>{body}</body></html>", **kw)  # type: ignore[arg-type]


def robots(text: str, **kw: object) -> PageSpec:
    return PageSpec(body=text, content_type=TEXT, **kw)  # type: ignore[arg-type]


def paths(web: LoopbackWeb, site: str) -> list[str]:
    return [e.path for e in web.requests(site)]


def test_slow_robots_holds_fifty_concurrent_requests(tmp_path: Path) -> None:
    pages = {f"/private/{i}": page(f"secret {i}") for i in range(50)}
    pages.update({f"/open/{i}": page(f"open {i}") for i in range(5)})
    pages["/robots.txt"] = robots("User-agent: *\nDisallow: /private/\n")
    site = SiteSpec(pages=pages, robots_delay=1.5)
    with LoopbackWeb({"slow": site}) as web:
        seeds = [web.url("slow", p) for p in sorted(pages) if p != "/robots.txt"]
        run = crawl(
            tmp_path,
            {
                "crawl": {"seeds": seeds, "max_depth": 0},
                "network": {"concurrency": 64, "per_host_concurrency": 64},
            },
        )
        requested = paths(web, "slow")
        assert run.returncode == 0, run.stderr
        assert not [p for p in requested if p.startswith("/private/")]
        assert sorted(p for p in requested if p.startswith("/open/")) == sorted(
            f"/open/{i}" for i in range(5)
        )
        assert requested.count("/robots.txt") == 1
        for i in range(50):
            decision = run.decision(web.url("slow", f"/private/{i}"))
            assert decision["allowed"] is False
            assert decision["stage"] == "pre-fetch"
            assert "robots.disallow" in decision["reasons"]
        assert run.kept_urls() == {web.url("slow", f"/open/{i}") for i in range(5)}


def test_robots_503_excludes_the_whole_site_and_requests_nothing_else(tmp_path: Path) -> None:
    site = SiteSpec(
        pages={
            "/robots.txt": robots("busy", status=503),
            "/": page('<a href="/a">a</a>'),
            "/a": page("a"),
        }
    )
    with LoopbackWeb({"down": site}) as web:
        seeds = [web.url("down", "/"), web.url("down", "/a")]
        run = crawl(tmp_path, {"crawl": {"seeds": seeds}})
        requested = paths(web, "down")
        assert run.returncode == 0, run.stderr
        assert set(requested) == {"/robots.txt"}
        assert run.records() == []
        for seed in seeds:
            decision = run.decision(seed)
            assert decision["reasons"] == ["robots.unreachable"]
            assert decision["stage"] == "pre-fetch"


def test_on_signal_error_ignore_never_lifts_unreachable_robots(tmp_path: Path) -> None:
    site = SiteSpec(pages={"/robots.txt": robots("x", status=500), "/": page("home")})
    with LoopbackWeb({"down": site}) as web:
        run = crawl(
            tmp_path,
            {"crawl": {"seeds": [web.url("down")]}, "policy": {"on_signal_error": "ignore"}},
        )
        requested = paths(web, "down")
        assert run.returncode == 0, run.stderr
        assert requested == ["/robots.txt"]
        assert run.decision(web.url("down"))["reasons"] == ["robots.unreachable"]


def test_redirect_target_is_checked_against_its_own_origin_before_it_is_requested(
    tmp_path: Path,
) -> None:
    sites = {
        "from": SiteSpec(
            pages={
                "/go": PageSpec(status=302, redirect_to="@to/private/x"),
                "/ok": PageSpec(status=301, redirect_to="@to/public"),
            }
        ),
        "to": SiteSpec(
            pages={
                "/robots.txt": robots("User-agent: heedbot\nDisallow: /private/\n"),
                "/private/x": page("secret"),
                "/public": page("public"),
            }
        ),
    }
    with LoopbackWeb(sites) as web:
        seeds = [web.url("from", "/go"), web.url("from", "/ok")]
        run = crawl(tmp_path, {"crawl": {"seeds": seeds}})
        requested_to = paths(web, "to")
        assert run.returncode == 0, run.stderr
        assert "/private/x" not in requested_to
        assert "/public" in requested_to
        denied = run.decision(web.url("from", "/go"))
        assert denied["allowed"] is False and denied["reasons"] == ["robots.disallow"]
        assert denied["final_url"] == web.url("to", "/private/x")
        kept = [r for r in run.records() if r["url"] == web.url("from", "/ok")]
        assert len(kept) == 1 and kept[0]["final_url"] == web.url("to", "/public")


def test_redirect_chain_longer_than_five_hops_is_refused(tmp_path: Path) -> None:
    pages = {f"/r{i}": PageSpec(status=302, redirect_to=f"/r{i + 1}") for i in range(6)}
    pages["/r6"] = page("end of chain")
    pages["/r1ok"] = PageSpec(status=302, redirect_to="/r2")  # 5 hops: allowed
    with LoopbackWeb({"loop": SiteSpec(pages=pages)}) as web:
        run = crawl(
            tmp_path, {"crawl": {"seeds": [web.url("loop", "/r0"), web.url("loop", "/r1ok")]}}
        )
        assert run.returncode == 0, run.stderr
        assert run.decision(web.url("loop", "/r0"))["reasons"] == ["fetch.redirect-limit"]
        assert run.decision(web.url("loop", "/r1ok"))["allowed"] is True


def test_private_addresses_are_refused_unless_allowed(tmp_path: Path) -> None:
    with LoopbackWeb({"lan": SiteSpec(pages={"/": page("home")})}) as web:
        run = crawl(
            tmp_path,
            {"crawl": {"seeds": [web.url("lan")]}, "network": {"allow_private_networks": False}},
        )
        requested = paths(web, "lan")
        assert run.returncode == 0, run.stderr
        assert requested == []
        decision = run.decision(web.url("lan"))
        assert decision["reasons"] == ["fetch.blocked-address"]
        assert decision["stage"] == "pre-fetch"


def test_crawl_delay_spaces_requests_to_the_host(tmp_path: Path) -> None:
    pages = {f"/p{i}": page(f"p{i}") for i in range(4)}
    pages["/robots.txt"] = robots("User-agent: *\nCrawl-delay: 1\n")
    with LoopbackWeb({"slowpoke": SiteSpec(pages=pages)}) as web:
        seeds = [web.url("slowpoke", f"/p{i}") for i in range(4)]
        run = crawl(tmp_path, {"crawl": {"seeds": seeds}})
        times = [e.time for e in web.requests("slowpoke") if e.path.startswith("/p")]
        assert run.returncode == 0, run.stderr
        assert len(times) == 4
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert min(gaps) >= 0.9, gaps


def test_crawl_delay_above_the_limit_skips_the_host(tmp_path: Path) -> None:
    site = SiteSpec(
        pages={"/robots.txt": robots("User-agent: *\nCrawl-delay: 60\n"), "/": page("home")}
    )
    with LoopbackWeb({"sloth": site}) as web:
        run = crawl(tmp_path, {"crawl": {"seeds": [web.url("sloth")]}})
        requested = paths(web, "sloth")
        assert "/" not in requested
        assert run.decision(web.url("sloth"))["reasons"] == ["politeness.crawl-delay-too-long"]


def test_size_bounds_apply_before_and_after_decompression(tmp_path: Path) -> None:
    site = SiteSpec(
        pages={
            "/huge": PageSpec(body="<p>x</p>", repeat_body_bytes=3 * 1024 * 1024),
            "/bomb": PageSpec(body="<p>z</p>", repeat_body_bytes=8 * 1024 * 1024, gzip=True),
            "/small": page("small"),
        }
    )
    with LoopbackWeb({"big": site}) as web:
        seeds = [web.url("big", p) for p in ("/huge", "/bomb", "/small")]
        run = crawl(
            tmp_path, {"crawl": {"seeds": seeds}, "limits": {"max_page_bytes": 1024 * 1024}}
        )
        assert run.returncode == 0, run.stderr
        assert run.decision(seeds[0])["reasons"] == ["fetch.too-large"]
        assert run.decision(seeds[1])["reasons"] == ["fetch.too-large"]
        assert run.kept_urls() == {seeds[2]}


def test_output_reads_back_with_pandas_and_duckdb(tmp_path: Path) -> None:
    site = SiteSpec(
        pages={
            "/": page('<a href="/cc">cc</a> <a href="/no">no</a>'),
            "/cc": PageSpec(
                body='<html><head><link rel="license" '
                'href="https://creativecommons.org/licenses/by-sa/4.0/deed.de">'
                "</head><body>shared text</body></html>"
            ),
            "/no": PageSpec(body="<p>hidden words</p>", headers=(("X-Robots-Tag", "noai"),)),
        }
    )
    with LoopbackWeb({"lib": site}) as web:
        run = crawl(tmp_path, {"crawl": {"seeds": [web.url("lib")]}})
        assert run.returncode == 0, run.stderr
        frame = pd.read_parquet(run.out / "records")
        assert set(frame["url"]) == {web.url("lib"), web.url("lib", "/cc")}
        cc = frame[frame["url"] == web.url("lib", "/cc")].iloc[0]
        assert cc["license"] == "CC-BY-SA-4.0" and cc["license_source"] == "html-rel"
        assert "shared text" in cc["text"]
        evidence = json.loads(cc["evidence"])
        assert {s["signal"] for s in evidence["signals"]} >= {"robots", "robots-ai-agent"}
        robots_doc = evidence["documents"]["robots.txt"]
        assert robots_doc["status"] == 404 and len(robots_doc["sha256"]) == 64
        assert robots_doc["fetched_at"] and robots_doc["url"].endswith("/robots.txt")
        con = duckdb.connect()
        glob = str(run.out / "decisions" / "*.parquet")
        rows = con.execute(
            f"SELECT url, allowed, reasons FROM read_parquet('{glob}') ORDER BY url"
        ).fetchall()
        assert (web.url("lib", "/no"), False, ["x-robots-tag.noai"]) in rows
        columns = {f.name for f in pq.read_schema(next((run.out / "decisions").glob("*.parquet")))}
        assert not columns & {"body", "text"}
        all_bodies = b"".join(r["body"] for r in run.records())
        assert b"hidden words" not in all_bodies
        info = json.loads((run.out / "run.json").read_text())
        assert info["counts"] == {"considered": 3, "kept": 2, "excluded": 1}
        assert "GPTBot" in info["ai_agents"]


def test_max_pages_bounds_the_crawl(tmp_path: Path) -> None:
    links = " ".join(f'<a href="/p{i}">{i}</a>' for i in range(30))
    pages = {"/": page(links)} | {f"/p{i}": page(str(i)) for i in range(30)}
    with LoopbackWeb({"many": SiteSpec(pages=pages)}) as web:
        run = crawl(tmp_path, {"crawl": {"seeds": [web.url("many")]}}, "--max-pages", "10")
        fetched = [e.path for e in web.requests("many") if e.path == "/" or e.path[1] == "p"]
        assert run.returncode == 0, run.stderr
        assert len(run.decisions()) == 10
        assert len(fetched) == 10


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[policy]\npurpose = 'everything'\n", "purpose"),
        ("[crawl]\nmax_pages = 0\n", "max_pages"),
        ("[crawl]\nseeds = ['ftp://x']\n", "seeds"),
        ("[nonsense]\nx = 1\n", "nonsense"),
        ("[crawl\n", "TOML"),
        ("[identity]\nproduct_token = 'heed bot'\n", "product_token"),
    ],
)
def test_bad_config_exits_2_with_a_clear_message(tmp_path: Path, toml: str, message: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(
        "[identity]\ncontact_url = 'http://127.0.0.1/c'\n" + toml
        if not toml.startswith("[identity]")
        else toml
    )
    proc = heed("crawl", "--config", str(config), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert "configuration error" in proc.stderr and message in proc.stderr
    assert not (tmp_path / "out" / "records").exists()


def test_bad_seeds_file_exits_2_naming_the_line(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("# seeds\nhttp://127.0.0.1:9/\nnot a url\n")
    config = write_config(tmp_path / "c.toml", {"crawl": {"out": str(tmp_path / "out")}})
    proc = heed("crawl", "--config", str(config), "--seeds", str(seeds))
    assert proc.returncode == 2
    assert "seeds.txt:3" in proc.stderr


def test_no_seeds_exits_2(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.toml", {"crawl": {"out": str(tmp_path / "out")}})
    proc = heed("crawl", "--config", str(config))
    assert proc.returncode == 2 and "no seeds" in proc.stderr


CC_BY = '<link rel="license" href="https://creativecommons.org/licenses/by/4.0/">'
CC_BY_NC = '<link rel="license" href="https://creativecommons.org/licenses/by-nc/4.0/">'


def _mode_site() -> SiteSpec:
    def doc(head: str, text: str, **kw: object) -> PageSpec:
        body = f"<html><head>{head}</head><body>{text}</body></html>"
        return PageSpec(body=body, **kw)  # type: ignore[arg-type]

    return SiteSpec(
        pages={
            "/open": doc(CC_BY, "open"),
            "/nc": doc(CC_BY_NC, "non-commercial"),
            "/plain": doc("", "no licence"),
            "/granted": doc("", "granted", headers=(("Content-Usage", "train-ai=y"),)),
            "/tdm0": doc("", "tdm zero", headers=(("tdm-reservation", "0"),)),
            "/noindex": doc("", "noindex", headers=(("X-Robots-Tag", "noindex"),)),
        }
    )


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (
            {"mode": "open-license"},
            {
                "/open": [],
                "/nc": ["license.not-open"],
                "/plain": ["license.not-open"],
                "/granted": ["license.not-open"],
                "/tdm0": ["license.not-open"],
                "/noindex": ["license.not-open"],
            },
        ),
        (
            {"mode": "opt-in"},
            {
                "/open": [],
                "/nc": ["consent.missing"],
                "/plain": ["consent.missing"],
                "/granted": [],
                "/tdm0": [],
                "/noindex": ["consent.missing"],
            },
        ),
        (
            {"purpose": "search"},
            {
                "/open": [],
                "/nc": [],
                "/plain": [],
                "/granted": [],
                "/tdm0": [],
                "/noindex": ["x-robots-tag.noindex"],
            },
        ),
    ],
    ids=["open-license", "opt-in", "search"],
)
def test_modes_and_purposes(tmp_path: Path, policy: dict, expected: dict) -> None:
    with LoopbackWeb({"m": _mode_site()}) as web:
        seeds = [web.url("m", p) for p in expected]
        run = crawl(tmp_path, {"crawl": {"seeds": seeds}, "policy": policy})
        urls = {p: web.url("m", p) for p in expected}
    assert run.returncode == 0, run.stderr
    for path, reasons in expected.items():
        assert run.decision(urls[path])["reasons"] == reasons, path
    assert run.kept_urls() == {urls[p] for p, r in expected.items() if not r}
