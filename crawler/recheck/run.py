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
import json
import logging
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import pyarrow as pa

import filters
from filters import Decision, ReasonCode, Stage
from filters.engine import Done, Gate, SiteSignals, denied
from filters.urls import check_url, origin_of

from ..check.run import Checker, CheckResult
from ..config import RunConfig
from .dataset import DEFAULT_BATCH_ROWS, Dataset
from .output import RecheckWriter

__all__ = ["REFETCH_MODES", "RecheckOptions", "RecheckStats", "recheck"]

log = logging.getLogger(__name__)

Refetch = Literal["none", "headers", "full"]
REFETCH_MODES: tuple[Refetch, ...] = ("none", "headers", "full")

_GONE = frozenset({404, 410})
#: The licence columns of a heed dataset, re-derived when pages are read again.
_LICENSE_COLUMNS = ("license", "license_url", "license_source", "license_conflict")
_DOCUMENTS = ("robots.txt", "ai.txt", "tdmrep.json")


@dataclass(frozen=True)
class RecheckOptions:
    """How a recheck reads pages and shows itself."""

    refetch: Refetch = "none"
    batch_rows: int = DEFAULT_BATCH_ROWS
    progress: bool = False
    progress_interval: float = 1.0


@dataclass
class RecheckStats:
    """Counts of one recheck (this run's work plus what an earlier run into the folder did)."""

    rows: int = 0
    kept: int = 0
    removed: int = 0
    flagged: int = 0
    batches: int = 0
    batches_done_earlier: int = 0
    by_reason: Counter[str] = field(default_factory=Counter)
    removed_by_host: Counter[str] = field(default_factory=Counter)
    flags: Counter[str] = field(default_factory=Counter)
    origins: int = 0
    started: float = field(default_factory=time.monotonic)

    def as_dict(self) -> dict[str, Any]:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        return {
            "rows": self.rows,
            "kept": self.kept,
            "removed": self.removed,
            "flagged": self.flagged,
            "origins": self.origins,
            "batches": self.batches,
            "batches_done_earlier": self.batches_done_earlier,
            "by_reason": dict(sorted(self.by_reason.items(), key=lambda kv: (-kv[1], kv[0]))),
            "flags": dict(sorted(self.flags.items())),
            "removed_by_host": dict(self.removed_by_host.most_common()),
            "elapsed_s": round(elapsed, 3),
            "rows_per_s": round(self.rows / elapsed, 1),
        }


@dataclass
class _Origin:
    """What the run knows of one origin: its documents today, and (heed input) at the crawl."""

    site: SiteSignals
    refusal: Exception | None
    earlier: dict[str, Any] | None = None  # the evidence's "documents" of a row of this origin
    changed: list[dict[str, Any]] | None = None
    removed: int = 0


def _documents_now(site: SiteSignals) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, policy in (
        ("robots.txt", site.robots),
        ("ai.txt", site.aitxt),
        ("tdmrep.json", site.tdmrep),
    ):
        doc = getattr(policy, "document", None) if policy is not None else None
        if doc is not None:
            out[name] = {
                "url": doc.url,
                "sha256": doc.sha256,
                "status": doc.status,
                "fetched_at": doc.fetched_at,
            }
    for url, rsl_policy in site.rsl.items():
        doc = rsl_policy.document
        if doc is not None:
            out[f"rsl:{url}"] = {
                "url": doc.url,
                "sha256": doc.sha256,
                "status": doc.status,
                "fetched_at": doc.fetched_at,
            }
    return out


def _earlier_documents(evidence: str | None) -> dict[str, dict[str, Any]] | None:
    if not evidence:
        return None
    try:
        docs = json.loads(evidence).get("documents")
    except (ValueError, AttributeError):
        return None
    if not isinstance(docs, dict):
        return None
    out = {k: v for k, v in docs.items() if k in _DOCUMENTS and isinstance(v, dict)}
    rsl = docs.get("rsl")
    if isinstance(rsl, dict):
        out.update({f"rsl:{u}": v for u, v in rsl.items() if isinstance(v, dict)})
    return out


def _changes(
    now: dict[str, dict[str, Any]], earlier: dict[str, dict[str, Any]] | None
) -> list[dict[str, Any]]:
    rows = []
    for name in sorted(set(now) | set(earlier or {})):
        new = now.get(name, {})
        old = (earlier or {}).get(name, {})
        rows.append(
            {
                "document": name,
                "url": new.get("url") or old.get("url") or "",
                "old_sha256": old.get("sha256"),
                "new_sha256": new.get("sha256"),
                "old_status": old.get("status"),
                "new_status": new.get("status"),
                "fetched_at": new.get("fetched_at"),
                # unknown before (not a heed dataset): not reported as a change
                "changed": earlier is not None
                and (old.get("sha256"), old.get("status"))
                != (new.get("sha256"), new.get("status")),
            }
        )
    return rows


class _Progress:
    def __init__(self, stats: RecheckStats, interval: float, on: bool) -> None:
        self.stats, self.interval, self.on = stats, interval, on
        self._last = time.monotonic()

    def tick(self, force: bool = False) -> None:
        now = time.monotonic()
        if not self.on or (not force and now - self._last < self.interval):
            return
        self._last = now
        s = self.stats
        rate = s.rows / max(now - s.started, 1e-9)
        print(
            f"{s.origins} origins · {s.rows} rows · {s.kept} kept · {s.removed} removed"
            f" · {s.flagged} flagged · {rate:,.0f} rows/s",
            file=sys.stderr,
            flush=True,
        )


class _Run:
    """One recheck: the gate's drivers, the per-origin state and the counts."""

    def __init__(
        self,
        cfg: RunConfig,
        dataset: Dataset,
        writer: RecheckWriter,
        options: RecheckOptions,
        checker: Checker,
    ) -> None:
        self.cfg, self.dataset, self.writer, self.options = cfg, dataset, writer, options
        self.checker = checker
        self.stats = RecheckStats()
        self.origins: dict[str, _Origin] = {}
        self.heed = dataset.kind == "heed"
        self.progress = _Progress(self.stats, options.progress_interval, options.progress)
        self.checked_at = datetime.now(UTC)

    # ---------------------------------------------------------------- origins

    async def _load_origins(self, origins: Sequence[str]) -> None:
        wanted = [o for o in dict.fromkeys(origins) if o not in self.origins]
        if not wanted:
            return
        limit = asyncio.Semaphore(max(self.cfg.concurrency, 1))

        async def one(origin: str) -> None:
            async with limit:
                refusal = await self.checker._refusal(origin + "/")
                site = await self.checker.signals.site(origin) if refusal is None else None
            self.origins[origin] = _Origin(site=site, refusal=refusal)  # type: ignore[arg-type]

        await asyncio.gather(*(one(o) for o in wanted))
        self.stats.origins = len(self.origins)

    # ---------------------------------------------------------------- deciding

    def _decide_pre(self, url: str, origin: _Origin) -> Decision:
        """``--refetch none``: the gate up to its pre-fetch decision, without awaiting."""
        checker = self.checker
        gate = Gate(checker.evaluator, url, fetch=False, start=url)
        if origin.refusal is not None:
            from ..netguard import BlockedAddress

            blocked = isinstance(origin.refusal, BlockedAddress)
            detail = url.split("/")[2] if blocked else str(origin.refusal)
            step = gate.address_refused(blocked=blocked, detail=detail)
        else:
            gate.address_ok()
            gate.site_loaded(origin.site)
            answer = checker.answers.take(url)
            if answer is None:
                return _NEEDS_REGISTRY
            step = gate.registry_answered(answer)
        return step.decision if isinstance(step, Done) else gate.fail("unfinished").decision

    async def _decide_pre_async(self, url: str, origin: _Origin) -> Decision:
        gate = Gate(self.checker.evaluator, url, fetch=False, start=url)
        gate.address_ok()
        gate.site_loaded(origin.site)
        step = gate.registry_answered(await self.checker.answers.answer(url))
        return step.decision if isinstance(step, Done) else gate.fail("unfinished").decision

    async def _decide(self, urls: list[str], rows: list[int]) -> dict[int, CheckResult]:
        """The decision for each row index in ``rows`` (whose URLs are valid)."""
        out: dict[int, CheckResult] = {}
        if self.options.refetch == "none":
            later: list[int] = []
            for i in rows:
                url = urls[i]
                origin = self.origins[origin_of(url)]
                decision = self._decide_pre(url, origin)
                if decision is _NEEDS_REGISTRY:
                    later.append(i)
                else:
                    out[i] = CheckResult(url, decision, url)
            for i in later:
                url = urls[i]
                decision = await self._decide_pre_async(url, self.origins[origin_of(url)])
                out[i] = CheckResult(urls[i], decision, urls[i])
            return out
        results = await self.checker.check_many([urls[i] for i in rows])
        return dict(zip(rows, results, strict=True))

    # ---------------------------------------------------------------- one batch

    async def batch(self, index: int, batch: pa.RecordBatch) -> None:
        urls = [
            u if isinstance(u, str) else ""
            for u in batch.column(self.dataset.url_column).to_pylist()
        ]
        invalid: dict[int, str] = {}
        valid: list[int] = []
        for i, url in enumerate(urls):
            problem = check_url(url) if url else "no URL in this row"
            if problem is None:
                valid.append(i)
            else:
                invalid[i] = problem
        await self._load_origins([origin_of(urls[i]) for i in valid])
        await self.checker.answers.prefetch([urls[i] for i in valid])
        results = await self._decide(urls, valid)
        columns: dict[str, list[Any]] = {
            name: batch.column(name).to_pylist()
            for name in ("evidence", "license", "crawl_id", "fetched_at", "sha256")
            if self.heed and name in batch.schema.names
        }
        keep: list[bool] = []
        removals: list[dict[str, Any]] = []
        flags: list[dict[str, Any]] = []
        licenses: list[Decision | None] = []
        for i, url in enumerate(urls):
            if i in invalid:
                decision = denied(
                    ReasonCode.FETCH_INVALID_URL, Stage.PRE_FETCH, raw=invalid[i], source=url
                )
                result = CheckResult(url, decision, url)
                origin = None
            else:
                result = results[i]
                origin = self.origins[origin_of(url)]
                if self.heed and origin.earlier is None and columns.get("evidence"):
                    origin.earlier = _earlier_documents(columns["evidence"][i]) or {}
            kept, flag = self._verdict(result)
            earlier_license = columns["license"][i] if "license" in columns else None
            if kept and self.options.refetch != "none" and result.decision.allowed:
                now_license = result.decision.license.license
                if self.heed and now_license != earlier_license:
                    flags.append(
                        self._flag(
                            url,
                            "license-changed",
                            True,
                            result,
                            f"{earlier_license} -> {now_license}",
                        )
                    )
                old_sha = columns["sha256"][i] if "sha256" in columns else None
                if result.sha256 is not None and old_sha is not None and result.sha256 != old_sha:
                    flags.append(self._flag(url, "body-changed", True, result, None))
            if flag is not None:
                flags.append(
                    self._flag(
                        url, flag, kept, result, ", ".join(r.value for r in result.decision.reasons)
                    )
                )
            keep.append(kept)
            licenses.append(result.decision if kept and result.decision.allowed else None)
            if not kept:
                removals.append(self._removal(url, result, origin, columns, i))
        batch = self._relicensed(batch, keep, licenses)
        self.writer.write_batch(index, batch, keep, removals, flags)
        self.stats.batches += 1
        self.stats.rows += len(urls)
        self.stats.kept += sum(keep)
        self.stats.removed += len(removals)
        self.stats.flagged += len(flags)
        self.progress.tick()

    def _verdict(self, result: CheckResult) -> tuple[bool, str | None]:
        """(row stays, flag) for a row's result."""
        decision = result.decision
        if decision.allowed:
            return True, None
        if self.options.refetch != "none" and decision.stage is Stage.POST_FETCH:
            reasons = set(decision.reasons)
            if reasons == {ReasonCode.FETCH_STATUS} and result.http_status in _GONE:
                return self.cfg.recheck_on_gone == "keep", "gone"
            if reasons <= {ReasonCode.FETCH_ERROR, ReasonCode.FETCH_STATUS} and (
                result.http_status is None or result.http_status >= 500
            ):
                return self.cfg.recheck_on_unreachable == "keep", "unreachable"
        return False, None

    def _flag(
        self, url: str, flag: str, kept: bool, result: CheckResult, detail: str | None
    ) -> dict[str, Any]:
        self.stats.flags[flag] += 1
        return {
            "url": url,
            "host": _host(url),
            "flag": flag,
            "kept": kept,
            "http_status": result.http_status,
            "detail": detail,
            "checked_at": self.checked_at,
        }

    def _removal(
        self,
        url: str,
        result: CheckResult,
        origin: _Origin | None,
        columns: Mapping[str, list[Any]],
        i: int,
    ) -> dict[str, Any]:
        decision = result.decision
        host = _host(url)
        for reason in decision.reasons:
            self.stats.by_reason[reason.value] += 1
        self.stats.removed_by_host[host] += 1
        changed: list[dict[str, Any]] = []
        if origin is not None:
            origin.removed += 1
            if origin.changed is None and origin.site is not None:
                origin.changed = _changes(
                    _documents_now(origin.site), origin.earlier if self.heed else None
                )
            changed = [
                {
                    "url": c["url"],
                    "old_sha256": c["old_sha256"],
                    "new_sha256": c["new_sha256"],
                    "fetched_at": c["fetched_at"],
                }
                for c in origin.changed or ()
                if c["changed"]
            ]
        fetched_at = columns["fetched_at"][i] if "fetched_at" in columns else None
        return {
            "url": url,
            "host": host,
            "reasons": [r.value for r in decision.reasons],
            "stage": decision.stage.value,
            "http_status": result.http_status,
            "final_url": result.final_url if result.final_url != url else None,
            "earlier_allowed": True if self.heed else None,
            "earlier_license": columns["license"][i] if "license" in columns else None,
            "earlier_crawl_id": columns["crawl_id"][i] if "crawl_id" in columns else None,
            "earlier_fetched_at": fetched_at,
            "license": decision.license.license if self.options.refetch != "none" else None,
            "documents_changed": changed,
            "checked_at": self.checked_at,
        }

    def _relicensed(
        self, batch: pa.RecordBatch, keep: list[bool], decisions: list[Decision | None]
    ) -> pa.RecordBatch:
        """A heed batch with the licence columns of re-fetched kept rows re-derived."""
        if not self.heed or self.options.refetch == "none":
            return batch
        if not all(c in batch.schema.names for c in _LICENSE_COLUMNS):
            return batch
        values = {c: batch.column(c).to_pylist() for c in _LICENSE_COLUMNS}
        for i, decision in enumerate(decisions):
            if decision is None or not keep[i]:
                continue
            lic = decision.license
            values["license"][i] = lic.license
            values["license_url"][i] = lic.url
            values["license_source"][i] = lic.source
            values["license_conflict"][i] = lic.conflict
        arrays = [
            pa.array(values[name], type=batch.schema.field(name).type)
            if name in values
            else batch.column(name)
            for name in batch.schema.names
        ]
        return pa.RecordBatch.from_arrays(arrays, schema=batch.schema)

    # ---------------------------------------------------------------- the end

    def changes(self) -> list[dict[str, Any]]:
        rows = []
        for name, origin in sorted(self.origins.items()):
            if origin.site is None:
                continue
            if origin.changed is None:
                origin.changed = _changes(
                    _documents_now(origin.site), origin.earlier if self.heed else None
                )
            for c in origin.changed:
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
                        "rows_removed": origin.removed,
                        "checked_at": self.checked_at,
                    }
                )
        return rows


#: Marker: the registry's answer for a row was not batched (the row is decided after the loop).
_NEEDS_REGISTRY = Decision(False, Stage.PRE_FETCH, (ReasonCode.REGISTRY_UNAVAILABLE,), ())


def _host(url: str) -> str:
    from urllib.parse import urlsplit

    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


async def _recheck(
    cfg: RunConfig,
    dataset: Dataset,
    writer: RecheckWriter,
    options: RecheckOptions,
    make_checker: Callable[[], Checker],
) -> RecheckStats:
    async with make_checker() as checker:
        run = _Run(cfg, dataset, writer, options, checker)
        done = writer.done
        run.stats.batches_done_earlier = len(done)
        start = 0
        while start in done:  # the leading batches an earlier run completed are not even read
            start += 1
        for index, batch in dataset.batches(options.batch_rows, start=start):
            if index in done:
                continue
            await run.batch(index, batch)
        writer.write_changes(run.changes())
        run.progress.tick(force=True)
        return run.stats


def recheck(
    cfg: RunConfig,
    dataset: Dataset,
    writer: RecheckWriter,
    options: RecheckOptions,
    *,
    make_checker: Callable[[], Checker] | None = None,
) -> dict[str, Any]:
    """Recheck ``dataset`` into ``writer``'s folder; returns the summary (also in run.json)."""
    method = "HEAD" if options.refetch == "headers" else "GET"

    def default_checker() -> Checker:
        return Checker(cfg, method=method, memo_addresses=True, notes=False)

    stats = asyncio.run(_recheck(cfg, dataset, writer, options, make_checker or default_checker))
    summary = stats.as_dict()
    summary.update(
        {
            "refetch": options.refetch,
            "purpose": cfg.purpose.value,
            "mode": cfg.mode.value,
            "engine_version": filters.__version__,
            "checked_at": datetime.now(UTC).isoformat(),
        }
    )
    return summary
