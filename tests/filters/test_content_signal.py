"""Tests for filters/content_signal.py: Cloudflare vectors, leniency and group fallback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from filters import content_signal
from filters.model import Purpose, Signal, Verdict
from filters.reasons import ReasonCode
from filters.robots import ExtensionRule

VECTORS = Path(__file__).resolve().parent.parent / "vectors"
DENY = (ReasonCode.CONTENT_SIGNAL_DISALLOW,)
CF: dict[str, Any] = json.loads(
    (VECTORS / "content_signal_cloudflare.json").read_text(encoding="utf-8")
)


def _rule(path: str, value: str, line: int = 1) -> ExtensionRule:
    return ExtensionRule(path, value, line, f"Content-Signal: {value}")


def _expectations(cases: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any], str]]:
    return [(c["id"], c, purpose) for c in cases for purpose in c["expect"]]


@pytest.mark.parametrize(("case_id", "case", "purpose"), _expectations(CF["header_cases"]))
def test_cloudflare_header_vectors(case_id: str, case: dict[str, Any], purpose: str) -> None:
    verdict, reasons = case["expect"][purpose]
    result = content_signal.evaluate_header(case["values"], Purpose(purpose))
    assert (result.verdict.value, [r.value for r in result.reasons]) == (verdict, reasons), case_id
    assert result.signal is Signal.CONTENT_SIGNAL
    assert result.source == content_signal.HEADER_SOURCE


@pytest.mark.parametrize(("case_id", "case", "purpose"), _expectations(CF["robots_cases"]))
def test_cloudflare_robots_vectors(case_id: str, case: dict[str, Any], purpose: str) -> None:
    verdict, reasons = case["expect"][purpose]
    agent = [_rule(p, v) for p, v in case["agent_rules"]]
    star = [_rule(p, v) for p, v in case["star_rules"]]
    result = content_signal.evaluate_rules(agent, star, case["url"], Purpose(purpose))
    assert (result.verdict.value, [r.value for r in result.reasons]) == (verdict, reasons), case_id


@pytest.mark.parametrize(
    "value", ["AI-Train=No", "ai-train = n", 'ai-train="no"', " ai-train=NO ,", "ai-train=false"]
)
def test_lenient_spellings_of_no(value: str) -> None:
    assert content_signal.evaluate_header([value], Purpose.TRAIN_AI).reasons == DENY


@pytest.mark.parametrize("value", ["ai-train=Y", "AI-TRAIN=yes", "ai-train=true"])
def test_lenient_spellings_of_yes(value: str) -> None:
    assert content_signal.evaluate_header([value], Purpose.TRAIN_AI).verdict is Verdict.GRANT


def test_each_signal_denies_only_its_purpose() -> None:
    values = ["ai-input=no"]
    assert content_signal.evaluate_header(values, Purpose.AI_INPUT).reasons == DENY
    assert content_signal.evaluate_header(values, Purpose.TRAIN_AI).verdict is Verdict.NONE
    assert content_signal.evaluate_header(["search=no"], Purpose.SEARCH).reasons == DENY
    assert content_signal.evaluate_header(["search=no"], Purpose.AI_INPUT).verdict is Verdict.NONE


def test_conflicting_duplicate_key_counts_as_no() -> None:
    assert (
        content_signal.evaluate_header(["ai-train=yes, ai-train=no"], Purpose.TRAIN_AI).reasons
        == DENY
    )
    assert (
        content_signal.evaluate_header(["ai-train=no", "ai-train=yes"], Purpose.TRAIN_AI).reasons
        == DENY
    )


def test_unknown_values_state_nothing_and_are_noted() -> None:
    parsed = content_signal.parse("ai-train=maybe, search=yes")
    assert Purpose.TRAIN_AI not in parsed.signals
    assert parsed.signals[Purpose.SEARCH] is True
    assert parsed.diagnostics == ("ai-train=maybe",)


def test_agent_group_falls_back_to_star_per_signal() -> None:
    agent = [_rule("/", "search=yes")]
    star = [_rule("/", "search=no, ai-train=no")]
    assert content_signal.evaluate_rules(agent, star, "https://e/x", Purpose.SEARCH).verdict is (
        Verdict.GRANT
    )
    denied = content_signal.evaluate_rules(agent, star, "https://e/x", Purpose.TRAIN_AI)
    assert denied.reasons == DENY
    assert denied.raw == "Content-Signal: search=no, ai-train=no"


def test_longest_path_applies() -> None:
    star = [_rule("/", "ai-train=yes"), _rule("/members/", "ai-train=no")]
    assert (
        content_signal.evaluate_rules([], star, "https://e/members/1", Purpose.TRAIN_AI).reasons
        == DENY
    )
    assert content_signal.evaluate_rules([], star, "https://e/blog", Purpose.TRAIN_AI).verdict is (
        Verdict.GRANT
    )


def test_no_rules_no_header() -> None:
    assert (
        content_signal.evaluate_rules([], [], "https://e/", Purpose.TRAIN_AI).verdict
        is Verdict.NONE
    )
    assert content_signal.evaluate_header([], Purpose.TRAIN_AI).verdict is Verdict.NONE
