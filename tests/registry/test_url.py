"""filters.registry._url: the regex fast path agrees with the full ``urlsplit`` normaliser."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from filters.errors import RegistryValidationError
from filters.registry import lookup_keys, normalize_url
from filters.registry._url import _HOST, _is_plain_name, _split_fast, _split_full, split_url

_PIECES = "aZ09-._~!$&'()*+,;=:@%/?#é [] \t\\\"<>"
_SCHEMES = st.sampled_from(["http", "https", "HTTP", "HtTpS", "ftp", "http:", "", "https:/"])
_HOSTS = st.one_of(
    st.from_regex(r"[A-Za-z0-9_-]{1,8}(\.[A-Za-z0-9_-]{1,8}){0,3}\.?", fullmatch=True),
    st.sampled_from(
        ["127.0.0.1", "1.2.3.4.5", "[::1]", "u:p@example.com", "bücher.example", "", ".", "-a.b"]
    ),
)
_PORTS = st.one_of(st.just(""), st.from_regex(r":[0-9]{0,6}", fullmatch=True), st.just(":x"))
_TAILS = st.lists(
    st.sampled_from(
        [*_PIECES, "/", "?", "%7e", "%41", "%2F", "%c3%a9", "%zz", "x=1&y=2", "/..", "/.", "%2e"]
    ),
    max_size=12,
).map("".join)


def _outcome(split: object, url: str) -> tuple[str, str] | str:
    try:
        return split(url)  # type: ignore[operator, no-any-return]
    except RegistryValidationError as e:
        return f"error: {e}"


@settings(max_examples=200, deadline=None)
@given(_SCHEMES, _HOSTS, _PORTS, _TAILS)
def test_fast_path_equals_full_normaliser(scheme, host, port, tail):
    url = f"{scheme}://{host}{port}{tail}"
    assert _outcome(split_url, url) == _outcome(_split_full, url)
    fast = _split_fast(url)
    assert fast is None or fast == _split_full(url)


_ORDINARY_PATHS = st.lists(
    st.sampled_from(
        ["a", "Z", "0", "-", "~", "(", ";", "=", ":", "@", "%7e", "%41", "%2f", "%C3%A9"]
    ),
    max_size=6,
).map("".join)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["http", "https", "HTTPS"]),
    st.from_regex(r"[a-z][a-z0-9-]{0,6}[a-z](\.[A-Za-z][A-Za-z0-9]{0,5}){1,3}", fullmatch=True),
    st.sampled_from(["", ":80", ":443", ":8080", ":0"]),
    st.lists(_ORDINARY_PATHS, max_size=4).map(lambda parts: "".join("/" + p for p in parts)),
    st.one_of(st.just(""), _ORDINARY_PATHS.map(lambda q: "?" + q)),
    st.one_of(st.just(""), _ORDINARY_PATHS.map(lambda f: "#" + f)),
)
def test_ordinary_urls_take_the_fast_path_and_agree(scheme, host, port, path, query, fragment):
    url = f"{scheme}://{host}{port}{path}{query}{fragment}"
    fast = _split_fast(url)
    assert fast is not None
    assert fast == _split_full(url)


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        st.from_regex(r"[a-z0-9._-]{1,12}", fullmatch=True),
        st.from_regex(r"[a-z0-9_-]{1,70}(\.[a-z0-9_-]{0,70}){0,4}", fullmatch=True),
    )
)
def test_plain_name_checks_as_the_host_pattern(host):
    if not host.endswith("."):
        assert _is_plain_name(host) == bool(len(host) <= 253 and _HOST.fullmatch(host))


@pytest.mark.parametrize("length", [252, 253, 254, 255])
def test_plain_name_length_bound(length):
    host = ".".join(["a" * 62] * 5)[: length - 1] + "b"  # labels of 62 or fewer
    assert _HOST.fullmatch(host)  # labels fine: only the length decides
    assert _is_plain_name(host) == (length <= 253)
    url = f"https://{host}/"
    assert _outcome(split_url, url) == _outcome(_split_full, url)


@settings(max_examples=200, deadline=None)
@given(
    st.from_regex(r"[A-Za-z0-9_-]{58,66}(\.[A-Za-z0-9_-]{1,3}){0,2}\.{0,2}", fullmatch=True),
    st.integers(1, 5),
)
def test_long_labels_and_names_agree(label, repeat):
    url = "http://" + ".".join([label.rstrip(".")] * (repeat - 1) + [label]) + "/p"
    assert _outcome(split_url, url) == _outcome(_split_full, url)
    fast = _split_fast(url)
    assert fast is None or fast == _split_full(url)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_fast_path_equals_full_normaliser_on_any_text(url):
    assert _outcome(split_url, url) == _outcome(_split_full, url)


@pytest.mark.parametrize(
    ("url", "host", "norm"),
    [
        ("https://Example.COM/a/b?x=1#frag", "example.com", "https://example.com/a/b?x=1"),
        ("HTTP://example.com:80", "example.com", "http://example.com/"),
        ("https://example.com:8443?q", "example.com", "https://example.com:8443/?q"),
        ("https://example.com/%7e%41%2f", "example.com", "https://example.com/~A%2F"),
        ("http://127.0.0.1:0080/", "127.0.0.1", "http://127.0.0.1/"),
        ("https://example.com./x", "example.com", "https://example.com/x"),
        ("https://A1.b2:8080/x", "a1.b2", "https://a1.b2:8080/x"),  # ends in a digit, a name
        ("https://1.2.3.4.5/", "1.2.3.4.5", "https://1.2.3.4.5/"),
        ("https://example.com../", "example.com", None),  # the host normaliser strips dots
        ("https://_a.Example/?", "_a.example", "https://_a.example/"),
        ("https://" + "a" * 63 + ".example/", "a" * 63 + ".example", None),
    ],
)
def test_fast_path_takes_ordinary_urls(url, host, norm):
    norm = norm or f"https://{host}/"
    assert _split_fast(url) == (host, norm)
    assert split_url(url) == (host, norm) == _split_full(url)


@pytest.mark.parametrize(
    "url",
    [
        " https://example.com/",
        "https://u:p@example.com/",
        "https://[::1]/",
        "https://bücher.example/",
        "https://example.com:99999/",
        "https://exa mple.com/",
        "https://example.com/a b",
        "https://-bad-.example/",
        "https://bad-.example/",
        "https://a..example/",
        "https://\u212aey.example/",  # KELVIN SIGN: case-folds to "k", yet is not ASCII
        "https://" + "a" * 64 + ".example/",
        "https://" + ".".join(["a" * 60] * 5) + "/",  # labels fine, name longer than 253
    ],
)
def test_unusual_urls_take_the_full_path(url):
    assert _split_fast(url) is None
    assert _outcome(split_url, url) == _outcome(_split_full, url)


def test_errors_keep_their_messages():
    with pytest.raises(RegistryValidationError, match="credentials"):
        normalize_url("https://u:p@example.com/")
    with pytest.raises(RegistryValidationError, match="Port out of range"):
        normalize_url("https://example.com:99999/")
    with pytest.raises(RegistryValidationError, match="bad host"):
        normalize_url("https://-bad-.example/")
    assert lookup_keys("https://[::1]:8080/x") == ("::1",)
