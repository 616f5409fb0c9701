"""The crawl spider: seeds in, kept pages out as items, links followed within scope.

The spider itself decides nothing about consent: ``ConsentMiddleware`` has already attached
the post-fetch decision to the response. A kept page becomes a ``dict`` item for the pipeline;
an excluded page is only recorded as a decision (its links may still be followed, SPEC.md §2).
Every decision goes through ``crawler/recorder.py``. Before the requests of a page's links
(and of the seeds) are handed to Scrapy, the registry is asked about all of them in one batch
(``crawler/registry/answers.py``), so the gate's registry step is a memo hit.

A link that cannot be requested (``filters.urls.check_url``: a bad port, over 2,083
characters, a control character, an unparsable or empty host) never reaches Scrapy, where it
would raise and end the crawl or vanish silently: it is recorded as a ``fetch.invalid-url``
decision (pre-fetch, never requested), counts against ``max_pages`` like any URL considered,
and is not logged to the frontier. Such links are recorded whatever their host, in scope or
not, because the host of a URL that does not parse cannot be judged (docs/output.md).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urldefrag, urlsplit

import scrapy
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response
from twisted.python.failure import Failure

import filters
from filters import ReasonCode, Stage
from filters.engine import denied, evidence_json
from filters.html import Attribution
from filters.redact import redact, region_guess
from filters.urls import check_url, resolve_dot_segments

from .middlewares import HeedDenied
from .recorder import DecisionRecorder

if TYPE_CHECKING:
    from filters import Decision
    from filters.engine import PageSignals

    from .context import RunContext

__all__ = ["HeedSpider", "classify_failure"]

log = logging.getLogger(__name__)


def classify_failure(failure: Failure) -> ReasonCode:
    """The ``fetch.*`` reason for a download that failed before a response was decided."""
    from .netguard import BlockedAddress  # the connection's address guard refused the host

    if isinstance(failure.value, BlockedAddress):
        return ReasonCode.FETCH_BLOCKED_ADDRESS
    text = f"{type(failure.value).__name__} {failure.getErrorMessage()}".lower()
    if "maxsize" in text or "max size" in text or "larger than" in text:
        return ReasonCode.FETCH_TOO_LARGE
    return ReasonCode.FETCH_ERROR


def _wanted(links: list[tuple[str, int]]) -> tuple[list[tuple[str, int]], dict[str, str]]:
    """``links`` in the form servers serve (filters/urls.py), and the problem of each link
    that cannot be requested (kept as given)."""
    problems: dict[str, str] = {}
    wanted: list[tuple[str, int]] = []
    for url, depth in links:
        problem = check_url(url)
        if problem is not None:
            problems[url] = problem
        else:
            url = resolve_dot_segments(urldefrag(url)[0])
        wanted.append((url, depth))
    return wanted, problems


def _in_scope(host: str, allowed: frozenset[str]) -> bool:
    return host in allowed or any(host.endswith("." + a) for a in allowed)


class HeedSpider(scrapy.Spider):
    """Crawls the seeds and, within the seed hosts (or ``allowed_hosts``), what they link to."""

    name = "heed"

    def __init__(self, ctx: RunContext, seeds: tuple[str, ...], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ctx = ctx
        self.seeds = seeds
        hosts = {urlsplit(s).hostname or "" for s in seeds}
        hosts.update(h.lower().lstrip(".") for h in ctx.cfg.allowed_hosts)
        self.allowed = frozenset(hosts)
        # The per-URL state (claimed, decided, logged to the frontier; earlier runs' done URLs
        # and max_pages over the whole job) is the run's ledger (crawler/urlstate/).
        self.ledger = ctx.ledger
        self._recorder: DecisionRecorder | None = None

    @property
    def recorder(self) -> DecisionRecorder:
        if self._recorder is None:  # the crawler is bound after __init__
            self._recorder = DecisionRecorder(self.crawler, self.ctx)
        return self._recorder

    def _requests(self, links: list[tuple[str, int]]) -> list[Request]:
        """The requests of ``links`` (url, depth) that the ledger claims, in order; a link that
        cannot be requested is recorded as ``fetch.invalid-url`` if claimed (it counts against
        ``max_pages`` like any URL considered, and is never logged to the frontier)."""
        wanted, problems = _wanted(links)
        return self._built(self.ledger.claim(wanted), problems)

    async def _arequests(self, links: list[tuple[str, int]]) -> list[Request]:
        """:meth:`_requests`, the claim awaited (``UrlLedger.aclaim``)."""
        wanted, problems = _wanted(links)
        return self._built(await self.ledger.aclaim(wanted), problems)

    def _built(self, claimed: list[tuple[str, int]], problems: dict[str, str]) -> list[Request]:
        requests = []
        for url, depth in claimed:
            request = self._claimed(url, depth, problems.get(url))
            if request is not None:
                requests.append(request)
        return requests

    def adopted(self, url: str, depth: int) -> Request | None:
        """A link another worker claimed and died holding, before its request was queued or
        its decision published, now leased to this worker (the reaper's hand-over,
        ``crawler/distributed/queue.py``): its request, or None when it cannot be requested
        (recorded here as ``fetch.invalid-url``, as the dead worker did or would have)."""
        return self._claimed(url, depth, check_url(url))

    def _claimed(self, url: str, depth: int, problem: str | None) -> Request | None:
        """The request of a claimed link, or None when it cannot be requested (recorded)."""
        if problem is not None:
            self._invalid(url, problem)
            return None
        try:
            return Request(
                url,
                callback=self.parse,
                errback=self.failed,
                meta={"heed_depth": depth, "heed_url": url, "dont_redirect": True},
            )
        except ValueError as e:  # a URL check_url accepts but Scrapy's own parser refuses
            self._invalid(url, f"refused by the HTTP client: {e}")
            return None

    def _invalid(self, url: str, problem: str) -> None:
        """Record a claimed link that cannot be requested as ``fetch.invalid-url``."""
        shown = url if len(url) <= 200 else url[:200] + "…"
        log.info("not requesting %r: %s", shown, problem)
        decision = denied(ReasonCode.FETCH_INVALID_URL, Stage.PRE_FETCH, raw=problem, source=url)
        self.recorder.record(url, decision)

    async def start(self) -> AsyncIterator[Request]:
        for batch in _batches(self._requests([(seed, 0) for seed in self.seeds])):
            await self.ctx.answers.prefetch([r.url for r in batch])
            for request in batch:
                yield request
        restored: list[tuple[str, int]] = []
        for url, depth in self.ledger.frontier():
            if depth <= self.ctx.cfg.max_depth and _in_scope(
                urlsplit(url).hostname or "", self.allowed
            ):
                restored.append((url, depth))
            if len(restored) >= _BATCH:
                async for request in self._restored(restored):
                    yield request
                restored = []
        async for request in self._restored(restored):
            yield request

    async def _restored(self, links: list[tuple[str, int]]) -> AsyncIterator[Request]:
        requests = self._requests(links)
        self.ctx.frontier_restored += len(requests)
        if requests:
            await self.ctx.answers.prefetch([r.url for r in requests])
        for request in requests:
            yield request

    async def parse(
        self, response: Response, **kwargs: Any
    ) -> AsyncIterator[Request | dict[str, Any]]:
        meta = response.meta
        decision: Decision = meta["heed_decision"]
        page: PageSignals = meta["heed_page"]
        url = meta.get("heed_url", response.url)
        # Links are logged to the frontier before the decision is handed to the writer, so a
        # decision on disk always has its page's links on disk (crawler/resume.py).
        requests = await self._links(page, meta.get("heed_depth", 0))
        if requests:
            await self.ctx.answers.prefetch([r.url for r in requests])
        if decision.allowed:
            try:
                item = self._item(url, response, decision, page)
            except Exception as e:  # a bug must not lose the decision: exclude and record it
                log.exception("building the record of %s failed", url)
                decision = denied(
                    ReasonCode.FETCH_ERROR,
                    Stage.POST_FETCH,
                    raw=f"internal error: {e!r}"[:300],
                    source=response.url,
                    evidence=decision.evidence,
                )
                self.recorder.record(
                    url,
                    decision,
                    request=response.request,
                    final_url=response.url,
                    http_status=response.status,
                )
            else:
                yield item
        else:
            self.recorder.record(
                url,
                decision,
                request=response.request,
                final_url=response.url,
                http_status=response.status,
            )
        for request in requests:
            yield request

    async def _links(self, page: PageSignals, depth: int) -> list[Request]:
        if page.html is None or depth >= self.ctx.cfg.max_depth:
            return []
        links = []
        for link in page.html.links:  # an invalid link is recorded whatever its host
            if check_url(link) is not None or _in_scope(
                urlsplit(link).hostname or "", self.allowed
            ):
                links.append((link, depth + 1))
        return await self._arequests(links)

    def _item(
        self, url: str, response: Response, decision: Decision, page: PageSignals
    ) -> dict[str, Any]:
        body = response.body
        if page.html is not None:
            text, title, who = page.html.text, page.html.title, page.html.attribution
        else:
            text, title = body.decode(_charset(response), errors="replace"), None
            who = _NO_ATTRIBUTION
        host = urlsplit(url).hostname or ""
        cfg = self.ctx.cfg
        redactions = None
        if cfg.redact:  # after the decision, on the text written: never changes a decision
            text, redactions = redact(text, cfg.redact, region_guess(host, who.language))
        lic = decision.license
        return {
            "url": url,
            "final_url": response.url,
            "host": host,
            "fetched_at": datetime.now(UTC),
            "http_status": response.status,
            "content_type": page.response.headers.get("content-type") or "",
            "body": body if cfg.keep_body else b"",
            "text": text,
            "sha256": hashlib.sha256(body).hexdigest(),  # of the body as fetched, kept or not
            "license": lic.license,
            "license_url": lic.url,
            "license_source": lic.source,
            "license_conflict": lic.conflict,
            "purpose": cfg.purpose.value,
            "evidence": evidence_json(decision, self.ctx.engine, response.meta.get("heed_site")),
            "crawl_id": self.ctx.crawl_id,
            "engine_version": filters.__version__,
            "depth": response.meta.get("heed_depth", 0),
            "title": title,
            "author": who.author,
            "publisher": who.publisher,
            "site_name": who.site_name,
            "published_at": who.published_at,
            "language": who.language,
            "redactions": redactions,
            "body_kept": cfg.keep_body,
            "_decision": decision,
        }

    def failed(self, failure: Failure) -> None:
        if isinstance(failure.value, HeedDenied):
            return  # recorded by the middleware
        request: Request = failure.request  # type: ignore[attr-defined]
        url = request.meta.get("heed_url", request.url)
        reason = classify_failure(failure)
        if isinstance(failure.value, IgnoreRequest) and reason is not ReasonCode.FETCH_TOO_LARGE:
            reason = ReasonCode.FETCH_ERROR
        stage = Stage.POST_FETCH if "heed_pre" in request.meta else Stage.PRE_FETCH
        decision = denied(
            reason,
            stage,
            raw=failure.getErrorMessage()[:300],
            source=request.url,
            evidence=request.meta["heed_pre"].evidence if "heed_pre" in request.meta else (),
        )
        self.recorder.record(url, decision, request=request, final_url=request.url)


_NO_ATTRIBUTION = Attribution()

#: Links asked of the registry in one lookup (the HTTP client splits larger batches too).
_BATCH = 500


def _batches(requests: list[Request]) -> Iterator[list[Request]]:
    for i in range(0, len(requests), _BATCH):
        yield requests[i : i + _BATCH]


def _charset(response: Response) -> str:
    encoding = getattr(response, "encoding", None)
    return str(encoding) if encoding else "utf-8"
