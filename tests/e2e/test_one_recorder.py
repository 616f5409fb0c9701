"""End-to-end: every decision of a crawl is recorded in one place (crawler/recorder.py).

One loopback site whose pages end every way a URL can end in a crawl — kept, denied before the
fetch, denied after it (a header, a meta tag, a status), a redirect to a denied path, a redirect
chain past the limit, a link that cannot be requested. The real crawl runs in a subprocess
with a listener on heed's signals; afterwards the ``decisions/`` rows (Parquet, read back), the
Scrapy stats ``heed/kept`` and ``heed/denied/<reason>``, and the ``url_kept``/``url_denied``
signals must all tell the same story, once per URL.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

from crawler.demo.web import LoopbackWeb, PageSpec, SiteSpec

from .crawlrun import ROOT, CrawlRun, write_config

TEXT = "text/plain; charset=utf-8"

_DRIVER = textwrap.dedent(
    """
    import json, sys
    from crawler import signals as heed_signals
    from crawler.config import load_config
    from crawler.config import collect_seeds
    from crawler.runner import run_crawl

    config, out, log = sys.argv[1:4]
    seen = []

    def listen(crawler):
        def denied(url, decision, request):
            seen.append(["denied", url, [r.value for r in decision.reasons], request is None])
        def kept(url, decision, request):
            seen.append(["kept", url, [], request is None])
        crawler.signals.connect(denied, signal=heed_signals.url_denied, weak=False)
        crawler.signals.connect(kept, signal=heed_signals.url_kept, weak=False)

    cfg = load_config(config)
    summary = run_crawl(cfg, collect_seeds(cfg), out=out, on_crawler=listen)
    with open(log, "w") as f:
        json.dump({"signals": seen, "summary": summary}, f, default=str)
    """
)


def _links(*hrefs: str) -> str:
    return "".join(f'<a href="{h}">{h}</a>' for h in hrefs)


def _site() -> SiteSpec:
    loop = {f"/loop{i}": PageSpec(status=302, redirect_to=f"/loop{i + 1}") for i in range(8)}
    return SiteSpec(
        pages={
            "/robots.txt": PageSpec(body="User-agent: *\nDisallow: /private/\n", content_type=TEXT),
            "/": PageSpec(
                body="<html><body>"
                + _links(
                    "/kept",
                    "/noai-header",
                    "/noai-meta",
                    "/private/x",
                    "/to-private",
                    "/loop0",
                    "/gone",
                    "http://127.0.0.1:99999/bad-port",
                )
                + "</body></html>"
            ),
            "/kept": PageSpec(body="<html><body><p>kept</p></body></html>"),
            "/noai-header": PageSpec(
                body="<html><body><p>no</p></body></html>", headers=(("X-Robots-Tag", "noai"),)
            ),
            "/noai-meta": PageSpec(
                body='<html><head><meta name="robots" content="noai"></head><body>x</body></html>'
            ),
            "/private/x": PageSpec(body="<html><body>secret</body></html>"),
            "/private/y": PageSpec(body="<html><body>secret</body></html>"),
            "/to-private": PageSpec(status=302, redirect_to="/private/y"),
            "/gone": PageSpec(status=410, body="gone", content_type=TEXT),
            **loop,
        }
    )


def test_rows_stats_and_signals_agree_for_every_way_a_url_ends(tmp_path: Path) -> None:
    with LoopbackWeb({"s": _site()}) as web:
        out = tmp_path / "out"
        config = write_config(
            tmp_path / "run.toml",
            {"crawl": {"seeds": [web.url("s", "/")], "out": str(out), "max_depth": 1}},
        )
        log = tmp_path / "signals.json"
        proc = subprocess.run(
            [sys.executable, "-c", _DRIVER, str(config), str(out), str(log)],
            capture_output=True,
            text=True,
            timeout=180,
            cwd=ROOT,
        )
        requested = [e.path for e in web.requests("s")]
        origin = web.origin("s")
    assert proc.returncode == 0, proc.stderr
    got = json.loads(log.read_text())
    rows = CrawlRun(0, "", "", out).decisions()
    by_url = {r["url"]: r for r in rows}
    assert len(by_url) == len(rows), "a URL was recorded twice"

    def reasons(path: str) -> list[str]:
        return list(by_url[origin + path]["reasons"])

    # every way of ending is there, with the reason it should have
    assert by_url[origin + "/kept"]["allowed"] is True
    assert by_url[origin + "/"]["allowed"] is True
    assert "x-robots-tag.noai" in reasons("/noai-header")
    assert by_url[origin + "/noai-header"]["stage"] == "post-fetch"
    assert "meta-robots.noai" in reasons("/noai-meta") or "x-robots-tag.noai" in reasons(
        "/noai-meta"
    )
    assert "robots.disallow" in reasons("/private/x")
    assert "robots.disallow" in reasons("/to-private")  # its redirect target is disallowed
    assert reasons("/loop0") == ["fetch.redirect-limit"]
    assert reasons("/gone") == ["fetch.status"]
    assert by_url["http://127.0.0.1:99999/bad-port"]["reasons"] == ["fetch.invalid-url"]
    assert "/private/x" not in requested and "/private/y" not in requested

    # the signals: one per decision row, the same verdict and reasons
    signals = got["signals"]
    assert len(signals) == len(rows)
    assert {s[1] for s in signals} == set(by_url)
    for kind, url, signal_reasons, _ in signals:
        row = by_url[url]
        assert (kind == "kept") is row["allowed"], url
        assert signal_reasons == list(row["reasons"]), url
    # post-fetch denials are signalled too (they were not, before the one recorder)
    post = [s for s in signals if s[0] == "denied" and by_url[s[1]]["stage"] == "post-fetch"]
    assert {s[1] for s in post} >= {origin + "/noai-header", origin + "/gone"}

    # the stats count exactly the rows
    stats = got["summary"]["stats"]
    want = Counter(r for row in rows if not row["allowed"] for r in row["reasons"])
    counted = {k.removeprefix("heed/denied/"): v for k, v in stats.items() if "/denied/" in k}
    assert counted == dict(want)
    assert stats.get("heed/kept") == sum(1 for r in rows if r["allowed"])
    assert got["summary"]["by_reason"] == dict(want)
