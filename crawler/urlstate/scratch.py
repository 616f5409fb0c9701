"""An SQLite file used only to keep per-URL sets out of memory (never made durable)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

__all__ = ["CACHE_KIB", "open_scratch_db"]

#: SQLite page cache, KiB (bounded: the file may hold millions of URLs).
CACHE_KIB = 16384


def open_scratch_db(path: Path) -> sqlite3.Connection:
    """A connection to a new scratch database at ``path``: autocommit (transactions are
    explicit), no journal, no fsync, temporary tables on disk, a bounded page cache; usable
    from the thread that runs the crawl even if another one opened it."""
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    for pragma in (
        "journal_mode = OFF",
        "synchronous = OFF",
        "temp_store = FILE",
        f"cache_size = -{CACHE_KIB}",
    ):
        db.execute(f"PRAGMA {pragma}")
    return db
