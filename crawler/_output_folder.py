"""The output folder before and around a run: its writer lock and whether it can hold output.

One writer per output folder at a time: a ``RunWriter`` (``crawler/output.py``) takes an
exclusive ``flock`` on ``out_dir/.heed-output.lock``, released by the kernel if the process
dies. The workers of a distributed job (docs/distributed.md) share a folder instead: each
takes that lock *shared* (so no single-process run can write beside them) plus an exclusive
lock on its own ``.heed-worker-<id>.lock`` (so no two live workers have the same id, and a
worker whose lock can be taken is dead: its stale temporary parts can be deleted).
``hold_output_lock`` lets a command that prepares a folder (``heed demo``) take the lock
first; the next writer in the same process adopts it. ``check_output_dir`` says before
anything is fetched whether a folder can hold output.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import IO

from filters.errors import ConfigError

from .errors import OutputLockedError

try:  # POSIX only; elsewhere the single-writer rule is documented but not enforced.
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "TABLES",
    "OutputLockedError",
    "adopt_lock",
    "check_output_dir",
    "clean_dead_workers",
    "hold_output_lock",
    "remove_stale_parts",
    "why",
    "worker_lock",
]

logger = logging.getLogger("crawler.output")

TABLES = ("records", "decisions")
#: A worker id never holds "-", so the field before the sequence number is the worker's.
_TEMP_WORKER = re.compile(r"\.part-.+-([A-Za-z0-9_]+)-\d{5,}\.parquet\.tmp")
_LOCK_NAME = ".heed-output.lock"
_WORKER_LOCK = ".heed-worker-{}.lock"


#: Locks taken by :func:`hold_output_lock`, waiting for this process's next ``RunWriter`` on
#: the same folder (a second ``flock`` from the same process would conflict with the first).
_HELD_LOCKS: dict[str, IO[bytes]] = {}


def _lock_key(out_dir: Path) -> str:
    return str(Path(out_dir).resolve())


def hold_output_lock(out_dir: Path) -> None:
    """Take ``out_dir``'s writer lock now; the next ``RunWriter`` on it in this process adopts
    it. For commands that prepare a folder before a crawl writes to it (``heed demo``).

    Raises:
        OutputLockedError: another live writer uses ``out_dir``.
    """
    key = _lock_key(out_dir)
    if key not in _HELD_LOCKS:
        _HELD_LOCKS[key] = _flock(Path(out_dir))


def _flock(out_dir: Path, name: str = _LOCK_NAME, *, shared: bool = False) -> IO[bytes]:
    handle = open(out_dir / name, "ab")  # noqa: SIM115 (held for the run)
    if fcntl is None:  # pragma: no cover
        return handle
    try:
        fcntl.flock(handle.fileno(), (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except OSError as e:
        handle.close()
        raise OutputLockedError(f"{out_dir}: another heed writer is using it") from e
    return handle


class WorkerLock:
    """A distributed worker's hold on a shared output folder: the folder lock shared, its own
    worker lock exclusive. ``close()`` drops both."""

    def __init__(self, out_dir: Path, worker_id: str) -> None:
        self.folder = _flock(out_dir, shared=True)
        try:
            self.own = _flock(out_dir, _WORKER_LOCK.format(worker_id))
        except OutputLockedError:
            self.folder.close()
            raise OutputLockedError(
                f"{out_dir}: worker id {worker_id!r} is already in use by a live worker"
            ) from None

    def close(self) -> None:
        self.own.close()
        self.folder.close()


def worker_lock(out_dir: Path, worker_id: str) -> WorkerLock:
    """Join ``out_dir`` as worker ``worker_id`` of a distributed job.

    Raises:
        OutputLockedError: a single-process run writes to ``out_dir``, or a live worker
            already has this id.
    """
    return WorkerLock(Path(out_dir), worker_id)


def clean_dead_workers(out_dir: Path, clean: Callable[[str], object]) -> None:
    """Call ``clean(worker_id)`` for each worker that once wrote to ``out_dir`` and holds no
    lock now (dead or done), while holding its lock, so a worker that starts meanwhile with the
    same id waits for its lock instead of having its files cleaned under it."""
    for path in sorted(Path(out_dir).glob(_WORKER_LOCK.format("*"))):
        worker = path.name[len(".heed-worker-") : -len(".lock")]
        try:
            handle = _flock(Path(out_dir), path.name)
        except (OutputLockedError, OSError):
            continue
        try:
            clean(worker)
        finally:
            handle.close()


def _remove_stale(folder: Path, worker_id: str | None = None) -> None:
    def ours(name: str) -> bool:
        match = _TEMP_WORKER.fullmatch(name)
        return worker_id is None or (match is not None and match.group(1) == worker_id)

    stale = sorted(p for p in folder.glob(".part-*.tmp") if p.is_file() and ours(p.name))
    for path in stale:
        path.unlink(missing_ok=True)
    if stale:
        logger.warning(
            "removed %d incomplete part(s) left by an interrupted run in %s: %s",
            len(stale),
            folder,
            ", ".join(p.name for p in stale),
        )


def remove_stale_parts(out_dir: Path, folder: Path, worker_id: str = "") -> None:
    """Delete the temporary parts in ``folder`` no live writer owns: all of them for a
    single-process writer (it holds the folder alone), else this worker's and dead workers'."""
    if not worker_id:
        _remove_stale(folder)
        return
    clean_dead_workers(out_dir, lambda dead: _remove_stale(folder, dead))
    _remove_stale(folder, worker_id)


def check_output_dir(out_dir: Path) -> None:
    """Make sure ``out_dir`` can hold a run's output, creating it if needed.

    Raises:
        ConfigError: naming the path and what is wrong (a file, no permission, ...).
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"output folder {out_dir}: exists and is not a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"output folder {out_dir}: cannot create it ({why(e)})") from None
    for table in TABLES:
        sub = out_dir / table
        if sub.exists() and not sub.is_dir():
            raise ConfigError(f"output folder {sub}: exists and is not a folder")
    probe = out_dir / f".heed-write-probe-{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise ConfigError(f"output folder {out_dir}: cannot write in it ({why(e)})") from None


def why(e: OSError) -> str:
    where = f" ({e.filename})" if e.filename else ""
    return f"{e.strerror or e}{where}"


def adopt_lock(out_dir: Path) -> IO[bytes] | None:
    """The writer lock of ``out_dir``: the one :func:`hold_output_lock` took, or a new one
    (None where ``flock`` does not exist).

    Raises:
        OutputLockedError: another live writer uses ``out_dir``.
    """
    held = _HELD_LOCKS.pop(_lock_key(out_dir), None)
    if held is not None:
        return held
    if fcntl is None:  # pragma: no cover
        return None
    return _flock(Path(out_dir))
