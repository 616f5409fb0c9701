"""The address guard and politeness on Scrapy's side (SPEC.md §7, docs/network.md).

Scrapy's HTTP/1.1 handler connects through Twisted's ``HostnameEndpoint``, which asks the
reactor's name resolver for the host's addresses and connects to exactly those. Two pieces
make that path fail closed:

- :class:`GuardedResolver` (installed with ``TWISTED_DNS_RESOLVER``) resolves each name once
  with ``getaddrinfo`` (:func:`crawler.netguard.resolve_sync`, in the reactor's thread pool),
  checks every address, and hands Twisted the checked addresses only: the connection can
  only go to an address that was checked, and no second resolution happens in between. A
  failed resolution or a blocked address hands over nothing, so the connection fails. Nothing
  is cached (Scrapy's own resolver keeps answers for the whole run).
- :class:`HeedDownloadHandler` (``DOWNLOAD_HANDLERS`` for http and https) waits for the
  host's politeness turn immediately before the request is sent (after Scrapy's download
  slot let it through) and holds it until the answer is in, so pages, redirect hops and
  retries keep the host's ``Crawl-delay`` after whatever request came before, signal
  documents included. When the connection failed
  because the resolver refused a blocked address, it raises
  :class:`crawler.netguard.BlockedAddress` instead of Scrapy's ``CannotResolveHostError`` (a
  resolver cannot pass its reason through Twisted), which ``crawler.spider.classify_failure``
  maps to ``fetch.blocked-address``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.exceptions import CannotResolveHostError
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import maybeDeferred
from twisted.internet.interfaces import IHostnameResolver, IHostResolution
from twisted.internet.threads import deferToThreadPool
from zope.interface import implementer

from . import netguard
from .politeness import turn

if TYPE_CHECKING:
    from collections.abc import Sequence

    from scrapy.crawler import Crawler
    from scrapy.http import Request, Response
    from twisted.internet.interfaces import IResolutionReceiver
    from twisted.python.failure import Failure

    from .context import RunContext

__all__ = ["GuardedResolver", "HeedDownloadHandler"]

log = logging.getLogger(__name__)


def _context(settings: Any) -> RunContext | None:
    context: RunContext | None = settings.get("HEED_CONTEXT")  # set by crawler.runner
    return context


@implementer(IHostResolution)
class _Resolution:
    def __init__(self, name: str) -> None:
        self.name = name

    def cancel(self) -> None:
        """Resolution runs to completion in a thread; its result is simply not used."""


@implementer(IHostnameResolver)
class GuardedResolver:
    """A Twisted name resolver that hands out checked addresses only (never cached)."""

    def __init__(self, reactor: Any, *, allow_private: bool, refusals: netguard.Refusals) -> None:
        self.reactor = reactor
        self.allow_private = allow_private
        self.refusals = refusals

    @classmethod
    def from_crawler(cls, crawler: Crawler, reactor: Any) -> GuardedResolver:
        ctx = _context(crawler.settings)
        if ctx is None:  # not a heed crawl: guard anyway (fail closed)
            return cls(reactor, allow_private=False, refusals=netguard.Refusals())
        return cls(reactor, allow_private=ctx.cfg.allow_private_networks, refusals=ctx.refusals)

    def install_on_reactor(self) -> None:
        self.reactor.installNameResolver(self)

    def resolveHostName(
        self,
        resolutionReceiver: IResolutionReceiver,
        hostName: str,
        portNumber: int = 0,
        addressTypes: Sequence[type[Any]] | None = None,
        transportSemantics: str = "TCP",
    ) -> IHostResolution:
        resolution = _Resolution(hostName)
        resolutionReceiver.resolutionBegan(resolution)
        if transportSemantics != "TCP":
            resolutionReceiver.resolutionComplete()
            return resolution
        if netguard.literal_address(hostName) is not None:  # nothing to look up: no thread
            d = maybeDeferred(
                netguard.resolve_sync, hostName, portNumber, allow_private=self.allow_private
            )
        else:
            d = deferToThreadPool(
                self.reactor,
                self.reactor.getThreadPool(),
                netguard.resolve_sync,
                hostName,
                portNumber,
                allow_private=self.allow_private,
            )

        def deliver(addresses: tuple[str, ...]) -> None:
            self.refusals.note(hostName, None)
            for address in addresses:
                kind = IPv6Address if ":" in address else IPv4Address
                if addressTypes is None or kind in addressTypes:
                    resolutionReceiver.addressResolved(kind("TCP", address, portNumber))
            resolutionReceiver.resolutionComplete()

        def refuse(failure: Failure) -> None:
            error = failure.value
            if isinstance(error, netguard.NetGuardError):
                log.debug("refused %s: %s", hostName, error)
                self.refusals.note(hostName, error)
            else:  # a bug: hand out nothing (the connection fails), but say so
                log.error("resolving %s failed: %s", hostName, failure.getTraceback())
                self.refusals.note(hostName, netguard.UnresolvableHost(hostName, str(error)))
            resolutionReceiver.resolutionComplete()

        d.addCallbacks(deliver, refuse)
        return resolution


class HeedDownloadHandler(HTTP11DownloadHandler):
    """Scrapy's HTTP/1.1 handler, plus the host's politeness turn and the refusal's reason."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.ctx = _context(crawler.settings)

    async def download_request(self, request: Request) -> Response:
        host = urlsplit(request.url).hostname or ""
        ctx = self.ctx
        if ctx is None:
            return await super().download_request(request)
        try:
            async with turn(ctx.politeness, host):
                return await super().download_request(request)
        except CannotResolveHostError as e:
            refused = ctx.refusals.latest(host)
            if isinstance(refused, netguard.BlockedAddress):
                raise netguard.BlockedAddress(refused.host, refused.addresses) from e
            raise
