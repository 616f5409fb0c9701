"""The post-fetch half of the engine: headers, HTML, licence and mode (SPEC.md §3.7-§4, §1)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from .. import aipref, content_signal, html, license, registry, rsl, tdmrep, xrobots
from ..fetch import fetch_result
from ..headers import Headers
from ..model import (
    Decision,
    FetchOutcome,
    LicenseInfo,
    Mode,
    Signal,
    SignalResult,
    Stage,
    Verdict,
)
from ..reasons import ReasonCode
from ..registry.answer import NOT_CONFIGURED, Answer, RegistryAnswer
from ._core import (
    _NO_LICENSE,
    EngineConfig,
    PageSignals,
    SiteSignals,
    _fold,
    _registry_result,
    denied,
)

# --------------------------------------------------------------------------- post-fetch


def inspect_response(response: FetchOutcome, cfg: EngineConfig) -> PageSignals:
    """Read a response once: media type, HTML sniffing and extraction, ``Link`` licences.

    Never raises on the body: HTML that cannot be read (``html.extract`` sets ``error``, or
    anything in it fails) gives page signals whose ``html.error`` makes
    :func:`decide_post_fetch` exclude the page with ``html.unparseable``.
    """
    content_type = response.headers.get("content-type")
    media = html.media_type(content_type)
    is_html = html.is_html(content_type, response.body)
    page = None
    if is_html and response.body:
        try:
            page = html.extract(
                response.body,
                response.final_url or response.url,
                product_token=cfg.product_token,
                ai_agents=cfg.ai_agents,
                content_type=content_type,
            )
        except Exception as e:  # extract never raises; if it ever does, fail closed
            page = html.HtmlSignals(error=f"extraction failed: {e!r}"[:300])
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


_NO_RESULTS: tuple[SignalResult, ...] = ()

#: Bound on the header memo of an evaluator (cleared when full).
HEADER_MEMO_MAX = 4096

#: (X-Robots-Tag, Content-Usage, Content-Signal values) -> their results, for one
#: configuration. Header values repeat across a site's responses and results are immutable, so
#: a response whose signal headers were seen before costs one dict lookup.
HeaderMemo = dict[tuple[object, ...], tuple[SignalResult, ...]]


def evaluate_headers(
    headers: Headers, cfg: EngineConfig, memo: HeaderMemo | None = None
) -> tuple[SignalResult, ...]:
    """The header-only signals of a response (SPEC.md §3.7), the hot path of every page;
    ``memo`` (one per configuration, owned by the run's evaluator) remembers the results."""
    found = headers._map  # read-only use of the multimap inside the package
    xrt = found.get("x-robots-tag")
    usage = found.get("content-usage")
    signal = found.get("content-signal")
    if xrt is None and usage is None and signal is None:
        return _NO_RESULTS
    key = (xrt, usage, signal)
    if memo is not None:
        cached = memo.get(key)
        if cached is not None:
            return cached
    out: list[SignalResult] = []
    if xrt:
        out.append(
            xrobots.evaluate_header(
                xrt,
                product_token=cfg.product_token,
                ai_agents=cfg.ai_agents,
                purpose=cfg.purpose,
                honor_noarchive=cfg.honor_noarchive,
            )
        )
    if usage:
        out.append(aipref.evaluate_header(usage, cfg.purpose))
    if signal:
        out.append(content_signal.evaluate_header(signal, cfg.purpose))
    result = tuple(out)
    if memo is not None:
        if len(memo) >= HEADER_MEMO_MAX:
            memo.clear()
        memo[key] = result
    return result


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
            source=response.final_url or response.url,
            detail=page.media_type or None,
        )
    return None


_TDMREP = Signal.TDMREP


def _tdmrep_result(site: SiteSignals, page: PageSignals) -> SignalResult | None:
    headers = page.response.headers
    header_res = headers.get_list("tdm-reservation") if "tdm-reservation" in headers._map else ()
    meta_res = page.html.tdm_reservation if page.html else ()
    if not (header_res or meta_res):
        # Only the file speaks (tdmrep.evaluate would return exactly this).
        tdm = site.tdmrep
        return tdmrep.evaluate_file(tdm, page.response.url) if tdm is not None else None
    header_pol = headers.get_list("tdm-policy")
    meta_pol = page.html.tdm_policy if page.html else ()
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
    if page.html is None and not page.link_licenses and entry is None:
        return _NO_LICENSE
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


def _unparseable(page: PageSignals) -> SignalResult:
    response = page.response
    error = page.html.error if page.html is not None else None
    return SignalResult(
        Signal.FETCH,
        Verdict.ERROR,
        (ReasonCode.HTML_UNPARSEABLE,),
        raw=error,
        source=response.final_url or response.url,
        detail=response.headers.get("content-type") or None,
    )


def decide_post_fetch(
    pre: Decision,
    site: SiteSignals,
    page: PageSignals,
    cfg: EngineConfig,
    *,
    rsl_documents: Mapping[str, rsl.RslPolicy] | None = None,
    registry_answer: RegistryAnswer = NOT_CONFIGURED,
    now: datetime | None = None,
    header_memo: HeaderMemo | None = None,
) -> Decision:
    """The final decision for a fetched page (SPEC.md §3.7, §3.8, §4, §1 modes).

    ``pre`` is the page's pre-fetch decision (its evidence is carried over). Every RSL URL that
    :func:`rsl_urls_needed` returned must be in ``rsl_documents``; one that is missing counts as
    ``rsl.unreachable`` (fail closed). HTML that could not be read adds ``html.unparseable``,
    which always excludes. Never raises: an internal error excludes the page with
    ``fetch.error`` (its detail says so) instead of leaving the caller to decide.
    """
    try:
        return _decide_post_fetch(
            pre,
            site,
            page,
            cfg,
            rsl_documents,
            registry_answer=registry_answer,
            now=now,
            header_memo=header_memo,
        )
    except Exception as e:
        return denied(
            ReasonCode.FETCH_ERROR,
            Stage.POST_FETCH,
            raw=f"internal error: {e!r}"[:300],
            source=page.response.final_url or page.response.url,
            detail="post-fetch decision failed",
            evidence=pre.evidence,
        )


def _decide_post_fetch(
    pre: Decision,
    site: SiteSignals,
    page: PageSignals,
    cfg: EngineConfig,
    rsl_documents: Mapping[str, rsl.RslPolicy] | None,
    *,
    registry_answer: RegistryAnswer,
    now: datetime | None,
    header_memo: HeaderMemo | None,
) -> Decision:
    tdm = _tdmrep_result(site, page)
    if tdm is None:
        evidence = list(pre.evidence)
    else:  # the final TDMRep verdict replaces the pre-fetch one and comes last
        evidence = [r for r in pre.evidence if r.signal is not _TDMREP]
    status = _status_result(page, cfg)
    if status is not None:
        evidence.append(status)
    evidence.extend(
        evaluate_headers(page.response.headers, cfg, header_memo)
    )  # never TDMRep results
    if tdm is not None:
        evidence.append(tdm)
    if status is None and page.html is not None and page.html.error is not None:
        # Only for a response that would otherwise be read: a truncated or failed fetch is
        # already excluded by the fetch layer (and a crawl never sees its body).
        evidence.append(_unparseable(page))
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
    for url in rsl_urls_needed(page) if page.link_rsl or page.html is not None else ():
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
    return Decision(
        not reasons, Stage.POST_FETCH, tuple(reasons), tuple(evidence), lic, pre.crawl_delay
    )


def _may_license(answer: RegistryAnswer) -> bool:
    """Whether the registry's winning entry could carry a licence (only then is it needed)."""
    return type(answer) is Answer and any(entry.license for entry in answer.entries)
