"""A real ``redis-server`` on 127.0.0.1 for the distributed tests.

One server per test session (``tests/e2e/redisproc.py``'s, without persistence);
each test gets its own job name (``job``), so its keys never meet another test's.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator

import pytest

from tests.e2e.redisproc import RedisServer as RedisProcess
from tests.e2e.redisproc import free_port

__all__ = ["RedisProcess", "free_port"]

_jobs = itertools.count(1)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    server = RedisProcess(tmp_path_factory.mktemp("redis")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: RedisProcess) -> str:
    return redis_server.url


@pytest.fixture
def job() -> str:
    """A job name of this test's own: its keys are ``heed:<job>:*``."""
    return f"t{next(_jobs)}-{time.monotonic_ns()}"
