"""The checking core of ``heed check``: one URL in, the crawler's own decision out.

A site owner asks "would heed keep this page?", so the answer must come from exactly the rules
``heed crawl`` applies, not from a re-implementation. This module therefore drives the same
consent gate as the crawl's ``ConsentMiddleware`` (``filters/engine/gate.py``: the order of
the steps, the redirect rule, the hop limit, the retry statuses) and only replaces Scrapy's
downloader with the shared httpx ``Fetcher``:

- site documents come from ``SiteLoader`` behind ``LocalSignalState`` (one shared future per
  origin: however many URLs of an origin are checked, concurrently or not, each of its
  documents is fetched once per run);
- registry answers come from ``RegistryAnswers`` (one batch for all the URLs checked);
- the page is fetched with ``max_page_bytes`` as the bound (a truncated body is
  ``fetch.too-large``).

Choices the SPEC leaves open (also in docs/check.md):

- A check is one snapshot: each signal document URL is requested at most once per run, even
  an unreachable one (a crawl would retry that after 10 minutes) and even an RSL file that
  several origins or pages name (a crawl may fetch that once per way it is named).
- As in a crawl (the gate's ``RETRY_STATUSES`` and ``RETRY_TIMES``), a page answered with 429,
  500, 502, 503 or 504, a timeout or a connection error is retried twice; here the gate asks
  for the retries itself, and the pause between tries is the ``Retry-After`` value, capped at
  :data:`MAX_RETRY_PAUSE` so a check stays interactive.
- A host's ``Crawl-delay`` (up to ``max_crawl_delay``) spaces its page fetches, and at most
  ``per_host_concurrency`` of them run at once; ``concurrency`` bounds the whole run.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

from filters import ConfigError, Decision, DocState, FetchOutcome
from filters.engine import (
    CheckAddress,
    Done,
    Evaluator,
    Fetch,
    Follow,
    Gate,
    NeedRegistry,
    NeedRsl,
    NeedSite,
    SiteSignals,
    Step,
)
from filters.urls import resolve_dot_segments

from .. import netguard
from ..blocklists import load_blocklists
from ..config import RunConfig
from ..doccache import open_document_cache
from ..fetcher import Fetcher
from ..registry.answers import RegistryAnswers
from ..registry.client import RegistryClient, open_registry
from ..sitestate import LocalSignalState
from .offline import Substitutes, SubstitutingLoader, page_outcome

__all__ = ["MAX_RETRY_PAUSE", "CheckResult", "Checker", "run_check"]

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
    sha256: str | None = None  # of the page body read (GET, 2xx), for heed recheck


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
        method: str = "GET",
        memo_addresses: bool = False,
        notes: bool = True,
        max_keepalive: int | None = None,
    ) -> None:
        """``method="HEAD"`` reads only a page's headers (a server refusing HEAD with 405 or
        501 is asked with GET); ``memo_addresses`` checks each host's addresses once per run
        for the gate's early check (``heed recheck``: the connection itself is still checked
        every time, by the fetcher's guarded transport); ``notes=False`` skips collecting the
        parsers' notes (a recheck of millions of rows does not show them)."""
        self.cfg = cfg
        self.method = method
        self._memo_addresses = memo_addresses
        self._refusals: dict[str, Exception | None] = {}
        self._notes = notes
        # [policy] blocklists are read here, once per checker (ConfigError if one cannot be).
        self.blocklist = load_blocklists(cfg)
        self.engine = cfg.engine(self.blocklist)
        self.evaluator = Evaluator(self.engine)
        self.subs = substitutes or Substitutes()
        self.registry = registry
        self._own_registry = registry is None
        self.answers = RegistryAnswers(registry, configured=registry is not None)
        self._gate = _HostGate(cfg.per_host_concurrency)
        self._limit = asyncio.Semaphore(cfg.concurrency)
        self.fetcher = Fetcher(
            user_agent=cfg.user_agent,
            timeout=cfg.download_timeout,
            allow_private=cfg.allow_private_networks,
            max_connections=max(cfg.concurrency, 1),
            max_keepalive=max_keepalive,
            refuse=self._blocklisted,  # a listed host is never requested (documents too)
        )
        # The document cache on disk ([network] document_cache; heed recheck's default):
        # never for substituted (offline) documents, which are not the site's.
        self.cache = None if self.subs.active else open_document_cache(cfg.document_cache)
        self.loader = SubstitutingLoader(self.fetcher, cfg, self.subs, self.cache)
        self.signals = LocalSignalState(self.loader, math.inf)

    def _blocklisted(self, url: str) -> bool:
        return self.evaluator.blocklisted(url) is not None

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
        # An offline check has no registry client: it is decided without one (docs/check.md).
        self.answers = RegistryAnswers(self.registry, configured=self.registry is not None)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.fetcher.aclose()
        if self.cache is not None:
            self.cache.close()
        if self.registry is not None and self._own_registry:
            await self.registry.aclose()

    # ---------------------------------------------------------------- registry

    async def prefetch_registry(self, urls: Sequence[str]) -> None:
        """Ask the registry about ``urls`` in one batch (redirect targets are asked singly)."""
        await self.answers.prefetch(list(dict.fromkeys(urls)))

    # ---------------------------------------------------------------- checking

    async def check_many(self, urls: Sequence[str]) -> list[CheckResult]:
        """Check every URL concurrently; results come back in input order."""
        await self.prefetch_registry([resolve_dot_segments(u) for u in urls])

        async def bounded(url: str) -> CheckResult:
            async with self._limit:
                return await self.check(url)

        return list(await asyncio.gather(*(bounded(u) for u in urls)))

    async def check(self, url: str) -> CheckResult:
        """The crawler's decision for ``url``: the consent gate, driven with httpx."""
        gate = Gate(
            self.evaluator,
            resolve_dot_segments(url),  # what a crawl would request
            max_retry_pause=MAX_RETRY_PAUSE,
            start=url,
        )
        notes: list[str] = []
        step = gate.step
        while not isinstance(step, Done):
            try:
                step = await self._do(gate, step, notes)
            except Exception as e:  # the I/O layer should not raise; if it does, fail closed
                step = gate.fail(e)
        page = gate.page
        digest = None
        status = page.response.status if page is not None else None
        if page is not None and status is not None and 200 <= status < 300 and self.method == "GET":
            digest = hashlib.sha256(page.response.body).hexdigest()
        return CheckResult(
            url,
            step.decision,
            step.final_url,
            step.http_status,
            tuple(gate.redirects),
            tuple(notes),
            digest,
        )

    async def _do(self, gate: Gate, step: Step, notes: list[str]) -> Step:
        """Do the I/O of one step and feed its answer to the gate."""
        if isinstance(step, CheckAddress):
            if self.subs.replaces_page:  # an offline page: nothing is connected to
                return gate.address_ok()
            refused = await self.refusal(step.url)
            if refused is None:
                return gate.address_ok()
            blocked = isinstance(refused, netguard.BlockedAddress)
            detail = (urlsplit(step.url).hostname or "") if blocked else str(refused)
            return gate.address_refused(blocked=blocked, detail=detail)
        if isinstance(step, NeedSite):
            site = await self.signals.site(step.origin)
            if self._notes:
                notes.extend(n for n in _site_notes(site) if n not in notes)
            return gate.site_loaded(site)
        if isinstance(step, NeedRegistry):
            return gate.registry_answered(await self.answers.answer(step.url))
        if isinstance(step, Fetch):
            return gate.response(await self._fetch_page(step, notes))
        if isinstance(step, Follow):
            return gate.follow()
        if isinstance(step, NeedRsl):
            return gate.rsl_loaded(await self.signals.rsl(step.urls))
        return gate.fail(f"no driver for step {step!r}")

    async def _fetch_page(self, step: Fetch, notes: list[str]) -> FetchOutcome:
        url = step.url
        if self.subs.replaces_page:
            outcome, more = page_outcome(self.subs, url, self.cfg.max_page_bytes)
            notes.extend(n for n in more if n not in notes)
            return outcome
        if step.pause > 0:
            await asyncio.sleep(step.pause)
        host = urlsplit(url).hostname or ""
        limit = self.cfg.max_page_bytes
        async with self._gate.slot(host, step.crawl_delay):
            outcome = await self.fetcher.fetch(
                url, max_bytes=limit, follow=False, method=self.method
            )
            if self.method == "HEAD" and outcome.status in (405, 501):  # HEAD refused: GET it
                outcome = await self.fetcher.fetch(url, max_bytes=limit, follow=False)
            return outcome

    async def refusal(self, url: str) -> Exception | None:
        """Why ``url``'s host may not be connected to (None: it may), as the gate checks it."""
        if not self._memo_addresses:
            return await self.fetcher.guard.refusal(url)
        host = urlsplit(url).hostname or ""
        if host not in self._refusals:
            self._refusals[host] = await self.fetcher.guard.refusal(url)
        return self._refusals[host]


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
