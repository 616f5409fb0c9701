"""Merged robots.txt groups and their matchers (RFC 9309 §2.2.1-§2.2.3; SPEC.md §3.1, §3.2).

``Book`` is built once per parsed file. Every product token maps to its merged group (all the
groups that name it, RFC 9309 §2.2.1); a token without a group of its own falls back to the
``*`` group. Groups with the same set of tokens share one merged group, and merged groups with
the same rules share one ``Matcher``, so deciding a URL for many tokens costs one match per
distinct rule set (the engine asks for ~15 tokens per URL, SPEC.md §3.2).

A ``Matcher`` asks protego for the verdict: the merged group's rules are handed to protego as a
clean one-group file, so protego's own grouping never comes into play and its matching (longest
match, Allow on ties, ``*`` and ``$``, percent-encoding normalised on both sides as RFC 9309
§2.2.2 asks) is used as is. To report *which* line decided, the matcher then looks for the
longest rule of the winning kind that matches the path, using the shared RFC 9309 patterns of
``filters.patterns``; should the two ever disagree on a deny, each disallow line is checked on
its own with protego so that the line reported is one protego agrees with.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from protego import Protego

from ._robots_parse import ExtensionRule, ParsedFile, RawGroup, RuleLine
from .model import DocumentInfo
from .patterns import Pattern, compile_pattern, normalize_path, url_path

__all__ = ["EMPTY_BOOK", "Book", "Matcher", "MergedGroup", "unreachable_raw"]

_INDEX_HTML = "/index.html"


def _protego_file(rules: Sequence[RuleLine]) -> str:
    lines = ["User-agent: *"]
    lines.extend(f"{'Allow' if r.allow else 'Disallow'}: {r.pattern}" for r in rules)
    return "\n".join(lines) + "\n"


class _Finder:
    """The longest pattern of a list that matches a normalised path, and its line."""

    __slots__ = ("_entries", "_prefixes", "_special")

    def __init__(self, rules: Sequence[RuleLine], *, index_html: bool) -> None:
        entries: list[tuple[Pattern, RuleLine]] = []
        for rule in rules:
            entries.append((compile_pattern(rule.pattern), rule))
            # protego (like Google) reads "Allow: /dir/index.html" as allowing "/dir/" too.
            if index_html and rule.pattern.endswith(_INDEX_HTML):
                entries.append((compile_pattern(rule.pattern[: -len("index.html")] + "$"), rule))
        entries.sort(key=lambda e: -e[0].length)  # stable: the first line wins a tie
        self._entries = tuple(entries)
        plain = [normalize_path(p.text) for p, _ in entries if _is_plain(p.text)]
        self._special = len(plain) < len(entries)
        self._prefixes = tuple(plain)

    def __bool__(self) -> bool:
        return bool(self._entries)

    def find(self, path: str) -> RuleLine | None:
        """The line of the longest pattern matching ``path`` (normalised), or None."""
        if not self._special and not path.startswith(self._prefixes):
            return None  # one C-level check rules out every plain prefix at once
        for pattern, rule in self._entries:
            if pattern.matches(path):
                return rule
        return None


def _is_plain(text: str) -> bool:
    return "*" not in text and not text.endswith("$")


class Matcher:
    """The rules of one merged group: protego's verdict plus the line behind it."""

    __slots__ = ("_allows", "_disallows", "_protego", "rules")

    def __init__(self, rules: Sequence[RuleLine]) -> None:
        self.rules = tuple(rules)
        self._protego = Protego.parse(_protego_file(self.rules)) if self.rules else None
        self._allows = _Finder([r for r in self.rules if r.allow], index_html=True)
        self._disallows = _Finder([r for r in self.rules if not r.allow], index_html=False)

    def allowed(self, url: str) -> bool:
        """Whether ``url`` is allowed by these rules (RFC 9309 §2.2.2)."""
        return self._protego is None or self._protego.can_fetch(url, "*")

    def decide(self, url: str) -> tuple[bool, RuleLine | None]:
        """The verdict for ``url`` and the line that decided it (None: no line matched)."""
        if self.allowed(url):
            return True, (self._allows.find(url_path(url)) if self._allows else None)
        line = self._disallows.find(url_path(url))
        if line is None or line.allow:
            line = self._protego_line(url)
        return False, line

    def _protego_line(self, url: str) -> RuleLine | None:
        candidates = sorted((r for r in self.rules if not r.allow), key=lambda r: -len(r.pattern))
        for rule in candidates:
            if not Protego.parse(_protego_file((rule,))).can_fetch(url, "*"):
                return rule
        return None


@dataclass(frozen=True, slots=True)
class MergedGroup:
    """All the groups that name one token, merged: a matcher, crawl delay and extensions."""

    matcher: Matcher
    crawl_delay: float | None
    extensions: Mapping[str, tuple[ExtensionRule, ...]]


def _merge(
    groups: Sequence[RawGroup], matcher_for: Callable[[tuple[RuleLine, ...]], Matcher]
) -> MergedGroup:
    rules = tuple(r for g in groups for r in g.rules)
    delays = [d for g in groups for d in g.crawl_delays]
    ext: dict[str, list[ExtensionRule]] = {}
    for group in groups:
        for key, rule in group.extensions:
            ext.setdefault(key, []).append(rule)
    return MergedGroup(
        matcher=matcher_for(rules),
        # Several Crawl-delay values in the merged group: the largest is the polite reading.
        crawl_delay=max(delays) if delays else None,
        extensions=MappingProxyType({k: tuple(v) for k, v in ext.items()}),
    )


class Book:
    """Every product token of a file mapped to its merged group (``*`` included)."""

    __slots__ = ("_by_agent", "_star", "matchers")

    def __init__(self, parsed: ParsedFile | None = None) -> None:
        by_indices: dict[tuple[int, ...], MergedGroup] = {}
        by_rules: dict[tuple[tuple[bool, str, str], ...], Matcher] = {}

        def matcher_for(rules: tuple[RuleLine, ...]) -> Matcher:
            key = tuple((r.allow, r.pattern, r.raw) for r in rules)
            if key not in by_rules:
                by_rules[key] = Matcher(rules)
            return by_rules[key]

        indices: dict[str, list[int]] = {}
        for i, group in enumerate(parsed.groups if parsed else ()):
            for agent in dict.fromkeys(group.agents):
                indices.setdefault(agent, []).append(i)
        by_agent: dict[str, MergedGroup] = {}
        for agent, idx in indices.items():
            key = tuple(idx)
            if key not in by_indices:
                assert parsed is not None  # indices is empty without a parsed file
                by_indices[key] = _merge([parsed.groups[i] for i in idx], matcher_for)
            by_agent[agent] = by_indices[key]
        self._by_agent = by_agent
        self._star = by_agent.get("*")
        self.matchers = tuple(by_rules.values())

    def own(self, agent: str) -> MergedGroup | None:
        """The merged group that names ``agent`` itself (case-insensitive), if any."""
        return self._by_agent.get(agent.lower())

    def star(self) -> MergedGroup | None:
        """The merged ``*`` group, if any."""
        return self._star

    def resolve(self, agent: str) -> MergedGroup | None:
        """The group that applies to ``agent``: its own, else ``*`` (RFC 9309 §2.2.1)."""
        return self._by_agent.get(agent.lower(), self._star)


EMPTY_BOOK = Book()


def unreachable_raw(document: DocumentInfo | None) -> str:
    """The raw value of an ``unreachable`` verdict: the fetch error, else the status."""
    if document is None:
        return "unreachable"
    if document.error is not None:
        return document.error
    return str(document.status) if document.status is not None else "no response"
