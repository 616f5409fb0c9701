"""scrapy-redis's scheduler on the job's connection (``SCHEDULER``).

The queue is :class:`~crawler.distributed.queue.LeasedHostQueue`; the dupefilter is
:class:`LedgerDupeFilter`, which filters nothing: a URL is new to the job once, when
``RedisLedger.claim`` adds it to the job's seen-set, and only then is its request built. A
retry, a redirect's next hop and a lease given back are the same URL again and must pass.

A lost Redis is fatal (``RedisJob.on_failure`` stops the crawl): the scheduler then has
nothing pending and hands out nothing, so the engine closes instead of spinning.
"""

from __future__ import annotations

from typing import Any

from scrapy import Request, Spider
from scrapy.dupefilters import BaseDupeFilter
from scrapy.settings import BaseSettings
from scrapy_redis.scheduler import Scheduler  # type: ignore[import-untyped]

from .connection import RedisUnavailable, shared_job

__all__ = ["HeedScheduler", "LedgerDupeFilter"]


class LedgerDupeFilter(BaseDupeFilter):
    """The job's seen-set is the ledger's (``RedisLedger.claim``): nothing to filter here."""

    @classmethod
    def from_spider(cls, spider: Spider) -> LedgerDupeFilter:
        return cls()

    def request_seen(self, request: Request) -> bool:
        return False

    def clear(self) -> None:
        """The seen-set belongs to the job and outlives this process."""


class HeedScheduler(Scheduler):  # type: ignore[misc]
    """scrapy-redis's ``Scheduler`` on the process's one :class:`RedisJob` client."""

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> HeedScheduler:
        job = shared_job(settings["REDIS_URL"], settings["HEED_JOB"], settings["HEED_WORKER_ID"])
        job.call(job.client.ping)
        return cls(
            server=job.client,
            persist=True,
            queue_key=settings.get("SCHEDULER_QUEUE_KEY"),
            queue_cls=settings.get("SCHEDULER_QUEUE_CLASS"),
            dupefilter=LedgerDupeFilter(),
            dupefilter_key=settings.get("SCHEDULER_DUPEFILTER_KEY"),
            dupefilter_cls=settings.get("DUPEFILTER_CLASS"),
            idle_before_close=0,
            serializer=None,
        )

    def enqueue_request(self, request: Request) -> bool:
        try:
            return bool(super().enqueue_request(request))
        except RedisUnavailable:
            return False  # fatal already reported; the link stays claimed in Redis

    def next_request(self) -> Request | None:
        try:
            request: Request | None = super().next_request()
            return request
        except RedisUnavailable:
            return None

    def has_pending_requests(self) -> bool:
        try:
            return bool(super().has_pending_requests())
        except RedisUnavailable:
            return False

    def close(self, reason: str) -> Any:
        return None  # persistent: the job's queue outlives this process
