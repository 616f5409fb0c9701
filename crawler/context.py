"""One crawl's shared state: configuration, clients, signal state, output and counters.

The runner builds a ``RunContext`` before Scrapy starts and hands it to the components through
the ``HEED_CONTEXT`` setting; the middleware decides, the pipeline and the recorder write. All
writes of decisions go through :meth:`RunContext.record_decision`, so the counts in ``run.json``,
the progress display and the ``decisions/`` parts can never disagree.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import filters
from filters import Decision
from filters.ai_agents import agents_provenance
from filters.blocklist import Blocklist
from filters.engine import EngineConfig, Evaluator
from filters.urls import check_url

from .blocklists import blocklists_info, load_blocklists
from .config import RunConfig
from .doccache import DocumentCache, open_document_cache
from .fetcher import Fetcher
from .frontier import FRONTIER_NAME, FrontierLog
from .netguard import Refusals
from .output import RunWriter
from .registry.answers import RegistryAnswers
from .registry.client import RegistryClient, open_registry
from .resume import ResumeState, load_resume
from .sitestate import LocalPoliteness, LocalSignalState, PolitenessState, SignalState, SiteLoader
from .urlstate import SqliteLedger, UrlLedger

__all__ = ["RunContext", "make_ledger", "new_crawl_id"]

log = logging.getLogger(__name__)


def _host_of(url: str) -> str:
    """The host column of a decision: "" for a URL that does not parse (fetch.invalid-url)."""
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def make_ledger(cfg: RunConfig, resume: ResumeState, frontier: FrontierLog) -> UrlLedger:
    """The embedded ledger of a run (``crawler/urlstate/``), filled with what earlier runs in
    the folder left (``resume``: its done set and frontier are moved into the ledger and
    released); each URL new to the job is logged to ``frontier`` (unless it cannot be
    requested: such links are recorded, never logged)."""

    def discovered(url: str, depth: int) -> None:
        if check_url(url) is None:
            frontier.add(url, depth)

    try:
        ledger = SqliteLedger(cfg.max_pages, on_discovered=discovered)
        try:
            ledger.load_done(resume.done_urls())
            ledger.load_frontier(resume.frontier_entries())
        except BaseException:
            ledger.close()
            raise
    finally:
        resume.release()
    return ledger


def new_crawl_id() -> str:
    """A sortable, unique crawl id: UTC time plus 8 random hex digits."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:8]


@dataclass
class RunContext:
    """Everything one crawl shares between its Scrapy components."""

    cfg: RunConfig
    out_dir: Path
    crawl_id: str = field(default_factory=new_crawl_id)
    fresh: bool = False
    blocklist: Blocklist = field(init=False)  # [policy] blocklists, read once at the start
    engine: EngineConfig = field(init=False)
    evaluator: Evaluator = field(init=False)  # the run's one evaluator: it owns every memo
    answers: RegistryAnswers = field(init=False)  # the registry's answers, batched
    writer: RunWriter = field(init=False)
    resume: ResumeState = field(init=False)
    frontier: FrontierLog = field(init=False)
    ledger: UrlLedger = field(init=False)  # the per-URL state (crawler/urlstate/)
    frontier_restored: int = 0
    fetcher: Fetcher | None = None
    signals: SignalState | None = None
    politeness: PolitenessState = field(default_factory=LocalPoliteness)
    refusals: Refusals = field(default_factory=Refusals)  # the resolver's, for reasons
    registry: RegistryClient | None = None
    loader: SiteLoader | None = None
    cache: DocumentCache | None = None
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    started_mono: float = field(default_factory=time.monotonic)
    considered: int = 0
    kept: int = 0
    excluded: int = 0
    by_reason: Counter[str] = field(default_factory=Counter)
    fatal: str | None = None

    def __post_init__(self) -> None:
        # Before anything else: a list that cannot be read stops the run (ConfigError, exit 2)
        # before the output folder is opened or anything is fetched.
        self.blocklist = load_blocklists(self.cfg)
        self.engine = self.cfg.engine(self.blocklist)
        self.evaluator = Evaluator(self.engine)
        self.answers = RegistryAnswers(None, configured=self._registry_configured())
        if self.cfg.distributed:  # the job's state is on Redis (crawler/distributed/wiring.py)
            from .distributed.wiring import open_worker

            self.ledger = open_worker(self)  # the job's seen, done and budget on Redis
            return
        self.writer = RunWriter(
            self.out_dir,
            self.crawl_id,
            row_group_rows=min(self.cfg.row_group_rows, self.cfg.part_max_rows),
            part_max_rows=self.cfg.part_max_rows,
            flush_interval=self.cfg.flush_interval,
            before_publish=self._sync_frontier,
        )
        try:  # with the writer's lock held: no other run can be changing the folder
            self.resume = load_resume(
                self.out_dir, self.cfg, fresh=self.fresh or not self.cfg.resume
            )
            self.frontier = FrontierLog(self.out_dir / FRONTIER_NAME)
            self.ledger = make_ledger(self.cfg, self.resume, self.frontier)
        except BaseException:
            if hasattr(self, "frontier"):
                self.frontier.close()
            self.writer.__exit__(None, None, None)  # release the folder; nothing was written
            raise
        for row in self.resume.rebuilt:
            self.writer.write_decision(row)
        if self.resume.resumed:
            log.info(
                "resuming in %s: %d URL(s) already done, %d frontier URL(s) logged",
                self.out_dir,
                self.resume.done_count,
                self.resume.frontier_count,
            )

    def _sync_frontier(self) -> None:
        frontier = getattr(self, "frontier", None)  # absent while the context is being built
        if frontier is not None:
            frontier.sync()

    def __deepcopy__(self, memo: dict[int, Any]) -> RunContext:
        return self  # Scrapy copies its settings; the run's context is shared, not copied

    def _blocklisted(self, url: str) -> bool:
        return self.evaluator.blocklisted(url) is not None

    def open_clients(self) -> None:
        """Create the clients that need a running event loop (called once the crawl starts)."""
        cfg = self.cfg
        self.fetcher = Fetcher(
            user_agent=cfg.user_agent,
            timeout=cfg.download_timeout,
            allow_private=cfg.allow_private_networks,
            politeness=self.politeness,  # one pacing for the loader and Scrapy's downloader
            refuse=self._blocklisted,  # a listed host is never requested (documents too)
        )
        self.cache = open_document_cache(cfg.document_cache)  # [network] document_cache
        self.loader = SiteLoader(self.fetcher, cfg, self.cache)
        if self.signals is None and cfg.distributed:  # each origin fetched once per job
            from .distributed.settings import open_signals

            self.signals = open_signals(cfg, self.loader)
        if self.signals is None:
            self.signals = LocalSignalState(self.loader, cfg.signal_ttl)
        if self.registry is None and (cfg.registry_url or cfg.registry_spawning):
            # Any configured source (url, spawning) opens the clients; a configured registry
            # with no client would decide every URL without it, so that is refused.
            self.registry = open_registry(
                cfg.registry_url, spawning=cfg.registry_spawning, timeout=cfg.download_timeout
            )
            if self.registry is None:
                raise filters.ConfigError("[registry]: configured, but no client could be opened")
        self.answers = RegistryAnswers(self.registry, configured=self._registry_configured())

    def _registry_configured(self) -> bool:
        return bool(self.cfg.registry_url or self.cfg.registry_spawning)

    async def close_clients(self) -> None:
        await self.politeness.drain()  # no turn this process held stays in use
        if self.fetcher is not None:
            await self.fetcher.aclose()
        if self.cache is not None:
            self.cache.close()
        if self.registry is not None:
            await self.registry.aclose()
        self.ledger.close()

    # ------------------------------------------------------------------ bookkeeping

    def already_decided(self, url: str) -> bool:
        return self.ledger.is_decided(url)

    def record_decision(
        self,
        url: str,
        decision: Decision,
        *,
        final_url: str | None = None,
        http_status: int | None = None,
    ) -> bool:
        """Write one ``decisions/`` row and count it (once per URL per run); False when
        ``url`` was already decided (nothing is written). Crawl components call this through
        ``crawler/recorder.py``, which adds the Scrapy stats and signals."""
        if self.ledger.recorded(url):
            return False
        self.ledger.mark_decided(url)  # the row only: a record is noted by its writer
        self.considered += 1
        if decision.allowed:
            self.kept += 1
        else:
            self.excluded += 1
            for reason in decision.reasons:
                self.by_reason[reason.value] += 1
        self.writer.write_decision(
            {
                "url": url,
                "host": _host_of(url),
                "decided_at": datetime.now(UTC),
                "stage": decision.stage.value,
                "allowed": decision.allowed,
                "reasons": [r.value for r in decision.reasons],
                "license": decision.license.license,
                "crawl_id": self.crawl_id,
                "final_url": final_url,
                "http_status": http_status,
            }
        )
        self.writer.maybe_flush(time.monotonic())
        return True

    def summary(self) -> dict[str, Any]:
        """Counts for the progress display, the final table, ``--json`` and ``run.json``."""
        elapsed = max(time.monotonic() - self.started_mono, 1e-9)
        return {
            "crawl_id": self.crawl_id,
            "out": str(self.out_dir),
            "considered": self.considered,
            "kept": self.kept,
            "excluded": self.excluded,
            "by_reason": dict(sorted(self.by_reason.items(), key=lambda kv: (-kv[1], kv[0]))),
            "elapsed_s": round(elapsed, 3),
            "pages_per_s": round(self.considered / elapsed, 2),
            "resumed": self.resume.resumed,
            "skipped_done": self.resume.done_count,
            "frontier_restored": self.frontier_restored,
            "frontier_ignored_lines": self.resume.frontier_ignored_lines,
            "decisions_rebuilt": len(self.resume.rebuilt),
            "fatal": self.fatal,
        }

    def resume_info(self) -> dict[str, Any]:
        """The resume counts, for ``run.json``."""
        s = self.summary()
        keys = ("resumed", "skipped_done", "frontier_restored", "frontier_ignored_lines")
        return {k: s[k] for k in (*keys, "decisions_rebuilt")}

    def run_info(self) -> dict[str, Any]:
        return {
            "crawl_id": self.crawl_id,
            "engine_version": filters.__version__,
            "config": self.cfg.as_dict(),
            "ai_agents": list(self.engine.ai_agents),  # the list the run evaluated
            "ai_agents_source": agents_provenance(
                self.engine.purpose,
                self.engine.ai_agents,
                configured=self.cfg.ai_agents_override is not None,
            ),
            "blocklists": blocklists_info(self.blocklist),
            "purpose": self.cfg.purpose.value,
            "mode": self.cfg.mode.value,
            "started_at": self.started_at.isoformat(),
            "ended_at": datetime.now(UTC).isoformat(),
            "counts": {
                "considered": self.considered,
                "kept": self.kept,
                "excluded": self.excluded,
            },
            "counts_by_reason": dict(sorted(self.by_reason.items())),
            "resume": self.resume_info(),
            "fatal": self.fatal,
        }
