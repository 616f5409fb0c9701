"""The URL checks of a recheck, once per ``scheme://authority`` (a corpus has many rows per
site): ``check_url``, ``origin_of`` and the host, exactly as :mod:`filters.urls` answers them
(``tests/recheck/test_url_parts.py``)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from filters.urls import _CONTROL, MAX_URL_LENGTH, check_url, origin_of

__all__ = ["UrlParts"]

#: The authority of a URL: up to its path, query or fragment (where urlsplit cuts the netloc).
_AUTHORITY = re.compile(r"[^/?#]*").match


class UrlParts:
    """``check_url``, ``origin_of`` and the host of a URL, with the part that depends only on
    its scheme and authority computed once per distinct ``scheme://authority`` (a corpus has
    many rows per site). The per-URL part (length, control characters) is checked every time;
    what ``urlsplit`` can refuse lies in the authority, so the prefix decides the rest."""

    def __init__(self, max_entries: int = 65536) -> None:
        self._known: dict[str, tuple[str | None, str, str]] = {}
        self._max = max_entries

    def parse(self, url: str) -> tuple[str | None, str, str]:
        if not url:
            return "no URL in this row", "", ""
        start = url.find("://")
        if start < 0 or len(url) > MAX_URL_LENGTH or _CONTROL.search(url):
            return check_url(url) or "unparsable", "", ""
        prefix = url[: _AUTHORITY(url, start + 3).end()]  # type: ignore[union-attr]
        found = self._known.get(prefix)
        if found is None:
            found = self._parse(prefix + "/")
            if len(self._known) >= self._max:
                self._known.clear()
            self._known[prefix] = found
        return found

    @staticmethod
    def _parse(url: str) -> tuple[str | None, str, str]:
        problem = check_url(url)
        if problem is not None:
            return problem, "", ""
        try:
            return None, origin_of(url), urlsplit(url).hostname or ""
        except ValueError as e:  # check_url accepts it, urlsplit does not
            return f"unparsable: {e}", "", ""
