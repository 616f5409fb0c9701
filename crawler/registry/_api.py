"""What the registry service's routes share: its limits (``ServiceConfig``) and the error
answer type (``ApiError``, defined in ``crawler/errors.py``), apart from the routes (``app.py``)
and the serving (``service.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from filters.registry import Entry

from ..errors import ApiError

__all__ = ["ApiError", "ServiceConfig", "refuse_past_expiry"]


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    """Limits and switches of one service instance."""

    max_body: int = 1024 * 1024
    max_batch: int = 10_000
    allow_private: bool = False
    #: The whole proof fetch, every redirect and a trickling server included.
    fetch_timeout: float = 10.0
    #: Accept proofs over plain http on port 80 (they also cover https on 443).
    allow_http_proof: bool = False
    #: Proof fetches under way at once; one more is answered 503 at once.
    max_verifications: int = 4
    #: Challenges a client address may create at once, then one per ``challenge_refill`` s.
    challenge_burst: int = 10
    challenge_refill: float = 60.0
    max_pending_challenges: int = 10_000
    max_json_depth: int = 32
    #: A client silent this long within a request, or idle between requests, is dropped.
    stall_timeout: float = 30.0
    #: On ``stop()``, requests under way get this long to finish, then are cancelled.
    shutdown_grace: float = 5.0


def refuse_past_expiry(entry: Entry) -> None:
    if entry.expires_at is not None and entry.expires_at <= datetime.now(UTC):
        raise ApiError(400, f"expires_at {entry.expires_at.isoformat()} is in the past")
