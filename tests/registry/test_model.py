"""filters.registry: validation and SPEC.md §3.6 matching (pure, no storage)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from filters.errors import RegistryValidationError
from filters.model import Purpose, Signal, Verdict
from filters.reasons import ReasonCode
from filters.registry import (
    Choice,
    SubjectKind,
    entry_from_dict,
    entry_to_dict,
    evaluate,
    lookup_keys,
    make_entry,
    unavailable,
)

from .conftest import NOW, entry

T = Purpose.TRAIN_AI


def decide(entries, url, purpose=T, now=NOW):
    return evaluate(entries, url, purpose, now)


def test_url_beats_prefix_beats_domain():
    dom = entry("domain", "example.com", "opt-out", id="dom")
    pre = entry("prefix", "https://example.com/blog/", "opt-in", id="pre")
    exact = entry("url", "https://example.com/blog/post", "opt-out", id="url")
    result, winner = decide([dom, pre, exact], "https://example.com/blog/post")
    assert (result.verdict, result.reasons, result.detail) == (
        Verdict.DENY,
        (ReasonCode.REGISTRY_OPT_OUT,),
        "url",
    )
    assert winner is exact
    result, winner = decide([dom, pre, exact], "https://example.com/blog/other")
    assert (result.verdict, result.detail, result.reasons) == (Verdict.GRANT, "pre", ())
    result, _ = decide([dom, pre, exact], "https://example.com/shop")
    assert (result.verdict, result.detail) == (Verdict.DENY, "dom")


def test_longer_prefix_beats_shorter():
    short = entry("prefix", "https://example.com/a/", "opt-out", id="short")
    long = entry("prefix", "https://example.com/a/b/", "opt-in", id="long")
    assert decide([short, long], "https://example.com/a/b/c")[0].detail == "long"
    assert decide([long, short], "https://example.com/a/x")[0].detail == "short"


def test_subdomains_match_and_deeper_domain_wins():
    parent = entry("domain", "example.com", "opt-out", id="parent")
    child = entry("domain", "blog.example.com", "opt-in", id="child")
    assert decide([parent, child], "https://x.blog.example.com/")[0].detail == "child"
    assert decide([parent, child], "https://shop.example.com/")[0].detail == "parent"
    assert decide([parent], "https://example.com.evil.org/")[0].verdict is Verdict.NONE
    assert decide([parent], "https://notexample.com/")[0].verdict is Verdict.NONE


def test_opt_out_wins_ties_in_either_order():
    a = entry("domain", "example.com", "opt-in", id="in")
    b = entry("domain", "EXAMPLE.com", "opt-out", id="out")
    for order in ([a, b], [b, a]):
        result, winner = decide(order, "http://example.com/")
        assert result.verdict is Verdict.DENY and winner is b


def test_expired_entries_never_take_part():
    out = entry("domain", "example.com", "opt-out", id="old", expires_at=NOW)
    assert decide([out], "https://example.com/")[0].verdict is Verdict.NONE
    later = NOW - timedelta(seconds=1)
    assert decide([out], "https://example.com/", now=later)[0].verdict is Verdict.DENY
    # an expired url opt-out falls back to the live domain opt-in
    live = entry("domain", "example.com", "opt-in", id="live")
    exact = entry("url", "https://example.com/p", "opt-out", id="x", expires_at=NOW)
    assert decide([exact, live], "https://example.com/p")[0].detail == "live"


def test_only_entries_for_the_purpose_take_part():
    search_only = entry("domain", "example.com", "opt-out", purposes=["search"], id="s")
    assert decide([search_only], "https://example.com/")[0].verdict is Verdict.NONE
    result = decide([search_only], "https://example.com/", Purpose.SEARCH)[0]
    assert result.reasons == (ReasonCode.REGISTRY_OPT_OUT,)


def test_http_and_https_are_one_site_and_urls_are_normalised():
    pre = entry("prefix", "HTTPS://Example.COM:443/Docs/", "opt-out", id="p")
    assert pre.subject == "https://example.com/Docs/"
    assert decide([pre], "http://example.com:80/Docs/x")[0].verdict is Verdict.DENY
    assert (
        decide([pre], "https://example.com/docs/x")[0].verdict is Verdict.NONE
    )  # paths case-sensitive
    assert decide([pre], "https://example.com:8443/Docs/x")[0].verdict is Verdict.NONE


def test_result_fields_for_deny_grant_and_unavailable():
    out = entry("url", "https://example.com/p?q=1", "opt-out", id="e1")
    result, _ = decide([out], "https://example.com/p?q=1#frag")
    assert result.signal is Signal.REGISTRY
    assert (result.raw, result.detail, result.source) == (
        "https://example.com/p?q=1",
        "e1",
        "registry:url",
    )
    error = unavailable("connection refused")
    assert (error.verdict, error.reasons, error.detail) == (
        Verdict.ERROR,
        (ReasonCode.REGISTRY_UNAVAILABLE,),
        "connection refused",
    )


def test_lookup_keys():
    assert lookup_keys("https://a.b.Example.com:8080/x") == (
        "a.b.example.com",
        "b.example.com",
        "example.com",
        "com",
    )
    assert lookup_keys("http://127.0.0.1:9/") == ("127.0.0.1",)
    assert lookup_keys("https://bücher.example/") == ("xn--bcher-kva.example", "example")
    assert lookup_keys("not a url") == ()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"subject_kind": "domain", "subject": "https://example.com/"}, "bad domain"),
        ({"subject_kind": "domain", "subject": "com"}, "single label"),
        ({"subject_kind": "url", "subject": "ftp://example.com/"}, "bad URL"),
        ({"subject_kind": "prefix", "subject": "example.com/path"}, "bad URL"),
        ({"subject_kind": "url", "subject": "http://u:p@example.com/"}, "credentials"),
        ({"purposes": ["training"]}, "unknown purpose"),
        ({"purposes": []}, "at least one purpose"),
        ({"license": "CC-BY-9.9"}, "bad licence"),
        ({"license": "MIT OR Apache-2.0"}, "bad licence"),
        ({"choice": "maybe"}, "bad choice"),
        ({"subject_kind": "path"}, "bad subject kind"),
        ({"registered_by": " "}, "registered_by"),
    ],
)
def test_validation_errors_name_the_problem(kwargs, message):
    fields = {
        "subject_kind": "domain",
        "subject": "example.com",
        "choice": "opt-out",
        "purposes": ["train-ai"],
        "registered_by": "t",
    }
    fields.update(kwargs)
    with pytest.raises(RegistryValidationError, match=message):
        make_entry(
            fields.pop("subject_kind"),
            fields.pop("subject"),
            fields.pop("choice"),
            fields.pop("purposes"),
            **fields,
        )


def test_licences_are_canonicalised():
    assert entry("domain", "example.com", license="cc-by-sa-4.0").license == "CC-BY-SA-4.0"
    assert entry("domain", "example.com", license="cc0-1.0").license == "CC0-1.0"
    assert entry("domain", "example.com", license="LicenseRef-house").license == "LicenseRef-house"


def test_dict_round_trip_and_type_checks():
    original = entry(
        "prefix",
        "https://example.com/x/",
        "opt-in",
        purposes=["train-ai", "search"],
        license="CC-BY-4.0",
        note="n",
        verified=True,
        expires_at=NOW + timedelta(days=1),
    )
    again = entry_from_dict(entry_to_dict(original))
    assert again == original
    assert again.subject_kind is SubjectKind.PREFIX and again.choice is Choice.OPT_IN
    with pytest.raises(RegistryValidationError, match="purposes"):
        entry_from_dict({**entry_to_dict(original), "purposes": 3})
    with pytest.raises(RegistryValidationError, match="expires_at"):
        entry_from_dict({**entry_to_dict(original), "expires_at": "tomorrow"})
    with pytest.raises(RegistryValidationError, match="JSON object"):
        entry_from_dict(["not", "a", "dict"])


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80), st.sampled_from(list(Purpose)))
def test_evaluate_and_lookup_keys_never_raise(url, purpose):
    dom = entry("domain", "example.com", id="d")
    result, _ = evaluate([dom], url, purpose, NOW)
    assert result.verdict in (Verdict.NONE, Verdict.DENY)
    assert isinstance(lookup_keys(url), tuple)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["a", "b/", "b/c", "", "b/c/d?x=1"]))
def test_adding_an_opt_out_never_turns_a_deny_into_a_grant(path):
    base = [entry("prefix", "https://example.com/b/", "opt-out", id="p")]
    url = f"https://example.com/{path}"
    before = decide(base, url)[0].verdict
    after = decide([*base, entry("url", url, "opt-out", id="u")], url)[0].verdict
    assert not (before is Verdict.DENY and after is not Verdict.DENY)
    assert after is Verdict.DENY
