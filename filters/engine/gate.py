"""The consent gate: the one order in which heed decides about a URL (SPEC.md §2, §3).

A :class:`Gate` is a small state machine for one URL. It does no I/O: it says what it needs
next (a :class:`Step`), its driver does that with its own I/O and feeds the answer back, and in
the end it says :class:`Done` with the decision. ``heed crawl``'s middleware
(``crawler/middlewares.py``), ``heed check`` (``crawler/check/run.py``) and ``heed recheck``
drive it; none of them knows the order, the redirect rule, the hop limit or the retry
statuses.

The order, for the URL and again for every redirect hop (each against its own origin)::

    (the configured domain blocklists)  --listed-->  Done(blocklist.listed)
    CheckAddress(url)  --blocked / unresolvable-->  Done(fetch.blocked-address / fetch.error)
      | address_ok()
    NeedSite(origin)   site documents of the origin (robots.txt, ai.txt, tdmrep.json, RSL)
      | site(SiteSignals)
    NeedRegistry(url)  the consent registry's answer
      | registry(Answer | Unavailable | NOT_CONFIGURED)
      |--pre-fetch decision denies-->  Done(pre-fetch decision)
    Fetch(url)         request the page (retried on RETRY_STATUSES, if the driver leaves
      | response(FetchOutcome)         retries to the gate)
      |--3xx with Location--> Follow(target)  or  Done(fetch.redirect-limit / invalid-url / error)
    NeedRsl(urls)      RSL documents the response names (only when it names some)
      | rsl(documents)
    Done(post-fetch decision)

The blocklists come first, before the address check: a listed host is not even resolved, and
nothing (robots.txt included) is requested from it; a gate for a listed URL starts at
:class:`Done`, and a redirect to a listed host ends there.

A step fed the wrong answer, or a step that fails inside (a bug), ends in :class:`Done` with
``fetch.error`` and the detail "internal error": the URL is excluded and recorded like any
other, never kept and never lost. The driver records every :class:`Done` through one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from .. import rsl
from ..model import Decision, FetchErrorKind, FetchOutcome, Stage
from ..reasons import ReasonCode
from ..registry.answer import RegistryAnswer
from ..urls import MAX_REDIRECTS, origin_of, redirect_refusal, redirect_target
from ._core import PageSignals, SiteSignals, denied
from .evaluator import Evaluator

__all__ = [
    "MAX_REDIRECTS",
    "REDIRECT_STATUSES",
    "RETRY_ERRORS",
    "RETRY_STATUSES",
    "RETRY_TIMES",
    "CheckAddress",
    "Done",
    "Fetch",
    "Follow",
    "Gate",
    "NeedRegistry",
    "NeedRsl",
    "NeedSite",
    "Step",
    "origin_of",
]

#: Statuses whose ``Location`` is followed (as a new request through the gate).
REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})
#: Statuses, and fetch errors, after which a page is requested again, up to RETRY_TIMES more
#: times (Scrapy's RETRY_HTTP_CODES and RETRY_TIMES in a crawl, crawler/settings.py).
RETRY_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
RETRY_ERRORS: Final = frozenset({FetchErrorKind.TIMEOUT, FetchErrorKind.CONNECTION})
RETRY_TIMES: Final = 2
#: Seconds to wait before a retry when the response gives no usable ``Retry-After``.
DEFAULT_RETRY_PAUSE: Final = 0.5


# --------------------------------------------------------------------------- steps


@dataclass(frozen=True, slots=True)
class CheckAddress:
    """Check that ``url``'s host resolves to addresses heed may connect to."""

    url: str


@dataclass(frozen=True, slots=True)
class NeedSite:
    """Load the site documents of ``origin`` (one shared load per origin)."""

    origin: str


@dataclass(frozen=True, slots=True)
class NeedRegistry:
    """Ask the consent registry about ``url``."""

    url: str


@dataclass(frozen=True, slots=True)
class Fetch:
    """Request ``url`` (a GET, redirects not followed) at most once per ``crawl_delay``
    seconds for its host; ``attempt`` 0 is the first try, a retry waits ``pause`` first."""

    url: str
    crawl_delay: float = 0.0
    attempt: int = 0
    pause: float = 0.0


@dataclass(frozen=True, slots=True)
class Follow:
    """The response redirects to ``url``: the ``hops``-th hop, to be gated again."""

    url: str
    hops: int
    status: int


@dataclass(frozen=True, slots=True)
class NeedRsl:
    """Load these RSL documents, named by the response, before the final decision."""

    urls: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Done:
    """The decision for the gated URL. ``url`` is the URL the gate was started with,
    ``final_url`` the last one requested or judged, ``http_status`` the last status received
    (None when nothing was requested)."""

    decision: Decision
    url: str
    final_url: str
    http_status: int | None = None


Step = CheckAddress | NeedSite | NeedRegistry | Fetch | Follow | NeedRsl | Done


# --------------------------------------------------------------------------- the gate


class Gate:
    """The consent gate for one URL (see the module docstring).

    ``hops`` is the number of redirects already followed to reach ``url`` (a crawl starts a new
    gate for each hop, from its request's meta; ``heed check`` calls :meth:`follow` instead).
    ``now`` pins the clock registry expiry is judged by (default: the time of each decision).
    ``origin`` is ``origin_of(url)`` when the caller has it already (a recheck groups rows by
    origin). ``fetch=False`` stops after the pre-fetch decision (``heed recheck --refetch
    none``: the site documents and the registry only; the page is not requested).
    ``retries`` is how many times the gate itself asks to fetch again on RETRY_STATUSES (0 when
    the driver's downloader retries, as Scrapy's does); ``max_retry_pause`` caps the pause a
    ``Retry-After`` asks for. ``start`` is the URL the chain began with (default ``url``).
    """

    __slots__ = (
        "_answer",
        "_evaluator",
        "_fetch",
        "_max_pause",
        "_now",
        "_origin",
        "_pre",
        "_retries",
        "_site",
        "_status",
        "_step",
        "hops",
        "page",
        "redirects",
        "start",
        "url",
    )

    def __init__(
        self,
        evaluator: Evaluator,
        url: str,
        *,
        hops: int = 0,
        retries: int = RETRY_TIMES,
        max_retry_pause: float = 60.0,
        start: str | None = None,
        now: datetime | None = None,
        fetch: bool = True,
        origin: str | None = None,
    ) -> None:
        self._evaluator = evaluator
        self.start = start if start is not None else url
        self.url = url
        self.hops = hops
        self.redirects: list[str] = []
        self.page: PageSignals | None = None
        self._retries = retries
        self._max_pause = max_retry_pause
        self._site: SiteSignals | None = None
        self._answer: RegistryAnswer | None = None
        self._pre: Decision | None = None
        self._status: int | None = None
        self._now = now
        self._fetch = fetch
        self._origin = origin
        self._step: Step = CheckAddress(url)
        self._step = self._first(url)

    def __repr__(self) -> str:
        return f"<Gate {self.url!r} at {type(self._step).__name__}>"

    @property
    def step(self) -> Step:
        """What the gate needs now (:class:`Done` once decided)."""
        return self._step

    @property
    def pre(self) -> Decision | None:
        """The pre-fetch decision of the current hop, once made."""
        return self._pre

    @property
    def site(self) -> SiteSignals | None:
        """The site documents of the current hop's origin, once loaded."""
        return self._site

    # ---------------------------------------------------------------- answers

    def address_ok(self) -> Step:
        """The host of :class:`CheckAddress`'s URL may be connected to."""
        return self._advance(CheckAddress, self._address_ok)

    def address_refused(self, *, blocked: bool, detail: str) -> Step:
        """The host may not be connected to: ``blocked`` (a private, loopback, reserved ...
        address; ``detail`` the host) or it does not resolve (``detail`` says why)."""
        return self._advance(CheckAddress, lambda: self._address_refused(blocked, detail))

    def site_loaded(self, site: SiteSignals) -> Step:
        """The site documents :class:`NeedSite` asked for."""
        return self._advance(NeedSite, lambda: self._site_loaded(site))

    def registry_answered(self, answer: RegistryAnswer) -> Step:
        """The registry's answer :class:`NeedRegistry` asked for."""
        return self._advance(NeedRegistry, lambda: self._registry_answered(answer))

    def response(self, outcome: FetchOutcome) -> Step:
        """What :class:`Fetch` got (its status, headers and body; or the error)."""
        return self._advance(Fetch, lambda: self._response(outcome))

    def rsl_loaded(self, documents: Mapping[str, rsl.RslPolicy]) -> Step:
        """The RSL documents :class:`NeedRsl` asked for (a missing one is unreachable)."""
        return self._advance(NeedRsl, lambda: self._rsl_loaded(documents))

    def follow(self) -> Step:
        """Gate the redirect target of :class:`Follow` next, in this same gate."""
        return self._advance(Follow, self._follow)

    def fail(self, error: BaseException | str) -> Done:
        """The driver could not do the current step (its own bug): exclude, as fetch.error."""
        if not isinstance(self._step, Done):
            self._step = self._internal_error(error)
        return self._step

    # ---------------------------------------------------------------- machinery

    def _advance(self, expected: type, action: object) -> Step:
        if not isinstance(self._step, expected):  # a driver's bug: exclude
            if not isinstance(self._step, Done):
                self._step = self._internal_error(
                    f"got the answer to {expected.__name__} at {self._step!r}"
                )
            return self._step
        try:
            self._step = action()  # type: ignore[operator]
        except Exception as e:  # a bug must exclude the URL, never keep or lose it
            self._step = self._internal_error(e)
        return self._step

    def _internal_error(self, error: BaseException | str) -> Done:
        pre = self._pre
        stage = Stage.POST_FETCH if pre is not None and pre.allowed else Stage.PRE_FETCH
        text = error if isinstance(error, str) else repr(error)
        decision = denied(
            ReasonCode.FETCH_ERROR,
            stage,
            raw=f"internal error: {text}"[:300],
            source=self.url,
            detail=f"consent gate failed at {type(self._step).__name__}",
            evidence=pre.evidence if pre is not None else (),
        )
        return self._done(decision)

    def _done(self, decision: Decision) -> Done:
        return Done(decision, self.start, self.url, self._status)

    # ---------------------------------------------------------------- the order

    def _first(self, url: str) -> Step:
        """The first step for ``url``: denied when its host is blocklisted, else its address."""
        try:
            listed = self._evaluator.blocklisted(url)
        except Exception as e:  # a bug must exclude the URL, never keep or lose it
            return self._internal_error(e)
        if listed is not None:
            return self._done(listed)
        return CheckAddress(url)

    def _address_ok(self) -> Step:
        origin, self._origin = self._origin, None  # the caller's, for the first hop only
        return NeedSite(origin if origin is not None else origin_of(self.url))

    def _address_refused(self, blocked: bool, detail: str) -> Step:
        reason = ReasonCode.FETCH_BLOCKED_ADDRESS if blocked else ReasonCode.FETCH_ERROR
        return self._done(denied(reason, Stage.PRE_FETCH, raw=detail[:300], source=self.url))

    def _site_loaded(self, site: SiteSignals) -> Step:
        if not isinstance(site, SiteSignals):
            raise TypeError(f"not site signals: {type(site).__name__}")
        self._site = site
        return NeedRegistry(self.url)

    def _registry_answered(self, answer: RegistryAnswer) -> Step:
        assert self._site is not None
        self._answer = answer
        pre = self._evaluator.decide_pre_fetch(self._site, self.url, answer, now=self._now)
        self._pre = pre
        if not pre.allowed or not self._fetch:
            return self._done(pre)
        return Fetch(self.url, pre.crawl_delay or 0.0)

    def _response(self, outcome: FetchOutcome) -> Step:
        step = self._step
        assert isinstance(step, Fetch) and self._pre is not None and self._site is not None
        self._status = outcome.status
        location = outcome.headers.get("location")
        if outcome.status in REDIRECT_STATUSES and location:
            return self._redirect(outcome.status, location)
        if step.attempt < self._retries and (
            outcome.status in RETRY_STATUSES or outcome.error in RETRY_ERRORS
        ):
            pause = _retry_pause(outcome.headers.get("retry-after"), self._max_pause)
            return Fetch(step.url, step.crawl_delay, step.attempt + 1, pause)
        page = self._evaluator.inspect_response(outcome)
        self.page = page
        wanted = self._evaluator.rsl_documents_needed(self._site, page)
        if wanted:
            return NeedRsl(wanted)
        return self._post_fetch({})

    def _redirect(self, status: int, location: str) -> Step:
        assert self._pre is not None
        hops = self.hops + 1
        target, problem = redirect_target(self.url, location)
        refusal = redirect_refusal(target, problem, location, hops)
        if refusal is not None:
            reason, raw = refusal
            decision = denied(
                reason, Stage.POST_FETCH, raw=raw, source=self.url, evidence=self._pre.evidence
            )
            return self._done(decision)
        return Follow(target, hops, status)

    def _follow(self) -> Step:
        step = self._step
        assert isinstance(step, Follow)
        self.redirects.append(step.url)
        self.url, self.hops = step.url, step.hops
        self._site = self._answer = self._pre = None
        self.page = None
        return self._first(step.url)

    def _rsl_loaded(self, documents: Mapping[str, rsl.RslPolicy]) -> Step:
        return self._post_fetch(documents)

    def _post_fetch(self, documents: Mapping[str, rsl.RslPolicy]) -> Step:
        assert self._pre is not None and self._site is not None and self.page is not None
        assert self._answer is not None
        decision = self._evaluator.decide_post_fetch(
            self._pre,
            self._site,
            self.page,
            rsl_documents=documents,
            registry_answer=self._answer,
            now=self._now,
        )
        return self._done(decision)


def _retry_pause(value: str | None, cap: float) -> float:
    try:
        seconds = float(value) if value else DEFAULT_RETRY_PAUSE
    except ValueError:  # an HTTP-date, or junk
        seconds = DEFAULT_RETRY_PAUSE
    if seconds != seconds:  # NaN
        seconds = DEFAULT_RETRY_PAUSE
    return min(max(seconds, 0.0), cap)
