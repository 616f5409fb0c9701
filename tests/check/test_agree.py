"""``heed check`` and ``heed crawl`` agree on every page of the same loopback web.

The crawl runs with every case URL of the signal matrix as a seed (depth 0, so exactly those
URLs are considered); its ``decisions/`` rows are compared with ``heed check --json`` for the
same URLs under the same config: kept or not, stage, reason codes and licence.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from crawler.demo.web import LoopbackWeb

from .conftest import heed, write_config
from .test_signals import CASES


def test_check_and_crawl_agree(web: LoopbackWeb, tmp_path: Path) -> None:
    urls = list(dict.fromkeys(web.url(site, path) for _, site, path, *_ in CASES))
    out = tmp_path / "out"
    cfg = write_config(
        tmp_path / "agree.toml",
        crawl={"seeds": urls, "out": str(out), "max_depth": 0, "max_pages": 1000},
    )
    checked = heed("check", "--config", cfg, "--json", *urls)
    crawled = heed("crawl", "--config", cfg, "--json", timeout=300)
    assert crawled.code == 0, crawled.stderr[-2000:]
    rows = pq.read_table(out / "decisions").to_pylist()
    crawl = {r["url"]: r for r in rows}
    assert set(crawl) == set(urls)
    for result in checked.data["results"]:
        row = crawl[result["url"]]
        assert (result["allowed"], result["stage"], sorted(result["reasons"])) == (
            row["allowed"],
            row["stage"],
            sorted(row["reasons"]),
        ), result["url"]
        assert result["license"]["id"] == row["license"], result["url"]
