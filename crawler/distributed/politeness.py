"""Per-host politeness held across every worker of the job (``PolitenessState`` on Redis).

The rule is the embedded one (``crawler/politeness.py``, docs/network.md), with the state in
Redis so it holds whichever worker, on whichever machine, sends the next request: while a
host has a delay (its ``Crawl-delay``, or a ``Retry-After`` back-off, whichever is larger) its
requests are one at a time across the job, each starting no sooner than the delay after the
previous one was answered; otherwise at most ``per_host`` requests to it are in flight across
the job. Signal documents take their turns like pages (the loader and Scrapy's downloader
share this state).

One Lua script per turn (``_ACQUIRE``) reads the host's delay, back-off and latest answer and
its turns in use (a sorted set of leases, each expiring ``lease_s`` after it was taken, so a
worker that dies holding a turn frees it), all on Redis's clock. A turn that is not free
yet tells the caller how long to wait. ``release`` frees the turn and stamps the answer.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from functools import partial
from typing import Any

from . import _lua
from .connection import RedisJob

__all__ = ["RedisPoliteness"]

_NOW, _DELAY = _lua.NOW, _lua.HOST_DELAY

#: KEYS host hash, host turns; ARGV token, per_host, lease_ms.
#: Returns {granted, exclusive, wait_ms}.
_ACQUIRE = (
    _NOW
    + _DELAY
    + """
local d = host_delay(KEYS[1], now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local limit = tonumber(ARGV[2])
if d > 0 then limit = 1 end
if redis.call('ZCARD', KEYS[2]) >= limit then return {0, 0, 5} end
if d > 0 then
  local done = tonumber(redis.call('HGET', KEYS[1], 'done') or '0')
  local wait = done + math.ceil(d * 1000) + 1 - now  -- +1: 'done' is rounded down
  if done > 0 and wait > 0 then return {0, 0, wait} end
end
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[3]) * 2)
if d > 0 then return {1, 1, 0} end
return {1, 0, 0}
"""
)

#: KEYS host hash, host turns; ARGV token. The turn's request was answered (or failed).
_RELEASE = (
    _NOW
    + """
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[1], 'done', now)
return 1
"""
)

#: KEYS host hash; ARGV seconds. A back-off of ``seconds`` for four times as long.
_BACKOFF = (
    _NOW
    + """
redis.call('HSET', KEYS[1], 'boff', ARGV[1], 'boff_until', now + math.ceil(ARGV[1] * 4000))
return 1
"""
)

#: KEYS host hash. The delay in force (seconds, as a string).
_READ_DELAY = (
    _NOW
    + _DELAY
    + """
return tostring(host_delay(KEYS[1], now))
"""
)

#: Seconds a worker trusts its copy of a host's delay before it reads it again.
_DELAY_MEMO_S = 1.0
#: Longest single wait between two tries of a turn, seconds.
_MAX_WAIT_S = 0.25


class RedisPoliteness:
    """``PolitenessState`` shared by the job's workers (see the module docstring)."""

    def __init__(self, job: RedisJob, *, per_host: int, lease_s: float) -> None:
        self.job = job
        self.per_host = max(int(per_host), 1)
        self.lease_ms = max(int(lease_s * 1000), 1000)
        self._acquire = job.script(_ACQUIRE)
        self._release = job.script(_RELEASE)
        self._backoff = job.script(_BACKOFF)
        self._read_delay = job.script(_READ_DELAY)
        self._ids = itertools.count()
        self._held: dict[str, list[str]] = {}  # this worker's turns in use, per host
        self._delays: dict[str, tuple[float, float]] = {}  # host -> (read at, delay)
        self._async: tuple[Any, Any, Any] | None = None  # (asyncio client, acquire, release)
        self._releasing: set[asyncio.Future[Any]] = set()  # releases not answered yet

    def _keys(self, host: str) -> list[str]:
        return [self.job.keys.host(host), self.job.keys.host_slots(host)]

    def set_crawl_delay(self, host: str, delay: float) -> None:
        key = self.job.keys.host(host)
        self.job.call(partial(self.job.client.hset, key, "delay", repr(float(delay))))
        self._delays.pop(host, None)

    def backoff(self, host: str, seconds: float) -> None:
        keys = [self.job.keys.host(host)]
        self.job.call(partial(self._backoff, keys=keys, args=[repr(float(seconds))]))
        self._delays.pop(host, None)

    def delay(self, host: str) -> float:
        now = time.monotonic()
        held = self._delays.get(host)
        if held is not None and now - held[0] < _DELAY_MEMO_S:
            return held[1]
        raw: Any = self.job.call(partial(self._read_delay, keys=[self.job.keys.host(host)]))
        value = float(raw)
        if len(self._delays) > 65536:
            self._delays.clear()
        self._delays[host] = (now, value)
        return value

    def _scripts(self) -> tuple[Any, Any]:
        """The turn scripts on the running loop's asyncio client."""
        client = self.job.aclient()
        if self._async is None or self._async[0] is not client:
            self._async = (
                client,
                client.register_script(_ACQUIRE),
                client.register_script(_RELEASE),
            )
        return self._async[1], self._async[2]

    async def acquire(self, host: str) -> bool:
        token = f"{self.job.worker_id}:{next(self._ids)}"
        keys, args = self._keys(host), [token, self.per_host, self.lease_ms]
        script = self._scripts()[0]
        while True:  # the round trip does not hold the event loop (the asyncio client)
            got: Any = await self.job.acall(partial(script, keys=keys, args=args))
            granted, exclusive, wait_ms = (int(x) for x in got)
            if granted:
                self._held.setdefault(host, []).append(token)
                return bool(exclusive)
            await asyncio.sleep(min(max(wait_ms, 1) / 1000, _MAX_WAIT_S))

    def release(self, host: str, exclusive: bool) -> None:
        """Free the turn and stamp the answer; sent without waiting for the reply when an
        event loop runs (a later turn of the host cannot be granted before it lands: the
        turn is in use until then)."""
        tokens = self._held.get(host)
        if not tokens:
            return
        token = tokens.pop()
        if not tokens:
            del self._held[host]
        keys = self._keys(host)
        try:
            script = self._scripts()[1]
        except RuntimeError:  # no running loop: a plain round trip
            self.job.call(partial(self._release, keys=keys, args=[token]))
            return
        task = asyncio.ensure_future(self.job.acall(partial(script, keys=keys, args=[token])))
        self._releasing.add(task)
        task.add_done_callback(self._released)

    def _released(self, task: asyncio.Future[Any]) -> None:
        self._releasing.discard(task)
        if not task.cancelled():
            task.exception()  # reported (RedisUnavailable: on_failure), not raised here
