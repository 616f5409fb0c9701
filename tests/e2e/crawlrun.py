"""Runs the real ``heed crawl`` command in a subprocess and reads its output back."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class CrawlRun:
    returncode: int
    stdout: str
    stderr: str
    out: Path

    @property
    def summary(self) -> dict[str, Any]:
        return json.loads(self.stdout)

    def records(self) -> list[dict[str, Any]]:
        return _read(self.out / "records")

    def decisions(self) -> list[dict[str, Any]]:
        return _read(self.out / "decisions")

    def decision(self, url: str) -> dict[str, Any]:
        rows = [d for d in self.decisions() if d["url"] == url]
        assert len(rows) == 1, f"{url}: {len(rows)} decisions"
        return rows[0]

    def kept_urls(self) -> set[str]:
        return {r["url"] for r in self.records()}


def _read(folder: Path) -> list[dict[str, Any]]:
    parts = sorted(folder.glob("*.parquet"))
    rows: list[dict[str, Any]] = []
    for part in parts:
        rows.extend(pq.read_table(part).to_pylist())
    return rows


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return str(value)


def write_config(path: Path, sections: dict[str, dict[str, Any]]) -> Path:
    base: dict[str, dict[str, Any]] = {
        "identity": {"contact_url": "http://127.0.0.1/contact"},
        "network": {"allow_private_networks": True},
        "limits": {"download_timeout": 10.0},
    }
    for name, body in sections.items():
        base.setdefault(name, {}).update(body)
    lines = []
    for name, body in base.items():
        lines.append(f"[{name}]")
        lines.extend(f"{k} = {toml_value(v)}" for k, v in body.items())
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def heed(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crawler.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def crawl(tmp: Path, sections: dict[str, dict[str, Any]], *extra: str) -> CrawlRun:
    tmp.mkdir(parents=True, exist_ok=True)
    out = tmp / "out"
    sections = {**sections, "crawl": {"out": str(out), **sections.get("crawl", {})}}
    config = write_config(tmp / "run.toml", sections)
    proc = heed("crawl", "--config", str(config), "--json", *extra)
    return CrawlRun(proc.returncode, proc.stdout, proc.stderr, out)


def crawl_killed_after_parts(config: Path, out: Path, parts: int = 2) -> None:
    """Start ``heed crawl --config config``, wait (at most 60 s) until ``parts`` record parts
    are published in ``out``, then SIGKILL it."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "crawler.cli", "crawl", "--config", str(config), "--json"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if len(list((out / "records").glob("*.parquet"))) >= parts:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
