"""IETF aipref ``Content-Usage`` preferences from robots.txt and HTTP (SPEC.md §3.3, §3.7).

A ``Content-Usage`` value is an RFC 9651 Dictionary (draft-ietf-aipref-vocab §6) whose keys
are usage-category labels and whose values are the Tokens ``y`` (allow) or ``n`` (disallow).
It is parsed with ``http_sf``, never by hand; a value that does not parse states nothing
(vocab §6.5) and is reported as ``aipref.parse-error``, an informational code, not a deny.

Categories and the purposes a ``n`` denies (``y`` grants only the category's own purpose):

==========================================  ======================================
label                                       ``n`` denies
==========================================  ======================================
``train-ai``                                train-ai, ai-input (SPEC §3.3)
``train-genai``, ``genai``, ``ai`` (legacy) train-ai, ai-input (conservative)
``ai-use`` (vocab "AI Use")                 ai-input
``search``                                  search
``all``, ``bots``, ``automated-processing`` every purpose (the parent category)
==========================================  ======================================

Choices where SPEC.md is silent (conservative; also in docs/signals-headers.md):

* Hierarchy. Older vocab drafts put every category under "Automated Processing" (label
  ``all``; later drafts discuss a ``bots`` parent). The draft lets a more specific category
  override its parent; heed instead lets any ``n`` on the category *or* a parent deny.
  A ``y`` grants when the category's own label is ``y``, or it is unstated and a parent is
  ``y``.
* robots.txt: the product token's group is read first; for each label it does not state
  (``y``/``n``), the ``*`` group's value is used. Within a group the longest matching path
  wins and tied rules all apply (``n`` beats ``y``).
* A value other than the Token ``y``/``n`` (a string ``"n"``, a boolean) states nothing,
  as the draft says. Keys are case-sensitive: ``Train-AI=n`` is a parse error.
* The ``exceptions`` parameter of the label behind the verdict goes into ``detail``.

Caches (all ``functools.lru_cache`` on pure functions of immutable values): parsed values,
header verdicts, and robots.txt verdicts per selection of rules (``_rules_verdict``, keyed by
the selected ``ExtensionRule`` values, the purpose and the source; 8192 entries).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import http_sf

from ._extrules import cacheable, select_rules
from .errors import SignalParseError
from .model import Purpose, Signal, SignalResult, Verdict
from .patterns import url_path
from .reasons import ReasonCode

if TYPE_CHECKING:
    from .robots import ExtensionRule

__all__ = ["HEADER_SOURCE", "Preferences", "evaluate_header", "evaluate_rules", "parse"]

HEADER_SOURCE = "header:Content-Usage"
_ROBOTS_SOURCE = "robots.txt"

_ALL = frozenset(Purpose)
_AI = frozenset({Purpose.TRAIN_AI, Purpose.AI_INPUT})
_PARENTS: tuple[str, ...] = ("all", "bots", "automated-processing")

#: label -> purposes that ``label=n`` denies (see the module docstring's table).
_DENIES: dict[str, frozenset[Purpose]] = {
    "train-ai": _AI,
    "train-genai": _AI,
    "genai": _AI,
    "ai": _AI,
    "ai-use": frozenset({Purpose.AI_INPUT}),
    "search": frozenset({Purpose.SEARCH}),
    **dict.fromkeys(_PARENTS, _ALL),
}

#: purpose -> labels whose ``y`` grants it, most specific first (vocab §7 "check parent").
_GRANT_CHAIN: dict[Purpose, tuple[str, ...]] = {
    Purpose.TRAIN_AI: ("train-ai", *_PARENTS),
    Purpose.AI_INPUT: ("ai-use", *_PARENTS),
    Purpose.SEARCH: ("search", *_PARENTS),
}


@dataclass(frozen=True, slots=True)
class _Pref:
    """One stated preference: ``y``/``n``, its ``exceptions`` parameter, the line it came from."""

    value: str
    exceptions: str | None
    raw: str


@dataclass(frozen=True, slots=True)
class Preferences:
    """The known labels a Content-Usage value states, each ``"y"`` or ``"n"``.

    ``exceptions`` maps a label to its ``exceptions`` parameter, when present.
    """

    labels: Mapping[str, str]
    exceptions: Mapping[str, str]


def parse(value: str | bytes) -> Preferences:
    """Parse one Content-Usage value (vocab §6.5) into the labels heed knows.

    Unknown labels, unknown parameters and values that are not the Tokens ``y``/``n`` are
    ignored, as the draft requires.

    Raises:
        SignalParseError: the value is not an RFC 9651 Dictionary (or not ASCII/Latin-1).
    """
    try:
        data = value.encode("latin-1") if isinstance(value, str) else bytes(value)
        parsed = http_sf.parse(data, tltype="dictionary")
    except http_sf.StructuredFieldError as e:
        raise SignalParseError("aipref", e.position or 0, str(e)) from e
    except (ValueError, TypeError, UnicodeError, IndexError, KeyError) as e:
        raise SignalParseError("aipref", 0, type(e).__name__) from e
    if not isinstance(parsed, dict):  # pragma: no cover - tltype guarantees a dict
        raise SignalParseError("aipref", 0, "not a dictionary")
    labels: dict[str, str] = {}
    exceptions: dict[str, str] = {}
    for key, member in parsed.items():
        if key not in _DENIES or not isinstance(member, tuple):
            continue
        item, params = member
        if isinstance(item, http_sf.Token) and str(item) in ("y", "n"):
            labels[key] = str(item)
            if isinstance(params, dict) and "exceptions" in params:
                exceptions[key] = _param_text(params["exceptions"])
    return Preferences(labels, exceptions)


def _param_text(value: object) -> str:
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


@lru_cache(maxsize=8192)
def _parse_cached(value: str) -> Preferences | None:
    """``parse`` with the failure mapped to ``None`` (repeated values cost a dict lookup)."""
    try:
        return parse(value)
    except SignalParseError:
        return None


def _prefs_of(selected: tuple[ExtensionRule, ...]) -> tuple[dict[str, _Pref], tuple[str, ...]]:
    """Merge the longest-matching rules of one group: per label, ``n`` beats ``y``."""
    merged: dict[str, _Pref] = {}
    errors: list[str] = []
    for rule in selected:
        prefs = _parse_cached(rule.value.strip())
        if prefs is None:
            errors.append(rule.raw)
            continue
        for label, yn in prefs.labels.items():
            held = merged.get(label)
            if held is None or (held.value == "y" and yn == "n"):
                merged[label] = _Pref(yn, prefs.exceptions.get(label), rule.raw)
    return merged, tuple(errors)


def _decide(prefs: Mapping[str, _Pref], purpose: Purpose) -> tuple[Verdict, _Pref | None]:
    """Any ``n`` that covers ``purpose`` denies; otherwise the grant chain decides."""
    for label, pref in prefs.items():
        if pref.value == "n" and purpose in _DENIES[label]:
            return Verdict.DENY, pref
    for label in _GRANT_CHAIN[purpose]:
        stated = prefs.get(label)
        if stated is not None:
            return (Verdict.GRANT if stated.value == "y" else Verdict.NONE), stated
    return Verdict.NONE, None


def _result(
    verdict: Verdict, pref: _Pref | None, errors: Sequence[str], raw: str | None, source: str
) -> SignalResult:
    if verdict is Verdict.DENY:
        reasons: tuple[ReasonCode, ...] = (ReasonCode.AIPREF_DISALLOW,)
    elif errors:
        reasons = (ReasonCode.AIPREF_PARSE_ERROR,)
    else:
        reasons = ()
    if pref is not None:
        raw = pref.raw
    elif errors and raw is None:
        raw = errors[0]
    detail = f"exceptions={pref.exceptions}" if pref is not None and pref.exceptions else None
    return SignalResult(Signal.AIPREF, verdict, reasons, raw=raw, source=source, detail=detail)


def evaluate_rules(
    agent_rules: Sequence[ExtensionRule],
    star_rules: Sequence[ExtensionRule],
    url: str,
    purpose: Purpose,
    *,
    source: str | None = None,
) -> SignalResult:
    """The robots.txt ``Content-Usage`` verdict for ``url`` (SPEC.md §3.3).

    ``agent_rules`` come from the product token's group(s), ``star_rules`` from ``*``; a label
    the agent's matching rules do not state is taken from the ``*`` group. ``raw`` is the rule
    line behind the verdict; a rule that does not parse adds ``aipref.parse-error`` to a
    verdict that is not a deny.
    """
    if not agent_rules and not star_rules:
        return _NO_RULES.get(source) or SignalResult(
            Signal.AIPREF, Verdict.NONE, source=source or _ROBOTS_SOURCE
        )
    path = url_path(url)
    agent = select_rules(agent_rules, path)
    star = select_rules(star_rules, path)
    if cacheable(agent) and cacheable(star):
        return _rules_verdict_cached(agent, star, purpose, source)
    return _rules_verdict(agent, star, purpose, source)


def _rules_verdict(
    agent_selected: tuple[ExtensionRule, ...],
    star_selected: tuple[ExtensionRule, ...],
    purpose: Purpose,
    source: str | None,
) -> SignalResult:
    """The verdict of the selected rules of the agent's and of the ``*`` group."""
    agent, agent_errors = _prefs_of(agent_selected)
    star, star_errors = _prefs_of(star_selected)
    merged = {**star, **agent}
    verdict, pref = _decide(merged, purpose)
    return _result(verdict, pref, agent_errors + star_errors, None, source or _ROBOTS_SOURCE)


_rules_verdict_cached = lru_cache(maxsize=8192)(_rules_verdict)


_NO_RULES: dict[str | None, SignalResult] = {
    None: SignalResult(Signal.AIPREF, Verdict.NONE, source=_ROBOTS_SOURCE)
}
_NO_HEADER = SignalResult(Signal.AIPREF, Verdict.NONE, source=HEADER_SOURCE)


def evaluate_header(values: Sequence[str], purpose: Purpose) -> SignalResult:
    """The verdict of the ``Content-Usage`` response header (SPEC.md §3.7).

    Every header line counts: the lines are joined with ``", "`` and parsed as one Dictionary
    (RFC 9651 §4.2). Repeated values are answered from a cache.
    """
    if not values:
        return _NO_HEADER
    return _evaluate_header_cached(tuple(values), purpose)


@lru_cache(maxsize=8192)
def _evaluate_header_cached(values: tuple[str, ...], purpose: Purpose) -> SignalResult:
    joined = ", ".join(values)
    prefs = _parse_cached(joined)
    if prefs is None:
        return _result(Verdict.NONE, None, (joined,), joined, HEADER_SOURCE)
    stated = {
        label: _Pref(yn, prefs.exceptions.get(label), joined) for label, yn in prefs.labels.items()
    }
    verdict, pref = _decide(stated, purpose)
    return _result(verdict, pref, (), joined, HEADER_SOURCE)
