"""The decision engine: folds every signal's verdict into one decision (SPEC.md §1, §2).

Signal modules each own one signal and never import each other; this module owns precedence
and bookkeeping. The rule is simple on purpose (SPEC.md §2): a URL is kept only when no signal
that speaks to the run's purpose says ``deny``, no such signal is in ``error`` (unless the
operator chose ``on_signal_error = "ignore"``), and the mode's requirement holds. There is no
precedence between protocols; the most restrictive statement wins.

Two stages, as in the crawler:

A run builds one :class:`Evaluator` from its configuration (it owns every memo) and drives
one :class:`Gate` per URL (``gate.py``: the order of the steps, the redirect rule, the hop
limit and the retry statuses). The plain functions below evaluate afresh, with no memo:

- :func:`decide_pre_fetch` uses the site documents (robots.txt, ai.txt, tdmrep.json, RSL files
  named in robots.txt) and the registry's answer; a denied URL is never requested.
- :func:`inspect_response` reads a response once (headers, HTML), :func:`rsl_urls_needed`
  says which further RSL documents it names, and :func:`decide_post_fetch` gives the final
  decision, the licence tag and the evidence.
"""

from __future__ import annotations

from datetime import datetime

from ..model import Decision
from ..registry.answer import NOT_CONFIGURED, Answer, NotConfigured, RegistryAnswer, Unavailable
from . import _pre

__all__ = [
    "NOT_CONFIGURED",
    "SIGNAL_PURPOSES",
    "Answer",
    "CheckAddress",
    "Done",
    "EngineConfig",
    "Evaluator",
    "Fetch",
    "Follow",
    "Gate",
    "NeedRegistry",
    "NeedRsl",
    "NeedSite",
    "NotConfigured",
    "PageSignals",
    "RegistryAnswer",
    "SiteSignals",
    "Step",
    "Unavailable",
    "decide_post_fetch",
    "decide_pre_fetch",
    "denied",
    "evaluate_headers",
    "evidence_json",
    "inspect_response",
    "rsl_urls_needed",
]

from ._core import SIGNAL_PURPOSES, EngineConfig, PageSignals, SiteSignals, denied
from ._post import decide_post_fetch, evaluate_headers, inspect_response, rsl_urls_needed
from .evaluator import Evaluator
from .evidence import evidence_json
from .gate import (
    CheckAddress,
    Done,
    Fetch,
    Follow,
    Gate,
    NeedRegistry,
    NeedRsl,
    NeedSite,
    Step,
)


def decide_pre_fetch(
    site: SiteSignals,
    url: str,
    cfg: EngineConfig,
    registry_answer: RegistryAnswer = NOT_CONFIGURED,
    *,
    now: datetime | None = None,
) -> Decision:
    """Decide whether ``url`` may be requested at all (SPEC.md §3.1-§3.6, §3.9).

    Every signal is evaluated afresh; a run uses :meth:`Evaluator.decide_pre_fetch`, which
    gives the same decision and reuses the site documents' results per path class.
    """
    return _pre.decide_pre_fetch(site, url, cfg, registry_answer, None, now)


#: The reference an evaluator's memoised decisions must equal (tests/filters/test_pathclass.py).
decide_pre_fetch_unclassed = decide_pre_fetch
