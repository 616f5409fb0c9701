"""Demo sites for robots.txt and its extensions, ai.txt, X-Robots-Tag, meta robots and
site-wide signal errors (SPEC.md §3.1-§3.4, §3.7, §3.8)."""

from __future__ import annotations

from filters.reasons import ReasonCode as R

from ._build import JSON, PRE, TEXT, SiteBuilder, doc, meta
from .web import PageSpec

__all__ = ["aierror", "aitxt", "badtdm", "down", "lazy", "prefs", "slow", "strict"]


def strict() -> SiteBuilder:
    s = SiteBuilder("strict")
    robots = (
        "# The product token's group is matched case-insensitively (RFC 9309 2.2.1).\n"
        "User-agent: HeedBot\nDisallow: /private/\nAllow: /private/open.html\n\n"
        "User-agent: GPTBot\nDisallow: /no-gpt/\n\n"
        "User-agent: *\nDisallow: /star-only/\nContent-Usage: /star-usage/ train-ai=n\n"
    )
    s.resource("/robots.txt", PageSpec(body=robots, content_type=TEXT))
    s.resource(
        "/ai.txt",
        PageSpec(body="<html><body><pre>\nUser-agent: *\nDisallow: /\n</pre></body></html>\n"),
    )  # text/html: ignored
    s.resource("/landing.html", doc("Landing page (a redirect target)"))
    s.resource("/private/moved.html", doc("Moved private page"))
    s.page("/public.html", doc("Public"), note="ai.txt is HTML, so its Disallow: / is ignored")
    s.page("/private/secret.html", doc("Secret"), reasons=(R.ROBOTS_DISALLOW,), stage=PRE)
    s.page("/private/open.html", doc("Open"), note="longer Allow wins")
    s.page(
        "/no-gpt/page.html",
        doc("No GPT"),
        reasons=(R.ROBOTS_AI_AGENT,),
        stage=PRE,
        note="disallowed for GPTBot only",
    )
    s.page(
        "/star-only/page.html",
        doc("Star only"),
        reasons=(R.ROBOTS_AI_AGENT,),
        stage=PRE,
        note="heedbot has its own group; AI agents without one fall back to *",
    )
    s.page(
        "/star-usage/page.html",
        doc("Star usage"),
        reasons=(R.AIPREF_DISALLOW,),
        stage=PRE,
        note="heedbot's group states no Content-Usage: the * group's applies",
    )
    xrt = "X-Robots-Tag"
    cases: list[tuple[str, tuple[tuple[str, str], ...], tuple[str, ...], str]] = [
        ("noai", ((xrt, "noai"),), (R.X_ROBOTS_TAG_NOAI,), ""),
        ("noml", ((xrt, "noml"),), (R.X_ROBOTS_TAG_NOML,), ""),
        ("heedbot", ((xrt, "heedbot: noai"),), (R.X_ROBOTS_TAG_NOAI,), "scoped to us"),
        ("gptbot", ((xrt, "GPTBot: noai"),), (R.X_ROBOTS_TAG_NOAI,), "scoped to an AI agent"),
        ("otherbot", ((xrt, "otherbot: noai"),), (), "scoped to another bot: kept"),
        ("noindex", ((xrt, "noindex"),), (), "search only: kept for train-ai"),
        (
            "multi",
            ((xrt, "noarchive"), (xrt, "noimageai")),
            (R.X_ROBOTS_TAG_NOIMAGEAI,),
            "every header line counts; noarchive alone has no effect",
        ),
    ]
    for name, headers, reasons, note in cases:
        s.page(
            f"/xrt/{name}.html",
            doc(f"X-Robots-Tag {name}", headers=headers),
            reasons=reasons,
            note=note,
        )
    metas: list[tuple[str, str, tuple[str, ...]]] = [
        ("noai", meta("robots", "noai"), (R.META_ROBOTS_NOAI,)),
        ("noml", meta("robots", "noml"), (R.META_ROBOTS_NOML,)),
        ("noimageai", meta("robots", "noimageai"), (R.META_ROBOTS_NOIMAGEAI,)),
        ("heedbot", meta("heedbot", "noai, noml"), (R.META_ROBOTS_NOAI, R.META_ROBOTS_NOML)),
        ("otherbot", meta("otherbot", "noai"), ()),
        ("noindex", meta("robots", "noindex, nofollow"), ()),
    ]
    for name, head, reasons in metas:
        s.page(f"/meta/{name}.html", doc(f"meta {name}", head=head), reasons=reasons)
    s.page(
        "/both.html",
        doc("Header and meta", head=meta("robots", "noml"), headers=((xrt, "noai"),)),
        reasons=(R.X_ROBOTS_TAG_NOAI, R.META_ROBOTS_NOML),
        note="all reasons are listed",
    )
    return s


def prefs() -> SiteBuilder:
    s = SiteBuilder("prefs")
    robots = (
        "User-agent: *\nDisallow: /members/\n"
        "Content-Usage: train-ai=y\nContent-Usage: /private/ train-ai=n\n"
        "Content-Signal: /signals/ search=yes, ai-train=no\n"
    )
    s.resource("/robots.txt", PageSpec(body=robots, content_type=TEXT))
    s.page("/public.html", doc("Public"), note="Content-Usage train-ai=y on /")
    s.page(
        "/members/page.html",
        doc("Members"),
        reasons=(R.ROBOTS_DISALLOW, R.ROBOTS_AI_AGENT),
        stage=PRE,
        note="the * group also binds every AI agent",
    )
    s.page("/private/report.html", doc("Report"), reasons=(R.AIPREF_DISALLOW,), stage=PRE)
    s.page("/signals/page.html", doc("Signals"), reasons=(R.CONTENT_SIGNAL_DISALLOW,), stage=PRE)
    cu, cs = "Content-Usage", "Content-Signal"
    s.page(
        "/hdr/usage-n.html",
        doc("CU n", headers=((cu, "train-ai=n"),)),
        reasons=(R.AIPREF_DISALLOW,),
        note="header n beats the robots.txt y",
    )
    s.page("/hdr/usage-y.html", doc("CU y", headers=((cu, "train-ai=y"),)))
    s.page(
        "/hdr/usage-bad.html",
        doc("CU unparsable", headers=((cu, "train-ai=n,"),)),
        note="RFC 9651 parse failure: none (aipref.parse-error, informational)",
    )
    s.page(
        "/hdr/signal-no.html",
        doc("CS no", headers=((cs, "ai-train=no"),)),
        reasons=(R.CONTENT_SIGNAL_DISALLOW,),
    )
    s.page(
        "/hdr/signal-search.html",
        doc("CS search", headers=((cs, "search=no, ai-train=yes"),)),
        note="search=no does not speak to train-ai",
    )
    return s


def slow() -> SiteBuilder:
    s = SiteBuilder("slow", robots_delay=1.5)
    s.resource(
        "/robots.txt",
        PageSpec(body="User-agent: *\nDisallow: /area/\nCrawl-delay: 1\n", content_type=TEXT),
    )
    s.page("/open.html", doc("Open"), note="Crawl-delay 1 is honoured")
    s.page(
        "/area/hidden.html",
        doc("Hidden"),
        reasons=(R.ROBOTS_DISALLOW, R.ROBOTS_AI_AGENT),
        stage=PRE,
        note="also linked from the hub: must wait for the slow robots.txt",
    )
    return s


def _site_wide(name: str, reasons: tuple[str, ...], note: str) -> SiteBuilder:
    """A site excluded as a whole: its ``/`` and a page the hub links to, both pre-fetch."""
    s = SiteBuilder(name)
    s.page("/", reasons=reasons, stage=PRE, link=False, note=note)
    s.page("/page.html", doc(f"{name} page"), reasons=reasons, stage=PRE, note=note)
    return s


def down() -> SiteBuilder:
    s = _site_wide("down", (R.ROBOTS_UNREACHABLE,), "robots.txt 503: complete disallow")
    s.resource("/robots.txt", PageSpec(status=503, body="busy\n", content_type=TEXT))
    return s


def lazy() -> SiteBuilder:
    s = _site_wide("lazy", (R.POLITENESS_CRAWL_DELAY_TOO_LONG,), "Crawl-delay 60 > 30")
    s.resource(
        "/robots.txt",
        PageSpec(body="User-agent: heedbot\nCrawl-delay: 60\nAllow: /\n", content_type=TEXT),
    )
    return s


def aierror() -> SiteBuilder:
    s = _site_wide(
        "aierror",
        (R.AITXT_UNREACHABLE, R.TDMREP_UNREACHABLE),
        "ai.txt 500 and tdmrep.json 429: errors deny (on_signal_error = deny)",
    )
    s.resource("/ai.txt", PageSpec(status=500, body="error\n", content_type=TEXT))
    s.resource(
        "/.well-known/tdmrep.json", PageSpec(status=429, body="slow down\n", content_type=TEXT)
    )
    return s


def badtdm() -> SiteBuilder:
    s = _site_wide("badtdm", (R.TDMREP_INVALID,), "tdmrep.json served as JSON does not parse")
    s.resource(
        "/.well-known/tdmrep.json",
        PageSpec(body='[{"location": "/", "tdm-reservation": 1,', content_type=JSON),
    )
    return s


def aitxt() -> SiteBuilder:
    s = SiteBuilder("aitxt")
    s.resource("/ai.txt", PageSpec(body="User-Agent: *\nDisallow: /Gallery/\n", content_type=TEXT))
    s.page("/about.html", doc("About"))
    s.page(
        "/gallery/piece.html",
        doc("Piece"),
        reasons=(R.AITXT_DISALLOW,),
        stage=PRE,
        note="ai.txt matches case-insensitively (SPEC.md §3.4)",
    )
    return s
