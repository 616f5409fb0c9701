"""Part files for ``crawler.output``: one buffered, atomically published stream per table.

Private to ``crawler/output.py`` (see its docstring, SPEC.md §6): a ``Stream`` buffers validated
rows, writes them as zstd row groups into a hidden ``.part-<crawl_id>-<seq>.parquet.tmp``,
and publishes the part with fsync + ``os.replace`` + directory fsync, so a reader globbing
``*.parquet`` never sees a half-written file.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["ROW_GROUP_MAX_BYTES", "Stream", "fsync_dir", "part_files", "publish", "publish_bytes"]

#: Buffered payload that forces a row group, bounding memory whatever ``row_group_rows`` is
#: (the body column dominates; pages are capped at 10 MiB by SPEC.md §7).
ROW_GROUP_MAX_BYTES = 32 * 1024 * 1024
_PART_NAME = re.compile(r"part-(?:.*-)?(\d{5,})\.parquet")  # crawl: part-ID-SEQ; recheck: part-SEQ


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(folder: Path, name: str, write: Callable[[IO[bytes]], object]) -> Path:
    """Write ``folder/name`` atomically with ``write(handle)``; only complete files appear.

    Raises:
        OSError: the file could not be written or renamed (the temporary is removed).
    """
    final = folder / name
    tmp = folder / f".{name}.tmp"
    try:
        with open(tmp, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, final)
        fsync_dir(folder)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise
    return final


def publish_bytes(path: Path, data: bytes) -> Path:
    """:func:`publish` of ``data`` at ``path``."""
    return publish(path.parent, path.name, lambda handle: handle.write(data))


def part_files(folder: Path) -> list[tuple[int, Path]]:
    """Complete parts in ``folder`` as (sequence, path), in sequence order."""
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = _PART_NAME.fullmatch(path.name)
        if match and path.is_file():
            found.append((int(match.group(1)), path))
    return sorted(found)


def _payload_size(row: Mapping[str, Any]) -> int:
    return sum(len(v) for v in row.values() if isinstance(v, str | bytes))


class Stream:
    """The parts of one table: the row buffer, the open temporary part, the sequence."""

    def __init__(
        self,
        folder: Path,
        schema: pa.Schema,
        crawl_id: str,
        limits: tuple[int, int, int],
        before_publish: Callable[[], object] | None = None,
    ) -> None:
        self.folder = folder
        #: Called after the part is written and fsynced, just before it is renamed into place.
        self.before_publish = before_publish
        #: Called instead of ``close_part`` when the part is full (a writer that publishes
        #: this table only together with another one).
        self.on_full: Callable[[], object] | None = None
        #: Called right after a part is published (renamed into place, folder fsynced).
        self.after_publish: Callable[[], object] | None = None
        self.schema = schema
        self.crawl_id = crawl_id
        self.row_group_rows, self.part_max_rows, self.part_max_bytes = limits
        parts = part_files(folder)
        self.seq = parts[-1][0] + 1 if parts else 0
        self.rows: list[dict[str, Any]] = []
        self.buffered_bytes = 0
        self.part_rows = 0
        self.opened_at: float | None = None
        self.file: IO[bytes] | None = None
        self.writer: pq.ParquetWriter | None = None
        self.final: Path | None = None
        self.published: list[Path] = []
        self.rows_written = 0

    def add(self, row: dict[str, Any], now: float) -> None:
        if self.opened_at is None:
            self.opened_at = now
        self.rows.append(row)
        self.buffered_bytes += _payload_size(row)
        room = self.part_max_rows - self.part_rows
        if (
            len(self.rows) >= min(self.row_group_rows, room)
            or self.buffered_bytes >= ROW_GROUP_MAX_BYTES
        ):
            self.write_group()
            size = self.file.tell() if self.file is not None else 0
            if self.part_rows >= self.part_max_rows or size >= self.part_max_bytes:
                (self.on_full or self.close_part)()

    def write_group(self) -> None:
        if not self.rows:
            return
        table = pa.Table.from_pylist(self.rows, schema=self.schema)
        writer = self.writer if self.writer is not None else self._open()
        writer.write_table(table, row_group_size=len(self.rows))
        self.part_rows += len(self.rows)
        self.rows = []
        self.buffered_bytes = 0

    def _open(self) -> pq.ParquetWriter:
        while True:
            name = f"part-{self.crawl_id}-{self.seq:05d}.parquet"
            if not (self.folder / name).exists():
                break
            self.seq += 1  # never overwrite a published part
        self.final = self.folder / name
        self.file = open(self.folder / f".{name}.tmp", "wb")  # noqa: SIM115 (closed in close_part)
        self.writer = pq.ParquetWriter(self.file, self.schema, compression="zstd")
        return self.writer

    def close_part(self) -> Path | None:
        """Write what is buffered, then publish the open part; return its path."""
        self.write_group()
        self.opened_at = None
        if self.writer is None or self.file is None or self.final is None:
            return None
        self.writer.close()
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        if self.before_publish is not None:
            self.before_publish()
        os.replace(self.folder / f".{self.final.name}.tmp", self.final)
        fsync_dir(self.folder)
        published = self.final
        self.published.append(published)
        self.rows_written += self.part_rows
        self.part_rows, self.seq = 0, self.seq + 1
        self.writer = self.file = self.final = None
        if self.after_publish is not None:
            self.after_publish()
        return published

    def discard(self) -> None:
        """Drop the open temporary part and the buffered rows (used only when writing failed).

        Never raises: it runs after a write error, when the file, its folder or the disk may
        be gone or full; a temporary it cannot delete is removed by the next writer.
        """
        for close in (
            self.writer.close if self.writer is not None else None,
            self.file.close if self.file is not None else None,
        ):
            with contextlib.suppress(Exception):  # the part is discarded whatever it says
                if close is not None:
                    close()
        if self.final is not None:
            with contextlib.suppress(OSError):
                (self.folder / f".{self.final.name}.tmp").unlink(missing_ok=True)
        self.writer = self.file = self.final = None
        self.rows, self.part_rows, self.buffered_bytes, self.opened_at = [], 0, 0, None
