"""SQLite storage for the consent registry (SPEC.md §3.6).

One file holds the entries, the operators' write tokens (SHA-256 hashes only) and the pending
site-owner verification challenges. The database runs in WAL mode so that lookups never wait
for a writer, with a busy timeout and ``BEGIN IMMEDIATE`` writes so that two processes writing
at once queue instead of failing or corrupting the file. The schema is versioned with
``PRAGMA user_version`` and migrated forward by this module, inside a write transaction, so two
processes opening a fresh file cannot both migrate it.

Lookups go by host: each row carries the host it is indexed by (a domain subject itself, or the
host of a prefix/url subject), and a URL's candidates are the rows under the URL's host and its
parent domains (``filters.registry.lookup_keys``). That is an index probe per key, never a scan.

Speed: a batch of URLs is one ``IN (...)`` query per 500 distinct keys (keys that are only
parent domains in the batch ask for domain rows alone, all that a parent can add); the file is
read through a memory map (``PRAGMA mmap_size``, no copy into SQLite's page cache); and
``Entry`` objects are shared between lookups, keyed by their whole row (entries are immutable
values, so equal rows give equal entries and a changed row can never be served from the cache).
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import hmac
import secrets
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

from filters.errors import RegistryConflictError, RegistryError, RegistryValidationError
from filters.registry import Entry, SubjectKind, lookup_keys

from ._store_rows import COLUMNS, MIGRATIONS, SCHEMA_VERSION, entry_row, row_entry

__all__ = ["SCHEMA_VERSION", "RegistryStore", "hash_token"]

_SELECT = f"SELECT {COLUMNS} FROM entries"
_CHUNK = 500  # bound on SQL variables per statement (SQLite's limit is 999 on old builds)
_DOMAIN_ONLY = " AND subject_kind = 'domain'"  # all that a parent domain's rows can add
#: Bytes of the file read through a memory map (address space only; the OS shares the pages).
_MMAP_SIZE = 1 << 30
_DOMAIN = SubjectKind.DOMAIN  # bound once: member lookups through the enum class are slow
_CONFLICT_VERBS = {"fail": "INSERT", "skip": "INSERT OR IGNORE", "replace": "INSERT OR REPLACE"}


def hash_token(token: str) -> str:
    """SHA-256 of a write token; tokens are 256-bit random, so no salt or stretching is needed."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class RegistryStore:
    """The registry database at ``path``; safe to share between threads of one process.

    Raises (constructor):
        RegistryError: the file cannot be opened or is newer than this code.
    """

    def __init__(self, path: str | Path, *, busy_timeout: float = 30.0) -> None:
        self.path = str(path)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(
                self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
            _use_wal(self._db, busy_timeout)
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(f"PRAGMA mmap_size={_MMAP_SIZE}")
            self._db.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
            self._migrate()
        except sqlite3.Error as e:
            raise RegistryError(f"cannot open registry {self.path}: {e}") from e

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise RegistryError(f"registry schema {version} is newer than {SCHEMA_VERSION}")
            for number in range(version, SCHEMA_VERSION):
                for statement in MIGRATIONS[number].split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version={number + 1}")
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> RegistryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write(self, statements: Iterable[tuple[str, Sequence[object]]]) -> int:
        """Run statements in one IMMEDIATE transaction; all or nothing. Returns rows changed."""
        return sum(self._write_counts(statements))

    def _write_counts(
        self, statements: Iterable[tuple[str, Sequence[object]]]
    ) -> builtins.list[int]:
        """``_write``, returning the rows each statement changed."""
        with self._transaction() as db:
            return [db.execute(sql, params).rowcount for sql, params in statements]

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE write transaction, committed when the block ends, else rolled back."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                yield self._db
                self._db.execute("COMMIT")
            except BaseException as e:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                if isinstance(e, sqlite3.Error) and not isinstance(e, sqlite3.IntegrityError):
                    raise RegistryError(f"registry write failed: {e}") from e
                raise

    # Entries -------------------------------------------------------------------------------

    def add(self, entry: Entry) -> None:
        """Store one entry.

        Raises:
            RegistryValidationError: an entry with that id exists.
        """
        self.add_many([entry])

    def add_many(self, entries: Iterable[Entry], *, on_conflict: str = "fail") -> int:
        """Store entries in one transaction; returns the rows written.

        An id that is already present (in the store, or earlier in the batch) is a conflict:
        ``fail`` writes nothing and raises; ``skip`` leaves the entry out (the stored or
        earlier one stays); ``replace`` writes it over the stored or earlier one.

        Raises:
            RegistryConflictError: ``fail`` and an id is already present (``ids`` names them).
            RegistryValidationError: an unknown ``on_conflict``.
        """
        verb = _CONFLICT_VERBS.get(on_conflict)
        if verb is None:
            raise RegistryValidationError(f"on_conflict must be one of {sorted(_CONFLICT_VERBS)}")
        rows = [entry_row(e) for e in entries]
        sql = f"{verb} INTO entries ({COLUMNS}) VALUES ({', '.join('?' * 12)})"
        with self._transaction() as db:
            if on_conflict == "fail":
                ids = [str(row[0]) for row in rows]
                taken = self._present(db, ids) | {i for i, n in Counter(ids).items() if n > 1}
                if taken:
                    raise RegistryConflictError(sorted(taken))
            return sum(db.execute(sql, row).rowcount for row in rows)

    def existing_ids(self, ids: Iterable[str]) -> set[str]:
        """Which of ``ids`` the store holds."""
        with self._lock:
            return self._present(self._db, builtins.list(ids))

    @staticmethod
    def _present(db: sqlite3.Connection, ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            sql = f"SELECT id FROM entries WHERE id IN ({','.join('?' * len(chunk))})"
            found.update(row[0] for row in db.execute(sql, chunk))
        return found

    def remove(self, entry_id: str) -> bool:
        """Delete an entry; False when there was none."""
        return self._write([("DELETE FROM entries WHERE id = ?", (entry_id,))]) > 0

    def get(self, entry_id: str) -> Entry | None:
        with self._lock:
            row = self._db.execute(f"{_SELECT} WHERE id = ?", (entry_id,)).fetchone()
        return row_entry(row) if row else None

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM entries").fetchone()[0])

    def list(
        self, *, host: str | None = None, after: str = "", limit: int = 100
    ) -> builtins.list[Entry]:
        """Entries in id order after ``after`` (keyset pagination), optionally for one host."""
        params: tuple[str, ...]
        if host:
            sql, params = f"{_SELECT} WHERE host = ? AND id > ? ORDER BY id LIMIT ?", (host,)
        else:
            sql, params = f"{_SELECT} WHERE id > ? ORDER BY id LIMIT ?", ()
        with self._lock:
            rows = self._db.execute(sql, (*params, after, limit)).fetchall()
        return [row_entry(r) for r in rows]

    def iter_all(self, page: int = 1000) -> Iterator[Entry]:
        after = ""
        while batch := self.list(after=after, limit=page):
            yield from batch
            after = batch[-1].id

    def candidates(self, urls: Sequence[str]) -> dict[str, tuple[Entry, ...]]:
        """Every entry that may match each URL (indexed by host; ``evaluate`` picks).

        Raises:
            RegistryError: the database could not be read.
        """
        keys_of: dict[str, tuple[str, ...]] = {}
        own_hosts: set[str] = set()  # the URLs' own hosts: every entry under them counts
        parent_only: set[str] = set()  # keys that are only parent domains: domain entries
        for url in urls:
            if url not in keys_of:
                keys_of[url] = keys = lookup_keys(url)
                if keys:
                    own_hosts.add(keys[0])
                    parent_only.update(keys)
        parent_only -= own_hosts  # (each URL's own host among them too)
        by_host: dict[str, builtins.list[Entry]] = {}
        try:
            with self._lock:
                for wanted, where in ((own_hosts, ""), (parent_only, _DOMAIN_ONLY)):
                    keys_list = builtins.list(wanted)
                    for start in range(0, len(keys_list), _CHUNK):
                        chunk = keys_list[start : start + _CHUNK]
                        sql = f"{_SELECT} WHERE host IN ({','.join('?' * len(chunk))}){where}"
                        for row in self._db.execute(sql, chunk):
                            by_host.setdefault(row[1], []).append(row_entry(row))
        except sqlite3.Error as e:
            raise RegistryError(f"registry read failed: {e}") from e
        # A URL's candidates: every entry under its own host (its first key); under a parent
        # domain only domain entries (a prefix or url entry names one exact host).
        own = {host: tuple(found) for host, found in by_host.items()}
        parents = {
            host: tuple([e for e in found if e.subject_kind is _DOMAIN])
            for host, found in by_host.items()
        }
        out: dict[str, tuple[Entry, ...]] = {}
        for url, keys in keys_of.items():
            if not keys:
                out[url] = ()
                continue
            found = own.get(keys[0], ())
            for key in keys[1:]:
                more = parents.get(key)
                if more:
                    found += more
            out[url] = found
        return out

    # Write tokens -------------------------------------------------------------------------

    def add_token(self, name: str) -> str:
        """Create a write token called ``name``; returns the token (only its hash is kept).

        Raises:
            RegistryValidationError: the name is taken or empty.
        """
        if not name.strip():
            raise RegistryValidationError("a token needs a name")
        token = "heed_" + secrets.token_urlsafe(32)
        now = datetime.now(UTC).isoformat()
        try:
            self._write([("INSERT INTO tokens VALUES (?, ?, ?)", (name, hash_token(token), now))])
        except sqlite3.IntegrityError as e:
            raise RegistryValidationError(f"a token named {name!r} exists") from e
        return token

    def remove_token(self, name: str) -> bool:
        return self._write([("DELETE FROM tokens WHERE name = ?", (name,))]) > 0

    def token_names(self) -> builtins.list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT name FROM tokens ORDER BY name")]

    def check_token(self, token: str) -> str | None:
        """The name of the token that matches, compared in constant time; None if none does."""
        digest = hash_token(token)
        with self._lock:
            rows = self._db.execute("SELECT name, sha256 FROM tokens").fetchall()
        found = None
        for name, stored in rows:
            if hmac.compare_digest(digest, stored):
                found = name
        return found

    # Verification challenges --------------------------------------------------------------

    def put_challenge(
        self,
        challenge_id: str,
        origin: str,
        token: str,
        entry_json: str,
        expires_at: datetime,
        *,
        max_pending: int | None = None,
    ) -> bool:
        """Store a pending challenge (expired ones are dropped first, in the same transaction);
        False, and nothing stored, when ``max_pending`` challenges are already pending."""
        now = datetime.now(UTC).isoformat()
        row = (challenge_id, origin, token, entry_json, expires_at.isoformat())
        insert: tuple[str, tuple[object, ...]] = (
            "INSERT INTO challenges VALUES (?, ?, ?, ?, ?)",
            row,
        )
        if max_pending is not None:  # counted inside the write transaction: no race
            sql = (
                "INSERT INTO challenges SELECT ?, ?, ?, ?, ? "
                "WHERE (SELECT count(*) FROM challenges) < ?"
            )
            insert = (sql, (*row, max_pending))
        counts = self._write_counts(
            [("DELETE FROM challenges WHERE expires_at < ?", (now,)), insert]
        )
        return counts[1] == 1

    def pending_challenges(self) -> int:
        """Challenges stored and not yet expired."""
        now = datetime.now(UTC).isoformat()
        with self._lock:
            row = self._db.execute(
                "SELECT count(*) FROM challenges WHERE expires_at >= ?", (now,)
            ).fetchone()
        return int(row[0])

    def get_challenge(self, challenge_id: str) -> tuple[str, str, str, datetime] | None:
        """(origin, token, entry JSON, expiry) of a pending challenge."""
        with self._lock:
            row = self._db.execute(
                "SELECT origin, token, entry, expires_at FROM challenges WHERE id = ?",
                (challenge_id,),
            ).fetchone()
        if row is None:
            return None
        return row[0], row[1], row[2], datetime.fromisoformat(row[3])

    def complete_challenge(self, challenge_id: str, entry: Entry) -> bool:
        """Atomically consume the challenge and store its entry; False if already consumed."""
        sql = f"INSERT INTO entries ({COLUMNS}) VALUES ({', '.join('?' * 12)})"
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                gone = self._db.execute("DELETE FROM challenges WHERE id = ?", (challenge_id,))
                if gone.rowcount == 0:
                    self._db.execute("ROLLBACK")
                    return False
                self._db.execute(sql, entry_row(entry))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return True


def _use_wal(db: sqlite3.Connection, timeout: float) -> None:
    """Put the database in WAL mode (persistent: a database already in it is not switched).

    The switch needs an exclusive lock, and SQLite answers "database is locked" at once, busy
    handler or not, when another process opens the same new file at the same moment: the
    switch is tried again until ``timeout`` (the other opener has usually switched it by then).
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            if db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() >= deadline:
                raise
            time.sleep(0.05)
