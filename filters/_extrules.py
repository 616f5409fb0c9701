"""Rule selection shared by the robots.txt extension signals (SPEC.md §3.3).

``Content-Usage`` and ``Content-Signal`` lines are attached to paths exactly like Allow and
Disallow (draft-ietf-aipref-attach-05 §3.1): the rule with the longest matching path applies,
measured in octets of the normalised pattern (RFC 9309 §2.2.2). Unlike Allow/Disallow, rules
that tie are *all* kept, so the caller can apply "most restrictive wins" among them. Ties are
by length, not only identical text: two different patterns of equal length that both match
give no principled winner, so both apply (conservative).

Speed: a verdict depends only on *which* rules were selected, not on the URL itself, so the
callers memoise verdicts per selection (:class:`IdentityMemo`), keyed on the identity of the
immutable rule tuples a parsed robots.txt hands out. The memo holds a strong reference to each
key object, so an ``id`` cannot be reused while its entry exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Generic, TypeVar

from .patterns import Pattern, compile_pattern

if TYPE_CHECKING:
    from .robots import ExtensionRule

__all__ = ["IdentityMemo", "select_indices", "select_rules"]

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


_PATTERNS: IdentityMemo[tuple[Pattern, ...]] = IdentityMemo()


def _patterns(rules: Sequence[ExtensionRule]) -> tuple[Pattern, ...]:
    if type(rules) is tuple:
        found = _PATTERNS.get((rules,))
        if found is not None:
            return found
    pats = tuple(compile_pattern(rule.path or "/") for rule in rules)
    if type(rules) is tuple:
        _PATTERNS.put((rules,), pats)
    return pats


def select_indices(rules: Sequence[ExtensionRule], path: str) -> tuple[int, ...]:
    """The indices of :func:`select_rules`' rules in ``rules``, in order."""
    best = -1
    chosen: list[int] = []
    for index, pattern in enumerate(_patterns(rules)):
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
    return tuple(rules[i] for i in select_indices(rules, path))
