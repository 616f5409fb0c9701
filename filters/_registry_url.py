"""URL and host normalisation for the consent registry (SPEC.md §3.6), kept apart from
``registry.py`` to keep that module small. Public names are re-exported there.

Subjects and looked-up URLs are compared in one canonical form: scheme and host lower-case,
IDNA (UTS #46) for non-ASCII hosts, default port dropped, path percent-escapes normalised as
RFC 9309 §2.2.2 does (``patterns.normalize_path``), fragment dropped, empty path ``/``.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from urllib.parse import urlsplit

import idna

from .errors import RegistryValidationError
from .patterns import normalize_path

__all__ = ["normalize_host", "normalize_url"]

_DEFAULT_PORTS = {"http": 80, "https": 443}
_LABEL = r"(?!-)[a-z0-9_-]{1,63}(?<!-)"
_HOST = re.compile(rf"(?:{_LABEL}\.)*{_LABEL}")


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
    path = normalize_path(parts.path or "/")
    query = f"?{normalize_path(parts.query)}" if parts.query else ""
    return f"{scheme}://{netloc}{path}{query}"


def _is_ip(host: str) -> bool:
    host = host.strip("[]")
    if not host or not (host[-1].isdigit() or ":" in host):  # cheap: most hosts are names
        return False
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True
