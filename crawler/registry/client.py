"""Registry clients for the crawler and ``heed check`` (SPEC.md §3.6).

``open_registry(url)`` reads the ``[registry] url`` setting: ``sqlite://<path>`` opens the
embedded store (``sqlite:///var/lib/heed/registry.db`` is the absolute path
``/var/lib/heed/registry.db``), ``http(s)://…`` talks to ``heed registry serve`` in batches
with a per-client cache, and an empty URL means no registry. With ``spawning=True`` the
Spawning opt-out API is consulted as a second source.

Every client answers every URL it is asked about with a ``filters.registry.Answer`` (the
candidate entries that may match it; the pure ``filters.registry.evaluate`` picks the winner)
or an ``Unavailable`` whose ``detail`` says why the source could not answer ("timeout",
"HTTP 503", "database error: ..."). ``Unavailable`` becomes ``registry.unavailable``: an
unreachable or erroring registry never means "allowed". ``lookup`` never raises for I/O
errors; only answers are cached, never failures, so a later lookup retries them. A configured
SQLite file that does not exist is a configuration error at open time (an empty registry
would silently allow everything).
"""

from __future__ import annotations

import abc
import asyncio
import os
from collections.abc import Sequence

import httpx

from filters.errors import ConfigError, RegistryError, RegistryValidationError
from filters.registry import Entry, entry_from_dict
from filters.registry.answer import EMPTY_ANSWER, Answer, Unavailable

from .store import RegistryStore

__all__ = [
    "CombinedRegistryClient",
    "HttpRegistryClient",
    "LookupResult",
    "RegistryClient",
    "SqliteRegistryClient",
    "open_registry",
]

#: Every URL asked about → the source's answer, or why it could not give one.
LookupResult = dict[str, Answer | Unavailable]

#: URLs per request to the service; the service accepts up to 10,000.
DEFAULT_BATCH = 1000
#: Answers kept per client; past this the cache starts over (memory stays bounded in long runs).
_CACHE_LIMIT = 1_000_000
#: Distinct entries kept validated per client (a host's entries recur in every answer).
_ENTRY_CACHE_LIMIT = 65_536


class RegistryClient(abc.ABC):
    """A source of registry entries for URLs."""

    @abc.abstractmethod
    async def lookup(self, urls: Sequence[str]) -> LookupResult:
        """An ``Answer`` or ``Unavailable`` for every URL in ``urls`` (duplicates once)."""

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Release connections and files."""


def _answer(entries: tuple[Entry, ...]) -> Answer:
    return Answer(entries) if entries else EMPTY_ANSWER


class SqliteRegistryClient(RegistryClient):
    """The embedded store, read in a worker thread so the event loop never blocks."""

    def __init__(self, path: str) -> None:
        if not os.path.isfile(path):
            raise ConfigError(f"registry url: no SQLite registry at {path!r}")
        self._store = RegistryStore(path)

    async def lookup(self, urls: Sequence[str]) -> LookupResult:
        try:
            found = await asyncio.to_thread(self._store.candidates, list(urls))
        except (RegistryError, OSError, ValueError) as e:
            return dict.fromkeys(urls, Unavailable(f"database error: {e}"))
        empty = EMPTY_ANSWER
        return {url: Answer(entries) if entries else empty for url, entries in found.items()}

    async def aclose(self) -> None:
        await asyncio.to_thread(self._store.close)


def _http_failure(e: httpx.HTTPError) -> Unavailable:
    if isinstance(e, httpx.TimeoutException):
        return Unavailable("timeout")
    if isinstance(e, httpx.ConnectError):
        return Unavailable(f"connection failed: {e}" if str(e) else "connection failed")
    return Unavailable(f"{type(e).__name__}: {e}" if str(e) else type(e).__name__)


class HttpRegistryClient(RegistryClient):
    """``heed registry serve`` over HTTP: batched POST /v1/lookup, answers cached per client."""

    def __init__(self, base_url: str, *, timeout: float = 10, batch: int = DEFAULT_BATCH) -> None:
        self._endpoint = base_url.rstrip("/") + "/v1/lookup"
        self._batch = batch
        self._cache: dict[str, Answer] = {}
        self._entries = _EntryMemo()
        self._http = httpx.AsyncClient(timeout=timeout, follow_redirects=False)

    async def lookup(self, urls: Sequence[str]) -> LookupResult:
        out: LookupResult = {}
        missing: list[str] = []
        for url in dict.fromkeys(urls):
            hit = self._cache.get(url)
            if hit is None:
                missing.append(url)
            else:
                out[url] = hit
        batches = [missing[i : i + self._batch] for i in range(0, len(missing), self._batch)]
        for answer in await asyncio.gather(*(self._fetch(b) for b in batches)):
            out.update(answer)
        return {url: out[url] for url in urls}

    async def _fetch(self, urls: list[str]) -> LookupResult:
        try:
            response = await self._http.post(self._endpoint, json={"urls": urls})
            if response.status_code != 200:
                return dict.fromkeys(urls, Unavailable(f"HTTP {response.status_code}"))
            parsed = _parse_lookup(response.json(), urls, self._entries)
        except httpx.HTTPError as e:
            return dict.fromkeys(urls, _http_failure(e))
        except (ValueError, RegistryValidationError) as e:
            return dict.fromkeys(urls, Unavailable(f"bad lookup answer: {e}"))
        if len(self._cache) + len(parsed) > _CACHE_LIMIT:
            self._cache.clear()
        self._cache.update(parsed)
        return dict(parsed)

    async def aclose(self) -> None:
        await self._http.aclose()


def _parse_lookup(
    body: object, urls: list[str], memo: _EntryMemo | None = None
) -> dict[str, Answer]:
    """Validate a /v1/lookup answer; any URL missing or malformed fails the whole batch.
    ``memo`` shares validated entries between answers (one per client).

    Raises:
        ValueError: the answer does not have the documented shape.
        RegistryValidationError: an entry in it is invalid.
    """
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        raise ValueError("lookup answer without results")
    entry = (memo or _EntryMemo()).entry
    parsed: dict[str, Answer] = {}
    for item in body["results"]:
        if not isinstance(item, dict) or not isinstance(item.get("entries"), list):
            raise ValueError("malformed lookup result")
        url, entries = item.get("url"), item["entries"]
        if isinstance(url, str):
            parsed[url] = Answer(tuple([entry(e) for e in entries])) if entries else EMPTY_ANSWER
    if any(url not in parsed for url in urls):
        raise ValueError("lookup answer is missing URLs")
    return parsed


#: Fields ``entry_from_dict`` reads; two dicts equal on these give equal entries.
_FIELDS = (
    "id",
    "subject_kind",
    "subject",
    "choice",
    "license",
    "registered_by",
    "registered_at",
    "expires_at",
    "note",
    "verified",
)


class _EntryMemo:
    """Validated entries by their fields, bounded (starts over when full); one per client."""

    __slots__ = ("_entries", "_limit")

    def __init__(self, limit: int = _ENTRY_CACHE_LIMIT) -> None:
        self._entries: dict[tuple[object, ...], Entry] = {}
        self._limit = limit

    def entry(self, data: object) -> Entry:
        """``entry_from_dict(data)``, validated once per distinct entry (a host's entries recur
        in every answer for its URLs). Only dicts with an id and a registration time are kept:
        without them validation makes up a fresh id or time, so it is not a pure function.

        Raises:
            RegistryValidationError: the entry is invalid (never kept).
        """
        if (
            not isinstance(data, dict)
            or not data.get("id")
            or not data.get("registered_at")
            or not isinstance(data.get("verified", False), (bool, str))  # 1 == True as a key
        ):
            return entry_from_dict(data)
        purposes = data.get("purposes")
        key = (
            *map(data.get, _FIELDS),
            tuple(purposes) if isinstance(purposes, list) else purposes,
        )
        try:
            cached = self._entries.get(key)
        except TypeError:  # an unhashable value: validation will refuse or convert it
            return entry_from_dict(data)
        if cached is None:
            cached = entry_from_dict(data)
            if len(self._entries) >= self._limit:
                self._entries.clear()
            self._entries[key] = cached
        return cached


class CombinedRegistryClient(RegistryClient):
    """Several sources asked together: a URL any source cannot answer is ``Unavailable`` (the
    details of every source that failed, joined); otherwise the entries of all of them."""

    def __init__(self, sources: Sequence[RegistryClient]) -> None:
        self._sources = tuple(sources)

    async def lookup(self, urls: Sequence[str]) -> LookupResult:
        answers = await asyncio.gather(*(s.lookup(urls) for s in self._sources))
        out: LookupResult = {}
        for url in urls:
            parts = [a.get(url, _NO_ANSWER) for a in answers]
            failed = [p.detail for p in parts if isinstance(p, Unavailable)]
            if failed:
                out[url] = Unavailable("; ".join(dict.fromkeys(failed)))
            else:
                out[url] = _answer(
                    tuple(e for p in parts if isinstance(p, Answer) for e in p.entries)
                )
        return out

    async def aclose(self) -> None:
        for source in self._sources:
            await source.aclose()


#: What a source that left a URL out of its answer gave for it (a client's bug: fail closed).
_NO_ANSWER = Unavailable("the source gave no answer for the URL")


def open_registry(
    url: str, *, spawning: bool = False, timeout: float = 10
) -> RegistryClient | None:
    """The client for a ``[registry] url`` setting; None when there is no registry at all.

    With ``spawning`` the Spawning API (``crawler.registry.spawning``) is added as a second
    source (alone when ``url`` is empty).

    Raises:
        ConfigError: an unknown URL scheme, or a SQLite file that does not exist.
    """
    url = url.strip()
    sources: list[RegistryClient] = []
    if url.startswith("sqlite://"):
        sources.append(SqliteRegistryClient(url[len("sqlite://") :]))
    elif url.startswith(("http://", "https://")):
        sources.append(HttpRegistryClient(url, timeout=timeout))
    elif url:
        raise ConfigError(f"registry url: {url!r} is neither sqlite://… nor http(s)://…")
    if spawning:
        from .spawning import SpawningClient

        sources.append(SpawningClient.from_env(timeout=timeout))
    if not sources:
        return None
    return sources[0] if len(sources) == 1 else CombinedRegistryClient(sources)
