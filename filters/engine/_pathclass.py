"""Path classes: URLs of one origin that every site document must answer alike.

The pre-fetch signals read from site documents (robots.txt with its Content-Usage and
Content-Signal lines, ai.txt, tdmrep.json, RSL files) look at a URL only through its origin and
through *which of their path patterns match* its path. Two URLs of an origin whose paths match
exactly the same patterns therefore get the same results from all of them, and the engine can
reuse them (``engine.decide_pre_fetch``). This module computes, per site, a key that captures
that "which patterns match" cheaply:

* for the plain prefix patterns (no ``*``, no ``$``), the longest one that matches: every
  prefix pattern that matches a path is a prefix of the path, so the matching ones are exactly
  those that are prefixes of the longest (one regular-expression match, longest first);
* for every other pattern, whether it matches.

This is done for the path as is and for the lower-cased path, as each document says.

This module knows nothing of how a document matches: each policy tells it, through its
``path_patterns()`` method (``patterns.PathPatterns``), which patterns its answer depends on
for the path as is (``exact``) and for the lower-cased path (``lower``), or None when it
cannot promise that (robots.txt or ai.txt rules protego may read differently from RFC 9309;
see ``robots/_pathpatterns.py``); such a site is not classed. A key is given only for
*simple* URLs (``filters._simple_url``: ``http(s)://host[:port]/path``, the path made of
``A-Z a-z 0-9 _ . ~ / = -``); everything else is evaluated in full, every time.
``tests/filters/test_pathclass.py`` checks on generated sites and URLs that a reused result
always equals a full evaluation.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Protocol

from .._simple_url import ORIGIN, PATH_CHARS, is_verbatim
from ..patterns import PathPatterns, Pattern, normalize_path

__all__ = ["SiteClasses", "SiteDocument", "build_site_classes"]


class SiteDocument(Protocol):
    """A parsed site document (``RobotsPolicy``, ``AitxtPolicy``, ``TdmrepPolicy``,
    ``RslPolicy``) as the path classes see it."""

    def path_patterns(self) -> PathPatterns | None: ...


#: Bound on the classes remembered per site (cleared when full).
MAX_CLASSES = 1024


#: Fullmatch of a simple URL (the module docstring): group 1 its origin, then its path.
_SIMPLE_URL = re.compile(ORIGIN + PATH_CHARS + "*").fullmatch


@lru_cache(maxsize=4096)
def _prefix_matcher(alternatives: str) -> Callable[[str], re.Match[str] | None]:
    """The compiled alternatives of a pattern set (a pure function of the string)."""
    return re.compile(alternatives).match


class _PatternSet:
    """The key of a path against a set of patterns (see the module docstring)."""

    __slots__ = ("_alternatives", "_longest", "_special")

    def __init__(self, patterns: Iterable[Pattern]) -> None:
        plain: set[str] = set()
        special: dict[str, re.Pattern[str]] = {}
        for pattern in patterns:
            if pattern.prefix is not None:
                plain.add(pattern.prefix)
                continue
            # ``/a/*`` matches exactly the paths ``/a/`` does: a prefix after all.
            stem = normalize_path(pattern.text).rstrip("*")
            if "*" not in stem and not stem.endswith("$"):
                plain.add(stem)
            elif pattern.regex is not None:
                special[pattern.text] = pattern.regex
        # A prefix with other characters never matches a simple path: it tells nothing.
        ordered = sorted((p for p in plain if is_verbatim(p)), key=lambda p: (-len(p), p))
        alternatives = "|".join(re.escape(p) for p in ordered)
        self._alternatives = alternatives if ordered else None
        # The alternatives are tried longest first, so the first that is a prefix of the path
        # is the longest plain prefix. Sites often share their robots.txt rules: the compiled
        # expression is shared by value (``_prefix_matcher``).
        self._longest = _prefix_matcher(alternatives) if ordered else None
        self._special = tuple(rx.match for rx in special.values())

    def key(self, path: str) -> tuple[object, ...] | str | None:
        longest = self._longest
        found = longest(path) if longest is not None else None
        head = found.group() if found is not None else None
        if not self._special:
            return head
        return (head, *[match(path) is not None for match in self._special])


class SiteClasses:
    """The path-class key function of one site, and the results remembered per class."""

    __slots__ = ("_exact", "_lower", "memo")

    def __init__(self, exact: _PatternSet, lower: _PatternSet | None) -> None:
        self._exact = exact
        self._lower = lower
        self.memo: dict[tuple[object, ...], object] = {}

    def key(self, url: str) -> tuple[object, ...] | None:
        """The class of ``url``, or None when ``url`` is not simple (evaluate it in full)."""
        found = _SIMPLE_URL(url)
        if found is None:
            return None
        origin = found.group(1)
        path = url[found.end(1) :]
        exact = self._exact.key(path)
        if self._lower is None:
            return (origin, exact)
        return (origin, exact, self._lower.key(path.lower()))

    def remember(self, key: tuple[object, ...], value: object) -> None:
        memo = self.memo
        if len(memo) >= MAX_CLASSES:
            memo.clear()
        memo[key] = value


def build_site_classes(
    robots: SiteDocument,
    aitxt: SiteDocument | None,
    tdmrep: SiteDocument | None,
    rsls: Iterable[SiteDocument | None],
) -> SiteClasses | None:
    """The :class:`SiteClasses` of a site's parsed documents, or None when not eligible."""
    exact: list[Pattern] = []
    lower: list[Pattern] = []
    for document in (robots, aitxt, tdmrep, *rsls):
        if document is None:
            continue
        found = document.path_patterns()
        if found is None:
            return None
        exact.extend(found.exact)
        lower.extend(found.lower)
    return SiteClasses(_PatternSet(exact), _PatternSet(lower) if lower else None)
