"""Scrapy downloader middlewares: heed's consent gate and its back-off on 429/503.

``ConsentMiddleware`` replaces Scrapy's ``RobotsTxtMiddleware`` (which is disabled): before a
request is sent, the origin's signal documents must be settled (every concurrent request awaits
the same per-origin future) and the pre-fetch decision must allow it; a denied request raises
``HeedDenied`` and is never downloaded. Redirects are handled here too, so that every hop is a
new request that passes the same gate against its own origin's signals (at most 5 hops).
After the download, the post-fetch decision is attached to the request's meta; the spider
reads it and writes a record only when it allows.

The address check here is the early one (a blocked host's documents are not even requested);
the connection itself is checked where it is made (``crawler/netguard_twisted.py``), and the
host's politeness turn is taken there too, immediately before each request is sent.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy.core.downloader import Slot
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Request, Response

from filters import FetchOutcome, Headers, ReasonCode, Stage
from filters.engine import (
    NOT_CONFIGURED,
    decide_post_fetch,
    decide_pre_fetch,
    denied,
    inspect_response,
    rsl_urls_needed,
)
from filters.urls import redirect_refusal, redirect_target

from . import signals as heed_signals
from .netguard import BlockedAddress
from .sitestate import origin_of

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from filters import Decision

    from .context import RunContext

__all__ = ["BackoffMiddleware", "ConsentMiddleware", "HeedDenied"]

log = logging.getLogger(__name__)

_REDIRECTS = (301, 302, 303, 307, 308)


class HeedDenied(IgnoreRequest):
    """A request heed refused; ``decision`` says why. It has already been recorded."""

    def __init__(self, decision: Decision) -> None:
        self.decision = decision
        super().__init__(", ".join(r.value for r in decision.reasons))


def _context(crawler: Crawler) -> RunContext:
    if not crawler.settings.getbool("HEED_ENABLED", True):
        log.warning("HEED_ENABLED is False: heed's consent checks are OFF for this crawl")
        raise NotConfigured("HEED_ENABLED is False")
    ctx = crawler.settings.get("HEED_CONTEXT")
    if ctx is None:
        raise RuntimeError("HEED_CONTEXT is not set: run crawls through crawler.runner")
    return ctx  # type: ignore[no-any-return]


class ConsentMiddleware:
    """The pre-fetch gate, the redirect handler and the post-fetch decision."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.ctx = _context(crawler)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ConsentMiddleware:
        return cls(crawler)

    # ----------------------------------------------------------------- pre-fetch

    async def process_request(self, request: Request) -> None:
        ctx = self.ctx
        origin_url: str = request.meta.setdefault("heed_url", request.url)
        assert ctx.signals is not None and ctx.fetcher is not None  # opened by the runner
        refused = await ctx.fetcher.guard.refusal(request.url)
        if refused is not None:
            blocked = isinstance(refused, BlockedAddress)
            self._deny(
                request,
                denied(
                    ReasonCode.FETCH_BLOCKED_ADDRESS if blocked else ReasonCode.FETCH_ERROR,
                    Stage.PRE_FETCH,
                    raw=urlsplit(request.url).hostname if blocked else str(refused)[:300],
                    source=request.url,
                ),
            )
        site = await ctx.signals.site(origin_of(request.url))
        answer = await self._registry(request.url)
        decision = decide_pre_fetch(site, request.url, ctx.engine, answer)
        self.crawler.stats.inc_value(f"heed/prefetch/{'allowed' if decision.allowed else 'denied'}")
        if not decision.allowed:
            self._deny(request, decision)
        request.meta["heed_site"] = site
        request.meta["heed_pre"] = decision
        request.meta["heed_registry"] = answer
        self._pace(request, decision.crawl_delay or 0.0)
        log.debug("allowed %s (for %s)", request.url, origin_url)

    async def _registry(self, url: str) -> Any:
        if self.ctx.registry is None:
            # A configured registry that has no client is a bug: fail closed (unavailable).
            return None if self.ctx.cfg.registry_url else NOT_CONFIGURED
        try:
            answers = await self.ctx.registry.lookup([url])
        except Exception:  # the client should not raise; if it does, fail closed
            log.exception("registry lookup failed for %s", url)
            return None
        return answers.get(url)

    def _pace(self, request: Request, crawl_delay: float) -> None:
        """Apply the host's Crawl-delay and back-off to its Scrapy download slot.

        The exact spacing is the politeness turn the download handler takes before sending
        (it also counts the signal documents); the slot keeps the host's requests serial and
        stops them from piling up in the handler.
        """
        host = urlsplit(request.url).hostname or ""
        politeness = self.ctx.politeness
        if crawl_delay:
            politeness.set_crawl_delay(host, crawl_delay)
        delay = politeness.delay(host)
        request.meta["download_slot"] = host
        if delay <= 0:
            return
        request.meta["autothrottle_dont_adjust_delay"] = True
        downloader = self.crawler.engine.downloader  # type: ignore[union-attr]
        slot = downloader.slots.get(host)
        if slot is None:
            slot = Slot(1, delay, 0.0)
            downloader.slots[host] = slot
        # RFC 9309 leaves Crawl-delay undefined; heed reads it as "one request per N seconds"
        # (SPEC.md §3.1), so the slot is serial, exact (no jitter) and never faster than asked.
        slot.concurrency, slot.jitter = 1, 0.0
        slot.delay = max(slot.delay, delay)

    def _deny(self, request: Request, decision: Decision, status: int | None = None) -> None:
        self.ctx.record_decision(
            request.meta.get("heed_url", request.url),
            decision,
            final_url=request.url,
            http_status=status,
        )
        for reason in decision.reasons:
            self.crawler.stats.inc_value(f"heed/denied/{reason.value}")
        self.crawler.signals.send_catch_log(
            heed_signals.url_denied, request=request, decision=decision
        )
        raise HeedDenied(decision)

    # ----------------------------------------------------------------- post-fetch

    async def process_response(self, request: Request, response: Response) -> Request | Response:
        if response.status in _REDIRECTS and "Location" in response.headers:
            return self._redirect(request, response)
        ctx = self.ctx
        outcome = FetchOutcome(
            url=response.url,
            status=response.status,
            headers=Headers((k, v) for k, values in response.headers.items() for v in values),
            body=response.body,
            final_url=response.url,
            redirects=request.meta.get("heed_redirects", 0),
        )
        page = inspect_response(outcome, ctx.engine)
        site = request.meta["heed_site"]
        wanted = tuple(u for u in rsl_urls_needed(page) if u not in site.robots.license_urls)
        docs = await ctx.signals.rsl(wanted) if wanted and ctx.signals else {}
        decision = decide_post_fetch(
            request.meta["heed_pre"],
            site,
            page,
            ctx.engine,
            rsl_documents=docs,
            registry_answer=request.meta["heed_registry"],
        )
        request.meta["heed_page"] = page
        request.meta["heed_decision"] = decision
        if not decision.allowed:
            for reason in decision.reasons:
                self.crawler.stats.inc_value(f"heed/denied/{reason.value}")
        return response

    def _redirect(self, request: Request, response: Response) -> Request:
        hops = request.meta.get("heed_redirects", 0) + 1
        location = response.headers.get("Location", b"").decode("latin-1")
        target, problem = redirect_target(request.url, location)
        refusal = redirect_refusal(target, problem, location, hops)  # as heed check's
        if refusal is not None:
            reason, raw = refusal
            self._deny(
                request,
                denied(reason, Stage.POST_FETCH, raw=raw, source=request.url),
                status=response.status,
            )
        meta = {
            k: v
            for k, v in request.meta.items()
            if k not in ("heed_site", "heed_pre", "heed_registry")
        }
        meta["heed_redirects"] = hops
        meta.pop("download_slot", None)
        return request.replace(url=target, meta=meta, dont_filter=True, method="GET", body=b"")


class BackoffMiddleware:
    """Honours ``Retry-After`` on 429/503 by slowing the host down before Scrapy retries."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.ctx = _context(crawler)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BackoffMiddleware:
        return cls(crawler)

    def process_response(self, request: Request, response: Response) -> Response:
        if response.status not in (429, 503):
            return response
        seconds = _retry_after(response.headers.get("Retry-After"))
        seconds = min(seconds if seconds is not None else 5.0, self.ctx.cfg.max_crawl_delay)
        host = urlsplit(request.url).hostname or ""
        self.ctx.politeness.backoff(host, seconds)
        slot = self.crawler.engine.downloader.slots.get(host)  # type: ignore[union-attr]
        if slot is not None:
            slot.delay = max(slot.delay, seconds)
        self.crawler.stats.inc_value(f"heed/backoff/{response.status}")
        return response


def _retry_after(value: bytes | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value.decode("latin-1").strip()))
    except ValueError:
        return None  # an HTTP-date: fall back to the default back-off
