"""The real ``heed crawl`` over the demo web: every signal of SPEC.md §3 has a page that must
not be kept next to a control page that must be kept; the ground truth is
``crawler.demo.demo_expectations()`` and the request log proves pre-fetch denials were never
requested."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crawler.demo import LoopbackWeb, demo_expectations, demo_never_requested, demo_sites
from crawler.demo_run import _seed_registry, demo_config

from .crawlrun import CrawlRun, heed, write_config


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[CrawlRun, dict[str, str], list]:
    tmp = tmp_path_factory.mktemp("demo")
    cfg = demo_config()
    with LoopbackWeb(demo_sites()) as web:
        registry = tmp / "registry.db"
        _seed_registry(registry, web)
        out = tmp / "out"
        config = write_config(
            tmp / "demo.toml",
            {
                "crawl": {
                    "seeds": [web.url(s, "/") for s in web.sites],
                    "out": str(out),
                    "max_pages": cfg.max_pages,
                    "max_depth": cfg.max_depth,
                },
                "identity": {"product_token": cfg.product_token},
                "policy": {
                    "purpose": cfg.purpose.value,
                    "mode": cfg.mode.value,
                    "on_signal_error": cfg.on_signal_error,
                },
                "registry": {"url": f"sqlite:///{registry}"},
                "limits": {
                    "max_page_bytes": cfg.max_page_bytes,
                    "max_crawl_delay": cfg.max_crawl_delay,
                },
            },
        )
        proc = heed("crawl", "--config", str(config), "--json", timeout=300)
        urls = {(e.site, e.path): web.url(e.site, e.path) for e in demo_expectations()}
        requested = [(e.site, e.path) for e in web.requests()]
    return CrawlRun(proc.returncode, proc.stdout, proc.stderr, out), urls, requested


def test_demo_crawl_completes(demo_run: tuple[CrawlRun, dict[str, str], list]) -> None:
    run, _, _ = demo_run
    assert run.returncode == 0, run.stderr
    assert run.summary["fatal"] is None


@pytest.mark.parametrize("exp", demo_expectations(), ids=lambda e: f"{e.site}{e.path}")
def test_every_demo_page_gets_its_expected_verdict(
    demo_run: tuple[CrawlRun, dict[str, str], list], exp: object
) -> None:
    run, urls, _ = demo_run
    url = urls[(exp.site, exp.path)]  # type: ignore[attr-defined]
    decision = run.decision(url)
    assert decision["allowed"] is exp.kept, (decision, exp.note)  # type: ignore[attr-defined]
    assert set(decision["reasons"]) == set(exp.reasons), exp.note  # type: ignore[attr-defined]
    if not exp.kept:  # type: ignore[attr-defined]
        assert decision["stage"] == exp.stage  # type: ignore[attr-defined]
    kept = {r["url"]: r for r in run.records()}
    assert (url in kept) is exp.kept  # type: ignore[attr-defined]
    if exp.kept and exp.license is not None:  # type: ignore[attr-defined]
        assert kept[url]["license"] == exp.license  # type: ignore[attr-defined]
        assert kept[url]["license_conflict"] is exp.license_conflict  # type: ignore[attr-defined]


def test_no_pre_fetch_denied_url_was_ever_requested(
    demo_run: tuple[CrawlRun, dict[str, str], list],
) -> None:
    _, _, requested = demo_run
    never = set(demo_never_requested())
    assert never, "the demo must have pre-fetch denials"
    assert not never & set(requested)


def test_excluded_content_is_never_written(
    demo_run: tuple[CrawlRun, dict[str, str], list],
) -> None:
    run, urls, _ = demo_run
    excluded = {urls[(e.site, e.path)] for e in demo_expectations() if not e.kept}
    assert not excluded & {r["url"] for r in run.records()}
    assert not excluded & {r["final_url"] for r in run.records()}
    info = json.loads((run.out / "run.json").read_text())
    assert info["counts"]["kept"] == len(run.records())


def test_heed_demo_command_runs_and_reports(tmp_path: Path) -> None:
    proc = heed("demo", "--out", str(tmp_path / "demo-out"), "--json", timeout=300)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    expected_kept = sum(1 for e in demo_expectations() if e.kept)
    assert summary["kept"] == expected_kept
    assert {p["verdict"] for p in summary["pages"]} == {"kept", "excluded"}
    assert (tmp_path / "demo-out" / "run.json").exists()


def test_registry_lookups_are_batched_per_page(
    demo_run: tuple[CrawlRun, dict[str, str], list],
) -> None:
    # The spider asks the registry about a page's links (and the seeds) in one lookup each; only
    # redirect targets are asked singly. One lookup per URL (as before batching) would make
    # lookups >= URLs considered.
    run, _, _ = demo_run
    stats = run.summary["stats"]
    considered = run.summary["considered"]
    assert stats["heed/registry/urls_asked"] >= considered - stats.get(
        "heed/denied/fetch.invalid-url", 0
    )
    assert stats["heed/registry/lookups"] * 2 < considered
