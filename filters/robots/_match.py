"""Merged robots.txt groups, each answered by protego (RFC 9309 §2.2; SPEC.md §3.1, §3.2).

``Book`` is built once per parsed file. Every product token maps to its merged group (all the
groups that name it, RFC 9309 §2.2.1); a token without a group of its own falls back to the
``*`` group. Groups with the same set of tokens share one merged group, and merged groups with
the same rules share one ``Matcher``, so deciding a URL for many tokens costs one protego query
per distinct rule set (the engine asks for ~15 tokens per URL, SPEC.md §3.2).

How protego is wrapped: ``_grammar`` does the RFC 9309 grouping protego does not (an
unknown line never splits a group, a ``User-agent`` is cut at its first space, BOM, CR/CRLF,
the 2 MiB bound). Each distinct merged rule list is then written out as one clean
``User-agent: *`` group and read once with ``Protego.parse``; ``Matcher.decide`` answers with
``Protego.can_fetch`` on the URL's path, extracted and normalised once per URL. What heed fixes
on top of protego:

* RFC 9309 §2.2.2 percent-encoding: rules and path are normalised with
  ``filters.patterns.normalize_path`` before protego sees them (non-ASCII as upper-case UTF-8
  escapes, escaped unreserved characters decoded), which also lets protego skip its own
  re-quoting for most paths.
* protego reads a path starting with ``//`` as an authority: such a path is handed over behind
  a scheme and host. Characters ``str.splitlines`` breaks on (protego splits the file with it)
  are escaped in rule values, so a value can never become a line of its own.
* protego's own quoting equates a reserved character with its escape and can match a pattern
  inside the escape it writes (``Allow: /*A`` matches ``/x*`` read as ``/x%2A``). When the
  path or an ``Allow`` pattern is not verbatim, an "allowed" from protego is checked against
  RFC 9309 precedence with ``filters.patterns`` and a ``Disallow`` that wins there denies.
* protego measures a rule on its escaped form (``?`` as ``%3F``): when it disallows, rule
  lengths are compared as written (``Matcher._denied_by``), so ``Allow: /css/`` beats
  ``Disallow: /*?*`` on ``/css/?x``. Any other "disallowed" from protego is kept even where
  RFC 9309 would allow (it excludes more).
* ``/robots.txt`` is always allowed (``robots.py``, also when the file is unreachable).

protego cannot say which line decided, so after its verdict the deciding line (the ``raw`` of
the verdict) is found among the lines of that kind with ``filters.patterns``, longest first
(RFC 9309 precedence). protego's ``Allow: /dir/index.html`` ⇒ ``/dir/`` extension is mirrored
there.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from ..model import DocumentInfo, Signal, SignalResult, Verdict
from ..patterns import Pattern, normalize_path
from ..reasons import ReasonCode
from ._grammar import ExtensionRule, ParsedFile, RawGroup, RuleLine
from ._grammar import product_token as _product_token
from ._protego import Matcher, Screen, Targets

#: A token looked up cut as well (see ``Book.resolve``): one word, no version (``/``).
_CUTTABLE = re.compile(r"[^\s/]+").fullmatch

__all__ = [
    "Book",
    "LastPath",
    "Matcher",
    "MergedGroup",
    "Plan",
    "ResultMemo",
    "Screen",
    "match_path",
    "unreachable_raw",
]

#: scheme, authority, then path and query up to the fragment (RFC 3986 §3).
_URL = re.compile(r"(?:[A-Za-z][A-Za-z0-9+.\-]*:)?(?://[^/?#]*)?([^#]*)", re.DOTALL)
#: Bound on the shared verdict objects per policy (a file has finitely many lines anyway).
_MAX_MEMO = 4096
#: Bound on the cached token-list plans per file (a run uses one or two lists).
_MAX_PLANS = 64


class Plan:
    """The distinct deny-capable matchers of a token list, each with its first token."""

    __slots__ = ("entries",)

    def __init__(self, entries: tuple[tuple[str, Matcher], ...]) -> None:
        self.entries = entries

    def first_denial(self, path: str) -> tuple[str, RuleLine] | None:
        """The first token (list order) whose group disallows ``path``, with the line."""
        for agent, matcher in self.entries:
            rule = matcher.decide(path)
            if rule is not None and not rule.allow:
                return agent, rule
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


def _merged_groups(groups: Sequence[RawGroup]) -> dict[str, MergedGroup]:
    """Each token (``*`` included) mapped to the merge of every group naming it."""
    by_rules: dict[tuple[tuple[bool, str, str], ...], Matcher] = {}
    targets = Targets()  # one per file: its matchers are asked about the same path in turn

    def matcher_for(rules: tuple[RuleLine, ...]) -> Matcher:
        key = tuple((r.allow, r.pattern, r.raw) for r in rules)
        if key not in by_rules:
            by_rules[key] = Matcher(rules, targets)
        return by_rules[key]

    indices: dict[str, list[int]] = {}
    for i, group in enumerate(groups):
        for agent in dict.fromkeys(group.agents):
            indices.setdefault(agent, []).append(i)
    by_indices: dict[tuple[int, ...], MergedGroup] = {}
    by_agent: dict[str, MergedGroup] = {}
    for agent, idx in indices.items():
        key = tuple(idx)
        if key not in by_indices:
            by_indices[key] = _merge([groups[i] for i in idx], matcher_for)
        by_agent[agent] = by_indices[key]
    deniers = [m for m in by_rules.values() if m.can_deny]
    if len(deniers) > 1:
        screen = Screen(
            tuple({r.pattern: r for m in deniers for r in m.rules if not r.allow}.values()),
            targets,
        )
        for matcher in deniers:
            matcher.screen = screen
    return by_agent


class Book:
    """Every product token of a file mapped to its merged group (``*`` included).

    Built once per parsed file (an empty one per policy without rules) and never shared
    between policies: the token-list plans it caches belong to it alone.
    """

    __slots__ = ("_by_agent", "_plans", "_star")

    def __init__(self, parsed: ParsedFile | None = None) -> None:
        self._by_agent = _merged_groups(parsed.groups if parsed is not None else ())
        self._star = self._by_agent.get("*")
        self._plans: dict[tuple[str, ...], Plan] = {}

    def own(self, agent: str) -> MergedGroup | None:
        """The merged group that names ``agent`` itself (case-insensitive), if any.

        A file's ``User-agent`` values are read as RFC 9309 product tokens (letters, ``-``,
        ``_``: ``User-agent: AI2Bot`` names the group ``ai``, as Google's parser reads it), so
        a token with other characters (``AI2Bot``, ``bigsur.ai``) is looked up as it is and,
        failing that, cut the same way: the group its lines name is found (SPEC.md §3.2's
        tokens include such names; missing their groups would miss their reservations)."""
        key = agent.lower()
        found = self._by_agent.get(key)
        if found is None and _CUTTABLE(key):
            cut = _product_token(key)
            if cut and cut != key:
                found = self._by_agent.get(cut)
        return found

    def star(self) -> MergedGroup | None:
        """The merged ``*`` group, if any."""
        return self._star

    def resolve(self, agent: str) -> MergedGroup | None:
        """The group that applies to ``agent``: its own (:meth:`own`), else ``*`` (RFC 9309
        §2.2.1)."""
        found = self.own(agent)
        return found if found is not None else self._star

    def rule_lines(self) -> tuple[RuleLine, ...]:
        """Every ``Allow``/``Disallow`` line of every merged group (duplicates removed)."""
        lines = {r: None for g in self._by_agent.values() for r in g.matcher.rules}
        return tuple(lines)

    def extension_patterns(self) -> tuple[Pattern, ...]:
        """The path pattern of every extension line (``Content-Usage``, ...) of every group,
        duplicates removed."""
        patterns = {
            rule.pattern.text: rule.pattern
            for g in self._by_agent.values()
            for rules in g.extensions.values()
            for rule in rules
        }
        return tuple(patterns.values())

    def plan(self, agents: tuple[str, ...]) -> Plan:
        """The distinct matchers ``agents`` resolve to, each with its first token, in order.

        Tokens sharing a matcher share a verdict, so the first denied token of ``agents`` is
        the token of the first denying entry. Matchers without a ``Disallow`` rule are left
        out: they cannot deny. Cached per token list.
        """
        plan = self._plans.get(agents)
        if plan is None:
            seen: dict[int, tuple[str, Matcher]] = {}
            for agent in agents:
                group = self.resolve(agent)
                if group is not None and group.matcher.can_deny:
                    seen.setdefault(id(group.matcher), (agent, group.matcher))
            plan = Plan(tuple(seen.values()))
            if len(self._plans) < _MAX_PLANS:
                self._plans[agents] = plan
        return plan


def unreachable_raw(document: DocumentInfo | None) -> str:
    """The raw value of an ``unreachable`` verdict: the fetch error, else the status."""
    if document is None:
        return "unreachable"
    if document.error is not None:
        return document.error
    return str(document.status) if document.status is not None else "no response"


class LastPath:
    """:func:`match_path` for one policy, keeping the last answer.

    The engine asks a robots.txt policy twice per URL (product token, then AI tokens). The
    memo is one tuple, replaced whole, so a thread never sees one URL's path for another.
    """

    __slots__ = ("_last", "lower")

    def __init__(self, lower: bool) -> None:
        self.lower = lower
        self._last: tuple[str, str] = ("", "/")

    def __call__(self, url: str) -> str:
        last = self._last
        if last[0] == url:
            return last[1]
        path = match_path(url, self.lower)
        self._last = (url, path)
        return path


def match_path(url: str, lower: bool = False) -> str:
    """The normalised path and query of ``url`` that rules are matched against.

    Same result as ``patterns.url_path`` (``/`` when empty, no fragment, RFC 9309 §2.2.2
    normalisation), without ``urlsplit``'s cost.
    """
    if lower:
        url = url.lower()
    match = _URL.match(url)
    path = match.group(1) if match else url
    if path.endswith("?") and path.index("?") == len(path) - 1:
        path = path[:-1]  # an empty query is no query (as urlsplit reads it)
    if not path.startswith("/"):
        path = "/" + path
    if path.isascii() and "%" not in path:
        return path  # nothing to normalise; skips normalize_path's cache bookkeeping
    return normalize_path(path)


class ResultMemo:
    """Shares the immutable ``SignalResult`` objects of one policy across URLs.

    Building a frozen dataclass costs a few µs, more than the match itself, and a policy has
    a bounded set of distinct answers (one per rule line and detail), so each is built once.
    ``reason`` and ``verdict`` are those of the policy's negative answer.
    """

    __slots__ = ("_allowed", "_denied", "document", "none", "reason", "signal", "source", "verdict")

    def __init__(
        self,
        signal: Signal,
        document: DocumentInfo | None,
        reason: ReasonCode,
        verdict: Verdict = Verdict.DENY,
    ) -> None:
        self.signal, self.document, self.reason, self.verdict = signal, document, reason, verdict
        self.source = document.url if document else None
        self.none = SignalResult(signal, Verdict.NONE, source=self.source, document=document)
        self._allowed: dict[str, SignalResult] = {}
        self._denied: dict[tuple[str | None, str | None], SignalResult] = {}

    def allowed(self, raw: str) -> SignalResult:
        """NONE, resting on the ``Allow`` line ``raw``."""
        result = self._allowed.get(raw)
        if result is None:
            result = SignalResult(
                self.signal, Verdict.NONE, raw=raw, source=self.source, document=self.document
            )
            if len(self._allowed) < _MAX_MEMO:
                self._allowed[raw] = result
        return result

    def denied(self, raw: str | None, detail: str | None = None) -> SignalResult:
        """The negative answer with its reason, resting on ``raw`` (and ``detail``)."""
        key = (raw, detail)
        result = self._denied.get(key)
        if result is None:
            result = SignalResult(
                self.signal,
                self.verdict,
                (self.reason,),
                raw=raw,
                source=self.source,
                detail=detail,
                document=self.document,
            )
            if len(self._denied) < _MAX_MEMO:
                self._denied[key] = result
        return result
