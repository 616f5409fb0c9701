"""``card.html`` opened in a real headless Chromium (Debian's ``chromium`` and
``chromium-driver``, driven by selenium): it loads from ``file://`` with no console message
and no request, has its four charts with one bar per number, its totals and tables equal
``stats.as_dict()``, and hostile host names, reasons and licences show as text and never run.

The card is made from a real crawl of a loopback web (``heed crawl`` in a subprocess, then
``collect`` over its Parquet). Without chromium and chromedriver the browser tests are skipped
with the reason, except under CI (``CI`` set), where they fail: ``.ci/run`` installs both.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import html5lib
import pytest

from crawler.card.html import MAX_BARS, TOP_HOSTS, render_card_html, write_card_html
from crawler.card.stats import CardStats, collect
from crawler.demo.web import LoopbackWeb, PageSpec, SiteSpec
from crawler.errors import OutputWriteError
from filters import ConfigError
from tests.e2e.crawlrun import crawl

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
TEXT = "text/plain; charset=utf-8"
CC_BY = "https://creativecommons.org/licenses/by/4.0/"
CC0 = "https://creativecommons.org/publicdomain/zero/1.0/"


def _page(body: str, license_url: str | None = None, **headers: str) -> PageSpec:
    link = f'<link rel="license" href="{license_url}">' if license_url else ""
    return PageSpec(
        body=f"<html><head><title>t</title>{link}</head><body>{body}</body></html>",
        headers=tuple(headers.items()),
    )


def _site(i: int) -> SiteSpec:
    robots = "User-agent: *\nDisallow: /p2\n" if i == 1 else "User-agent: *\nAllow: /\n"
    links = "".join(f'<a href="/p{k}">p{k}</a> ' for k in (1, 2, 3))
    return SiteSpec(
        pages={
            "/robots.txt": PageSpec(body=robots, content_type=TEXT),
            "/": _page(links + "word " * (20 * (i + 1))),
            "/p1": _page("one", CC_BY if i == 0 else (CC0 if i == 2 else None)),
            "/p2": _page("two"),
            "/p3": _page("three", **({"X-Robots-Tag": "noai"} if i != 1 else {})),
        }
    )


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> tuple[CardStats, Path]:
    tmp = tmp_path_factory.mktemp("card-html")
    names = [f"s{i}" for i in range(3)]
    with LoopbackWeb({n: _site(i) for i, n in enumerate(names)}) as web:
        run = crawl(tmp, {"crawl": {"seeds": [web.url(n, "/") for n in names], "max_depth": 1}})
    assert run.returncode == 0, run.stderr
    stats = collect([run.out], name="loopback card")
    return stats, write_card_html(stats, tmp / "card.html")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (CHROMIUM and CHROMEDRIVER):
        missing = "chromium" if not CHROMIUM else "chromedriver"
        if os.environ.get("CI"):
            pytest.fail(f"{missing} is not installed; .ci/run installs chromium chromium-driver")
        pytest.skip(f"{missing} not installed (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # --no-sandbox: root in a container has no user namespace for Chromium's sandbox;
    # --disable-dev-shm-usage: a small /dev/shm (Docker's 64 MiB) crashes the renderer.
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # The Debian driver by path: selenium-manager would try to download one.
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _open(driver: Any, path: Path) -> list[dict[str, Any]]:
    """Load ``path``; the browser's console messages while it loaded."""
    driver.get_log("browser")  # drop what an earlier page logged
    driver.get(path.resolve().as_uri())
    assert driver.execute_script("return document.readyState") == "complete"
    return list(driver.get_log("browser"))


def _count(driver: Any, selector: str) -> int:
    return int(
        driver.execute_script("return document.querySelectorAll(arguments[0]).length", selector)
    )


def _table(driver: Any, key: str) -> dict[str, list[int]]:
    rows = driver.execute_script(
        "return [...document.querySelectorAll(`table[data-table='${arguments[0]}'] tbody tr`)]"
        ".map(tr => [tr.dataset.key, [...tr.querySelectorAll('td[data-value]')]"
        ".map(td => Number(td.dataset.value))])",
        key,
    )
    return {k: v for k, v in rows}


def test_card_loads_with_charts_and_the_numbers_of_the_json(
    browser: Any, crawled: tuple[CardStats, Path]
) -> None:
    stats, path = crawled
    d = stats.as_dict()
    assert _open(browser, path) == []  # no console message at all, errors included
    # self-contained: nothing requested besides the file itself
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0

    assert d["totals"]["kept"] > 0 and d["totals"]["excluded"] > 0
    for key, value in d["totals"].items():
        el = browser.find_element("id", "total-" + key.replace("_", "-"))
        assert el.get_attribute("data-value") == str(value), key
        assert el.text == f"{value:,}"

    reasons = {k: v["urls"] for k, v in d["exclusions"]["by_reason"].items()}
    assert {"robots.disallow", "x-robots-tag.noai"} <= set(reasons)
    hosts = {h["host"]: [h["kept"], h["excluded"]] for h in d["hosts"]}
    days = {t["date"]: [t["kept"], t["excluded"]] for t in d["timeline"]}
    expected_marks = {
        "chart-reasons": {"excluded": min(len(reasons), MAX_BARS)},
        "chart-licenses": {"kept": min(len(d["licenses"]), MAX_BARS)},
        "chart-hosts": {"kept": min(len(hosts), TOP_HOSTS), "excluded": min(len(hosts), TOP_HOSTS)},
        "chart-timeline": {"kept": len(days), "excluded": len(days)},
    }
    assert _count(browser, "figure > svg") == 4
    for chart, series in expected_marks.items():
        assert all(n > 0 for n in series.values()), chart
        for name, n in series.items():
            bars = f"#{chart} svg g[id^='{chart}-bar-{name}-'] path"
            assert _count(browser, bars) == n, (chart, name)
        marks = browser.find_element("id", chart).get_attribute("data-marks")
        assert marks == str(sum(series.values()))
        size = browser.execute_script(
            "const r = document.querySelector(`#${arguments[0]} svg`).getBoundingClientRect();"
            "return [r.width, r.height]",
            chart,
        )
        assert size[0] > 100 and size[1] > 50, (chart, size)
    # the biggest reason has the longest bar
    widths = browser.execute_script(
        "return [...document.querySelectorAll(\"#chart-reasons g[id^='chart-reasons-bar-'] path\")]"
        ".map(p => p.getBoundingClientRect().width)"
    )
    assert widths[0] == max(widths) and widths[0] > 0

    assert _table(browser, "reasons") == {k: [n] for k, n in reasons.items()}
    assert _table(browser, "licenses") == {k: [n] for k, n in d["licenses"].items()}
    assert _table(browser, "hosts") == hosts
    assert _table(browser, "timeline") == days
    assert "CC-BY-4.0" in d["licenses"] and "none" in d["licenses"]


HOSTILE_HOST = "<script>alert(1)</script>.example"
HOSTILE_IMG = '"><img src=x onerror="alert(2);document.title=\'pwned\'">'
HOSTILE_REASON = "</title></style><script>document.title='pwned'</script>"
HOSTILE_LICENSE = "$\\frac{1}{0}$ ]]><svg onload=alert(3)>"


def _hostile_stats() -> CardStats:
    hosts = [
        {"host": HOSTILE_HOST, "kept": 2, "excluded": 1, "kept_body_bytes": 10},
        {"host": HOSTILE_IMG, "kept": 0, "excluded": 3, "kept_body_bytes": 0},
        {"host": "ctl\x00\x1b[31m.example", "kept": 1, "excluded": 0, "kept_body_bytes": 5},
    ]
    return CardStats(
        name="<script>alert('name')</script>",
        sources=[],
        merge={},
        totals={"urls": 7, "kept": 3, "excluded": 4, "kept_body_bytes": 15, "kept_text_bytes": 9},
        period={"first_event_at": "<b>x</b>", "last_event_at": "2026-01-02T00:00:00+00:00"},
        exclusions={
            "by_reason": {
                HOSTILE_REASON: {"urls": 3, "share": 0.75},
                "robots.disallow": {"urls": 1, "share": 0.25},
            }
        },
        licenses={HOSTILE_LICENSE: 2, "none": 1},
        languages=None,
        attribution={},
        redaction={},
        hosts=hosts,
        domains=[],
        top_domains={},
        timeline=[{"date": "<i>2026-01-01</i>", "kept": 3, "excluded": 4}],
    )


def test_hostile_strings_show_as_text_and_never_run(browser: Any, tmp_path: Path) -> None:
    from selenium.common.exceptions import NoAlertPresentException

    path = write_card_html(_hostile_stats(), tmp_path / "card.html")
    assert _open(browser, path) == []
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018 - raises when no alert is open
    assert browser.title == "<script>alert('name')</script>: dataset card"
    assert _count(browser, "script") == 0
    assert _count(browser, "img, [onerror], [onload], b, i") == 0
    assert _count(browser, "svg svg") == 0  # the licence's <svg onload> stayed text
    tables = {k: v for t in ("hosts", "reasons", "licenses") for k, v in _table(browser, t).items()}
    for text in (HOSTILE_HOST, HOSTILE_IMG, HOSTILE_REASON, HOSTILE_LICENSE):
        assert text in tables
    assert "ctl\\x00\\x1b[31m.example" in tables  # control characters made visible
    assert browser.find_element("id", "card-name").text == "<script>alert('name')</script>"
    labels = browser.execute_script(
        "return [...document.querySelectorAll('svg text')].map(t => t.textContent)"
    )
    assert HOSTILE_HOST in labels and HOSTILE_LICENSE in labels  # mathtext off: $ stays
    assert any(label.startswith('"><img src=x onerror=') for label in labels)  # cut at 48


SVG = "{http://www.w3.org/2000/svg}"


def _tree(text: str) -> Any:
    return html5lib.parse(text, treebuilder="etree", namespaceHTMLElements=False)


def test_empty_charts_say_so(tmp_path: Path) -> None:
    d = _hostile_stats().as_dict()
    d.update(exclusions={"by_reason": {}}, licenses={}, hosts=[], timeline=[])
    root = _tree(render_card_html(d))
    for chart in ("chart-reasons", "chart-licenses", "chart-hosts", "chart-timeline"):
        fig = root.find(f".//figure[@id='{chart}']")
        assert fig.get("data-marks") == "0" and fig.find(f".//{SVG}svg") is None
        assert "Nothing to draw" in "".join(fig.itertext())


def test_many_reasons_draw_the_most_frequent_and_table_all() -> None:
    d = _hostile_stats().as_dict()
    d["exclusions"]["by_reason"] = {f"r{i:03}": {"urls": i + 1, "share": 0} for i in range(45)}
    root = _tree(render_card_html(d))
    fig = root.find(".//figure[@id='chart-reasons']")
    assert fig.get("data-marks") == str(MAX_BARS)
    assert fig.find(f"{SVG}svg") is not None
    drawn = [g for g in fig.iter(f"{SVG}g") if (g.get("id") or "").startswith("chart-reasons-bar-")]
    assert len(drawn) == MAX_BARS
    rows = root.findall(".//table[@data-table='reasons']/tbody/tr")
    assert len(rows) == 45 and rows[0].get("data-key") == "r044"


def test_svg_ids_are_unique_across_charts(crawled: tuple[CardStats, Path]) -> None:
    root = _tree(crawled[1].read_text(encoding="utf-8"))
    ids = [el.get("id") for el in root.iter() if el.get("id")]
    assert len(ids) == len(set(ids))


def test_a_count_that_is_not_an_integer_is_an_error() -> None:
    d = _hostile_stats().as_dict()
    d["licenses"] = {"CC0-1.0": "many"}
    with pytest.raises(ConfigError, match="expected a count"):
        render_card_html(d)


def test_an_unwritable_path_is_an_output_error(tmp_path: Path) -> None:
    with pytest.raises(OutputWriteError, match="cannot write"):
        write_card_html(_hostile_stats(), tmp_path / "missing" / "card.html")
    assert not (tmp_path / "missing").exists()


def test_the_same_stats_give_the_same_bytes(crawled: tuple[CardStats, Path]) -> None:
    stats, path = crawled
    assert render_card_html(stats.as_dict()).encode("utf-8") == path.read_bytes()
