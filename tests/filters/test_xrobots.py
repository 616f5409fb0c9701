"""Tests for filters/xrobots.py: directives, scoping, reasons in order, honor_noarchive."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from filters import xrobots
from filters.model import Purpose, Signal, Verdict
from filters.reasons import ReasonCode as R

AGENTS = ("GPTBot", "CCBot", "Google-Extended")
TOKEN = "HeedBot"


def header(values: Sequence[str], purpose: Purpose = Purpose.TRAIN_AI, **kw: bool):  # type: ignore[no-untyped-def]
    return xrobots.evaluate_header(
        values, product_token=TOKEN, ai_agents=AGENTS, purpose=purpose, **kw
    )


def meta(metas: Sequence[tuple[str, str]], purpose: Purpose = Purpose.TRAIN_AI, **kw: bool):  # type: ignore[no-untyped-def]
    return xrobots.evaluate_meta(
        metas, product_token=TOKEN, ai_agents=AGENTS, purpose=purpose, **kw
    )


@pytest.mark.parametrize(
    ("directive", "code"),
    [
        ("noai", R.X_ROBOTS_TAG_NOAI),
        ("noml", R.X_ROBOTS_TAG_NOML),
        ("noimageai", R.X_ROBOTS_TAG_NOIMAGEAI),
    ],
)
@pytest.mark.parametrize("purpose", [Purpose.TRAIN_AI, Purpose.AI_INPUT])
def test_ai_directives_deny_ai_purposes(directive: str, code: R, purpose: Purpose) -> None:
    result = header([directive], purpose)
    assert (result.verdict, result.reasons) == (Verdict.DENY, (code,))
    assert result.signal is Signal.X_ROBOTS_TAG
    assert result.source == "header:X-Robots-Tag"


@pytest.mark.parametrize("directive", ["noai", "noml", "noimageai"])
def test_ai_directives_do_not_deny_search(directive: str) -> None:
    assert header([directive], Purpose.SEARCH).verdict is Verdict.NONE


@pytest.mark.parametrize(
    ("directive", "code"), [("noindex", R.X_ROBOTS_TAG_NOINDEX), ("none", R.X_ROBOTS_TAG_NONE)]
)
def test_noindex_and_none_deny_search_only(directive: str, code: R) -> None:
    assert header([directive], Purpose.SEARCH).reasons == (code,)
    assert header([directive], Purpose.TRAIN_AI).verdict is Verdict.NONE
    assert header([directive], Purpose.AI_INPUT).verdict is Verdict.NONE


def test_all_applicable_reasons_in_order_across_lines() -> None:
    result = header(["noml, noindex", "NoAI", "noimageai, noml"])
    assert result.reasons == (R.X_ROBOTS_TAG_NOML, R.X_ROBOTS_TAG_NOAI, R.X_ROBOTS_TAG_NOIMAGEAI)
    assert result.raw == "noml, noindex\nNoAI\nnoimageai, noml"


@pytest.mark.parametrize("directive", ["noarchive", "nocache"])
def test_noarchive_recorded_but_no_effect_by_default(directive: str) -> None:
    result = header([directive])
    assert (result.verdict, result.reasons) == (Verdict.NONE, ())
    assert result.raw == directive


@pytest.mark.parametrize("purpose", list(Purpose))
def test_honor_noarchive_denies_every_purpose(purpose: Purpose) -> None:
    result = header(["noarchive, nocache"], purpose, honor_noarchive=True)
    assert result.reasons == (R.X_ROBOTS_TAG_NOARCHIVE, R.X_ROBOTS_TAG_NOCACHE)


def test_prefix_for_our_token_applies_case_insensitively() -> None:
    result = header(["heedbot: noai"])
    assert result.reasons == (R.X_ROBOTS_TAG_NOAI,)
    assert result.detail == "heedbot"


def test_prefix_for_an_ai_agent_applies() -> None:
    assert header(["gptbot: noml"]).reasons == (R.X_ROBOTS_TAG_NOML,)


def test_other_bots_directives_are_ignored_but_kept_in_raw() -> None:
    result = header(["googlebot: noindex, noai"], Purpose.SEARCH)
    assert (result.verdict, result.reasons) == (Verdict.NONE, ())
    assert result.raw == "googlebot: noindex, noai"


def test_scope_runs_to_next_prefix_and_resets_per_line() -> None:
    result = header(["otherbot: noai, GPTBot: noml", "noimageai"])
    assert result.reasons == (R.X_ROBOTS_TAG_NOML, R.X_ROBOTS_TAG_NOIMAGEAI)


def test_unscoped_before_prefix_applies() -> None:
    assert header(["noai, otherbot: noml"]).reasons == (R.X_ROBOTS_TAG_NOAI,)


@pytest.mark.parametrize(
    "value",
    [
        "max-snippet: 50, noindex",
        "unavailable_after: 25 Jun 2010 15:00:00 PST, noindex",
        "max-image-preview: large, noindex",
        "unavailable_after: Friday, 25-Jun-2010 15:00:00 PST, noindex",
    ],
)
def test_valued_directives_are_not_bot_prefixes(value: str) -> None:
    assert header([value], Purpose.SEARCH).reasons == (R.X_ROBOTS_TAG_NOINDEX,)


def test_star_prefix_applies_to_everyone() -> None:
    assert header(["*: noai"]).reasons == (R.X_ROBOTS_TAG_NOAI,)


def test_unknown_directives_ignored_and_noted() -> None:
    assert header(["nofollow, noodp, all"]).verdict is Verdict.NONE
    assert "ignored: nofollow" in xrobots.parse(["nofollow"]).diagnostics


def test_empty_header_states_nothing() -> None:
    result = header([])
    assert (result.verdict, result.reasons, result.raw) == (Verdict.NONE, (), None)


def test_meta_robots_reasons_use_meta_family() -> None:
    result = meta([("robots", "noindex, noai")], Purpose.TRAIN_AI)
    assert result.reasons == (R.META_ROBOTS_NOAI,)
    assert result.signal is Signal.META_ROBOTS
    assert meta([("robots", "noindex")], Purpose.SEARCH).reasons == (R.META_ROBOTS_NOINDEX,)


def test_meta_named_for_our_agents_applies_others_do_not() -> None:
    result = meta([("google-extended", "noai"), ("otherbot", "noml"), ("robots", "noimageai")])
    assert result.reasons == (R.META_ROBOTS_NOAI, R.META_ROBOTS_NOIMAGEAI)
    assert result.detail == "google-extended"
    assert meta([("otherbot", "noai")]).verdict is Verdict.NONE


def test_meta_name_matching_is_case_insensitive() -> None:
    assert meta([("HEEDBOT", "NOAI")]).reasons == (R.META_ROBOTS_NOAI,)


def test_list_and_tuple_agents_give_equal_results() -> None:
    a = xrobots.evaluate_header(
        ["gptbot: noai"], product_token=TOKEN, ai_agents=list(AGENTS), purpose=Purpose.TRAIN_AI
    )
    assert a == header(["gptbot: noai"])
