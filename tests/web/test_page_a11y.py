"""The site-owner page on a phone and for assistive technology, in a real headless Chromium:
no sideways scrolling at 390 px, every field labelled, the language and headings declared,
text contrast at least WCAG AA (4.5:1), and no console message (a CSP violation logs one)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crawler.demo.web import LoopbackWeb, PageSpec, SiteSpec
from crawler.registry.store import RegistryStore

from .pageserver import chromium, need_browser, screenshot, serve_page

_SITE = SiteSpec(
    pages={
        "/robots.txt": PageSpec(
            body="User-agent: *\nAllow: /\n\nUser-agent: GPTBot\nDisallow: /a-rather-long-path/\n",
            content_type="text/plain; charset=utf-8",
        ),
        "/a-rather-long-path/with-a-long-page-name-that-must-wrap-on-a-phone": PageSpec(
            body="<html><body><p>long</p></body></html>"
        ),
    }
)
_PATH = "/a-rather-long-path/with-a-long-page-name-that-must-wrap-on-a-phone"

#: [selector, colour, background] for each kind of text on the page (JS, run in the page).
_COLOURS = """
const bg = (el) => {
  for (; el; el = el.parentElement) {
    const c = getComputedStyle(el).backgroundColor;
    if (c && c !== 'rgba(0, 0, 0, 0)' && c !== 'transparent') return c;
  }
  return 'rgb(255, 255, 255)';
};
return arguments[0].flatMap((sel) => [...document.querySelectorAll(sel)].map(
  (el) => [sel, getComputedStyle(el).color, bg(el)]));
"""
_TEXT = [
    "header p", "section > p", "label", "legend", "button", "dt", "dd", "th", "td",
    "code", "#advice p", "footer p", "input[type=url]",
]  # fmt: skip


def _rgb(text: str) -> tuple[float, float, float]:
    parts = text[text.index("(") + 1 : text.index(")")].split(",")
    r, g, b = (float(p) for p in parts[:3])
    return r, g, b


def _luminance(rgb: tuple[float, float, float]) -> float:
    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(fg: str, bg: str) -> float:
    """WCAG 2 contrast ratio of two CSS ``rgb()`` colours."""
    a, b = sorted((_luminance(_rgb(fg)), _luminance(_rgb(bg))), reverse=True)
    return (a + 0.05) / (b + 0.05)


def test_contrast_formula() -> None:
    assert round(contrast("rgb(0, 0, 0)", "rgb(255, 255, 255)"), 1) == 21.0
    assert round(contrast("rgb(118, 118, 118)", "rgb(255, 255, 255)"), 1) == 4.5


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RegistryStore]:
    need_browser()
    with RegistryStore(tmp_path / "registry.db") as s:
        yield s


def _check(driver: Any, base: str, url: str) -> None:
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.wait import WebDriverWait

    driver.get(base + "/")
    box = driver.find_element("id", "check-url")
    box.send_keys(url)
    old = driver.find_element("tag name", "html")
    box.find_element("xpath", "./ancestor::form//button").click()
    WebDriverWait(driver, 60).until(expected_conditions.staleness_of(old))
    driver.find_element("id", "verdict")


def test_readable_on_a_phone(tmp_path: Path, store: RegistryStore) -> None:
    with (
        LoopbackWeb({"site": _SITE}) as web,
        serve_page(store) as base,
        chromium(tmp_path / "profile", phone=True) as driver,
    ):
        driver.get_log("browser")
        _check(driver, base, web.url("site", _PATH))
        width = driver.execute_script("return window.innerWidth")
        scroll = driver.execute_script("return document.documentElement.scrollWidth")
        font = driver.execute_script("return parseFloat(getComputedStyle(document.body).fontSize)")
        driver.save_screenshot(str(screenshot_path("phone-check")))
        console = driver.get_log("browser")
    assert width == 390  # the viewport meta tag: the layout is as wide as the screen
    assert scroll <= width, f"the page scrolls sideways: {scroll} px in a {width} px screen"
    assert font >= 16
    assert console == []


def screenshot_path(name: str) -> Path:
    from .pageserver import ARTIFACTS

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    print(f"screenshot: {path}")
    return path


def test_labels_headings_language_and_contrast(tmp_path: Path, store: RegistryStore) -> None:
    with (
        LoopbackWeb({"site": _SITE}) as web,
        serve_page(store) as base,
        chromium(tmp_path / "profile") as driver,
    ):
        driver.get_log("browser")
        _check(driver, base, web.url("site", _PATH))
        unlabelled = driver.execute_script(
            "return [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]"
            ".filter((el) => el.labels.length === 0).map((el) => el.name)"
        )
        headings = driver.execute_script(
            "return [...document.querySelectorAll('h1, h2, h3')].map((h) => h.tagName)"
        )
        lang = driver.execute_script("return document.documentElement.lang")
        colours = driver.execute_script(_COLOURS, _TEXT)
        screenshot(driver, "a11y-check")
        console = driver.get_log("browser")
    assert unlabelled == []
    assert lang == "en"
    assert headings[0] == "H1" and headings.count("H1") == 1 and headings.count("H2") == 3
    assert {sel for sel, _, _ in colours} == set(_TEXT)  # every kind of text was measured
    low = [(sel, fg, bg) for sel, fg, bg in colours if contrast(fg, bg) < 4.5]
    assert low == []
    assert console == []  # a blocked script, style or image would log a CSP violation
