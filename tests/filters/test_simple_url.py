"""filters/_simple_url.py: the one definition of a simple URL, and what it promises.

A simple URL's path is the same string for every matcher: RFC 9309 normalisation, protego's
input conversion, and every path extractor leave it as it is. The path classes and the
registry's ``parse_simple_for_match`` rely on that.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from filters import tdmrep
from filters._simple_url import PATH_CHAR_SET, is_verbatim, split_simple
from filters.patterns import normalize_path, url_path
from filters.registry._url import parse_for_match, parse_simple_for_match
from filters.robots._match import match_path
from filters.robots._protego import _protego_target

FAST = settings(max_examples=300, deadline=None)

SIMPLE_CHARS = "ABCXYZabcxyz0189_.~/=-"
OTHER_CHARS = "?#%&+:;@! é*$[]'\"\\"
origins = st.sampled_from(
    ["https://example.org", "http://a.b:8080", "HTTPS://Example.ORG", "http://x-y.z:1"]
)
simple_paths = st.builds(lambda body: "/" + body, st.text(SIMPLE_CHARS, max_size=12)).filter(
    lambda p: not p.startswith("//") and not p.lower().startswith("/robots.txt")
)


def test_the_path_characters_are_the_documented_set() -> None:
    expected = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.~/=-")
    assert {chr(c) for c in range(0x110) if is_verbatim(chr(c))} == expected
    assert set(SIMPLE_CHARS) <= expected
    assert PATH_CHAR_SET.endswith("-")  # a class body: "-" last, so callers may prepend


def test_split_simple_gives_origin_and_path() -> None:
    assert split_simple("https://example.org/a/b") == ("https://example.org", "/a/b")
    assert split_simple("HTTP://Example.org:8080/") == ("HTTP://Example.org:8080", "/")
    assert split_simple("https://a.b/robots.txt.bak/x") is None  # any path under /robots.txt


def test_what_is_not_simple() -> None:
    for url in (
        "https://example.org",  # no path
        "https://example.org//a",  # protego would read an authority
        "https://example.org/robots.txt",
        "https://example.org/ROBOTS.TXT",
        "https://example.org/a?b",
        "https://example.org/a#f",
        "https://example.org/a%2Fb",
        "https://example.org/é",
        "https://user@example.org/a",
        "https://ex_ample.org/a",  # "_" in a host: a fast path of the registry, not here
        "https://[::1]/a",
        "https://example.org:123456/a",
        "ftp://example.org/a",
        "https://example.org/a b",
    ):
        assert split_simple(url) is None, url


@FAST
@given(origins, simple_paths)
def test_every_matcher_reads_a_simple_path_as_written(origin: str, path: str) -> None:
    url = origin + path
    assert split_simple(url) == (origin, path)
    assert normalize_path(path) == path
    assert _protego_target(path) == path
    assert url_path(url) == path
    assert match_path(url) == path
    assert match_path(url, True) == path.lower()
    assert tdmrep._path_of(url) == path
    assert parse_simple_for_match(origin, path) == parse_for_match(url)


@FAST
@given(origins, simple_paths, st.text(OTHER_CHARS, min_size=1, max_size=3), st.data())
def test_any_other_character_makes_a_url_not_simple(
    origin: str, path: str, other: str, data: st.DataObject
) -> None:
    at = data.draw(st.integers(1, len(path)))
    assert split_simple(origin + path[:at] + other + path[at:]) is None
    assert not is_verbatim(path[:at] + other + path[at:])
