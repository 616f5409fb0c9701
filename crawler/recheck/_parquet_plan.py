"""The batch plan of a Parquet input, made from file metadata alone, and the reader of a plan.

Private to ``crawler/recheck/dataset.py``. A batch is a run of consecutive rows in input order
(files sorted by path, row groups in file order) holding at most ``rows`` rows and, as far as
the metadata can tell, at most ``BATCH_MAX_BYTES`` of uncompressed data; a row group that is
larger is split into slices. Because the plan is computed from the footers only (row counts
and ``total_byte_size`` per row group), batch ``i`` covers the same rows on every run over the
same input, and skipping the first ``start`` batches reads no data at all.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from filters.errors import ConfigError

__all__ = ["BATCH_MAX_BYTES", "BatchReader", "FileInfo", "Slice", "plan", "read_file_info"]

#: Uncompressed bytes (by the Parquet metadata) one batch may hold: a heed dataset's ``body``
#: column can be megabytes per row, so a batch is cut by size as well as by rows.
BATCH_MAX_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class FileInfo:
    """What the plan needs from one file's footer."""

    path: Path
    schema: pa.Schema
    row_groups: tuple[tuple[int, int], ...]  # (num_rows, total_byte_size) per row group

    @property
    def num_rows(self) -> int:
        return sum(n for n, _ in self.row_groups)


@dataclass(frozen=True, slots=True)
class Slice:
    """Rows ``offset .. offset+length`` of row group ``row_group`` of file ``file``."""

    file: int
    row_group: int
    offset: int
    length: int


def read_file_info(path: Path) -> FileInfo:
    """The schema and row groups of one Parquet file.

    Raises:
        ConfigError: the file cannot be read as Parquet (naming it).
    """
    try:
        with pq.ParquetFile(path) as pf:
            meta = pf.metadata
            groups = tuple(
                (meta.row_group(i).num_rows, meta.row_group(i).total_byte_size)
                for i in range(meta.num_row_groups)
            )
            return FileInfo(path, pf.schema_arrow, groups)
    except (pa.ArrowException, OSError) as e:
        raise ConfigError(f"{path}: not a readable Parquet file ({e})") from None


def plan(files: Sequence[FileInfo], rows: int) -> Iterator[list[Slice]]:
    """The batches of ``files``, in order, as lists of slices (metadata only, no data read)."""
    batch: list[Slice] = []
    batch_rows = batch_bytes = 0
    for f, info in enumerate(files):
        for g, (n, size) in enumerate(info.row_groups):
            offset = 0
            while offset < n:
                take = min(n - offset, rows - batch_rows)
                if size > 0:  # rows that fit the remaining byte budget, by the average row
                    take = min(take, (BATCH_MAX_BYTES - batch_bytes) * n // size)
                if take <= 0:
                    if batch:
                        yield batch
                        batch, batch_rows, batch_bytes = [], 0, 0
                        continue
                    take = 1  # one row larger than the whole budget: a batch of its own
                batch.append(Slice(f, g, offset, take))
                batch_rows += take
                batch_bytes += take * size // n
                offset += take
                if batch_rows >= rows or batch_bytes >= BATCH_MAX_BYTES:
                    yield batch
                    batch, batch_rows, batch_bytes = [], 0, 0
    if batch:
        yield batch


class BatchReader:
    """Reads the slices of a plan in order, keeping one file and one row-group stream open, so
    consecutive slices of one row group are read in a single pass."""

    def __init__(self, files: Sequence[FileInfo], schema: pa.Schema) -> None:
        self._files = files
        self._schema = schema
        self._file_index = -1
        self._pf: pq.ParquetFile | None = None
        self._stream: Iterator[pa.RecordBatch] | None = None
        self._where: tuple[int, int, int] = (-1, -1, -1)  # file, row group, next row
        self._pending: pa.RecordBatch | None = None

    def close(self) -> None:
        if self._pf is not None:
            self._pf.close()
        self._pf = self._stream = self._pending = None

    def _open_file(self, f: int) -> pq.ParquetFile:
        if self._file_index != f or self._pf is None:
            self.close()
            # Read column chunks through a 1 MiB buffer instead of whole (pre_buffer reads a
            # row group's chunks at once): a row group of large bodies costs about a batch.
            self._pf = pq.ParquetFile(self._files[f].path, buffer_size=1 << 20, pre_buffer=False)
            self._file_index = f
        return self._pf

    def _take(self, s: Slice) -> list[pa.RecordBatch]:
        if self._where != (s.file, s.row_group, s.offset) or self._stream is None:
            pf = self._open_file(s.file)
            size = max(1, min(s.length, 65_536))  # the next slices of this group are as long
            self._stream = pf.iter_batches(batch_size=size, row_groups=[s.row_group])
            self._pending, self._where = None, (s.file, s.row_group, 0)
            self._skip(s.offset)
        out: list[pa.RecordBatch] = []
        need = s.length
        while need > 0:
            chunk = self._next()
            part = chunk.slice(0, need)
            out.append(part)
            need -= part.num_rows
            rest = chunk.slice(part.num_rows)
            self._pending = rest if rest.num_rows else None
        self._where = (s.file, s.row_group, s.offset + s.length)
        return out

    def _next(self) -> pa.RecordBatch:
        if self._pending is not None:
            chunk, self._pending = self._pending, None
            return chunk
        assert self._stream is not None
        got = next(self._stream, None)
        if got is None:
            raise ConfigError(
                f"{self._files[self._file_index].path}: a row group holds fewer rows than its "
                "metadata says (a damaged file)"
            )
        return got

    def _skip(self, rows: int) -> None:
        while rows > 0:
            chunk = self._next()
            if chunk.num_rows > rows:
                self._pending = chunk.slice(rows)
            rows -= min(rows, chunk.num_rows)

    def read(self, slices: Sequence[Slice]) -> pa.RecordBatch:
        """One batch: the slices' rows, concatenated, in the dataset's schema.

        Raises:
            ConfigError: a file turned out unreadable or damaged (naming it).
        """
        parts: list[pa.RecordBatch] = []
        for s in slices:
            try:
                taken = self._take(s)
            except (pa.ArrowException, OSError) as e:
                self.close()
                raise ConfigError(
                    f"{self._files[s.file].path}: cannot read row group {s.row_group} ({e})"
                ) from None
            parts += [pa.RecordBatch.from_arrays(p.columns, schema=self._schema) for p in taken]
        if len(parts) == 1:
            return parts[0]
        return pa.Table.from_batches(parts, schema=self._schema).combine_chunks().to_batches()[0]
