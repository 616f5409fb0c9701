"""The demo hub: fetch outcomes, licences, redirects and registry cases (SPEC.md §3.6, §4, §7).

The hub serves no robots.txt, ai.txt or tdmrep.json (all 404: nothing stated), links to every
other site, and carries the cases that need no site-wide signal file.
"""

from __future__ import annotations

import base64

from filters.reasons import ReasonCode as R

from ._build import MIB, PRE, TEXT, SiteBuilder, doc
from .web import PageSpec

__all__ = ["REGISTRY_ENTRIES", "hub"]

REGISTRY_ENTRIES: tuple[dict[str, object], ...] = (
    {
        "id": "demo-optout-prefix",
        "subject_kind": "prefix",
        "subject": "{{site:hub}}/registry/",
        "choice": "opt-out",
        "purposes": ["train-ai", "ai-input"],
        "registered_by": "demo",
        "note": "everything under /registry/ is opted out of AI use",
    },
    {
        "id": "demo-optin-url",
        "subject_kind": "url",
        "subject": "{{site:hub}}/registry/granted.html",
        "choice": "opt-in",
        "purposes": ["train-ai"],
        "registered_by": "demo",
        "note": "a URL entry is more specific than the prefix opt-out (SPEC.md §3.6)",
    },
    {
        "id": "demo-optout-search",
        "subject_kind": "prefix",
        "subject": "{{site:hub}}/search-only/",
        "choice": "opt-out",
        "purposes": ["search"],
        "registered_by": "demo",
        "note": "speaks to search only: no effect on a train-ai run",
    },
)

_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def _ld(license_url: str) -> str:
    return (
        '<script type="application/ld+json">{"@context": "https://schema.org", '
        f'"@type": "Article", "license": "{license_url}"}}</script>'
    )


CC_BY = "https://creativecommons.org/licenses/by/4.0/"


def hub() -> SiteBuilder:
    s = SiteBuilder("hub")  # no robots.txt, ai.txt or tdmrep.json: all 404, nothing stated
    s.page("/about.html", doc("About"), note="robots.txt 404: all allowed")
    s.page("/notes.txt", PageSpec(body="Plain text notes, kept.\n", content_type=TEXT))
    s.page(
        "/sniffed.txt",
        PageSpec(
            body="  <!DOCTYPE html><html><head><meta name=robots content=noai></head>"
            "<body><p>served as text/plain, read as HTML</p></body></html>",
            content_type=TEXT,
        ),
        reasons=(R.META_ROBOTS_NOAI,),
        note="text/plain starting with <!doctype html> is sniffed as HTML (SPEC.md §3.8)",
    )
    s.page(
        "/licensed/cc-by.html",
        doc("CC BY", head=f'<link rel="license" href="{CC_BY}">'),
        license="CC-BY-4.0",
    )
    s.page(
        "/licensed/jsonld.html",
        doc("JSON-LD CC0", head=_ld("https://creativecommons.org/publicdomain/zero/1.0/")),
        license="CC0-1.0",
    )
    s.page(
        "/licensed/conflict.html",
        doc(
            "Two licences",
            head=f'<link rel="license" href="{CC_BY}">'
            + _ld("http://creativecommons.org/licenses/by-nc-sa/4.0/deed.de"),
        ),
        license="CC-BY-NC-SA-4.0",
        license_conflict=True,
        note="two different licences: the most restrictive wins (SPEC.md §4)",
    )
    s.page(
        "/licensed/link-header.html",
        doc(
            "Link header licence",
            headers=(("Link", '<https://creativecommons.org/licenses/by-sa/4.0/>; rel="license"'),),
        ),
        license="CC-BY-SA-4.0",
    )
    s.page(
        "/licensed/bare.html",
        doc("Bare CC link", body=f'<a href="{CC_BY}">CC BY</a>'),
        note="a CC link without rel=license is not a licence (SPEC.md §4)",
    )
    s.page("/missing.html", None, reasons=(R.FETCH_STATUS,), note="404")
    s.page(
        "/broken.html",
        PageSpec(status=500, body="boom\n", content_type=TEXT),
        reasons=(R.FETCH_STATUS,),
        note="500",
    )
    s.page(
        "/image.png",
        PageSpec(body=_PNG, content_type="image/png"),
        reasons=(R.FETCH_UNSUPPORTED_TYPE,),
    )
    s.page(
        "/huge.html",
        PageSpec(body=b"<p>huge</p>\n", repeat_body_bytes=2 * MIB),
        reasons=(R.FETCH_TOO_LARGE,),
        note="2 MiB > max_page_bytes 1 MiB",
    )
    s.page(
        "/bomb.html",
        PageSpec(body=b"<p>bomb</p>\n", repeat_body_bytes=64 * MIB, gzip=True),
        reasons=(R.FETCH_TOO_LARGE,),
        note="64 KiB gzip inflating to 64 MiB",
    )
    s.page(
        "/big-ok.html",
        PageSpec(body=b"<p>big but fine</p>\n", repeat_body_bytes=512 * 1024),
        note="control for the size bound",
    )
    s.page("/gzip-ok.html", doc("gzip", gzip=True), note="small gzip page, kept")
    s.page("/slow.html", doc("Slow page", delay=1.0), note="answers after 1 s")
    s.page(
        "/drop.html",
        PageSpec(close_connection=True),
        reasons=(R.FETCH_ERROR,),
        note="connection closed without a response",
    )
    s.page(
        "/go/private.html",
        PageSpec(redirect_to="@strict/private/moved.html"),
        reasons=(R.ROBOTS_DISALLOW,),
        stage=PRE,
        fetched=True,
        final="@strict/private/moved.html",
        note="redirect to a path strict's robots.txt disallows: the target is never requested",
    )
    s.page(
        "/go/public.html",
        PageSpec(redirect_to="@strict/landing.html"),
        final="@strict/landing.html",
        note="control: redirect to an allowed page",
    )
    for n in range(6):
        s.resource(f"/chain6/{n}.html", PageSpec(redirect_to=f"/chain6/{n + 1}.html"))
        if n < 5:
            s.resource(f"/chain5/{n}.html", PageSpec(redirect_to=f"/chain5/{n + 1}.html"))
    s.resource("/chain6/6.html", doc("Six hops away"))
    s.resource("/chain5/5.html", doc("Five hops away"))
    s.page("/chain6/0.html", reasons=(R.FETCH_REDIRECT_LIMIT,), note="6 redirects > 5")
    s.page("/chain5/0.html", final="@hub/chain5/5.html", note="5 redirects: the bound itself")
    s.page("/registry/optout.html", doc("Opted out"), reasons=(R.REGISTRY_OPT_OUT,), stage=PRE)
    s.page(
        "/registry/granted.html",
        doc("Opted in"),
        note="the URL opt-in is more specific than the prefix opt-out",
    )
    s.page("/search-only/page.html", doc("Search opt-out"), note="registry entry for search only")
    s.page(
        "/archive/" + "very-long-title-" * 131 + ".html",
        None,
        reasons=(R.FETCH_INVALID_URL,),
        stage=PRE,
        note="a link over 2,083 characters cannot be requested: recorded, never requested",
    )
    return s
