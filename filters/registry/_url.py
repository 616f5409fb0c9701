"""URL and host normalisation for the consent registry (SPEC.md §3.6), and a URL's index keys
(``lookup_keys``). The first module of the package: it imports no other; public names are
re-exported by ``filters.registry``.

Subjects and looked-up URLs are compared in one canonical form: scheme and host lower-case,
IDNA (UTS #46) for non-ASCII hosts, default port dropped, path percent-escapes normalised as
RFC 9309 §2.2.2 does (``patterns.normalize_path``), then ``.`` and ``..`` segments resolved as
RFC 3986 §5.2.4 does (after the escapes, so ``%2E%2E`` is ``..`` too: a server resolves them
before it serves the page, and ``/open/../private/`` must not match a prefix ``/open/``),
fragment dropped, empty path ``/``.

Speed: a crawler normalises every URL it looks up, so ordinary absolute http(s) URLs (ASCII,
no credentials, whitespace, brackets or unusual characters) are split by one regular expression
(``_FAST``) instead of ``urllib.parse.urlsplit`` plus its ``hostname``/``port`` properties; the
pieces then go through the same normalisers, or string tests that give the same answers for
the characters the expression admits (``_is_plain_name``; a path without "%" is already
normal). Anything the expression does not accept takes the full ``urlsplit`` path, so the fast
path can only agree with it (hypothesis properties in tests/registry/test_url.py check that on
generated URLs and hosts).

These expressions (the fast paths ``_FAST`` and ``_HOST_ONLY``, and ``_HOST``, the check of a
host name) are not the "simple URL" of ``filters/_simple_url.py`` and differ from it on
purpose: they accept far more (``%`` escapes,
queries, fragments, ``_`` in host names, any pchar in the path), because each only has to give
what ``urlsplit`` and the normalisers give, while a simple URL is one that every matcher
(protego included) reads verbatim. ``parse_simple_for_match`` is the one place here that takes
a simple URL, as the two parts ``_simple_url.split_simple`` gives.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from urllib.parse import urlsplit

import idna

from ..errors import RegistryValidationError
from ..patterns import normalize_path

__all__ = [
    "known_to_parse",
    "lookup_keys",
    "normalize_host",
    "normalize_url",
    "parse_for_match",
    "parse_simple_for_match",
    "split_url",
]

_DEFAULT_PORTS = {"http": 80, "https": 443}
_LABEL = r"(?!-)[a-z0-9_-]{1,63}(?<!-)"
_HOST = re.compile(rf"(?:{_LABEL}\.)*{_LABEL}")
# RFC 3986 pchar (unreserved, sub-delims, ":", "@") plus "%" (escapes are normalised after).
_PCHAR = r"A-Za-z0-9\-._~!$&'()*+,;=:@%"
# scheme, host, port, path, query; the fragment (dropped) may also hold "?" and "#". A host is
# ASCII letters, digits, ".", "_" and "-" only: no credentials, no IPv6 brackets, no IDNA work.
_FAST = re.compile(
    rf"([Hh][Tt][Tt][Pp][Ss]?)://([A-Za-z0-9._-]+)(?::([0-9]{{1,5}}))?"
    rf"(/[{_PCHAR}/]*)?(?:\?([{_PCHAR}/?]*))?(?:#[{_PCHAR}/?#]*)?"
)


def _remove_dots(path: str) -> str:
    """RFC 3986 §5.2.4 ``remove_dot_segments`` for an absolute path (one starting with "/")."""
    if "/." not in path:
        return path
    segments = path.split("/")[1:]
    out: list[str] = []
    for segment in segments:
        if segment == "..":
            if out:
                out.pop()
        elif segment != ".":
            out.append(segment)
    resolved = "/" + "/".join(out)
    if segments[-1] in (".", "..") and not resolved.endswith("/"):
        resolved += "/"  # "/a/b/.." names the folder "/a/"
    return resolved


def _is_plain_name(host: str) -> bool:
    """``len(host) <= 253 and _HOST.fullmatch(host)`` for a lower-case ``host`` of letters,
    digits, ".", "_" and "-" (as ``_FAST`` gives it) that does not end in ".": labels of 1-63
    characters that neither start nor end with "-". String tests, cheaper than the pattern."""
    return (
        len(host) <= 253
        and host[0] not in ".-"
        and host[-1] != "-"
        and ".." not in host
        and ".-" not in host
        and "-." not in host
        and (len(host) <= 63 or max(map(len, host.split("."))) <= 63)
    )


@lru_cache(maxsize=65536)
def normalize_host(host: str) -> str:
    """Lower-case, IDNA-encode and check a host name or IP address.

    Raises:
        RegistryValidationError: not a valid host.
    """
    host = host.strip().rstrip(".")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if host and (host[-1].isdigit() or ":" in host):  # only these can be IP addresses
        try:
            return str(ipaddress.ip_address(host))
        except ValueError:
            pass
    try:
        ascii_host = host if host.isascii() else idna.encode(host, uts46=True).decode("ascii")
    except (UnicodeError, idna.IDNAError) as e:
        raise RegistryValidationError(f"bad host {host!r}: not a valid IDNA name") from e
    ascii_host = ascii_host.lower()
    if len(ascii_host) > 253 or not _HOST.fullmatch(ascii_host):
        raise RegistryValidationError(f"bad host {host!r}")
    return ascii_host


def normalize_url(url: str) -> str:
    """Normalise an absolute http(s) URL: scheme and host lower-case, IDNA, default port dropped,
    path percent-encoding normalised as RFC 9309 does, fragment dropped, empty path ``/``.

    Raises:
        RegistryValidationError: not an absolute http(s) URL.
    """
    return split_url(url)[1]


def split_url(url: str) -> tuple[str, str]:
    """``(host, normalize_url(url))``: the normalised host (IPv6 without brackets) and URL.

    Raises:
        RegistryValidationError: not an absolute http(s) URL.
    """
    fast = _split_fast(url)
    return fast if fast is not None else _split_full(url)


def _split_fast(url: str) -> tuple[str, str] | None:
    """The ordinary case without ``urlsplit``; None sends the URL to ``_split_full``."""
    match = _FAST.fullmatch(url)
    if match is None:
        return None
    scheme_text, host_text, port_text, path, query = match.groups()
    scheme = scheme_text.lower()
    last = host_text[-1]
    if last.isdigit() or last == ".":  # maybe an IPv4 address, or dots to strip: in full
        try:
            host = normalize_host(host_text)  # never contains ":" here
        except RegistryValidationError:
            return None  # _split_full raises the error with its message
    else:  # what normalize_host(host_text) gives here (no IP, nothing to strip or encode)
        host = host_text.lower()
        if not _is_plain_name(host):
            return None  # _split_full raises the error with its message
    netloc = host
    if port_text is not None:
        port = int(port_text)
        if port > 65535:
            return None  # _split_full raises the error with its message
        if port != _DEFAULT_PORTS[scheme]:
            netloc = f"{host}:{port}"
    # The pattern admits ASCII only, so a piece without "%" is its own normal form (as
    # ``normalize_path`` would return it); the property tests check the agreement.
    if path is None:
        path = "/"
    else:
        if "%" in path:
            path = normalize_path(path)
        if "/." in path:
            path = _remove_dots(path)
    query = "?" + (normalize_path(query) if "%" in query else query) if query else ""
    return host, f"{scheme}://{netloc}{path}{query}"


@lru_cache(maxsize=16384)
def parse_for_match(url: str) -> tuple[str, str, bool] | None:
    """(host, normalised URL without its scheme, whether the host is an IP address) of
    ``url``, or None when it is not an http(s) URL: what ``registry.evaluate`` matches
    subjects against (http and https name the same site there).

    Cached: a crawler looks a URL up (``lookup_keys``) and then decides it (``evaluate``).
    """
    split = _split_fast(url)  # split_url, one call shorter
    if split is None:
        try:
            split = _split_full(url)
        except RegistryValidationError:
            return None
    host, norm = split
    # Only a host ending in a digit or holding ":" can be an IP address (as in _is_ip).
    is_ip = (host[-1:].isdigit() or ":" in host) and _is_ip(host)
    return host, norm.partition("://")[2], is_ip  # norm always has its scheme


@lru_cache(maxsize=4096)
def _origin_for_match(origin: str) -> tuple[str, str, bool] | None:
    parsed = parse_for_match(origin + "/")
    if parsed is None:
        return None
    host, bare, is_ip = parsed
    return host, bare[:-1], is_ip  # bare is the netloc and "/"


def parse_simple_for_match(origin: str, path: str) -> tuple[str, str, bool] | None:
    """``parse_for_match(origin + path)`` for a path the caller knows to be *simple*
    (``filters/_simple_url.py``: starting with ``/`` and made only of its ``PATH_CHARS``,
    ``A-Z a-z 0-9 _ . ~ / = -``, which normalisation leaves as they are), with ``origin``
    being ``scheme://host[:port]``. Only the origin is normalised (cached per
    origin), so a caller deciding many URLs of one site skips the URL parsing.
    """
    if "/." in path:  # dot segments to resolve: not left as it is
        return parse_for_match(origin + path)
    parts = _origin_for_match(origin)
    if parts is None:
        return None
    host, netloc, is_ip = parts
    return host, netloc + path, is_ip


#: ``http(s)://name[:port]`` then the end or a path, query or fragment of printable ASCII:
#: the URLs whose host ``parse_for_match`` reads without looking at the rest.
_HOST_ONLY = re.compile(
    r"[Hh][Tt][Tt][Pp][Ss]?://([A-Za-z0-9._-]+)(?::([0-9]{1,5}))?(?:[/?#][!-~]*)?"
).fullmatch


def _fast_host(url: str) -> str | None:
    """The host ``parse_for_match(url)`` gives, for an ordinary URL whose host is a plain
    name (not an IP address); None means "ask ``parse_for_match``"."""
    match = _HOST_ONLY(url)
    if match is None:
        return None
    host_text, port = match.groups()
    last = host_text[-1]
    if last.isdigit() or last == "." or (port is not None and int(port) > 65535):
        return None
    host = host_text.lower()
    return host if _is_plain_name(host) else None


def lookup_keys(url: str) -> tuple[str, ...]:
    """The URL's host and each of its parent domains, most specific first.

    These are the index keys under which a store finds every entry that may match the URL.
    A URL that is not an absolute http(s) URL has no keys (and matches no entry).
    """
    host = _fast_host(url)  # the host alone: no need to normalise the whole URL
    if host is None:
        parsed = parse_for_match(url)
        if parsed is None:
            return ()
        host, _, is_ip = parsed
        if is_ip:
            return (host,)
    keys = [host]
    rest = host
    while "." in rest:  # the text after each dot: the parent domains
        rest = rest.split(".", 1)[1]
        keys.append(rest)
    return tuple(keys)


def known_to_parse(url: str) -> bool:
    """True when ``parse_for_match(url)`` is surely not None, found without normalising the
    URL: it is an ordinary URL (``_fast_host``). False means "not known": ask
    ``parse_for_match`` (cached, and already asked by ``lookup_keys`` for such a URL).

    Not cached: a cache in front of ``_fast_host`` costs more per new URL (a crawl's URLs are
    all new) than it saves on the second call."""
    return _fast_host(url) is not None


def _split_full(url: str) -> tuple[str, str]:
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as e:
        raise RegistryValidationError(f"bad URL {url!r}: {e}") from e
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise RegistryValidationError(f"bad URL {url!r}: need an absolute http(s) URL")
    if "@" in parts.netloc:
        raise RegistryValidationError(f"bad URL {url!r}: credentials are not allowed")
    host = normalize_host(parts.hostname)
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    path = _remove_dots(normalize_path(parts.path or "/"))
    query = f"?{normalize_path(parts.query)}" if parts.query else ""
    norm = f"{scheme}://{netloc}{path}{query}"
    return urlsplit(norm).hostname or "", norm


def _is_ip(host: str) -> bool:
    host = host.strip("[]")
    if not host or not (host[-1].isdigit() or ":" in host):  # cheap: most hosts are names
        return False
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True
