"""The ``evidence`` column of a record (SPEC.md §6): everything a decision rests on, as JSON.

Every signal consulted with its verdict, reason codes, raw value and source; whether it spoke
to the run's purpose; the licence candidates; and the signal documents of the page's origin
(URL, status, fetch time and sha256 of each), so an audit can tell exactly which version of
robots.txt, ai.txt, tdmrep.json or an RSL file a page was judged against.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..model import Decision

if TYPE_CHECKING:
    from . import EngineConfig, SiteSignals

__all__ = ["evidence_json", "site_documents"]


def site_documents(site: SiteSignals) -> dict[str, Any]:
    """The origin's signal documents as evidence records (absent ones are omitted)."""
    docs: dict[str, Any] = {}
    for name, policy in (
        ("robots.txt", site.robots),
        ("ai.txt", site.aitxt),
        ("tdmrep.json", site.tdmrep),
    ):
        document = getattr(policy, "document", None) if policy is not None else None
        if document is not None:
            docs[name] = {**document.as_dict(), "state": policy.state.value}  # type: ignore[union-attr]
    rsl = {
        url: {**p.document.as_dict(), "state": p.state.value}
        for url, p in site.rsl.items()
        if p.document is not None
    }
    if rsl:
        docs["rsl"] = rsl
    return docs


def evidence_json(decision: Decision, cfg: EngineConfig, site: SiteSignals | None = None) -> str:
    """The ``evidence`` column: every signal consulted, its verdict, raw value and document."""
    from ._core import _effective

    items = []
    for result in decision.evidence:
        item = result.as_dict()
        item["effective"] = _effective(result, cfg.purpose)
        items.append(item)
    payload: dict[str, Any] = {
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
    if site is not None:
        payload["documents"] = site_documents(site)
    return json.dumps(payload, separators=(",", ":"), sort_keys=False)
