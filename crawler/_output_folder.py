"""The output folder before and around a run: its writer lock and whether it can hold output.

One writer per output folder at a time: a ``RunWriter`` (``crawler/output.py``) takes an
exclusive ``flock`` on ``out_dir/.heed-output.lock``, released by the kernel if the process
dies. ``hold_output_lock`` lets a command that prepares a folder (``heed demo``) take the lock
first; the next writer in the same process adopts it. ``check_output_dir`` says before
anything is fetched whether a folder can hold output.
"""

from __future__ import annotations

import os
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
    "hold_output_lock",
    "why",
]

TABLES = ("records", "decisions")
_LOCK_NAME = ".heed-output.lock"


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


def _flock(out_dir: Path) -> IO[bytes]:
    handle = open(out_dir / _LOCK_NAME, "ab")  # noqa: SIM115 (held for the run)
    if fcntl is None:  # pragma: no cover
        return handle
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        handle.close()
        raise OutputLockedError(f"{out_dir}: another heed writer is using it") from e
    return handle


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
