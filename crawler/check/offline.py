"""Local files in place of fetched ones, for site owners testing before they publish.

``heed check --robots FILE --ai-txt FILE --tdmrep FILE --headers FILE --html FILE`` reads those
files and hands them to the very same parsers and engine as fetched documents, as if the site
had answered ``200`` with that body. Each file is read once and applies to every URL checked.

Choices the SPEC leaves open (also in docs/check.md):

- A substituted document keeps the fetch rules that concern its *content*: the byte bounds
  (``robots_max_bytes`` for the site documents, ``max_page_bytes`` for the page; a larger file
  counts as truncated, so a too-large page is ``fetch.too-large``). Its evidence ``source`` is
  the file's ``file://`` URL, so the output says where the verdict came from.
- ``--headers`` and ``--html`` replace the page fetch as a whole (a local header block next to
  a remote body would describe a response no server sent). Without ``--headers`` the page is
  ``200`` with ``Content-Type: text/html; charset=utf-8``; without ``--html`` its body is empty.
- A headers file is an HTTP header block: an optional status line (``HTTP/1.1 403 Forbidden``,
  as ``curl -i`` and ``curl -D`` write it), then ``Name: value`` lines up to the first blank
  line. Folded continuation lines are joined; other malformed lines are skipped and reported.
- ``--offline`` fetches nothing at all: a site document that no file replaces counts as not
  published (``404``), the page without ``--headers``/``--html`` is an empty HTML ``200``, and
  an RSL licence that robots.txt names cannot be read, so it is ``rsl.unreachable`` (fail
  closed, and the output says why).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..doccache import DocumentCache

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from filters import ConfigError, FetchOutcome, Headers

from ..config import RunConfig
from ..fetcher import Fetcher
from ..sitestate import SiteLoader

__all__ = [
    "DOCUMENT_PATHS",
    "LocalFile",
    "Substitutes",
    "SubstitutingLoader",
    "load_substitutes",
    "page_outcome",
    "parse_headers_file",
]

#: The site documents a file can replace, by path on the origin, with the media type the
#: substitute is "served" with.
DOCUMENT_PATHS: dict[str, tuple[str, str]] = {
    "robots": ("/robots.txt", "text/plain; charset=utf-8"),
    "ai_txt": ("/ai.txt", "text/plain; charset=utf-8"),
    "tdmrep": ("/.well-known/tdmrep.json", "application/json"),
}

_DEFAULT_PAGE_TYPE = "text/html; charset=utf-8"


@dataclass(frozen=True, slots=True)
class LocalFile:
    """A file read from disk: its absolute path (for evidence) and its bytes."""

    path: str
    data: bytes

    @property
    def uri(self) -> str:
        return Path(self.path).as_uri()


@dataclass(frozen=True, slots=True)
class Substitutes:
    """Which documents come from local files, and whether anything is fetched at all."""

    robots: LocalFile | None = None
    ai_txt: LocalFile | None = None
    tdmrep: LocalFile | None = None
    headers: LocalFile | None = None
    html: LocalFile | None = None
    offline: bool = False

    @property
    def replaces_page(self) -> bool:
        """Whether the page itself is not fetched (``--headers``, ``--html`` or ``--offline``)."""
        return self.offline or self.headers is not None or self.html is not None

    @property
    def active(self) -> bool:
        return self.offline or any(self.named().values())

    def named(self) -> dict[str, str | None]:
        """Option name → file path (None when not given), for the output."""
        return {
            "robots": self.robots.path if self.robots else None,
            "ai-txt": self.ai_txt.path if self.ai_txt else None,
            "tdmrep": self.tdmrep.path if self.tdmrep else None,
            "headers": self.headers.path if self.headers else None,
            "html": self.html.path if self.html else None,
        }


def _read(path: str | None, option: str) -> LocalFile | None:
    if path is None:
        return None
    p = Path(path)
    try:
        return LocalFile(str(p.resolve()), p.read_bytes())
    except OSError as e:
        raise ConfigError(f"{option}: cannot read {path!r}: {e.strerror or e}") from None


def load_substitutes(
    *,
    robots: str | None = None,
    ai_txt: str | None = None,
    tdmrep: str | None = None,
    headers: str | None = None,
    html: str | None = None,
    offline: bool = False,
) -> Substitutes:
    """Read the files named on the command line.

    Raises:
        ConfigError: a file cannot be read (a usage error: exit 2).
    """
    return Substitutes(
        robots=_read(robots, "--robots"),
        ai_txt=_read(ai_txt, "--ai-txt"),
        tdmrep=_read(tdmrep, "--tdmrep"),
        headers=_read(headers, "--headers"),
        html=_read(html, "--html"),
        offline=offline,
    )


def _status_line(line: str) -> int | None:
    parts = line.split()
    if len(parts) >= 2 and parts[0].upper().startswith("HTTP/") and parts[1].isdigit():
        status = int(parts[1])
        return status if 100 <= status <= 599 else None
    return None


def parse_headers_file(data: bytes) -> tuple[int, Headers, tuple[str, ...]]:
    """An HTTP header block → (status, headers, what was skipped). Never raises on content."""
    text = data.decode("utf-8", errors="replace").lstrip("\ufeff")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    status = 200
    pairs: list[tuple[str, str]] = []
    notes: list[str] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            if pairs or number > 1:
                break
            continue
        if number == 1 and line.upper().startswith("HTTP/"):
            found = _status_line(line)
            if found is None:
                notes.append(f"headers line 1: unreadable status line {line[:80]!r}; using 200")
            else:
                status = found
            continue
        if line[:1] in (" ", "\t") and pairs:
            name, value = pairs[-1]
            pairs[-1] = (name, f"{value} {line.strip()}")
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip() or any(c in name for c in " \t"):
            notes.append(f"headers line {number}: not 'Name: value', skipped: {line[:80]!r}")
            continue
        pairs.append((name.strip(), value.strip()))
    return status, Headers(pairs), tuple(notes)


def _bounded(
    url: str, file: LocalFile, max_bytes: int, headers: Headers, status: int
) -> FetchOutcome:
    return FetchOutcome(
        url=url,
        status=status,
        headers=headers,
        body=file.data[:max_bytes],
        final_url=url,
        truncated=len(file.data) > max_bytes,
        fetched_at=datetime.now(UTC),
    )


def page_outcome(
    subs: Substitutes, url: str, max_bytes: int
) -> tuple[FetchOutcome, tuple[str, ...]]:
    """The page "response" built from ``--headers``/``--html``, and notes on the headers file."""
    status, headers = 200, Headers([("Content-Type", _DEFAULT_PAGE_TYPE)])
    notes: tuple[str, ...] = ()
    if subs.headers is not None:
        status, headers, notes = parse_headers_file(subs.headers.data)
        if "content-type" not in headers:
            notes = (*notes, "headers file has no Content-Type: the page is served without one")
    body = subs.html or LocalFile("", b"")
    return _bounded(url, body, max_bytes, headers, status), notes


def _document_name(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.query or parts.fragment:
        return None
    for name, (path, _) in DOCUMENT_PATHS.items():
        if parts.path == path:
            return name
    return None


class SubstitutingLoader(SiteLoader):
    """A ``SiteLoader`` that serves substituted documents from files instead of the network,
    and reads each document URL at most once per run (an RSL file named by several origins'
    robots.txt and by ``Link`` headers is one request).

    Everything else (parsing, the per-origin cache in ``LocalSignalState``, RSL resolution) is
    the crawler's own code path.
    """

    def __init__(
        self,
        fetcher: Fetcher,
        cfg: RunConfig,
        subs: Substitutes,
        cache: DocumentCache | None = None,
    ) -> None:
        super().__init__(fetcher, cfg, cache)
        self.subs = subs
        self._once: dict[str, asyncio.Future[FetchOutcome]] = {}

    async def _get(self, url: str, max_bytes: int) -> FetchOutcome:
        """Each document URL is read once per run, however many origins or pages name it."""
        held = self._once.get(url)
        if held is None:
            held = asyncio.ensure_future(self._read(url, max_bytes))
            self._once[url] = held
        return await asyncio.shield(held)

    async def _read(self, url: str, max_bytes: int) -> FetchOutcome:
        name = _document_name(url)
        file = getattr(self.subs, name) if name is not None else None
        if file is not None:
            media = DOCUMENT_PATHS[name][1] if name is not None else ""
            outcome = _bounded(url, file, max_bytes, Headers([("Content-Type", media)]), 200)
            return FetchOutcome(
                url=file.uri,
                status=outcome.status,
                headers=outcome.headers,
                body=outcome.body,
                final_url=file.uri,
                truncated=outcome.truncated,
                fetched_at=outcome.fetched_at,
            )
        if not self.subs.offline:
            return await super()._get(url, max_bytes)
        if name is not None:  # --offline: a document no file replaces is not published
            return FetchOutcome(url=url, status=404, final_url=url, fetched_at=datetime.now(UTC))
        return FetchOutcome(url=url, final_url=url, fetched_at=datetime.now(UTC))
