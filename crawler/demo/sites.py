"""The bundled demo web and its ground truth (SPEC.md §3, §5).

``heed demo`` serves :func:`demo_sites` with :class:`~crawler.demo.web.LoopbackWeb` and crawls
it from :func:`demo_seeds`; the end-to-end tests do the same and compare the run's decisions
with :func:`demo_expectations`. Every signal of SPEC.md §3 and every error case has an
excluded page next to a kept control page; :func:`demo_never_requested` lists what must never
reach the server (pre-fetch denials, a denied redirect target, the hop past the redirect bound).

The truth holds for :data:`DEMO_CONFIG` (product token ``heedbot``, purpose ``train-ai``, mode
``opt-out``, ``on_signal_error = "deny"``, the default ``ai_agents``, ``max_page_bytes`` 1 MiB,
``max_crawl_delay`` 30 s) with :func:`demo_registry_entries` in the registry. Readings where
SPEC.md leaves room (also in docs/demo.md), each chosen to exclude more or to follow the SPEC's
own words:

- A redirect is decided under the URL that was linked (SPEC.md §6 ``url`` vs ``final_url``);
  when its target is denied before being requested, the linked URL is excluded with the
  target's pre-fetch reasons (it was itself fetched, the target never was).
- A site whose robots.txt is unreachable is excluded with ``robots.unreachable`` only: nothing
  but robots.txt is requested there, so no other signal document is read.
- ``fetch.redirect-limit``, ``fetch.error``, ``fetch.too-large``, ``fetch.status`` and
  ``fetch.unsupported-type`` are post-fetch: the URL itself was requested.
- ``aipref.parse-error`` is informational and not listed among a kept page's reasons.
- ``fetch.blocked-address``, ``registry.unavailable``, ``consent.missing`` and
  ``license.not-open`` cannot occur in this configuration (loopback is allowed for the demo,
  the registry is local, the mode is opt-out); their tests live with their modules.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from . import _catalog
from ._build import Expectation

if TYPE_CHECKING:
    from .web import LoopbackWeb, SiteSpec

__all__ = [
    "DEMO_CONFIG",
    "ONLY_ROBOTS_SITES",
    "Expectation",
    "demo_expectations",
    "demo_never_requested",
    "demo_registry_entries",
    "demo_seeds",
    "demo_sites",
]

#: The run configuration the expectations hold for (keys of ``crawler.config.RunConfig``).
DEMO_CONFIG: Mapping[str, Any] = {
    "product_token": "heedbot",
    "purpose": "train-ai",
    "mode": "opt-out",
    "on_signal_error": "deny",
    "max_page_bytes": 1024 * 1024,
    "max_crawl_delay": 30.0,
    "allow_private_networks": True,
}

#: Sites where nothing but ``/robots.txt`` may ever be requested (robots.txt answers 503).
ONLY_ROBOTS_SITES: tuple[str, ...] = ("down",)


def demo_sites() -> dict[str, SiteSpec]:
    """The demo web: site name -> :class:`SiteSpec`, in a stable order (hub first)."""
    return {b.name: spec for b, spec in _catalog.built()}


def demo_expectations() -> list[Expectation]:
    """The ground truth for every URL the demo crawl considers, site by site."""
    return [e for b, _ in _catalog.built() for e in b.expectations]


def demo_seeds(web: LoopbackWeb) -> list[str]:
    """One seed per site: its ``/``, as absolute URLs of a started ``web``."""
    return [web.url(name, "/") for name in web.sites]


def demo_never_requested() -> list[tuple[str, str]]:
    """``(site, path)`` pairs that must never appear in the server's request log."""
    denied = [(e.site, e.path) for e in demo_expectations() if not e.fetched]
    return denied + list(_catalog.NEVER_REQUESTED_EXTRA)


def demo_registry_entries() -> list[dict[str, Any]]:
    """Registry entries the demo runner seeds (subjects contain ``{{site:NAME}}``).

    Expand the subjects with :meth:`LoopbackWeb.expand` once the web is started.
    """
    return [dict(entry) for entry in _catalog.REGISTRY_ENTRIES]
