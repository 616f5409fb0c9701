"""The site-owner page of the registry service: check a page, opt a site out, look it up."""

from __future__ import annotations

from .options import PageOptions
from .router import CSP, page_router

__all__ = ["CSP", "PageOptions", "page_router"]
