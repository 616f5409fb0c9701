"""The recheck's per-authority URL cache answers exactly what check_url and origin_of answer."""

from __future__ import annotations

from urllib.parse import urlsplit

from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.recheck._urls import UrlParts as _UrlParts
from filters.urls import check_url, origin_of

HOSTILE = [
    "http://a.example/x",
    "https://A.Example:443/x?y#z",
    "http://a.example:99999/x",
    "http://a.example:0/",
    "http://user:pw@a.example/x",
    "http://[::1]:8080/x",
    "http://[::1/x",
    "http://a.example\\evil/x",
    "http://a..example/",
    "http://-a.example/",
    "http://a.example/\x00",
    "http://a.example/" + "x" * 2100,
    "ftp://a.example/",
    "//a.example/x",
    "a.example/x",
    "http://",
    "http:///x",
    "http://é.example/x",
    "http://xn--nxasmq6b.example/",
    "http://a.example?x",
    "http://a.example#x",
    "http://a.example",
    "https://127.0.0.1:8443/p",
    "http://a.example:/x",
    "http://a.example:80:80/x",
    " http://a.example/",
]


def _reference(url: str) -> tuple[bool, str, str]:
    problem = check_url(url)
    if problem is not None:
        return False, "", ""
    return True, origin_of(url), urlsplit(url).hostname or ""


def _cached(parts: _UrlParts, url: str) -> tuple[bool, str, str]:
    problem, origin, host = parts.parse(url)
    return problem is None, origin, host


def test_hostile_urls_are_judged_as_check_url_judges_them() -> None:
    parts = _UrlParts()
    for _ in range(2):  # the second round answers from the cache
        for url in HOSTILE:
            assert _cached(parts, url) == _reference(url), url


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.builds(
            lambda scheme, host, port, path: f"{scheme}://{host}{port}{path}",
            st.sampled_from(["http", "https", "HTTP", "ftp"]),
            st.sampled_from(["a.example", "B.example", "a..b", "[::1]", "é.fr", "x_y.example", ""]),
            st.sampled_from(["", ":80", ":8080", ":0", ":99999", ":", ":x"]),
            st.text(alphabet="/?#%\\ab\x00\x7f é", max_size=12),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_generated_urls_agree_with_the_reference(urls: list[str]) -> None:
    parts = _UrlParts(max_entries=4)  # small: the cache is cleared along the way too
    for url in urls + urls:
        assert _cached(parts, url) == _reference(url), url
