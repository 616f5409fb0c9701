"""Rule selection shared by the robots.txt extension signals (SPEC.md §3.3).

``Content-Usage`` and ``Content-Signal`` lines are attached to paths exactly like Allow and
Disallow (draft-ietf-aipref-attach-05 §3.1): the rule with the longest matching path applies,
measured in octets of the normalised pattern (RFC 9309 §2.2.2). Unlike Allow/Disallow, rules
that tie are *all* kept, so the caller can apply "most restrictive wins" among them. Ties are
by length, not only identical text: two different patterns of equal length that both match
give no principled winner, so both apply (conservative).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .patterns import compile_pattern

if TYPE_CHECKING:
    from .robots import ExtensionRule

__all__ = ["select_rules"]


def select_rules(rules: Sequence[ExtensionRule], path: str) -> tuple[ExtensionRule, ...]:
    """The rules whose path matches ``path`` (already normalised) with the greatest length."""
    best = -1
    chosen: list[ExtensionRule] = []
    for rule in rules:
        pattern = compile_pattern(rule.path or "/")
        if not pattern.matches(path):
            continue
        if pattern.length > best:
            best = pattern.length
            chosen = [rule]
        elif pattern.length == best:
            chosen.append(rule)
    return tuple(chosen)
