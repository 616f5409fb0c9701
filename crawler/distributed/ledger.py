"""The job's URL ledger on Redis: seen-set, done-set, the shared ``max_pages`` budget.

``RedisLedger`` is the distributed counterpart of the embedded ledger
(``crawler/urlstate``): the spider hands it the links it found, it answers with those this
worker is to request. A link is new to the job once, whichever worker found it: the claim
adds its digest to the job's seen-set and counts it against ``max_pages`` in one Lua script
(``_lua.CLAIM``), so the budget bounds the whole job, across workers and reruns.

The done-set holds the URLs whose decision is in a published part. :meth:`mark_decided`
notes a decision as it is written (in memory: at most one part's worth of URLs);
:meth:`flush`, with each heartbeat, marks their leases decided, so that no other worker waits
for them; :meth:`sync`, called right before a part is published, moves the noted URLs out of
this worker's leases into the done-set in one script call (``_lua.SYNC``). A worker killed
before that loses the unpublished part, and the reaper (``crawler/distributed/queue.py``)
gives those URLs back: each is decided once in the published output. If Redis is gone at
:meth:`sync`, it raises, and the part is not published (the writer fails closed): a rerun
decides those URLs again. A decision must be noted before its row is written (the run
context's set of decided URLs can be :meth:`decided_view`), or the part that holds the row
may be published before the note.

There is no restored frontier to replay: the job's queue lives in Redis and persists. What
:meth:`frontier` yields are the links found over an earlier run's budget (the overflow list),
so a rerun with a larger ``max_pages`` requests them.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Iterator, MutableSet
from functools import partial
from typing import Any

from . import _lua
from .connection import WORKER_TTL_S, RedisJob, digest

__all__ = ["DecidedView", "RedisLedger", "shared_ledger"]

#: URLs per script call (one round trip per page's links, bounded argument lists).
_CLAIM_BATCH = 500
_SYNC_BATCH = 2000
#: Published URLs a worker still remembers as its own decisions (see ``DecidedView``).
RECENT = 16_384
#: Links a worker remembers the job has seen (see :meth:`RedisLedger.claim`).
KNOWN = 32_768
#: Seconds after a confirmed heartbeat during which this worker's leases are surely its own
#: (half the heartbeat's lifetime: see :meth:`RedisLedger.recorded`).
_SURE_S = WORKER_TTL_S / 2
_clock = time.monotonic


class RedisLedger:
    """The job's seen, done and budget state, for one worker (see the module docstring)."""

    def __init__(self, job: RedisJob, max_pages: int) -> None:
        self.job = job
        self.max_pages = max_pages
        k = job.keys
        self._claim = job.script(_lua.CLAIM)
        self._admit = job.script(_lua.ADMIT)
        self._sync = job.script(_lua.SYNC)
        self._decided = job.script(_lua.DECIDED)
        self._claim_keys = [k.seen, k.claimed, k.inflight, k.lease(job.worker_id), k.overflow]
        self._sync_keys = [k.inflight, k.lease(job.worker_id), k.done]
        self._written: dict[str, bool] = {}  # decided, not yet published: url -> kept
        self._unflushed: list[str] = []  # of those, not yet marked "D" in Redis
        self._recent: dict[str, None] = {}  # the latest RECENT URLs synced, oldest first
        self._known: dict[str, None] = {}  # the latest KNOWN links claimed, oldest first
        self._aclaim: tuple[Any, Any] | None = None  # (asyncio client, its CLAIM script)
        self._sure_until = 0.0  # until then (monotonic), no other worker can hold our leases
        self._reaped = False  # a heartbeat found this worker's expiry passed
        #: Called first by :meth:`sync` (the queue sends its buffered pushes: a page's links
        #: are queued before its decision is published).
        self.before_sync: list[Callable[[], object]] = []
        #: Script calls waiting to be sent (the queue's buffered pushes), taken by each
        #: claim's round trip ahead of the claim.
        self.carried: list[Callable[[], list[tuple[Any, list[Any], list[Any]]]]] = []

    def claim(self, links: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
        """The links (url, depth) this worker is to request now: new to the job and within its
        ``max_pages``, in the order given. Each is leased to this worker until its request is
        queued or it is decided.

        A link this worker sent in one of its latest ``KNOWN`` claims is not sent again: the
        job had it then (seen, or kept over the budget in the overflow list) and a seen-set
        only grows, so the answer would be "no". Pages of one site link to the same pages
        over and over (menus, footers); the memo spares those round-trip arguments and the
        server's set lookups, and is bounded, so memory stays flat. The round trip carries
        the queue's buffered pushes too (``carried``)."""
        wanted, out = self._wanted(links), []
        for args in self._claim_batches(wanted):
            calls = [c for carry in self.carried for c in carry()]
            calls.append((self._claim, self._claim_keys, args))
            got: Any = self.job.call(partial(self.job.run_scripts, calls))[-1]
            out += self._claimed(wanted, args, got)
        return out

    async def aclaim(self, links: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
        """:meth:`claim` on the asyncio client: the event loop runs on during the round trip
        (a page's links: other answers are handled meanwhile). Two claims in flight at once
        may send the same link; the job's seen-set answers "new" to one of them only."""
        wanted, out = self._wanted(links), []
        client = self.job.aclient()
        if self._aclaim is None or self._aclaim[0] is not client:
            self._aclaim = (client, client.register_script(_lua.CLAIM))
        script = self._aclaim[1]
        for args in self._claim_batches(wanted):
            got: Any = await self.job.acall(partial(script, keys=self._claim_keys, args=args))
            out += self._claimed(wanted, args, got)
        return out

    def _wanted(self, links: Iterable[tuple[str, int]]) -> dict[str, int]:
        """The links to send (first depth of each), without those the memo knows."""
        wanted: dict[str, int] = {}
        known = self._known
        for url, depth in links:
            if url not in known:
                wanted.setdefault(url, depth)
        return wanted

    def _claim_batches(self, wanted: dict[str, int]) -> Iterator[list[Any]]:
        items = list(wanted.items())
        for i in range(0, len(items), _CLAIM_BATCH):
            args: list[Any] = [self.max_pages]
            for url, depth in items[i : i + _CLAIM_BATCH]:
                args += [url, depth]
            yield args

    def _claimed(self, wanted: dict[str, int], args: list[Any], got: Any) -> list[tuple[str, int]]:
        """The claim's answer in (url, depth) pairs; the links sent join the memo."""
        out = [(u, wanted[u]) for u in (bytes(g).decode("utf-8") for g in got)]
        known = self._known
        for url in args[1::2]:
            known[url] = None
        if len(known) > KNOWN:
            for url in list(itertools.islice(known, len(known) - KNOWN)):
                del known[url]
        return out

    def note_known(self, urls: Iterable[str]) -> None:
        """``urls`` are the job's already (popped from its queue: some worker claimed them):
        a later claim of one of them is answered from the memo. With several workers, a
        worker's pages link to many URLs another worker claimed; the ones it popped itself
        need no round trip then."""
        known = self._known
        for url in urls:
            known[url] = None
        if len(known) > KNOWN:
            for url in list(itertools.islice(known, len(known) - KNOWN)):
                del known[url]

    def admit(self, url: str, depth: int) -> bool:
        """The scheduler's filter for one request: True when it may be queued (a link this
        worker claimed, or new to the job and within its budget, claimed now)."""
        args = [self.max_pages, url, depth]
        got: Any = self.job.call(partial(self._admit, keys=self._claim_keys, args=args))
        return bool(int(got))

    def mark_decided(self, url: str, *, kept: bool = False) -> None:
        """``url``'s decision is written (its part not yet published); ``kept``: a record of
        the page is written too (see :meth:`sync`)."""
        if url not in self._written:
            self._unflushed.append(url)
        self._written[url] = kept or self._written.get(url, False)  # a record stays a record

    def flush(self) -> int:
        """Tell the job which of this worker's leases are decided (not yet published), so no
        other worker waits for them; the queue calls it with each heartbeat."""
        urls, self._unflushed = self._unflushed, []
        for i in range(0, len(urls), _SYNC_BATCH):
            batch = urls[i : i + _SYNC_BATCH]
            self.job.call(partial(self._decided, keys=self._sync_keys[:2], args=batch))
        return len(urls)

    def beat_confirmed(self, sent_at: float, *, alive: bool) -> None:
        """The queue's heartbeat sent at ``sent_at`` (``time.monotonic``) came back: ``alive``
        when no other worker can have taken this one for dead before it (see
        :meth:`recorded`). Once that is not so, it never is again in this process."""
        if not alive:
            self._reaped = True
        if not self._reaped:
            self._sure_until = sent_at + _SURE_S

    def recorded(self, url: str) -> bool:
        """Whether a decision on ``url``, which this worker holds under lease, is recorded
        already: by this worker, or by another one that took the lease over.

        Another worker takes a lease over only after this one's heartbeat has expired on
        Redis's clock (:data:`~crawler.distributed.connection.WORKER_TTL_S` after its latest beat).
        Within half that time of a beat that found its previous expiry still ahead, no other
        worker can have: the answer is this worker's own, with no round trip. Later, or
        once a beat found the expiry passed (a stall: its leases may be back in the queue,
        for good in this process), the job's done-set is asked, as :meth:`is_decided` does."""
        if url in self._written or url in self._recent:
            return True
        if not self._reaped and _clock() < self._sure_until:
            return False
        return self.is_decided(url)

    def is_decided(self, url: str) -> bool:
        """Decided by this worker (written), or by any worker (published)."""
        if url in self._written:
            return True
        done: Any = self.job.call(
            partial(self.job.client.sismember, self.job.keys.done, digest(url))
        )
        return bool(done)

    def sync(self, *, kept_only: bool = False) -> int:
        """The URLs decided so far are about to be published: into the job's done-set (only
        those with a record when ``kept_only``, before a ``records/`` part alone is
        published). Call it right before a part is published; if it raises, do not publish.
        Returns the number of URLs moved."""
        for hook in self.before_sync:
            hook()
        urls = [u for u, kept in self._written.items() if kept or not kept_only]
        for i in range(0, len(urls), _SYNC_BATCH):
            batch = urls[i : i + _SYNC_BATCH]
            self.job.call(partial(self._sync, keys=self._sync_keys, args=batch))
            for url in batch:
                del self._written[url]
                self._recent[url] = None
        for url in list(itertools.islice(self._recent, max(len(self._recent) - RECENT, 0))):
            del self._recent[url]
        if not kept_only:
            self._unflushed.clear()
        else:
            self._unflushed = [u for u in self._unflushed if u in self._written]
        return len(urls)

    def frontier(self) -> Iterator[tuple[str, int]]:
        """Links found over an earlier run's budget, each handed to one worker only."""
        key = self.job.keys.overflow
        while True:
            raw: Any = self.job.call(lambda: self.job.client.lpop(key, 500))
            if not raw:
                return
            for item in raw:
                depth, _, url = bytes(item).partition(b"\0")
                yield url.decode("utf-8"), int(depth or b"0")

    def decided_view(self) -> DecidedView:
        """The ledger as the set of decided URLs a run context keeps (``url in decided``,
        ``decided.add(url)`` before the row is written)."""
        return DecidedView(self)

    def considered(self) -> int:
        """URLs the job has claimed so far (all workers, all runs)."""
        raw: Any = self.job.call(lambda: self.job.client.get(self.job.keys.claimed))
        return int(raw or 0)

    def close(self) -> None:
        """Nothing to release: what is still noted was never published (the writer syncs
        before each publish), and the connection serves the process's other components."""


class DecidedView(MutableSet[str]):
    """A set of decided URLs backed by the ledger: membership is this worker's unpublished
    decisions and its latest published ones (``RECENT``: a second attempt to record a URL
    comes within the same request's life), with no round trip per decision: the job's
    done-set keeps other workers' URLs from reaching this one (claims and pops test it).
    ``add`` notes a decision before
    its row is written, so the part that holds the row always syncs it. Iterating and ``len``
    cover this worker's unpublished decisions only: the job's done-set stays in Redis."""

    def __init__(self, ledger: RedisLedger) -> None:
        self.ledger = ledger

    def __contains__(self, url: object) -> bool:
        # This worker's own decisions only (unpublished, or published lately): a URL reaches
        # a worker through its lease, and a lease whose URL another worker published
        # meanwhile is dropped at pop.
        return url in self.ledger._written or url in self.ledger._recent

    def add(self, url: str) -> None:
        self.ledger.mark_decided(url)

    def discard(self, url: str) -> None:
        """A decision is never taken back."""

    def __iter__(self) -> Iterator[str]:
        return iter(list(self.ledger._written))

    def __len__(self) -> int:
        return len(self.ledger._written)


_ledgers: dict[tuple[str, str, str], RedisLedger] = {}


def shared_ledger(job: RedisJob, max_pages: int) -> RedisLedger:
    """The process's one ledger of ``job``: the scheduler notes the decisions in it (heed's
    ``url_kept`` and ``url_denied`` signals) and the writer's publish hook syncs the same one."""
    key = (job.url, job.job, job.worker_id)
    held = _ledgers.get(key)
    if held is None:
        held = _ledgers[key] = RedisLedger(job, max_pages)
    return held
