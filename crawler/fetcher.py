"""Bounded HTTP fetches with httpx, as ``FetchOutcome`` values (SPEC.md §3.1, §7).

Signal documents (robots.txt, ai.txt, tdmrep.json, RSL files) are fetched with this module by
the crawler, and ``heed check`` fetches documents *and* pages with it, so both apply the same
rules: the same user-agent, at most 5 redirects each checked for a blocked address, a byte bound
that also applies after decompression, and a time bound on the whole fetch. It never raises for
network trouble: the outcome says what happened, and ``filters`` says what that means.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

import httpx

from filters import FetchErrorKind, FetchOutcome, Headers
from filters.fetch import MAX_REDIRECTS, is_blocked_address

__all__ = ["AddressGuard", "Fetcher"]

log = logging.getLogger(__name__)


class AddressGuard:
    """Refuses hosts that resolve to non-public addresses unless private networks are allowed.

    Resolution results are cached per host for the life of the guard (one run).
    """

    def __init__(self, *, allow_private: bool) -> None:
        self.allow_private = allow_private
        self._cache: dict[str, bool] = {}

    async def blocked(self, url: str) -> bool:
        """Whether ``url``'s host is (or resolves to) a blocked address. Unresolvable → blocked."""
        if self.allow_private:
            return False
        host = urlsplit(url).hostname or ""
        if host in self._cache:
            return self._cache[host]
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, None, type=socket.SOCK_STREAM
            )
            addresses = {info[4][0] for info in infos}
            verdict = not addresses or any(is_blocked_address(str(a)) for a in addresses)
        except (OSError, UnicodeError):
            verdict = False  # the fetch itself will fail with a connection error
        self._cache[host] = verdict
        return verdict


class Fetcher:
    """A shared httpx client that turns a URL into a ``FetchOutcome``."""

    def __init__(
        self,
        *,
        user_agent: str,
        timeout: float,
        allow_private: bool,
        max_connections: int = 64,
    ) -> None:
        self.timeout = timeout
        self.guard = AddressGuard(allow_private=allow_private)
        self._client = httpx.AsyncClient(
            headers={"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate"},
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            limits=httpx.Limits(max_connections=max_connections),
            trust_env=False,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def fetch(self, url: str, *, max_bytes: int, follow: bool = True) -> FetchOutcome:
        """GET ``url`` following at most 5 redirects, reading at most ``max_bytes`` (decoded).

        A body longer than ``max_bytes`` is cut there and the outcome is ``truncated``. With
        ``follow=False`` a redirect is returned as it is (status 3xx, ``Location`` header), so
        the caller can check the target before requesting it, as the crawler does.
        """
        try:
            return await asyncio.wait_for(self._fetch(url, max_bytes, follow), self.timeout * 2)
        except TimeoutError:
            return self._error(url, url, FetchErrorKind.TIMEOUT, 0)

    async def _fetch(self, url: str, max_bytes: int, follow: bool) -> FetchOutcome:
        current, hops = url, 0
        while True:
            if await self.guard.blocked(current):
                return self._error(url, current, FetchErrorKind.BLOCKED_ADDRESS, hops)
            try:
                outcome, location = await self._one(url, current, max_bytes, hops, follow)
            except httpx.TimeoutException:
                return self._error(url, current, FetchErrorKind.TIMEOUT, hops)
            except (httpx.TransportError, httpx.InvalidURL, httpx.UnsupportedProtocol) as e:
                log.debug("fetch %s failed: %r", current, e)
                return self._error(url, current, FetchErrorKind.CONNECTION, hops)
            except httpx.HTTPError as e:
                log.debug("fetch %s failed: %r", current, e)
                return self._error(url, current, FetchErrorKind.OTHER, hops)
            if location is None:
                return outcome
            hops += 1
            if hops > MAX_REDIRECTS:
                return self._error(url, current, FetchErrorKind.REDIRECT_LIMIT, hops)
            current = location

    async def _one(
        self, url: str, current: str, max_bytes: int, hops: int, follow: bool
    ) -> tuple[FetchOutcome, str | None]:
        async with self._client.stream("GET", current) as response:
            location = response.headers.get("location")
            if follow and response.status_code in (301, 302, 303, 307, 308) and location:
                target = urljoin(current, location)
                if urlsplit(target).scheme in ("http", "https"):
                    return FetchOutcome(url=url), target
            chunks: list[bytes] = []
            size, truncated = 0, False
            async for chunk in response.aiter_bytes():
                chunks.append(chunk)
                size += len(chunk)
                if size > max_bytes:
                    truncated = True
                    break
            body = b"".join(chunks)[:max_bytes]
            return (
                FetchOutcome(
                    url=url,
                    status=response.status_code,
                    headers=Headers(response.headers.multi_items()),
                    body=body,
                    final_url=current,
                    redirects=hops,
                    truncated=truncated,
                    fetched_at=datetime.now(UTC),
                ),
                None,
            )

    @staticmethod
    def _error(url: str, current: str, kind: FetchErrorKind, hops: int) -> FetchOutcome:
        return FetchOutcome(
            url=url, error=kind, final_url=current, redirects=hops, fetched_at=datetime.now(UTC)
        )
