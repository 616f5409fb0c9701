"""The recheck benchmark's world (bench/_recheck_web.py) opts out exactly the rows it says.

bench/recheck.py checks every run's removals against ``World.expected_removed``; these tests
check that figure itself against heed's engine: each origin's documents, as the generator
writes them, are parsed and every row of a generated dataset is decided pre-fetch (no nginx,
no crawler: the files on disk and the Parquet read back).
"""

from __future__ import annotations

import importlib.util
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import pyarrow.parquet as pq
import pytest

from filters import FetchOutcome, Headers, aitxt, robots, tdmrep
from filters.engine import EngineConfig, SiteSignals, decide_pre_fetch

BENCH = Path(__file__).resolve().parents[2] / "bench"
if str(BENCH) not in sys.path:  # the bench modules import each other as scripts do
    sys.path.append(str(BENCH))


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"heed_bench{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


web = _load("_recheck_web")
_TYPES = {".txt": "text/plain", ".json": "application/json"}


def _outcome(site: Path, origin: str, path: str) -> FetchOutcome:
    """What nginx would answer for ``path``: the generated file, or a 404."""
    file = site / path.lstrip("/")
    url = origin + path
    if not file.is_file():
        return FetchOutcome(url=url, status=404)
    ctype = _TYPES.get(file.suffix, "application/octet-stream")
    return FetchOutcome(
        url=url,
        status=200,
        headers=Headers({"content-type": ctype}),
        body=file.read_bytes(),
        fetched_at=datetime.now(UTC),
    )


def _signals(root: Path, origin: str) -> SiteSignals:
    site = root / "sites" / urlsplit(origin).hostname  # type: ignore[operator]
    return SiteSignals(
        robots=robots.policy_from_fetch(_outcome(site, origin, "/robots.txt")),
        aitxt=aitxt.policy_from_fetch(_outcome(site, origin, "/ai.txt")),
        tdmrep=tdmrep.policy_from_fetch(_outcome(site, origin, "/.well-known/tdmrep.json")),
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Any:
    # 40 origins cover every combination of the opt-out kinds (their periods divide 20).
    root = tmp_path_factory.mktemp("recheck-world")
    return web.generate(root, 40, 4000, 8080, files=3, row_group=500)


def test_every_row_is_decided_as_the_world_says(world: Any) -> None:
    cfg = EngineConfig()
    sites: dict[str, SiteSignals] = {}
    denied = 0
    urls = pq.read_table(world.data, columns=["url"]).column("url").to_pylist()
    for url in urls:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in sites:
            sites[origin] = _signals(world.root, origin)
        i = world.addresses.index(parts.hostname)
        area = parts.path.rsplit("/", 1)[0].lstrip("/")
        decision = decide_pre_fetch(sites[origin], url, cfg)
        assert decision.allowed is not web.opted_out(i, area), (url, decision.reasons)
        denied += not decision.allowed
    assert len(urls) == world.rows == 4000
    assert denied == world.expected_removed


def test_each_kind_of_opt_out_removes_rows(world: Any) -> None:
    # private (all origins), gpt (1 in 4), reserved (1 in 10), noai (1 in 20), 100 pages each
    assert world.expected_removed == 40 * 5 + 10 * 10 + 4 * 4 + 2 * 4
    assert len({u for u in pq.read_table(world.data).column("url").to_pylist()}) == 4000


def test_no_document_sets_a_crawl_delay() -> None:
    for i in range(web.GPTBOT_EVERY * web.TDMREP_EVERY * web.AITXT_EVERY):
        for body in web.documents(i).values():
            assert b"crawl-delay" not in body.lower()
