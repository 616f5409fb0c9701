"""Fixtures for ``heed check`` tests: a loopback web with one origin per signal case, configs,
and a runner for the real command in a subprocess (``python -m crawler.cli check``)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from crawler.demo.web import LoopbackWeb, PageSpec, SiteSpec

REPO = Path(__file__).resolve().parents[2]

TEXT = "text/plain; charset=utf-8"
CC_BY = "https://creativecommons.org/licenses/by/4.0/"
HTML_OK = f'<html><head><link rel="license" href="{CC_BY}"></head><body>fine</body></html>'


def html(head: str = "", body: str = "page") -> str:
    return f"<!doctype html><html><head>{head}</head><body>{body}</body></html>"


def robots(body: str, **kw: Any) -> PageSpec:
    return PageSpec(body=body, content_type=TEXT, **kw)


RSL_DENY = (
    '<rsl xmlns="https://rslstandard.org/rsl"><content url="/">'
    '<license><prohibits type="usage">ai-train</prohibits></license></content></rsl>'
)
RSL_PAID = (
    '<rsl xmlns="https://rslstandard.org/rsl"><content url="/"><license>'
    '<permits type="usage">ai-train</permits>'
    '<payment type="purchase"><amount currency="USD">10</amount></payment>'
    "</license></content></rsl>"
)

MAIN_ROBOTS = """\
User-agent: *
Disallow: /private
Allow: /private/open
Content-Usage: /cu train-ai=n
Content-Signal: /cs ai-train=no
Content-Usage: /broken train-ai=?=
Crawl-delay: 0.1

User-agent: GPTBot
Disallow: /gpt
"""


def _loop(prefix: str, count: int, end: str) -> dict[str, PageSpec]:
    pages = {f"/{prefix}{i}": PageSpec(redirect_to=f"/{prefix}{i + 1}") for i in range(count)}
    pages[f"/{prefix}{count}"] = PageSpec(body=end)
    return pages


def build_sites() -> dict[str, SiteSpec]:
    """One origin per site-level case; page-level cases live on ``main``."""
    main = {
        "/robots.txt": robots(MAIN_ROBOTS),
        "/ok": PageSpec(body=HTML_OK),
        "/plain": PageSpec(body="plain text", content_type=TEXT),
        "/private/x": PageSpec(body=html()),
        "/private/open": PageSpec(body=html()),
        "/gpt": PageSpec(body=html()),
        "/cu/x": PageSpec(body=html()),
        "/cs/x": PageSpec(body=html()),
        "/broken/x": PageSpec(body=html()),
        "/xrt": PageSpec(body=html(), headers=(("X-Robots-Tag", "noai"),)),
        "/xrt-other": PageSpec(body=html(), headers=(("X-Robots-Tag", "otherbot: noai"),)),
        "/xrt-token": PageSpec(
            body=html(),
            headers=(("X-Robots-Tag", "googlebot: noindex"), ("X-Robots-Tag", "heedbot: noml")),
        ),
        "/noindex": PageSpec(body=html(), headers=(("X-Robots-Tag", "noindex"),)),
        "/meta": PageSpec(body=html('<meta name="robots" content="noai, noimageai">')),
        "/meta-token": PageSpec(body=html('<meta name="GPTBot" content="noml">')),
        "/hdr-cu": PageSpec(body=html(), headers=(("Content-Usage", "train-ai=n"),)),
        "/hdr-cu-yes": PageSpec(body=html(), headers=(("Content-Usage", "train-ai=y"),)),
        "/hdr-cs": PageSpec(body=html(), headers=(("Content-Signal", "ai-train=no"),)),
        "/tdm-hdr": PageSpec(body=html(), headers=(("tdm-reservation", "1"),)),
        "/tdm-meta": PageSpec(body=html('<meta name="tdm-reservation" content="1">')),
        "/rsl-link": PageSpec(
            body=html(),
            headers=(
                ("Link", '<{{site:lic}}/deny.xml>; rel="license"; type="application/rsl+xml"'),
            ),
        ),
        "/gone": PageSpec(status=404, body="gone", content_type=TEXT),
        "/busy": PageSpec(
            status=503, body="busy", content_type=TEXT, headers=(("Retry-After", "0"),)
        ),
        "/big": PageSpec(body=b"<p>x</p>", repeat_body_bytes=200_000),
        "/bomb": PageSpec(body=b"\0", repeat_body_bytes=5_000_000, gzip=True),
        "/pdf": PageSpec(body=b"%PDF-1.4", content_type="application/pdf"),
        "/slow": PageSpec(body=html(), delay=3.0),
        "/drop": PageSpec(close_connection=True),
        "/to-ok": PageSpec(status=301, redirect_to="/ok"),
        "/to-other": PageSpec(redirect_to="@other/blocked"),
        "/to-ftp": PageSpec(status=302, headers=(("Location", "ftp://example.org/x"),)),
        **_loop("five", 5, HTML_OK),
        **_loop("six", 6, HTML_OK),
    }
    page = {"/page": PageSpec(body=html())}
    return {
        "main": SiteSpec(main),
        "other": SiteSpec(
            {
                "/robots.txt": robots("User-agent: *\nDisallow: /blocked\n"),
                "/blocked": PageSpec(body=html()),
            }
        ),
        "lic": SiteSpec(
            {
                "/deny.xml": PageSpec(body=RSL_DENY, content_type="application/rsl+xml"),
                "/paid.xml": PageSpec(body=RSL_PAID, content_type="application/rsl+xml"),
                "/bad.xml": PageSpec(body="<rsl><content", content_type="application/rsl+xml"),
                "/down.xml": PageSpec(status=500, body="down", content_type=TEXT),
            }
        ),
        "r404": SiteSpec(page),
        "r500": SiteSpec({**page, "/robots.txt": robots("oops", status=500)}),
        "r429": SiteSpec({**page, "/robots.txt": robots("slow down", status=429)}),
        "rslow": SiteSpec(
            {**page, "/robots.txt": robots("User-agent: *\nAllow: /\n")}, robots_delay=3.0
        ),
        "rdrop": SiteSpec({**page, "/robots.txt": PageSpec(close_connection=True)}),
        "rredir": SiteSpec(
            {
                **page,
                "/robots.txt": PageSpec(redirect_to="/r0"),
                **_loop("r", 5, "User-agent: *\nAllow: /\n"),
            }
        ),
        "delay": SiteSpec({**page, "/robots.txt": robots("User-agent: *\nCrawl-delay: 60\n")}),
        "aitxt": SiteSpec(
            {
                **page,
                "/art/x": PageSpec(body=html()),
                "/ai.txt": robots("User-agent: *\nDisallow: /Art\n"),
            }
        ),
        "ai503": SiteSpec({**page, "/ai.txt": robots("busy", status=503)}),
        "aihtml": SiteSpec({**page, "/ai.txt": PageSpec(body=html("", "Disallow: /"))}),
        "tdm": SiteSpec(
            {
                **page,
                "/res/x": PageSpec(body=html()),
                "/free/x": PageSpec(body=html('<meta name="tdm-reservation" content="1">')),
                "/.well-known/tdmrep.json": PageSpec(
                    body='[{"location": "/res", "tdm-reservation": 1, '
                    '"tdm-policy": "https://example.org/tdm-policy.json"}, '
                    '{"location": "/", "tdm-reservation": 0}]',
                    content_type="application/json",
                ),
            }
        ),
        "tdmbad": SiteSpec(
            {
                **page,
                "/.well-known/tdmrep.json": PageSpec(
                    body='[{"location": "/", ', content_type="application/json"
                ),
            }
        ),
        "tdm500": SiteSpec({**page, "/.well-known/tdmrep.json": robots("x", status=500)}),
        "rsl": SiteSpec({**page, "/robots.txt": robots("License: {{site:lic}}/deny.xml\n")}),
        "rslpaid": SiteSpec({**page, "/robots.txt": robots("License: {{site:lic}}/paid.xml\n")}),
        "rslbad": SiteSpec({**page, "/robots.txt": robots("License: {{site:lic}}/bad.xml\n")}),
        "rsldown": SiteSpec({**page, "/robots.txt": robots("License: {{site:lic}}/down.xml\n")}),
    }


@pytest.fixture(scope="session")
def web() -> Iterator[LoopbackWeb]:
    with LoopbackWeb(build_sites()) as w:
        yield w


def write_config(path: Path, **sections: Mapping[str, Any]) -> Path:
    """A TOML config for loopback tests; ``sections`` override or add keys."""
    base: dict[str, dict[str, Any]] = {
        "identity": {"contact_url": "https://example.org/heed-tests"},
        "limits": {"max_page_bytes": 65536, "download_timeout": 1.0, "max_crawl_delay": 30.0},
        "network": {"allow_private_networks": True, "concurrency": 16},
    }
    for name, values in sections.items():
        base.setdefault(name, {}).update(values)
    lines: list[str] = []
    for name, values in base.items():
        lines.append(f"[{name}]")
        lines.extend(f"{k} = {json.dumps(v)}" for k, v in values.items())
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_config(tmp_path_factory.mktemp("cfg") / "check.toml")


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def data(self) -> dict[str, Any]:
        return json.loads(self.stdout)  # type: ignore[no-any-return]

    def by_url(self) -> dict[str, dict[str, Any]]:
        return {r["url"]: r for r in self.data["results"]}


def heed(*args: str | Path, timeout: float = 180) -> Run:
    """Run ``heed`` (the real command line) in a subprocess from the repository root."""
    done = subprocess.run(
        [sys.executable, "-m", "crawler.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr)


def signal(result: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The one evidence entry of signal ``name`` that has a deny/error, else the last one."""
    found = [s for s in result["signals"] if s["signal"] == name]
    assert found, f"no {name} signal in {[s['signal'] for s in result['signals']]}"
    deciding = [s for s in found if s["verdict"] in ("deny", "error")]
    return (deciding or found)[-1]
