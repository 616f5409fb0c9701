"""``registry.parse_simple_for_match`` (used by the engine for simple URLs) must give exactly
what ``parse_for_match`` gives for the whole URL."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from filters import Purpose
from filters.registry import evaluate, evaluate_parsed, make_entry, parse_simple_for_match
from filters.registry._url import parse_for_match

hosts = st.sampled_from(
    ["example.org", "Example.ORG", "www.example.org", "127.0.0.1", "a-b.c_d.net", "example.org.",
     "xn--bcher-kva.example", "EXAMPLE.org", "-bad.example", "a..b"]
)  # fmt: skip
ports = st.sampled_from(["", ":80", ":443", ":8080", ":99999", ":0"])
schemes = st.sampled_from(["http", "https", "HTTPS", "Http"])
paths = st.text(alphabet="abcXYZ019_.~/=-", max_size=20).map(lambda p: "/" + p)


@settings(max_examples=500, deadline=None)
@given(schemes, hosts, ports, paths)
def test_simple_split_equals_the_full_parse(scheme, host, port, path) -> None:  # type: ignore[no-untyped-def]
    origin = f"{scheme}://{host}{port}"
    assert parse_simple_for_match(origin, path) == parse_for_match(origin + path)


def test_evaluate_parsed_equals_evaluate() -> None:
    now = datetime(2026, 11, 22, tzinfo=UTC)
    entries = (
        make_entry("domain", "example.org", "opt-in", ["train-ai"], registered_by="t"),
        make_entry("prefix", "https://example.org/a/", "opt-out", ["train-ai"], registered_by="t"),
        make_entry("url", "http://example.org/b", "opt-out", ["train-ai"], registered_by="t"),
    )
    for path in ("/a/x", "/b", "/bc", "/", "/a"):
        for origin in ("https://example.org", "http://EXAMPLE.org:80", "https://www.example.org"):
            parsed = parse_simple_for_match(origin, path)
            got = evaluate_parsed(entries, origin + path, parsed, Purpose.TRAIN_AI, now)
            assert got == evaluate(entries, origin + path, Purpose.TRAIN_AI, now)
    denied = evaluate(entries, "https://example.org/a/x", Purpose.TRAIN_AI, now)[0]
    assert denied.reasons and denied.detail == entries[1].id


urlish = st.builds(
    lambda scheme, host, port, rest: f"{scheme}://{host}{port}{rest}",
    schemes,
    hosts,
    ports,
    st.text(alphabet="/?#a=%20@:é \t[]", max_size=12),
)


@settings(max_examples=500, deadline=None)
@given(st.one_of(urlish, st.text(max_size=30)))
def test_the_host_fast_path_agrees_with_the_full_parse(url) -> None:  # type: ignore[no-untyped-def]
    from filters.registry._url import _fast_host

    host = _fast_host(url)
    if host is not None:
        parsed = parse_for_match(url)
        assert parsed is not None and parsed[0] == host and not parsed[2]
