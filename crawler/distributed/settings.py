"""The distributed mode's Scrapy settings and its state objects, from a validated config.

``crawler/settings.py`` adds :func:`redis_settings` to a crawl's settings when
``cfg.distributed``; ``crawler/context.py`` takes the ledger, the signal state and the
politeness state from :func:`open_ledger`, :func:`open_signals` and :func:`open_politeness`.
All of them share the process's one :class:`~crawler.distributed.connection.RedisJob`
(:func:`job_for`), so a lost Redis is reported once, through ``job_for(cfg).on_failure``
(the runner points it at the function that stops the crawl with ``fatal``).
"""

from __future__ import annotations

from typing import Any

from ..config import RunConfig
from ..sitestate import SiteLoader
from .connection import RedisJob, shared_job
from .ledger import RedisLedger, shared_ledger
from .politeness import RedisPoliteness
from .signals import RedisSignalState

__all__ = ["job_for", "open_ledger", "open_politeness", "open_signals", "redis_settings"]

#: Seconds a politeness turn outlives its request's timeout before a dead holder loses it.
TURN_SLACK_S = 10.0


def job_for(cfg: RunConfig, worker_id: str | None = None) -> RedisJob:
    """The process's connection to ``cfg``'s job (``[distributed] redis_url``, job name)."""
    return shared_job(cfg.redis_url, cfg.job_name, worker_id or cfg.worker_id or "w0")


def redis_settings(cfg: RunConfig, worker_id: str) -> dict[str, Any]:
    """The Scrapy settings of the distributed mode for worker ``worker_id`` of ``cfg``'s job:
    scrapy-redis's scheduler on the job's leased, host-aware queue, persistent."""
    job = job_for(cfg, worker_id)
    p = job.keys.prefix
    return {
        "SCHEDULER": "crawler.distributed.scheduler.HeedScheduler",
        "SCHEDULER_QUEUE_CLASS": "crawler.distributed.queue.LeasedHostQueue",
        "DUPEFILTER_CLASS": "crawler.distributed.scheduler.LedgerDupeFilter",
        "SCHEDULER_PERSIST": True,
        "SCHEDULER_FLUSH_ON_START": False,
        "SCHEDULER_IDLE_BEFORE_CLOSE": 0,
        # scrapy-redis formats these with %(spider)s; heed's queue names its keys itself
        "SCHEDULER_QUEUE_KEY": (p + "requests").replace("%", "%%"),
        "SCHEDULER_DUPEFILTER_KEY": (p + "dupefilter").replace("%", "%%"),
        "REDIS_URL": cfg.redis_url,
        "HEED_JOB": job.job,
        "HEED_WORKER_ID": job.worker_id,
        "HEED_MAX_PAGES": cfg.max_pages,
    }


def open_ledger(cfg: RunConfig) -> RedisLedger:
    """The process's one ledger (the scheduler's too): sync it right before each publish."""
    return shared_ledger(job_for(cfg), cfg.max_pages)


def open_politeness(cfg: RunConfig) -> RedisPoliteness:
    return RedisPoliteness(
        job_for(cfg),
        per_host=cfg.per_host_concurrency,
        lease_s=cfg.download_timeout + TURN_SLACK_S,
    )


def open_signals(cfg: RunConfig, loader: SiteLoader) -> RedisSignalState:
    return RedisSignalState(job_for(cfg), loader, cfg.signal_ttl)
