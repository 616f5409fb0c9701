"""Signal documents once per job and politeness across workers, on a real redis-server and a
real loopback web (two workers: two connections, two fetchers, one event loop)."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from crawler.config import RunConfig
from crawler.demo.web import LoopbackWeb, PageSpec, SiteSpec
from crawler.distributed.connection import RedisJob, RedisUnavailable
from crawler.distributed.politeness import RedisPoliteness
from crawler.distributed.signals import RedisSignalState
from crawler.fetcher import Fetcher
from crawler.sitestate import UNREACHABLE_TTL, SiteLoader
from filters import DocState

from .conftest import RedisProcess

T = TypeVar("T")
UA = "heedbot/1.0 (+https://example.org/bot)"
CFG = RunConfig(user_agent=UA, allow_private_networks=True, download_timeout=5.0)
TEXT = "text/plain; charset=utf-8"
ROBOTS = "User-agent: *\nDisallow: /private\n"


class _Worker:
    def __init__(self, redis_url: str, job: str, worker_id: str, **signal_kw: Any) -> None:
        self.job = RedisJob(redis_url, job, worker_id)
        self.politeness = RedisPoliteness(self.job, per_host=2, lease_s=30)
        self.fetcher = Fetcher(
            user_agent=UA, timeout=5.0, allow_private=True, politeness=self.politeness
        )
        loader = SiteLoader(self.fetcher, CFG)
        self.signals = RedisSignalState(self.job, loader, signal_kw.get("ttl", CFG.signal_ttl))

    async def aclose(self) -> None:
        await self.politeness.drain()  # the turns' releases land first
        await self.fetcher.aclose()
        await self.job.aclose()


def _run(make: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(make())  # type: ignore[arg-type]


def _web() -> LoopbackWeb:
    return LoopbackWeb(
        {
            "a": SiteSpec(
                pages={
                    "/robots.txt": PageSpec(body=ROBOTS, content_type=TEXT, delay=0.05),
                    "/ai.txt": PageSpec(body="User-Agent: *\nDisallow: /\n", content_type=TEXT),
                },
            ),
            "down": {"/robots.txt": PageSpec(status=503, body="busy")},
        }
    )


def test_each_origins_documents_are_fetched_once_for_all_workers(redis_url: str, job: str) -> None:
    with _web() as web:
        origin = web.origin("a")

        async def go() -> list[Any]:
            one, two = _Worker(redis_url, job, "w1"), _Worker(redis_url, job, "w2")
            try:
                calls = [w.signals.site(origin) for w in (one, two, one, two, two)]
                sites = await asyncio.gather(*calls)
                return [sites, one.signals.loads + two.signals.loads]
            finally:
                await one.aclose()
                await two.aclose()

        sites, loads = _run(go)
        paths = Counter(r.path for r in web.requests("a"))
        assert paths["/robots.txt"] == 1 and paths["/ai.txt"] == 1
        assert paths["/.well-known/tdmrep.json"] == 1
        assert loads == 1
        assert sites[0].robots.state is DocState.OK and sites[0].aitxt is not None
        assert sites[0].aitxt.state is DocState.OK
        assert all(s == sites[0] for s in sites)  # every worker parsed the same bytes


def test_an_unreachable_robots_txt_is_shared_for_at_most_ten_minutes(
    redis_url: str, job: str
) -> None:
    with _web() as web:
        origin = web.origin("down")

        async def go() -> Any:
            one = _Worker(redis_url, job, "w1")
            try:
                return await one.signals.site(origin)
            finally:
                await one.aclose()

        site = _run(go)
        assert site.robots.state is DocState.UNREACHABLE
        assert [r.path for r in web.requests("down")] == ["/robots.txt"]  # nothing else asked
        ttl_ms = RedisJob(redis_url, job, "x").client.pttl(f"heed:{job}:sig:{origin}")
        assert 0 < ttl_ms <= UNREACHABLE_TTL * 1000 < CFG.signal_ttl * 1000


def test_a_dead_lock_holder_loses_its_lock_and_another_worker_fetches(
    redis_url: str, job: str
) -> None:
    with _web() as web:
        origin = web.origin("a")
        ghost = RedisJob(redis_url, job, "ghost")
        ghost.client.set(ghost.keys.site_lock(origin), "ghost", px=300)  # died holding it

        async def go() -> Any:
            one = _Worker(redis_url, job, "w1")
            try:
                return await one.signals.site(origin), one.signals.loads
            finally:
                await one.aclose()

        site, loads = _run(go)
        assert loads == 1 and site.robots.state is not DocState.UNREACHABLE
        assert Counter(r.path for r in web.requests("a"))["/robots.txt"] == 1


def test_crawl_delay_spacing_holds_across_two_workers(redis_url: str, job: str) -> None:
    delay = 0.15

    async def go() -> list[tuple[str, float, float]]:
        one, two = _Worker(redis_url, job, "w1"), _Worker(redis_url, job, "w2")
        one.politeness.set_crawl_delay("h.test", delay)
        turns: list[tuple[str, float, float]] = []
        loop = asyncio.get_running_loop()

        async def use(worker: _Worker, name: str) -> None:
            for _ in range(3):
                exclusive = await worker.politeness.acquire("h.test")
                assert exclusive
                start = loop.time()
                await asyncio.sleep(0.01)  # the request
                end = loop.time()
                worker.politeness.release("h.test", exclusive)
                turns.append((name, start, end))

        await asyncio.gather(use(one, "w1"), use(two, "w2"))
        for w in (one, two):
            await w.aclose()
        return sorted(turns, key=lambda t: t[1])

    turns = _run(go)
    assert {name for name, _, _ in turns} == {"w1", "w2"}
    for (_, _, prev_end), (_, start, _) in itertools.pairwise(turns):
        assert start - prev_end >= delay  # no sooner than the delay after the previous answer


def test_per_host_concurrency_holds_across_workers(redis_url: str, job: str) -> None:
    async def go() -> int:
        workers = [_Worker(redis_url, job, f"w{i}") for i in range(3)]
        busy, most = 0, 0

        async def use(worker: _Worker) -> None:
            nonlocal busy, most
            for _ in range(4):
                exclusive = await worker.politeness.acquire("c.test")
                busy += 1
                most = max(most, busy)
                await asyncio.sleep(0.01)
                busy -= 1
                worker.politeness.release("c.test", exclusive)

        await asyncio.gather(*(use(w) for w in workers for _ in range(2)))
        for w in workers:
            await w.aclose()
        return most

    assert _run(go) == 2  # per_host=2 across six clients of three workers


def _scripts_run(redis_url: str) -> int:
    """Script calls the Redis server has answered so far (every test of the session)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        stats = client.info("commandstats")
        return sum(int(stats.get(f"cmdstat_{c}", {}).get("calls", 0)) for c in ("evalsha", "eval"))
    finally:
        client.close()


def _turns_in_use(worker: _Worker, host: str) -> int:
    return int(worker.job.client.zcard(worker.job.keys.host_slots(host)))


def test_a_release_rides_on_the_next_turn_and_frees_its_host_there(
    redis_url: str, job: str
) -> None:
    async def go() -> tuple[int, int, int, int]:
        worker = _Worker(redis_url, job, "w1")
        exclusive = await worker.politeness.acquire("a.test")
        worker.politeness.release("a.test", exclusive)
        held = _turns_in_use(worker, "a.test")  # the release waits for a carrier
        before = _scripts_run(redis_url)
        exclusive = await worker.politeness.acquire("b.test")  # carries it
        calls = _scripts_run(redis_url) - before
        after = _turns_in_use(worker, "a.test")
        worker.politeness.release("b.test", exclusive)
        await worker.aclose()
        return held, calls, after, _turns_in_use(worker, "b.test")

    held, calls, after, last = _run(go)
    assert held == 1 and after == 0  # freed by the next turn's script ...
    assert calls == 1  # ... which was the only script call: no release of its own
    assert last == 0  # the last release was sent by the close


def test_a_release_no_turn_carries_is_sent_within_milliseconds(redis_url: str, job: str) -> None:
    async def go() -> tuple[int, int]:
        worker = _Worker(redis_url, job, "w1")
        exclusive = await worker.politeness.acquire("a.test")
        worker.politeness.release("a.test", exclusive)
        held = _turns_in_use(worker, "a.test")
        await asyncio.sleep(0.2)  # no other turn: the release goes on its own
        freed = _turns_in_use(worker, "a.test")
        await worker.aclose()
        return held, freed

    assert _run(go) == (1, 0)


def test_a_turn_brings_the_hosts_delay_another_worker_set(redis_url: str, job: str) -> None:
    async def go() -> tuple[float, float, int]:
        one, two = _Worker(redis_url, job, "w1"), _Worker(redis_url, job, "w2")
        exclusive = await one.politeness.acquire("d.test")
        one.politeness.release("d.test", exclusive)
        first = one.politeness.delay("d.test")  # remembered from the turn: no delay yet
        two.politeness.set_crawl_delay("d.test", 0.05)
        await asyncio.sleep(0.1)  # the delay after the previous answer
        exclusive = await one.politeness.acquire("d.test")
        before = _scripts_run(redis_url)
        second = one.politeness.delay("d.test")  # the turn brought it
        calls = _scripts_run(redis_url) - before
        one.politeness.release("d.test", exclusive)
        for w in (one, two):
            await w.aclose()
        return first, second, calls

    first, second, calls = _run(go)
    assert (first, second) == (0.0, 0.05)
    assert calls == 0  # read from the turn's answer, not in a round trip of its own


def test_redis_going_away_is_a_clear_fatal_error(tmp_path: Path, job: str) -> None:
    server = RedisProcess(tmp_path).start()
    worker = _Worker(server.url, job, "w1")
    told: list[str] = []
    worker.job.on_failure = told.append
    worker.politeness.set_crawl_delay("h.test", 1.0)  # works while Redis is up
    server.stop()

    async def go() -> None:
        try:
            await worker.signals.site("http://127.0.0.1:9")
        finally:
            await worker.fetcher.aclose()
            await worker.job.aclose()

    with pytest.raises(RedisUnavailable, match="unreachable"):
        _run(go)
    with pytest.raises(RedisUnavailable):
        worker.politeness.delay("other.test")
    with pytest.raises(RedisUnavailable):
        asyncio.run(_acquire_then_close(worker))
    assert len(told) == 1 and f"127.0.0.1:{server.port}" in told[0]


async def _acquire_then_close(worker: _Worker) -> None:
    try:
        await worker.politeness.acquire("h.test")
    finally:
        await worker.job.aclose()
