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

:func:`resolve_dot_segments` gives the form of a URL that heed requests and decides: ``.``
and ``..`` path segments (also written ``%2e``, any case) resolved as RFC 3986 §5.2.4 says.
``urljoin`` does this for relative links, not for absolute ones, and servers resolve them
before they serve: ``http://site/x/../private/`` would be requested as written, checked
against robots.txt as ``/x/../private/`` (no ``Disallow: /private/`` matches) and served as
``/private/``. Deciding and requesting the resolved form closes that hole.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urljoin, urlsplit

import idna

from .fetch import MAX_REDIRECTS
from .reasons import ReasonCode

__all__ = [
    "MAX_REDIRECTS",
    "MAX_URL_LENGTH",
    "check_host",
    "check_url",
    "origin_of",
    "redirect_refusal",
    "redirect_target",
    "resolve_dot_segments",
]

#: Characters a requestable URL may have at most.
MAX_URL_LENGTH = 2083

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\Z")
_PORT = re.compile(r"[0-9]{1,5}\Z")
#: A label an IPv4 parser reads as a number: decimal, octal or ``0x`` hexadecimal.
_NUMERIC_LABEL = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)", re.I)
_DOT_SEGMENT = re.compile(r"(?:^|/)(?:\.|%2e){1,2}(?:/|$)", re.I)


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
    if all(label.isdigit() for label in labels) or _NUMERIC_LABEL.fullmatch(labels[-1]):
        # A host whose last label is a number is an IPv4 address to browsers and resolvers
        # (WHATWG host parsing; inet_aton reads 0x7f.0.0.1 and 127.1 as 127.0.0.1): heed takes
        # only the dotted-decimal form, so every check (blocklists, the address guard) sees the
        # address that would be connected to.
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


def resolve_dot_segments(url: str) -> str:
    """``url`` with the ``.`` and ``..`` segments of its path resolved (RFC 3986 §5.2.4).

    ``%2e`` counts as ``.`` inside such a segment only; a ``..`` above the root stays at the
    root. Other URLs come back unchanged (the same string). ``url`` must pass
    :func:`check_url`.
    """
    parts = urlsplit(url)
    if not _DOT_SEGMENT.search(parts.path):
        return url
    out: list[str] = []
    segments = parts.path.split("/")
    for i, segment in enumerate(segments):
        plain = segment.lower().replace("%2e", ".")
        last = i == len(segments) - 1
        if plain == ".":
            if last:
                out.append("")
        elif plain == "..":
            if len(out) > 1:
                out.pop()
            if last:
                out.append("")
        else:
            out.append(segment)
    path = "/".join(out)
    if not path.startswith("/"):
        path = "/" + path
    return parts._replace(path=path).geturl()


def redirect_target(current: str, location: str) -> tuple[str, str | None]:
    """Where a redirect from ``current`` to ``Location: location`` leads, and what makes that
    target unrequestable (None: it can be requested; the target then has its dot segments
    resolved). The crawl's middleware and ``heed check`` both follow redirects through this.
    """
    try:
        target = urljoin(current, location)
    except ValueError as e:  # e.g. an unclosed IPv6 bracket
        return location, f"unparsable: {e}"
    problem = check_url(target)
    return (target, problem) if problem is not None else (resolve_dot_segments(target), None)


def redirect_refusal(
    target: str, problem: str | None, location: str, hops: int
) -> tuple[ReasonCode, str] | None:
    """Why the ``hops``-th redirect (to ``redirect_target``'s ``target`` and ``problem``, from
    ``Location: location``) is not followed, as a reason code and its raw value; None when it
    may be followed. The crawl's middleware and ``heed check`` share this rule."""
    if hops > MAX_REDIRECTS:
        return ReasonCode.FETCH_REDIRECT_LIMIT, location[:300]
    if problem is None:
        return None
    if not target.startswith(("http://", "https://")):
        return ReasonCode.FETCH_ERROR, location[:300]  # another scheme
    return ReasonCode.FETCH_INVALID_URL, f"{problem}: {location}"[:300]


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, lower-cased, default ports dropped: the key a
    site's documents are fetched and shared under. Raises ValueError for a URL that does not
    parse (an invalid port); callers check URLs with :func:`check_url` first."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port is None or (scheme, port) in (("http", 80), ("https", 443)):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"
