"""The engine's shared types and the fold of verdicts (see ``filters.engine``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from .. import aitxt, html, license, registry, robots, rsl, tdmrep
from ..blocklist import EMPTY_BLOCKLIST, Blocklist
from ..model import (
    Decision,
    FetchOutcome,
    LicenseInfo,
    Mode,
    Purpose,
    Signal,
    SignalResult,
    Stage,
    Verdict,
)
from ..reasons import ReasonCode
from ..registry.answer import Answer, NotConfigured, RegistryAnswer, Unavailable

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
    Signal.BLOCKLIST: _ALL,
}

#: Denials that ``on_signal_error = "ignore"`` can never lift: RFC 9309 §2.3.1.4 mandates a
#: complete disallow when robots.txt is unreachable, and a page whose HTML cannot be read at
#: all may carry any opt-out (SPEC.md §3.8).
_MANDATORY = frozenset({ReasonCode.ROBOTS_UNREACHABLE, ReasonCode.HTML_UNPARSEABLE})

#: Kept media types by default (SPEC.md §3.8).
DEFAULT_KEPT_TYPES = ("text/html", "application/xhtml+xml", "text/plain")


class _DefaultAgents(tuple[str, ...]):
    """Marker for an ``ai_agents`` left out: replaced by the list for the config's purpose."""

    __slots__ = ()


_DEFAULT_AGENTS = _DefaultAgents()


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """The policy half of a run configuration: who we are and what we need."""

    product_token: str = "heedbot"
    purpose: Purpose = Purpose.TRAIN_AI
    mode: Mode = Mode.OPT_OUT
    on_signal_error: Literal["deny", "ignore"] = "deny"
    #: Not given: the shipped list for ``purpose`` (SPEC.md §3.2), set in ``__post_init__``.
    ai_agents: tuple[str, ...] = field(default_factory=lambda: _DEFAULT_AGENTS)
    honor_noarchive: bool = False
    open_licenses: tuple[str, ...] = license.DEFAULT_OPEN_LICENSES
    max_crawl_delay: float = 30.0
    kept_types: tuple[str, ...] = DEFAULT_KEPT_TYPES
    #: The operator's domain blocklists (``[policy] blocklists``, read by the crawler): a
    #: listed host is denied ``blocklist.listed`` before anything is requested from it.
    blocklist: Blocklist = EMPTY_BLOCKLIST

    def __post_init__(self) -> None:
        if self.ai_agents is _DEFAULT_AGENTS:
            object.__setattr__(self, "ai_agents", robots.default_ai_agents(self.purpose))


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
    """Deny reasons in evidence order (deduplicated), and whether any grant was stated.

    The one precedence rule (SPEC.md §2): a result counts when its signal speaks to the
    purpose; a grant is remembered (opt-in mode); a deny counts, and so does an error unless
    ``on_signal_error = "ignore"`` (never for the mandatory denials). A purpose the engine does
    not know raises ValueError: the caller excludes the URL (fail closed)."""
    reasons: list[ReasonCode] = []
    granted = False
    ignored = _IGNORED.get(cfg.purpose)
    if ignored is None:
        ignored = _IGNORED[Purpose(cfg.purpose)]
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


def _registry_result(
    answer: RegistryAnswer, url: str, purpose: Purpose, now: datetime
) -> tuple[SignalResult | None, registry.Entry | None]:
    if type(answer) is Answer:
        return registry.evaluate(answer.entries, url, purpose, now)
    if type(answer) is Unavailable:
        return registry.unavailable(answer.detail), None
    if isinstance(answer, NotConfigured):
        return None, None
    # A caller's bug; the gate turns it into an exclusion (fetch.error, internal error).
    raise TypeError(f"not a registry answer: {type(answer).__name__}")
