"""One evaluator per run: the engine's decisions under one configuration, with its memos.

Every memo the engine uses lives here (or on the immutable parsed document it is about), not
in module state: the robots.txt plans and path classes of the sites seen (``_pre``), the
results of header values seen (``_post``). Each is bounded; they live as long as the
evaluator, which a run builds once from its configuration (``RunConfig.engine()``) and drops
at its end. Two runs, two configurations, or two workers therefore never share a memo.

The memos only ever hold results that a fresh evaluation would give again
(``tests/filters/test_pathclass.py``, ``tests/filters/test_evaluator.py``), so an evaluator
answers exactly what the plain functions of :mod:`filters.engine` answer, faster.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from .. import rsl
from ..headers import Headers
from ..model import Decision, FetchOutcome, SignalResult
from ..registry.answer import NOT_CONFIGURED, RegistryAnswer
from ._core import EngineConfig, PageSignals, SiteSignals
from ._pathclass import SiteClasses
from ._post import HeaderMemo, decide_post_fetch, evaluate_headers, inspect_response
from ._post import rsl_urls_needed as _rsl_urls_needed
from ._pre import PreFetchMemo, blocklisted, decide_pre_fetch, site_classes

__all__ = ["Evaluator"]


class Evaluator:
    """The engine under one :class:`EngineConfig`, owning its memos (see the module docstring).

    Not shared between threads that evaluate at the same time unless each memo's worst case
    is acceptable: a lost entry (a dict replaced while another thread stores), never a wrong
    answer, since every stored value is immutable and keyed by the objects it is about.
    """

    __slots__ = ("_headers", "_pre", "cfg")

    def __init__(self, cfg: EngineConfig) -> None:
        self.cfg = cfg
        self._pre = PreFetchMemo()
        self._headers: HeaderMemo = {}

    def __repr__(self) -> str:
        return f"Evaluator({self.cfg!r})"

    # ---------------------------------------------------------------- pre-fetch

    def blocklisted(self, url: str) -> Decision | None:
        """The ``blocklist.listed`` denial of ``url`` (its host is on a configured domain
        blocklist), or None; the consent gate asks this before anything else."""
        return blocklisted(url, self.cfg)

    def decide_pre_fetch(
        self,
        site: SiteSignals,
        url: str,
        registry_answer: RegistryAnswer = NOT_CONFIGURED,
        *,
        now: datetime | None = None,
    ) -> Decision:
        """:func:`filters.engine.decide_pre_fetch` under this evaluator's configuration."""
        return decide_pre_fetch(site, url, self.cfg, registry_answer, self._pre, now)

    def site_classes(self, site: SiteSignals) -> SiteClasses | None:
        """The path classes of ``site`` (None when its documents cannot be classed)."""
        license_urls = site.robots.license_urls
        rsls = tuple(site.rsl.get(u) for u in license_urls) if license_urls else ()
        return site_classes(site, self._pre, rsls)

    # ---------------------------------------------------------------- post-fetch

    def inspect_response(self, response: FetchOutcome) -> PageSignals:
        """Read a response once (:func:`filters.engine.inspect_response`)."""
        return inspect_response(response, self.cfg)

    def rsl_documents_needed(self, site: SiteSignals, page: PageSignals) -> tuple[str, ...]:
        """The RSL documents ``page`` names that the site's robots.txt did not (those were
        evaluated pre-fetch): what the caller must load before :meth:`decide_post_fetch`."""
        named = site.robots.license_urls
        return tuple(u for u in _rsl_urls_needed(page) if u not in named)

    def evaluate_headers(self, headers: Headers) -> tuple[SignalResult, ...]:
        """The header-only signals of a response (:func:`filters.engine.evaluate_headers`)."""
        return evaluate_headers(headers, self.cfg, self._headers)

    def decide_post_fetch(
        self,
        pre: Decision,
        site: SiteSignals,
        page: PageSignals,
        *,
        rsl_documents: Mapping[str, rsl.RslPolicy] | None = None,
        registry_answer: RegistryAnswer = NOT_CONFIGURED,
        now: datetime | None = None,
    ) -> Decision:
        """:func:`filters.engine.decide_post_fetch` under this evaluator's configuration."""
        return decide_post_fetch(
            pre,
            site,
            page,
            self.cfg,
            rsl_documents=rsl_documents,
            registry_answer=registry_answer,
            now=now,
            header_memo=self._headers,
        )
