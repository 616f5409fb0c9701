"""A worker's published progress, ``workers/<worker_id>.running.json``, for ``run.json``.

Private to ``crawler/output.py``. A worker of a distributed job writes ``workers/<id>.json``
only when it closes, so a worker killed with SIGKILL would leave its published parts in the
folder with no counts anywhere. Each time a worker publishes a ``decisions/`` part (with the
``records/`` part before it), it rewrites its snapshot: the counts of the rows in its
published parts (considered, kept, excluded, by reason, counted from the rows themselves),
its parts and the time. The snapshot is published atomically like every file of the folder.

- When the worker closes, its ``workers/<id>.json`` supersedes the snapshot, which is deleted.
- The merge of ``run.json`` (``crawler/_output_runjson.py``) adds every other worker's
  snapshot as an unfinished run (``ended_at`` null, listed in ``unfinished_workers``): a
  worker still running, or one that was killed. A kill between a part's rename and the
  snapshot that lists it leaves that part unlisted; the merge counts it from its rows
  (``completed``). So after a kill, ``run.json``'s counts are the counts of the parts in the
  folder.
- A worker that opens under the id of a killed one (it holds the id's lock, so the earlier
  process is gone) first folds that snapshot into ``workers/<id>.json`` as an earlier run
  that ended without a summary.

A snapshot that cannot be written is logged and skipped: the parts are published and
complete; only ``run.json``'s account of an eventual kill would lag.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ._output_parts import publish_bytes
from ._output_runjson import (
    KILLED_NOTE,
    RUNNING_SUFFIX,
    WORKERS_DIR,
    completed,
    count_decision,
    json_bytes,
    read_object,
    runs_of,
)

__all__ = ["WorkerSnapshot", "fold_killed_run"]

logger = logging.getLogger("crawler.output")


def _now() -> str:
    return datetime.now(UTC).isoformat()


class WorkerSnapshot:
    """The counts of one worker run's published decisions, and its snapshot file."""

    def __init__(self, out_dir: Path, worker_id: str, job: str, crawl_id: str) -> None:
        self.path = out_dir / WORKERS_DIR / f"{worker_id}{RUNNING_SUFFIX}"
        self.base = {"crawl_id": crawl_id, "worker_id": worker_id, "job": job}
        self.started_at = _now()
        self._pending: Counter[str] = Counter()  # rows written, their part not published
        self._pending_reasons: Counter[str] = Counter()
        self.counts: Counter[str] = Counter()  # rows in published parts
        self.by_reason: Counter[str] = Counter()
        self._warned = False

    def add(self, row: Mapping[str, Any]) -> None:
        """A decision row goes into the open part (the run context's rule: the reasons of
        excluded decisions are counted)."""
        count_decision(self._pending, self._pending_reasons, row)

    def discard(self) -> None:
        """The open part was discarded (a write failure): its rows are not published."""
        self._pending.clear()
        self._pending_reasons.clear()

    def published(self, info: Mapping[str, Any]) -> None:
        """The open decisions part was published; ``info``: records_written,
        decisions_written, parts (relative names) and schema_version. Rewrites the file."""
        self.counts.update(self._pending)
        self.by_reason.update(self._pending_reasons)
        self.discard()
        snapshot = {
            **self.base,
            **dict(info),
            "started_at": self.started_at,
            "ended_at": None,
            "snapshot_at": _now(),
            "counts": {k: self.counts[k] for k in ("considered", "kept", "excluded")},
            "counts_by_reason": dict(sorted(self.by_reason.items())),
        }
        try:
            self.path.parent.mkdir(exist_ok=True)
            publish_bytes(self.path, json_bytes(snapshot))
        except OSError as e:
            if not self._warned:
                logger.warning("could not write %s (%s): run.json may lag a kill", self.path, e)
                self._warned = True

    def remove(self) -> None:
        """The worker's own ``workers/<id>.json`` is written: the snapshot is superseded."""
        try:
            self.path.unlink(missing_ok=True)
        except OSError as e:
            logger.warning("could not remove %s: %s", self.path, e)


def fold_killed_run(out_dir: Path, worker_id: str, crawl_id: str) -> None:
    """An earlier process of ``worker_id`` left a snapshot (it was killed): record that run in
    ``workers/<worker_id>.json`` as one that ended without a summary, and delete the snapshot.
    Call it holding the worker id's lock. Never raises for a snapshot it cannot read (the
    unreadable file is left in place, and the merge ignores it)."""
    folder = out_dir / WORKERS_DIR
    path = folder / f"{worker_id}{RUNNING_SUFFIX}"
    snapshot = read_object(path)
    if snapshot is None or snapshot.get("crawl_id") == crawl_id:
        return
    snapshot = completed(out_dir, snapshot)
    own = folder / f"{worker_id}.json"
    earlier = read_object(own)
    runs = runs_of(earlier) if earlier is not None else []
    if all(r.get("crawl_id") != snapshot.get("crawl_id") for r in runs):
        entry: dict[str, Any] = {**snapshot, "fatal": KILLED_NOTE}
        if runs:
            entry["previous_runs"] = runs
        publish_bytes(own, json_bytes(entry))
    path.unlink(missing_ok=True)
