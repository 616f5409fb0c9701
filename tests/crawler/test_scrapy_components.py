"""The Scrapy components a heed crawl runs, as Scrapy itself merges them from the settings."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from scrapy.settings import Settings
from scrapy.utils.conf import build_component_list

from crawler.config import parse_config
from crawler.context import RunContext
from crawler.settings import scrapy_settings


def _components(tmp_path: Path, name: str) -> list[str]:
    cfg = parse_config({"identity": {"contact_url": "https://example.org/bot"}})
    ctx = RunContext(cfg, tmp_path / "out")
    try:
        settings = Settings(scrapy_settings(ctx, progress=False))
        return [str(c) for c in build_component_list(settings.getwithbase(name))]
    finally:
        ctx.writer.close(ctx.run_info())
        ctx.frontier.close()
        asyncio.run(ctx.close_clients())


def test_the_consent_gate_replaces_scrapys_robots_and_redirects(tmp_path: Path) -> None:
    middlewares = _components(tmp_path, "DOWNLOADER_MIDDLEWARES")
    # The gate comes right after Scrapy's offsite filter, before every other middleware.
    assert middlewares[:2] == [
        "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware",
        "crawler.middlewares.ConsentMiddleware",
    ]
    assert "crawler.middlewares.BackoffMiddleware" in middlewares
    for gone in ("robotstxt.", "redirect.", "cookies.", "httpcache."):
        assert not any(gone in m for m in middlewares), gone
    # Scrapy's others still run, in Scrapy's order (timeouts, retries, compression, stats).
    kept = [m.rsplit(".", 1)[1] for m in middlewares if m.startswith("scrapy.")]
    assert kept[:2] == ["OffsiteMiddleware", "HttpAuthMiddleware"]
    assert {"DownloadTimeoutMiddleware", "RetryMiddleware", "HttpCompressionMiddleware"} <= set(
        kept
    )


def test_no_telnet_remote_control_or_feed_export(tmp_path: Path) -> None:
    extensions = _components(tmp_path, "EXTENSIONS")
    assert "crawler.progress.Progress" in extensions
    assert "scrapy.extensions.corestats.CoreStats" in extensions
    for gone in ("telnet", "remote_control", "feedexport", "memdebug"):
        assert not any(gone in e for e in extensions), gone


def test_a_crawl_process_never_imports_the_components_left_out(tmp_path: Path) -> None:
    code = (
        "import sys, asyncio\n"
        "from pathlib import Path\n"
        "from scrapy.utils.reactor import install_reactor\n"
        "install_reactor('twisted.internet.asyncioreactor.AsyncioSelectorReactor')\n"
        "from scrapy.core.downloader.middleware import DownloaderMiddlewareManager\n"
        "from scrapy.crawler import Crawler\n"
        "from scrapy.settings import Settings\n"
        "from crawler.config import parse_config\n"
        "from crawler.context import RunContext\n"
        "from crawler.settings import scrapy_settings\n"
        "from crawler.spider import HeedSpider\n"
        "from scrapy.extension import ExtensionManager\n"
        "cfg = parse_config({'identity': {'contact_url': 'https://example.org/bot'}})\n"
        f"ctx = RunContext(cfg, Path({str(tmp_path / 'out')!r}))\n"
        "crawler = Crawler(HeedSpider, Settings(scrapy_settings(ctx, progress=False)))\n"
        "crawler._apply_settings()\n"
        "assert ExtensionManager.from_crawler(crawler).middlewares\n"
        "assert DownloaderMiddlewareManager.from_crawler(crawler).middlewares\n"
        "ctx.writer.close(ctx.run_info()); ctx.frontier.close()\n"
        "asyncio.run(ctx.close_clients())\n"
        "print(sorted(m for m in ('aiohttp', 'tldextract', 'scrapy.extensions.telnet')"
        " if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stderr[-2000:]
