"""Domain blocklists: the sites an operator never requests (SPEC.md §5 ``blocklist.listed``).

The EU Code of Practice (copyright chapter, 2025) asks a crawler to exclude sites listed as
persistently infringing. ``[policy] blocklists`` names such lists; the crawler reads each one
(``crawler/blocklists.py``) and hands its text here. Pure: text in, an immutable
:class:`DomainList` out; a host in, the matching entry out.

The format is the plain domain list most published blocklists use, one entry a line:

- ``#`` starts a comment, on its own line or after an entry; blank lines are ignored;
- an entry is a domain name: lower-cased, IDNA-encoded (a non-ASCII name is stored in both its
  IDNA 2003 and its IDNA 2008 form, since heed's HTTP stack uses both), trailing dot dropped;
  it lists the domain *and every subdomain* (``a.example`` lists ``x.a.example`` but not
  ``ba.example``);
- a leading ``*.`` or ``.`` means the same as the bare domain;
- a hosts-file line (``0.0.0.0 ads.example``, ``127.0.0.1 a.example b.example``) lists its
  names; the hosts file's own names (``localhost``, ``broadcasthost``, ``ip6-…``, ...) are
  skipped;
- an adblock-style domain rule ``||a.example^`` lists ``a.example``;
- a URL (``https://a.example/path``) lists its host (the whole host: excluding more than the
  one page is the safe reading of "this site infringes");
- an IPv4 or IPv6 address lists that address as a host (exact match only: an address has no
  subdomains);
- anything else (a wildcard inside a name, a bad label, a rule with options) is skipped and
  counted in the list's :attr:`DomainList.diagnostics`, never an exception.

Matching (:meth:`Blocklist.match`) looks up the host and each parent suffix in a set: at
most one lookup per label, whatever the size of the lists.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import idna

__all__ = [
    "EMPTY_BLOCKLIST",
    "Blocklist",
    "DomainList",
    "host_of",
    "normalize_host",
    "parse_domain_list",
]

#: Diagnostics kept per list (a junk list can have millions of bad lines; all are counted).
MAX_DIAGNOSTICS = 20

#: A lower-case ASCII DNS name (labels of letters, digits, ``_`` and ``-``; filters/urls.py's
#: label rule), the common case, checked with one regular expression.
_NAME = re.compile(
    r"(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
)
_IPV4ISH = re.compile(r"[0-9.]+")
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
#: A whole line holding one such name (not all digits and dots: that may be an address), at
#: most 253 characters, optionally after a hosts-file address and before a comment; group 1 is
#: the name. Multi-line: the names of a whole list are found in one call.
_FAST_LINE = re.compile(
    r"^[ \t]*(?:(?:0\.0\.0\.0|127\.0\.0\.1)[ \t]+)?"
    r"(?=[a-z0-9_.-]{1,253}\.?(?:[ \t\r#\n]|\Z))"  # at most 253 characters
    r"(?![0-9.]+\.?(?:[ \t\r#\n]|\Z))"  # not all digits and dots
    rf"((?:{_LABEL}\.)*{_LABEL})\.?[ \t]*(?:#[^\n]*)?\r?$",
    re.MULTILINE,
)
#: Any line with something other than spaces on it.
_OTHER_LINE = re.compile(r"^.*\S.*$", re.MULTILINE)
#: Names in hosts files that describe the machine itself, not a listed site.
_HOSTS_FILE_NAMES = frozenset(
    {
        "localhost",
        "localhost.localdomain",
        "local",
        "broadcasthost",
        "0.0.0.0",
        "ip6-localhost",
        "ip6-loopback",
        "ip6-localnet",
        "ip6-mcastprefix",
        "ip6-allnodes",
        "ip6-allrouters",
        "ip6-allhosts",
    }
)


@dataclass(frozen=True, slots=True, eq=False)
class DomainList:
    """One parsed list: its ``name`` (where it came from), the entries it lists (names and
    addresses, normalised), how many lines it listed, the sha256 of its bytes, and what was
    skipped (``skipped`` lines, the first :data:`MAX_DIAGNOSTICS` described)."""

    name: str
    entries: frozenset[str]
    sha256: str
    skipped: int = 0
    diagnostics: tuple[str, ...] = ()

    def __repr__(self) -> str:  # never millions of entries in a log line
        return f"<DomainList {self.name!r}: {len(self.entries)} entries, {self.skipped} skipped>"


@dataclass(frozen=True, slots=True)
class Blocklist:
    """The run's domain lists, in configuration order; the first list naming a host wins."""

    lists: tuple[DomainList, ...] = ()

    def __bool__(self) -> bool:
        return any(d.entries for d in self.lists)

    def __repr__(self) -> str:
        total = sum(len(d.entries) for d in self.lists)
        return f"<Blocklist {len(self.lists)} list(s), {total} entries>"

    def match(self, host: str) -> tuple[str, str] | None:
        """``(entry, list name)`` when ``host`` or one of its parent domains is listed.

        ``host`` is a URL's host as ``urlsplit`` gives it (lower case, IPv6 without brackets,
        possibly non-ASCII or with a trailing dot); it is normalised as the entries were.
        """
        lists = self.lists
        if not lists:
            return None
        for form in normalize_host(host):
            if _IPV4ISH.fullmatch(form) or ":" in form:  # an address: exact match only
                for d in lists:
                    if form in d.entries:
                        return form, d.name
                continue
            name = form
            while True:
                for d in lists:
                    if name in d.entries:
                        return name, d.name
                dot = name.find(".")
                if dot < 0:
                    break
                name = name[dot + 1 :]
        return None

    def match_url(self, url: str) -> tuple[str, str] | None:
        """:meth:`match` for the host of ``url`` (None when it has no readable host)."""
        if not self.lists:
            return None
        host = host_of(url)
        return self.match(host) if host else None


EMPTY_BLOCKLIST = Blocklist()


def host_of(url: str) -> str:
    """The host of ``url`` as ``urlsplit`` reads it ("" when there is none or it is unreadable)."""
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def normalize_host(host: str) -> tuple[str, ...]:
    """The forms a host is listed and matched under: lower case, no trailing dot, an IP
    address in its canonical text, a non-ASCII name in its IDNA 2003 and IDNA 2008 forms
    (either may be what is requested). Empty when ``host`` is not a usable name."""
    text = host.strip().lower()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if text.endswith("."):
        text = text[:-1]
    if not text:
        return ()
    if text.isascii():
        if _NAME.fullmatch(text) and len(text) <= 253:
            if _IPV4ISH.fullmatch(text):
                return _address(text)
            return (text,)
        return _address(text)
    forms: list[str] = []
    with contextlib.suppress(UnicodeError):  # IDNA 2003 (Python's codec, Scrapy's w3lib)
        forms.append(text.encode("idna").decode("ascii"))
    with contextlib.suppress(idna.IDNAError, UnicodeError):  # IDNA 2008 (httpx)
        forms.append(idna.encode(text, uts46=True).decode("ascii"))
    good = [f.lower() for f in forms if _NAME.fullmatch(f.lower()) and len(f) <= 253]
    return tuple(dict.fromkeys(good))


def _address(text: str) -> tuple[str, ...]:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return ()
    if isinstance(address, ipaddress.IPv6Address):
        # ``::ffff:a.b.c.d`` (and the deprecated ``::a.b.c.d``) reach the IPv4 host: listed
        # and looked up as that address
        inner = address.ipv4_mapped or _ipv4_compatible(address)
        if inner is not None:
            return (inner.compressed,)
    return (address.compressed,)


def _ipv4_compatible(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    value = int(address)
    if value >> 32 == 0 and value > 1:  # ::a.b.c.d, but not :: or ::1
        return ipaddress.IPv4Address(value)
    return None


def _entry_hosts(line: str) -> tuple[list[str], str | None]:
    """The hosts one (comment-free, stripped, non-empty) line lists, or why it lists none."""
    fields = line.split()
    if len(fields) > 1:
        # A hosts-file line: an address, then names. Anything else with spaces is junk.
        if not _address(fields[0]):
            return [], "not a domain"
        # The hosts file's own names (its header lines) list nothing, and are no error.
        return [f for f in fields[1:] if f.lower() not in _HOSTS_FILE_NAMES], None
    text = fields[0]
    if text.startswith("||") and text.endswith("^"):
        text = text[2:-1]
    elif "://" in text:
        host = host_of(text)
        if not host or not text.lower().startswith(("http://", "https://")):
            return [], "not an http(s) URL"
        return [host], None
    if text.startswith("*."):
        text = text[2:]
    elif text.startswith("."):
        text = text[1:]
    return [text], None


def parse_domain_list(data: bytes | str, name: str) -> DomainList:
    """Parse one list (its bytes, or text) named ``name``; never raises on its content.

    Bytes are read as UTF-8 (a BOM is dropped; an undecodable byte makes that line junk, not
    the list). The sha256 is of the bytes given (of the UTF-8 text when given text).
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    digest = hashlib.sha256(raw).hexdigest()
    text = raw.decode("utf-8", errors="replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    # The common lines (a lower-case ASCII name, alone or after a hosts-file address, with
    # an optional comment) are read in one pass of a regular expression and then removed;
    # what remains is read line by line (its line numbers are kept for the diagnostics).
    entries = set(_FAST_LINE.findall(text))
    entries -= _HOSTS_FILE_NAMES
    rest = _FAST_LINE.sub("", text)
    skipped = 0
    notes: list[str] = []
    number, at = 1, 0
    for found in _OTHER_LINE.finditer(rest):
        number += rest.count("\n", at, found.start())
        at = found.start()
        line = found.group()
        hash_at = line.find("#")
        if hash_at >= 0:
            line = line[:hash_at]
        line = line.strip()
        if not line:
            continue
        hosts, problem = _entry_hosts(line)
        for host in hosts:
            forms = normalize_host(host)
            if forms:
                entries.update(forms)
            else:
                problem = problem or "not a domain or an address"
        if problem is not None:
            skipped += 1
            if len(notes) < MAX_DIAGNOSTICS:
                notes.append(f"line {number}: {problem}: {line[:80]!r}")
    return DomainList(name, frozenset(entries), digest, skipped, tuple(notes))
