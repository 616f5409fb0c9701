"""Tests for filters/html.py: sniffing (SPEC.md §3.8), extraction and Link headers (§4)."""

from __future__ import annotations

import pytest

from filters import html

AGENTS = ("GPTBot",)


def ex(body: bytes, base: str = "https://e.org/dir/page") -> html.HtmlSignals:
    return html.extract(body, base, product_token="HeedBot", ai_agents=AGENTS)


@pytest.mark.parametrize(
    ("ctype", "body", "expected"),
    [
        ("text/html", b"plain words", True),
        ("Application/XHTML+XML; charset=utf-8", b"", True),
        ("text/plain", b"  \r\n\t<!DOCTYPE HTML><p>x", True),
        ("text/plain; charset=utf-8", b"<HTML lang=en>", True),
        (None, b"<!doctype html>", True),
        ("", b"\n<html>", True),
        (None, b"\xef\xbb\xbf<!doctype html>", True),
        ("text/plain", b"hello <html>", False),
        ("text/plain", b"<head><title>", False),
        (None, b"<!doctype svg>", False),
        ("application/json", b"<html>", False),
        ("application/octet-stream", b"<!doctype html>", False),
        (None, b"", False),
    ],
)
def test_is_html_sniffing(ctype: str | None, body: bytes, expected: bool) -> None:
    assert html.is_html(ctype, body) is expected


@pytest.mark.parametrize(
    ("ctype", "expected"),
    [
        ("Text/HTML; charset=UTF-8", "text/html"),
        (None, ""),
        ("", ""),
        (" text/plain ", "text/plain"),
    ],
)
def test_media_type(ctype: str | None, expected: str) -> None:
    assert html.media_type(ctype) == expected


PAGE = b"""<!DOCTYPE html><html><head><title>  A   title </title>
<base href="/base/">
<meta name="ROBOTS" content="noai"><meta name="gptbot" content="noml">
<meta name="heedbot" content="noindex"><meta name="otherbot" content="noai">
<meta name="tdm-reservation" content="1"><meta name="tdm-policy" content="https://e.org/policy">
<link rel="license" href="https://creativecommons.org/licenses/by/4.0/">
<link rel="license" type="application/rsl+xml" href="/license.xml">
<meta name="dcterms.license" content="https://creativecommons.org/licenses/by-sa/4.0/">
<meta name="DC.rights" content="All rights reserved">
<script type="application/ld+json">
{"@context": "https://schema.org", "license": "https://creativecommons.org/publicdomain/zero/1.0/",
 "@graph": [{"license": {"@type": "CreativeWork", "url": "/own-licence"}}],
 "image": {"license": "https://example.com/image-licence"}}
</script>
<style>.x{}</style></head>
<body><h1>Heading</h1><p>First   para <a href="a.html#top">link</a>.</p>
<script>var hidden = 1;</script><noscript>nojs</noscript><template>tpl</template>
<div>Second<br>line</div>
<a href="a.html#other">dup</a><a href="mailto:x@e.org">mail</a><a href="javascript:void(0)">js</a>
<a rel="License noopener" href="http://creativecommons.org/licenses/by-nc/4.0/">cc</a>
<a href="https://creativecommons.org/licenses/by-nd/4.0/">bare cc link</a>
<area rel="license" href="/area-licence">
</body></html>"""


def test_extract_metas_for_robots_and_our_tokens_only() -> None:
    assert ex(PAGE).metas == (("robots", "noai"), ("gptbot", "noml"), ("heedbot", "noindex"))


def test_extract_tdm_metas() -> None:
    signals = ex(PAGE)
    assert signals.tdm_reservation == ("1",)
    assert signals.tdm_policy == ("https://e.org/policy",)


def test_extract_licence_links_in_document_order_and_rsl_apart() -> None:
    signals = ex(PAGE)
    assert signals.license_links == (
        "https://creativecommons.org/licenses/by/4.0/",
        "http://creativecommons.org/licenses/by-nc/4.0/",
        "https://e.org/area-licence",
    )
    assert signals.rsl_links == ("https://e.org/license.xml",)


def test_bare_cc_link_without_rel_is_not_a_candidate() -> None:
    assert "https://creativecommons.org/licenses/by-nd/4.0/" not in ex(PAGE).license_links


def test_jsonld_licence_top_level_and_graph_not_nested_objects() -> None:
    assert ex(PAGE).jsonld_licenses == (
        "https://creativecommons.org/publicdomain/zero/1.0/",
        "https://e.org/own-licence",
    )


def test_meta_licence_only_when_a_url() -> None:
    assert ex(PAGE).meta_licenses == ("https://creativecommons.org/licenses/by-sa/4.0/",)


def test_links_absolute_http_deduped_without_fragment_using_base() -> None:
    assert ex(PAGE).links == (
        "https://e.org/base/a.html",
        "http://creativecommons.org/licenses/by-nc/4.0/",
        "https://creativecommons.org/licenses/by-nd/4.0/",
    )


def test_visible_text_and_title() -> None:
    signals = ex(PAGE)
    assert signals.title == "A title"
    assert signals.text.split("\n")[:4] == ["Heading", "First para link.", "Second", "line"]
    for hidden in ("hidden", "nojs", "tpl", ".x{}", "A title"):
        assert hidden not in signals.text


def test_charset_from_meta_is_honoured() -> None:
    body = '<html><head><meta charset="iso-8859-1"></head><body>caf\xe9</body></html>'.encode(
        "latin-1"
    )
    assert ex(body).text == "caf\u00e9"


def test_invalid_utf8_does_not_stop_extraction() -> None:
    body = b"<html><body><p>a\xff\xfeb</p><a href='/x'>x</a></body></html>"
    signals = ex(body)
    assert signals.links == ("https://e.org/x",)
    assert signals.text.startswith("a")


@pytest.mark.parametrize(
    "body", [b"", b"   ", b"\x00\x00", b"<?xml version='1.0' encoding='utf-8'?><html/>"]
)
def test_garbage_never_raises(body: bytes) -> None:
    signals = ex(body)
    assert isinstance(signals, html.HtmlSignals)


def test_empty_body_is_noted() -> None:
    assert ex(b"").diagnostics == ("empty document",)


def test_deep_nesting_is_handled() -> None:
    body = b"<div>" * 20000 + b"deep" + b"</div>" * 20000
    assert isinstance(ex(body).text, str)


def test_link_header_licences_split_by_rsl_type() -> None:
    values = [
        '<https://creativecommons.org/licenses/by/4.0/>; rel="license", '
        '</rsl.xml>; rel=license; type="application/rsl+xml"',
        '<https://e.org/next>; rel="next", <other>; rel="alternate license"',
    ]
    plain, rsl = html.link_header_licenses(values, "https://e.org/dir/page")
    assert plain == ("https://creativecommons.org/licenses/by/4.0/", "https://e.org/dir/other")
    assert rsl == ("https://e.org/rsl.xml",)


def test_link_header_with_comma_in_uri_and_garbage() -> None:
    plain, rsl = html.link_header_licenses(
        ["<https://e.org/a,b>; rel=license", "garbage;;<"], "https://e.org/"
    )
    assert (plain, rsl) == (("https://e.org/a,b",), ())


def test_link_header_empty() -> None:
    assert html.link_header_licenses([], "https://e.org/") == ((), ())
