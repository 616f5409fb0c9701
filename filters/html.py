"""HTML sniffing and the signals a page carries in its markup (SPEC.md §3.8, §4).

``is_html`` applies SPEC.md §3.8's sniffing rule exactly; ``extract`` parses a body once with
``lxml.html`` and returns every signal heed reads from it as a frozen ``HtmlSignals``: robots
and bot-named metas (for ``xrobots.evaluate_meta``), TDMRep metas (§3.5 step 3), licence
candidates as absolute URLs (§4; normalisation to SPDX happens elsewhere), RSL links (§3.9),
links to follow, the visible text and the title, and the page's attribution (author,
publisher, site name, publication date, language: ``_html_attribution``, fed by the same
pass). ``link_header_licenses`` reads licence
candidates from ``Link`` headers (§3.7).

Never raises on content. A page that cannot be read at all comes back with ``error`` set (the
engine turns it into ``html.unparseable``, which always excludes); smaller problems are noted in
``diagnostics``. Choices where SPEC.md is silent (conservative; also in docs/signals-headers.md):

* sniffing skips a UTF-8 byte-order mark as well as whitespace, and accepts any whitespace
  between ``<!doctype`` and ``html``; a UTF-16 body (BOM or HTTP ``charset``) is sniffed on its
  decoded text; an empty ``Content-Type`` counts as none;
* decoding: the HTML Standard's sniffing (``_html_encoding``: BOM, HTTP ``charset``, ``<meta>``
  prescan, UTF-8). When only the HTTP header says UTF-16, the metas of a UTF-8 reading count
  too. Only the first ``MAX_PARSE_BYTES`` are parsed;
* characters the XML layer under lxml rejects (C0 controls but tab, LF, CR; U+FFFE, U+FFFF,
  lone surrogates) are read as spaces, so ``<meta\x0bname=robots content=noai>`` still counts;
* lxml's parser first; if it fails, html5lib (HTML5 tree building, into an lxml tree); if both
  fail, or the decoded text is mostly not text (a third or more of its first 8,192 characters
  are U+FFFD or C0 controls: binary, compressed or mis-declared bytes), the page is unreadable;
* metas count wherever the parser puts them; lxml drops what follows ``</html>``, so that tail
  is parsed again on its own;
* ``<base href>`` is honoured when resolving URLs;
* ``rel=license`` with ``type="application/rsl+xml"`` on ``a``/``area`` is treated as an RSL
  link too (never as a plain licence);
* JSON-LD ``license`` is read from top-level objects and ``@graph`` members only: a nested
  object's licence (an embedded image's, say) is not the page's;
* ``dcterms.license`` / ``DC.rights`` (any case; also ``dc.license``, ``dcterms.rights``)
  count only when the content is an absolute http(s) URL.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

from lxml import etree

from ._html_attribution import Attribution, AttributionCollector
from ._html_encoding import decode, encoding_name, http_charset
from ._html_parse import after_html, tree
from ._html_text import visible_text
from ._html_urls import defrag, resolve_href

__all__ = [
    "MAX_PARSE_BYTES",
    "RSL_TYPE",
    "Attribution",
    "HtmlSignals",
    "extract",
    "is_html",
    "link_header_licenses",
    "media_type",
]

#: Bodies are parsed up to this many bytes (the default ``max_page_bytes``).
MAX_PARSE_BYTES = 10 * 1024 * 1024
RSL_TYPE = "application/rsl+xml"
_MAX_LINKS = 50_000
_MAX_CANDIDATES = 64

_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_SNIFF = re.compile(
    rb"[\t\n\x0c\r ]*(?:\xef\xbb\xbf[\t\n\x0c\r ]*)?<(?:!doctype[\t\n\x0c\r ]+html|html)", re.I
)
_SNIFF_TEXT = re.compile(r"[\t\n\x0c\r ]*<(?:!doctype[\t\n\x0c\r ]+html|html)", re.I)
_UTF16_CODECS = {"utf-16le": "utf-16-le", "utf-16be": "utf-16-be"}
_STRING = etree.XPath("string()", smart_strings=False)  # lxml.html text_content()
_NO_ATTRIBUTION = Attribution()
_META_LICENSE = frozenset({"dcterms.license", "dc.rights", "dcterms.rights", "dc.license"})


@dataclass(frozen=True, slots=True)
class HtmlSignals:
    """Everything ``extract`` reads from one HTML document (see the module docstring)."""

    metas: tuple[tuple[str, str], ...] = ()
    tdm_reservation: tuple[str, ...] = ()
    tdm_policy: tuple[str, ...] = ()
    license_links: tuple[str, ...] = ()
    rsl_links: tuple[str, ...] = ()
    jsonld_licenses: tuple[str, ...] = ()
    meta_licenses: tuple[str, ...] = ()
    links: tuple[str, ...] = ()
    text: str = ""
    title: str | None = None
    #: Author, publisher, site name, publication date and language (``_html_attribution``).
    attribution: Attribution = _NO_ATTRIBUTION
    diagnostics: tuple[str, ...] = ()
    #: Why the page could not be read at all (``html.unparseable``); None when it was read.
    error: str | None = None


@lru_cache(maxsize=256)
def media_type(content_type: str | None) -> str:
    """The lower-case media type of a ``Content-Type`` value, without parameters ("" if none)."""
    if not content_type:
        return ""
    return content_type.split(";", 1)[0].strip().lower()


def is_html(content_type: str | None, body: bytes) -> bool:
    """Whether a response counts as HTML (SPEC.md §3.8).

    True for ``text/html`` and ``application/xhtml+xml``; for ``text/plain`` or no type, true
    when the body starts (after whitespace) with ``<!doctype html`` or ``<html``.
    """
    kind = media_type(content_type)
    if kind in _HTML_TYPES:
        return True
    if kind not in ("", "text/plain"):
        return False
    if _SNIFF.match(body, 0, 4096) is not None:
        return True
    utf16 = _utf16(content_type, body)
    if utf16 is None:
        return False
    return _SNIFF_TEXT.match(body[:8192].decode(utf16, "replace").lstrip("\ufeff")) is not None


def _utf16(content_type: str | None, body: bytes) -> str | None:
    """The UTF-16 codec a body's BOM or HTTP ``charset`` names, else None."""
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return _UTF16_CODECS.get(encoding_name(http_charset(content_type)) or "")


def _attr(element: Any, name: str) -> str:
    value = element.get(name)
    return value if isinstance(value, str) else ""


def _base_url(root: Any, base_url: str) -> str:
    for base in root.iter("base"):
        href = resolve_href(base_url, _attr(base, "href"))
        if href:
            return href
        break
    return base_url


@lru_cache(maxsize=64)
def _our_names(product_token: str, ai_agents: tuple[str, ...]) -> frozenset[str]:
    """The meta names that speak to us (lower-case): computed once per run's token list."""
    return frozenset(n.lower() for n in (product_token, *ai_agents)) | {"robots"}


class _Collector:
    """Accumulates the signals of one document while its elements are visited once."""

    def __init__(self, base: str, product_token: str, ai_agents: Sequence[str]) -> None:
        self.base = base
        self.ours = _our_names(product_token, tuple(ai_agents))
        self.metas: list[tuple[str, str]] = []
        self.tdm_reservation: list[str] = []
        self.tdm_policy: list[str] = []
        self.licenses: list[str] = []
        self.rsl: list[str] = []
        self.jsonld: list[str] = []
        self.meta_licenses: list[str] = []
        self.links: dict[str, None] = {}
        self.notes: list[str] = []
        self.attribution = AttributionCollector()

    def meta(self, element: Any) -> None:
        name = _attr(element, "name").strip().lower()
        content = _attr(element, "content").strip()
        if name in self.ours:
            self.metas.append((name, content))
        elif name == "tdm-reservation":
            self.tdm_reservation.append(content)
        elif name == "tdm-policy":
            self.tdm_policy.append(content)
        elif name in _META_LICENSE and content.lower().startswith(("http://", "https://")):
            url = resolve_href(self.base, content)
            if url and len(self.meta_licenses) < _MAX_CANDIDATES:
                self.meta_licenses.append(url)
        else:
            self.attribution.meta(name, element)

    def rel_license(self, element: Any, tag: str) -> None:
        rel = element.get("rel")
        if not rel or "license" not in rel.lower().split():
            return
        url = resolve_href(self.base, _attr(element, "href"))
        if url is None:
            self.notes.append(f"rel=license on <{tag}> without a usable href")
            return
        rsl = media_type(_attr(element, "type")) == RSL_TYPE
        target = self.rsl if rsl else self.licenses
        if len(target) < _MAX_CANDIDATES:
            target.append(url)

    def anchor(self, element: Any) -> None:
        if len(self.links) >= _MAX_LINKS:
            return
        url = resolve_href(self.base, _attr(element, "href"))
        if url:
            self.links.setdefault(defrag(url), None)

    def jsonld_script(self, element: Any) -> None:
        if media_type(_attr(element, "type")) != "application/ld+json":
            return
        try:
            data = json.loads(element.text or "")
        except (ValueError, RecursionError):
            self.notes.append("unparseable JSON-LD")
            return
        nodes = list(_jsonld_nodes(data))
        self.attribution.jsonld(nodes)
        for url in _jsonld_licenses(nodes):
            resolved = resolve_href(self.base, url)
            if resolved and len(self.jsonld) < _MAX_CANDIDATES:
                self.jsonld.append(resolved)


def _jsonld_nodes(data: Any) -> Iterator[dict[str, Any]]:
    """Top-level objects and their ``@graph`` members (one level, as SPEC.md §4 names)."""
    tops = data if isinstance(data, list) else [data]
    for top in tops:
        if not isinstance(top, dict):
            continue
        yield top
        graph = top.get("@graph")
        for node in graph if isinstance(graph, list) else [graph]:
            if isinstance(node, dict):
                yield node


def _jsonld_licenses(nodes: list[dict[str, Any]]) -> Iterator[str]:
    for node in nodes:
        for key in ("license", "schema:license", "http://schema.org/license"):
            value = node.get(key)
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, str):
                    yield item
                elif isinstance(item, dict):
                    url = item.get("url") or item.get("@id")
                    if isinstance(url, str):
                        yield url


def _visit(root: Any, collector: _Collector) -> None:
    for element in root.iter("meta", "link", "a", "area", "script"):
        tag = element.tag
        if tag == "meta":
            collector.meta(element)
        elif tag == "script":
            collector.jsonld_script(element)
        else:
            collector.rel_license(element, tag)
            if tag == "a":
                collector.anchor(element)


def _title(root: Any) -> str | None:
    for title in root.iter("title"):
        text = " ".join(cast(str, _STRING(title)).split())  # string() with smart_strings off
        return text or None
    return None


def extract(
    body: bytes,
    base_url: str,
    *,
    product_token: str,
    ai_agents: Sequence[str],
    content_type: str | None = None,
) -> HtmlSignals:
    """Parse ``body`` once and return its signals, links, text and title (SPEC.md §3.8, §4).

    ``content_type`` is the response's ``Content-Type`` (its ``charset`` decides the decoding
    unless a BOM does). Never raises: an empty body gives an empty ``HtmlSignals`` with a note;
    a body that cannot be read gives one with ``error`` set.
    """
    notes: list[str] = []
    try:
        return _extract(body, base_url, product_token, ai_agents, content_type, notes)
    except Exception as e:  # whatever went wrong, the page was not read: it must not be kept
        notes.append(f"extraction failed: {type(e).__name__}")
        return HtmlSignals(diagnostics=tuple(notes), error=f"extraction failed: {e!r}"[:300])


def _extract(
    body: bytes,
    base_url: str,
    product_token: str,
    ai_agents: Sequence[str],
    content_type: str | None,
    notes: list[str],
) -> HtmlSignals:
    if len(body) > MAX_PARSE_BYTES:
        notes.append(f"parsed only the first {MAX_PARSE_BYTES} bytes")
        body = body[:MAX_PARSE_BYTES]
    decoded = decode(body, content_type)
    if decoded is None:
        unreadable = "declared encoding cannot be read (the Encoding Standard's replacement)"
        return HtmlSignals(diagnostics=tuple(notes), error=unreadable)
    root, error = tree(decoded.text, notes, decoded.clean)
    if error is not None:
        return HtmlSignals(diagnostics=tuple(notes), error=error)
    if root is None:
        return HtmlSignals(diagnostics=tuple(notes))
    collector = _Collector(_base_url(root, base_url), product_token, ai_agents)
    collector.attribution.root(root)
    _visit(root, collector)
    for tail in after_html(decoded.text):
        _read_more(tail, collector, notes, tails=False)
    if decoded.source == "http" and decoded.encoding in ("utf-16le", "utf-16be"):
        _read_more(body.decode("utf-8", "replace"), collector, notes, tails=True)
    title = _title(root)
    text = visible_text(root)  # last: it prunes the tree
    c = collector
    return HtmlSignals(
        metas=tuple(c.metas),
        tdm_reservation=tuple(c.tdm_reservation),
        tdm_policy=tuple(c.tdm_policy),
        license_links=tuple(c.licenses),
        rsl_links=tuple(c.rsl),
        jsonld_licenses=tuple(c.jsonld),
        meta_licenses=tuple(c.meta_licenses),
        links=tuple(c.links),
        text=text,
        title=title,
        attribution=c.attribution.result(),
        diagnostics=tuple(notes + c.notes),
    )


def _read_more(text: str, collector: _Collector, notes: list[str], *, tails: bool) -> None:
    """Add the signals of more markup (after ``</html>``; a UTF-8 reading) to ``collector``.

    Metas, licence and RSL links and links count there as in the page (the conservative
    reading); its text does not. Markup that cannot be read adds nothing: the page's own
    reading succeeded.
    """
    root, error = tree(text, [])
    if root is not None:
        _visit(root, collector)
    elif error is not None:
        notes.append(f"another reading unreadable: {error}")
    if tails:
        for tail in after_html(text):
            _read_more(tail, collector, notes, tails=False)


_LINK_VALUE = re.compile(r'<([^>]*)>((?:[^<"]|"(?:[^"\\]|\\.)*")*)')
_LINK_PARAM = re.compile(r';\s*([^\s=;,]+)\s*(?:=\s*("(?:[^"\\]|\\.)*"|[^;,\s]*))?')


@lru_cache(maxsize=4096)
def _link_entries(values: tuple[str, ...]) -> tuple[tuple[str, bool], ...]:
    """``(target, is_rsl)`` for each ``rel=license`` link-value (RFC 8288), unresolved."""
    found: list[tuple[str, bool]] = []
    for match in _LINK_VALUE.finditer(", ".join(values)):
        params: dict[str, str] = {}
        for name, value in _LINK_PARAM.findall(match.group(2)):
            params.setdefault(name.lower(), value.strip('"').strip())
        if "license" in params.get("rel", "").lower().split():
            found.append((match.group(1).strip(), media_type(params.get("type")) == RSL_TYPE))
    return tuple(found)


def link_header_licenses(
    values: Sequence[str], base_url: str
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Licence URLs from ``Link`` headers: (not RSL-typed, RSL-typed), absolute, in order."""
    if not values:
        return (), ()
    plain: list[str] = []
    rsl: list[str] = []
    for target, is_rsl in _link_entries(tuple(values)):
        url = resolve_href(base_url, target)
        if url:
            (rsl if is_rsl else plain).append(url)
    return tuple(plain), tuple(rsl)
