"""Which registry entry decides a URL, and the result it gives (SPEC.md §3.6)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from ..model import Purpose, Signal, SignalResult, Verdict
from ..reasons import ReasonCode
from ._model import MATCH_DOMAIN, MATCH_EXACT, Entry, winner_result
from ._url import known_to_parse, parse_for_match

__all__ = ["evaluate", "evaluate_parsed", "unavailable"]

#: The result when no entry matches (immutable, so one object serves every URL).
_NO_MATCH = SignalResult(Signal.REGISTRY, Verdict.NONE, source="registry")
_REGISTRY, _NONE = Signal.REGISTRY, Verdict.NONE


def evaluate(
    entries: Iterable[Entry], url: str, purpose: Purpose, now: datetime
) -> tuple[SignalResult, Entry | None]:
    """The registry's verdict for ``url`` under ``purpose`` (SPEC.md §3.6), and the winner.

    Only unexpired entries whose purposes include ``purpose`` take part; the most specific
    match wins, an opt-out winning ties. Opt-out → DENY ``registry.opt-out`` (detail: entry id,
    raw: subject); opt-in → GRANT (detail: entry id); no match → NONE. A URL that cannot be
    normalised matches nothing.

    A domain matches its host and the host's parent domains (never an IP address's "parent"),
    a url entry the URL itself and a prefix entry every URL that starts with it, http and
    https alike; the winner has the greatest sort key (``Entry._how``), the first of equals.
    """
    if not entries and known_to_parse(url):
        return _NO_MATCH, None  # a URL the full parse accepts, and nothing to match
    return evaluate_parsed(entries, url, parse_for_match(url), purpose, now)


def evaluate_parsed(
    entries: Iterable[Entry],
    url: str,
    parsed: tuple[str, str, bool] | None,
    purpose: Purpose,
    now: datetime,
) -> tuple[SignalResult, Entry | None]:
    """:func:`evaluate` with ``parsed`` = ``parse_for_match(url)`` (or
    ``parse_simple_for_match``'s equal answer) already computed by the caller."""
    if parsed is None:
        return SignalResult(_REGISTRY, _NONE, raw=url, source="registry"), None
    if not entries:
        return _NO_MATCH, None
    host, bare, is_ip = parsed
    best = -1
    winner: Entry | None = None
    for entry in entries:
        if purpose not in entry.purposes:
            continue
        expires = entry.expires_at
        if expires is not None and now >= expires:
            continue
        match, subject, dotted, key = entry._how
        if match == MATCH_DOMAIN:
            if host != subject and (is_ip or not host.endswith(dotted)):
                continue
        elif match == MATCH_EXACT:
            if bare != subject:
                continue
        elif not bare.startswith(subject):
            continue
        if key > best:
            best, winner = key, entry
    if winner is None:
        return _NO_MATCH, None
    return winner_result(winner), winner


def unavailable(detail: str) -> SignalResult:
    """The result for a URL the registry could not answer: ERROR ``registry.unavailable``."""
    return SignalResult(
        Signal.REGISTRY,
        Verdict.ERROR,
        (ReasonCode.REGISTRY_UNAVAILABLE,),
        source="registry",
        detail=detail,
    )
