"""End-to-end: links and frontier lines that cannot be requested never end a job.

A hostile or careless page links to URLs no HTTP client can request (a port past 65535, 3,000
characters, control characters, a host with a space, a broken IPv6 literal, no host at all).
Each one becomes a ``fetch.invalid-url`` decision, is never requested and never logged to the
frontier; the crawl completes (exit 0) with the seed's own decision, and a rerun into the same
folder resumes cleanly. A seed like that is a configuration error (exit 2).
"""

from __future__ import annotations

import json
from pathlib import Path

from crawler.demo.web import LoopbackWeb, PageSpec, SiteSpec

from .crawlrun import crawl, heed, write_config

LONG_PATH = "/archive/" + "a" * 3000

#: What each link is, and its href as written in the page.
HOSTILE = {
    "bad port": "http://127.0.0.1:99999/x",
    "zero port": "http://127.0.0.1:0/",
    "over-long": "{{site:s}}" + LONG_PATH,
    "control character": "{{site:s}}/pa&#1;ge",
    "DEL character": "{{site:s}}/pa&#127;ge",
    "space in host": "http://exa mple.com/",
    "zone id in IPv6 literal": "http://[fe80::1%25eth0]/",
    "empty host": "http://:8080/x",
    "letters in port": "http://127.0.0.1:8o/",
}
#: Unparsable even for the HTML link extractor: dropped there, so no row, but no harm either.
UNPARSABLE = "http://[::1/"


def _site() -> SiteSpec:
    links = "".join(f'<li><a href="{href}">{name}</a></li>' for name, href in HOSTILE.items())
    links += f'<li><a href="{UNPARSABLE}">broken</a></li><li><a href="/ok">fine</a></li>'
    home = (
        "<!doctype html><html><head><title>Links</title></head><body><nav><ul>"
        f"{links}</ul></nav><p>Welcome.</p></body></html>"
    )
    ok = "<!doctype html><html><body><p>An ordinary page.</p></body></html>"
    return SiteSpec(pages={"/": PageSpec(body=home), "/ok": PageSpec(body=ok)})


def _bad_urls(web: LoopbackWeb) -> dict[str, str]:
    origin = web.url("s").rstrip("/")
    return {
        "bad port": "http://127.0.0.1:99999/x",
        "zero port": "http://127.0.0.1:0/",
        "over-long": origin + LONG_PATH,
        "control character": origin + "/pa\x01ge",
        "DEL character": origin + "/pa\x7fge",
        "space in host": "http://exa mple.com/",
        "zone id in IPv6 literal": "http://[fe80::1%25eth0]/",
        "empty host": "http://:8080/x",
        "letters in port": "http://127.0.0.1:8o/",
    }


def test_hostile_links_are_recorded_never_requested_and_the_crawl_completes(
    tmp_path: Path,
) -> None:
    with LoopbackWeb({"s": _site()}) as web:
        seed, ok = web.url("s"), web.url("s", "/ok")
        run = crawl(tmp_path, {"crawl": {"seeds": [seed]}})
        requested = {e.path for e in web.requests("s")}
        bad = _bad_urls(web)
        web.clear_log()
        rerun = crawl(tmp_path, {"crawl": {"seeds": [seed]}})
        requested_again = [e.path for e in web.requests("s") if e.path not in ("/robots.txt",)]
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    assert run.decision(seed)["allowed"] and run.decision(ok)["allowed"]
    assert run.kept_urls() == {seed, ok}
    for name, url in bad.items():
        row = run.decision(url)
        assert row["reasons"] == ["fetch.invalid-url"], name
        assert (row["stage"], row["allowed"], row["http_status"]) == ("pre-fetch", False, None)
    assert not any(p.startswith(("/x", "/archive", "/pa")) for p in requested), requested
    assert UNPARSABLE not in {d["url"] for d in run.decisions()}
    assert run.summary["by_reason"]["fetch.invalid-url"] == len(bad)
    frontier = [
        json.loads(line)["url"] for line in (run.out / "frontier.jsonl").read_text().splitlines()
    ]
    assert set(frontier) == {seed, ok}
    # The rerun resumes: nothing decided again, nothing broken by the earlier frontier.
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.summary["resumed"] and rerun.summary["considered"] == 0
    assert rerun.summary["frontier_ignored_lines"] == 0
    assert [d["url"] for d in rerun.decisions()].count(bad["bad port"]) == 1
    assert requested_again == []


def test_invalid_frontier_lines_from_an_older_version_are_skipped_with_a_count(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    with LoopbackWeb({"s": _site()}) as web:
        seed, ok = web.url("s"), web.url("s", "/ok")
        origin = seed.rstrip("/")
        lines = [
            {"url": seed, "depth": 0},
            {"url": origin.rsplit(":", 1)[0] + ":99999/old", "depth": 1},
            {"url": origin + LONG_PATH, "depth": 1},
            {"url": origin + "/with\u0000nul", "depth": 1},
            {"url": ok, "depth": 1},
        ]
        text = "".join(json.dumps(line) + "\n" for line in lines) + '{"url": "http://[::1/", "d'
        (out / "frontier.jsonl").write_text(text, encoding="utf-8")
        run = crawl(tmp_path, {"crawl": {"seeds": [seed], "max_depth": 0}})
        requested = {e.path for e in web.requests("s")}
        deeper = crawl(tmp_path, {"crawl": {"seeds": [seed], "max_depth": 1}})
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    assert run.summary["resumed"]
    assert run.summary["frontier_ignored_lines"] == 4  # three bad URLs and the torn last line
    assert run.summary["frontier_restored"] == 0  # /ok is at depth 1, beyond max_depth 0
    assert run.decision(seed)["allowed"]
    assert "/old" not in requested and not any(p.startswith("/archive") for p in requested)
    assert deeper.returncode == 0, deeper.stderr
    assert deeper.summary["frontier_restored"] == 1 and ok in deeper.kept_urls()
    assert deeper.summary["frontier_ignored_lines"] == 3  # the torn line was cut off


def test_bad_seeds_are_configuration_errors_before_anything_is_fetched(tmp_path: Path) -> None:
    with LoopbackWeb({"s": _site()}) as web:
        seeds = tmp_path / "seeds.txt"
        seeds.write_text(f"# seeds\n{web.url('s')}\nhttp://127.0.0.1:99999/\n", encoding="utf-8")
        config = write_config(tmp_path / "run.toml", {"crawl": {"out": str(tmp_path / "out")}})
        from_file = heed("crawl", "--config", str(config), "--seeds", str(seeds), "--json")
        in_config = crawl(tmp_path / "c", {"crawl": {"seeds": ["http://exa mple.com/"]}})
        requested = web.requests()
    assert from_file.returncode == 2, from_file.stderr
    assert f"{seeds}:3" in from_file.stderr and "99999" in from_file.stderr
    assert in_config.returncode == 2 and "[crawl] seeds" in in_config.stderr
    assert "Traceback" not in from_file.stderr + in_config.stderr
    assert requested == []
    assert not (tmp_path / "out").exists()


def test_check_of_a_redirect_to_an_unrequestable_url_excludes_it_without_a_traceback() -> None:
    pages = {"/go": PageSpec(redirect_to="http://127.0.0.1:99999/moved")}
    with LoopbackWeb({"s": SiteSpec(pages=pages)}) as web:
        proc = heed("check", "--json", "--allow-private-networks", web.url("s", "/go"))
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    (result,) = json.loads(proc.stdout)["results"]
    assert result["allowed"] is False and result["reasons"] == ["fetch.invalid-url"]
