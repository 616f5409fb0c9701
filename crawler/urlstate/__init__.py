"""Per-URL crawl state behind one interface (``base.UrlLedger``); the embedded ledger."""

from .base import UrlLedger
from .embedded import SqliteLedger

__all__ = ["SqliteLedger", "UrlLedger"]
