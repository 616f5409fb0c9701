"""Every number of a dataset card, computed from heed output folders (``heed card``).

``collect(dirs)`` reads each folder's Parquet (pyarrow, only the columns it needs, one record
batch at a time) and its ``run.json``, merges the folders and returns one :class:`CardStats`,
from which every renderer (``readme.py``, ``eu.py``, the HTML card, the crawler page) draws.
Nothing here renders text, and nothing renders a number that is not in ``CardStats``.

Folders (docs/output.md, docs/recheck.md):

- a **crawl**: ``decisions/`` (every URL considered) and ``records/`` (the kept pages), with a
  ``run.json`` (or without one, for a crawl killed before it wrote it);
- a **recheck** of a heed dataset: ``records/`` (the rows still permitted) and ``removals/``
  (one row per removed row, with today's reasons), with a ``run.json`` naming its input.
  A recheck of a plain Parquet or JSON Lines dataset is refused: its rows are not heed's.

**Merging.** Every folder contributes one *event* per URL: kept (a ``records/`` row) or
excluded (a ``decisions/`` row with ``allowed`` false, or a ``removals/`` row). The event's
time is the crawl record's ``fetched_at``, the crawl decision's ``decided_at``, the removal's
``checked_at``, or, for a row a recheck kept, the recheck's ``checked_at`` (``run.json``).
For a URL in several folders **the latest event wins**; on equal times an exclusion wins over
a kept row (the restrictive answer). So a crawl and a recheck of it count each URL once, as
the recheck saw it. A crawl decision that says kept but has no record (a hand-edited folder:
heed's writer publishes the record first) is not counted as kept; it is counted in
``merge.kept_decisions_without_record``.

**Registrable domains** come from ``tldextract`` with its bundled Public Suffix List snapshot
and no network fetch (``TLDExtract(suffix_list_urls=(), cache_dir=None)``, ICANN suffixes
only); a host it cannot split (an IP address, ``localhost``, an unknown suffix) is its own
domain.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC
from functools import lru_cache
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as _pc
import pyarrow.parquet as pq

from filters import ConfigError

from .._output_parts import part_files
from ._aggregates import count_codes, per_key, timeline, value_counts
from ._events import ATTRIBUTION_COLUMNS, EVENT_SCHEMA, Folder, folder_events, merge, open_folder

#: pyarrow.compute, untyped: its stubs cannot follow arrays through compute functions.
pc: Any = _pc

__all__ = ["ATTRIBUTION_COLUMNS", "CardStats", "collect", "config_sha256", "registrable_domain"]

#: The SME variant of the EU template's domain list is capped at this many domains.
SME_DOMAIN_CAP = 1000


@dataclass(frozen=True)
class CardStats:
    """Every number a card shows. JSON-serialisable through :meth:`as_dict`.

    Fields (all plain JSON values; lists are in a fixed order, so two collections of the same
    folders are equal):

    - ``name``: the dataset's name (``--name``, else the first folder's name).
    - ``sources``: one dict per folder, in argument order: ``path``, ``kind`` (``crawl`` or
      ``recheck``), ``run_id``, ``input`` (a recheck's dataset), ``started_at``,
      ``ended_at``, ``engine_version``, ``purpose``, ``mode``, ``refetch`` (recheck),
      ``config`` (the run's config from run.json, ``{}`` when none), ``config_sha256``
      (sha256 of its canonical JSON), ``ai_agents``, ``runs`` (one per run of the job,
      earlier resumed runs first: ``run_id``, ``started_at``, ``ended_at``,
      ``engine_version``, ``config_sha256``), ``urls`` (events it contributed) and
      ``winning`` (URLs whose merged state it decided).
    - ``merge``: ``rule``, ``events``, ``urls``, ``duplicates`` (events beyond one per URL),
      ``kept_decisions_without_record``.
    - ``totals``: ``urls`` (distinct, merged), ``kept``, ``excluded``, ``kept_body_bytes``
      (sum of ``length(body)``), ``kept_text_bytes`` (UTF-8 bytes of ``text``).
    - ``period``: ``first_fetched_at``/``last_fetched_at`` (kept records), ``first_event_at``
      /``last_event_at`` (every merged URL), ISO 8601 UTC, null when none.
    - ``exclusions``: ``by_reason`` and ``by_signal`` (the reason code's family, the part
      before the dot): ``{code: {"urls": n, "share": n / excluded}}`` counting each excluded
      URL once per code it carries (so shares may add up to more than 1); ``by_stage``
      (``pre-fetch``/``post-fetch``: URLs); ``no_reason`` (excluded URLs without a code).
    - ``licenses``: ``{licence id or "none": kept URLs}``, most first.
    - ``languages``: ``{language or "unknown": kept URLs}``, or null when no records table
      has a ``language`` column.
    - ``attribution``: ``{column: kept URLs with it set}`` for the attribution columns any
      records table has; ``{}`` when none.
    - ``redaction``: ``configured`` (the union of the runs' ``[privacy] redact``),
      ``replacements`` (sum of the records' ``redactions`` column, null when absent).
    - ``hosts``: ``[{"host", "kept", "excluded", "kept_body_bytes"}]``, most kept first.
    - ``domains``: ``[{"domain", "kept", "excluded", "kept_body_bytes"}]`` per registrable
      domain, most bytes kept first (then by name).
    - ``top_domains``: ``measure`` (``kept_body_bytes``), ``domains_with_content`` (N:
      domains with a kept record), ``top_10_percent`` (the first ceil(N/10) of those),
      ``top_5_percent_or_1000`` (the first min(ceil(N/20), 1000)), each a list of
      ``{"domain", "kept_body_bytes", "kept"}``.
    - ``timeline``: ``[{"date", "kept", "excluded"}]`` per UTC day of the merged events.
    - ``engine_versions``: every engine version named by a run (earlier resumed runs too), sorted.
    """

    name: str
    sources: list[dict[str, Any]]
    merge: dict[str, Any]
    totals: dict[str, Any]
    period: dict[str, Any]
    exclusions: dict[str, Any]
    licenses: dict[str, int]
    languages: dict[str, int] | None
    attribution: dict[str, int]
    redaction: dict[str, Any]
    hosts: list[dict[str, Any]]
    domains: list[dict[str, Any]]
    top_domains: dict[str, Any]
    timeline: list[dict[str, Any]]
    engine_versions: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """A deep copy as plain JSON values."""
        out: dict[str, Any] = json.loads(json.dumps(asdict(self), sort_keys=False))
        return out


def config_sha256(config: Any) -> str:
    """sha256 of the canonical JSON of a run's config (sorted keys, no spaces, UTF-8)."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@lru_cache(maxsize=1)
def _extractor() -> Any:
    import tldextract

    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


@lru_cache(maxsize=65536)
def registrable_domain(host: str) -> str:
    """The registrable domain of ``host`` (``a.b.example.co.uk`` → ``example.co.uk``), or the
    host itself when the bundled Public Suffix List cannot split it."""
    host = host.strip().lower().rstrip(".")
    if not host or host.startswith("[") or ":" in host:
        return host
    domain = str(_extractor()(host).top_domain_under_public_suffix)
    return domain or host


# ---------------------------------------------------------------------------------------
# Aggregates


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return str(value.astimezone(UTC).isoformat())


def _share(n: int, total: int) -> float:
    return round(n / total, 6) if total else 0.0


def _top(domains: list[dict[str, Any]]) -> dict[str, Any]:
    with_content = [d for d in domains if d["kept"] > 0]
    n = len(with_content)

    def entries(k: int) -> list[dict[str, Any]]:
        return [
            {"domain": d["domain"], "kept_body_bytes": d["kept_body_bytes"], "kept": d["kept"]}
            for d in with_content[:k]
        ]

    return {
        "measure": "kept_body_bytes",
        "domains_with_content": n,
        "top_10_percent": entries(math.ceil(n / 10)),
        "top_5_percent_or_1000": entries(min(math.ceil(n / 20), SME_DOMAIN_CAP)),
    }


def _runs(run: dict[str, Any]) -> list[dict[str, Any]]:
    chain = [r for r in run.get("previous_runs") or [] if isinstance(r, dict)]
    chain.append(run)
    out = []
    for r in chain:
        if not r:
            continue
        config: dict[str, Any] = r["config"] if isinstance(r.get("config"), dict) else {}
        out.append(
            {
                "run_id": r.get("crawl_id") or r.get("run_id"),
                "started_at": r.get("started_at"),
                "ended_at": r.get("ended_at") or r.get("finished_at"),
                "engine_version": r.get("engine_version"),
                "config_sha256": config_sha256(config) if config else None,
            }
        )
    return out


def _source(folder: Folder) -> dict[str, Any]:
    run = folder.run
    config: dict[str, Any] = run["config"] if isinstance(run.get("config"), dict) else {}
    return {
        "path": str(folder.path),
        "kind": folder.kind,
        "run_id": run.get("crawl_id") or run.get("run_id"),
        "input": run.get("input") if folder.kind == "recheck" else None,
        "started_at": run.get("started_at"),
        "ended_at": run.get("ended_at") or run.get("finished_at"),
        "engine_version": run.get("engine_version"),
        "purpose": run.get("purpose") or config.get("purpose"),
        "mode": run.get("mode") or config.get("mode"),
        "refetch": run.get("refetch") if folder.kind == "recheck" else None,
        "config": config,
        "config_sha256": config_sha256(config) if config else None,
        "ai_agents": list(run.get("ai_agents") or config.get("ai_agents") or []),
        "ai_agents_source": run.get("ai_agents_source")
        if isinstance(run.get("ai_agents_source"), dict)
        else None,
        "runs": _runs(run),
    }


def collect(dirs: Sequence[Path], name: str | None = None) -> CardStats:
    """Every number of the card of the heed output folders ``dirs`` (merged, see the module
    docstring).

    Raises:
        ConfigError: no folder, a folder that is not heed output (or a recheck of a non-heed
            dataset), a part that cannot be read, or folders that hold no URL at all.
    """
    if not dirs:
        raise ConfigError("heed card needs at least one heed output folder")
    folders = [open_folder(Path(d)) for d in dirs]
    tables: list[pa.Table] = []
    kept_decisions: set[str] = set()
    per_source_events: list[int] = []
    for i, folder in enumerate(folders):
        found, kept = folder_events(folder, i)
        tables.extend(found)
        kept_decisions |= kept
        per_source_events.append(sum(t.num_rows for t in found))
    events = pa.concat_tables(tables) if tables else EVENT_SCHEMA.empty_table()
    if events.num_rows == 0:
        raise ConfigError(
            f"{', '.join(str(d) for d in dirs)}: no URL in these folders (nothing to describe)"
        )
    merged = merge(events)
    kept_without_record = len(
        kept_decisions - set(events.filter(events.column("kept")).column("url").to_pylist())
    )

    kept_t = merged.filter(merged.column("kept"))
    excluded_t = merged.filter(pc.invert(merged.column("kept")))
    n_kept, n_excl = kept_t.num_rows, excluded_t.num_rows
    body_bytes = pc.sum(kept_t.column("body_bytes")).as_py() or 0
    text_bytes = pc.sum(kept_t.column("text_bytes")).as_py() or 0

    by_reason = count_codes(excluded_t, family=False)
    by_signal = count_codes(excluded_t, family=True)
    no_reason = (
        pc.sum(
            pc.cast(pc.equal(pc.list_value_length(excluded_t.column("reasons")), 0), pa.int64())
        ).as_py()
        or 0
        if n_excl
        else 0
    )

    hosts = per_key(merged, merged.column("host"), "host")
    hosts.sort(key=lambda h: (-h["kept"], -h["excluded"], h["host"]))
    domain_col = pa.array(
        [registrable_domain(h) for h in merged.column("host").to_pylist()], pa.string()
    )
    domains = per_key(merged, domain_col, "domain")
    domains.sort(key=lambda d: (-d["kept_body_bytes"], -d["kept"], d["domain"]))

    has_language = False
    attribution: dict[str, int] = {}
    for folder in folders:
        for _, path in part_files(folder.path / "records"):
            names = pq.read_schema(path).names
            has_language = has_language or "language" in names
            for c in ATTRIBUTION_COLUMNS:
                if c in names:
                    attribution.setdefault(c, 0)
    if attribution and n_kept:
        flat = pc.list_flatten(kept_t.column("attribution").combine_chunks())
        for value, count in value_counts(pa.table({"a": flat}), "a", "").items():
            attribution[value] = count

    redactions_present = any(
        "redactions" in pq.read_schema(p).names
        for f in folders
        for _, p in part_files(f.path / "records")
    )
    configured: set[str] = set()
    sources = [_source(f) for f in folders]
    for s in sources:
        configured.update(str(x) for x in s["config"].get("redact") or [])
    winning = value_counts(pa.table({"s": pc.cast(merged.column("source"), pa.string())}), "s", "")
    for i, s in enumerate(sources):
        s["urls"] = per_source_events[i]
        s["winning"] = winning.get(str(i), 0)

    versions = {str(r["engine_version"]) for s in sources for r in s["runs"] if r["engine_version"]}
    fetched = kept_t.column("fetched_at")
    return CardStats(
        name=name or Path(dirs[0]).resolve().name,
        sources=sources,
        merge={
            "rule": "latest event per URL (fetched_at, decided_at or checked_at); "
            "on equal times the exclusion",
            "events": events.num_rows,
            "urls": merged.num_rows,
            "duplicates": events.num_rows - merged.num_rows,
            "kept_decisions_without_record": kept_without_record,
        },
        totals={
            "urls": merged.num_rows,
            "kept": n_kept,
            "excluded": n_excl,
            "kept_body_bytes": body_bytes,
            "kept_text_bytes": text_bytes,
        },
        period={
            "first_fetched_at": _iso(pc.min(fetched).as_py()) if n_kept else None,
            "last_fetched_at": _iso(pc.max(fetched).as_py()) if n_kept else None,
            "first_event_at": _iso(pc.min(merged.column("t")).as_py()),
            "last_event_at": _iso(pc.max(merged.column("t")).as_py()),
        },
        exclusions={
            "by_reason": {k: {"urls": v, "share": _share(v, n_excl)} for k, v in by_reason.items()},
            "by_signal": {k: {"urls": v, "share": _share(v, n_excl)} for k, v in by_signal.items()},
            "by_stage": value_counts(excluded_t, "stage", "unknown"),
            "no_reason": no_reason,
        },
        licenses=value_counts(kept_t, "license", "none"),
        languages=value_counts(kept_t, "language", "unknown") if has_language else None,
        attribution=attribution,
        redaction={
            "configured": sorted(configured),
            "replacements": (pc.sum(kept_t.column("redactions")).as_py() or 0)
            if redactions_present
            else None,
        },
        hosts=hosts,
        domains=domains,
        top_domains=_top(domains),
        timeline=timeline(merged),
        engine_versions=sorted(versions),
    )
