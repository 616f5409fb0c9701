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
is not heed's raise ``ConfigError`` naming what is wrong; nothing is written then. The facts
are read in ``_crawler_facts.py``, the versions file and the feed built in ``_crawler_feed.py``.
"""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crawler._output_parts import publish_bytes
from crawler.errors import OutputWriteError
from filters import ConfigError

from ._crawler_facts import _AI, STANDARDS, CrawlerFacts, facts_from_runs
from ._crawler_feed import STATE_FORMAT, atom_feed, changes, read_state

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
#: Stands in for the dates while a version's hash is computed.
_DATE_SLOT = "\x00DATE\x00"


@dataclass(frozen=True, slots=True)
class CrawlerPageResult:
    """What ``write_crawler_page`` wrote."""

    page: Path
    feed: Path
    state: Path
    version: str
    new_version: bool
    versions: int


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
    versions = read_state(state_path)
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
                "changes": changes(versions[-1]["facts"] if versions else None, facts),
                "facts": facts.as_dict(),
            }
        )
    page = render_page(facts, first=versions[0]["updated"], last=versions[-1]["updated"])
    state = {"format": STATE_FORMAT, "versions": versions}
    _write(out / PAGE_NAME, page.encode("utf-8"))
    _write(out / ATOM_NAME, atom_feed(facts, versions))
    _write(state_path, (json.dumps(state, indent=1, ensure_ascii=False) + "\n").encode("utf-8"))
    return CrawlerPageResult(
        page=out / PAGE_NAME,
        feed=out / ATOM_NAME,
        state=state_path,
        version=version,
        new_version=new,
        versions=len(versions),
    )
