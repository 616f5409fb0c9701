"""The signals heed honours, with their standards and versions (docs/signals.md), and which of
them a run's config had active. Shared by the Hugging Face card and the EU summary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["SIGNALS", "Signal", "active_signals", "product_tokens", "user_agents"]

_AI = ("train-ai", "ai-input")


@dataclass(frozen=True, slots=True)
class Signal:
    key: str
    name: str
    standard: str
    families: tuple[str, ...]  # reason-code families (the part before the dot)
    purposes: tuple[str, ...] = ()  # empty: every purpose

    def active(self, config: dict[str, Any]) -> bool:
        purpose = str(config.get("purpose") or "")
        if self.purposes and purpose and purpose not in self.purposes:
            return False
        if self.key == "registry":
            return bool(config.get("registry_url"))
        if self.key == "blocklist":
            return bool(config.get("blocklists"))
        if self.key == "robots-ai-agents":
            return bool(config.get("ai_agents"))
        if self.key == "license":
            return str(config.get("mode") or "") in ("open-license", "opt-in")
        return True


#: In docs/signals.md's order. ``families`` ties each to the reason codes it excludes with.
SIGNALS: tuple[Signal, ...] = (
    Signal("robots", "robots.txt (heed's product token)", "RFC 9309", ("robots",)),
    Signal(
        "robots-ai-agents",
        "robots.txt groups of AI crawler tokens (reservation inferred for heed)",
        "RFC 9309 matching",
        (),
        _AI,
    ),
    Signal("crawl-delay", "robots.txt Crawl-delay", "de-facto extension", ("politeness",)),
    Signal(
        "aipref",
        "Content-Usage (robots.txt and header)",
        "IETF draft-ietf-aipref-vocab-07, draft-ietf-aipref-attach-05",
        ("aipref",),
    ),
    Signal(
        "content-signal",
        "Content-Signal (robots.txt and header)",
        "Cloudflare Content Signals Policy",
        ("content-signal",),
    ),
    Signal("aitxt", "ai.txt", "Spawning ai.txt", ("aitxt",), _AI),
    Signal(
        "tdmrep",
        "TDMRep (tdmrep.json, tdm-reservation header and meta)",
        "W3C TDMRep Community Group Final Report",
        ("tdmrep",),
        _AI,
    ),
    Signal("registry", "consent registry", "heed registry (SPEC.md §3.6)", ("registry",)),
    Signal("rsl", "RSL licence", "RSL 1.0", ("rsl",)),
    Signal(
        "x-robots-tag",
        "X-Robots-Tag noai / noml / noimageai (and noindex for search)",
        "Google/Bing robots directives; DeviantArt noai/noimageai; Mojeek noml",
        ("x-robots-tag",),
    ),
    Signal(
        "meta-robots", "meta robots noai / noml / noimageai", "as X-Robots-Tag", ("meta-robots",)
    ),
    Signal(
        "blocklist",
        "domain blocklists (sites listed as infringing)",
        "EU GPAI Code of Practice, copyright chapter (July 2025)",
        ("blocklist",),
    ),
    Signal(
        "license",
        "licence tags (open-license and opt-in modes)",
        "HTML rel=license, SPDX License List",
        ("license", "consent"),
    ),
)


def active_signals(configs: list[dict[str, Any]]) -> dict[str, bool]:
    """Signal key → whether any of the runs' configs had it active (every signal is active
    when no config is known)."""
    if not configs:
        return {s.key: True for s in SIGNALS}
    return {s.key: any(s.active(c) for c in configs) for s in SIGNALS}


def product_tokens(configs: list[dict[str, Any]]) -> list[str]:
    return sorted({str(c["product_token"]) for c in configs if c.get("product_token")})


def user_agents(configs: list[dict[str, Any]]) -> list[str]:
    return sorted({str(c["user_agent"]) for c in configs if c.get("user_agent")})
