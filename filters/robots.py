"""robots.txt per RFC 9309 for heed's product token and the AI tokens (SPEC.md §3.1, §3.2).

``parse`` reads a body into a ``RobotsPolicy``; ``policy_from_fetch`` first maps what happened
on the wire to a state (SPEC.md §3.1): 2xx is parsed (``OK``); 4xx other than 429 means no
restrictions (``ABSENT``); 429, 5xx, any fetch error, no status at all, or a 1xx/3xx status
left after redirects is a complete disallow (``UNREACHABLE``, reason ``robots.unreachable``,
which ``on_signal_error`` never lifts). Queries are pure: ``evaluate`` (the product token),
``evaluate_ai_agents`` (SPEC.md §3.2), ``crawl_delay`` and ``extension_rules`` (the
``Content-Usage``/``Content-Signal`` lines of SPEC.md §3.3).

The file is tokenised and grouped by ``_robots_parse`` (RFC 9309 grouping, which protego does
not follow exactly) and matched by protego through ``_robots_match``. Choices where RFC 9309
and the SPEC are silent are listed in ``_robots_parse`` and in docs/robots.md; in short:
Crawl-delay takes the largest valid value of the merged group, a Disallow value without a
leading ``/`` is repaired rather than dropped, and ``/robots.txt`` itself is always allowed,
even when the file is unreachable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from urllib.parse import urlsplit

from ._robots_match import EMPTY_BOOK, Book, MergedGroup, unreachable_raw
from ._robots_parse import ExtensionRule, parse_file
from .model import DocState, DocumentInfo, FetchOutcome, Signal, SignalResult, Verdict
from .reasons import ReasonCode

__all__ = [
    "DEFAULT_MAX_BYTES",
    "ExtensionRule",
    "RobotsPolicy",
    "crawl_delay",
    "default_ai_agents",
    "evaluate",
    "evaluate_ai_agents",
    "extension_rules",
    "parse",
    "policy_from_fetch",
]

#: SPEC.md §3.1: parse up to 2 MiB (RFC 9309 §2.5 requires at least 500 KiB).
DEFAULT_MAX_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class RobotsPolicy:
    """A site's robots.txt as heed reads it.

    ``state`` says whether rules were read (``OK``), there are none (``ABSENT``) or the file
    could not be obtained (``UNREACHABLE``: everything is disallowed). ``license_urls`` holds
    every ``License:`` value in file order; ``diagnostics`` what was skipped and why.
    """

    state: DocState
    document: DocumentInfo | None = None
    license_urls: tuple[str, ...] = ()
    diagnostics: tuple[str, ...] = ()
    case_insensitive: bool = False
    book: Book = field(default=EMPTY_BOOK, repr=False, compare=False)


def parse(
    body: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, case_insensitive: bool = False
) -> RobotsPolicy:
    """Parse a robots.txt body (state ``OK``); never raises on content.

    With ``case_insensitive`` (ai.txt, SPEC.md §3.4) rule patterns are lower-cased and
    ``evaluate`` lower-cases the URL.
    """
    return _parse(body, max_bytes=max_bytes, case_insensitive=case_insensitive, truncated=False)


def _parse(body: bytes, *, max_bytes: int, case_insensitive: bool, truncated: bool) -> RobotsPolicy:
    parsed = parse_file(
        body, max_bytes=max_bytes, case_insensitive=case_insensitive, truncated=truncated
    )
    return RobotsPolicy(
        state=DocState.OK,
        license_urls=parsed.license_urls,
        diagnostics=parsed.diagnostics,
        case_insensitive=case_insensitive,
        book=Book(parsed),
    )


def policy_from_fetch(outcome: FetchOutcome, *, max_bytes: int = DEFAULT_MAX_BYTES) -> RobotsPolicy:
    """Map a robots.txt fetch to a policy (SPEC.md §3.1); ``document`` records the fetch.

    A body the fetcher marked ``truncated`` loses its incomplete last line.
    """
    document = outcome.document()
    status = outcome.status
    if outcome.error is None and status is not None:
        if 200 <= status < 300:
            policy = _parse(
                outcome.body,
                max_bytes=max_bytes,
                case_insensitive=False,
                truncated=outcome.truncated,
            )
            return _with_document(policy, document)
        if 400 <= status < 500 and status != 429:
            return RobotsPolicy(state=DocState.ABSENT, document=document)
    return RobotsPolicy(state=DocState.UNREACHABLE, document=document)


def _with_document(policy: RobotsPolicy, document: DocumentInfo) -> RobotsPolicy:
    return RobotsPolicy(
        state=policy.state,
        document=document,
        license_urls=policy.license_urls,
        diagnostics=policy.diagnostics,
        case_insensitive=policy.case_insensitive,
        book=policy.book,
    )


def _is_robots_txt(url: str) -> bool:
    if "/robots.txt" not in url:
        return False
    try:
        return urlsplit(url).path == "/robots.txt"
    except ValueError:
        return False


def _match_url(policy: RobotsPolicy, url: str) -> str:
    return url.lower() if policy.case_insensitive else url


def evaluate(policy: RobotsPolicy, url: str, agent: str) -> SignalResult:
    """Whether ``agent`` (the product token) may fetch ``url`` (SPEC.md §3.1).

    DENY ``robots.disallow`` with the deciding ``Disallow`` line as ``raw``; DENY
    ``robots.unreachable`` (``raw``: the status or error) when the file could not be fetched;
    otherwise NONE, with the deciding ``Allow`` line as ``raw`` when one matched.
    """
    source = policy.document.url if policy.document else None
    document = policy.document
    if _is_robots_txt(url):
        return SignalResult(Signal.ROBOTS, Verdict.NONE, source=source, document=document)
    if policy.state is DocState.UNREACHABLE:
        return SignalResult(
            Signal.ROBOTS,
            Verdict.DENY,
            (ReasonCode.ROBOTS_UNREACHABLE,),
            raw=unreachable_raw(document),
            source=source,
            document=document,
        )
    group = policy.book.resolve(agent)
    if group is None:
        return SignalResult(Signal.ROBOTS, Verdict.NONE, source=source, document=document)
    allowed, line = group.matcher.decide(_match_url(policy, url))
    raw = line.raw if line is not None else None
    if allowed:
        return SignalResult(Signal.ROBOTS, Verdict.NONE, raw=raw, source=source, document=document)
    return SignalResult(
        Signal.ROBOTS,
        Verdict.DENY,
        (ReasonCode.ROBOTS_DISALLOW,),
        raw=raw,
        source=source,
        document=document,
    )


def evaluate_ai_agents(policy: RobotsPolicy, url: str, agents: Sequence[str]) -> SignalResult:
    """Whether ``url`` is disallowed for any of the AI ``agents`` (SPEC.md §3.2).

    Each token is evaluated as ``evaluate`` would (``*`` applies to a token with no group of
    its own); DENY ``robots.ai-agent`` names the first such token (list order) in ``detail``.
    Tokens that resolve to the same rules cost one match. An unreachable file gives NONE here,
    since ``evaluate`` already reports ``robots.unreachable``.
    """
    source = policy.document.url if policy.document else None
    document = policy.document
    if policy.state is not DocState.OK or _is_robots_txt(url):
        return SignalResult(Signal.ROBOTS_AI_AGENT, Verdict.NONE, source=source, document=document)
    match_url = _match_url(policy, url)
    book = policy.book
    seen: set[int] = set()
    for agent in agents:
        group = book.resolve(agent)
        if group is None:
            continue
        matcher = group.matcher
        if id(matcher) in seen:
            continue
        seen.add(id(matcher))
        if matcher.allowed(match_url):
            continue
        _, line = matcher.decide(match_url)
        return SignalResult(
            Signal.ROBOTS_AI_AGENT,
            Verdict.DENY,
            (ReasonCode.ROBOTS_AI_AGENT,),
            raw=line.raw if line is not None else None,
            source=source,
            detail=agent,
            document=document,
        )
    return SignalResult(Signal.ROBOTS_AI_AGENT, Verdict.NONE, source=source, document=document)


def crawl_delay(policy: RobotsPolicy, agent: str) -> float | None:
    """The ``Crawl-delay`` of the group that applies to ``agent`` (largest valid value)."""
    group = policy.book.resolve(agent)
    return group.crawl_delay if group is not None else None


def _rules(group: MergedGroup | None, key: str) -> tuple[ExtensionRule, ...]:
    return group.extensions.get(key, ()) if group is not None else ()


def extension_rules(
    policy: RobotsPolicy, agent: str, field: str
) -> tuple[tuple[ExtensionRule, ...], tuple[ExtensionRule, ...]]:
    """The ``field`` lines (e.g. ``content-usage``) of ``agent``'s own group and of ``*``.

    Returns ``(agent_rules, star_rules)``; ``agent_rules`` is empty when the agent has no
    group of its own (SPEC.md §3.3 falls back to ``*`` per category, which is the caller's).
    """
    key = field.lower()
    book = policy.book
    return _rules(book.own(agent), key), _rules(book.star(), key)


@cache
def default_ai_agents() -> tuple[str, ...]:
    """The default ``ai_agents`` list of SPEC.md §3.2, from ``filters/data/ai_agents.txt``."""
    text = resources.files("filters").joinpath("data/ai_agents.txt").read_text("utf-8")
    tokens = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return tuple(t for t in tokens if t)
