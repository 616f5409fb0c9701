"""The decision engine: folds every signal's verdict into one decision (SPEC.md §1, §2).

Signal modules each own one signal and never import each other; this module owns precedence
and bookkeeping. The rule is simple on purpose (SPEC.md §2): a URL is kept only when no signal
that speaks to the run's purpose says ``deny``, no such signal is in ``error`` (unless the
operator chose ``on_signal_error = "ignore"``), and the mode's requirement holds. There is no
precedence between protocols; the most restrictive statement wins.

Two stages, as in the crawler:

- :func:`decide_pre_fetch` uses the site documents (robots.txt, ai.txt, tdmrep.json, RSL files
  named in robots.txt) and the registry's answer; a denied URL is never requested.
- :func:`inspect_response` reads a response once (headers, HTML), :func:`rsl_urls_needed`
  says which further RSL documents it names, and :func:`decide_post_fetch` gives the final
  decision, the licence tag and the evidence.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from datetime import UTC, datetime

from .. import aipref, aitxt, content_signal, registry, robots, rsl, tdmrep
from .._extrules import IdentityMemo
from ..model import (
    Decision,
    DocState,
    Signal,
    SignalResult,
    Stage,
    Verdict,
)
from ..reasons import ReasonCode
from ..registry.answer import NOT_CONFIGURED, Answer, RegistryAnswer
from ._pathclass import SiteClasses, build_site_classes

__all__ = [
    "NOT_CONFIGURED",
    "SIGNAL_PURPOSES",
    "EngineConfig",
    "PageSignals",
    "RegistryAnswer",
    "SiteSignals",
    "decide_post_fetch",
    "decide_pre_fetch",
    "denied",
    "evaluate_headers",
    "evidence_json",
    "inspect_response",
    "rsl_urls_needed",
]


from ._core import (
    _AI,
    _NO_LICENSE,
    SIGNAL_PURPOSES,
    EngineConfig,
    PageSignals,
    SiteSignals,
    _fold,
    _registry_result,
    denied,
)
from ._post import decide_post_fetch, evaluate_headers, inspect_response, rsl_urls_needed
from .evidence import evidence_json

# --------------------------------------------------------------------------- pre-fetch


@dataclass(frozen=True, slots=True)
class _RobotsPlan:
    """What a robots.txt policy says for one configuration, independent of the URL."""

    source: str | None
    usage: tuple[tuple[robots.ExtensionRule, ...], tuple[robots.ExtensionRule, ...]] | None
    signal: tuple[tuple[robots.ExtensionRule, ...], tuple[robots.ExtensionRule, ...]] | None
    delay: float | None
    slow: SignalResult | None


_PLANS: IdentityMemo[_RobotsPlan] = IdentityMemo(256)


def _robots_plan(policy: robots.RobotsPolicy, cfg: EngineConfig) -> _RobotsPlan:
    """The URL-independent part of the robots.txt signals, memoised per (policy, config)."""
    plan = _PLANS.get((policy, cfg))
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
    return _PLANS.put((policy, cfg), plan)


def _robots_results(
    site: SiteSignals, url: str, cfg: EngineConfig, plan: _RobotsPlan | None = None
) -> list[SignalResult]:
    policy = site.robots
    if plan is None:
        plan = _robots_plan(policy, cfg)
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


#: Marker for a site whose documents cannot be classed (see ``_pathclass``).
_UNCLASSED = object()
_CLASSES: IdentityMemo[object] = IdentityMemo(256)
_LAST_CLASSES: tuple[object, ...] = (None,) * 6


def _site_classes(
    site: SiteSignals, cfg: EngineConfig, rsls: tuple[rsl.RslPolicy | None, ...]
) -> SiteClasses | None:
    """The path classes of ``site`` under ``cfg``, memoised per (documents, config)."""
    global _LAST_CLASSES
    last = _LAST_CLASSES  # one tuple, replaced whole: threads never see a torn pair
    robots_policy, ai, tdm = site.robots, site.aitxt, site.tdmrep
    if (
        last[0] is robots_policy
        and last[1] is ai
        and last[2] is tdm
        and last[3] is cfg
        and len(last[4]) == len(rsls)  # type: ignore[arg-type]
        and all(map(operator.is_, last[4], rsls))  # type: ignore[call-overload]
    ):
        found = last[5]
    else:
        key = (robots_policy, ai, tdm, cfg, *rsls)
        found = _CLASSES.get(key)
        if found is None:
            built = build_site_classes(robots_policy, ai, tdm, rsls)
            found = _CLASSES.put(key, built if built is not None else _UNCLASSED)
        _LAST_CLASSES = (robots_policy, ai, tdm, cfg, rsls, found)
    return found if type(found) is SiteClasses else None


def _site_results(
    site: SiteSignals, url: str, cfg: EngineConfig, rsls: tuple[rsl.RslPolicy | None, ...]
) -> _Parts:
    """The site documents' results for ``url``: those before the registry's, those after."""
    plan = _robots_plan(site.robots, cfg)
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
    registry_answer: RegistryAnswer = NOT_CONFIGURED,
    *,
    now: datetime | None = None,
) -> Decision:
    """Decide whether ``url`` may be requested at all (SPEC.md §3.1-§3.6, §3.9).

    Every pre-fetch signal is evaluated (not just up to the first deny), so the evidence and
    the reasons list everything that applies. The site documents' results are reused for URLs
    of the same path class (``_pathclass``); the registry is asked for every URL.
    """
    license_urls = site.robots.license_urls
    rsls = tuple(site.rsl.get(u) for u in license_urls) if license_urls else ()
    classes = _site_classes(site, cfg, rsls)
    if classes is None:
        return _pre_fetch(_site_results(site, url, cfg, rsls), url, cfg, registry_answer, now)
    key = classes.key(url)
    if key is None:
        return _pre_fetch(_site_results(site, url, cfg, rsls), url, cfg, registry_answer, now)
    parts = classes.memo.get(key)
    if parts is None:
        parts = _site_results(site, url, cfg, rsls)
        classes.remember(key, parts)
    origin: str = key[0]  # type: ignore[assignment]
    simple = (origin, url[len(origin) :])
    return _pre_fetch(parts, url, cfg, registry_answer, now, simple)  # type: ignore[arg-type]


def decide_pre_fetch_unclassed(
    site: SiteSignals,
    url: str,
    cfg: EngineConfig,
    registry_answer: RegistryAnswer = NOT_CONFIGURED,
    *,
    now: datetime | None = None,
) -> Decision:
    """:func:`decide_pre_fetch` evaluating every signal afresh (the reference it must equal)."""
    license_urls = site.robots.license_urls
    rsls = tuple(site.rsl.get(u) for u in license_urls) if license_urls else ()
    return _pre_fetch(_site_results(site, url, cfg, rsls), url, cfg, registry_answer, now)
