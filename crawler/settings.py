"""Scrapy settings for a heed crawl, derived from a validated ``RunConfig``.

``HEED_ENABLED`` comes first, the other ``HEED_*`` settings follow alphabetically. Scrapy's own
``RobotsTxtMiddleware`` and ``RedirectMiddleware`` are disabled: heed's ``ConsentMiddleware``
does both, fail-closed (README "Design notes"). AutoThrottle is on by default.

Connections go through ``crawler/netguard_twisted.py`` (docs/network.md): its resolver hands
Twisted checked addresses only (``TWISTED_DNS_RESOLVER``; Scrapy's DNS cache is off, the guard
resolves every new connection), and its download handler takes the host's politeness turn
before each request (``DOWNLOAD_HANDLERS``). heed requests http and https only; the other
schemes' handlers are switched off.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from filters.engine.gate import RETRY_STATUSES, RETRY_TIMES

if TYPE_CHECKING:
    from .context import RunContext

__all__ = ["HEED_DEFAULTS", "scrapy_settings"]

#: heed's own settings and their defaults.
HEED_DEFAULTS: dict[str, Any] = {
    # False switches every consent check off; it is logged loudly and never the default.
    "HEED_ENABLED": True,
    # The RunContext of this crawl (config, clients, output); set by crawler.runner.
    "HEED_CONTEXT": None,
    # Seconds between progress lines on stderr; 0 turns the display off.
    "HEED_PROGRESS_INTERVAL": 1.0,
}


#: Scrapy's downloader middlewares heed does not run: robots.txt and redirects are the consent
#: gate's (fail-closed), and cookies and the HTTP cache are off.
_UNUSED_DOWNLOADER_MIDDLEWARES = frozenset(
    {
        "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware",
        "scrapy.downloadermiddlewares.redirect.RedirectMiddleware",
        "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware",
        "scrapy.downloadermiddlewares.cookies.CookiesMiddleware",
        "scrapy.downloadermiddlewares.httpcache.HttpCacheMiddleware",
    }
)
#: Scrapy's extensions heed does not run: no telnet console, no remote control, no feed
#: exports (heed writes its own Parquet), no memory debugger.
_UNUSED_EXTENSIONS = frozenset(
    {
        "scrapy.extensions.telnet.TelnetConsole",
        "scrapy.extensions.remote_control.RemoteControl",
        "scrapy.extensions.feedexport.FeedExporter",
        "scrapy.extensions.memdebug.MemoryDebugger",
    }
)


def _without(name: str, unused: frozenset[str]) -> dict[str, int]:
    """Scrapy's default ``name`` (a ``*_BASE`` component dict) without ``unused``.

    Scrapy imports every class named in a component dict to merge it with its base, a
    disabled one (``None``) too: the remote control's aiohttp and the cookie middleware's
    tldextract and requests cost a crawl's start-up some 0.2 s. Left out of the base, they
    are never imported."""
    from scrapy.settings import default_settings

    base: dict[str, int] = getattr(default_settings, name)
    return {path: order for path, order in base.items() if path not in unused}


def scrapy_settings(ctx: RunContext, *, progress: bool) -> dict[str, Any]:
    """The full settings dict for one crawl."""
    cfg = ctx.cfg
    settings: dict[str, Any] = dict(HEED_DEFAULTS)
    settings.update(
        {
            "HEED_CONTEXT": ctx,
            "HEED_PROGRESS_INTERVAL": 1.0 if progress else 0.0,
            "BOT_NAME": cfg.product_token,
            "USER_AGENT": cfg.user_agent,
            "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
            "TWISTED_DNS_RESOLVER": "crawler.netguard_twisted.GuardedResolver",
            "DNSCACHE_ENABLED": False,
            "DOWNLOAD_HANDLERS": {
                "http": "crawler.netguard_twisted.HeedDownloadHandler",
                "https": "crawler.netguard_twisted.HeedDownloadHandler",
                "data": None,
                "file": None,
                "s3": None,
                "ftp": None,
            },
            "ROBOTSTXT_OBEY": False,
            "CONCURRENT_REQUESTS": cfg.concurrency,
            # A page yields one item and a few links: Scrapy's default of 100 parallel output
            # workers per response costs more in task creation than it saves.
            "CONCURRENT_ITEMS": 8,
            "CONCURRENT_REQUESTS_PER_DOMAIN": cfg.per_host_concurrency,
            "DOWNLOAD_TIMEOUT": cfg.download_timeout,
            "DOWNLOAD_MAXSIZE": cfg.max_page_bytes,
            "DOWNLOAD_WARNSIZE": 0,
            "AUTOTHROTTLE_ENABLED": cfg.autothrottle,
            "AUTOTHROTTLE_START_DELAY": 0.0,
            "AUTOTHROTTLE_TARGET_CONCURRENCY": float(cfg.per_host_concurrency),
            "DOWNLOAD_DELAY": 0.0,
            "RETRY_ENABLED": True,
            "RETRY_TIMES": RETRY_TIMES,  # the consent gate's (filters/engine/gate.py)
            "RETRY_HTTP_CODES": sorted(RETRY_STATUSES),
            "HTTPERROR_ALLOW_ALL": True,
            "COOKIES_ENABLED": False,
            "HTTPCACHE_ENABLED": False,
            "TELNETCONSOLE_ENABLED": False,
            "LOG_LEVEL": "WARNING",
            "LOG_INSTALL_ROOT_HANDLER": False,  # the CLI owns logging (see crawler.cli)
            "DEPTH_LIMIT": 0,
            "REQUEST_FINGERPRINTER_IMPLEMENTATION": "2.7",
            # Scrapy's components heed replaces or never uses are taken out of the base lists
            # (a None in DOWNLOADER_MIDDLEWARES would still import each one: see _without).
            "DOWNLOADER_MIDDLEWARES_BASE": _without(
                "DOWNLOADER_MIDDLEWARES_BASE", _UNUSED_DOWNLOADER_MIDDLEWARES
            ),
            "DOWNLOADER_MIDDLEWARES": {
                "crawler.middlewares.ConsentMiddleware": 100,
                "crawler.middlewares.BackoffMiddleware": 560,
            },
            "ITEM_PIPELINES": {"crawler.pipelines.RecordPipeline": 300},
            "EXTENSIONS_BASE": _without("EXTENSIONS_BASE", _UNUSED_EXTENSIONS),
            "EXTENSIONS": {"crawler.progress.Progress": 500},
        }
    )
    scratch = getattr(getattr(ctx, "ledger", None), "scratch", None)
    if scratch is not None and not cfg.distributed:
        # The embedded mode keeps the pending requests on disk (Scrapy's disk queues in the
        # ledger's private scratch folder, deleted at the end: the durable frontier is
        # frontier.jsonl), and needs no fingerprint set: the ledger never hands a URL out
        # twice, and redirects and retries are dont_filter requests.
        settings["JOBDIR"] = str(scratch / "scrapy")
        settings["DUPEFILTER_CLASS"] = "scrapy.dupefilters.BaseDupeFilter"
    if cfg.distributed:  # scrapy-redis on the job's Redis (crawler/distributed/settings.py)
        from .distributed.settings import redis_settings

        settings.update(redis_settings(cfg, cfg.worker_id))
    return settings
