"""RSL 1.0 (SPEC.md §3.9): fetch mapping, content matching, usage/payment/server verdicts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from filters import rsl
from filters.headers import Headers
from filters.model import DocState, FetchErrorKind, FetchOutcome, Purpose, Signal, Verdict
from filters.reasons import ReasonCode

VECTORS = Path(__file__).parent.parent / "vectors" / "rsl_examples.json"
DOC = "https://example.com/license.xml"
NS = 'xmlns="https://rslstandard.org/rsl"'


def fetched(body: str | bytes, status: int = 200, ctype: str | None = "application/rsl+xml"):
    raw = body.encode() if isinstance(body, str) else body
    headers = Headers({"Content-Type": ctype}) if ctype else Headers()
    return rsl.policy_from_fetch(FetchOutcome(url=DOC, status=status, headers=headers, body=raw))


def doc(*contents: str) -> rsl.RslPolicy:
    return fetched(f"<rsl {NS}>{''.join(contents)}</rsl>")


def content(url: str, license_xml: str, server: str | None = None) -> str:
    attr = f' server="{server}"' if server else ""
    return f'<content url="{url}"{attr}><license>{license_xml}</license></content>'


def verdict(policy: rsl.RslPolicy, url: str, purpose: Purpose) -> tuple[Verdict, tuple[str, ...]]:
    result = rsl.evaluate(policy, url, purpose)
    assert result.signal is Signal.RSL
    return result.verdict, tuple(r.value for r in result.reasons)


@pytest.mark.parametrize("case", json.loads(VECTORS.read_text()), ids=lambda c: c["name"])
def test_spec_examples(case: dict[str, Any]) -> None:
    policy = fetched(case["xml"])
    assert policy.state is DocState.OK
    for purpose, (expected, code) in case["expect"].items():
        got = verdict(policy, case["url"], Purpose(purpose))
        assert got == (Verdict(expected), (code,) if code else ()), purpose


@pytest.mark.parametrize(
    ("status", "error", "verdict_", "reasons"),
    [
        (404, None, Verdict.NONE, ()),
        (401, None, Verdict.NONE, ()),
        (429, None, Verdict.ERROR, (ReasonCode.RSL_UNREACHABLE,)),
        (500, None, Verdict.ERROR, (ReasonCode.RSL_UNREACHABLE,)),
        (None, FetchErrorKind.CONNECTION, Verdict.ERROR, (ReasonCode.RSL_UNREACHABLE,)),
        (None, FetchErrorKind.REDIRECT_LIMIT, Verdict.ERROR, (ReasonCode.RSL_UNREACHABLE,)),
    ],
)
def test_fetch_mapping(status, error, verdict_, reasons) -> None:
    policy = rsl.policy_from_fetch(FetchOutcome(url=DOC, status=status, error=error))
    result = rsl.evaluate(policy, "https://example.com/a", Purpose.TRAIN_AI)
    assert (result.verdict, result.reasons) == (verdict_, reasons)
    assert result.source == DOC


@pytest.mark.parametrize(
    ("body", "ctype", "state"),
    [
        ("<!DOCTYPE html><html><body>404</body></html>", "application/xml", DocState.ABSENT),
        (f"<rsl {NS}></rsl>", "text/html", DocState.ABSENT),
        ("<rsl><content url='/'>", "application/xml", DocState.INVALID),
        ("not xml at all", "text/plain", DocState.INVALID),
        ("", "application/xml", DocState.INVALID),
        ("<licence><content url='/'/></licence>", "application/xml", DocState.INVALID),
        (f"  <?xml version='1.0'?><rsl {NS}/>", None, DocState.OK),
    ],
)
def test_body_states(body: str, ctype: str | None, state: DocState) -> None:
    policy = fetched(body, ctype=ctype)
    assert policy.state is state
    result = rsl.evaluate(policy, "https://example.com/", Purpose.TRAIN_AI)
    if state is DocState.INVALID:
        assert (result.verdict, result.reasons) == (Verdict.ERROR, (ReasonCode.RSL_INVALID,))
    else:
        assert (result.verdict, result.reasons) == (Verdict.NONE, ())


def test_entities_are_not_expanded_and_nothing_is_fetched() -> None:
    xxe = (
        '<?xml version="1.0"?><!DOCTYPE rsl [<!ENTITY x SYSTEM "file:///etc/hostname">'
        '<!ENTITY t "ai-train">]><rsl><content url="/"><license>'
        '<prohibits type="usage">&x;&t;</prohibits></license></content></rsl>'
    )
    policy = fetched(xxe)
    assert policy.state is DocState.OK
    # The entity that would have said "ai-train" is left unexpanded: no prohibition is read.
    tokens = policy.contents[0].licenses[0].prohibits[0].tokens
    assert "ai-train" not in tokens
    assert not any("localhost" in t or len(t) > 10 for t in tokens)
    assert verdict(policy, "https://e.com/", Purpose.TRAIN_AI) == (Verdict.NONE, ())


def test_longest_content_match_wins() -> None:
    policy = doc(
        content("/", '<prohibits type="usage">ai-train</prohibits>'),
        content("/open/", '<permits type="usage">ai-train</permits><payment type="free"/>'),
    )
    assert verdict(policy, "https://example.com/open/a", Purpose.TRAIN_AI) == (Verdict.GRANT, ())
    assert verdict(policy, "https://example.com/closed", Purpose.TRAIN_AI) == (
        Verdict.DENY,
        ("rsl.prohibited",),
    )


def test_equal_length_matches_most_restrictive_wins() -> None:
    policy = doc(
        content("/a/", '<permits type="usage">all</permits>'),
        content("/a/", '<prohibits type="usage">ai-train</prohibits>'),
    )
    assert verdict(policy, "https://e.com/a/x", Purpose.TRAIN_AI)[0] is Verdict.DENY


def test_absolute_content_url_only_on_same_origin() -> None:
    policy = doc(content("https://example.com/blog/", '<prohibits type="usage">all</prohibits>'))
    assert verdict(policy, "https://example.com/blog/1", Purpose.SEARCH)[0] is Verdict.DENY
    assert verdict(policy, "https://other.org/blog/1", Purpose.SEARCH)[0] is Verdict.NONE
    assert verdict(policy, "http://example.com/blog/1", Purpose.SEARCH)[0] is Verdict.NONE
    assert verdict(policy, "https://example.com:443/blog/1", Purpose.SEARCH)[0] is Verdict.DENY


def test_wildcards_and_end_anchor() -> None:
    policy = doc(content("/*.pdf$", '<prohibits type="usage">ai-all</prohibits>'))
    assert verdict(policy, "https://e.com/docs/a.pdf", Purpose.AI_INPUT)[0] is Verdict.DENY
    assert verdict(policy, "https://e.com/docs/a.pdf?x", Purpose.AI_INPUT)[0] is Verdict.NONE


@pytest.mark.parametrize(
    ("tokens", "purpose", "denied"),
    [
        ("ai-train", Purpose.TRAIN_AI, True),
        ("train-ai", Purpose.TRAIN_AI, True),
        ("ai-all", Purpose.TRAIN_AI, True),
        ("all", Purpose.SEARCH, True),
        ("ai-all", Purpose.SEARCH, False),
        ("ai-input", Purpose.AI_INPUT, True),
        ("ai-use", Purpose.AI_INPUT, True),
        ("ai-index", Purpose.AI_INPUT, True),
        ("ai-index", Purpose.TRAIN_AI, False),
        ("search", Purpose.TRAIN_AI, False),
        ("search, ai-train", Purpose.TRAIN_AI, True),
        ("SEARCH,AI-TRAIN", Purpose.TRAIN_AI, True),
    ],
)
def test_prohibition_coverage(tokens: str, purpose: Purpose, denied: bool) -> None:
    policy = doc(content("/", f'<prohibits type="usage">{tokens}</prohibits>'))
    result = rsl.evaluate(policy, "https://e.com/", purpose)
    if denied:
        assert result.reasons == (ReasonCode.RSL_PROHIBITED,)
        assert result.detail is not None and result.detail in tokens.lower().replace(
            "train-ai", "ai-train"
        ).replace("ai-use", "ai-input")
    else:
        assert (result.verdict, result.reasons) == (Verdict.NONE, ())


def test_permits_not_covering_purpose_is_prohibited() -> None:
    policy = doc(content("/", '<permits type="usage">search ai-index</permits>'))
    result = rsl.evaluate(policy, "https://e.com/", Purpose.AI_INPUT)
    assert (result.verdict, result.reasons, result.detail) == (
        Verdict.DENY,
        (ReasonCode.RSL_PROHIBITED,),
        "ai-input",
    )


def test_prohibition_beats_server_and_payment() -> None:
    policy = doc(
        content(
            "/",
            '<prohibits type="usage">ai-train</prohibits>'
            '<payment type="purchase"><amount currency="USD">5</amount></payment>',
            server="https://ls.example",
        )
    )
    assert verdict(policy, "https://e.com/", Purpose.TRAIN_AI) == (
        Verdict.DENY,
        ("rsl.prohibited",),
    )


def test_server_requires_licence_even_when_free() -> None:
    policy = doc(
        content(
            "/",
            '<permits type="usage">all</permits><payment type="free"/>',
            server="https://ls.example",
        )
    )
    result = rsl.evaluate(policy, "https://e.com/", Purpose.SEARCH)
    assert (result.verdict, result.reasons, result.detail) == (
        Verdict.DENY,
        (ReasonCode.RSL_LICENSE_REQUIRED,),
        "https://ls.example",
    )


@pytest.mark.parametrize(
    ("payment", "expected"),
    [
        ('<payment type="free"/>', (Verdict.GRANT, ())),
        ("", (Verdict.GRANT, ())),
        ("<payment/>", (Verdict.GRANT, ())),
        ('<payment type="free"><amount currency="USD">0</amount></payment>', (Verdict.GRANT, ())),
        (
            '<payment type="free"><amount currency="USD">1</amount></payment>',
            (Verdict.DENY, ("rsl.license-required",)),
        ),
        (
            '<payment type="crawl"><amount currency="USD">0.01</amount></payment>',
            (Verdict.DENY, ("rsl.license-required",)),
        ),
        ('<payment type="attribution"/>', (Verdict.DENY, ("rsl.license-required",))),
        (
            "<payment><standard>https://e.com/rates</standard></payment>",
            (Verdict.DENY, ("rsl.license-required",)),
        ),
    ],
)
def test_payment(payment: str, expected: tuple[Verdict, tuple[str, ...]]) -> None:
    policy = doc(content("/", f'<permits type="usage">ai-train</permits>{payment}'))
    assert verdict(policy, "https://e.com/", Purpose.TRAIN_AI) == expected


def test_user_or_geo_limits_block_a_grant_but_do_not_deny() -> None:
    policy = doc(
        content(
            "/",
            '<permits type="usage">ai-train</permits><permits type="user">non-commercial</permits>',
        )
    )
    assert verdict(policy, "https://e.com/", Purpose.TRAIN_AI) == (Verdict.NONE, ())


def test_no_usage_terms_is_no_statement() -> None:
    policy = doc(content("/", '<payment type="free"/>'))
    assert verdict(policy, "https://e.com/", Purpose.TRAIN_AI) == (Verdict.NONE, ())


def test_several_licences_most_restrictive_wins() -> None:
    policy = doc(
        '<content url="/"><license><permits type="usage">ai-train</permits></license>'
        '<license><payment type="purchase"><amount currency="EUR">9</amount></payment>'
        "</license></content>"
    )
    assert verdict(policy, "https://e.com/", Purpose.TRAIN_AI) == (
        Verdict.DENY,
        ("rsl.license-required",),
    )


def test_content_without_url_is_skipped_and_noted() -> None:
    policy = doc("<content><license><prohibits type='usage'>all</prohibits></license></content>")
    assert policy.state is DocState.OK and policy.contents == ()
    assert policy.diagnostics


def test_no_namespace_and_prefixed_namespace_are_read() -> None:
    plain = fetched(
        "<rsl><content url='/'><license><prohibits type='usage'>all</prohibits>"
        "</license></content></rsl>"
    )
    prefixed = fetched(
        "<r:rsl xmlns:r='https://rslstandard.org/rsl'><r:content url='/'>"
        "<r:license><r:prohibits type='usage'>all</r:prohibits></r:license>"
        "</r:content></r:rsl>"
    )
    for policy in (plain, prefixed):
        assert verdict(policy, "https://e.com/", Purpose.SEARCH) == (
            Verdict.DENY,
            ("rsl.prohibited",),
        )
