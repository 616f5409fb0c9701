"""Tests for filters/aitxt.py (SPEC.md §3.4)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from filters import aitxt
from filters.headers import Headers
from filters.model import DocState, FetchErrorKind, FetchOutcome, Signal, Verdict
from filters.reasons import ReasonCode

AITXT_URL = "https://example.com/ai.txt"


def fetch(
    status: int | None, body: bytes = b"", content_type: str | None = None, **kw: object
) -> aitxt.AitxtPolicy:
    headers = Headers({"Content-Type": content_type} if content_type else None)
    outcome = FetchOutcome(AITXT_URL, status=status, body=body, headers=headers, **kw)  # type: ignore[arg-type]
    return aitxt.policy_from_fetch(outcome)


def test_disallow_is_case_insensitive_both_ways() -> None:
    policy = fetch(200, b"User-Agent: *\nDisallow: /Images/\nDisallow: *.PNG\n", "text/plain")
    assert policy.state is DocState.OK
    for url in (
        "https://example.com/images/a.jpg",
        "https://example.com/IMAGES/a.jpg",
        "https://example.com/x/photo.png",
    ):
        result = aitxt.evaluate(policy, url, "heed")
        assert result.signal is Signal.AITXT
        assert result.verdict is Verdict.DENY
        assert result.reasons == (ReasonCode.AITXT_DISALLOW,)
        assert result.source == AITXT_URL
    assert (
        aitxt.evaluate(policy, "https://example.com/x/photo.png", "heed").raw == "Disallow: *.PNG"
    )
    assert aitxt.evaluate(policy, "https://example.com/text", "heed").verdict is Verdict.NONE


def test_agent_group_and_star() -> None:
    body = b"User-agent: *\nDisallow: /\n\nUser-agent: HEED\nDisallow: /private\n"
    policy = aitxt.parse(body)
    assert aitxt.evaluate(policy, "https://example.com/page", "heed").verdict is Verdict.NONE
    assert aitxt.evaluate(policy, "https://example.com/PRIVATE/1", "heed").verdict is Verdict.DENY
    assert aitxt.evaluate(policy, "https://example.com/page", "other").verdict is Verdict.DENY


def test_allow_line_reported() -> None:
    policy = aitxt.parse(b"User-agent: *\nDisallow: /\nAllow: /*.TXT\n")
    result = aitxt.evaluate(policy, "https://example.com/a/readme.txt", "heed")
    assert (result.verdict, result.reasons, result.raw) == (Verdict.NONE, (), "Allow: /*.TXT")


@pytest.mark.parametrize("content_type", ["text/html", "TEXT/HTML; charset=utf-8"])
def test_html_content_type_is_absent(content_type: str) -> None:
    policy = fetch(200, b"User-agent: *\nDisallow: /\n", content_type)
    assert policy.state is DocState.ABSENT
    result = aitxt.evaluate(policy, "https://example.com/page", "heed")
    assert (result.verdict, result.reasons) == (Verdict.NONE, ())


@pytest.mark.parametrize(
    "body", [b"<!doctype html><p>Not found", b"  \n\t<html>", b"\xef\xbb\xbf<h1>"]
)
def test_html_looking_body_is_absent(body: bytes) -> None:
    assert fetch(200, body, "text/plain").state is DocState.ABSENT
    assert fetch(200, body).state is DocState.ABSENT


@pytest.mark.parametrize("status", [400, 403, 404, 410])
def test_4xx_is_absent(status: int) -> None:
    policy = fetch(status, b"User-agent: *\nDisallow: /\n")
    assert policy.state is DocState.ABSENT
    assert aitxt.evaluate(policy, "https://example.com/", "heed").verdict is Verdict.NONE


@pytest.mark.parametrize("status", [429, 500, 503, 301, None])
def test_unreachable_statuses_are_errors(status: int | None) -> None:
    policy = fetch(status)
    assert policy.state is DocState.UNREACHABLE
    result = aitxt.evaluate(policy, "https://example.com/", "heed")
    assert result.verdict is Verdict.ERROR
    assert result.reasons == (ReasonCode.AITXT_UNREACHABLE,)
    assert result.raw == (str(status) if status is not None else "no response")


@pytest.mark.parametrize("kind", [FetchErrorKind.TIMEOUT, FetchErrorKind.CONNECTION])
def test_fetch_errors_are_errors(kind: FetchErrorKind) -> None:
    result = aitxt.evaluate(fetch(None, error=kind), "https://example.com/", "heed")
    assert (result.verdict, result.reasons, result.raw) == (
        Verdict.ERROR,
        (ReasonCode.AITXT_UNREACHABLE,),
        kind.value,
    )


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_parse_never_raises(body: bytes) -> None:
    policy = aitxt.parse(body)
    result = aitxt.evaluate(policy, "https://example.com/a/B?c=d", "heed")
    assert result.verdict in (Verdict.NONE, Verdict.DENY)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=500), st.sampled_from([200, 404, 503]))
def test_policy_from_fetch_never_raises(body: bytes, status: int) -> None:
    policy = fetch(status, body)
    assert aitxt.evaluate(policy, "https://example.com/", "heed").signal is Signal.AITXT
