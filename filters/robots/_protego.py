"""protego behind one merged robots.txt group (RFC 9309 §2.2.2-§2.2.3; SPEC.md §3.1).

``Matcher`` holds one ``Protego`` object per distinct merged rule list (a clean one-group file,
parsed once) and answers a normalised path with ``Protego.can_fetch``; ``Screen`` holds every
``Disallow`` line of a file, so one query can rule out a denial by any group. The RFC 9309
fixes heed applies around protego are described in ``_match`` and docs/robots.md.

Memos live on the objects of one parsed file: each ``Matcher`` and the ``Screen`` keep their
last (path, answer), ``Matcher`` its one-line protego objects, and the ``Targets`` of the file
(shared by its matchers) the last path in the form handed to protego.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import unquote

from protego import Protego

from .._simple_url import PATH_CHAR_SET, is_verbatim
from ..patterns import Pattern, compile_pattern, normalize_path
from ._grammar import RuleLine

__all__ = ["Matcher", "Screen", "Targets", "index_directory"]

_INDEX_HTML = "/index.html"
#: ASCII characters that ``str.splitlines`` (which protego uses) treats as line breaks but
#: RFC 9309 does not: escaped so that a rule value can never turn into a line of its own.
_LINE_BREAKERS = str.maketrans({c: f"%{c:02X}" for c in (0x0B, 0x0C, 0x1C, 0x1D, 0x1E)})
#: protego reads a path starting with ``//`` as ``//authority``; an explicit scheme and
#: host in front keeps the whole path a path.
_AUTHORITY_GUARD = "http://robots.invalid"

#: Paths made only of characters percent-encoding leaves alone (RFC 3986 unreserved), ``/``
#: and ``=`` (``_simple_url.is_verbatim``): protego compares these exactly as written, as
#: RFC 9309 does. The same for a pattern, which may also hold ``*`` and end in ``$``:
_VERBATIM_PATTERN = re.compile(rf"[*{PATH_CHAR_SET}]*\$?").fullmatch


def index_directory(pattern: str) -> str | None:
    """The extra pattern protego allows for an ``Allow`` line ``pattern``, or None.

    protego also allows the directory of an ``Allow: /dir/index.html`` line (``/dir/`` alone):
    the pattern ``/dir/$``. Mirrored where heed names the deciding line and in the path
    patterns of a policy (``_pathpatterns``).
    """
    if pattern.endswith(_INDEX_HTML):
        return pattern[: -len("index.html")] + "$"
    return None


def _is_plain(text: str) -> bool:
    return "*" not in text and not text.endswith("$")


def _clean_file(rules: Sequence[RuleLine]) -> str:
    """One ``User-agent: *`` group holding ``rules``, normalised (RFC 9309 §2.2.2)."""
    lines = ["User-agent: *"]
    for rule in rules:
        pattern = normalize_path(rule.pattern).translate(_LINE_BREAKERS)
        lines.append(f"{'Allow' if rule.allow else 'Disallow'}: {pattern}")
    return "\n".join(lines) + "\n"


_NOT_UTF8_ESCAPE = re.compile(r"%(?![89A-F][0-9A-F])").search


def _protego_target(path: str) -> str:
    """``path`` as handed to protego.

    protego decodes every escape and re-encodes on each query; when the only escapes of the
    normalised path are UTF-8 sequences of non-ASCII characters, handing it the decoded
    characters gives the same comparison string and spares it the decoding.
    """
    target = path
    if "%" in path and _NOT_UTF8_ESCAPE(path) is None:
        try:
            target = unquote(path, errors="strict")
        except UnicodeDecodeError:
            target = path
    if target.startswith("//"):
        target = _AUTHORITY_GUARD + target
    return target


class Targets:
    """The last path of one file in the form handed to protego, shared by its matchers.

    Every group the engine asks about a URL asks for the same path, so it is converted once.
    The memo is one tuple, replaced whole: a thread never sees a path with another's target.
    """

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last: tuple[str, str] = ("", "")

    def __call__(self, path: str) -> str:
        last = self._last
        if last[0] == path:
            return last[1]
        target = _protego_target(path)
        self._last = (path, target)
        return target


class _Evidence:
    """The lines of one kind (``Allow`` or ``Disallow``), in RFC 9309 precedence order.

    Used only after protego has decided, to name the line behind the verdict: the first
    entry (longest first, then file order) that matches is that line.
    """

    __slots__ = ("_all", "_prefixes", "_special")

    def __init__(self, rules: Sequence[RuleLine]) -> None:
        entries: list[tuple[Pattern, RuleLine]] = []
        for rule in rules:
            entries.append((compile_pattern(rule.pattern), rule))
            directory = index_directory(rule.pattern) if rule.allow else None
            if directory is not None:
                entries.append((compile_pattern(directory), rule))
        entries.sort(key=lambda e: -e[0].length)  # stable: file order on a tie
        self._all = tuple(entries)
        self._special = tuple(e for e in entries if not _is_plain(e[0].text))
        self._prefixes = tuple(normalize_path(p.text) for p, _ in entries if _is_plain(p.text))

    def __bool__(self) -> bool:
        return bool(self._all)

    def find(self, path: str) -> tuple[Pattern, RuleLine] | None:
        """The first (pattern, line) entry that matches the normalised ``path``, or None."""
        # One C-level startswith rules out every plain prefix at once.
        entries = self._all if path.startswith(self._prefixes) else self._special
        for entry in entries:
            if entry[0].matches(path):
                return entry
        return None


class Matcher:
    """One merged group's rules as a protego object; ``decide`` asks it about a path.

    protego gives the verdict; the deciding line (evidence) is then found among the lines of
    that verdict's kind. The last (path, answer) pair is kept: the engine asks the same
    group about the same URL for the product token and again for the AI tokens. ``targets``
    converts paths for protego (shared by the matchers of one file; its own when not given).
    """

    __slots__ = (
        "_allows",
        "_denies",
        "_deny_lengths",
        "_exact",
        "_last",
        "_protego",
        "_single",
        "_targets",
        "can_deny",
        "rules",
        "screen",
    )

    def __init__(self, rules: Sequence[RuleLine], targets: Targets | None = None) -> None:
        self.rules = tuple(rules)
        self._targets = targets if targets is not None else Targets()
        self.can_deny = any(not r.allow for r in self.rules)
        self._protego = Protego.parse(_clean_file(self.rules))
        self._allows = _Evidence([r for r in self.rules if r.allow])
        self._denies = _Evidence([r for r in self.rules if not r.allow])
        #: Each Disallow line with its length as written (RFC 9309 precedence).
        self._deny_lengths = tuple(
            (r, len(normalize_path(r.pattern))) for r in self.rules if not r.allow
        )
        self._single: dict[RuleLine, Protego] = {}
        # protego is exact for verbatim paths when every Allow pattern is verbatim too.
        self._exact = all(
            _VERBATIM_PATTERN(normalize_path(r.pattern)) for r in self.rules if r.allow
        )
        self._last: tuple[str, RuleLine | None] = ("", None)
        self.screen: Screen | None = None  # set by the Book when several groups can deny

    def decide(self, path: str) -> RuleLine | None:
        """The line behind protego's verdict on the normalised ``path``, or None.

        The path is allowed when the result is None or an ``Allow`` line; a ``Disallow``
        line means protego disallowed it (and RFC 9309 precedence on the rules as written
        agrees, see ``_denied_by``).
        """
        last = self._last
        if last[0] == path:
            return last[1]
        screen = self.screen
        if (screen is not None and not screen.may_deny(path)) or self._protego.can_fetch(
            self._targets(path), "*"
        ):
            rule = self._allowed_by(path)
        else:
            found = self._denies.find(path)
            rule = self._denied_by(path, found) if found is not None else None
            if rule is None:
                rule = self._disallow_by_protego(path)
        self._last = (path, rule)
        return rule

    def _denied_by(self, path: str, found: tuple[Pattern, RuleLine]) -> RuleLine:
        """After protego disallowed ``path``: the deciding line, lengths measured as written.

        protego measures a rule on its own escaped form (``?`` as ``%3F``), so ``Disallow:
        /*?*`` outweighs ``Allow: /css/`` there. RFC 9309 compares the rules as written: an
        ``Allow`` that matches and is at least as long as the longest matching ``Disallow``
        wins, unless a longer ``Disallow`` still disallows ``path`` for protego on its own
        (its wider notion of equal spellings is kept: that only excludes more).
        """
        allow = self._allows.find(path) if self._allows else None
        if allow is None or allow[0].length < found[0].length:
            return found[1]
        target = self._targets(path)
        for rule, length in self._deny_lengths:
            if length > allow[0].length and not self._alone(rule).can_fetch(target, "*"):
                return rule
        return allow[1]

    def _alone(self, rule: RuleLine) -> Protego:
        """A protego object holding ``rule`` alone (made once)."""
        single = self._single.get(rule)
        if single is None:
            single = self._single[rule] = Protego.parse(_clean_file((rule,)))
        return single

    def _allowed_by(self, path: str) -> RuleLine | None:
        """After protego allowed ``path``: the deciding ``Allow`` line, or the RFC 9309 fix."""
        fixed = self.fixed_denial(path)
        if fixed is not None:
            return fixed
        allow = self._allows.find(path) if self._allows else None
        return allow[1] if allow is not None else None

    def fixed_denial(self, path: str) -> RuleLine | None:
        """The ``Disallow`` line that wins under RFC 9309 where protego allowed ``path``.

        protego equates a reserved character with its escape and can match a pattern inside
        the escape it writes for a character (``Allow: /*A`` matches ``/x*`` as ``/x%2A``),
        so when the path or an ``Allow`` pattern is not verbatim, RFC 9309 §2.2.2 precedence
        is checked with ``filters.patterns`` too; a ``Disallow`` that wins there denies.
        """
        if not self.can_deny or (self._exact and is_verbatim(path)):
            return None
        deny = self._denies.find(path)
        if deny is None:
            return None
        allow = self._allows.find(path) if self._allows else None
        return deny[1] if allow is None or deny[0].length > allow[0].length else None

    def _disallow_by_protego(self, path: str) -> RuleLine:
        """The longest ``Disallow`` line that alone disallows ``path`` for protego.

        Reached only when protego's wider notion of equal spellings (it also equates a
        reserved character with its escape) matched a line ``filters.patterns`` does not.
        """
        target = self._targets(path)
        denies = sorted(
            (r for r in self.rules if not r.allow),
            key=lambda r: -len(normalize_path(r.pattern)),
        )
        for rule in denies:
            if not self._alone(rule).can_fetch(target, "*"):
                return rule
        return denies[0]  # unreachable: the group's verdict rests on one of its lines


class Screen:
    """One protego object holding every ``Disallow`` line of a file, asked first.

    When no ``Disallow`` line of the file matches a path for protego, no group can disallow
    it, so one protego query (kept for the path) answers every group the engine asks about.
    """

    __slots__ = ("_last", "_protego", "_targets")

    def __init__(self, rules: Sequence[RuleLine], targets: Targets | None = None) -> None:
        self._protego = Protego.parse(_clean_file(rules))
        self._targets = targets if targets is not None else Targets()
        self._last: tuple[str, bool] = ("", True)

    def may_deny(self, path: str) -> bool:
        """False when protego matches no ``Disallow`` line of the file against ``path``."""
        last = self._last
        if last[0] == path:
            return last[1]
        deny = not self._protego.can_fetch(self._targets(path), "*")
        self._last = (path, deny)
        return deny
