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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from urllib.parse import urlsplit

from packaging.licenses import InvalidLicenseExpression, canonicalize_license_expression

from ..errors import RegistryValidationError
from ..model import Purpose, Signal, SignalResult, Verdict
from ..reasons import ReasonCode
from ._url import (
    _is_ip,
    known_to_parse,
    lookup_keys,
    normalize_host,
    normalize_url,
    parse_for_match,
    parse_simple_for_match,
)

__all__ = [
    "MAX_NOTE_LENGTH",
    "MAX_SUBJECT_LENGTH",
    "Choice",
    "Entry",
    "SubjectKind",
    "entry_from_dict",
    "entry_to_dict",
    "evaluate",
    "evaluate_parsed",
    "lookup_keys",
    "make_entry",
    "normalize_host",
    "normalize_subject",
    "normalize_url",
    "parse_purposes",
    "parse_simple_for_match",
    "unavailable",
]

#: Bounds on free text, so a registry cannot be filled with megabyte-sized rows.
MAX_SUBJECT_LENGTH = 2048
MAX_NOTE_LENGTH = 2000
_MAX_WHO_LENGTH = 200
_LICENSE_SHAPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+-]*$")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


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
# Members by value, for plain strings (validation is then one dict lookup, not an enum call).
_KIND_OF = {k.value: k for k in SubjectKind}
_CHOICE_OF = {c.value: c for c in Choice}
_PURPOSE_OF = {p.value: p for p in Purpose}
# Members and values the hot paths use, bound once (``Enum.MEMBER`` and ``.value`` are
# attribute lookups through the enum machinery, slow enough to matter per URL).
_KIND_DOMAIN, _KIND_URL, _OPT_OUT = SubjectKind.DOMAIN, SubjectKind.URL, Choice.OPT_OUT
_SOURCES = {k: f"registry:{k.value}" for k in SubjectKind}
_MATCH_DOMAIN, _MATCH_EXACT, _MATCH_PREFIX = 1, 2, 3  # how a subject matches (``Entry._how``)


def _sort_key(rank: int, specificity: int, opt_out: bool) -> int:
    """(rank, specificity, opt-out) as one int that orders as the tuple does (specificity is a
    label count or a subject length: far below 2**39)."""
    return (rank << 40) | (specificity << 1) | (1 if opt_out else 0)


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
    # Derived once per entry for ``evaluate`` (not part of the value: no init, eq or repr):
    # how the subject matches (a _MATCH_ constant), the text it is matched against
    # (the domain, or the URL without its scheme), "." + the subject, and the sort key: rank,
    # then specificity, then opt-out, packed into one int (``_sort_key``). Atomic values only,
    # so the tuple costs the garbage collector nothing once it has seen it. ``_result`` is the
    # (immutable) result when the entry wins, made on its first win.
    _how: tuple[int, str, str, int] = field(init=False, repr=False, compare=False)
    _result: SignalResult | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        kind, subject = self.subject_kind, self.subject
        if kind is _KIND_DOMAIN:
            match, bare, specificity = _MATCH_DOMAIN, subject, subject.count(".") + 1
        else:
            bare = subject.split("://", 1)[1] if "://" in subject else subject  # no scheme
            match = _MATCH_EXACT if kind is _KIND_URL else _MATCH_PREFIX
            specificity = 0 if kind is _KIND_URL else len(bare)
        # _sort_key(rank, specificity, opt-out), inline: this runs for every entry built.
        key = (_RANK[kind] << 40) | (specificity << 1) | (self.choice is _OPT_OUT)
        object.__setattr__(self, "_how", (match, bare, "." + subject, key))
        object.__setattr__(self, "_result", None)

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
    if kind is _KIND_DOMAIN:
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
            purpose = _PURPOSE_OF.get(name)
            if purpose is not None:
                out.add(purpose)
                continue
            try:
                out.add(Purpose(name))
            except ValueError as e:
                known = ", ".join(p.value for p in Purpose)
                raise RegistryValidationError(f"unknown purpose {name!r} (known: {known})") from e
    if not out:
        raise RegistryValidationError("an entry needs at least one purpose")
    return frozenset(out)


#: ``parse_purposes`` results by the purposes given (a registry holds a handful of lists).
_PURPOSE_SETS: dict[tuple[object, ...], frozenset[Purpose]] = {}


def _purposes_of(values: Iterable[Purpose | str]) -> frozenset[Purpose]:
    """``parse_purposes(str(p) for p in values)``, remembered per distinct sequence.

    Raises:
        RegistryValidationError: as ``parse_purposes`` (failures are not remembered).
    """
    given = tuple(values)
    try:
        found = _PURPOSE_SETS.get(given)
    except TypeError:  # an unhashable value: no memo, parse_purposes refuses or converts it
        return parse_purposes(str(p) for p in given)
    if found is None:
        found = parse_purposes(str(p) for p in given)
        if len(_PURPOSE_SETS) < 256:
            _PURPOSE_SETS[given] = found
    return found


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
    kind = _KIND_OF.get(subject_kind) if type(subject_kind) is str else None
    if kind is None:
        try:
            kind = SubjectKind(subject_kind)
        except ValueError as e:
            raise RegistryValidationError(f"bad subject kind {subject_kind!r}") from e
    chosen = _CHOICE_OF.get(choice) if type(choice) is str else None
    if chosen is None:
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
    if not _ID.fullmatch(entry_id):
        raise RegistryValidationError(f"bad entry id {entry_id!r}")
    at = _utc(registered_at, "registered_at") if registered_at else datetime.now(UTC)
    return Entry(
        id=entry_id,
        subject_kind=kind,
        subject=normalize_subject(kind, subject),
        choice=chosen,
        purposes=_purposes_of(purposes),
        license=_check_license(license) if license else None,
        registered_by=who,
        registered_at=at,
        expires_at=_utc(expires_at, "expires_at") if expires_at else None,
        note=note or None,
        verified=bool(verified),
    )


#: The result when no entry matches (immutable, so one object serves every URL).
_NO_MATCH = SignalResult(Signal.REGISTRY, Verdict.NONE, source="registry")
_REGISTRY, _NONE, _DENY, _GRANT = Signal.REGISTRY, Verdict.NONE, Verdict.DENY, Verdict.GRANT
_OPT_OUT_REASONS = (ReasonCode.REGISTRY_OPT_OUT,)


def evaluate(
    entries: Iterable[Entry], url: str, purpose: Purpose, now: datetime
) -> tuple[SignalResult, Entry | None]:
    """The registry's verdict for ``url`` under ``purpose`` (SPEC.md §3.6), and the winner.

    Only unexpired entries whose purposes include ``purpose`` take part; the most specific
    match wins, an opt-out winning ties. Opt-out → DENY ``registry.opt-out`` (detail: entry id,
    raw: subject); opt-in → GRANT (detail: entry id); no match → NONE. A URL that cannot be
    normalised matches nothing.

    A domain matches its host and the host's parent domains (never an IP address's "parent"),
    a url entry the URL itself and a prefix entry every URL that starts with it, http and
    https alike; the winner has the greatest sort key (``Entry._how``), the first of equals.
    """
    if not entries and known_to_parse(url):
        return _NO_MATCH, None  # a URL the full parse accepts, and nothing to match
    return evaluate_parsed(entries, url, parse_for_match(url), purpose, now)


def evaluate_parsed(
    entries: Iterable[Entry],
    url: str,
    parsed: tuple[str, str, bool] | None,
    purpose: Purpose,
    now: datetime,
) -> tuple[SignalResult, Entry | None]:
    """:func:`evaluate` with ``parsed`` = ``parse_for_match(url)`` (or
    ``parse_simple_for_match``'s equal answer) already computed by the caller."""
    if parsed is None:
        return SignalResult(_REGISTRY, _NONE, raw=url, source="registry"), None
    if not entries:
        return _NO_MATCH, None
    host, bare, is_ip = parsed
    best = -1
    winner: Entry | None = None
    for entry in entries:
        if purpose not in entry.purposes:
            continue
        expires = entry.expires_at
        if expires is not None and now >= expires:
            continue
        match, subject, dotted, key = entry._how
        if match == _MATCH_DOMAIN:
            if host != subject and (is_ip or not host.endswith(dotted)):
                continue
        elif match == _MATCH_EXACT:
            if bare != subject:
                continue
        elif not bare.startswith(subject):
            continue
        if key > best:
            best, winner = key, entry
    if winner is None:
        return _NO_MATCH, None
    return _winner_result(winner), winner


def _winner_result(winner: Entry) -> SignalResult:
    result = winner._result
    if result is not None:
        return result
    source = _SOURCES[winner.subject_kind]
    if winner.choice is _OPT_OUT:
        result = SignalResult(
            _REGISTRY,
            _DENY,
            _OPT_OUT_REASONS,
            raw=winner.subject,
            source=source,
            detail=winner.id,
        )
    else:
        result = SignalResult(
            _REGISTRY, _GRANT, raw=winner.subject, source=source, detail=winner.id
        )
    object.__setattr__(winner, "_result", result)  # two threads at once store equal results
    return result


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
from ._json import entry_from_dict, entry_to_dict  # noqa: E402
