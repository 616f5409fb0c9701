"""Scrapy downloader middlewares: heed's consent gate and its back-off on 429/503.

``ConsentMiddleware`` replaces Scrapy's ``RobotsTxtMiddleware`` and ``RedirectMiddleware``
(both disabled). It drives the consent gate (``filters/engine/gate.py``) with the crawl's I/O:
before a request is sent, the gate's address check, the origin's site documents (every
concurrent request awaits the same per-origin load) and the registry's answer (batched by the
spider, ``crawler/registry/answers.py``) give the pre-fetch decision; a denied request raises
``HeedDenied`` and is never downloaded. After the download the gate reads the response: a
redirect becomes a new request that passes the same gate against its own origin (the hop count
travels in ``meta["heed_redirects"]``), and otherwise the post-fetch decision is attached to
the request's meta; the spider records it (and writes the page only when it allows).

The order of the steps, the redirect rule, the hop limit and the retry statuses are the
gate's; this module only does the I/O each step asks for. Every decision is recorded through
``crawler/recorder.py``.

The address check here is the early one (a blocked host's documents are not even requested);
the connection itself is checked where it is made (``crawler/netguard_twisted.py``), and the
host's politeness turn is taken there too, immediately before each request is sent.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, NoReturn
from urllib.parse import urlsplit

from scrapy.core.downloader import Slot
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Request, Response

from filters import FetchOutcome, Headers, HeedError
from filters.engine import (
    CheckAddress,
    Done,
    Fetch,
    Follow,
    Gate,
    NeedRegistry,
    NeedRsl,
    NeedSite,
    Step,
)

from .netguard import BlockedAddress
from .recorder import DecisionRecorder

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from filters import Decision

    from .context import RunContext

__all__ = ["BackoffMiddleware", "ConsentMiddleware", "HeedDenied"]

log = logging.getLogger(__name__)

#: Request meta that belongs to one hop and is not carried to a redirect's new request.
_HOP_META = ("heed_gate", "heed_site", "heed_pre", "heed_registry", "download_slot")


class HeedDenied(IgnoreRequest, HeedError):
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


def _host(url: str) -> str:
    return urlsplit(url).hostname or ""


class ConsentMiddleware:
    """Drives the consent gate for every request (see the module docstring)."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.ctx = _context(crawler)
        self.recorder = DecisionRecorder(crawler, self.ctx)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ConsentMiddleware:
        return cls(crawler)

    # ----------------------------------------------------------------- pre-fetch

    async def process_request(self, request: Request) -> None:
        ctx = self.ctx
        meta = request.meta
        start: str = meta.setdefault("heed_url", request.url)
        gate = Gate(
            ctx.evaluator,
            request.url,
            hops=meta.get("heed_redirects", 0),
            retries=0,  # Scrapy's RetryMiddleware retries, with the gate's statuses
            start=start,
        )
        step = gate.step
        while not isinstance(step, Fetch | Done):
            step = await self._do(gate, step)
        if gate.pre is not None:
            outcome = "allowed" if gate.pre.allowed else "denied"
            self.crawler.stats.inc_value(f"heed/prefetch/{outcome}")
        if isinstance(step, Done):
            self._deny(request, step)
        meta["heed_gate"] = gate
        meta["heed_site"] = gate.site
        meta["heed_pre"] = gate.pre
        self._pace(request, step.crawl_delay)
        log.debug("allowed %s (for %s)", request.url, start)

    async def _do(self, gate: Gate, step: Step) -> Step:
        """Do the I/O of one step and feed its answer to the gate."""
        ctx = self.ctx
        assert ctx.signals is not None and ctx.fetcher is not None  # opened by the runner
        try:
            if isinstance(step, CheckAddress):
                refused = await ctx.fetcher.guard.refusal(step.url)
                if refused is None:
                    return gate.address_ok()
                blocked = isinstance(refused, BlockedAddress)
                detail = _host(step.url) if blocked else str(refused)
                return gate.address_refused(blocked=blocked, detail=detail)
            if isinstance(step, NeedSite):
                return gate.site_loaded(await ctx.signals.site(step.origin))
            if isinstance(step, NeedRegistry):
                return gate.registry_answered(await ctx.answers.answer(step.url))
            if isinstance(step, NeedRsl):
                return gate.rsl_loaded(await ctx.signals.rsl(step.urls))
        except Exception as e:  # the I/O layer should not raise; if it does, fail closed
            log.exception("consent step %r failed", step)
            return gate.fail(e)
        return gate.fail(f"no driver for step {step!r}")

    def _pace(self, request: Request, crawl_delay: float) -> None:
        """Apply the host's Crawl-delay and back-off to its Scrapy download slot.

        The exact spacing is the politeness turn the download handler takes before sending
        (it also counts the signal documents); the slot keeps the host's requests serial and
        stops them from piling up in the handler.
        """
        host = _host(request.url)
        politeness = self.ctx.politeness
        if crawl_delay:
            politeness.set_crawl_delay(host, crawl_delay)
        delay = politeness.delay(host)
        request.meta["download_slot"] = host
        if delay <= 0:
            return
        request.meta["autothrottle_dont_adjust_delay"] = True
        downloader = self.crawler.engine.downloader
        slot = downloader.slots.get(host)
        if slot is None:
            slot = Slot(1, delay, 0.0)
            downloader.slots[host] = slot
        # RFC 9309 leaves Crawl-delay undefined; heed reads it as "one request per N seconds"
        # (SPEC.md §3.1), so the slot is serial, exact (no jitter) and never faster than asked.
        slot.concurrency, slot.jitter = 1, 0.0
        slot.delay = max(slot.delay, delay)

    def _deny(self, request: Request, done: Step) -> NoReturn:
        assert isinstance(done, Done), done  # gate.fail and a decided gate give Done
        self.recorder.record(
            done.url,
            done.decision,
            request=request,
            final_url=done.final_url,
            http_status=done.http_status,
        )
        raise HeedDenied(done.decision)

    # ----------------------------------------------------------------- post-fetch

    async def process_response(self, request: Request, response: Response) -> Request | Response:
        gate: Gate | None = request.meta.get("heed_gate")
        if gate is None:  # not a request this middleware let through: never keep it
            gate = Gate(self.ctx.evaluator, request.url, start=request.meta.get("heed_url"))
            self._deny(request, gate.fail("a response to a request the gate never saw"))
        outcome = FetchOutcome(
            url=response.url,
            status=response.status,
            headers=Headers((k, v) for k, values in response.headers.items() for v in values),
            body=response.body,
            final_url=response.url,
            redirects=gate.hops,
        )
        step = gate.response(outcome)
        while isinstance(step, NeedRsl):
            step = await self._do(gate, step)
        if isinstance(step, Follow):
            meta = {k: v for k, v in request.meta.items() if k not in _HOP_META}
            meta["heed_redirects"] = step.hops
            return request.replace(
                url=step.url, meta=meta, dont_filter=True, method="GET", body=b""
            )
        if not isinstance(step, Done):  # (a retry: Scrapy's RetryMiddleware does those)
            step = gate.fail(f"the consent gate stopped at {step!r}")
        request.meta.pop("heed_gate", None)
        if gate.page is None:  # a redirect not followed, or a failure: no page to read
            self._deny(request, step)
        request.meta["heed_page"] = gate.page
        request.meta["heed_decision"] = step.decision
        return response


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
        host = _host(request.url)
        self.ctx.politeness.backoff(host, seconds)
        slot = self.crawler.engine.downloader.slots.get(host)
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
