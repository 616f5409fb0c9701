"""End-to-end: a link or redirect with ``..`` segments cannot slip past robots.txt.

Servers resolve ``/x/../private/page`` to ``/private/page`` before they serve it, so heed
decides and requests the resolved URL (``filters.urls.resolve_dot_segments``): the robots.txt
``Disallow: /private/`` applies, and the request log never shows a dotted path.
"""

from __future__ import annotations

from pathlib import Path

from crawler.demo.web import LoopbackWeb, PageSpec, SiteSpec

from .crawlrun import crawl

ROBOTS = "User-agent: *\nDisallow: /private/\n"


def _site() -> SiteSpec:
    links = [
        "{{site:s}}/x/../private/a.html",  # absolute: urljoin leaves the dots alone
        "{{site:s}}/x/%2e%2e/private/b.html",
        "{{site:s}}/open/./page.html",
        "/go",
    ]
    home = "<!doctype html><html><body>" + "".join(f'<a href="{h}">l</a>' for h in links)
    page = "<!doctype html><html><body><p>private</p></body></html>"
    return SiteSpec(
        pages={
            "/robots.txt": PageSpec(body=ROBOTS, content_type="text/plain"),
            "/": PageSpec(body=home + "</body></html>"),
            "/private/a.html": PageSpec(body=page),
            "/private/b.html": PageSpec(body=page),
            "/private/c.html": PageSpec(body=page),
            "/open/page.html": PageSpec(body="<!doctype html><p>open</p>"),
            "/go": PageSpec(status=302, redirect_to="{{site:s}}/y/../private/c.html"),
        }
    )


def test_dot_segments_are_resolved_before_the_decision_and_the_request(tmp_path: Path) -> None:
    with LoopbackWeb({"s": _site()}) as web:
        seed = web.url("s")
        run = crawl(tmp_path, {"crawl": {"seeds": [seed], "max_depth": 1}})
        requested = [e.path for e in web.requests("s")]
        origin = seed.rstrip("/")
    assert run.returncode == 0, run.stderr
    assert not any(".." in p or "%2e" in p.lower() or "/./" in p for p in requested), requested
    assert not any(p.startswith("/private/") for p in requested), requested
    for name in ("a", "b"):
        row = run.decision(f"{origin}/private/{name}.html")
        assert "robots.disallow" in row["reasons"], row
    redirected = run.decision(f"{origin}/go")
    assert not redirected["allowed"] and "robots.disallow" in redirected["reasons"], redirected
    assert run.kept_urls() == {seed, f"{origin}/open/page.html"}
    assert not any("private" in r["url"] or "private" in r["final_url"] for r in run.records())


def test_a_redirect_to_an_unrequestable_url_is_fetch_invalid_url(tmp_path: Path) -> None:
    """The crawl follows redirects through the same rule as ``heed check``."""
    home = '<!doctype html><html><body><a href="/bad">b</a><a href="/ok">o</a></body></html>'
    site = SiteSpec(
        pages={
            "/": PageSpec(body=home),
            "/bad": PageSpec(status=302, redirect_to="http://127.0.0.1:99999/x"),
            "/ok": PageSpec(body="<!doctype html><p>ok</p>"),
        }
    )
    with LoopbackWeb({"s": site}) as web:
        seed = web.url("s")
        run = crawl(tmp_path, {"crawl": {"seeds": [seed], "max_depth": 1}})
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    row = run.decision(seed.rstrip("/") + "/bad")
    assert (row["reasons"], row["stage"], row["http_status"]) == (
        ["fetch.invalid-url"],
        "post-fetch",
        302,
    )
    assert run.kept_urls() == {seed, seed.rstrip("/") + "/ok"}
