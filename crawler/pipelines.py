"""The item pipeline: writes kept pages to ``records/`` and their decisions to ``decisions/``.

Only items produced from a response whose post-fetch decision allowed it reach this pipeline;
it checks that again (a record without an allowing decision is dropped and counted as a bug),
because a leak is the worst failure heed can have.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import DropItem

from . import signals as heed_signals
from .middlewares import _context

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

__all__ = ["RecordPipeline"]

log = logging.getLogger(__name__)


class RecordPipeline:
    """Writes each kept page and its decision; refuses anything not allowed."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.ctx = _context(crawler)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RecordPipeline:
        return cls(crawler)

    def process_item(self, item: dict[str, Any]) -> dict[str, Any]:
        decision = item.pop("_decision", None)
        if decision is None or not decision.allowed:
            self.crawler.stats.inc_value("heed/bug/unallowed_item")
            log.error("refusing to write %s: no allowing decision", item.get("url"))
            raise DropItem("no allowing decision")
        self.ctx.writer.write_record(item)
        self.ctx.record_decision(
            item["url"], decision, final_url=item["final_url"], http_status=item["http_status"]
        )
        self.crawler.stats.inc_value("heed/kept")
        self.crawler.signals.send_catch_log(heed_signals.record_kept, item=item, decision=decision)
        return {"url": item["url"]}
