"""A throwaway ``redis-server`` on 127.0.0.1 for the distributed crawl benchmark."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import redis

__all__ = ["cpu_seconds", "flush", "start_redis", "stop_redis", "used_bytes"]


def start_redis(folder: Path, port: int) -> subprocess.Popen[bytes]:
    """Start redis-server on ``127.0.0.1:port`` without persistence; wait until it answers.

    Raises:
        RuntimeError: redis-server is missing or did not start.
    """
    if shutil.which("redis-server") is None:
        raise RuntimeError("redis-server is not installed")
    folder.mkdir(parents=True, exist_ok=True)
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder)]
    argv += ["--save", "", "--appendonly", "no"]
    log = (folder / "redis.log").open("wb")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=folder)
    client = redis.Redis(host="127.0.0.1", port=port)
    deadline = time.monotonic() + 20
    while True:
        try:
            if client.ping():
                return proc
        except redis.ConnectionError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"redis-server did not start on port {port}")
        time.sleep(0.05)


def flush(port: int) -> None:
    """Empty the benchmark's database between runs."""
    redis.Redis(host="127.0.0.1", port=port).flushdb()


def used_bytes(port: int) -> int:
    """Redis's ``used_memory`` now (the job's keys plus the server's own ~1 MB)."""
    return int(redis.Redis(host="127.0.0.1", port=port).info("memory")["used_memory"])


def cpu_seconds(port: int) -> float:
    """CPU seconds the Redis server has used so far (user + system, INFO cpu)."""
    info = redis.Redis(host="127.0.0.1", port=port).info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def stop_redis(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        proc.wait(timeout=30)
