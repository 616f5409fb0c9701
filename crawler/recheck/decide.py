"""The deciding half of ``heed recheck``: URLs in, one small result per URL out.

A :class:`Decider` owns the I/O of a recheck (a ``Checker``: fetcher, address guard, politeness,
site documents through the document cache, registry answers) and drives the consent gate for
each URL. ``crawler/recheck/run.py`` gives it the valid URLs of each input batch and records
the results; with ``--workers N`` (N > 1) there is one Decider per worker process
(:class:`WorkerPool`), each owning the hosts of one bucket (``bucket_of``), so a host's
documents are fetched once and its politeness is kept by one process.

A result is a plain value (:class:`RowResult`), cheap to send between processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import queue
import threading
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from filters import Decision
from filters.engine import Done, Gate, SiteSignals
from filters.engine.evidence import site_documents
from filters.urls import resolve_dot_segments

from ..check.run import Checker, CheckResult
from ..config import RunConfig
from ..netguard import BlockedAddress
from ._report import by_name

__all__ = ["Decider", "RowResult", "WorkerPool", "bucket_of", "documents_now"]


@dataclass(frozen=True, slots=True)
class RowResult:
    """The decision for one URL, as the recorder needs it."""

    allowed: bool
    reasons: tuple[str, ...]
    stage: str
    http_status: int | None = None
    final_url: str | None = None
    license: str | None = None
    license_url: str | None = None
    license_source: str | None = None
    license_conflict: bool = False
    sha256: str | None = None
    #: The decision came from an internal error (a bug): never "unreachable", always excluded.
    internal: bool = False

    @classmethod
    def of(cls, decision: Decision, result: CheckResult | None = None) -> RowResult:
        lic = decision.license
        return cls(
            decision.allowed,
            tuple(r.value for r in decision.reasons),
            decision.stage.value,
            result.http_status if result is not None else None,
            result.final_url if result is not None else None,
            lic.license,
            lic.url,
            lic.source,
            lic.conflict,
            result.sha256 if result is not None else None,
            any((r.raw or "").startswith("internal error") for r in decision.evidence),
        )


def bucket_of(host: str, buckets: int) -> int:
    """The worker owning ``host`` (stable across processes and runs)."""
    return zlib.crc32(host.encode("utf-8", "surrogatepass")) % buckets if buckets > 1 else 0


def documents_now(site: SiteSignals) -> dict[str, dict[str, Any]]:
    """The origin's site documents as fetched today, by name, in the very form a record's
    evidence holds them (so the recheck compares like with like)."""
    return by_name(site_documents(site))


@dataclass
class _Origin:
    site: SiteSignals | None
    refusal: Exception | None


@dataclass
class Decider:
    """Decides URLs with one ``Checker`` (see the module docstring)."""

    checker: Checker
    refetch: str
    origins: dict[str, _Origin] = field(default_factory=dict)

    async def decide(
        self, urls: Sequence[str], origins: Sequence[str]
    ) -> tuple[list[RowResult], dict[str, dict[str, dict[str, Any]]]]:
        """Results for ``urls`` (valid, requestable URLs; ``origins[i]`` is ``urls[i]``'s), and
        the site documents of the origins first seen in this call."""
        new = await self._load(origins)
        await self.checker.answers.prefetch([resolve_dot_segments(u) for u in urls])
        if self.refetch == "none":
            # by origin, so consecutive URLs share their site's memos; results in input order
            order = sorted(range(len(urls)), key=origins.__getitem__)
            found: list[RowResult | None] = [None] * len(urls)
            for i in order:
                found[i] = await self._pre(urls[i], origins[i])
            results = [r for r in found if r is not None]
        else:
            checked = await self.checker.check_many(list(urls))
            results = [RowResult.of(c.decision, c) for c in checked]
        docs = {o: documents_now(s.site) for o in new if (s := self.origins[o]).site is not None}
        return results, docs

    async def _load(self, origins: Sequence[str]) -> list[str]:
        wanted = [o for o in dict.fromkeys(origins) if o not in self.origins]
        limit = asyncio.Semaphore(max(self.checker.cfg.concurrency, 1))

        async def one(origin: str) -> None:
            if self.checker.evaluator.blocklisted(origin + "/") is not None:
                self.origins[origin] = _Origin(None, None)  # never resolved, never asked
                return
            async with limit:
                refusal = await self.checker.refusal(origin + "/")
                site = await self.checker.signals.site(origin) if refusal is None else None
            self.origins[origin] = _Origin(site, refusal)

        await asyncio.gather(*(one(o) for o in wanted))
        return wanted

    async def _pre(self, url: str, name: str) -> RowResult:
        """``--refetch none``: the gate up to its pre-fetch decision (the page is not asked)."""
        checker = self.checker
        origin = self.origins[name]
        # What a crawl would request (and a server would serve): ``/a/../private/x`` is
        # ``/private/x``, and must be judged as that, as heed check and the crawl do.
        target = resolve_dot_segments(url)
        gate = Gate(checker.evaluator, target, fetch=False, start=url, origin=name)
        if origin.refusal is not None or origin.site is None:
            blocked = isinstance(origin.refusal, BlockedAddress)
            detail = url.split("/")[2] if blocked else str(origin.refusal)
            step = gate.address_refused(blocked=blocked, detail=detail)
        else:
            gate.address_ok()
            gate.site_loaded(origin.site)
            answer = checker.answers.take(target)
            step = gate.registry_answered(
                answer if answer is not None else await checker.answers.answer(target)
            )
        if not isinstance(step, Done):
            step = gate.fail(f"the consent gate stopped at {step!r}")
        return RowResult.of(step.decision)


def make_checker(cfg: RunConfig, refetch: str) -> Checker:
    """The ``Checker`` a recheck decides with."""
    method = "HEAD" if refetch == "headers" else "GET"
    # Thousands of origins, a few requests each: few idle connections (see Fetcher).
    return Checker(cfg, method=method, memo_addresses=True, notes=False, max_keepalive=8)


# --------------------------------------------------------------------------- processes


def _worker(cfg: RunConfig, refetch: str, conn: Connection) -> None:
    asyncio.run(_serve(cfg, refetch, conn))


def _read(conn: Connection, inbox: queue.Queue[Any]) -> None:
    """Drain the parent's requests as they come (a thread): the parent's sends never wait for
    this worker to finish a batch, so it can send the next batch while this one is decided."""
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            message = None
        inbox.put(message)
        if message is None:
            return


async def _serve(cfg: RunConfig, refetch: str, conn: Connection) -> None:
    inbox: queue.Queue[Any] = queue.Queue()
    threading.Thread(target=_read, args=(conn, inbox), daemon=True).start()
    async with make_checker(cfg, refetch) as checker:
        decider = Decider(checker, refetch)
        while True:
            message = await asyncio.to_thread(inbox.get)
            if message is None:
                break
            urls, origins = message
            try:
                conn.send(("ok", await decider.decide(urls, origins)))
            except Exception as e:  # reported to the parent, which stops the run (exit 1)
                conn.send(("error", f"{type(e).__name__}: {e}"[:500]))
    conn.close()


class WorkerPool:
    """``workers`` processes, each a :class:`Decider` for the hosts of its bucket."""

    def __init__(self, cfg: RunConfig, refetch: str, workers: int) -> None:
        context = multiprocessing.get_context("spawn")  # no inherited event loop or sockets
        self.workers = workers
        self._conns: list[Connection] = []
        self._procs: list[Any] = []
        for _ in range(workers):
            parent, child = context.Pipe()
            proc = context.Process(target=_worker, args=(cfg, refetch, child), daemon=True)
            proc.start()
            child.close()
            self._conns.append(parent)
            self._procs.append(proc)

    def submit(self, parts: Sequence[tuple[Sequence[str], Sequence[str]]]) -> None:
        """Send one (urls, origins) part to each worker; :meth:`collect` gets the answers, in
        submission order (a batch may be submitted before the previous one is collected)."""
        for conn, part in zip(self._conns, parts, strict=True):
            conn.send((list(part[0]), list(part[1])))

    def collect(self) -> list[tuple[list[RowResult], dict[str, dict[str, dict[str, Any]]]]]:
        """The answers to the oldest submitted parts, one per worker."""
        out = []
        for conn in self._conns:
            try:
                kind, value = conn.recv()
            except (EOFError, OSError):
                raise RuntimeError("a recheck worker process ended unexpectedly") from None
            if kind != "ok":
                raise RuntimeError(f"a recheck worker failed: {value}")
            out.append(value)
        return out

    def close(self) -> None:
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.send(None)
        for proc in self._procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()
        for conn in self._conns:
            conn.close()
