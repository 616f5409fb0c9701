"""TDMRep (SPEC.md §3.5): fetch mapping, first-match rules, header/meta precedence."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from filters import tdmrep
from filters.headers import Headers
from filters.model import DocState, FetchErrorKind, FetchOutcome, Signal, Verdict
from filters.patterns import url_path
from filters.reasons import ReasonCode

VECTORS = Path(__file__).parent.parent / "vectors" / "tdmrep_examples.json"
WK = "https://example.com/.well-known/tdmrep.json"


def fetched(body: bytes | str, status: int = 200, ctype: str | None = "application/json"):
    raw = body.encode() if isinstance(body, str) else body
    headers = Headers({"Content-Type": ctype}) if ctype else Headers()
    return tdmrep.policy_from_fetch(FetchOutcome(url=WK, status=status, headers=headers, body=raw))


def policy_of(rules: Any) -> tdmrep.TdmrepPolicy:
    return fetched(json.dumps(rules))


@pytest.mark.parametrize("case", json.loads(VECTORS.read_text()), ids=lambda c: c["name"])
def test_report_examples(case: dict[str, Any]) -> None:
    policy = policy_of(case["file"]) if case["file"] is not None else fetched("", status=404)
    result = tdmrep.evaluate(
        policy,
        case["url"],
        header_reservation=case.get("header_reservation", ()),
        header_policy=case.get("header_policy", ()),
        meta_reservation=case.get("meta_reservation", ()),
        meta_policy=case.get("meta_policy", ()),
    )
    assert result.signal is Signal.TDMREP
    assert result.verdict.value == case["verdict"]
    assert [r.value for r in result.reasons] == case["reasons"]
    assert result.detail == case["detail"]
    expected_source = {"file": WK, "header": "header:tdm-reservation", "meta": "meta"}
    assert result.source == expected_source[case["decided_by"]]
    if case["file"] is not None:  # the file step alone agrees when it decides
        pre = tdmrep.evaluate_file(policy, case["url"])
        if case["decided_by"] == "file":
            assert (pre.verdict, pre.reasons) == (result.verdict, result.reasons)


@pytest.mark.parametrize(
    ("status", "error", "state"),
    [
        (404, None, DocState.ABSENT),
        (403, None, DocState.ABSENT),
        (410, None, DocState.ABSENT),
        (429, None, DocState.UNREACHABLE),
        (500, None, DocState.UNREACHABLE),
        (503, None, DocState.UNREACHABLE),
        (302, None, DocState.UNREACHABLE),
        (None, FetchErrorKind.TIMEOUT, DocState.UNREACHABLE),
        (None, None, DocState.UNREACHABLE),
        (200, FetchErrorKind.TOO_LARGE, DocState.UNREACHABLE),
    ],
)
def test_fetch_status_mapping(status: int | None, error: FetchErrorKind | None, state: DocState):
    outcome = FetchOutcome(url=WK, status=status, error=error, body=b'[{"location":"/"}]')
    policy = tdmrep.policy_from_fetch(outcome)
    assert policy.state is state
    result = tdmrep.evaluate_file(policy, "https://example.com/x")
    if state is DocState.UNREACHABLE:
        assert result.verdict is Verdict.ERROR
        assert result.reasons == (ReasonCode.TDMREP_UNREACHABLE,)
    else:
        assert (result.verdict, result.reasons) == (Verdict.NONE, ())
    assert policy.document is not None and policy.document.url == WK


@pytest.mark.parametrize(
    ("body", "ctype", "state"),
    [
        ("<!doctype html><title>Not found</title>", "text/html", DocState.ABSENT),
        ("\ufeff  <html><body>soft 404</body></html>", "application/json", DocState.ABSENT),
        ('[{"location": "/", "tdm-reservation": 1}]', "text/html; charset=utf-8", DocState.ABSENT),
        ('[{"location": "/", "tdm-reservation": 1', "application/json", DocState.INVALID),
        ("{not json", "text/plain", DocState.INVALID),
        ("tdm-reservation: 1", "text/plain", DocState.INVALID),
        ("", "application/json", DocState.INVALID),
        ("42", "application/json", DocState.INVALID),
        ('"text"', "application/json", DocState.INVALID),
        (b"\xff\xfe[]", "application/json", DocState.INVALID),
        ('[{"location": "/", "tdm-reservation": 1}]', None, DocState.OK),
        ('\ufeff[{"location": "/", "tdm-reservation": 1}]', "application/tdmrep+json", DocState.OK),
    ],
)
def test_body_states(body: str | bytes, ctype: str | None, state: DocState) -> None:
    policy = fetched(body, ctype=ctype)
    assert policy.state is state
    result = tdmrep.evaluate_file(policy, "https://example.com/a")
    expected = {
        DocState.ABSENT: (Verdict.NONE, ()),
        DocState.INVALID: (Verdict.ERROR, (ReasonCode.TDMREP_INVALID,)),
        DocState.OK: (Verdict.DENY, (ReasonCode.TDMREP_RESERVED,)),
    }[state]
    assert (result.verdict, result.reasons) == expected


def test_truncated_body_is_invalid() -> None:
    outcome = FetchOutcome(
        url=WK, status=200, body=b'[{"location":"/","tdm-reservation":0}]', truncated=True
    )
    assert tdmrep.policy_from_fetch(outcome).state is DocState.INVALID


def test_bare_object_is_one_rule() -> None:
    policy = policy_of({"location": "/", "tdm-reservation": 1, "tdm-policy": "https://p/x"})
    result = tdmrep.evaluate_file(policy, "https://example.com/deep/page")
    assert result.reasons == (ReasonCode.TDMREP_RESERVED,)
    assert result.detail == "https://p/x"


def test_first_match_wins_even_when_later_rule_is_more_specific() -> None:
    policy = policy_of(
        [
            {"location": "/", "tdm-reservation": 0},
            {"location": "/private/reports/", "tdm-reservation": 1},
        ]
    )
    result = tdmrep.evaluate_file(policy, "https://example.com/private/reports/q1")
    assert result.verdict is Verdict.GRANT
    assert json.loads(result.raw or "")["location"] == "/"


def test_first_match_reserved_before_general_grant() -> None:
    policy = policy_of(
        [
            {"location": "/news/*", "tdm-reservation": 1},
            {"location": "/", "tdm-reservation": 0},
        ]
    )
    assert tdmrep.evaluate_file(policy, "https://e.com/news/x").verdict is Verdict.DENY
    assert tdmrep.evaluate_file(policy, "https://e.com/blog/x").verdict is Verdict.GRANT


@pytest.mark.parametrize("bad", [2, "2", "yes", None, 1.0, [], {}, "true"])
def test_invalid_first_match_stops_and_states_nothing(bad: object) -> None:
    policy = policy_of(
        [
            {"location": "/a/", "tdm-reservation": bad},
            {"location": "/", "tdm-reservation": 1},
        ]
    )
    result = tdmrep.evaluate_file(policy, "https://e.com/a/page")
    assert (result.verdict, result.reasons) == (Verdict.NONE, ())
    assert json.loads(result.raw or "")["location"] == "/a/"
    assert any("rule 0: invalid tdm-reservation" in d for d in policy.diagnostics)
    # Elsewhere, the later rule still applies.
    assert tdmrep.evaluate_file(policy, "https://e.com/b").verdict is Verdict.DENY


@pytest.mark.parametrize(
    ("value", "verdict"),
    [
        (1, Verdict.DENY),
        ("1", Verdict.DENY),
        (True, Verdict.DENY),
        (" 1 ", Verdict.DENY),
        (0, Verdict.GRANT),
        ("0", Verdict.GRANT),
        (False, Verdict.GRANT),
    ],
)
def test_value_spellings(value: object, verdict: Verdict) -> None:
    policy = policy_of([{"location": "/", "tdm-reservation": value}])
    assert tdmrep.evaluate_file(policy, "https://e.com/x").verdict is verdict


def test_skipped_items_are_recorded() -> None:
    policy = policy_of(
        [7, "x", {"location": 5, "tdm-reservation": 1}, {"location": "/ok", "tdm-reservation": 1}]
    )
    assert [r.location for r in policy.rules] == ["/ok"]
    assert len(policy.diagnostics) == 3


def test_missing_location_applies_site_wide_and_is_noted() -> None:
    policy = policy_of([{"tdm-reservation": 1}])
    assert tdmrep.evaluate_file(policy, "https://e.com/any").reasons == (
        ReasonCode.TDMREP_RESERVED,
    )
    assert any("no location" in d for d in policy.diagnostics)


def test_absolute_location_reads_its_path() -> None:
    policy = policy_of([{"location": "https://e.com/members/", "tdm-reservation": 1}])
    assert tdmrep.evaluate_file(policy, "https://e.com/members/x").verdict is Verdict.DENY
    assert tdmrep.evaluate_file(policy, "https://e.com/public/x").verdict is Verdict.NONE


def test_percent_encoding_matches_like_robots() -> None:
    policy = policy_of([{"location": "/caf%C3%A9/", "tdm-reservation": 1}])
    assert tdmrep.evaluate_file(policy, "https://e.com/café/menu").verdict is Verdict.DENY
    assert tdmrep.evaluate_file(policy, "https://e.com/%7Euser/").verdict is Verdict.NONE


@pytest.mark.parametrize(
    "url",
    [
        "https://e.com",
        "https://e.com?q=1",
        "https://e.com/p?",
        "https://u:p@e.com:8080/a?b#c",
        "https://e.com/a%2fb",
        "https://e.com/é",
        "https://[::1]/x",
        "relative/path",
        "",
        "https://e.com/a b",
        "https://e.com/x#frag?no",
    ],
)
def test_fast_path_agrees_with_url_path(url: str) -> None:
    assert tdmrep._path_of(url) == url_path(url)


def test_combined_matcher_agrees_with_per_rule_loop() -> None:
    rules = [
        {"location": loc, "tdm-reservation": i % 2}
        for i, loc in enumerate(["/a*b$", "/a/", "/*.pdf", "/x$", "/"])
    ]
    policy = policy_of(rules)
    assert policy.matcher is not None
    for url in [
        "https://e.com/ab",
        "https://e.com/a/b",
        "https://e.com/q.pdf",
        "https://e.com/x",
        "https://e.com/xy",
        "https://e.com/acb?z",
    ]:
        path = url_path(url)
        first = next(r for r in policy.rules if r.pattern.matches(path))
        assert tdmrep.evaluate_file(policy, url) is first.result


# --- precedence: file -> header -> meta --------------------------------------------------------

ABSENT = fetched("", status=404)


def test_header_overrides_absent_file() -> None:
    r = tdmrep.evaluate(
        ABSENT, "https://e.com/x", header_reservation=["1"], header_policy=["https://p/h"]
    )
    assert (r.verdict, r.reasons, r.source, r.detail) == (
        Verdict.DENY,
        (ReasonCode.TDMREP_RESERVED,),
        "header:tdm-reservation",
        "https://p/h",
    )


def test_header_zero_overrides_file_zero_and_meta_one_overrides_header() -> None:
    policy = policy_of([{"location": "/", "tdm-reservation": 0}])
    r = tdmrep.evaluate(
        policy,
        "https://e.com/x",
        header_reservation=["0"],
        meta_reservation=["1"],
        meta_policy=["https://p/m"],
    )
    assert (r.verdict, r.source, r.detail) == (Verdict.DENY, "meta", "https://p/m")


def test_meta_zero_overrides_header_one() -> None:
    r = tdmrep.evaluate(ABSENT, "https://e.com/x", header_reservation=["1"], meta_reservation=["0"])
    assert (r.verdict, r.source) == (Verdict.GRANT, "meta")


def test_invalid_later_value_never_resets_earlier() -> None:
    policy = policy_of([{"location": "/", "tdm-reservation": 0}])
    r = tdmrep.evaluate(
        policy, "https://e.com/x", header_reservation=["maybe"], meta_reservation=[""]
    )
    assert (r.verdict, r.source) == (Verdict.GRANT, WK)
    r = tdmrep.evaluate(ABSENT, "https://e.com/x", header_reservation=["1"], meta_reservation=["2"])
    assert (r.verdict, r.source) == (Verdict.DENY, "header:tdm-reservation")


def test_file_reservation_is_final() -> None:
    policy = policy_of([{"location": "/", "tdm-reservation": 1, "tdm-policy": "https://p/f"}])
    r = tdmrep.evaluate(policy, "https://e.com/x", header_reservation=["0"], meta_reservation=["0"])
    assert (r.verdict, r.reasons, r.source, r.detail) == (
        Verdict.DENY,
        (ReasonCode.TDMREP_RESERVED,),
        WK,
        "https://p/f",
    )


@pytest.mark.parametrize("policy", [fetched("", status=503), fetched("{oops")])
def test_file_error_stays_error_unless_a_later_step_reserves(policy: tdmrep.TdmrepPolicy) -> None:
    code = (
        ReasonCode.TDMREP_UNREACHABLE
        if policy.state is DocState.UNREACHABLE
        else ReasonCode.TDMREP_INVALID
    )
    r = tdmrep.evaluate(policy, "https://e.com/x", header_reservation=["0"])
    assert (r.verdict, r.reasons) == (Verdict.ERROR, (code,))
    r = tdmrep.evaluate(policy, "https://e.com/x", meta_reservation=["1"])
    assert (r.verdict, r.reasons, r.source) == (Verdict.DENY, (ReasonCode.TDMREP_RESERVED,), "meta")


def test_any_one_in_a_step_wins() -> None:
    r = tdmrep.evaluate(ABSENT, "https://e.com/x", header_reservation=["0", "0, 1"])
    assert r.verdict is Verdict.DENY
    assert r.raw == "0, 1"


def test_policy_detail_comes_from_deciding_step() -> None:
    r = tdmrep.evaluate(
        ABSENT,
        "https://e.com/x",
        header_reservation=["1"],
        header_policy=["https://p/h"],
        meta_reservation=["1"],
    )
    assert (r.source, r.detail) == ("meta", None)
