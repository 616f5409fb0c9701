"""Per-origin signal documents and per-host politeness, behind small interfaces.

Each origin's documents are fetched once and held in an explicit state that every request for
that origin sees (STYLE.md "what to avoid" 1): ``PENDING`` while they download (every waiter
awaits the same future), then ``READY`` or ``UNREACHABLE`` until they expire. An unreachable
robots.txt is itself a policy (complete disallow), never an absent one. The interfaces are
small so a shared implementation (several crawler processes on Redis) can replace the local
ones without touching the middleware.

Politeness covers the documents too (SPEC.md §7, docs/network.md): robots.txt is the first
request to a host; an origin's documents are fetched one after the other (never in parallel),
and one origin of a host at a time; every fetch waits for the host's turn in the fetcher's
``PolitenessState``, which learns the host's ``Crawl-delay`` as soon as robots.txt is read.
``PolitenessState`` and ``LocalPoliteness`` live in ``crawler/politeness.py`` (re-exported).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol
from urllib.parse import urlsplit

from filters import DocState, FetchOutcome, aitxt, robots, rsl, tdmrep
from filters.engine import SiteSignals
from filters.urls import origin_of

from .config import RunConfig
from .doccache import DocumentCache
from .fetcher import Fetcher
from .politeness import LocalPoliteness, PolitenessState

__all__ = [
    "UNREACHABLE_TTL",
    "LocalPoliteness",
    "LocalSignalState",
    "PolitenessState",
    "SignalState",
    "SiteLoader",
    "SiteState",
    "origin_of",
]

log = logging.getLogger(__name__)

#: SPEC.md §3.1: an unreachable result is cached for at most 10 minutes, then retried.
UNREACHABLE_TTL = 600.0


class SiteState(StrEnum):
    PENDING = "pending"
    READY = "ready"
    UNREACHABLE = "unreachable"


class SiteLoader:
    """Fetches and parses an origin's signal documents (robots.txt, ai.txt, tdmrep.json, RSL).

    With a ``cache`` (``crawler/doccache.py``, docs/network.md "Document cache"), a document
    fetched less than ``signal_ttl`` ago (an unreachable-class answer: less than
    ``min(signal_ttl, UNREACHABLE_TTL)``) is served from it without any request; an older one is
    revalidated with a conditional GET through the same ``Fetcher`` (politeness, address
    guard): a 304 keeps the stored body, anything else replaces it.
    """

    def __init__(
        self, fetcher: Fetcher, cfg: RunConfig, cache: DocumentCache | None = None
    ) -> None:
        self.fetcher = fetcher
        self.cfg = cfg
        self.cache = cache
        self.fetched: list[str] = []  # URLs requested (not those served from the cache)
        self.cached: list[str] = []  # URLs served from the cache without a request
        self._hosts: dict[str, asyncio.Lock] = {}

    async def _get(self, url: str, max_bytes: int) -> FetchOutcome:
        cache = self.cache
        if cache is None:
            self.fetched.append(url)
            return await self.fetcher.fetch(url, max_bytes=max_bytes)
        agent = self.cfg.user_agent
        held = cache.get(url, agent=agent)
        stored = held.outcome(max_bytes) if held is not None else None
        validators: dict[str, str] = {}
        if held is not None and stored is not None:
            lifetime = (
                self.cfg.signal_ttl if held.durable else min(self.cfg.signal_ttl, UNREACHABLE_TTL)
            )
            if 0 <= held.age(datetime.now(UTC)) < lifetime:
                self.cached.append(url)
                return stored
            validators = held.validators()
        self.fetched.append(url)
        live = await self.fetcher.fetch(url, max_bytes=max_bytes, headers=validators or None)
        if validators and live.error is None and live.status == 304 and held is not None:
            confirmed = live.fetched_at or datetime.now(UTC)
            cache.refresh(url, confirmed, agent=agent)
            return held.outcome(max_bytes, fetched_at=confirmed) or live
        cache.put(url, live, max_bytes=max_bytes, agent=agent)
        return live

    async def load(self, origin: str) -> SiteSignals:
        """Fetch robots.txt first; the other documents only when robots.txt was reachable.

        An unreachable robots.txt disallows the whole origin (RFC 9309 §2.3.1.4), so nothing
        else of it is requested, not even /ai.txt or /.well-known/tdmrep.json. Nor is anything
        else requested when its ``Crawl-delay`` is above ``max_crawl_delay``: every URL of the
        host is skipped (``politeness.crawl-delay-too-long``), and honouring the delay between
        the documents would hold the crawl for nothing. Otherwise the delay is handed to the
        politeness state before the next request, and the documents follow one by one.
        """
        host = urlsplit(origin).hostname or ""
        lock = self._hosts.setdefault(host, asyncio.Lock())
        async with lock:  # one origin of a host at a time: robots.txt is read alone
            return await self._load(origin, host)

    async def _load(self, origin: str, host: str) -> SiteSignals:
        limit = self.cfg.robots_max_bytes
        robots_out = await self._get(f"{origin}/robots.txt", limit)
        robots_policy = robots.policy_from_fetch(robots_out, max_bytes=limit)
        if robots_policy.state is DocState.UNREACHABLE:
            return SiteSignals(robots=robots_policy)
        delay = robots.crawl_delay(robots_policy, self.cfg.product_token) or 0.0
        if delay > self.cfg.max_crawl_delay:
            return SiteSignals(robots=robots_policy)
        self.fetcher.politeness.set_crawl_delay(host, delay)
        ai_out = await self._get(f"{origin}/ai.txt", limit)
        tdm_out = await self._get(f"{origin}/.well-known/tdmrep.json", limit)
        rsl_docs = await self.load_rsl(robots_policy.license_urls)
        return SiteSignals(
            robots=robots_policy,
            aitxt=aitxt.policy_from_fetch(ai_out, max_bytes=limit),
            tdmrep=tdmrep.policy_from_fetch(tdm_out),
            rsl=rsl_docs,
        )

    async def load_rsl(self, urls: tuple[str, ...]) -> dict[str, rsl.RslPolicy]:
        """Fetch and parse RSL documents one after the other (each waits for its host's turn)."""
        docs: dict[str, rsl.RslPolicy] = {}
        for url in dict.fromkeys(urls):
            docs[url] = rsl.policy_from_fetch(await self._get(url, self.cfg.robots_max_bytes))
        return docs


class SignalState(Protocol):
    """Where the crawler gets an origin's signals; every caller sees the same settled state."""

    async def site(self, origin: str) -> SiteSignals: ...

    async def rsl(self, urls: tuple[str, ...]) -> dict[str, rsl.RslPolicy]: ...


@dataclass(slots=True)
class _Entry:
    state: SiteState
    future: asyncio.Future[SiteSignals]
    expires: float = 0.0


class LocalSignalState:
    """In-process signal state with per-origin futures and expiry (``signal_ttl``)."""

    def __init__(self, loader: SiteLoader, ttl: float) -> None:
        self.loader = loader
        self.ttl = ttl
        self._sites: dict[str, _Entry] = {}
        self._rsl: dict[str, tuple[float, asyncio.Future[rsl.RslPolicy]]] = {}
        self._tasks: set[asyncio.Future[None]] = set()  # strong references until done

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def state(self, origin: str) -> SiteState | None:
        entry = self._sites.get(origin)
        return entry.state if entry else None

    async def site(self, origin: str) -> SiteSignals:
        entry = self._sites.get(origin)
        now = time.monotonic()
        if entry is None or (entry.state is not SiteState.PENDING and entry.expires <= now):
            entry = _Entry(SiteState.PENDING, asyncio.get_running_loop().create_future())
            self._sites[origin] = entry
            self._spawn(self._settle(origin, entry))
        return await asyncio.shield(entry.future)

    async def _settle(self, origin: str, entry: _Entry) -> None:
        try:
            site = await self.loader.load(origin)
        except Exception:  # a bug in a parser must not leave waiters hanging: fail closed
            log.exception("loading the signal documents of %s failed", origin)
            site = SiteSignals(
                robots=robots.policy_from_fetch(FetchOutcome(url=f"{origin}/robots.txt"))
            )
        unreachable = site.robots.state is DocState.UNREACHABLE
        entry.state = SiteState.UNREACHABLE if unreachable else SiteState.READY
        entry.expires = time.monotonic() + (
            min(self.ttl, UNREACHABLE_TTL) if unreachable else self.ttl
        )
        entry.future.set_result(site)

    async def rsl(self, urls: tuple[str, ...]) -> dict[str, rsl.RslPolicy]:
        now = time.monotonic()
        loop = asyncio.get_running_loop()
        missing: list[str] = []
        for url in urls:
            held = self._rsl.get(url)
            if held is None or held[0] <= now:
                self._rsl[url] = (now + self.ttl, loop.create_future())
                missing.append(url)
        if missing:
            self._spawn(self._settle_rsl(tuple(missing)))
        return {u: await asyncio.shield(self._rsl[u][1]) for u in urls}

    async def _settle_rsl(self, urls: tuple[str, ...]) -> None:
        try:
            docs = await self.loader.load_rsl(urls)
        except Exception:
            log.exception("loading RSL documents failed")
            docs = {u: rsl.policy_from_fetch(FetchOutcome(url=u)) for u in urls}
        for url in urls:
            self._rsl[url][1].set_result(docs[url])
