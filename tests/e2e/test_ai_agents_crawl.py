"""End-to-end: the real ``heed crawl`` infers AI reservations from its purpose's tokens.

A loopback site's robots.txt names an AI-input-only token (``ChatGPT-User``) for ``/assist``
and a training-only token (``GPTBot``) for ``/train``. A train-ai crawl never requests
``/train`` and keeps ``/assist``; an ai-input crawl the reverse; a configured ``ai_agents``
replaces the shipped list. ``run.json`` records the list used and where it came from
(SPEC.md §3.2). "Never requested" is read from the server's own request log.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from crawler.demo.web import LoopbackWeb, PageSpec, SiteSpec
from filters import Purpose, robots
from filters.ai_agents import CONFIGURED_SOURCE, shipped_agent_list

from .crawlrun import CrawlRun, crawl

ROBOTS = """\
User-agent: *
Allow: /

User-agent: ChatGPT-User
Disallow: /assist

User-agent: GPTBot
Disallow: /train
"""
PAGES = ("/assist/a", "/train/a", "/open/a")


def _site() -> SiteSpec:
    pages = {p: PageSpec(body=f"<html><body>page {p}</body></html>") for p in PAGES}
    pages["/robots.txt"] = PageSpec(body=ROBOTS, content_type="text/plain; charset=utf-8")
    return SiteSpec(pages=pages)


def _crawl(tmp: Path, policy: dict[str, Any]) -> tuple[CrawlRun, list[str], dict[str, str]]:
    """The crawl, the paths the server saw requested, and each page's URL."""
    with LoopbackWeb({"s": _site()}) as web:
        urls = {p: web.url("s", p) for p in PAGES}
        run = crawl(
            tmp, {"crawl": {"seeds": list(urls.values()), "max_depth": 0}, "policy": policy}
        )
        requested = [e.path for e in web.requests("s")]
    assert run.returncode == 0, run.stderr
    return run, requested, urls


def _info(run: CrawlRun) -> dict[str, Any]:
    info: dict[str, Any] = json.loads((run.out / "run.json").read_text(encoding="utf-8"))
    return info


@pytest.mark.parametrize(
    ("purpose", "denied", "token"),
    [("train-ai", "/train/a", "GPTBot"), ("ai-input", "/assist/a", "ChatGPT-User")],
)
def test_each_ai_purpose_denies_by_its_own_tokens(
    tmp_path: Path, purpose: str, denied: str, token: str
) -> None:
    run, requested, url = _crawl(tmp_path, {"purpose": purpose})
    assert denied not in requested
    kept = {p for p in PAGES if p != denied}
    assert {r["url"] for r in run.records()} == {url[p] for p in kept}
    assert set(requested) >= kept
    decision = run.decision(url[denied])
    assert decision["allowed"] is False and decision["reasons"] == ["robots.ai-agent"]
    info = _info(run)
    agents = robots.default_ai_agents(Purpose(purpose))
    assert info["ai_agents"] == list(agents) and token in info["ai_agents"]
    assert info["ai_agents_source"] == {
        "source": shipped_agent_list().source,
        "retrieved": shipped_agent_list().retrieved,
        "purpose": purpose,
        "count": len(agents),
    }


def test_a_configured_list_overrides_the_shipped_one(tmp_path: Path) -> None:
    run, requested, url = _crawl(tmp_path, {"purpose": "train-ai", "ai_agents": ["ChatGPT-User"]})
    assert "/assist/a" not in requested and "/train/a" in requested
    assert {r["url"] for r in run.records()} == {url["/train/a"], url["/open/a"]}
    info = _info(run)
    assert info["ai_agents"] == ["ChatGPT-User"]
    assert info["ai_agents_source"] == {
        "source": CONFIGURED_SOURCE,
        "retrieved": None,
        "purpose": "train-ai",
        "count": 1,
    }


def test_a_search_run_evaluates_no_ai_token(tmp_path: Path) -> None:
    run, requested, url = _crawl(tmp_path, {"purpose": "search"})
    assert set(requested) >= set(PAGES)
    assert {r["url"] for r in run.records()} == {url[p] for p in PAGES}
    info = _info(run)
    assert info["ai_agents"] == [] and info["ai_agents_source"]["count"] == 0
