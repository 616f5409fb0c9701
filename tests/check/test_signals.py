"""``heed check`` against the loopback web: every signal and error case of SPEC.md §3 and §7.

All cases run in one invocation of the real command (``--json``); each test then asserts the
verdict, stage, reason codes and the evidence's source for its URL, with expectations taken
from SPEC.md. Policy variants (purpose, modes, registry, ``on_signal_error``) run separately.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from crawler.demo.web import LoopbackWeb

from .conftest import CC_BY, Run, heed, signal, write_config

ROBOTS = "robots.txt"
# (case id, site, path, verdict, stage, reasons, (signal, where) whose source is checked)
# where: "robots.txt"/"ai.txt"/"tdmrep" = that document of the site; "lic:<path>" an RSL
# document; anything else is compared literally.
CASES: list[tuple[str, str, str, str, str, set[str], tuple[str, str] | None]] = [
    ("kept", "main", "/ok", "kept", "post-fetch", set(), ("robots", ROBOTS)),
    ("plain-text", "main", "/plain", "kept", "post-fetch", set(), None),
    (
        "robots-disallow",
        "main",
        "/private/x",
        "excluded",
        "pre-fetch",
        {"robots.disallow", "robots.ai-agent"},
        ("robots", ROBOTS),
    ),
    ("robots-allow-longest", "main", "/private/open", "kept", "post-fetch", set(), None),
    (
        "robots-ai-agent",
        "main",
        "/gpt",
        "excluded",
        "pre-fetch",
        {"robots.ai-agent"},
        ("robots-ai-agent", ROBOTS),
    ),
    (
        "aipref-robots",
        "main",
        "/cu/x",
        "excluded",
        "pre-fetch",
        {"aipref.disallow"},
        ("aipref", ROBOTS),
    ),
    (
        "content-signal-robots",
        "main",
        "/cs/x",
        "excluded",
        "pre-fetch",
        {"content-signal.disallow"},
        ("content-signal", ROBOTS),
    ),
    ("aipref-parse-error", "main", "/broken/x", "kept", "post-fetch", set(), ("aipref", ROBOTS)),
    (
        "x-robots-tag",
        "main",
        "/xrt",
        "excluded",
        "post-fetch",
        {"x-robots-tag.noai"},
        ("x-robots-tag", "header:X-Robots-Tag"),
    ),
    ("x-robots-tag-other-bot", "main", "/xrt-other", "kept", "post-fetch", set(), None),
    (
        "x-robots-tag-our-token",
        "main",
        "/xrt-token",
        "excluded",
        "post-fetch",
        {"x-robots-tag.noml"},
        ("x-robots-tag", "header:X-Robots-Tag"),
    ),
    ("noindex-not-for-training", "main", "/noindex", "kept", "post-fetch", set(), None),
    (
        "meta-robots",
        "main",
        "/meta",
        "excluded",
        "post-fetch",
        {"meta-robots.noai", "meta-robots.noimageai"},
        ("meta-robots", "meta"),
    ),
    (
        "meta-ai-agent-name",
        "main",
        "/meta-token",
        "excluded",
        "post-fetch",
        {"meta-robots.noml"},
        ("meta-robots", "meta"),
    ),
    (
        "aipref-header",
        "main",
        "/hdr-cu",
        "excluded",
        "post-fetch",
        {"aipref.disallow"},
        ("aipref", "header:Content-Usage"),
    ),
    (
        "content-signal-header",
        "main",
        "/hdr-cs",
        "excluded",
        "post-fetch",
        {"content-signal.disallow"},
        ("content-signal", "header:Content-Signal"),
    ),
    ("tdm-header", "main", "/tdm-hdr", "excluded", "post-fetch", {"tdmrep.reserved"}, None),
    (
        "tdm-meta",
        "main",
        "/tdm-meta",
        "excluded",
        "post-fetch",
        {"tdmrep.reserved"},
        ("tdmrep", "meta"),
    ),
    (
        "rsl-link-header",
        "main",
        "/rsl-link",
        "excluded",
        "post-fetch",
        {"rsl.prohibited"},
        ("rsl", "lic:/deny.xml"),
    ),
    ("status-404", "main", "/gone", "excluded", "post-fetch", {"fetch.status"}, None),
    ("status-503", "main", "/busy", "excluded", "post-fetch", {"fetch.status"}, None),
    ("too-large", "main", "/big", "excluded", "post-fetch", {"fetch.too-large"}, None),
    ("gzip-bomb", "main", "/bomb", "excluded", "post-fetch", {"fetch.too-large"}, None),
    (
        "unsupported-type",
        "main",
        "/pdf",
        "excluded",
        "post-fetch",
        {"fetch.unsupported-type"},
        None,
    ),
    ("timeout", "main", "/slow", "excluded", "post-fetch", {"fetch.error"}, None),
    ("connection-dropped", "main", "/drop", "excluded", "post-fetch", {"fetch.error"}, None),
    ("redirect-kept", "main", "/to-ok", "kept", "post-fetch", set(), None),
    (
        "redirect-to-disallowed-origin",
        "main",
        "/to-other",
        "excluded",
        "pre-fetch",
        {"robots.disallow", "robots.ai-agent"},
        ("robots", "other:robots.txt"),
    ),
    ("redirect-non-http", "main", "/to-ftp", "excluded", "post-fetch", {"fetch.error"}, None),
    ("five-redirects", "main", "/five0", "kept", "post-fetch", set(), None),
    ("six-redirects", "main", "/six0", "excluded", "post-fetch", {"fetch.redirect-limit"}, None),
    ("robots-404", "r404", "/page", "kept", "post-fetch", set(), ("robots", ROBOTS)),
    (
        "robots-500",
        "r500",
        "/page",
        "excluded",
        "pre-fetch",
        {"robots.unreachable"},
        ("robots", ROBOTS),
    ),
    (
        "robots-429",
        "r429",
        "/page",
        "excluded",
        "pre-fetch",
        {"robots.unreachable"},
        ("robots", ROBOTS),
    ),
    (
        "robots-timeout",
        "rslow",
        "/page",
        "excluded",
        "pre-fetch",
        {"robots.unreachable"},
        ("robots", ROBOTS),
    ),
    (
        "robots-connection",
        "rdrop",
        "/page",
        "excluded",
        "pre-fetch",
        {"robots.unreachable"},
        ("robots", ROBOTS),
    ),
    (
        "robots-redirect-limit",
        "rredir",
        "/page",
        "excluded",
        "pre-fetch",
        {"robots.unreachable"},
        ("robots", ROBOTS),
    ),
    (
        "crawl-delay-too-long",
        "delay",
        "/page",
        "excluded",
        "pre-fetch",
        {"politeness.crawl-delay-too-long"},
        ("politeness", ROBOTS),
    ),
    (
        "aitxt-disallow-case-insensitive",
        "aitxt",
        "/art/x",
        "excluded",
        "pre-fetch",
        {"aitxt.disallow"},
        ("ai.txt", "ai.txt"),
    ),
    ("aitxt-other-path", "aitxt", "/page", "kept", "post-fetch", set(), None),
    (
        "aitxt-503",
        "ai503",
        "/page",
        "excluded",
        "pre-fetch",
        {"aitxt.unreachable"},
        ("ai.txt", "ai.txt"),
    ),
    ("aitxt-html-is-absent", "aihtml", "/page", "kept", "post-fetch", set(), None),
    (
        "tdmrep-file-reserved",
        "tdm",
        "/res/x",
        "excluded",
        "pre-fetch",
        {"tdmrep.reserved"},
        ("tdmrep", "tdmrep"),
    ),
    ("tdmrep-file-grant", "tdm", "/page", "kept", "post-fetch", set(), ("tdmrep", "tdmrep")),
    (
        "tdmrep-meta-overrides-file",
        "tdm",
        "/free/x",
        "excluded",
        "post-fetch",
        {"tdmrep.reserved"},
        ("tdmrep", "meta"),
    ),
    (
        "tdmrep-invalid",
        "tdmbad",
        "/page",
        "excluded",
        "pre-fetch",
        {"tdmrep.invalid"},
        ("tdmrep", "tdmrep"),
    ),
    (
        "tdmrep-500",
        "tdm500",
        "/page",
        "excluded",
        "pre-fetch",
        {"tdmrep.unreachable"},
        ("tdmrep", "tdmrep"),
    ),
    (
        "rsl-prohibited",
        "rsl",
        "/page",
        "excluded",
        "pre-fetch",
        {"rsl.prohibited"},
        ("rsl", "lic:/deny.xml"),
    ),
    (
        "rsl-license-required",
        "rslpaid",
        "/page",
        "excluded",
        "pre-fetch",
        {"rsl.license-required"},
        ("rsl", "lic:/paid.xml"),
    ),
    (
        "rsl-invalid",
        "rslbad",
        "/page",
        "excluded",
        "pre-fetch",
        {"rsl.invalid"},
        ("rsl", "lic:/bad.xml"),
    ),
    (
        "rsl-unreachable",
        "rsldown",
        "/page",
        "excluded",
        "pre-fetch",
        {"rsl.unreachable"},
        ("rsl", "lic:/down.xml"),
    ),
]

DOCS = {"robots.txt": "/robots.txt", "ai.txt": "/ai.txt", "tdmrep": "/.well-known/tdmrep.json"}


@pytest.fixture(scope="module")
def matrix(web: LoopbackWeb, config: Path) -> Run:
    web.clear_log()
    urls = [web.url(site, path) for _, site, path, *_ in CASES]
    return heed("check", "--config", config, "--json", *urls)


def _expected_source(web: LoopbackWeb, site: str, where: str) -> str:
    if where.startswith("lic:"):
        return web.url("lic", where[4:])
    if where.startswith("other:"):
        return web.url("other", DOCS[where[6:]])
    if where in DOCS:
        return web.url(site, DOCS[where])
    return where


def test_any_exclusion_exits_1(matrix: Run) -> None:
    assert matrix.code == 1, matrix.stderr
    summary = matrix.data["summary"]
    assert summary["checked"] == len(CASES)
    assert summary["excluded"] == sum(1 for c in CASES if c[3] == "excluded")


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_case(case: tuple[Any, ...], matrix: Run, web: LoopbackWeb) -> None:
    _, site, path, verdict, stage, reasons, evidence = case
    result = matrix.by_url()[web.url(site, path)]
    assert result["verdict"] == verdict
    assert result["allowed"] is (verdict == "kept")
    assert result["stage"] == stage
    assert set(result["reasons"]) == reasons
    assert len(result["reasons"]) == len(reasons)
    for code in reasons:  # every deciding code is backed by a deny/error in the evidence
        assert any(
            code in s["reasons"] and s["verdict"] in ("deny", "error") for s in result["signals"]
        )
    if evidence is not None:
        name, where = evidence
        assert signal(result, name)["source"] == _expected_source(web, site, where)


def test_robots_evidence_has_line_and_status(matrix: Run, web: LoopbackWeb) -> None:
    result = matrix.by_url()[web.url("main", "/private/x")]
    robots = signal(result, "robots")
    assert robots["raw"] == "Disallow: /private"
    assert robots["document"]["status"] == 200
    assert robots["document"]["url"] == web.url("main", "/robots.txt")
    agent = signal(result, "robots-ai-agent")
    assert agent["detail"] in ("ClaudeBot", "anthropic-ai", "CCBot")  # a token using `*`
    allow = signal(matrix.by_url()[web.url("main", "/private/open")], "robots")
    assert allow["verdict"] == "none" and allow["raw"] == "Allow: /private/open"


def test_ai_agent_detail_names_the_token(matrix: Run, web: LoopbackWeb) -> None:
    result = matrix.by_url()[web.url("main", "/gpt")]
    assert signal(result, "robots-ai-agent")["detail"] == "GPTBot"
    assert signal(result, "robots-ai-agent")["raw"] == "Disallow: /gpt"


def test_unreachable_robots_says_why(matrix: Run, web: LoopbackWeb) -> None:
    by_url = matrix.by_url()
    assert signal(by_url[web.url("r500", "/page")], "robots")["document"]["status"] == 500
    assert signal(by_url[web.url("r429", "/page")], "robots")["document"]["status"] == 429
    assert signal(by_url[web.url("rslow", "/page")], "robots")["document"]["error"] == "timeout"
    redirected = signal(by_url[web.url("rredir", "/page")], "robots")["document"]
    assert redirected["error"] == "redirect-limit"
    absent = signal(by_url[web.url("r404", "/page")], "robots")
    assert absent["verdict"] == "none" and absent["document"]["status"] == 404


def test_aipref_parse_error_is_informational(matrix: Run, web: LoopbackWeb) -> None:
    aipref = signal(matrix.by_url()[web.url("main", "/broken/x")], "aipref")
    assert aipref["verdict"] == "none"
    assert aipref["reasons"] == ["aipref.parse-error"]


def test_details_of_fetch_and_tdmrep_and_politeness(matrix: Run, web: LoopbackWeb) -> None:
    by_url = matrix.by_url()
    gone = by_url[web.url("main", "/gone")]
    assert gone["http_status"] == 404 and signal(gone, "fetch")["detail"] == "404"
    assert signal(by_url[web.url("main", "/busy")], "fetch")["detail"] == "503"
    res = signal(by_url[web.url("tdm", "/res/x")], "tdmrep")
    assert res["detail"] == "https://example.org/tdm-policy.json"
    assert signal(by_url[web.url("tdm", "/page")], "tdmrep")["verdict"] == "grant"
    slow = by_url[web.url("delay", "/page")]
    assert slow["crawl_delay"] == 60
    assert by_url[web.url("main", "/ok")]["crawl_delay"] == pytest.approx(0.1)
    assert signal(by_url[web.url("ai503", "/page")], "ai.txt")["verdict"] == "error"


def test_redirects_are_followed_hop_by_hop(matrix: Run, web: LoopbackWeb) -> None:
    by_url = matrix.by_url()
    kept = by_url[web.url("main", "/to-ok")]
    assert kept["final_url"] == web.url("main", "/ok")
    assert kept["redirects"] == [web.url("main", "/ok")]
    assert kept["license"]["id"] == "CC-BY-4.0"
    assert len(by_url[web.url("main", "/five0")]["redirects"]) == 5
    crossed = by_url[web.url("main", "/to-other")]
    assert crossed["final_url"] == web.url("other", "/blocked")
    # The disallowed target on the other origin was never requested (SPEC.md §2).
    assert not [e for e in web.requests("other") if e.path == "/blocked"]


def test_licence_tag_and_source(matrix: Run, web: LoopbackWeb) -> None:
    lic = matrix.by_url()[web.url("main", "/ok")]["license"]
    assert lic == {
        "id": "CC-BY-4.0",
        "url": CC_BY,
        "source": "html-rel",
        "conflict": False,
        "candidates": [{"id": "CC-BY-4.0", "url": CC_BY, "source": "html-rel"}],
    }
    assert matrix.by_url()[web.url("main", "/plain")]["license"]["id"] is None


def test_each_origin_document_fetched_once(matrix: Run, web: LoopbackWeb) -> None:
    counts = Counter((e.site, e.path) for e in web.requests())
    for site in ("main", "tdm", "aitxt", "ai503", "tdmbad"):
        for path in DOCS.values():
            assert counts[(site, path)] == 1, (site, path)
    for site in ("r500", "r429"):  # unreachable robots.txt: nothing else of the origin
        assert counts[(site, "/robots.txt")] == 1
        assert counts[(site, "/ai.txt")] == counts[(site, "/.well-known/tdmrep.json")] == 0
    assert counts[("lic", "/deny.xml")] == 1  # named by robots.txt of `rsl` and a Link header


def test_retries_like_the_crawler(matrix: Run, web: LoopbackWeb) -> None:
    counts = Counter((e.site, e.path) for e in web.requests())
    assert counts[("main", "/busy")] == 3  # Scrapy RETRY_TIMES = 2 on 503
    assert counts[("main", "/gone")] == 1  # a 404 is not retried
    assert matrix.by_url()[web.url("main", "/busy")]["http_status"] == 503


def test_denied_urls_never_requested(matrix: Run, web: LoopbackWeb) -> None:
    requested = {(e.site, e.path) for e in web.requests()}
    for result in matrix.data["results"]:
        if result["stage"] == "pre-fetch":
            final = result["final_url"]
            key = (web.site_of(final), urlsplit(final).path)
            assert key not in requested, key


# --------------------------------------------------------------------------- policy variants


def test_all_kept_exits_0(web: LoopbackWeb, config: Path) -> None:
    run = heed(
        "check", "--config", config, "--json", web.url("main", "/ok"), web.url("main", "/plain")
    )
    assert run.code == 0
    assert [r["verdict"] for r in run.data["results"]] == ["kept", "kept"]


def test_purpose_search(web: LoopbackWeb, config: Path) -> None:
    urls = [web.url("main", "/noindex"), web.url("main", "/gpt"), web.url("main", "/xrt")]
    run = heed("check", "--config", config, "--json", "--purpose", "search", *urls)
    by_url = run.by_url()
    assert run.code == 1
    assert by_url[urls[0]]["reasons"] == ["x-robots-tag.noindex"]
    assert by_url[urls[1]]["verdict"] == "kept"  # AI-agent groups do not speak to search
    assert by_url[urls[2]]["verdict"] == "kept"  # noai does not speak to search
    assert run.data["summary"]["purpose"] == "search"


def test_opt_in_mode(web: LoopbackWeb, config: Path) -> None:
    urls = [web.url("main", "/hdr-cu-yes"), web.url("main", "/plain"), web.url("main", "/ok")]
    run = heed("check", "--config", config, "--json", "--mode", "opt-in", *urls)
    by_url = run.by_url()
    assert by_url[urls[0]]["verdict"] == "kept"  # Content-Usage: train-ai=y is a grant
    assert by_url[urls[1]]["reasons"] == ["consent.missing"]
    assert by_url[urls[2]]["verdict"] == "kept"  # CC-BY-4.0 is an open licence
    assert run.code == 1


def test_open_license_mode(web: LoopbackWeb, config: Path) -> None:
    urls = [web.url("main", "/ok"), web.url("main", "/plain")]
    run = heed("check", "--config", config, "--json", "--mode", "open-license", *urls)
    by_url = run.by_url()
    assert by_url[urls[0]]["verdict"] == "kept"
    assert by_url[urls[1]]["reasons"] == ["license.not-open"]
    assert by_url[urls[1]]["stage"] == "post-fetch"


def test_on_signal_error_ignore_never_lifts_robots(web: LoopbackWeb, tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "c.toml", policy={"on_signal_error": "ignore"})
    urls = [web.url("ai503", "/page"), web.url("r500", "/page"), web.url("tdmbad", "/page")]
    by_url = heed("check", "--config", cfg, "--json", *urls).by_url()
    assert by_url[urls[0]]["verdict"] == "kept"
    assert signal(by_url[urls[0]], "ai.txt")["verdict"] == "error"
    assert by_url[urls[1]]["reasons"] == ["robots.unreachable"]
    assert by_url[urls[2]]["verdict"] == "kept"


def test_registry_opt_out_and_unavailable(web: LoopbackWeb, tmp_path: Path) -> None:
    from crawler.registry.store import RegistryStore
    from filters.registry import make_entry

    db = tmp_path / "registry.db"
    with RegistryStore(db) as store:
        entry = make_entry(
            "prefix",
            web.url("r404", "/page"),
            "opt-out",
            ["train-ai"],
            registered_by="test",
            id="entry-1",
        )
        store.add(entry)
    cfg = write_config(tmp_path / "c.toml", registry={"url": f"sqlite:///{db}"})
    run = heed("check", "--config", cfg, "--json", web.url("r404", "/page"), web.url("main", "/ok"))
    by_url = run.by_url()
    opted = by_url[web.url("r404", "/page")]
    assert opted["reasons"] == ["registry.opt-out"] and opted["stage"] == "pre-fetch"
    assert signal(opted, "registry")["detail"] == "entry-1"
    assert by_url[web.url("main", "/ok")]["verdict"] == "kept"
    down = write_config(tmp_path / "d.toml", registry={"url": "http://127.0.0.1:9/"})
    run = heed("check", "--config", down, "--json", web.url("main", "/ok"))
    assert run.data["results"][0]["reasons"] == ["registry.unavailable"]
    assert run.code == 1


def test_private_addresses_blocked_by_default(web: LoopbackWeb) -> None:
    web.clear_log()
    run = heed("check", "--json", web.url("main", "/ok"))
    result = run.data["results"][0]
    assert run.code == 1
    assert result["reasons"] == ["fetch.blocked-address"]
    assert result["stage"] == "pre-fetch"
    assert web.requests() == []
    allowed = heed("check", "--json", "--allow-private-networks", web.url("main", "/ok"))
    assert allowed.code == 0
    assert "+https://" in allowed.data["summary"]["user_agent"]
    assert "heedbot" in allowed.data["summary"]["user_agent"]
    sent = [dict(e.headers).get("User-Agent") for e in web.requests()]
    assert sent and all(ua == allowed.data["summary"]["user_agent"] for ua in sent)


@pytest.mark.parametrize(
    "args",
    [
        ["not-a-url"],
        [],
        ["--config", "/nonexistent/heed.toml", "https://example.org/"],
        ["--purpose", "mining", "https://example.org/"],
        ["--robots", "/nonexistent/robots.txt", "https://example.org/"],
        ["--urls-file", "/nonexistent/urls.txt"],
    ],
    ids=["bad-url", "no-url", "missing-config", "bad-purpose", "missing-file", "missing-list"],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    run = heed("check", *args)
    assert run.code == 2
    assert run.stdout == ""
