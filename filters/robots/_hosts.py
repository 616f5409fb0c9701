"""Hosts named in a robots.txt: the host of its own URL, and whether an absolute-URL rule's
host (``Disallow: https://www.example.org/private/``, possibly with ``*``) is that host.

Private to ``filters/robots/`` (``_grammar.py`` reads such rules; ``aitxt.py`` shares
``url_host``). Pure: strings in, answers out.
"""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = ["glob", "same_host", "url_host"]


def url_host(url: str) -> str | None:
    """The host of a document's URL (lower-case), or None when it has none or is unparsable."""
    try:
        return urlsplit(url).hostname or None
    except ValueError:
        return None


def same_host(named: str, host: str) -> bool:
    """Whether the host ``named`` in a rule is ``host`` (case, a final dot, ``www.`` aside)."""

    def bare(name: str) -> str:
        name = name.lower().rstrip(".")
        return name[4:] if name.startswith("www.") else name

    named, host = bare(named), bare(host)
    if "*" not in named:
        return named == host
    return glob(named, host) or glob(named, "www." + host)


def glob(pattern: str, text: str) -> bool:
    """Whether ``text`` is ``pattern`` with each ``*`` standing for any characters.

    Linear: each piece between stars is found leftmost after the previous one (a regular
    expression of many ``.*`` would backtrack without end on a hostile host).
    """
    pieces = pattern.split("*")
    if len(pieces) == 1:
        return text == pattern
    first, last = pieces[0], pieces[-1]
    if len(text) < len(first) + len(last) or not text.startswith(first):
        return False
    if not text.endswith(last):
        return False
    pos, end = len(first), len(text) - len(last)
    for piece in pieces[1:-1]:
        found = text.find(piece, pos, end)
        if found < 0:
            return False
        pos = found + len(piece)
    return True
