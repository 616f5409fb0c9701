"""Signals heed sends on the Scrapy crawler's signal manager (documented sentinels).

Every decision of a crawl is recorded in one place (``crawler/recorder.py``), which writes its
``decisions/`` row, counts it in the Scrapy stats (``heed/kept``, ``heed/denied/<reason>``) and
sends one of these, once per URL:

- ``url_denied(url, decision, request)``: a URL was excluded, whatever the step: before it was
  requested (pre-fetch, a blocked address, an invalid URL), after the download (post-fetch, a
  redirect that may not be followed, a failed download) or because of an internal error;
  nothing of its content is written. ``request`` is None for a URL never made a request.
- ``url_kept(url, decision, request)``: a page was kept; its record has been written.
- ``record_kept(item, decision)``: the same moment as ``url_kept``, with the written item.
"""

from __future__ import annotations

__all__ = ["record_kept", "url_denied", "url_kept"]

url_denied = object()
url_kept = object()
record_kept = object()
