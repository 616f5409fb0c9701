"""What earlier runs in an output folder decided, indexed on disk for a resume (bounded memory).

A folder of a long crawl holds millions of decisions and frontier entries; holding them in
Python sets while the rules of ``crawler/resume.py`` are applied would cost gigabytes at the
very start of a rerun. :class:`ResumeIndex` streams the parts and the frontier log, a batch
at a time, into an SQLite file in a private scratch folder, answers the questions of a resume
with queries, and hands the done set and the frontier to the run's ledger as streams. The
file is deleted by :meth:`ResumeIndex.close` (and if the index is dropped without closing).

Tables (URLs in the form the spider requests them, as the parts hold them):

- ``dec``: each URL with a ``decisions/`` row; ``kept`` / ``excluded``: some row said so;
- ``rec``: each URL with a ``records/`` row;
- ``done``: the done set (an excluded decision, or a record);
- ``front``: the frontier, each URL once in the order first logged, at its smallest depth.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from collections.abc import Iterable, Iterator
from pathlib import Path

from .urlstate.scratch import open_scratch_db

__all__ = ["ResumeIndex"]

#: Rows per read of a query's answer.
_FETCH = 2000


class ResumeIndex:
    """A scratch index of an output folder's earlier runs (see the module docstring)."""

    def __init__(self, scratch_parent: Path | None = None) -> None:
        self.scratch = Path(tempfile.mkdtemp(prefix="heed-resume-", dir=scratch_parent))
        self._cleanup = weakref.finalize(self, shutil.rmtree, self.scratch, ignore_errors=True)
        self._db = open_scratch_db(self.scratch / "resume.sqlite3")
        for table in (
            "dec (url TEXT PRIMARY KEY, kept INTEGER NOT NULL, excluded INTEGER NOT NULL)",
            "rec (url TEXT PRIMARY KEY)",
            "done (url TEXT PRIMARY KEY)",
            "front (url TEXT PRIMARY KEY, seq INTEGER NOT NULL, depth INTEGER NOT NULL)",
        ):
            self._db.execute(f"CREATE TABLE {table} WITHOUT ROWID")
        self._seq = 0

    # ------------------------------------------------------------------ filling

    def add_decisions(self, rows: Iterable[tuple[str, bool]]) -> None:
        """Decision rows (url, allowed) of one batch."""
        self._many(
            "INSERT INTO dec VALUES (?, ?, ?) ON CONFLICT(url) DO UPDATE SET"
            " kept = max(kept, excluded.kept), excluded = max(excluded, excluded.excluded)",
            ((url, int(bool(allowed)), int(not allowed)) for url, allowed in rows),
        )

    def add_records(self, urls: Iterable[str]) -> None:
        """The URLs of one batch of record rows."""
        self._many("INSERT OR IGNORE INTO rec VALUES (?)", ((u,) for u in urls))

    def add_frontier(self, entries: Iterable[tuple[str, int]]) -> None:
        """Frontier entries (url, depth) in log order."""

        def rows() -> Iterator[tuple[str, int, int]]:
            for url, depth in entries:
                self._seq += 1
                yield url, self._seq, depth

        self._many(
            "INSERT INTO front VALUES (?, ?, ?) ON CONFLICT(url) DO UPDATE SET"
            " depth = min(depth, excluded.depth)",
            rows(),
        )

    def settle(self) -> None:
        """Every part and the log are in: build the done set (excluded, or recorded)."""
        self._db.execute("BEGIN")
        self._db.execute("INSERT OR IGNORE INTO done SELECT url FROM dec WHERE excluded = 1")
        self._db.execute("INSERT OR IGNORE INTO done SELECT url FROM rec")
        self._db.execute("COMMIT")

    def _many(self, sql: str, rows: Iterable[tuple[object, ...]]) -> None:
        self._db.execute("BEGIN")
        try:
            self._db.executemany(sql, rows)
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # ------------------------------------------------------------------ answers

    def _count(self, sql: str) -> int:
        return int(self._db.execute(sql).fetchone()[0])

    def done_count(self) -> int:
        return self._count("SELECT count(*) FROM done")

    def kept_without_record(self) -> int:
        """URLs a decision said "kept" whose record is missing (crawled again)."""
        return self._count(
            "SELECT count(*) FROM dec WHERE kept = 1 AND url NOT IN (SELECT url FROM rec)"
        )

    def records_without_decision(self) -> set[str]:
        """Recorded URLs with no decision row (a decision part lost in a crash: as many as
        one part holds)."""
        return set(self._urls("SELECT url FROM rec WHERE url NOT IN (SELECT url FROM dec)"))

    def done_urls(self) -> Iterator[str]:
        """The done set, streamed."""
        return self._urls("SELECT url FROM done")

    def frontier_entries(self) -> Iterator[tuple[str, int]]:
        """The frontier minus the done set, in log order, each URL at its smallest depth."""
        cursor = self._db.execute(
            "SELECT url, depth FROM front WHERE url NOT IN (SELECT url FROM done) ORDER BY seq"
        )
        while rows := cursor.fetchmany(_FETCH):
            for url, depth in rows:
                yield str(url), int(depth)

    def frontier_count(self) -> int:
        return self._count("SELECT count(*) FROM front WHERE url NOT IN (SELECT url FROM done)")

    def _urls(self, sql: str) -> Iterator[str]:
        cursor = self._db.execute(sql)
        while rows := cursor.fetchmany(_FETCH):
            for (url,) in rows:
                yield str(url)

    def close(self) -> None:
        """Delete the index (idempotent)."""
        try:
            self._db.close()
        finally:
            self._cleanup()
