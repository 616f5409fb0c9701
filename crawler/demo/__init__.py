"""The loopback demo web: a multi-host web on 127.0.0.x that ``heed demo`` and the end-to-end
tests crawl, with a page for every signal of SPEC.md §3 and its kept control page.

:mod:`crawler.demo.web` serves any set of sites; :mod:`crawler.demo.sites` is the bundled demo
web and its ground truth (what the default demo configuration must keep, and why not).
"""

from __future__ import annotations

from .sites import (
    DEMO_CONFIG,
    ONLY_ROBOTS_SITES,
    Expectation,
    demo_expectations,
    demo_never_requested,
    demo_registry_entries,
    demo_seeds,
    demo_sites,
)
from .web import LoopbackWeb, PageSpec, RequestLogEntry, SiteSpec

__all__ = [
    "DEMO_CONFIG",
    "ONLY_ROBOTS_SITES",
    "Expectation",
    "LoopbackWeb",
    "PageSpec",
    "RequestLogEntry",
    "SiteSpec",
    "demo_expectations",
    "demo_never_requested",
    "demo_registry_entries",
    "demo_seeds",
    "demo_sites",
]
