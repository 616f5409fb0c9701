"""The Hugging Face dataset card (``README.md``) of a :class:`CardStats`.

YAML front matter (``pretty_name``, ``license``, ``size_categories``, ``language`` when the
records say, ``source_datasets``, ``tags``), then one section per thing a reader of a crawled
corpus asks. Every number comes from ``CardStats``; the text is deterministic (no generation
time), so ``heed card --check`` can compare it byte for byte.
"""

from __future__ import annotations

import json
from typing import Any

from .signals import SIGNALS, active_signals
from .stats import CardStats

__all__ = ["hf_license", "render_readme", "size_category"]

#: Hugging Face licence identifiers (the ``license`` values the Hub's card metadata accepts)
#: that heed's SPDX ids map to by lower-casing.
_HF_LICENSES = frozenset(
    (
        "apache-2.0",
        "mit",
        "afl-3.0",
        "artistic-2.0",
        "bsl-1.0",
        "bsd-2-clause",
        "bsd-3-clause",
        "bsd-3-clause-clear",
        "cc0-1.0",
        "cc-by-2.0",
        "cc-by-2.5",
        "cc-by-3.0",
        "cc-by-4.0",
        "cc-by-sa-3.0",
        "cc-by-sa-4.0",
        "cc-by-nc-2.0",
        "cc-by-nc-3.0",
        "cc-by-nc-4.0",
        "cc-by-nd-4.0",
        "cc-by-nc-nd-3.0",
        "cc-by-nc-nd-4.0",
        "cc-by-nc-sa-2.0",
        "cc-by-nc-sa-3.0",
        "cc-by-nc-sa-4.0",
        "cdla-sharing-1.0",
        "cdla-permissive-1.0",
        "cdla-permissive-2.0",
        "wtfpl",
        "ecl-2.0",
        "epl-1.0",
        "epl-2.0",
        "etalab-2.0",
        "eupl-1.1",
        "eupl-1.2",
        "agpl-3.0",
        "gpl-2.0",
        "gpl-3.0",
        "lgpl-2.1",
        "lgpl-3.0",
        "isc",
        "mpl-2.0",
        "osl-3.0",
        "postgresql",
        "ofl-1.1",
        "ncsa",
        "unlicense",
        "zlib",
    )
)
_HF_ALIASES = {
    "odbl-1.0": "odbl",
    "odc-by-1.0": "odc-by",
    "pddl-1.0": "pddl",
    "gpl-2.0-only": "gpl-2.0",
    "gpl-2.0-or-later": "gpl-2.0",
    "gpl-3.0-only": "gpl-3.0",
    "gpl-3.0-or-later": "gpl-3.0",
    "lgpl-2.1-only": "lgpl-2.1",
    "lgpl-2.1-or-later": "lgpl-2.1",
    "lgpl-3.0-only": "lgpl-3.0",
    "lgpl-3.0-or-later": "lgpl-3.0",
    "agpl-3.0-only": "agpl-3.0",
    "agpl-3.0-or-later": "agpl-3.0",
    "gfdl-1.3": "gfdl",
    "gfdl-1.3-only": "gfdl",
    "gfdl-1.3-or-later": "gfdl",
}
_SIZE_BUCKETS = (
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"),
    (100_000_000, "10M<n<100M"),
    (1_000_000_000, "100M<n<1B"),
    (10_000_000_000, "1B<n<10B"),
    (100_000_000_000, "10B<n<100B"),
    (1_000_000_000_000, "100B<n<1T"),
)
TOP_HOSTS = 25


def hf_license(spdx: str) -> str:
    """The Hub licence id of a heed licence id: ``CC-BY-4.0`` → ``cc-by-4.0``; no licence
    (``none``) → ``unknown``; any id the Hub has no identifier for (``CC-PDM-1.0``,
    ``LicenseRef-…``) → ``other``."""
    if spdx == "none":
        return "unknown"
    low = spdx.lower()
    if low in _HF_LICENSES:
        return low
    return _HF_ALIASES.get(low, "other")


def size_category(n: int) -> str:
    for limit, label in _SIZE_BUCKETS:
        if n < limit:
            return label
    return "n>1T"


def _y(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a YAML double-quoted scalar


def _yaml_list(key: str, values: list[str]) -> list[str]:
    if not values:
        return [f"{key}: []"]
    return [f"{key}:", *(f"- {_y(v)}" for v in values)]


def _front_matter(stats: CardStats) -> list[str]:
    licenses = sorted({hf_license(k) for k in stats.licenses})
    tags = ["heed", "web-crawl", "consent-checked"]
    tags += sorted({str(s["purpose"]) for s in stats.sources if s.get("purpose")})
    source_datasets = sorted({str(s["input"]) for s in stats.sources if s.get("input")})
    if any(s["kind"] == "crawl" for s in stats.sources):
        source_datasets = ["original", *source_datasets]
    lines = ["---", f"pretty_name: {_y(stats.name)}"]
    lines += _yaml_list("license", licenses)
    lines += _yaml_list("size_categories", [size_category(stats.totals["kept"])])
    if stats.languages is not None:
        known = sorted(k for k in stats.languages if k != "unknown")
        if known:
            lines += _yaml_list("language", known)
    lines += _yaml_list("source_datasets", source_datasets)
    lines += _yaml_list("tags", tags)
    lines.append("---")
    return lines


def _pct(share: float) -> str:
    return f"{share * 100:.1f} %"


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return out


def _configs(stats: CardStats) -> list[dict[str, Any]]:
    return [s["config"] for s in stats.sources if s["config"]]


def render_readme(stats: CardStats) -> str:
    """The dataset card, Markdown with YAML front matter."""
    t = stats.totals
    configs = _configs(stats)
    lines = _front_matter(stats)
    lines += [
        "",
        f"# {stats.name}",
        "",
        f"{t['kept']:,} web pages kept out of {t['urls']:,} URLs considered "
        f"({t['excluded']:,} excluded), {t['kept_body_bytes']:,} bytes of page bodies and "
        f"{t['kept_text_bytes']:,} bytes of extracted text, collected by heed, a crawler that "
        "keeps only pages whose owners have not opted out. Every number on this card is "
        "computed from the Parquet files (`heed card --check` recomputes them).",
        "",
        "## Sources",
        "",
    ]
    rows = []
    for s in stats.sources:
        seeds = s["config"].get("seeds") or []
        rows.append(
            [
                s["kind"],
                f"`{s['run_id']}`",
                s["input"] or "",
                len(seeds),
                s["urls"],
                s["winning"],
            ]
        )
    lines += _table(["folder", "run", "input", "seeds", "URLs", "URLs decided"], rows)
    lines += [
        "",
        f"Folders merged: {stats.merge['urls']:,} distinct URLs from {stats.merge['events']:,} "
        f"rows. A URL in several folders counts once: {stats.merge['rule']}.",
    ]
    seeds = sorted({str(x) for c in configs for x in c.get("seeds") or []})
    if seeds:
        lines += ["", "Seeds:", ""] + [f"- {x}" for x in seeds[:50]]
        if len(seeds) > 50:
            lines.append(f"- … and {len(seeds) - 50:,} more (run.json)")
    p = stats.period
    lines += [
        "",
        "## Collection period",
        "",
        f"Pages fetched from {p['first_fetched_at'] or '—'} to {p['last_fetched_at'] or '—'} "
        f"(UTC); decisions from {p['first_event_at'] or '—'} to {p['last_event_at'] or '—'}.",
        "",
        "## Crawler identity",
        "",
    ]
    identities: list[list[Any]] = [
        list(x)
        for x in sorted(
            {
                (
                    f"`{c.get('product_token', '')}`",
                    f"`{c.get('user_agent', '')}`",
                    str(c.get("contact_url", "")),
                )
                for c in configs
            }
        )
    ]
    lines += _table(["product token", "user agent", "contact URL"], identities)
    active = active_signals(configs)
    lines += ["", "## Signals honoured", ""]
    lines += _table(
        ["signal", "standard and version", "active in this run"],
        [[s.name, s.standard, "yes" if active[s.key] else "no"] for s in SIGNALS],
    )
    agents = sorted({a for s in stats.sources for a in s["ai_agents"]})
    if agents:
        lines += ["", f"AI crawler tokens whose robots.txt groups bind heed: {', '.join(agents)}."]
    lists = sorted(
        {
            (str(src.get("source")), str(src.get("retrieved")))
            for s in stats.sources
            if isinstance(src := s.get("ai_agents_source"), dict)
        }
    )
    for source, retrieved in lists:
        lines += ["", f"AI token list used: {source} (retrieved {retrieved})."]
    blocklists = sorted({str(b) for c in configs for b in c.get("blocklists") or []})
    if blocklists:
        lines += ["", "Blocklists: " + ", ".join(f"`{b}`" for b in blocklists) + "."]
    lines += ["", "## Purpose and mode", ""]
    lines += _table(
        ["run", "purpose", "mode", "on signal error"],
        [
            [f"`{s['run_id']}`", s["purpose"], s["mode"], s["config"].get("on_signal_error", "")]
            for s in stats.sources
        ],
    )
    ex = stats.exclusions
    lines += [
        "",
        "## Exclusions by reason",
        "",
        f"{t['excluded']:,} URLs excluded ({ex['by_stage'].get('pre-fetch', 0):,} never "
        f"requested, {ex['by_stage'].get('post-fetch', 0):,} decided on the response). A URL "
        "excluded for several reasons counts under each, so shares may add up to more than "
        "100 %.",
        "",
    ]
    lines += _table(
        ["reason", "URLs", "share of excluded"],
        [[f"`{k}`", v["urls"], _pct(v["share"])] for k, v in ex["by_reason"].items()],
    )
    if ex["no_reason"]:
        lines += ["", f"{ex['no_reason']:,} excluded URLs carry no reason code."]
    lines += ["", "## Licences", ""]
    lines += _table(
        ["licence", "Hub id", "pages"],
        [[k, hf_license(k), v] for k, v in stats.licenses.items()],
    )
    if stats.attribution:
        lines += ["", "Attribution coverage (kept pages with the field set):", ""]
        lines += _table(["field", "pages"], [[k, v] for k, v in stats.attribution.items()])
    if stats.languages is not None:
        lines += ["", "## Languages", ""]
        lines += _table(["language", "pages"], [[k, v] for k, v in stats.languages.items()])
    lines += [
        "",
        "## Hosts",
        "",
        f"{len(stats.hosts):,} hosts; the first {min(TOP_HOSTS, len(stats.hosts))} by pages kept:",
        "",
    ]
    lines += _table(
        ["host", "kept", "excluded", "bytes kept"],
        [
            [h["host"], h["kept"], h["excluded"], h["kept_body_bytes"]]
            for h in stats.hosts[:TOP_HOSTS]
        ],
    )
    redact = stats.redaction
    lines += [
        "",
        "## Processing",
        "",
        "- `body`: the response body, decompressed, unmodified; `text`: its visible text, "
        "extracted by heed (lxml / html5lib).",
    ]
    if redact["configured"]:
        done = redact["replacements"]
        lines.append(
            f"- Redaction of {', '.join(redact['configured'])} in `text`"
            + (f": {done:,} replacements." if done is not None else ".")
        )
    else:
        lines.append("- No redaction (`[privacy] redact` was not set).")
    if any(c.get("keep_body") is False for c in configs):
        lines.append("- `body` was not kept in some runs (`[privacy] keep_body = false`).")
    lines += ["", "## Engine and configuration", ""]
    lines.append(f"Engine version(s): {', '.join(stats.engine_versions) or 'unknown'}.")
    lines.append("")
    lines += _table(
        ["run", "engine", "config sha256"],
        [
            [f"`{r['run_id']}`", r["engine_version"], f"`{r['config_sha256']}`"]
            for s in stats.sources
            for r in s["runs"]
        ],
    )
    lines += [
        "",
        "The config hash is the sha256 of the run's `config` in run.json as canonical JSON "
        "(sorted keys, no spaces, UTF-8).",
        "",
    ]
    return "\n".join(lines)
