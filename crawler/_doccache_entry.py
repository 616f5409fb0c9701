"""One entry of the document cache (``crawler/doccache.py``): a stored fetch of a document URL,
what it may be used for (durable, age, validators, the outcome a live fetch would give), and
how a row of the cache's SQLite table is read back, every field checked.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from filters import FetchErrorKind, FetchOutcome, Headers

__all__ = ["CachedDocument", "document_from_row"]


@dataclass(frozen=True, slots=True)
class CachedDocument:
    """One stored fetch of a document URL, as it was read under ``bound`` bytes."""

    url: str
    final_url: str | None
    status: int | None
    headers: Headers
    body: bytes
    error: FetchErrorKind | None
    redirects: int
    truncated: bool
    bound: int
    fetched_at: datetime
    sha256: str

    @property
    def durable(self) -> bool:
        """Whether the answer may be kept for the whole ``signal_ttl``: a 2xx, or a 4xx but
        429. Anything else (no response, 429, 5xx, a 1xx/3xx final status) is the
        "unreachable" class, which the loader keeps only as long as a crawl would."""
        status = self.status
        if self.error is not None or status is None:
            return False
        return 200 <= status < 300 or (400 <= status < 500 and status != 429)

    def age(self, now: datetime) -> float:
        """Seconds since the fetch; negative when ``fetched_at`` lies in the future."""
        return (now - self.fetched_at).total_seconds()

    def validators(self) -> dict[str, str]:
        """``If-None-Match`` / ``If-Modified-Since`` for a conditional GET (2xx entries only;
        a stored error or 4xx has nothing to revalidate)."""
        if self.error is not None or self.status is None or not 200 <= self.status < 300:
            return {}
        out: dict[str, str] = {}
        etag = self.headers.get("etag")
        if etag:
            out["If-None-Match"] = etag
        modified = self.headers.get("last-modified")
        if modified:
            out["If-Modified-Since"] = modified
        return out

    def outcome(self, max_bytes: int, *, fetched_at: datetime | None = None) -> FetchOutcome | None:
        """The ``FetchOutcome`` a live fetch under ``max_bytes`` would have given, or None when
        the stored body cannot say (it was cut at a smaller bound than ``max_bytes``).

        A whole body no longer than ``max_bytes`` is what a live fetch reads; a body cut at a
        bound at least ``max_bytes`` is cut again there, still ``truncated``; a whole body
        longer than ``max_bytes`` is cut there and marked ``truncated``.
        """
        body, truncated = self.body, self.truncated
        if truncated and self.bound < max_bytes:
            return None
        if len(body) > max_bytes:
            body, truncated = body[:max_bytes], True
        return FetchOutcome(
            url=self.url,
            status=self.status,
            headers=self.headers,
            body=body,
            error=self.error,
            final_url=self.final_url,
            redirects=self.redirects,
            truncated=truncated,
            fetched_at=fetched_at or self.fetched_at,
        )


def document_from_row(url: str, row: tuple[Any, ...]) -> CachedDocument:
    """Rebuild an entry, checking every field; anything unexpected raises ``ValueError``."""
    final_url, status, headers, body, error, redirects, truncated, bound, fetched, digest = row
    if final_url is not None and not isinstance(final_url, str):
        raise ValueError("final_url")
    if status is not None and (not isinstance(status, int) or not 100 <= status <= 999):
        raise ValueError("status")
    pairs = json.loads(headers)
    if not isinstance(pairs, list) or not all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in pairs
    ):
        raise ValueError("headers")
    if not isinstance(body, bytes) or hashlib.sha256(body).hexdigest() != digest:
        raise ValueError("body does not match its sha256")
    kind = FetchErrorKind(error) if error is not None else None
    if not isinstance(redirects, int) or redirects < 0:
        raise ValueError("redirects")
    if truncated not in (0, 1) or not isinstance(bound, int) or bound < 1:
        raise ValueError("truncated/bound")
    if not isinstance(fetched, float | int) or not math.isfinite(fetched):
        raise ValueError("fetched_at")
    return CachedDocument(
        url=url,
        final_url=final_url,
        status=status,
        headers=Headers([(k, v) for k, v in pairs]),
        body=body,
        error=kind,
        redirects=redirects,
        truncated=bool(truncated),
        bound=bound,
        fetched_at=datetime.fromtimestamp(fetched, UTC),
        sha256=digest,
    )
