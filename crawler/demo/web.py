"""A loopback multi-host web: several origins served at once for the demo and end-to-end tests.

``heed demo`` and the end-to-end tests crawl a small web of hosts, each with its own robots.txt,
ai.txt, tdmrep.json and pages (SPEC.md §3). Every origin gets its own loopback address
(127.0.0.2, 127.0.0.3, ... — Linux routes all of 127.0.0.0/8 to ``lo``), so per-host state in the
crawler (robots cache, Crawl-delay, politeness) is exercised exactly as on the open web. Where
binding 127.0.0.x fails (macOS, some containers), the origin falls back to 127.0.0.1 with its own
port; origins stay distinct either way.

Each origin is a :class:`http.server.ThreadingHTTPServer` in a background thread (a thread per
connection, a listen backlog of 256, Nagle off, HTTP/1.1 keep-alive), which serves a few thousand
small pages per second and holds well over 60 concurrent connections per origin. Every request,
including robots.txt and other signal documents, is logged with a :func:`time.monotonic` stamp
*when it arrives* (before any configured delay), so a test can prove that a URL denied before
fetching was never requested.

Choices the task left open:

- ``gzip=True`` pages are served gzip-encoded whatever the request's ``Accept-Encoding`` says:
  the case exists to model a hostile server (a "zip bomb"), and such a server does not ask.
- ``redirect_to`` on a page whose ``status`` is not 3xx answers ``302``.
- ``chunk_delay`` sleeps before every ``chunk_size`` piece of the body after the first.
- ``close_connection`` drops the connection after reading the request, without any response.
- A placeholder naming an unknown site is an error at :meth:`LoopbackWeb.start`, not a silent
  empty string: a mistyped demo page must not quietly lose a cross-host link.
"""

from __future__ import annotations

import errno
import gzip as gzip_module
import re
import threading
import time
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from ._spec import _NOT_FOUND, PageSpec, RequestLogEntry, SiteSpec

__all__ = ["LoopbackWeb", "PageSpec", "RequestLogEntry", "SiteSpec"]

_PLACEHOLDER = re.compile(r"\{\{site:([A-Za-z0-9_.-]+)\}\}")
_BLOCK = 64 * 1024
#: First host octet tried for origins; 127.0.0.1 is left to everything else on the machine.
_FIRST_OCTET = 2


@dataclass(frozen=True, slots=True)
class _Resolved:
    """A page after placeholders are substituted and its body is encoded."""

    spec: PageSpec
    headers: tuple[tuple[str, str], ...]
    body: bytes
    length: int
    location: str | None


class _Origin(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], web: LoopbackWeb, site: str) -> None:
        self.web = web
        self.site = site
        self.resolved: dict[str, _Resolved] = {}
        self.not_found = _Resolved(_NOT_FOUND, (), b"not found\n", 10, None)
        self.robots_delay = 0.0
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet: clients of a test web drop connections on purpose (size bounds)."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "heed-loopback/1"
    disable_nagle_algorithm = True
    timeout = 30
    server: _Origin

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr log; :meth:`LoopbackWeb.requests` is the log."""

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def _serve(self, *, head: bool) -> None:
        origin = self.server
        pairs = tuple((k, v) for k, v in self.headers.items())
        entry = RequestLogEntry(origin.site, self.command, self.path, pairs, time.monotonic())
        origin.web._record(entry)
        page = origin.resolved.get(self.path) or origin.resolved.get(self.path.split("?", 1)[0])
        page = page or origin.not_found
        delay = page.spec.delay
        if self.path.split("?", 1)[0] == "/robots.txt":
            delay += origin.robots_delay
        if delay > 0:
            time.sleep(delay)
        if page.spec.close_connection:
            self.close_connection = True
            return
        try:
            self._respond(page, head=head)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _respond(self, page: _Resolved, *, head: bool) -> None:
        spec = page.spec
        status = spec.status if not (page.location and not 300 <= spec.status < 400) else 302
        self.send_response(status)
        if spec.content_type is not None:
            self.send_header("Content-Type", spec.content_type)
        if page.location is not None:
            self.send_header("Location", page.location)
        if spec.gzip:
            self.send_header("Content-Encoding", "gzip")
        for name, value in page.headers:
            self.send_header(name, value)
        if spec.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(page.length))
        self.end_headers()
        if head:
            return
        for i, piece in enumerate(_pieces(page)):
            if i and spec.chunk_delay > 0:
                time.sleep(spec.chunk_delay)
            if spec.chunked:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            else:
                self.wfile.write(piece)
        if spec.chunked:
            self.wfile.write(b"0\r\n\r\n")


def _pieces(page: _Resolved) -> Iterator[bytes]:
    """Yield the body in pieces: ``chunk_size`` when slowed or chunked, else 64 KiB blocks."""
    spec = page.spec
    size = spec.chunk_size if (spec.chunk_delay > 0 or spec.chunked) else _BLOCK
    size = max(1, size)
    if spec.repeat_body_bytes and not spec.gzip and page.body:
        unit = page.body
        # A block of whole units at least one unit longer than a piece: any piece starting at
        # ``pos % len(unit)`` fits in it, so the repeated pattern stays intact across pieces.
        block = unit * (-(-(size + len(unit)) // len(unit)))
        pos = 0
        while pos < page.length:
            n = min(size, page.length - pos)
            start = pos % len(unit)
            yield block[start : start + n]
            pos += n
        return
    for start in range(0, len(page.body), size):
        yield page.body[start : start + size]


def _gzip_repeated(unit: bytes, total: int) -> bytes:
    """Gzip ``unit`` repeated to ``total`` bytes without building the plain body in memory."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = unit * max(1, _BLOCK // max(1, len(unit)))
    out: list[bytes] = []
    remaining = total
    while remaining > 0:
        piece = block[:remaining]
        out.append(comp.compress(piece))
        remaining -= len(piece)
    out.append(comp.flush())
    return b"".join(out)


class LoopbackWeb:
    """Serve several sites at once, each on its own loopback origin, in background threads.

    Usage::

        with LoopbackWeb({"a": SiteSpec({"/": PageSpec(body="hi")})}) as web:
            httpx.get(web.url("a", "/"))
            web.requests()

    Raises:
        ValueError: at :meth:`start`, when a placeholder or ``@site`` redirect names an
            unknown site.
        OSError: at :meth:`start`, when a site's fixed ``port`` cannot be bound.
    """

    def __init__(self, sites: Mapping[str, SiteSpec | Mapping[str, PageSpec]]) -> None:
        self._sites: dict[str, SiteSpec] = {
            name: spec if isinstance(spec, SiteSpec) else SiteSpec(pages=dict(spec))
            for name, spec in sites.items()
        }
        self._servers: dict[str, _Origin] = {}
        self._threads: list[threading.Thread] = []
        self._log_lock = threading.Lock()
        self._entries: list[RequestLogEntry] = []

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> LoopbackWeb:
        """Bind every origin, resolve placeholders, and start serving. Returns ``self``."""
        if self._servers:
            return self
        try:
            for index, (name, spec) in enumerate(self._sites.items()):
                self._servers[name] = self._bind(name, spec, _FIRST_OCTET + index)
            for name, spec in self._sites.items():
                self._resolve(name, spec)
        except BaseException:
            self._close_servers()
            raise
        for name, server in self._servers.items():
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"loopback-web-{name}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        """Stop serving and release every socket; safe to call twice."""
        for server in self._servers.values():
            server.shutdown()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()
        self._close_servers()

    def __enter__(self) -> LoopbackWeb:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def replace_site(self, name: str, spec: SiteSpec | Mapping[str, PageSpec]) -> None:
        """Serve ``spec`` for the started site ``name`` from now on (same address): a site
        that changes after a crawl, for ``heed recheck``'s tests."""
        site = spec if isinstance(spec, SiteSpec) else SiteSpec(pages=dict(spec))
        self._sites[name] = site
        self._resolve(name, site)

    # -- addresses -------------------------------------------------------------------------

    @property
    def sites(self) -> tuple[str, ...]:
        """The site names, in the order given."""
        return tuple(self._sites)

    def origin(self, site: str) -> str:
        """``http://127.0.0.x:port`` of a started site.

        Raises:
            KeyError: unknown site, or the web is not started.
        """
        host, port = self._servers[site].socket.getsockname()[:2]
        return f"http://{host}:{port}"

    def url(self, site: str, path: str = "/") -> str:
        """Absolute URL of ``path`` on ``site``."""
        return self.origin(site) + (path if path.startswith("/") else "/" + path)

    def site_of(self, url: str) -> str | None:
        """The site serving ``url`` (by scheme, host and port), or ``None``."""
        parts = urlsplit(url)
        wanted = f"{parts.scheme}://{parts.netloc}"
        for name in self._servers:
            if self.origin(name) == wanted:
                return name
        return None

    def expand(self, text: str) -> str:
        """Replace every ``{{site:NAME}}`` in ``text`` with that site's origin.

        Raises:
            ValueError: a placeholder names an unknown site.
        """

        def origin_of(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in self._servers:
                raise ValueError(f"placeholder names an unknown site: {name!r}")
            return self.origin(name)

        return _PLACEHOLDER.sub(origin_of, text)

    # -- request log -----------------------------------------------------------------------

    def requests(self, site: str | None = None) -> list[RequestLogEntry]:
        """A copy of the request log in arrival order, optionally for one site."""
        with self._log_lock:
            entries = list(self._entries)
        return entries if site is None else [e for e in entries if e.site == site]

    def clear_log(self) -> None:
        """Forget every logged request."""
        with self._log_lock:
            self._entries.clear()

    def _record(self, entry: RequestLogEntry) -> None:
        with self._log_lock:
            self._entries.append(entry)

    # -- internals -------------------------------------------------------------------------

    def _bind(self, name: str, spec: SiteSpec, octet: int) -> _Origin:
        host = f"127.0.0.{octet}" if octet < 255 else "127.0.0.1"
        try:
            return _Origin((host, spec.port), self, name)
        except OSError as e:
            if e.errno not in (errno.EADDRNOTAVAIL, errno.EACCES, errno.EADDRINUSE):
                raise
            if spec.port:
                raise
        return _Origin(("127.0.0.1", 0), self, name)

    def _resolve(self, name: str, spec: SiteSpec) -> None:
        server = self._servers[name]
        server.robots_delay = spec.robots_delay
        server.resolved = {path: self._resolve_page(name, pg) for path, pg in spec.pages.items()}
        server.not_found = self._resolve_page(name, spec.not_found)

    def _resolve_page(self, site: str, page: PageSpec) -> _Resolved:
        raw = page.body.encode("utf-8") if isinstance(page.body, str) else page.body
        if b"{{site:" in raw:
            raw = self.expand(raw.decode("utf-8")).encode("utf-8")
        headers = tuple((k, self.expand(v)) for k, v in page.headers)
        length = page.repeat_body_bytes if page.repeat_body_bytes and raw else len(raw)
        if page.gzip:
            raw = (
                _gzip_repeated(raw, page.repeat_body_bytes)
                if page.repeat_body_bytes and raw
                else gzip_module.compress(raw)
            )
            length = len(raw)
        location = None if page.redirect_to is None else self._location(site, page.redirect_to)
        return _Resolved(page, headers, raw, length, location)

    def _location(self, site: str, target: str) -> str:
        target = self.expand(target)
        if target.startswith("@"):
            other, _, path = target[1:].partition("/")
            if other not in self._servers:
                raise ValueError(f"redirect names an unknown site: {other!r}")
            return self.url(other, "/" + path)
        if target.startswith("/"):
            return self.url(site, target)
        return target

    def _close_servers(self) -> None:
        for server in self._servers.values():
            server.server_close()
        self._servers.clear()
