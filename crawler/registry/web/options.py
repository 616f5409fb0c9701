"""The site-owner page's own settings (``page_router(..., options=PageOptions(...))``)."""

from __future__ import annotations

from dataclasses import dataclass

from ...config import RunConfig

__all__ = ["PageOptions"]


@dataclass(frozen=True, slots=True)
class PageOptions:
    """Settings of the page beyond the service's ``ServiceConfig``.

    ``allow_private`` (None: the service's ``allow_private``) lets "Check my page" reach
    loopback and private addresses: only for the demo and tests, never on a public server.
    ``check_config`` is the run config checks use (None: ``heed check``'s defaults, no
    ``--config``); its registry is replaced by the page's own store. ``check_deadline`` bounds
    one whole check in seconds; ``max_checks`` checks run at once. Each form has a token
    bucket per client address: ``*_burst`` at once, then one per ``*_refill`` seconds.
    ``secret`` signs the CSRF tokens (None: random per process, so tokens do not outlive a
    restart).
    """

    allow_private: bool | None = None
    check_config: RunConfig | None = None
    check_deadline: float = 30.0
    max_checks: int = 4
    check_burst: int = 6
    check_refill: float = 10.0
    lookup_burst: int = 30
    lookup_refill: float = 2.0
    verify_burst: int = 10
    verify_refill: float = 30.0
    secret: bytes | None = None
    title: str = "heed"
