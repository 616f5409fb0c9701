"""Every exception the crawler raises, under heed's one root ``filters.errors.HeedError``.

    HeedError (filters.errors)
    ├── SignalParseError, ConfigError, ...       the pure core's: see filters/errors.py
    ├── RegistryError (filters.errors)           the consent registry could not answer
    │   ├── MissingDatabase                      ``heed registry``: no database at --db
    │   └── RegistryValidationError (filters.errors)
    │       └── VerificationFailed               a site owner's proof file failed
    ├── OutputWriteError                         writing or publishing output failed
    ├── OutputLockedError                        another live writer holds the output folder
    ├── ApiError                                 an HTTP error answer of the registry service
    ├── CheckRefused                             the site-owner page will not check a URL
    ├── RedisUnavailable                         a distributed job's Redis failed: the crawl stops
    └── NetGuardError (also httpcore.ConnectError)   the address guard refused a connection
        ├── UnresolvableHost                     the host did not resolve (``fetch.error``)
        └── BlockedAddress                       a non-public address (``fetch.blocked-address``)

``NetGuardError`` keeps ``httpcore.ConnectError`` as its first base: raised inside httpx it
surfaces as ``httpx.ConnectError``, and a caller that knows nothing of the guard still fails
closed (``crawler/netguard.py``). The classes are also importable from the modules that raise
them (``crawler.output``, ``crawler.netguard``, ``crawler.registry.verify``,
``crawler.distributed.connection``, ``crawler.registry.web.checking``, ...).
"""

from __future__ import annotations

import httpcore

from filters.errors import HeedError, RegistryError, RegistryValidationError
from filters.fetch import is_blocked_address

__all__ = [
    "ApiError",
    "BlockedAddress",
    "CheckRefused",
    "MissingDatabase",
    "NetGuardError",
    "OutputLockedError",
    "OutputWriteError",
    "RedisUnavailable",
    "UnresolvableHost",
    "VerificationFailed",
]


class MissingDatabase(RegistryError):
    """A ``heed registry`` command that does not create a database was pointed at a path with
    none."""


class VerificationFailed(RegistryValidationError):
    """The proof file could not be fetched or did not contain the challenge."""


class OutputWriteError(HeedError):
    """Writing or publishing output failed (permissions, disk full, a closed file)."""


class OutputLockedError(HeedError):
    """Another live writer holds the output directory."""


class ApiError(HeedError):
    """An HTTP error answer of the registry service; carries the status and a message for the
    JSON body."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


class CheckRefused(HeedError):
    """The site-owner page will not check this URL (unrequestable, private address, deadline,
    busy); the message says why, for the page to show."""


class RedisUnavailable(HeedError):
    """The job's Redis could not be reached or answered with an error: the crawl stops."""


class NetGuardError(httpcore.ConnectError, HeedError):
    """The guard refused a connection to ``host``."""

    def __init__(self, host: str, message: str) -> None:
        super().__init__(message)
        self.host = host


class UnresolvableHost(NetGuardError):
    """``host`` did not resolve (an error that excludes: ``fetch.error``)."""


class BlockedAddress(NetGuardError):
    """``host`` is, or resolves to, a non-public address (``fetch.blocked-address``)."""

    def __init__(self, host: str, addresses: tuple[str, ...]) -> None:
        blocked = [a for a in addresses if is_blocked_address(a)]
        super().__init__(host, f"{host} resolves to a non-public address: {', '.join(blocked)}")
        self.addresses = addresses
