"""The site-owner flow of the registry service: a challenge, then its proof (SPEC.md §3.6).

A site owner asks for a challenge for their origin and an entry (validated at once and kept
until verified, bounded in size); they publish the challenge line at
``/.well-known/heed-registry.txt``; verification fetches it (``verify.py``: the address guard,
one deadline, a bounded pool) and records the entry as verified. The entry covers only what
was proven, checked at both steps (``verify.check_scope``). Challenges are rate-limited per
client address and capped in number.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from filters.registry import entry_from_dict, entry_to_dict

from . import verify
from ._api import ApiError, refuse_past_expiry

if TYPE_CHECKING:
    from .service import RegistryServer

__all__ = ["create_challenge", "verify_challenge"]

_CHALLENGE_TTL = timedelta(hours=1)
#: Fields of a challenge's entry kept until it is verified (the validated entry's own values).
_CHALLENGE_FIELDS = (
    "subject_kind",
    "subject",
    "choice",
    "purposes",
    "license",
    "registered_by",
    "expires_at",
    "note",
)


def create_challenge(
    server: RegistryServer, client: str, read_body: Callable[[], Any]
) -> dict[str, object]:
    """``POST /v1/challenges``: a challenge for the owner of an origin to publish. The body
    (``{"origin": …, "entry": {…}}``) is read only once the client is within its rate."""
    wait = server.challenge_limiter.take(client)
    if wait:
        raise ApiError(
            429, f"too many challenges from this address; retry in {wait} s",
            {"Retry-After": str(wait)},
        )  # fmt: skip
    body = read_body()
    if not isinstance(body, dict) or not isinstance(body.get("origin"), str):
        raise ApiError(400, 'expected {"origin": "https://…", "entry": {...}}')
    origin = verify.normalize_origin(body["origin"])
    raw_entry = body.get("entry")
    if not isinstance(raw_entry, dict):
        raise ApiError(400, "entry must be an object")
    fields = {k: v for k, v in raw_entry.items() if k not in ("id", "verified")}
    fields["registered_by"] = f"owner:{origin}"
    entry = entry_from_dict(fields)  # validated now, so the owner learns of errors early
    refuse_past_expiry(entry)
    verify.check_scope(entry, origin, allow_http=server.config.allow_http_proof)
    kept = entry_to_dict(entry)  # only the validated fields are kept (bounded in size)
    kept_json = json.dumps({k: kept[k] for k in _CHALLENGE_FIELDS})
    challenge_id, token = secrets.token_urlsafe(16), secrets.token_urlsafe(24)
    expires = datetime.now(UTC) + _CHALLENGE_TTL
    limit = server.config.max_pending_challenges
    if not server.store.put_challenge(
        challenge_id, origin, token, kept_json, expires, max_pending=limit
    ):
        raise ApiError(429, f"{limit} challenges are pending; retry later", {"Retry-After": "60"})
    return {
        "challenge_id": challenge_id,
        "origin": origin,
        "well_known_url": origin + verify.WELL_KNOWN_PATH,
        "content": verify.challenge_line(token),
        "expires_at": expires.isoformat(),
        "verify_url": f"/v1/challenges/{challenge_id}/verify",
    }


def verify_challenge(server: RegistryServer, challenge_id: str) -> dict[str, object]:
    """``POST /v1/challenges/{id}/verify``: fetch the proof and, when it holds, the entry."""
    found = server.store.get_challenge(challenge_id)
    if found is None:
        raise ApiError(404, "no such challenge (unknown or already used)")
    origin, token, fields_json, expires = found
    if datetime.now(UTC) >= expires:
        raise ApiError(410, "challenge expired; ask for a new one")
    config = server.config
    fields = json.loads(fields_json)
    fields["verified"] = True
    fields["registered_at"] = None
    entry = entry_from_dict(fields)
    # Again at verification: a challenge stored under older rules must not outgrow its proof.
    verify.check_scope(entry, origin, allow_http=config.allow_http_proof)
    if not server.verifications.acquire(blocking=False):
        raise ApiError(
            503, "too many verifications under way; retry shortly", {"Retry-After": "10"}
        )
    try:
        text = verify.fetch_proof(
            origin, allow_private=config.allow_private, timeout=config.fetch_timeout
        )
    finally:
        server.verifications.release()
    if not verify.proof_matches(text, token):
        raise verify.VerificationFailed(
            f"{origin}{verify.WELL_KNOWN_PATH} does not contain the challenge line"
        )
    if not server.store.complete_challenge(challenge_id, entry):
        raise ApiError(404, "challenge already used")
    return {"entry": entry_to_dict(entry)}
