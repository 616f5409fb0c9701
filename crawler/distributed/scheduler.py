"""scrapy-redis's scheduler on the job's connection (``SCHEDULER``).

The queue is :class:`~crawler.distributed.queue.LeasedHostQueue`; the dupefilter is
:class:`LedgerDupeFilter`, the job's seen-set and shared ``max_pages`` budget (the ledger's,
not scrapy-redis's fingerprints: one seen-set). A URL is new to the job once, whichever
worker found it. A retry and a redirect's next hop are the same URL again and pass
(``dont_filter``). Every decision recorded is noted in the same ledger (heed's ``url_kept``
and ``url_denied`` signals), so the lease of its URL ends when its part is published.

A lost Redis is fatal (``RedisJob.on_failure`` stops the crawl): the scheduler then has
nothing pending and hands out nothing, so the engine closes instead of spinning.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from scrapy import Request, Spider
from scrapy.dupefilters import BaseDupeFilter
from scrapy.settings import BaseSettings
from scrapy.utils.misc import load_object
from scrapy_redis.scheduler import Scheduler  # type: ignore[import-untyped]

from .. import signals as heed_signals
from .connection import RedisUnavailable, shared_job
from .ledger import RedisLedger, shared_ledger

__all__ = ["HeedScheduler", "LedgerDupeFilter"]

log = logging.getLogger(__name__)

#: Seconds between two looks at the job's queue while this worker has nothing to do.
IDLE_POLL_S = 0.2


class LedgerDupeFilter(BaseDupeFilter):
    """The job's seen-set and budget (``RedisLedger.admit``) as Scrapy's dupefilter.

    A request for a link this worker claimed (``RedisLedger.claim``) passes; any other is
    claimed here, once for the job, within its ``max_pages``. Requests with ``dont_filter``
    (a retry, a redirect's next hop) are the same URL again and never come here.
    """

    def __init__(self, ledger: RedisLedger) -> None:
        self.ledger = ledger

    @classmethod
    def from_spider(cls, spider: Spider) -> LedgerDupeFilter:
        return cls(_ledger_of(spider))

    def request_seen(self, request: Request) -> bool:
        url = request.meta.get("heed_url", request.url)
        return not self.ledger.admit(url, int(request.meta.get("heed_depth", 0)))

    def clear(self) -> None:
        """The seen-set belongs to the job and outlives this process."""


def _ledger_of(spider: Spider) -> RedisLedger:
    s = spider.crawler.settings
    job = shared_job(s["REDIS_URL"], s["HEED_JOB"], s["HEED_WORKER_ID"])
    return shared_ledger(job, s.getint("HEED_MAX_PAGES", 10**12))


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
            dupefilter=None,  # LedgerDupeFilter, built in open() (it needs the spider)
            dupefilter_key=settings.get("SCHEDULER_DUPEFILTER_KEY"),
            dupefilter_cls=settings.get("DUPEFILTER_CLASS"),
            idle_before_close=0,
            serializer=None,
        )

    def open(self, spider: Spider) -> None:
        self.spider = spider
        self.df = LedgerDupeFilter.from_spider(spider)
        # A decision recorded (crawler/recorder.py) is noted in the ledger; the writer's publish
        # hook moves it to the job's done-set (RedisLedger.sync), which ends the URL's lease.
        ledger = self.df.ledger
        spider.crawler.signals.connect(_noter(ledger, kept=True), heed_signals.url_kept, weak=False)
        spider.crawler.signals.connect(
            _noter(ledger, kept=False), heed_signals.url_denied, weak=False
        )
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
            if request.dont_filter:
                self.queue.push(request)
            elif not self.queue.push_new(request):  # LedgerDupeFilter's test, and the push
                return False
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


def _noter(ledger: RedisLedger, *, kept: bool) -> Callable[..., None]:
    def note(url: str, **kwargs: Any) -> None:
        ledger.mark_decided(url, kept=kept)

    return note
