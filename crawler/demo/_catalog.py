"""The demo web's sites, each page declared next to what the demo run must decide (SPEC.md §3).

One function per site, in three modules by topic. A page that must be excluded stands next to
its kept control. Reason codes come from :class:`filters.reasons.ReasonCode`, so a typo cannot
slip into the truth. Cross-host URLs are written ``{{site:NAME}}/path`` and resolved by the
server at start.
"""

from __future__ import annotations

from functools import cache

from . import _sites_rights as rights
from . import _sites_robots as robots
from ._build import SiteBuilder
from ._sites_hub import REGISTRY_ENTRIES, hub
from .web import SiteSpec

__all__ = ["NEVER_REQUESTED_EXTRA", "REGISTRY_ENTRIES", "built"]

NEVER_REQUESTED_EXTRA: tuple[tuple[str, str], ...] = (
    ("strict", "/private/moved.html"),
    ("hub", "/chain6/6.html"),
)

#: Deep links the hub shows besides every site's ``/``: pages on sites whose ``/`` is denied
#: (so they are still considered), and a disallowed page racing the slow robots.txt.
_HUB_DEEP: tuple[tuple[str, str], ...] = (
    ("slow", "/area/hidden.html"),
    ("down", "/page.html"),
    ("lazy", "/page.html"),
    ("aierror", "/page.html"),
    ("badtdm", "/page.html"),
)


@cache
def built() -> tuple[tuple[SiteBuilder, SiteSpec], ...]:
    """Every site's builder (with its expectations) and its served spec, hub first."""
    builders = [
        hub(),
        robots.strict(),
        robots.prefs(),
        robots.slow(),
        robots.down(),
        robots.lazy(),
        robots.aierror(),
        robots.badtdm(),
        robots.aitxt(),
        rights.tdm(),
        rights.rsl(),
    ]
    for b in builders:
        if not any(e.path == "/" for e in b.expectations):
            b.page("/", link=False, note="the site's seed")
            b.expectations.insert(0, b.expectations.pop())
    names = [b.name for b in builders]
    out = []
    for b in builders:
        extra: tuple[str, ...] = ("{{site:hub}}/",)
        if b.name == "hub":
            extra = tuple(f"{{{{site:{n}}}}}/" for n in names[1:])
            extra += tuple(f"{{{{site:{site}}}}}{path}" for site, path in _HUB_DEEP)
        out.append((b, b.build(extra)))
    return tuple(out)
