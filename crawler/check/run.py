"""The checking core of ``heed check``: one URL in, the crawler's own decision out.

A site owner asks "would heed keep this page?", so the answer must come from exactly the rules
``heed crawl`` applies, not from a re-implementation. This module therefore reuses the
crawler's parts and only replaces Scrapy's downloader with the shared httpx ``Fetcher``:

- site documents come from ``SiteLoader`` behind ``LocalSignalState`` (one shared future per
  origin: however many URLs of an origin are checked, concurrently or not, each of its
  documents is fetched once per run);
- every hop of a redirect chain passes the same gate as ``ConsentMiddleware`` (blocked address,
  then the pre-fetch decision against *that hop's* origin, then the request), at most 5 hops,
  ``fetch.redirect-limit`` beyond;
- the page is fetched with ``max_page_bytes`` as the bound (a truncated body is
  ``fetch.too-large``) and decided by ``decide_post_fetch``, with the RSL documents the
  response names loaded through the same state.

Choices the SPEC leaves open (also in docs/check.md):

- A check is one snapshot: each signal document URL is requested at most once per run, even
  an unreachable one (a crawl would retry that after 10 minutes) and even an RSL file that
  several origins or pages name (a crawl may fetch that once per way it is named).
- Like the crawler's Scrapy settings (``RETRY_TIMES = 2``), a page answered with 429, 500,
  502, 503 or 504, a timeout or a connection error is retried twice; the pause between tries is
  the ``Retry-After`` value, capped at :data:`MAX_RETRY_PAUSE` so a check stays interactive.
- A host's ``Crawl-delay`` (up to ``max_crawl_delay``) spaces its page fetches, and at most
  ``per_host_concurrency`` of them run at once; ``concurrency`` bounds the whole run.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from filters import ConfigError, Decision, DocState, FetchErrorKind, FetchOutcome, ReasonCode, Stage
from filters.engine import (
    NOT_CONFIGURED,
    SiteSignals,
    decide_post_fetch,
    decide_pre_fetch,
    denied,
    inspect_response,
    rsl_urls_needed,
)
from filters.urls import redirect_refusal, redirect_target, resolve_dot_segments

from .. import netguard
from ..config import RunConfig
from ..fetcher import Fetcher
from ..registry.client import RegistryClient, open_registry
from ..sitestate import LocalSignalState, origin_of
from .offline import Substitutes, SubstitutingLoader, page_outcome

__all__ = ["MAX_RETRY_PAUSE", "CheckResult", "Checker", "run_check"]

_REDIRECTS = (301, 302, 303, 307, 308)
#: Scrapy's RETRY_HTTP_CODES and RETRY_TIMES in crawler/settings.py.
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_RETRY_ERRORS = frozenset({FetchErrorKind.TIMEOUT, FetchErrorKind.CONNECTION})
_RETRY_TIMES = 2
#: Seconds; the longest pause between two tries of a page.
MAX_RETRY_PAUSE = 2.0
#: Notes kept per signal document (a broken file can have thousands).
_MAX_NOTES = 20


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome for one checked URL.

    ``decision`` is the engine's own value; ``final_url`` the last URL requested or judged
    (after redirects); ``http_status`` the last status received (None when nothing was
    requested); ``redirects`` the hop targets in order; ``notes`` what the parsers skipped in
    the documents consulted and what offline substitution changed.
    """

    url: str
    decision: Decision
    final_url: str
    http_status: int | None = None
    redirects: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


class _HostGate:
    """Per-host concurrency and Crawl-delay spacing for page fetches."""

    def __init__(self, per_host: int) -> None:
        self.per_host = per_host
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._next: dict[str, float] = {}

    @asynccontextmanager
    async def slot(self, host: str, delay: float) -> AsyncIterator[None]:
        sem = self._slots.setdefault(host, asyncio.Semaphore(self.per_host))
        async with sem:
            if delay > 0:
                async with self._locks.setdefault(host, asyncio.Lock()):
                    wait = self._next.get(host, 0.0) - time.monotonic()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    self._next[host] = time.monotonic() + delay
            yield


def _site_notes(site: SiteSignals) -> list[str]:
    notes: list[str] = []
    for name, policy in (
        ("robots.txt", site.robots),
        ("ai.txt", site.aitxt),
        ("tdmrep.json", site.tdmrep),
    ):
        if policy is not None and policy.state in (DocState.OK, DocState.INVALID):
            notes.extend(f"{name}: {d}" for d in policy.diagnostics[:_MAX_NOTES])
    return notes


class Checker:
    """Checks URLs against one run configuration; use as ``async with Checker(cfg) as c``."""

    def __init__(
        self,
        cfg: RunConfig,
        *,
        substitutes: Substitutes | None = None,
        registry: RegistryClient | None = None,
    ) -> None:
        self.cfg = cfg
        self.engine = cfg.engine()
        self.subs = substitutes or Substitutes()
        self.registry = registry
        self._own_registry = registry is None
        self._answers: dict[str, Any] = {}
        self._gate = _HostGate(cfg.per_host_concurrency)
        self._limit = asyncio.Semaphore(cfg.concurrency)
        self.fetcher = Fetcher(
            user_agent=cfg.user_agent,
            timeout=cfg.download_timeout,
            allow_private=cfg.allow_private_networks,
            max_connections=max(cfg.concurrency, 1),
        )
        self.loader = SubstitutingLoader(self.fetcher, cfg, self.subs)
        self.signals = LocalSignalState(self.loader, math.inf)

    async def __aenter__(self) -> Checker:
        configured = bool(self.cfg.registry_url or self.cfg.registry_spawning)
        if self.registry is None and configured and not self.subs.offline:
            self.registry = open_registry(
                self.cfg.registry_url,
                spawning=self.cfg.registry_spawning,
                timeout=self.cfg.download_timeout,
            )
            if self.registry is None:
                raise ConfigError("[registry]: configured, but no client could be opened")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.fetcher.aclose()
        if self.registry is not None and self._own_registry:
            await self.registry.aclose()

    # ---------------------------------------------------------------- registry

    async def prefetch_registry(self, urls: Sequence[str]) -> None:
        """Ask the registry about ``urls`` in one batch (redirect targets are asked singly)."""
        if self.registry is not None and urls:
            self._answers.update(await self.registry.lookup(list(dict.fromkeys(urls))))

    async def _registry(self, url: str) -> Any:
        if self.registry is None:
            return NOT_CONFIGURED
        if url not in self._answers:
            self._answers.update(await self.registry.lookup([url]))
        return self._answers.get(url)

    # ---------------------------------------------------------------- checking

    async def check_many(self, urls: Sequence[str]) -> list[CheckResult]:
        """Check every URL concurrently; results come back in input order."""
        await self.prefetch_registry(urls)

        async def bounded(url: str) -> CheckResult:
            async with self._limit:
                return await self.check(url)

        return list(await asyncio.gather(*(bounded(u) for u in urls)))

    async def check(self, url: str) -> CheckResult:
        """The crawler's decision for ``url``, following redirects hop by hop."""
        current, hops = resolve_dot_segments(url), 0  # what a crawl would request
        notes: list[str] = []
        redirects: list[str] = []
        while True:
            refused = None if self.subs.replaces_page else await self.fetcher.guard.refusal(current)
            if refused is not None:  # as the crawl's middleware: blocked, or does not resolve
                blocked = isinstance(refused, netguard.BlockedAddress)
                decision = denied(
                    ReasonCode.FETCH_BLOCKED_ADDRESS if blocked else ReasonCode.FETCH_ERROR,
                    Stage.PRE_FETCH,
                    raw=urlsplit(current).hostname if blocked else str(refused)[:300],
                    source=current,
                )
                return CheckResult(url, decision, current, None, tuple(redirects), tuple(notes))
            site = await self.signals.site(origin_of(current))
            notes.extend(n for n in _site_notes(site) if n not in notes)
            answer = await self._registry(current)
            pre = decide_pre_fetch(site, current, self.engine, answer)
            if not pre.allowed:
                return CheckResult(url, pre, current, None, tuple(redirects), tuple(notes))
            outcome = await self._fetch_page(current, pre.crawl_delay or 0.0, notes)
            location = outcome.headers.get("location")
            if outcome.status in _REDIRECTS and location:
                hops += 1
                target, problem = redirect_target(current, location)
                refusal = redirect_refusal(target, problem, location, hops)
                if refusal is not None:
                    reason, raw = refusal
                    decision = denied(
                        reason,
                        Stage.POST_FETCH,
                        raw=raw,
                        source=current,
                        evidence=pre.evidence,
                    )
                    return CheckResult(
                        url, decision, current, outcome.status, tuple(redirects), tuple(notes)
                    )
                redirects.append(target)
                current = target
                continue
            decision = await self._post_fetch(pre, site, outcome, answer)
            return CheckResult(
                url, decision, current, outcome.status, tuple(redirects), tuple(notes)
            )

    async def _post_fetch(
        self, pre: Decision, site: SiteSignals, outcome: FetchOutcome, answer: Any
    ) -> Decision:
        page = inspect_response(outcome, self.engine)
        wanted = tuple(u for u in rsl_urls_needed(page) if u not in site.robots.license_urls)
        docs = await self.signals.rsl(wanted) if wanted else {}
        return decide_post_fetch(
            pre, site, page, self.engine, rsl_documents=docs, registry_answer=answer
        )

    async def _fetch_page(self, url: str, delay: float, notes: list[str]) -> FetchOutcome:
        if self.subs.replaces_page:
            outcome, more = page_outcome(self.subs, url, self.cfg.max_page_bytes)
            notes.extend(n for n in more if n not in notes)
            return outcome
        host = urlsplit(url).hostname or ""
        outcome = FetchOutcome(url=url)
        for attempt in range(_RETRY_TIMES + 1):
            if attempt:
                await asyncio.sleep(_retry_pause(outcome))
            async with self._gate.slot(host, delay):
                outcome = await self.fetcher.fetch(
                    url, max_bytes=self.cfg.max_page_bytes, follow=False
                )
            if outcome.status not in _RETRY_STATUSES and outcome.error not in _RETRY_ERRORS:
                break
        return outcome


def _retry_pause(outcome: FetchOutcome) -> float:
    value = outcome.headers.get("retry-after")
    try:
        seconds = float(value) if value else 0.5
    except ValueError:
        seconds = 0.5
    return min(max(seconds, 0.0), MAX_RETRY_PAUSE)


async def _run(
    cfg: RunConfig, urls: Sequence[str], substitutes: Substitutes | None
) -> tuple[list[CheckResult], list[str]]:
    async with Checker(cfg, substitutes=substitutes) as checker:
        results = await checker.check_many(urls)
        return results, list(checker.loader.fetched)


def run_check(
    cfg: RunConfig, urls: Sequence[str], *, substitutes: Substitutes | None = None
) -> tuple[list[CheckResult], list[str]]:
    """Check ``urls`` in a fresh event loop; returns the results and the documents fetched.

    Raises:
        ConfigError: the configured registry cannot be opened.
    """
    return asyncio.run(_run(cfg, urls, substitutes))
