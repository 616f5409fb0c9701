"""The one place a crawl records a decision: its row, its counts and its signal.

Every path that ends a URL's life in a crawl (the consent gate's pre-fetch and post-fetch
decisions, a redirect that may not be followed, a link that cannot be requested, a failed
download, a record that could not be built, a kept page) calls :meth:`DecisionRecorder.record`.
It writes the ``decisions/`` row (``RunContext.record_decision``: once per URL per run), then
counts the Scrapy stats ``heed/kept`` or ``heed/denied/<reason>`` and sends ``url_kept`` or
``url_denied`` (``crawler/signals.py``), so the output, the stats and the signals can never
disagree. A URL already decided in this run is neither counted nor signalled again.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from . import signals as heed_signals

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Request

    from filters import Decision

    from .context import RunContext

__all__ = ["DecisionRecorder"]

log = logging.getLogger(__name__)


class DecisionRecorder:
    """Records decisions for one crawl (see the module docstring)."""

    def __init__(self, crawler: Crawler, ctx: RunContext) -> None:
        self.crawler = crawler
        self.ctx = ctx

    def record(
        self,
        url: str,
        decision: Decision,
        *,
        request: Request | None = None,
        final_url: str | None = None,
        http_status: int | None = None,
        item: dict[str, Any] | None = None,
    ) -> bool:
        """Record ``decision`` for ``url``; False when ``url`` was already decided this run."""
        written = self.ctx.record_decision(
            url, decision, final_url=final_url, http_status=http_status
        )
        if not written:
            return False
        stats = self.crawler.stats
        send = self.crawler.signals.send_catch_log
        if decision.allowed:
            stats.inc_value("heed/kept")
            send(heed_signals.url_kept, url=url, decision=decision, request=request)
            if item is not None:
                send(heed_signals.record_kept, item=item, decision=decision)
        else:
            for reason in decision.reasons:
                stats.inc_value(f"heed/denied/{reason.value}")
            send(heed_signals.url_denied, url=url, decision=decision, request=request)
        return True
