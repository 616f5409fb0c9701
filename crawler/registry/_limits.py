"""Abuse bounds of the registry service (``service.py``): a per-client rate limit for the
unauthenticated challenge route, and the nesting depth of request JSON.

The rate limit is a token bucket per client: ``burst`` requests at once, then one every
``refill`` seconds. A client is its connecting address; IPv6 clients count per /64 network
(one host usually holds a whole /64). The table of clients is bounded: when full, clients
whose bucket has refilled are forgotten, and while it stays full a new client is refused
(fail closed: an attacker with many addresses cannot reset everyone's limit).
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections.abc import Callable, Iterable

__all__ = ["RateLimiter", "client_key", "nested_deeper_than"]


def client_key(address: str) -> str:
    """The key a client is counted under: its IPv4 address, or its IPv6 /64 network."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class RateLimiter:
    """Token buckets per client key; thread-safe."""

    def __init__(
        self,
        burst: int,
        refill: float,
        *,
        max_clients: int = 65_536,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.burst = burst
        self.refill = refill
        self.max_clients = max_clients
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, address: str) -> int:
        """Take one token for ``address``: 0 when allowed, else the seconds to wait (≥ 1)."""
        key = client_key(address)
        now = self._clock()
        with self._lock:
            found = self._buckets.get(key)
            if found is None:
                if len(self._buckets) >= self.max_clients:
                    self._forget_refilled(now)
                    if len(self._buckets) >= self.max_clients:
                        return max(1, math.ceil(self.refill))
                tokens = float(self.burst)
            else:
                tokens = min(float(self.burst), found[0] + (now - found[1]) / self.refill)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                return max(1, math.ceil((1.0 - tokens) * self.refill))
            self._buckets[key] = (tokens - 1.0, now)
            return 0

    def _forget_refilled(self, now: float) -> None:
        full = [
            key
            for key, (tokens, at) in self._buckets.items()
            if tokens + (now - at) / self.refill >= self.burst
        ]
        for key in full:
            del self._buckets[key]


def nested_deeper_than(value: object, limit: int) -> bool:
    """Whether a parsed JSON value nests lists/objects more than ``limit`` levels deep."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children: Iterable[object]
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False
