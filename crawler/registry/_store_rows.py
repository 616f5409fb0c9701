"""The registry database's schema and how an ``Entry`` becomes a row and back.

``MIGRATIONS`` are applied in order by ``store.py`` (``PRAGMA user_version`` counts them).
``row_entry`` shares ``Entry`` objects between lookups, keyed by their whole row: entries are
immutable values, so equal rows give equal entries and a changed row is never served from the
cache (bounded: past ``_ENTRY_CACHE_LIMIT`` rows it starts over).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from filters.model import Purpose
from filters.registry import Choice, Entry, SubjectKind

__all__ = ["COLUMNS", "MIGRATIONS", "SCHEMA_VERSION", "entry_row", "row_entry"]

#: Migrations, in order; ``PRAGMA user_version`` is the number applied so far.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE entries (
        id TEXT PRIMARY KEY,
        host TEXT NOT NULL,
        subject_kind TEXT NOT NULL CHECK (subject_kind IN ('domain', 'prefix', 'url')),
        subject TEXT NOT NULL,
        choice TEXT NOT NULL CHECK (choice IN ('opt-out', 'opt-in')),
        purposes TEXT NOT NULL,
        license TEXT,
        registered_by TEXT NOT NULL,
        registered_at TEXT NOT NULL,
        expires_at TEXT,
        note TEXT,
        verified INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX entries_host ON entries (host);
    CREATE TABLE tokens (
        name TEXT PRIMARY KEY,
        sha256 TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE challenges (
        id TEXT PRIMARY KEY,
        origin TEXT NOT NULL,
        token TEXT NOT NULL,
        entry TEXT NOT NULL,
        expires_at TEXT NOT NULL
    );
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)

COLUMNS = (
    "id, host, subject_kind, subject, choice, purposes, license, registered_by, "
    "registered_at, expires_at, note, verified"
)
#: Rows whose ``Entry`` is kept for reuse; past this the cache starts over (bounded memory).
_ENTRY_CACHE_LIMIT = 65_536
_PURPOSES: dict[str, frozenset[Purpose]] = {}
_KINDS = {k.value: k for k in SubjectKind}
_CHOICES = {c.value: c for c in Choice}
_ENTRIES: dict[tuple[object, ...], Entry] = {}


def _purposes(text: str) -> frozenset[Purpose]:
    cached = _PURPOSES.get(text)
    if cached is None:
        cached = frozenset(Purpose(p) for p in text.split(",") if p)
        _PURPOSES[text] = cached
    return cached


def row_entry(row: tuple[Any, ...]) -> Entry:
    """The ``Entry`` of a row, shared between lookups (keyed by the whole row)."""
    entry = _ENTRIES.get(row)
    if entry is None:
        entry = _build_entry(row)
        if len(_ENTRIES) >= _ENTRY_CACHE_LIMIT:
            _ENTRIES.clear()
        _ENTRIES[row] = entry
    return entry


def _build_entry(row: tuple[Any, ...]) -> Entry:
    # Rows were validated by make_entry before they were written; rebuild without re-checking
    # (TEXT NOT NULL columns hold str). Arguments by position, in Entry's field order.
    kind, choice = _KINDS.get(row[2]), _CHOICES.get(row[4])
    return Entry(
        row[0],
        SubjectKind(row[2]) if kind is None else kind,
        row[3],
        Choice(row[4]) if choice is None else choice,
        _purposes(row[5]),
        row[6],
        row[7],
        datetime.fromisoformat(row[8]),
        None if row[9] is None else datetime.fromisoformat(row[9]),
        row[10],
        bool(row[11]),
    )


def entry_row(entry: Entry) -> tuple[object, ...]:
    return (
        entry.id,
        entry.host,
        entry.subject_kind.value,
        entry.subject,
        entry.choice.value,
        ",".join(sorted(p.value for p in entry.purposes)),
        entry.license,
        entry.registered_by,
        entry.registered_at.isoformat(),
        entry.expires_at.isoformat() if entry.expires_at else None,
        entry.note,
        1 if entry.verified else 0,
    )
