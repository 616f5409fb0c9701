"""Safe reading of RSL XML into plain frozen values, for ``rsl.py`` (SPEC.md §3.9).

lxml runs with no network, no DTD loading, no entity expansion and no huge-tree mode, so a
hostile document can neither reach the network nor expand entities. Elements are matched by
local name; inside an ``<rsl>`` root any namespace (or none) is accepted, inside an RSS or
Atom feed only elements in the RSL namespace count (RSL feeds use an ``rsl:`` prefix).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Final
from urllib.parse import urlsplit

from lxml import etree

from .patterns import Pattern, compile_pattern

__all__ = ["RSL_NAMESPACE", "RslContent", "RslLicense", "RslPayment", "RslTerm", "read_document"]

#: RSL 1.0's XML namespace.
RSL_NAMESPACE: Final = "https://rslstandard.org/rsl"

# Draft spellings of RSL usage tokens, read as their RSL 1.0 equivalents.
_ALIASES: Final[dict[str, str]] = {
    "train-ai": "ai-train",
    "train-genai": "ai-train",
    "ai-use": "ai-input",
}
_FEED_ROOTS: Final = frozenset({"rss", "feed", "rdf"})
_RAW_LIMIT: Final = 500


@dataclass(frozen=True, slots=True)
class RslTerm:
    """A ``<permits>`` or ``<prohibits>``: its type (usage/user/geo) and lower-case tokens."""

    type: str
    tokens: tuple[str, ...]
    raw: str


@dataclass(frozen=True, slots=True)
class RslPayment:
    """A ``<payment>``; ``free`` is True only for a free payment with no positive amount."""

    type: str | None
    free: bool
    raw: str


@dataclass(frozen=True, slots=True)
class RslLicense:
    """One ``<license>``: its terms, payments, and whether it limits who/where (user, geo)."""

    permits: tuple[RslTerm, ...]
    prohibits: tuple[RslTerm, ...]
    payments: tuple[RslPayment, ...]
    restricts_who: bool
    raw: str


@dataclass(frozen=True, slots=True)
class RslContent:
    """One ``<content>``: its ``url`` as written, the origin of an absolute url, the path
    pattern, the licence ``server`` if any, and its licences."""

    url: str
    origin: str | None
    server: str | None
    licenses: tuple[RslLicense, ...]
    pattern: Pattern = field(repr=False, compare=False)


def _local(element: etree._Element) -> str:
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1].lower()


def _namespace(element: etree._Element) -> str:
    tag = element.tag
    if not isinstance(tag, str) or not tag.startswith("{"):
        return ""
    return tag[1:].split("}", 1)[0]


def _raw(element: etree._Element) -> str:
    text = str(etree.tostring(element, encoding="unicode", with_tail=False))
    return text if len(text) <= _RAW_LIMIT else text[:_RAW_LIMIT] + "…"


def _children(element: etree._Element, name: str) -> list[etree._Element]:
    return [child for child in element if _local(child) == name]


def _tokens(text: str | None) -> tuple[str, ...]:
    words = (text or "").replace(",", " ").lower().split()
    return tuple(_ALIASES.get(word, word) for word in words)


def _text(element: etree._Element) -> str:
    """The text content of ``element`` (lxml gives ``str`` pieces for a parsed document)."""
    pieces = element.itertext()
    return "".join(p if isinstance(p, str) else p.decode("utf-8", "replace") for p in pieces)


def _term(element: etree._Element) -> RslTerm:
    # A missing type is read as "usage": for a prohibition that excludes more, and for a
    # permission it limits the use to the listed tokens.
    kind = (element.get("type") or "usage").strip().lower()
    return RslTerm(kind, _tokens(_text(element)), _raw(element))


def _positive(text: str) -> bool:
    try:
        return Decimal(text.strip()) > 0
    except (InvalidOperation, ValueError):
        return True  # an amount we cannot read may be a price


def _payment(element: etree._Element) -> RslPayment:
    kind = (element.get("type") or "").strip().lower() or None
    amounts = [a for a in element.iter() if _local(a) == "amount"]
    priced = any(_positive(_text(a)) for a in amounts)
    rate_card = any(_local(c) in ("standard", "custom") for c in element)
    free = not priced and (kind == "free" or (kind is None and not rate_card))
    return RslPayment(kind, free, _raw(element))


def _license(element: etree._Element) -> RslLicense:
    permits = tuple(_term(e) for e in _children(element, "permits"))
    prohibits = tuple(_term(e) for e in _children(element, "prohibits"))
    payments = tuple(_payment(e) for e in _children(element, "payment"))
    restricts = any(t.type != "usage" for t in permits + prohibits)
    return RslLicense(permits, prohibits, payments, restricts, _raw(element))


def _pattern_text(url: str) -> tuple[str | None, str]:
    """(origin or None, path pattern) of a content ``url`` attribute."""
    if "://" not in url:
        return None, url if url.startswith(("/", "*")) else "/" + url
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    return origin, (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _content(element: etree._Element, notes: list[str]) -> RslContent | None:
    url = (element.get("url") or "").strip()
    if not url:
        notes.append("<content> without url skipped")
        return None
    try:
        origin, pattern = _pattern_text(url)
    except ValueError:
        notes.append(f"<content url={url!r}> unreadable, skipped")
        return None
    server = (element.get("server") or "").strip() or None
    licenses = tuple(_license(e) for e in _children(element, "license"))
    return RslContent(url, origin, server, licenses, compile_pattern(pattern))


def _content_elements(root: etree._Element) -> list[etree._Element] | None:
    name = _local(root)
    if name == "rsl":
        return _children(root, "content")
    if name in _FEED_ROOTS:
        return [e for e in root.iter() if _local(e) == "content" and _namespace(e) == RSL_NAMESPACE]
    return None


def read_document(body: bytes) -> tuple[tuple[RslContent, ...], tuple[str, ...], bool]:
    """(contents, diagnostics, readable) of an RSL body; never raises on content."""
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        root = etree.fromstring(body.lstrip(b" \t\r\n"), parser)
    except (etree.XMLSyntaxError, ValueError) as exc:
        return (), (f"not well-formed XML: {str(exc)[:200]}",), False
    if root is None:
        return (), ("empty document",), False
    elements = _content_elements(root)
    if elements is None:
        return (), (f"root <{_local(root)}> is not <rsl> or a feed",), False
    notes: list[str] = []
    if _namespace(root) not in ("", RSL_NAMESPACE) and _local(root) == "rsl":
        notes.append(f"unexpected namespace {_namespace(root)!r} on <rsl>")
    contents = [c for c in (_content(e, notes) for e in elements) if c is not None]
    return tuple(contents), tuple(notes), True
