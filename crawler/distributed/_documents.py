"""Raw signal documents (``FetchOutcome``) to and from the bytes kept in Redis.

What is shared between workers is what was fetched (status, headers, body, time), never a
parsed policy: each worker parses the same bytes with its own engine, so a shared entry can
never carry a different reading than a local fetch would have.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from filters import FetchErrorKind, FetchOutcome, Headers

__all__ = ["decode_documents", "encode_documents"]


def _outcome_json(o: FetchOutcome) -> dict[str, Any]:
    return {
        "url": o.url,
        "status": o.status,
        "headers": [list(pair) for pair in o.headers.items()],
        "body": base64.b64encode(o.body).decode("ascii"),
        "error": o.error.value if o.error is not None else None,
        "final_url": o.final_url,
        "redirects": o.redirects,
        "truncated": o.truncated,
        "fetched_at": o.fetched_at.isoformat() if o.fetched_at is not None else None,
    }


def _outcome(d: Mapping[str, Any]) -> FetchOutcome:
    at = d.get("fetched_at")
    error = d.get("error")
    return FetchOutcome(
        url=str(d["url"]),
        status=None if d.get("status") is None else int(d["status"]),
        headers=Headers((str(k), str(v)) for k, v in d.get("headers") or ()),
        body=base64.b64decode(d.get("body") or ""),
        error=FetchErrorKind(error) if error is not None else None,
        final_url=d.get("final_url"),
        redirects=int(d.get("redirects") or 0),
        truncated=bool(d.get("truncated")),
        fetched_at=datetime.fromisoformat(at) if at else None,
    )


def encode_documents(docs: Mapping[str, FetchOutcome]) -> bytes:
    """The documents of one load, by URL, as Redis stores them."""
    return json.dumps({url: _outcome_json(o) for url, o in docs.items()}).encode("utf-8")


def decode_documents(raw: bytes) -> dict[str, FetchOutcome]:
    """The documents of :func:`encode_documents`; raises ``ValueError`` (or ``KeyError``) on
    anything else: the caller then treats the origin as unreachable (fail closed)."""
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("not a documents object")
    return {str(url): _outcome(d) for url, d in data.items()}
