"""A worker's run context in the distributed mode: the job's state on Redis, its own parts.

``crawler/context.py`` calls :func:`open_worker` instead of its embedded set-up when
``cfg.distributed``. The differences from a single-process run:

- the writer is a **worker's** (``RunWriter(worker_id=…)``): its parts are named after the
  worker, it shares the folder with the job's other workers, every row's URL is noted in the
  ledger as it is written (``note_row``: before any part that holds it can be published),
  and before each part is published the job's done-set is synced (``RedisLedger.sync``) — if
  Redis is gone then, the part is not published; a ``records/`` part is published only with
  the ``decisions/`` part after it (``crawler/output.py``);
- nothing is read back from the folder: the job's done-set, seen-set and queue are in Redis
  (``crawler/resume.py``'s reading of ``decisions/`` would count the other workers' rows, and
  its repair of a record without a decision could write a row another live worker is about
  to write);
- no ``frontier.jsonl``: the job's frontier is its queue in Redis, which persists;
- politeness is the job's (``RedisPoliteness``), so Crawl-delay holds across workers.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..frontier import FrontierLog
from ..output import RunWriter
from ..resume import ResumeState
from .ledger import RedisLedger
from .settings import open_ledger, open_politeness

if TYPE_CHECKING:
    from ..context import RunContext

__all__ = ["NoFrontier", "open_worker"]


class NoFrontier(FrontierLog):
    """The frontier log of a worker: nothing to log (the job's queue is in Redis)."""

    def __init__(self, path: Path) -> None:  # no file is opened
        self.path = path
        self.added = 0
        self.failure: str | None = None
        self.on_failure = None

    def add(self, url: str, depth: int) -> None:
        self.added += 1

    def sync(self) -> None:
        """Nothing to make durable."""

    def close(self) -> None:
        """Nothing to close."""


def open_worker(ctx: RunContext) -> RedisLedger:
    """Set ``ctx``'s politeness, writer, resume state and frontier for worker
    ``ctx.cfg.worker_id`` of the job; return the job's ledger (the process's one
    ``RedisLedger``, the scheduler's too) for ``ctx.ledger``.

    Raises:
        OutputLockedError: a single-process run writes to the folder, or a live worker has
            this worker's id.
        RedisUnavailable: the job's Redis cannot be reached.
    """
    cfg = ctx.cfg
    ledger = open_ledger(cfg)
    ctx.politeness = open_politeness(cfg)
    ctx.writer = RunWriter(
        ctx.out_dir,
        ctx.crawl_id,
        row_group_rows=min(cfg.row_group_rows, cfg.part_max_rows),
        part_max_rows=cfg.part_max_rows,
        flush_interval=cfg.flush_interval,
        before_publish=ledger.sync,
        note_row=lambda url, kept: ledger.mark_decided(url, kept=kept),
        worker_id=cfg.worker_id,
        job=cfg.job_name,
    )
    ctx.resume = ResumeState()
    ctx.frontier = NoFrontier(ctx.out_dir / "frontier.jsonl")
    return ledger
