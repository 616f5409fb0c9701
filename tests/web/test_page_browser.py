"""The site-owner page in a real headless Chromium (Debian's chromium and chromedriver, driven
by selenium) against real loopback sites, the real ``heed check`` and the real ``heed crawl``.

Screenshots go to tests/web/artifacts/ (git-ignored); each test prints the paths it wrote.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from crawler.check.cli import DEFAULT_CONTACT
from crawler.demo.web import LoopbackWeb, PageSpec, SiteSpec
from crawler.registry._api import ServiceConfig
from crawler.registry.store import RegistryStore
from crawler.registry.web import PageOptions
from tests.e2e.crawlrun import crawl, heed, write_config

from .pageserver import chromium, need_browser, screenshot, serve_page

TEXT = "text/plain; charset=utf-8"
HTML = "<html><head><title>{t}</title></head><body><p>{t}</p>{links}</body></html>"


def _html(title: str, links: str = "") -> str:
    return HTML.format(t=title, links=links)


def _blog() -> SiteSpec:
    return SiteSpec(
        pages={
            "/robots.txt": PageSpec(
                body="User-agent: *\nAllow: /\n\nUser-agent: GPTBot\nDisallow: /private/\n",
                content_type=TEXT,
            ),
            "/": _page("home", '<a href="/post">post</a>'),
            "/post": _page("a post"),
            "/private/diary": _page("a diary"),
            "/noai": PageSpec(body=_html("no ai"), headers=(("X-Robots-Tag", "noai"),)),
        }
    )


def _page(title: str, links: str = "") -> PageSpec:
    return PageSpec(body=_html(title, links))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RegistryStore]:
    need_browser()
    with RegistryStore(tmp_path / "registry.db") as s:
        yield s


def _by_id(driver: Any, element_id: str) -> Any:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, element_id)


def _texts(driver: Any, selector: str) -> list[str]:
    from selenium.webdriver.common.by import By

    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, selector)]


def _submit(driver: Any, field: str, value: str) -> None:
    """Fill ``field``, click its form's button and wait for the answer page."""

    def fill() -> Any:
        box = _by_id(driver, field)
        box.clear()
        box.send_keys(value)
        return box.find_element("xpath", "./ancestor::form//button[@type='submit']")

    _click(driver, fill)


def _click(driver: Any, find: Callable[[], Any]) -> None:
    """Click the button ``find()`` returns (a real click: WebElement.submit() runs a script)
    once, and wait until the answer page has replaced this one.

    Chromium now and then answers a click on a node of a document it is still settling with
    an error ("does not belong to the document"), and sometimes the form was sent all the
    same. The click is made again, from ``find()``, only when the form provably was not sent:
    the old page is still there and its capturing ``submit`` listener never ran. Sending it
    twice would post a second form, with whatever cookie the first answer set.
    """
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException

    for attempt in range(3):
        button = find()
        old = driver.find_element("tag name", "html")
        listening = bool(driver.execute_script(_WATCH_SUBMIT))
        try:
            button.click()
        except (StaleElementReferenceException, WebDriverException) as e:
            stale = isinstance(e, StaleElementReferenceException)
            if not (stale or "does not belong to the document" in str(e)):
                raise  # anything else is a failure of the test
            if not _was_sent(driver, old, listening):
                if attempt == 2:
                    raise
                continue
        _wait_replaced(driver, old)
        return


#: Marks the page when any of its forms is submitted (a capturing listener: it runs first),
#: and answers whether the page runs listeners at all (not with JavaScript off).
_WATCH_SUBMIT = """
window.__heedSent = false;
document.addEventListener('submit', function () { window.__heedSent = true; }, true);
document.dispatchEvent(new Event('submit'));
var listening = window.__heedSent === true;
window.__heedSent = false;
return listening;
"""


def _was_sent(driver: Any, old: Any, listening: bool) -> bool:
    """Whether the form of the page whose root is ``old`` was sent: the page is gone, or its
    submit listener ran (the answer is on its way). Without listeners (JavaScript off), only
    the page being replaced within 30 s says so."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.wait import WebDriverWait

    if expected_conditions.staleness_of(old)(driver):
        return True
    if listening:
        return bool(driver.execute_script("return window.__heedSent === true;"))
    try:
        WebDriverWait(driver, 30).until(expected_conditions.staleness_of(old))
    except TimeoutException:
        return False
    return True


def _wait_replaced(driver: Any, old: Any) -> None:
    """Wait until the answer page has replaced the page whose root is ``old``."""
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.wait import WebDriverWait

    WebDriverWait(driver, 60).until(expected_conditions.staleness_of(old))
    WebDriverWait(driver, 60).until(
        lambda d: d.execute_script("return document.readyState") == "complete"
    )


def _check_in_browser(driver: Any, base: str, url: str) -> dict[str, Any]:
    """Check ``url`` with the page's form; what the page shows."""
    driver.get(base + "/")
    _submit(driver, "check-url", url)
    rows = []
    from selenium.webdriver.common.by import By

    for row in driver.find_elements(By.CSS_SELECTOR, "#signals tbody tr"):
        cells = [c.text for c in row.find_elements(By.TAG_NAME, "td")]
        rows.append((cells[0], cells[1], cells[2]))
    return {
        "verdict": _by_id(driver, "verdict").text,
        "reasons": _texts(driver, "#reasons li code"),
        "signals": rows,
        "advice": _texts(driver, "#advice > li > p:first-child"),
    }


def _heed_check(tmp: Path, store: RegistryStore, url: str) -> dict[str, Any]:
    """``heed check --json --explain`` of ``url`` with the page's registry (a real process)."""
    config = write_config(
        tmp / "check.toml",
        {
            "identity": {"contact_url": DEFAULT_CONTACT},
            "registry": {"url": f"sqlite:///{Path(store.path).resolve()}"},
        },
    )
    proc = heed("check", "--config", str(config), "--json", "--explain", url)
    assert proc.returncode in (0, 1), proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout)["results"][0]
    return result


def _shown(result: dict[str, Any]) -> dict[str, Any]:
    """What the page shows of a ``heed check --json`` result."""
    advice = []
    for a in result["explain"]["advice"]:
        advice.append(f"{a['reason']}: {a['text']}" if a["reason"] else a["text"])
    return {
        "verdict": result["verdict"],
        "reasons": result["reasons"],
        "signals": [
            (s["signal"], s["verdict"], ", ".join(s["reasons"])) for s in result["signals"]
        ],
        "advice": advice,
    }


def test_check_shows_what_heed_check_says(tmp_path: Path, store: RegistryStore) -> None:
    with (
        LoopbackWeb({"blog": _blog()}) as web,
        serve_page(store) as base,
        chromium(tmp_path / "profile") as driver,
    ):
        seen = {}
        for path in ("/post", "/private/diary", "/noai"):
            url = web.url("blog", path)
            shown = _check_in_browser(driver, base, url)
            screenshot(driver, f"check{path.replace('/', '-')}")
            assert shown == _shown(_heed_check(tmp_path, store, url)), path
            seen[path] = shown
    assert seen["/post"]["verdict"] == "kept"
    assert seen["/private/diary"]["verdict"] == "excluded"
    assert "robots.ai-agent" in seen["/private/diary"]["reasons"]
    assert "x-robots-tag.noai" in seen["/noai"]["reasons"]
    assert seen["/post"]["advice"], "a kept page gets the opt-out advice"


def _owner_site(proof: str | None = None) -> SiteSpec:
    pages = {
        "/robots.txt": PageSpec(body="User-agent: *\nAllow: /\n", content_type=TEXT),
        "/": _page("shop", '<a href="/item">item</a>'),
        "/item": _page("an item"),
    }
    if proof is not None:
        pages["/.well-known/heed-registry.txt"] = PageSpec(
            body=f"# other lines may be here\n{proof}\n", content_type=TEXT
        )
    return SiteSpec(pages=pages)


def test_opt_out_flow_ends_in_an_entry_a_crawl_obeys(tmp_path: Path, store: RegistryStore) -> None:
    with LoopbackWeb({"shop": _owner_site()}) as web, serve_page(store) as base:
        origin, item = web.origin("shop"), web.url("shop", "/item")
        with chromium(tmp_path / "profile") as driver:
            driver.get(base + "/")
            _submit(driver, "origin", origin)
            line = _by_id(driver, "challenge-line").text
            assert line.startswith("heed-registry-verification=")
            assert _by_id(driver, "well-known").text == origin + "/.well-known/heed-registry.txt"
            screenshot(driver, "opt-out-challenge")

            _click(driver, lambda: _by_id(driver, "verify"))  # not published yet: refused, and why
            failure = _by_id(driver, "verify-error").text
            assert "answered 404" in failure, failure
            assert _by_id(driver, "challenge-line").text == line  # still there to publish
            screenshot(driver, "opt-out-verify-failed")
            assert store.count() == 0

            web.replace_site("shop", _owner_site(line))
            _click(driver, lambda: _by_id(driver, "verify"))  # "Try again"
            entry_id = _by_id(driver, "entry-id").text
            screenshot(driver, "opt-out-verified")

            _submit(driver, "lookup-url", web.url("shop", "/item"))
            listed = [
                e.get_attribute("data-entry-id")
                for e in driver.find_elements("css selector", "#lookup-result tr.entry")
            ]
            assert listed == [entry_id]
            screenshot(driver, "registered")

            checked = _check_in_browser(driver, base, item)  # the check reads the same registry
            assert checked["verdict"] == "excluded"
            assert "registry.opt-out" in checked["reasons"]

        entry = store.get(entry_id)
        assert entry is not None and entry.verified is True
        assert entry.subject == origin + "/" and str(entry.choice) == "opt-out"

        run = crawl(
            tmp_path / "crawl",
            {
                "crawl": {"seeds": [web.url("shop", "/item")], "max_depth": 0},
                "registry": {"url": f"sqlite:///{Path(store.path).resolve()}"},
            },
        )
    assert run.returncode == 0, run.stderr
    decision = run.decision(item)
    assert decision["allowed"] is False
    assert "registry.opt-out" in decision["reasons"]
    assert run.kept_urls() == set()


def test_page_works_without_javascript(tmp_path: Path, store: RegistryStore) -> None:
    with (
        LoopbackWeb({"blog": _blog()}) as web,
        serve_page(store) as base,
        chromium(tmp_path / "profile", javascript=False) as driver,
    ):
        # The browser really runs no script: a <noscript> element is rendered.
        driver.get("data:text/html,<noscript><p id=off>scripts are off</p></noscript>")
        assert _by_id(driver, "off").text == "scripts are off"
        driver.get(base + "/")
        assert driver.find_elements("css selector", "script") == []
        _submit(driver, "check-url", web.url("blog", "/private/diary"))
        assert _by_id(driver, "verdict").text == "excluded"
        driver.get(base + "/")
        _submit(driver, "origin", web.origin("blog"))
        assert _by_id(driver, "challenge-line").text.startswith("heed-registry-verification=")
        screenshot(driver, "no-javascript")


def test_refused_form_says_why_in_the_browser(tmp_path: Path, store: RegistryStore) -> None:
    with (
        LoopbackWeb({"blog": _blog()}) as web,
        serve_page(store) as base,
        chromium(tmp_path / "profile") as driver,
    ):
        driver.get(base + "/")
        driver.delete_cookie("heed_csrf")  # as a cross-site POST would arrive: no cookie
        assert driver.get_cookie("heed_csrf") is None
        _submit(driver, "check-url", web.url("blog", "/post"))
        error = _by_id(driver, "form-error").text
        assert "refused" in error and "Nothing was done" in error
        assert driver.find_elements("id", "check-result") == []
        screenshot(driver, "csrf-refused")
    assert [r for r in web.requests() if r.path == "/post"] == []


def test_private_address_refused_in_the_browser(tmp_path: Path, store: RegistryStore) -> None:
    options = PageOptions(allow_private=False)
    with (
        LoopbackWeb({"blog": _blog()}) as web,
        serve_page(store, config=ServiceConfig(allow_private=False), options=options) as base,
    ):
        port = web.url("blog", "/").split(":")[2].split("/")[0]
        url = f"http://localhost:{port}/post"  # a name that resolves to a loopback address
        with chromium(tmp_path / "profile") as driver:
            driver.get(base + "/")
            _submit(driver, "check-url", url)
            assert "only checks public sites" in _by_id(driver, "check-error").text
            screenshot(driver, "ssrf-refused")
    assert web.requests() == []
