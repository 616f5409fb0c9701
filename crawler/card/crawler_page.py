"""The crawler information page: what an operator publishes at the crawler's contact URL.

``write_crawler_page(run_infos, out_dir)`` turns the ``run.json`` of one or more runs into

- ``crawler.html``: what the crawler is, its product token and user-agent, every signal it
  honours (with a link to the standard and the purposes it speaks to), how to opt out (the
  robots.txt lines, the response headers, the meta tags, the registry), and whom to contact;
- ``crawler.atom``: an Atom feed (RFC 4287) with one entry per distinct version of that page;
- ``crawler.versions.json``: the versions seen so far (hash, date, what changed, the facts of
  the newest), so that a rerun with a changed configuration adds an entry and an unchanged one
  does not. Keep it next to the page: without it the feed starts over.

The page is a pure function of the crawler's facts (``CrawlerFacts``); a version is the
SHA-256 of the page rendered without its dates, so wording that changes with a new heed is a
new version too. Every string from a run is escaped (``html.escape``; XML text by
``xml.etree``). A run that cannot be read, runs naming several crawlers, or a state file that
is not heed's raise ``ConfigError`` naming what is wrong; nothing is written then.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crawler._output_parts import publish_bytes
from crawler.errors import OutputWriteError
from filters import ConfigError

__all__ = [
    "ATOM_NAME",
    "PAGE_NAME",
    "STANDARDS",
    "STATE_NAME",
    "CrawlerFacts",
    "CrawlerPageResult",
    "facts_from_runs",
    "render_page",
    "write_crawler_page",
]

PAGE_NAME = "crawler.html"
ATOM_NAME = "crawler.atom"
STATE_NAME = "crawler.versions.json"
_STATE_FORMAT = 1
_ATOM_NS = "http://www.w3.org/2005/Atom"
#: Stands in for the dates while a version's hash is computed.
_DATE_SLOT = "\x00DATE\x00"
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


@dataclass(frozen=True, slots=True)
class CrawlerPageResult:
    """What ``write_crawler_page`` wrote."""

    page: Path
    feed: Path
    state: Path
    version: str
    new_version: bool
    versions: int


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


# --- the page ---------------------------------------------------------------------------

_CSS = """
body{font:16px/1.5 system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;
color:#1b1b1b;background:#fff}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #ddd}
code,pre{font:0.9rem ui-monospace,monospace;background:#f4f4f4}
pre{padding:.6rem .8rem;overflow-x:auto}code{padding:0 .2rem}
table{border-collapse:collapse;width:100%}th,td{text-align:left;vertical-align:top;
padding:.3rem .5rem;border-bottom:1px solid #e4e4e4}
.muted{color:#555;font-size:.9rem}
"""


def _e(value: str) -> str:
    return html.escape(value, quote=True)


def _pre(lines: Iterable[str]) -> str:
    return "<pre>" + _e("\n".join(lines)) + "</pre>"


def _link(url: str, text: str | None = None) -> str:
    """A link to an http(s) URL; anything else is shown as text, never as a link."""
    if not url.startswith(("http://", "https://")):
        return _e(text or url)
    return f'<a href="{_e(url)}">{_e(text or url)}</a>'


def _opt_out(f: CrawlerFacts) -> list[str]:
    token = f.product_token
    ai = [p for p in f.purposes if p in _AI]
    search = "search" in f.purposes
    out = ["<h2 id='opt-out'>How to opt out</h2>"]
    out.append(
        "<p>Any one of these is enough: we keep a page only when no signal says no, and a "
        "signal we cannot read (a robots.txt that answers 5xx, a file that does not parse) "
        "counts as no.</p>"
    )
    out.append("<h3>robots.txt: never fetched</h3>")
    out.append(_pre([f"User-agent: {token}", "Disallow: /"]))
    rules: list[str] = []
    if ai:
        rules += ["User-agent: *", "Content-Usage: train-ai=n", "Content-Signal: ai-train=no"]
        if "ai-input" in ai:
            rules.append("Content-Signal: ai-input=no")
    if search:
        rules += [] if rules else ["User-agent: *"]
        rules += ["Content-Usage: search=n", "Content-Signal: search=no"]
    if rules:
        out.append("<p>Or keep us crawling but reserve the use (IETF aipref, Content Signals):</p>")
        out.append(_pre(rules))
    if ai and f.ai_agents:
        shown = ", ".join(f"<code>{_e(a)}</code>" for a in f.ai_agents)
        out.append(
            "<p>A path you disallow for any of these AI crawler tokens is reserved from us as "
            f"well: {shown}.</p>"
        )
    if ai:
        out.append("<h3>Site files: never fetched</h3>")
        out.append("<p><code>/ai.txt</code> (Spawning):</p>")
        out.append(_pre(["User-agent: *", "Disallow: /"]))
        out.append("<p><code>/.well-known/tdmrep.json</code> (TDMRep):</p>")
        out.append(_pre(['[{"location": "/", "tdm-reservation": 1}]']))
    out.append("<h3>Response headers: fetched, never kept</h3>")
    headers: list[str] = []
    if ai:
        headers += ["X-Robots-Tag: noai", "Content-Usage: train-ai=n", "tdm-reservation: 1"]
    if search:
        headers += ["X-Robots-Tag: noindex"] + ([] if ai else ["Content-Usage: search=n"])
    headers.append(f"X-Robots-Tag: {token}: {'noai' if ai else 'noindex'}")
    out.append(_pre(headers))
    out.append("<h3>HTML meta tags: fetched, never kept</h3>")
    metas: list[str] = []
    if ai:
        metas += [
            '<meta name="robots" content="noai, noimageai">',
            '<meta name="tdm-reservation" content="1">',
        ]
    if search:
        metas.append('<meta name="robots" content="noindex">')
    metas.append(f'<meta name="{token}" content="{"noai" if ai else "noindex"}">')
    out.append(_pre(metas))
    out.append("<h3>The consent registry</h3>")
    if f.registry_url:
        base = f.registry_url
        out.append(
            "<p>We consult the consent registry at "
            f"{_link(base)} before every fetch. Site owners add an opt-out entry for a domain, "
            "a URL prefix or a URL by proving control of the site: "
            f"<code>POST {_e(base)}/v1/challenges</code>, publish the file it names, then "
            "<code>POST</code> its <code>verify_url</code>. Look up an entry with "
            f"<code>GET {_e(base)}/v1/entries?host=example.org</code>.</p>"
        )
    elif f.registry_private:
        out.append(
            "<p>We also consult a private consent registry. Ask us (contact below) to add an "
            "opt-out entry for your domain, a URL prefix or a URL.</p>"
        )
    else:
        out.append("<p>No consent registry is configured: use the signals above.</p>")
    if f.registry_spawning:
        out.append("<p>We also consult Spawning's Do-Not-Train registry.</p>")
    return out


_PURPOSE_TEXT: Mapping[tuple[str, ...], str] = {
    ("train-ai",): "training AI models",
    ("ai-input",): "AI input (retrieval, grounding of assistants)",
    ("search",): "a search index",
}


def _body(f: CrawlerFacts, dates: str) -> str:
    token = f.product_token
    purposes = ", ".join(f"<code>{_e(p)}</code>" for p in f.purposes)
    modes = ", ".join(f"<code>{_e(m)}</code>" for m in f.modes)
    parts = [
        f"<h1>{_e(token)}: a consent-checked web crawler</h1>",
        f"<p class='muted'>{dates}</p>",
        "<p>This crawler collects public web pages for "
        + _PURPOSE_TEXT.get(f.purposes, "the purposes " + purposes)
        + ". It runs heed"
        + (f" {', '.join(_e(v) for v in f.engine_versions)}" if f.engine_versions else "")
        + " and keeps a page only where its owner has not opted out.</p>",
        "<h2 id='identity'>Identity</h2><table>",
        f"<tr><th>Product token</th><td><code id='product-token'>{_e(token)}</code> "
        "(what robots.txt groups name; matched case-insensitively)</td></tr>",
        f"<tr><th>User-agent</th><td><code id='user-agent'>{_e(f.user_agent)}</code></td></tr>",
        f"<tr><th>Purpose</th><td>{purposes}</td></tr>",
        f"<tr><th>Mode</th><td>{modes}"
        + (
            " (besides no opt-out, a page needs an explicit grant or an open licence)"
            if any(m != "opt-out" for m in f.modes)
            else " (a page is kept unless a signal says no)"
        )
        + "</td></tr>",
        "<tr><th>Contact</th><td id='contact'>"
        + (_link(f.contact_url) if f.contact_url else "see the user-agent")
        + "</td></tr></table>",
        "<h2 id='honours'>What it honours</h2>",
        "<table><tr><th>Signal</th><th>Purposes</th><th>When</th><th>What counts</th></tr>",
    ]
    for std in STANDARDS:
        covered = [p for p in f.purposes if p in std.purposes]
        if not covered:
            continue
        parts.append(
            f"<tr data-signal='{_e(std.name)}'><td>{_link(std.url, std.name)}</td>"
            f"<td>{_e(', '.join(covered))}</td><td>{_e(std.when)}</td><td>{_e(std.what)}</td></tr>"
        )
    parts.append("</table>")
    extra = []
    if f.honor_noarchive:
        extra.append("<li><code>noarchive</code> and <code>nocache</code> exclude a page.</li>")
    if f.blocklists or f.private_blocklists:
        lists = ", ".join(_link(u) for u in f.blocklists)
        private = (
            f"{f.private_blocklists} private list{'s' if f.private_blocklists != 1 else ''}"
            if f.private_blocklists
            else ""
        )
        extra.append(
            "<li>Domains on these blocklists of persistently infringing sites (EU Code of "
            "Practice), and their subdomains, are never requested: "
            + ", ".join(x for x in (lists, private) if x)
            + ".</li>"
        )
    extra.append(
        "<li>Never fetches private, loopback or reserved addresses; bounds every download, "
        "timeout and redirect chain; honours <code>Crawl-delay</code> up to a limit.</li>"
    )
    parts.append("<ul>" + "".join(extra) + "</ul>")
    parts += _opt_out(f)
    parts.append(
        "<h2 id='changes'>Changes</h2><p>Changes to this page are announced in the "
        f"<a href='{ATOM_NAME}'>Atom feed</a>.</p>"
    )
    return "\n".join(parts)


def render_page(facts: CrawlerFacts, *, first: str = "", last: str = "") -> str:
    """The page as HTML text; ``first``/``last`` are the dates of the first and newest
    version (RFC 3339), shown on the page (empty: not shown)."""
    dates = (
        f"Page version of {_e(last)} (first published {_e(first)})."
        if first and last
        else _DATE_SLOT
    )
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>\n"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>\n"
        f"<title>{_e(facts.product_token)}: crawler information</title>\n"
        f"<link rel='alternate' type='application/atom+xml' href='{ATOM_NAME}' "
        "title='Changes to this page'>\n"
        f"<style>{_CSS}</style></head><body>\n{_body(facts, dates)}\n</body></html>\n"
    )


def _version_of(facts: CrawlerFacts) -> str:
    return hashlib.sha256(render_page(facts).encode("utf-8")).hexdigest()


# --- state and feed ---------------------------------------------------------------------


def _read_state(path: Path) -> list[dict[str, Any]]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e}") from None
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as e:
        raise ConfigError(
            f"{path} is not valid JSON ({e}); move it aside to start the feed over"
        ) from None
    if not isinstance(data, dict):
        data = {}
    versions = data.get("versions")
    if data.get("format") != _STATE_FORMAT or not isinstance(versions, list):
        raise ConfigError(f"{path} is not a heed crawler-page state file (format {_STATE_FORMAT})")
    for n, v in enumerate(versions, 1):
        ok = (
            isinstance(v, dict)
            and isinstance(v.get("sha256"), str)
            and re.fullmatch(r"[0-9a-f]{64}", v["sha256"]) is not None
            and isinstance(v.get("updated"), str)
            and _parse_time(v["updated"]) is not None
            and isinstance(v.get("changes"), list)
            and all(isinstance(c, str) for c in v["changes"])
            and isinstance(v.get("facts"), dict)
        )
        if not ok:
            raise ConfigError(f"{path}: version {n} is damaged (sha256, updated, changes, facts)")
    return versions


def _parse_time(text: str) -> datetime | None:
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        return None
    return t if t.tzinfo is not None else None


def _changes(old: Mapping[str, Any] | None, new: CrawlerFacts) -> list[str]:
    if old is None:
        return ["First version of this page."]
    labels = {
        "product_token": "product token",
        "user_agent": "user-agent",
        "contact_url": "contact URL",
        "purposes": "purposes",
        "modes": "mode",
        "ai_agents": "AI crawler tokens honoured",
        "honor_noarchive": "noarchive honoured",
        "registry_url": "consent registry",
        "registry_private": "private consent registry",
        "registry_spawning": "Spawning registry consulted",
        "blocklists": "blocklists",
        "private_blocklists": "private blocklists",
        "engine_versions": "heed version",
    }
    out = []
    for key, value in new.as_dict().items():
        before = old.get(key)
        if before == value:
            continue
        label = labels.get(key, key)
        if isinstance(value, list) and isinstance(before, list):
            added = [x for x in value if x not in before]
            removed = [x for x in before if x not in value]
            bits = ([f"added {', '.join(map(str, added))}"] if added else []) + (
                [f"removed {', '.join(map(str, removed))}"] if removed else []
            )
            out.append(f"{label}: {'; '.join(bits) or 'reordered'}")
        else:
            out.append(f"{label}: {_show(before)} → {_show(value)}")
    return out or ["The page's wording changed."]


def _show(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "none"
    if value in ("", None):
        return "none"
    return str(value)


def _uuid_urn(text: str) -> str:
    return uuid.UUID(bytes=hashlib.sha256(text.encode("utf-8")).digest()[:16], version=5).urn


def _atom(facts: CrawlerFacts, versions: Sequence[Mapping[str, Any]]) -> bytes:
    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        el = ET.SubElement(parent, tag, attrs)
        if text is not None:
            el.text = text
        return el

    token = facts.product_token
    # Plain names with an xmlns attribute: ET's own prefixes (ns0:) are valid but unkind.
    feed = ET.Element("feed", {"xmlns": _ATOM_NS})
    sub(feed, "id", _uuid_urn(f"heed crawler page {token.lower()}"))
    sub(feed, "title", f"{token}: changes to the crawler information page")
    sub(feed, "updated", versions[-1]["updated"])
    author = sub(feed, "author")
    sub(author, "name", f"The operator of {token}")
    if facts.contact_url:
        sub(author, "uri", facts.contact_url)
        sub(feed, "link", rel="alternate", type="text/html", href=facts.contact_url)
    generator = sub(feed, "generator", "heed")
    if facts.engine_versions:
        generator.set("version", facts.engine_versions[-1])
    for n, v in reversed(list(enumerate(versions, 1))):
        entry = sub(feed, "entry")
        sub(entry, "id", _uuid_urn(f"heed crawler page {token.lower()} {v['sha256']}"))
        sub(entry, "title", f"Version {n} of the crawler page")
        sub(entry, "updated", v["updated"])
        if facts.contact_url:
            sub(entry, "link", rel="alternate", type="text/html", href=facts.contact_url)
        sub(entry, "summary", " ".join(v["changes"]), type="text")
        content = sub(entry, "content", type="xhtml")
        div = ET.SubElement(content, "div", {"xmlns": "http://www.w3.org/1999/xhtml"})
        ul = ET.SubElement(div, "ul")
        for change in v["changes"]:
            ET.SubElement(ul, "li").text = change
        ET.SubElement(div, "p").text = f"sha256 {v['sha256']}"
    body = ET.tostring(feed, encoding="unicode")
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + body.encode("utf-8") + b"\n"


def _write(path: Path, data: bytes) -> None:
    try:
        publish_bytes(path, data)
    except OSError as e:
        raise OutputWriteError(f"cannot write {path}: {e}") from None


def write_crawler_page(
    run_infos: Sequence[Mapping[str, Any]],
    out_dir: str | Path,
    *,
    now: datetime | None = None,
) -> CrawlerPageResult:
    """Write ``crawler.html``, ``crawler.atom`` and ``crawler.versions.json`` into ``out_dir``.

    A new feed entry is added when the page differs from the newest version recorded in the
    state file; an unchanged page rewrites the same files with the same content.

    Raises:
        ConfigError: the runs cannot be read or name several crawlers; the state file is
            damaged or not heed's (it is never overwritten then).
        OutputWriteError: a file cannot be written.
    """
    when = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    facts = facts_from_runs(run_infos)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputWriteError(f"cannot create {out}: {e}") from None
    state_path = out / STATE_NAME
    versions = _read_state(state_path)
    if versions and versions[-1]["facts"].get("product_token") != facts.product_token:
        raise ConfigError(
            f"{state_path} records the page of {versions[-1]['facts'].get('product_token')!r}, "
            f"not {facts.product_token!r}: use another folder for another crawler"
        )
    version = _version_of(facts)
    new = not versions or versions[-1]["sha256"] != version
    if new:
        versions.append(
            {
                "sha256": version,
                "updated": when.isoformat(),
                "changes": _changes(versions[-1]["facts"] if versions else None, facts),
                "facts": facts.as_dict(),
            }
        )
    page = render_page(facts, first=versions[0]["updated"], last=versions[-1]["updated"])
    state = {"format": _STATE_FORMAT, "versions": versions}
    _write(out / PAGE_NAME, page.encode("utf-8"))
    _write(out / ATOM_NAME, _atom(facts, versions))
    _write(state_path, (json.dumps(state, indent=1, ensure_ascii=False) + "\n").encode("utf-8"))
    return CrawlerPageResult(
        page=out / PAGE_NAME,
        feed=out / ATOM_NAME,
        state=state_path,
        version=version,
        new_version=new,
        versions=len(versions),
    )
