"""Each origin's signal documents fetched once for the whole job (``SignalState`` on Redis).

The first worker that needs an origin takes its lock (``SET NX PX``), fetches the documents
with the crawl's ``SiteLoader`` (politeness, address guard, document cache: all as in the
embedded mode) and stores what it fetched — status, headers, body, time of each document —
under the origin's key with the TTL of SPEC.md §3.1: ``signal_ttl``, at most 10 minutes when
robots.txt was unreachable. Every other worker waits for that entry (polling it, a few
milliseconds apart at first) and parses the same bytes with the same code
(``SiteLoader._load`` replaying the stored documents), so a shared entry reads exactly as a
local fetch would. The lock holder renews its lock while it loads; a holder that dies loses
it after ``LOCK_MS`` and the next worker that looks fetches instead. RSL documents found in
page headers or HTML are shared the same way, one key per URL.

Each worker memoises the parsed result per origin until the Redis entry expires. A Redis
that cannot be reached raises :class:`RedisUnavailable` (fatal, the crawl stops): the
consent gate fails closed on it, nothing is allowed without the documents. A stored entry
that cannot be decoded counts as an unreachable robots.txt (complete disallow).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from filters import DocState, FetchOutcome, robots, rsl
from filters.engine import SiteSignals
from filters.rsl import RslPolicy

from ..sitestate import UNREACHABLE_TTL, SiteLoader
from ._documents import decode_documents, encode_documents
from .connection import RedisJob

__all__ = ["LOCK_MS", "RedisSignalState"]

log = logging.getLogger(__name__)

#: How long a loader's lock lives without renewal (it renews every third of it).
LOCK_MS = 10_000
#: Polling of a waiting worker: first and longest interval, seconds.
_POLL_FIRST, _POLL_MAX = 0.005, 0.1
#: Memo entries kept before the expired ones are dropped.
_MEMO_PRUNE = 4096

_recording: contextvars.ContextVar[dict[str, FetchOutcome] | None] = contextvars.ContextVar(
    "heed_recording", default=None
)
_replaying: contextvars.ContextVar[dict[str, FetchOutcome] | None] = contextvars.ContextVar(
    "heed_replaying", default=None
)


class _SharedLoader(SiteLoader):
    """The crawl's loader, plus recording what it fetched (the lock holder) and replaying
    stored documents instead of fetching (every other worker)."""

    async def _get(self, url: str, max_bytes: int) -> FetchOutcome:
        stored = _replaying.get()
        if stored is not None:
            # a document the holder did not store (it stopped at robots.txt): never fetched
            return stored.get(url) or FetchOutcome(url=url)
        outcome = await super()._get(url, max_bytes)
        recorded = _recording.get()
        if recorded is not None:
            recorded[url] = outcome
        return outcome


def _unreachable(origin: str) -> SiteSignals:
    return SiteSignals(robots=robots.policy_from_fetch(FetchOutcome(url=f"{origin}/robots.txt")))


@dataclass(slots=True)
class _Memo:
    expires: float  # time.monotonic()
    future: asyncio.Future[Any]


class RedisSignalState:
    """``SignalState`` shared by the job's workers (see the module docstring)."""

    def __init__(self, job: RedisJob, loader: SiteLoader, ttl: float) -> None:
        self.job = job
        self.loader = _SharedLoader(loader.fetcher, loader.cfg, loader.cache)
        self.ttl = ttl
        self._sites: dict[str, _Memo] = {}
        self._rsl: dict[str, _Memo] = {}
        self.loads = 0  # origins this worker fetched itself (the others it read from Redis)

    @property
    def fetched(self) -> list[str]:
        """URLs this worker requested for signal documents."""
        return self.loader.fetched

    # ------------------------------------------------------------------ SignalState

    async def site(self, origin: str) -> SiteSignals:
        result: SiteSignals = await self._memo(self._sites, origin, self._settle_site)
        return result

    async def rsl(self, urls: tuple[str, ...]) -> dict[str, RslPolicy]:
        out: dict[str, RslPolicy] = {}
        for url in urls:
            out[url] = await self._memo(self._rsl, url, self._settle_rsl)
        return out

    # ------------------------------------------------------------------ memo

    async def _memo(
        self,
        memo: dict[str, _Memo],
        key: str,
        settle: Callable[[str], Awaitable[tuple[Any, float]]],
    ) -> Any:
        now = time.monotonic()
        entry = memo.get(key)
        if entry is None or (entry.future.done() and entry.expires <= now):
            if len(memo) >= _MEMO_PRUNE:
                for k in [k for k, e in memo.items() if e.future.done() and e.expires <= now]:
                    del memo[k]
            entry = _Memo(now, asyncio.get_running_loop().create_future())
            memo[key] = entry
            task = asyncio.ensure_future(self._fill(entry, key, settle))
            task.add_done_callback(lambda t: t.exception())  # reported through the future
        return await asyncio.shield(entry.future)

    @staticmethod
    async def _fill(
        entry: _Memo, key: str, settle: Callable[[str], Awaitable[tuple[Any, float]]]
    ) -> None:
        try:
            value, lifetime = await settle(key)
        except BaseException as e:  # Redis lost: every waiter fails closed
            entry.expires = 0.0
            entry.future.set_exception(e)
            raise
        entry.expires = time.monotonic() + lifetime
        entry.future.set_result(value)

    # ------------------------------------------------------------------ single flight

    async def _shared(
        self,
        key: str,
        lock: str,
        fetch: Callable[[], Awaitable[tuple[dict[str, FetchOutcome], float]]],
    ) -> tuple[dict[str, FetchOutcome] | None, float, dict[str, FetchOutcome] | None]:
        """(stored documents, seconds left, None) read from Redis, or (None, ttl, fetched)
        when this worker held the lock and fetched them itself."""
        client, poll = self.job.client, _POLL_FIRST
        while True:
            pipe_out: Any = self.job.call(lambda: _get_with_ttl(client, key))
            raw, pttl = pipe_out
            if raw is not None:
                try:
                    return decode_documents(bytes(raw)), max(int(pttl), 0) / 1000, None
                except (ValueError, KeyError, TypeError):
                    log.warning("unreadable shared documents under %s: unreachable", key)
                    return {}, min(self.ttl, UNREACHABLE_TTL), None
            token = self.job.worker_id
            if self.job.call(partial(client.set, lock, token, nx=True, px=LOCK_MS)):
                keeper = asyncio.ensure_future(self._keep(lock))
                try:
                    docs, ttl = await fetch()
                    payload = encode_documents(docs)
                    px = max(int(ttl * 1000), 1)
                    self.job.call(partial(_store, client, key, payload, px, lock))
                finally:
                    keeper.cancel()
                return None, ttl, docs
            await asyncio.sleep(poll)
            poll = min(poll * 2, _POLL_MAX)

    async def _keep(self, lock: str) -> None:
        with contextlib.suppress(Exception):
            while True:
                await asyncio.sleep(LOCK_MS / 3000)
                self.job.call(lambda: self.job.client.pexpire(lock, LOCK_MS))

    # ------------------------------------------------------------------ sites

    async def _settle_site(self, origin: str) -> tuple[SiteSignals, float]:
        keys = self.job.keys

        async def fetch() -> tuple[dict[str, FetchOutcome], float]:
            docs: dict[str, FetchOutcome] = {}
            token = _recording.set(docs)
            try:
                site = await self.loader.load(origin)
            except Exception:
                log.exception("loading the signal documents of %s failed", origin)
                site = _unreachable(origin)
                docs.clear()  # stored empty: every worker reads it as unreachable
            finally:
                _recording.reset(token)
            self.loads += 1
            return docs, self._lifetime(site)

        stored, left, fetched = await self._shared(keys.site(origin), keys.site_lock(origin), fetch)
        site = await self._replay(origin, stored if stored is not None else fetched or {})
        return site, min(left, self._lifetime(site))

    async def _replay(self, origin: str, docs: dict[str, FetchOutcome]) -> SiteSignals:
        token = _replaying.set(docs)
        try:
            return await self.loader._load(origin, urlsplit(origin).hostname or "")
        except Exception:
            log.exception("reading the shared signal documents of %s failed", origin)
            return _unreachable(origin)
        finally:
            _replaying.reset(token)

    def _lifetime(self, site: SiteSignals) -> float:
        if site.robots.state is DocState.UNREACHABLE:
            return min(self.ttl, UNREACHABLE_TTL)
        return self.ttl

    # ------------------------------------------------------------------ RSL

    async def _settle_rsl(self, url: str) -> tuple[RslPolicy, float]:
        keys = self.job.keys

        async def fetch() -> tuple[dict[str, FetchOutcome], float]:
            docs: dict[str, FetchOutcome] = {}
            token = _recording.set(docs)
            try:
                await self.loader.load_rsl((url,))
            except Exception:
                log.exception("loading the RSL document %s failed", url)
                docs.clear()
            finally:
                _recording.reset(token)
            return docs, self.ttl

        stored, left, fetched = await self._shared(keys.rsl(url), keys.rsl_lock(url), fetch)
        docs = stored if stored is not None else fetched or {}
        return rsl.policy_from_fetch(docs.get(url) or FetchOutcome(url=url)), min(left, self.ttl)


def _get_with_ttl(client: Any, key: str) -> tuple[Any, Any]:
    pipe = client.pipeline(transaction=False)
    pipe.get(key)
    pipe.pttl(key)
    raw, pttl = pipe.execute()
    return raw, pttl


def _store(client: Any, key: str, payload: bytes, px: int, lock: str) -> None:
    pipe = client.pipeline(transaction=True)
    pipe.set(key, payload, px=px)
    pipe.delete(lock)
    pipe.execute()
