"""``heed demo``: serve the bundled demo web on loopback, crawl it, show what happened and why.

The demo uses the policy of ``configs/demo.toml`` (bundled as ``crawler/demo/demo.toml``), an
embedded SQLite registry in the output folder seeded with the demo's opt-out entries, and the
real crawler: the same code path as ``heed crawl``.
"""

from __future__ import annotations

import json
import shutil
import sys
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from filters.registry import make_entry

from .config import RunConfig, parse_config
from .demo import demo_registry_entries, demo_sites
from .demo.web import LoopbackWeb
from .output import read_decisions
from .registry.store import RegistryStore
from .runner import run_crawl

__all__ = ["demo_config", "run_demo"]


def demo_config() -> RunConfig:
    """The demo's run config (policy and limits; seeds and registry are added at run time)."""
    text = resources.files("crawler.demo").joinpath("demo.toml").read_text(encoding="utf-8")
    return parse_config(tomllib.loads(text), source="crawler/demo/demo.toml")


def _seed_registry(path: Path, web: LoopbackWeb) -> int:
    store = RegistryStore(path)
    try:
        entries = [
            make_entry(
                item["subject_kind"],
                web.expand(item["subject"]),
                item["choice"],
                item["purposes"],
                registered_by="heed-demo",
                note=item.get("note"),
            )
            for item in demo_registry_entries()
        ]
        return store.add_many(entries)
    finally:
        store.close()


def _table(out: Path, web: LoopbackWeb) -> list[tuple[str, str, str]]:
    rows = []
    for row in read_decisions(out).to_pylist():
        site = web.site_of(row["url"]) or "?"
        path = row["url"].split("/", 3)[3] if row["url"].count("/") >= 3 else ""
        verdict = "kept" if row["allowed"] else "excluded"
        why = ", ".join(row["reasons"]) or (row["license"] or "")
        rows.append((f"{site}/{path}", verdict, why))
    return sorted(rows)


def run_demo(*, out: str | Path, as_json: bool = False) -> int:
    """Serve the demo web, crawl it into ``out`` and print the outcome; returns an exit code."""
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)  # the demo is reproducible: each run starts from an empty folder
    out.mkdir(parents=True)
    with LoopbackWeb(demo_sites()) as web:
        registry_path = out / "demo-registry.db"
        _seed_registry(registry_path, web)
        seeds = tuple(web.url(site, "/") for site in web.sites)
        cfg = demo_config().with_overrides(
            seeds=seeds, out=str(out), registry_url=f"sqlite:///{registry_path.resolve()}"
        )
        summary = run_crawl(cfg, seeds, out=out, progress=not as_json and sys.stderr.isatty())
        rows = _table(out, web)
    if as_json:
        payload: dict[str, Any] = dict(summary)
        payload["pages"] = [{"page": p, "verdict": v, "why": w} for p, v, w in rows]
        print(json.dumps(payload, indent=2, sort_keys=True))
    else:
        width = max((len(r[0]) for r in rows), default=10)
        print(f"{'page':<{width}}  verdict   why")
        for page, verdict, why in rows:
            print(f"{page:<{width}}  {verdict:<8}  {why}")
        print()
        print(
            f"{summary['kept']} kept, {summary['excluded']} excluded of "
            f"{summary['considered']} URLs; output in {out}/ (records/, decisions/, run.json)"
        )
    return 1 if summary.get("fatal") else 0
