"""Spawning ai.txt: robots.txt grammar, matched case-insensitively (SPEC.md §3.4).

``/ai.txt`` on the page's own origin is read with the robots.txt grammar and matching of
RFC 9309 (the same private parser and protego-backed matcher as ``robots.py``), for the
product token or ``*``, but case-insensitively: rule patterns and the URL are both lower-cased
before protego sees them. It speaks to the
purposes ``train-ai`` and ``ai-input`` (the engine applies that).

``policy_from_fetch`` honours only a 2xx body that is not HTML: a ``text/html`` Content-Type,
or a body starting with ``<`` after whitespace (a site's HTML "not found" page served as 200),
means the site does not publish ai.txt (``ABSENT``). 4xx other than 429 is ``ABSENT``; 429,
5xx, any fetch error, no status, or a 1xx/3xx status left after redirects is ``UNREACHABLE``
(reason ``aitxt.unreachable``, an error verdict, SPEC.md §2: ``on_signal_error`` decides).
Where the SPEC is silent heed follows robots.txt: the same 2 MiB bound, cut at a line
boundary; Crawl-delay and extension lines are read but not used.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .model import DocState, DocumentInfo, FetchOutcome, Signal, SignalResult, Verdict
from .patterns import NO_PATTERNS, PathPatterns
from .reasons import ReasonCode
from .robots._grammar import parse_file, url_host
from .robots._match import Book, LastPath, ResultMemo, unreachable_raw
from .robots._pathpatterns import rule_patterns

__all__ = ["DEFAULT_MAX_BYTES", "AitxtPolicy", "evaluate", "is_html", "parse", "policy_from_fetch"]

#: Signal documents are fetched like robots.txt (SPEC.md §3.1), so the same 2 MiB bound.
DEFAULT_MAX_BYTES = 2 * 1024 * 1024

_WHITESPACE = b" \t\r\n\f\v"


@dataclass(frozen=True, slots=True)
class AitxtPolicy:
    """A site's ai.txt: ``OK`` (rules read), ``ABSENT`` or ``UNREACHABLE``.

    ``book``, ``memo`` (shared verdict objects) and ``paths`` (the last URL's lower-cased match
    path) are internals, as in ``robots.RobotsPolicy``.
    """

    state: DocState
    document: DocumentInfo | None = None
    diagnostics: tuple[str, ...] = ()
    book: Book = field(default_factory=Book, repr=False, compare=False)
    memo: ResultMemo = field(init=False, repr=False, compare=False)
    paths: LastPath = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.state is DocState.UNREACHABLE:
            memo = ResultMemo(
                Signal.AITXT, self.document, ReasonCode.AITXT_UNREACHABLE, Verdict.ERROR
            )
        else:
            memo = ResultMemo(Signal.AITXT, self.document, ReasonCode.AITXT_DISALLOW)
        object.__setattr__(self, "memo", memo)
        object.__setattr__(self, "paths", LastPath(True))

    def path_patterns(self) -> PathPatterns | None:
        """The patterns this file's answer for a simple URL depends on (``PathPatterns``):
        its Allow/Disallow lines, matched against the lower-cased path; none unless ``OK``;
        None when a rule is one protego may match differently from RFC 9309."""
        if self.state is not DocState.OK:
            return NO_PATTERNS
        rules = rule_patterns(self.book)
        return PathPatterns(lower=rules) if rules is not None else None


def parse(
    body: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, host: str | None = None
) -> AitxtPolicy:
    """Parse an ai.txt body case-insensitively (state ``OK``); never raises on content.

    ``host``: the file's host, for absolute-URL rules (as ``robots.parse``).
    """
    return _parse(body, max_bytes=max_bytes, truncated=False, document=None, host=host)


def _parse(
    body: bytes,
    *,
    max_bytes: int,
    truncated: bool,
    document: DocumentInfo | None,
    host: str | None,
) -> AitxtPolicy:
    parsed = parse_file(
        body, max_bytes=max_bytes, case_insensitive=True, truncated=truncated, host=host
    )
    return AitxtPolicy(DocState.OK, document, parsed.diagnostics, Book(parsed))


def is_html(content_types: tuple[str, ...], body: bytes) -> bool:
    """Whether a 2xx answer is an HTML page rather than an ai.txt file (SPEC.md §3.4)."""
    for value in content_types:
        if value.split(";", 1)[0].strip().lower() == "text/html":
            return True
    head = body[3:] if body.startswith(b"\xef\xbb\xbf") else body
    return head.lstrip(_WHITESPACE)[:1] == b"<"


def policy_from_fetch(outcome: FetchOutcome, *, max_bytes: int = DEFAULT_MAX_BYTES) -> AitxtPolicy:
    """Map an ai.txt fetch to a policy (SPEC.md §3.4); ``document`` records the fetch."""
    document = outcome.document()
    status = outcome.status
    if outcome.error is None and status is not None:
        if 200 <= status < 300:
            if is_html(outcome.headers.get_list("content-type"), outcome.body):
                return AitxtPolicy(DocState.ABSENT, document, ("2xx body is HTML: no ai.txt",))
            return _parse(
                outcome.body,
                max_bytes=max_bytes,
                truncated=outcome.truncated,
                document=document,
                host=url_host(outcome.url),
            )
        if 400 <= status < 500 and status != 429:
            return AitxtPolicy(DocState.ABSENT, document)
    return AitxtPolicy(DocState.UNREACHABLE, document)


def evaluate(policy: AitxtPolicy, url: str, agent: str) -> SignalResult:
    """Whether ai.txt disallows ``url`` for ``agent`` (its own group, else ``*``).

    DENY ``aitxt.disallow`` (``raw``: the deciding line) | ERROR ``aitxt.unreachable``
    (``raw``: the status or error) | NONE.
    """
    memo = policy.memo
    if policy.state is DocState.UNREACHABLE:
        return memo.denied(unreachable_raw(policy.document))
    group = policy.book.resolve(agent) if policy.state is DocState.OK else None
    if group is None:
        return memo.none
    rule = group.matcher.decide(policy.paths(url))
    if rule is None:
        return memo.none
    return memo.allowed(rule.raw) if rule.allow else memo.denied(rule.raw)
