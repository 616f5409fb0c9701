"""Visible-text extraction from an lxml tree, for ``html.extract`` (SPEC.md §6 ``text``).

Kept apart from ``html.py`` so each stays small. ``visible_text`` works in C as far as lxml
allows: the skipped elements (``script``, ``style``, ...) are removed with their subtrees
(keeping their tails), a newline is put before and after each block element, and the text
is serialised in one call. That yields exactly the string the element walk
(``walk_text``, iterative so deep nesting cannot exhaust the Python stack) builds; the walk is
still used for a tree whose text exceeds ``MAX_TEXT_CHARS``, where it stops adding text.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from ._html_parse import _XML_BAD

__all__ = ["MAX_TEXT_CHARS", "visible_text", "walk_text"]

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
_SKIP_TAGS = tuple(sorted(_SKIP))
_BLOCK_TAGS = tuple(sorted(_BLOCK))


def _tag(element: Any) -> str:
    tag = element.tag
    return tag.lower() if isinstance(tag, str) else ""


def _collapse(raw: str) -> str:
    lines = (" ".join(line.split()) for line in raw.split("\n"))
    return "\n".join(line for line in lines if line)


def walk_text(root: Any) -> str:
    """The visible text under ``root`` by an element walk (the reference for ``visible_text``)."""
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
    return _collapse("".join(parts))


def _storable(text: str | None) -> str:
    """``text`` with what lxml refuses to store read as spaces: a character reference to a
    control character (``&#1;``) is parsed into the character, which lxml then will not set
    as text again (and the failed set has already dropped the old text)."""
    return _XML_BAD.sub(" ", text or "")


def visible_text(root: Any) -> str:
    """The visible text under ``root``: whitespace collapsed, block elements on new lines.

    Modifies ``root`` (skipped elements are removed, newlines added around blocks): call it
    last on a tree. Tag names are matched in lower case, as lxml's HTML parser gives them.
    """
    if _tag(root) in _SKIP:
        return ""
    etree.strip_elements(root, *_SKIP_TAGS, with_tail=False)
    for element in root.iter(*_BLOCK_TAGS):
        text, tail = element.text, element.tail
        try:
            element.text = "\n" + text if text else "\n"
        except ValueError:  # see _storable
            element.text = "\n" + _storable(text)
        try:
            element.tail = "\n" + tail if tail else "\n"
        except ValueError:
            element.tail = "\n" + _storable(tail)
    raw = etree.tostring(root, method="text", encoding=str, with_tail=False)
    if len(raw) > MAX_TEXT_CHARS:
        return walk_text(root)
    return _collapse(raw)
