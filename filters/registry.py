"""The consent registry's data model, validation and matching (SPEC.md §3.6).

A registry entry says, for a *subject* (a ``domain`` with its subdomains, a URL ``prefix`` or
one exact ``url``), whether its owner opts out of or into some purposes, optionally under a
licence. This module is pure: it validates entries (``make_entry``), computes the keys a store
indexes them by (``lookup_keys``) and picks the entry that decides a URL (``evaluate``). Storage,
the HTTP service and the clients live in ``crawler/registry/``.

Choices where SPEC.md §3.6 is silent (conservative, documented in docs/registry.md):

- Specificity: url > prefix > domain; among prefixes the longer wins; among domains the one
  with more labels wins (``a.example.com`` is more specific than ``example.com``). On equal
  specificity an opt-out wins.
- ``http`` and ``https`` are treated as the same site for ``prefix`` and ``url`` subjects (an
  owner registering ``https://example.com/blog/`` means the blog, whatever the scheme). A prefix
  is a plain prefix of the normalised URL string, as the word says.
- An entry with an expiry is expired from that instant on (``now >= expires_at``).
- Domain subjects must have at least two labels (``localhost`` and IP addresses excepted), so
  nobody can opt a whole top-level domain in or out.
- Licences must be a single SPDX id from the SPDX list (canonical case is restored) or a
  ``LicenseRef-…`` id; expressions (``MIT OR Apache-2.0``) are refused.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from urllib.parse import urlsplit

from packaging.licenses import InvalidLicenseExpression, canonicalize_license_expression

from ._registry_url import _is_ip, normalize_host, normalize_url, split_url
from .errors import RegistryValidationError
from .model import Purpose, Signal, SignalResult, Verdict
from .reasons import ReasonCode

__all__ = [
    "MAX_NOTE_LENGTH",
    "MAX_SUBJECT_LENGTH",
    "Choice",
    "Entry",
    "SubjectKind",
    "entry_from_dict",
    "entry_to_dict",
    "evaluate",
    "lookup_keys",
    "make_entry",
    "normalize_host",
    "normalize_subject",
    "normalize_url",
    "parse_purposes",
    "unavailable",
]

#: Bounds on free text, so a registry cannot be filled with megabyte-sized rows.
MAX_SUBJECT_LENGTH = 2048
MAX_NOTE_LENGTH = 2000
_MAX_WHO_LENGTH = 200
_LICENSE_SHAPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+-]*$")


class SubjectKind(StrEnum):
    """What an entry is about (SPEC.md §3.6)."""

    DOMAIN = "domain"
    PREFIX = "prefix"
    URL = "url"


class Choice(StrEnum):
    """What the subject's owner chose."""

    OPT_OUT = "opt-out"
    OPT_IN = "opt-in"


_RANK = {SubjectKind.URL: 3, SubjectKind.PREFIX: 2, SubjectKind.DOMAIN: 1}


@dataclass(frozen=True, slots=True)
class Entry:
    """One registry entry; build it with ``make_entry`` so that it is validated."""

    id: str
    subject_kind: SubjectKind
    subject: str
    choice: Choice
    purposes: frozenset[Purpose]
    license: str | None
    registered_by: str
    registered_at: datetime
    expires_at: datetime | None
    note: str | None
    verified: bool

    @property
    def host(self) -> str:
        """The host the entry is indexed by (the domain itself, or the URL's host)."""
        if self.subject_kind is SubjectKind.DOMAIN:
            return self.subject
        return urlsplit(self.subject).hostname or ""

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at


def normalize_subject(kind: SubjectKind, subject: str) -> str:
    """The canonical form of a subject of the given kind.

    Raises:
        RegistryValidationError: the subject is not valid for its kind.
    """
    if not subject or len(subject) > MAX_SUBJECT_LENGTH:
        raise RegistryValidationError(f"bad subject: empty or longer than {MAX_SUBJECT_LENGTH}")
    if kind is SubjectKind.DOMAIN:
        if "/" in subject or (":" in subject and not _is_ip(subject)):
            raise RegistryValidationError(f"bad domain {subject!r}: give a host name, not a URL")
        host = normalize_host(subject)
        if "." not in host and host != "localhost" and not _is_ip(host):
            raise RegistryValidationError(f"bad domain {host!r}: a single label is too broad")
        return host
    return normalize_url(subject)


def parse_purposes(values: Iterable[str]) -> frozenset[Purpose]:
    """Purposes from strings (each may be comma-separated).

    Raises:
        RegistryValidationError: an unknown purpose, or none at all.
    """
    out: set[Purpose] = set()
    for value in values:
        for item in str(value).split(","):
            name = item.strip().lower()
            if not name:
                continue
            try:
                out.add(Purpose(name))
            except ValueError as e:
                known = ", ".join(p.value for p in Purpose)
                raise RegistryValidationError(f"unknown purpose {name!r} (known: {known})") from e
    if not out:
        raise RegistryValidationError("an entry needs at least one purpose")
    return frozenset(out)


def _check_license(license_id: str) -> str:
    if not _LICENSE_SHAPE.match(license_id):
        raise RegistryValidationError(f"bad licence id {license_id!r}: one SPDX id expected")
    try:
        return str(canonicalize_license_expression(license_id))
    except InvalidLicenseExpression as e:
        raise RegistryValidationError(
            f"bad licence id {license_id!r}: not on the SPDX list and not LicenseRef-…"
        ) from e


def _utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None:
        raise RegistryValidationError(f"{name} must carry a time zone")
    return value.astimezone(UTC)


def make_entry(
    subject_kind: SubjectKind | str,
    subject: str,
    choice: Choice | str,
    purposes: Iterable[Purpose | str],
    *,
    registered_by: str,
    license: str | None = None,
    registered_at: datetime | None = None,
    expires_at: datetime | None = None,
    note: str | None = None,
    verified: bool = False,
    id: str | None = None,
) -> Entry:
    """Build a validated ``Entry`` (subject normalised, licence canonicalised, times in UTC).

    A missing ``id`` gets a fresh UUID; a missing ``registered_at`` is now.

    Raises:
        RegistryValidationError: any field is invalid; the message names it.
    """
    try:
        kind = SubjectKind(subject_kind)
    except ValueError as e:
        raise RegistryValidationError(f"bad subject kind {subject_kind!r}") from e
    try:
        chosen = Choice(choice)
    except ValueError as e:
        raise RegistryValidationError(f"bad choice {choice!r} (opt-out or opt-in)") from e
    who = registered_by.strip()
    if not who or len(who) > _MAX_WHO_LENGTH:
        raise RegistryValidationError("registered_by must be 1-200 characters")
    if note is not None and len(note) > MAX_NOTE_LENGTH:
        raise RegistryValidationError(f"note longer than {MAX_NOTE_LENGTH} characters")
    entry_id = id if id is not None else str(uuid.uuid4())
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}", entry_id):
        raise RegistryValidationError(f"bad entry id {entry_id!r}")
    at = _utc(registered_at, "registered_at") if registered_at else datetime.now(UTC)
    return Entry(
        id=entry_id,
        subject_kind=kind,
        subject=normalize_subject(kind, subject),
        choice=chosen,
        purposes=parse_purposes(str(p) for p in purposes),
        license=_check_license(license) if license else None,
        registered_by=who,
        registered_at=at,
        expires_at=_utc(expires_at, "expires_at") if expires_at else None,
        note=note or None,
        verified=bool(verified),
    )


@lru_cache(maxsize=16384)
def _parse(url: str) -> tuple[str, str] | None:
    """(host, normalised URL) of ``url``, or None when it is not an http(s) URL.

    Cached: a crawler looks a URL up (``lookup_keys``) and then decides it (``evaluate``).
    """
    try:
        return split_url(url)
    except RegistryValidationError:
        return None


def lookup_keys(url: str) -> tuple[str, ...]:
    """The URL's host and each of its parent domains, most specific first.

    These are the index keys under which a store finds every entry that may match the URL.
    A URL that is not an absolute http(s) URL has no keys (and matches no entry).
    """
    parsed = _parse(url)
    if parsed is None:
        return ()
    host = parsed[0]
    if _is_ip(host):
        return (host,)
    keys = [host]
    dot = host.find(".")
    while dot >= 0:  # the text after each dot: the parent domains
        keys.append(host[dot + 1 :])
        dot = host.find(".", dot + 1)
    return tuple(keys)


def _unscheme(url: str) -> str:
    # http and https name the same site for registry purposes (module docstring).
    return url.split("://", 1)[1] if "://" in url else url


def _match_rank(entry: Entry, host: str, bare_url: str) -> tuple[int, int] | None:
    kind = entry.subject_kind
    if kind is SubjectKind.DOMAIN:
        subject = entry.subject
        if host == subject or (host.endswith("." + subject) and not _is_ip(host)):
            return (_RANK[kind], subject.count(".") + 1)
        return None
    bare_subject = _unscheme(entry.subject)
    if kind is SubjectKind.URL:
        return (_RANK[kind], 0) if bare_url == bare_subject else None
    return (_RANK[kind], len(bare_subject)) if bare_url.startswith(bare_subject) else None


#: The result when no entry matches (immutable, so one object serves every URL).
_NO_MATCH = SignalResult(Signal.REGISTRY, Verdict.NONE, source="registry")


def evaluate(
    entries: Iterable[Entry], url: str, purpose: Purpose, now: datetime
) -> tuple[SignalResult, Entry | None]:
    """The registry's verdict for ``url`` under ``purpose`` (SPEC.md §3.6), and the winner.

    Only unexpired entries whose purposes include ``purpose`` take part; the most specific
    match wins, an opt-out winning ties. Opt-out → DENY ``registry.opt-out`` (detail: entry id,
    raw: subject); opt-in → GRANT (detail: entry id); no match → NONE. A URL that cannot be
    normalised matches nothing.
    """
    parsed = _parse(url)
    if parsed is None:
        return SignalResult(Signal.REGISTRY, Verdict.NONE, raw=url, source="registry"), None
    if not entries:
        return _NO_MATCH, None
    host, norm = parsed
    bare = _unscheme(norm)
    best: tuple[int, int, int] | None = None
    winner: Entry | None = None
    for entry in entries:
        if purpose not in entry.purposes or entry.expired(now):
            continue
        rank = _match_rank(entry, host, bare)
        if rank is None:
            continue
        key = (*rank, 1 if entry.choice is Choice.OPT_OUT else 0)
        if best is None or key > best:
            best, winner = key, entry
    if winner is None:
        return _NO_MATCH, None
    source = f"registry:{winner.subject_kind.value}"
    if winner.choice is Choice.OPT_OUT:
        result = SignalResult(
            Signal.REGISTRY,
            Verdict.DENY,
            (ReasonCode.REGISTRY_OPT_OUT,),
            raw=winner.subject,
            source=source,
            detail=winner.id,
        )
    else:
        result = SignalResult(
            Signal.REGISTRY, Verdict.GRANT, raw=winner.subject, source=source, detail=winner.id
        )
    return result, winner


def unavailable(detail: str) -> SignalResult:
    """The result for a URL the registry could not answer: ERROR ``registry.unavailable``."""
    return SignalResult(
        Signal.REGISTRY,
        Verdict.ERROR,
        (ReasonCode.REGISTRY_UNAVAILABLE,),
        source="registry",
        detail=detail,
    )


# Serialisation lives in its own module; re-exported here as part of the public surface.
from ._registry_json import entry_from_dict, entry_to_dict  # noqa: E402
