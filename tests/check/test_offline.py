"""Offline substitution (``--robots/--ai-txt/--tdmrep/--headers/--html``, ``--offline``) and
``--explain``: local files go through the same engine, and the advice really works."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.check.cli import main
from crawler.check.offline import parse_headers_file
from crawler.demo.web import LoopbackWeb

from .conftest import heed, signal

URL = "https://site.example/articles/one"


def check(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, dict[str, Any]]:
    """Run ``heed check --json`` in-process; returns the exit code and the parsed output."""
    code = main(["--json", *map(str, args)])
    out = capsys.readouterr().out
    return code, json.loads(out)


def files(tmp_path: Path, **contents: str) -> dict[str, Path]:
    out = {}
    for name, text in contents.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        out[name] = path
    return out


# --------------------------------------------------------------------------- headers files


def test_headers_file_status_folding_and_skips() -> None:
    status, headers, notes = parse_headers_file(
        b"HTTP/1.1 403 Forbidden\r\nX-Robots-Tag: noai,\r\n  noml\r\nbroken line\r\n"
        b"Content-Type: text/html\r\n\r\nBody: not a header\r\n"
    )
    assert status == 403
    assert headers.get("x-robots-tag") == "noai, noml"
    assert headers.get("content-type") == "text/html"
    assert "body" not in headers
    assert len(notes) == 1 and "line 4" in notes[0]


def test_headers_file_without_status_line_is_200() -> None:
    status, headers, notes = parse_headers_file(b"\xef\xbb\xbfLink: <x>; rel=license\n")
    assert status == 200 and headers.get("link") == "<x>; rel=license" and notes == ()


def test_headers_file_reports_garbage() -> None:
    status, headers, notes = parse_headers_file(b"HTTP/9 abc\n\xff\xfe: \x00\n:\n")
    assert status == 200
    assert len(notes) == 2  # the unreadable status line and the empty name
    assert len(headers) == 1


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_headers_file_never_raises(data: bytes) -> None:
    status, headers, _notes = parse_headers_file(data)
    assert 100 <= status <= 599
    assert all(":" not in name for name in headers.names())


# --------------------------------------------------------------------------- --offline


def test_offline_robots_file_is_the_evidence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = files(tmp_path, robots="User-agent: heedbot\nDisallow: /articles/\n")
    code, data = check(capsys, "--offline", "--robots", f["robots"], URL)
    result = data["results"][0]
    assert code == 1
    assert result["reasons"] == ["robots.disallow"] and result["stage"] == "pre-fetch"
    robots = signal(result, "robots")
    assert robots["raw"] == "Disallow: /articles/"
    assert robots["source"] == f["robots"].resolve().as_uri()
    assert data["summary"]["offline"]["files"]["robots"] == str(f["robots"].resolve())
    assert data["summary"]["site_documents_fetched"] == 0


def test_offline_documents_without_files_are_not_published(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, data = check(capsys, "--offline", URL)
    result = data["results"][0]
    assert code == 0 and result["verdict"] == "kept"
    assert signal(result, "robots")["document"]["status"] == 404
    assert signal(result, "ai.txt")["document"]["status"] == 404


@pytest.mark.parametrize(
    ("name", "text", "reasons", "stage"),
    [
        ("ai-txt", "User-agent: *\nDisallow: /ARTICLES\n", ["aitxt.disallow"], "pre-fetch"),
        (
            "tdmrep",
            '{"location": "/articles/", "tdm-reservation": "1"}',
            ["tdmrep.reserved"],
            "pre-fetch",
        ),
        (
            "html",
            '<html><head><meta name="robots" content="noml"></head></html>',
            ["meta-robots.noml"],
            "post-fetch",
        ),
        ("headers", "HTTP/1.1 410 Gone\nContent-Type: text/html\n", ["fetch.status"], "post-fetch"),
        (
            "headers",
            "Content-Type: text/html\ntdm-reservation: 1\n",
            ["tdmrep.reserved"],
            "post-fetch",
        ),
        ("robots", "License: https://lic.example/rsl.xml\n", ["rsl.unreachable"], "pre-fetch"),
    ],
    ids=[
        "ai-txt",
        "tdmrep-bare-object",
        "html-meta",
        "headers-status",
        "headers-tdm",
        "robots-rsl-offline",
    ],
)
def test_offline_each_file(
    name: str,
    text: str,
    reasons: list[str],
    stage: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    code, data = check(capsys, "--offline", f"--{name}", path, URL)
    result = data["results"][0]
    assert code == 1
    assert result["reasons"] == reasons
    assert result["stage"] == stage


def test_offline_page_is_bounded_like_a_fetch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        '[identity]\ncontact_url = "https://example.org/c"\n[limits]\nmax_page_bytes = 2048\n',
        encoding="utf-8",
    )
    page = tmp_path / "page.html"
    page.write_text("<html>" + "x" * 5000 + "</html>", encoding="utf-8")
    code, data = check(capsys, "--config", cfg, "--offline", "--html", page, URL)
    assert code == 1 and data["results"][0]["reasons"] == ["fetch.too-large"]


def test_substitution_without_offline_fetches_the_rest(
    web: LoopbackWeb, config: Path, tmp_path: Path
) -> None:
    f = files(tmp_path, robots="User-agent: heedbot\nDisallow: /ok\n")
    web.clear_log()
    url = web.url("aitxt", "/art/x")  # its live ai.txt disallows /art
    kept_by_live_robots = web.url("main", "/ok")
    run = heed(
        "check", "--config", config, "--json", "--robots", f["robots"], url, kept_by_live_robots
    )
    by_url = run.by_url()
    assert by_url[url]["reasons"] == ["aitxt.disallow"]
    assert by_url[kept_by_live_robots]["reasons"] == ["robots.disallow"]
    paths = {(e.site, e.path) for e in web.requests()}
    assert ("aitxt", "/ai.txt") in paths and ("main", "/ai.txt") in paths
    assert ("aitxt", "/robots.txt") not in paths and ("main", "/robots.txt") not in paths


# --------------------------------------------------------------------------- --explain


def _apply(example: dict[str, str], tmp_path: Path) -> list[str]:
    where, snippet = example["where"], example["snippet"]
    path = tmp_path / f"{where}.txt"
    if where == "robots.txt":
        path.write_text(snippet + "\n", encoding="utf-8")
        return ["--robots", str(path)]
    if where == "header":
        path.write_text(f"Content-Type: text/html\n{snippet}\n", encoding="utf-8")
        return ["--headers", str(path)]
    assert where == "html"
    path.write_text(f"<html><head>{snippet}</head><body>x</body></html>", encoding="utf-8")
    return ["--html", str(path)]


@pytest.mark.parametrize("purpose", ["train-ai", "ai-input", "search"])
def test_every_opt_out_example_excludes_the_page(
    purpose: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, data = check(capsys, "--offline", "--explain", "--purpose", purpose, URL)
    explanation = data["results"][0]["explain"]
    assert code == 0 and explanation["goal"] == "opt-out"
    examples = [e for a in explanation["advice"] for e in a["examples"]]
    assert {e["where"] for e in examples} == {"robots.txt", "header", "html"}
    for example in examples:
        code, data = check(
            capsys, "--offline", "--purpose", purpose, *_apply(example, tmp_path), URL
        )
        assert code == 1, example
        assert data["results"][0]["verdict"] == "excluded", example


def test_explain_excluded_names_the_line_to_change(web: LoopbackWeb, config: Path) -> None:
    url = web.url("main", "/private/x")
    run = heed("check", "--config", config, "--json", "--explain", url)
    result = run.data["results"][0]
    advice = result["explain"]["advice"]
    assert result["explain"]["goal"] == "keep"
    assert {a["reason"] for a in advice} == set(result["reasons"])
    robots = next(a for a in advice if a["reason"] == "robots.disallow")
    assert "Disallow: /private" in robots["text"]
    assert web.url("main", "/robots.txt") in robots["text"]


def test_explain_in_the_table(web: LoopbackWeb, config: Path) -> None:
    run = heed(
        "check", "--config", config, "--explain", web.url("main", "/ok"), web.url("main", "/xrt")
    )
    assert run.code == 1
    assert "to opt out:" in run.stdout and "to be kept:" in run.stdout
    assert "X-Robots-Tag: noai" in run.stdout
    assert "[x-robots-tag.noai]" in run.stdout
