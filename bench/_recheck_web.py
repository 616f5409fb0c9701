"""The recheck benchmark's world: many small origins served by nginx on loopback, and a
collected dataset (Parquet) of pages on them.

Origin ``i`` is ``http://127.1.<i // 250>.<1 + i % 250>:PORT`` (all of 127/8 routes to the
loopback interface on Linux, so no setup is needed), 10,000 origins at most. Every origin serves
a small ``/robots.txt`` and nothing else but, on some origins, ``/ai.txt`` or
``/.well-known/tdmrep.json``:

- every robots.txt: ``User-agent: *`` with ``Disallow: /private/`` and a ``Disallow`` of its
  own (``/tmp-<i>/``, which no page hits, so no two origins' files are the same text);
- one origin in :data:`GPTBOT_EVERY` also has a ``GPTBot`` group that disallows ``/gpt/``
  (``robots.ai-agent``);
- one origin in :data:`TDMREP_EVERY` serves a tdmrep.json reserving ``/reserved/``
  (``tdmrep.reserved``), one in :data:`AITXT_EVERY` an ai.txt disallowing ``/noai/``
  (``aitxt.disallow``); on the others both are nginx's 404;
- no ``Crawl-delay`` anywhere: with one, the run with documents fetched would measure the
  politeness delay, not heed.

The dataset has ``pages_per_origin`` rows per origin (columns ``url`` and ``text``, about
200 bytes of text each) whose paths hit and miss those areas (:func:`page_path`), in a
seeded random order (a corpus is not sorted by origin), written with pyarrow in row groups,
as a folder of a few Parquet files. :attr:`World.expected_removed` is what a recheck in the
default opt-out / train-ai mode must remove.

nginx runs as a non-daemon child (``daemon off``) with every path (pid file, logs, temp
folders) inside the temporary folder. One ``server`` listens on every origin's address (one
listen socket each, never a wildcard address) and serves ``sites/$server_addr``; the access
log (``access.log``, one line per request: address, status, path) counts the requests.
"""

from __future__ import annotations

import json
import os
import pwd
import resource
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from _web import free_port, launch_nginx, stop_nginx  # one nginx runner for the benchmarks

__all__ = [
    "AITXT_EVERY",
    "GPTBOT_EVERY",
    "MAX_ORIGINS",
    "TDMREP_EVERY",
    "World",
    "access_log_lines",
    "address",
    "documents",
    "free_port",
    "generate",
    "opted_out",
    "page_path",
    "start_nginx",
    "stop_nginx",
]

MAX_ORIGINS = 40 * 250  # 127.1.0.1 .. 127.1.39.250

GPTBOT_EVERY = 4
TDMREP_EVERY = 10
AITXT_EVERY = 20

_WORDS = (
    *("consent", "corpus", "crawler", "robots", "signal", "licence", "page", "record"),
    *("origin", "policy", "archive", "reserved", "allow", "deny", "agent", "token", "fetch"),
    *("decision", "evidence", "parquet", "web", "site", "text", "dataset", "trainer"),
    *("opt-out", "recheck", "removal", "document", "cache"),
)


def address(i: int) -> str:
    """The loopback address of origin ``i``."""
    return f"127.1.{i // 250}.{1 + i % 250}"


def page_path(n: int) -> tuple[str, str]:
    """(path of page ``n`` of an origin, the area it is in)."""
    if n % 20 == 0:
        area = "private"  # disallowed by every robots.txt
    elif n % 10 == 5:
        area = "gpt"  # disallowed for GPTBot where the origin has a GPTBot group
    elif n % 25 == 3:
        area = "reserved"  # reserved by tdmrep.json where the origin serves one
    elif n % 25 == 7:
        area = "noai"  # disallowed by ai.txt where the origin serves one
    else:
        area = "p" if n % 2 else "blog/2024"
    return f"/{area}/{n}.html", area


def opted_out(i: int, area: str) -> bool:
    """Whether page in ``area`` of origin ``i`` is excluded (opt-out mode, train-ai)."""
    return (
        area == "private"
        or (area == "gpt" and i % GPTBOT_EVERY == 0)
        or (area == "reserved" and i % TDMREP_EVERY == 0)
        or (area == "noai" and i % AITXT_EVERY == 0)
    )


def robots_txt(i: int) -> bytes:
    text = f"# origin {i} of the recheck benchmark\nUser-agent: *\nDisallow: /private/\n"
    text += f"Disallow: /tmp-{i}/\nAllow: /\n"
    if i % GPTBOT_EVERY == 0:
        text += "\nUser-agent: GPTBot\nDisallow: /private/\nDisallow: /gpt/\n"
    return text.encode()


TDMREP_JSON = json.dumps(
    [
        {
            "location": "/reserved/*",
            "tdm-reservation": 1,
            "tdm-policy": "https://example.org/tdm-policy.json",
        }
    ]
).encode()
AI_TXT = b"# Spawning ai.txt\nUser-Agent: *\nDisallow: /noai/\n"


@dataclass(frozen=True, slots=True)
class World:
    """A generated world: where it lives, its origins, and what a recheck must find."""

    root: Path
    port: int
    origins: int
    pages_per_origin: int
    data: Path  # the dataset folder
    rows: int
    expected_removed: int
    documents: int  # signal documents an origin-by-origin fetch asks for, at most

    @property
    def addresses(self) -> list[str]:
        return [address(i) for i in range(self.origins)]

    @property
    def first_url(self) -> str:
        return f"http://{address(0)}:{self.port}/"


def documents(i: int) -> dict[str, bytes]:
    """The files origin ``i`` serves (path -> body); every other path is a 404."""
    out = {"/robots.txt": robots_txt(i)}
    if i % TDMREP_EVERY == 0:
        out["/.well-known/tdmrep.json"] = TDMREP_JSON
    if i % AITXT_EVERY == 0:
        out["/ai.txt"] = AI_TXT
    return out


def _write_sites(root: Path, origins: int) -> None:
    for i in range(origins):
        site = root / "sites" / address(i)
        for path, body in documents(i).items():
            file = site / path.lstrip("/")
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_bytes(body)


def _texts(rng: np.random.Generator, n: int = 4096) -> pa.Array:
    """``n`` distinct texts of about 200 bytes (rows pick one each)."""
    words = np.array(_WORDS)
    out = []
    for k in range(n):
        picked = " ".join(words[rng.integers(0, len(words), 30)])
        out.append(f"Text {k}: {picked}"[:200])
    return pa.array(out, type=pa.string())


def _write_dataset(
    folder: Path,
    port: int,
    origins: int,
    pages: int,
    rows: int,
    files: int,
    row_group: int,
    rng: np.random.Generator,
) -> int:
    """Write ``rows`` rows; returns how many of them a recheck must remove."""
    folder.mkdir(parents=True, exist_ok=True)
    # Row r is page (r % pages) of origin (r // pages), for r < origins * pages; beyond that
    # (more rows than origins × pages) URLs repeat, as duplicates do in real corpora.
    prefixes = pa.array([f"http://{address(i)}:{port}" for i in range(origins)])
    area_of = [page_path(n) for n in range(pages)]
    paths = pa.array([p for p, _ in area_of])
    denied = np.array(
        [[opted_out(i, area) for _, area in area_of] for i in range(origins)], dtype=bool
    )
    order = rng.permutation(rows) % (origins * pages)
    origin_idx = order // pages
    page_idx = order % pages
    texts = _texts(rng)
    text_idx = pa.array(rng.integers(0, len(texts), rows))
    per_file = -(-rows // files)
    for f in range(files):
        lo, hi = f * per_file, min(rows, (f + 1) * per_file)
        if lo >= hi:
            break
        o = pa.array(origin_idx[lo:hi])
        n = pa.array(page_idx[lo:hi])
        urls = pc.binary_join_element_wise(prefixes.take(o), paths.take(n), "")
        table = pa.table({"url": urls, "text": texts.take(text_idx[lo:hi])})
        pq.write_table(table, folder / f"part-{f:05d}.parquet", row_group_size=row_group)
    return int(denied[origin_idx, page_idx].sum())


def generate(
    root: Path,
    origins: int,
    rows: int,
    port: int,
    *,
    files: int = 4,
    row_group: int = 10_000,
    seed: int = 11,
) -> World:
    """Write the sites and the dataset of ``rows`` rows over ``origins`` origins under ``root``."""
    if not 1 <= origins <= MAX_ORIGINS:
        raise ValueError(f"origins must be 1..{MAX_ORIGINS}")
    if rows < origins:
        raise ValueError("rows must be at least the number of origins")
    pages = rows // origins
    rng = np.random.default_rng(seed)
    _write_sites(root, origins)
    data = root / "dataset"
    removed = _write_dataset(data, port, origins, pages, rows, files, row_group, rng)
    # robots.txt, ai.txt and tdmrep.json per origin (RSL only when a robots.txt names one).
    return World(root, port, origins, pages, data, rows, removed, 3 * origins)


def _nginx_conf(world: World, connections: int) -> str:
    root = world.root
    # As root, nginx would switch its workers to "nobody", who cannot read a private temp
    # folder; keep them as the invoking user instead (it only serves loopback addresses).
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};" if os.geteuid() == 0 else ""
    listens = "\n".join(f"    listen {a}:{world.port};" for a in world.addresses)
    return f"""
daemon off;
master_process on;
{user}
worker_processes 1;
worker_rlimit_nofile {connections + 64};
pid {root}/nginx.pid;
error_log {root}/nginx-error.log warn;
events {{ worker_connections {connections}; }}
http {{
  log_format bench '$server_addr $status $request_method $request_uri';
  access_log {root}/access.log bench;
  log_not_found off;
  client_body_temp_path {root}/tmp/body;
  proxy_temp_path {root}/tmp/proxy;
  fastcgi_temp_path {root}/tmp/fastcgi;
  uwsgi_temp_path {root}/tmp/uwsgi;
  scgi_temp_path {root}/tmp/scgi;
  types {{ text/plain txt; application/json json; }}
  default_type application/octet-stream;
  keepalive_requests 100000;
  server_tokens off;
  server {{
{listens}
    root {root}/sites/$server_addr;
  }}
}}
"""


def _raise_nofile(want: int) -> None:
    """Raise this process's soft RLIMIT_NOFILE toward ``want`` (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def start_nginx(world: World) -> subprocess.Popen[bytes]:
    """Start nginx for ``world`` and wait until the first and the last origin answer.

    One listen socket per origin plus the connections in flight: the file descriptor limit is
    raised to fit (``worker_rlimit_nofile`` and this process's soft ``RLIMIT_NOFILE``).

    Raises:
        RuntimeError: nginx is missing, exits, or does not answer within 30 seconds, or the
            file descriptor limit is too low for the number of origins.
    """
    connections = world.origins + 2048  # nginx counts each listen socket as a connection
    _raise_nofile(connections + 256)
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < connections + 64:
        raise RuntimeError(
            f"RLIMIT_NOFILE {soft} is too low for {world.origins} listen sockets; use fewer origins"
        )
    # the first and the last origin answering means every listen socket is open
    probes = [address(0), address(world.origins - 1)]
    conf = _nginx_conf(world, connections)
    return launch_nginx(world.root, conf, probes, world.port, timeout=30)


def access_log_lines(world: World) -> list[str]:
    """The access log's lines so far (nginx writes each request's line when it is answered)."""
    path = world.root / "access.log"
    if not path.exists():
        return []
    return path.read_text(encoding="utf-8", errors="replace").splitlines()
