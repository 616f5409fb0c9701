"""Parsing decoded HTML into an lxml tree, whatever the bytes held (SPEC.md §3.8).

``tree`` reads characters libxml2 refuses (C0 controls but tab, LF and CR; U+FFFE, U+FFFF;
lone surrogates) as spaces, parses with lxml and falls back to html5lib; it says why a text is
unreadable instead of raising (``html.unparseable``: both parsers fail, or the text is mostly
not text). ``after_html`` gives the markup after each ``</html>``, where libxml2 stops
reading, so ``filters.html`` can read the metas and links that stand there too.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

__all__ = ["after_html", "tree"]

_XML_DECL = re.compile(r"^\s*<\?xml[^>]*>")
#: What libxml2/lxml refuse in a string: read as spaces (see the module docstring).
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
#: What "mostly not text" counts: replacement characters and C0 controls but whitespace.
_NOT_TEXT = re.compile("[\x00-\x08\x0b\x0e-\x1f\ufffd\ufffe\uffff]")
_NOT_TEXT_SAMPLE = 8192
_AFTER_HTML = re.compile(r"</html\s*>", re.I)
_PARSER = etree.HTMLParser()  # the options of lxml.html's parser, plain element classes


def _lxml(text: str) -> Any:
    # lxml.html.document_fromstring with a plain-element parser: the same libxml2 parse,
    # without a Python class lookup for every element proxy.
    root = etree.fromstring(text, _PARSER)
    if root is None:
        raise etree.ParserError("Document is empty")
    return root


def _html5lib(text: str) -> Any:
    import html5lib  # only for what lxml cannot parse

    parser = html5lib.HTMLParser(tree=html5lib.getTreeBuilder("lxml"), namespaceHTMLElements=False)
    return parser.parse(text).getroot()


def tree(text: str, notes: list[str], clean: bool = False) -> tuple[Any, str | None]:
    """The parsed tree of decoded ``text`` (None if blank) and why it is unreadable, if so.

    ``clean`` says the decoder saw none of the characters ``_NOT_TEXT`` and ``_XML_BAD`` find.
    """
    if not clean:
        sample = text[:_NOT_TEXT_SAMPLE]
        if _NOT_TEXT.search(sample) is not None:
            bad = len(_NOT_TEXT.findall(sample))
            if bad * 3 >= len(sample):
                return None, f"mostly not text: {bad} of the first {len(sample)} characters"
        if _XML_BAD.search(text) is not None:
            text = _XML_BAD.sub(" ", text)
    text = _XML_DECL.sub("", text, count=1)
    if not text.strip():
        notes.append("empty document")
        return None, None
    try:
        return _lxml(text), None
    except (etree.ParserError, ValueError, etree.XMLSyntaxError) as e:
        first = f"lxml: {type(e).__name__}"
    try:
        root = _html5lib(text)
    except Exception as e:  # the fallback's failure makes the page unreadable
        return None, f"{first}; html5lib: {type(e).__name__}"
    notes.append(f"{first}; read with html5lib")
    return root, None


def after_html(text: str) -> list[str]:
    """The markup after each ``</html>`` (libxml2 stops reading at the first one)."""
    found = _AFTER_HTML.search(text)
    if found is None:
        return []
    tail = text[found.end() :]
    if "<" not in tail:
        return []
    return [part for part in _AFTER_HTML.split(tail) if "<" in part]
