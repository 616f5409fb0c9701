"""The facts the crawler information page states, read from the runs' ``run.json``.

``facts_from_runs`` validates and combines one or more runs into ``CrawlerFacts``; ``STANDARDS``
lists what heed honours (SPEC.md §3) with a link to each standard. A run that cannot be read,
or runs naming several crawlers, raise ``ConfigError`` naming what is wrong. Rendering is
``crawler_page.py``'s business, the versions file and the Atom feed ``_crawler_feed.py``'s.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from filters import ConfigError

__all__ = ["STANDARDS", "CrawlerFacts", "facts_from_runs"]

_PURPOSES = ("train-ai", "ai-input", "search")
_AI = ("train-ai", "ai-input")
_URL_IN_UA = re.compile(r"https?://[^\s;()<>\"]+")


@dataclass(frozen=True, slots=True)
class _Standard:
    name: str
    url: str
    purposes: tuple[str, ...]
    when: str
    what: str


#: What heed honours (SPEC.md §3), in the order a URL meets them.
STANDARDS: tuple[_Standard, ...] = (
    _Standard(
        "robots.txt (RFC 9309)",
        "https://www.rfc-editor.org/rfc/rfc9309",
        _PURPOSES,
        "before fetching",
        "The group for our product token, else the * group. An unreachable robots.txt "
        "(5xx, 429, timeout) means: fetch nothing from that site.",
    ),
    _Standard(
        "AI crawler tokens in robots.txt (ai-robots-txt list)",
        "https://github.com/ai-robots-txt/ai.robots.txt",
        _AI,
        "before fetching",
        "A path disallowed for any of the AI crawler tokens listed below counts as reserved "
        "for AI use, for us too.",
    ),
    _Standard(
        "Content-Usage (IETF aipref vocabulary and attachment drafts)",
        "https://datatracker.ietf.org/doc/draft-ietf-aipref-vocab/",
        _PURPOSES,
        "before and after fetching",
        "In robots.txt and as a response header: train-ai=n, search=n.",
    ),
    _Standard(
        "Content-Signal (Cloudflare Content Signals Policy)",
        "https://contentsignals.org/",
        _PURPOSES,
        "before fetching",
        "In robots.txt: ai-train=no, ai-input=no, search=no.",
    ),
    _Standard(
        "ai.txt (Spawning)",
        "https://site.spawning.ai/spawning-ai-txt",
        _AI,
        "before fetching",
        "/ai.txt on the page's origin, robots.txt grammar, matched case-insensitively.",
    ),
    _Standard(
        "TDMRep (W3C TDM Reservation Protocol)",
        "https://www.w3.org/community/reports/tdmrep/CG-FINAL-tdmrep-20240510/",
        _AI,
        "before and after fetching",
        "/.well-known/tdmrep.json, the tdm-reservation header and meta tag.",
    ),
    _Standard(
        "RSL 1.0 (Really Simple Licensing)",
        "https://rslstandard.org/rsl",
        _PURPOSES,
        "before and after fetching",
        "License: lines in robots.txt, Link headers and link elements; a prohibited or "
        "paid use excludes the page.",
    ),
    _Standard(
        "X-Robots-Tag and robots meta tags (noai, noimageai, noml, noindex, none)",
        "https://developers.google.com/search/docs/crawling-indexing/robots-meta-tag",
        _PURPOSES,
        "after fetching",
        "noai, noimageai (DeviantArt) and noml (Mojeek) exclude AI uses; noindex and none "
        "exclude search. Directives scoped to our token or to an AI token count.",
    ),
    _Standard(
        "Licence declarations (HTML rel=license, SPDX identifiers)",
        "https://html.spec.whatwg.org/multipage/links.html#link-type-license",
        _PURPOSES,
        "after fetching",
        "Recorded with every page kept; in open-licence mode only open licences are kept.",
    ),
)


@dataclass(frozen=True, slots=True)
class CrawlerFacts:
    """Everything the page says, taken from the runs' ``run.json``."""

    product_token: str
    user_agent: str
    contact_url: str
    purposes: tuple[str, ...]
    modes: tuple[str, ...]
    ai_agents: tuple[str, ...]
    honor_noarchive: bool
    registry_url: str
    registry_private: bool
    registry_spawning: bool
    blocklists: tuple[str, ...]
    private_blocklists: int
    engine_versions: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def _config_of(info: Mapping[str, Any], where: str) -> Mapping[str, Any]:
    if not isinstance(info, Mapping):
        raise ConfigError(f"{where}: a run.json must be a JSON object")
    config = info.get("config")
    if not isinstance(config, Mapping):
        raise ConfigError(f"{where}: no 'config' object (not a heed run.json?)")
    return config


def _text(config: Mapping[str, Any], key: str, where: str, *, required: bool = False) -> str:
    value = config.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ConfigError(f"{where}: config {key!r} must be a string (got {value!r:.80})")
    if required and not value:
        raise ConfigError(f"{where}: config {key!r} is missing")
    return value


def _texts(config: Mapping[str, Any], key: str, where: str) -> list[str]:
    value = config.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: config {key!r} must be a list of strings")
    return value


def facts_from_runs(run_infos: Sequence[Mapping[str, Any]]) -> CrawlerFacts:
    """The crawler's facts from the ``run.json`` of its runs (oldest first), or from
    ``CardStats.sources`` (the same keys); a run whose ``config`` is empty (a crawl killed
    before its ``run.json``) is skipped.

    The identity (product token, user-agent, contact URL) must be the same in every run: a
    page describes one crawler. Purposes, modes, AI tokens and blocklists are the union over
    the runs; registry and noarchive settings are the newest run's.

    Raises:
        ConfigError: no runs with a configuration, a run whose ``config`` cannot be read, or
            several crawlers.
    """
    if not run_infos:
        raise ConfigError("the crawler page needs at least one run's run.json")
    identities: dict[tuple[str, str, str], str] = {}
    purposes: set[str] = set()
    modes: set[str] = set()
    agents: dict[str, str] = {}
    blocklists: dict[str, None] = {}
    private_lists: set[str] = set()
    versions: dict[str, None] = {}
    registry = ""
    spawning = noarchive = False
    described = 0
    for n, info in enumerate(run_infos, 1):
        crawl = info.get("crawl_id", info.get("run_id")) if isinstance(info, Mapping) else None
        where = f"run {n} of {len(run_infos)}" + (f" ({crawl})" if isinstance(crawl, str) else "")
        config = _config_of(info, where)
        if not config:  # a crawl killed before its run.json: it names no crawler
            continue
        described += 1
        token = _text(config, "product_token", where, required=True)
        ua = _text(config, "user_agent", where, required=True)
        contact = _text(config, "contact_url", where)
        identities.setdefault((token, ua, contact), where)
        purpose = _text(config, "purpose", where, required=True)
        if purpose not in _PURPOSES:
            raise ConfigError(f"{where}: unknown purpose {purpose!r}")
        purposes.add(purpose)
        modes.add(_text(config, "mode", where, required=True))
        listed = info.get("ai_agents", config.get("ai_agents", []))
        if not isinstance(listed, list) or not all(isinstance(a, str) for a in listed):
            raise ConfigError(f"{where}: 'ai_agents' must be a list of strings")
        for agent in listed:
            agents.setdefault(agent.lower(), agent)
        for source in _texts(config, "blocklists", where):
            if source.startswith(("http://", "https://")):
                blocklists[source] = None
            else:
                private_lists.add(source)
        engine = info.get("engine_version")
        if isinstance(engine, str) and engine:
            versions[engine] = None
        registry = _text(config, "registry_url", where)
        spawning = config.get("registry_spawning") is True
        noarchive = config.get("honor_noarchive") is True
    if not described:
        raise ConfigError(
            "none of the runs has a configuration (run.json) naming the crawler: "
            "the crawler page needs at least one"
        )
    if len(identities) > 1:
        shown = "; ".join(f"{t} ({where})" for (t, _, _), where in identities.items())
        raise ConfigError(
            f"the runs name {len(identities)} different crawlers (product token, user-agent "
            f"or contact URL differ: {shown}); write one crawler page per crawler"
        )
    ((token, ua, contact),) = identities
    public = registry.startswith(("http://", "https://"))
    return CrawlerFacts(
        product_token=token,
        user_agent=ua,
        contact_url=contact or _contact_in(ua),
        purposes=tuple(p for p in _PURPOSES if p in purposes),
        modes=tuple(sorted(modes)),
        ai_agents=tuple(sorted(agents.values(), key=str.lower)),
        honor_noarchive=noarchive,
        registry_url=registry.rstrip("/") if public else "",
        registry_private=bool(registry) and not public,
        registry_spawning=spawning,
        blocklists=tuple(blocklists),
        private_blocklists=len(private_lists),
        engine_versions=tuple(versions),
    )


def _contact_in(user_agent: str) -> str:
    found = _URL_IN_UA.search(user_agent)
    return found.group(0) if found else ""
