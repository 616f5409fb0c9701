"""Tests for filters/aipref.py: draft vectors, robots.txt selection, caching and errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from filters import aipref
from filters.errors import SignalParseError
from filters.model import Purpose, Signal, Verdict
from filters.reasons import ReasonCode
from filters.robots import ExtensionRule

VECTORS = Path(__file__).resolve().parent.parent / "vectors"
DENY = (ReasonCode.AIPREF_DISALLOW,)
PARSE_ERROR = (ReasonCode.AIPREF_PARSE_ERROR,)


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / name).read_text(encoding="utf-8"))
    return data


def _rule(path: str, value: str, line: int = 1) -> ExtensionRule:
    return ExtensionRule(path, value, line, f"Content-Usage: {path} {value}")


def _expectations(cases: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any], str]]:
    return [(c["id"], c, purpose) for c in cases for purpose in c["expect"]]


VOCAB = _load("aipref_vocab.json")["cases"]
ATTACH = _load("aipref_attach.json")


@pytest.mark.parametrize(("case_id", "case", "purpose"), _expectations(VOCAB))
def test_vocab_vectors(case_id: str, case: dict[str, Any], purpose: str) -> None:
    verdict, reasons = case["expect"][purpose]
    result = aipref.evaluate_header(case["values"], Purpose(purpose))
    assert (result.verdict.value, [r.value for r in result.reasons]) == (verdict, reasons), case_id
    assert result.signal is Signal.AIPREF
    assert result.source == aipref.HEADER_SOURCE


@pytest.mark.parametrize(("case_id", "case", "purpose"), _expectations(ATTACH["header_cases"]))
def test_attach_header_vectors(case_id: str, case: dict[str, Any], purpose: str) -> None:
    verdict, reasons = case["expect"][purpose]
    result = aipref.evaluate_header(case["values"], Purpose(purpose))
    assert (result.verdict.value, [r.value for r in result.reasons]) == (verdict, reasons), case_id


@pytest.mark.parametrize(("case_id", "case", "purpose"), _expectations(ATTACH["robots_cases"]))
def test_attach_robots_vectors(case_id: str, case: dict[str, Any], purpose: str) -> None:
    verdict, reasons = case["expect"][purpose]
    agent = [_rule(p, v, i) for i, (p, v) in enumerate(case["agent_rules"])]
    star = [_rule(p, v, 10 + i) for i, (p, v) in enumerate(case["star_rules"])]
    result = aipref.evaluate_rules(agent, star, case["url"], Purpose(purpose))
    assert (result.verdict.value, [r.value for r in result.reasons]) == (verdict, reasons), case_id


def test_deny_raw_is_the_rule_line_and_source_is_passed_through() -> None:
    star = [_rule("/", "search=y"), _rule("/private/", "train-ai=n", 7)]
    result = aipref.evaluate_rules(
        [], star, "https://e.com/private/x", Purpose.TRAIN_AI, source="https://e.com/robots.txt"
    )
    assert result.reasons == DENY
    assert result.raw == "Content-Usage: /private/ train-ai=n"
    assert result.source == "https://e.com/robots.txt"


def test_longest_path_wins_over_shorter_deny() -> None:
    star = [_rule("/", "train-ai=n"), _rule("/open/", "train-ai=y")]
    assert aipref.evaluate_rules([], star, "https://e/open/a", Purpose.TRAIN_AI).verdict is (
        Verdict.GRANT
    )
    assert aipref.evaluate_rules([], star, "https://e/other", Purpose.TRAIN_AI).reasons == DENY


def test_equal_length_patterns_both_apply_most_restrictive_wins() -> None:
    star = [_rule("/a*", "train-ai=y"), _rule("/ab", "train-ai=n")]
    assert aipref.evaluate_rules([], star, "https://e/abc", Purpose.TRAIN_AI).reasons == DENY


def test_agent_group_falls_back_to_star_per_category() -> None:
    agent = [_rule("/", "search=y")]
    star = [_rule("/", "train-ai=n")]
    train = aipref.evaluate_rules(agent, star, "https://e/x", Purpose.TRAIN_AI)
    search = aipref.evaluate_rules(agent, star, "https://e/x", Purpose.SEARCH)
    assert train.reasons == DENY
    assert train.raw == "Content-Usage: / train-ai=n"
    assert search.verdict is Verdict.GRANT


def test_agent_statement_overrides_star_for_the_same_category() -> None:
    agent = [_rule("/", "train-ai=y")]
    star = [_rule("/", "train-ai=n")]
    result = aipref.evaluate_rules(agent, star, "https://e/x", Purpose.TRAIN_AI)
    assert result.verdict is Verdict.GRANT


def test_star_parent_n_still_denies_when_agent_grants_child() -> None:
    agent = [_rule("/", "train-ai=y")]
    star = [_rule("/", "all=n")]
    assert aipref.evaluate_rules(agent, star, "https://e/x", Purpose.TRAIN_AI).reasons == DENY


@pytest.mark.parametrize("label", ["train-genai", "genai", "ai", "bots", "all"])
@pytest.mark.parametrize("purpose", [Purpose.TRAIN_AI, Purpose.AI_INPUT])
def test_legacy_and_parent_labels_deny_ai_purposes(label: str, purpose: Purpose) -> None:
    assert aipref.evaluate_header([f"{label}=n"], purpose).reasons == DENY


@pytest.mark.parametrize("label", ["train-genai", "genai", "ai", "ai-use", "train-ai"])
def test_ai_labels_do_not_deny_search(label: str) -> None:
    result = aipref.evaluate_header([f"{label}=n"], Purpose.SEARCH)
    assert (result.verdict, result.reasons) == (Verdict.NONE, ())


def test_search_n_does_not_deny_training() -> None:
    result = aipref.evaluate_header(["search=n"], Purpose.TRAIN_AI)
    assert (result.verdict, result.reasons) == (Verdict.NONE, ())


def test_exceptions_parameter_is_recorded_in_detail() -> None:
    result = aipref.evaluate_header(['train-ai=n;exceptions="research"'], Purpose.TRAIN_AI)
    assert result.reasons == DENY
    assert result.detail == "exceptions=research"


def test_unknown_keys_are_ignored() -> None:
    result = aipref.evaluate_header(["foo=n, ai-input=n, train-ai=y"], Purpose.TRAIN_AI)
    assert result.verdict is Verdict.GRANT


def test_parse_error_in_rules_is_informational_not_a_deny() -> None:
    bad = _rule("/", "train-ai=n,,")
    result = aipref.evaluate_rules([], [bad], "https://e/x", Purpose.TRAIN_AI)
    assert (result.verdict, result.reasons) == (Verdict.NONE, PARSE_ERROR)
    assert result.raw == bad.raw


def test_parse_error_in_agent_group_falls_back_to_star() -> None:
    agent = [_rule("/", "TRAIN-AI=y")]
    star = [_rule("/", "train-ai=n")]
    assert aipref.evaluate_rules(agent, star, "https://e/x", Purpose.TRAIN_AI).reasons == DENY


def test_no_rules_and_no_header_state_nothing() -> None:
    assert aipref.evaluate_rules([], [], "https://e/x", Purpose.TRAIN_AI).verdict is Verdict.NONE
    none = aipref.evaluate_header([], Purpose.TRAIN_AI)
    assert (none.verdict, none.reasons, none.raw) == (Verdict.NONE, (), None)


def test_rule_not_matching_the_path_states_nothing() -> None:
    star = [_rule("/private/", "train-ai=n")]
    result = aipref.evaluate_rules([], star, "https://e/public", Purpose.TRAIN_AI)
    assert (result.verdict, result.reasons) == (Verdict.NONE, ())


def test_parse_raises_signal_parse_error_with_position() -> None:
    with pytest.raises(SignalParseError) as info:
        aipref.parse("train-ai=n, Search=y")
    assert info.value.signal == "aipref"
    assert info.value.position > 0


def test_parse_rejects_non_latin1_text() -> None:
    with pytest.raises(SignalParseError):
        aipref.parse("train-ai=n, s\u2603=y")


def test_parse_keeps_only_known_token_labels() -> None:
    prefs = aipref.parse('train-ai=n, search="y", foo=y, all=y;exceptions=x')
    assert dict(prefs.labels) == {"train-ai": "n", "all": "y"}
    assert dict(prefs.exceptions) == {"all": "x"}


def test_repeated_header_values_give_the_same_cached_result() -> None:
    first = aipref.evaluate_header(["train-ai=n"], Purpose.TRAIN_AI)
    assert aipref.evaluate_header(["train-ai=n"], Purpose.TRAIN_AI) is first
