"""Demo sites for TDMRep and RSL (SPEC.md §3.5, §3.9)."""

from __future__ import annotations

from filters.reasons import ReasonCode as R

from ._build import JSON, PRE, RSL, TEXT, SiteBuilder, doc, meta
from .web import PageSpec

__all__ = ["rsl", "tdm"]


def tdm() -> SiteBuilder:
    s = SiteBuilder("tdm")
    rules = (
        '[{"location": "/reserved/", "tdm-reservation": 1,'
        ' "tdm-policy": "{{site:tdm}}/policy.json"},\n'
        ' {"location": "/news/", "tdm-reservation": "1"},\n'
        ' {"location": "/news/open/", "tdm-reservation": 0},\n'
        ' {"location": "/docs/", "tdm-reservation": false},\n'
        ' {"location": "/docs/private/", "tdm-reservation": true},\n'
        ' {"location": "/weird/", "tdm-reservation": "maybe"},\n'
        ' {"location": "/weird/", "tdm-reservation": 1}]\n'
    )
    s.resource("/.well-known/tdmrep.json", PageSpec(body=rules, content_type=JSON))
    s.resource("/policy.json", PageSpec(body='{"policy": "demo"}', content_type=JSON))
    tdm = "tdm-reservation"
    s.page("/free.html", doc("Free"))
    s.page(
        "/reserved/page.html",
        doc("Reserved", headers=((tdm, "0"),)),
        reasons=(R.TDMREP_RESERVED,),
        stage=PRE,
        note="file value 1: never requested",
    )
    s.page(
        "/news/open/story.html",
        doc("Story"),
        reasons=(R.TDMREP_RESERVED,),
        stage=PRE,
        note="first matching rule wins (/news/ = 1), not the longest (/news/open/ = 0)",
    )
    s.page(
        "/docs/private/guide.html", doc("Guide"), note="first matching rule wins (/docs/ = false)"
    )
    s.page(
        "/docs/override.html",
        doc("Override", headers=((tdm, "1"),)),
        reasons=(R.TDMREP_RESERVED,),
        note="header 1 overrides the file's 0 (step 2)",
    )
    s.page(
        "/weird/page.html",
        doc("Weird"),
        note="first matching rule has an invalid value: the file states nothing",
    )
    s.page("/header.html", doc("Header", headers=((tdm, "1"),)), reasons=(R.TDMREP_RESERVED,))
    s.page("/header-zero.html", doc("Header zero", headers=((tdm, "0"),)))
    s.page(
        "/meta.html", doc("Meta", head=meta("tdm-reservation", "1")), reasons=(R.TDMREP_RESERVED,)
    )
    return s


def _rsl_doc(*contents: str) -> PageSpec:
    body = '<?xml version="1.0"?>\n<rsl xmlns="https://rslstandard.org/rsl">\n'
    return PageSpec(body=body + "\n".join(contents) + "\n</rsl>\n", content_type=RSL)


def _content(path: str, licence: str) -> str:
    return (
        f'  <content url="{{{{site:rsl}}}}{path}">\n    <license>{licence}</license>\n  </content>'
    )


def rsl() -> SiteBuilder:
    s = SiteBuilder("rsl")
    s.resource(
        "/robots.txt",
        PageSpec(
            body="User-agent: *\nAllow: /\n\nLicense: {{site:rsl}}/license.rsl\n", content_type=TEXT
        ),
    )
    free = '<permits type="usage">ai-all, search</permits><payment type="free"/>'
    s.resource(
        "/license.rsl",
        _rsl_doc(
            _content("/news/", '<prohibits type="usage">ai-train</prohibits>'),
            _content(
                "/premium/",
                '<permits type="usage">ai-all</permits><payment type="subscription">'
                '<amount currency="USD">10</amount></payment>',
            ),
            _content("/free/", free),
            _content("/search-only/", '<permits type="usage">search</permits>'),
        ),
    )
    s.resource(
        "/lh/no.rsl", _rsl_doc(_content("/lh/no", '<prohibits type="usage">all</prohibits>'))
    )
    s.resource("/lh/ok.rsl", _rsl_doc(_content("/lh/ok", free)))
    s.resource(
        "/lh/html.rsl", _rsl_doc(_content("/lh/html", '<prohibits type="usage">ai-all</prohibits>'))
    )
    s.resource("/lh/gone.rsl", PageSpec(status=500, body="error\n", content_type=TEXT))
    s.resource("/lh/bad.rsl", PageSpec(body="<rsl><content url=", content_type=RSL))
    s.page("/about.html", doc("About"), note="no <content> matches: RSL states nothing")
    s.page("/news/story.html", doc("Story"), reasons=(R.RSL_PROHIBITED,), stage=PRE)
    s.page(
        "/premium/report.html",
        doc("Report"),
        reasons=(R.RSL_LICENSE_REQUIRED,),
        stage=PRE,
        note="a paid subscription licence",
    )
    s.page("/free/article.html", doc("Article"), note="ai-all permitted for free")
    s.page(
        "/search-only/page.html",
        doc("Search only"),
        reasons=(R.RSL_PROHIBITED,),
        stage=PRE,
        note="permits search only: ai-train not covered",
    )
    link = '<{{site:rsl}}/lh/%s.rsl>; rel="license"; type="application/rsl+xml"'
    for name, reasons in (
        ("no", (R.RSL_PROHIBITED,)),
        ("ok", ()),
        ("gone", (R.RSL_UNREACHABLE,)),
        ("bad", (R.RSL_INVALID,)),
    ):
        s.page(
            f"/lh/{name}.html",
            doc(f"Link {name}", headers=(("Link", link % name),)),
            reasons=reasons,
            note="RSL named in a Link header",
        )
    s.page(
        "/lh/html.html",
        doc("HTML RSL", head='<link rel="license" type="application/rsl+xml" href="/lh/html.rsl">'),
        reasons=(R.RSL_PROHIBITED,),
        note="RSL named in <link rel=license>",
    )
    return s


#: Deep links the hub shows besides every site's ``/``: pages on sites whose ``/`` is denied
#: (so they are still considered), and a disallowed page racing the slow robots.txt.
