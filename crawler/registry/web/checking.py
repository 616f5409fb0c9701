""" "Check my page": one URL through ``heed check``'s own ``Checker``, run by the server.

The verdict, the reasons, the signals and the ``--explain`` advice are ``heed check --json``'s
own objects (``crawler.check.render.result_json`` and ``crawler.check.explain.explain``), so
the page cannot disagree with the command. The server adds three bounds:

- the URL's host is resolved first and refused when any of its addresses is private, loopback,
  link-local or reserved (``crawler.netguard``, unless the page runs with ``allow_private``,
  for the demo and tests); every later connection of the check, signal documents and
  redirects included, goes through the same guard;
- the whole check (resolution, documents, page, retries) has one deadline;
- at most ``max_concurrent`` checks run at once; one more is refused at once.

The check consults the page's own registry (the SQLite file of the store) like a crawl
pointed at it would, so an entry registered here shows up in the verdict.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from typing import Any

from filters import ConfigError
from filters.urls import check_url

from ...check.cli import DEFAULT_CONTACT
from ...check.explain import explain
from ...check.render import result_json
from ...check.run import Checker
from ...config import RunConfig, parse_config
from ...errors import BlockedAddress, CheckRefused

__all__ = ["CheckRefused", "PageChecker", "default_check_config"]

_MAX_URL = 2048


def default_check_config() -> RunConfig:
    """``heed check``'s built-in defaults (no ``--config``)."""
    return parse_config({"identity": {"contact_url": DEFAULT_CONTACT}})


@dataclass(frozen=True, slots=True)
class PageChecker:
    """Runs checks for the page under one run config, deadline and concurrency bound."""

    cfg: RunConfig
    deadline: float
    slots: asyncio.Semaphore

    @classmethod
    def build(
        cls,
        cfg: RunConfig | None,
        *,
        registry_path: str | None,
        allow_private: bool,
        deadline: float,
        max_concurrent: int,
    ) -> PageChecker:
        base = cfg or default_check_config()
        registry_url = None
        if registry_path and os.path.isfile(registry_path):
            registry_url = f"sqlite:///{os.path.abspath(registry_path)}"
        run = base.with_overrides(allow_private_networks=allow_private, registry_url=registry_url)
        return cls(run, deadline, asyncio.Semaphore(max_concurrent))

    async def check(self, url: str) -> dict[str, Any]:
        """``heed check --json --explain``'s object for ``url``.

        Raises:
            CheckRefused: the URL cannot be requested, resolves to a refused address, the
                check did not end within the deadline, or too many checks are under way.
        """
        url = url.strip()
        problem = "longer than 2048 characters" if len(url) > _MAX_URL else check_url(url)
        if problem:
            raise CheckRefused(f"this URL cannot be checked: {problem}")
        if self.slots.locked():
            raise CheckRefused("too many checks are under way; try again in a moment")
        async with self.slots:
            try:
                return await asyncio.wait_for(self._check(url), self.deadline)
            except TimeoutError as e:
                raise CheckRefused(
                    f"the check did not finish within {self.deadline:g} s (a slow or "
                    "unresponsive site); no verdict"
                ) from e

    async def _check(self, url: str) -> dict[str, Any]:
        try:
            async with Checker(self.cfg) as checker:
                refused = await checker.refusal(url)
                if isinstance(refused, BlockedAddress):
                    raise CheckRefused(
                        "this page only checks public sites: the host resolves to a private, "
                        "loopback or reserved address"
                    )
                result = await checker.check(url)
        except ConfigError as e:  # the registry file went away, a blocklist is unreadable
            raise CheckRefused(f"the check could not run: {e}") from e
        return result_json(result, self.cfg, explain(result, self.cfg))
