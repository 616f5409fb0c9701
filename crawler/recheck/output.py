"""The output folder of ``heed recheck``: atomic parts per input batch, resumable.

::

    <out>/
      records/     part-000000.parquet, …   kept rows, in the input's own schema
                   (part-000000.jsonl, … for a JSON Lines input: the kept lines, byte-exact)
      removals/    part-000000.parquet, …   one row per removed input row (REMOVAL_SCHEMA)
      flags/       part-000000.parquet, …   flagged rows, kept or not (FLAG_SCHEMA), if any
      changes/     part-000000.parquet      one row per origin and site document (CHANGE_SCHEMA)
      removed-urls.txt                      every removed URL, one per line, in input order
      run.json                              the run's metadata and counts
      .heed-recheck                         marker: this folder is a recheck's; its input
      .done/       000000.json, …           batches completed (with their counts)

``RecheckWriter(out_dir, dataset, *, run_id, batch_rows=DEFAULT_BATCH_ROWS)`` opens the folder:
it refuses (``filters.ConfigError``) an ``out_dir`` that is the input, inside it or holds it; a
folder with other content than an earlier recheck output (an empty or missing one is fine); a
folder another live writer holds (the crawl output's lock, ``crawler/_output_folder.py``); and
an earlier recheck output that was started for another input (path, kind, URL column, or
files changed since: ``Dataset.fingerprint``) or with another ``batch_rows`` (its batch
numbers would mean other rows). ``batch_rows`` must be the ``rows`` the driver passes to
``Dataset.batches``. Temporaries left by a killed run are deleted.

``write_batch(index, batch, keep, removals, flags)`` publishes one input batch: its
``records/`` part (the rows where ``keep`` is true), its ``flags/`` part (only when there are
flags; a stale one from a killed attempt is removed), its ``removals/`` part (always, maybe
empty), each atomically (hidden temporary, fsync, rename, folder fsync), and then marks the
batch done (``.done/<index>.json``, atomic). ``done`` is the set of batch indices completed
by earlier runs: the driver skips them. A batch killed before it was marked done is simply
written again under the same names; nothing is written twice. Checks before anything of the
batch is written (``ValueError``, nothing written): the batch has the dataset's schema and at
most ``batch_rows`` rows; ``keep`` has one bool per row; every row is valid
(``crawler/recheck/_schema.py``); and the removal rows are exactly the removed rows: one
per row where ``keep`` is false, with its URL (in any order: they are stored in input
order). A row can therefore never be both kept and listed as removed, nor dropped unlisted.

``write_changes(rows)`` writes ``changes/part-000000.parquet`` once per run (replacing an
earlier run's). ``close(run_info)`` writes ``removed-urls.txt`` from the ``removals/`` parts
of every done batch (so it is complete after a resume; URLs that are empty or hold a line
break, which no client can request, are left out of it but stay in ``removals/``) and
``run.json``: ``run_info`` (the driver's counts, config, engine version) plus ``out``,
``input``, ``input_kind``, ``url_column``, ``run_id``, ``batches`` and ``rows`` (totals over
every done batch, all runs) and ``started_at``/``finished_at`` if ``run_info`` has none; an
earlier ``run.json`` is kept under ``previous_runs``. It releases the folder. Leaving the
writer through ``with`` without ``close`` releases it too, writing nothing more.

A write failure (disk full, permissions) raises ``crawler.errors.OutputWriteError`` naming
the file; only complete files are left and the batch is not marked done; the writer refuses
further writes (rerun the same command to resume).
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from types import TracebackType
from typing import IO, Any, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq

from filters.errors import ConfigError

from .._output_folder import adopt_lock, check_output_dir, why
from ..errors import OutputLockedError, OutputWriteError
from . import _folder
from ._jsonl import LINE
from ._schema import (
    CHANGE_SCHEMA,
    FLAG_SCHEMA,
    REMOVAL_SCHEMA,
    SCHEMA_VERSION,
    normalize_change,
    normalize_flag,
    normalize_removal,
)
from .dataset import DEFAULT_BATCH_ROWS, Dataset

__all__ = [
    "CHANGE_SCHEMA",
    "FLAG_SCHEMA",
    "REMOVAL_SCHEMA",
    "SCHEMA_VERSION",
    "OutputWriteError",
    "RecheckWriter",
]

_T = TypeVar("_T")
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_DONE = re.compile(r"(\d{6,})\.json")


def _part(index: int, suffix: str = "parquet") -> str:
    return f"part-{index:06d}.{suffix}"


class RecheckWriter:
    """Writes one recheck's output folder (see the module docstring)."""

    def __init__(
        self,
        out_dir: Path,
        dataset: Dataset,
        *,
        run_id: str,
        batch_rows: int = DEFAULT_BATCH_ROWS,
    ) -> None:
        if not isinstance(run_id, str) or not _RUN_ID.fullmatch(run_id):
            raise ValueError(f"run_id {run_id!r}: use 1-128 of [A-Za-z0-9._-]")
        if batch_rows < 1:
            raise ValueError("batch_rows must be >= 1")
        self.out_dir = Path(out_dir)
        self.dataset = dataset
        self.run_id = run_id
        self.batch_rows = batch_rows
        self.started_at = datetime.now(UTC)
        self.failure: str | None = None
        self._closed = False
        self._changes_written = False
        self.batches_written = 0
        _folder.check_apart(self.out_dir, dataset.path)
        _folder.check_ours(self.out_dir)  # before anything is created in a foreign folder
        check_output_dir(self.out_dir)
        try:
            self._lock: IO[bytes] | None = adopt_lock(self.out_dir)
        except OutputLockedError as e:
            raise ConfigError(str(e)) from None
        try:
            self._open()
        except BaseException:
            self._release()
            raise

    def _open(self) -> None:
        ours = _folder.check_ours(self.out_dir)  # again, under the lock
        identity = self._identity()
        if ours:
            self._check_identity(identity)
        else:
            self._io(
                "the marker", lambda: self._publish_json(self.out_dir, _folder.MARKER, identity)
            )
        for sub in _folder.SUBFOLDERS:
            sub_dir = self.out_dir / sub
            if sub_dir.exists() and not sub_dir.is_dir():
                raise ConfigError(f"output folder {sub_dir}: exists and is not a folder")
            try:
                sub_dir.mkdir(exist_ok=True)
            except OSError as e:
                raise ConfigError(f"output folder {sub_dir}: cannot create it ({why(e)})") from None
        _folder.remove_stale(self.out_dir)
        self._done = self._read_done()

    def _identity(self) -> dict[str, Any]:
        return {
            "heed_recheck": SCHEMA_VERSION,
            "input": str(self.dataset.path.resolve()),
            "input_kind": self.dataset.kind,
            "url_column": self.dataset.url_column,
            "fingerprint": self.dataset.fingerprint,
            "batch_rows": self.batch_rows,
        }

    def _check_identity(self, identity: Mapping[str, Any]) -> None:
        try:
            earlier = json.loads((self.out_dir / _folder.MARKER).read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise ConfigError(f"{self.out_dir / _folder.MARKER}: unreadable ({e})") from None
        if not isinstance(earlier, dict):
            raise ConfigError(f"{self.out_dir / _folder.MARKER}: not a recheck marker")
        differ = [k for k in identity if k != "heed_recheck" and earlier.get(k) != identity[k]]
        if differ:
            what = ", ".join(f"{k} {earlier.get(k)!r} (now {identity[k]!r})" for k in differ)
            hint = " (the input changed since)" if differ == ["fingerprint"] else ""
            raise ConfigError(
                f"output folder {self.out_dir} holds a recheck of another input{hint}: {what}; "
                "its batches would mean other rows. Use a new --out"
            )

    def _read_done(self) -> dict[int, dict[str, int]]:
        done: dict[int, dict[str, int]] = {}
        for path in (self.out_dir / ".done").iterdir():
            match = _DONE.fullmatch(path.name)
            if not match:
                continue
            try:
                counts = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # never written by us (ours are atomic): redo that batch
            if isinstance(counts, dict):
                done[int(match.group(1))] = counts
        return done

    @property
    def done(self) -> frozenset[int]:
        """Batch indices completed, by earlier runs and this one."""
        return frozenset(self._done)

    # -- writing -------------------------------------------------------------------------

    def _check_usable(self) -> None:
        if self._closed:
            raise ValueError("RecheckWriter is closed")
        if self.failure is not None:
            raise OutputWriteError(self.failure)

    def _io(self, what: str, action: Callable[[], _T]) -> _T:
        """Run ``action()``; an ``OSError`` fails the writer with an ``OutputWriteError``."""
        try:
            return action()
        except OSError as e:
            self.failure = f"cannot write {what} in {self.out_dir}: {why(e)}"[:500]
            raise OutputWriteError(self.failure) from e

    def _publish_json(self, folder: Path, name: str, value: Any) -> Path:
        text = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=_json)
        return _folder.publish(folder, name, lambda h: h.write(text.encode("utf-8") + b"\n"))

    def _publish_table(self, table_dir: str, name: str, table: pa.Table) -> Path:
        folder = self.out_dir / table_dir
        return self._io(
            f"{table_dir}/{name}",
            lambda: _folder.publish(
                folder, name, lambda h: pq.write_table(table, h, compression="zstd")
            ),
        )

    def write_batch(
        self,
        index: int,
        batch: pa.RecordBatch,
        keep: list[bool] | pa.Array[Any],
        removals: list[dict[str, Any]],
        flags: list[dict[str, Any]],
    ) -> None:
        """Publish input batch ``index``: kept rows, removals, flags; then mark it done.

        Raises:
            ValueError: a bad argument or row (nothing of the batch is written), a batch
                already done, or a closed writer.
            OutputWriteError: a file could not be written (the batch is not marked done).
        """
        self._check_usable()
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise ValueError(f"batch index {index!r}: expected an int >= 0")
        if index in self._done:
            raise ValueError(f"batch {index} is already done in {self.out_dir}")
        if not batch.schema.equals(self.dataset.schema, check_metadata=False):
            raise ValueError(f"batch {index}: its schema is not the dataset's")
        if batch.num_rows > self.batch_rows:
            raise ValueError(f"batch {index}: {batch.num_rows} rows, more than batch_rows")
        mask = _mask(keep, batch.num_rows)
        removal_rows = self._in_input_order(batch, mask, [normalize_removal(r) for r in removals])
        flag_rows = [normalize_flag(r) for r in flags]
        kept = pa.Table.from_batches([batch]).filter(mask)
        if self.dataset.kind == "jsonl":
            lines = [bytes(line or b"") for line in kept.column(LINE).to_pylist()]
            self._io(
                f"records/{_part(index, 'jsonl')}",
                lambda: _folder.publish(
                    self.out_dir / "records",
                    _part(index, "jsonl"),
                    lambda h: h.writelines(line + b"\n" for line in lines),
                ),
            )
        else:
            kept = kept.replace_schema_metadata(self.dataset.schema.metadata)
            self._publish_table("records", _part(index), kept)
        flag_part = self.out_dir / "flags" / _part(index)
        if flag_rows:
            self._publish_table("flags", _part(index), _table(flag_rows, FLAG_SCHEMA))
        else:
            self._io(f"flags/{flag_part.name}", lambda: flag_part.unlink(missing_ok=True))
        self._publish_table("removals", _part(index), _table(removal_rows, REMOVAL_SCHEMA))
        counts = {
            "rows": batch.num_rows,
            "kept": kept.num_rows,
            "removed": len(removal_rows),
            "flagged": len(flag_rows),
        }
        self._io(
            f".done/{index:06d}.json",
            lambda: self._publish_json(self.out_dir / ".done", f"{index:06d}.json", counts),
        )
        self._done[index] = counts
        self.batches_written += 1

    def _in_input_order(
        self, batch: pa.RecordBatch, mask: pa.BooleanArray, rows: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """The removal rows sorted by input position, checked to be exactly the removed rows."""
        urls = [
            u if isinstance(u, str) else ""
            for u in batch.column(self.dataset.url_column).to_pylist()
        ]  # a null URL is a removal with url "" (fetch.invalid-url)
        positions: dict[str, list[int]] = {}
        for i in reversed([i for i, k in enumerate(mask.to_pylist()) if not k]):
            positions.setdefault(urls[i], []).append(i)
        placed: list[tuple[int, dict[str, Any]]] = []
        for row in rows:
            free = positions.get(row["url"])
            if not free:
                raise ValueError(
                    f"removal row for {row['url']!r}: no removed row of the batch has that URL "
                    "(it is kept, not in this batch, or has a removal row already)"
                )
            placed.append((free.pop(), row))
        left = [urls[i] for free in positions.values() for i in free]
        if left:
            raise ValueError(
                f"{len(left)} removed row(s) have no removal row (e.g. {left[0]!r}); every row "
                "that is not kept needs one"
            )
        return [row for _, row in sorted(placed, key=lambda p: p[0])]

    def write_changes(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Write ``changes/part-000000.parquet`` (one row per origin and document), once.

        Raises:
            ValueError: a bad row (nothing written), a second call, or a closed writer.
            OutputWriteError: the file could not be written.
        """
        self._check_usable()
        if self._changes_written:
            raise ValueError("write_changes is called once per run")
        table = _table([normalize_change(r) for r in rows], CHANGE_SCHEMA)
        self._publish_table("changes", _part(0), table)
        self._changes_written = True

    # -- closing -------------------------------------------------------------------------

    def close(self, run_info: Mapping[str, Any]) -> Path:
        """Write ``removed-urls.txt`` and ``run.json``, release the folder; return run.json.

        After an earlier write failure both are still attempted (only done batches are
        listed) and ``run.json`` gets ``write_error``, and ``fatal`` if ``run_info`` has none.

        Raises:
            ValueError: the writer is closed. TypeError: ``run_info`` holds a value JSON
                cannot represent (nothing is written). OutputWriteError: ``removed-urls.txt``
                or ``run.json`` could not be written (the folder is released all the same).
        """
        if self._closed:
            raise ValueError("RecheckWriter is closed")
        try:
            info = self._run_info(run_info)
            json.dumps(info, default=_json)  # a TypeError before anything is replaced
            earlier_failure, self.failure = self.failure, None
            with contextlib.suppress(OutputWriteError):  # in self.failure; run.json still goes
                self._io("removed-urls.txt", self._write_removed_urls)
            failure = self.failure or earlier_failure
            if failure is not None:
                info["write_error"] = failure
                info["fatal"] = info.get("fatal") or failure
            previous = self._io("run.json", self._previous_runs)
            if previous:
                info["previous_runs"] = previous
            path = self._io("run.json", lambda: self._publish_json(self.out_dir, "run.json", info))
            if self.failure is not None:
                raise OutputWriteError(self.failure)
            return path
        finally:
            self._release()

    def _write_removed_urls(self) -> Path:
        def write(handle: IO[bytes]) -> None:
            for index in sorted(self._done):
                part = self.out_dir / "removals" / _part(index)
                for url in pq.read_table(part, columns=["url"]).column("url").to_pylist():
                    if url and "\n" not in url and "\r" not in url:
                        handle.write(url.encode("utf-8") + b"\n")

        return _folder.publish(self.out_dir, "removed-urls.txt", write)

    def _run_info(self, run_info: Mapping[str, Any]) -> dict[str, Any]:
        info: dict[str, Any] = dict(run_info)
        totals = {
            k: sum(c.get(k, 0) for c in self._done.values())
            for k in ("rows", "kept", "removed", "flagged")
        }
        info.setdefault("started_at", self.started_at)
        info.setdefault("finished_at", datetime.now(UTC))
        info.update(
            out=str(self.out_dir),
            input=str(self.dataset.path),
            input_kind=self.dataset.kind,
            url_column=self.dataset.url_column,
            run_id=self.run_id,
            batches={
                "done": len(self._done),
                "written_by_this_run": self.batches_written,
                "batch_rows": self.batch_rows,
            },
            rows=totals,
            recheck_schema_version=SCHEMA_VERSION,
        )
        return info

    def _previous_runs(self) -> list[Any]:
        path = self.out_dir / "run.json"
        if not path.exists():
            return []
        try:
            earlier = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            earlier = None
        if not isinstance(earlier, dict):
            path.replace(path.with_name(f"run.json.unreadable-{self.run_id}-{time.time_ns()}"))
            return []
        older = earlier.pop("previous_runs", [])
        return [*(older if isinstance(older, list) else [older]), earlier]

    def _release(self) -> None:
        self._closed = True
        if self._lock is not None:
            self._lock.close()  # closing the descriptor drops the flock
            self._lock = None

    def __enter__(self) -> RecheckWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Release the folder; written batches stay done, ``run.json`` comes from ``close()``."""
        self._release()


def _mask(keep: list[bool] | pa.Array[Any], rows: int) -> pa.BooleanArray:
    if isinstance(keep, pa.Array):
        if not pa.types.is_boolean(keep.type) or keep.null_count:
            raise ValueError("keep: expected a boolean array without nulls")
        mask = keep
    else:
        if not all(isinstance(k, bool) for k in keep):
            raise ValueError("keep: expected a list of bool")
        mask = pa.array(keep, pa.bool_())
    if len(mask) != rows:
        raise ValueError(f"keep: {len(mask)} values for a batch of {rows} rows")
    assert isinstance(mask, pa.BooleanArray)
    return mask


def _table(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=schema)


def _json(value: object) -> object:
    """``json.dumps`` fallback for run metadata."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return value.as_posix()
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"run.json: cannot store a {type(value).__name__}")
