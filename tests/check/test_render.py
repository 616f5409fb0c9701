"""The documented output of ``heed check``: JSON keys pinned, the table's content, public API."""

from __future__ import annotations

from pathlib import Path

import pytest

import crawler.check
from crawler.check import cli, explain, offline, render, run
from crawler.demo.web import LoopbackWeb

from .conftest import heed

RESULT_KEYS = {
    "url",
    "final_url",
    "allowed",
    "verdict",
    "stage",
    "reasons",
    "http_status",
    "redirects",
    "license",
    "crawl_delay",
    "signals",
    "notes",
}
SIGNAL_KEYS = {"signal", "verdict", "reasons", "raw", "source", "detail", "document", "effective"}
SUMMARY_KEYS = {
    "format",
    "engine_version",
    "checked",
    "kept",
    "excluded",
    "by_reason",
    "purpose",
    "mode",
    "product_token",
    "user_agent",
    "ai_agents",
    "config",
    "site_documents_fetched",
    "offline",
}


def test_json_shape_is_stable(web: LoopbackWeb, config: Path) -> None:
    run_ = heed("check", "--config", config, "--json", web.url("main", "/ok"))
    data = run_.data
    assert set(data) == {"results", "summary"}
    result = data["results"][0]
    assert set(result) == RESULT_KEYS
    assert set(result["license"]) == {"id", "url", "source", "conflict", "candidates"}
    assert all(set(s) == SIGNAL_KEYS for s in result["signals"])
    assert set(data["summary"]) == SUMMARY_KEYS
    assert data["summary"]["format"] == render.FORMAT == "heed-check/1"


def test_table_shows_verdict_reasons_sources_and_delay(web: LoopbackWeb, config: Path) -> None:
    urls = [web.url("main", "/ok"), web.url("main", "/gpt")]
    out = heed("check", "--config", config, *urls)
    assert out.code == 1
    text = out.stdout
    assert "KEPT at post-fetch" in text
    assert "EXCLUDED at pre-fetch" in text
    assert "reasons      robots.ai-agent" in text
    assert "Disallow: /gpt (GPTBot)" in text
    assert f"{web.url('main', '/robots.txt')} [200]" in text
    assert "licence      CC-BY-4.0 from html-rel" in text
    assert "crawl-delay  0.1 s" in text
    assert "2 checked: 1 kept, 1 excluded" in text


def test_signals_of_other_purposes_are_marked(web: LoopbackWeb, config: Path) -> None:
    out = heed("check", "--config", config, "--purpose", "search", web.url("tdm", "/page"))
    line = next(s for s in out.stdout.splitlines() if s.strip().startswith("tdmrep"))
    assert "(not for this purpose)" in line
    data = heed(
        "check", "--config", config, "--json", "--purpose", "search", web.url("tdm", "/page")
    ).data
    tdm = next(s for s in data["results"][0]["signals"] if s["signal"] == "tdmrep")
    assert tdm["effective"] is False


@pytest.mark.parametrize(
    ("module", "names"),
    [
        (crawler.check, ["CheckResult", "Checker", "run_check"]),
        (run, ["MAX_RETRY_PAUSE", "CheckResult", "Checker", "run_check"]),
        (render, ["FORMAT", "render_json", "render_table", "result_json", "summary_json"]),
        (explain, ["Advice", "Explanation", "explain", "opt_out_examples"]),
        (cli, ["DEFAULT_CONTACT", "EXIT_EXCLUDED", "EXIT_KEPT", "EXIT_USAGE", "main", "register"]),
        (
            offline,
            [
                "DOCUMENT_PATHS",
                "LocalFile",
                "Substitutes",
                "SubstitutingLoader",
                "load_substitutes",
                "page_outcome",
                "parse_headers_file",
            ],
        ),
    ],
)
def test_public_names(module: object, names: list[str]) -> None:
    assert sorted(module.__all__) == sorted(names)  # type: ignore[attr-defined]
    for name in names:
        assert hasattr(module, name)


def test_standalone_module_entry_point(web: LoopbackWeb, config: Path) -> None:
    import subprocess
    import sys

    from .conftest import REPO

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "crawler.check.cli",
            "--config",
            str(config),
            web.url("main", "/ok"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 0
    assert "KEPT at post-fetch" in done.stdout
