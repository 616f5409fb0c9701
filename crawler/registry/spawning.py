"""Adapter for the Spawning "Do Not Train" opt-out API, as a second registry source.

The API shape: ``POST`` a ``text/plain`` body of newline-separated URLs with the header
``Authorization: API <key>``; the answer is JSON ``{"urls": [{"url": …, "optOut": bool}, …]}``.
The key comes from the environment variable ``SPAWNING_OPTS_KEY`` (the one name, also in the
README, configs/example.toml and docs/registry.md), the endpoint from ``HEED_SPAWNING_URL``
(default: Spawning's public endpoint). Without a key every URL is unavailable, so a crawl with
``spawning = true`` excludes everything: that is said once, as a warning, when the client opens.

Fail closed (SPEC.md §3.6): a missing key, a transport error, a non-200 answer or an
answer that does not cover every URL asked makes those URLs ``Unavailable``
(``registry.unavailable``; its detail says which of these it was), never "allowed". An
``optOut: true`` becomes a synthetic opt-out ``url`` entry for ``train-ai`` and ``ai-input``
(the purposes Spawning's list is about, as for ai.txt in SPEC.md §3.4), with id
``spawning:<sha256 of the URL, 16 hex>`` so that evidence names its source.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import Sequence
from datetime import UTC, datetime

import httpx

from filters.errors import RegistryValidationError
from filters.model import Purpose
from filters.registry import Choice, Entry, SubjectKind, make_entry
from filters.registry.answer import EMPTY_ANSWER, Answer, Unavailable

from .client import LookupResult, RegistryClient, _http_failure

__all__ = ["DEFAULT_URL", "KEY_ENV", "URL_ENV", "SpawningClient"]

DEFAULT_URL = "https://opts-api.spawningaiapi.com/api/v2/query/urls"
KEY_ENV = "SPAWNING_OPTS_KEY"
URL_ENV = "HEED_SPAWNING_URL"
_BATCH = 1000
_MAX_ANSWER = 16 * 1024 * 1024
_PURPOSES = frozenset({Purpose.TRAIN_AI, Purpose.AI_INPUT})

log = logging.getLogger(__name__)

_NO_KEY = Unavailable(f"Spawning: {KEY_ENV} is not set")
_UNASKABLE = Unavailable("Spawning: a URL with a line break cannot be asked")
_NOT_ANSWERED = Unavailable("Spawning: no answer for the URL")


class SpawningClient(RegistryClient):
    """Asks the Spawning API; opt-outs come back as synthetic ``url`` entries."""

    def __init__(self, api_url: str, key: str | None, *, timeout: float = 10) -> None:
        self._api_url = api_url
        self._key = key or None
        self._cache: dict[str, Answer] = {}
        self._http = httpx.AsyncClient(timeout=timeout, follow_redirects=False)

    @classmethod
    def from_env(cls, *, timeout: float = 10) -> SpawningClient:
        key = os.environ.get(KEY_ENV)
        if not key:
            log.warning(
                "[registry] spawning = true but %s is not set: every URL will be excluded as "
                "registry.unavailable",
                KEY_ENV,
            )
        return cls(os.environ.get(URL_ENV, DEFAULT_URL), key, timeout=timeout)

    async def lookup(self, urls: Sequence[str]) -> LookupResult:
        if self._key is None:
            return dict.fromkeys(urls, _NO_KEY)
        missing = [u for u in dict.fromkeys(urls) if u not in self._cache]
        batches = [missing[i : i + _BATCH] for i in range(0, len(missing), _BATCH)]
        answers = await asyncio.gather(*(self._fetch(b) for b in batches))
        out: LookupResult = {u: self._cache[u] for u in urls if u in self._cache}
        for answer in answers:
            out.update(answer)
        return {u: out.get(u, _NOT_ANSWERED) for u in urls}

    async def _fetch(self, urls: list[str]) -> LookupResult:
        # Newlines inside a URL would split it into two; such a URL cannot be asked.
        askable = [u for u in urls if "\n" not in u and "\r" not in u]
        out: LookupResult = dict.fromkeys(urls, _UNASKABLE)
        try:
            response = await self._http.post(
                self._api_url,
                content="\n".join(askable).encode("utf-8"),
                headers={"Authorization": f"API {self._key}", "Content-Type": "text/plain"},
            )
            if response.status_code != 200:
                return dict.fromkeys(urls, Unavailable(f"Spawning: HTTP {response.status_code}"))
            if len(response.content) > _MAX_ANSWER:
                return dict.fromkeys(urls, Unavailable("Spawning: answer too large"))
            flags = _parse_answer(response.json())
        except httpx.HTTPError as e:
            return dict.fromkeys(urls, Unavailable(f"Spawning: {_http_failure(e).detail}"))
        except ValueError as e:
            return dict.fromkeys(urls, Unavailable(f"Spawning: bad answer: {e}"))
        for url in askable:
            if url not in flags:
                out[url] = _NOT_ANSWERED
                continue
            answer = Answer((_entry(url),)) if flags[url] else EMPTY_ANSWER
            self._cache[url] = answer
            out[url] = answer
        return out

    async def aclose(self) -> None:
        await self._http.aclose()


def _parse_answer(body: object) -> dict[str, bool]:
    """URL → optOut from the API answer; items without a boolean ``optOut`` are left out.

    Raises:
        ValueError: the answer is not ``{"urls": [...]}``.
    """
    if not isinstance(body, dict) or not isinstance(body.get("urls"), list):
        raise ValueError("Spawning answer without a urls list")
    flags: dict[str, bool] = {}
    for item in body["urls"]:
        if isinstance(item, dict) and isinstance(item.get("url"), str):
            opt_out = item.get("optOut")
            if isinstance(opt_out, bool):
                flags[item["url"]] = opt_out
    return flags


def _entry(url: str) -> Entry:
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]
    try:
        return make_entry(
            SubjectKind.URL,
            url,
            Choice.OPT_OUT,
            _PURPOSES,
            registered_by="spawning",
            registered_at=datetime.now(UTC),
            id=f"spawning:{digest}",
        )
    except RegistryValidationError:
        # A URL we cannot normalise still was opted out: keep its raw form so it matches itself
        # nowhere wrongly, yet is recorded (evaluate() treats an unparsable URL as no match).
        return Entry(
            id=f"spawning:{digest}",
            subject_kind=SubjectKind.URL,
            subject=url,
            choice=Choice.OPT_OUT,
            purposes=_PURPOSES,
            license=None,
            registered_by="spawning",
            registered_at=datetime.now(UTC),
            expires_at=None,
            note=None,
            verified=False,
        )
