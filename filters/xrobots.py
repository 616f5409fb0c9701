"""``X-Robots-Tag`` headers and ``<meta name="robots">`` tags (SPEC.md §3.7, §3.8).

Both carry the same comma-separated, case-insensitive directive lists. A ``name:`` prefix
scopes the directives after it (up to the next prefix or the end of the header line / tag)
to one bot; they count when ``name`` is the product token or one of ``ai_agents``. Other
bots' directives are ignored, and listed in the policy's diagnostics.

Effects (SPEC.md §3.7): ``noai``, ``noml``, ``noimageai`` deny ``train-ai`` and ``ai-input``;
``noindex`` and ``none`` deny ``search``; ``noarchive``/``nocache`` are recorded and deny
only when ``honor_noarchive`` is set. Every applicable deny reason is listed, in order.

Choices where SPEC.md is silent (conservative; also in docs/signals-headers.md):

* ``honor_noarchive`` denies **every** purpose: a corpus record is a stored copy of the page,
  which is what ``noarchive`` asks search engines not to keep.
* ``name: rest`` is a bot prefix only when ``name`` is not a valued directive
  (``max-snippet``, ``unavailable_after``, ...) and ``rest`` is empty or starts with a
  directive name (a letter), so ``max-snippet: 50`` and ``unavailable_after: 25 Jun 2010``
  are values, not bots. A ``*:`` prefix addresses every bot and so applies.
* An unknown directive is ignored; a directive in unusual case (``NoAI``) counts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from .model import Purpose, Signal, SignalResult, Verdict
from .reasons import DIRECTIVES, ReasonCode, directive_reason

__all__ = [
    "HEADER_SOURCE",
    "META_SOURCE",
    "RobotsTags",
    "evaluate_header",
    "evaluate_meta",
    "parse",
]

HEADER_SOURCE = "header:X-Robots-Tag"
META_SOURCE = "meta"

_AI = frozenset({Purpose.TRAIN_AI, Purpose.AI_INPUT})
_EFFECT: dict[str, frozenset[Purpose]] = {
    "noai": _AI,
    "noml": _AI,
    "noimageai": _AI,
    "noindex": frozenset({Purpose.SEARCH}),
    "none": frozenset({Purpose.SEARCH}),
}
_ARCHIVE = frozenset({"noarchive", "nocache"})
_KNOWN = frozenset(DIRECTIVES)

#: Directives that take a value after a colon (Google, Bing); never bot names.
_VALUED = frozenset(
    {
        "max-snippet",
        "max-image-preview",
        "max-video-preview",
        "unavailable_after",
        "unavailable-after",
        "notranslate",
        "indexifembedded",
    }
)
_BOT_NAME = re.compile(r"^[A-Za-z0-9_*][A-Za-z0-9_.*-]*$")
#: Notes kept per parse. Every piece of a line is read, however many there are: stopping
#: early would drop a ``noai`` written after the bound (the line is bounded by the header).
_MAX_NOTES = 32


@dataclass(frozen=True, slots=True)
class RobotsTags:
    """Directives found, as ``(scope, directive)``; ``scope`` is a lower-case bot name or ``None``
    for directives addressed to every bot. Only directives heed knows are kept."""

    directives: tuple[tuple[str | None, str], ...]
    diagnostics: tuple[str, ...] = ()


def _split_prefix(piece: str) -> tuple[str | None, str]:
    """``("bot", rest)`` when ``piece`` starts with a bot prefix, else ``(None, piece)``."""
    name, sep, rest = piece.partition(":")
    if not sep:
        return None, piece
    name = name.strip()
    rest = rest.strip()
    if name.lower() in _VALUED or not _BOT_NAME.match(name):
        return None, piece
    if rest and not rest[0].isalpha():
        return None, piece
    return name.lower(), rest


def _parse_line(
    scope: str | None, line: str, found: list[tuple[str | None, str]], notes: list[str]
) -> None:
    for raw_piece in line.split(","):
        piece = raw_piece.strip()
        if not piece:
            continue
        bot, rest = _split_prefix(piece)
        if bot is not None:
            scope = bot
            piece = rest
            if not piece:
                continue
        directive = piece.lower()
        if directive in _KNOWN:
            found.append((scope, directive))
        elif len(notes) < _MAX_NOTES:
            notes.append(f"ignored: {piece[:60]}")


@lru_cache(maxsize=8192)
def _parse_cached(lines: tuple[tuple[str | None, str], ...]) -> RobotsTags:
    found: list[tuple[str | None, str]] = []
    notes: list[str] = []
    for scope, line in lines:
        _parse_line(scope, line, found, notes)
    return RobotsTags(tuple(found), tuple(notes))


def parse(lines: Sequence[str]) -> RobotsTags:
    """Parse header lines (or meta contents), each its own scope; never raises."""
    return _parse_cached(tuple((None, line) for line in lines))


def _applies(scope: str | None, ours: frozenset[str]) -> bool:
    return scope is None or scope == "*" or scope in ours


def _decide(
    tags: RobotsTags,
    ours: frozenset[str],
    family: str,
    purpose: Purpose,
    honor_noarchive: bool,
) -> tuple[tuple[ReasonCode, ...], str | None, tuple[str, ...]]:
    reasons: list[ReasonCode] = []
    detail: str | None = None
    ignored: list[str] = []
    for scope, directive in tags.directives:
        if not _applies(scope, ours):
            ignored.append(f"{scope}: {directive}")
            continue
        denies = honor_noarchive if directive in _ARCHIVE else purpose in _EFFECT[directive]
        code = directive_reason(family, directive)
        if denies and code not in reasons:
            reasons.append(code)
            if detail is None and scope not in (None, "*"):
                detail = scope
    return tuple(reasons), detail, tuple(ignored)


def _ours(product_token: str, ai_agents: Sequence[str]) -> frozenset[str]:
    agents = ai_agents if isinstance(ai_agents, tuple) else tuple(ai_agents)
    return _ours_cached(product_token, agents)


@lru_cache(maxsize=64)
def _ours_cached(product_token: str, ai_agents: tuple[str, ...]) -> frozenset[str]:
    """The tokens that speak to us (lower-case), once per run's token list."""
    return frozenset(name.lower() for name in (product_token, *ai_agents))


@lru_cache(maxsize=8192)
def _evaluate_cached(
    lines: tuple[tuple[str | None, str], ...],
    ours: tuple[str, ...],
    family: str,
    signal: Signal,
    source: str,
    purpose: Purpose,
    honor_noarchive: bool,
) -> SignalResult:
    tags = _parse_cached(lines)
    reasons, detail, _ignored = _decide(
        tags, _ours(ours[0], ours[1:]), family, purpose, honor_noarchive
    )
    raw = "\n".join(line if scope is None else f"{scope}: {line}" for scope, line in lines)
    verdict = Verdict.DENY if reasons else Verdict.NONE
    return SignalResult(signal, verdict, reasons, raw=raw, source=source, detail=detail)


_NO_HEADER = SignalResult(Signal.X_ROBOTS_TAG, Verdict.NONE, source=HEADER_SOURCE)
_NO_META = SignalResult(Signal.META_ROBOTS, Verdict.NONE, source=META_SOURCE)


def _agents_key(product_token: str, ai_agents: Sequence[str]) -> tuple[str, ...]:
    if type(ai_agents) is tuple:
        return (product_token, *ai_agents)
    return (product_token, *tuple(ai_agents))


def evaluate_header(
    values: Sequence[str],
    *,
    product_token: str,
    ai_agents: Sequence[str],
    purpose: Purpose,
    honor_noarchive: bool = False,
) -> SignalResult:
    """The verdict of every ``X-Robots-Tag`` header line (SPEC.md §3.7).

    DENY lists each applicable ``x-robots-tag.<directive>`` in order of appearance; ``raw``
    is the header lines joined by newlines; ``detail`` names the bot when the first deny
    came from a ``name:``-scoped directive. Repeated values are answered from a cache.
    """
    if not values:
        return _NO_HEADER
    agents = ai_agents if type(ai_agents) is tuple else tuple(ai_agents)
    values_key = values if type(values) is tuple else tuple(values)
    return _header_cached(values_key, product_token, agents, purpose, honor_noarchive)


@lru_cache(maxsize=8192)
def _header_cached(
    values: tuple[str, ...],
    product_token: str,
    agents: tuple[str, ...],
    purpose: Purpose,
    honor_noarchive: bool,
) -> SignalResult:
    return _evaluate_cached(
        tuple((None, value) for value in values),
        (product_token, *agents),
        "x-robots-tag",
        Signal.X_ROBOTS_TAG,
        HEADER_SOURCE,
        purpose,
        honor_noarchive,
    )


def evaluate_meta(
    metas: Sequence[tuple[str, str]],
    *,
    product_token: str,
    ai_agents: Sequence[str],
    purpose: Purpose,
    honor_noarchive: bool = False,
) -> SignalResult:
    """The verdict of ``<meta name="robots">`` and ``<meta name=TOKEN>`` tags (SPEC.md §3.8).

    ``metas`` are ``(name, content)`` pairs; a tag named after a bot scopes its content to
    that bot, so it counts only for the product token and ``ai_agents``. Reasons are
    ``meta-robots.<directive>``.
    """
    if not metas:
        return _NO_META
    ours = _ours(product_token, ai_agents)
    lines: list[tuple[str | None, str]] = []
    for name, content in metas:
        key = name.strip().lower()
        if key == "robots":
            lines.append((None, content))
        elif key in ours:
            lines.append((key, content))
    if not lines:
        return _NO_META
    return _evaluate_cached(
        tuple(lines),
        _agents_key(product_token, ai_agents),
        "meta-robots",
        Signal.META_ROBOTS,
        META_SOURCE,
        purpose,
        honor_noarchive,
    )
