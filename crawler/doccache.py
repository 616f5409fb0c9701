"""A document cache on disk for site documents (robots.txt, ai.txt, tdmrep.json, RSL files).

One SQLite file holds one row per document URL and user-agent: what the fetch returned (final
URL, status, headers, the body as read under its byte bound, the error kind), when it was
fetched (UTC) and the body's sha256. ``SiteLoader`` (``crawler/sitestate.py``) decides what is
fresh and revalidates the rest with a conditional GET; this module only stores and reads.

The cache is a speed-up, never a source of truth:

- A file that is not SQLite (garbage bytes) is moved aside (``NAME.corrupt-STAMP``, never
  deleted) and a fresh one is started; a file that cannot be read, or that fails while in use,
  is ignored for the rest of the run. Either way a warning is logged and the run goes on as if
  the cache were empty.
- An entry that does not read back exactly (a missing field, a wrong type, an unknown error
  kind, a body whose sha256 differs from the stored one) is a miss.
- The folder is created when the cache is opened; one that cannot be created or written is a
  ``ConfigError`` (exit 2), before anything is fetched.

Several processes may use one file at once (WAL journal, a busy timeout): each opens its own
``DocumentCache``. Rows are keyed by the user-agent too, since a server may answer another
crawler's identity differently.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from filters import ConfigError, FetchOutcome

from ._doccache_entry import CachedDocument, document_from_row

__all__ = ["CachedDocument", "DocumentCache", "default_cache_path", "open_document_cache"]

log = logging.getLogger(__name__)

#: The first 16 bytes of every SQLite 3 database file.
_SQLITE_MAGIC = b"SQLite format 3\x00"
#: Bumped when the table changes; a file of another version is ignored (never rewritten).
_VERSION = 1
#: Seconds a process waits for another one's write to finish before giving up on one write.
_BUSY_TIMEOUT = 5.0
#: Response headers not worth keeping on disk (they say nothing about the document).
_DROPPED_HEADERS = frozenset({"set-cookie", "set-cookie2"})
#: SQLite errors that mean the file itself is damaged (not busy, not a full disk).
_DAMAGED = frozenset({"SQLITE_CORRUPT", "SQLITE_NOTADB"})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    url TEXT NOT NULL,
    agent TEXT NOT NULL,
    final_url TEXT,
    status INTEGER,
    headers TEXT NOT NULL,
    body BLOB NOT NULL,
    error TEXT,
    redirects INTEGER NOT NULL,
    truncated INTEGER NOT NULL,
    bound INTEGER NOT NULL,
    fetched_at REAL NOT NULL,
    sha256 TEXT NOT NULL,
    PRIMARY KEY (url, agent)
)
"""
_COLUMNS = (
    "final_url, status, headers, body, error, redirects, truncated, bound, fetched_at, sha256"
)


def default_cache_path() -> Path:
    """``$XDG_CACHE_HOME/heed/documents.sqlite``, or ``~/.cache/heed/documents.sqlite``.

    A relative ``XDG_CACHE_HOME`` is ignored, as the XDG base directory specification says.
    """
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "heed" / "documents.sqlite"


def open_document_cache(setting: str) -> DocumentCache | None:
    """The cache named by ``[network] document_cache`` (``~`` expanded), or None when empty.

    Raises:
        ConfigError: the folder cannot be created or written, or the path is a folder.
    """
    if not setting:
        return None
    return DocumentCache(Path(setting).expanduser())


class DocumentCache:
    """One SQLite file of cached site documents (see the module docstring for its rules).

    Raises:
        ConfigError: at construction, when the folder cannot be created or written, or
            ``path`` is a folder. Nothing else it does raises: a damaged or unreadable file
            logs a warning and leaves the cache empty (``enabled`` is then False).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._prepare_folder()
        self._db = self._open()

    @property
    def enabled(self) -> bool:
        """False once the file was found unusable: every ``get`` misses, ``put`` stores
        nothing."""
        return self._db is not None

    # -- reading and writing ---------------------------------------------------------------

    def get(self, url: str, *, agent: str = "") -> CachedDocument | None:
        """The stored document for ``url`` fetched as ``agent``, or None (absent or unusable)."""
        db = self._db
        if db is None:
            return None
        try:
            row = db.execute(
                f"SELECT {_COLUMNS} FROM documents WHERE url = ? AND agent = ?", (url, agent)
            ).fetchone()
        except sqlite3.Error as e:
            self._fail("reading", e)
            return None
        if row is None:
            return None
        try:
            return document_from_row(url, row)
        except (TypeError, ValueError, KeyError, OverflowError, OSError) as e:
            log.debug("document cache entry for %s is unusable (%s): a miss", url, e)
            return None

    def put(self, url: str, outcome: FetchOutcome, *, max_bytes: int, agent: str = "") -> None:
        """Store ``outcome`` (read under ``max_bytes``) as the entry for ``url``; a write that
        fails (a busy or full disk) is skipped with a warning."""
        db = self._db
        if db is None:
            return
        fetched = outcome.fetched_at or datetime.now(UTC)
        headers = [[k, v] for k, v in outcome.headers.items() if k.lower() not in _DROPPED_HEADERS]
        row = (
            url,
            agent,
            outcome.final_url,
            outcome.status,
            json.dumps(headers, ensure_ascii=False),
            outcome.body,
            outcome.error.value if outcome.error is not None else None,
            outcome.redirects,
            int(outcome.truncated),
            max_bytes,
            fetched.timestamp(),
            hashlib.sha256(outcome.body).hexdigest(),
        )
        try:
            db.execute(
                f"INSERT OR REPLACE INTO documents (url, agent, {_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
        except sqlite3.Error as e:
            self._fail("writing", e)

    def refresh(self, url: str, fetched_at: datetime, *, agent: str = "") -> None:
        """Record that the server confirmed the stored entry (a 304) at ``fetched_at``."""
        db = self._db
        if db is None:
            return
        try:
            db.execute(
                "UPDATE documents SET fetched_at = ? WHERE url = ? AND agent = ?",
                (fetched_at.timestamp(), url, agent),
            )
        except sqlite3.Error as e:
            self._fail("writing", e)

    def __len__(self) -> int:
        db = self._db
        if db is None:
            return 0
        try:
            return int(db.execute("SELECT count(*) FROM documents").fetchone()[0])
        except sqlite3.Error as e:
            self._fail("reading", e)
            return 0

    def close(self) -> None:
        """Close the file; safe to call twice. Later calls behave as on an empty cache."""
        db, self._db = self._db, None
        if db is not None:
            try:
                db.close()
            except sqlite3.Error as e:
                log.warning("closing the document cache %s: %s", self.path, e)

    def __enter__(self) -> DocumentCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- opening ---------------------------------------------------------------------------

    def _prepare_folder(self) -> None:
        folder = self.path.parent
        if self.path.is_dir():
            raise ConfigError(f"[network] document_cache: {self.path} is a folder, not a file")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ConfigError(
                f"[network] document_cache: cannot create {folder}: {e.strerror or e}"
            ) from None
        if not os.access(folder, os.W_OK | os.X_OK):
            raise ConfigError(f"[network] document_cache: folder {folder} is not writable")

    def _open(self) -> sqlite3.Connection | None:
        if not self._readable_sqlite():
            return None
        try:
            return self._connect()
        except sqlite3.Error as e:
            if getattr(e, "sqlite_errorname", "") in _DAMAGED and self._move_aside():
                try:
                    return self._connect()
                except sqlite3.Error as again:
                    e = again
            log.warning("document cache %s cannot be used (%s); going on without it", self.path, e)
            return None

    def _readable_sqlite(self) -> bool:
        """False when the file must be ignored; a non-SQLite file is moved aside first."""
        try:
            with self.path.open("rb") as f:
                head = f.read(len(_SQLITE_MAGIC))
        except FileNotFoundError:
            return True
        except OSError as e:
            log.warning(
                "document cache %s cannot be read (%s); going on without it",
                self.path,
                e.strerror or e,
            )
            return False
        if not head or head == _SQLITE_MAGIC:
            return True
        return self._move_aside()

    def _move_aside(self) -> bool:
        """Rename a damaged file (and its -wal/-shm companions) out of the way; never delete."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        try:
            self.path.rename(aside)
            for suffix in ("-wal", "-shm"):
                companion = self.path.with_name(self.path.name + suffix)
                if companion.exists():
                    companion.rename(aside.with_name(aside.name + suffix))
        except FileNotFoundError:  # another process moved it already
            return True
        except OSError as e:
            log.warning(
                "document cache %s is damaged and cannot be moved aside (%s); going on without it",
                self.path,
                e.strerror or e,
            )
            return False
        log.warning(
            "document cache %s is not a usable SQLite file: moved to %s, starting empty",
            self.path,
            aside,
        )
        return True

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(
            self.path, timeout=_BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
        )
        try:
            db.execute(f"PRAGMA busy_timeout = {int(_BUSY_TIMEOUT * 1000)}")
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            if version not in (0, _VERSION):
                raise sqlite3.DatabaseError(f"cache format {version}, this heed reads {_VERSION}")
            db.execute(_SCHEMA)
            if version == 0:
                db.execute(f"PRAGMA user_version = {_VERSION}")
            db.execute("SELECT count(*) FROM documents WHERE rowid = 1").fetchone()
        except BaseException:
            db.close()
            raise
        return db

    def _fail(self, doing: str, e: sqlite3.Error) -> None:
        name = getattr(e, "sqlite_errorname", "")
        if name in ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_FULL"):
            log.warning("document cache %s: %s skipped (%s)", self.path, doing, e)
            return
        log.warning(
            "document cache %s failed while %s (%s); going on without it", self.path, doing, e
        )
        self.close()
