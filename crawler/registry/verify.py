"""Site-owner verification: proof of control of an origin via a well-known file.

The service hands the owner a challenge line; the owner publishes it in
``<origin>/.well-known/heed-registry.txt``; the service fetches that file and, when one of its
lines equals the challenge, records the entry as verified. The fetch is bounded (64 KiB,
10 s, 5 redirects, each staying on the same host; http→https upgrades allowed) and refuses
private, loopback, link-local and reserved addresses unless the service runs with
``allow_private`` (SPEC.md §7). The address check resolves the host before connecting; a DNS
answer that changes between the check and the connection (rebinding) is not caught; the file
is only read for a token, so the exposure is a blind GET.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urljoin, urlsplit

import httpx

from filters.errors import RegistryValidationError
from filters.registry import Entry, SubjectKind, normalize_url

__all__ = [
    "WELL_KNOWN_PATH",
    "VerificationFailed",
    "challenge_line",
    "fetch_proof",
    "normalize_origin",
    "proof_matches",
    "subject_in_origin",
]

WELL_KNOWN_PATH = "/.well-known/heed-registry.txt"
_MAX_BYTES = 64 * 1024
_MAX_REDIRECTS = 5


class VerificationFailed(RegistryValidationError):
    """The proof file could not be fetched or did not contain the challenge."""


def challenge_line(token: str) -> str:
    return f"heed-registry-verification={token}"


def normalize_origin(origin: str) -> str:
    """``scheme://host[:port]`` of an origin given with or without a trailing ``/``.

    Raises:
        RegistryValidationError: not an http(s) origin, or it has a path, query or fragment.
    """
    norm = normalize_url(origin)
    parts = urlsplit(norm)
    if parts.path != "/" or parts.query or urlsplit(origin).fragment:
        raise RegistryValidationError(f"bad origin {origin!r}: no path, query or fragment")
    return f"{parts.scheme}://{parts.netloc}"


def subject_in_origin(entry: Entry, origin: str) -> bool:
    """Whether proving control of ``origin`` covers the entry's subject."""
    parts = urlsplit(origin)
    if entry.subject_kind is SubjectKind.DOMAIN:
        return entry.subject == parts.hostname
    return entry.subject.startswith(origin + "/")


def _check_address(host: str, port: int, allow_private: bool) -> None:
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as e:
        raise VerificationFailed(f"cannot resolve {host}: {e}") from e
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not address.is_global or address.is_multicast:
            raise VerificationFailed(f"{host} resolves to a non-public address ({address})")


def fetch_proof(origin: str, *, allow_private: bool, timeout: float = 10.0) -> str:
    """Fetch ``<origin>/.well-known/heed-registry.txt`` and return its text (≤ 64 KiB).

    Raises:
        VerificationFailed: blocked address, transport error, too many or cross-host
            redirects, a non-200 status, or a body over the bound.
    """
    url = origin + WELL_KNOWN_PATH
    host = urlsplit(origin).hostname
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        for _ in range(_MAX_REDIRECTS + 1):
            parts = urlsplit(url)
            if parts.hostname != host or parts.scheme not in ("http", "https"):
                raise VerificationFailed(f"redirect leaves the origin: {url}")
            port = parts.port or (443 if parts.scheme == "https" else 80)
            _check_address(parts.hostname or "", port, allow_private)
            try:
                with client.stream("GET", url) as response:
                    if response.is_redirect:
                        url = urljoin(url, response.headers.get("location", ""))
                        continue
                    if response.status_code != 200:
                        raise VerificationFailed(f"{url} answered {response.status_code}")
                    body = b""
                    for chunk in response.iter_bytes():
                        body += chunk
                        if len(body) > _MAX_BYTES:
                            raise VerificationFailed(f"{url} is larger than {_MAX_BYTES} bytes")
                    return body.decode("utf-8", errors="replace")
            except httpx.HTTPError as e:
                raise VerificationFailed(f"cannot fetch {url}: {type(e).__name__}") from e
    raise VerificationFailed(f"more than {_MAX_REDIRECTS} redirects from {origin}")


def proof_matches(text: str, token: str) -> bool:
    """Whether one line of the published file is exactly the challenge line."""
    wanted = challenge_line(token)
    return any(line.strip() == wanted for line in text.splitlines())
