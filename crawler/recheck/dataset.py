"""The input of ``heed recheck``: a dataset opened read-only and streamed in numbered batches.

``open_dataset(path, url_column="url")`` recognises three kinds of input:

- ``heed``: a heed output folder (``records/`` holding ``part-*.parquet`` parts in heed's
  schema, ``crawler/_output_schema.RECORD_SCHEMA``, and a ``run.json``, or a ``decisions/``
  folder when the crawl was killed before it wrote one). Its ``records/``
  parts are read in part order (sequence number, then name); ``decisions/`` is not read.
  A recheck output of a heed input is a heed dataset too (it can be rechecked again).
- ``parquet``: one ``.parquet`` file, or a folder of them, found recursively and read sorted
  by path (a Hugging Face dataset exported to Parquet, a FineWeb-style shard folder). Names
  starting with ``.`` or ``_`` are skipped, as pyarrow, pandas and Spark do (temporary files,
  ``_SUCCESS``, ``_metadata``). Every file must have the same schema.
  A null in the URL column is a row whose URL is ``""`` for the recheck (removed as
  ``fetch.invalid-url``).
- ``jsonl``: one ``.jsonl``, ``.json`` or ``.ndjson`` file, optionally gzip-compressed
  (``.gz``), one JSON object per line. It is streamed, never read whole. A batch has three
  columns: the URL column (string), ``__line__`` (large_binary: the original line, byte for
  byte, without its ``\\n``) and ``__line_no__`` (int64, the 1-based line number). Blank
  lines are no rows. A line that is not a JSON object, has no URL column, or whose URL is not
  a string does not stop the run: its URL is ``""``, which the recheck records as a
  ``fetch.invalid-url`` removal (the line is not kept). A file whose first non-blank line is
  not a JSON object is not JSON Lines and is refused.

``Dataset.batches(rows, start=...)`` yields ``(index, batch)``: ``index`` is 0, 1, 2, … in
input order. A batch holds at most ``rows`` rows and about ``BATCH_MAX_BYTES`` (64 MiB) of
data, so memory stays bounded when rows carry page bodies; the cut depends only on the input
(Parquet footers, JSONL line lengths), never on timing, so batch ``i`` is the same rows on
every run over the same input and ``rows``: that is what makes a killed recheck resumable.
Batches before ``start`` are skipped without being read (Parquet) or parsed (JSONL).

``Dataset.fingerprint`` identifies the input as it is now (kind, URL column, and each file's
relative path, size and modification time); the recheck output stores it so that a resume
over a changed input is refused instead of mixing two inputs.

Errors are ``filters.ConfigError`` with a message naming the path: the path does not exist;
it is not a dataset; there is no URL column (the columns there are are listed); the URL column
is not a string type; a Parquet file is unreadable or damaged (also while batches are read);
two Parquet files differ in schema. Nothing is ever written to the input.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Literal

import pyarrow as pa

from filters.errors import ConfigError

from .._output_schema import RECORD_SCHEMA, RECORD_SCHEMA_V1
from . import _jsonl
from ._parquet_plan import BATCH_MAX_BYTES, BatchReader, FileInfo, plan, read_file_info

__all__ = ["BATCH_MAX_BYTES", "DEFAULT_BATCH_ROWS", "Dataset", "DatasetKind", "open_dataset"]

DatasetKind = Literal["heed", "parquet", "jsonl"]
#: The default ``rows`` of ``Dataset.batches``.
DEFAULT_BATCH_ROWS = 8192
_PART = re.compile(r"part-(?:.*-)?(\d+)\.parquet")
_MARKER = ".heed-recheck"  # crawler/recheck/output.py writes it into its output folder


class Dataset:
    """An opened input dataset (read-only). Build it with :func:`open_dataset`."""

    kind: DatasetKind
    path: Path
    url_column: str
    #: The schema of every batch, and of the kept rows written back (the input's own).
    schema: pa.Schema
    #: Rows in the dataset when known from metadata (Parquet, heed), else None (JSON Lines).
    num_rows: int | None
    fingerprint: str

    def __init__(
        self,
        kind: DatasetKind,
        path: Path,
        url_column: str,
        schema: pa.Schema,
        files: Sequence[FileInfo] = (),
    ) -> None:
        self.kind = kind
        self.path = path
        self.url_column = url_column
        self.schema = schema
        self._files = tuple(files)
        self.num_rows = None if kind == "jsonl" else sum(f.num_rows for f in self._files)
        self.fingerprint = _fingerprint(kind, path, url_column, [f.path for f in files])

    def __repr__(self) -> str:
        return f"Dataset(kind={self.kind!r}, path={str(self.path)!r}, rows={self.num_rows})"

    @property
    def files(self) -> tuple[Path, ...]:
        """The files read, in order (the one file of a JSON Lines input)."""
        return (self.path,) if self.kind == "jsonl" else tuple(f.path for f in self._files)

    def batches(
        self, rows: int = DEFAULT_BATCH_ROWS, *, start: int = 0
    ) -> Iterator[tuple[int, pa.RecordBatch]]:
        """``(index, batch)`` from batch ``start`` on, one batch in memory at a time.

        Raises:
            ValueError: ``rows`` < 1 or ``start`` < 0.
            ConfigError: a file became unreadable (naming it).
        """
        if rows < 1 or start < 0:
            raise ValueError("rows must be >= 1 and start >= 0")
        if self.kind == "jsonl":
            yield from _jsonl.batches(self.path, self.url_column, rows, start)
            return
        reader = BatchReader(self._files, self.schema)
        try:
            for index, slices in enumerate(plan(self._files, rows)):
                if index >= start:
                    yield index, reader.read(slices)
        finally:
            reader.close()


def open_dataset(path: str | Path, url_column: str = "url") -> Dataset:
    """Open ``path`` as a recheck input (see the module docstring for the kinds).

    Raises:
        ConfigError: naming the path and what is wrong; nothing is written anywhere.
    """
    path = Path(path)
    if not url_column:
        raise ConfigError("the URL column name must not be empty")
    if not path.exists():
        raise ConfigError(f"dataset {path}: does not exist")
    if path.is_dir():
        return _open_folder(path, url_column)
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(_jsonl.SUFFIXES):
        if url_column in (_jsonl.LINE, _jsonl.LINE_NO):
            raise ConfigError(f"--url-column {url_column!r} is reserved for JSON Lines rows")
        _jsonl.check(path, url_column)
        return Dataset("jsonl", path, url_column, _jsonl.schema(url_column))
    if name.endswith(".parquet") and not path.name.lower().endswith(".gz"):
        return _parquet("parquet", path, [path], url_column)
    raise ConfigError(
        f"dataset {path}: not a dataset heed reads (a heed output folder, a .parquet file or "
        "a folder of them, or a .jsonl/.json/.ndjson file, optionally .gz)"
    )


def _open_folder(path: Path, url_column: str) -> Dataset:
    records = path / "records"
    marked = any((path / name).exists() for name in ("run.json", "decisions", _MARKER))
    if records.is_dir() and marked:  # a crawl killed before run.json has decisions/
        parts = _heed_parts(records)
        if not parts:
            if (path / _MARKER).is_file():
                raise ConfigError(
                    f"dataset {path}: a recheck output with no Parquet records/ parts (a JSON "
                    "Lines recheck writes records/part-*.jsonl: recheck one of those files)"
                )
            return _parquet("heed", path, [], url_column, heed_schema=True)
        first = read_file_info(parts[0])
        if first.schema.equals(RECORD_SCHEMA, check_metadata=False):
            return _parquet("heed", path, parts, url_column, first=first)
        if first.schema.equals(RECORD_SCHEMA_V1, check_metadata=False):
            # written by an earlier heed (records schema version 1): read, and written back,
            # in its own schema
            return _parquet("heed", path, parts, url_column, first=first)
        if (path / _MARKER).is_file():
            return _parquet("parquet", path, parts, url_column, first=first)
        raise ConfigError(
            f"dataset {path}: looks like a heed output folder, but {parts[0]} is not in "
            "heed's records schema"
        )
    files = sorted(p for p in path.rglob("*.parquet") if p.is_file() and _visible(path, p))
    if not files:
        raise ConfigError(
            f"dataset {path}: not a dataset (no heed output folder, no .parquet files in it; "
            "for JSON Lines give the file itself)"
        )
    return _parquet("parquet", path, files, url_column)


def _visible(root: Path, path: Path) -> bool:
    return not any(part.startswith((".", "_")) for part in path.relative_to(root).parts)


def _heed_parts(records: Path) -> list[Path]:
    found = []
    for p in records.iterdir():
        match = _PART.fullmatch(p.name)
        if match and p.is_file():
            found.append((int(match.group(1)), p.name, p))
    return [p for *_, p in sorted(found)]


def _parquet(
    kind: DatasetKind,
    path: Path,
    files: Sequence[Path],
    url_column: str,
    *,
    first: FileInfo | None = None,
    heed_schema: bool = False,
) -> Dataset:
    infos = [first] if first is not None else []
    infos += [read_file_info(p) for p in files[len(infos) :]]
    schema = RECORD_SCHEMA if heed_schema else infos[0].schema
    for info in infos[1:]:
        if not info.schema.equals(schema, check_metadata=False):
            raise ConfigError(
                f"dataset {path}: {info.path} has another schema than {infos[0].path} "
                f"(all files must share one): {_diff(schema, info.schema)}"
            )
    _check_url_column(path, schema, url_column)
    return Dataset(kind, path, url_column, schema, infos)


def _diff(a: pa.Schema, b: pa.Schema) -> str:
    ours = {f.name: f for f in a}
    theirs = {f.name: f for f in b}
    notes = [f"{n!r} missing" for n in ours if n not in theirs]
    notes += [f"{n!r} extra" for n in theirs if n not in ours]
    notes += [
        f"{n!r} is {theirs[n].type} (not {f.type})"
        for n, f in ours.items()
        if n in theirs and not f.equals(theirs[n], check_metadata=False)
    ]
    return "; ".join(notes) or "column order differs"


def _is_string(type_: pa.DataType) -> bool:
    if pa.types.is_dictionary(type_):
        return _is_string(type_.value_type)
    return bool(
        pa.types.is_string(type_) or pa.types.is_large_string(type_)
    ) or pa.types.is_string_view(type_)


def _check_url_column(path: Path, schema: pa.Schema, url_column: str) -> None:
    if url_column not in schema.names:
        raise ConfigError(
            f"dataset {path}: no URL column {url_column!r}; the columns there are: "
            f"{', '.join(schema.names) or '(none)'}; choose one with --url-column"
        )
    type_ = schema.field(url_column).type
    if not _is_string(type_):
        raise ConfigError(
            f"dataset {path}: URL column {url_column!r} is {type_}, not a string type; "
            "choose another with --url-column"
        )


def _fingerprint(kind: str, root: Path, url_column: str, files: Sequence[Path]) -> str:
    entries: list[object] = [kind, url_column]
    for p in files or [root]:
        st = p.stat()
        rel = p.relative_to(root).as_posix() if p != root else p.name
        entries.append([rel, st.st_size, st.st_mtime_ns])
    return hashlib.sha256(json.dumps(entries).encode()).hexdigest()
