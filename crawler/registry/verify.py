"""Site-owner verification: proof of control of an origin via a well-known file.

The service hands the owner a challenge line; the owner publishes it in
``<origin>/.well-known/heed-registry.txt``; the service fetches that file and, when one of its
lines equals the challenge, records the entry as verified.

Scope (SPEC.md §3.6): an entry covers only what was proven (``check_scope``). A ``prefix`` or
``url`` subject must lie on the proven origin (scheme, host and port); a ``domain`` subject
covers every port of the host and its subdomains, so it needs the proof on the bare host's
default port: ``https://host``, or ``http://host`` where the operator accepts plain-http proofs
(``allow_http``; entries match http and https alike, so an http proof on port 80 also covers
``https://host``). No redirect may leave the proven origin; the one exception is the upgrade of
``http://host`` (port 80) to ``https://host`` (port 443), both of which such a proof covers.

The fetch is bounded: 64 KiB, 5 redirects, and one deadline (10 s by default) for the whole
of it, name resolution, every redirect and a server trickling bytes included. It refuses
private, loopback, link-local and reserved addresses unless the service runs with
``allow_private`` (SPEC.md §7) through ``crawler.netguard``'s guarded transport: each
connection resolves the host once, checks every address and connects to a checked one, so a
DNS answer that changes between the check and the connection (rebinding) cannot reach a
private address; a name that does not resolve fails the proof.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urljoin, urlsplit

import httpx

from filters.errors import RegistryValidationError
from filters.registry import Entry, SubjectKind, normalize_url

from .. import netguard
from ..errors import VerificationFailed

__all__ = [
    "WELL_KNOWN_PATH",
    "VerificationFailed",
    "challenge_line",
    "check_scope",
    "fetch_proof",
    "fetch_proof_async",
    "normalize_origin",
    "proof_matches",
    "redirect_allowed",
    "subject_in_origin",
]

WELL_KNOWN_PATH = "/.well-known/heed-registry.txt"
_MAX_BYTES = 64 * 1024
_MAX_REDIRECTS = 5


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


def check_scope(entry: Entry, origin: str, *, allow_http: bool = False) -> None:
    """Refuse an entry that a proof on ``origin`` (normalised) would not cover.

    Raises:
        RegistryValidationError: the subject is not within the origin, a domain subject is
            asked for on a non-default port, or a plain-http proof on port 80 is asked for
            while the operator does not accept them.
    """
    parts = urlsplit(origin)
    default_port = parts.port is None  # normalize_origin drops the scheme's default port
    if parts.scheme == "http" and default_port and not allow_http:
        raise RegistryValidationError(
            f"{origin} is plain http: prove control on https://{parts.netloc} "
            "(this registry does not accept http proofs on port 80)"
        )
    if entry.subject_kind is SubjectKind.DOMAIN:
        if entry.subject != parts.hostname:
            raise RegistryValidationError(f"subject {entry.subject} is not within {origin}")
        if not default_port:
            raise RegistryValidationError(
                f"a domain entry covers every port of {entry.subject}: prove it on "
                f"https://{entry.subject} (the default port), not on {origin}"
            )
        return
    if not entry.subject.startswith(origin + "/"):
        raise RegistryValidationError(f"subject {entry.subject} is not within {origin}")


def subject_in_origin(entry: Entry, origin: str, *, allow_http: bool = False) -> bool:
    """Whether proving control of ``origin`` covers the entry's subject (``check_scope``)."""
    try:
        check_scope(entry, origin, allow_http=allow_http)
    except RegistryValidationError:
        return False
    return True


def _origin_of(url: str) -> str | None:
    try:
        parts = urlsplit(normalize_url(url))
    except RegistryValidationError:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def redirect_allowed(origin: str, target: str) -> bool:
    """Whether a redirect to ``target`` (absolute) stays on the proven ``origin``: the same
    scheme, host and port, or ``http://host`` (port 80) upgraded to ``https://host`` (443)."""
    found = _origin_of(target)
    if found is None:
        return False
    if found == origin:
        return True
    parts = urlsplit(origin)
    return parts.scheme == "http" and parts.port is None and found == f"https://{parts.netloc}"


def _client(timeout: float, *, allow_private: bool) -> httpx.AsyncClient:
    """The HTTP client of one proof fetch: every connection goes through the address guard
    (resolve once, check, connect to the checked address)."""
    return httpx.AsyncClient(
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
        transport=netguard.async_transport(allow_private=allow_private),
    )


def fetch_proof(origin: str, *, allow_private: bool, timeout: float = 10.0) -> str:
    """Fetch ``<origin>/.well-known/heed-registry.txt`` and return its text (≤ 64 KiB), all of
    it within ``timeout`` seconds. Runs its own event loop: call it from a plain thread.

    Raises:
        VerificationFailed: blocked address, transport error, the deadline passed, too many
            redirects or one leaving the origin, a non-200 status, or a body over the bound.
    """
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(
            fetch_proof_async(origin, allow_private=allow_private, timeout=timeout)
        )
    finally:
        loop.close()  # does not wait for a resolver thread still running


async def fetch_proof_async(origin: str, *, allow_private: bool, timeout: float = 10.0) -> str:
    """:func:`fetch_proof` in a running event loop."""
    try:
        return await asyncio.wait_for(_fetch(origin, allow_private, timeout), timeout)
    except TimeoutError as e:
        raise VerificationFailed(
            f"{origin}{WELL_KNOWN_PATH} was not read within {timeout:g} s"
        ) from e


async def _fetch(origin: str, allow_private: bool, timeout: float) -> str:
    url = origin + WELL_KNOWN_PATH
    async with _client(timeout, allow_private=allow_private) as client:
        for _ in range(_MAX_REDIRECTS + 1):
            if not redirect_allowed(origin, url):
                raise VerificationFailed(f"redirect leaves the origin {origin}: {url}")
            try:
                async with client.stream("GET", url) as response:
                    if response.is_redirect:
                        url = urljoin(url, response.headers.get("location", ""))
                        continue
                    if response.status_code != 200:
                        raise VerificationFailed(f"{url} answered {response.status_code}")
                    body = b""
                    async for chunk in response.aiter_bytes():
                        body += chunk
                        if len(body) > _MAX_BYTES:
                            raise VerificationFailed(f"{url} is larger than {_MAX_BYTES} bytes")
                    return body.decode("utf-8", errors="replace")
            except httpx.HTTPError as e:
                refusal = netguard.refusal_of(e)
                if refusal is not None:  # a blocked address or a name that does not resolve
                    raise VerificationFailed(f"cannot fetch {url}: {refusal}") from e
                raise VerificationFailed(f"cannot fetch {url}: {type(e).__name__}") from e
    raise VerificationFailed(f"more than {_MAX_REDIRECTS} redirects from {origin}")


def proof_matches(text: str, token: str) -> bool:
    """Whether one line of the published file is exactly the challenge line."""
    wanted = challenge_line(token)
    return any(line.strip() == wanted for line in text.splitlines())
