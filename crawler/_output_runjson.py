"""``run.json``: a single-process run's, and a distributed job's merged from its workers' files.

Private to ``crawler/output.py`` (see its docstring for the single-process rules: an earlier
``run.json`` is kept under ``previous_runs``, an unreadable one is set aside).

The workers of a job (docs/distributed.md) share one output
folder; each writes its own parts and, when it closes, its own ``workers/<worker_id>.json``
(the ``run.json`` a single-process run would write, with that worker's earlier runs under
``previous_runs``). Then, holding ``.heed-run-json.lock`` (so two workers finishing together
never lose each other's counts), it rewrites ``run.json`` from every worker file in the folder:
the counts, the counts by reason, the rows written and the parts are the sums and union over
every worker run of the job; ``workers`` lists each run; the config, engine version, token list
and blocklists are the closing worker's (every worker of a job runs the same config).

A worker killed with SIGKILL writes no such file, but it left its snapshot,
``workers/<worker_id>.running.json`` (``crawler/_output_snapshot.py``): the counts of its
published parts. The merge adds every other worker's snapshot as an unfinished run (still
running, or killed): ``ended_at`` null, its id in ``unfinished_workers``. So the counts of
``run.json`` are those of the parts in the folder.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from ._output_parts import publish_bytes

try:  # POSIX only, like the folder lock (crawler/_output_folder.py).
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "KILLED_NOTE",
    "RUNNING_SUFFIX",
    "WORKERS_DIR",
    "completed",
    "count_decision",
    "json_bytes",
    "merge_runs",
    "publish_run",
    "publish_worker_run",
    "read_object",
    "runs_of",
]

logger = logging.getLogger("crawler.output")

#: The folder of the workers' own run files, inside the output folder.
WORKERS_DIR = "workers"
#: A worker's snapshot of its published progress: ``workers/<worker_id>.running.json``.
RUNNING_SUFFIX = ".running.json"
#: The ``fatal`` of a worker run known only from its snapshot, once its id ran again.
KILLED_NOTE = "ended without a summary (killed?): counts are those of its published parts"
_MERGE_LOCK = ".heed-run-json.lock"
_COUNTS = ("considered", "kept", "excluded")
#: What the merged file lists of each worker run.
_PER_RUN = ("worker_id", "crawl_id", "started_at", "ended_at", "counts", "fatal")


def json_value(value: object) -> object:
    """``json.dumps`` fallback for the value types a run's metadata holds."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return value.as_posix()
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    raise TypeError(f"run.json: cannot store a {type(value).__name__}")


def json_bytes(info: Mapping[str, Any]) -> bytes:
    """``info`` as the indented, key-sorted UTF-8 JSON of ``run.json``.

    Raises:
        TypeError: a value JSON cannot represent.
    """
    text = json.dumps(info, indent=2, sort_keys=True, ensure_ascii=False, default=json_value)
    return (text + "\n").encode("utf-8")


def _previous_runs(out_dir: Path, crawl_id: str) -> list[Any]:
    path = out_dir / "run.json"
    if not path.exists():
        return []
    try:
        earlier = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(earlier, dict):
            raise ValueError("not a JSON object")
    except ValueError as e:
        aside = path.with_name(f"run.json.unreadable-{crawl_id}")
        os.replace(path, aside)
        logger.warning("run.json in %s is unreadable (%s); kept as %s", out_dir, e, aside)
        return []
    older = earlier.pop("previous_runs", [])
    return [*(older if isinstance(older, list) else [older]), earlier]


def publish_run(out_dir: Path, crawl_id: str, info: Mapping[str, Any]) -> Path:
    """Write a single-process run's ``run.json``, the earlier one under ``previous_runs``.

    Raises:
        OSError: the file could not be written.
        TypeError: a value JSON cannot represent.
    """
    data = json_bytes(info)  # a TypeError before the earlier file is touched
    previous = _previous_runs(out_dir, crawl_id)
    if previous:
        data = json_bytes({**dict(info), "previous_runs": previous})
    return publish_bytes(out_dir / "run.json", data)


def read_object(path: Path) -> dict[str, Any] | None:
    """A JSON object from ``path``; None when it is missing or unreadable (never raises)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


@contextlib.contextmanager
def _merge_lock(out_dir: Path) -> Iterator[None]:
    with open(out_dir / _MERGE_LOCK, "ab") as handle:
        if fcntl is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)  # held for a few file reads at most
        yield


def runs_of(entry: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A worker file's runs, oldest first (its ``previous_runs``, then itself)."""
    earlier = entry.get("previous_runs")
    runs = [r for r in earlier if isinstance(r, dict)] if isinstance(earlier, list) else []
    runs.append({k: v for k, v in entry.items() if k != "previous_runs"})
    return runs


def _number(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def merge_runs(
    job: str,
    latest: Mapping[str, Any],
    files: list[dict[str, Any]],
    unfinished: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The job's ``run.json`` from the worker files ``files`` and the snapshots of unfinished
    worker runs ``unfinished`` (a snapshot of a run some file already holds is ignored);
    ``latest`` is the closing worker's run (its config and other settings head the result)."""
    runs = [run for entry in files for run in runs_of(entry)]
    finished = {(r.get("worker_id"), r.get("crawl_id")) for r in runs}
    open_runs = [
        {k: v for k, v in snap.items() if k != "previous_runs"}
        for snap in unfinished
        if (snap.get("worker_id"), snap.get("crawl_id")) not in finished
    ]
    runs += open_runs
    counts: Counter[str] = Counter()
    by_reason: Counter[str] = Counter()
    parts: dict[str, set[str]] = {}
    written: Counter[str] = Counter()
    for run in runs:
        run_counts = run.get("counts")
        if isinstance(run_counts, dict):
            counts.update({k: _number(run_counts.get(k)) for k in _COUNTS})
        reasons = run.get("counts_by_reason")
        if isinstance(reasons, dict):
            by_reason.update({str(k): _number(v) for k, v in reasons.items()})
        for key in ("records_written", "decisions_written"):
            written[key] += _number(run.get(key))
        run_parts = run.get("parts")
        if isinstance(run_parts, dict):
            for table, names in run_parts.items():
                if isinstance(names, list):
                    parts.setdefault(str(table), set()).update(str(n) for n in names)
    merged = {k: v for k, v in latest.items() if k not in ("previous_runs", "worker_id")}
    starts = [str(r["started_at"]) for r in runs if r.get("started_at")]
    ends = [str(r["ended_at"]) for r in runs if r.get("ended_at")]
    merged.update(
        crawl_id=job,
        job=job,
        counts={k: counts[k] for k in _COUNTS},
        counts_by_reason=dict(sorted(by_reason.items())),
        records_written=written["records_written"],
        decisions_written=written["decisions_written"],
        parts={table: sorted(names) for table, names in sorted(parts.items())},
        started_at=min(starts) if starts else latest.get("started_at"),
        ended_at=max(ends) if ends else latest.get("ended_at"),
        workers=[{k: run.get(k) for k in _PER_RUN} for run in runs],
        unfinished_workers=sorted({str(r.get("worker_id")) for r in open_runs}),
    )
    return merged


def count_decision(counts: Counter[str], by_reason: Counter[str], row: Mapping[str, Any]) -> None:
    """Count one ``decisions/`` row as the run context counts a decision: considered, kept or
    excluded, and the reasons of an excluded one."""
    counts["considered"] += 1
    if row.get("allowed"):
        counts["kept"] += 1
    else:
        counts["excluded"] += 1
        by_reason.update(str(r) for r in row.get("reasons") or ())


def _counter(value: object) -> Counter[str]:
    """Counts from a file someone else wrote: anything but whole numbers counts as 0."""
    items = value.items() if isinstance(value, dict) else ()
    return Counter({str(k): _number(v) for k, v in items})


def completed(out_dir: Path, snapshot: dict[str, Any]) -> dict[str, Any]:
    """``snapshot`` with the parts its run published after writing it: a worker rewrites its
    snapshot right after each rename, so a kill between the two leaves one part unlisted.
    That part's rows are counted here (a part that cannot be read is logged, not counted)."""
    crawl_id, worker_id = snapshot.get("crawl_id"), snapshot.get("worker_id")
    listed = snapshot.get("parts")
    if not isinstance(crawl_id, str) or not isinstance(worker_id, str):
        return snapshot
    parts = {t: list(v) for t, v in listed.items()} if isinstance(listed, dict) else {}
    counts, by_reason = (_counter(snapshot.get(k)) for k in ("counts", "counts_by_reason"))
    written = {t: _number(snapshot.get(f"{t}_written")) for t in ("records", "decisions")}
    for table in ("records", "decisions"):
        known = set(parts.get(table, []))
        for path in sorted((out_dir / table).glob(f"part-{crawl_id}-{worker_id}-*.parquet")):
            name = path.relative_to(out_dir).as_posix()
            if name in known:
                continue
            try:
                columns = ["allowed", "reasons"] if table == "decisions" else ["url"]
                rows = pq.read_table(path, columns=columns).to_pylist()
            except (OSError, ValueError) as e:  # pyarrow's errors are both
                logger.warning("run.json: cannot count %s: %s", path, e)
                continue
            parts.setdefault(table, []).append(name)
            written[table] += len(rows)
            for row in rows if table == "decisions" else ():
                count_decision(counts, by_reason, row)
    return {
        **snapshot,
        "parts": parts,
        "counts": {k: _number(counts[k]) for k in _COUNTS},
        "counts_by_reason": dict(sorted(by_reason.items())),
        "records_written": written["records"],
        "decisions_written": written["decisions"],
    }


def publish_worker_run(
    out_dir: Path,
    worker_id: str,
    job: str,
    info: Mapping[str, Any],
) -> Path:
    """Write ``workers/<worker_id>.json`` and the merged ``run.json``; return the latter.

    A ``run.json`` already in the folder that is not a job's (a single-process run before the
    job) is kept under the merged file's ``previous_runs``.

    Raises:
        OSError: a file could not be written (the caller records the failure).
        TypeError: a value JSON cannot represent.
    """
    folder = out_dir / WORKERS_DIR
    folder.mkdir(exist_ok=True)
    own = folder / f"{worker_id}.json"
    entry: dict[str, Any] = {**dict(info), "worker_id": worker_id, "job": job}
    earlier = read_object(own)
    if earlier is not None:
        entry["previous_runs"] = runs_of(earlier)
    publish_bytes(own, json_bytes(entry))
    with _merge_lock(out_dir):
        files, snapshots = [], []
        for path in sorted(folder.glob("*.json")):
            if path.name.endswith(RUNNING_SUFFIX):
                if path.name != f"{worker_id}{RUNNING_SUFFIX}":  # its own: superseded
                    snapshots.append(path)
            elif (data := read_object(path)) is not None:
                files.append(data)
        unfinished = [completed(out_dir, s) for p in snapshots if (s := read_object(p))]
        merged = merge_runs(job, entry, files, unfinished)
        existing = read_object(out_dir / "run.json")
        if existing is not None:
            if "workers" in existing:  # an earlier merge: its chain carries over
                chain = existing.get("previous_runs")
            else:
                chain = [*(existing.pop("previous_runs", None) or []), existing]
            if chain:
                merged["previous_runs"] = chain
        return publish_bytes(out_dir / "run.json", json_bytes(merged))
