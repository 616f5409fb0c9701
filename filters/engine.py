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

from dataclasses import dataclass
from datetime import UTC, datetime

from . import aipref, aitxt, content_signal, robots, rsl, tdmrep
from ._extrules import IdentityMemo
from .model import (
    Decision,
    DocState,
    Signal,
    SignalResult,
    Stage,
    Verdict,
)
from .reasons import ReasonCode

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


from ._engine_core import (
    _AI,
    NOT_CONFIGURED,
    SIGNAL_PURPOSES,
    EngineConfig,
    PageSignals,
    RegistryAnswer,
    SiteSignals,
    _decision,
    _registry_result,
    denied,
)
from ._engine_post import decide_post_fetch, evaluate_headers, inspect_response, rsl_urls_needed
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
    the reasons list everything that applies.
    """
    plan = _robots_plan(site.robots, cfg)
    evidence = _robots_results(site, url, cfg, plan)
    if site.aitxt is not None:
        evidence.append(aitxt.evaluate(site.aitxt, url, cfg.product_token))
    if site.tdmrep is not None:
        evidence.append(tdmrep.evaluate_file(site.tdmrep, url))
    reg, _ = _registry_result(registry_answer, url, cfg.purpose, now or datetime.now(UTC))
    if reg is not None:
        evidence.append(reg)
    for lic_url in site.robots.license_urls:
        policy = site.rsl.get(lic_url)
        if policy is not None:
            evidence.append(rsl.evaluate(policy, url, cfg.purpose))
    if plan.slow is not None:
        evidence.append(plan.slow)
    return _decision(evidence, cfg, Stage.PRE_FETCH, crawl_delay=plan.delay)
