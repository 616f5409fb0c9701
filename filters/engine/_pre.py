"""The pre-fetch half of the engine: site documents and the registry (SPEC.md §3.1-§3.6, §3.9).

The URL-independent part of a robots.txt policy (:class:`RobotsPlan`) and the site documents'
results per path class (``_pathclass``) are memoised in a :class:`PreFetchMemo`, which an
:class:`~filters.engine.evaluator.Evaluator` owns for one run; nothing here is module state.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from datetime import UTC, datetime

from .. import aipref, aitxt, content_signal, registry, robots, rsl, tdmrep
from .._extrules import IdentityMemo
from ..model import Decision, DocState, Signal, SignalResult, Stage, Verdict
from ..reasons import ReasonCode
from ..registry.answer import Answer, RegistryAnswer
from ._core import _AI, _NO_LICENSE, EngineConfig, SiteSignals, _fold, _registry_result
from ._pathclass import SiteClasses, build_site_classes

# --------------------------------------------------------------------------- blocklists


def blocklisted(url: str, cfg: EngineConfig) -> Decision | None:
    """The ``blocklist.listed`` denial when ``url``'s host, or a parent domain of it, is on
    one of the run's domain blocklists (SPEC.md §5), else None.

    The decision rests on the configuration alone: nothing of the host is consulted (its
    robots.txt is never requested), so its evidence is the one blocklist result (``raw``: the
    matching entry, ``source``: the list). Every purpose and mode; ``on_signal_error`` has no
    say, since this is a deny, not an error."""
    blocklist = cfg.blocklist
    if not blocklist.lists:
        return None
    found = blocklist.match_url(url)
    if found is None:
        return None
    entry, source = found
    result = SignalResult(
        Signal.BLOCKLIST,
        Verdict.DENY,
        (ReasonCode.BLOCKLIST_LISTED,),
        raw=entry,
        source=source,
        detail=f"{entry} (in {source})",
    )
    return Decision(False, Stage.PRE_FETCH, (ReasonCode.BLOCKLIST_LISTED,), (result,), _NO_LICENSE)


# --------------------------------------------------------------------------- pre-fetch


@dataclass(frozen=True, slots=True)
class _RobotsPlan:
    """What a robots.txt policy says for one configuration, independent of the URL."""

    source: str | None
    usage: tuple[tuple[robots.ExtensionRule, ...], tuple[robots.ExtensionRule, ...]] | None
    signal: tuple[tuple[robots.ExtensionRule, ...], tuple[robots.ExtensionRule, ...]] | None
    delay: float | None
    slow: SignalResult | None


#: Bound on the robots.txt plans and the sites' path classes a memo keeps (cleared when full).
#: Large enough for the sites a long crawl or a recheck interleaves (a recheck of a corpus
#: over 10,000 origins meets them in random order): a memo that is cleared while the same
#: sites come back rebuilds every site's classes over and over (a few KB each).
MAX_SITES = 16384

#: Marker for a site whose documents cannot be classed (see ``_pathclass``).
_UNCLASSED = object()


class PreFetchMemo:
    """The pre-fetch memos of one evaluator (one configuration): robots.txt plans per policy
    and path classes per site, both keyed by the identity of immutable parsed documents (the
    memo holds them, so their ids cannot be reused while stored) and bounded by
    :data:`MAX_SITES`. ``last`` short-cuts the common case of consecutive URLs of one site; it
    is one tuple replaced whole, so a reader never sees a torn pair."""

    __slots__ = ("classes", "last", "plans")

    def __init__(self) -> None:
        self.plans: IdentityMemo[_RobotsPlan] = IdentityMemo(MAX_SITES)
        self.classes: IdentityMemo[object] = IdentityMemo(MAX_SITES)
        self.last: tuple[object, ...] = (None,) * 5


def _robots_plan(
    policy: robots.RobotsPolicy, cfg: EngineConfig, memo: PreFetchMemo | None = None
) -> _RobotsPlan:
    """The URL-independent part of the robots.txt signals, memoised per policy in ``memo``."""
    if memo is not None:
        plan = memo.plans.get((policy,))
        if plan is not None:
            return plan
    token = cfg.product_token
    source = policy.document.url if policy.document else None
    usage = signal = None
    if policy.state is DocState.OK:
        mine, star = robots.extension_rules(policy, token, "content-usage")
        usage = (mine, star) if mine or star else None
        mine, star = robots.extension_rules(policy, token, "content-signal")
        signal = (mine, star) if mine or star else None
    delay, slow = _crawl_delay(policy, cfg)
    plan = _RobotsPlan(source, usage, signal, delay, slow)
    return memo.plans.put((policy,), plan) if memo is not None else plan


def _robots_results(
    site: SiteSignals, url: str, cfg: EngineConfig, plan: _RobotsPlan
) -> list[SignalResult]:
    policy = site.robots
    out = [robots.evaluate(policy, url, cfg.product_token)]
    if cfg.purpose in _AI and cfg.ai_agents:
        out.append(robots.evaluate_ai_agents(policy, url, cfg.ai_agents))
    if plan.usage is not None:
        mine, star = plan.usage
        out.append(aipref.evaluate_rules(mine, star, url, cfg.purpose, source=plan.source))
    if plan.signal is not None:
        mine, star = plan.signal
        out.append(content_signal.evaluate_rules(mine, star, url, cfg.purpose, source=plan.source))
    return out


def _crawl_delay(
    policy: robots.RobotsPolicy, cfg: EngineConfig
) -> tuple[float | None, SignalResult | None]:
    delay = robots.crawl_delay(policy, cfg.product_token)
    if delay is not None and delay > cfg.max_crawl_delay:
        result = SignalResult(
            Signal.POLITENESS,
            Verdict.DENY,
            (ReasonCode.POLITENESS_CRAWL_DELAY_TOO_LONG,),
            raw=f"Crawl-delay: {delay:g}",
            source=policy.document.url if policy.document else None,
            detail=f"max_crawl_delay={cfg.max_crawl_delay:g}",
        )
        return delay, result
    return delay, None


@dataclass(frozen=True, slots=True)
class _Parts:
    """The site documents' results for a URL (or its path class), folded once."""

    head: tuple[SignalResult, ...]  # robots.txt (+ extensions), ai.txt, tdmrep.json
    tail: tuple[SignalResult, ...]  # RSL files, the crawl-delay bound
    delay: float | None
    reasons: tuple[ReasonCode, ...]  # the fold of head + tail


def site_classes(
    site: SiteSignals, memo: PreFetchMemo, rsls: tuple[rsl.RslPolicy | None, ...]
) -> SiteClasses | None:
    """The path classes of ``site``, memoised per site documents in ``memo``."""
    last = memo.last
    robots_policy, ai, tdm = site.robots, site.aitxt, site.tdmrep
    if (
        last[0] is robots_policy
        and last[1] is ai
        and last[2] is tdm
        and len(last[3]) == len(rsls)  # type: ignore[arg-type]
        and all(map(operator.is_, last[3], rsls))  # type: ignore[call-overload]
    ):
        found = last[4]
    else:
        key = (robots_policy, ai, tdm, *rsls)
        found = memo.classes.get(key)
        if found is None:
            built = build_site_classes(robots_policy, ai, tdm, rsls)
            found = memo.classes.put(key, built if built is not None else _UNCLASSED)
        memo.last = (robots_policy, ai, tdm, rsls, found)
    return found if type(found) is SiteClasses else None


def _site_results(
    site: SiteSignals,
    url: str,
    cfg: EngineConfig,
    rsls: tuple[rsl.RslPolicy | None, ...],
    memo: PreFetchMemo | None = None,
) -> _Parts:
    """The site documents' results for ``url``: those before the registry's, those after."""
    plan = _robots_plan(site.robots, cfg, memo)
    head = _robots_results(site, url, cfg, plan)
    if site.aitxt is not None:
        head.append(aitxt.evaluate(site.aitxt, url, cfg.product_token))
    if site.tdmrep is not None:
        head.append(tdmrep.evaluate_file(site.tdmrep, url))
    tail = [rsl.evaluate(policy, url, cfg.purpose) for policy in rsls if policy is not None]
    if plan.slow is not None:
        tail.append(plan.slow)
    reasons, _ = _fold([*head, *tail], cfg)
    return _Parts(tuple(head), tuple(tail), plan.delay, tuple(reasons))


def _pre_fetch(
    parts: _Parts,
    url: str,
    cfg: EngineConfig,
    registry_answer: RegistryAnswer,
    now: datetime | None,
    simple: tuple[str, str] | None = None,
) -> Decision:
    """The decision from the site documents' ``parts`` and the registry's answer for ``url``;
    ``simple`` is (origin, path) when ``url`` is a simple URL (see ``_pathclass``)."""
    if simple is not None and type(registry_answer) is Answer and registry_answer.entries:
        # A simple URL: the registry only normalises its origin (cached per origin).
        parsed = registry.parse_simple_for_match(*simple)
        reg: SignalResult | None = registry.evaluate_parsed(
            registry_answer.entries, url, parsed, cfg.purpose, now or datetime.now(UTC)
        )[0]
    else:
        reg = _registry_result(registry_answer, url, cfg.purpose, now or datetime.now(UTC))[0]
    if reg is None:
        evidence = parts.head + parts.tail
        reasons = parts.reasons
    else:
        evidence = (*parts.head, reg, *parts.tail)
        # The fold keeps first occurrences in evidence order, so when the registry adds no
        # reason the reasons are those of the documents alone.
        verdict = reg.verdict
        if verdict is Verdict.NONE or verdict is Verdict.GRANT:
            reasons = parts.reasons
        else:
            reasons = tuple(_fold(evidence, cfg)[0])
    return Decision(not reasons, Stage.PRE_FETCH, reasons, evidence, _NO_LICENSE, parts.delay)


def decide_pre_fetch(
    site: SiteSignals,
    url: str,
    cfg: EngineConfig,
    registry_answer: RegistryAnswer,
    memo: PreFetchMemo | None,
    now: datetime | None = None,
) -> Decision:
    """Decide whether ``url`` may be requested at all (SPEC.md §3.1-§3.6, §3.9).

    Every pre-fetch signal is evaluated (not just up to the first deny), so the evidence and
    the reasons list everything that applies. With a ``memo``, the site documents' results are
    reused for URLs of the same path class (``_pathclass``); without one, or for a URL that is
    not simple, everything is evaluated afresh. The registry is asked for every URL.

    A URL whose host is on a configured domain blocklist is denied by that alone
    (:func:`blocklisted`), as the consent gate denies it before it loads any site document.
    """
    listed = blocklisted(url, cfg)
    if listed is not None:
        return listed
    license_urls = site.robots.license_urls
    rsls = tuple(site.rsl.get(u) for u in license_urls) if license_urls else ()
    classes = site_classes(site, memo, rsls) if memo is not None else None
    key = classes.key(url) if classes is not None else None
    if classes is None or key is None:
        parts = _site_results(site, url, cfg, rsls, memo)
        return _pre_fetch(parts, url, cfg, registry_answer, now)
    found = classes.memo.get(key)
    if found is None:
        parts = _site_results(site, url, cfg, rsls, memo)
        classes.remember(key, parts)
    else:
        parts = found  # type: ignore[assignment]
    origin: str = key[0]  # type: ignore[assignment]
    return _pre_fetch(parts, url, cfg, registry_answer, now, (origin, url[len(origin) :]))
