"""What a recheck counts and shows: its totals, its progress line, and what it knows of each
origin's site documents then (a heed dataset's evidence) and now."""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

__all__ = ["OriginState", "Progress", "RecheckStats", "by_name", "earlier_documents"]

_DOCUMENTS = ("robots.txt", "ai.txt", "tdmrep.json")


@dataclass
class RecheckStats:
    """Counts of one recheck (this run's work plus what an earlier run into the folder did)."""

    rows: int = 0
    kept: int = 0
    removed: int = 0
    flagged: int = 0
    batches: int = 0
    batches_done_earlier: int = 0
    by_reason: Counter[str] = field(default_factory=Counter)
    removed_by_host: Counter[str] = field(default_factory=Counter)
    flags: Counter[str] = field(default_factory=Counter)
    origins: int = 0
    started: float = field(default_factory=time.monotonic)

    def as_dict(self) -> dict[str, Any]:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        return {
            "rows": self.rows,
            "kept": self.kept,
            "removed": self.removed,
            "flagged": self.flagged,
            "origins": self.origins,
            "batches": self.batches,
            "batches_done_earlier": self.batches_done_earlier,
            "by_reason": dict(sorted(self.by_reason.items(), key=lambda kv: (-kv[1], kv[0]))),
            "flags": dict(sorted(self.flags.items())),
            "removed_by_host": dict(self.removed_by_host.most_common()),
            "elapsed_s": round(elapsed, 3),
            "rows_per_s": round(self.rows / elapsed, 1),
        }


@dataclass
class OriginState:
    """What the recorder knows of one origin: its documents today and (heed input) earlier."""

    now: dict[str, dict[str, Any]] | None = None
    earlier: dict[str, Any] | None = None
    changed: list[dict[str, Any]] | None = None
    removed: int = 0

    def changes(self, heed: bool) -> list[dict[str, Any]]:
        if self.changed is None:
            self.changed = _changes(self.now or {}, self.earlier if heed else None)
        return self.changed


def by_name(docs: Any) -> dict[str, dict[str, Any]]:
    """A record's ``evidence`` "documents" (``filters.engine.evidence.site_documents``) by
    name: ``robots.txt``, ``ai.txt``, ``tdmrep.json`` and ``rsl:<url>`` for each RSL file."""
    if not isinstance(docs, dict):
        return {}
    out = {k: v for k, v in docs.items() if k in _DOCUMENTS and isinstance(v, dict)}
    rsl = docs.get("rsl")
    if isinstance(rsl, dict):
        out.update({f"rsl:{u}": v for u, v in rsl.items() if isinstance(v, dict)})
    return out


def earlier_documents(evidence: str | None) -> dict[str, dict[str, Any]] | None:
    """The site documents a heed record's ``evidence`` says the crawl saw, by name."""
    if not evidence:
        return None
    try:
        docs = json.loads(evidence).get("documents")
    except (ValueError, AttributeError):
        return None
    return by_name(docs) if isinstance(docs, dict) else None


def _changes(
    now: dict[str, dict[str, Any]], earlier: dict[str, dict[str, Any]] | None
) -> list[dict[str, Any]]:
    rows = []
    for name in sorted(set(now) | set(earlier or {})):
        new = now.get(name, {})
        old = (earlier or {}).get(name, {})
        rows.append(
            {
                "document": name,
                "url": new.get("url") or old.get("url") or "",
                "old_sha256": old.get("sha256"),
                "new_sha256": new.get("sha256"),
                "old_status": old.get("status"),
                "new_status": new.get("status"),
                "fetched_at": new.get("fetched_at"),
                # unknown before (not a heed dataset): not reported as a change
                "changed": earlier is not None
                and (old.get("sha256"), old.get("status"))
                != (new.get("sha256"), new.get("status")),
            }
        )
    return rows


class Progress:
    def __init__(self, stats: RecheckStats, interval: float, on: bool) -> None:
        self.stats, self.interval, self.on = stats, interval, on
        self._last = time.monotonic()

    def tick(self, force: bool = False) -> None:
        now = time.monotonic()
        if not self.on or (not force and now - self._last < self.interval):
            return
        self._last = now
        s = self.stats
        rate = s.rows / max(now - s.started, 1e-9)
        print(
            f"{s.origins} origins · {s.rows} rows · {s.kept} kept · {s.removed} removed"
            f" · {s.flagged} flagged · {rate:,.0f} rows/s",
            file=sys.stderr,
            flush=True,
        )
