"""The job's queue and ledger on a real redis-server: leases, the reaper, the shared budget."""

from __future__ import annotations

from typing import Any

import pytest
from scrapy import Request, Spider
from scrapy.utils.test import get_crawler

from crawler.distributed.connection import RedisJob
from crawler.distributed.ledger import RedisLedger
from crawler.distributed.queue import LeasedHostQueue


class _Spider(Spider):
    name = "heed"

    def parse(self, response: Any, **kwargs: Any) -> None:  # pragma: no cover - not crawled
        pass

    def failed(self, failure: Any) -> None:  # pragma: no cover - not crawled
        pass


def _worker(redis_url: str, job: str, worker_id: str) -> tuple[LeasedHostQueue, RedisLedger]:
    settings = {"REDIS_URL": redis_url, "HEED_JOB": job, "HEED_WORKER_ID": worker_id}
    crawler = get_crawler(_Spider, settings)
    spider = _Spider.from_crawler(crawler)
    queue = LeasedHostQueue(None, spider, "unused")
    return queue, RedisLedger(queue.job, max_pages=1000)


def _request(spider: Spider, url: str, depth: int = 1, **meta: Any) -> Request:
    meta = {"heed_url": url, "heed_depth": depth, "dont_redirect": True, **meta}
    return Request(url, callback=spider.parse, errback=spider.failed, meta=meta)  # type: ignore[attr-defined]


def _drain(queue: LeasedHostQueue) -> list[Request]:
    out = []
    while (request := queue.pop()) is not None:
        out.append(request)
    return out


def test_pops_go_round_robin_over_hosts_and_carry_only_plain_meta(redis_url: str, job: str) -> None:
    queue, _ = _worker(redis_url, job, "w1")
    urls = [f"http://{h}.test/{i}" for h in ("a", "b", "c") for i in range(3)]
    for url in urls:
        queue.push(_request(queue.spider, url, heed_gate=object(), retry_times=1))
    popped = _drain(queue)
    assert sorted(r.url for r in popped) == sorted(urls)
    hosts = [r.url.split("/")[2] for r in popped]
    assert hosts[:3] in (["a.test", "b.test", "c.test"],)  # each host once before any twice
    assert set(hosts[3:6]) == {"a.test", "b.test", "c.test"}
    meta = popped[0].meta
    assert "heed_gate" not in meta and meta["retry_times"] == 1 and meta["heed_depth"] == 1
    assert popped[0].callback == queue.spider.parse  # type: ignore[attr-defined]
    assert popped[0].errback == queue.spider.failed  # type: ignore[attr-defined]
    assert popped[0].headers == _request(queue.spider, popped[0].url).headers


def test_claims_are_once_per_job_and_the_budget_is_shared(redis_url: str, job: str) -> None:
    _, one = _worker(redis_url, job, "w1")
    _, two = _worker(redis_url, job, "w2")
    one.max_pages = two.max_pages = 5
    links = [(f"http://a.test/{i}", 1) for i in range(8)]
    got_one = one.claim(links[:4])
    got_two = two.claim(links)  # four of them already claimed by w1
    assert [u for u, _ in got_one] == [u for u, _ in links[:4]]
    assert len(got_two) == 1 and got_two[0] not in got_one
    assert one.considered() == 5
    # the three over the budget wait in the overflow list, handed out once
    assert sorted(u for u, _ in one.frontier()) == sorted(u for u, _ in links[5:])
    assert list(two.frontier()) == []


def test_claims_in_flight_together_each_new_link_goes_to_one_of_them(
    redis_url: str, job: str
) -> None:
    import asyncio

    _, one = _worker(redis_url, job, "w1")
    _, two = _worker(redis_url, job, "w2")
    one.max_pages = two.max_pages = 6
    links = [(f"http://a.test/{i}", 1) for i in range(8)]

    async def claims() -> list[list[tuple[str, int]]]:
        try:  # the same link sent by both workers and twice by one, all at once
            return list(
                await asyncio.gather(one.aclaim(links), one.aclaim(links[:3]), two.aclaim(links))
            )
        finally:
            await one.job.aclose()
            await two.job.aclose()

    got = asyncio.run(claims())
    won = [u for answer in got for u, _ in answer]
    assert len(won) == len(set(won)) == 6  # each once, within the shared budget
    assert all(link in links for answer in got for link in answer)
    assert {u for u, _ in links} <= set(one._known)  # asked: known to the job
    assert one.considered() == 6


def test_a_link_this_worker_sent_lately_is_not_sent_again(
    redis_url: str, job: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crawler.distributed import ledger as ledger_module

    monkeypatch.setattr(ledger_module, "KNOWN", 3)
    _, one = _worker(redis_url, job, "w1")
    links = [(f"http://a.test/{i}", 1) for i in range(5)]
    assert one.claim(links[:2]) == links[:2]
    # Forget the job's seen-set: a link the worker asked about lately is still answered "no"
    # (from its memo, no round trip); one it never asked about is claimed.
    one.job.client.delete(one.job.keys.seen)
    assert one.claim([links[1], links[2]]) == [links[2]]
    assert len(one._known) == 3  # a0, a1, a2: at the bound
    one.claim([links[3]])  # a0, the oldest, leaves the memo
    assert list(one._known) == [u for u, _ in links[1:4]]
    one.job.client.delete(one.job.keys.seen)
    assert one.claim([links[0], links[1]]) == [links[0]]  # asked again: the job forgot it
    assert one.considered() == 5  # every claim counted once against the budget


def test_a_link_to_a_url_this_worker_popped_is_not_sent_again(redis_url: str, job: str) -> None:
    one_q, one = _worker(redis_url, job, "w1")
    two_q, _ = _worker(redis_url, job, "w2")
    urls = [f"http://h{i}.test/" for i in range(8)]
    for url, _ in one.claim([(u, 1) for u in urls]):  # w1 claims and queues them
        one_q.push(_request(one_q.spider, url))
    assert two_q.pop() is not None  # w2 leases a batch of them: the job has those
    client = two_q.job.client
    leased = {u.decode() for u in client.hkeys(two_q.job.keys.lease("w2"))}
    assert 0 < len(leased) < len(urls)
    client.delete(two_q.job.keys.seen)  # the answer now comes from w2's memo only
    got = two_q.ledger.claim([(u, 2) for u in urls])
    assert sorted(u for u, _ in got) == sorted(set(urls) - leased)  # no round trip for those


def test_a_dead_workers_leases_come_back_and_only_those(redis_url: str, job: str) -> None:
    dead_q, dead = _worker(redis_url, job, "dead")
    live_q, live = _worker(redis_url, job, "live")
    urls = [f"http://h{i}.test/" for i in range(6)]
    for url, _ in dead.claim([(u, 1) for u in urls]):
        dead_q.push(_request(dead_q.spider, url))
    popped = [dead_q.pop() for _ in range(4)]  # 2 left in the queue
    assert all(p is not None for p in popped)
    claimed = dead.claim([("http://x.test/claimed", 2)])  # claimed, never pushed
    assert claimed == [("http://x.test/claimed", 2)]
    dead.mark_decided(urls[0])  # written and published
    dead.mark_decided(urls[1])
    dead.sync()
    dead.mark_decided(urls[2])  # written, its part never published: lost with the worker
    # queued + the dead worker's open leases: urls[2] (unpublished), urls[3], the claim
    assert len(live_q) == 2 + 3
    assert dead.flush() == 1  # urls[2] is decided: nobody waits for it any more
    assert len(live_q) == 2 + 2
    back = live_q.reap("dead")
    assert back == 3  # urls[2] (unpublished), urls[3] (leased), the claim; not urls[0:2]
    rest = {r.url for r in _drain(live_q)}
    assert rest == {urls[2], urls[3], urls[4], urls[5], "http://x.test/claimed"}
    assert live.is_decided(urls[0]) and not live.is_decided(urls[2])
    assert len(live_q) == 0  # only the live worker's own leases remain


class _AdoptingSpider(_Spider):
    """Takes the reaper's hand-over as heed's spider does (``HeedSpider.adopted``): a URL
    ``check_url`` refuses is recorded, never requested."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.recorded: list[tuple[str, int]] = []

    def adopted(self, url: str, depth: int) -> Request | None:
        from filters.urls import check_url

        if check_url(url) is not None:
            self.recorded.append((url, depth))
            return None
        return _request(self, url, depth)


def test_a_dead_workers_unrequestable_claims_are_decided_by_the_reaper_never_requested(
    redis_url: str, job: str
) -> None:
    _, dead = _worker(redis_url, job, "dead")
    settings = {"REDIS_URL": redis_url, "HEED_JOB": job, "HEED_WORKER_ID": "live"}
    spider = _AdoptingSpider.from_crawler(get_crawler(_AdoptingSpider, settings))
    live_q = LeasedHostQueue(None, spider, "unused")
    long_url = "http://a.test/" + "x" * 2100
    bad_port = "http://a.test:99999/"
    ctrl = "http://a.test/\x07bell"
    links = [("http://a.test/ok", 1), (long_url, 2), (bad_port, 3), (ctrl, 4)]
    assert dead.claim(links) == links
    dead.mark_decided(long_url)  # recorded (fetch.invalid-url) and published: done
    dead.sync()
    dead.mark_decided(bad_port)  # recorded, its part never published: lost with the worker
    assert dead.flush() == 1
    # ctrl: claimed, not recorded yet when the worker died
    assert live_q.reap("dead") == 1  # only the valid claim goes back to the queue
    assert len(live_q) >= 2  # not idle: two claims for this worker to decide (and a request)
    drained = _drain(live_q)
    assert [r.url for r in drained] == ["http://a.test/ok"]
    # neither unrequestable claim was queued (nor requested): each is this worker's to record,
    # with its depth; the published one is not recorded twice
    assert sorted(spider.recorded) == sorted([(bad_port, 3), (ctrl, 4)])
    client = live_q.job.client
    lease = client.hgetall(live_q.job.keys.lease("live"))
    assert lease[bad_port.encode()] == b"C3" and lease[ctrl.encode()] == b"C4"
    assert not client.exists(live_q.job.keys.lease("dead"))
    assert client.zscore(live_q.job.keys.workers, "dead") is None
    live = RedisLedger(live_q.job, max_pages=1000)
    for url in (bad_port, ctrl):
        live.mark_decided(url)
    live.sync()  # published: the hand-over ends
    assert live.is_decided(bad_port) and live.is_decided(ctrl)
    assert set(client.hgetall(live_q.job.keys.lease("live"))) == {b"http://a.test/ok"}


def test_a_silent_worker_is_reaped_by_the_heartbeat(redis_url: str, job: str) -> None:
    dead_q, _ = _worker(redis_url, job, "dead")
    dead_q.push(_request(dead_q.spider, "http://a.test/1"))
    assert dead_q.pop() is not None
    client = dead_q.job.client
    client.zadd(dead_q.job.keys.workers, {"dead": 0})  # its heartbeat expired long ago
    live_q, _ = _worker(redis_url, job, "live")  # opening beats and reaps
    assert [r.url for r in _drain(live_q)] == ["http://a.test/1"]
    assert client.zscore(dead_q.job.keys.workers, "dead") is None


def test_a_restarted_worker_takes_its_own_leases_back(redis_url: str, job: str) -> None:
    first, _ = _worker(redis_url, job, "w1")
    first.push(_request(first.spider, "http://a.test/1"))
    assert first.pop() is not None
    again, _ = _worker(redis_url, job, "w1")
    assert isinstance(again.job, RedisJob)
    assert [r.url for r in _drain(again)] == ["http://a.test/1"]


def test_a_request_decided_meanwhile_is_not_handed_out(redis_url: str, job: str) -> None:
    queue, _ = _worker(redis_url, job, "w1")
    _, other = _worker(redis_url, job, "w2")
    queue.push(_request(queue.spider, "http://a.test/done"))
    queue.push(_request(queue.spider, "http://a.test/open"))
    other.mark_decided("http://a.test/done")  # a slow worker published it after all
    assert other.sync() == 1
    assert [r.url for r in _drain(queue)] == ["http://a.test/open"]
    assert len(queue) == 0


def test_the_dupefilter_is_the_jobs_seen_set_and_budget(redis_url: str, job: str) -> None:
    from crawler.distributed.scheduler import LedgerDupeFilter

    q1, one = _worker(redis_url, job, "w1")
    q2, two = _worker(redis_url, job, "w2")
    one.max_pages = two.max_pages = 3
    f1, f2 = LedgerDupeFilter(one), LedgerDupeFilter(two)
    claimed = one.claim([("http://a.test/claimed", 1)])
    assert claimed == [("http://a.test/claimed", 1)]
    assert not f1.request_seen(_request(q1.spider, "http://a.test/claimed"))  # w1's own claim
    assert f2.request_seen(_request(q2.spider, "http://a.test/claimed"))  # the job has it
    assert not f2.request_seen(_request(q2.spider, "http://a.test/new"))
    assert f1.request_seen(_request(q1.spider, "http://a.test/new"))
    assert not f1.request_seen(_request(q1.spider, "http://a.test/third"))
    assert f2.request_seen(_request(q2.spider, "http://a.test/over"))  # over max_pages = 3
    assert [u for u, _ in one.frontier()] == ["http://a.test/over"]


def test_the_decided_view_notes_before_the_write_and_reads_the_done_set(
    redis_url: str, job: str
) -> None:
    _, one = _worker(redis_url, job, "w1")
    _, two = _worker(redis_url, job, "w2")
    decided = one.decided_view()
    assert "http://a.test/1" not in decided
    decided.add("http://a.test/1")
    assert "http://a.test/1" in decided and len(decided) == 1
    assert not two.is_decided("http://a.test/1")  # not published yet
    one.sync()
    assert two.is_decided("http://a.test/1")  # the job's done-set
    assert "http://a.test/1" not in two.decided_view()  # a view holds its worker's own only
    assert len(decided) == 0 and "http://a.test/1" in decided  # published lately


def test_the_redis_ledger_is_a_url_ledger(redis_url: str, job: str) -> None:
    base = pytest.importorskip("crawler.urlstate.base")
    _, ledger = _worker(redis_url, job, "w1")
    assert isinstance(ledger, base.UrlLedger)


def test_a_host_without_a_free_turn_is_passed_over(redis_url: str, job: str) -> None:
    import asyncio

    from crawler.distributed.politeness import RedisPoliteness

    queue, _ = _worker(redis_url, job, "w1")
    politeness = RedisPoliteness(queue.job, per_host=2, lease_s=30)
    politeness.set_crawl_delay("a.test", 30.0)

    async def one_turn() -> None:
        exclusive = await politeness.acquire("a.test")
        politeness.release("a.test", exclusive)
        await asyncio.gather(*politeness._releasing)
        await queue.job.aclose()

    asyncio.run(one_turn())  # a.test was answered just now: its next turn is 30 s away
    queue.push(_request(queue.spider, "http://a.test/1"))
    queue.push(_request(queue.spider, "http://b.test/1"))
    assert [r.url for r in _drain(queue)] == ["http://b.test/1"]
    assert len(queue) == 1  # a.test's request waits in the queue, leased to nobody


def _sismembers(job: RedisJob) -> int:
    stats: Any = job.client.info("commandstats")
    return int(stats.get("cmdstat_sismember", {}).get("calls", 0))


def test_a_live_worker_guards_its_decisions_without_a_round_trip(redis_url: str, job: str) -> None:
    queue, _ = _worker(redis_url, job, "w1")
    queue.push(_request(queue.spider, "http://a.test/1"))
    assert [r.url for r in _drain(queue)] == ["http://a.test/1"]
    ledger, before = queue.ledger, _sismembers(queue.job)
    assert not ledger.recorded("http://a.test/1")  # its lease, its heartbeat just confirmed
    ledger.mark_decided("http://a.test/1")
    assert ledger.recorded("http://a.test/1")  # written, not published
    ledger.sync()
    assert ledger.recorded("http://a.test/1")  # published lately
    assert _sismembers(queue.job) == before


def test_past_the_sure_window_the_guard_asks_the_done_set(
    redis_url: str, job: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import crawler.distributed.ledger as ledger_module

    queue, other = _worker(redis_url, job, "w1")
    other.mark_decided("http://a.test/1")  # another ledger of the job publishes it
    other.sync()
    before = _sismembers(queue.job)
    later = ledger_module._clock() + ledger_module._SURE_S + 1
    monkeypatch.setattr(ledger_module, "_clock", lambda: later)  # no beat for 8.5 s
    assert queue.ledger.recorded("http://a.test/1")
    assert not queue.ledger.recorded("http://a.test/2")
    assert _sismembers(queue.job) == before + 2


def test_a_worker_that_stalled_past_its_heartbeat_never_records_twice(
    redis_url: str, job: str
) -> None:
    slow, _ = _worker(redis_url, job, "slow")
    slow.push(_request(slow.spider, "http://a.test/1"))
    assert [r.url for r in _drain(slow)] == ["http://a.test/1"]
    client = slow.job.client
    client.zadd(slow.job.keys.workers, {"slow": 0})  # it stalled: its heartbeat expired
    live, _ = _worker(redis_url, job, "live")  # opening beats and reaps: the lease is back
    assert [r.url for r in _drain(live)] == ["http://a.test/1"]
    live.ledger.mark_decided("http://a.test/1")
    live.ledger.sync()
    slow.beat(force=True)  # the stalled worker runs on: its beat finds its expiry passed
    assert slow.ledger.recorded("http://a.test/1")  # the job's done-set says so
    slow.beat(force=True)  # its heartbeat is fine again, but its old leases may be gone
    before = _sismembers(slow.job)
    assert not slow.ledger.recorded("http://a.test/2")
    assert _sismembers(slow.job) == before + 1  # asked, for the rest of this process


def _calls(job: RedisJob, command: str) -> int:
    stats: Any = job.client.info("commandstats")
    return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))


def test_buffered_pushes_ride_on_the_pop_and_survive_a_script_flush(
    redis_url: str, job: str
) -> None:
    queue, _ = _worker(redis_url, job, "w1")
    for n in (1, 2):
        assert queue.push_new(_request(queue.spider, f"http://a.test/{n}"))
    queue.job.client.script_flush()  # a Redis that forgot the scripts (restarted, flushed)
    exists = _calls(queue.job, "script|exists")
    # the pop: the two pushes and the pop in one pipeline, each answered NOSCRIPT and sent
    # again alone once its script is loaded, in order
    assert [r.url for r in _drain(queue)] == ["http://a.test/1", "http://a.test/2"]
    assert _calls(queue.job, "script|exists") == exists  # no round trip to ask first


def test_a_claim_carries_the_buffered_pushes(redis_url: str, job: str) -> None:
    queue, _ = _worker(redis_url, job, "w1")
    assert queue.push_new(_request(queue.spider, "http://a.test/1"))
    claimed = queue.ledger.claim([("http://a.test/2", 1)])
    assert claimed == [("http://a.test/2", 1)]
    assert queue._pushes == []  # sent with the claim
    assert int(queue.job.client.get(queue.job.keys.queued) or 0) == 1
