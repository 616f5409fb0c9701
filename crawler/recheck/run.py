"""``heed recheck``: decide every row of a collected dataset again, against today's signals.

Each input batch (``crawler/recheck/dataset.py``) is decided row by row by the consent gate
(``filters/engine/gate.py``), the same gate as ``heed crawl`` and ``heed check``:

- the origins of the batch's rows get today's site documents, once per origin per run, through
  the crawl's own loader, limits, error rules and politeness (and the document cache on disk);
- the registry is asked about the batch's URLs in one batch lookup;
- ``--refetch none`` (the default) stops the gate after the pre-fetch decision: documents and
  registry only, no page is requested; ``headers`` reads each page's headers again (``HEAD``;
  a server refusing HEAD is asked with GET); ``full`` downloads each page again and decides it
  post-fetch exactly as a crawl would (meta, licence, redirects checked per hop).

A row stays (``records/``) when the decision allows it. A row that is gone (404/410) or whose
page cannot be reached (a page-level ``fetch.error``) after its documents were read is flagged
(``flags/``) and kept or removed as ``[recheck] on_gone`` / ``on_unreachable`` say (default:
kept). Every other exclusion is a removal (``removals/``, ``removed-urls.txt``), with today's
reasons, the earlier decision (for a heed dataset) and the site documents that changed.

The input is never written to; the output folder is resumable batch by batch
(``crawler/recheck/output.py``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import pyarrow as pa

import filters
from filters import ReasonCode, Stage

from ..config import RunConfig
from ._report import OriginState, Progress, RecheckStats, earlier_documents
from ._urls import UrlParts
from .dataset import DEFAULT_BATCH_ROWS, Dataset
from .decide import Decider, RowResult, WorkerPool, bucket_of, make_checker
from .output import RecheckWriter

__all__ = ["REFETCH_MODES", "RecheckOptions", "RecheckStats", "recheck"]

log = logging.getLogger(__name__)

Refetch = Literal["none", "headers", "full"]
REFETCH_MODES: tuple[Refetch, ...] = ("none", "headers", "full")

_GONE = frozenset({404, 410})
#: The licence columns of a heed dataset, re-derived when pages are read again.
_LICENSE_COLUMNS = ("license", "license_url", "license_source", "license_conflict")


@dataclass(frozen=True)
class RecheckOptions:
    """How a recheck reads pages and shows itself."""

    refetch: Refetch = "none"
    batch_rows: int = DEFAULT_BATCH_ROWS
    progress: bool = False
    progress_interval: float = 1.0
    workers: int = 1


@dataclass
class _Pending:
    """A batch whose URLs are with the deciders."""

    index: int
    batch: pa.RecordBatch
    urls: list[str]
    invalid: dict[int, str]
    valid: list[int]
    origins: list[str]
    collect: Callable[[], _Decided]


class _Run:
    """One recheck's recording side: rows in, keep mask, removals, flags, changes, counts."""

    def __init__(
        self,
        cfg: RunConfig,
        dataset: Dataset,
        writer: RecheckWriter,
        options: RecheckOptions,
        decide: Callable[[list[str], list[str], list[str]], Callable[[], _Decided]],
    ) -> None:
        self.cfg, self.dataset, self.writer, self.options = cfg, dataset, writer, options
        self.decide = decide
        self.stats = RecheckStats()
        self.origins: dict[str, OriginState] = {}
        self.heed = dataset.kind == "heed"
        self.progress = Progress(self.stats, options.progress_interval, options.progress)
        self.checked_at = datetime.now(UTC)
        self.urls = UrlParts()

    def batch(self, index: int, batch: pa.RecordBatch) -> None:
        """Decide and record one batch."""
        self.finish(self.submit(index, batch))

    def submit(self, index: int, batch: pa.RecordBatch) -> _Pending:
        """Check the batch's URLs and hand the valid ones to the deciders."""
        column = batch.column(self.dataset.url_column).to_pylist()
        urls = [u if isinstance(u, str) else "" for u in column]
        invalid: dict[int, str] = {}
        valid: list[int] = []
        origins: list[str] = []
        hosts: list[str] = []
        parse = self.urls.parse
        for i, url in enumerate(urls):
            problem, origin, host = parse(url)
            if problem is None:
                valid.append(i)
                origins.append(origin)
                hosts.append(host)
            else:
                invalid[i] = problem
        collect = self.decide([urls[i] for i in valid], origins, hosts)
        return _Pending(index, batch, urls, invalid, valid, origins, collect)

    def finish(self, pending: _Pending) -> None:
        """Record a submitted batch once its decisions are in, and write it."""
        index, batch, urls, invalid = pending.index, pending.batch, pending.urls, pending.invalid
        valid, origins = pending.valid, pending.origins
        results, docs = pending.collect()
        for origin, now in docs.items():
            self.origins.setdefault(origin, OriginState()).now = now
        by_row = dict(zip(valid, zip(results, origins, strict=True), strict=True))
        names = ("evidence", "license", "crawl_id", "fetched_at", "sha256")
        columns: dict[str, list[Any]] = {
            name: batch.column(name).to_pylist()
            for name in names
            if self.heed and name in batch.schema.names
        }
        keep: list[bool] = []
        removals: list[dict[str, Any]] = []
        flags: list[dict[str, Any]] = []
        relicensed: list[RowResult | None] = []
        for i, url in enumerate(urls):
            state: OriginState | None = None
            if i in invalid:
                result = RowResult(False, (ReasonCode.FETCH_INVALID_URL.value,), "pre-fetch")
            else:
                result, origin = by_row[i]
                state = self.origins.setdefault(origin, OriginState())
                if self.heed and state.earlier is None and columns.get("evidence"):
                    state.earlier = earlier_documents(columns["evidence"][i]) or {}
            kept, flag = self._verdict(result)
            if kept and result.allowed and self.options.refetch != "none":
                flags.extend(self._changed(url, result, columns, i))
            if flag is not None:
                flags.append(self._flag(url, flag, kept, result, ", ".join(result.reasons)))
            keep.append(kept)
            relicensed.append(result if kept and result.allowed else None)
            if not kept:
                removals.append(self._removal(url, result, state, columns, i))
        batch = self._relicensed(batch, relicensed)
        self.writer.write_batch(index, batch, keep, removals, flags)
        self.stats.batches += 1
        self.stats.rows += len(urls)
        self.stats.kept += sum(keep)
        self.stats.removed += len(removals)
        self.stats.flagged += len(flags)
        self.stats.origins = len(self.origins)
        self.progress.tick()

    def _verdict(self, result: RowResult) -> tuple[bool, str | None]:
        """(the row stays, its flag) for a row's result."""
        if result.allowed:
            return True, None
        if result.internal:  # a bug in a step: excluded, never taken for a page that is down
            return False, None
        if self.options.refetch != "none" and result.stage == Stage.POST_FETCH.value:
            reasons = set(result.reasons)
            if reasons == {ReasonCode.FETCH_STATUS.value} and result.http_status in _GONE:
                return self.cfg.recheck_on_gone == "keep", "gone"
            page_errors = {ReasonCode.FETCH_ERROR.value, ReasonCode.FETCH_STATUS.value}
            # Down: no answer at all (a timeout, a refused or reset connection), or a 5xx. An
            # answer whose body could not be read has a status: it is a removal, not "down".
            if reasons <= page_errors and (result.http_status is None or result.http_status >= 500):
                return self.cfg.recheck_on_unreachable == "keep", "unreachable"
        return False, None

    def _changed(
        self, url: str, result: RowResult, columns: Mapping[str, list[Any]], i: int
    ) -> list[dict[str, Any]]:
        """Flags for a kept, re-read row whose licence or body changed."""
        out = []
        if self.heed and "license" in columns and result.license != columns["license"][i]:
            detail = f"{columns['license'][i]} -> {result.license}"
            out.append(self._flag(url, "license-changed", True, result, detail))
        old = columns["sha256"][i] if "sha256" in columns else None
        if result.sha256 is not None and old is not None and result.sha256 != old:
            out.append(self._flag(url, "body-changed", True, result, None))
        return out

    def _flag(
        self, url: str, flag: str, kept: bool, result: RowResult, detail: str | None
    ) -> dict[str, Any]:
        self.stats.flags[flag] += 1
        return {
            "url": url,
            "host": self.urls.parse(url)[2],
            "flag": flag,
            "kept": kept,
            "http_status": result.http_status,
            "detail": detail,
            "checked_at": self.checked_at,
        }

    def _removal(
        self,
        url: str,
        result: RowResult,
        state: OriginState | None,
        columns: Mapping[str, list[Any]],
        i: int,
    ) -> dict[str, Any]:
        host = self.urls.parse(url)[2]
        self.stats.by_reason.update(result.reasons)
        self.stats.removed_by_host[host] += 1
        changed: list[dict[str, Any]] = []
        if state is not None:
            state.removed += 1
            changed = [
                {k: c[k] for k in ("url", "old_sha256", "new_sha256", "fetched_at")}
                for c in state.changes(self.heed)
                if c["changed"]
            ]
        final = result.final_url if result.final_url not in (None, url) else None
        return {
            "url": url,
            "host": host,
            "reasons": list(result.reasons),
            "stage": result.stage,
            "http_status": result.http_status,
            "final_url": final,
            "earlier_allowed": True if self.heed else None,
            "earlier_license": columns["license"][i] if "license" in columns else None,
            "earlier_crawl_id": columns["crawl_id"][i] if "crawl_id" in columns else None,
            "earlier_fetched_at": columns["fetched_at"][i] if "fetched_at" in columns else None,
            "license": result.license if self.options.refetch != "none" else None,
            "documents_changed": changed,
            "checked_at": self.checked_at,
        }

    def _relicensed(self, batch: pa.RecordBatch, results: list[RowResult | None]) -> pa.RecordBatch:
        """A heed batch with the licence columns of re-read kept rows re-derived."""
        if not self.heed or self.options.refetch == "none":
            return batch
        if not all(c in batch.schema.names for c in _LICENSE_COLUMNS):
            return batch
        values = {c: batch.column(c).to_pylist() for c in _LICENSE_COLUMNS}
        for i, result in enumerate(results):
            if result is None:
                continue
            values["license"][i] = result.license
            values["license_url"][i] = result.license_url
            values["license_source"][i] = result.license_source
            values["license_conflict"][i] = result.license_conflict
        arrays = [
            pa.array(values[name], type=batch.schema.field(name).type)
            if name in values
            else batch.column(name)
            for name in batch.schema.names
        ]
        return pa.RecordBatch.from_arrays(arrays, schema=batch.schema)

    def changes(self) -> list[dict[str, Any]]:
        rows = []
        for name, state in sorted(self.origins.items()):
            if state.now is None:
                continue
            for c in state.changes(self.heed):
                rows.append(
                    {
                        "origin": name,
                        "document": c["document"],
                        "url": c["url"],
                        "old_sha256": c["old_sha256"],
                        "new_sha256": c["new_sha256"],
                        "old_status": c["old_status"],
                        "new_status": c["new_status"],
                        "changed": c["changed"],
                        "rows_removed": state.removed,
                        "checked_at": self.checked_at,
                    }
                )
        return rows


_Decided = tuple[list[RowResult], dict[str, dict[str, dict[str, Any]]]]


def _run_batches(
    run: _Run, dataset: Dataset, writer: RecheckWriter, options: RecheckOptions
) -> None:
    done = writer.done
    run.stats.batches_done_earlier = len(done)
    start = 0
    while start in done:  # the leading batches an earlier run completed are not even read
        start += 1
    pending: _Pending | None = None
    for index, batch in dataset.batches(options.batch_rows, start=start):
        if index in done:
            continue
        submitted = run.submit(index, batch)  # the deciders start on it ...
        if pending is not None:
            run.finish(pending)  # ... while this process records the previous batch
        pending = submitted
    if pending is not None:
        run.finish(pending)
    writer.write_changes(run.changes())
    run.progress.tick(force=True)


def recheck(
    cfg: RunConfig,
    dataset: Dataset,
    writer: RecheckWriter,
    options: RecheckOptions,
) -> dict[str, Any]:
    """Recheck ``dataset`` into ``writer``'s folder; returns the summary (also in run.json).

    With ``options.workers`` > 1 the deciding runs in that many worker processes, each owning
    the hosts of one bucket (``crawler/recheck/decide.py``); this process reads, records and
    writes.
    """
    if options.workers > 1:
        pool = WorkerPool(cfg, options.refetch, options.workers)
        try:

            def decide_pool(
                urls: list[str], origins: list[str], hosts: list[str]
            ) -> Callable[[], _Decided]:
                parts: list[tuple[list[str], list[str]]] = [([], []) for _ in range(pool.workers)]
                where: list[tuple[int, int]] = []
                for url, origin, host in zip(urls, origins, hosts, strict=True):
                    k = bucket_of(host, pool.workers)
                    where.append((k, len(parts[k][0])))
                    parts[k][0].append(url)
                    parts[k][1].append(origin)
                pool.submit(parts)

                def collect() -> _Decided:
                    answers = pool.collect()
                    docs: dict[str, dict[str, dict[str, Any]]] = {}
                    for _, found in answers:
                        docs.update(found)
                    return [answers[k][0][j] for k, j in where], docs

                return collect

            run = _Run(cfg, dataset, writer, options, decide_pool)
            _run_batches(run, dataset, writer, options)
        finally:
            pool.close()
    else:
        with asyncio.Runner() as runner:
            checker = make_checker(cfg, options.refetch)
            runner.run(checker.__aenter__())
            try:
                decider = Decider(checker, options.refetch)

                def decide_here(
                    urls: list[str], origins: list[str], hosts: list[str]
                ) -> Callable[[], _Decided]:
                    return lambda: runner.run(decider.decide(urls, origins))

                run = _Run(cfg, dataset, writer, options, decide_here)
                _run_batches(run, dataset, writer, options)
            finally:
                runner.run(checker.__aexit__(None, None, None))
    summary = run.stats.as_dict()
    summary.update(
        {
            "refetch": options.refetch,
            "workers": options.workers,
            "purpose": cfg.purpose.value,
            "mode": cfg.mode.value,
            "engine_version": filters.__version__,
            "checked_at": datetime.now(UTC).isoformat(),
        }
    )
    return summary
