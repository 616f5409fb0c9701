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

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from . import aipref, aitxt, content_signal, html, license, registry, robots, rsl, tdmrep, xrobots
from ._extrules import IdentityMemo
from .fetch import fetch_result
from .headers import Headers
from .model import (
    Decision,
    DocState,
    FetchOutcome,
    LicenseInfo,
    Mode,
    Purpose,
    Signal,
    SignalResult,
    Stage,
    Verdict,
)
from .reasons import ReasonCode

__all__ = [
    "NOT_CONFIGURED",
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

_AI = frozenset({Purpose.TRAIN_AI, Purpose.AI_INPUT})
_ALL = frozenset(Purpose)

#: Which purposes a signal restricts (SPEC.md §3). Signals whose modules already evaluate per
#: purpose (aipref, content-signal, x-robots-tag, registry, RSL) are listed with every purpose.
SIGNAL_PURPOSES: Mapping[Signal, frozenset[Purpose]] = {
    Signal.ROBOTS: _ALL,
    Signal.ROBOTS_AI_AGENT: _AI,
    Signal.AIPREF: _ALL,
    Signal.CONTENT_SIGNAL: _ALL,
    Signal.AITXT: _AI,
    Signal.TDMREP: _AI,
    Signal.REGISTRY: _ALL,
    Signal.RSL: _ALL,
    Signal.X_ROBOTS_TAG: _ALL,
    Signal.META_ROBOTS: _ALL,
    Signal.LICENSE: _ALL,
    Signal.FETCH: _ALL,
    Signal.POLITENESS: _ALL,
    Signal.MODE: _ALL,
}

#: Denials that ``on_signal_error = "ignore"`` can never lift: RFC 9309 §2.3.1.4 mandates a
#: complete disallow when robots.txt is unreachable.
_MANDATORY = frozenset({ReasonCode.ROBOTS_UNREACHABLE})

#: Kept media types by default (SPEC.md §3.8).
DEFAULT_KEPT_TYPES = ("text/html", "application/xhtml+xml", "text/plain")


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """The policy half of a run configuration: who we are and what we need."""

    product_token: str = "heedbot"
    purpose: Purpose = Purpose.TRAIN_AI
    mode: Mode = Mode.OPT_OUT
    on_signal_error: Literal["deny", "ignore"] = "deny"
    ai_agents: tuple[str, ...] = field(default_factory=robots.default_ai_agents)
    honor_noarchive: bool = False
    open_licenses: tuple[str, ...] = license.DEFAULT_OPEN_LICENSES
    max_crawl_delay: float = 30.0
    kept_types: tuple[str, ...] = DEFAULT_KEPT_TYPES


@dataclass(frozen=True, slots=True)
class SiteSignals:
    """An origin's parsed signal documents, fetched once per origin and shared by its URLs.

    ``aitxt`` and ``tdmrep`` are None only when the caller did not fetch them at all (for
    example an offline check without those files); a fetched-but-absent document is a policy
    in state ``ABSENT``. ``rsl`` maps licence URLs (robots.txt ``License:``) to their policies.
    """

    robots: robots.RobotsPolicy
    aitxt: aitxt.AitxtPolicy | None = None
    tdmrep: tdmrep.TdmrepPolicy | None = None
    rsl: Mapping[str, rsl.RslPolicy] = field(default_factory=dict)


class _NotConfigured:
    """Marker: the run has no consent registry."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NOT_CONFIGURED"


#: Pass as ``registry_answer`` when the run has no registry.
NOT_CONFIGURED = _NotConfigured()

#: The registry's candidate entries for a URL; None means the registry could not answer.
RegistryAnswer = tuple[registry.Entry, ...] | None | _NotConfigured


@dataclass(frozen=True, slots=True)
class PageSignals:
    """What a fetched response says, read once: headers and, for HTML, the parsed page."""

    response: FetchOutcome
    media_type: str
    is_html: bool
    html: html.HtmlSignals | None
    link_licenses: tuple[str, ...]
    link_rsl: tuple[str, ...]


# --------------------------------------------------------------------------- folding


def _effective(result: SignalResult, purpose: Purpose) -> bool:
    return purpose in SIGNAL_PURPOSES.get(result.signal, _ALL)


#: purpose -> the signals that do *not* speak to it (precomputed for ``_fold``).
_IGNORED: Mapping[Purpose, frozenset[Signal]] = {
    purpose: frozenset(s for s, covered in SIGNAL_PURPOSES.items() if purpose not in covered)
    for purpose in Purpose
}
_NONE = Verdict.NONE
_GRANT = Verdict.GRANT
_DENY = Verdict.DENY
_ERROR = Verdict.ERROR
_SILENT = ReasonCode.AIPREF_PARSE_ERROR


def _fold(evidence: Sequence[SignalResult], cfg: EngineConfig) -> tuple[list[ReasonCode], bool]:
    """Deny reasons in evidence order (deduplicated), and whether any grant was stated."""
    reasons: list[ReasonCode] = []
    granted = False
    ignored = _IGNORED.get(cfg.purpose)
    if ignored is None:  # not a Purpose member: the plain rule
        return _fold_plain(evidence, cfg)
    errors_deny = cfg.on_signal_error == "deny"
    for result in evidence:
        verdict = result.verdict
        if verdict is _NONE or result.signal in ignored:
            continue
        if verdict is _GRANT:
            granted = True
            continue
        if verdict is _DENY or (
            verdict is _ERROR and (errors_deny or not _MANDATORY.isdisjoint(result.reasons))
        ):
            for code in result.reasons:
                if code not in reasons and code is not _SILENT:
                    reasons.append(code)
    return reasons, granted


def _fold_plain(
    evidence: Sequence[SignalResult], cfg: EngineConfig
) -> tuple[list[ReasonCode], bool]:
    reasons: list[ReasonCode] = []
    granted = False
    for result in evidence:
        if not _effective(result, cfg.purpose):
            continue
        if result.verdict is Verdict.GRANT:
            granted = True
            continue
        if result.verdict is Verdict.DENY or (
            result.verdict is Verdict.ERROR
            and (cfg.on_signal_error == "deny" or set(result.reasons) & _MANDATORY)
        ):
            for code in result.reasons:
                if code not in reasons and code is not ReasonCode.AIPREF_PARSE_ERROR:
                    reasons.append(code)
    return reasons, granted


_NO_LICENSE = LicenseInfo(None)


def _decision(
    evidence: list[SignalResult],
    cfg: EngineConfig,
    stage: Stage,
    *,
    lic: LicenseInfo | None = None,
    crawl_delay: float | None = None,
    reasons: list[ReasonCode] | None = None,
) -> Decision:
    if reasons is None:
        reasons, _ = _fold(evidence, cfg)
    return Decision(
        allowed=not reasons,
        stage=stage,
        reasons=tuple(reasons),
        evidence=tuple(evidence),
        license=lic or _NO_LICENSE,
        crawl_delay=crawl_delay,
    )


def denied(
    reason: ReasonCode,
    stage: Stage,
    *,
    raw: str | None = None,
    detail: str | None = None,
    source: str | None = None,
    evidence: Sequence[SignalResult] = (),
) -> Decision:
    """A decision denied by the fetch layer itself (blocked address, redirect limit, ...)."""
    signal = Signal.POLITENESS if reason.value.startswith("politeness.") else Signal.FETCH
    result = SignalResult(signal, Verdict.DENY, (reason,), raw=raw, source=source, detail=detail)
    return Decision(False, stage, (reason,), (*evidence, result))


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


def _registry_result(
    answer: RegistryAnswer, url: str, purpose: Purpose, now: datetime
) -> tuple[SignalResult | None, registry.Entry | None]:
    if isinstance(answer, _NotConfigured):
        return None, None
    if answer is None:
        return registry.unavailable("registry did not answer"), None
    return registry.evaluate(answer, url, purpose, now)


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


# --------------------------------------------------------------------------- post-fetch


def inspect_response(response: FetchOutcome, cfg: EngineConfig) -> PageSignals:
    """Read a response once: media type, HTML sniffing and extraction, ``Link`` licences."""
    content_type = response.headers.get("content-type")
    media = html.media_type(content_type)
    is_html = html.is_html(content_type, response.body)
    page = None
    if is_html and response.body:
        page = html.extract(
            response.body,
            response.final_url or response.url,
            product_token=cfg.product_token,
            ai_agents=cfg.ai_agents,
        )
    links, rsl_links = html.link_header_licenses(
        response.headers.get_list("link"), response.final_url or response.url
    )
    return PageSignals(response, media, is_html, page, links, rsl_links)


def rsl_urls_needed(page: PageSignals) -> tuple[str, ...]:
    """RSL documents a response names (``Link`` header, ``<link rel=license>``), in order."""
    urls = list(page.link_rsl)
    if page.html is not None:
        urls.extend(page.html.rsl_links)
    return tuple(dict.fromkeys(urls))


#: The (lower-case) header names ``evaluate_headers`` reads.
_SIGNAL_HEADERS = frozenset({"x-robots-tag", "content-usage", "content-signal"})


def evaluate_headers(headers: Headers, cfg: EngineConfig) -> list[SignalResult]:
    """The header-only signals of a response (SPEC.md §3.7), the hot path of every page."""
    out: list[SignalResult] = []
    if not headers.has_any(_SIGNAL_HEADERS):
        return out
    values = headers.get_list("x-robots-tag")
    if values:
        out.append(
            xrobots.evaluate_header(
                values,
                product_token=cfg.product_token,
                ai_agents=cfg.ai_agents,
                purpose=cfg.purpose,
                honor_noarchive=cfg.honor_noarchive,
            )
        )
    values = headers.get_list("content-usage")
    if values:
        out.append(aipref.evaluate_header(values, cfg.purpose))
    values = headers.get_list("content-signal")
    if values:
        out.append(content_signal.evaluate_header(values, cfg.purpose))
    return out


def _status_result(page: PageSignals, cfg: EngineConfig) -> SignalResult | None:
    response = page.response
    if response.error is not None or response.status is None:
        return fetch_result(response)
    if not 200 <= response.status < 300:
        return SignalResult(
            Signal.FETCH,
            Verdict.DENY,
            (ReasonCode.FETCH_STATUS,),
            raw=str(response.status),
            detail=str(response.status),
            source=response.final_url or response.url,
        )
    if response.truncated:
        return fetch_result(response)
    if not page.is_html and page.media_type not in cfg.kept_types:
        return SignalResult(
            Signal.FETCH,
            Verdict.DENY,
            (ReasonCode.FETCH_UNSUPPORTED_TYPE,),
            raw=response.headers.get("content-type"),
            detail=page.media_type or None,
        )
    return None


def _tdmrep_result(site: SiteSignals, page: PageSignals) -> SignalResult | None:
    headers = page.response.headers
    header_res, header_pol = headers.get_list("tdm-reservation"), headers.get_list("tdm-policy")
    meta_res = page.html.tdm_reservation if page.html else ()
    meta_pol = page.html.tdm_policy if page.html else ()
    if site.tdmrep is None and not (header_res or meta_res):
        return None
    policy = (
        site.tdmrep
        if site.tdmrep is not None
        else tdmrep.policy_from_fetch(FetchOutcome(url="", status=404))
    )
    return tdmrep.evaluate(
        policy,
        page.response.url,
        header_reservation=header_res,
        header_policy=header_pol,
        meta_reservation=meta_res,
        meta_policy=meta_pol,
    )


def _license(page: PageSignals, entry: registry.Entry | None) -> LicenseInfo:
    candidates: list[tuple[str, str]] = []
    if page.html is not None:
        candidates.extend((u, "html-rel") for u in page.html.license_links)
    candidates.extend((u, "http-link") for u in page.link_licenses)
    if page.html is not None:
        candidates.extend((u, "json-ld") for u in page.html.jsonld_licenses)
        candidates.extend((u, "meta") for u in page.html.meta_licenses)
    if entry is not None and entry.license:
        candidates.append((entry.license, "registry"))
    return license.choose(candidates)


def _mode_result(cfg: EngineConfig, granted: bool, lic: LicenseInfo) -> SignalResult | None:
    if cfg.mode is Mode.OPT_OUT:
        return None
    is_open = license.is_open(lic.license, cfg.open_licenses)
    if cfg.mode is Mode.OPT_IN and not (granted or is_open):
        return SignalResult(Signal.MODE, Verdict.DENY, (ReasonCode.CONSENT_MISSING,), raw="opt-in")
    if cfg.mode is Mode.OPEN_LICENSE and not is_open:
        return SignalResult(
            Signal.MODE,
            Verdict.DENY,
            (ReasonCode.LICENSE_NOT_OPEN,),
            raw=lic.license,
            detail=",".join(cfg.open_licenses),
        )
    return None


def decide_post_fetch(
    pre: Decision,
    site: SiteSignals,
    page: PageSignals,
    cfg: EngineConfig,
    *,
    rsl_documents: Mapping[str, rsl.RslPolicy] | None = None,
    registry_answer: RegistryAnswer = NOT_CONFIGURED,
    now: datetime | None = None,
) -> Decision:
    """The final decision for a fetched page (SPEC.md §3.7, §3.8, §4, §1 modes).

    ``pre`` is the page's pre-fetch decision (its evidence is carried over). Every RSL URL that
    :func:`rsl_urls_needed` returned must be in ``rsl_documents``; one that is missing counts as
    ``rsl.unreachable`` (fail closed).
    """
    evidence = list(pre.evidence)
    status = _status_result(page, cfg)
    if status is not None:
        evidence.append(status)
    evidence.extend(evaluate_headers(page.response.headers, cfg))
    tdm = _tdmrep_result(site, page)
    if tdm is not None:
        evidence = [r for r in evidence if r.signal is not Signal.TDMREP] + [tdm]
    if page.html is not None and page.html.metas:
        evidence.append(
            xrobots.evaluate_meta(
                page.html.metas,
                product_token=cfg.product_token,
                ai_agents=cfg.ai_agents,
                purpose=cfg.purpose,
                honor_noarchive=cfg.honor_noarchive,
            )
        )
    docs = rsl_documents or {}
    for url in rsl_urls_needed(page):
        if url in site.robots.license_urls:
            continue  # already evaluated pre-fetch
        policy = docs.get(url)
        if policy is None:
            evidence.append(
                SignalResult(Signal.RSL, Verdict.ERROR, (ReasonCode.RSL_UNREACHABLE,), raw=url)
            )
        else:
            evidence.append(rsl.evaluate(policy, page.response.url, cfg.purpose))
    entry = None
    if _may_license(registry_answer):
        _, entry = _registry_result(
            registry_answer, page.response.url, cfg.purpose, now or datetime.now(UTC)
        )
    lic = _license(page, entry)
    reasons, granted = _fold(evidence, cfg)
    mode = _mode_result(cfg, granted, lic)
    if mode is not None:
        evidence.append(mode)
        reasons, _ = _fold(evidence, cfg)
    return _decision(
        evidence, cfg, Stage.POST_FETCH, lic=lic, crawl_delay=pre.crawl_delay, reasons=reasons
    )


def _may_license(answer: RegistryAnswer) -> bool:
    """Whether the registry's winning entry could carry a licence (only then is it needed)."""
    if isinstance(answer, tuple):
        return any(entry.license for entry in answer)
    return answer is not None and not isinstance(answer, _NotConfigured)


# --------------------------------------------------------------------------- evidence


def evidence_json(decision: Decision, cfg: EngineConfig) -> str:
    """The ``evidence`` column: every signal consulted, its verdict, raw value and document."""
    items = []
    for result in decision.evidence:
        item = result.as_dict()
        item["effective"] = _effective(result, cfg.purpose)
        items.append(item)
    payload = {
        "stage": decision.stage.value,
        "allowed": decision.allowed,
        "reasons": [r.value for r in decision.reasons],
        "purpose": cfg.purpose.value,
        "mode": cfg.mode.value,
        "signals": items,
        "license": {
            "id": decision.license.license,
            "url": decision.license.url,
            "source": decision.license.source,
            "conflict": decision.license.conflict,
            "candidates": [list(c) for c in decision.license.candidates],
        },
    }
    return json.dumps(payload, separators=(",", ":"), sort_keys=False)
