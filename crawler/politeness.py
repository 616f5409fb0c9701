"""Per-host pacing shared by every client that requests a host (SPEC.md §3.1, §7).

Politeness covers every request to a host, signal documents included: robots.txt, ai.txt,
tdmrep.json and RSL files (fetched with httpx by ``SiteLoader``), pages, redirect hops and
retries (fetched by Scrapy's downloader through ``crawler/netguard_twisted.py``'s download
handler). Both ask the same :class:`PolitenessState` for their turn with :meth:`reserve`
immediately before a request is sent, so the spacing holds whichever client made the
previous request.

The rule (docs/network.md): a request to a host starts no sooner than ``delay(host)`` seconds
after the start of the previous request to that host, where ``delay`` is the host's
``Crawl-delay`` (once robots.txt has been read) or a ``Retry-After`` back-off, whichever is
larger. The delay is applied at reservation time, so the first request after robots.txt was
read already waits for the ``Crawl-delay`` robots.txt announced. The interface is small so a
shared implementation (several crawler processes on Redis) can replace the local one.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

__all__ = ["LocalPoliteness", "PolitenessState", "wait_turn"]


class PolitenessState(Protocol):
    """Per-host pacing: the Crawl-delay a host asked for, any back-off it imposed, and turns."""

    def set_crawl_delay(self, host: str, delay: float) -> None: ...

    def backoff(self, host: str, seconds: float) -> None: ...

    def delay(self, host: str) -> float: ...

    def reserve(self, host: str) -> float:
        """Take the next turn for a request to ``host``; returns the seconds to wait first."""
        ...


class LocalPoliteness:
    """In-process politeness: the delay a host's requests must keep between them."""

    def __init__(self) -> None:
        self._delay: dict[str, float] = {}
        self._backoff_until: dict[str, tuple[float, float]] = {}
        self._last: dict[str, float] = {}  # start of the latest reserved request, per host

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

    def reserve(self, host: str) -> float:
        now = time.monotonic()
        last = self._last.get(host)
        start = now if last is None else max(now, last + self.delay(host))
        self._last[host] = start
        return start - now


async def wait_turn(politeness: PolitenessState, host: str) -> None:
    """Reserve ``host``'s next turn and sleep until it comes."""
    wait = politeness.reserve(host)
    if wait > 0:
        await asyncio.sleep(wait)
