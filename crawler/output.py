"""heed's run output: Parquet parts for records and decisions, plus ``run.json`` (SPEC.md §6).

A run directory holds ``records/`` (one row per kept page), ``decisions/`` (one row per URL
considered, never any content) and ``run.json``. The columns are defined in
``crawler/_output_schema.py`` and documented in ``docs/output.md``.

Why it is built this way: a crawl can run for days and be killed at any moment, and auditors and
site owners read its output while it runs. So every part is written to a hidden temporary name
(``.part-<crawl_id>-<seq>.parquet.tmp``), fsynced, renamed into place with ``os.replace`` and
the directory fsynced: a reader globbing ``*.parquet`` only ever sees complete files, and a
SIGKILLed run leaves complete parts plus, at most, one stale temporary file per table, which
the next writer on the same directory deletes. Sequence numbers continue after the highest
part already in the folder, so a resumed or second run never overwrites earlier output.

Memory is bounded: rows are buffered until ``row_group_rows`` rows or about 32 MiB of
string/binary payload (the body column dominates), then written as one zstd row group. A part
is closed when it holds ``part_max_rows`` rows or its file reaches ``part_max_bytes`` (it may
exceed that by at most one row group and the footer), on ``flush()``/``close()``, and by
``maybe_flush()`` once it has been open ``flush_interval`` seconds, so a long crawl publishes
progress.

Choices where the SPEC is silent:
- One writer per output directory at a time (``crawler/_output_folder.py``: an exclusive
  ``flock``), so the stale temporary cleanup can never delete a live writer's file. A second
  writer raises ``OutputLockedError``. The workers of a distributed job (``worker_id``) share
  the folder: each names its parts ``part-<crawl_id>-<worker_id>-<seq>``, deletes only its own
  and dead workers' temporaries, and merges ``run.json`` (``crawler/_output_job.py``).
- ``run.json`` already present (a resumed run): the earlier content is kept under
  ``previous_runs`` in the new file instead of being lost; an unreadable one is set aside as
  ``run.json.unreadable-<crawl_id>``.
- Publication order: before a ``decisions/`` part is renamed into place, the open
  ``records/`` part is published, and before any part is published the optional
  ``before_publish`` callback runs (the crawler fsyncs its frontier log there). So after a
  crash a published "allowed" decision always has its record, and every decided URL's links
  are on disk. The reverse (a record whose decision part was lost) can happen; the crawler's
  resume repairs it (``crawler/resume.py``).
- Rows that were validated but not yet written are still published when the writer is left
  through an exception in a ``with`` block (they are complete, checked rows); ``run.json`` is
  written only by ``close()``.
- A write failure (permissions, disk full, a folder replaced by a file, a closed file: any
  ``OSError`` while writing or publishing a part, or a ``HeedError`` from the
  ``before_publish`` hook, e.g. the job's Redis gone when its done-set is synced) fails the
  writer as a whole, once: both
  open temporary parts are discarded (they may be torn), the message goes to ``on_failure``
  (the crawler stops the crawl there) and every later row is dropped and counted
  (``rows_lost`` in ``run.json``), never retried into a half-written file. Parts published
  before the failure stay as they are, complete; ``close()`` still writes ``run.json`` (with
  ``write_error`` and ``fatal`` set) if the folder allows it. The rows lost belong to URLs a
  rerun has not seen decided, so it crawls them again.

Thread-safety: a ``RunWriter`` is single-threaded. Scrapy item pipelines run in the reactor
thread, which is the intended caller; call ``maybe_flush`` from a ``LoopingCall`` there too.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from filters.errors import HeedError

from ._output_folder import (
    TABLES as _TABLES,
)
from ._output_folder import (
    WorkerLock,
    adopt_lock,
    check_output_dir,
    hold_output_lock,
    remove_stale_parts,
    worker_lock,
)
from ._output_folder import (
    why as _why,
)
from ._output_parts import Stream
from ._output_read import read_decisions, read_records
from ._output_runjson import publish_run, publish_worker_run
from ._output_schema import (
    DECISION_SCHEMA,
    RECORD_SCHEMA,
    SCHEMA_VERSION,
    normalize_decision,
    normalize_record,
)
from ._output_snapshot import WorkerSnapshot, fold_killed_run
from .errors import OutputLockedError, OutputWriteError

__all__ = [
    "DECISION_SCHEMA",
    "DEFAULT_PART_MAX_BYTES",
    "RECORD_SCHEMA",
    "SCHEMA_VERSION",
    "OutputLockedError",
    "OutputWriteError",
    "RunWriter",
    "check_output_dir",
    "hold_output_lock",
    "read_decisions",
    "read_records",
]

logger = logging.getLogger(__name__)

_MIB = 1024 * 1024
#: Default cap on one part file (SPEC.md §6 leaves sizes open; 256 MiB suits object stores).
DEFAULT_PART_MAX_BYTES = 256 * _MIB
#: A crawl_id becomes part of file names, so it is restricted to a portable, slash-free set.
_CRAWL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
#: A worker id never holds "-", so the field before the sequence number is the worker's.
_WORKER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_]{0,47}")


class RunWriter:
    """Writes one run's ``records/`` and ``decisions/`` parts and its ``run.json``.

    Construction creates the folders, takes the directory lock and deletes stale temporary
    parts left by a killed run (logged). Rows are validated on ``write_record`` /
    ``write_decision``; see ``crawler/_output_schema.py`` for the rules.

    Raises:
        ValueError: a ``crawl_id`` unfit for file names, or a non-positive limit.
        OutputLockedError: another live writer uses ``out_dir``.
    """

    def __init__(
        self,
        out_dir: Path,
        crawl_id: str,
        *,
        row_group_rows: int = 1000,
        part_max_rows: int = 10_000,
        part_max_bytes: int = DEFAULT_PART_MAX_BYTES,
        flush_interval: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        before_publish: Callable[[], object] | None = None,
        worker_id: str = "",
        job: str = "",
        before_publish_records: Callable[[], object] | None = None,
        note_row: Callable[[str, bool], object] | None = None,
    ) -> None:
        if not isinstance(crawl_id, str) or not _CRAWL_ID.fullmatch(crawl_id):
            raise ValueError(f"crawl_id {crawl_id!r}: use 1-128 of [A-Za-z0-9._-]")
        limits = (row_group_rows, part_max_rows, part_max_bytes)
        if min(limits) < 1 or not flush_interval > 0:
            raise ValueError("row_group_rows, part_max_rows, part_max_bytes, flush_interval > 0")
        if worker_id and not _WORKER_ID.fullmatch(worker_id):
            raise ValueError(f"worker_id {worker_id!r}: use 1-48 of [A-Za-z0-9_]")
        self.out_dir = Path(out_dir)
        self.crawl_id = crawl_id
        #: A worker of a distributed job ("" for a single-process run): its parts are named
        #: ``part-<crawl_id>-<worker_id>-<seq>`` and it shares the folder with the job's other
        #: workers (``crawler/_output_folder.py``, ``crawler/_output_job.py``).
        self.worker_id = worker_id
        self.job = job or crawl_id
        #: Told (url, kept) of each row before it is buffered, so a hook that runs before a
        #: part is published knows every URL in it (the job's done-set, docs/distributed.md).
        self.note_row = note_row
        self.flush_interval = flush_interval
        self._clock = clock
        self._closed = False
        #: The first write failure, as a message; then every later row is dropped.
        self.failure: str | None = None
        #: Called once with that message (the crawler stops the crawl).
        self.on_failure: Callable[[str], object] | None = None
        self.rows_lost = 0
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._lock = self._acquire_lock()
        self._before_publish = before_publish
        self._streams: dict[str, Stream] = {}
        name = f"{crawl_id}-{worker_id}" if worker_id else crawl_id
        for table, schema in zip(_TABLES, (RECORD_SCHEMA, DECISION_SCHEMA), strict=True):
            folder = self.out_dir / table
            folder.mkdir(exist_ok=True)
            remove_stale_parts(self.out_dir, folder, worker_id)
            self._streams[table] = Stream(folder, schema, name, limits)
        records = self._streams["records"]
        records.before_publish = before_publish_records or before_publish
        self._streams["decisions"].before_publish = self._before_decisions
        self._records_due = False
        #: A worker's published counts, rewritten with each decisions part (a kill leaves
        #: them for run.json: crawler/_output_snapshot.py).
        self._snapshot: WorkerSnapshot | None = None
        if worker_id:  # a full records part goes out with the decisions part that follows it
            records.on_full = self._records_full_later
            fold_killed_run(self.out_dir, worker_id, crawl_id)
            self._snapshot = WorkerSnapshot(self.out_dir, worker_id, self.job, crawl_id)
            self._streams["decisions"].after_publish = self._after_decisions

    def _records_full_later(self) -> None:
        # The record just written has no decision row yet (nor, in the job's ledger, a noted
        # decision): its part goes out once the decision follows, in write_decision.
        self._records_due = True

    def _records_full(self) -> Path | None:
        # A worker publishes a records part only with the decisions part that follows it, the
        # job's done-set synced before the first rename: a published record always has its
        # decision published (but for a kill between the two renames) and is never crawled
        # again by another worker.
        records, decisions = self._streams["records"], self._streams["decisions"]
        if decisions.rows or decisions.writer is not None:
            decisions.close_part()  # publishes the records part first (_before_decisions)
            return records.published[-1] if records.published else None
        return records.close_part()

    def _before_decisions(self) -> None:
        # A kept page's record is buffered before its decision, so publishing the records
        # first means a published "allowed" decision always has its record published too.
        self._streams["records"].close_part()
        if self._before_publish is not None:
            self._before_publish()

    def _after_decisions(self) -> None:
        if self._snapshot is not None:
            self._snapshot.published(self._written_info())

    def _written_info(self) -> dict[str, Any]:
        """What this writer has published: the counts and names of its parts."""
        return {
            "records_written": self.records_written,
            "decisions_written": self.decisions_written,
            "parts": {
                name: [p.relative_to(self.out_dir).as_posix() for p in paths]
                for name, paths in self.parts.items()
            },
            "schema_version": SCHEMA_VERSION,
        }

    def _acquire_lock(self) -> IO[bytes] | WorkerLock | None:
        if self.worker_id:
            return worker_lock(self.out_dir, self.worker_id)
        return adopt_lock(self.out_dir)

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError("RunWriter is closed")

    def _fail(self, table: str, e: BaseException) -> None:
        """Fail the writer: discard the open parts, count what is lost, tell ``on_failure``."""
        lost = sum(len(s.rows) + s.part_rows for s in self._streams.values())
        for stream in self._streams.values():
            stream.discard()
        if self._snapshot is not None:
            self._snapshot.discard()
        self.rows_lost += lost
        if self.failure is not None:
            return
        detail = _why(e) if isinstance(e, OSError) else str(e)
        what = f"{table}/" if table in _TABLES else table
        self.failure = f"cannot write {what} in {self.out_dir}: {detail}"[:500]
        logger.debug("write failure in %s", self.out_dir, exc_info=e)
        if self.on_failure is not None:
            self.on_failure(self.failure)

    def _add(self, table: str, row: dict[str, Any]) -> None:
        if self.failure is not None:
            self.rows_lost += 1
            return
        try:
            self._streams[table].add(row, self._clock())
        except (OSError, HeedError) as e:  # HeedError: OutputWriteError, a failed hook
            self._fail(table, e)

    def _publish(self, table: str) -> Path | None:
        if self.failure is not None:
            return None
        try:
            if table == "records" and self.worker_id:
                return self._records_full()
            return self._streams[table].close_part()
        except (OSError, HeedError) as e:  # HeedError: OutputWriteError, a failed hook
            self._fail(table, e)
            return None

    def write_record(self, row: Mapping[str, Any]) -> None:
        """Validate and buffer one kept page (``RECORD_SCHEMA`` keys; ``crawl_id`` optional).

        Raises:
            ValueError: missing or unknown keys (all named), a bad value, or a closed writer.
        """
        self._check_open()
        self._add("records", normalize_record(row, self.crawl_id))

    def write_decision(self, row: Mapping[str, Any]) -> None:
        """Validate and buffer one decision (``DECISION_SCHEMA`` keys; ``crawl_id`` optional).

        Raises:
            ValueError: missing or unknown keys (all named), a bad value, or a closed writer.
        """
        self._check_open()
        checked = normalize_decision(row, self.crawl_id)
        if self.note_row is not None:  # before any publication that could include the row
            self.note_row(checked["url"], bool(checked["allowed"]))
        if self._snapshot is not None and self.failure is None:
            self._snapshot.add(checked)
        self._add("decisions", checked)
        if self._records_due:  # a full records part waited for this decision (_records_full)
            self._records_due = False
            self._publish("records")

    def maybe_flush(self, now: float | None = None) -> list[Path]:
        """Publish every part that has been open ``flush_interval`` seconds or longer.

        ``now`` is on the writer's clock (``time.monotonic`` by default). Returns the parts
        published by this call.
        """
        self._check_open()
        now = self._clock() if now is None else now
        published = []
        for table, stream in self._streams.items():
            if stream.opened_at is not None and now - stream.opened_at >= self.flush_interval:
                path = self._publish(table)
                if path is not None:
                    published.append(path)
        return published

    def flush(self) -> list[Path]:
        """Write every buffered row and publish the open parts; return the parts published."""
        self._check_open()
        paths = [self._publish(table) for table in self._streams]
        return [p for p in paths if p is not None]

    @property
    def records_written(self) -> int:
        """Rows in published record parts."""
        return self._streams["records"].rows_written

    @property
    def decisions_written(self) -> int:
        """Rows in published decision parts."""
        return self._streams["decisions"].rows_written

    @property
    def parts(self) -> dict[str, list[Path]]:
        """Parts published by this writer, per table (``records``, ``decisions``)."""
        return {name: list(s.published) for name, s in self._streams.items()}

    def close(self, run_info: Mapping[str, Any]) -> Path:
        """Publish everything, write ``run.json`` atomically and release the directory.

        ``run_info`` (config, engine version, ``ai_agents``, counts by reason, start/end time)
        is merged with the counts this writer tracked: ``records_written``,
        ``decisions_written``, ``parts`` (relative paths) and ``schema_version``; these win.
        Returns the path of ``run.json``.

        After a write failure (``failure``), nothing more is published; ``run.json`` gets
        ``write_error`` and ``rows_lost``, and ``fatal`` if ``run_info`` has none. Writing
        ``run.json`` itself can fail too: that is logged and recorded in ``failure``, not
        raised, and the directory is released either way.

        Raises:
            ValueError: the writer is already closed.
            TypeError: ``run_info`` holds a value JSON cannot represent.
        """
        self._check_open()
        try:
            self.flush()
            info: dict[str, Any] = {"crawl_id": self.crawl_id, **dict(run_info)}
            info.update(self._written_info())
            if self.failure is not None:
                info.update(write_error=self.failure, rows_lost=self.rows_lost)
                info["fatal"] = info.get("fatal") or self.failure
            path = self.out_dir / "run.json"
            try:
                if self.worker_id:
                    path = publish_worker_run(self.out_dir, self.worker_id, self.job, info)
                    if self._snapshot is not None:
                        self._snapshot.remove()
                else:
                    path = publish_run(self.out_dir, self.crawl_id, info)
            except OSError as e:
                self._fail("run.json", e)
                logger.error("could not write %s: %s", path, e)
        finally:
            self._release()
        return path

    def _release(self) -> None:
        self._closed = True
        if self._lock is not None:
            self._lock.close()  # closing the descriptor drops the flock
            self._lock = None

    def __enter__(self) -> RunWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Publish what was written and release; ``run.json`` only comes from ``close()``."""
        if self._closed:
            return
        try:
            for stream in self._streams.values():
                try:
                    stream.close_part()
                except Exception:
                    stream.discard()
                    if exc_type is None:
                        raise
                    logger.exception("could not publish a part of %s", self.out_dir)
        finally:
            self._release()
