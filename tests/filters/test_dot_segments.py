"""``filters.urls.resolve_dot_segments`` and ``redirect_target``: the form heed decides and
requests (RFC 3986 §5.2.4), so ``/x/../private/`` cannot slip past ``Disallow: /private/``."""

from __future__ import annotations

from urllib.parse import urljoin

import pytest
from hypothesis import given
from hypothesis import strategies as st

from filters.urls import redirect_target, resolve_dot_segments


@pytest.mark.parametrize(
    ("url", "resolved"),
    [
        ("http://a.example/x/../private/p", "http://a.example/private/p"),
        ("http://a.example/x/%2E%2e/private/", "http://a.example/private/"),
        ("http://a.example/x/%2e/private/", "http://a.example/x/private/"),
        ("http://a.example/./a/b/../c", "http://a.example/a/c"),
        ("http://a.example/../../x", "http://a.example/x"),
        ("http://a.example/a/..", "http://a.example/"),
        ("http://a.example/a/.", "http://a.example/a/"),
        ("http://a.example/a/../b?q=../x#f", "http://a.example/b?q=../x#f"),
    ],
)
def test_dot_segments_are_resolved(url: str, resolved: str) -> None:
    assert resolve_dot_segments(url) == resolved


@pytest.mark.parametrize(
    "url",
    [
        "http://a.example",
        "http://a.example/",
        "http://a.example/a..b/.c/..d",
        "http://a.example/normal/path?q=../x",
        "https://a.example:8443/%2e%2ex/",
    ],
)
def test_urls_without_dot_segments_are_unchanged(url: str) -> None:
    assert resolve_dot_segments(url) is url


# No empty segments: Python's urljoin drops them (RFC 3986 keeps them, and so does heed).
_SEGMENT = st.sampled_from([".", "..", "a", "bc", "%2e", "%2E%2e", "x.y", "..z"])


@given(st.lists(_SEGMENT, min_size=1, max_size=8))
def test_agrees_with_urljoin_on_plain_dots(segments: list[str]) -> None:
    # urljoin implements RFC 3986 remove_dot_segments for relative references; heed also
    # reads %2e as a dot inside a dot segment, so compare on the decoded form.
    path = "/" + "/".join(segments)
    decoded = "/".join(
        s.lower().replace("%2e", ".") if s.lower().replace("%2e", ".") in (".", "..") else s
        for s in path.split("/")
    )
    expected = urljoin("http://a.example/", decoded)
    assert resolve_dot_segments("http://a.example" + path) == expected


def test_redirect_targets_are_resolved_and_checked() -> None:
    current = "http://a.example/start"
    assert redirect_target(current, "http://a.example/x/../private/") == (
        "http://a.example/private/",
        None,
    )
    assert redirect_target(current, "/y/%2e%2e/private/") == ("http://a.example/private/", None)
    _, problem = redirect_target(current, "http://a.example:99999/")
    assert problem is not None and "99999" in problem
    _, problem = redirect_target(current, "http://[::1/")
    assert problem is not None


def test_redirect_refusal_is_one_rule_for_crawl_and_check() -> None:
    from filters import ReasonCode
    from filters.urls import redirect_refusal

    here = "http://a.example/start"
    ok = redirect_target(here, "/next")
    assert redirect_refusal(*ok, "/next", 5) is None
    assert redirect_refusal(*ok, "/next", 6) == (ReasonCode.FETCH_REDIRECT_LIMIT, "/next")
    ftp = redirect_target(here, "ftp://a.example/f")
    assert redirect_refusal(*ftp, "ftp://a.example/f", 1) == (
        ReasonCode.FETCH_ERROR,
        "ftp://a.example/f",
    )
    bad = redirect_target(here, "http://a.example:99999/")
    reason, raw = redirect_refusal(*bad, "http://a.example:99999/", 1) or (None, "")
    assert reason is ReasonCode.FETCH_INVALID_URL and raw.endswith("http://a.example:99999/")
