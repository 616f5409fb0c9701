"""Cloudflare ``Content-Signal`` preferences from robots.txt and HTTP (SPEC.md §3.3).

Cloudflare's Content Signals Policy adds a robots.txt line such as
``Content-Signal: search=yes, ai-train=no`` (and sends the same syntax as a response header
on some responses). Three signals exist: ``search``, ``ai-input`` and ``ai-train``; ``yes``
allows that use, ``no`` disallows it, and an absent signal states nothing.

The syntax is informal, so it is read leniently: comma-separated ``key=value`` pairs, keys
and values case-insensitive, surrounding whitespace and quotes ignored, ``y``/``n`` (and
``true``/``false``) accepted for ``yes``/``no``. Choices where SPEC.md is silent
(conservative; also in docs/signals-headers.md):

* a key stated twice with different values counts as ``no``;
* ``train-ai`` is read as ``ai-train`` (the aipref spelling of the same use);
* robots.txt rules are selected like ``Content-Usage`` (longest path, ties all apply, the
  ``*`` group fills in each signal the product token's group does not state).

Caches (all ``functools.lru_cache`` on pure functions of immutable values): parsed values,
header verdicts, and robots.txt verdicts per selection of rules (``_rules_verdict``, keyed by
the selected ``ExtensionRule`` values, the purpose and the source; 8192 entries).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from ._extrules import cacheable, select_rules
from .model import Purpose, Signal, SignalResult, Verdict
from .patterns import url_path
from .reasons import ReasonCode

if TYPE_CHECKING:
    from .robots import ExtensionRule

__all__ = ["HEADER_SOURCE", "ContentSignals", "evaluate_header", "evaluate_rules", "parse"]

HEADER_SOURCE = "header:Content-Signal"
_ROBOTS_SOURCE = "robots.txt"

_KEYS: dict[str, Purpose] = {
    "ai-train": Purpose.TRAIN_AI,
    "train-ai": Purpose.TRAIN_AI,
    "ai-input": Purpose.AI_INPUT,
    "search": Purpose.SEARCH,
}
_VALUES: dict[str, bool] = {
    "yes": True,
    "y": True,
    "true": True,
    "no": False,
    "n": False,
    "false": False,
}
#: Skipped pairs noted per value. Every pair is read, however many there are: stopping early
#: would drop an ``ai-train=no`` written after the bound (work stays linear in the value).
_MAX_NOTES = 64


@dataclass(frozen=True, slots=True)
class ContentSignals:
    """What one value states: purpose -> allowed, plus what was skipped."""

    signals: Mapping[Purpose, bool]
    diagnostics: tuple[str, ...] = ()


@lru_cache(maxsize=8192)
def parse(value: str) -> ContentSignals:
    """Parse one Content-Signal value leniently; never raises, skips what it cannot read."""
    signals: dict[Purpose, bool] = {}
    skipped: list[str] = []
    for part in value.split(","):
        key, sep, raw_val = part.partition("=")
        key = key.strip().strip("\"'").lower()
        val = raw_val.strip().strip("\"'").lower()
        if not key and not sep:
            continue
        purpose = _KEYS.get(key)
        allowed = _VALUES.get(val)
        if purpose is None or allowed is None or not sep:
            if len(skipped) < _MAX_NOTES:
                skipped.append(part.strip()[:80])
            continue
        signals[purpose] = signals.get(purpose, True) and allowed
    return ContentSignals(signals, tuple(skipped))


@dataclass(frozen=True, slots=True)
class _Stated:
    allowed: bool
    raw: str


def _stated(selected: tuple[ExtensionRule, ...]) -> dict[Purpose, _Stated]:
    merged: dict[Purpose, _Stated] = {}
    for rule in selected:
        for purpose, allowed in parse(rule.value).signals.items():
            held = merged.get(purpose)
            if held is None or (held.allowed and not allowed):
                merged[purpose] = _Stated(allowed, rule.raw)
    return merged


def _result(stated: _Stated | None, source: str, raw: str | None = None) -> SignalResult:
    if stated is None:
        return SignalResult(Signal.CONTENT_SIGNAL, Verdict.NONE, raw=raw, source=source)
    if stated.allowed:
        return SignalResult(Signal.CONTENT_SIGNAL, Verdict.GRANT, raw=stated.raw, source=source)
    return SignalResult(
        Signal.CONTENT_SIGNAL,
        Verdict.DENY,
        (ReasonCode.CONTENT_SIGNAL_DISALLOW,),
        raw=stated.raw,
        source=source,
    )


def evaluate_rules(
    agent_rules: Sequence[ExtensionRule],
    star_rules: Sequence[ExtensionRule],
    url: str,
    purpose: Purpose,
    *,
    source: str | None = None,
) -> SignalResult:
    """The robots.txt ``Content-Signal`` verdict for ``url`` and ``purpose`` (SPEC.md §3.3).

    The product token's group decides each signal it states; the ``*`` group fills in the
    rest. ``raw`` is the rule line behind the verdict.
    """
    where = source or _ROBOTS_SOURCE
    if not agent_rules and not star_rules:
        return _result(None, where)
    path = url_path(url)
    agent = select_rules(agent_rules, path)
    star = select_rules(star_rules, path)
    if cacheable(agent) and cacheable(star):
        return _rules_verdict_cached(agent, star, purpose, where)
    return _rules_verdict(agent, star, purpose, where)


def _rules_verdict(
    agent_selected: tuple[ExtensionRule, ...],
    star_selected: tuple[ExtensionRule, ...],
    purpose: Purpose,
    where: str,
) -> SignalResult:
    """The verdict of the selected rules: the agent's group first, ``*`` for the rest."""
    stated = _stated(agent_selected).get(purpose) or _stated(star_selected).get(purpose)
    return _result(stated, where)


_rules_verdict_cached = lru_cache(maxsize=8192)(_rules_verdict)


_NO_HEADER = SignalResult(Signal.CONTENT_SIGNAL, Verdict.NONE, source=HEADER_SOURCE)


def evaluate_header(values: Sequence[str], purpose: Purpose) -> SignalResult:
    """The verdict of the ``Content-Signal`` response header (every line; cached)."""
    if not values:
        return _NO_HEADER
    return _evaluate_header_cached(tuple(values), purpose)


@lru_cache(maxsize=8192)
def _evaluate_header_cached(values: tuple[str, ...], purpose: Purpose) -> SignalResult:
    joined = ", ".join(values)
    allowed = parse(joined).signals.get(purpose)
    stated = None if allowed is None else _Stated(allowed, joined)
    return _result(stated, HEADER_SOURCE, raw=joined)
