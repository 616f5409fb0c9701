"""Per-host pacing shared by every client that requests a host (SPEC.md §3.1, §7).

Politeness covers every request to a host, signal documents included: robots.txt, ai.txt,
tdmrep.json and RSL files (fetched with httpx by ``SiteLoader``), pages, redirect hops and
retries (fetched by Scrapy's downloader through ``crawler/netguard_twisted.py``'s download
handler). Both take their turn from the same :class:`PolitenessState` (:func:`turn`)
immediately before a request is sent and hold it until the answer is in, so the spacing holds
whichever client made the previous request.

The rule (docs/network.md): while a host has a delay — its ``Crawl-delay`` once robots.txt has
been read, or a ``Retry-After`` back-off, whichever is larger — its requests are one at a
time, and each starts no sooner than the delay after the previous one was answered (or
failed). Counting from the answer rather than from the moment a turn was handed out matters:
between the turn and the bytes on the wire there is connection set-up (a TLS handshake on the
open web) and event-loop latency, and the host sees requests arrive, not turns. The delay in
force when a turn is taken applies, so the first request after robots.txt was read already
waits for the ``Crawl-delay`` robots.txt announced. A host without a delay gets its turns at
once (its concurrency is Scrapy's per-host slot's business). The interface is small so a
shared implementation (several crawler processes on Redis: a per-host lease plus a "not
before" time) can replace the local one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol

__all__ = ["LocalPoliteness", "PolitenessState", "turn"]


class PolitenessState(Protocol):
    """Per-host pacing: the Crawl-delay a host asked for, any back-off it imposed, and turns."""

    def set_crawl_delay(self, host: str, delay: float) -> None: ...

    def backoff(self, host: str, seconds: float) -> None: ...

    def delay(self, host: str) -> float: ...

    async def acquire(self, host: str) -> bool:
        """Wait for ``host``'s turn; True when the turn is exclusive (pass it to release)."""
        ...

    def release(self, host: str, exclusive: bool) -> None:
        """The request of that turn was answered or failed."""
        ...

    async def drain(self) -> None:
        """The crawl is closing: every release made so far has taken effect on return."""
        ...


class LocalPoliteness:
    """In-process politeness: a lock and a "previous answer" time per host."""

    def __init__(self) -> None:
        self._delay: dict[str, float] = {}
        self._backoff_until: dict[str, tuple[float, float]] = {}
        self._done: dict[str, float] = {}  # when the latest request to the host was answered
        self._locks: dict[str, asyncio.Lock] = {}

    def set_crawl_delay(self, host: str, delay: float) -> None:
        self._delay[host] = delay

    def backoff(self, host: str, seconds: float) -> None:
        self._backoff_until[host] = (time.monotonic() + seconds * 4, seconds)

    def delay(self, host: str) -> float:
        base = self._delay.get(host, 0.0)
        held = self._backoff_until.get(host)
        if held is not None and held[0] > time.monotonic():
            return max(base, held[1])
        return base

    async def acquire(self, host: str) -> bool:
        if self.delay(host) <= 0 and not self._locked(host):
            return False
        lock = self._locks.setdefault(host, asyncio.Lock())
        await lock.acquire()
        try:
            while True:  # the delay may grow while waiting (a back-off): look again
                done = self._done.get(host)
                wait = 0.0 if done is None else done + self.delay(host) - time.monotonic()
                if wait <= 0:
                    return True
                await asyncio.sleep(wait)
        except BaseException:
            lock.release()
            raise

    def release(self, host: str, exclusive: bool) -> None:
        self._done[host] = time.monotonic()
        if exclusive:
            self._locks[host].release()

    async def drain(self) -> None:
        """Releases take effect at once here."""

    def _locked(self, host: str) -> bool:
        lock = self._locks.get(host)
        return lock is not None and lock.locked()


@asynccontextmanager
async def turn(politeness: PolitenessState, host: str) -> AsyncIterator[None]:
    """Wait for ``host``'s turn, then hold it until the request was answered or failed.

    Use as ``async with turn(state, host): <send the request and read the answer>``.
    """
    exclusive = await politeness.acquire(host)
    try:
        yield
    finally:
        politeness.release(host, exclusive)
