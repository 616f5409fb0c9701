"""scrapy-redis's scheduler on the job's connection (``SCHEDULER``).

The queue is :class:`~crawler.distributed.queue.LeasedHostQueue`; the dupefilter is
:class:`LedgerDupeFilter`, which filters nothing: a URL is new to the job once, when
``RedisLedger.claim`` adds it to the job's seen-set, and only then is its request built. A
retry, a redirect's next hop and a lease given back are the same URL again and must pass.

A lost Redis is fatal (``RedisJob.on_failure`` stops the crawl): the scheduler then has
nothing pending and hands out nothing, so the engine closes instead of spinning.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy import Request, Spider
from scrapy.dupefilters import BaseDupeFilter
from scrapy.settings import BaseSettings
from scrapy.utils.misc import load_object
from scrapy_redis.scheduler import Scheduler  # type: ignore[import-untyped]

from .connection import RedisUnavailable, shared_job

__all__ = ["HeedScheduler", "LedgerDupeFilter"]

log = logging.getLogger(__name__)

#: Seconds between two looks at the job's queue while this worker has nothing to do.
IDLE_POLL_S = 0.2


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

    def open(self, spider: Spider) -> None:
        self.spider = spider
        engine = spider.crawler.engine
        if engine is not None and hasattr(engine, "_SLOT_HEARTBEAT_INTERVAL"):
            # Scrapy asks a scheduler that "has pending requests but returns none" again on a
            # 5 s heartbeat; here that is the normal case (another worker holds the job's
            # work, or its links are about to be queued), so this worker looks again sooner.
            engine._SLOT_HEARTBEAT_INTERVAL = IDLE_POLL_S
        self.queue = load_object(self.queue_cls)(
            server=self.server, spider=spider, key=self.queue_key, serializer=self.serializer
        )
        pending = len(self.queue)
        if pending:
            log.info(
                "joining job %s: %d request(s) pending",
                spider.crawler.settings["HEED_JOB"],
                pending,
            )

    def enqueue_request(self, request: Request) -> bool:
        try:
            self.queue.push(request)
        except RedisUnavailable:
            return False  # fatal already reported; the link stays claimed in Redis
        if self.stats:
            self.stats.inc_value("scheduler/enqueued/redis")
        return True

    def next_request(self) -> Request | None:
        try:
            request: Request | None = self.queue.pop()
        except RedisUnavailable:
            return None
        if request is not None and self.stats:
            self.stats.inc_value("scheduler/dequeued/redis")
        return request

    def has_pending_requests(self) -> bool:
        try:
            return bool(super().has_pending_requests())
        except RedisUnavailable:
            return False

    def close(self, reason: str) -> Any:
        return None  # persistent: the job's queue outlives this process
