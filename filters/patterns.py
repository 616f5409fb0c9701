"""RFC 9309 path patterns (``*`` and ``$``), shared by every signal that matches URL paths.

robots.txt itself is matched by protego (wrapped in ``robots/``); TDMRep ``location``,
RSL ``<content url>`` and the path of a ``Content-Usage`` rule use this module, so all of them
match exactly the way robots.txt does (RFC 9309 §2.2.2-§2.2.3).

:class:`PathPatterns` is what each site-document policy tells the engine's path classes
(``engine/_pathclass.py``) through its ``path_patterns()`` method: the patterns its answer for
a simple URL (``filters._simple_url``) depends on, so that the engine needs to know nothing of
the document's inner layout.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

__all__ = [
    "CACHE_MAX_CHARS",
    "NO_PATTERNS",
    "PathPatterns",
    "Pattern",
    "compile_pattern",
    "normalize_path",
    "url_path",
]

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PCT = re.compile(r"%([0-9A-Fa-f]{2})")


def _pct(match: re.Match[str]) -> str:
    octet = int(match.group(1), 16)
    # RFC 9309 §2.2.2: percent-encoded unreserved octets compare as the octet itself; all
    # others stay encoded, with upper-case hex so that %2f and %2F compare equal.
    return chr(octet) if octet in _UNRESERVED else "%" + match.group(1).upper()


#: Longer texts are not kept in the caches below: the caches bound the *number* of entries, so
#: a hostile robots.txt of 2 MiB lines could otherwise make them hold gigabytes.
CACHE_MAX_CHARS = 2048


def normalize_path(path: str) -> str:
    """Percent-encode non-ASCII octets (UTF-8) and normalise existing %XX escapes."""
    if len(path) > CACHE_MAX_CHARS:
        return _normalize(path)
    return _normalize_cached(path)


def _normalize(path: str) -> str:
    if path.isascii():
        encoded = path
    else:
        encoded = "".join(
            ch if ord(ch) < 128 else "".join(f"%{b:02X}" for b in ch.encode("utf-8")) for ch in path
        )
    return _PCT.sub(_pct, encoded) if "%" in encoded else encoded


_normalize_cached = lru_cache(maxsize=65536)(_normalize)


@lru_cache(maxsize=1024)
def url_path(url: str) -> str:
    """The path and query of ``url`` (``/`` when empty), normalised for matching.

    Cached: one decision asks for the same URL's path in several signal modules.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "/"
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return normalize_path(path)


class Pattern:
    """A compiled RFC 9309 pattern; ``length`` is its octet length, used for longest match."""

    __slots__ = ("_prefix", "_regex", "length", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        norm = normalize_path(text)
        self.length = len(norm)
        if "*" not in norm and not norm.endswith("$"):
            self._prefix: str | None = norm
            self._regex: re.Pattern[str] | None = None
        else:
            anchored = norm.endswith("$")
            body = norm[:-1] if anchored else norm
            rx = ".*?".join(re.escape(piece) for piece in body.split("*"))
            self._prefix = None
            self._regex = re.compile(rx + ("$" if anchored else ""), re.DOTALL)

    @property
    def prefix(self) -> str | None:
        """The normalised text when this is a plain prefix pattern (no ``*``, no ``$``)."""
        return self._prefix

    @property
    def regex(self) -> re.Pattern[str] | None:
        """The compiled expression when this is not a plain prefix pattern."""
        return self._regex

    def matches(self, path: str) -> bool:
        """Whether the (already normalised) ``path`` matches this pattern from its start."""
        if self._prefix is not None:
            return path.startswith(self._prefix)
        assert self._regex is not None  # invariant of __init__, not input validation
        return self._regex.match(path) is not None

    def __repr__(self) -> str:
        return f"Pattern({self.text!r})"


_compile_cached = lru_cache(maxsize=8192)(Pattern)


def compile_pattern(text: str) -> Pattern:
    """A ``Pattern`` for ``text``, cached unless ``text`` is longer than ``CACHE_MAX_CHARS``."""
    return Pattern(text) if len(text) > CACHE_MAX_CHARS else _compile_cached(text)


@dataclass(frozen=True, slots=True)
class PathPatterns:
    """The path patterns a site document's answer for a simple URL depends on.

    The promise of a policy's ``path_patterns()``: two simple URLs (``filters._simple_url``)
    of one origin whose paths match the same patterns of ``exact`` (the path as is) and the
    same patterns of ``lower`` (the lower-cased path) get the same answer from the document.
    A policy that cannot promise this returns None instead (its URLs are evaluated in full).
    """

    exact: tuple[Pattern, ...] = ()
    lower: tuple[Pattern, ...] = ()


#: A document whose answer does not depend on the path at all (absent, unreachable ...).
NO_PATTERNS = PathPatterns()
