"""Visible-text extraction from an lxml tree, for ``html.extract`` (SPEC.md §6 ``text``).

Kept apart from ``html.py`` so each stays small. The walk is iterative (``iterwalk``), so deep
nesting cannot exhaust the Python stack, and stops adding text after ``MAX_TEXT_CHARS``.
"""

from __future__ import annotations

from typing import Any

from lxml import etree  # type: ignore[import-untyped]

__all__ = ["MAX_TEXT_CHARS", "visible_text"]

#: Upper bound on extracted characters (more than any 10 MiB page holds as text).
MAX_TEXT_CHARS = 12 * 1024 * 1024

_SKIP = frozenset({"script", "style", "noscript", "template", "head", "title"})
_BLOCK = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "br", "caption", "dd", "details",
        "dialog", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form",
        "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "html", "li", "main", "nav", "ol",
        "p", "pre", "section", "summary", "table", "tbody", "td", "tfoot", "th", "thead",
        "tr", "ul",
    }
)  # fmt: skip


def _tag(element: Any) -> str:
    tag = element.tag
    return tag.lower() if isinstance(tag, str) else ""


def visible_text(root: Any) -> str:
    """The visible text under ``root``: whitespace collapsed, block elements on new lines."""
    parts: list[str] = []
    size = 0
    skipping = 0
    for event, element in etree.iterwalk(root, events=("start", "end", "comment", "pi")):
        if size > MAX_TEXT_CHARS:
            break
        if event in ("comment", "pi"):
            if not skipping and element.tail:
                parts.append(element.tail)
                size += len(element.tail)
            continue
        tag = _tag(element)
        if event == "start":
            if skipping or tag in _SKIP:
                skipping += 1
                continue
            if tag in _BLOCK:
                parts.append("\n")
            if element.text:
                parts.append(element.text)
                size += len(element.text)
            continue
        if skipping:
            skipping -= 1
            if skipping:
                continue
        elif tag in _BLOCK:
            parts.append("\n")
        if element.tail and element is not root:
            parts.append(element.tail)
            size += len(element.tail)
    lines = (" ".join(line.split()) for line in "".join(parts).split("\n"))
    return "\n".join(line for line in lines if line)
