"""Line tokenising and grouping of robots.txt (RFC 9309 §2.1-§2.2; SPEC.md §3.1, §3.4).

This is heed's own front end to protego: protego gives the Allow/Disallow verdicts, but its
grouping differs from RFC 9309 in ways that matter here (an unknown line splits a group; a
``User-agent`` value is kept whole and matched as a substring). So the file is read here, and
``_match`` hands each merged group's clean rule list to protego as a one-group file.

What this module does, and the choices it makes where RFC 9309 is silent:

* Bytes: a UTF-8 BOM is stripped, the body is decoded as UTF-8 with errors replaced, CR, LF
  and CRLF all end a line. A body longer than ``max_bytes`` is cut at the last line boundary
  within the bound (RFC 9309 §2.5); so is a body the fetcher marked as truncated.
* Lines: ``#`` starts a comment; a key is case-insensitive; ``key: value`` and, as Google's
  parser accepts, ``key value`` (exactly two words) are read. The misspellings of
  ``disallow`` that Google and protego accept are accepted (they only ever exclude more).
* Whitespace is SP and HTAB only (RFC 9309 §2.2): keys and values are stripped of those and
  nothing else, so ``Allow: /public`` followed by U+00A0 keeps the U+00A0 (a narrower Allow,
  as Google reads it), and an ``Allow`` key that only other whitespace (U+00A0, U+2002, VT,
  FF ...) makes one is no rule. Where the other reading would exclude more it is taken as
  well: a ``Disallow`` value also counts stripped of all Unicode whitespace, and a
  ``User-agent`` or ``Disallow`` key next to such whitespace still counts (Google reads keys
  by prefix). Extension lines (``Content-Usage`` ...) keep Python's reading of whitespace, so
  that a stated ``n`` is never lost to a stray U+00A0.
* Groups: a group is one or more ``User-agent`` lines followed by rules. Only an ``Allow`` or
  ``Disallow`` line ends the run of ``User-agent`` lines; unknown lines (``Sitemap``,
  ``Crawl-delay``, ``Content-Usage`` ...) never split a group. Rules before the first
  ``User-agent`` line belong to no group and are ignored (recorded in diagnostics).
* ``User-agent``: ``*`` (alone or followed by whitespace) is the catch-all group; otherwise the
  value is cut at the first character outside ``[A-Za-z_-]`` (so at the first space or ``/``)
  and lower-cased. A value that yields no token names no crawler (recorded).
* Rule values: an empty value is no rule (RFC 9309 §2.2.2). A ``Disallow`` value that does not
  start with ``/`` or ``*`` is read conservatively: an absolute URL naming the file's own host
  (``host``; ``www.`` and case aside, ``*`` in it matching any characters) contributes its
  path and query, one naming another host is ignored (recorded); with no ``host`` given the
  URL's path is used. Any other value gets a leading ``/``. Such an ``Allow`` value can never
  match (Google drops it too) and is dropped.
* ``License:`` lines are collected wherever they stand (SPEC.md §3.9); ``Sitemap`` is global.
* Other keys are kept, per group, as ``ExtensionRule`` values (``Content-Usage``,
  ``Content-Signal`` ...) for the signal modules that read them (SPEC.md §3.3).
* Nothing here raises on content; what is skipped is described in ``diagnostics`` (capped).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ..patterns import Pattern, compile_pattern
from ._hosts import same_host as _same_host
from ._hosts import url_host

__all__ = ["ExtensionRule", "ParsedFile", "RawGroup", "RuleLine", "parse_file", "url_host"]

_BOM = b"\xef\xbb\xbf"
#: RFC 9309 §2.2 whitespace: SP and HTAB, nothing else.
_WS = " \t"
_WS_RUN = re.compile(r"[ \t]+")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_TOKEN = re.compile(r"[A-Za-z_-]*")
_USER_AGENT_KEYS = frozenset({"user-agent", "useragent", "user agent"})
_DISALLOW_KEYS = frozenset({"disallow", "dissallow", "dissalow", "disalow", "diasllow", "disallaw"})
_GLOBAL_KEYS = frozenset({"sitemap", "sitemaps", "site-map", "host"})
#: Keys read with RFC 9309 whitespace; any other key is read as ``str.strip`` reads it.
_KNOWN_KEYS = _USER_AGENT_KEYS | _DISALLOW_KEYS | _GLOBAL_KEYS | {"allow", "license", "crawl-delay"}
#: Hostile files could produce a diagnostic per line; keep the first ones and a count.
_MAX_DIAGNOSTICS = 50


@dataclass(frozen=True, slots=True)
class ExtensionRule:
    """A non-standard robots.txt line such as ``Content-Usage: /path train-ai=n``.

    ``path`` is the leading path when the value starts with ``/`` or ``*`` and ``/`` otherwise;
    ``value`` is the rest; ``line`` is the 1-based line number and ``raw`` the line as written.
    ``pattern`` is ``path`` compiled (an empty path as ``/``), made once with the rule.
    """

    path: str
    value: str
    line: int
    raw: str
    pattern: Pattern = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pattern", compile_pattern(self.path or "/"))


@dataclass(frozen=True, slots=True)
class RuleLine:
    """One ``Allow``/``Disallow`` line: the pattern as matched, and the line as written."""

    allow: bool
    pattern: str
    line: int
    raw: str


@dataclass(frozen=True, slots=True)
class RawGroup:
    """One group as written: its product tokens (lower-case, ``*`` for global) and lines."""

    agents: tuple[str, ...]
    rules: tuple[RuleLine, ...]
    crawl_delays: tuple[float, ...]
    extensions: tuple[tuple[str, ExtensionRule], ...]


@dataclass(frozen=True, slots=True)
class ParsedFile:
    """The groups of a file in order, its ``License:`` URLs, and what was skipped."""

    groups: tuple[RawGroup, ...]
    license_urls: tuple[str, ...]
    diagnostics: tuple[str, ...]


class _Builder:
    """Mutable state of one group while the file is read."""

    __slots__ = ("agents", "delays", "extensions", "rules")

    def __init__(self) -> None:
        self.agents: list[str] = []
        self.rules: list[RuleLine] = []
        self.delays: list[float] = []
        self.extensions: list[tuple[str, ExtensionRule]] = []

    def freeze(self) -> RawGroup:
        return RawGroup(
            tuple(self.agents), tuple(self.rules), tuple(self.delays), tuple(self.extensions)
        )


class _Diagnostics:
    __slots__ = ("dropped", "items")

    def __init__(self) -> None:
        self.items: list[str] = []
        self.dropped = 0

    def add(self, message: str) -> None:
        if len(self.items) < _MAX_DIAGNOSTICS:
            self.items.append(message)
        else:
            self.dropped += 1

    def freeze(self) -> tuple[str, ...]:
        if self.dropped:
            return (*self.items, f"{self.dropped} further diagnostics not recorded")
        return tuple(self.items)


def _cut(body: bytes, max_bytes: int, truncated: bool, diag: _Diagnostics) -> bytes:
    """Keep at most ``max_bytes`` and, when anything was cut, only whole lines."""
    limit = max(max_bytes, 0)
    if len(body) > limit:
        if body[limit : limit + 1] in (b"\n", b"\r"):
            end = limit
        else:
            end = max(body.rfind(b"\n", 0, limit), body.rfind(b"\r", 0, limit)) + 1
        diag.add(f"body of {len(body)} bytes cut to {end} bytes at a line boundary")
        return body[:end]
    if truncated and body and body[-1:] not in (b"\n", b"\r"):
        end = max(body.rfind(b"\n"), body.rfind(b"\r")) + 1
        diag.add(f"truncated body: incomplete last line dropped ({len(body) - end} bytes)")
        return body[:end]
    return body


def _decode(body: bytes) -> str:
    if body.startswith(_BOM):
        body = body[len(_BOM) :]
    text = body.decode("utf-8", errors="replace")
    return text[1:] if text.startswith("\ufeff") else text


def _split(line: str, loose: bool) -> tuple[str, str] | None:
    """Split a comment-free line into (lower-case key, value), or None.

    Strict (RFC 9309) strips and splits on SP and HTAB only; ``loose`` on any Unicode
    whitespace, as ``str.strip`` does.
    """
    line = line.strip() if loose else line.strip(_WS)
    sep = line.find(":")
    if sep >= 0:
        key, value = line[:sep], line[sep + 1 :]
    else:
        words = line.split() if loose else _WS_RUN.split(line)
        if len(words) != 2:  # Google accepts a missing colon only between exactly two words
            return None
        key, value = words
    key = key.strip().lower() if loose else key.strip(_WS).lower()
    if not key:
        return None
    return key, (value.strip() if loose else value.strip(_WS))


def product_token(value: str) -> str:
    """The leading RFC 9309 product-token characters of ``value`` (letters, ``-``, ``_``)."""
    match = _TOKEN.match(value)
    return match.group(0) if match else ""


def _agent_token(value: str) -> str | None:
    """``*`` for the catch-all group, else the product token (lower-case), or None."""
    if value[:1] == "*" and (len(value) == 1 or value[1].isspace()):
        return "*"
    match = _TOKEN.match(value)
    token = match.group(0) if match else ""
    return token.lower() or None


def _absolute_path(value: str, host: str | None, lineno: int, diag: _Diagnostics) -> str | None:
    """The path of an absolute-URL ``Disallow`` value, or None when it names another host."""
    try:
        parts = urlsplit(value)
        named = parts.hostname
    except ValueError:
        return "/" + value
    if host is not None and named is not None and not _same_host(named, host):
        diag.add(f"line {lineno}: disallow for another host {named[:60]!r} ignored")
        return None
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _rule_pattern(
    value: str, allow: bool, lineno: int, diag: _Diagnostics, host: str | None
) -> str | None:
    """The pattern of a rule value, repaired conservatively when it lacks a leading ``/``."""
    if value[:1] in ("/", "*"):
        return value
    if allow:
        diag.add(f"line {lineno}: allow value without leading '/' ignored")
        return None
    if value.lower().startswith(("http://", "https://")):
        path = _absolute_path(value, host, lineno, diag)
        if path is None:
            return None
    else:
        path = "/" + value
    diag.add(f"line {lineno}: disallow value without leading '/' read as {path!r}")
    return path


def _extension(key: str, value: str, lineno: int, raw: str) -> tuple[str, ExtensionRule]:
    if value[:1] in ("/", "*"):
        parts = value.split(None, 1)
        head, rest = parts[0], (parts[1] if len(parts) > 1 else "")
        return key, ExtensionRule(path=head, value=rest.strip(), line=lineno, raw=raw)
    return key, ExtensionRule(path="/", value=value, line=lineno, raw=raw)


def _crawl_delay(value: str, lineno: int, diag: _Diagnostics) -> float | None:
    try:
        delay = float(value)
    except ValueError:
        delay = math.nan
    if not math.isfinite(delay) or delay < 0:
        diag.add(f"line {lineno}: crawl-delay {value[:40]!r} ignored")
        return None
    return delay


def _read_line(line: str, diag: _Diagnostics, lineno: int) -> tuple[str, str, str] | None:
    """``(key, value, loose value)`` of a comment-free line, or None when it states nothing.

    ``value`` is the RFC 9309 reading (SP and HTAB stripped), ``loose value`` the one with
    every Unicode whitespace stripped (see the module docstring for which is used where).
    """
    strict = _split(line, loose=False)
    loose = _split(line, loose=True)
    if strict is not None and strict[0] in _KNOWN_KEYS:
        key, value = strict
        return key, value, (loose[1] if loose is not None and loose[0] == key else value)
    if loose is None:
        diag.add(f"line {lineno}: not a key-value line")
        return None
    key, loose_value = loose
    if key == "allow":  # an Allow only if U+00A0 & co. were whitespace: it is no rule
        diag.add(f"line {lineno}: allow line with whitespace other than SP/HTAB ignored")
        return None
    return key, (strict[1] if strict is not None else loose_value), loose_value


def parse_file(
    body: bytes,
    *,
    max_bytes: int,
    case_insensitive: bool = False,
    truncated: bool = False,
    host: str | None = None,
) -> ParsedFile:
    """Read a robots.txt-grammar body into groups (see the module docstring).

    ``host`` is the host the file was fetched from (for absolute-URL rules), when known.
    """
    diag = _Diagnostics()
    text = _decode(_cut(body, max_bytes, truncated, diag))
    groups: list[_Builder] = []
    licenses: list[str] = []
    current: _Builder | None = None
    in_agents = False
    for lineno, raw_line in enumerate(_LINE_BREAK.split(text), 1):
        line = raw_line.split("#", 1)[0]
        if not line.strip():
            continue
        kv = _read_line(line, diag, lineno)
        if kv is None:
            continue
        key, value, loose_value = kv
        raw = raw_line.strip()
        if key in _USER_AGENT_KEYS:
            if current is None or not in_agents:
                current = _Builder()
                groups.append(current)
            in_agents = True
            token = _agent_token(value) or _agent_token(loose_value)
            if token is None:
                diag.add(f"line {lineno}: user-agent {value[:40]!r} names no product token")
            else:
                current.agents.append(token)
        elif key == "license":
            if loose_value:
                licenses.append(loose_value)
        elif key in _GLOBAL_KEYS:
            continue
        elif current is None:
            diag.add(f"line {lineno}: {key[:40]!r} line before any user-agent ignored")
        elif key == "allow":
            in_agents = False
            _add_rule(current, True, value, lineno, raw, case_insensitive, diag, host)
        elif key in _DISALLOW_KEYS:
            in_agents = False
            _add_rule(current, False, value, lineno, raw, case_insensitive, diag, host)
            if loose_value != value:  # the evident meaning too: it only excludes more
                _add_rule(current, False, loose_value, lineno, raw, case_insensitive, diag, host)
        elif key == "crawl-delay":
            delay = _crawl_delay(loose_value, lineno, diag)
            if delay is not None:
                current.delays.append(delay)
        else:
            current.extensions.append(_extension(key, loose_value, lineno, raw))
    return ParsedFile(tuple(g.freeze() for g in groups), tuple(licenses), diag.freeze())


def _add_rule(
    group: _Builder,
    allow: bool,
    value: str,
    lineno: int,
    raw: str,
    case_insensitive: bool,
    diag: _Diagnostics,
    host: str | None,
) -> None:
    if not value:  # "Disallow:" with no value states no rule (RFC 9309 §2.2.2)
        return
    pattern = _rule_pattern(value, allow, lineno, diag, host)
    if pattern is None:
        return
    if case_insensitive:
        pattern = pattern.lower()
    group.rules.append(RuleLine(allow=allow, pattern=pattern, line=lineno, raw=raw))
