"""The registry's answers for one run, looked up in batches ahead of need (SPEC.md §3.6).

A crawl decides every URL it requests, and each decision needs the registry's answer for that
URL. Asking the registry URL by URL costs one ``POST /v1/lookup`` per request; instead the
spider hands every page's discovered links (and the seeds) to :meth:`RegistryAnswers.prefetch`,
which asks the client once for all those not known yet, and the consent gate then takes each
URL's answer from :meth:`RegistryAnswers.answer` (a memo hit; a URL nobody prefetched is asked
alone, as before).

Rules, all failing closed:

- An answer is taken out when used (``answer`` pops it): each URL is decided once per run, so
  the memo holds only URLs discovered and not yet decided, and a URL decided again (a retry,
  a redirect back) is simply asked again, never answered from a stale slot.
- The memo is bounded (``max_entries``); when full the oldest answer is dropped. A dropped
  answer costs one single lookup later, never a wrong answer.
- Only ``Answer`` values are kept. An ``Unavailable`` from a prefetch is not: the URL is asked
  again when it is decided, so it is excluded only if the registry cannot answer then either
  (as when every URL was asked alone).
- A client that raises, or gives something other than ``Answer``/``Unavailable`` for a URL,
  gives ``Unavailable`` (logged). A configured registry without a client gives
  ``Unavailable``; no registry at all gives ``NOT_CONFIGURED``.
- A URL whose prefetch is still under way is not asked twice: ``answer`` waits for that batch.

One object per run (per spider or ``heed check`` run); it does not own the client (whoever
opened the client closes it). It is meant for one event loop and is not thread-safe.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Sequence

from filters.registry.answer import NOT_CONFIGURED, Answer, NotConfigured, Unavailable

from .client import RegistryClient

__all__ = ["DEFAULT_MAX_ENTRIES", "RegistryAnswers"]

#: Answers kept ahead of their use (about 100 bytes each beside the URL).
DEFAULT_MAX_ENTRIES = 100_000

log = logging.getLogger(__name__)

_NO_CLIENT = Unavailable("registry configured but no client is open")
_RAISED = Unavailable("registry client error")
_LEFT_OUT = Unavailable("the registry gave no answer for the URL")


class RegistryAnswers:
    """Per-run registry answers: batched ahead (``prefetch``), taken once (``answer``).

    ``configured`` says whether the run has a registry (``[registry] url`` or ``spawning``);
    a ``client`` given is always asked, whatever ``configured`` says.
    ``lookups`` counts the client's ``lookup`` calls, ``urls_asked`` the URLs in them.
    """

    def __init__(
        self,
        client: RegistryClient | None,
        configured: bool,
        max_entries: int = DEFAULT_MAX_ENTRIES,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._client = client
        self._configured = configured or client is not None
        self._max = max_entries
        self._known: OrderedDict[str, Answer] = OrderedDict()
        self._pending: dict[str, asyncio.Future[None]] = {}
        self.lookups = 0
        self.urls_asked = 0

    def __len__(self) -> int:
        """Answers held, not yet taken."""
        return len(self._known)

    async def prefetch(self, urls: Sequence[str]) -> None:
        """Ask the registry, in one lookup, about every URL of ``urls`` not known or being asked
        already. Never raises for the client's failures (those URLs are asked again later)."""
        client = self._client
        if client is None:
            return
        wanted = [
            url
            for url in dict.fromkeys(urls)
            if url not in self._known and url not in self._pending
        ]
        if not wanted:
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        for url in wanted:
            self._pending[url] = done
        try:
            found = await self._lookup(client, wanted)
        except Exception:  # the client should not raise; the URLs are asked again when used
            log.exception("registry lookup of %d URLs failed", len(wanted))
            found = {}
        finally:
            for url in wanted:
                if self._pending.get(url) is done:
                    del self._pending[url]
            done.set_result(None)
        for url in wanted:
            answer = found.get(url)
            if type(answer) is Answer:
                self._keep(url, answer)

    def take(self, url: str) -> Answer | NotConfigured | None:
        """The answer for ``url`` without waiting: a held answer (taken out of the memo), or
        NOT_CONFIGURED for a run without a registry; None when :meth:`answer` must ask."""
        if self._client is None:
            return None if self._configured else NOT_CONFIGURED
        return self._known.pop(url, None)

    async def answer(self, url: str) -> Answer | Unavailable | NotConfigured:
        """The registry's answer for ``url``, taken out of the memo, else asked alone."""
        client = self._client
        if client is None:
            return _NO_CLIENT if self._configured else NOT_CONFIGURED
        pending = self._pending.get(url)
        if pending is not None:
            await asyncio.shield(pending)  # the batch asking for it; one caller's cancel only
        held = self._known.pop(url, None)
        if held is not None:
            return held
        try:
            found = await self._lookup(client, [url])
        except Exception:  # the client should not raise; if it does, fail closed
            log.exception("registry lookup failed for %s", url)
            return _RAISED
        answer = found.get(url, _LEFT_OUT)
        if type(answer) is Answer or type(answer) is Unavailable:
            return answer
        log.error("registry client gave %r for %s: not an answer", answer, url)
        return Unavailable(f"not a registry answer: {type(answer).__name__}")

    async def _lookup(
        self, client: RegistryClient, urls: list[str]
    ) -> dict[str, Answer | Unavailable]:
        self.lookups += 1
        self.urls_asked += len(urls)
        return await client.lookup(urls)

    def _keep(self, url: str, answer: Answer) -> None:
        known = self._known
        known[url] = answer
        known.move_to_end(url)
        while len(known) > self._max:
            known.popitem(last=False)  # the oldest answer: asked again if it is ever needed
