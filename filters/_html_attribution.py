"""Who wrote a page, who published it, when, and in what language (records' attribution).

``AttributionCollector`` is fed by ``html._Collector`` during its one pass over the document:
each ``<meta>`` (``name``, ``property``, ``http-equiv``), each JSON-LD object already parsed for
licences, and the root's ``lang``. ``result()`` gives a frozen ``Attribution``. Nothing here
parses markup again, and nothing raises on content: a value that cannot be used is dropped.

Sources, first usable value wins (the order is the choice; also in docs/output.md):

* ``author``: JSON-LD ``author`` (a string, or the ``name`` of an object, also one referenced
  by ``@id`` inside the same ``@graph``), then ``<meta name=author>``, then OpenGraph
  ``article:author`` (often a profile URL; kept as given). Several authors in the winning
  source are joined with ``"; "`` in document order, duplicates dropped, at most 16.
* ``publisher``: JSON-LD ``publisher`` (as ``author``), then ``<meta name=publisher>`` /
  ``dc.publisher`` / ``dcterms.publisher``.
* ``site_name``: ``og:site_name``, then the ``name`` of a JSON-LD ``WebSite`` object.
* ``published_at``: JSON-LD ``datePublished``, then ``article:published_time``, then
  ``<meta name=date>`` / ``dc.date`` / ``dcterms.created`` / ``dcterms.date``; normalised by
  ``_iso_date`` (a string, see there).
* ``language``: ``<html lang>`` (or ``xml:lang``), then JSON-LD ``inLanguage``, then
  ``<meta http-equiv=content-language>`` (its first tag), then ``og:locale``; a BCP 47 tag
  in its usual case (``en``, ``pt-BR``, ``zh-Hant-TW``); anything else is dropped.

Hostile input: every value has control characters and lone surrogates replaced by spaces and
U+FFFD, whitespace collapsed, and is cut at ``MAX_CHARS`` characters; JSON-LD is read only at
the levels named above (top-level objects and ``@graph`` members, and one level into
``author``/``publisher``), so nesting depth costs nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = ["MAX_CHARS", "Attribution", "AttributionCollector"]

#: The longest value kept (characters); longer values are cut there.
MAX_CHARS = 300
_MAX_NAMES = 16
_SEP = "; "

_BAD_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ufffe\uffff]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_TIDY = re.compile(r"\S+(?: \S+)*")
_LANG = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")
_DATE = re.compile(
    r"(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})"
    r"(?:[T ](?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,]\d+)?)?"
    r"\s*(?P<tz>Z|[+-]\d{2}:?\d{2})?)?)?)?"
)
_MIN_YEAR, _MAX_YEAR = 1900, 2200

_META_AUTHOR_ORDER = ("author", "dc.creator", "dcterms.creator")
_META_PUBLISHER_ORDER = ("publisher", "dc.publisher", "dcterms.publisher")
_META_DATE_ORDER = ("date", "dc.date", "dc.date.issued", "dcterms.created", "dcterms.date")


@dataclass(frozen=True, slots=True)
class Attribution:
    """A page's attribution; each field None when the page does not say (or says garbage)."""

    author: str | None = None
    publisher: str | None = None
    site_name: str | None = None
    published_at: str | None = None
    language: str | None = None


def clean(value: object) -> str | None:
    """``value`` as one bounded line of text, or None when it is not a non-blank string."""
    if not isinstance(value, str):
        return None
    if len(value) <= MAX_CHARS and value.isprintable() and _TIDY.fullmatch(value):
        return value  # the usual case: nothing to replace, collapse or cut
    value = _BAD_CHARS.sub(" ", value[: MAX_CHARS * 4])
    value = _SURROGATE.sub("\ufffd", value)
    text = " ".join(value.split())[:MAX_CHARS].rstrip()
    return text or None


def _join(names: list[str]) -> str | None:
    """Cleaned, non-blank ``names`` joined (duplicates dropped); None when none is left."""
    cleaned = (clean(name) for name in names)
    unique = list(dict.fromkeys(name for name in cleaned if name is not None))[:_MAX_NAMES]
    return clean(_SEP.join(unique)) if unique else None


def language_tag(value: object) -> str | None:
    """A BCP 47 tag in its conventional case, from the first tag of ``value``; else None."""
    text = clean(value)
    if text is None:
        return None
    first = text.replace("_", "-").split(",", 1)[0].split(";", 1)[0].strip()
    if not _LANG.fullmatch(first) or len(first) > 35:
        return None
    parts = first.split("-")
    out = [parts[0].lower()]
    for part in parts[1:]:
        if len(part) == 2 and part.isalpha():
            out.append(part.upper())
        elif len(part) == 4 and part.isalpha():
            out.append(part.title())
        else:
            out.append(part.lower())
    return "-".join(out)


def iso_date(value: object) -> str | None:
    """A publication date as an ISO 8601 string, or None.

    ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` when the page gives no more; a date with a time
    and an offset becomes UTC, ``YYYY-MM-DDTHH:MM:SSZ``; a time without an offset is local to
    an unknown zone, so only its date is kept. Years outside 1900–2200, impossible dates and
    anything that is not such a prefix (``"yesterday"``, ``"05/01/2024"``) give None.
    """
    text = clean(value)
    if text is None:
        return None
    found = _DATE.match(text)
    if found is None or found.end() != len(text):
        return None
    g = found.groupdict()
    year = int(g["y"])
    if not _MIN_YEAR <= year <= _MAX_YEAR:
        return None
    try:
        if g["m"] is None:
            return f"{year:04d}"
        if g["d"] is None:
            datetime(year, int(g["m"]), 1)
            return f"{year:04d}-{g['m']}"
        day = datetime(year, int(g["m"]), int(g["d"]))
        if g["H"] is None or g["tz"] is None:
            if g["H"] is not None:
                datetime(year, day.month, day.day, int(g["H"]), int(g["M"]), int(g["S"] or 0))
            return day.strftime("%Y-%m-%d")
        tz = "+00:00" if g["tz"] == "Z" else g["tz"]
        if ":" not in tz:
            tz = f"{tz[:3]}:{tz[3:]}"
        stamp = datetime.fromisoformat(
            f"{day:%Y-%m-%d}T{g['H']}:{g['M']}:{g['S'] or '00'}{tz}"
        ).astimezone(UTC)
    except ValueError:
        return None
    if not _MIN_YEAR <= stamp.year <= _MAX_YEAR:
        return None
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def _names(value: Any, ids: dict[str, dict[str, Any]]) -> list[str]:
    """The names in a JSON-LD ``author``/``publisher`` value (string, object, list of them)."""
    out: list[str] = []
    items = value if isinstance(value, list) else [value]
    for item in items[: _MAX_NAMES * 4]:
        if isinstance(item, dict):
            name = item.get("name")
            ref = item.get("@id")
            if name is None and isinstance(ref, str) and ref in ids:
                name = ids[ref].get("name")
            if isinstance(name, list):
                name = next((n for n in name if isinstance(n, str)), None)
            if isinstance(name, dict):
                name = name.get("@value")
        else:
            name = item
        text = clean(name)
        if text is not None:
            out.append(text)
    return out


def _types(node: dict[str, Any]) -> set[str]:
    kind = node.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    return {k.rsplit("/", 1)[-1].lower() for k in kinds if isinstance(k, str)}


class AttributionCollector:
    """Collects attribution candidates during ``html._Collector``'s single pass."""

    __slots__ = ("_json", "_lang", "_meta")

    def __init__(self) -> None:
        self._meta: dict[str, list[str]] = {}
        self._json: dict[str, str] = {}
        self._lang: str | None = None

    def root(self, element: Any) -> None:
        """The document's root element (its ``lang``)."""
        if self._lang is None:
            lang = element.get("lang") or element.get("{http://www.w3.org/XML/1998/namespace}lang")
            self._lang = language_tag(lang)

    def meta(self, name: str, element: Any) -> None:
        """One ``<meta>``; ``name`` is its lower-case, stripped ``name`` attribute."""
        key = name
        if not key:
            prop = element.get("property")
            if isinstance(prop, str):
                key = prop.strip().lower()
            else:
                equiv = element.get("http-equiv")
                if not isinstance(equiv, str) or equiv.strip().lower() != "content-language":
                    return
                key = "content-language"
        if key in _WANTED:  # kept raw: only the winning source is cleaned, in result()
            content = element.get("content")
            values = self._meta.setdefault(key, [])
            if isinstance(content, str) and len(values) < _MAX_NAMES:
                values.append(content)

    def jsonld(self, nodes: list[dict[str, Any]]) -> None:
        """The top-level and ``@graph`` objects of one JSON-LD script, in document order."""
        ids = {n["@id"]: n for n in nodes if isinstance(n.get("@id"), str)}
        for node in nodes:
            for field in ("author", "publisher"):
                if field not in self._json and field in node:
                    joined = _join(_names(node[field], ids))
                    if joined is not None:
                        self._json[field] = joined
            for field, read in (("datePublished", iso_date), ("inLanguage", _in_language)):
                if field not in self._json and field in node:
                    value = read(node[field])
                    if value is not None:
                        self._json[field] = value
            if "website" not in self._json and "website" in _types(node):
                name = clean(node.get("name"))
                if name is not None:
                    self._json["website"] = name

    def result(self) -> Attribution:
        meta, js = self._meta, self._json
        return Attribution(
            author=js.get("author")
            or _join(_first(meta, *_META_AUTHOR_ORDER))
            or _join(meta.get("article:author", [])),
            publisher=js.get("publisher") or _join(_first(meta, *_META_PUBLISHER_ORDER)),
            site_name=_one(meta.get("og:site_name")) or js.get("website"),
            published_at=js.get("datePublished")
            or _first_date(meta.get("article:published_time"))
            or _first_date(_first(meta, *_META_DATE_ORDER)),
            language=self._lang
            or js.get("inLanguage")
            or _first_lang(meta.get("content-language"))
            or _first_lang(meta.get("og:locale")),
        )


_WANTED = frozenset(
    {"article:author", "og:site_name", "article:published_time", "content-language", "og:locale"}
    | set(_META_AUTHOR_ORDER)
    | set(_META_PUBLISHER_ORDER)
    | set(_META_DATE_ORDER)
)


def _in_language(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("alternateName") or value.get("name")
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str)), None)
    return language_tag(value)


def _first(meta: dict[str, list[str]], *keys: str) -> list[str]:
    """The values of the first of ``keys`` that the page gives a non-blank value."""
    for key in keys:
        if any(clean(v) is not None for v in meta.get(key, ())):
            return meta[key]
    return []


def _one(values: list[str] | None) -> str | None:
    return next((c for c in map(clean, values or ()) if c is not None), None)


def _first_date(values: list[str] | None) -> str | None:
    for value in values or ():
        date = iso_date(value)
        if date is not None:
            return date
    return None


def _first_lang(values: list[str] | None) -> str | None:
    for value in values or ():
        tag = language_tag(value)
        if tag is not None:
            return tag
    return None
