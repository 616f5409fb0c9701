"""Simple URLs: the one definition of the URLs that every matcher reads alike.

A *simple* URL is ``http(s)://host[:port]/path`` where

* the scheme is ``http`` or ``https`` (any case);
* the host is ASCII letters, digits, ``.`` and ``-`` (no ``_``, no credentials, no brackets,
  nothing for IDNA to do) and the port, if any, 1-5 digits;
* the path starts with ``/`` but not with ``//`` (protego would read an authority there), does
  not start with ``/robots.txt`` in any case (always allowed, whatever the file says), and is
  made only of ``A-Z a-z 0-9 _ . ~ / = -`` (:data:`PATH_CHARS`): no query, no fragment, no
  ``%``.

On such a path RFC 9309 normalisation (``patterns.normalize_path``) changes nothing, protego's
quoting changes nothing (so protego compares the path as written, as RFC 9309 does), every
path extractor (``patterns.url_path``, ``robots._match.match_path``, ``tdmrep``) returns the
path itself, and lower-casing changes only its letters. The path classes
(``engine/_pathclass.py``) are computed for simple URLs only; ``robots/_protego.py`` skips its
RFC 9309 cross-check for paths of :data:`PATH_CHARS`; the registry's
``parse_simple_for_match(origin, path)`` takes the two parts :func:`split_simple` gives.

Definitions that look alike but differ on purpose, and so are kept where they are:

* ``registry/_url.py`` ``_FAST`` and ``_HOST_ONLY`` accept far more (``%`` escapes, queries,
  fragments, ``_`` in hosts): they are fast paths of the *full* URL normalisation, and each
  only has to agree with ``urlsplit``, not with protego.
* ``tdmrep._SIMPLE_URL`` accepts any absolute ASCII URL without ``%``: it only extracts the
  path and query that ``patterns.url_path`` would give.
"""

from __future__ import annotations

import re

__all__ = ["ORIGIN", "PATH_CHARS", "PATH_CHAR_SET", "is_verbatim", "split_simple"]

#: The characters of a simple path, as the body of a regular-expression class (``-`` last).
PATH_CHAR_SET = r"A-Za-z0-9_.~/=-"
#: One character of a simple path (a regular-expression class).
PATH_CHARS = f"[{PATH_CHAR_SET}]"
#: The origin of a simple URL as group 1, then (looking ahead) the start of a simple path: a
#: regular-expression piece that callers may extend (``_pathclass`` appends its prefixes).
ORIGIN = (
    r"([Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?)"
    r"(?=/(?!/|[Rr][Oo][Bb][Oo][Tt][Ss]\.[Tt][Xx][Tt]))"
)

_VERBATIM = re.compile(PATH_CHARS + "*").fullmatch
_SIMPLE = re.compile(ORIGIN + PATH_CHARS + "*").fullmatch


def is_verbatim(text: str) -> bool:
    """Whether ``text`` is made only of :data:`PATH_CHARS` (the empty text too).

    Neither RFC 9309 normalisation nor protego's quoting changes such a text.
    """
    return _VERBATIM(text) is not None


def split_simple(url: str) -> tuple[str, str] | None:
    """``(origin, path)`` of a simple URL (see the module docstring), or None."""
    found = _SIMPLE(url)
    if found is None:
        return None
    end = found.end(1)
    return url[:end], url[end:]
