"""The consent registry: SQLite store, HTTP service, clients and the ``heed registry`` CLI.

The pure data model and matching live in ``filters.registry`` (SPEC.md §3.6); this package does
the I/O. See docs/registry.md.
"""

from __future__ import annotations

__all__: list[str] = []
