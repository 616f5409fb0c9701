"""Per-host politeness held across every worker of the job (``PolitenessState`` on Redis).

The rule is the embedded one (``crawler/politeness.py``, docs/network.md), with the state in
Redis so it holds whichever worker, on whichever machine, sends the next request: while a
host has a delay (its ``Crawl-delay``, or a ``Retry-After`` back-off, whichever is larger) its
requests are one at a time across the job, each starting no sooner than the delay after the
previous one was answered; otherwise at most ``per_host`` requests to it are in flight across
the job. Signal documents take their turns like pages (the loader and Scrapy's downloader
share this state).

One Lua script per turn (``_TURN``) reads the host's delay, back-off and latest answer and
its turns in use (a sorted set of leases, each expiring ``lease_s`` after it was taken, so a
worker that dies holding a turn frees it), all on Redis's clock. A turn that is not free
yet tells the caller how long to wait; a turn's answer also carries the host's delay, which
refreshes the worker's copy (``delay``) without a round trip of its own.

``release`` frees the turn and stamps the answer. It is not a round trip of its own either:
the worker's next turn script carries the releases waiting since the last one, and what no
turn has carried within :data:`_RELEASE_WAIT_S` goes in one script call of its own
(``drain`` sends the rest when the crawl closes). A release that waits holds its turn and
stamps its answer a few milliseconds later than it could: the host's requests are spaced a
little more, never less, than the rule asks.
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

#: Frees the turns of ``#KEYS - 2k`` released requests: KEYS from index ``first`` on are pairs
#: (host hash, host turns), ARGV from ``first_arg`` on their tokens; stamps each answer.
_FREE = """
local function free(first, first_arg)
  for i = first, #KEYS, 2 do
    redis.call('ZREM', KEYS[i + 1], ARGV[first_arg + (i - first) / 2])
    redis.call('HSET', KEYS[i], 'done', now)
  end
end
"""

#: KEYS host hash, host turns, then (host hash, host turns) of each release carried; ARGV
#: token, per_host, lease_ms, then the released turns' tokens. Frees the released turns, then
#: tries the turn. Returns {granted, exclusive, wait_ms, the host's delay as a string}.
_TURN = (
    _NOW
    + _DELAY
    + _FREE
    + """
free(3, 4)
local d = host_delay(KEYS[1], now)
local ds = tostring(d)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local limit = tonumber(ARGV[2])
if d > 0 then limit = 1 end
if redis.call('ZCARD', KEYS[2]) >= limit then return {0, 0, 5, ds} end
if d > 0 then
  local done = tonumber(redis.call('HGET', KEYS[1], 'done') or '0')
  local wait = done + math.ceil(d * 1000) + 1 - now  -- +1: 'done' is rounded down
  if done > 0 and wait > 0 then return {0, 0, wait, ds} end
end
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[3]) * 2)
if d > 0 then return {1, 1, 0, ds} end
return {1, 0, 0, ds}
"""
)

#: KEYS (host hash, host turns) of each release; ARGV their tokens. The turns' requests were
#: answered (or failed).
_RELEASE = (
    _NOW
    + _FREE
    + """
free(1, 1)
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
#: Longest a release waits for a turn script to carry it, seconds.
_RELEASE_WAIT_S = 0.003
#: Most releases one script call carries.
_RELEASE_BATCH = 64


class RedisPoliteness:
    """``PolitenessState`` shared by the job's workers (see the module docstring)."""

    def __init__(self, job: RedisJob, *, per_host: int, lease_s: float) -> None:
        self.job = job
        self.per_host = max(int(per_host), 1)
        self.lease_ms = max(int(lease_s * 1000), 1000)
        self._release = job.script(_RELEASE)
        self._backoff = job.script(_BACKOFF)
        self._read_delay = job.script(_READ_DELAY)
        self._ids = itertools.count()
        self._held: dict[str, list[str]] = {}  # this worker's turns in use, per host
        self._delays: dict[str, tuple[float, float]] = {}  # host -> (read at, delay)
        self._delays_set = 0  # bumped when this worker changes a delay: older reads are stale
        self._async: tuple[Any, Any, Any] | None = None  # (asyncio client, turn, release)
        self._releasing: set[asyncio.Future[Any]] = set()  # releases not answered yet
        self._waiting: list[tuple[str, str]] = []  # (host, token) released, not sent yet
        self._flush: asyncio.TimerHandle | None = None

    def _keys(self, host: str) -> list[str]:
        return [self.job.keys.host(host), self.job.keys.host_slots(host)]

    def set_crawl_delay(self, host: str, delay: float) -> None:
        key = self.job.keys.host(host)
        self.job.call(partial(self.job.client.hset, key, "delay", repr(float(delay))))
        self._forget_delay(host)

    def backoff(self, host: str, seconds: float) -> None:
        keys = [self.job.keys.host(host)]
        self.job.call(partial(self._backoff, keys=keys, args=[repr(float(seconds))]))
        self._forget_delay(host)

    def _forget_delay(self, host: str) -> None:
        self._delays.pop(host, None)
        self._delays_set += 1

    def delay(self, host: str) -> float:
        now = time.monotonic()
        held = self._delays.get(host)
        if held is not None and now - held[0] < _DELAY_MEMO_S:
            return held[1]
        raw: Any = self.job.call(partial(self._read_delay, keys=[self.job.keys.host(host)]))
        value = float(raw)
        self._note_delay(host, now, value)
        return value

    def _note_delay(self, host: str, read_at: float, value: float) -> None:
        if len(self._delays) > 65536:
            self._delays.clear()
        self._delays[host] = (read_at, value)

    def _scripts(self) -> tuple[Any, Any]:
        """The turn and release scripts on the running loop's asyncio client."""
        client = self.job.aclient()
        if self._async is None or self._async[0] is not client:
            self._async = (
                client,
                client.register_script(_TURN),
                client.register_script(_RELEASE),
            )
        return self._async[1], self._async[2]

    def _carried(self) -> tuple[list[str], list[str]]:
        """The keys and tokens of the releases waiting (at most a batch), taken off the
        waiting list: the next script call carries them."""
        batch, self._waiting = self._waiting[:_RELEASE_BATCH], self._waiting[_RELEASE_BATCH:]
        if not self._waiting and self._flush is not None:
            self._flush.cancel()
            self._flush = None
        keys: list[str] = []
        for host, _ in batch:
            keys += self._keys(host)
        return keys, [token for _, token in batch]

    async def acquire(self, host: str) -> bool:
        token = f"{self.job.worker_id}:{next(self._ids)}"
        keys, args = self._keys(host), [token, self.per_host, self.lease_ms]
        script = self._scripts()[0]
        while True:  # the round trip does not hold the event loop (the asyncio client)
            more_keys, tokens = self._carried()
            delays_set, read_at = self._delays_set, time.monotonic()
            call = partial(script, keys=keys + more_keys, args=args + tokens)
            got: Any = await self.job.acall(call)
            granted, exclusive, wait_ms = (int(x) for x in got[:3])
            if delays_set == self._delays_set:  # no change of ours since the script read it
                self._note_delay(host, read_at, float(got[3]))
            if granted:
                self._held.setdefault(host, []).append(token)
                return bool(exclusive)
            await asyncio.sleep(min(max(wait_ms, 1) / 1000, _MAX_WAIT_S))

    def release(self, host: str, exclusive: bool) -> None:
        """Free the turn and stamp the answer: carried by the next turn script, or sent on its
        own within :data:`_RELEASE_WAIT_S` when an event loop runs (a later turn of the host
        cannot be granted before it lands: the turn is in use until then)."""
        tokens = self._held.get(host)
        if not tokens:
            return
        token = tokens.pop()
        if not tokens:
            del self._held[host]
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no running loop: a plain round trip
            call = partial(self._release, keys=self._keys(host), args=[token])
            self.job.call(call)
            return
        self._waiting.append((host, token))
        if len(self._waiting) >= _RELEASE_BATCH:
            self._send_waiting()
        elif self._flush is None:
            self._flush = loop.call_later(_RELEASE_WAIT_S, self._send_waiting)

    def _send_waiting(self) -> None:
        """Send the waiting releases in one script call, without waiting for the reply."""
        self._flush = None
        while self._waiting:
            keys, tokens = self._carried()
            script = self._scripts()[1]
            task = asyncio.ensure_future(self.job.acall(partial(script, keys=keys, args=tokens)))
            self._releasing.add(task)
            task.add_done_callback(self._released)

    async def drain(self) -> None:
        """Send the waiting releases and wait until every release sent is answered (the end
        of the crawl: no turn this worker held stays in use until its lease expires)."""
        self._send_waiting()
        if self._releasing:
            await asyncio.gather(*self._releasing, return_exceptions=True)

    def _released(self, task: asyncio.Future[Any]) -> None:
        self._releasing.discard(task)
        if not task.cancelled():
            task.exception()  # reported (RedisUnavailable: on_failure), not raised here
