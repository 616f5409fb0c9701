"""The job's Redis connection, its key names, and the one error a lost connection raises.

Every process of a job (``[distributed] redis_url`` + job name) keeps its state under one
prefix, ``heed:<job>:``; :class:`JobKeys` names every key, so the queue, the ledger, the
signal state and the politeness state agree on them without importing each other.

A Redis that cannot be reached is never read as "nothing known, go ahead": every call goes
through :meth:`RedisJob.call`, which turns a connection or timeout error into
:class:`RedisUnavailable` after telling the run once (``on_failure``, set by the runner to
stop the crawl with ``fatal``: exit code 1). The crawl stops; what was published stays
complete; a rerun with the same job resumes once Redis is back.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

import redis
import redis.asyncio
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..errors import RedisUnavailable

__all__ = [
    "HEARTBEAT_S",
    "WORKER_TTL_S",
    "JobKeys",
    "RedisJob",
    "RedisUnavailable",
    "digest",
    "redis_where",
    "shared_job",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Seconds a Redis call may take before the connection counts as lost.
SOCKET_TIMEOUT = 10.0

#: Seconds between a worker's heartbeats, and after which a silent worker counts as dead (its
#: leases go back to the queue: crawler/distributed/queue.py).
HEARTBEAT_S = 1.0
WORKER_TTL_S = 15.0

#: Hex digits of a URL's SHA-1 kept in the seen and done sets (80 bits: a collision among a
#: billion URLs has a probability below 1e-6). Lua computes the same with ``redis.sha1hex``.
DIGEST_HEX = 20


def digest(url: str) -> str:
    """A URL's key in the job's seen and done sets."""
    return hashlib.sha1(url.encode("utf-8"), usedforsecurity=False).hexdigest()[:DIGEST_HEX]


def redis_where(url: str) -> str:
    """``host:port/db`` of a Redis URL, without its password (for messages)."""
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 6379}{parts.path or '/0'}"


class JobKeys:
    """The names of a job's keys, all under ``heed:<job>:``."""

    def __init__(self, job: str) -> None:
        if not job:
            raise ValueError("a distributed job needs a name")
        self.prefix = f"heed:{job}:"
        p = self.prefix
        self.hosts = p + "q:hosts"  # ZSET host -> the tick of its latest pop (round robin)
        self.host_queue = p + "q:h:"  # + host: LIST of "<url>\0<encoded request>"
        self.tick = p + "q:tick"  # pops so far: the hosts' round-robin order
        self.queued = p + "q:n"  # requests in the host queues, all hosts
        self.inflight = p + "inflight"  # undecided entries in the lease hashes, all workers
        self.workers = p + "workers"  # ZSET worker id -> heartbeat expiry (Redis ms)
        self.seen = p + "seen"  # SET of digests: claimed (to be requested or decided)
        self.done = p + "done"  # SET of digests: decided and published
        self.claimed = p + "claimed"  # counter against max_pages
        self.overflow = p + "overflow"  # LIST of "<depth>\0<url>" found over the budget

    def lease(self, worker_id: str) -> str:
        """HASH url -> "R"<encoded request> (popped) or "C"<depth> (claimed, not queued),
        prefixed "D" once the URL's decision is written; an entry lasts until that decision
        is published (``RedisLedger.sync``)."""
        return f"{self.prefix}lease:{worker_id}"

    def reaping(self, worker_id: str) -> str:
        return f"{self.prefix}reaping:{worker_id}"

    def site(self, origin: str) -> str:
        return f"{self.prefix}sig:{origin}"

    def site_lock(self, origin: str) -> str:
        return f"{self.prefix}sig:{origin}:lock"

    def rsl(self, url: str) -> str:
        return f"{self.prefix}rsl:{url}"

    def rsl_lock(self, url: str) -> str:
        return f"{self.prefix}rsl:{url}:lock"

    def host(self, host: str) -> str:
        """HASH of a host's politeness: delay, back-off, latest answer."""
        return f"{self.prefix}pol:{host}"

    def host_slots(self, host: str) -> str:
        """ZSET of a host's turns in use -> lease expiry (Redis ms)."""
        return f"{self.prefix}sem:{host}"


class RedisJob:
    """One process's connection to a job: the client, the keys, the worker id, the failure hook.

    ``on_failure`` is called once, with a message naming the Redis and the error, the first
    time a call fails; the call then raises :class:`RedisUnavailable` (and so does every later
    one that fails).
    """

    def __init__(self, url: str, job: str, worker_id: str, *, client: Any = None) -> None:
        self.url = url
        self.where = redis_where(url)
        self.keys = JobKeys(job)
        self.job = job
        self.worker_id = worker_id or "w0"
        self.client: redis.Redis = client or redis.Redis.from_url(
            url,
            socket_timeout=SOCKET_TIMEOUT,
            socket_connect_timeout=SOCKET_TIMEOUT,
            health_check_interval=0,
        )
        self.on_failure: Callable[[str], None] | None = None
        self.failure: str | None = None
        self._async: tuple[asyncio.AbstractEventLoop, redis.asyncio.Redis] | None = None

    def __deepcopy__(self, memo: dict[int, Any]) -> RedisJob:
        return self  # carried in Scrapy's settings, which are copied: shared, not copied

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` (Redis calls); a lost connection or a Redis error is fatal."""
        try:
            return fn()
        except (RedisConnectionError, RedisTimeoutError, OSError) as e:
            raise self._fail(f"Redis at {self.where} is unreachable ({e})") from None
        except RedisError as e:
            raise self._fail(f"Redis at {self.where} answered with an error ({e})") from None

    def aclient(self) -> redis.asyncio.Redis:
        """An asyncio client on the running event loop (made again for a new loop)."""
        loop = asyncio.get_running_loop()
        if self._async is None or self._async[0] is not loop:
            client = redis.asyncio.Redis.from_url(
                self.url, socket_timeout=SOCKET_TIMEOUT, socket_connect_timeout=SOCKET_TIMEOUT
            )
            self._async = (loop, client)
        return self._async[1]

    async def aclose(self) -> None:
        """Close the asyncio client (its connections belong to the loop that made them)."""
        held, self._async = self._async, None
        if held is not None:
            await held[1].aclose()

    async def acall(self, fn: Callable[[], Awaitable[T]]) -> T:
        """:meth:`call` for the asyncio client: the event loop runs on during the round trip."""
        try:
            return await fn()
        except (RedisConnectionError, RedisTimeoutError, OSError) as e:
            raise self._fail(f"Redis at {self.where} is unreachable ({e})") from None
        except RedisError as e:
            raise self._fail(f"Redis at {self.where} answered with an error ({e})") from None

    def _fail(self, message: str) -> RedisUnavailable:
        first = self.failure is None
        self.failure = self.failure or message
        if first:
            log.error("%s: stopping the crawl (rerun the same command to resume)", message)
            if self.on_failure is not None:
                self.on_failure(message)
        return RedisUnavailable(message)

    def script(self, source: str) -> Any:
        """A registered Lua script (EVALSHA, loaded again after a Redis restart)."""
        return self.client.register_script(source)

    def run_scripts(self, calls: Sequence[tuple[Any, list[Any], list[Any]]]) -> list[Any]:
        """Run ``calls`` (script, keys, args) in one pipelined round trip, in order; their
        results. redis-py's pipeline first asks ``SCRIPT EXISTS`` of its scripts, a round
        trip of its own each time; here a script the server does not know (flushed, a
        restarted Redis) fails alone with NOSCRIPT, and only that call is sent again, by
        the script itself, which loads it. Any other error raises (``call`` makes it fatal).
        """
        if len(calls) < 2:  # no pipeline to build: the script's own call
            return [script(keys=keys, args=args) for script, keys, args in calls]
        pipe = self.client.pipeline(transaction=False)
        for script, keys, args in calls:
            pipe.evalsha(script.sha, len(keys), *keys, *args)
        results: list[Any] = pipe.execute(raise_on_error=False)
        for i, got in enumerate(results):
            if isinstance(got, NoScriptError):
                script, keys, args = calls[i]
                results[i] = script(keys=keys, args=args)
            elif isinstance(got, Exception):
                raise got
        return results


_jobs: dict[tuple[str, str, str], RedisJob] = {}
_jobs_lock = threading.Lock()


def shared_job(url: str, job: str, worker_id: str) -> RedisJob:
    """The process's one :class:`RedisJob` for (url, job, worker): the scheduler Scrapy builds
    and the state classes the run context builds share its client and its failure hook."""
    key = (url, job, worker_id)
    with _jobs_lock:
        held = _jobs.get(key)
        if held is None:
            held = _jobs[key] = RedisJob(url, job, worker_id)
        return held
