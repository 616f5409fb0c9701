"""``heed card`` end to end: a real crawl of a loopback web (and a recheck of it after the web
changed), then the card command in a subprocess; every number is checked against DuckDB queries
over the Parquet, written here independently of ``crawler/card/stats.py``."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from crawler.card.readme import hf_license, size_category
from crawler.card.stats import registrable_domain
from crawler.demo.web import LoopbackWeb, PageSpec, SiteSpec
from tests.e2e.crawlrun import ROOT, crawl, heed, write_config

TEXT = "text/plain; charset=utf-8"
CC_BY = "https://creativecommons.org/licenses/by/4.0/"
SITES = 12  # ceil(12/10) = 2 domains in the top 10 %, ceil(12/20) = 1 in the SME list


def _page(body: str, license_url: str | None = None, **headers: str) -> PageSpec:
    link = f'<link rel="license" href="{license_url}">' if license_url else ""
    return PageSpec(
        body=f"<html><head><title>t</title>{link}</head><body>{body}</body></html>",
        headers=tuple(headers.items()),
    )


def _site(i: int, after: bool) -> SiteSpec:
    robots = "User-agent: *\nAllow: /\n"
    if i == 2:
        robots = "User-agent: *\nDisallow: /p2\n"
    if i == 0 and after:
        robots += "\nUser-agent: GPTBot\nDisallow: /\n"
    filler = "word " * (40 * (i + 1))
    pages = {
        "/robots.txt": PageSpec(body=robots, content_type=TEXT),
        "/": _page("".join(f'<a href="/p{k}">p{k}</a> ' for k in (1, 2, 3)) + filler),
        "/p1": _page("one " + filler, CC_BY if i == 3 else None),
        "/p2": _page("two " + filler),
        "/p3": _page("three", **({"X-Robots-Tag": "noai"} if i == 1 else {})),
    }
    return SiteSpec(pages=pages)


def card(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crawler.card", *args],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("card")
    names = [f"s{i}" for i in range(SITES)]
    with LoopbackWeb({n: _site(i, after=False) for i, n in enumerate(names)}) as web:
        sections: dict[str, dict[str, Any]] = {
            "crawl": {"seeds": [web.url(n, "/") for n in names], "max_depth": 1},
        }
        run = crawl(tmp / "crawl", sections)
        assert run.returncode == 0, run.stderr
        web.replace_site("s0", _site(0, after=True))
        config = write_config(tmp / "recheck.toml", sections)
        proc = heed(
            "recheck", str(run.out), "--config", str(config), "--out", str(tmp / "rc"), "--no-cache"
        )
        assert proc.returncode == 0, proc.stderr
    out = {"crawl": run.out, "recheck": tmp / "rc", "tmp": tmp}
    proc = card(str(run.out), "--out", str(tmp / "card"), "--name", "loopback")
    assert proc.returncode == 0, proc.stderr
    proc = card(str(run.out), str(tmp / "rc"), "--out", str(tmp / "merged"), "--json")
    assert proc.returncode == 0, proc.stderr
    return out


def _q(sql: str) -> list[tuple[Any, ...]]:
    return duckdb.sql(sql).fetchall()


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def test_counts_equal_duckdb(world: dict[str, Path]) -> None:
    stats = _load(world["tmp"] / "card" / "card.json")
    rec = f"read_parquet('{world['crawl']}/records/*.parquet')"
    dec = f"read_parquet('{world['crawl']}/decisions/*.parquet')"
    ((kept,),) = _q(f"SELECT count(*) FROM {rec}")
    ((excluded,),) = _q(f"SELECT count(*) FROM {dec} WHERE NOT allowed")
    ((urls,),) = _q(f"SELECT count(DISTINCT url) FROM {dec}")
    ((body, text),) = _q(
        f"SELECT sum(octet_length(body)), sum(octet_length(encode(text))) FROM {rec}"
    )
    assert excluded > 0 and kept > 0
    assert stats["totals"] == {
        "urls": urls,
        "kept": kept,
        "excluded": excluded,
        "kept_body_bytes": body,
        "kept_text_bytes": text,
    }
    by_reason = dict(
        _q(
            f"SELECT r, count(DISTINCT url) FROM (SELECT url, unnest(reasons) AS r FROM {dec} "
            "WHERE NOT allowed) GROUP BY r"
        )
    )
    assert {k: v["urls"] for k, v in stats["exclusions"]["by_reason"].items()} == by_reason
    assert {"robots.disallow", "x-robots-tag.noai"} <= set(by_reason)
    for code, v in stats["exclusions"]["by_reason"].items():
        assert v["share"] == round(by_reason[code] / excluded, 6)
    assert stats["exclusions"]["by_stage"] == dict(
        _q(f"SELECT stage, count(*) FROM {dec} WHERE NOT allowed GROUP BY stage")
    )
    assert stats["licenses"] == dict(
        _q(f"SELECT coalesce(license, 'none'), count(*) FROM {rec} GROUP BY 1")
    )
    assert stats["licenses"]["CC-BY-4.0"] == 1
    hosts = {
        h: (k, e)
        for h, k, e in _q(
            f"SELECT host, count(*) FILTER (allowed), count(*) FILTER (NOT allowed) FROM {dec} "
            "GROUP BY host"
        )
    }
    assert {h["host"]: (h["kept"], h["excluded"]) for h in stats["hosts"]} == hosts
    ((first, last),) = _q(f"SELECT min(fetched_at), max(fetched_at) FROM {rec}")
    assert stats["period"]["first_fetched_at"] == first.isoformat()
    assert stats["period"]["last_fetched_at"] == last.isoformat()
    eu = _load(world["tmp"] / "card" / "eu-summary.json")
    rights = eu["crawled_data"]["rights_reservations"]
    assert rights["urls_excluded"] == excluded and rights["urls_excluded_by_reason"] == by_reason
    robots = next(m for m in rights["measures"] if m["signal"].startswith("robots.txt (heed"))
    assert robots["urls_excluded"] == by_reason["robots.disallow"]


def test_top_domains_equal_a_group_by(world: dict[str, Path]) -> None:
    rec = f"read_parquet('{world['crawl']}/records/*.parquet')"
    # Loopback hosts are IP addresses: each is its own registrable domain.
    ranked = _q(
        f"SELECT host, sum(octet_length(body)) AS b, count(*) FROM {rec} GROUP BY host "
        "ORDER BY b DESC, count(*) DESC, host"
    )
    n = len(ranked)
    assert n == SITES
    expect = [{"domain": h, "kept_body_bytes": b, "kept": k} for h, b, k in ranked]
    top = _load(world["tmp"] / "card" / "eu-summary.json")["crawled_data"]["top_domains"]
    assert top["domains_with_content"] == n
    assert top["top_10_percent"] == expect[: math.ceil(n / 10)]
    assert top["top_5_percent_or_1000_sme"] == expect[: min(math.ceil(n / 20), 1000)]
    assert len(top["top_10_percent"]) == 2 and len(top["top_5_percent_or_1000_sme"]) == 1


def test_front_matter_is_a_hugging_face_card(world: dict[str, Path]) -> None:
    text = (world["tmp"] / "card" / "README.md").read_text(encoding="utf-8")
    assert text.startswith("---\n")
    meta = yaml.safe_load(text.split("---\n")[1])
    assert meta["pretty_name"] == "loopback"
    assert meta["license"] == ["cc-by-4.0", "unknown"]
    assert meta["size_categories"] == ["n<1K"]
    assert meta["source_datasets"] == ["original"]
    assert "heed" in meta["tags"] and "train-ai" in meta["tags"]
    assert "language" not in meta  # the records have no language column
    run = _load(world["crawl"] / "run.json")
    assert run["config"]["user_agent"] in text and run["config"]["contact_url"] in text
    assert "RFC 9309" in text and "RSL 1.0" in text
    eu = _load(world["tmp"] / "card" / "eu-summary.json")
    assert eu["crawled_data"]["crawlers"][0]["name"] == run["config"]["product_token"]
    assert all(x["known"] is False for x in eu["not_known"]) and eu["not_known"]


def test_a_crawl_and_its_recheck_count_each_url_once(world: dict[str, Path]) -> None:
    stats = _load(world["tmp"] / "merged" / "card.json")
    crawl_rec = f"read_parquet('{world['crawl']}/records/*.parquet')"
    dec = f"read_parquet('{world['crawl']}/decisions/*.parquet')"
    rc_rec = f"read_parquet('{world['recheck']}/records/*.parquet')"
    removals = f"read_parquet('{world['recheck']}/removals/*.parquet')"
    ((urls,),) = _q(
        f"SELECT count(*) FROM (SELECT url FROM {dec} UNION SELECT url FROM {rc_rec} "
        f"UNION SELECT url FROM {removals})"
    )
    ((kept,),) = _q(f"SELECT count(*) FROM {rc_rec}")
    ((removed,),) = _q(f"SELECT count(*) FROM {removals}")
    ((crawl_excluded,),) = _q(f"SELECT count(*) FROM {dec} WHERE NOT allowed")
    ((crawl_kept,),) = _q(f"SELECT count(*) FROM {crawl_rec}")
    assert removed > 0 and kept + removed == crawl_kept
    assert stats["totals"]["urls"] == urls
    assert stats["totals"]["kept"] == kept
    assert stats["totals"]["excluded"] == crawl_excluded + removed
    assert stats["merge"]["duplicates"] == crawl_kept
    ((ai_agent,),) = _q(
        f"SELECT count(*) FROM (SELECT reasons FROM {removals} UNION ALL SELECT reasons "
        f"FROM {dec} WHERE NOT allowed) WHERE list_contains(reasons, 'robots.ai-agent')"
    )
    ((removed_ai_agent,),) = _q(
        f"SELECT count(*) FROM {removals} WHERE list_contains(reasons, 'robots.ai-agent')"
    )
    assert removed_ai_agent > 0
    assert stats["exclusions"]["by_reason"]["robots.ai-agent"]["urls"] == ai_agent
    meta = yaml.safe_load(
        (world["tmp"] / "merged" / "README.md").read_text(encoding="utf-8").split("---\n")[1]
    )
    assert meta["source_datasets"] == ["original", str(world["crawl"])]


def test_check_passes_fresh_and_fails_after_an_edit(world: dict[str, Path]) -> None:
    folder = world["tmp"] / "card"
    ok = card(str(world["crawl"]), "--out", str(folder), "--name", "loopback", "--check")
    assert ok.returncode == 0, ok.stderr
    for name, old, new in (
        ("card.json", '"excluded": ', '"excluded": 1'),
        ("README.md", " web pages kept out of ", "1 web pages kept out of "),
    ):
        path = folder / name
        original = path.read_text(encoding="utf-8")
        try:
            assert old in original
            path.write_text(original.replace(old, new, 1), encoding="utf-8")
            bad = card(str(world["crawl"]), "--out", str(folder), "--name", "loopback", "--check")
            assert bad.returncode == 1, bad.stderr
            assert name in bad.stderr
        finally:
            path.write_text(original, encoding="utf-8")
    again = card(str(world["crawl"]), "--out", str(folder), "--name", "loopback", "--check")
    assert again.returncode == 0, again.stderr


def test_check_names_a_missing_file(world: dict[str, Path]) -> None:
    folder = world["tmp"] / "partial"
    assert card(str(world["crawl"]), "--out", str(folder)).returncode == 0
    (folder / "eu-summary.md").unlink()
    bad = card(str(world["crawl"]), "--out", str(folder), "--check", "--json")
    assert bad.returncode == 1
    result = json.loads(bad.stdout)
    assert result["equal"] is False
    assert any("eu-summary.md" in d for d in result["differences"])


def test_empty_or_foreign_folders_are_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("hello", encoding="utf-8")
    bad_json = tmp_path / "badjson"
    bad_json.mkdir()
    (bad_json / "run.json").write_text("{not json", encoding="utf-8")
    for folder, words in (
        (empty, "not a heed output folder"),
        (foreign, "not a heed output folder"),
        (tmp_path / "missing", "no such folder"),
        (bad_json, "cannot be read as JSON"),
    ):
        proc = card(str(folder), "--out", str(tmp_path / "card"))
        assert proc.returncode == 2, (folder, proc.stderr)
        assert words in proc.stderr and str(folder) in proc.stderr
    assert not (tmp_path / "card").exists()


def test_registrable_domains_and_hub_ids() -> None:
    assert registrable_domain("a.b.example.co.uk") == "example.co.uk"
    assert registrable_domain("WWW.Example.com.") == "example.com"
    assert registrable_domain("127.0.0.2") == "127.0.0.2"
    assert registrable_domain("localhost") == "localhost"
    assert hf_license("CC-BY-SA-4.0") == "cc-by-sa-4.0"
    assert hf_license("CC-PDM-1.0") == "other"
    assert hf_license("LicenseRef-x") == "other"
    assert hf_license("none") == "unknown"
    assert [size_category(n) for n in (0, 999, 1000, 10**6)] == [
        "n<1K",
        "n<1K",
        "1K<n<10K",
        "1M<n<10M",
    ]
