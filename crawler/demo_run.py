"""``heed demo``: serve the bundled demo web on loopback, crawl it, show what happened and why.

The demo uses the policy of ``configs/demo.toml`` (bundled as ``crawler/demo/demo.toml``), an
embedded SQLite registry in the output folder seeded with the demo's opt-out entries, and the
real crawler: the same code path as ``heed crawl``.

The demo starts from an empty folder each time (its loopback ports change between runs, so an
earlier run's URLs mean nothing), but it never deletes anything it did not write: ``--out``
must be a new or empty folder, or an earlier demo output (the ``.heed-demo`` marker, or a
``demo-registry.db`` from before the marker existed) holding nothing but the demo's own files.
Anything else, a file of the user's included, is refused (exit 2) and left alone. The output
lock is taken before the old demo files are removed and held until the crawl ends, so a crawl
or demo already running in that folder is never disturbed.
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from filters import ConfigError
from filters.registry import make_entry

from ._stdout import print_out
from .config import RunConfig, parse_config
from .demo import demo_registry_entries, demo_sites
from .demo.web import LoopbackWeb
from .output import check_output_dir, hold_output_lock, read_decisions
from .registry.store import RegistryStore
from .runner import run_crawl

__all__ = ["DEMO_MARKER", "demo_config", "run_demo"]

#: Written into a demo's output folder; its presence says the folder is the demo's to clear.
DEMO_MARKER = ".heed-demo"
_REGISTRY = "demo-registry.db"
#: What a demo run writes at the top of its folder (the SQLite sidecars included).
_DEMO_FILES = re.compile(
    r"(?:\.heed-demo|run\.json|\.run\.json\.tmp|run\.json\.unreadable-.+"
    r"|frontier\.jsonl|demo-registry\.db(?:-wal|-shm|-journal)?)\Z"
)
#: What ``heed card`` writes into the demo's ``card/`` folder (the next demo replaces it).
_CARD_FILES = re.compile(r"[A-Za-z0-9_.-]+\.(?:md|json|html|atom)\Z")
_PART_FILES = re.compile(r"(?:part-.+\.parquet|\.part-.+\.parquet\.tmp)\Z")


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
        path = path if len(path) <= 60 else path[:59] + "…"
        verdict = "kept" if row["allowed"] else "excluded"
        why = ", ".join(row["reasons"]) or (row["license"] or "")
        rows.append((f"{site}/{path}", verdict, why))
    return sorted(rows)


def _demo_files(out: Path) -> list[Path]:
    """The earlier demo files in ``out`` (to remove), or ConfigError if it holds anything else.

    Raises:
        ConfigError: ``out`` holds files that are not an earlier demo's.
    """
    entries = sorted(p for p in out.iterdir() if p.name != ".heed-output.lock")
    if not entries:  # new, empty, or left empty (the lock file stays; it is only a lock)
        return []
    names = {p.name for p in entries}
    foreign: list[str] = []
    remove: list[Path] = []
    for path in entries:
        if (
            path.name in ("records", "decisions", "card")
            and path.is_dir()
            and not path.is_symlink()
        ):
            pattern = _CARD_FILES if path.name == "card" else _PART_FILES
            for part in sorted(path.iterdir()):
                if pattern.fullmatch(part.name) and part.is_file() and not part.is_symlink():
                    remove.append(part)
                else:
                    foreign.append(f"{path.name}/{part.name}")
            remove.append(path)
        elif _DEMO_FILES.fullmatch(path.name) and (path.is_file() and not path.is_symlink()):
            remove.append(path)
        else:
            foreign.append(path.name)
    if DEMO_MARKER not in names and _REGISTRY not in names:
        foreign = foreign or ["(no earlier demo output)"]
    if foreign:
        shown = ", ".join(foreign[:5]) + (", …" if len(foreign) > 5 else "")
        raise ConfigError(
            f"--out {out}: the folder is not empty and is not an earlier demo output "
            f"(it holds {shown}); heed demo deletes nothing of yours: choose a new or empty "
            "folder"
        )
    return remove


def _prepare(out: Path) -> None:
    """Make ``out`` an empty demo folder, holding its lock (adopted by the crawl's writer)."""
    check_output_dir(out)  # a file, an unwritable parent: ConfigError before anything else
    _demo_files(out)  # refuse before taking the lock: a foreign folder is not touched at all
    hold_output_lock(out)  # OutputLockedError (exit 1) when a run is using the folder
    for path in _demo_files(out):  # again, under the lock
        if path.is_dir():
            path.rmdir()
        else:
            path.unlink()
    (out / DEMO_MARKER).write_text(
        "This folder is heed demo output; the next `heed demo --out` here replaces it.\n",
        encoding="utf-8",
    )


def _write_card(out: Path) -> Path:
    """``heed card OUT --out OUT/card``: the demo corpus's card, next to it."""
    from .card.render import render_all, write_card
    from .card.stats import collect

    card = out / "card"
    write_card(card, render_all(collect([out], name="heed demo")))
    return card


def _serve_page(registry_path: Path, port: int, web: LoopbackWeb, *, as_json: bool) -> None:
    """``--serve``: the site-owner page over the demo's registry, next to the demo web, until
    Ctrl-C. Its checks may reach loopback addresses (the demo's sites are on 127.0.0.x)."""
    from .registry._api import ServiceConfig
    from .registry.web import PageOptions
    from .registry.web.serve import page_app, serve_forever

    def ready(url: str) -> None:
        sites = "\n".join(f"  {name}: {web.url(name, '/')}" for name in web.sites)
        text = (
            f"\nsite-owner page: {url}\n(try it on the demo sites, which stay up:)\n{sites}\n"
            "press Ctrl-C to stop"
        )
        stream = sys.stderr if as_json else sys.stdout  # --json keeps stdout one JSON object
        print(text, file=stream, flush=True)

    store = RegistryStore(registry_path)
    try:
        config = ServiceConfig(allow_private=True)
        options = PageOptions(allow_private=True, check_config=demo_config())
        serve_forever(page_app(store, config, options), host="127.0.0.1", port=port, on_ready=ready)
    finally:
        store.close()


def run_demo(*, out: str | Path, as_json: bool = False, serve: bool = False, port: int = 0) -> int:
    """Serve the demo web, crawl it into ``out`` and print the outcome; returns an exit code.
    With ``serve``, then serve the site-owner page (on ``port``, 0: a free one) next to the
    still running demo web until Ctrl-C.

    Raises:
        ConfigError: ``out`` is a file, cannot be created, or holds files not from a demo.
        OutputLockedError: a crawl or demo is writing to ``out``.
    """
    out = Path(out)
    _prepare(out)
    with LoopbackWeb(demo_sites()) as web:
        registry_path = out / _REGISTRY
        _seed_registry(registry_path, web)
        seeds = tuple(web.url(site, "/") for site in web.sites)
        cfg = demo_config().with_overrides(
            seeds=seeds, out=str(out), registry_url=f"sqlite:///{registry_path.resolve()}"
        )
        summary = run_crawl(cfg, seeds, out=out, progress=not as_json and sys.stderr.isatty())
        rows = _table(out, web)
        code = _report(out, summary, rows, as_json=as_json)
        if serve and code == 0:
            _serve_page(registry_path, port, web, as_json=as_json)
    return code


def _report(
    out: Path, summary: dict[str, Any], rows: list[tuple[str, str, str]], *, as_json: bool
) -> int:
    code = 1 if summary.get("fatal") else 0
    card = _write_card(out) if not summary.get("fatal") else None
    if as_json:
        payload: dict[str, Any] = dict(summary)
        payload["pages"] = [{"page": p, "verdict": v, "why": w} for p, v, w in rows]
        payload["card"] = str(card) if card is not None else None
        print_out(json.dumps(payload, indent=2, sort_keys=True))
    else:
        width = max((len(r[0]) for r in rows), default=10)
        lines = [f"{'page':<{width}}  verdict   why"]
        lines += [f"{page:<{width}}  {verdict:<8}  {why}" for page, verdict, why in rows]
        lines += [
            "",
            f"{summary['kept']} kept, {summary['excluded']} excluded of "
            f"{summary['considered']} URLs; output in {out}/ (records/, decisions/, run.json)",
        ]
        if card is not None:
            lines.append(f"dataset card (heed card): {card}/ (README.md, eu-summary.md, …)")
        print_out("\n".join(lines))
    return code
