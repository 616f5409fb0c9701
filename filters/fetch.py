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

    Unparseable addresses are blocked (fail closed). IPv4-mapped IPv6 addresses are judged by
    their IPv4 address, so ``::ffff:127.0.0.1`` is loopback.
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0].strip("[]"))
    except ValueError:
        return True
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast
