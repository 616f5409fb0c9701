"""The value types every signal module and the engine share (SPEC.md §1, §2, §5).

A signal module turns bytes into a frozen *policy*, and a policy plus a URL into a
``SignalResult``. The engine folds results into one ``Decision``. Fetching is not done here:
the crawler describes what happened on the wire as a ``FetchOutcome`` and the modules map that
to a policy with pure functions.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import NewType

from .headers import EMPTY_HEADERS, Headers
from .reasons import ReasonCode

__all__ = [
    "Decision",
    "DocState",
    "DocumentInfo",
    "FetchErrorKind",
    "FetchOutcome",
    "LicenseInfo",
    "LicenseTag",
    "Mode",
    "Purpose",
    "Signal",
    "SignalResult",
    "Stage",
    "Verdict",
]


class Purpose(StrEnum):
    """What the collected text is for (SPEC.md §1)."""

    TRAIN_AI = "train-ai"
    AI_INPUT = "ai-input"
    SEARCH = "search"


class Mode(StrEnum):
    """How much consent a record needs (SPEC.md §1)."""

    OPT_OUT = "opt-out"
    OPT_IN = "opt-in"
    OPEN_LICENSE = "open-license"


class Verdict(StrEnum):
    """One signal's statement about one URL (SPEC.md §2)."""

    DENY = "deny"
    GRANT = "grant"
    NONE = "none"
    ERROR = "error"


class Stage(StrEnum):
    """When a decision was taken (SPEC.md §2)."""

    PRE_FETCH = "pre-fetch"
    POST_FETCH = "post-fetch"


class Signal(StrEnum):
    """The name of a signal as it appears in evidence."""

    ROBOTS = "robots"
    ROBOTS_AI_AGENT = "robots-ai-agent"
    AIPREF = "aipref"
    CONTENT_SIGNAL = "content-signal"
    AITXT = "ai.txt"
    TDMREP = "tdmrep"
    REGISTRY = "registry"
    RSL = "rsl"
    X_ROBOTS_TAG = "x-robots-tag"
    META_ROBOTS = "meta-robots"
    LICENSE = "license"
    FETCH = "fetch"
    POLITENESS = "politeness"
    MODE = "mode"
    BLOCKLIST = "blocklist"


class FetchErrorKind(StrEnum):
    """Why a fetch produced no usable response."""

    TIMEOUT = "timeout"
    CONNECTION = "connection"
    REDIRECT_LIMIT = "redirect-limit"
    TOO_LARGE = "too-large"
    BLOCKED_ADDRESS = "blocked-address"
    OTHER = "other"


class DocState(StrEnum):
    """What fetching a site document (robots.txt, ai.txt, ...) amounted to."""

    OK = "ok"  # a usable body was read
    ABSENT = "absent"  # the site does not publish it (4xx, HTML placeholder, ...)
    UNREACHABLE = "unreachable"  # 429, 5xx, timeout, connection error, too many redirects
    INVALID = "invalid"  # served, but unreadable under its grammar


#: An SPDX licence id (``CC-BY-4.0``) or a ``LicenseRef-…`` id; only ``license.normalize``
#: produces one.
LicenseTag = NewType("LicenseTag", str)


@dataclass(frozen=True, slots=True)
class FetchOutcome:
    """What happened when one URL was fetched: status, headers, body, or an error.

    ``status`` is None when no response arrived (then ``error`` says why). ``body`` is at most
    the configured byte bound; ``truncated`` says whether more was on offer.
    """

    url: str
    status: int | None = None
    headers: Headers = EMPTY_HEADERS
    body: bytes = b""
    error: FetchErrorKind | None = None
    final_url: str | None = None
    redirects: int = 0
    truncated: bool = False
    fetched_at: datetime | None = None

    def document(self) -> DocumentInfo:
        """The evidence record for this fetch (URL, status, time, sha256 of the body)."""
        return DocumentInfo(
            url=self.url,
            final_url=self.final_url or self.url,
            status=self.status,
            error=self.error.value if self.error else None,
            fetched_at=(self.fetched_at or datetime.now(UTC)).isoformat(),
            sha256=hashlib.sha256(self.body).hexdigest() if self.status is not None else None,
        )


@dataclass(frozen=True, slots=True)
class DocumentInfo:
    """Where a signal document came from, for the evidence column (SPEC.md §6)."""

    url: str
    final_url: str
    status: int | None
    error: str | None
    fetched_at: str
    sha256: str | None

    def as_dict(self) -> dict[str, object]:
        return {
            "url": self.url,
            "final_url": self.final_url,
            "status": self.status,
            "error": self.error,
            "fetched_at": self.fetched_at,
            "sha256": self.sha256,
        }


@dataclass(frozen=True, slots=True)
class SignalResult:
    """One signal's verdict about one URL, with the raw value and where it came from.

    ``reasons`` holds the codes behind the verdict (a deny or error always has at least one;
    informational codes such as ``aipref.parse-error`` may accompany ``none``). ``raw`` is the
    text the verdict rests on (the matching robots line, the header value, the tag); ``source``
    says where it was found (a document URL, ``header:X-Robots-Tag``, ``meta``); ``detail`` is
    the code's detail (the AI token, the registry entry id, the policy URL, the status code).
    """

    signal: Signal
    verdict: Verdict
    reasons: tuple[ReasonCode, ...] = ()
    raw: str | None = None
    source: str | None = None
    detail: str | None = None
    document: DocumentInfo | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "signal": self.signal.value,
            "verdict": self.verdict.value,
            "reasons": [r.value for r in self.reasons],
            "raw": self.raw,
            "source": self.source,
            "detail": self.detail,
            "document": self.document.as_dict() if self.document else None,
        }


@dataclass(frozen=True, slots=True)
class LicenseInfo:
    """The licence tag of a record (SPEC.md §4)."""

    license: LicenseTag | None
    url: str | None = None
    source: str | None = None
    conflict: bool = False
    candidates: tuple[tuple[str, str, str], ...] = ()  # (id, url, source) for evidence


@dataclass(frozen=True, slots=True)
class Decision:
    """The engine's answer for one URL: kept or not, why, and everything consulted."""

    allowed: bool
    stage: Stage
    reasons: tuple[ReasonCode, ...]
    evidence: tuple[SignalResult, ...]
    license: LicenseInfo = field(default_factory=lambda: LicenseInfo(None))
    crawl_delay: float | None = None
