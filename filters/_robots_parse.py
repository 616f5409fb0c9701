"""Line tokenising and grouping of robots.txt (RFC 9309 §2.1-§2.2; SPEC.md §3.1, §3.4).

This is heed's own front end to protego: protego gives the Allow/Disallow verdicts, but its
grouping differs from RFC 9309 in ways that matter here (an unknown line splits a group; a
``User-agent`` value is kept whole and matched as a substring). So the file is read here, and
``_robots_match`` hands each merged group's clean rule list to protego as a one-group file.

What this module does, and the choices it makes where RFC 9309 is silent:

* Bytes: a UTF-8 BOM is stripped, the body is decoded as UTF-8 with errors replaced, CR, LF
  and CRLF all end a line. A body longer than ``max_bytes`` is cut at the last line boundary
  within the bound (RFC 9309 §2.5); so is a body the fetcher marked as truncated.
* Lines: ``#`` starts a comment; a key is case-insensitive; ``key: value`` and, as Google's
  parser accepts, ``key value`` (exactly two words) are read. The misspellings of
  ``disallow`` that Google and protego accept are accepted (they only ever exclude more).
* Groups: a group is one or more ``User-agent`` lines followed by rules. Only an ``Allow`` or
  ``Disallow`` line ends the run of ``User-agent`` lines; unknown lines (``Sitemap``,
  ``Crawl-delay``, ``Content-Usage`` ...) never split a group. Rules before the first
  ``User-agent`` line belong to no group and are ignored (recorded in diagnostics).
* ``User-agent``: ``*`` (alone or followed by whitespace) is the global group; otherwise the
  value is cut at the first character outside ``[A-Za-z_-]`` (so at the first space or ``/``)
  and lower-cased. A value that yields no token names no crawler (recorded).
* Rule values: an empty value is no rule (RFC 9309 §2.2.2). A ``Disallow`` value that does not
  start with ``/`` or ``*`` is read conservatively: an absolute URL contributes its path, any
  other value gets a leading ``/``. Such an ``Allow`` value can never match and is dropped.
* ``License:`` lines are collected wherever they stand (SPEC.md §3.9); ``Sitemap`` is global.
* Other keys are kept, per group, as ``ExtensionRule`` values (``Content-Usage``,
  ``Content-Signal`` ...) for the signal modules that read them (SPEC.md §3.3).
* Nothing here raises on content; what is skipped is described in ``diagnostics`` (capped).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["ExtensionRule", "ParsedFile", "RawGroup", "RuleLine", "parse_file"]

_BOM = b"\xef\xbb\xbf"
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_TOKEN = re.compile(r"[A-Za-z_-]*")
_USER_AGENT_KEYS = frozenset({"user-agent", "useragent", "user agent"})
_DISALLOW_KEYS = frozenset({"disallow", "dissallow", "dissalow", "disalow", "diasllow", "disallaw"})
_GLOBAL_KEYS = frozenset({"sitemap", "sitemaps", "site-map", "host"})
#: Hostile files could produce a diagnostic per line; keep the first ones and a count.
_MAX_DIAGNOSTICS = 50


@dataclass(frozen=True, slots=True)
class ExtensionRule:
    """A non-standard robots.txt line such as ``Content-Usage: /path train-ai=n``.

    ``path`` is the leading path when the value starts with ``/`` or ``*`` and ``/`` otherwise;
    ``value`` is the rest; ``line`` is the 1-based line number and ``raw`` the line as written.
    """

    path: str
    value: str
    line: int
    raw: str


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


def _key_value(line: str) -> tuple[str, str] | None:
    """Split a comment-free, stripped line into (lower-case key, value), or None."""
    sep = line.find(":")
    if sep >= 0:
        key, value = line[:sep], line[sep + 1 :]
    else:
        words = line.split()
        if len(words) != 2:  # Google accepts a missing colon only between exactly two words
            return None
        key, value = words
    key = key.strip().lower()
    return (key, value.strip()) if key else None


def _agent_token(value: str) -> str | None:
    """``*`` for the global group, else the product token (lower-case), or None."""
    if value[:1] == "*" and (len(value) == 1 or value[1].isspace()):
        return "*"
    match = _TOKEN.match(value)
    token = match.group(0) if match else ""
    return token.lower() or None


def _rule_pattern(value: str, allow: bool, lineno: int, diag: _Diagnostics) -> str | None:
    """The pattern of a rule value, repaired conservatively when it lacks a leading ``/``."""
    if value[:1] in ("/", "*"):
        return value
    if allow:
        diag.add(f"line {lineno}: allow value without leading '/' ignored")
        return None
    if value.lower().startswith(("http://", "https://")):
        try:
            parts = urlsplit(value)
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        except ValueError:
            path = "/" + value
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


def parse_file(
    body: bytes, *, max_bytes: int, case_insensitive: bool = False, truncated: bool = False
) -> ParsedFile:
    """Read a robots.txt-grammar body into groups (see the module docstring)."""
    diag = _Diagnostics()
    text = _decode(_cut(body, max_bytes, truncated, diag))
    groups: list[_Builder] = []
    licenses: list[str] = []
    current: _Builder | None = None
    in_agents = False
    for lineno, raw_line in enumerate(_LINE_BREAK.split(text), 1):
        line = raw_line.split("#", 1)[0].strip()
        if not line:
            continue
        kv = _key_value(line)
        if kv is None:
            diag.add(f"line {lineno}: not a key-value line")
            continue
        key, value = kv
        raw = raw_line.strip()
        if key in _USER_AGENT_KEYS:
            if current is None or not in_agents:
                current = _Builder()
                groups.append(current)
            in_agents = True
            token = _agent_token(value)
            if token is None:
                diag.add(f"line {lineno}: user-agent {value[:40]!r} names no product token")
            else:
                current.agents.append(token)
        elif key == "license":
            if value:
                licenses.append(value)
        elif key in _GLOBAL_KEYS:
            continue
        elif current is None:
            diag.add(f"line {lineno}: {key[:40]!r} line before any user-agent ignored")
        elif key == "allow" or key in _DISALLOW_KEYS:
            in_agents = False
            _add_rule(current, key == "allow", value, lineno, raw, case_insensitive, diag)
        elif key == "crawl-delay":
            delay = _crawl_delay(value, lineno, diag)
            if delay is not None:
                current.delays.append(delay)
        else:
            current.extensions.append(_extension(key, value, lineno, raw))
    return ParsedFile(tuple(g.freeze() for g in groups), tuple(licenses), diag.freeze())


def _add_rule(
    group: _Builder,
    allow: bool,
    value: str,
    lineno: int,
    raw: str,
    case_insensitive: bool,
    diag: _Diagnostics,
) -> None:
    if not value:  # "Disallow:" with no value states no rule (RFC 9309 §2.2.2)
        return
    pattern = _rule_pattern(value, allow, lineno, diag)
    if pattern is None:
        return
    if case_insensitive:
        pattern = pattern.lower()
    group.rules.append(RuleLine(allow=allow, pattern=pattern, line=lineno, raw=raw))
