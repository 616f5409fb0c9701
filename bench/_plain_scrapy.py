"""The baseline of ``bench/crawl.py``: a plain Scrapy crawl of the same web, no heed.

A minimal ``CrawlSpider``: one ``Rule`` whose ``LinkExtractor`` follows every link within the
seed hosts, ``ROBOTSTXT_OBEY = True`` (Scrapy's own robots.txt middleware, Protego parser),
the same concurrency and per-host concurrency as the heed run, AutoThrottle off (as in the
heed run), and no item pipeline: each page only bumps a counter. It prints Scrapy's stats as
one JSON object on stdout, with ``bench/pages`` = pages that reached the callback.

    python bench/_plain_scrapy.py --concurrency 32 --per-host 2 SEED_URL...
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit

from scrapy.crawler import CrawlerProcess
from scrapy.http import Request, Response
from scrapy.linkextractors import LinkExtractor
from scrapy.spiders import CrawlSpider, Rule

__all__ = ["PlainSpider", "main"]


class PlainSpider(CrawlSpider):
    """Follows links within the seed hosts; counts every page it is handed."""

    name = "plain"

    def __init__(self, seeds: list[str], **kwargs: Any) -> None:
        self.start_urls = seeds
        self.allowed_domains = sorted({urlsplit(s).hostname or "" for s in seeds})
        # LinkExtractor compares allow_domains with the URL's netloc, port included
        # (scrapy.utils.url.url_is_from_any_domain); the offsite check uses the host name.
        netlocs = sorted({urlsplit(s).netloc for s in seeds})
        self.rules = (Rule(LinkExtractor(allow_domains=netlocs), callback="page", follow=True),)
        super().__init__(**kwargs)

    async def start(self) -> AsyncIterator[Request]:
        # Scrapy's default start requests carry dont_filter=True, so their URLs never enter
        # the duplicate filter and a later link to "/" is fetched again; heed schedules each
        # URL once, so the baseline does too.
        for url in self.start_urls:
            yield Request(url)

    def parse_start_url(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        yield from self.page(response)

    def page(self, response: Response) -> Iterator[Any]:
        stats = self.crawler.stats
        if stats is not None:
            stats.inc_value("bench/pages")
            stats.inc_value(f"bench/status/{response.status}")
        return iter(())


def settings(concurrency: int, per_host: int) -> dict[str, Any]:
    """Scrapy settings matched to the heed run (same concurrency, no AutoThrottle)."""
    return {
        "BOT_NAME": "heedbot",
        "USER_AGENT": "Mozilla/5.0 (compatible; heedbot/0.1; +http://127.0.0.1/contact)",
        "ROBOTSTXT_OBEY": True,
        "CONCURRENT_REQUESTS": concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": per_host,
        "AUTOTHROTTLE_ENABLED": False,
        "DOWNLOAD_DELAY": 0.0,
        "DEPTH_LIMIT": 0,
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "WARNING",
        "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--per-host", type=int, default=2)
    ap.add_argument("seeds", nargs="+")
    args = ap.parse_args(argv)
    process = CrawlerProcess(settings(args.concurrency, args.per_host))
    crawler = process.create_crawler(PlainSpider)
    process.crawl(crawler, seeds=args.seeds)
    process.start()
    stats = crawler.stats.get_stats() if crawler.stats else {}
    print(json.dumps(stats, default=str, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
