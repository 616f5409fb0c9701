"""Builders for the demo web: HTML page helpers and a per-site collector of pages and truth.

Kept apart from :mod:`crawler.demo.sites` so that module reads as the catalogue of cases:
each page is declared once, next to what the default demo configuration must decide for it.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Literal, TypedDict, Unpack

from .web import PageSpec, SiteSpec

__all__ = [
    "JSON",
    "MIB",
    "PRE",
    "RSL",
    "TEXT",
    "Expectation",
    "SiteBuilder",
    "doc",
    "html_page",
    "meta",
]

Stage = Literal["pre-fetch", "post-fetch"]

PRE: Stage = "pre-fetch"
TEXT = "text/plain; charset=utf-8"
JSON = "application/json"
RSL = "application/rsl+xml"
MIB = 1024 * 1024

#: Never requested although not a pre-fetch-denied page: the denied redirect target and the
#: hop past the 5-redirect bound (SPEC.md §7).


@dataclass(frozen=True, slots=True)
class Expectation:
    """What the default demo run must decide for one URL (the ground truth).

    ``site``/``path`` name the URL the crawler finds by following links (for a redirect, the
    URL that redirects; ``final`` then names where it ends, as ``@site/path``). ``kept`` is
    whether a record is written. ``reasons`` is the full set of SPEC.md §5 codes of the
    denying stage, sorted (compare as a set); empty when kept. ``stage`` is the stage that
    denied the URL, ``None`` when kept. ``fetched`` says whether this URL itself was ever
    requested. ``license``/``license_conflict`` are the record's licence tag (SPEC.md §4)
    when kept. ``note`` says what the case exercises.
    """

    site: str
    path: str
    kept: bool
    reasons: tuple[str, ...]
    stage: Stage | None
    fetched: bool
    license: str | None = None
    license_conflict: bool = False
    final: str | None = None
    note: str = ""


def html_page(title: str, text: str = "", *, head: str = "", body: str = "") -> str:
    """A small, valid HTML document with visible text (so a kept record has ``text``)."""
    words = text or f"This is the demo page {title}. It has a paragraph of plain visible text."
    return (
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title>{head}</head>\n"
        f"<body><h1>{html.escape(title)}</h1><p>{html.escape(words)}</p>{body}</body></html>\n"
    )


@dataclass
class SiteBuilder:
    """Collects one site's pages, the links its ``/`` shows, and the expectations."""

    name: str
    robots_delay: float = 0.0
    pages: dict[str, PageSpec] = field(default_factory=dict)
    links: list[str] = field(default_factory=list)
    expectations: list[Expectation] = field(default_factory=list)

    def resource(self, path: str, spec: PageSpec) -> None:
        """A resource that is not a page: a signal document, a redirect hop, an RSL file."""
        self.pages[path] = spec

    def page(
        self,
        path: str,
        spec: PageSpec | None = None,
        *,
        reasons: tuple[str, ...] = (),
        stage: Stage | None = None,
        fetched: bool | None = None,
        license: str | None = None,
        license_conflict: bool = False,
        final: str | None = None,
        link: bool = True,
        note: str = "",
    ) -> None:
        """A page the crawler reaches, and what it must decide (kept when no ``reasons``).

        ``spec=None`` leaves the path unserved (the site's 404). ``stage`` defaults to
        post-fetch for an excluded page; ``fetched`` defaults to "not denied pre-fetch".
        """
        if spec is not None:
            self.pages[path] = spec
        if link:
            self.links.append(path)
        kept = not reasons
        if not kept and stage is None:
            stage = "post-fetch"
        self.expectations.append(
            Expectation(
                site=self.name,
                path=path,
                kept=kept,
                reasons=tuple(sorted(str(r) for r in reasons)),
                stage=None if kept else stage,
                fetched=(stage != "pre-fetch") if fetched is None else fetched,
                license=license,
                license_conflict=license_conflict,
                final=final,
                note=note,
            )
        )

    def build(self, extra_links: tuple[str, ...] = ()) -> SiteSpec:
        """The site, with a ``/`` that links to every listed page and to ``extra_links``."""
        items = "".join(
            f'<li><a href="{html.escape(href)}">{html.escape(href)}</a></li>'
            for href in (*self.links, *extra_links)
        )
        index = html_page(
            f"{self.name}: index",
            f"The {self.name} site of the heed demo web. Every page of the site is linked here.",
            body=f"<ul>{items}</ul>",
        )
        pages = {"/": PageSpec(body=index), **self.pages}
        return SiteSpec(pages=pages, robots_delay=self.robots_delay)


class PageOptions(TypedDict, total=False):
    """The :class:`PageSpec` fields :func:`doc` passes on: all but ``body``."""

    status: int
    content_type: str | None
    headers: tuple[tuple[str, str], ...]
    delay: float
    chunk_delay: float
    chunk_size: int
    redirect_to: str | None
    repeat_body_bytes: int
    close_connection: bool
    gzip: bool
    chunked: bool


def doc(title: str, *, head: str = "", body: str = "", **kw: Unpack[PageOptions]) -> PageSpec:
    """An HTML page; ``kw`` are further :class:`PageSpec` fields (headers, delay, gzip)."""
    return PageSpec(body=html_page(title, head=head, body=body), **kw)


def meta(name: str, content: str) -> str:
    """A ``<meta name content>`` tag."""
    return f'<meta name="{name}" content="{content}">'
