"""The crawl's per-URL state behind one small interface: :class:`UrlLedger`.

Every set or dict a crawl would otherwise keep per URL (the URLs scheduled this run, the URLs
decided by earlier runs, the URLs already logged to the frontier, the URLs decided this run)
lives behind a ledger, so that the memory of a crawl does not grow with its pages and the
state can be shared between processes:

- the embedded ledger (``crawler/urlstate/embedded.py``) keeps it in an SQLite file in a
  private scratch folder of the run;
- the distributed ledger (``crawler/distributed/ledger.py``) keeps it in the job's Redis.

``crawler/context.py`` chooses one (``make_ledger``); the spider and the run context use only
the methods below. Every method takes or returns URLs in the form the spider requests them
(fragment dropped, dot segments resolved: ``filters/urls.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol, runtime_checkable

__all__ = ["UrlLedger"]


@runtime_checkable
class UrlLedger(Protocol):
    """A crawl's per-URL state (see the module docstring)."""

    def claim(self, links: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
        """Of ``links`` (url, depth), in the order given, those to request now: neither
        claimed nor decided before (this run, an earlier run, another worker), and within
        what is left of the job's ``max_pages``. Each URL returned counts against the budget
        and is never returned again. A URL given twice counts once (its first depth)."""
        ...

    async def aclaim(self, links: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
        """:meth:`claim` from a coroutine (a ledger on a network may let the event loop run
        on during its round trip)."""
        ...

    def mark_decided(self, url: str, *, kept: bool = False) -> None:
        """``url``'s decision is being written (``kept``: a record of the page too)."""
        ...

    def is_decided(self, url: str) -> bool:
        """True when ``url`` has a decision (this run or, where the ledger knows, earlier)."""
        ...

    def recorded(self, url: str) -> bool:
        """True when a decision on ``url``, about to be recorded by this process, is recorded
        already (the guard of ``RunContext.record_decision``: once per URL). A ledger may
        answer it more cheaply than :meth:`is_decided`, from what this process holds."""
        ...

    def frontier(self) -> Iterator[tuple[str, int]]:
        """The (url, depth) entries restored from earlier runs, to offer to :meth:`claim`."""
        ...

    def close(self) -> None:
        """Release what the ledger holds (files, connections); idempotent."""
        ...
