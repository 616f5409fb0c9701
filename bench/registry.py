"""Registry lookup throughput with a large store (targets: ≥ 50,000 URL lookups/s
embedded, ≥ 30,000/s through the service, FastAPI on uvicorn, with batched requests).

Builds a temporary SQLite registry of ``--entries`` entries (60 % domain, 30 % prefix, 10 % url
subjects over distinct hosts), then times full lookups (candidate fetch + SPEC §3.6 decision)
for ``--lookups`` distinct URLs, half of them on registered hosts or their subdomains: first
embedded (the SQLite file read in process), then through the service on 127.0.0.1 (the crawl's
HTTP client, 4 requests at once, batches of 1,000 and of 10,000 URLs: the service's bound), in
one run so the figures sit side by side. Client and server share the process (and its GIL):

    .venv/bin/python bench/registry.py [--entries 1000000] [--lookups 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from crawler.registry.client import HttpRegistryClient, SqliteRegistryClient
from crawler.registry.service import make_server, serve_in_thread
from crawler.registry.store import RegistryStore
from filters.model import Purpose
from filters.registry import Answer, Choice, Entry, SubjectKind, evaluate

NOW = datetime.now(UTC)
TRAIN = frozenset({Purpose.TRAIN_AI})


def build(path: Path, n: int) -> None:
    def entries():
        for i in range(n):
            kind = SubjectKind.DOMAIN if i % 10 < 6 else SubjectKind.PREFIX
            if i % 10 == 9:
                kind = SubjectKind.URL
            host = f"site{i}.example"
            subject = {
                SubjectKind.DOMAIN: host,
                SubjectKind.PREFIX: f"https://{host}/docs/",
                SubjectKind.URL: f"https://{host}/page",
            }[kind]
            yield Entry(
                id=f"e{i:08d}",
                subject_kind=kind,
                subject=subject,
                choice=Choice.OPT_OUT if i % 3 else Choice.OPT_IN,
                purposes=TRAIN,
                license=None,
                registered_by="bench",
                registered_at=NOW,
                expires_at=None,
                note=None,
                verified=False,
            )

    with RegistryStore(path) as store:
        store.add_many(entries())


def urls(n_entries: int, n: int) -> list[str]:
    rng = random.Random(4)
    out = []
    for i in range(n):
        site = rng.randrange(n_entries)
        if i % 2:
            out.append(f"https://miss{i}.example.net/p/{i}")
        else:
            out.append(f"https://www{i}.site{site}.example/docs/{i}" if i % 4 else
                       f"https://site{site}.example/docs/{i}")  # fmt: skip
    return out


async def embedded(path: Path, batch: list[str]) -> float:
    client = SqliteRegistryClient(str(path))
    start = time.perf_counter()
    for i in range(0, len(batch), 1000):
        chunk = batch[i : i + 1000]
        found = await client.lookup(chunk)
        for url in chunk:
            answer = found[url]
            assert type(answer) is Answer, f"store failed to answer: {answer}"
            evaluate(answer.entries, url, Purpose.TRAIN_AI, NOW)
    elapsed = time.perf_counter() - start
    await client.aclose()
    return len(batch) / elapsed


async def service(path: Path, batch: list[str], size: int) -> float:
    store = RegistryStore(path)
    server = make_server(store, "127.0.0.1", 0)
    serve_in_thread(server)
    client = HttpRegistryClient(f"http://127.0.0.1:{server.server_address[1]}", batch=size)
    start = time.perf_counter()
    for i in range(0, len(batch), 4 * size):  # 4 concurrent requests of ``size`` URLs
        chunk = batch[i : i + 4 * size]
        found = await client.lookup(chunk)
        for url in chunk:
            answer = found[url]
            assert type(answer) is Answer, f"service failed to answer: {answer}"
            evaluate(answer.entries, url, Purpose.TRAIN_AI, NOW)
    elapsed = time.perf_counter() - start
    await client.aclose()
    server.stop()
    store.close()
    return len(batch) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "registry.db"
        t0 = time.perf_counter()
        build(path, args.entries)
        print(f"built {args.entries:,} entries in {time.perf_counter() - t0:.1f} s")
        wanted = urls(args.entries, args.lookups)
        rate = asyncio.run(embedded(path, wanted))
        print(f"embedded: {rate:,.0f} URL lookups/s (target 50,000)")
        wanted = urls(args.entries, args.lookups)[::-1]  # a fresh client: no cached answer
        for size in (1000, 10_000):
            rate = asyncio.run(service(path, wanted, size))
            print(f"service, batches of {size:,}: {rate:,.0f} URL lookups/s (target 30,000)")


if __name__ == "__main__":
    main()
