"""Streaming a JSON Lines input into batches. Private to ``crawler/recheck/dataset.py``.

A row is a line that is not blank (blank lines are skipped: they are no rows and are not
written back). Its URL is the string under the URL column when the line is a JSON object
holding one, else ``""`` (the recheck records such a row as a ``fetch.invalid-url`` removal).
The line itself is kept byte for byte, without its ``\\n`` (a ``\\r`` before it stays), so
kept rows can be written back exactly as they were.

A batch holds at most ``rows`` rows and is cut early once it holds ``BATCH_MAX_BYTES`` of
lines: both depend only on the file's content, so batch ``i`` is the same on every run.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pyarrow as pa

from filters.errors import ConfigError

from ._parquet_plan import BATCH_MAX_BYTES

__all__ = ["LINE", "LINE_NO", "SUFFIXES", "batches", "check", "schema", "url_of"]

LINE = "__line__"
LINE_NO = "__line_no__"
SUFFIXES = (".jsonl", ".json", ".ndjson")
#: Object lines looked at by ``check`` for the URL column before giving up.
_SAMPLE = 100


def schema(url_column: str) -> pa.Schema:
    fields: list[pa.Field[pa.DataType]] = [
        pa.field(url_column, pa.string(), nullable=False),
        pa.field(LINE, pa.large_binary(), nullable=False),
        pa.field(LINE_NO, pa.int64(), nullable=False),
    ]
    return pa.schema(fields)


def _open(path: Path) -> IO[bytes]:
    if path.name.lower().endswith(".gz"):
        return gzip.GzipFile(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(1-based line number, line without ``\\n``) for each non-blank line.

    Raises:
        ConfigError: the file cannot be read, or is not the gzip it is named as.
    """
    try:
        with _open(path) as handle:
            for n, raw in enumerate(handle, 1):
                line = raw[:-1] if raw.endswith(b"\n") else raw
                if line.strip():
                    yield n, line
    except (OSError, EOFError, zlib.error) as e:  # gzip.BadGzipFile is an OSError
        raise ConfigError(f"{path}: cannot read it ({e})") from None


def _parse(line: bytes) -> Any:
    try:
        return json.loads(line)
    except ValueError:  # UnicodeDecodeError included
        return None


def url_of(line: bytes, url_column: str) -> str:
    """The row's URL, or ``""`` when the line is not an object with a string URL."""
    obj = _parse(line)
    if not isinstance(obj, dict):
        return ""
    url = obj.get(url_column)
    if not isinstance(url, str):
        return ""
    try:
        url.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate escape ("\ud800"): not a URL
        return ""
    return url


def check(path: Path, url_column: str) -> None:
    """Refuse a file that is not JSON Lines, or whose objects have no such column.

    Raises:
        ConfigError: the first non-blank line is not a JSON object; none of the first
            objects has ``url_column`` (their keys are listed), or only with non-strings.
    """
    keys: set[str] = set()
    seen = 0
    for n, line in _lines(path):
        obj = _parse(line)
        if seen == 0 and not isinstance(obj, dict):
            what = "not valid JSON" if obj is None else f"a JSON {type(obj).__name__}"
            raise ConfigError(
                f"{path}: not a JSON Lines file (line {n} is {what}, not a JSON object; "
                "expected one JSON object per line)"
            )
        if isinstance(obj, dict):
            seen += 1
            if isinstance(obj.get(url_column), str):
                return
            keys.update(map(str, obj))
            if url_column in obj:
                raise ConfigError(
                    f"{path}: URL column {url_column!r} is not a string (line {n} has a "
                    f"{type(obj[url_column]).__name__}); choose another with --url-column"
                )
        if seen >= _SAMPLE:
            break
    if seen:
        raise ConfigError(
            f"{path}: no URL column {url_column!r} in its first {seen} object(s); the columns "
            f"there are: {', '.join(sorted(keys)) or '(none)'}; choose one with --url-column"
        )


def batches(
    path: Path, url_column: str, rows: int, start: int
) -> Iterator[tuple[int, pa.RecordBatch]]:
    """The file's batches from index ``start`` on (earlier ones are counted, not parsed)."""
    out_schema = schema(url_column)
    index = 0
    lines: list[bytes] = []
    numbers: list[int] = []
    size = 0
    for n, line in _lines(path):
        lines.append(line)
        numbers.append(n)
        size += len(line)
        if len(lines) >= rows or size >= BATCH_MAX_BYTES:
            if index >= start:
                yield index, _batch(out_schema, url_column, lines, numbers)
            index += 1
            lines, numbers, size = [], [], 0
    if lines and index >= start:
        yield index, _batch(out_schema, url_column, lines, numbers)


def _batch(
    out_schema: pa.Schema, url_column: str, lines: list[bytes], numbers: list[int]
) -> pa.RecordBatch:
    urls = [url_of(line, url_column) for line in lines]
    return pa.RecordBatch.from_arrays(
        [
            pa.array(urls, pa.string()),
            pa.array(lines, pa.large_binary()),
            pa.array(numbers, pa.int64()),
        ],
        schema=out_schema,
    )
