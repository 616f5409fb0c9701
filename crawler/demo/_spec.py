"""What a loopback site serves: pages, sites and the request log's entries (see ``web``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["PageSpec", "RequestLogEntry", "SiteSpec"]


@dataclass(frozen=True, slots=True)
class PageSpec:
    """One resource of a site: what the server answers for a path.

    ``body`` (a ``str`` is UTF-8 encoded) is sent as is, or repeated up to exactly
    ``repeat_body_bytes`` bytes when that is set (a huge body without holding it in memory
    twice). ``content_type=None`` sends no ``Content-Type``. Header values, ``body`` and
    ``redirect_to`` may contain ``{{site:NAME}}``, replaced by that site's origin at start.
    ``redirect_to`` is a path on the same site, ``@site/path`` for another site, or an absolute
    URL. ``chunked`` uses ``Transfer-Encoding: chunked`` instead of ``Content-Length``.
    """

    status: int = 200
    body: bytes | str = b""
    content_type: str | None = "text/html; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0
    chunk_delay: float = 0.0
    chunk_size: int = 1024
    redirect_to: str | None = None
    repeat_body_bytes: int = 0
    close_connection: bool = False
    gzip: bool = False
    chunked: bool = False


_NOT_FOUND = PageSpec(status=404, body=b"not found\n", content_type="text/plain; charset=utf-8")


@dataclass(frozen=True, slots=True)
class SiteSpec:
    """One origin: its pages by path (with or without query), a default, and its timing.

    ``robots_delay`` is added before answering ``/robots.txt`` (a slow robots.txt), on top of
    that page's own ``delay``. ``port=0`` takes any free port.
    """

    pages: Mapping[str, PageSpec] = field(default_factory=dict)
    not_found: PageSpec = _NOT_FOUND
    robots_delay: float = 0.0
    port: int = 0


@dataclass(frozen=True, slots=True)
class RequestLogEntry:
    """A request as the server received it; ``time`` is :func:`time.monotonic` at arrival."""

    site: str
    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    time: float
