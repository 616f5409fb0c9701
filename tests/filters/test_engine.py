"""The engine's fold (SPEC.md §1, §2): most restrictive wins, errors, purposes and modes."""

from __future__ import annotations

from filters import FetchOutcome, Headers, Mode, Purpose, ReasonCode, Stage, aitxt, robots, tdmrep
from filters.engine import (
    EngineConfig,
    SiteSignals,
    decide_post_fetch,
    decide_pre_fetch,
    evaluate_headers,
    inspect_response,
)

URL = "https://example.org/page"


def _site(robots_body: bytes = b"", ai_status: int = 404, tdm_status: int = 404) -> SiteSignals:
    def out(path: str, status: int, body: bytes = b"") -> FetchOutcome:
        return FetchOutcome(
            url=f"https://example.org{path}",
            status=status,
            body=body,
            headers=Headers({"content-type": "text/plain"}),
        )

    return SiteSignals(
        robots=robots.policy_from_fetch(out("/robots.txt", 200, robots_body)),
        aitxt=aitxt.policy_from_fetch(out("/ai.txt", ai_status)),
        tdmrep=tdmrep.policy_from_fetch(out("/.well-known/tdmrep.json", tdm_status)),
    )


def _page(headers: dict[str, str], body: bytes = b"<p>hi</p>") -> FetchOutcome:
    return FetchOutcome(
        url=URL, status=200, headers=Headers({"content-type": "text/html", **headers}), body=body
    )


def test_every_denying_signal_is_listed_in_evidence_order() -> None:
    site = _site(b"User-agent: *\nDisallow: /page\n")
    decision = decide_pre_fetch(site, URL, EngineConfig())
    assert not decision.allowed and decision.stage is Stage.PRE_FETCH
    assert decision.reasons == (ReasonCode.ROBOTS_DISALLOW, ReasonCode.ROBOTS_AI_AGENT)


def test_signal_errors_deny_unless_ignored() -> None:
    site = _site(ai_status=503)
    assert decide_pre_fetch(site, URL, EngineConfig()).reasons == (ReasonCode.AITXT_UNREACHABLE,)
    assert decide_pre_fetch(site, URL, EngineConfig(on_signal_error="ignore")).allowed


def test_unreachable_robots_is_never_lifted_by_ignore() -> None:
    site = SiteSignals(robots=robots.policy_from_fetch(FetchOutcome(url=URL, status=500)))
    decision = decide_pre_fetch(site, URL, EngineConfig(on_signal_error="ignore"))
    assert decision.reasons == (ReasonCode.ROBOTS_UNREACHABLE,)


def test_a_signal_that_does_not_speak_to_the_purpose_has_no_effect() -> None:
    site = _site(ai_status=503, tdm_status=503)
    assert not decide_pre_fetch(site, URL, EngineConfig(purpose=Purpose.TRAIN_AI)).allowed
    decision = decide_pre_fetch(site, URL, EngineConfig(purpose=Purpose.SEARCH))
    assert decision.allowed
    assert {r.signal.value for r in decision.evidence} >= {"ai.txt", "tdmrep"}


def test_header_results_depend_on_the_config() -> None:
    headers = Headers({"x-robots-tag": "noindex"})
    train = evaluate_headers(headers, EngineConfig(purpose=Purpose.TRAIN_AI))
    search = evaluate_headers(headers, EngineConfig(purpose=Purpose.SEARCH))
    assert train[0].verdict.value == "none"
    assert search[0].reasons == (ReasonCode.X_ROBOTS_TAG_NOINDEX,)
    assert evaluate_headers(headers, EngineConfig(purpose=Purpose.SEARCH)) == search


def test_opt_in_needs_a_grant_and_a_deny_beats_a_grant() -> None:
    cfg = EngineConfig(mode=Mode.OPT_IN)
    site = _site()
    for headers, reasons in [
        ({}, (ReasonCode.CONSENT_MISSING,)),
        ({"content-usage": "train-ai=y"}, ()),
        ({"content-usage": "train-ai=y", "x-robots-tag": "noai"}, (ReasonCode.X_ROBOTS_TAG_NOAI,)),
    ]:
        pre = decide_pre_fetch(site, URL, cfg)
        post = decide_post_fetch(pre, site, inspect_response(_page(headers), cfg), cfg)
        assert post.reasons == reasons, headers
        assert post.allowed is (not reasons)
