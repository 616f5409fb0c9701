"""The card's events: one per URL and folder, read from heed output folders (``stats.py``).

Each folder contributes one event per URL: kept (a ``records/`` row) or excluded (a
``decisions/`` row with ``allowed`` false, or a ``removals/`` row), read with pyarrow one
record batch at a time and only the columns needed; ``merge`` keeps one event per URL, the
latest, an exclusion on equal times (the rules are in ``stats.py``'s docstring).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as _pc
import pyarrow.parquet as pq

from filters import ConfigError

from .._output_parts import part_files

#: pyarrow.compute, untyped: its stubs cannot follow arrays through compute functions.
pc: Any = _pc

__all__ = ["ATTRIBUTION_COLUMNS", "EVENT_SCHEMA", "Folder", "folder_events", "merge", "open_folder"]

#: Nullable attribution columns a records table may carry; coverage is reported
#: for those present.
ATTRIBUTION_COLUMNS = ("author", "publisher", "site_name", "published_at", "language")

_UTC_US = pa.timestamp("us", tz="UTC")
_EVENT_FIELDS: list[tuple[str, Any]] = [
    ("url", pa.string()),
    ("host", pa.string()),
    ("t", _UTC_US),
    ("kept", pa.bool_()),
    ("reasons", pa.list_(pa.string())),
    ("stage", pa.string()),
    ("license", pa.string()),
    ("body_bytes", pa.int64()),
    ("text_bytes", pa.int64()),
    ("fetched_at", _UTC_US),
    ("language", pa.string()),
    ("redactions", pa.int64()),
    ("attribution", pa.list_(pa.string())),  # the attribution columns this row has set
    ("source", pa.int32()),
]
EVENT_SCHEMA = pa.schema(_EVENT_FIELDS)
_RECORD_NEEDS = ("url", "host", "fetched_at", "license", "body", "text")
_DECISION_NEEDS = ("url", "host", "decided_at", "allowed", "reasons", "stage")
_REMOVAL_NEEDS = ("url", "host", "reasons", "stage", "checked_at")


@dataclass
class Folder:
    path: Path
    kind: str  # "crawl" | "recheck"
    run: dict[str, Any]


def _read_run_json(path: Path) -> dict[str, Any]:
    run_json = path / "run.json"
    if not run_json.exists():
        return {}
    try:
        run = json.loads(run_json.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise ConfigError(f"{run_json}: cannot be read as JSON ({e})") from e
    if not isinstance(run, dict):
        raise ConfigError(f"{run_json}: not a JSON object, not a heed run.json")
    return run


def open_folder(path: Path) -> Folder:
    if not path.exists():
        raise ConfigError(f"{path}: no such folder")
    if not path.is_dir():
        raise ConfigError(f"{path}: not a folder (heed card reads heed output folders)")
    run = _read_run_json(path)
    if "recheck_schema_version" in run or "input_kind" in run or (path / "removals").is_dir():
        kind = run.get("input_kind", "heed")
        if kind != "heed":
            raise ConfigError(
                f"{path}: a recheck of a {kind!r} dataset; heed card describes heed datasets "
                "only (its records are not in heed's records schema)"
            )
        if not part_files(path / "records") and not part_files(path / "removals"):
            raise ConfigError(f"{path}: a recheck folder with no records/ or removals/ parts")
        return Folder(path, "recheck", run)
    has_parts = bool(part_files(path / "records")) or bool(part_files(path / "decisions"))
    if not has_parts and not run:
        raise ConfigError(
            f"{path}: not a heed output folder (no run.json and no records/ or decisions/ "
            "Parquet parts)"
        )
    if run and not has_parts and "crawl_id" not in run:
        raise ConfigError(f"{path}: run.json is not a heed crawl's or recheck's")
    return Folder(path, "crawl", run)


def _batches(path: Path, need: Sequence[str], optional: Sequence[str]) -> Iterator[pa.RecordBatch]:
    try:
        pf = pq.ParquetFile(path)
        names = set(pf.schema_arrow.names)
        missing = [c for c in need if c not in names]
        if missing:
            raise ConfigError(f"{path}: not a heed part (no column {', '.join(missing)})")
        columns = [*need, *(c for c in optional if c in names)]
        yield from pf.iter_batches(batch_size=4096, columns=columns)
    except (OSError, pa.ArrowException) as e:
        raise ConfigError(f"{path}: cannot be read as Parquet ({e})") from e


def _string_col(batch: pa.RecordBatch, name: str) -> Any:
    if name not in batch.schema.names:
        return pa.nulls(batch.num_rows, pa.string())
    return pc.cast(batch.column(name), pa.string())


def _ts(batch: pa.RecordBatch, name: str) -> Any:
    return pc.cast(batch.column(name), _UTC_US)


def _null_ints(n: int) -> Any:
    return pa.nulls(n, pa.int64())


def _record_events(folder: Folder, source: int, t: datetime | None) -> Iterator[pa.Table]:
    optional = (*ATTRIBUTION_COLUMNS, "redactions")
    for _, path in part_files(folder.path / "records"):
        for batch in _batches(path, _RECORD_NEEDS, optional):
            n = batch.num_rows
            fetched = _ts(batch, "fetched_at")
            attr_cols = [c for c in ATTRIBUTION_COLUMNS if c in batch.schema.names]
            attribution = [[c for c in attr_cols if batch.column(c)[i].is_valid] for i in range(n)]
            redactions = (
                pc.cast(batch.column("redactions"), pa.int64())
                if "redactions" in batch.schema.names
                else _null_ints(n)
            )
            times = fetched if t is None else pa.array([t] * n, _UTC_US)
            yield pa.table(
                {
                    "url": _string_col(batch, "url"),
                    "host": _string_col(batch, "host"),
                    "t": times,
                    "kept": pa.array([True] * n, pa.bool_()),
                    "reasons": pa.array([[]] * n, pa.list_(pa.string())),
                    "stage": pa.nulls(n, pa.string()),
                    "license": _string_col(batch, "license"),
                    "body_bytes": pc.cast(pc.binary_length(batch.column("body")), pa.int64()),
                    "text_bytes": pc.cast(pc.binary_length(batch.column("text")), pa.int64()),
                    "fetched_at": fetched,
                    "language": _string_col(batch, "language"),
                    "redactions": redactions,
                    "attribution": pa.array(attribution, pa.list_(pa.string())),
                    "source": pa.array([source] * n, pa.int32()),
                },
                schema=EVENT_SCHEMA,
            )


def _excluded_events(
    path: Path, need: Sequence[str], time_col: str, source: int, only_denied: bool
) -> Iterator[tuple[pa.Table, list[str]]]:
    """Excluded rows as events, with the URLs of the allowed rows skipped (``only_denied``)."""
    for _, part in part_files(path):
        for batch in _batches(part, need, ()):
            kept_urls: list[str] = []
            if only_denied:
                allowed = batch.column("allowed")
                kept_urls = [str(u) for u in batch.filter(allowed).column("url").to_pylist()]
                batch = batch.filter(pc.invert(allowed))
            n = batch.num_rows
            yield (
                pa.table(
                    {
                        "url": _string_col(batch, "url"),
                        "host": _string_col(batch, "host"),
                        "t": _ts(batch, time_col),
                        "kept": pa.array([False] * n, pa.bool_()),
                        "reasons": pc.cast(batch.column("reasons"), pa.list_(pa.string())),
                        "stage": _string_col(batch, "stage"),
                        "license": pa.nulls(n, pa.string()),
                        "body_bytes": _null_ints(n),
                        "text_bytes": _null_ints(n),
                        "fetched_at": pa.nulls(n, _UTC_US),
                        "language": pa.nulls(n, pa.string()),
                        "redactions": _null_ints(n),
                        "attribution": pa.array([[]] * n, pa.list_(pa.string())),
                        "source": pa.array([source] * n, pa.int32()),
                    },
                    schema=EVENT_SCHEMA,
                ),
                kept_urls,
            )


def _parse_time(value: Any, what: str) -> datetime:
    try:
        t = datetime.fromisoformat(str(value))
    except ValueError as e:
        raise ConfigError(f"{what}: not an ISO 8601 time ({value!r})") from e
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def folder_events(folder: Folder, source: int) -> tuple[list[pa.Table], set[str]]:
    """The folder's events, and the URLs of kept decisions (crawl only)."""
    tables: list[pa.Table] = []
    kept_decisions: set[str] = set()
    if folder.kind == "crawl":
        tables.extend(_record_events(folder, source, None))
        for table, kept in _excluded_events(
            folder.path / "decisions", _DECISION_NEEDS, "decided_at", source, True
        ):
            tables.append(table)
            kept_decisions.update(kept)
        return tables, kept_decisions
    checked = folder.run.get("checked_at") or folder.run.get("finished_at")
    if checked is None:
        raise ConfigError(f"{folder.path}: a recheck without checked_at in run.json")
    t = _parse_time(checked, f"{folder.path / 'run.json'} checked_at")
    tables.extend(_record_events(folder, source, t))
    for table, _ in _excluded_events(
        folder.path / "removals", _REMOVAL_NEEDS, "checked_at", source, False
    ):
        tables.append(table)
    return tables, kept_decisions


def merge(events: pa.Table) -> pa.Table:
    """One row per URL: the latest event; on equal times an exclusion."""
    if events.num_rows == 0:
        return events
    order = pc.sort_indices(
        events, sort_keys=[("url", "ascending"), ("t", "descending"), ("kept", "ascending")]
    )
    events = events.take(order)
    urls = events.column("url").combine_chunks()
    first = pc.not_equal(urls.slice(1), urls.slice(0, len(urls) - 1))
    mask = pa.concat_arrays([pa.array([True]), first.fill_null(True)])
    return events.filter(mask)
