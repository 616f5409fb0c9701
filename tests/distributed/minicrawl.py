"""A small Scrapy crawl on the distributed scheduler, for the queue's tests (run as a child:
``python -m tests.distributed.minicrawl REDIS_URL JOB WORKER OUT MODE SEED...``).

No consent gate, only the distributed parts: scrapy-redis's scheduler with heed's leased host
queue, and the ledger. MODE ``claim``: the spider claims its links (``RedisLedger.claim``)
and notes its decisions itself; MODE ``filter``: it yields every link and the scheduler's
dupefilter claims them, and decisions reach the ledger through heed's ``url_kept`` signal
(as crawler/recorder.py sends it). Each URL decided is appended to OUT (one line, flushed)
right after ``RedisLedger.sync``, as the writer publishes a part after it.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urljoin

from scrapy import Request, Spider
from scrapy.crawler import CrawlerProcess
from scrapy.http import Response

from crawler import signals as heed_signals
from crawler.config import RunConfig
from crawler.distributed.ledger import RedisLedger
from crawler.distributed.settings import open_ledger, redis_settings


class MiniSpider(Spider):
    name = "heed"

    def __init__(
        self, seeds: list[str], ledger: RedisLedger, out: str, mode: str, **kw: Any
    ) -> None:
        super().__init__(**kw)
        self.seeds = seeds
        self.mode = mode
        self.ledger = ledger
        self.out = open(out, "a", encoding="utf-8")  # noqa: SIM115 - closed with the process

    def _requests(self, links: list[tuple[str, int]]) -> Iterator[Request]:
        for url, depth in self.ledger.claim(links) if self.mode == "claim" else links:
            meta = {"heed_url": url, "heed_depth": depth, "dont_redirect": True}
            yield Request(url, callback=self.parse, errback=self.failed, meta=meta)

    async def start(self) -> AsyncIterator[Request]:
        for request in self._requests([(s, 0) for s in self.seeds]):
            yield request

    def _decided(self, url: str) -> None:
        if self.mode == "claim":
            self.ledger.mark_decided(url)
        else:
            self.crawler.signals.send_catch_log(heed_signals.url_kept, url=url)
        self.ledger.sync()
        self.out.write(url + "\n")
        self.out.flush()

    def parse(self, response: Response, **kw: Any) -> Iterator[Request]:
        depth = int(response.meta.get("heed_depth", 0))
        links = [urljoin(response.url, h) for h in response.css("a::attr(href)").getall()]
        yield from self._requests([(u, depth + 1) for u in links])
        self._decided(response.meta["heed_url"])

    def failed(self, failure: Any) -> None:
        self._decided(failure.request.meta["heed_url"])


def main(argv: list[str]) -> None:
    redis_url, job, worker, out, mode, *seeds = argv
    cfg = RunConfig(redis_url=redis_url, job=job, worker_id=worker, max_pages=100_000)
    settings = {
        "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
        "ROBOTSTXT_OBEY": False,
        "CONCURRENT_REQUESTS": 4,
        "LOG_LEVEL": "WARNING",
        "TELNETCONSOLE_ENABLED": False,
        "RETRY_ENABLED": False,
        **redis_settings(cfg, worker),
    }
    process = CrawlerProcess(settings)
    process.crawl(MiniSpider, seeds=seeds, ledger=open_ledger(cfg), out=out, mode=mode)
    process.start()


if __name__ == "__main__":
    main(sys.argv[1:])
