"""Hostile HTML over real HTTP on 127.0.0.1: a real ``heed crawl`` and ``heed check`` must never
keep an opted-out page, whatever its bytes look like (SPEC.md §3.8)."""

from __future__ import annotations

import codecs
import gzip
import json
from pathlib import Path

from crawler.demo.web import LoopbackWeb, PageSpec, SiteSpec

from .crawlrun import crawl, heed, write_config

NOAI = '<meta name="robots" content="noai">'
TDM = '<meta name="tdm-reservation" content="1">'


def _doc(head: str = "", body: str = "<p>Some article text.</p>", after: str = "") -> str:
    return (
        "<!DOCTYPE html><html><head><title>Post</title>"
        f"{head}</head><body>{body}<a href='/kept'>next</a></body></html>{after}"
    )


PAGES = {
    # finding 1: one control character made lxml raise and the opt-out was ignored
    "/formfeed": PageSpec(body=_doc(NOAI + TDM, "<p>page\x0cbreak</p>")),
    "/controls": PageSpec(body=_doc(NOAI, "<p>\x0b\x01\x1b\ufffe\uffff</p>")),
    # finding 2: encodings
    "/utf16le": PageSpec(
        body=_doc(NOAI, "<p>caf\u00e9</p>").encode("utf-16-le"),
        content_type="text/html; charset=utf-16le",
    ),
    "/utf16be-bom-as-text": PageSpec(
        body=codecs.BOM_UTF16_BE + _doc(NOAI).encode("utf-16-be"), content_type="text/plain"
    ),
    "/description": PageSpec(
        body=_doc('<meta name="description" content="files in charset=utf-32">' + NOAI),
        content_type="text/html",
    ),
    "/meta-lie": PageSpec(body=_doc('<meta charset="utf-32">' + NOAI), content_type="text/html"),
    "/after-html": PageSpec(body=_doc(after="\n" + NOAI)),
    "/shift-jis": PageSpec(
        body=_doc(NOAI, "<p>\u65e5\u672c\u8a9e</p>").encode("shift_jis"),
        content_type="text/html; charset=Shift_JIS",
    ),
    # bytes no encoding can read
    "/gzip-as-html": PageSpec(
        body=gzip.compress(_doc(NOAI, "<p>" + "words " * 300 + "</p>").encode(), mtime=0)
    ),
    "/replacement": PageSpec(body=_doc(), content_type="text/html; charset=iso-2022-kr"),
    # pages that must be kept, hostile bytes and all
    "/kept": PageSpec(body=_doc(body="<p>caf\u00e9\x0c\x0b\x01 au lait</p>")),
    "/kept-utf16": PageSpec(
        body=_doc(body="<p>caf\u00e9 au lait</p>").encode("utf-16-le"),
        content_type="text/html; charset=utf-16",
    ),
}
EXPECTED = {
    "/formfeed": {"meta-robots.noai", "tdmrep.reserved"},
    "/controls": {"meta-robots.noai"},
    "/utf16le": {"meta-robots.noai"},
    "/utf16be-bom-as-text": {"meta-robots.noai"},
    "/description": {"meta-robots.noai"},
    "/meta-lie": {"meta-robots.noai"},
    "/after-html": {"meta-robots.noai"},
    "/shift-jis": {"meta-robots.noai"},
    "/gzip-as-html": {"html.unparseable"},
    "/replacement": {"html.unparseable"},
}


def test_a_crawl_keeps_no_opted_out_page_and_records_why(tmp_path: Path) -> None:
    with LoopbackWeb({"s": SiteSpec(pages=PAGES)}) as web:
        seeds = [web.url("s", p) for p in PAGES]
        run = crawl(
            tmp_path,
            {"crawl": {"seeds": seeds, "max_depth": 0}, "policy": {"on_signal_error": "ignore"}},
        )
        assert run.returncode == 0, run.stderr
        kept = run.kept_urls()
        assert kept == {web.url("s", "/kept"), web.url("s", "/kept-utf16")}
        for path, reasons in EXPECTED.items():
            decision = run.decision(web.url("s", path))
            assert not decision["allowed"], path
            assert set(decision["reasons"]) == reasons, (path, decision["reasons"])
        records = {r["url"]: r for r in run.records()}
        assert "caf\u00e9" in records[web.url("s", "/kept")]["text"]
        assert "caf\u00e9 au lait" in records[web.url("s", "/kept-utf16")]["text"]
        for record in records.values():  # no opted-out bytes in any kept body, in any encoding
            for codec in ("utf-8", "utf-16-le", "utf-16-be"):
                assert b"noai" not in record["body"].decode(codec, "ignore").encode(), codec


def test_check_explain_says_excluded_and_never_advises_the_tag_already_there(
    tmp_path: Path,
) -> None:
    with LoopbackWeb({"s": SiteSpec(pages=PAGES)}) as web:
        config = write_config(tmp_path / "run.toml", {})
        urls = [web.url("s", p) for p in ("/formfeed", "/gzip-as-html", "/utf16le")]
        proc = heed("check", "--config", str(config), "--json", "--explain", *urls)
        assert proc.returncode == 1, proc.stderr
        results = {r["url"]: r for r in json.loads(proc.stdout)["results"]}
        for url in urls:
            result = results[url]
            assert result["verdict"] == "excluded", url
            assert result["explain"]["goal"] == "keep", url
            advice = result["explain"]["advice"]
            assert {a["reason"] for a in advice} == set(result["reasons"]), url
            for item in advice:
                assert not item["examples"], url  # no opt-out snippet to add
                assert "see docs/check.md" not in item["text"], url
        unreadable = results[urls[1]]
        assert unreadable["reasons"] == ["html.unparseable"]
        (text,) = [a["text"] for a in unreadable["explain"]["advice"]]
        assert "could not read" in text
