"""The job's request queue: host-aware, with leased pops that a dead worker gives back.

A scrapy-redis queue class (``SCHEDULER_QUEUE_CLASS``). Requests wait in one Redis list per
host; a pop takes the head of the host popped longest ago (round robin), so the workers'
downloads spread over the hosts instead of piling onto one host's politeness turn.

Every pop is a **lease**: the request moves to the worker's lease hash
(``JobKeys.lease``). The lease ends when the decision on its URL is published
(``RedisLedger.sync`` moves the URL to the done-set right before the part holding the
decision is published). A request that re-enters the queue (a retry, a redirect's next hop)
ends the lease as it is pushed. Links a worker claimed (``RedisLedger.claim``) are leased too
until their requests are pushed.

Each worker beats (``JobKeys.workers``: expiry of its heartbeat on Redis's clock). A worker
whose heartbeat has expired is dead (SIGKILL, a lost machine): the first live worker that
notices puts its leases back in the queue, its claimed links and the URLs of its written but
unpublished decisions included, unless they are in the done-set. A claimed link that cannot be
requested (``fetch.invalid-url``: over-long, a bad port…) is never queued: the reaper takes
it as its own claim and its spider records it again (``HeedSpider.adopted``). Nothing is
lost, nothing is decided twice, nothing unrequestable is requested. A worker restarted under
the same id takes its own old leases back the same way when it opens.

Only plain meta is serialized: the consent gate, the site signals and the other objects the
middleware puts in ``request.meta`` belong to one attempt and are dropped before the push
(``plain_meta``); a popped request passes the gate again.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import deque
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request, Spider
from scrapy.utils.request import request_from_dict
from scrapy_redis import picklecompat  # type: ignore[import-untyped]
from scrapy_redis.queue import Base  # type: ignore[import-untyped]

from filters.urls import check_url

from . import _lua
from .connection import HEARTBEAT_S, WORKER_TTL_S, RedisJob, RedisUnavailable, shared_job
from .ledger import shared_ledger

__all__ = ["HEARTBEAT_S", "WORKER_TTL_S", "LeasedHostQueue", "plain_meta", "reap"]

log = logging.getLogger(__name__)

#: Requests leased per pop, and pushes sent per round trip.
POP_BATCH = 4
PUSH_BATCH = 16

#: Meta keys of one attempt, never serialized (see crawler/middlewares.py).
_ATTEMPT_META = frozenset(
    {"heed_gate", "heed_site", "heed_pre", "heed_registry", "heed_page", "heed_decision"}
)


def _plain(value: Any) -> bool:
    if value is None or isinstance(value, str | int | float | bool):
        return True
    if isinstance(value, list | tuple):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def plain_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """The meta that travels through Redis: plain values only, no per-attempt objects."""
    return {k: v for k, v in meta.items() if k not in _ATTEMPT_META and _plain(v)}


def _host(url: str) -> str:
    return urlsplit(url).hostname or ""


def job_of(spider: Spider) -> RedisJob:
    """The process's job connection, from the settings :func:`redis_settings` made."""
    s = spider.crawler.settings
    return shared_job(s["REDIS_URL"], s["HEED_JOB"], s["HEED_WORKER_ID"])


class LeasedHostQueue(Base):  # type: ignore[misc]
    """See the module docstring. ``key`` (scrapy-redis's) is unused: :class:`JobKeys` names
    the keys."""

    def __init__(self, server: Any, spider: Spider, key: str, serializer: Any = None) -> None:
        super().__init__(server, spider, key, serializer)
        self.job = job_of(spider)
        settings = spider.crawler.settings
        self.ledger = shared_ledger(self.job, settings.getint("HEED_MAX_PAGES", 10**12))
        self.per_host = max(settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN", 8), 1)
        k = self.job.keys
        self._keys = [k.hosts, k.queued, k.inflight, k.lease(self.job.worker_id), k.tick, k.done]
        self._push = self.job.script(_lua.PUSH)
        self._push_new = self.job.script(_lua.ADMIT_PUSH)
        self._new_keys = [k.seen, k.claimed, k.inflight, k.lease(self.job.worker_id), k.overflow]
        self._new_keys += [k.hosts, k.queued, k.tick]
        self._pop = self.job.script(_lua.POP)
        self._pushes: list[list[Any]] = []  # push_new's scripts not sent yet
        self._popped: deque[bytes] = deque()  # leased to this worker, not handed out yet
        self.ledger.before_sync.append(self.flush_pushes)
        self.ledger.carried.append(self.carry)  # a claim's round trip sends pushes too
        self._adopted: deque[tuple[str, int]] = deque()  # reaped claims, decided at pop
        self._beat_at = 0.0
        self._beat = self.job.script(_lua.BEAT)
        self._first_beat = True
        # This id's leases of an earlier process first: reaping drops the id from the job's
        # workers, so the heartbeat that enters it again comes after.
        self.reap(self.job.worker_id)
        self.beat(force=True)

    # -------------------------------------------------------------- scrapy-redis queue API

    def encode(self, request: Request) -> bytes:
        return encode(self.spider, request)

    def push(self, request: Request) -> None:
        url = request.meta.get("heed_url", request.url)
        item = self.encode(request)
        host = _host(request.url)
        self.job.call(
            lambda: self._push(keys=self._keys, args=[self.job.keys.host_queue, host, url, item])
        )
        self.beat()

    def push_new(self, request: Request) -> bool:
        """Queue ``request`` if its URL is new to the job and within its budget (or claimed
        by this worker): the dupefilter's test and the push in one script. The scripts wait
        in a small buffer sent in one round trip (:meth:`flush_pushes`: when it is full, at
        each pop and heartbeat, and before the ledger syncs, so a page's links are queued
        before its decision is published); True: the test is the job's, made on flush."""
        url = request.meta.get("heed_url", request.url)
        depth = int(request.meta.get("heed_depth", 0))
        args = [self.ledger.max_pages, url, depth, self.job.keys.host_queue, _host(request.url)]
        args.append(self.encode(request))
        self._pushes.append(args)
        if len(self._pushes) >= PUSH_BATCH:
            self.flush_pushes()
        self.beat()
        return True

    def flush_pushes(self) -> None:
        """Send the buffered pushes (one pipelined round trip)."""
        if self._pushes:
            calls = self.carry()
            self.job.call(lambda: self.job.run_scripts(calls))

    def carry(self) -> list[tuple[Any, list[Any], list[Any]]]:
        """The buffered pushes as script calls (:meth:`RedisJob.run_scripts`), taken off the
        buffer: a round trip of the queue's or the ledger's own carries them, ahead of its
        own call (a pop, a claim)."""
        batch, self._pushes = self._pushes, []
        return [(self._push_new, self._new_keys, args) for args in batch]

    def pop(self, timeout: int = 0) -> Request | None:
        self.beat()
        while self._adopted:
            request = self._adopt(*self._adopted.popleft())
            if request is not None:
                return request
        if not self._popped:
            k = self.job.keys
            args = [k.host_queue, POP_BATCH, k.host(""), k.host_slots(""), self.per_host]
            calls = [*self.carry(), (self._pop, self._keys, args)]  # pushes first
            items: Any = self.job.call(lambda: self.job.run_scripts(calls))[-1]
            popped = [bytes(item) for item in items or ()]
            self._popped.extend(popped)
            self.ledger.note_known(i.split(b"\0", 1)[0].decode("utf-8") for i in popped)
        if not self._popped:
            return None
        payload = self._popped.popleft().split(b"\0", 1)[1]
        return request_from_dict(picklecompat.loads(payload), spider=self.spider)

    def __len__(self) -> int:
        """Requests queued plus other workers' leases: while another worker holds work (its
        pages may add links, or it may die and give them back), this one does not close."""
        self.beat()
        self.flush_pushes()
        self.ledger.flush()  # this worker's decided leases: no other worker waits for them
        if self._popped or self._adopted:
            return len(self._popped) + len(self._adopted)
        k = self.job.keys
        own = k.lease(self.job.worker_id)

        def read() -> tuple[Any, Any, Any]:
            pipe = self.job.client.pipeline(transaction=False)
            pipe.get(k.queued)
            pipe.get(k.inflight)
            pipe.hlen(own)
            queued, inflight, mine = pipe.execute()
            return queued, inflight, mine

        queued, inflight, mine = self.job.call(read)
        return max(int(queued or 0), 0) + max(int(inflight or 0) - int(mine or 0), 0)

    def clear(self) -> None:
        """Never called with SCHEDULER_PERSIST (the job outlives its processes)."""

    # -------------------------------------------------------------- heartbeat and reaper

    def beat(self, *, force: bool = False) -> None:
        """Renew this worker's heartbeat (at most every HEARTBEAT_S) and reap dead workers."""
        now = time.monotonic()
        if not force and now - self._beat_at < HEARTBEAT_S:
            return
        self._beat_at = now
        job, k = self.job, self.job.keys
        args = [job.worker_id, int(WORKER_TTL_S * 1000)]
        self.flush_pushes()
        self.ledger.flush()
        got: Any = job.call(lambda: self._beat(keys=[k.workers], args=args))
        alive, dead = bool(int(got[0])), [bytes(d).decode() for d in got[1]]
        # The first beat comes before this process holds any lease (``__init__``).
        self.ledger.beat_confirmed(now, alive=alive or self._first_beat)
        self._first_beat = False
        for worker in dead:
            if worker != job.worker_id:
                self.reap(worker)

    def reap(self, worker: str) -> int:
        """Give ``worker``'s leases back (:func:`reap`); the claimed links that cannot be
        requested become this worker's, decided at its next pops. Returns the number of
        requests put back in the queue."""
        back, adopted = reap(self.job, self.spider, worker)
        self._adopted.extend(adopted)
        return back

    def _adopt(self, url: str, depth: int) -> Request | None:
        """The request of a reaped claim, or None once it is recorded as unrequestable."""
        adopted = getattr(self.spider, "adopted", None)
        if adopted is not None:  # heed's spider: the claim's own rule, decision recorded
            request: Request | None = adopted(url, depth)
            return request
        log.warning("a claim of %r cannot be decided by this spider: dropped", url)
        return None


def encode(spider: Spider, request: Request) -> bytes:
    """A queue item: ``<url>\\0<pickled request dict>``, the URL the one heed decides on
    (``heed_url``: a redirect's hops keep the URL they started from). The dict is
    ``Request.to_dict``'s with plain meta; the spider's callbacks are named directly (Scrapy's
    own lookup walks every member of the spider, a tenth of a millisecond per request)."""
    url: str = request.meta.get("heed_url", request.url)
    callback, errback = _method(spider, request.callback), _method(spider, request.errback)
    if callback is _UNNAMED or errback is _UNNAMED:
        d = request.replace(meta=plain_meta(request.meta)).to_dict(spider=spider)
    else:
        d = {"url": request.url, "callback": callback, "errback": errback}
        d["headers"] = dict(request.headers)
        for attr in request.attributes:
            d.setdefault(attr, getattr(request, attr))
        d["meta"] = plain_meta(request.meta)
        if type(request) is not Request:
            d["_class"] = type(request).__module__ + "." + type(request).__name__
    return url.encode("utf-8") + b"\0" + bytes(picklecompat.dumps(d))


_UNNAMED = object()


def _method(spider: Spider, fn: Any) -> Any:
    """The name of ``fn`` when it is a method of ``spider``, ``fn`` itself when it is not
    callable (None, a name), else ``_UNNAMED`` (Scrapy's lookup decides)."""
    if not callable(fn):
        return fn
    name = getattr(fn, "__name__", None)
    if name and getattr(fn, "__self__", None) is spider and getattr(spider, name, None) == fn:
        return name
    return _UNNAMED


def _item(spider: Spider, url: str, lease: bytes) -> bytes:
    """The queue item that gives a lease back: the popped request, or a claimed link's (a
    leading "D", decided but unpublished, changes nothing: the decision was lost)."""
    if lease[:1] == b"D":
        lease = lease[1:]
    if lease[:1] == b"R":
        return url.encode("utf-8") + b"\0" + lease[1:]
    if lease[:1] == b"C":
        if check_url(url) is not None:
            return b""  # never requested: the reaper decides it again (REQUEUE)
        depth = int(lease[1:] or b"0")
        request = Request(
            url,
            callback=spider.parse,
            errback=getattr(spider, "failed", None),
            meta={"heed_depth": depth, "heed_url": url, "dont_redirect": True},
        )
        return encode(spider, request)
    return b""  # nothing to request: a claim the reaper decides again, or a corrupt lease


def _hash(job: RedisJob, key: str) -> dict[bytes, bytes]:
    def read() -> dict[bytes, bytes]:
        held: Any = job.client.hgetall(key)
        return {bytes(f): bytes(v) for f, v in held.items()}

    return job.call(read)


def reap(job: RedisJob, spider: Spider, worker: str) -> tuple[int, list[tuple[str, int]]]:
    """Give ``worker``'s leases back to the queue: the number of requests put back, and the
    claimed links that cannot be requested, now leased to ``job``'s worker as its claims
    (url, depth), for it to decide."""
    k = job.keys
    lock = k.reaping(worker)
    if not job.call(lambda: job.client.set(lock, job.worker_id, nx=True, px=60_000)):
        return 0, []  # another worker is reaping it
    try:
        entries: dict[bytes, bytes] = {}
        entries.update(_hash(job, k.lease(worker)))
        args: list[Any] = [k.host_queue, worker]
        for raw_url, lease in entries.items():
            url = raw_url.decode("utf-8")
            try:
                item = _item(spider, url, lease)
            except (ValueError, AttributeError):
                item = b""
            args += [_host(url), url, item]
        keys = [k.hosts, k.queued, k.inflight, k.lease(worker), k.done, k.workers, k.tick]
        keys.append(k.lease(job.worker_id))
        script = job.script(_lua.REQUEUE)
        got: Any = job.call(lambda: script(keys=keys, args=args))
        back, pairs = int(got[0]), [bytes(x) for x in got[1]]
        adopted = [
            (pairs[i].decode("utf-8"), int(pairs[i + 1] or b"0")) for i in range(0, len(pairs), 2)
        ]
        if back or adopted:
            log.warning(
                "worker %s stopped: %d of its URL(s) back in the queue, %d to decide here",
                worker,
                back,
                len(adopted),
            )
        return back, adopted
    finally:
        with contextlib.suppress(RedisUnavailable):
            job.call(lambda: job.client.delete(lock))
