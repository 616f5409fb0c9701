"""Writes docs/img/site-owner-page.png: the site-owner page after checking a loopback page.

Run from the project root: ``python -m tests.web.screenshot_page`` (needs chromium and
chromedriver). The page checked is excluded for AI training by robots.txt, so the picture
shows the verdict, the signals and the advice.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from crawler.demo.web import LoopbackWeb, PageSpec, SiteSpec
from crawler.registry.store import RegistryStore

from .pageserver import chromium, serve_page

OUT = Path(__file__).resolve().parents[2] / "docs" / "img" / "site-owner-page.png"
_SITE = SiteSpec(
    pages={
        "/robots.txt": PageSpec(
            body="User-agent: *\nAllow: /\n\nUser-agent: GPTBot\nDisallow: /recipes/\n",
            content_type="text/plain; charset=utf-8",
        ),
        "/recipes/soup": PageSpec(body="<html><body><p>Soup.</p></body></html>"),
    }
)


def main() -> int:
    with (
        tempfile.TemporaryDirectory() as tmp,
        RegistryStore(Path(tmp) / "registry.db") as store,
        LoopbackWeb({"site": _SITE}) as web,
        serve_page(store) as base,
        chromium(Path(tmp) / "profile", width=900) as driver,
    ):
        driver.get(base + "/")
        box = driver.find_element("id", "check-url")
        box.send_keys(web.url("site", "/recipes/soup"))
        box.find_element("xpath", "./ancestor::form//button").click()
        driver.find_element("id", "verdict")
        driver.set_window_size(900, 1500)
        OUT.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(OUT))
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
