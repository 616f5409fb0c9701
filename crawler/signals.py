"""Signals heed sends on the Scrapy crawler's signal manager (documented sentinels).

- ``url_denied(request, decision)``: a URL was refused before it was requested (pre-fetch) or
  its page was refused after the download; nothing of its content is written.
- ``record_kept(item, decision)``: a page was kept and handed to the output.
"""

from __future__ import annotations

__all__ = ["record_kept", "url_denied"]

url_denied = object()
record_kept = object()
