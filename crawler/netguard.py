"""The address guard: resolve once, check every address, connect only to a checked address.

SPEC.md §7: heed never connects to a private, loopback, link-local or reserved address unless
``allow_private_networks = true``; a name that fails to resolve is an error (``fetch.error``),
never "not blocked"; and the address checked is the address connected to. So the check cannot
be a separate look-up before the request (the name could resolve differently a moment later,
"DNS rebinding"): it has to sit where the connection is made.

This module is that place for httpx (the signal-document fetcher, ``heed check``, the
registry's proof fetch):

- :func:`resolve` (async) and :func:`resolve_sync` resolve a host once with ``getaddrinfo``
  and return its addresses when every one of them is allowed; a failed or empty resolution
  raises :class:`UnresolvableHost`, a blocked address :class:`BlockedAddress`. Nothing is
  cached: ``getaddrinfo`` gives no TTL, so every connection resolves anew (the system
  resolver or a local cache may still answer from its own cache, within the record's TTL).
- :class:`GuardedAsyncBackend` / :class:`GuardedSyncBackend` are httpcore network backends
  whose ``connect_tcp`` resolves and checks the host, then opens the TCP connection to one of
  the checked IP addresses. httpcore starts TLS on that stream with the URL's host name, so
  SNI and certificate checks are unchanged, and the ``Host`` header is the URL's.
- :func:`async_transport` / :func:`sync_transport` are httpx transports using those backends.

A refusal raised inside httpx surfaces as ``httpx.ConnectError`` (both exception classes
derive from ``httpcore.ConnectError``, so callers that know nothing of this module still fail
closed); :func:`refusal_of` finds the refusal behind it. The Scrapy side lives in
``crawler/netguard_twisted.py`` (a Twisted name resolver built on :func:`resolve_sync`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time
import typing
from collections import OrderedDict
from collections.abc import Iterable

import httpcore
import httpx

from filters.fetch import is_blocked_address

from .errors import BlockedAddress, NetGuardError, UnresolvableHost

__all__ = [
    "BlockedAddress",
    "GuardedAsyncBackend",
    "GuardedSyncBackend",
    "NetGuardError",
    "Refusals",
    "UnresolvableHost",
    "async_transport",
    "check_addresses",
    "literal_address",
    "refusal_of",
    "resolve",
    "resolve_sync",
    "sync_transport",
]

#: Seconds a refusal is remembered by :class:`Refusals` (docs/network.md).
REFUSAL_MEMORY = 60.0

_SocketOption = typing.Any  # httpcore's SOCKET_OPTION (a tuple), not exported


def literal_address(host: str) -> str | None:
    """``host`` as an IP address when it is written as one in canonical form, else None.

    Other numeric forms (``2130706433``, ``0x7f.1``, ``0177.0.0.1``) are not parsed here: they
    go to ``getaddrinfo``, which reads them as the C library does, so the address checked is
    the one the connection would use.
    """
    text = host.strip("[]")
    try:
        ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    return text


def check_addresses(host: str, addresses: Iterable[str], *, allow_private: bool) -> tuple[str, ...]:
    """``addresses`` (deduplicated, in order) when the connection may use every one of them.

    Raises:
        UnresolvableHost: no address at all.
        BlockedAddress: one of them is not public and private networks are not allowed.
    """
    found = tuple(dict.fromkeys(addresses))
    if not found:
        raise UnresolvableHost(host, f"{host} resolved to no address")
    if not allow_private and any(is_blocked_address(a) for a in found):
        raise BlockedAddress(host, found)
    return found


def _addresses(infos: Iterable[tuple[typing.Any, ...]]) -> list[str]:
    out = []
    for family, _type, _proto, _name, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            out.append(str(sockaddr[0]))
    return out


def resolve_sync(host: str, port: int = 0, *, allow_private: bool) -> tuple[str, ...]:
    """Resolve ``host`` once (blocking) and return its addresses if every one is allowed.

    Raises:
        UnresolvableHost: the name did not resolve (or is not a valid name).
        BlockedAddress: an address is not public and private networks are not allowed.
    """
    literal = literal_address(host)
    if literal is not None:
        return check_addresses(host, (literal,), allow_private=allow_private)
    try:
        infos = socket.getaddrinfo(host, port or None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError) as e:
        raise UnresolvableHost(host, f"cannot resolve {host}: {e}") from e
    return check_addresses(host, _addresses(infos), allow_private=allow_private)


async def resolve(
    host: str, port: int = 0, *, allow_private: bool, timeout: float | None = None
) -> tuple[str, ...]:
    """:func:`resolve_sync` without blocking the event loop (``getaddrinfo`` in a thread).

    Raises:
        UnresolvableHost: the name did not resolve within ``timeout`` seconds, or not at all.
        BlockedAddress: an address is not public and private networks are not allowed.
    """
    literal = literal_address(host)
    if literal is not None:
        return check_addresses(host, (literal,), allow_private=allow_private)
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port or None, type=socket.SOCK_STREAM), timeout
        )
    except TimeoutError as e:
        raise UnresolvableHost(host, f"resolving {host} took longer than {timeout} s") from e
    except (OSError, UnicodeError, ValueError) as e:
        raise UnresolvableHost(host, f"cannot resolve {host}: {e}") from e
    return check_addresses(host, _addresses(infos), allow_private=allow_private)


def refusal_of(exc: BaseException | None) -> NetGuardError | None:
    """The guard's refusal behind ``exc`` (itself or a cause), or None."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, NetGuardError):
            return exc
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


def _key(host: str) -> str:
    try:
        return host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return host.lower()


class Refusals:
    """The latest resolution outcome per host, for naming the reason of a failed connection.

    A resolver that cannot pass its reason along with the failure (Twisted's) notes it here;
    the code that sees the failure asks :meth:`latest`. Bounded (``size`` hosts, oldest
    forgotten first) and short-lived (:data:`REFUSAL_MEMORY`); it is never consulted to allow
    anything, only to say *why* a connection was refused.
    """

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._latest: OrderedDict[str, tuple[float, NetGuardError | None]] = OrderedDict()

    def note(self, host: str, refusal: NetGuardError | None) -> None:
        key = _key(host)
        self._latest.pop(key, None)
        self._latest[key] = (time.monotonic(), refusal)
        while len(self._latest) > self.size:
            self._latest.popitem(last=False)

    def latest(self, host: str) -> NetGuardError | None:
        held = self._latest.get(_key(host))
        if held is None or held[0] + REFUSAL_MEMORY < time.monotonic():
            return None
        return held[1]


class GuardedAsyncBackend(httpcore.AsyncNetworkBackend):
    """An httpcore backend that connects only to addresses :func:`resolve` checked."""

    def __init__(self, *, allow_private: bool) -> None:
        self.allow_private = allow_private
        self._inner: httpcore.AsyncNetworkBackend = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[_SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await resolve(host, port, allow_private=self.allow_private, timeout=timeout)
        error: Exception | None = None
        for address in addresses:  # every one was checked; try them in the resolver's order
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as e:
                error = e
        assert error is not None
        raise error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[_SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise UnresolvableHost(path, "heed connects over TCP only")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedSyncBackend(httpcore.NetworkBackend):
    """The blocking twin of :class:`GuardedAsyncBackend` (for synchronous httpx clients)."""

    def __init__(self, *, allow_private: bool) -> None:
        self.allow_private = allow_private
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[_SocketOption] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = resolve_sync(host, port, allow_private=self.allow_private)
        error: Exception | None = None
        for address in addresses:
            try:
                return self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as e:
                error = e
        assert error is not None
        raise error

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[_SocketOption] | None = None,
    ) -> httpcore.NetworkStream:
        raise UnresolvableHost(path, "heed connects over TCP only")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def _pool_options(limits: httpx.Limits, verify: ssl.SSLContext | bool) -> dict[str, typing.Any]:
    if isinstance(verify, ssl.SSLContext):
        context = verify
    else:
        context = httpx.create_ssl_context(verify=verify, trust_env=False)
    return {
        "ssl_context": context,
        "max_connections": limits.max_connections,
        "max_keepalive_connections": limits.max_keepalive_connections,
        "keepalive_expiry": limits.keepalive_expiry,
    }


def async_transport(
    *,
    allow_private: bool,
    limits: httpx.Limits | None = None,
    verify: ssl.SSLContext | bool = True,
) -> httpx.AsyncHTTPTransport:
    """An httpx transport (no proxy, no environment) whose every connection is guarded."""
    limits = limits or httpx.Limits()
    transport = httpx.AsyncHTTPTransport(limits=limits, trust_env=False, verify=verify)
    # httpx builds its httpcore pool without a way to pass a network backend; replace it
    # with the same pool on the guarded backend (tests/e2e/test_address_guard.py pins this).
    transport._pool = httpcore.AsyncConnectionPool(
        network_backend=GuardedAsyncBackend(allow_private=allow_private),
        **_pool_options(limits, verify),
    )
    return transport


def sync_transport(
    *,
    allow_private: bool,
    limits: httpx.Limits | None = None,
    verify: ssl.SSLContext | bool = True,
) -> httpx.HTTPTransport:
    """The blocking twin of :func:`async_transport`, e.g. for ``crawler/registry/verify.py``."""
    limits = limits or httpx.Limits()
    transport = httpx.HTTPTransport(limits=limits, trust_env=False, verify=verify)
    transport._pool = httpcore.ConnectionPool(
        network_backend=GuardedSyncBackend(allow_private=allow_private),
        **_pool_options(limits, verify),
    )
    return transport
