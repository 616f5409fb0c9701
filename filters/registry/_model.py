"""The registry's data model: entries, what they are about, and their validation (SPEC.md §3.6).

``Entry`` is an immutable value. Everything ``evaluate`` (``_match.py``) needs from an entry is
derived once, when the entry is made (``Entry.__post_init__``): how its subject matches, its
sort key and the ``SignalResult`` it gives when it wins. Nothing is set on an entry afterwards.

Choices where SPEC.md §3.6 is silent are listed in the package's docstring
(``filters/registry/__init__.py``) and in docs/registry.md.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from urllib.parse import urlsplit

from packaging.licenses import InvalidLicenseExpression, canonicalize_license_expression

from ..errors import RegistryValidationError
from ..model import Purpose, Signal, SignalResult, Verdict
from ..reasons import ReasonCode
from ._url import _is_ip, normalize_host, normalize_url

__all__ = [
    "MAX_NOTE_LENGTH",
    "MAX_SUBJECT_LENGTH",
    "Choice",
    "Entry",
    "SubjectKind",
    "make_entry",
    "normalize_subject",
    "parse_purposes",
    "winner_result",
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
# attribute lookups through the enum machinery, slow enough to matter per entry).
_KIND_DOMAIN, _KIND_URL, _OPT_OUT = SubjectKind.DOMAIN, SubjectKind.URL, Choice.OPT_OUT
_SOURCES = {k: f"registry:{k.value}" for k in SubjectKind}
_REGISTRY, _DENY, _GRANT = Signal.REGISTRY, Verdict.DENY, Verdict.GRANT
_OPT_OUT_REASONS = (ReasonCode.REGISTRY_OPT_OUT,)
#: How a subject matches (the first item of ``Entry._how``), one per subject kind.
MATCH_DOMAIN, MATCH_EXACT, MATCH_PREFIX = 1, 2, 3
_SOURCE_OF_MATCH = {
    MATCH_DOMAIN: _SOURCES[SubjectKind.DOMAIN],
    MATCH_EXACT: _SOURCES[SubjectKind.URL],
    MATCH_PREFIX: _SOURCES[SubjectKind.PREFIX],
}


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
    # Derived when the entry is made, for ``evaluate`` (not part of the value: no init, eq or
    # repr): how the subject matches (a MATCH_ constant), the text it is matched against (the
    # domain, or the URL without its scheme), "." + the subject, and the sort key: rank, then
    # specificity, then opt-out, packed into one int (``_sort_key``). Atomic values only, so
    # the tuple costs the garbage collector nothing once it has seen it. The result the entry
    # gives when it wins is ``winner_result(entry)``, made on its first win and cached by
    # value (entries are many, winners fewer: making it here would cost every entry built).
    _how: tuple[int, str, str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # A frozen dataclass sets its own derived field here, once, before anyone sees it.
        kind, subject = self.subject_kind, self.subject
        if kind is _KIND_DOMAIN:
            match, bare, specificity = MATCH_DOMAIN, subject, subject.count(".") + 1
        else:
            bare = subject.split("://", 1)[1] if "://" in subject else subject  # no scheme
            match = MATCH_EXACT if kind is _KIND_URL else MATCH_PREFIX
            specificity = 0 if kind is _KIND_URL else len(bare)
        # _sort_key(rank, specificity, opt-out), inline: this runs for every entry built.
        key = (_RANK[kind] << 40) | (specificity << 1) | (self.choice is _OPT_OUT)
        object.__setattr__(self, "_how", (match, bare, "." + subject, key))

    @property
    def host(self) -> str:
        """The host the entry is indexed by (the domain itself, or the URL's host)."""
        if self.subject_kind is SubjectKind.DOMAIN:
            return self.subject
        return urlsplit(self.subject).hostname or ""

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at


def winner_result(entry: Entry) -> SignalResult:
    """The registry's result when ``entry`` decides a URL: DENY ``registry.opt-out`` for an
    opt-out, GRANT for an opt-in (raw: the subject, detail: the entry id)."""
    return _result_of(entry._how[0], entry._how[3] & 1, entry.subject, entry.id)


@lru_cache(maxsize=65536)
def _result_of(match: int, opt_out: int, subject: str, entry_id: str) -> SignalResult:
    # By value (a pure function of immutable arguments): equal entries share one result.
    source = _SOURCE_OF_MATCH[match]
    if opt_out:
        return SignalResult(_REGISTRY, _DENY, _OPT_OUT_REASONS, subject, source, entry_id)
    return SignalResult(_REGISTRY, _GRANT, (), subject, source, entry_id)


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


@lru_cache(maxsize=256)
def _purposes_of_texts(given: tuple[str, ...]) -> frozenset[Purpose]:
    """``parse_purposes(given)`` for a tuple of strings (a registry holds a handful of lists).

    Raises:
        RegistryValidationError: as ``parse_purposes`` (``lru_cache`` keeps no failure).
    """
    return parse_purposes(given)


def _purposes_of(values: Iterable[Purpose | str]) -> frozenset[Purpose]:
    """``parse_purposes(str(p) for p in values)``; strings (``Purpose`` members are strings)
    go through a cache keyed by the tuple of them, anything else is parsed afresh.

    Raises:
        RegistryValidationError: as ``parse_purposes``.
    """
    given = tuple(values)
    if all(type(p) is str or type(p) is Purpose for p in given):
        return _purposes_of_texts(given)
    return parse_purposes(str(p) for p in given)


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
