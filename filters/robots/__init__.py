"""robots.txt per RFC 9309 for heed's product token and the AI tokens (SPEC.md §3.1, §3.2).

``parse`` reads a body into a ``RobotsPolicy``; ``policy_from_fetch`` first maps what happened
on the wire to a state (SPEC.md §3.1): 2xx is parsed (``OK``); 4xx other than 429 means no
restrictions (``ABSENT``); 429, 5xx, any fetch error, no status at all, or a 1xx/3xx status
left after redirects is a complete disallow (``UNREACHABLE``, reason ``robots.unreachable``,
which ``on_signal_error`` never lifts). Queries are pure: ``evaluate`` (the product token),
``evaluate_ai_agents`` (SPEC.md §3.2), ``crawl_delay`` and ``extension_rules`` (the
``Content-Usage``/``Content-Signal`` lines of SPEC.md §3.3); ``RobotsPolicy.path_patterns``
tells the engine's path classes which patterns decide a URL (``_pathpatterns``). Every memo
behind these queries lives on the policy and its parsed file (docs/robots.md, Performance).

The file is tokenised and grouped by ``_grammar`` (RFC 9309 grouping, which protego does
not follow exactly); each distinct merged group becomes one protego object at parse time and
protego's ``can_fetch`` gives every Allow/Disallow verdict (``_match`` and
``_protego``, which list the RFC 9309 fixes heed applies on top: percent-encoding
normalised first, a fail-closed check where protego's own escaping would allow what RFC 9309
disallows). The deciding line, the
verdict's ``raw``, is found after protego's verdict. Choices where RFC 9309 and the SPEC are
silent are listed in ``_grammar`` and in docs/robots.md; in short: Crawl-delay takes the
largest valid value of the merged group, a Disallow value without a leading ``/`` is
repaired rather than dropped, and ``/robots.txt`` itself is always allowed, even when the
file is unreachable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache

from ..ai_agents import shipped_agent_list
from ..model import DocState, DocumentInfo, FetchOutcome, Purpose, Signal, SignalResult
from ..patterns import NO_PATTERNS, PathPatterns
from ..reasons import ReasonCode
from ._grammar import ExtensionRule, parse_file, url_host
from ._match import Book, LastPath, MergedGroup, ResultMemo, unreachable_raw
from ._pathpatterns import rule_patterns

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
    ``book`` (the merged groups), ``memo``/``ai_memo`` (shared verdict objects) and ``paths``
    (the last URL's match path) are internals; every memo belongs to this policy alone.
    """

    state: DocState
    document: DocumentInfo | None = None
    license_urls: tuple[str, ...] = ()
    diagnostics: tuple[str, ...] = ()
    case_insensitive: bool = False
    book: Book = field(default_factory=Book, repr=False, compare=False)
    memo: ResultMemo = field(init=False, repr=False, compare=False)
    ai_memo: ResultMemo = field(init=False, repr=False, compare=False)
    paths: LastPath = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        reason = (
            ReasonCode.ROBOTS_UNREACHABLE
            if self.state is DocState.UNREACHABLE
            else ReasonCode.ROBOTS_DISALLOW
        )
        object.__setattr__(self, "memo", ResultMemo(Signal.ROBOTS, self.document, reason))
        ai_memo = ResultMemo(Signal.ROBOTS_AI_AGENT, self.document, ReasonCode.ROBOTS_AI_AGENT)
        object.__setattr__(self, "ai_memo", ai_memo)
        object.__setattr__(self, "paths", LastPath(self.case_insensitive))

    def path_patterns(self) -> PathPatterns | None:
        """The patterns this file's answers for a simple URL depend on (``PathPatterns``).

        Allow/Disallow lines (lower-cased when so parsed) and the paths of the extension
        lines (``Content-Usage``, ``Content-Signal``); none when the file is absent or
        unreachable (``/robots.txt``, always allowed, is no simple URL). None when a rule is
        one protego may match differently from RFC 9309 (see ``_pathpatterns``).
        """
        if self.state is not DocState.OK:
            return NO_PATTERNS
        rules = rule_patterns(self.book)
        if rules is None:
            return None
        extensions = self.book.extension_patterns()
        if self.case_insensitive:
            return PathPatterns(exact=extensions, lower=rules)
        return PathPatterns(exact=(*rules, *extensions))


def parse(
    body: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    case_insensitive: bool = False,
    host: str | None = None,
) -> RobotsPolicy:
    """Parse a robots.txt body (state ``OK``); never raises on content.

    With ``case_insensitive`` (ai.txt, SPEC.md §3.4) rule patterns are lower-cased and
    ``evaluate`` lower-cases the URL. ``host`` is the host the file belongs to: an
    absolute-URL ``Disallow`` naming another host is then ignored (without it, its path counts).
    """
    return _parse(body, max_bytes, case_insensitive, truncated=False, document=None, host=host)


def _parse(
    body: bytes,
    max_bytes: int,
    case_insensitive: bool,
    *,
    truncated: bool,
    document: DocumentInfo | None,
    host: str | None,
) -> RobotsPolicy:
    parsed = parse_file(
        body,
        max_bytes=max_bytes,
        case_insensitive=case_insensitive,
        truncated=truncated,
        host=host,
    )
    return RobotsPolicy(
        state=DocState.OK,
        document=document,
        license_urls=parsed.license_urls,
        diagnostics=parsed.diagnostics,
        case_insensitive=case_insensitive,
        book=Book(parsed),
    )


def policy_from_fetch(outcome: FetchOutcome, *, max_bytes: int = DEFAULT_MAX_BYTES) -> RobotsPolicy:
    """Map a robots.txt fetch to a policy (SPEC.md §3.1); ``document`` records the fetch.

    2xx is parsed (a body the fetcher marked ``truncated`` loses its incomplete last line;
    ``outcome.url``'s host places absolute-URL rules);
    4xx except 429 is ``ABSENT``; everything else (429, 5xx, 1xx/3xx, no status, any
    ``outcome.error``) is ``UNREACHABLE``.
    """
    document = outcome.document()
    status = outcome.status
    if outcome.error is None and status is not None:
        if 200 <= status < 300:
            return _parse(
                outcome.body,
                max_bytes,
                False,
                truncated=outcome.truncated,
                document=document,
                host=url_host(outcome.url),
            )
        if 400 <= status < 500 and status != 429:
            return RobotsPolicy(state=DocState.ABSENT, document=document)
    return RobotsPolicy(state=DocState.UNREACHABLE, document=document)


def _is_robots_txt(path: str) -> bool:
    return path == "/robots.txt" or path.startswith("/robots.txt?")


def evaluate(policy: RobotsPolicy, url: str, agent: str) -> SignalResult:
    """Whether ``agent`` (the product token) may fetch ``url`` (SPEC.md §3.1).

    DENY ``robots.disallow`` with the deciding ``Disallow`` line as ``raw``; DENY
    ``robots.unreachable`` (``raw``: the status or error) when the file could not be fetched;
    otherwise NONE, with the deciding ``Allow`` line as ``raw`` when one matched.
    """
    memo = policy.memo
    path = policy.paths(url)
    if _is_robots_txt(path):
        return memo.none
    if policy.state is DocState.UNREACHABLE:
        return memo.denied(unreachable_raw(policy.document))
    group = policy.book.resolve(agent)
    rule = group.matcher.decide(path) if group is not None else None
    if rule is None:
        return memo.none
    return memo.allowed(rule.raw) if rule.allow else memo.denied(rule.raw)


def evaluate_ai_agents(policy: RobotsPolicy, url: str, agents: Sequence[str]) -> SignalResult:
    """Whether ``url`` is disallowed for any of the AI ``agents`` (SPEC.md §3.2).

    Each token is evaluated as ``evaluate`` would (``*`` applies to a token with no group of
    its own); DENY ``robots.ai-agent`` names the first such token (list order) in ``detail``
    and the deciding ``Disallow`` line in ``raw``. Tokens that resolve to the same rules cost
    one match. An unreachable file gives NONE here: ``evaluate`` reports
    ``robots.unreachable``.
    """
    memo = policy.ai_memo
    if policy.state is not DocState.OK:
        return memo.none
    path = policy.paths(url)
    if _is_robots_txt(path):
        return memo.none
    plan = policy.book.plan(agents if isinstance(agents, tuple) else tuple(agents))
    denial = plan.first_denial(path)
    return memo.denied(denial[1].raw, denial[0]) if denial is not None else memo.none


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
def default_ai_agents(purpose: Purpose = Purpose.TRAIN_AI) -> tuple[str, ...]:
    """The default ``ai_agents`` of a run for ``purpose`` (SPEC.md §3.2).

    The shipped list (``filters/ai_agents.py``, ``filters/data/ai_agents.json``): the training
    tokens for ``train-ai`` (the SPEC's 14 first), the AI-input tokens for ``ai-input``, none
    for ``search``. A configured ``ai_agents`` replaces it.
    """
    return shipped_agent_list().for_purpose(purpose)
