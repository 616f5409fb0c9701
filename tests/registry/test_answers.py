"""crawler.registry.answers.RegistryAnswers against the real registry service on 127.0.0.1:
batched prefetches, answers taken once, the bound, and every way of failing closed.

The service's /v1/lookup requests are counted where the HTTP client sends them (an httpx
request hook on the real client), so a count is what the server received."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest

from crawler.registry.answers import RegistryAnswers
from crawler.registry.client import HttpRegistryClient, SqliteRegistryClient
from filters.model import Purpose, Verdict
from filters.reasons import ReasonCode
from filters.registry import NOT_CONFIGURED, Answer, Unavailable, evaluate

from .conftest import NOW, entry


def run(coro):
    return asyncio.run(coro)


class Posts:
    """Counts the POST /v1/lookup requests a real HttpRegistryClient sends, and their URLs."""

    def __init__(self, client: HttpRegistryClient) -> None:
        self.batches: list[int] = []

        async def hook(request):
            assert request.method == "POST" and request.url.path == "/v1/lookup"
            self.batches.append(request.content.count(b'"http'))

        client._http.event_hooks["request"].append(hook)

    def __len__(self) -> int:
        return len(self.batches)


def _site(n: int) -> list[str]:
    """A demo-crawl-sized site: n pages, half under /private/ (opted out by prefix)."""
    return [f"https://example.com/{'private' if i % 2 else 'open'}/{i}" for i in range(n)]


def _ids(answer):
    assert type(answer) is Answer, answer
    return sorted(e.id for e in answer.entries)


def _reasons(url, answer):
    """What the registry's answer decides for ``url``: its reasons (none: not opted out)."""
    assert type(answer) is Answer, answer
    return evaluate(answer.entries, url, Purpose.TRAIN_AI, NOW)[0].reasons


_OUT = (ReasonCode.REGISTRY_OPT_OUT,)


@pytest.fixture
def registered(service):
    service.store.add_many(
        [
            entry("prefix", "https://example.com/private/", id="private"),
            entry("domain", "example.org", id="org"),
        ]
    )
    return service


def test_a_crawl_asks_in_batches_not_url_by_url(registered):
    seeds, links = ["https://example.com/", "https://example.org/"], _site(91)

    async def scenario():
        client = HttpRegistryClient(registered.url)
        posts = Posts(client)
        answers = RegistryAnswers(client, configured=True)
        await answers.prefetch(seeds)
        got = {url: await answers.answer(url) for url in seeds}
        await answers.prefetch(links[:40])  # the seeds' links, then the next pages' links
        await answers.prefetch(links)  # the first 40 are held: only the others are asked
        got |= {url: await answers.answer(url) for url in links}
        await client.aclose()
        return posts, answers, got

    posts, answers, got = run(scenario())
    assert posts.batches == [2, 40, 51]  # three POSTs for 93 URLs (one per URL before)
    assert (answers.lookups, answers.urls_asked) == (3, 93)
    assert len(answers) == 0  # every answer was taken
    assert _ids(got["https://example.org/"]) == ["org"]
    assert got["https://example.com/"] == Answer((registered.store.get("private"),))
    for i, url in enumerate(links):
        assert _ids(got[url]) == ["private"]  # the host's candidates; evaluate picks
        assert _reasons(url, got[url]) == (_OUT if i % 2 else ())


def test_an_answer_is_taken_once_and_a_second_ask_goes_to_the_registry(db_path, store):
    store.add(entry("domain", "example.com", id="dom"))
    url = "https://example.com/a"

    async def scenario():
        client = SqliteRegistryClient(str(db_path))
        answers = RegistryAnswers(client, configured=True)
        await answers.prefetch([url, url])
        held = len(answers)
        first = await answers.answer(url)
        after_first = (len(answers), answers.lookups)
        store.remove("dom")  # the registry changed: a second decision sees it
        second = await answers.answer(url)
        await client.aclose()
        return held, first, after_first, second, answers.lookups

    held, first, after_first, second, lookups = run(scenario())
    assert held == 1 and _ids(first) == ["dom"]
    assert after_first == (0, 1)  # taken out, and no second lookup for it
    assert second == Answer(()) and lookups == 2


def test_the_memo_is_bounded_and_drops_the_oldest(registered):
    urls = _site(6)

    async def scenario():
        client = HttpRegistryClient(registered.url)
        answers = RegistryAnswers(client, configured=True, max_entries=4)
        await answers.prefetch(urls)
        held = len(answers)
        before = answers.lookups
        newest = [await answers.answer(u) for u in urls[2:]]  # held: no lookup
        between = answers.lookups
        oldest = [await answers.answer(u) for u in urls[:2]]  # dropped: asked alone
        await client.aclose()
        return held, before, newest, between, oldest, answers.lookups

    held, before, newest, between, oldest, lookups = run(scenario())
    assert held == 4 and before == between == 1 and lookups == 3
    reasons = [_reasons(u, a) for u, a in zip(urls, oldest + newest, strict=True)]
    assert reasons == [(), _OUT, (), _OUT, (), _OUT]
    with pytest.raises(ValueError):
        RegistryAnswers(None, configured=False, max_entries=0)


def test_a_url_being_prefetched_is_not_asked_twice(registered):
    urls = _site(10)

    async def scenario():
        client = HttpRegistryClient(registered.url)
        posts = Posts(client)
        answers = RegistryAnswers(client, configured=True)
        # The prefetch starts first and is waiting for the service when the answers are asked.
        _, *got = await asyncio.gather(
            answers.prefetch(urls), answers.answer(urls[1]), answers.prefetch(urls[:5])
        )
        await client.aclose()
        return posts, got

    posts, (answer, _) = run(scenario())
    assert posts.batches == [10]
    assert _reasons(urls[1], answer) == _OUT


def test_a_registry_that_is_down_is_unavailable_never_allowed(registered):
    urls = _site(4)

    async def scenario():
        client = HttpRegistryClient(registered.url, timeout=2)
        posts = Posts(client)
        answers = RegistryAnswers(client, configured=True)
        await answers.prefetch(urls[:2])  # answered before the service goes down
        registered.stop()
        await answers.prefetch(urls)  # only urls[2:] are asked: they fail, nothing is kept
        held = len(answers)
        got = [await answers.answer(u) for u in urls]
        await client.aclose()
        return posts, held, got

    posts, held, got = run(scenario())
    assert held == 2
    assert posts.batches == [2, 2, 1, 1]  # the failed ones are asked again when decided
    assert [_reasons(u, a) for u, a in zip(urls[:2], got[:2], strict=True)] == [(), _OUT]
    for answer in got[2:]:
        assert type(answer) is Unavailable and answer.detail.startswith("connection failed")


def test_a_registry_that_never_answers_times_out_as_unavailable():
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # connections are queued, never accepted
    url = "https://example.com/x"

    async def scenario():
        client = HttpRegistryClient(f"http://127.0.0.1:{silent.getsockname()[1]}", timeout=0.3)
        answers = RegistryAnswers(client, configured=True)
        await answers.prefetch([url])
        got = await answers.answer(url)
        await client.aclose()
        return got, len(answers)

    try:
        got, held = run(scenario())
    finally:
        silent.close()
    assert got == Unavailable("timeout") and held == 0


def test_a_client_that_raises_is_unavailable_and_logged(registered, caplog):
    url = "https://example.com/private/1"

    async def scenario():
        client = HttpRegistryClient(registered.url)
        await client.aclose()  # httpx refuses to send on a closed client: lookup raises
        answers = RegistryAnswers(client, configured=True)
        await answers.prefetch([url, "https://example.com/"])
        return await answers.answer(url), len(answers)

    with caplog.at_level(logging.ERROR, logger="crawler.registry.answers"):
        got, held = run(scenario())
    assert type(got) is Unavailable and held == 0
    assert [r.getMessage() for r in caplog.records] == [
        "registry lookup of 2 URLs failed",
        f"registry lookup failed for {url}",
    ]


def test_no_client_configured_or_not():
    async def scenario(configured):
        answers = RegistryAnswers(None, configured=configured)
        await answers.prefetch(["https://example.com/"])
        return await answers.answer("https://example.com/"), answers.lookups

    unavailable, lookups = run(scenario(True))
    assert type(unavailable) is Unavailable and lookups == 0
    assert run(scenario(False)) == (NOT_CONFIGURED, 0)


def test_the_engine_decides_with_the_answers(registered):
    # The answer goes into the engine as it is: opt-out, nothing registered, unavailable.
    from filters import robots
    from filters.engine import EngineConfig, SiteSignals, decide_pre_fetch

    site = SiteSignals(robots=robots.parse(b""))
    cfg = EngineConfig()
    urls = ["https://example.com/private/1", "https://example.com/open/2"]

    async def scenario():
        client = HttpRegistryClient(registered.url, timeout=2)
        answers = RegistryAnswers(client, configured=True)
        await answers.prefetch(urls)
        got = [await answers.answer(u) for u in urls]
        registered.stop()
        got.append(await answers.answer("https://example.com/open/3"))
        await client.aclose()
        return got

    denied, allowed, down = (
        decide_pre_fetch(site, u, cfg, a, now=NOW)
        for u, a in zip([*urls, "https://example.com/open/3"], run(scenario()), strict=True)
    )
    assert denied.reasons == (ReasonCode.REGISTRY_OPT_OUT,) and not denied.allowed
    assert allowed.allowed
    assert down.reasons == (ReasonCode.REGISTRY_UNAVAILABLE,) and not down.allowed
    (registry_result,) = [r for r in down.evidence if r.verdict is Verdict.ERROR]
    assert registry_result.detail.startswith("connection failed")
