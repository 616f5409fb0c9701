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

This is done for the path as is and, for the case-insensitive documents (ai.txt; robots.txt
when so parsed), for the lower-cased path.

It is sound only where heed's matching and protego's agree character for character, so a key
is given only for *simple* URLs: ``http(s)://host[:port]/path`` whose path is made of the
characters that neither RFC 9309 normalisation nor protego's quoting changes
(``A-Z a-z 0-9 _ . ~ / = -``; no query, no fragment, no ``%``, not starting ``//``, not
``/robots.txt``), and only for sites whose robots.txt and ai.txt patterns hold no escapes
(``%``), no ``#``, no whitespace and no non-ASCII character (see ``_CLASSABLE_PATTERN``).
Everything else is evaluated in full, every time.
``tests/filters/test_pathclass.py`` checks on generated sites and URLs that a reused result
always equals a full evaluation.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from ..model import DocState
from ..patterns import Pattern, compile_pattern, normalize_path

if TYPE_CHECKING:
    from ..aitxt import AitxtPolicy
    from ..robots import RobotsPolicy
    from ..robots._grammar import RuleLine
    from ..rsl import RslPolicy
    from ..tdmrep import TdmrepPolicy

__all__ = ["SiteClasses", "build_site_classes"]

#: The origin of a simple URL (see the module docstring), then the start of its path.
_ORIGIN = (
    r"([Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?)"
    r"(?=/(?!/|[Rr][Oo][Bb][Oo][Tt][Ss]\.[Tt][Xx][Tt]))"
)
#: The characters of a simple path.
_PATH_CHARS = r"[A-Za-z0-9_.~/=-]"
_SIMPLE_PATH = re.compile(_PATH_CHARS + "*").fullmatch
#: A robots.txt / ai.txt pattern (normalised) that protego and RFC 9309 match alike against a
#: simple path: printable ASCII without ``%`` (protego decodes ``%3D`` to ``=``, RFC 9309 does
#: not) or ``#``/whitespace (which protego's line reader would treat specially). Characters
#: outside the simple-path set (``?``, ``&``, ...) then simply never match, for either.
_CLASSABLE_PATTERN = re.compile(r'[!"$&-~]*').fullmatch
_INDEX_HTML = "/index.html"
#: Bound on the classes remembered per site (cleared when full).
MAX_CLASSES = 1024


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
        ordered = sorted((p for p in plain if _SIMPLE_PATH(p)), key=lambda p: (-len(p), p))
        self._alternatives = "|".join(re.escape(p) for p in ordered) if ordered else None
        self._longest = re.compile(self._alternatives).match if ordered else None
        self._special = tuple(rx.match for rx in special.values())

    def url_matcher(self) -> Callable[[str], re.Match[str] | None]:
        """Fullmatch of a simple URL: group 1 its origin, group 2 the longest plain prefix.

        The alternatives are tried longest first and the rest of a simple path always
        matches, so the first alternative that is a prefix of the path is the one taken.
        """
        longest = f"({self._alternatives})?" if self._alternatives is not None else "()"
        return re.compile(_ORIGIN + longest + _PATH_CHARS + "*").fullmatch

    def key(self, path: str) -> tuple[object, ...] | str | None:
        longest = self._longest
        found = longest(path) if longest is not None else None
        head = found.group() if found is not None else None
        if not self._special:
            return head
        return (head, *[match(path) is not None for match in self._special])

    def key_with(self, head: str | None, path: str) -> tuple[object, ...] | str | None:
        """``key(path)`` when the longest plain prefix ``head`` is already known."""
        if not self._special:
            return head
        return (head, *[match(path) is not None for match in self._special])


class SiteClasses:
    """The path-class key function of one site, and the results remembered per class."""

    __slots__ = ("_exact", "_lower", "_url", "memo")

    def __init__(self, exact: _PatternSet, lower: _PatternSet | None) -> None:
        self._exact = exact
        self._lower = lower
        self._url = exact.url_matcher()
        self.memo: dict[tuple[object, ...], object] = {}

    def key(self, url: str) -> tuple[object, ...] | None:
        """The class of ``url``, or None when ``url`` is not simple (evaluate it in full)."""
        found = self._url(url)
        if found is None:
            return None
        origin, head = found.groups()
        path = url[found.end(1) :]
        exact = self._exact.key_with(head, path)
        if self._lower is None:
            return (origin, exact)
        return (origin, exact, self._lower.key(path.lower()))

    def remember(self, key: tuple[object, ...], value: object) -> None:
        memo = self.memo
        if len(memo) >= MAX_CLASSES:
            memo.clear()
        memo[key] = value


def _robots_patterns(lines: Iterable[RuleLine]) -> list[Pattern] | None:
    """Compiled robots.txt-grammar rule patterns, or None when one is not verbatim."""
    out: list[Pattern] = []
    for rule in lines:
        norm = normalize_path(rule.pattern)
        if not _CLASSABLE_PATTERN(norm):
            return None
        out.append(compile_pattern(rule.pattern))
        if rule.allow and norm.endswith(_INDEX_HTML):
            # protego also allows the directory itself (mirrored in the evidence lookup)
            out.append(compile_pattern(norm[: -len("index.html")] + "$"))
    return out


def build_site_classes(
    robots: RobotsPolicy,
    aitxt: AitxtPolicy | None,
    tdmrep: TdmrepPolicy | None,
    rsls: Iterable[RslPolicy | None],
) -> SiteClasses | None:
    """The :class:`SiteClasses` of a site's parsed documents, or None when not eligible."""
    exact: list[Pattern] = []
    lower: list[Pattern] = []
    if robots.state is DocState.OK:
        found = _robots_patterns(robots.book.rule_lines())
        if found is None:
            return None
        (lower if robots.case_insensitive else exact).extend(found)
        exact.extend(compile_pattern(p) for p in robots.book.extension_paths())
    if aitxt is not None and aitxt.state is DocState.OK:
        found = _robots_patterns(aitxt.book.rule_lines())
        if found is None:
            return None
        lower.extend(found)
    if tdmrep is not None and tdmrep.state is DocState.OK:
        exact.extend(rule.pattern for rule in tdmrep.rules)
    for policy in rsls:
        if policy is not None and policy.state is DocState.OK:
            exact.extend(content.pattern for content in policy.contents)
    return SiteClasses(_PatternSet(exact), _PatternSet(lower) if lower else None)
