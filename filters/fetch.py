"""Pure fetch rules shared by the crawler and ``heed check`` (SPEC.md §3.1, §7).

The I/O layers (Scrapy for crawls, httpx for checks) describe what happened as a
``FetchOutcome``; these functions say what it means, so both layers apply the same rules.
"""

from __future__ import annotations

import ipaddress

from .model import FetchErrorKind, FetchOutcome, Signal, SignalResult, Verdict
from .reasons import ReasonCode

__all__ = [
    "MAX_REDIRECTS",
    "fetch_result",
    "is_blocked_address",
    "is_error_status",
]

#: SPEC.md §3.1 and §7: every redirect chain is bounded at 5 hops.
MAX_REDIRECTS = 5

#: RFC 6052 well-known NAT64 prefix: the last 32 bits are the IPv4 address reached.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

_ERROR_REASONS = {
    FetchErrorKind.TOO_LARGE: ReasonCode.FETCH_TOO_LARGE,
    FetchErrorKind.REDIRECT_LIMIT: ReasonCode.FETCH_REDIRECT_LIMIT,
    FetchErrorKind.BLOCKED_ADDRESS: ReasonCode.FETCH_BLOCKED_ADDRESS,
}


def fetch_result(outcome: FetchOutcome) -> SignalResult:
    """The ``fetch.*`` verdict for a page fetch that produced no usable response.

    A truncated body counts as ``fetch.too-large``: heed never keeps part of a page.
    """
    if outcome.error is not None:
        reason = _ERROR_REASONS.get(outcome.error, ReasonCode.FETCH_ERROR)
        raw = outcome.error.value
    elif outcome.truncated:
        reason, raw = ReasonCode.FETCH_TOO_LARGE, f"more than {len(outcome.body)} bytes"
    elif outcome.status is None:
        reason, raw = ReasonCode.FETCH_ERROR, "no response"
    else:
        reason, raw = ReasonCode.FETCH_STATUS, str(outcome.status)
    return SignalResult(
        Signal.FETCH,
        Verdict.DENY,
        (reason,),
        raw=raw,
        source=outcome.final_url or outcome.url,
        detail=str(outcome.status) if reason is ReasonCode.FETCH_STATUS else None,
    )


def is_error_status(status: int | None) -> bool:
    """429, 5xx or no status: the "unreachable" class of SPEC.md §3.1 for signal documents."""
    return status is None or status == 429 or status >= 500


def is_blocked_address(address: str) -> bool:
    """Whether ``address`` is private, loopback, link-local, reserved or otherwise not public.

    ``address`` is an IP address as a resolver returns it (``"127.0.0.1"``, ``"::1"``,
    ``"fe80::1%eth0"``); anything else, a host name included, is blocked (fail closed: only a
    resolver's answer can be judged). An IPv6 address that embeds an IPv4 address is judged by
    it: IPv4-mapped (``::ffff:127.0.0.1``) and NAT64 (``64:ff9b::/96``) ones by the embedded
    address alone, 6to4 (``2002::/16``) and Teredo ones by both. Multicast, reserved (the
    deprecated IPv4-compatible ``::127.0.0.1`` included) and unspecified (``0.0.0.0``, ``::``)
    addresses are blocked.
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0].strip("[]"))
    except ValueError:
        return True
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return _not_public(ip.ipv4_mapped)
        if ip in _NAT64:
            return _not_public(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        embedded = [ip.sixtofour] if ip.sixtofour is not None else []
        embedded.extend(ip.teredo or ())
        return _not_public(ip) or any(_not_public(v4) for v4 in embedded)
    return _not_public(ip)


def _not_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return (
        not ip.is_global
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_private
    )
