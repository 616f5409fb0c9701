"""Loading the configured domain blocklists (``[policy] blocklists``) once, at the start of a run.

Each source is a file path (relative paths are resolved against the config file's folder by
``crawler/config.py``, as ``seeds_file`` is) or an http(s) URL, fetched once through the
shared :class:`~crawler.fetcher.Fetcher` (its user-agent, its time bound and its address
guard). The text is parsed by :mod:`filters.blocklist`; what cannot be read is skipped there
and counted.

A configured list that cannot be read (a missing or unreadable file, a URL that does not
answer 200, a list larger than :data:`MAX_LIST_BYTES`) is a :class:`~filters.ConfigError`:
the run stops with exit code 2 before anything is fetched, since a crawl must never run
without the list its operator configured. An empty list is fine (it lists nothing).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from filters import ConfigError
from filters.blocklist import EMPTY_BLOCKLIST, Blocklist, DomainList, parse_domain_list

from .config import RunConfig
from .fetcher import Fetcher

__all__ = ["MAX_LIST_BYTES", "blocklists_info", "is_url", "load_blocklists"]

log = logging.getLogger(__name__)

#: The largest list heed reads (bytes): a million domains take about 20 MB.
MAX_LIST_BYTES = 512 * 1024 * 1024


def is_url(source: str) -> bool:
    """Whether a ``[policy] blocklists`` entry names an http(s) URL (else a file)."""
    return source.lower().startswith(("http://", "https://"))


def _read_file(source: str) -> bytes:
    path = Path(source)
    try:
        size = path.stat().st_size
        if size > MAX_LIST_BYTES:
            raise ConfigError(
                f"[policy] blocklists: {source} is {size:,} bytes, over {MAX_LIST_BYTES:,}"
            )
        return path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"[policy] blocklists: file not found: {source}") from None
    except OSError as e:
        raise ConfigError(f"[policy] blocklists: cannot read {source}: {e}") from None


async def _fetch_all(cfg: RunConfig, urls: Sequence[str]) -> dict[str, bytes]:
    fetcher = Fetcher(
        user_agent=cfg.user_agent,
        timeout=cfg.download_timeout,
        allow_private=cfg.allow_private_networks,
    )
    try:
        out: dict[str, bytes] = {}
        for url in urls:
            outcome = await fetcher.fetch(url, max_bytes=MAX_LIST_BYTES)
            if outcome.status is None:
                why = outcome.error.value if outcome.error else "no response"
                raise ConfigError(f"[policy] blocklists: cannot fetch {url}: {why}")
            if outcome.status != 200:
                raise ConfigError(
                    f"[policy] blocklists: {url} answered HTTP {outcome.status}, not 200"
                )
            if outcome.truncated:
                raise ConfigError(f"[policy] blocklists: {url} is over {MAX_LIST_BYTES:,} bytes")
            out[url] = outcome.body
        return out
    finally:
        await fetcher.aclose()


def _fetch_urls(cfg: RunConfig, urls: Sequence[str]) -> dict[str, bytes]:
    """Fetch ``urls`` on a private event loop in a worker thread (callable whether or not
    the caller's thread runs a loop)."""
    if not urls:
        return {}
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="heed-blocklists") as pool:
        return pool.submit(asyncio.run, _fetch_all(cfg, urls)).result()


def load_blocklists(cfg: RunConfig) -> Blocklist:
    """Read and parse every configured list, in order (files from disk, URLs over HTTP).

    Raises:
        ConfigError: a list cannot be read (see the module docstring).
    """
    sources = cfg.blocklists
    if not sources:
        return EMPTY_BLOCKLIST
    fetched = _fetch_urls(cfg, [s for s in sources if is_url(s)])
    lists: list[DomainList] = []
    for source in dict.fromkeys(sources):
        data = fetched[source] if is_url(source) else _read_file(source)
        parsed = parse_domain_list(data, source)
        if parsed.skipped:
            log.warning(
                "blocklist %s: %d line(s) skipped (%s)",
                source,
                parsed.skipped,
                "; ".join(parsed.diagnostics[:3]),
            )
        log.info("blocklist %s: %d entries", source, len(parsed.entries))
        lists.append(parsed)
    return Blocklist(tuple(lists))


def blocklists_info(blocklist: Blocklist) -> list[dict[str, Any]]:
    """What ``run.json`` records of each list used: its source, entries and sha256."""
    return [
        {
            "source": d.name,
            "entries": len(d.entries),
            "sha256": d.sha256,
            "skipped_lines": d.skipped,
        }
        for d in blocklist.lists
    ]
