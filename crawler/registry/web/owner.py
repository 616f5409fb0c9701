""" "Opt out my site" and "What is registered for my site": the page's registry side.

The challenge and its verification are the service's own (``crawler.registry.site_owner``:
validation, the scope rules of SPEC.md §3.6 at both steps, the guarded proof fetch, the
pending-challenge cap); this module only turns the page's form fields into the entry those
functions take. They run on the service's own state (``RegistryServer``: the store, the
limits, the bound on proof fetches under way, the challenge rate limiter), shared with the JSON
API when the page is part of the service's app.

An entry made here is always an ``opt-out`` (the page is for opting out); its subject is what
the owner asks for, within what the proof covers: the whole origin (a ``prefix`` of
``<origin>/``), one path prefix or one URL on it, or a whole domain (which needs the proof on
``https://<domain>``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from filters.errors import RegistryValidationError
from filters.model import Purpose
from filters.registry import Entry, SubjectKind, entry_to_dict, evaluate, normalize_url

from .. import site_owner, verify
from ..service import RegistryServer
from ..store import RegistryStore

__all__ = [
    "SCOPES",
    "Registered",
    "lookup",
    "pending_challenge",
    "start_challenge",
    "verify_challenge",
]

#: Longest URL the lookup takes (the service's own bound is 8 KiB).
_MAX_URL = 2048


#: The form's choices of what to opt out.
SCOPES = ("site", "prefix", "url", "domain")


def _subject(origin: str, kind: str, path: str) -> tuple[str, str]:
    """The entry's ``(subject_kind, subject)`` for the form's choice of scope.

    Raises:
        RegistryValidationError: an unknown scope or a bad origin.
    """
    if kind not in SCOPES:
        raise RegistryValidationError(f"choose what to opt out: one of {', '.join(SCOPES)}")
    base = verify.normalize_origin(origin.strip())
    path = path.strip() or "/"
    if not path.startswith("/"):
        path = "/" + path
    if kind == "domain":
        return str(SubjectKind.DOMAIN), urlsplit(base).hostname or ""
    if kind == "url":
        return str(SubjectKind.URL), base + path
    return str(SubjectKind.PREFIX), base + (path if kind == "prefix" else "/")  # site: "/"


def start_challenge(
    state: RegistryServer,
    client: str,
    *,
    origin: str,
    scope: str,
    path: str,
    purposes: list[str],
    note: str,
) -> dict[str, object]:
    """A challenge for ``origin`` and an opt-out entry of the chosen scope.

    Raises:
        ApiError: rate limited (429) or too many pending challenges.
        RegistryValidationError: a bad origin, purpose or note, or a subject the proof on
            ``origin`` would not cover (SPEC.md §3.6).
    """
    kind, subject = _subject(origin, scope, path)
    entry: dict[str, Any] = {
        "subject_kind": kind,
        "subject": subject,
        "choice": "opt-out",
        "purposes": purposes,
        "note": note.strip() or None,
    }
    body = {"origin": origin, "entry": entry}
    return site_owner.create_challenge(state, client, lambda: body)


def verify_challenge(state: RegistryServer, challenge_id: str) -> dict[str, object]:
    """Fetch the proof of ``challenge_id`` and record its entry (blocking: call in a thread).

    Raises:
        ApiError: unknown, used or expired challenge; too many verifications under way.
        VerificationFailed: the proof could not be fetched or does not hold the line.
        RegistryValidationError: the entry no longer fits what the proof covers.
    """
    return site_owner.verify_challenge(state, challenge_id)


def pending_challenge(state: RegistryServer, challenge_id: str) -> dict[str, object] | None:
    """What to publish for a challenge still pending (shown again after a failed attempt),
    or None when it is unknown, used or expired."""
    found = state.store.get_challenge(challenge_id) if len(challenge_id) <= 64 else None
    if found is None:
        return None
    origin, token, _fields, expires = found
    if datetime.now(UTC) >= expires:
        return None
    return {
        "challenge_id": challenge_id,
        "origin": origin,
        "well_known_url": origin + verify.WELL_KNOWN_PATH,
        "content": verify.challenge_line(token),
        "expires_at": expires.isoformat(),
    }


@dataclass(frozen=True, slots=True)
class Registered:
    """One entry matching a looked-up URL, and what it decides per purpose."""

    entry: dict[str, object]
    decides: tuple[str, ...]  # purposes for which this entry is the winner
    expired: bool


def lookup(store: RegistryStore, url: str) -> list[Registered]:
    """The entries that match ``url`` (expired ones included, marked), most specific first.

    Raises:
        RegistryValidationError: the URL cannot be normalised.
        RegistryError: the store could not be read.
    """
    if len(url) > _MAX_URL:
        raise RegistryValidationError("the URL is longer than 2048 characters")
    normalize_url(url)  # a URL that matches nothing is told so, not answered "none"
    now = datetime.now(UTC)
    candidates = store.candidates([url]).get(url, ())
    out: list[Registered] = []
    for entry in candidates:
        if not _matches(entry, url):
            continue
        decides = tuple(p.value for p in Purpose if _winner(candidates, url, p, now) is entry)
        out.append(Registered(entry_to_dict(entry), decides, entry.expired(now)))
    return out


def _matches(entry: Entry, url: str) -> bool:
    # evaluate() ignores expiry only through its clock: judge the match at the entry's
    # registration time, for one of its own purposes.
    at = entry.registered_at or datetime.now(UTC)
    purpose = next(iter(entry.purposes))
    _, winner = evaluate((entry,), url, purpose, at)
    return winner is entry


def _winner(entries: tuple[Entry, ...], url: str, purpose: Purpose, now: datetime) -> Entry | None:
    return evaluate(entries, url, purpose, now)[1]
