"""RSL 1.0 (Really Simple Licensing): the licence document and its verdict (SPEC.md §3.9).

An RSL document lists ``<content url="…">`` elements, each with ``<license>`` terms:
``<permits>``/``<prohibits type="usage">`` tokens, ``<payment>``, and an optional ``server``
attribute (a licence server from which a licence must be obtained, even a free one). The URL
of the document comes from robots.txt ``License:``, a ``Link`` header or an HTML link; the
crawler fetches it, ``policy_from_fetch`` reads it and ``evaluate`` answers for one URL and
purpose. Parsing uses lxml with no network, no DTD, no entity expansion and no huge trees.

Usage tokens (RSL 1.0 §3.4.1: ``all``, ``ai-all``, ``ai-train``, ``ai-input``, ``ai-index``,
``search``; earlier drafts' ``train-ai``, ``train-genai``, ``ai-use``, ``ai-summarize`` are
accepted too). Choices where SPEC.md is silent (conservative; see docs/signals-documents.md):

- Coverage is wider for prohibitions than for permissions. A prohibition of ``ai-index`` or
  ``ai-summarize`` also covers ``ai-input`` (all put the page in front of a model at answer
  time); a permission covers a purpose only through its own token, ``ai-all`` or ``all``.
  ``search`` is covered by ``search`` and ``all`` only.
- Content matching: ``url`` is an RFC 9309 pattern on the path, or an absolute URL whose
  origin must equal the page's (then its path is the pattern). The longest pattern wins;
  among equally long matches every one counts, and the most restrictive verdict wins. So do
  several ``<license>`` elements in one ``<content>``.
- Verdict order per licence: covering prohibition → ``rsl.prohibited``; ``server`` or a
  non-free payment → ``rsl.license-required``; a usage permission that does not cover the
  purpose → ``rsl.prohibited``; a covering permission with free or no payment → grant; else
  none. Only ``<payment type="free">`` (or a payment with no type and no amount) is free:
  ``attribution`` and every paid type need a licence heed cannot carry into a corpus. A
  ``<license>`` with user/geo permits or prohibits is never a grant (heed cannot check who
  or where the use is), but does not deny.
- Fetch: as tdmrep.json (4xx absent; 429, 5xx, errors unreachable). A 2xx HTML page
  (``text/html`` or a body starting with ``<!doctype html``/``<html``) is absent; a body that
  is not well-formed XML, or whose root is neither ``<rsl>`` nor an RSS/Atom feed, is invalid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlsplit

from ._rsl_xml import RslContent, RslLicense, read_document
from .model import DocState, DocumentInfo, FetchOutcome, Purpose, Signal, SignalResult, Verdict
from .patterns import NO_PATTERNS, PathPatterns, url_path
from .reasons import ReasonCode

__all__ = [
    "RslContent",
    "RslLicense",
    "RslPolicy",
    "evaluate",
    "parse",
    "policy_from_fetch",
]

_PROHIBIT_COVERS: Final[dict[Purpose, frozenset[str]]] = {
    Purpose.TRAIN_AI: frozenset({"ai-train", "ai-all", "all"}),
    Purpose.AI_INPUT: frozenset({"ai-input", "ai-index", "ai-summarize", "ai-all", "all"}),
    Purpose.SEARCH: frozenset({"search", "all"}),
}
_PERMIT_COVERS: Final[dict[Purpose, frozenset[str]]] = {
    Purpose.TRAIN_AI: frozenset({"ai-train", "ai-all", "all"}),
    Purpose.AI_INPUT: frozenset({"ai-input", "ai-all", "all"}),
    Purpose.SEARCH: frozenset({"search", "all"}),
}
_SEVERITY: Final[dict[Verdict, int]] = {Verdict.NONE: 0, Verdict.GRANT: 1, Verdict.DENY: 2}
#: Bound on the verdicts remembered per policy (no more are added once it is full).
_MAX_MEMO: Final = 4096


@dataclass(frozen=True, slots=True)
class RslPolicy:
    """An RSL document as read: its state, ``<content>`` entries in order, what was skipped.

    ``verdicts`` (internal) remembers ``evaluate``'s verdict per (selected entries, purpose):
    it depends on nothing else. At most ``_MAX_MEMO`` entries; its keys and values are
    immutable, so threads sharing it can at worst compute a verdict twice.
    """

    state: DocState
    document: DocumentInfo | None = None
    contents: tuple[RslContent, ...] = ()
    diagnostics: tuple[str, ...] = ()
    verdicts: dict[tuple[tuple[int, ...], Purpose], SignalResult] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "verdicts", {})

    def path_patterns(self) -> PathPatterns:
        """The patterns the verdict for a simple URL depends on (``PathPatterns``): every
        ``<content url>`` pattern, matched against the path as is (an entry naming an origin
        applies to that origin only, which the path classes keep apart); none unless ``OK``."""
        if self.state is not DocState.OK:
            return NO_PATTERNS
        return PathPatterns(exact=tuple(content.pattern for content in self.contents))


def _is_html(body: bytes, content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media in ("text/html", "application/xhtml+xml"):
        return True
    head = body.lstrip(b" \t\r\n\f\v\xef\xbb\xbf")[:32].lower()
    return head.startswith((b"<!doctype html", b"<html"))


def parse(
    body: bytes, *, content_type: str | None = None, document: DocumentInfo | None = None
) -> RslPolicy:
    """Read an RSL document; never raises on content.

    HTML gives ABSENT; XML that is not well-formed, or not RSL, gives INVALID.
    """
    if _is_html(body, content_type):
        return RslPolicy(DocState.ABSENT, document, diagnostics=("HTML body: not RSL",))
    contents, notes, ok = read_document(body)
    state = DocState.OK if ok else DocState.INVALID
    return RslPolicy(state, document, contents, notes)


def policy_from_fetch(outcome: FetchOutcome) -> RslPolicy:
    """The policy for the fetch of an RSL document (SPEC.md §3.9, §3.5 error rules)."""
    doc = outcome.document()
    status = outcome.status
    if outcome.error is not None or status is None:
        reason = outcome.error.value if outcome.error else "no response"
        return RslPolicy(DocState.UNREACHABLE, doc, diagnostics=(reason,))
    if 400 <= status < 500 and status != 429:
        return RslPolicy(DocState.ABSENT, doc, diagnostics=(f"status {status}",))
    if not 200 <= status < 300:
        return RslPolicy(DocState.UNREACHABLE, doc, diagnostics=(f"status {status}",))
    if outcome.truncated:
        return RslPolicy(DocState.INVALID, doc, diagnostics=("body truncated at the bound",))
    return parse(outcome.body, content_type=outcome.headers.get("content-type"), document=doc)


def _origin(url: str) -> tuple[str, str, int | None] | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    default = {"http": 80, "https": 443}.get(scheme)
    return scheme, (parts.hostname or "").rstrip("."), port if port is not None else default


def _best_contents(policy: RslPolicy, url: str) -> tuple[int, ...]:
    """Indices of the matching ``<content>`` entries with the longest pattern."""
    path = url_path(url)
    page_origin: tuple[str, str, int | None] | bool | None = False  # False: not computed yet
    best: list[int] = []
    best_len = -1
    for index, content in enumerate(policy.contents):
        if content.origin is not None:
            if page_origin is False:
                page_origin = _origin(url)
            if _origin(content.origin) != page_origin:
                continue
        if not content.pattern.matches(path):
            continue
        if content.pattern.length > best_len:
            best, best_len = [index], content.pattern.length
        elif content.pattern.length == best_len:
            best.append(index)
    return tuple(best)


def _result(
    verdict: Verdict,
    code: ReasonCode | None,
    raw: str | None,
    detail: str | None,
    policy: RslPolicy,
) -> SignalResult:
    return SignalResult(
        Signal.RSL,
        verdict,
        (code,) if code else (),
        raw=raw,
        source=policy.document.url if policy.document else None,
        detail=detail,
        document=policy.document,
    )


def _judge_license(
    content: RslContent, lic: RslLicense, purpose: Purpose, policy: RslPolicy
) -> SignalResult:
    for term in lic.prohibits:
        hit = next((t for t in term.tokens if t in _PROHIBIT_COVERS[purpose]), None)
        if term.type == "usage" and hit:
            return _result(Verdict.DENY, ReasonCode.RSL_PROHIBITED, term.raw, hit, policy)
    if content.server:
        raw = f'<content url="{content.url}" server="{content.server}">'
        return _result(Verdict.DENY, ReasonCode.RSL_LICENSE_REQUIRED, raw, content.server, policy)
    paid = next((p for p in lic.payments if not p.free), None)
    if paid is not None:
        code = ReasonCode.RSL_LICENSE_REQUIRED
        return _result(Verdict.DENY, code, paid.raw, paid.type or "payment", policy)
    usage_permits = [t for t in lic.permits if t.type == "usage"]
    covering = [t for t in usage_permits if set(t.tokens) & _PERMIT_COVERS[purpose]]
    if usage_permits and not covering:
        raw = " ".join(t.raw for t in usage_permits)
        return _result(Verdict.DENY, ReasonCode.RSL_PROHIBITED, raw, purpose.value, policy)
    if covering and not lic.restricts_who:
        return _result(Verdict.GRANT, None, covering[0].raw, None, policy)
    return _result(Verdict.NONE, None, lic.raw, None, policy)


def _judge_content(content: RslContent, purpose: Purpose, policy: RslPolicy) -> SignalResult:
    if not content.licenses:
        if content.server:
            raw = f'<content url="{content.url}" server="{content.server}">'
            code = ReasonCode.RSL_LICENSE_REQUIRED
            return _result(Verdict.DENY, code, raw, content.server, policy)
        return _result(Verdict.NONE, None, f'<content url="{content.url}">', None, policy)
    results = [_judge_license(content, lic, purpose, policy) for lic in content.licenses]
    return max(results, key=lambda r: _SEVERITY[r.verdict])


def evaluate(policy: RslPolicy, url: str, purpose: Purpose) -> SignalResult:
    """The RSL verdict for ``url`` and ``purpose`` (SPEC.md §3.9).

    DENY ``rsl.prohibited`` (detail: the token, or the purpose a permit list leaves out),
    DENY ``rsl.license-required`` (detail: the licence server or payment type), GRANT for a
    free permission covering the purpose, NONE when absent or silent, ERROR
    ``rsl.unreachable`` / ``rsl.invalid`` when the document could not be obtained or read.
    """
    if policy.state is DocState.UNREACHABLE:
        raw = "; ".join(policy.diagnostics)
        return _result(Verdict.ERROR, ReasonCode.RSL_UNREACHABLE, raw, None, policy)
    if policy.state is DocState.INVALID:
        raw = "; ".join(policy.diagnostics)
        return _result(Verdict.ERROR, ReasonCode.RSL_INVALID, raw, None, policy)
    if policy.state is DocState.ABSENT:
        return _result(Verdict.NONE, None, None, None, policy)
    picked = _best_contents(policy, url)
    # The verdict depends only on the policy, the selected entries and the purpose.
    memo = policy.verdicts
    hit = memo.get((picked, purpose))
    if hit is not None:
        return hit
    if not picked:
        result = _result(Verdict.NONE, None, None, None, policy)
    else:
        results = [_judge_content(policy.contents[i], purpose, policy) for i in picked]
        result = max(results, key=lambda r: _SEVERITY[r.verdict])
    if len(memo) < _MAX_MEMO:
        memo[(picked, purpose)] = result
    return result
