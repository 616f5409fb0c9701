"""Rule selection shared by the robots.txt extension signals (SPEC.md §3.3).

``Content-Usage`` and ``Content-Signal`` lines are attached to paths exactly like Allow and
Disallow (draft-ietf-aipref-attach-05 §3.1): the rule with the longest matching path applies,
measured in octets of the normalised pattern (RFC 9309 §2.2.2). Unlike Allow/Disallow, rules
that tie are *all* kept, so the caller can apply "most restrictive wins" among them. Ties are
by length, not only identical text: two different patterns of equal length that both match
give no principled winner, so both apply (conservative).

Speed: each rule carries its compiled pattern (``ExtensionRule.pattern``, made with the rule),
and a verdict depends only on *which* rules were selected, not on the URL itself, so the
callers keep verdicts in a bounded ``functools.lru_cache`` keyed by the selected rules
themselves (frozen, compared by value: no identity tricks), the purpose and the source.
:func:`cacheable` keeps rules with very long lines out of those caches.

:class:`IdentityMemo` is a bounded map keyed by object identity (used by the engine); it is a
class only, this module keeps no state.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Generic, TypeVar

from .patterns import CACHE_MAX_CHARS

if TYPE_CHECKING:
    from .robots import ExtensionRule

__all__ = ["IdentityMemo", "cacheable", "select_indices", "select_rules"]

V = TypeVar("V")

_MAX_ENTRIES = 1024


class IdentityMemo(Generic[V]):
    """A bounded map from a tuple of *immutable* objects, compared by identity, to a value.

    ``get`` answers only when every key object is the very object stored; objects are kept
    alive by the memo, so their ids stay unique while stored. Cleared when full.
    """

    __slots__ = ("_data", "_max")

    def __init__(self, max_entries: int = _MAX_ENTRIES) -> None:
        self._data: dict[tuple[int, ...], tuple[tuple[object, ...], V]] = {}
        self._max = max_entries

    def get(self, objs: tuple[object, ...]) -> V | None:
        hit = self._data.get(tuple(map(id, objs)))
        if hit is None:
            return None
        stored = hit[0]
        for a, b in zip(stored, objs, strict=True):
            if a is not b:
                return None
        return hit[1]

    def put(self, objs: tuple[object, ...], value: V) -> V:
        if len(self._data) >= self._max:
            self._data.clear()
        self._data[tuple(map(id, objs))] = (objs, value)
        return value


def select_indices(rules: Sequence[ExtensionRule], path: str) -> tuple[int, ...]:
    """The indices of :func:`select_rules`' rules in ``rules``, in order."""
    best = -1
    chosen: list[int] = []
    for index, rule in enumerate(rules):
        pattern = rule.pattern
        if not pattern.matches(path):
            continue
        if pattern.length > best:
            best = pattern.length
            chosen = [index]
        elif pattern.length == best:
            chosen.append(index)
    return tuple(chosen)


def select_rules(rules: Sequence[ExtensionRule], path: str) -> tuple[ExtensionRule, ...]:
    """The rules whose path matches ``path`` (already normalised) with the greatest length."""
    best = -1
    chosen: list[ExtensionRule] = []
    for rule in rules:
        pattern = rule.pattern
        if not pattern.matches(path):
            continue
        if pattern.length > best:
            best = pattern.length
            chosen = [rule]
        elif pattern.length == best:
            chosen.append(rule)
    return tuple(chosen)


def cacheable(selected: tuple[ExtensionRule, ...]) -> bool:
    """Whether a verdict on ``selected`` may be kept in a bounded cache: only rules whose
    line is at most ``patterns.CACHE_MAX_CHARS`` long (a cache bounds entries, not bytes)."""
    return all(len(rule.raw) <= CACHE_MAX_CHARS for rule in selected)
