"""Links of a page made absolute, fast: ``urljoin``/``urldefrag`` with exact fast paths.

``resolve_href`` is what ``filters.html`` calls for every ``href``; ``fast_join`` and
``defrag`` answer the common simple shapes without ``urllib``'s general machinery and are
property-tested against ``urljoin``/``urldefrag`` (tests/filters/test_html_fast_paths.py).
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import urldefrag, urljoin, urlsplit

__all__ = ["defrag", "fast_join", "resolve_href"]

# Fast paths for ``urljoin``/``urldefrag`` on the common simple shapes, where they are
# provably identity-like: no ``;`` params, no ``.``/``..`` segments in a relative path, no
# empty ``?``/``#`` (which urlunparse would drop), no whitespace or controls, lower-case scheme.
_P = r"[A-Za-z0-9\-._~!$&'()*+,=:@%/]"  # path characters: sub-delims without ';'
_Q = r"[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]"  # query and fragment characters
_TAIL = rf"(?:\?{_Q}+)?(?:#{_Q}+)?"
_ROOTED = re.compile(rf"/(?!/){_P}*{_TAIL}\Z")
_ABSOLUTE = re.compile(rf"https?://[A-Za-z0-9\-.]+(?::[0-9]+)?(?:/{_P}*)?{_TAIL}\Z")


@lru_cache(maxsize=1024)
def _origin_prefix(base: str) -> str | None:
    """``scheme://netloc`` of an http(s) ``base`` as ``urljoin`` would rebuild it, or None."""
    try:
        parts = urlsplit(base)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def fast_join(base: str, href: str) -> str | None:
    """``urljoin(base, href)`` for the simple shapes above; None when not applicable."""
    if href[:1] == "/":
        if not _ROOTED.match(href):
            return None
        path = href.split("?", 1)[0].split("#", 1)[0]
        if "." in path and any(seg in (".", "..") for seg in path.split("/")):
            return None
        prefix = _origin_prefix(base)
        return None if prefix is None else prefix + href
    if href[:4] == "http" and _ABSOLUTE.match(href):
        return href  # same scheme: rebuilt unchanged; other scheme: returned as is
    return None


def defrag(url: str) -> str:
    """``urldefrag(url)[0]``."""
    if "#" not in url:
        return url
    if _ABSOLUTE.match(url):
        return url.partition("#")[0]
    return urldefrag(url)[0]


@lru_cache(maxsize=65536)
def resolve_href(base: str, href: str | None) -> str | None:
    """``href`` made absolute against ``base``, http(s) only; None if unusable."""
    if not href:
        return None
    href = href.strip()
    fast = fast_join(base, href)
    if fast is not None:
        return fast
    try:
        url = urljoin(base, href)
    except ValueError:
        return None
    return url if url.startswith(("http://", "https://")) else None
