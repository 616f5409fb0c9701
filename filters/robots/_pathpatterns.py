"""The path patterns of a robots.txt-grammar file, for the engine's path classes.

``RobotsPolicy.path_patterns`` and ``AitxtPolicy.path_patterns`` (see ``patterns.PathPatterns``
for the promise) take their Allow/Disallow patterns from here, because only the robots
package knows how those lines are matched (by protego).

protego and RFC 9309 match a *simple* path (``filters._simple_url``) alike only against a
pattern that is printable ASCII without ``%`` (protego decodes ``%3D`` to ``=``, RFC 9309 does
not), ``#`` or whitespace (which protego's line reader treats specially); characters outside
the simple-path set (``?``, ``&`` ...) then simply never match, for either. A file with any
other Allow/Disallow pattern gets no path patterns (None: every URL is evaluated in full).
protego's ``Allow: /dir/index.html`` quirk adds the pattern ``/dir/$``
(``_protego.index_directory``).
"""

from __future__ import annotations

import re

from ..patterns import Pattern, compile_pattern, normalize_path
from ._match import Book
from ._protego import index_directory

__all__ = ["rule_patterns"]

#: A normalised Allow/Disallow pattern that protego and RFC 9309 match alike against a simple
#: path: printable ASCII except ``#`` and ``%`` (see the module docstring).
_CLASSABLE_PATTERN = re.compile(r'[!"$&-~]*').fullmatch


def rule_patterns(book: Book) -> tuple[Pattern, ...] | None:
    """The compiled Allow/Disallow patterns of ``book`` (with protego's extras), or None
    when one of them is not classable (see the module docstring)."""
    out: list[Pattern] = []
    for rule in book.rule_lines():
        norm = normalize_path(rule.pattern)
        if not _CLASSABLE_PATTERN(norm):
            return None
        out.append(compile_pattern(rule.pattern))
        directory = index_directory(norm) if rule.allow else None
        if directory is not None:
            out.append(compile_pattern(directory))
    return tuple(out)
