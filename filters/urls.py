"""Whether a URL can be requested at all: the one validity rule for config, crawl, resume, check.

A link on a hostile page, a line of an old frontier log or a seed typed by hand can be a string
no HTTP client can request: a port outside 1-65535, a host with a space, a bracket left open.
Handed to Scrapy or httpx such a string raises deep inside the download machinery, so heed asks
:func:`check_url` first and treats the answer as data: a link becomes a ``fetch.invalid-url``
decision (SPEC.md §5), a seed or a ``heed check`` argument a configuration error.

Pure: no network, no files. The rules (conservative: refuse rather than guess):

- at most :data:`MAX_URL_LENGTH` characters (2,083: the limit browsers and Scrapy's
  ``URLLENGTH_LIMIT`` share; longer requests are dropped by Scrapy without a word);
- no control characters (U+0000-U+001F, U+007F-U+009F) anywhere;
- scheme ``http`` or ``https``, and Python's ``urlsplit`` must accept it;
- a host: a bracketed IPv6 literal that parses as one (no zone id), a dotted-decimal IPv4
  address, or a DNS name whose labels are letters, digits, ``-`` and ``_`` (underscores occur
  in real subdomains), each 1-63 characters once IDNA-encoded, at most 253 in all (a trailing
  dot is allowed); non-ASCII names must encode with IDNA 2003 and IDNA 2008 alike (the two
  encoders of the HTTP stack). An all-numeric name must be a valid
  IPv4 address (``999.1.1.1`` is not);
- an explicit port is a decimal number from 1 to 65535.

Spaces and other characters in the path or query are left to the client's percent-encoding,
as browsers do; only the host is held to the strict grammar.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

import idna

__all__ = ["MAX_URL_LENGTH", "check_host", "check_url"]

#: Characters a requestable URL may have at most.
MAX_URL_LENGTH = 2083

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\Z")
_PORT = re.compile(r"[0-9]{1,5}\Z")


def check_url(url: object) -> str | None:
    """What makes ``url`` unrequestable, in a few words, or None when it can be requested."""
    if not isinstance(url, str):
        return f"not a string ({type(url).__name__})"
    if not url:
        return "empty URL"
    if len(url) > MAX_URL_LENGTH:
        return f"{len(url)} characters, over the {MAX_URL_LENGTH}-character limit"
    control = _CONTROL.search(url)
    if control:
        return f"control character U+{ord(control.group()):04X} at position {control.start()}"
    try:
        parts = urlsplit(url)
    except ValueError as e:
        return f"unparsable: {e}"
    if parts.scheme not in ("http", "https"):
        return f"scheme {parts.scheme!r} is not http or https" if parts.scheme else "not absolute"
    hostport = parts.netloc.rpartition("@")[2]
    if hostport.startswith("["):
        host, close, rest = hostport[1:].partition("]")
        if not close:
            return "IPv6 literal without its closing bracket"
        problem = _check_ipv6(host)
        if problem:
            return problem
    else:
        host, _, rest = hostport.partition(":")
        rest = ":" + rest if _ else ""
        problem = check_host(host)
        if problem:
            return problem
    if rest:
        if not rest.startswith(":"):
            return f"unexpected {rest[:20]!r} after the host"
        port = rest[1:]
        if port and (not _PORT.match(port) or not 1 <= int(port) <= 65535):
            return f"port {port[:20]!r} is not a number from 1 to 65535"
    return None


def check_host(host: object) -> str | None:
    """What makes ``host`` (a name or an IPv4 address, no port) invalid, or None."""
    if not isinstance(host, str):
        return f"host is not a string ({type(host).__name__})"
    if not host:
        return "no host"
    name = host[:-1] if host.endswith(".") else host
    if not name:
        return "no host"
    if not name.isascii():
        # Both encodings the HTTP stack uses must accept it: Python's IDNA 2003 codec
        # (Scrapy's w3lib) and IDNA 2008 (httpx, through the idna package).
        try:
            encoded = name.lower().encode("idna").decode("ascii")
            idna.encode(name.lower())
        except (UnicodeError, idna.IDNAError):
            return f"host {host[:80]!r} is not a valid internationalised name"
        name = encoded
    name = name.lower()
    if len(name) > 253:
        return f"host is {len(name)} characters long (at most 253)"
    labels = name.split(".")
    for label in labels:
        if not _LABEL.match(label):
            return f"host {host[:80]!r} has an invalid label {label[:63]!r}"
    if all(label.isdigit() for label in labels):
        try:
            ipaddress.IPv4Address(name)
        except ValueError:
            return f"host {host[:80]!r} is not a valid IPv4 address"
    return None


def _check_ipv6(literal: str) -> str | None:
    if "%" in literal:
        return "IPv6 literal with a zone id"
    try:
        ipaddress.IPv6Address(literal)
    except ValueError:
        return f"[{literal[:60]}] is not a valid IPv6 address"
    return None
