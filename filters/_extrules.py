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

__all__ = ["IdentityMemo", "SelectionMemo", "select_indices", "select_rules"]

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


_Slot = tuple[dict[tuple[object, ...], V] | None, tuple[object, ...]]


class SelectionMemo(Generic[V]):
    """Verdicts of a robots.txt extension signal per rule selection (see the module docstring).

    :meth:`select` picks the agent's and the ``*`` group's rules for ``path`` and returns a
    memoised verdict when the same selection was judged before with the same ``extra`` key
    parts; otherwise the caller computes the verdict and hands it to :meth:`store`.
    """

    __slots__ = ("_max", "_rules")

    def __init__(self, max_per_rules: int = 4096) -> None:
        self._rules: IdentityMemo[dict[tuple[object, ...], V]] = IdentityMemo()
        self._max = max_per_rules

    def select(
        self,
        agent_rules: Sequence[ExtensionRule],
        star_rules: Sequence[ExtensionRule],
        path: str,
        *extra: object,
    ) -> tuple[tuple[int, ...], tuple[int, ...], V | None, _Slot[V]]:
        picked_agent = select_indices(agent_rules, path)
        picked_star = select_indices(star_rules, path)
        key = (picked_agent, picked_star, *extra)
        if type(agent_rules) is not tuple or type(star_rules) is not tuple:
            return picked_agent, picked_star, None, (None, key)  # not safe to key by identity
        memo = self._rules.get((agent_rules, star_rules))
        if memo is None:
            memo = self._rules.put((agent_rules, star_rules), {})
        return picked_agent, picked_star, memo.get(key), (memo, key)

    def store(self, slot: _Slot[V], value: V) -> V:
        memo, key = slot
        if memo is not None and len(memo) < self._max:
            memo[key] = value
        return value
