"""The frontier log, ``frontier.jsonl``: every URL a crawl discovers, appended once per job.

One JSON object per line, ``{"url": "...", "depth": 1}``. :class:`FrontierLog` appends and
fsyncs it (every second, at close, and before a part is published); :class:`FrontierReader`
reads it back for a resume (``crawler/resume.py``), one valid entry at a time, counting and
naming the lines it ignores (a torn last line after a kill is expected). Writing can fail
(disk full, permissions): the first failure goes to ``on_failure``, later URLs are not
logged, and ``sync()`` raises ``OutputWriteError`` so that no part is published whose
page's links are not on disk.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from filters import HeedError
from filters.urls import check_url

from ._output_parts import fsync_dir
from .output import OutputWriteError

__all__ = ["FRONTIER_NAME", "FrontierLog", "FrontierReader", "read_frontier"]

log = logging.getLogger(__name__)

FRONTIER_NAME = "frontier.jsonl"
#: Seconds between fsyncs of the frontier log while URLs are being added.
SYNC_INTERVAL = 1.0


class FrontierReader:
    """The valid ``(url, depth)`` entries of a frontier log, in log order, read as they are
    iterated; ``ignored`` counts the other lines, named in one warning at the end."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.ignored = 0

    def __iter__(self) -> Iterator[tuple[str, int]]:
        if not self.path.is_file():
            return
        shown: list[int] = []
        with open(self.path, "rb") as handle:
            for n, raw in enumerate(handle, 1):
                entry = _entry(raw)
                if entry is not None:
                    yield entry
                    continue
                self.ignored += 1
                if len(shown) < 10:
                    shown.append(n)
        if shown:
            log.warning(
                "%s: ignored %d line(s) that are not frontier entries (line %s); an "
                "incomplete last line is normal after a killed run",
                self.path,
                self.ignored,
                ", ".join(map(str, shown)) + (", …" if self.ignored > 10 else ""),
            )


def read_frontier(path: Path) -> tuple[list[tuple[str, int]], int]:
    """The valid ``(url, depth)`` entries of a frontier log, and how many lines were ignored."""
    reader = FrontierReader(path)
    entries = list(reader)
    return entries, reader.ignored


def _entry(raw: bytes) -> tuple[str, int] | None:
    if not raw.strip():
        return None
    try:
        obj = json.loads(raw)
    except ValueError:  # also UnicodeDecodeError
        return None
    if not isinstance(obj, dict):
        return None
    url, depth = obj.get("url"), obj.get("depth")
    if not isinstance(url, str) or check_url(url) is not None:
        return None
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 0:
        return None
    return url, depth


class FrontierLog:
    """Appends discovered URLs to ``frontier.jsonl``; fsynced every second and on ``sync()``.

    Single-threaded, like the writer: the spider adds from the reactor thread.
    """

    def __init__(
        self,
        path: Path,
        *,
        sync_interval: float = SYNC_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.sync_interval = sync_interval
        self._clock = clock
        created = not path.exists()
        _end_cleanly(path)
        self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 (closed in close())
        if created:
            fsync_dir(path.parent)
        self._dirty = False
        self._last_sync = clock()
        self.added = 0
        #: The first write failure, as a message; then nothing more is written.
        self.failure: str | None = None
        #: Called once with that message (the crawler stops the crawl).
        self.on_failure: Callable[[str], object] | None = None

    def add(self, url: str, depth: int) -> None:
        if self.failure is not None:
            return
        try:
            self._file.write(json.dumps({"url": url, "depth": depth}) + "\n")
        except (OSError, ValueError) as e:  # ValueError: the file was closed
            self._fail(e)
            return
        self._dirty = True
        self.added += 1
        if self._clock() - self._last_sync >= self.sync_interval:
            with contextlib.suppress(HeedError):  # already reported through on_failure
                self.sync()

    def sync(self) -> None:
        """Make every added URL durable (flush and fsync); cheap when nothing was added.

        Raises:
            OutputWriteError: the log could not be written (now or earlier).
        """
        if self.failure is not None:
            raise OutputWriteError(self.failure)
        if not self._dirty or self._file.closed:
            return
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as e:
            self._fail(e)
            raise OutputWriteError(self.failure or str(e)) from None
        self._dirty = False
        self._last_sync = self._clock()

    def _fail(self, e: BaseException) -> None:
        if self.failure is not None:
            return
        detail = f"{e.strerror or e}" if isinstance(e, OSError) else str(e)
        self.failure = f"cannot write {self.path}: {detail}"[:500]
        if self.on_failure is not None:
            self.on_failure(self.failure)

    def close(self) -> None:
        if self._file.closed:
            return
        try:
            self.sync()
        except HeedError:
            pass  # reported through on_failure when it happened
        finally:
            try:
                self._file.close()
            except OSError as e:  # the last buffered bytes could not be written
                self._fail(e)


def _end_cleanly(path: Path) -> None:
    """Make the log end with a newline: drop an invalid torn last line, finish a valid one."""
    if not path.is_file():
        return
    with open(path, "r+b") as handle:
        size = handle.seek(0, os.SEEK_END)
        tail, start = b"", size
        while start > 0 and b"\n" not in tail:  # read back to the last newline
            start = max(0, start - 65536)
            handle.seek(start)
            tail = handle.read(size - start)
        if size == 0 or tail.endswith(b"\n"):
            return
        start += tail.rfind(b"\n") + 1
        handle.seek(start)
        if _entry(handle.read()) is None:
            handle.truncate(start)
        else:
            handle.seek(0, os.SEEK_END)
            handle.write(b"\n")
        handle.flush()
        os.fsync(handle.fileno())
