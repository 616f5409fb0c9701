"""Resuming a crawl: what earlier runs in the output folder already decided, and the frontier.

A scheduled job reruns ``heed crawl`` into the same folder, and a crashed run is simply started
again. Both must neither lose nor duplicate anything, so a run in a folder that already holds
output resumes by default (README "Resuming", docs/output.md):

- **Done**: a URL with a ``decisions/`` row saying it was excluded, or with a ``records/`` row,
  in any complete part, is done: it is not requested or written again. Excluded pages are done
  whatever the reason (re-checking them is a separate, future command). A decision that says
  "kept" but whose record is missing (a folder written by an older heed, or edited by hand) is
  not done: the page is crawled again. A record whose decision part was lost in a crash is done;
  its missing decision row is rebuilt from the record (``decisions_rebuilt``).
- **Frontier**: every URL the spider discovers (seeds and in-scope links, with their depth) is
  appended to ``frontier.jsonl`` once per job, one JSON object per line:
  ``{"url": "...", "depth": 1}``. The log is fsynced when a URL is added a second or more
  after the previous fsync, at close, and before any part is published
  (``RunWriter(before_publish=...)``; the log is ``crawler/frontier.py``): so every URL
  whose decision is on disk has its links on disk too, and a SIGKILL loses only discoveries
  made from pages whose decisions were lost as well (those pages are crawled again and
  rediscover them).
- On resume, the seeds and then the logged frontier, minus the done set, are requested, within
  ``max_depth`` and within what is left of ``max_pages`` (which counts the URLs decided over the
  whole job, every run into the folder included).
- A frontier line that is not a valid entry is ignored, named in a warning and counted
  (``frontier_ignored_lines``); an incomplete last line left by a kill is expected and ignored
  the same way. So is a line whose URL cannot be requested (``filters.urls.check_url``: a bad
  port, over 2,083 characters, ...), which older versions logged: it is never requested, and
  the run goes on with the valid lines.
- Writing the log can fail (disk full, permissions): the first failure goes to
  ``on_failure`` (the crawler stops the crawl there), later URLs are not logged, and
  ``sync()`` raises ``OutputWriteError`` so that no part is published whose page's links are
  not on disk.
- Starting over is explicit: ``--fresh`` (or ``[output] resume = false``) requires a folder
  without earlier output and stops with a configuration error otherwise; heed never deletes
  output. A folder whose earlier run had another purpose or mode is refused as well, because
  its "done" decisions answered a different question.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from filters import ConfigError, HeedError

from ._output_parts import part_files
from ._output_schema import SCHEMA_VERSION
from ._resume_index import ResumeIndex
from .config import RunConfig
from .frontier import FRONTIER_NAME, FrontierReader

__all__ = ["ResumeState", "has_output", "load_resume"]

log = logging.getLogger(__name__)

_RECORD_COLUMNS = ["url", "host", "fetched_at", "license", "final_url", "http_status", "purpose"]


@dataclass
class ResumeState:
    """What earlier runs left in the output folder.

    The done set and the frontier are in ``index`` (on disk, ``crawler/_resume_index.py``)
    until :meth:`release`: a folder of millions of URLs is never held in memory.
    """

    resumed: bool = False
    index: ResumeIndex | None = None
    frontier_ignored_lines: int = 0
    rebuilt: list[dict[str, Any]] = field(default_factory=list)  # decision rows to write
    done_count: int = 0
    frontier_count: int = 0

    def done_urls(self) -> Iterator[str]:
        """The URLs earlier runs decided for good (streamed; none once released)."""
        return self.index.done_urls() if self.index is not None else iter(())

    def frontier_entries(self) -> Iterator[tuple[str, int]]:
        """The logged frontier minus the done set, in log order, each URL at its smallest
        depth (streamed; none once released)."""
        return self.index.frontier_entries() if self.index is not None else iter(())

    def release(self) -> None:
        """Delete the index (its content moved into the run's ledger), keeping the counts."""
        if self.index is not None:
            self.index.close()
            self.index = None


def has_output(out_dir: Path) -> bool:
    """True when ``out_dir`` holds complete parts, a ``run.json`` or a non-empty frontier."""
    frontier = out_dir / FRONTIER_NAME
    return bool(
        part_files(out_dir / "records")
        or part_files(out_dir / "decisions")
        or (out_dir / "run.json").exists()
        or (frontier.is_file() and frontier.stat().st_size > 0)
    )


def _check_schema_version(out_dir: Path) -> None:
    """Refuse to resume into parts of another records schema version (one folder, one
    schema: readers of a folder expect its parts alike)."""
    for _, path in part_files(out_dir / "records")[:1]:
        try:
            meta = pq.read_schema(path).metadata or {}
        except (OSError, ValueError) as e:
            raise HeedError(f"{path}: cannot be read ({e})") from None
        version = meta.get(b"heed.schema_version", b"1").decode("ascii", "replace")
        if version != SCHEMA_VERSION:
            raise ConfigError(
                f"{out_dir} holds records in schema version {version}; this heed writes "
                f"version {SCHEMA_VERSION}, and one folder holds one version. Crawl into a new "
                "folder (heed recheck and heed's readers still read this one)"
            )


def load_resume(out_dir: Path, cfg: RunConfig, *, fresh: bool) -> ResumeState:
    """Read the done set and the frontier of ``out_dir`` (call with the writer's lock held).

    Raises:
        ConfigError: ``fresh`` and the folder holds output, or the earlier output was written
            for another purpose or mode.
        HeedError: a complete part cannot be read.
    """
    if not has_output(out_dir):
        return ResumeState()
    if fresh:
        raise ConfigError(
            f"{out_dir} already holds output from an earlier run; --fresh (or [output] "
            "resume = false) needs an empty or new folder. heed never deletes output: choose "
            "another --out, or move the folder away yourself, or drop --fresh to resume"
        )
    _check_schema_version(out_dir)
    index = ResumeIndex()
    try:
        state = _scan(out_dir, cfg, index)
    except BaseException:
        index.close()
        raise
    return state


def _scan(out_dir: Path, cfg: RunConfig, index: ResumeIndex) -> ResumeState:
    """Stream the parts and the frontier log into ``index`` and apply the module's rules."""
    purposes: set[str] = set()
    for batch in _read_parts(out_dir, "records", ["url", "purpose"]):
        index.add_records(batch["url"])
        purposes.update(p for p in batch["purpose"] if isinstance(p, str))
    _check_policy(out_dir, cfg, purposes)
    for batch in _read_parts(out_dir, "decisions", ["url", "allowed"]):
        index.add_decisions(zip(batch["url"], batch["allowed"], strict=True))
    state = ResumeState(resumed=True, index=index)
    missing = index.records_without_decision()
    if missing:  # a second pass for those rows only (as many as one lost part held)
        for batch in _read_parts(out_dir, "records", _RECORD_COLUMNS):
            for i, url in enumerate(batch["url"]):
                if url in missing:
                    missing.discard(url)
                    state.rebuilt.append(_rebuilt_decision({k: v[i] for k, v in batch.items()}))
    index.settle()
    kept_without_record = index.kept_without_record()
    if kept_without_record:
        log.warning(
            "%d URL(s) have a 'kept' decision but no record in %s; they are crawled again",
            kept_without_record,
            out_dir,
        )
    frontier = FrontierReader(out_dir / FRONTIER_NAME)
    index.add_frontier(frontier)
    state.frontier_ignored_lines = frontier.ignored
    state.done_count, state.frontier_count = index.done_count(), index.frontier_count()
    return state


#: Rows per batch read from a part (the parts' row groups may be larger).
_BATCH_ROWS = 8192


def _read_parts(out_dir: Path, table: str, columns: list[str]) -> Iterator[dict[str, list[Any]]]:
    """The complete parts of ``table``, a batch of rows at a time (columns -> values)."""
    for _, path in part_files(out_dir / table):
        try:
            with pq.ParquetFile(path) as part:
                for batch in part.iter_batches(batch_size=_BATCH_ROWS, columns=columns):
                    yield batch.to_pydict()
        except Exception as e:  # pyarrow raises several types for a damaged file
            raise HeedError(
                f"cannot resume: {path} is unreadable ({e}); move it out of the folder to go on"
            ) from e


def _check_policy(out_dir: Path, cfg: RunConfig, purposes: set[str]) -> None:
    earlier: dict[str, set[str]] = {"purpose": set(), "mode": set()}
    try:
        info = json.loads((out_dir / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        info = None  # killed before writing one, or unreadable (the writer sets that aside)
    for run in [info, *(info.get("previous_runs", []) if isinstance(info, dict) else [])]:
        if isinstance(run, dict):
            for key, values in earlier.items():
                if isinstance(run.get(key), str):
                    values.add(run[key])
    earlier["purpose"].update(purposes)
    ours = {"purpose": cfg.purpose.value, "mode": cfg.mode.value}
    for key, values in earlier.items():
        other = sorted(values - {ours[key]})
        if other:
            raise ConfigError(
                f"{out_dir} holds output crawled with {key} {', '.join(other)}; this config's "
                f"{key} is {ours[key]}. Its decisions do not answer this run's question: use "
                "another output folder"
            )


def _rebuilt_decision(record: dict[str, Any]) -> dict[str, Any]:
    """The decision row of a kept page whose decision part was lost (it allowed the page)."""
    return {
        "url": record["url"],
        "host": record["host"],
        "decided_at": record["fetched_at"],
        "stage": "post-fetch",
        "allowed": True,
        "reasons": [],
        "license": record["license"],
        "final_url": record["final_url"],
        "http_status": record["http_status"],
    }
