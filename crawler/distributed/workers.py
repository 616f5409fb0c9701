"""``heed crawl --workers N``: N local worker processes of one distributed job, one display.

Each worker is the ordinary command, ``heed crawl --worker-id <id> --json``, in its own process
(Scrapy's reactor runs once per process, and a process is what a second machine would run
too), with the job's Redis URL, job name and output folder passed explicitly so all of them
join the same job. The parent does no crawling: it reads each worker's stderr (counts lines,
``crawler/distributed/_progress.py``; any other line is passed through prefixed with the
worker's id), draws one combined progress line, and at the end reads each worker's JSON
summary from its stdout and adds them up into one summary and one exit code.

Signals: each worker runs in its own session, so a terminal's Ctrl-C reaches the parent only;
the parent forwards SIGINT and SIGTERM to every worker still running, once per signal it gets
(a first SIGINT is Scrapy's graceful stop, a second one its immediate stop, as for one
process). The workers then close their parts and ``run.json`` themselves.

Exit code: 2 if any worker had a usage or configuration error, else 1 if any worker failed
(a fatal error, an exit by signal, an unreadable summary), else 0.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import IO, Any

from ._progress import ENV, add_counts, combined_line, parse_line

__all__ = ["default_worker_id", "local_worker_ids", "merge_summaries", "run_workers"]

EXIT_OK, EXIT_FATAL, EXIT_USAGE = 0, 1, 2
_UNSAFE = re.compile(r"[^A-Za-z0-9_]+")
#: How often the workers are polled, and the combined line redrawn.
_TICK_S, _DRAW_S = 0.1, 1.0


def _host() -> str:
    name = _UNSAFE.sub("_", socket.gethostname().split(".", 1)[0]).strip("_")
    return (name or "host")[:32]


def default_worker_id() -> str:
    """A worker id for a process started on its own: ``<host>_<pid>``."""
    return f"{_host()}_{os.getpid()}"


def local_worker_ids(n: int) -> list[str]:
    """The ids of ``--workers n``: ``<host>_w1`` … ``<host>_w<n>``; stable across reruns on
    one machine, distinct across machines with distinct host names."""
    return [f"{_host()}_w{k}" for k in range(1, n + 1)]


@dataclass
class _Worker:
    worker_id: str
    proc: subprocess.Popen[str]
    stdout: list[str] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)
    threads: list[threading.Thread] = field(default_factory=list)


class _Display:
    """The combined line on stderr, and passed-through lines that never tear it."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.lock = threading.Lock()
        self.shown = False

    def line(self, text: str) -> None:
        with self.lock:
            if self.shown:
                sys.stderr.write("\r\x1b[K")
                self.shown = False
            sys.stderr.write(text if text.endswith("\n") else text + "\n")
            sys.stderr.flush()

    def progress(self, text: str) -> None:
        if not self.enabled:
            return
        with self.lock:
            sys.stderr.write("\r\x1b[K" + text)
            sys.stderr.flush()
            self.shown = True

    def end(self) -> None:
        with self.lock:
            if self.shown:
                sys.stderr.write("\n")
                sys.stderr.flush()
                self.shown = False


def _read_stderr(worker: _Worker, stream: IO[str], display: _Display) -> None:
    for line in stream:
        counts = parse_line(line)
        if counts is not None:
            worker.report = counts
        else:
            display.line(f"[{worker.worker_id}] {line.rstrip()}")


def _read_stdout(worker: _Worker, stream: IO[str]) -> None:
    worker.stdout.append(stream.read())


def _start(argv: list[str], worker_id: str, display: _Display) -> _Worker:
    env = {**os.environ, ENV: "1"}
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
        start_new_session=True,  # signals come from the parent only (module docstring)
    )
    worker = _Worker(worker_id, proc)
    assert proc.stdout is not None and proc.stderr is not None  # PIPE was asked for
    for target, args in (
        (_read_stderr, (worker, proc.stderr, display)),
        (_read_stdout, (worker, proc.stdout)),
    ):
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        worker.threads.append(thread)
    return worker


@contextlib.contextmanager
def _forwarding(workers: list[_Worker]) -> Iterator[None]:
    """Forward SIGINT and SIGTERM to every running worker while the block runs."""

    def forward(signum: int, frame: FrameType | None) -> None:
        for worker in workers:
            if worker.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    worker.proc.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_workers(
    base_argv: Sequence[str],
    worker_ids: Sequence[str],
    *,
    progress: bool,
    job: str,
    out: str,
) -> tuple[dict[str, Any], int]:
    """Run one ``heed crawl`` per id in ``worker_ids`` (``base_argv`` + ``--worker-id ID``)
    until all have ended; return the combined summary and the exit code."""
    display = _Display(progress)
    started = time.monotonic()
    workers: list[_Worker] = []
    with _forwarding(workers):
        for worker_id in worker_ids:
            argv = [*base_argv, "--worker-id", worker_id]
            workers.append(_start(argv, worker_id, display))
        drawn = 0.0
        while True:
            running = sum(1 for w in workers if w.proc.poll() is None)
            now = time.monotonic()
            if now - drawn >= _DRAW_S or not running:
                reports = {w.worker_id: w.report for w in workers}
                display.progress(combined_line(reports, running, now - started))
                drawn = now
            if not running:
                break
            time.sleep(_TICK_S)
        for worker in workers:
            for thread in worker.threads:
                thread.join()
    display.end()
    elapsed = time.monotonic() - started
    results = [(w.worker_id, w.proc.returncode, "".join(w.stdout)) for w in workers]
    return merge_summaries(results, job=job, out=out, elapsed_s=elapsed)


def _summary_of(stdout: str) -> dict[str, Any] | None:
    try:
        data = json.loads(stdout)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _failure(returncode: int, summary: dict[str, Any] | None) -> str | None:
    if returncode < 0:
        return f"killed by signal {-returncode}"
    if summary is None:
        return f"exit code {returncode}, no summary" if returncode else "no summary"
    fatal = summary.get("fatal")
    if fatal:
        return str(fatal)
    return f"exit code {returncode}" if returncode else None


def merge_summaries(
    results: Sequence[tuple[str, int, str]], *, job: str, out: str, elapsed_s: float
) -> tuple[dict[str, Any], int]:
    """One summary (the shape of ``heed crawl --json``'s) and exit code from the workers'
    (worker id, exit code, stdout)."""
    summaries: dict[str, dict[str, Any]] = {}
    per_worker = []
    failures = []
    for worker_id, code, stdout in results:
        summary = _summary_of(stdout)
        failure = _failure(code, summary)
        summaries[worker_id] = summary or {}
        if failure:
            failures.append(f"worker {worker_id}: {failure}")
        s = summary or {}
        per_worker.append(
            {
                "worker_id": worker_id,
                "returncode": code,
                **{k: s.get(k, 0) for k in ("considered", "kept", "excluded")},
                "fatal": failure,
            }
        )
    total = add_counts(summaries)
    stats: dict[str, int] = {}
    for s in summaries.values():
        for key, value in (s.get("stats") or {}).items():
            if isinstance(value, int) and not isinstance(value, bool):
                stats[key] = stats.get(key, 0) + value
    elapsed = max(elapsed_s, 1e-9)
    merged: dict[str, Any] = {
        "crawl_id": job,
        "job": job,
        "out": out,
        **total,
        "elapsed_s": round(elapsed, 3),
        "pages_per_s": round(total["considered"] / elapsed, 2),
        "resumed": any(s.get("resumed") for s in summaries.values()),
        "frontier_ignored_lines": sum(
            int(s.get("frontier_ignored_lines") or 0) for s in summaries.values()
        ),
        "fatal": "; ".join(failures) or None,
        "workers": per_worker,
        "stats": dict(sorted(stats.items())),
    }
    codes = [code for _, code, _ in results]
    code = EXIT_USAGE if EXIT_USAGE in codes else (EXIT_FATAL if failures else EXIT_OK)
    return merged, code
