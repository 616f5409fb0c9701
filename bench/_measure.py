"""What the benchmarks share: running heed as a measured child process, and its TOML config.

``spawn`` runs a command with its output to files and returns its exit code, wall time, CPU
time (user + system, its waited-for children included), peak RSS of the largest process
(``wait4``'s ``ru_maxrss``) and, when asked, the peak summed RSS of the process and its
descendants (sampled from /proc every 0.2 s). ``heed_config`` writes a run config from
sections plus the ``--heed-option SECTION.KEY=TOML`` overrides of the command line.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Measured", "heed_config", "keep_or_delete", "spawn"]


@dataclass(frozen=True)
class Measured:
    returncode: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    tree_rss_mb: float
    stdout: str
    started_at: float = 0.0  # Unix time at the start and the end (to place a server's log)
    ended_at: float = 0.0


def _tree_rss_kib(pid: int) -> int:
    """Resident KiB of ``pid`` and its descendants now (0 once it has exited)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status", encoding="ascii", errors="replace") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children", encoding="ascii") as f:
                    todo.extend(int(c) for c in f.read().split())
        except (OSError, ValueError):
            continue
    return total


class _TreeSampler(threading.Thread):
    def __init__(self, pid: int, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_kib = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak_kib = max(self.peak_kib, _tree_rss_kib(self.pid))
            self.stop.wait(self.interval)


def spawn(argv: Sequence[str], log: Path, cwd: Path, *, tree: bool = False) -> Measured:
    """Run ``argv`` in ``cwd`` (stderr to ``log``, stdout to ``log`` with ``.out``)."""
    out_path = log.with_suffix(".out")
    with out_path.open("wb") as out, log.open("wb") as err:
        started_at, start = time.time(), time.perf_counter()
        proc = subprocess.Popen(list(argv), cwd=cwd, stdout=out, stderr=err)
        sampler = _TreeSampler(proc.pid) if tree else None
        if sampler is not None:
            sampler.start()
        # wait4: this child's rusage with its own waited-for children's; ru_maxrss in KiB.
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        ended_at = time.time()
        if sampler is not None:
            sampler.stop.set()
            sampler.join()
    code = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    tree_mb = sampler.peak_kib / 1024 if sampler is not None else 0.0
    stdout = out_path.read_text(encoding="utf-8")
    return Measured(code, wall, cpu, usage.ru_maxrss / 1024, tree_mb, stdout, started_at, ended_at)


def heed_config(
    path: Path, sections: Mapping[str, Sequence[str]], heed_options: Sequence[str]
) -> Path:
    """Write a heed TOML config: ``sections`` (name -> ``key = value`` lines), then each
    ``--heed-option SECTION.KEY=TOML`` added to its section; returns ``path``."""
    lines: dict[str, list[str]] = {name: list(body) for name, body in sections.items()}
    for option in heed_options:
        key, _, value = option.partition("=")
        section, _, name = key.partition(".")
        lines.setdefault(section, []).append(f"{name} = {value}")
    text = "".join(f"\n[{name}]\n" + "\n".join(body) + "\n" for name, body in lines.items() if body)
    path.write_text(text, encoding="utf-8")
    return path


def keep_or_delete(tmp: Path, keep: bool) -> None:
    """At the end of a benchmark: name its temporary folder (``--keep``) or delete it."""
    if keep:
        print(f"kept {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
