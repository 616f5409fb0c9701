"""The embedded ledger: a crawl's per-URL state in an SQLite file, not in Python sets.

One table, ``urls``, holds each URL the run has seen with its state: logged to the frontier
(discovered, not requested), claimed (to be requested, or recorded as an invalid link), done by
an earlier run in the folder, or decided in this run. A second table, ``restored``, holds the
frontier read back from ``frontier.jsonl`` in its order. The file lives in a private scratch
folder (``tempfile``) that :meth:`SqliteLedger.close` deletes: the durable state of a crawl is
its output folder (the parts and ``frontier.jsonl``, ``crawler/resume.py``), from which a rerun
fills a new ledger. Nothing is made durable here (no journal, no fsync): the file is only a
way to keep the sets out of memory, and SQLite's page cache is bounded (``scratch.CACHE_KIB``).

Single-threaded, like the spider: every call comes from the reactor thread (the connection
is opened with ``check_same_thread=False`` because the context is built before the reactor
runs).
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from .scratch import open_scratch_db

__all__ = ["SqliteLedger"]

#: URL states in the ``urls`` table.
DISCOVERED, CLAIMED, DONE, DECIDED = 0, 1, 2, 3
#: URLs per ``IN (...)`` lookup and per restored-frontier read.
_CHUNK = 500


class SqliteLedger:
    """The embedded :class:`~crawler.urlstate.base.UrlLedger` (see the module docstring).

    ``max_pages`` bounds the URLs claimed plus those done by earlier runs (the job's budget);
    ``on_discovered(url, depth)`` is called once for each URL new to the ledger that
    :meth:`claim` is given, before it is claimed (the frontier log); ``scratch_parent`` is where
    the private scratch folder is made (the system's temporary folder by default).
    """

    def __init__(
        self,
        max_pages: int,
        *,
        on_discovered: Callable[[str, int], object] | None = None,
        scratch_parent: Path | None = None,
    ) -> None:
        self.max_pages = max_pages
        self.on_discovered = on_discovered
        #: The private scratch folder (the ledger's file; Scrapy's disk queues may live here).
        self.scratch = Path(tempfile.mkdtemp(prefix="heed-run-", dir=scratch_parent))
        self.claimed = 0  # URLs claimed in this run
        self.done_count = 0  # URLs done by earlier runs
        self.restored_count = 0  # frontier entries restored
        self._db = open_scratch_db(self.scratch / "urls.sqlite3")
        self._db.execute(
            "CREATE TABLE urls (url TEXT PRIMARY KEY, state INTEGER NOT NULL) WITHOUT ROWID"
        )
        self._db.execute(
            "CREATE TABLE restored (seq INTEGER PRIMARY KEY, url TEXT NOT NULL, depth INTEGER)"
        )
        self._closed = False
        # The scratch folder goes even if close() is never reached (an interrupted start).
        self._cleanup = weakref.finalize(self, shutil.rmtree, self.scratch, ignore_errors=True)

    # ------------------------------------------------------------------ filling on resume

    def load_done(self, urls: Iterable[str]) -> None:
        """Mark ``urls`` done by earlier runs (they count against ``max_pages``)."""
        before = self._count(DONE)
        self._db.execute("BEGIN")
        self._db.executemany(
            "INSERT INTO urls VALUES (?, 2) ON CONFLICT(url) DO UPDATE SET state = 2",
            ((u,) for u in urls),
        )
        self._db.execute("COMMIT")
        self.done_count += self._count(DONE) - before

    def load_frontier(self, entries: Iterable[tuple[str, int]]) -> None:
        """Add the restored frontier (url, depth), in log order: logged already, so
        :meth:`claim` does not report them discovered again; :meth:`frontier` yields them."""
        self._db.execute("BEGIN")
        for url, depth in entries:
            self._db.execute("INSERT OR IGNORE INTO urls VALUES (?, 0)", (url,))
            self._db.execute("INSERT INTO restored (url, depth) VALUES (?, ?)", (url, depth))
            self.restored_count += 1
        self._db.execute("COMMIT")

    def _count(self, state: int) -> int:
        row = self._db.execute("SELECT count(*) FROM urls WHERE state = ?", (state,)).fetchone()
        return int(row[0])

    # ------------------------------------------------------------------ the ledger

    @property
    def budget(self) -> int:
        """URLs this run may claim in all (``max_pages`` minus those done earlier)."""
        return max(self.max_pages - self.done_count, 0)

    async def aclaim(self, links: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
        return self.claim(links)  # a local file: no round trip to wait on

    def claim(self, links: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
        wanted: dict[str, int] = {}
        for url, depth in links:
            wanted.setdefault(url, depth)
        if not wanted:
            return []
        states = self._states(list(wanted))
        out: list[tuple[str, int]] = []
        rows: list[tuple[str, int]] = []
        budget = self.budget
        for url, depth in wanted.items():
            state = states.get(url)
            if state is not None and state != DISCOVERED:
                continue
            if state is None:
                if self.on_discovered is not None:
                    self.on_discovered(url, depth)
                if self.claimed >= budget:
                    rows.append((url, DISCOVERED))
                    continue
            elif self.claimed >= budget:
                continue
            self.claimed += 1
            out.append((url, depth))
            rows.append((url, CLAIMED))
        if rows:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT INTO urls VALUES (?, ?)"
                " ON CONFLICT(url) DO UPDATE SET state = excluded.state",
                rows,
            )
            self._db.execute("COMMIT")
        return out

    def _states(self, urls: list[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for i in range(0, len(urls), _CHUNK):
            chunk = urls[i : i + _CHUNK]
            marks = ",".join("?" * len(chunk))
            for url, state in self._db.execute(
                f"SELECT url, state FROM urls WHERE url IN ({marks})", chunk
            ):
                found[url] = state
        return found

    def mark_decided(self, url: str, *, kept: bool = False) -> None:
        self._db.execute(
            "INSERT INTO urls VALUES (?, 3) ON CONFLICT(url) DO UPDATE SET state = 3", (url,)
        )

    def is_decided(self, url: str) -> bool:
        row = self._db.execute("SELECT state FROM urls WHERE url = ?", (url,)).fetchone()
        return row is not None and row[0] in (DONE, DECIDED)

    def recorded(self, url: str) -> bool:
        return self.is_decided(url)  # one process: its own answer is the whole answer

    def frontier(self) -> Iterator[tuple[str, int]]:
        seq = 0
        while True:
            rows = self._db.execute(
                "SELECT seq, url, depth FROM restored WHERE seq > ? ORDER BY seq LIMIT ?",
                (seq, _CHUNK),
            ).fetchall()
            if not rows:
                return
            seq = rows[-1][0]
            for _, url, depth in rows:
                yield url, int(depth)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._db.close()
        finally:
            self._cleanup()
