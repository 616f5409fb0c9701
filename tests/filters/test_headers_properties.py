"""Property tests for the header and HTML signal modules: never raise, deterministic,
adding ``noai`` never turns a deny into a keep."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from filters import aipref, content_signal, html, xrobots
from filters.model import Purpose, Verdict
from filters.robots import ExtensionRule

FAST = settings(max_examples=200, deadline=None)
AGENTS = ("GPTBot", "CCBot")
purposes = st.sampled_from(list(Purpose))
header_text = st.text(
    alphabet=st.sampled_from(list("abcdeinorstxy-_=;:,*\"' ?()/0129GPTBot\u00e9\x00\t")),
    max_size=60,
)
lines = st.lists(st.one_of(header_text, st.text(max_size=40)), max_size=4)
rules = st.lists(
    st.builds(
        ExtensionRule,
        st.sampled_from(["/", "/a", "/a*", "/a$", "*", "/%61", ""]),
        header_text,
        st.integers(1, 99),
        st.text(max_size=10),
    ),
    max_size=4,
)


@FAST
@given(lines, purposes)
def test_header_functions_never_raise_and_are_deterministic(values: list[str], p: Purpose) -> None:
    for evaluate in (aipref.evaluate_header, content_signal.evaluate_header):
        first = evaluate(values, p)
        assert evaluate(list(values), p) == first
        assert first.verdict is not Verdict.DENY or first.reasons
    x = xrobots.evaluate_header(values, product_token="heed", ai_agents=AGENTS, purpose=p)
    assert x == xrobots.evaluate_header(values, product_token="heed", ai_agents=AGENTS, purpose=p)
    metas = [("robots", v) for v in values]
    xrobots.evaluate_meta(metas, product_token="heed", ai_agents=AGENTS, purpose=p)
    html.link_header_licenses(values, "https://e.org/")


@FAST
@given(rules, rules, st.text(max_size=30), purposes)
def test_rule_evaluation_never_raises(
    a: list[ExtensionRule], s: list[ExtensionRule], path: str, p: Purpose
) -> None:
    url = "https://e.org/" + path
    for evaluate in (aipref.evaluate_rules, content_signal.evaluate_rules):
        result = evaluate(a, s, url, p)
        assert result == evaluate(a, s, url, p)
        assert result.verdict is not Verdict.DENY or result.reasons


@FAST
@given(lines, st.sampled_from([Purpose.TRAIN_AI, Purpose.AI_INPUT]), st.booleans())
def test_adding_noai_denies_ai_purposes(values: list[str], p: Purpose, new_line: bool) -> None:
    before = xrobots.evaluate_header(values, product_token="heed", ai_agents=AGENTS, purpose=p)
    extended = (
        [*values, "noai"] if new_line or not values else [*values[:-1], values[-1] + ", noai"]
    )
    after = xrobots.evaluate_header(extended, product_token="heed", ai_agents=AGENTS, purpose=p)
    if new_line or not values:
        assert after.verdict is Verdict.DENY
    if before.verdict is Verdict.DENY:
        assert after.verdict is Verdict.DENY
        assert set(before.reasons) <= set(after.reasons)


@FAST
@given(lines, purposes)
def test_adding_noai_never_turns_deny_into_keep(values: list[str], p: Purpose) -> None:
    before = xrobots.evaluate_header(values, product_token="heed", ai_agents=AGENTS, purpose=p)
    after = xrobots.evaluate_header(
        [*values, "noai"], product_token="heed", ai_agents=AGENTS, purpose=p
    )
    meta_before = xrobots.evaluate_meta(
        [("robots", v) for v in values], product_token="heed", ai_agents=AGENTS, purpose=p
    )
    meta_after = xrobots.evaluate_meta(
        [("robots", v) for v in [*values, "noai"]],
        product_token="heed",
        ai_agents=AGENTS,
        purpose=p,
    )
    if before.verdict is Verdict.DENY:
        assert after.verdict is Verdict.DENY
    if meta_before.verdict is Verdict.DENY:
        assert meta_after.verdict is Verdict.DENY


@FAST
@given(
    st.binary(max_size=2000),
    st.one_of(st.none(), st.sampled_from(["text/html", "text/plain", "", "x/y;a=b"])),
)
def test_html_functions_never_raise_on_bytes(body: bytes, ctype: str | None) -> None:
    html.is_html(ctype, body)
    first = html.extract(body, "https://e.org/p", product_token="heed", ai_agents=AGENTS)
    assert first == html.extract(body, "https://e.org/p", product_token="heed", ai_agents=AGENTS)


@FAST
@given(st.text(max_size=300))
def test_html_extract_never_raises_on_markup_like_text(text: str) -> None:
    body = ("<html><head><meta name=robots content='" + text + "'></head><body>" + text).encode(
        "utf-8", "replace"
    )
    signals = html.extract(body, "https://e.org/p", product_token="heed", ai_agents=AGENTS)
    assert isinstance(signals.text, str)
