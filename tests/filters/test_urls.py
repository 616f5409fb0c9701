"""``filters.urls.check_url``: the one rule for whether a URL can be requested."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scrapy.http import Request

from filters.urls import MAX_URL_LENGTH, check_host, check_url

BAD = {
    "http://a.example:99999/x": "port",
    "http://a.example:0/": "port",
    "http://a.example:8o/": "port",
    "http://h.example:1:2/": "port",
    "http://a.example/" + "a" * 3000: "characters",
    "http://[::1/": "unparsable",
    "http://[::g]/": "unparsable",
    "http://[fe80::1%25eth0]/": "zone id",
    "http://a.example/pa\x01ge": "control character",
    "http://a.example/pa\x7fge": "control character",
    "http://a.example/\x85": "control character",
    "http://exa mple.com/": "invalid label",
    "http://%41.example/": "invalid label",
    "http://a..b/": "invalid label",
    "http://-a.example/": "invalid label",
    "http://999.1.1.1/": "IPv4",
    "http:///nohost": "no host",
    "http://:8080/x": "no host",
    "https://" + "a" * 64 + ".example/": "invalid label",
    "ftp://a.example/": "scheme",
    "mailto:someone@example.org": "scheme",
    "/relative/path": "not absolute",
    "": "empty",
}

GOOD = [
    "http://a.example/",
    "https://a.example:8443/p?q=1#f",
    "http://[::1]:8080/x",
    "http://127.0.0.1/",
    "https://bücher.example/straße",
    "http://a_b.example/",
    "http://example.com./",
    "http://user:pass@a.example/",
    "http://a.example/with space/and%20escapes",
    "http://a.example/" + "a" * (MAX_URL_LENGTH - len("http://a.example/")),
]


@pytest.mark.parametrize(("url", "words"), BAD.items(), ids=lambda v: repr(v)[:30])
def test_unrequestable_urls_are_named_with_what_is_wrong(url: str, words: str) -> None:
    problem = check_url(url)
    assert problem is not None and words in problem


@pytest.mark.parametrize("url", GOOD, ids=lambda v: repr(v)[:30])
def test_requestable_urls_pass(url: str) -> None:
    assert check_url(url) is None


def test_hosts() -> None:
    assert check_host("cdn.example.org") is None
    assert check_host("exa mple.com") and check_host("") and check_host("a" * 300)


@settings(max_examples=400, deadline=None)
@given(
    st.text(
        st.characters(codec="utf-8", exclude_categories=("Cs",)),
        max_size=40,
    ),
    st.sampled_from(["http://", "https://"]),
)
def test_what_check_url_accepts_the_http_clients_accept(tail: str, scheme: str) -> None:
    url = scheme + tail
    if check_url(url) is None:
        Request(url)  # Scrapy's own URL parsing must not raise
        httpx.URL(url)
