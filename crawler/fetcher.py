"""Bounded HTTP fetches with httpx, as ``FetchOutcome`` values (SPEC.md §3.1, §7).

Signal documents (robots.txt, ai.txt, tdmrep.json, RSL files) are fetched with this module by
the crawler, and ``heed check`` fetches documents *and* pages with it, so both apply the same
rules: the same user-agent, at most 5 redirects, a byte bound that also applies after
decompression, a time bound on each hop, the address guard on every connection
(``crawler/netguard.py``: resolve once, check every address, connect to a checked one) and the
host's politeness turn before every hop (``crawler/politeness.py``). It never raises for
network trouble: the outcome says what happened, and ``filters`` says what that means.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

import httpx

from filters import FetchErrorKind, FetchOutcome, Headers
from filters.fetch import MAX_REDIRECTS

from . import netguard
from .politeness import LocalPoliteness, PolitenessState, turn

__all__ = ["AddressGuard", "Fetcher"]

log = logging.getLogger(__name__)


class AddressGuard:
    """Checks a URL's host before anything is requested for it (nothing is cached).

    This is the early check that lets a caller decide ``fetch.blocked-address`` (or
    ``fetch.error`` for a name that does not resolve) before it loads the origin's signal
    documents. It does not make a later connection safe by itself: the connections heed opens
    are checked again where they are made (``crawler/netguard.py``), on the address used.
    """

    def __init__(self, *, allow_private: bool, timeout: float | None = None) -> None:
        self.allow_private = allow_private
        self.timeout = timeout

    async def refusal(self, url: str) -> netguard.NetGuardError | None:
        """Why ``url``'s host must not be requested, or None when it may be.

        ``BlockedAddress``: it is or resolves to a non-public address; ``UnresolvableHost``:
        it does not resolve (or the URL has no usable host). With private networks allowed,
        nothing is resolved here and the answer is None.
        """
        if self.allow_private:
            return None
        try:
            parts = urlsplit(url)
            host, port = parts.hostname or "", parts.port or 0
        except ValueError as e:
            return netguard.UnresolvableHost(url, f"bad URL {url!r}: {e}")
        if not host:
            return netguard.UnresolvableHost(url, f"no host in {url!r}")
        try:
            await netguard.resolve(host, port, allow_private=False, timeout=self.timeout)
        except netguard.NetGuardError as e:
            return e
        return None

    async def blocked(self, url: str) -> bool:
        """Whether ``url`` must not be requested: a blocked address *or* a failed resolution."""
        return await self.refusal(url) is not None


class Fetcher:
    """A shared httpx client that turns a URL into a ``FetchOutcome``.

    ``politeness`` is the run's per-host pacing; every hop waits for its host's turn there.
    """

    def __init__(
        self,
        *,
        user_agent: str,
        timeout: float,
        allow_private: bool,
        max_connections: int = 64,
        politeness: PolitenessState | None = None,
        max_keepalive: int | None = None,
        refuse: Callable[[str], bool] | None = None,
    ) -> None:
        """``max_keepalive`` bounds the idle connections kept open (default: up to
        ``max_connections``). httpcore scans every pooled connection each time it hands one
        out, so a fetcher that talks to thousands of origins a few requests each (``heed
        recheck``) keeps few idle ones: the scan stays short. ``refuse(url)`` True means
        ``url`` may not be requested at all (a host on the run's domain blocklist): checked
        before every hop, redirects followed here included; such a hop ends the fetch as an
        error (a document that redirects there is unreachable, and fails closed)."""
        self.refuse = refuse
        self.timeout = timeout
        self.guard = AddressGuard(allow_private=allow_private, timeout=timeout)
        self.politeness: PolitenessState = (
            politeness if politeness is not None else LocalPoliteness()
        )
        self._client = httpx.AsyncClient(
            headers={"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate"},
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            transport=netguard.async_transport(
                allow_private=allow_private,
                limits=httpx.Limits(
                    max_connections=max_connections, max_keepalive_connections=max_keepalive
                ),
            ),
            trust_env=False,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def fetch(
        self,
        url: str,
        *,
        max_bytes: int,
        follow: bool = True,
        method: str = "GET",
        headers: Mapping[str, str] | None = None,
    ) -> FetchOutcome:
        """GET ``url`` following at most 5 redirects, reading at most ``max_bytes`` (decoded).

        ``method`` may be ``HEAD`` (no body is read); ``headers`` are added to the request
        (e.g. ``If-None-Match`` for a conditional request).

        A body longer than ``max_bytes`` is cut there and the outcome is ``truncated``. With
        ``follow=False`` a redirect is returned as it is (status 3xx, ``Location`` header), so
        the caller can check the target before requesting it, as the crawler does. Each hop
        first waits for its host's politeness turn (not counted in the time bound) and holds
        it until its answer is read; it has twice ``timeout`` to complete.
        """
        current, hops = url, 0
        while True:
            if self.refuse is not None and self.refuse(current):
                log.info("not requesting %s: its host is on the domain blocklist", current)
                return self._error(url, current, FetchErrorKind.OTHER, hops)
            try:
                async with turn(self.politeness, _host(current)):
                    outcome, location = await asyncio.wait_for(
                        self._one(url, current, max_bytes, hops, follow, method, headers),
                        self.timeout * 2,
                    )
            except (TimeoutError, httpx.TimeoutException):
                return self._error(url, current, FetchErrorKind.TIMEOUT, hops)
            except (httpx.TransportError, httpx.InvalidURL, httpx.UnsupportedProtocol) as e:
                log.debug("fetch %s failed: %r", current, e)
                refused = netguard.refusal_of(e)
                kind = (
                    FetchErrorKind.BLOCKED_ADDRESS
                    if isinstance(refused, netguard.BlockedAddress)
                    else FetchErrorKind.CONNECTION
                )
                return self._error(url, current, kind, hops)
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
        self,
        url: str,
        current: str,
        max_bytes: int,
        hops: int,
        follow: bool,
        method: str = "GET",
        headers: Mapping[str, str] | None = None,
    ) -> tuple[FetchOutcome, str | None]:
        async with self._client.stream(method, current, headers=headers) as response:
            location = response.headers.get("location")
            if follow and response.status_code in (301, 302, 303, 307, 308) and location:
                target = urljoin(current, location)
                if urlsplit(target).scheme in ("http", "https"):
                    return FetchOutcome(url=url), target
            chunks: list[bytes] = []
            size, truncated = 0, False
            try:
                async for chunk in response.aiter_bytes():
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > max_bytes:
                        truncated = True
                        break
            except (httpx.HTTPError, TimeoutError) as e:
                # The answer came (status, headers) but its body could not be read: a bad
                # Content-Encoding, a reset or a stall mid-body. An error, with the headers
                # kept, so the decision still sees what they say (an opt-out in them counts).
                log.debug("reading the body of %s failed: %r", current, e)
                kind = (
                    FetchErrorKind.TIMEOUT
                    if isinstance(e, httpx.TimeoutException | TimeoutError)
                    else FetchErrorKind.OTHER
                )
                return (
                    FetchOutcome(
                        url=url,
                        status=response.status_code,
                        headers=Headers(response.headers.multi_items()),
                        body=b"",
                        final_url=current,
                        redirects=hops,
                        error=kind,
                        fetched_at=datetime.now(UTC),
                    ),
                    None,
                )
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


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""
