"""The benchmark web: a generated multi-host static site served by nginx on loopback.

Each host ``127.0.0.<2+i>`` serves, on one shared port:

- ``/robots.txt``: mostly allowing, with a small disallowed area (``/private/``) so that the
  robots.txt checks of both crawlers do real work (SPEC.md §3.1); one group for an AI agent
  token with the same rules, so heed's §3.2 check runs against a named group too;
- ``/`` and ``/p/<n>.html``: HTML pages of about 5-20 KB whose links reach every page of the
  host from ``/`` (page ``n`` links to ``n+1``, ``2n+1``, ``2n+2`` and a few pseudo-random
  pages), plus a link into the disallowed area on some pages;
- nothing else: ``/ai.txt``, ``/.well-known/tdmrep.json`` and the rest are nginx's 404.

``pages`` counts every page URL of a host, the disallowed ones included, so a 50 × 200 web
holds 10,000 page URLs; ``fetchable`` of them may be fetched.

nginx runs as a non-daemon child (``daemon off``) with every path (pid file, logs, temp
folders) inside the temporary folder, so nothing outside it is touched. Its access log
(``access.log``: the time of each answer, ``$msec``) gives each crawl's phases
(:func:`request_times`).
"""

from __future__ import annotations

import os
import pwd
import random
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "NGINX",
    "Web",
    "generate",
    "launch_nginx",
    "request_times",
    "start_nginx",
    "stop_nginx",
]

NGINX = "/usr/sbin/nginx"

#: One page in this many is under the disallowed ``/private/`` area.
PRIVATE_EVERY = 20

_WORDS = [
    "consent",
    "corpus",
    "crawler",
    "robots",
    "signal",
    "licence",
    "page",
    "record",
    "origin",
    "policy",
    "archive",
    "reserved",
    "allow",
    "deny",
    "agent",
    "token",
    "fetch",
    "decision",
    "evidence",
    "parquet",
    "web",
    "site",
    "text",
]


@dataclass(frozen=True, slots=True)
class Web:
    """A generated web: where it lives and what a full crawl should find."""

    root: Path
    hosts: tuple[str, ...]
    port: int
    pages: int  # page URLs per host, disallowed ones included
    private_per_host: int  # of them under /private/ (never fetched)

    @property
    def seeds(self) -> list[str]:
        return [f"http://{h}:{self.port}/" for h in self.hosts]

    @property
    def total_pages(self) -> int:
        return len(self.hosts) * self.pages

    @property
    def fetchable(self) -> int:
        return len(self.hosts) * (self.pages - self.private_per_host)


def _path(n: int) -> str:
    if n == 0:
        return "/"
    if n % PRIVATE_EVERY == 0:
        return f"/private/{n}.html"
    return f"/p/{n}.html"


def _file(n: int) -> str:
    return "index.html" if n == 0 else _path(n).lstrip("/")


def _links(n: int, pages: int, rng: random.Random) -> list[int]:
    """Tree links (so every page is reachable from ``/``) plus a few random cross links."""
    # n+1 and n+2 form a chain that steps over any single disallowed page (they are never
    # adjacent), so every allowed page is reachable from "/" through allowed pages only.
    out = [m for m in (n + 1, n + 2, 2 * n + 1, 2 * n + 2) if m < pages]
    out += [rng.randrange(pages) for _ in range(6)]
    return out


def _page(host: str, n: int, pages: int, rng: random.Random) -> bytes:
    paras = []
    for _ in range(rng.randint(8, 35)):
        words = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(60, 90)))
        paras.append(f"<p>{words}.</p>")
    links = "\n".join(f'<li><a href="{_path(m)}">page {m}</a></li>' for m in _links(n, pages, rng))
    return (
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
        f"<title>{host} page {n}</title></head>\n<body><h1>Page {n} of {host}</h1>\n"
        f"<ul>\n{links}\n</ul>\n" + "\n".join(paras) + "\n</body></html>\n"
    ).encode()


def _robots() -> bytes:
    return (
        b"# benchmark web: everything allowed except /private/\n"
        b"User-agent: *\n"
        b"Disallow: /private/\n"
        b"Allow: /p/\n"
        b"\n"
        b"User-agent: GPTBot\n"
        b"Disallow: /private/\n"
    )


def generate(root: Path, n_hosts: int, pages: int, port: int, *, seed: int = 8) -> Web:
    """Write ``n_hosts`` sites of ``pages`` page URLs each under ``root``."""
    if not 1 <= n_hosts <= 250:
        raise ValueError("hosts must be 1..250 (127.0.0.2 .. 127.0.0.251)")
    if pages < 2:
        raise ValueError("pages must be at least 2")
    rng = random.Random(seed)
    hosts = tuple(f"127.0.0.{2 + i}" for i in range(n_hosts))
    for host in hosts:
        site = root / "sites" / host
        (site / "p").mkdir(parents=True, exist_ok=True)
        (site / "private").mkdir(exist_ok=True)
        (site / "robots.txt").write_bytes(_robots())
        for n in range(pages):
            (site / _file(n)).write_bytes(_page(host, n, pages, rng))
    private = sum(1 for n in range(1, pages) if n % PRIVATE_EVERY == 0)
    return Web(root, hosts, port, pages, private)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _nginx_conf(web: Web) -> str:
    root = web.root
    # As root, nginx would switch its workers to "nobody", who cannot read a private temp
    # folder; keep them as the invoking user instead (it only serves loopback addresses).
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};" if os.geteuid() == 0 else ""
    servers = "\n".join(
        f"  server {{ listen {h}:{web.port}; root {root}/sites/{h}; }}" for h in web.hosts
    )
    return f"""
daemon off;
master_process on;
{user}
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
  log_format heed_bench '$msec';
  access_log {root}/access.log heed_bench;
  log_not_found off;
  client_body_temp_path {root}/tmp/body;
  proxy_temp_path {root}/tmp/proxy;
  fastcgi_temp_path {root}/tmp/fastcgi;
  uwsgi_temp_path {root}/tmp/uwsgi;
  scgi_temp_path {root}/tmp/scgi;
  types {{ text/html html; text/plain txt; }}
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  server_tokens off;
{servers}
}}
"""


def start_nginx(web: Web) -> subprocess.Popen[bytes]:
    """Start nginx for ``web`` and wait until every host answers.

    Raises:
        RuntimeError: nginx is missing, exits, or does not answer within 10 seconds.
    """
    return launch_nginx(web.root, _nginx_conf(web), list(web.hosts), web.port, timeout=10)


def launch_nginx(
    root: Path, conf_text: str, probes: list[str], port: int, *, timeout: float
) -> subprocess.Popen[bytes]:
    """Run nginx as a non-daemon child with ``conf_text`` (every path inside ``root``) and
    wait until each address of ``probes`` accepts connections on ``port``.

    Raises:
        RuntimeError: nginx is missing, exits, or does not answer within ``timeout`` seconds.
    """
    if shutil.which(NGINX) is None:
        raise RuntimeError(f"{NGINX} not found (Debian package nginx)")
    (root / "tmp").mkdir(exist_ok=True)
    conf = root / "nginx.conf"
    conf.write_text(conf_text, encoding="utf-8")
    proc = subprocess.Popen(
        [NGINX, "-c", str(conf), "-p", str(root), "-e", str(root / "nginx-error.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + timeout
    pending = list(probes)
    while pending:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise RuntimeError(f"nginx exited ({proc.returncode}): {err.strip()}")
        if time.monotonic() > deadline:
            stop_nginx(proc)
            raise RuntimeError(f"nginx did not answer on {pending[0]}:{port}")
        try:
            socket.create_connection((pending[0], port), timeout=0.5).close()
            pending.pop(0)
        except OSError:
            time.sleep(0.05)
    return proc


def stop_nginx(proc: subprocess.Popen[bytes]) -> None:
    """Stop the nginx child started by ``start_nginx`` (fast shutdown, then kill)."""
    if proc.poll() is None:
        proc.terminate()  # SIGTERM: nginx's fast shutdown
        try:
            proc.wait(timeout=10)  # thousands of listen sockets take a while to close
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stderr:
        proc.stderr.close()


def request_times(web: Web, since: int = 0) -> tuple[list[float], int]:
    """The answer times (Unix seconds) nginx logged from byte ``since`` of its access log on,
    and the log's size now (the ``since`` of the next call)."""
    path = web.root / "access.log"
    try:
        with path.open("rb") as f:
            f.seek(since)
            chunk = f.read()
    except OSError:
        return [], since
    end = chunk.rfind(b"\n") + 1  # a line being written is left for the next call
    times = []
    for line in chunk[:end].splitlines():
        try:
            times.append(float(line))
        except ValueError:
            continue
    return times, since + end
