"""Warm document cache: the cost of loading 10,000 origins' site documents from it.

Is the document cache (crawler/doccache.py) the bottleneck of a warm ``heed recheck``? The
target is 2,000,000 rows/min over 10,000 origins on 2 cores: 1,000,000 rows in 30 s, so the
documents of all 10,000 origins must load in a small part of that. Three figures, one process:

(a) raw reads: ``DocumentCache.get`` for every document URL (robots.txt, ai.txt,
    tdmrep.json per origin: 30,000 point reads, each checked against its sha256);
(b) warm loads: ``LocalSignalState.site`` for every origin through ``SiteLoader`` with the
    cache (reads + parsing + the state machinery; nothing may be requested);
(c) the same loads served from memory instead of the cache (parsing + state only): the
    baseline the cache adds to.

The documents: a robots.txt per origin (two in three a common CMS file, the others their own
with site-specific wildcard rules; AI-agent groups, a sitemap), an ai.txt for a third of the
origins, a 404 for the rest and for tdmrep.json.
Fresh entries are written first (the cold run's work is not timed here: it is the network's).

Usage: python bench/doccache.py [--origins 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crawler.config import RunConfig
from crawler.doccache import DocumentCache
from crawler.fetcher import Fetcher
from crawler.sitestate import LocalSignalState, SiteLoader
from filters import FetchOutcome, Headers

UA = "Mozilla/5.0 (compatible; heedbot/0.1; +https://example.org/bot)"
CFG = RunConfig(user_agent=UA)
TEXT = Headers([("Content-Type", "text/plain"), ("ETag", '"abc"')])
NOT_FOUND = Headers([("Content-Type", "text/html")])


#: A common CMS robots.txt (shared by many sites: its patterns are compiled once per process).
_COMMON = (
    "User-agent: *\nDisallow: /wp-admin/\nAllow: /wp-admin/admin-ajax.php\n"
    "Disallow: /*?s=\nDisallow: /*/feed/$\nDisallow: /cart/\nDisallow: /checkout/\n\n"
    "User-agent: GPTBot\nUser-agent: CCBot\nDisallow: /\n"
)


def _robots(i: int) -> bytes:
    """Two sites in three publish the common file; the others their own (~1.2 kB, with
    site-specific wildcard rules, the costly case: each pattern is compiled anew)."""
    sitemap = f"\nSitemap: https://site{i}.example/sitemap.xml\n"
    if i % 3:
        return (_COMMON + sitemap).encode()
    own = "".join(f"Disallow: /section-{i}-{k}/*.pdf$\n" for k in range(10))
    groups = [
        "User-agent: *\nDisallow: /admin/\nDisallow: /search\nAllow: /search/help\n" + own,
        "User-agent: GPTBot\nUser-agent: CCBot\nDisallow: /\n",
        f"User-agent: Googlebot\nDisallow: /private-{i}/\nCrawl-delay: 0\n",
    ]
    return ("\n".join(groups) + sitemap).encode()


def documents(n: int) -> dict[str, FetchOutcome]:
    now = datetime.now(UTC)
    out: dict[str, FetchOutcome] = {}
    for i in range(n):
        origin = f"https://site{i}.example"
        for path, status, body, headers in (
            ("/robots.txt", 200, _robots(i), TEXT),
            (
                "/ai.txt",
                200 if i % 3 == 0 else 404,
                b"User-agent: *\nDisallow: /images/\n" if i % 3 == 0 else b"<html>no</html>",
                TEXT if i % 3 == 0 else NOT_FOUND,
            ),
            ("/.well-known/tdmrep.json", 404, b"<html>no</html>", NOT_FOUND),
        ):
            url = origin + path
            out[url] = FetchOutcome(
                url=url,
                status=status,
                headers=headers,
                body=body,
                final_url=url,
                fetched_at=now,
            )
    return out


class MemoryLoader(SiteLoader):
    """The baseline: the same documents from a dict (what an in-process cache would cost)."""

    def __init__(self, fetcher: Fetcher, cfg: RunConfig, docs: dict[str, FetchOutcome]) -> None:
        super().__init__(fetcher, cfg)
        self.docs = docs

    async def _get(self, url: str, max_bytes: int) -> FetchOutcome:
        return self.docs[url]


async def load_all(loader: SiteLoader, origins: list[str]) -> float:
    state = LocalSignalState(loader, CFG.signal_ttl)
    start = time.perf_counter()
    for origin in origins:
        await state.site(origin)
    return time.perf_counter() - start


async def run(n: int, repeat: int, folder: Path) -> None:
    docs = documents(n)
    origins = [f"https://site{i}.example" for i in range(n)]
    path = folder / "documents.sqlite"
    with DocumentCache(path) as cache:
        start = time.perf_counter()
        for url, outcome in docs.items():
            cache.put(url, outcome, max_bytes=CFG.robots_max_bytes, agent=UA)
        put_s = time.perf_counter() - start
    size = path.stat().st_size  # the WAL is checkpointed into it on close
    print(f"{n:,} origins, {len(docs):,} documents; file {size / 1e6:.1f} MB")
    print(f"writing (one transaction per document): {put_s:.2f} s")
    fetcher = Fetcher(user_agent=UA, timeout=5.0, allow_private=False)
    try:
        for r in range(repeat):
            with DocumentCache(path) as cache:
                start = time.perf_counter()
                for url in docs:
                    assert cache.get(url, agent=UA) is not None
                raw_s = time.perf_counter() - start
                loader = SiteLoader(fetcher, CFG, cache)
                warm_s = await load_all(loader, origins)
                assert loader.fetched == [], "a warm load requested something"
            mem_s = await load_all(MemoryLoader(fetcher, CFG, docs), origins)
            per = 1e6 / n
            print(
                f"run {r + 1}: (a) raw reads {raw_s:.2f} s ({raw_s / len(docs) * 1e6:.0f} µs/doc)"
                f" | (b) warm loads {warm_s:.2f} s ({warm_s * per:.0f} µs/origin)"
                f" | (c) from memory {mem_s:.2f} s ({mem_s * per:.0f} µs/origin)"
                f" | cache adds {warm_s - mem_s:+.2f} s"
            )
    finally:
        await fetcher.aclose()
    budget = 1_000_000 / 2_000_000 * 60
    print(
        f"budget of a warm recheck of 1,000,000 rows at 2,000,000 rows/min: {budget:.0f} s "
        "(2 cores; the loads above are on one)"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--origins", type=int, default=10_000)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="heed-doccache-") as folder:
        asyncio.run(run(args.origins, args.repeat, Path(folder)))


if __name__ == "__main__":
    main()
