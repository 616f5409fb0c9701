"""TDMRep: the W3C TDM Reservation Protocol, file, header and meta (SPEC.md §3.5).

``/.well-known/tdmrep.json`` is a JSON array of ``{location, tdm-reservation, tdm-policy}``
rules; the first rule whose ``location`` (an RFC 9309 path pattern, case-sensitive) matches
the URL decides. A file value of 1 denies **pre-fetch** (``evaluate_file``); after the fetch,
the ``tdm-reservation`` header and then the HTML meta tag may state a value (``evaluate``).
Values: ``1``/``"1"``/``true`` reserved, ``0``/``"0"``/``false`` not reserved, anything
else invalid. Purposes: train-ai and ai-input (the engine applies that).

Choices where SPEC.md and the report are silent (conservative; see docs/signals-documents.md):

- Fetch: 4xx other than 429 → absent; 429, 5xx, any transport error, no status, or a status
  that is neither 2xx nor 4xx (an unfollowed 3xx) → unreachable. A 2xx ``text/html`` or
  ``application/xhtml+xml`` body, or one starting with ``<`` after whitespace and BOM, is
  absent. A 2xx body that does not parse as JSON is **invalid**, whatever its type (also an
  empty body), and so is JSON that is neither an array nor an object, or a truncated body.
- Rules: an array item that is not an object is skipped (diagnostic). A rule without a
  ``location`` (or with an empty one) applies to the whole site, ``/``: the publisher
  evidently meant the site. A location that is an absolute URL is read as its path; one not
  starting with ``/`` or ``*`` gets a leading ``/``. A non-string location skips the rule.
  Keys are matched case-insensitively; string values are stripped of surrounding whitespace.
- Precedence (``evaluate``): file → header → meta, each overriding the previous only with a
  valid value (SPEC.md §3.5). Two exceptions, both excluding more: a file value of 1 is final
  (it already denied the page pre-fetch, so no header could have been seen), and a file in
  error stays an error unless a later step reserves (a reservation is a deny, which survives
  ``on_signal_error = "ignore"``). Within one step, several values (header lines,
  comma-separated values, several meta tags) count as 1 if any valid one is 1.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlsplit

from .model import DocState, DocumentInfo, FetchOutcome, Signal, SignalResult, Verdict
from .patterns import NO_PATTERNS, PathPatterns, Pattern, compile_pattern, normalize_path, url_path
from .reasons import ReasonCode

__all__ = [
    "HEADER_SOURCE",
    "META_SOURCE",
    "WELL_KNOWN_PATH",
    "TdmrepPolicy",
    "TdmrepRule",
    "evaluate",
    "evaluate_file",
    "parse",
    "parse_value",
    "policy_from_fetch",
]

#: Where the file lives on every origin (TDMRep §3.1, RFC 8615).
WELL_KNOWN_PATH: Final = "/.well-known/tdmrep.json"
#: ``source`` of a result decided by the response header.
HEADER_SOURCE: Final = "header:tdm-reservation"
#: ``source`` of a result decided by the HTML meta tag.
META_SOURCE: Final = "meta"

_RESERVED: Final = 1
_NOT_RESERVED: Final = 0
_WHITESPACE = b" \t\r\n\f\v"
_BOM = b"\xef\xbb\xbf"
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
# An absolute ASCII URL without %-escapes, brackets, spaces or controls: its path and query
# need no normalisation, so ``_path_of`` reads them with one regex instead of urlsplit.
_SIMPLE_URL = re.compile(
    r"[A-Za-z][A-Za-z0-9+.\-]*://[^/?#\[\]%\x00-\x20\x7f]*"
    r"((?:[/?][^#%\x00-\x20\x7f]*)?)(?:#|\Z)"
)

#: Up to this many rules are folded into one alternation regex at parse time (first
#: alternative that matches = first rule in file order); larger files use the per-rule loop.
_COMBINED_MAX_RULES: Final = 2000


@dataclass(frozen=True, slots=True)
class TdmrepRule:
    """One rule of tdmrep.json; ``reservation`` is 1, 0, or None when its value is invalid.

    ``raw`` is the rule as compact JSON. ``result`` is the verdict this rule gives when it is
    the first match, built once at parse time so the pre-fetch check stays cheap.
    """

    location: str
    reservation: int | None
    policy: str | None
    raw: str
    pattern: Pattern = field(repr=False, compare=False)
    result: SignalResult = field(repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class TdmrepPolicy:
    """A site's tdmrep.json as read: its state, rules in file order, and what was skipped."""

    state: DocState
    document: DocumentInfo | None = None
    rules: tuple[TdmrepRule, ...] = ()
    diagnostics: tuple[str, ...] = ()
    matcher: re.Pattern[str] | None = field(default=None, repr=False, compare=False)
    #: The verdict when no rule applies (built once: results are immutable).
    no_match: SignalResult = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "no_match", _state_result(self))

    def path_patterns(self) -> PathPatterns:
        """The patterns the file verdict for a simple URL depends on (``PathPatterns``): every
        rule's ``location``, matched against the path as is; none unless ``OK``."""
        if self.state is not DocState.OK:
            return NO_PATTERNS
        return PathPatterns(exact=tuple(rule.pattern for rule in self.rules))

    def _source(self) -> str:
        return self.document.url if self.document else WELL_KNOWN_PATH


def parse_value(value: object) -> int | None:
    """1 for ``1``/``"1"``/``true``, 0 for ``0``/``"0"``/``false``, else None (invalid)."""
    if isinstance(value, bool):
        return _RESERVED if value else _NOT_RESERVED
    if isinstance(value, int):
        return value if value in (0, 1) else None
    if isinstance(value, str):
        text = value.strip()
        if text in ("0", "1"):
            return int(text)
    return None


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _location(value: object, index: int, notes: list[str]) -> str | None:
    if value is None or value == "":
        notes.append(f"rule {index}: no location, applied to the whole site")
        return "/"
    if not isinstance(value, str):
        notes.append(f"rule {index}: location is not a string, rule skipped")
        return None
    text = value.strip()
    if "://" in text:
        try:
            parts = urlsplit(text)
        except ValueError:
            notes.append(f"rule {index}: unreadable location URL, rule skipped")
            return None
        text = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        notes.append(f"rule {index}: absolute location read as its path {text!r}")
    if not text.startswith(("/", "*")):
        notes.append(f"rule {index}: location without leading '/', one added")
        text = "/" + text
    return text


def _rule_result(
    reservation: int | None, policy: str | None, raw: str, source: str, doc: DocumentInfo | None
) -> SignalResult:
    if reservation == _RESERVED:
        return SignalResult(
            Signal.TDMREP,
            Verdict.DENY,
            (ReasonCode.TDMREP_RESERVED,),
            raw=raw,
            source=source,
            detail=policy,
            document=doc,
        )
    verdict = Verdict.GRANT if reservation == _NOT_RESERVED else Verdict.NONE
    return SignalResult(Signal.TDMREP, verdict, raw=raw, source=source, document=doc)


def _build_rule(
    index: int, item: dict[str, object], source: str, doc: DocumentInfo | None, notes: list[str]
) -> TdmrepRule | None:
    fields = {str(k).strip().lower(): v for k, v in item.items()}
    location = _location(fields.get("location"), index, notes)
    if location is None:
        return None
    reservation = parse_value(fields.get("tdm-reservation"))
    if reservation is None:
        notes.append(f"rule {index}: invalid tdm-reservation {fields.get('tdm-reservation')!r}")
    policy_value = fields.get("tdm-policy")
    policy = policy_value.strip() or None if isinstance(policy_value, str) else None
    raw = json.dumps(item, ensure_ascii=False, separators=(",", ":"))
    return TdmrepRule(
        location=location,
        reservation=reservation,
        policy=policy,
        raw=raw,
        pattern=compile_pattern(location),
        result=_rule_result(reservation, policy, raw, source, doc),
    )


def _regex(location: str) -> str:
    """The RFC 9309 translation of ``patterns.Pattern``, as one alternative of a regex."""
    norm = normalize_path(location)
    anchored = norm.endswith("$")
    body = norm[:-1] if anchored else norm
    return ".*?".join(re.escape(piece) for piece in body.split("*")) + ("$" if anchored else "")


def _combined(rules: Sequence[TdmrepRule]) -> re.Pattern[str] | None:
    if not rules or len(rules) > _COMBINED_MAX_RULES:
        return None
    return re.compile("|".join(f"({_regex(rule.location)})" for rule in rules), re.DOTALL)


def parse(
    body: bytes,
    *,
    content_type: str | None = None,
    document: DocumentInfo | None = None,
) -> TdmrepPolicy:
    """Read a 2xx tdmrep.json body into a policy; never raises on content.

    HTML (by type or a leading ``<``) gives ABSENT; anything that does not parse as a JSON
    array or object gives INVALID; otherwise OK with the rules in file order.
    """
    stripped = body.lstrip(_WHITESPACE)
    if stripped.startswith(_BOM):
        stripped = stripped[len(_BOM) :].lstrip(_WHITESPACE)
    media = _media_type(content_type)
    if media in _HTML_TYPES or stripped.startswith(b"<"):
        return TdmrepPolicy(DocState.ABSENT, document, diagnostics=("HTML body: not TDMRep",))
    try:
        data = json.loads(stripped.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        note = f"not JSON ({type(exc).__name__}), served as {media or 'no type'}"
        return TdmrepPolicy(DocState.INVALID, document, diagnostics=(note,))
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        note = f"JSON {type(data).__name__} is neither an array nor an object"
        return TdmrepPolicy(DocState.INVALID, document, diagnostics=(note,))
    source = document.url if document else WELL_KNOWN_PATH
    notes: list[str] = []
    rules: list[TdmrepRule] = []
    for index, item in enumerate(data):
        if not isinstance(item, dict):
            notes.append(f"rule {index}: {type(item).__name__} is not an object, skipped")
            continue
        rule = _build_rule(index, item, source, document, notes)
        if rule is not None:
            rules.append(rule)
    return TdmrepPolicy(DocState.OK, document, tuple(rules), tuple(notes), _combined(rules))


def policy_from_fetch(outcome: FetchOutcome) -> TdmrepPolicy:
    """The policy for the fetch of ``/.well-known/tdmrep.json`` (SPEC.md §3.5 step 1).

    4xx (not 429) → ABSENT; 429, 5xx, a transport error, no status, or any other non-2xx
    status → UNREACHABLE; 2xx → ``parse`` (a truncated body is INVALID).
    """
    doc = outcome.document()
    status = outcome.status
    if outcome.error is not None or status is None:
        reason = outcome.error.value if outcome.error else "no response"
        return TdmrepPolicy(DocState.UNREACHABLE, doc, diagnostics=(reason,))
    if 400 <= status < 500 and status != 429:
        return TdmrepPolicy(DocState.ABSENT, doc, diagnostics=(f"status {status}",))
    if not 200 <= status < 300:
        return TdmrepPolicy(DocState.UNREACHABLE, doc, diagnostics=(f"status {status}",))
    if outcome.truncated:
        return TdmrepPolicy(DocState.INVALID, doc, diagnostics=("body truncated at the bound",))
    return parse(outcome.body, content_type=outcome.headers.get("content-type"), document=doc)


def _state_result(policy: TdmrepPolicy) -> SignalResult:
    """The verdict of a file that has no rules to consult (absent, unreachable, invalid)."""
    source = policy._source()
    if policy.state is DocState.UNREACHABLE:
        code = ReasonCode.TDMREP_UNREACHABLE
    elif policy.state is DocState.INVALID:
        code = ReasonCode.TDMREP_INVALID
    else:
        return SignalResult(Signal.TDMREP, Verdict.NONE, source=source, document=policy.document)
    raw = "; ".join(policy.diagnostics) or None
    return SignalResult(
        Signal.TDMREP, Verdict.ERROR, (code,), raw=raw, source=source, document=policy.document
    )


def _path_of(url: str) -> str:
    """``patterns.url_path(url)``, with a fast path for the common simple URL."""
    found = _SIMPLE_URL.match(url) if url.isascii() else None
    if found is None:
        return url_path(url)
    tail = found.group(1)
    mark = tail.find("?")
    if mark == -1:
        return tail or "/"
    query = tail[mark + 1 :]
    return (tail[:mark] or "/") + ("?" + query if query else "")


def evaluate_file(policy: TdmrepPolicy, url: str) -> SignalResult:
    """The pre-fetch verdict of tdmrep.json for ``url``: the first matching rule decides.

    DENY ``tdmrep.reserved`` (detail: the rule's tdm-policy) for 1, GRANT for 0, NONE for an
    invalid value (later rules are not tried) or no match; ERROR ``tdmrep.unreachable`` /
    ``tdmrep.invalid`` when the file could not be obtained or read.
    """
    if policy.state is not DocState.OK:
        return policy.no_match
    path = _path_of(url)
    if policy.matcher is not None:
        found = policy.matcher.match(path)
        if found is None or found.lastindex is None:
            return policy.no_match
        return policy.rules[found.lastindex - 1].result
    for rule in policy.rules:
        if rule.pattern.matches(path):
            return rule.result
    return policy.no_match


def _step_value(values: Sequence[str]) -> tuple[int | None, str | None]:
    """The valid value stated by one step (any 1 wins) and the text it came from."""
    found: int | None = None
    raw: str | None = None
    for line in values:
        for part in line.split(","):
            value = parse_value(part)
            if value is None:
                continue
            if found is None or value > found:
                found, raw = value, line.strip()
    return found, raw


def _first_policy(values: Sequence[str]) -> str | None:
    for line in values:
        text = line.strip().split(", ", 1)[0].strip()
        if text:
            return text
    return None


def evaluate(
    policy: TdmrepPolicy,
    url: str,
    *,
    header_reservation: Sequence[str] = (),
    header_policy: Sequence[str] = (),
    meta_reservation: Sequence[str] = (),
    meta_policy: Sequence[str] = (),
) -> SignalResult:
    """The post-fetch TDMRep verdict: file, then header, then meta (SPEC.md §3.5).

    Each step overrides the previous only with a valid value. The result's ``source`` names the
    step that decided (the tdmrep.json URL, ``header:tdm-reservation`` or ``meta``); a final 1
    is DENY ``tdmrep.reserved`` with that step's policy URL as detail, a final 0 is GRANT.
    """
    current = evaluate_file(policy, url)
    if current.verdict is Verdict.DENY:
        return current  # final: the file already denied the page pre-fetch
    decided = current
    for values, policies, source in (
        (header_reservation, header_policy, HEADER_SOURCE),
        (meta_reservation, meta_policy, META_SOURCE),
    ):
        value, raw = _step_value(values)
        if value is None:
            continue
        detail = _first_policy(policies) if value == _RESERVED else None
        decided = _rule_result(value, detail, raw or "", source, None)
    if current.verdict is Verdict.ERROR and decided.verdict is not Verdict.DENY:
        return current
    return decided
