"""The item pipeline: writes kept pages to ``records/`` and their decisions to ``decisions/``.

Only items produced from a response whose post-fetch decision allowed it reach this pipeline;
it checks that again (a record without an allowing decision is dropped and counted as a bug),
because a leak is the worst failure heed can have.

No item leaves this pipeline with its content, and no exception does either: Scrapy would log
the whole item (the page body) with it. What it returns is ``{"url": ...}``; a refused or
unwritable item is logged by URL alone. A write failure (permissions, disk full) does not
raise here: the writer reports it once and the runner stops the crawl (``crawler/runner.py``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from .middlewares import _context
from .recorder import DecisionRecorder

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

__all__ = ["RecordPipeline"]

log = logging.getLogger(__name__)


class RecordPipeline:
    """Writes each kept page and its decision; refuses anything not allowed."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.ctx = _context(crawler)
        self.recorder = DecisionRecorder(crawler, self.ctx)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RecordPipeline:
        return cls(crawler)

    def process_item(self, item: dict[str, Any]) -> dict[str, Any]:
        decision = item.pop("_decision", None)
        if decision is None or not decision.allowed:
            self.crawler.stats.inc_value("heed/bug/unallowed_item")
            log.error("refusing to write %s: no allowing decision", item.get("url"))
            return {"url": item.get("url"), "dropped": "no allowing decision"}
        try:
            self.ctx.writer.write_record(item)
        except ValueError as e:  # a row the schema refuses: a bug; its decision is not written
            self.crawler.stats.inc_value("heed/bug/invalid_record")
            log.error("refusing to write %s: %s", item.get("url"), str(e)[:300])
            return {"url": item.get("url"), "dropped": "invalid record"}
        self.recorder.record(
            item["url"],
            decision,
            final_url=item["final_url"],
            http_status=item["http_status"],
            item=item,
        )
        return {"url": item["url"]}
