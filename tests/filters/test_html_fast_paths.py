"""The fast text extraction gives exactly what the reference element walk gives."""

from __future__ import annotations

from urllib.parse import urldefrag, urljoin

from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import html as lxml_html

from filters import _html_urls, html
from filters._html_text import visible_text, walk_text

_TAGS = ["p", "div", "span", "b", "script", "style", "noscript", "template", "br", "li", "td"]
_TEXTS = ["", "a", " b ", "c\n d", "\t", "é", "x  y", "&amp;", "\u00a0z", "1<2"]


@st.composite
def _fragment(draw: st.DrawFn, depth: int = 0) -> str:
    parts = []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.integers(0, 3 if depth < 4 else 1))
        if kind == 0:
            parts.append(draw(st.sampled_from(_TEXTS)))
        elif kind == 1:
            parts.append(f"<!--{draw(st.sampled_from(_TEXTS))}-->")
        else:
            tag = draw(st.sampled_from(_TAGS))
            parts.append(f"<{tag}>{draw(_fragment(depth + 1))}</{tag}>")
    return "".join(parts)


def _both(markup: str) -> tuple[str, str]:
    return (
        walk_text(lxml_html.document_fromstring(markup)),
        visible_text(lxml_html.document_fromstring(markup)),
    )


@settings(max_examples=200, deadline=None)
@given(_fragment(), _fragment())
def test_visible_text_equals_the_element_walk(head: str, body: str) -> None:
    reference, fast = _both(f"<html><head><title>t</title>{head}</head><body>{body}</body></html>")
    assert fast == reference


def test_visible_text_keeps_tails_of_skipped_elements_and_drops_their_text() -> None:
    markup = (
        "<html><body><p>a<script>s</script>b<!-- c -->d</p>"
        "<div>e<style>x</style></div>f</body></html>"
    )
    assert _both(markup) == ("abd\ne\nf", "abd\ne\nf")


def test_extract_reads_the_title_before_the_text_prunes_the_head() -> None:
    body = b"<html><head><title> T  t </title></head><body><p>x</p></body></html>"
    signals = html.extract(body, "https://e.org/", product_token="heedbot", ai_agents=())
    assert signals.title == "T t"
    assert signals.text == "x"


def test_empty_document_is_noted() -> None:
    signals = html.extract(b"<!-- -->", "https://e.org/", product_token="heedbot", ai_agents=())
    assert signals.text == ""
    assert any("ParserError" in note or "empty" in note for note in signals.diagnostics)


_URL_CHARS = st.sampled_from([*"aZ09-._~!$&'()*+,;=:@%/?#", "..", "/./", "//", " ", "\t", "é"])
_BASES = st.sampled_from(
    [
        "https://e.org/a/b.html",
        "http://E.org:8080/x/?q=1#f",
        "HTTPS://e.org",
        "https://u@e.org/",
        "ftp://e.org/",
        "https:///nohost",
        "",
    ]
)


@st.composite
def _href(draw: st.DrawFn) -> str:
    start = draw(st.sampled_from(["/", "//", "http://", "https://", "HTTP://", "", "?", "#", "."]))
    host = draw(st.sampled_from(["", "h.org", "H-1.org:80", "h.org:", "[::1]"]))
    rest = "".join(draw(st.lists(_URL_CHARS, max_size=12)))
    return start + (host if "//" in start else "") + rest


@settings(max_examples=200, deadline=None)
@given(_BASES, _href())
def test_fast_join_equals_urljoin(base: str, href: str) -> None:
    fast = _html_urls.fast_join(base, href)
    if fast is not None:
        assert fast == urljoin(base, href)
        assert _html_urls.defrag(fast) == urldefrag(fast)[0]


@settings(max_examples=200, deadline=None)
@given(_href())
def test_defrag_equals_urldefrag(url: str) -> None:
    try:
        expected = urldefrag(url)[0]
    except ValueError:
        return
    assert _html_urls.defrag(url) == expected


def test_fast_join_covers_the_common_shapes() -> None:
    base = "https://e.org/dir/page.html"
    assert _html_urls.fast_join(base, "/p/1?x=1#top") == "https://e.org/p/1?x=1#top"
    assert _html_urls.fast_join(base, "https://other.org/a.b/") == "https://other.org/a.b/"
    assert _html_urls.fast_join(base, "/a/../b") is None  # dot segments: left to urljoin
    assert _html_urls.fast_join(base, "rel.html") is None
    assert _html_urls.fast_join(base, "/a?") is None  # urljoin drops the empty query
